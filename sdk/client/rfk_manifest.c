/*  rfk_manifest.c: YAML job manifests into API request bodies (see rfk_manifest.h).

    The YAML is loaded as a libyaml document (nodes with their source marks), then walked
    against a table of fields per manifest kind. Each field's handler checks its node and adds
    the JSON value; the first problem stops the walk with a message naming the line and the
    field. Free-form parts (train_args) are converted generically, with a bound on depth and
    on nodes visited, because YAML aliases can make a small file a huge (or cyclic) tree.
*/
#define _GNU_SOURCE
#include "rfk_manifest.h"
#include "rfk_config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

//  Deepest nesting and most nodes converted in free-form values.
#define S_DEPTH_MAX 32
#define S_NODES_MAX 10000
//  Longest app name and dataset/model name.
#define S_NAME_MAX 64
#define S_TEXT_MAX 256

//  The walk's state.
typedef struct {
    yaml_document_t *doc; //  the loaded document
    const char *name;     //  the manifest's name for messages
    const char *base_dir; //  resolves relative files
    char *error;          //  the caller's message buffer, may be NULL
    size_t error_size;    //  its size
    bool failed;          //  a problem was reported
    int nodes_left;       //  budget of nodes for free-form conversion
    json_t *seen;         //  field name -> line, for "not both" checks
} s_ctx_t;

//  A field handler: check `value` (the node under key `field` at `path`) and add to `out`.
typedef int (s_field_fn) (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out);

typedef struct {
    const char *name;
    s_field_fn *parse;
} s_field_t;

//  Report a problem at a line (the first problem only).
static int
s_vfail (s_ctx_t *ctx, unsigned long line, const char *path, const char *format, va_list args)
{
    if (ctx->failed)
        return -1;
    ctx->failed = true;
    if (!ctx->error || !ctx->error_size)
        return -1;
    char message[RFK_MANIFEST_ERROR_MAX];
    vsnprintf (message, sizeof message, format, args);
    if (path && *path)
        snprintf (ctx->error, ctx->error_size, "%s:%lu: %s: %s", ctx->name, line, path, message);
    else
        snprintf (ctx->error, ctx->error_size, "%s:%lu: %s", ctx->name, line, message);
    return -1;
}

//  Report a problem at a node's line (line 1 without a node).
static int
s_fail (s_ctx_t *ctx, yaml_node_t *node, const char *path, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));
static int
s_fail (s_ctx_t *ctx, yaml_node_t *node, const char *path, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_vfail (ctx, node ? (unsigned long)node->start_mark.line + 1 : 1, path, format, args);
    va_end (args);
    return -1;
}

//  Report a problem at a given line (1-based).
static int
s_fail_line (s_ctx_t *ctx, unsigned long line, const char *path, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));
static int
s_fail_line (s_ctx_t *ctx, unsigned long line, const char *path, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_vfail (ctx, line, path, format, args);
    va_end (args);
    return -1;
}

