/*  Tests of rfk_sandbox, alone and around the trial runner's exec form,
    through real processes: hostile_template.so tries one escape per trial
    and the trial must end ERRORED with what the kernel answered or the
    limit it reached. Skipped where bwrap cannot make a sandbox. And the
    same escapes from a trial that confines itself (spec.confine: Landlock
    and seccomp, as under swarm), skipped where the kernel has no Landlock.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rfk_runner.h"
#include "rfk_sandbox.h"

/* Under AddressSanitizer, let malloc return NULL at the memory limit. */
const char *
__asan_default_options (void);
const char *
__asan_default_options (void)
{
    return "allocator_may_return_null=1";
}

static char s_dir[] = "/tmp/rfk-sandbox-test-XXXXXX";
static char s_data[300];      /* a dataset */
static char s_store[300];     /* a file of the data dir the trial must not see */
static char s_other[300];     /* another job's folder */
static bool s_ok;             /* a sandbox can be made here */
static double s_timeout = 20; /* each trial's wall-clock limit */

/* The sandbox uid when we are root. */
static rfk_sandbox_spec_t
s_box (void)
{
    rfk_sandbox_spec_t box = {
        .uid = 65534,
        .gid = 65534,
        .limits = {.nproc = 64, .fsize_mb = 64, .nofile = 256, .disk_mb = 256}};
    return box;
}

static void
s_write (const char *path, const char *text)
{
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
}

static int
s_setup (void **state)
{
    (void)state;
    if (!mkdtemp (s_dir))
        return -1;
    snprintf (s_data, sizeof s_data, "%s/train.csv", s_dir);
    snprintf (s_store, sizeof s_store, "%s/rafiki.db", s_dir);
    snprintf (s_other, sizeof s_other, "%s/other-job", s_dir);
    s_write (s_data, "a,b\n1,2\n");
    s_write (s_store, "secret\n");
    chmod (s_store, 0600);
    mkdir (s_other, 0700);
    char err[512] = "";
    rfk_sandbox_spec_t box = s_box ();
    s_ok = rfk_sandbox_available (box.uid, box.gid, err, sizeof err);
    if (!s_ok)
        fprintf (stderr, "# no sandbox here: %s\n", err);
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf %s", s_dir);
    return system (cmd) == 0 ? 0 : -1;
}

/* Usage: a command in the sandbox sees its bound file, not its neighbour. */
static void
test_sandbox_usage (void **state)
{
    (void)state;
    if (!s_ok)
        skip ();
    rfk_sandbox_spec_t box = s_box ();
    const char *ro[] = {s_data};
    box.ro_paths = ro;
    box.n_ro = 1;
    const char *argv[] = {"/bin/sh", "-c",    "cat \"$0\" && ! cat \"$1\" 2>/dev/null",
                          s_data,    s_store, NULL};
    char err[512] = "";
    rfk_sandbox_cmd_t *cmd = rfk_sandbox_cmd_new (&box, argv, err, sizeof err);
    assert_non_null (cmd);
    int out[2];
    assert_int_equal (pipe (out), 0);
    char *envp[] = {NULL};
    pid_t pid = rfk_sandbox_cmd_spawn (cmd, envp, NULL, 0, out[1], true, err, sizeof err);
    close (out[1]);
    rfk_sandbox_cmd_destroy (&cmd);
    rfk_sandbox_cmd_destroy (&cmd);
    assert_true (pid > 0);
    char got[64] = "";
    ssize_t n = read (out[0], got, sizeof got - 1);
    close (out[0]);
    int status = 0;
    waitpid (pid, &status, 0);
    assert_true (n > 0);
    assert_string_equal (got, "a,b\n1,2\n");
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
}

/* One sandboxed trial of the hostile template with attack (and target). */
static void
s_trial (const char *attack, const char *target, const rfk_sandbox_spec_t *box, double cpu_s,
         size_t memory_mb, rfk_trial_result_t *result)
{
    rafiki_arg_t items[] = {{"attack", attack}, {"target", target ? target : ""}};
    rafiki_args_t args = {items, 2};
    rafiki_knob_value_t knob = {"alpha", {RAFIKI_VALUE_FLOAT, {.f = 0.75}}};
    rafiki_knobs_t knobs = {&knob, 1};
    char work[400], params[400];
    snprintf (work, sizeof work, "%s/trials/%s", s_dir, attack);
    snprintf (params, sizeof params, "%s/%s.params", s_dir, attack);
    rfk_trial_spec_t spec = {.knobs = &knobs,
                             .train_path = s_data,
                             .val_path = s_data,
                             .args = &args,
                             .params_path = params,
                             .timeout_s = s_timeout,
                             .cpu_s = cpu_s,
                             .memory_mb = memory_mb,
                             .exec = true,
                             .template_path = RFK_HOSTILE_TEMPLATE,
                             .sandbox = box,
                             .work_dir = work};
    rfk_runner_trial_run (&spec, NULL, result);
    fprintf (stderr, "# %s: %s (cpu %.2f s, %.2f s)\n", attack, result->error, result->cpu_s,
             result->duration_s);
    struct stat st;
    assert_int_not_equal (stat (work, &st), 0); /* the trial's folder is gone */
}

