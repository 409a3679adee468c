/*  template_task: prints the task of each model template named on the
    command line ("PATH TASK NAME" per line), for the benchmark script to pick
    datasets. Exit status 1 when a template does not open. */
#include <stdio.h>

#include <rafiki/template.h>

int
main (int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        char err[512];
        rfk_template_t *tpl = rfk_template_open (argv[i], NULL, err, sizeof err);
        if (!tpl) {
            fprintf (stderr, "template_task: %s\n", err);
            rc = 1;
            continue;
        }
        printf ("%s %s %s\n", argv[i], rfk_template_api (tpl)->task, rfk_template_api (tpl)->name);
        rfk_template_close (&tpl);
    }
    return rc;
}