//  The text of a scalar node, for messages: cut, on one line.
static const char *
s_show (yaml_node_t *node, char *buffer, size_t size)
{
    if (node->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (node->type == YAML_SEQUENCE_NODE)
        return "a list";
    size_t length = node->data.scalar.length;
    size_t shown = length < 40 ? length : 40;
    size_t n = 0;
    buffer[n++] = '\'';
    for (size_t i = 0; i < shown && n + 8 < size; i++) {
        unsigned char c = node->data.scalar.value[i];
        buffer[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (shown < length)
        n += (size_t)snprintf (buffer + n, size - n, "...");
    snprintf (buffer + n, size - n, "'");
    return buffer;
}

static const char *
s_scalar (yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

static bool
s_is_plain (yaml_node_t *node)
{
    return node->type == YAML_SCALAR_NODE && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

//  YAML 1.2 core schema: what a plain scalar is.
static bool
s_is_null (yaml_node_t *node)
{
    if (!s_is_plain (node))
        return false;
    const char *text = s_scalar (node);
    return !*text || !strcmp (text, "~") || !strcmp (text, "null") || !strcmp (text, "Null") ||
           !strcmp (text, "NULL");
}

static int
s_bool_value (yaml_node_t *node)
{
    if (!s_is_plain (node))
        return -1;
    const char *text = s_scalar (node);
    if (!strcmp (text, "true") || !strcmp (text, "True") || !strcmp (text, "TRUE"))
        return 1;
    if (!strcmp (text, "false") || !strcmp (text, "False") || !strcmp (text, "FALSE"))
        return 0;
    return -1;
}

//  Parse a plain scalar as an integer: 0 ok, -1 not an integer, -2 out of range.
static int
s_int_value (yaml_node_t *node, long long *value)
{
    if (!s_is_plain (node))
        return -1;
    const char *text = s_scalar (node);
    const char *digits = text + (*text == '-' || *text == '+');
    int base = 10;
    if (digits[0] == '0' && digits[1] == 'x' && digits == text) {
        base = 16;
        digits += 2;
    } else if (digits[0] == '0' && digits[1] == 'o' && digits == text) {
        base = 8;
        digits += 2;
    }
    if (!*digits)
        return -1;
    for (const char *c = digits; *c; c++)
        if (!(base == 16 ? isxdigit ((unsigned char)*c)
                         : (*c >= '0' && *c <= (base == 8 ? '7' : '9'))))
            return -1;
    errno = 0;
    long long parsed = strtoll (base == 10 ? text : digits, NULL, base);
    if (errno == ERANGE)
        return -2;
    *value = parsed;
    return 0;
}

//  Parse a plain scalar as a number (integer or float). 0 ok, -1 not a number.
static int
s_number_value (yaml_node_t *node, double *value)
{
    long long integer;
    if (s_int_value (node, &integer) == 0) {
        *value = (double)integer;
        return 0;
    }
    if (!s_is_plain (node))
        return -1;
    const char *text = s_scalar (node);
    const char *c = text + (*text == '-' || *text == '+');
    if (!strcmp (c, ".inf") || !strcmp (c, ".Inf") || !strcmp (c, ".INF")) {
        *value = *text == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    if (!strcmp (text, ".nan") || !strcmp (text, ".NaN") || !strcmp (text, ".NAN")) {
        *value = NAN;
        return 0;
    }
    //  [-+]? ( . [0-9]+ | [0-9]+ ( . [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    bool mantissa = false;
    while (isdigit ((unsigned char)*c)) {
        c++;
        mantissa = true;
    }
    if (*c == '.') {
        c++;
        while (isdigit ((unsigned char)*c)) {
            c++;
            mantissa = true;
        }
    }
    if (!mantissa)
        return -1;
    if (*c == 'e' || *c == 'E') {
        c++;
        c += *c == '-' || *c == '+';
        if (!isdigit ((unsigned char)*c))
            return -1;
        while (isdigit ((unsigned char)*c))
            c++;
    }
    if (*c)
        return -1;
    *value = strtod (text, NULL);
    return 0;
}

//  Join a path and a key: "budget" + "GPU_COUNT" -> "budget.GPU_COUNT".
static void
s_join (char *out, size_t size, const char *path, const char *key)
{
    if (path && *path)
        snprintf (out, size, "%s.%s", path, key);
    else
        snprintf (out, size, "%s", key);
}

//  Report an unknown key, suggesting the nearest known one or listing them.
static int
s_unknown (s_ctx_t *ctx, yaml_node_t *key, const char *path, const char *name,
           const char *const *known)
{
    const char *best = NULL;
    size_t best_distance = 3;
    for (size_t i = 0; known[i]; i++) {
        size_t distance = rfk_config_edit_distance (name, known[i], true);
        if (distance < best_distance) {
            best = known[i];
            best_distance = distance;
        }
    }
    char shown[64];
    if (best)
        return s_fail (ctx, key, path, "unknown field %s (did you mean '%s'?)",
                       s_show (key, shown, sizeof shown), best);
    char list[256] = "";
    for (size_t i = 0; known[i]; i++) {
        size_t used = strlen (list);
        snprintf (list + used, sizeof list - used, "%s%s", i ? ", " : "", known[i]);
    }
    return s_fail (ctx, key, path, "unknown field %s (known: %s)",
                   s_show (key, shown, sizeof shown), list);
}

//  Check a mapping node's keys: scalars, no NUL, no duplicates. Returns 0 or -1.
static int
s_check_keys (s_ctx_t *ctx, yaml_node_t *mapping, const char *path)
{
    for (yaml_node_pair_t *pair = mapping->data.mapping.pairs.start;
         pair < mapping->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = yaml_document_get_node (ctx->doc, pair->key);
        if (!key || key->type != YAML_SCALAR_NODE)
            return s_fail (ctx, key, path, "keys must be plain names, not lists or mappings");
        if (strlen (s_scalar (key)) != key->data.scalar.length)
            return s_fail (ctx, key, path, "a key holds a NUL character");
        for (yaml_node_pair_t *other = mapping->data.mapping.pairs.start; other < pair; other++) {
            yaml_node_t *earlier = yaml_document_get_node (ctx->doc, other->key);
            if (!strcmp (s_scalar (earlier), s_scalar (key))) {
                char field[S_TEXT_MAX];
                s_join (field, sizeof field, path, s_scalar (key));
                return s_fail (ctx, key, field, "given twice (first on line %lu)",
                               (unsigned long)earlier->start_mark.line + 1);
            }
        }
    }
    return 0;
}

//  Convert any node to JSON (train_args), within the depth and node bounds.
static json_t *
s_to_json (s_ctx_t *ctx, yaml_node_t *node, const char *path, int depth)
{
    if (--ctx->nodes_left < 0) {
        s_fail (ctx, node, path, "more than %d values (aliases expanding?)", S_NODES_MAX);
        return NULL;
    }
    if (depth > S_DEPTH_MAX) {
        s_fail (ctx, node, path, "nested deeper than %d levels", S_DEPTH_MAX);
        return NULL;
    }
    char sub[S_TEXT_MAX];
    if (node->type == YAML_SCALAR_NODE) {
        long long integer;
        double number;
        int boolean = s_bool_value (node);
        if (s_is_null (node))
            return json_null ();
        if (boolean >= 0)
            return json_boolean (boolean);
        int rc = s_int_value (node, &integer);
        if (rc == 0)
            return json_integer (integer);
        if (rc == -2) {
            s_fail (ctx, node, path, "integer out of range");
            return NULL;
        }
        if (s_number_value (node, &number) == 0) {
            if (!isfinite (number)) {
                s_fail (ctx, node, path, "JSON has no infinity or NaN");
                return NULL;
            }
            return json_real (number);
        }
        json_t *string = json_stringn (s_scalar (node), node->data.scalar.length);
        if (!string)
            s_fail (ctx, node, path, "not valid UTF-8 text");
        return string;
    }
    if (node->type == YAML_SEQUENCE_NODE) {
        json_t *array = json_array ();
        int index = 0;
        for (yaml_node_item_t *item = node->data.sequence.items.start;
             item < node->data.sequence.items.top; item++, index++) {
            snprintf (sub, sizeof sub, "%s[%d]", path, index);
            json_t *value =
                s_to_json (ctx, yaml_document_get_node (ctx->doc, *item), sub, depth + 1);
            if (!value || json_array_append_new (array, value)) {
                json_decref (array);
                return NULL;
            }
        }
        return array;
    }
    if (s_check_keys (ctx, node, path))
        return NULL;
    json_t *object = json_object ();
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = yaml_document_get_node (ctx->doc, pair->key);
        s_join (sub, sizeof sub, path, s_scalar (key));
        json_t *value =
            s_to_json (ctx, yaml_document_get_node (ctx->doc, pair->value), sub, depth + 1);
        if (!value || json_object_set_new (object, s_scalar (key), value)) {
            json_decref (object);
            return NULL;
        }
    }
    return object;
}

//  ---------------------------------------------------------------------------------------
//  Typed values

//  A non-empty scalar string without NUL; NULL (and reported) otherwise.
static const char *
s_text (s_ctx_t *ctx, const char *path, yaml_node_t *value, const char *what)
{
    char shown[64];
    if (value->type != YAML_SCALAR_NODE)
        s_fail (ctx, value, path, "expected %s, got %s", what, s_show (value, shown, sizeof shown));
    else if (s_is_null (value))
        s_fail (ctx, value, path, "expected %s, got nothing", what);
    else if (strlen (s_scalar (value)) != value->data.scalar.length)
        s_fail (ctx, value, path, "holds a NUL character");
    else if (value->data.scalar.length > S_TEXT_MAX)
        s_fail (ctx, value, path, "longer than %d characters", S_TEXT_MAX);
    else
        return s_scalar (value);
    return NULL;
}

static int
s_integer (s_ctx_t *ctx, const char *path, yaml_node_t *value, long long min, long long *out)
{
    char shown[64];
    int rc = s_int_value (value, out);
    if (rc == -2)
        return s_fail (ctx, value, path, "integer out of range");
    if (rc)
        return s_fail (ctx, value, path, "expected an integer, got %s%s",
                       value->type == YAML_SCALAR_NODE && !s_is_plain (value) ? "the quoted string "
                                                                              : "",
                       s_show (value, shown, sizeof shown));
    if (*out < min)
        return s_fail (ctx, value, path, "must be at least %lld, got %lld", min, *out);
    return 0;
}

static bool
s_is_uuid (const char *text)
{
    if (strlen (text) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !isxdigit ((unsigned char)text[i]))
            return false;
    }
    return true;
}

//  Note that a field was given (for "either ... or ..." checks) with its line.
static void
s_seen (s_ctx_t *ctx, const char *field, yaml_node_t *node)
{
    json_object_set_new (ctx->seen, field, json_integer ((json_int_t)node->start_mark.line + 1));
}

//  train_dataset_id / val_dataset_id (the top-level field `path` names): an
//  id, noted as seen.
static int
s_field_dataset_id (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out)
{
    const char *key = path;
    s_seen (ctx, key, value);
    const char *text = s_text (ctx, path, value, "an id");
    if (!text)
        return -1;
    if (!s_is_uuid (text))
        return s_fail (ctx, value, path,
                       "expected a UUID like 1b4e28ba-2fa1-11d2-883f-0016d3cca427, got '%s'", text);
    return json_object_set_new (out, key, json_string (text));
}

//  ---------------------------------------------------------------------------------------
//  Fields

static int
s_field_kind (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out)
{
    (void)out;
    const char *text = s_text (ctx, path, value, "train or inference");
    if (!text)
        return -1;
    const char *expected = json_string_value (json_object_get (ctx->seen, "$kind"));
    if (strcmp (text, "train") && strcmp (text, "inference"))
        return s_fail (ctx, value, path, "expected train or inference, got '%s'", text);
    if (strcmp (text, expected))
        return s_fail (ctx, value, path, "this manifest says kind %s, but a %s manifest is read",
                       text, expected);
    return 0;
}

static int
s_field_app (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out)
{
    const char *text = s_text (ctx, path, value, "an app name");
    if (!text)
        return -1;
    size_t length = strlen (text);
    bool ok = length <= S_NAME_MAX && isalnum ((unsigned char)text[0]);
    for (size_t i = 1; ok && i < length; i++)
        ok = isalnum ((unsigned char)text[i]) || strchr ("_.-", text[i]);
    if (!ok)
        return s_fail (ctx, value, path,
                       "'%s' is not an app name: letters, digits, '_', '.' and '-', starting with "
                       "a letter or digit, at most %d",
                       text, S_NAME_MAX);
    return json_object_set_new (out, "app", json_string (text));
}

static int
s_field_task (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out)
{
    const char *text = s_text (ctx, path, value, "a task");
    if (!text)
        return -1;
    bool ok = isupper ((unsigned char)text[0]) && strlen (text) <= S_NAME_MAX;
    for (const char *c = text; ok && *c; c++)
        ok = isupper ((unsigned char)*c) || isdigit ((unsigned char)*c) || *c == '_';
    if (!ok)
        return s_fail (ctx, value, path,
                       "'%s' is not a task name (like TABULAR_CLASSIFICATION or "
                       "IMAGE_CLASSIFICATION)",
                       text);
    return json_object_set_new (out, "task", json_string (text));
}

//  train_dataset / val_dataset (the top-level field `path` names): a name,
//  or {name: ...} or {file: ...}; noted as seen.
static int
s_field_dataset (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out)
{
    const char *key = path;
    s_seen (ctx, key, value);
    const char *kind = "name";
    yaml_node_t *node = value;
    char sub[S_TEXT_MAX];
    if (value->type == YAML_MAPPING_NODE) {
        if (s_check_keys (ctx, value, path))
            return -1;
        yaml_node_pair_t *pairs = value->data.mapping.pairs.start;
        size_t count = (size_t)(value->data.mapping.pairs.top - pairs);
        static const char *const known[] = {"name", "file", NULL};
        if (count != 1)
            return s_fail (ctx, value, path, "give exactly one of 'name' or 'file'");
        yaml_node_t *inner = yaml_document_get_node (ctx->doc, pairs[0].key);
        kind = s_scalar (inner);
        if (strcmp (kind, "name") && strcmp (kind, "file"))
            return s_unknown (ctx, inner, path, kind, known);
        node = yaml_document_get_node (ctx->doc, pairs[0].value);
        s_join (sub, sizeof sub, path, kind);
        path = sub;
    } else if (value->type != YAML_SCALAR_NODE) {
        char shown[64];
        return s_fail (ctx, value, path,
                       "expected a dataset name or {file: PATH} or {name: NAME}, got %s",
                       s_show (value, shown, sizeof shown));
    }
    const char *text = s_text (ctx, path, node, !strcmp (kind, "file") ? "a file path" : "a name");
    if (!text)
        return -1;
    json_t *reference = json_object ();
    if (!strcmp (kind, "file") && text[0] != '/') {
        char cwd[PATH_MAX];
        const char *base = ctx->base_dir ? ctx->base_dir : getcwd (cwd, sizeof cwd);
        char *absolute = NULL;
        const char *separator = base && base[strlen (base) - 1] == '/' ? "" : "/";
        if (!base || asprintf (&absolute, "%s%s%s", base, separator, text) < 0) {
            json_decref (reference);
            return s_fail (ctx, node, path, "cannot make '%s' an absolute path", text);
        }
        json_object_set_new (reference, "file", json_string (absolute));
        free (absolute);
    } else
        json_object_set_new (reference, kind, json_string (text));
    return json_object_set_new (out, key, reference);
}

//  models / model_ids: a non-empty list of names or ids, without repeats.
static int
s_model_list (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out, bool ids)
{
    char shown[64], sub[S_TEXT_MAX];
    if (value->type != YAML_SEQUENCE_NODE)
        return s_fail (ctx, value, path, "expected a list of model %s, got %s",
                       ids ? "ids" : "names", s_show (value, shown, sizeof shown));
    if (value->data.sequence.items.start == value->data.sequence.items.top)
        return s_fail (ctx, value, path, "the list is empty: name at least one model");
    json_t *list = json_array ();
    int index = 0;
    for (yaml_node_item_t *item = value->data.sequence.items.start;
         item < value->data.sequence.items.top; item++, index++) {
        yaml_node_t *node = yaml_document_get_node (ctx->doc, *item);
        snprintf (sub, sizeof sub, "%s[%d]", path, index);
        const char *text = s_text (ctx, sub, node, ids ? "a model id" : "a model name");
        if (text && ids && !s_is_uuid (text))
            s_fail (ctx, node, sub,
                    "expected a UUID like 1b4e28ba-2fa1-11d2-883f-0016d3cca427, got '%s'", text);
        for (size_t i = 0; text && !ctx->failed && i < json_array_size (list); i++)
            if (!strcmp (json_string_value (json_array_get (list, i)), text))
                s_fail (ctx, node, sub, "'%s' is listed twice", text);
        if (ctx->failed) {
            json_decref (list);
            return -1;
        }
        json_array_append_new (list, json_string (text));
    }
    return json_object_set_new (out, ids ? "model_ids" : "models", list);
}

static int
s_field_models (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out)
{
    s_seen (ctx, "models", value);
    return s_model_list (ctx, path, value, out, false);
}

static int
s_field_model_ids (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out)
{
    s_seen (ctx, "model_ids", value);
    return s_model_list (ctx, path, value, out, true);
}

//  budget: a mapping of known budget keys.
static int
s_budget (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out, bool train)
{
    char shown[64], sub[S_TEXT_MAX];
    if (value->type != YAML_MAPPING_NODE)
        return s_fail (ctx, value, path, "expected a mapping like {%s}, got %s",
                       train ? "MODEL_TRIAL_COUNT: 20, GPU_COUNT: 0" : "GPU_COUNT: 0",
                       s_show (value, shown, sizeof shown));
    if (s_check_keys (ctx, value, path))
        return -1;
    static const char *const train_keys[] = {"MODEL_TRIAL_COUNT", "TIME_HOURS", "GPU_COUNT", NULL};
    static const char *const inference_keys[] = {"GPU_COUNT", NULL};
    json_t *budget = json_object ();
    for (yaml_node_pair_t *pair = value->data.mapping.pairs.start;
         pair < value->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = yaml_document_get_node (ctx->doc, pair->key);
        yaml_node_t *node = yaml_document_get_node (ctx->doc, pair->value);
        const char *name = s_scalar (key);
        s_join (sub, sizeof sub, path, name);
        long long integer;
        double hours;
        if (!strcmp (name, "GPU_COUNT") || (train && !strcmp (name, "MODEL_TRIAL_COUNT"))) {
            //  MODEL_TRIAL_COUNT: -1 is the original's "no limit" (TIME_HOURS decides).
            bool count = !strcmp (name, "MODEL_TRIAL_COUNT");
            if (s_integer (ctx, sub, node, count ? LLONG_MIN : 0, &integer))
                break;
            if (count && integer < 1 && integer != -1) {
                s_fail (ctx, node, sub, "must be at least 1, or -1 for no limit, got %lld",
                        integer);
                break;
            }
            json_object_set_new (budget, name, json_integer (integer));
        } else if (train && !strcmp (name, "TIME_HOURS")) {
            if (s_number_value (node, &hours) || !isfinite (hours)) {
                s_fail (ctx, node, sub, "expected a number of hours, got %s%s",
                        node->type == YAML_SCALAR_NODE && !s_is_plain (node) ? "the quoted string "
                                                                             : "",
                        s_show (node, shown, sizeof shown));
                break;
            }
            if (hours <= 0) {
                s_fail (ctx, node, sub, "must be more than 0, got %g", hours);
                break;
            }
            json_object_set_new (budget, name, json_real (hours));
        } else {
            s_unknown (ctx, key, path, name, train ? train_keys : inference_keys);
            break;
        }
    }
    json_t *count = json_object_get (budget, "MODEL_TRIAL_COUNT");
    if (!ctx->failed && train && !json_object_get (budget, "TIME_HOURS")) {
        if (!count)
            s_fail (ctx, value, path, "needs MODEL_TRIAL_COUNT or TIME_HOURS (or both)");
        else if (json_integer_value (count) == -1)
            s_fail (ctx, value, path, "MODEL_TRIAL_COUNT: -1 (no limit) needs TIME_HOURS");
    }
    if (ctx->failed) {
        json_decref (budget);
        return -1;
    }
    return json_object_set_new (out, "budget", budget);
}

static int
s_field_train_budget (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out)
{
    return s_budget (ctx, path, value, out, true);
}

static int
s_field_inference_budget (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out)
{
    return s_budget (ctx, path, value, out, false);
}

static int
s_field_train_args (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out)
{
    char shown[64];
    if (s_is_null (value))
        return 0;
    if (value->type != YAML_MAPPING_NODE)
        return s_fail (ctx, value, path, "expected a mapping of arguments, got %s",
                       s_show (value, shown, sizeof shown));
    json_t *args = s_to_json (ctx, value, path, 0);
    if (!args)
        return -1;
    return json_object_set_new (out, "train_args", args);
}

static int
s_field_app_version (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out)
{
    long long version;
    if (s_integer (ctx, path, value, -1, &version))
        return -1;
    if (version == 0)
        return s_fail (ctx, value, path, "versions start at 1 (-1 means the latest)");
    return json_object_set_new (out, "app_version", json_integer (version));
}

//  max_trials / replicas (the top-level field `path` names): a count, 1 or more.
static int
s_field_count (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out)
{
    long long count;
    if (s_integer (ctx, path, value, 1, &count))
        return -1;
    return json_object_set_new (out, path, json_integer (count));
}

static const s_field_t s_train_fields[] = {
    {"kind", s_field_kind},
    {"app", s_field_app},
    {"task", s_field_task},
    {"train_dataset", s_field_dataset},
    {"train_dataset_id", s_field_dataset_id},
    {"val_dataset", s_field_dataset},
    {"val_dataset_id", s_field_dataset_id},
    {"budget", s_field_train_budget},
    {"models", s_field_models},
    {"model_ids", s_field_model_ids},
    {"train_args", s_field_train_args},
    {NULL, NULL},
};

//  auth: open (anyone may query) or token (queries need a serving key).
static int
s_field_auth (s_ctx_t *ctx, const char *path, yaml_node_t *value, json_t *out)
{
    const char *text = s_text (ctx, path, value, "open or token");
    if (!text)
        return -1;
    if (strcmp (text, "open") && strcmp (text, "token"))
        return s_fail (ctx, value, path,
                       "expected open (anyone may query) or token (queries need a serving "
                       "key), got '%s'",
                       text);
    return json_object_set_new (out, "auth", json_string (text));
}

static const s_field_t s_inference_fields[] = {
    {"kind", s_field_kind},
    {"app", s_field_app},
    {"app_version", s_field_app_version},
    {"budget", s_field_inference_budget},
    {"max_trials", s_field_count},
    {"replicas", s_field_count},
    {"auth", s_field_auth},
    {NULL, NULL},
};

//  Exactly one of two alternative fields, reported at the root or the second one's line.
static int
s_one_of (s_ctx_t *ctx, yaml_node_t *root, const char *first, const char *second)
{
    json_t *a = json_object_get (ctx->seen, first);
    json_t *b = json_object_get (ctx->seen, second);
    if (a && b) {
        json_int_t line = json_integer_value (a) > json_integer_value (b) ? json_integer_value (a)
                                                                          : json_integer_value (b);
        return s_fail_line (ctx, (unsigned long)line, NULL, "give either '%s' or '%s', not both",
                            first, second);
    }
    if (!a && !b)
        return s_fail (ctx, root, NULL, "missing field '%s' (or '%s')", first, second);
    return 0;
}

//  Walk the root mapping against the kind's fields.
static json_t *
s_walk (s_ctx_t *ctx, yaml_node_t *root, rfk_manifest_kind_t kind)
{
    char shown[64];
    if (root->type != YAML_MAPPING_NODE) {
        s_fail (ctx, root, NULL, "a manifest is a mapping of fields (app: ..., ...), not %s",
                s_show (root, shown, sizeof shown));
        return NULL;
    }
    if (s_check_keys (ctx, root, NULL))
        return NULL;
    const s_field_t *fields = kind == RFK_MANIFEST_TRAIN ? s_train_fields : s_inference_fields;
    const char *known[16];
    size_t count = 0;
    for (; fields[count].name; count++)
        known[count] = fields[count].name;
    known[count] = NULL;
    json_object_set_new (ctx->seen, "$kind", json_string (rfk_manifest_kind_name (kind)));

    json_t *out = json_object ();
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top && !ctx->failed; pair++) {
        yaml_node_t *key = yaml_document_get_node (ctx->doc, pair->key);
        yaml_node_t *value = yaml_document_get_node (ctx->doc, pair->value);
        const char *name = s_scalar (key);
        size_t i = 0;
        while (fields[i].name && strcmp (fields[i].name, name))
            i++;
        if (!fields[i].name)
            s_unknown (ctx, key, NULL, name, known);
        else if (fields[i].parse (ctx, name, value, out) && !ctx->failed)
            s_fail (ctx, value, name, "out of memory");
    }
    if (!ctx->failed && !json_object_get (out, "app"))
        s_fail (ctx, root, NULL, "missing field 'app'");
    if (kind == RFK_MANIFEST_TRAIN) {
        if (!ctx->failed && !json_object_get (out, "task"))
            s_fail (ctx, root, NULL, "missing field 'task'");
        if (!ctx->failed)
            s_one_of (ctx, root, "train_dataset", "train_dataset_id");
        if (!ctx->failed)
            s_one_of (ctx, root, "val_dataset", "val_dataset_id");
        if (!ctx->failed && !json_object_get (out, "budget"))
            s_fail (ctx, root, NULL, "missing field 'budget'");
        if (!ctx->failed)
            s_one_of (ctx, root, "models", "model_ids");
        if (!ctx->failed && !json_object_get (out, "train_args"))
            json_object_set_new (out, "train_args", json_object ());
    } else if (!ctx->failed && !json_object_get (out, "app_version"))
        json_object_set_new (out, "app_version", json_integer (-1));
    if (ctx->failed) {
        json_decref (out);
        return NULL;
    }
    return out;
}

//  Report a libyaml parse error.
static void
s_yaml_error (s_ctx_t *ctx, yaml_parser_t *parser)
{
    unsigned long line = (unsigned long)parser->problem_mark.line + 1;
    if (parser->error == YAML_MEMORY_ERROR)
        s_fail_line (ctx, line, NULL, "out of memory reading YAML");
    else if (parser->context)
        s_fail_line (ctx, line, NULL, "YAML syntax error: %s %s",
                     parser->problem ? parser->problem : "", parser->context);
    else
        s_fail_line (ctx, line, NULL, "YAML syntax error: %s",
                     parser->problem ? parser->problem : "unknown");
}

const char *
rfk_manifest_kind_name (rfk_manifest_kind_t kind)
{
    return kind == RFK_MANIFEST_INFERENCE ? "inference" : "train";
}

json_t *
rfk_manifest_parse (const char *text, size_t length, const char *name, const char *base_dir,
                    rfk_manifest_kind_t kind, char *error, size_t error_size)
{
    s_ctx_t ctx = {.name = name ? name : "manifest",
                   .base_dir = base_dir,
                   .error = error,
                   .error_size = error_size,
                   .nodes_left = S_NODES_MAX};
    if (error && error_size)
        error[0] = '\0';
    if (kind != RFK_MANIFEST_TRAIN && kind != RFK_MANIFEST_INFERENCE) {
        s_fail (&ctx, NULL, NULL, "unknown manifest kind %d", (int)kind);
        return NULL;
    }
    if (!text) {
        s_fail (&ctx, NULL, NULL, "no manifest text");
        return NULL;
    }
    if (length > RFK_MANIFEST_SIZE_MAX) {
        s_fail (&ctx, NULL, NULL, "manifest is larger than %d bytes", RFK_MANIFEST_SIZE_MAX);
        return NULL;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize (&parser)) {
        s_fail (&ctx, NULL, NULL, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string (&parser, (const unsigned char *)text, length);
    yaml_document_t doc;
    json_t *result = NULL;
    if (!yaml_parser_load (&parser, &doc)) {
        s_yaml_error (&ctx, &parser);
        yaml_parser_delete (&parser);
        return NULL;
    }
    ctx.doc = &doc;
    ctx.seen = json_object ();
    yaml_node_t *root = yaml_document_get_root_node (&doc);
    if (!root)
        s_fail (&ctx, NULL, NULL, "the manifest is empty");
    else {
        //  A second document would be ignored silently: refuse it.
        yaml_document_t next;
        if (!yaml_parser_load (&parser, &next))
            s_yaml_error (&ctx, &parser);
        else {
            yaml_node_t *next_root = yaml_document_get_root_node (&next);
            if (next_root)
                s_fail (&ctx, next_root, NULL,
                        "a manifest is one YAML document; this is a second one");
            yaml_document_delete (&next);
        }
        if (!ctx.failed)
            result = s_walk (&ctx, root, kind);
    }
    json_decref (ctx.seen);
    yaml_document_delete (&doc);
    yaml_parser_delete (&parser);
    return result;
}

json_t *
rfk_manifest_load (const char *path, rfk_manifest_kind_t kind, char *error, size_t error_size)
{
    if (error && error_size)
        error[0] = '\0';
    if (!path || !*path) {
        if (error && error_size)
            snprintf (error, error_size, "no manifest file given");
        return NULL;
    }
    FILE *file = fopen (path, "rb");
    if (!file) {
        if (error && error_size)
            snprintf (error, error_size, "%s: cannot open: %s", path, strerror (errno));
        return NULL;
    }
    char *text = malloc (RFK_MANIFEST_SIZE_MAX + 1);
    size_t length = text ? fread (text, 1, RFK_MANIFEST_SIZE_MAX + 1, file) : 0;
    bool read_error = ferror (file);
    fclose (file);
    if (!text || read_error || length > RFK_MANIFEST_SIZE_MAX) {
        if (error && error_size)
            snprintf (error, error_size, "%s: %s", path,
                      !text        ? "out of memory"
                      : read_error ? "cannot read"
                                   : "larger than 1 MiB; a manifest is a short file");
        free (text);
        return NULL;
    }
    //  Relative dataset files are relative to the manifest, wherever it is run from.
    char *base = NULL;
    const char *slash = strrchr (path, '/');
    char cwd[PATH_MAX];
    if (path[0] == '/')
        base = strndup (path, slash == path ? 1 : (size_t)(slash - path));
    else if (getcwd (cwd, sizeof cwd)) {
        if (slash) {
            if (asprintf (&base, "%s/%.*s", cwd, (int)(slash - path), path) < 0)
                base = NULL;
        } else
            base = strdup (cwd);
    }
    json_t *result = rfk_manifest_parse (text, length, path, base, kind, error, error_size);
    free (base);
    free (text);
    return result;
}
