/*  rfk_template_report.c: the caps on a template check's JSON report
    (rfk_template_report.h), and the text checks both sides of the check
    share.

    Nothing here loads a template: admin links it to check what the check
    program wrote (it was written by a process that ran template code), and
    the program (rfk_check_template.c) links it to check its own report
    before it writes it.
*/
#define _GNU_SOURCE
#include "rfk_template_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rafiki/model.h"

static const char *const s_tasks[] = {
    RAFIKI_TASK_IMAGE_CLASSIFICATION, RAFIKI_TASK_TABULAR_CLASSIFICATION,
    RAFIKI_TASK_TABULAR_REGRESSION, RAFIKI_TASK_POS_TAGGING, NULL};
static const char *const s_types[] = {"FIXED", "CATEGORICAL", "INTEGER", "FLOAT", "POLICY", NULL};
static const char *const s_policies[] = {"EARLY_STOP", "SHARE_PARAMS", "SKIP_TRAIN",
                                         "QUICK_EVAL", "DOWNSCALE",    NULL};

/* ---- text ---------------------------------------------------------------- */

/* The length of the printable UTF-8 character at text (at most left bytes),
   0 when it is not one. */
static size_t
s_char_length (const unsigned char *text, size_t left)
{
    unsigned char c = text[0];
    if (c >= 0x20 && c < 0x7f)
        return 1;
    size_t length = c >= 0xc2 && c <= 0xdf   ? 2
                    : c >= 0xe0 && c <= 0xef ? 3
                    : c >= 0xf0 && c <= 0xf4 ? 4
                                             : 0;
    if (length == 0 || length > left)
        return 0;
    unsigned int code = c & (0x7f >> length);
    for (size_t index = 1; index < length; index++) {
        if ((text[index] & 0xc0) != 0x80)
            return 0;
        code = (code << 6) | (text[index] & 0x3f);
    }
    const unsigned int least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < least[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) ||
        (code >= 0x80 && code <= 0x9f))
        return 0;
    return length;
}

bool
rfk_template_text_ok (const char *text, size_t length)
{
    for (size_t at = 0; at < length;) {
        size_t step = s_char_length ((const unsigned char *)text + at, length - at);
        if (step == 0)
            return false;
        at += step;
    }
    return true;
}

void
rfk_template_text_scrub (char *text)
{
    size_t length = strnlen (text, RFK_REPORT_ERROR_MAX - 1);
    text[length] = 0;
    for (size_t at = 0; at < length;) {
        size_t step = s_char_length ((unsigned char *)text + at, length - at);
        if (step == 0) {
            text[at] = '?';
            step = 1;
        }
        at += step;
    }
}

/* A JSON string member (what names it): present, 1 .. max bytes, printable
   UTF-8; its value in *value_p. */
static int
s_json_text_check (const char *what, const json_t *value, size_t max, const char **value_p,
                   char *err, size_t errlen)
{
    if (!json_is_string (value)) {
        snprintf (err, errlen, "%s is not a string", what);
        return -1;
    }
    const char *text = json_string_value (value);
    size_t length = json_string_length (value);
    if (length > max)
        snprintf (err, errlen, "%s is longer than %zu bytes", what, max);
    else if (length == 0)
        snprintf (err, errlen, "%s is empty", what);
    else if (strlen (text) != length || !rfk_template_text_ok (text, length))
        snprintf (err, errlen, "%s has a control character or is not UTF-8", what);
    else {
        if (value_p)
            *value_p = text;
        return 0;
    }
    return -1;
}

static bool
s_one_of (const char *text, const char *const *list)
{
    for (size_t index = 0; text && list[index]; index++)
        if (strcmp (text, list[index]) == 0)
            return true;
    return false;
}

/* ---- the report, as JSON --------------------------------------------------- */

/* A FIXED or CATEGORICAL knob's value: a number, a boolean or a capped
   string. */
static int
s_value_check (const char *knob, const json_t *value, char *err, size_t errlen)
{
    if (json_is_number (value) || json_is_boolean (value))
        return 0;
    char what[RFK_REPORT_NAME_MAX + 64];
    snprintf (what, sizeof what, "a value of knob '%s'", knob);
    if (json_is_string (value))
        return s_json_text_check (what, value, RFK_REPORT_STRING_MAX, NULL, err, errlen);
    snprintf (err, errlen, "%s is not a number, a boolean or a string", what);
    return -1;
}

