/*  rfk_config: defaults from the key table, one YAML file read with libyaml's
    event API (so each value's line is known), RAFIKI_* environment
    overrides, cross-key rules, typed getters and a YAML dump.

    Nothing from outside (file, environment) is asserted: every problem is
    appended to the error text, one line naming the key and its origin, and
    the call returns -1. Asserts guard only programmer errors (NULL self, an
    undeclared key or the wrong getter).
*/
#define _GNU_SOURCE
#include "rfk_config_internal.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

//  --------------------------------------------------------------------------
//  Small helpers

void
rfk_config_add_error (rfk_config_t *self, const char *format, ...)
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
const char *
rfk_config_key_name (const rfk_config_key_t *entry, char *buffer, size_t size)
{
    if (*entry->section)
        snprintf (buffer, size, "%s.%s", entry->section, entry->key);
    else
        snprintf (buffer, size, "%s", entry->key);
    return buffer;
}

//  Index of a declared key, or -1.
ssize_t
rfk_config_find (const rfk_config_t *self, const char *section, const char *key)
{
    section = s_section_of (section);
    for (size_t index = 0; index < self->count; index++)
        if (strcmp (self->table[index].section, section) == 0 &&
            strcmp (self->table[index].key, key) == 0)
            return (ssize_t)index;
    return -1;
}

//  True if some declared key lives in this (non-empty) section.
bool
rfk_config_is_section (const rfk_config_t *self, const char *name)
{
    if (!*name)
        return false;
    for (size_t index = 0; index < self->count; index++)
        if (strcmp (self->table[index].section, name) == 0)
            return true;
    return false;
}

