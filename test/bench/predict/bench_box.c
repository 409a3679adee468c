/*  bench_box: runs a program in the sandbox the local launcher gives an
    inference worker (sdk/sandbox), for predict-bench's sandboxed rows.

    bench_box RW_DIR RO_PATH... -- PROGRAM ARG...

    The sandbox is the launcher's for inference workers (rfk_admin_launch.c):
    the network kept, read-only the given paths and PROGRAM, read-write
    RW_DIR, as uid 65534 when run as root, the default limits of
    trainer.processes, file_size_mb and open_files. bench_box execs bwrap
    itself (same pid), so stopping it stops the sandbox (--die-with-parent).
    With `bench_box check` it only says whether a sandbox can be made here:
    exit 0, or 1 with the reason.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rfk_sandbox.h"

#define S_UID 65534

extern char **environ;

int
main (int argc, char **argv)
{
    char err[512];
    bool root = geteuid () == 0;
    if (argc == 2 && strcmp (argv[1], "check") == 0) {
        if (rfk_sandbox_available (root ? S_UID : 0, root ? S_UID : 0, err, sizeof err))
            return 0;
        printf ("%s\n", err);
        return 1;
    }
    int dashes = 0;
    for (int i = 1; i < argc && !dashes; i++)
        if (strcmp (argv[i], "--") == 0)
            dashes = i;
    if (argc < 4 || dashes < 2 || dashes + 1 >= argc) {
        fprintf (stderr,
                 "usage: bench_box RW_DIR RO_PATH... -- PROGRAM ARG... | bench_box check\n");
        return 2;
    }
    const char *rw[] = {argv[1]};
    rfk_sandbox_spec_t spec = {
        .ro_paths = (const char *const *)&argv[2],
        .n_ro = (size_t)(dashes - 2),
        .rw_paths = rw,
        .n_rw = 1,
        .share_net = true,
        .uid = root ? S_UID : 0,
        .gid = root ? S_UID : 0,
        .limits = {.nproc = 256, .fsize_mb = 1024, .nofile = 1024},
    };
    rfk_sandbox_cmd_t *cmd =
        rfk_sandbox_cmd_new (&spec, (const char *const *)&argv[dashes + 1], err, sizeof err);
    if (!cmd) {
        fprintf (stderr, "bench_box: %s\n", err);
        return 1;
    }
    if (rfk_sandbox_cmd_enter (cmd) != 0) {
        perror ("bench_box: entering the sandbox");
        return 1;
    }
    char *const *box_argv = rfk_sandbox_cmd_argv (cmd);
    execve (box_argv[0], box_argv, environ);
    perror ("bench_box: exec bwrap");
    return 1;
}