/* The happy path: parameters land at params_path, written in the folder. */
static void
test_sandbox_trial_completes (void **state)
{
    (void)state;
    if (!s_ok)
        skip ();
    rfk_sandbox_spec_t box = s_box ();
    rfk_trial_result_t r;
    s_trial ("params", NULL, &box, 0, 0, &r);
    assert_string_equal (r.error, "");
    assert_int_equal (r.status, RFK_TRIAL_COMPLETED);
    char params[400];
    snprintf (params, sizeof params, "%s/params.params", s_dir);
    struct stat st;
    assert_int_equal (stat (params, &st), 0);
    assert_true (S_ISREG (st.st_mode));
}

/* The data dir's other files and folders are not there. */
static void
test_sandbox_cannot_read_or_write_outside (void **state)
{
    (void)state;
    if (!s_ok)
        skip ();
    rfk_sandbox_spec_t box = s_box ();
    rfk_trial_result_t r;
    s_trial ("read", s_store, &box, 0, 0, &r);
    assert_int_equal (r.status, RFK_TRIAL_ERRORED);
    assert_string_equal (r.error, "train: read: No such file or directory");
    s_trial ("read", "/proc/1/environ", &box, 0, 0, &r);
    assert_null (strstr (r.error, "ESCAPED"));
    s_trial ("write", s_other, &box, 0, 0, &r);
    assert_string_equal (r.error, "train: write: No such file or directory");
    s_trial ("write", "/usr", &box, 0, 0, &r);
    assert_null (strstr (r.error, "ESCAPED"));
}

