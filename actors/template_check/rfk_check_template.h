/*  rfk_check_template.h: the template check program, `rafikid
    check-template FILE TASK`.

    Admin execs it on every uploaded template (actors/admin/rfk_admin_checks.c),
    sandboxed, with an empty environment and one pipe as its stdout, so that
    no template code ever runs in admin or a fork of it (issue 13). It
    dlopens the template, checks what it says about itself and writes one
    JSON report (rfk_template_report.h) to that pipe. Only rafikid links it.
*/
#ifndef RFK_CHECK_TEMPLATE_H_INCLUDED
#define RFK_CHECK_TEMPLATE_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

/* The program `rafikid check-template FILE TASK` (argv[0] is
   "check-template"): writes the report to its stdout and exits, 0 when the
   template was accepted, 1 when it was refused, 2 for a usage error. Never
   returns. */
void
rfk_check_template_main (int argc, char **argv) __attribute__ ((noreturn));

#ifdef __cplusplus
}
#endif

#endif
