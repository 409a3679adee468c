/*  rfk_check_template.c: the template check program (rfk_check_template.h).

    rfk_check_template_main runs in a process of its own, exec'd by admin
    (actors/admin/rfk_admin_checks.c) with an empty environment, stdin and
    stderr on /dev/null and its stdout a pipe. Before it loads the template
    it moves that pipe off descriptor 1 (to a close-on-exec copy) and points
    1 and 2 at /dev/null, so a template that prints while it loads does not
    spoil the report. It checks the template's strings as C strings first
    (length with strnlen, so a name without an end is not read past the cap,
    then printable UTF-8), builds the report and checks that with the same
    function admin uses on what it reads (rfk_template_report_check).

    With --confine (admin passes it where no bwrap sandbox runs the check:
    under swarm, in admin's own container) it confines itself before it
    loads anything (rfk_sandbox_confine: Landlock and seccomp): it can then
    read the system folders and the template alone, write nothing, open no
    socket (not the Docker socket admin holds), start no process and signal
    none but itself. Where that cannot be done the check refuses the upload
    with the reason.

    This is the only code of the check that dlopens a template: it is linked
    into rafikid, never into the admin library.
*/
#define _GNU_SOURCE
#include "rfk_check_template.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rafiki/model.h"
#include "rafiki/template.h"
#include "rfk_sandbox.h"
#include "rfk_template_report.h"

/* Address space the check may add to what rafikid maps at its start. */
#define S_CHECK_MEMORY_MB 1024

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
    bool confine = argc == 4 && strcmp (argv[1], "--confine") == 0;
    if (confine)
        argv++, argc--;
    if (argc != 3)
        s_refuse (fd, "usage: rafikid check-template [--confine] FILE TASK", 2);
    //  Bound what a broken template can do to the machine while it loads.
    struct rlimit cpu = {10, 11};
    setrlimit (RLIMIT_CPU, &cpu);
    //  And its memory: without a cap a constructor may take all of the
    //  machine's (test/integration/sandbox, check/allocate: 8 GiB).
    rfk_sandbox_memory_cap (S_CHECK_MEMORY_MB);
    char err[RFK_REPORT_ERROR_MAX] = "";
    //  Where no sandbox holds it (a container: swarm), it holds itself.
    const char *const readable[] = {argv[1]};
    char why[RFK_REPORT_ERROR_MAX - 64] = "";
    if (confine && rfk_sandbox_confine (readable, 1, NULL, 0, why, sizeof why) != 0) {
        snprintf (err, sizeof err, "cannot confine the template check: %s", why);
        s_refuse (fd, err, 2);
    }
    rfk_template_t *tpl = rfk_template_open (argv[1], argv[2], err, sizeof err);
    if (!tpl)
        s_refuse (fd, err, 1);
    json_t *report = s_report_new (rfk_template_api (tpl), err, sizeof err);
    if (!report)
        s_refuse (fd, err, 1);
    s_finish (fd, report, 0);
}
