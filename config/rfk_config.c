/*  rfk_config: defaults from the key table, one YAML file read with libyaml's
    event API (so each value's line is known), RAFIKI_* environment
    overrides, cross-key rules, typed getters and a YAML dump.

    Nothing from outside (file, environment) is asserted: every problem is
    appended to the error text, one line naming the key and its origin, and
    the call returns -1. Asserts guard only programmer errors (NULL self, an
    undeclared key or the wrong getter).
*/
#define _GNU_SOURCE
#include "rfk_config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

//  A parsed value; which member is live follows the key's type.
typedef union {
    int64_t i;  //  RFK_CONFIG_INT
    double f;   //  RFK_CONFIG_FLOAT
    bool b;     //  RFK_CONFIG_BOOL
    char *s;    //  RFK_CONFIG_STRING, owned
    uint64_t z; //  RFK_CONFIG_SIZE
} s_value_t;

//  The current value of one key.
typedef struct {
    s_value_t value; //  typed value
    char *origin;    //  "FILE:LINE" or env name, owned; NULL means default
    size_t line;     //  line that set it in the file being read, 0 if none
} s_slot_t;

struct _rfk_config_t {
    const rfk_config_key_t *table; //  declared keys, borrowed
    size_t count;                  //  entries in table
    s_slot_t *slots;               //  one per entry, same order
    char *error;                   //  problems so far, one per line, or NULL
    size_t error_len;              //  strlen (error)
};

//  --------------------------------------------------------------------------
//  Small helpers

