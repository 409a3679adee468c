/*  rfk_template_report.h: what a template says about itself, checked.

    Admin never loads a template (issue 13). `rafikid check-template FILE
    TASK` (rfk_check_template_main, rfk_check_template.h) is a program of
    its own, exec'd by admin with an empty environment and one pipe as its
    stdout: it dlopens the template with rfk_template_open and writes one
    JSON object, the report:

        {"ok": true, "abi_version": 1, "task": "TABULAR_CLASSIFICATION",
         "name": "XgbClassifier", "knobs": [...rfk_knob_table_to_json...],
         "policies": ["EARLY_STOP", ...]}

    or {"ok": false, "error": "..."} with a non-zero exit. Every string of
    a report is capped and must be printable UTF-8 (no control characters);
    the knob table's size is capped too. The program refuses a template that
    breaks a cap, naming what was wrong; admin checks the report it reads
    again with rfk_template_report_check, since the process that wrote it ran
    the template's code and may have written anything.
*/
#ifndef RFK_TEMPLATE_REPORT_H_INCLUDED
#define RFK_TEMPLATE_REPORT_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RFK_REPORT_NAME_MAX 128   /* bytes of a model's, a knob's or a task's name */
#define RFK_REPORT_STRING_MAX 128 /* bytes of a string knob value */
#define RFK_REPORT_KNOBS_MAX 128  /* knobs in a table */
#define RFK_REPORT_VALUES_MAX 256 /* values of one CATEGORICAL knob */
#define RFK_REPORT_ERROR_MAX 512  /* bytes of the error of a refusal */

/* Checks a report of an accepted template (ok true) against task (NULL:
   any): the members above with their types and caps, a knob table in the
   form rfk_knob_table_to_json writes. 0, or -1 with what was wrong in err. */
int
rfk_template_report_check (const json_t *report, const char *task, char *err, size_t errlen);

/* True when text (length bytes) is printable UTF-8: no byte below 0x20, no
   DEL, no C1 control, no malformed or overlong sequence. */
bool
rfk_template_text_ok (const char *text, size_t length);

/* Makes a message from a template's check safe to show: bytes that are not
   printable UTF-8 become '?', and it is cut to RFK_REPORT_ERROR_MAX - 1
   bytes. In place. */
void
rfk_template_text_scrub (char *text);

#ifdef __cplusplus
}
#endif

#endif