size_t
rfk_config_edit_distance (const char *a, const char *b, bool fold_case)
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
            bool same = fold_case
                            ? tolower ((unsigned char)a[i - 1]) == tolower ((unsigned char)b[j - 1])
                            : a[i - 1] == b[j - 1];
            size_t best = diagonal + (same ? 0 : 1);
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
void
rfk_config_suggest (const rfk_config_t *self, const char *section, const char *name, char *buffer,
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
        size_t distance = rfk_config_edit_distance (name, candidate, false);
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

const char *
rfk_config_type_name (rfk_config_type_t type)
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
s_parse (const rfk_config_key_t *entry, const char *text, rfk_config_value_t *value, char *reason,
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
            snprintf (reason, size, "expected %s", rfk_config_type_name (entry->type));
        else
            snprintf (reason, size, "expected %s, got \"%.80s\"",
                      rfk_config_type_name (entry->type), text);
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
s_check_value (const rfk_config_key_t *entry, const rfk_config_value_t *value, char *reason,
               size_t size)
{
    const char *lower = entry->min ? entry->min : "none";
    const char *upper = entry->max ? entry->max : "none";
    bool below = false, above = false;
    rfk_config_value_t bound;
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
s_value_free (const rfk_config_key_t *entry, rfk_config_value_t *value)
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
    self->slots = calloc (count ? count : 1, sizeof (rfk_config_slot_t));
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
int
rfk_config_set_index (rfk_config_t *self, size_t index, const char *text, const char *origin)
{
    const rfk_config_key_t *entry = &self->table[index];
    char name[128], reason[256];
    rfk_config_key_name (entry, name, sizeof name);
    rfk_config_value_t value;
    if (s_parse (entry, text, &value, reason, sizeof reason) != 0) {
        rfk_config_add_error (self, "%s: %s: %s", origin, name, reason);
        return -1;
    }
    if (s_check_value (entry, &value, reason, sizeof reason) != 0) {
        s_value_free (entry, &value);
        rfk_config_add_error (self, "%s: %s: %s", origin, name, reason);
        return -1;
    }
    char *origin_copy = strdup (origin);
    if (!origin_copy) {
        s_value_free (entry, &value);
        rfk_config_add_error (self, "%s: %s: out of memory", origin, name);
        return -1;
    }
    rfk_config_slot_t *slot = &self->slots[index];
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
    ssize_t index = rfk_config_find (self, section, key);
    if (index < 0) {
        char hint[128];
        rfk_config_suggest (self, section, key, hint, sizeof hint);
        if (*section)
            rfk_config_add_error (self, "%s: %s.%s: unknown key%s", origin, section, key, hint);
        else
            rfk_config_add_error (self, "%s: %s: unknown key%s", origin, key, hint);
        return -1;
    }
    return rfk_config_set_index (self, (size_t)index, value, origin);
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

//  Variables under a section's prefix that are not configuration: what the launcher tells a
//  service about itself (rfk_launcher.h), beside the `service` section's keys.
static const char *s_not_config[] = {"RAFIKI_SERVICE_ID", "RAFIKI_SERVICE_ROLE",
                                     "RAFIKI_SERVICE_SECRET", NULL};

static bool
s_not_config_name (const char *name)
{
    for (size_t index = 0; s_not_config[index]; index++)
        if (strcmp (s_not_config[index], name) == 0)
            return true;
    return false;
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
        if (s_not_config_name (name))
            continue;
        //  A top-level key matches the whole name; a section its prefix.
        bool handled = false;
        const char *section_hit = NULL;
        for (size_t index = 0; index < self->count && !handled; index++) {
            const rfk_config_key_t *key = &self->table[index];
            char expected[256];
            s_env_name (key->section, key->key, expected, sizeof expected);
            if (strcmp (expected, name) == 0) {
                if (rfk_config_set_index (self, index, text, name) != 0)
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
            rfk_config_suggest (self, section_hit, key, hint, sizeof hint);
            rfk_config_add_error (self, "%s: %s.%s: unknown key%s", name, section_hit, key, hint);
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
    ssize_t interval = rfk_config_find (self, "bus", "heartbeat_interval_ms");
    ssize_t timeout = rfk_config_find (self, "bus", "heartbeat_timeout_ms");
    if (interval >= 0 && timeout >= 0 &&
        self->slots[timeout].value.i <= self->slots[interval].value.i) {
        rfk_config_add_error (
            self,
            "%s: bus.heartbeat_timeout_ms: %lld must be above bus.heartbeat_interval_ms "
            "(%lld, from %s)",
            rfk_config_origin (self, "bus", "heartbeat_timeout_ms"),
            (long long)self->slots[timeout].value.i, (long long)self->slots[interval].value.i,
            rfk_config_origin (self, "bus", "heartbeat_interval_ms"));
        errors++;
    }
    static const char *ports[] = {"http_port", "command_port", "service_port", "events_port"};
    for (size_t a = 0; a < 4; a++) {
        ssize_t ia = rfk_config_find (self, "admin", ports[a]);
        for (size_t b = a + 1; b < 4 && ia >= 0; b++) {
            ssize_t ib = rfk_config_find (self, "admin", ports[b]);
            if (ib < 0 || self->slots[ia].value.i == 0 ||
                self->slots[ia].value.i != self->slots[ib].value.i)
                continue;
            rfk_config_add_error (self, "%s: admin.%s: port %lld is also admin.%s's (from %s)",
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

static const rfk_config_slot_t *
s_slot (const rfk_config_t *self, const char *section, const char *key, rfk_config_type_t type)
{
    assert (self);
    assert (key);
    ssize_t index = rfk_config_find (self, section, key);
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
    const rfk_config_slot_t *slot = s_slot (self, section, key, RFK_CONFIG_INT);
    return slot ? slot->value.i : 0;
}

double
rfk_config_float (const rfk_config_t *self, const char *section, const char *key)
{
    const rfk_config_slot_t *slot = s_slot (self, section, key, RFK_CONFIG_FLOAT);
    return slot ? slot->value.f : 0;
}

bool
rfk_config_bool (const rfk_config_t *self, const char *section, const char *key)
{
    const rfk_config_slot_t *slot = s_slot (self, section, key, RFK_CONFIG_BOOL);
    return slot ? slot->value.b : false;
}

const char *
rfk_config_string (const rfk_config_t *self, const char *section, const char *key)
{
    const rfk_config_slot_t *slot = s_slot (self, section, key, RFK_CONFIG_STRING);
    return slot ? slot->value.s : "";
}

uint64_t
rfk_config_size (const rfk_config_t *self, const char *section, const char *key)
{
    const rfk_config_slot_t *slot = s_slot (self, section, key, RFK_CONFIG_SIZE);
    return slot ? slot->value.z : 0;
}

const char *
rfk_config_origin (const rfk_config_t *self, const char *section, const char *key)
{
    assert (self);
    assert (key);
    ssize_t index = rfk_config_find (self, section, key);
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
    const rfk_config_slot_t *slot = &self->slots[index];
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
