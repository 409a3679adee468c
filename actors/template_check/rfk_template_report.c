/*  rfk_template_report.c: the template check program and the report it
    writes (rfk_template_report.h).

    rfk_check_template_main runs in a process of its own, exec'd by admin
    (rfk_admin_checks.c) with an empty environment, stdin and stderr on
    /dev/null and its stdout a pipe. Before it loads the template it moves
    that pipe off descriptor 1 (to a close-on-exec copy) and points 1 at
    stderr, so a template that prints while it loads does not spoil the
    report. It checks the template's strings as C strings first (length
    with strnlen, so a name without an end is not read past the cap, then
    printable UTF-8), builds the report and checks that with the same
    function admin uses on what it reads.
*/
#define _GNU_SOURCE
#include "rfk_template_report.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rafiki/model.h"
#include "rafiki/template.h"
#include "rfk_sandbox.h"

/* Address space the check may add to what rafikid maps at its start. */
#define S_CHECK_MEMORY_MB 1024

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

/* A C string of the template (what: "the model's name", ...): set, at
   most max bytes, printable UTF-8. */
static int
s_c_text_check (const char *what, const char *text, size_t max, char *err, size_t errlen)
{
    if (!text) {
        snprintf (err, errlen, "%s is missing", what);
        return -1;
    }
    size_t length = strnlen (text, max + 1);
    if (length > max)
        snprintf (err, errlen, "%s is longer than %zu bytes", what, max);
    else if (length == 0)
        snprintf (err, errlen, "%s is empty", what);
    else if (!rfk_template_text_ok (text, length))
        snprintf (err, errlen, "%s has a control character or is not UTF-8", what);
    else
        return 0;
    return -1;
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

/* ---- the program ----------------------------------------------------------- */

/* The template's own strings, before any becomes JSON. */
static int
s_api_check (const rafiki_model_api_t *api, char *err, size_t errlen)
{
    if (s_c_text_check ("the model's name", api->name, RFK_REPORT_NAME_MAX, err, errlen) != 0)
        return -1;
    if (api->n_knobs > RFK_REPORT_KNOBS_MAX) {
        snprintf (err, errlen, "the template declares %zu knobs; at most %d are taken",
                  api->n_knobs, RFK_REPORT_KNOBS_MAX);
        return -1;
    }
    for (size_t index = 0; index < api->n_knobs; index++) {
        const rafiki_knob_t *knob = &api->knobs[index];
        char what[64];
        snprintf (what, sizeof what, "the name of knob %zu", index);
        if (s_c_text_check (what, knob->name, RFK_REPORT_NAME_MAX, err, errlen) != 0)
            return -1;
        size_t count = knob->type == RAFIKI_KNOB_CATEGORICAL ? knob->n_values : 0;
        if (count > RFK_REPORT_VALUES_MAX) {
            snprintf (err, errlen, "knob '%s' has %zu values; at most %d are taken", knob->name,
                      count, RFK_REPORT_VALUES_MAX);
            return -1;
        }
        const rafiki_value_t *values = count ? knob->values : &knob->value;
        for (size_t value = 0; value < (count ? count : 1); value++) {
            if (values[value].type != RAFIKI_VALUE_STRING || knob->type == RAFIKI_KNOB_INTEGER ||
                knob->type == RAFIKI_KNOB_FLOAT || knob->type == RAFIKI_KNOB_POLICY)
                continue;
            snprintf (what, sizeof what, "a value of knob %zu", index);
            if (s_c_text_check (what, values[value].u.s, RFK_REPORT_STRING_MAX, err, errlen) != 0)
                return -1;
        }
    }
    return 0;
}

/* The report of an opened template, or NULL with the reason. */
static json_t *
s_report_new (const rafiki_model_api_t *api, char *err, size_t errlen)
{
    if (s_api_check (api, err, errlen) != 0)
        return NULL;
    json_t *knobs = rfk_knob_table_to_json (api->knobs, api->n_knobs);
    json_t *policies = json_array ();
    for (size_t index = 0; knobs && index < json_array_size (knobs); index++) {
        json_t *policy = json_object_get (json_array_get (knobs, index), "policy");
        if (policy)
            json_array_append (policies, policy);
    }
    json_t *report = knobs && policies
                         ? json_pack ("{s:b, s:i, s:s, s:s, s:O, s:O}", "ok", 1, "abi_version",
                                      (int)api->abi_version, "task", api->task, "name", api->name,
                                      "knobs", knobs, "policies", policies)
                         : NULL;
    json_decref (knobs);
    json_decref (policies);
    if (!report)
        snprintf (err, errlen, "the template's table cannot be described (out of memory?)");
    else if (rfk_template_report_check (report, NULL, err, errlen) != 0)
        json_decref (report);
    else
        return report;
    return NULL;
}

/* Writes the report to fd and ends the process: _exit, so that nothing the
   template registered (atexit, destructors) runs after the report. */
static void __attribute__ ((noreturn)) s_finish (int fd, json_t *report, int code)
{
    char *text = json_dumps (report, JSON_COMPACT);
    json_decref (report);
    size_t length = text ? strlen (text) : 0, done = 0;
    while (done < length) {
        ssize_t wrote = write (fd, text + done, length - done);
        if (wrote <= 0)
            break;
        done += (size_t)wrote;
    }
    free (text);
    _exit (code);
}

static void __attribute__ ((noreturn)) s_refuse (int fd, const char *reason, int code)
{
    char text[RFK_REPORT_ERROR_MAX];
    snprintf (text, sizeof text, "%s", reason && *reason ? reason : "the template does not load");
    rfk_template_text_scrub (text);
    s_finish (fd, json_pack ("{s:b, s:s}", "ok", 0, "error", text), code);
}

void
rfk_check_template_main (int argc, char **argv)
{
    //  The report goes to a private copy of the pipe; whatever the template
    //  prints goes to /dev/null (not to stderr: in the sandbox, stderr is
    //  the same pipe, and a template that prints would spoil the report).
    int fd = fcntl (STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    int null_fd = open ("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || null_fd < 0)
        _exit (1);
    dup2 (null_fd, STDOUT_FILENO);
    dup2 (null_fd, STDERR_FILENO);
    close (null_fd);
    if (argc != 3)
        s_refuse (fd, "usage: rafikid check-template FILE TASK", 2);
    //  Bound what a broken template can do to the machine while it loads.
    struct rlimit cpu = {10, 11};
    setrlimit (RLIMIT_CPU, &cpu);
    //  And its memory: without a cap a constructor may take all of the
    //  machine's (test/integration/sandbox, check/allocate: 8 GiB).
    rfk_sandbox_memory_cap (S_CHECK_MEMORY_MB);
    char err[RFK_REPORT_ERROR_MAX] = "";
    rfk_template_t *tpl = rfk_template_open (argv[1], argv[2], err, sizeof err);
    if (!tpl)
        s_refuse (fd, err, 1);
    json_t *report = s_report_new (rfk_template_api (tpl), err, sizeof err);
    if (!report)
        s_refuse (fd, err, 1);
    s_finish (fd, report, 0);
}
