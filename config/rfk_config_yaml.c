/*  rfk_config_yaml.c: reading one YAML configuration file with libyaml's
    event API, so that each value's line is known: keys at the top level and
    in sections, each applied through the key table; unknown keys and
    sections, duplicates, wrong node kinds and syntax errors are reported
    with FILE:LINE and the read goes on where it can (see rfk_config.h).
*/
#include "rfk_config_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

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
        rfk_config_add_error (reader->self, "%s: cannot read: %s (at byte %zu)", reader->path,
                              problem, parser->problem_offset);
    else if (parser->context)
        rfk_config_add_error (reader->self, "%s:%zu:%zu: YAML syntax error: %s %s", reader->path,
                              parser->problem_mark.line + 1, parser->problem_mark.column + 1,
                              problem, parser->context);
    else
        rfk_config_add_error (reader->self, "%s:%zu:%zu: YAML syntax error: %s", reader->path,
                              parser->problem_mark.line + 1, parser->problem_mark.column + 1,
                              problem);
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
    rfk_config_slot_t *slot = &reader->self->slots[index];
    char name[128];
    rfk_config_key_name (entry, name, sizeof name);
    size_t line = s_line (value);
    if (value->type != YAML_SCALAR_EVENT) {
        rfk_config_add_error (reader->self, "%s:%zu: %s: expected %s, got %s", reader->path, line,
                              name, rfk_config_type_name (entry->type), s_node_kind (value));
        reader->errors++;
        return;
    }
    if (slot->line) {
        rfk_config_add_error (reader->self, "%s:%zu: %s: set twice (first at line %zu)",
                              reader->path, line, name, slot->line);
        reader->errors++;
        return;
    }
    const char *text = (const char *)value->data.scalar.value;
    if (s_is_null (value)) {
        if (entry->type != RFK_CONFIG_STRING) {
            rfk_config_add_error (reader->self, "%s:%zu: %s: has no value (expected %s)",
                                  reader->path, line, name, rfk_config_type_name (entry->type));
            reader->errors++;
            return;
        }
        text = "";
    }
    if (strlen (text) != value->data.scalar.length) {
        rfk_config_add_error (reader->self, "%s:%zu: %s: the value holds a NUL character",
                              reader->path, line, name);
        reader->errors++;
        return;
    }
    char origin[1100];
    snprintf (origin, sizeof origin, "%.1000s:%zu", reader->path, line);
    if (rfk_config_set_index (reader->self, index, text, origin) != 0)
        reader->errors++;
    slot->line = line;
}

//  Report an unknown key or section at event and skip its value.
static int
s_unknown (s_reader_t *reader, const char *section, const yaml_event_t *key)
{
    const char *name = (const char *)key->data.scalar.value;
    char hint[128];
    rfk_config_suggest (reader->self, section, name, hint, sizeof hint);
    if (*section)
        rfk_config_add_error (reader->self, "%s:%zu: %s.%.80s: unknown key%s", reader->path,
                              s_line (key), section, name, hint);
    else
        rfk_config_add_error (reader->self, "%s:%zu: %.80s: unknown key%s", reader->path,
                              s_line (key), name, hint);
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
            rfk_config_add_error (reader->self, "%s:%zu: a key must be a name, got %s",
                                  reader->path, s_line (&key), s_node_kind (&key));
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
        ssize_t index = rfk_config_find (reader->self, section, name);
        if (index >= 0) {
            yaml_event_t value;
            rc = s_next (reader, &value);
            if (rc == 0) {
                s_apply (reader, (size_t)index, &value);
                rc = s_skip (reader, &value);
                yaml_event_delete (&value);
            }
        } else if (!*section && rfk_config_is_section (reader->self, name)) {
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
                    rfk_config_add_error (
                        reader->self, "%s:%zu: %s: section appears twice (first at line %zu)",
                        reader->path, s_line (&key), name, reader->section_lines[first]);
                    reader->errors++;
                    rc = s_skip (reader, &value);
                } else if (value.type == YAML_MAPPING_START_EVENT) {
                    reader->section_lines[first] = s_line (&key);
                    rc = s_read_mapping (reader, reader->self->table[first].section);
                } else if (s_is_null (&value))
                    reader->section_lines[first] = s_line (&key);
                else {
                    rfk_config_add_error (reader->self,
                                          "%s:%zu: %s: is a section, expected a mapping of its "
                                          "keys, got %s",
                                          reader->path, s_line (&value), name,
                                          s_node_kind (&value));
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
        rfk_config_add_error (reader->self,
                              "%s:%zu: the file must be a mapping of keys and sections, got %s",
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
        rfk_config_add_error (reader->self, "%s:%zu: only one YAML document is allowed",
                              reader->path, s_line (&event));
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
        rfk_config_add_error (self, "%s: cannot read the configuration file: %s", path,
                              strerror (errno));
        return -1;
    }
    if (!S_ISREG (info.st_mode)) {
        rfk_config_add_error (self, "%s: cannot read the configuration file: not a regular file",
                              path);
        return -1;
    }
    FILE *file = fopen (path, "rb");
    if (!file) {
        rfk_config_add_error (self, "%s: cannot read the configuration file: %s", path,
                              strerror (errno));
        return -1;
    }
    s_reader_t reader = {.self = self, .path = path};
    reader.section_lines = calloc (self->count ? self->count : 1, sizeof (size_t));
    if (!reader.section_lines || !yaml_parser_initialize (&reader.parser)) {
        free (reader.section_lines);
        fclose (file);
        rfk_config_add_error (self, "%s: out of memory", path);
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