/* ptrace, new namespaces and the network are denied. */
static void
test_sandbox_denies_ptrace_namespaces_network (void **state)
{
    (void)state;
    if (!s_ok)
        skip ();
    rfk_sandbox_spec_t box = s_box ();
    rfk_trial_result_t r;
    s_trial ("ptrace", NULL, &box, 0, 0, &r);
    assert_string_equal (r.error, "train: ptrace: Operation not permitted");
    s_trial ("unshare", NULL, &box, 0, 0, &r);
    assert_string_equal (r.error, "train: unshare: Operation not permitted");

    int listener = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    assert_int_equal (bind (listener, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal (listen (listener, 4), 0);
    getsockname (listener, (struct sockaddr *)&sa, &len);
    char port[16];
    snprintf (port, sizeof port, "%d", ntohs (sa.sin_port));
    s_trial ("tcp", port, &box, 0, 0, &r);
    close (listener);
    assert_int_equal (r.status, RFK_TRIAL_ERRORED);
    assert_non_null (strstr (r.error, "train: tcp: "));
    assert_null (strstr (r.error, "ESCAPED"));
}

/* Each limit ends the trial with its name in the reason. */
static void
test_sandbox_limits_name_the_limit (void **state)
{
    (void)state;
    if (!s_ok)
        skip ();
    rfk_sandbox_spec_t box = s_box ();
    rfk_trial_result_t r;
    s_trial ("allocate", NULL, &box, 0, 256, &r);
    assert_int_equal (r.status, RFK_TRIAL_ERRORED);
    assert_non_null (strstr (r.error, "memory limit 256 MiB reached"));
    s_trial ("spin", NULL, &box, 1, 0, &r);
    assert_string_equal (r.error, "CPU limit 1 s reached");
    box.limits.fsize_mb = 8;
    s_trial ("bigfile", NULL, &box, 0, 0, &r);
    assert_string_equal (r.error, "file size limit 8 MiB reached");
    box.limits.fsize_mb = 64;
    box.limits.disk_mb = 100;
    s_trial ("disk", NULL, &box, 0, 0, &r);
    assert_string_equal (r.error, "disk limit 100 MiB reached");
}

/* A fork bomb stays within its process limit and ends with the trial. */
static void
test_sandbox_contains_fork_bomb (void **state)
{
    (void)state;
    if (!s_ok)
        skip ();
    rfk_sandbox_spec_t box = s_box ();
    box.limits.nproc = 32;
    rfk_trial_result_t r;
    s_timeout = 3;
    s_trial ("forkbomb", NULL, &box, 2, 0, &r);
    s_timeout = 20;
    assert_int_equal (r.status, RFK_TRIAL_ERRORED);
    assert_string_equal (r.error, "timed out after 3 s");
    /* Nothing of it is left: a fork here still works and our uid's
       processes are few. */
    pid_t pid = fork ();
    if (pid == 0)
        _exit (0);
    assert_true (pid > 0);
    waitpid (pid, NULL, 0);
}

/* One trial that confines itself instead (spec.confine, no bwrap: as in a
   container under swarm), its parameters in a folder of its own. */
static void
s_confined_trial (const char *attack, const char *target, double cpu_s, rfk_trial_result_t *result)
{
    rafiki_arg_t items[] = {{"attack", attack}, {"target", target ? target : ""}};
    rafiki_args_t args = {items, 2};
    rafiki_knob_value_t knob = {"alpha", {RAFIKI_VALUE_FLOAT, {.f = 0.75}}};
    rafiki_knobs_t knobs = {&knob, 1};
    char folder[400], params[500];
    snprintf (folder, sizeof folder, "%s/confined", s_dir);
    mkdir (folder, 0700);
    snprintf (params, sizeof params, "%s/%s.params", folder, attack);
    rfk_trial_spec_t spec = {.knobs = &knobs,
                             .train_path = s_data,
                             .val_path = s_data,
                             .args = &args,
                             .params_path = params,
                             .timeout_s = 5,
                             .cpu_s = cpu_s,
                             .exec = true,
                             .template_path = RFK_HOSTILE_TEMPLATE,
                             .confine = true};
    rfk_runner_trial_run (&spec, NULL, result);
    fprintf (stderr, "# confined %s: %s (%.2f s)\n", attack, result->error, result->duration_s);
}

/* Without bwrap, a confined trial completes, yet cannot read the store or
   another process's environ, write another job's folder, ptrace, unshare,
   open a socket or fork; and nothing it tried is left. */
static void
test_confined_trials (void **state)
{
    (void)state;
    rfk_trial_result_t r;
    s_confined_trial ("params", NULL, 0, &r);
    if (strstr (r.error, "has no Landlock"))
        skip ();
    assert_string_equal (r.error, "");
    assert_int_equal (r.status, RFK_TRIAL_COMPLETED);
    char params[400];
    snprintf (params, sizeof params, "%s/confined/params.params", s_dir);
    struct stat st;
    assert_int_equal (stat (params, &st), 0);
    s_confined_trial ("read", s_store, 0, &r);
    assert_string_equal (r.error, "train: read: Permission denied");
    s_confined_trial ("read", "/proc/1/environ", 0, &r);
    assert_int_equal (r.status, RFK_TRIAL_ERRORED);
    assert_null (strstr (r.error, "ESCAPED"));
    s_confined_trial ("write", s_other, 0, &r);
    assert_string_equal (r.error, "train: write: Permission denied");
    char planted[400];
    snprintf (planted, sizeof planted, "%s/planted", s_other);
    assert_int_not_equal (stat (planted, &st), 0);
    s_confined_trial ("ptrace", NULL, 0, &r);
    assert_string_equal (r.error, "train: ptrace: Operation not permitted");
    s_confined_trial ("unshare", NULL, 0, &r);
    assert_string_equal (r.error, "train: unshare: Operation not permitted");
    s_confined_trial ("tcp", "1", 0, &r);
    assert_string_equal (r.error, "train: tcp: Operation not permitted");
    //  Every fork refused: it spins until its CPU limit, alone.
    s_confined_trial ("forkbomb", NULL, 1, &r);
    assert_int_equal (r.status, RFK_TRIAL_ERRORED);
    assert_null (strstr (r.error, "ESCAPED"));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_sandbox_usage),
        cmocka_unit_test (test_sandbox_trial_completes),
        cmocka_unit_test (test_sandbox_cannot_read_or_write_outside),
        cmocka_unit_test (test_sandbox_denies_ptrace_namespaces_network),
        cmocka_unit_test (test_sandbox_limits_name_the_limit),
        cmocka_unit_test (test_sandbox_contains_fork_bomb),
        cmocka_unit_test (test_confined_trials),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