//  Append one line to the error text; out of memory drops the line but the
//  caller still returns -1.
static void
s_error (rfk_config_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_error (rfk_config_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *line = NULL;
    int len = vasprintf (&line, format, args);
    va_end (args);
    if (len < 0)
        return;
    char *grown = realloc (self->error, self->error_len + (size_t)len + 2);
    if (grown) {
        memcpy (grown + self->error_len, line, (size_t)len);
        self->error_len += (size_t)len;
        grown[self->error_len++] = '\n';
        grown[self->error_len] = 0;
        self->error = grown;
    }
    free (line);
}

static const char *
s_section_of (const char *section)
{
    return section ? section : "";
}

//  "bus.sndhwm", or "data_dir" for a top-level key, into buffer.
static const char *
s_name (const rfk_config_key_t *entry, char *buffer, size_t size)
{
    if (*entry->section)
        snprintf (buffer, size, "%s.%s", entry->section, entry->key);
    else
        snprintf (buffer, size, "%s", entry->key);
    return buffer;
}

//  Index of a declared key, or -1.
static ssize_t
s_find (const rfk_config_t *self, const char *section, const char *key)
{
    section = s_section_of (section);
    for (size_t index = 0; index < self->count; index++)
        if (strcmp (self->table[index].section, section) == 0 &&
            strcmp (self->table[index].key, key) == 0)
            return (ssize_t)index;
    return -1;
}

//  True if some declared key lives in this (non-empty) section.
static bool
s_is_section (const rfk_config_t *self, const char *name)
{
    if (!*name)
        return false;
    for (size_t index = 0; index < self->count; index++)
        if (strcmp (self->table[index].section, name) == 0)
            return true;
    return false;
}

//  Edit distance, to suggest a key for a misspelt one.
static size_t
s_distance (const char *a, const char *b)
{
    size_t la = strlen (a), lb = strlen (b);
    if (la > 64 || lb > 64)
        return 64;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t above = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diagonal + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[lb];
}

//  " (did you mean \"x\"?)" for the closest key of the section, or for the
//  closest top-level key or section name when section is "". Empty if no
//  name is close.
static void
s_suggest (const rfk_config_t *self, const char *section, const char *name, char *buffer,
           size_t size)
{
    const char *best = NULL;
    size_t best_distance = 3;
    for (size_t index = 0; index < self->count; index++) {
        const rfk_config_key_t *entry = &self->table[index];
        const char *candidate = NULL;
        if (strcmp (entry->section, section) == 0)
            candidate = entry->key;
        else if (!*section)
            candidate = entry->section;
        if (!candidate)
            continue;
        size_t distance = s_distance (name, candidate);
        if (distance < best_distance) {
            best = candidate;
            best_distance = distance;
        }
    }
    if (best)
        snprintf (buffer, size, " (did you mean \"%s\"?)", best);
    else
        buffer[0] = 0;
}

//  --------------------------------------------------------------------------
//  Parsing values from text

static const char *
s_type_name (rfk_config_type_t type)
{
    switch (type) {
        case RFK_CONFIG_INT:
            return "an integer";
        case RFK_CONFIG_FLOAT:
            return "a number";
        case RFK_CONFIG_BOOL:
            return "true or false";
        case RFK_CONFIG_STRING:
            return "a string";
        case RFK_CONFIG_SIZE:
            return "a size (bytes, or with KiB, MiB, GiB, TiB, kB, MB, GB, TB)";
    }
    return "a value";
}

//  Decimal integer, optional sign, nothing else. 0, -1 not a number,
//  -2 out of the int64 range.
static int
s_parse_int (const char *text, int64_t *result)
{
    const char *digits = text;
    if (*digits == '+' || *digits == '-')
        digits++;
    if (!isdigit ((unsigned char)*digits))
        return -1;
    errno = 0;
    char *end = NULL;
    long long value = strtoll (text, &end, 10);
    if (*end)
        return -1;
    if (errno == ERANGE)
        return -2;
    *result = value;
    return 0;
}

static int
s_parse_float (const char *text, double *result)
{
    if (!*text || isspace ((unsigned char)*text))
        return -1;
    errno = 0;
    char *end = NULL;
    double value = strtod (text, &end);
    if (*end || !isfinite (value))
        return -1;
    if (errno == ERANGE)
        return -2;
    *result = value;
    return 0;
}

static int
s_parse_bool (const char *text, bool *result)
{
    static const char *yes[] = {"true", "yes", "on", "1"};
    static const char *no[] = {"false", "no", "off", "0"};
    for (size_t index = 0; index < 4; index++) {
        if (strcasecmp (text, yes[index]) == 0) {
            *result = true;
            return 0;
        }
        if (strcasecmp (text, no[index]) == 0) {
            *result = false;
            return 0;
        }
    }
    return -1;
}

//  Whole number of bytes with an optional unit: B; K, KiB, M, MiB, G, GiB,
//  T, TiB are powers of 1024; kB, MB, GB, TB are powers of 1000. Units are
//  case-insensitive and may follow a space. 0, -1 malformed, -2 too big.
static int
s_parse_size (const char *text, uint64_t *result)
{
    if (!isdigit ((unsigned char)*text))
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long number = strtoull (text, &end, 10);
    if (errno == ERANGE)
        return -2;
    while (*end == ' ')
        end++;
    static const struct {
        const char *unit;
        uint64_t factor;
    } units[] = {
        {"", 1},
        {"b", 1},
        {"k", 1ull << 10},
        {"kib", 1ull << 10},
        {"m", 1ull << 20},
        {"mib", 1ull << 20},
        {"g", 1ull << 30},
        {"gib", 1ull << 30},
        {"t", 1ull << 40},
        {"tib", 1ull << 40},
        {"kb", 1000ull},
        {"mb", 1000000ull},
        {"gb", 1000000000ull},
        {"tb", 1000000000000ull},
    };
    for (size_t index = 0; index < sizeof (units) / sizeof (units[0]); index++) {
        if (strcasecmp (end, units[index].unit) != 0)
            continue;
        if (number > INT64_MAX / units[index].factor)
            return -2;
        *result = number * units[index].factor;
        return 0;
    }
    return -1;
}

//  Parse text as entry's type into value; on failure write the reason.
//  A string's value is a fresh copy. 0 or -1.
static int
s_parse (const rfk_config_key_t *entry, const char *text, s_value_t *value, char *reason,
         size_t size)
{
    int rc = 0;
    switch (entry->type) {
        case RFK_CONFIG_INT:
            rc = s_parse_int (text, &value->i);
            break;
        case RFK_CONFIG_FLOAT:
            rc = s_parse_float (text, &value->f);
            break;
        case RFK_CONFIG_BOOL:
            rc = s_parse_bool (text, &value->b);
            break;
        case RFK_CONFIG_SIZE:
            rc = s_parse_size (text, &value->z);
            break;
        case RFK_CONFIG_STRING:
            value->s = strdup (text);
            if (!value->s) {
                snprintf (reason, size, "out of memory");
                return -1;
            }
            break;
    }
    bool secret = (entry->flags & RFK_CONFIG_SECRET) != 0;
    if (rc == -1) {
        if (secret)
            snprintf (reason, size, "expected %s", s_type_name (entry->type));
        else
            snprintf (reason, size, "expected %s, got \"%.80s\"", s_type_name (entry->type), text);
        return -1;
    }
    if (rc == -2) {
        snprintf (reason, size, "\"%.80s\" is too large", text);
        return -1;
    }
    return 0;
}

//  Check bounds and choices; on failure write the reason. 0 or -1.
static int
s_check_value (const rfk_config_key_t *entry, const s_value_t *value, char *reason, size_t size)
{
    const char *lower = entry->min ? entry->min : "none";
    const char *upper = entry->max ? entry->max : "none";
    bool below = false, above = false;
    s_value_t bound;
    char scratch[8];
    if (entry->type == RFK_CONFIG_STRING && entry->choices) {
        size_t length = strlen (value->s);
        for (const char *choice = entry->choices; *choice;) {
            const char *bar = strchr (choice, '|');
            size_t choice_length = bar ? (size_t)(bar - choice) : strlen (choice);
            if (choice_length == length && strncmp (choice, value->s, length) == 0)
                return 0;
            choice = bar ? bar + 1 : choice + choice_length;
        }
        snprintf (reason, size, "\"%.80s\" is not one of %s", value->s, entry->choices);
        return -1;
    }
    //  Bounds in the table are parsed like values; the table test makes
    //  sure they parse, so a failure here only skips the check.
    bool numeric = entry->type != RFK_CONFIG_STRING && entry->type != RFK_CONFIG_BOOL;
    if (numeric && entry->min &&
        s_parse (entry, entry->min, &bound, scratch, sizeof scratch) == 0) {
        if (entry->type == RFK_CONFIG_INT)
            below = value->i < bound.i;
        else if (entry->type == RFK_CONFIG_FLOAT)
            below = value->f < bound.f;
        else if (entry->type == RFK_CONFIG_SIZE)
            below = value->z < bound.z;
    }
    if (numeric && entry->max &&
        s_parse (entry, entry->max, &bound, scratch, sizeof scratch) == 0) {
        if (entry->type == RFK_CONFIG_INT)
            above = value->i > bound.i;
        else if (entry->type == RFK_CONFIG_FLOAT)
            above = value->f > bound.f;
        else if (entry->type == RFK_CONFIG_SIZE)
            above = value->z > bound.z;
    }
    if (!below && !above)
        return 0;
    char shown[64];
    if (entry->type == RFK_CONFIG_INT)
        snprintf (shown, sizeof shown, "%lld", (long long)value->i);
    else if (entry->type == RFK_CONFIG_FLOAT)
        snprintf (shown, sizeof shown, "%g", value->f);
    else
        snprintf (shown, sizeof shown, "%llu bytes", (unsigned long long)value->z);
    snprintf (reason, size, "%s is out of range [%s, %s]", shown, lower, upper);
    return -1;
}

static void
s_value_free (const rfk_config_key_t *entry, s_value_t *value)
{
    if (entry->type == RFK_CONFIG_STRING) {
        free (value->s);
        value->s = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Constructor, destructor

rfk_config_t *
rfk_config_new (void)
{
    return rfk_config_new_from (rfk_config_keys, rfk_config_keys_count);
}

rfk_config_t *
rfk_config_new_from (const rfk_config_key_t *table, size_t count)
{
    assert (table);
    rfk_config_t *self = calloc (1, sizeof (rfk_config_t));
    if (!self)
        return NULL;
    self->table = table;
    self->count = count;
    self->slots = calloc (count ? count : 1, sizeof (s_slot_t));
    if (!self->slots) {
        free (self);
        return NULL;
    }
    for (size_t index = 0; index < count; index++) {
        char reason[256];
        if (s_parse (&table[index], table[index].value, &self->slots[index].value, reason,
                     sizeof reason) != 0 ||
            s_check_value (&table[index], &self->slots[index].value, reason, sizeof reason) != 0) {
            //  Slots are zeroed, so destroy frees only what was made.
            rfk_config_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void
rfk_config_destroy (rfk_config_t **self_p)
{
    assert (self_p);
    rfk_config_t *self = *self_p;
    if (!self)
        return;
    for (size_t index = 0; index < self->count; index++) {
        s_value_free (&self->table[index], &self->slots[index].value);
        free (self->slots[index].origin);
    }
    free (self->slots);
    free (self->error);
    free (self);
    *self_p = NULL;
}

const char *
rfk_config_error (const rfk_config_t *self)
{
    assert (self);
    return self->error;
}

//  --------------------------------------------------------------------------
//  Setting one key

//  Parse, check and store a value for the entry at index. 0 or -1.
static int
s_set_index (rfk_config_t *self, size_t index, const char *text, const char *origin)
{
    const rfk_config_key_t *entry = &self->table[index];
    char name[128], reason[256];
    s_name (entry, name, sizeof name);
    s_value_t value;
    if (s_parse (entry, text, &value, reason, sizeof reason) != 0) {
        s_error (self, "%s: %s: %s", origin, name, reason);
        return -1;
    }
    if (s_check_value (entry, &value, reason, sizeof reason) != 0) {
        s_value_free (entry, &value);
        s_error (self, "%s: %s: %s", origin, name, reason);
        return -1;
    }
    char *origin_copy = strdup (origin);
    if (!origin_copy) {
        s_value_free (entry, &value);
        s_error (self, "%s: %s: out of memory", origin, name);
        return -1;
    }
    s_slot_t *slot = &self->slots[index];
    s_value_free (entry, &slot->value);
    slot->value = value;
    free (slot->origin);
    slot->origin = origin_copy;
    return 0;
}

int
rfk_config_set (rfk_config_t *self, const char *section, const char *key, const char *value,
                const char *origin)
{
    assert (self);
    assert (key);
    assert (value);
    if (!origin)
        origin = "set";
    section = s_section_of (section);
    ssize_t index = s_find (self, section, key);
    if (index < 0) {
        char hint[128];
        s_suggest (self, section, key, hint, sizeof hint);
        if (*section)
            s_error (self, "%s: %s.%s: unknown key%s", origin, section, key, hint);
        else
            s_error (self, "%s: %s: unknown key%s", origin, key, hint);
        return -1;
    }
    return s_set_index (self, (size_t)index, value, origin);
}

//  --------------------------------------------------------------------------
//  Reading a YAML file

typedef struct {
    rfk_config_t *self;    //  configuration being filled
    const char *path;      //  file name for messages
    yaml_parser_t parser;  //  libyaml event parser
    bool broken;           //  a syntax error ended the parse
    int errors;            //  problems found in this file
    size_t *section_lines; //  per table index: line its section began, 0
} s_reader_t;

//  Next event; on a syntax error record it, mark broken and return -1.
static int
s_next (s_reader_t *reader, yaml_event_t *event)
{
    if (yaml_parser_parse (&reader->parser, event))
        return 0;
    yaml_parser_t *parser = &reader->parser;
    const char *problem = parser->problem ? parser->problem : "malformed YAML";
    if (parser->error == YAML_READER_ERROR)
        s_error (reader->self, "%s: cannot read: %s (at byte %zu)", reader->path, problem,
                 parser->problem_offset);
    else if (parser->context)
        s_error (reader->self, "%s:%zu:%zu: YAML syntax error: %s %s", reader->path,
                 parser->problem_mark.line + 1, parser->problem_mark.column + 1, problem,
                 parser->context);
    else
        s_error (reader->self, "%s:%zu:%zu: YAML syntax error: %s", reader->path,
                 parser->problem_mark.line + 1, parser->problem_mark.column + 1, problem);
    reader->broken = true;
    reader->errors++;
    return -1;
}

static size_t
s_line (const yaml_event_t *event)
{
    return event->start_mark.line + 1;
}

static const char *
s_node_kind (const yaml_event_t *event)
{
    switch (event->type) {
        case YAML_MAPPING_START_EVENT:
            return "a mapping";
        case YAML_SEQUENCE_START_EVENT:
            return "a list";
        case YAML_ALIAS_EVENT:
            return "an alias";
        default:
            return "a scalar";
    }
}

//  Skip the rest of the node that started with event (which the caller
//  still owns). 0 or -1 (syntax error).
static int
s_skip (s_reader_t *reader, const yaml_event_t *first)
{
    if (first->type != YAML_MAPPING_START_EVENT && first->type != YAML_SEQUENCE_START_EVENT)
        return 0;
    size_t depth = 1;
    while (depth > 0) {
        yaml_event_t event;
        if (s_next (reader, &event) != 0)
            return -1;
        if (event.type == YAML_MAPPING_START_EVENT || event.type == YAML_SEQUENCE_START_EVENT)
            depth++;
        else if (event.type == YAML_MAPPING_END_EVENT || event.type == YAML_SEQUENCE_END_EVENT)
            depth--;
        yaml_event_delete (&event);
    }
    return 0;
}

//  A plain empty, ~ or null scalar: YAML's null.
static bool
s_is_null (const yaml_event_t *event)
{
    if (event->type != YAML_SCALAR_EVENT || event->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *text = (const char *)event->data.scalar.value;
    return !*text || strcmp (text, "~") == 0 || strcmp (text, "null") == 0 ||
           strcmp (text, "Null") == 0 || strcmp (text, "NULL") == 0;
}

//  Apply the value node of a declared key. The caller owns value and
//  skips the rest of it if it is a collection.
static void
s_apply (s_reader_t *reader, size_t index, const yaml_event_t *value)
{
    const rfk_config_key_t *entry = &reader->self->table[index];
    s_slot_t *slot = &reader->self->slots[index];
    char name[128];
    s_name (entry, name, sizeof name);
    size_t line = s_line (value);
    if (value->type != YAML_SCALAR_EVENT) {
        s_error (reader->self, "%s:%zu: %s: expected %s, got %s", reader->path, line, name,
                 s_type_name (entry->type), s_node_kind (value));
        reader->errors++;
        return;
    }
    if (slot->line) {
        s_error (reader->self, "%s:%zu: %s: set twice (first at line %zu)", reader->path, line,
                 name, slot->line);
        reader->errors++;
        return;
    }
    const char *text = (const char *)value->data.scalar.value;
    if (s_is_null (value)) {
        if (entry->type != RFK_CONFIG_STRING) {
            s_error (reader->self, "%s:%zu: %s: has no value (expected %s)", reader->path, line,
                     name, s_type_name (entry->type));
            reader->errors++;
            return;
        }
        text = "";
    }
    if (strlen (text) != value->data.scalar.length) {
        s_error (reader->self, "%s:%zu: %s: the value holds a NUL character", reader->path, line,
                 name);
        reader->errors++;
        return;
    }
    char origin[1100];
    snprintf (origin, sizeof origin, "%.1000s:%zu", reader->path, line);
    if (s_set_index (reader->self, index, text, origin) != 0)
        reader->errors++;
    slot->line = line;
}

//  Report an unknown key or section at event and skip its value.
static int
s_unknown (s_reader_t *reader, const char *section, const yaml_event_t *key)
{
    const char *name = (const char *)key->data.scalar.value;
    char hint[128];
    s_suggest (reader->self, section, name, hint, sizeof hint);
    if (*section)
        s_error (reader->self, "%s:%zu: %s.%.80s: unknown key%s", reader->path, s_line (key),
                 section, name, hint);
    else
        s_error (reader->self, "%s:%zu: %.80s: unknown key%s", reader->path, s_line (key), name,
                 hint);
    reader->errors++;
    yaml_event_t value;
    if (s_next (reader, &value) != 0)
        return -1;
    int rc = s_skip (reader, &value);
    yaml_event_delete (&value);
    return rc;
}

//  Read the key/value pairs of one mapping: the whole file when section is
//  "", or one section's. Called after its MAPPING_START. 0 or -1 (broken).
static int
s_read_mapping (s_reader_t *reader, const char *section)
{
    while (true) {
        yaml_event_t key;
        if (s_next (reader, &key) != 0)
            return -1;
        if (key.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete (&key);
            return 0;
        }
        if (key.type != YAML_SCALAR_EVENT) {
            s_error (reader->self, "%s:%zu: a key must be a name, got %s", reader->path,
                     s_line (&key), s_node_kind (&key));
            reader->errors++;
            yaml_event_t value;
            int rc = s_skip (reader, &key);
            if (rc == 0 && s_next (reader, &value) == 0) {
                rc = s_skip (reader, &value);
                yaml_event_delete (&value);
            } else
                rc = -1;
            yaml_event_delete (&key);
            if (rc != 0)
                return -1;
            continue;
        }
        const char *name = (const char *)key.data.scalar.value;
        int rc = 0;
        ssize_t index = s_find (reader->self, section, name);
        if (index >= 0) {
            yaml_event_t value;
            rc = s_next (reader, &value);
            if (rc == 0) {
                s_apply (reader, (size_t)index, &value);
                rc = s_skip (reader, &value);
                yaml_event_delete (&value);
            }
        } else if (!*section && s_is_section (reader->self, name)) {
            //  The line a section began is kept on its first key's slot
            //  index, found again by name.
            ssize_t first = -1;
            for (size_t i = 0; i < reader->self->count && first < 0; i++)
                if (strcmp (reader->self->table[i].section, name) == 0)
                    first = (ssize_t)i;
            yaml_event_t value;
            rc = s_next (reader, &value);
            if (rc == 0) {
                if (reader->section_lines[first]) {
                    s_error (reader->self, "%s:%zu: %s: section appears twice (first at line %zu)",
                             reader->path, s_line (&key), name, reader->section_lines[first]);
                    reader->errors++;
                    rc = s_skip (reader, &value);
                } else if (value.type == YAML_MAPPING_START_EVENT) {
                    reader->section_lines[first] = s_line (&key);
                    rc = s_read_mapping (reader, reader->self->table[first].section);
                } else if (s_is_null (&value))
                    reader->section_lines[first] = s_line (&key);
                else {
                    s_error (reader->self,
                             "%s:%zu: %s: is a section, expected a mapping of its "
                             "keys, got %s",
                             reader->path, s_line (&value), name, s_node_kind (&value));
                    reader->errors++;
                    rc = s_skip (reader, &value);
                }
                yaml_event_delete (&value);
            }
        } else
            rc = s_unknown (reader, section, &key);
        yaml_event_delete (&key);
        if (rc != 0)
            return -1;
    }
}

//  Read the stream: at most one document whose root is a mapping (or empty).
static void
s_read_stream (s_reader_t *reader)
{
    yaml_event_t event;
    if (s_next (reader, &event) != 0)
        return;
    yaml_event_delete (&event); //  STREAM_START
    if (s_next (reader, &event) != 0)
        return;
    if (event.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete (&event); //  an empty file: defaults
        return;
    }
    yaml_event_delete (&event); //  DOCUMENT_START
    if (s_next (reader, &event) != 0)
        return;
    int rc = 0;
    if (event.type == YAML_MAPPING_START_EVENT)
        rc = s_read_mapping (reader, "");
    else if (!s_is_null (&event)) {
        s_error (reader->self, "%s:%zu: the file must be a mapping of keys and sections, got %s",
                 reader->path, s_line (&event), s_node_kind (&event));
        reader->errors++;
        rc = s_skip (reader, &event);
    }
    yaml_event_delete (&event);
    if (rc != 0 || s_next (reader, &event) != 0)
        return;
    yaml_event_delete (&event); //  DOCUMENT_END
    if (s_next (reader, &event) != 0)
        return;
    if (event.type != YAML_STREAM_END_EVENT) {
        s_error (reader->self, "%s:%zu: only one YAML document is allowed", reader->path,
                 s_line (&event));
        reader->errors++;
    }
    yaml_event_delete (&event);
}

int
rfk_config_load_file (rfk_config_t *self, const char *path)
{
    assert (self);
    assert (path);
    struct stat info;
    if (stat (path, &info) != 0) {
        s_error (self, "%s: cannot read the configuration file: %s", path, strerror (errno));
        return -1;
    }
    if (!S_ISREG (info.st_mode)) {
        s_error (self, "%s: cannot read the configuration file: not a regular file", path);
        return -1;
    }
    FILE *file = fopen (path, "rb");
    if (!file) {
        s_error (self, "%s: cannot read the configuration file: %s", path, strerror (errno));
        return -1;
    }
    s_reader_t reader = {.self = self, .path = path};
    reader.section_lines = calloc (self->count ? self->count : 1, sizeof (size_t));
    if (!reader.section_lines || !yaml_parser_initialize (&reader.parser)) {
        free (reader.section_lines);
        fclose (file);
        s_error (self, "%s: out of memory", path);
        return -1;
    }
    for (size_t index = 0; index < self->count; index++)
        self->slots[index].line = 0;
    yaml_parser_set_input_file (&reader.parser, file);
    s_read_stream (&reader);
    yaml_parser_delete (&reader.parser);
    free (reader.section_lines);
    fclose (file);
    return reader.errors ? -1 : 0;
}

//  --------------------------------------------------------------------------
//  Environment

//  "RAFIKI_" + upper-case parts joined by '_' into buffer.
static void
s_env_name (const char *section, const char *key, char *buffer, size_t size)
{
    if (*section)
        snprintf (buffer, size, "RAFIKI_%s_%s", section, key);
    else
        snprintf (buffer, size, "RAFIKI_%s", key);
    for (char *c = buffer; *c; c++)
        *c = (char)toupper ((unsigned char)*c);
}

int
rfk_config_load_env (rfk_config_t *self, char *const *envp)
{
    assert (self);
    extern char **environ;
    if (!envp)
        envp = environ;
    int errors = 0;
    for (; envp && *envp; envp++) {
        const char *entry = *envp;
        const char *equals = strchr (entry, '=');
        if (strncmp (entry, "RAFIKI_", 7) != 0 || !equals)
            continue;
        size_t name_length = (size_t)(equals - entry);
        const char *text = equals + 1;
        char name[256];
        if (name_length >= sizeof name)
            continue;
        memcpy (name, entry, name_length);
        name[name_length] = 0;
        //  A top-level key matches the whole name; a section its prefix.
        bool handled = false;
        const char *section_hit = NULL;
        for (size_t index = 0; index < self->count && !handled; index++) {
            const rfk_config_key_t *key = &self->table[index];
            char expected[256];
            s_env_name (key->section, key->key, expected, sizeof expected);
            if (strcmp (expected, name) == 0) {
                if (s_set_index (self, index, text, name) != 0)
                    errors++;
                handled = true;
            } else if (*key->section && !section_hit) {
                char prefix[128];
                s_env_name ("", key->section, prefix, sizeof prefix);
                size_t length = strlen (prefix);
                if (strncmp (name, prefix, length) == 0 && name[length] == '_')
                    section_hit = key->section;
            }
        }
        if (!handled && section_hit) {
            char key[256];
            snprintf (key, sizeof key, "%s", name + 7 + strlen (section_hit) + 1);
            for (char *c = key; *c; c++)
                *c = (char)tolower ((unsigned char)*c);
            char hint[128];
            s_suggest (self, section_hit, key, hint, sizeof hint);
            s_error (self, "%s: %s.%s: unknown key%s", name, section_hit, key, hint);
            errors++;
        }
    }
    return errors ? -1 : 0;
}

//  --------------------------------------------------------------------------
//  Rules between keys

int
rfk_config_check (rfk_config_t *self)
{
    assert (self);
    int errors = 0;
    ssize_t interval = s_find (self, "bus", "heartbeat_interval_ms");
    ssize_t timeout = s_find (self, "bus", "heartbeat_timeout_ms");
    if (interval >= 0 && timeout >= 0 &&
        self->slots[timeout].value.i <= self->slots[interval].value.i) {
        s_error (self,
                 "%s: bus.heartbeat_timeout_ms: %lld must be above bus.heartbeat_interval_ms "
                 "(%lld, from %s)",
                 rfk_config_origin (self, "bus", "heartbeat_timeout_ms"),
                 (long long)self->slots[timeout].value.i, (long long)self->slots[interval].value.i,
                 rfk_config_origin (self, "bus", "heartbeat_interval_ms"));
        errors++;
    }
    static const char *ports[] = {"http_port", "command_port", "service_port", "events_port"};
    for (size_t a = 0; a < 4; a++) {
        ssize_t ia = s_find (self, "admin", ports[a]);
        for (size_t b = a + 1; b < 4 && ia >= 0; b++) {
            ssize_t ib = s_find (self, "admin", ports[b]);
            if (ib < 0 || self->slots[ia].value.i == 0 ||
                self->slots[ia].value.i != self->slots[ib].value.i)
                continue;
            s_error (self, "%s: admin.%s: port %lld is also admin.%s's (from %s)",
                     rfk_config_origin (self, "admin", ports[b]), ports[b],
                     (long long)self->slots[ib].value.i, ports[a],
                     rfk_config_origin (self, "admin", ports[a]));
            errors++;
        }
    }
    return errors ? -1 : 0;
}

int
rfk_config_load (rfk_config_t *self, const char *path)
{
    assert (self);
    int rc = 0;
    if (path && rfk_config_load_file (self, path) != 0)
        rc = -1;
    if (rfk_config_load_env (self, NULL) != 0)
        rc = -1;
    //  Rules compare values, so they run only on values that all loaded.
    if (rc == 0 && rfk_config_check (self) != 0)
        rc = -1;
    return rc;
}

//  --------------------------------------------------------------------------
//  Getters

static const s_slot_t *
s_slot (const rfk_config_t *self, const char *section, const char *key, rfk_config_type_t type)
{
    assert (self);
    assert (key);
    ssize_t index = s_find (self, section, key);
    assert (index >= 0 && "rfk_config: the key is not declared in the table");
    if (index < 0)
        return NULL;
    assert (self->table[index].type == type && "rfk_config: getter of the wrong type");
    if (self->table[index].type != type)
        return NULL;
    return &self->slots[index];
}

int64_t
rfk_config_int (const rfk_config_t *self, const char *section, const char *key)
{
    const s_slot_t *slot = s_slot (self, section, key, RFK_CONFIG_INT);
    return slot ? slot->value.i : 0;
}

double
rfk_config_float (const rfk_config_t *self, const char *section, const char *key)
{
    const s_slot_t *slot = s_slot (self, section, key, RFK_CONFIG_FLOAT);
    return slot ? slot->value.f : 0;
}

bool
rfk_config_bool (const rfk_config_t *self, const char *section, const char *key)
{
    const s_slot_t *slot = s_slot (self, section, key, RFK_CONFIG_BOOL);
    return slot ? slot->value.b : false;
}

const char *
rfk_config_string (const rfk_config_t *self, const char *section, const char *key)
{
    const s_slot_t *slot = s_slot (self, section, key, RFK_CONFIG_STRING);
    return slot ? slot->value.s : "";
}

uint64_t
rfk_config_size (const rfk_config_t *self, const char *section, const char *key)
{
    const s_slot_t *slot = s_slot (self, section, key, RFK_CONFIG_SIZE);
    return slot ? slot->value.z : 0;
}

const char *
rfk_config_origin (const rfk_config_t *self, const char *section, const char *key)
{
    assert (self);
    assert (key);
    ssize_t index = s_find (self, section, key);
    assert (index >= 0 && "rfk_config: the key is not declared in the table");
    if (index < 0 || !self->slots[index].origin)
        return "default";
    return self->slots[index].origin;
}

char *
rfk_config_data_path (const rfk_config_t *self, const char *relative)
{
    const char *data_dir = rfk_config_string (self, "", "data_dir");
    char *path = NULL;
    size_t length = strlen (data_dir);
    const char *separator = length && data_dir[length - 1] == '/' ? "" : "/";
    int rc;
    if (!relative || !*relative)
        rc = asprintf (&path, "%s", data_dir);
    else
        rc = asprintf (&path, "%s%s%s", data_dir, separator, relative);
    return rc < 0 ? NULL : path;
}

//  --------------------------------------------------------------------------
//  Dump

//  A YAML double-quoted scalar.
static void
s_quote (FILE *out, const char *text)
{
    fputc ('"', out);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf (out, "\\%c", *c);
        else if (*c == '\n')
            fputs ("\\n", out);
        else if (*c == '\t')
            fputs ("\\t", out);
        else if (*c < 0x20 || *c == 0x7f)
            fprintf (out, "\\x%02x", *c);
        else
            fputc (*c, out);
    }
    fputc ('"', out);
}

//  A size in its largest exact binary unit.
static void
s_print_size (FILE *out, uint64_t bytes)
{
    static const char *units[] = {"TiB", "GiB", "MiB", "KiB"};
    for (int index = 0; index < 4; index++) {
        uint64_t factor = 1ull << (10 * (4 - index));
        if (bytes && bytes % factor == 0) {
            fprintf (out, "%llu%s", (unsigned long long)(bytes / factor), units[index]);
            return;
        }
    }
    fprintf (out, "%llu", (unsigned long long)bytes);
}

static void
s_dump_key (const rfk_config_t *self, size_t index, FILE *out, const char *indent)
{
    const rfk_config_key_t *entry = &self->table[index];
    const s_slot_t *slot = &self->slots[index];
    const char *origin = slot->origin ? slot->origin : "default";
    fprintf (out, "%s# %s\n", indent, entry->doc);
    if ((entry->flags & RFK_CONFIG_SECRET) && *slot->value.s) {
        fprintf (out, "%s# %s: (secret, not shown; from %s)\n", indent, entry->key, origin);
        return;
    }
    fprintf (out, "%s%s: ", indent, entry->key);
    switch (entry->type) {
        case RFK_CONFIG_INT:
            fprintf (out, "%lld", (long long)slot->value.i);
            break;
        case RFK_CONFIG_FLOAT:
            fprintf (out, "%.17g", slot->value.f);
            break;
        case RFK_CONFIG_BOOL:
            fputs (slot->value.b ? "true" : "false", out);
            break;
        case RFK_CONFIG_STRING:
            s_quote (out, slot->value.s);
            break;
        case RFK_CONFIG_SIZE:
            s_print_size (out, slot->value.z);
            break;
    }
    fprintf (out, "  # %s\n", origin);
}

int
rfk_config_dump (const rfk_config_t *self, FILE *out)
{
    assert (self);
    assert (out);
    fprintf (out, "# Effective Rafiki-C configuration; each value's origin is in its comment.\n");
    for (size_t index = 0; index < self->count; index++)
        if (!*self->table[index].section)
            s_dump_key (self, index, out, "");
    for (size_t index = 0; index < self->count; index++) {
        const char *section = self->table[index].section;
        if (!*section)
            continue;
        //  Print each section once, at its first key.
        bool seen = false;
        for (size_t before = 0; before < index && !seen; before++)
            seen = strcmp (self->table[before].section, section) == 0;
        if (seen)
            continue;
        fprintf (out, "\n%s:\n", section);
        for (size_t member = index; member < self->count; member++)
            if (strcmp (self->table[member].section, section) == 0)
                s_dump_key (self, member, out, "  ");
    }
    fflush (out);
    return ferror (out) ? -1 : 0;
}