/* What one knob's type wants beside its name and type. */
static int
s_knob_body_check (const char *name, const char *type, const json_t *knob, char *err, size_t errlen)
{
    if (strcmp (type, "FIXED") == 0)
        return s_value_check (name, json_object_get (knob, "value"), err, errlen);
    if (strcmp (type, "CATEGORICAL") == 0) {
        const json_t *values = json_object_get (knob, "values");
        size_t count = json_array_size (values);
        if (!json_is_array (values) || count == 0 || count > RFK_REPORT_VALUES_MAX) {
            snprintf (err, errlen, "knob '%s' must have 1 to %d values", name,
                      RFK_REPORT_VALUES_MAX);
            return -1;
        }
        for (size_t index = 0; index < count; index++)
            if (s_value_check (name, json_array_get (values, index), err, errlen) != 0)
                return -1;
        return 0;
    }
    if (strcmp (type, "POLICY") == 0) {
        if (s_one_of (json_string_value (json_object_get (knob, "policy")), s_policies))
            return 0;
        snprintf (err, errlen, "knob '%s' names no known policy", name);
        return -1;
    }
    if (!json_is_number (json_object_get (knob, "min")) ||
        !json_is_number (json_object_get (knob, "max"))) {
        snprintf (err, errlen, "knob '%s' has no numeric min and max", name);
        return -1;
    }
    return 0;
}

/* The knob table: an array of at most RFK_REPORT_KNOBS_MAX knobs with
   unique, capped names. */
static int
s_knobs_check (const json_t *knobs, char *err, size_t errlen)
{
    if (!json_is_array (knobs) || json_array_size (knobs) > RFK_REPORT_KNOBS_MAX) {
        snprintf (err, errlen, "the knob table must be a list of at most %d knobs",
                  RFK_REPORT_KNOBS_MAX);
        return -1;
    }
    for (size_t index = 0; index < json_array_size (knobs); index++) {
        const json_t *knob = json_array_get (knobs, index);
        const char *name = NULL, *type = NULL;
        char what[64];
        snprintf (what, sizeof what, "the name of knob %zu", index);
        if (!json_is_object (knob) ||
            s_json_text_check (what, json_object_get (knob, "name"), RFK_REPORT_NAME_MAX, &name,
                               err, errlen) != 0) {
            if (!json_is_object (knob))
                snprintf (err, errlen, "knob %zu is not an object", index);
            return -1;
        }
        for (size_t before = 0; before < index; before++)
            if (strcmp (name, json_string_value (
                                  json_object_get (json_array_get (knobs, before), "name"))) == 0) {
                snprintf (err, errlen, "knob '%s' is declared twice", name);
                return -1;
            }
        type = json_string_value (json_object_get (knob, "type"));
        if (!s_one_of (type, s_types)) {
            snprintf (err, errlen, "knob '%s' has no known type", name);
            return -1;
        }
        if (s_knob_body_check (name, type, knob, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int
rfk_template_report_check (const json_t *report, const char *task, char *err, size_t errlen)
{
    const char *name = NULL, *said = NULL;
    if (!json_is_object (report) || !json_is_true (json_object_get (report, "ok"))) {
        snprintf (err, errlen, "the report is not an accepting JSON object");
        return -1;
    }
    if (json_integer_value (json_object_get (report, "abi_version")) != RAFIKI_MODEL_ABI_VERSION) {
        snprintf (err, errlen, "the template is not built for model ABI version %d",
                  RAFIKI_MODEL_ABI_VERSION);
        return -1;
    }
    if (s_json_text_check ("the model's name", json_object_get (report, "name"),
                           RFK_REPORT_NAME_MAX, &name, err, errlen) != 0 ||
        s_json_text_check ("the model's task", json_object_get (report, "task"),
                           RFK_REPORT_NAME_MAX, &said, err, errlen) != 0)
        return -1;
    if (!s_one_of (said, s_tasks) || (task && strcmp (task, said) != 0)) {
        snprintf (err, errlen, "the model's task %s is not %s", said, task ? task : "known");
        return -1;
    }
    if (s_knobs_check (json_object_get (report, "knobs"), err, errlen) != 0)
        return -1;
    const json_t *policies = json_object_get (report, "policies");
    for (size_t index = 0; index < json_array_size (policies); index++)
        if (!s_one_of (json_string_value (json_array_get (policies, index)), s_policies)) {
            snprintf (err, errlen, "the report names an unknown policy");
            return -1;
        }
    if (!json_is_array (policies)) {
        snprintf (err, errlen, "the report has no list of policies");
        return -1;
    }
    return 0;
}
