/*  Tests of rafikid as a user runs it: the built executable (path in
    $RAFIKID) is spawned with posix_spawn, its output read through pipes and
    its exit awaited through a pidfd, always with deadlines, never sleeps.
    Each test gets its own data folder (RAFIKI_DATA_DIR).
*/
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rfk_test.h"

extern char **environ;

#define S_DEADLINE_MS 15000 //  generous: sanitizer builds start slowly

static char *s_dir;          //  this test's folder
static char s_data_dir[300]; //  its data folder

//  A running rafikid and what it printed so far.
typedef struct {
    pid_t pid;
    int pidfd;
    int out_fd, err_fd; //  read ends, -1 at end of file
    char out[1 << 16];
    size_t out_len;
    char err[1 << 16];
    size_t err_len;
    int status; //  wait status once exited
    bool exited;
} s_child_t;

static int
s_setup (void **state)
{
    (void)state;
    s_dir = rfk_test_tmpdir_new ("daemon-test");
    if (!s_dir)
        return -1;
    snprintf (s_data_dir, sizeof s_data_dir, "%s/data", s_dir);
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    return rfk_test_tmpdir_destroy (&s_dir);
}

//  Start rafikid with args (NULL-terminated, without argv[0]) and extra
//  NAME=value variables (NULL-terminated). The environment is the test's
//  minus any RAFIKI_* variable, plus RAFIKI_DATA_DIR=<test data folder>.
static void
s_start (s_child_t *child, const char *const *args, const char *const *extra_env)
{
    const char *rafikid = getenv ("RAFIKID");
    assert_non_null (rafikid);
    memset (child, 0, sizeof *child);

    const char *argv[32] = {rafikid};
    size_t argc = 1;
    for (; args && *args && argc < 31; args++)
        argv[argc++] = *args;
    argv[argc] = NULL;

    const char *envp[512];
    size_t envc = 0;
    for (char **entry = environ; *entry && envc < 480; entry++)
        if (strncmp (*entry, "RAFIKI_", 7) != 0)
            envp[envc++] = *entry;
    static char data_dir_var[400];
    snprintf (data_dir_var, sizeof data_dir_var, "RAFIKI_DATA_DIR=%s", s_data_dir);
    envp[envc++] = data_dir_var;
    for (; extra_env && *extra_env && envc < 510; extra_env++)
        envp[envc++] = *extra_env;
    envp[envc] = NULL;

    int out[2], err[2];
    assert_int_equal (pipe2 (out, O_CLOEXEC), 0);
    assert_int_equal (pipe2 (err, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_adddup2 (&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2 (&actions, err[1], STDERR_FILENO);
    int rc = posix_spawn (&child->pid, rafikid, &actions, NULL, (char *const *)argv,
                          (char *const *)envp);
    posix_spawn_file_actions_destroy (&actions);
    close (out[1]);
    close (err[1]);
    assert_int_equal (rc, 0);
    child->out_fd = out[0];
    child->err_fd = err[0];
    child->pidfd = pidfd_open (child->pid, 0);
    assert_true (child->pidfd >= 0);
}

//  Read whatever one pipe has; close it at end of file.
static void
s_drain (int *fd, char *buffer, size_t *length, size_t size)
{
    ssize_t got = read (*fd, buffer + *length, size - 1 - *length);
    if (got > 0) {
        *length += (size_t)got;
        buffer[*length] = 0;
    } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        close (*fd);
        *fd = -1;
    }
}

//  Pump output until needle shows in stderr (needle non-NULL) or until the
//  process exited and both pipes closed (needle NULL), or the deadline.
//  Returns true if the condition was met.
static bool
s_pump (s_child_t *child, const char *needle, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        if (needle && strstr (child->err, needle))
            return true;
        if (!needle && child->exited && child->out_fd < 0 && child->err_fd < 0)
            return true;
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return false;
        struct pollfd items[3] = {
            {child->out_fd, POLLIN, 0},
            {child->err_fd, POLLIN, 0},
            {child->exited ? -1 : child->pidfd, POLLIN, 0},
        };
        if (poll (items, 3, (int)left) < 0 && errno != EINTR)
            return false;
        if (items[0].revents)
            s_drain (&child->out_fd, child->out, &child->out_len, sizeof child->out);
        if (items[1].revents)
            s_drain (&child->err_fd, child->err, &child->err_len, sizeof child->err);
        if (items[2].revents) {
            assert_int_equal (waitpid (child->pid, &child->status, 0), child->pid);
            child->exited = true;
        }
    }
}

//  Wait for the exit within the deadline; return the exit status, or fail
//  the test (killing the process) if it did not exit or died of a signal.
static int
s_wait_exit (s_child_t *child)
{
    if (!s_pump (child, NULL, S_DEADLINE_MS)) {
        kill (child->pid, SIGKILL);
        waitpid (child->pid, NULL, 0);
        close (child->pidfd);
        fail_msg ("rafikid did not exit within %d ms; stderr:\n%s", S_DEADLINE_MS, child->err);
    }
    close (child->pidfd);
    if (!WIFEXITED (child->status))
        fail_msg ("rafikid died of signal %d; stderr:\n%s", WTERMSIG (child->status), child->err);
    return WEXITSTATUS (child->status);
}

//  Run rafikid to its end; return its exit status.
static int
s_run (s_child_t *child, const char *const *args, const char *const *extra_env)
{
    s_start (child, args, extra_env);
    return s_wait_exit (child);
}

//  Read a file into a fresh string, NULL if missing.
static char *
s_read (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    char *text = calloc (1, 1 << 16);
    size_t size = fread (text, 1, (1 << 16) - 1, file);
    text[size] = 0;
    fclose (file);
    return text;
}

static const char *
s_write (const char *name, const char *text)
{
    static char path[512];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
    return path;
}

#define S_ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

//  Start rafikid with args, wait until it says it started, send signo,
//  and expect a clean exit 0 and the stop in log file log_name.
static void
s_start_and_stop (const char *const *args, int signo, const char *log_name)
{
    static s_child_t child;
    s_start (&child, args, NULL);
    if (!s_pump (&child, "rafikid: started role=noop", S_DEADLINE_MS)) {
        kill (child.pid, SIGKILL);
        waitpid (child.pid, NULL, 0);
        fail_msg ("rafikid did not start; stderr:\n%s", child.err);
    }
    assert_int_equal (kill (child.pid, signo), 0);
    assert_int_equal (s_wait_exit (&child), 0);
    assert_non_null (strstr (child.err, "rafikid: stopped role=noop"));

    char path[600];
    snprintf (path, sizeof path, "%s/logs/%s", s_data_dir, log_name);
    char *log = s_read (path);
    if (!log)
        fail_msg ("no log file %s", path);
    assert_non_null (strstr (log, "rafikid: started role=noop"));
    assert_non_null (strstr (log, signo == SIGINT ? "signal=SIGINT" : "signal=SIGTERM"));
    assert_non_null (strstr (log, "rafikid: stopped role=noop"));
    free (log);
}

//  --------------------------------------------------------------------------
//  Usage example: run a role, stop it with SIGTERM.

static void
test_usage_noop_stops_on_sigterm (void **state)
{
    (void)state;
    s_start_and_stop (S_ARGS ("noop"), SIGTERM, "noop.log");
}

static void
test_sigint_and_service_id (void **state)
{
    (void)state;
    s_start_and_stop (S_ARGS ("--service-id", "w-1", "noop"), SIGINT, "noop-w-1.log");
}

static void
test_help_and_version (void **state)
{
    (void)state;
    s_child_t child;
    assert_int_equal (s_run (&child, S_ARGS ("--help"), NULL), 0);
    assert_non_null (strstr (child.out, "Usage: rafikid"));
    assert_non_null (strstr (child.out, "  noop "));
    assert_non_null (strstr (child.out, "--config FILE"));
    assert_non_null (strstr (child.out, "--service-id ID"));
    assert_int_equal (s_run (&child, S_ARGS ("--version"), NULL), 0);
    assert_non_null (strstr (child.out, "rafikid 0."));
}

static void
test_usage_errors (void **state)
{
    (void)state;
    s_child_t child;
    assert_int_equal (s_run (&child, S_ARGS ("fly"), NULL), 2);
    assert_non_null (strstr (child.err, "rafikid: unknown role 'fly'; roles: noop"));
    assert_int_equal (s_run (&child, S_ARGS ("--frob", "noop"), NULL), 2);
    assert_non_null (strstr (child.err, "unknown option '--frob'"));
    assert_int_equal (s_run (&child, S_ARGS ("noop", "-x"), NULL), 2);
    assert_non_null (strstr (child.err, "unknown option '-x'"));
    assert_int_equal (s_run (&child, S_ARGS ("noop", "--config"), NULL), 2);
    assert_non_null (strstr (child.err, "option '--config' needs a value"));
    assert_int_equal (s_run (&child, (const char *const[]){NULL}, NULL), 2);
    assert_non_null (strstr (child.err, "no role given"));
    assert_int_equal (s_run (&child, S_ARGS ("noop", "--service-id", "../etc"), NULL), 2);
    assert_non_null (strstr (child.err, "--service-id '../etc'"));
    //  None of them started anything.
    struct stat info;
    assert_int_equal (stat (s_data_dir, &info), -1);
}

//  --------------------------------------------------------------------------
//  Configuration errors: status 1 and the message

static void
test_bad_config_file (void **state)
{
    (void)state;
    s_child_t child;
    const char *path = s_write ("bad.yaml", "data_dir: ./x\nbus:\n  sndhwm: lots\n");
    assert_int_equal (s_run (&child, S_ARGS ("--config", path, "noop"), NULL), 1);
    char expected[600];
    snprintf (expected, sizeof expected,
              "rafikid: %s:3: bus.sndhwm: expected an integer, got \"lots\"", path);
    assert_non_null (strstr (child.err, expected));

    path = s_write ("unknown.yaml", "admin:\n  http_prot: 80\n");
    assert_int_equal (s_run (&child, S_ARGS ("noop", "-c", path), NULL), 1);
    assert_non_null (strstr (child.err, "unknown.yaml:2: admin.http_prot: unknown key"));

    path = s_write ("range.yaml", "predictor:\n  max_batch: 0\n");
    assert_int_equal (s_run (&child, S_ARGS ("noop", "-c", path), NULL), 1);
    assert_non_null (
        strstr (child.err, "range.yaml:2: predictor.max_batch: 0 is out of range [1, 65536]"));

    assert_int_equal (s_run (&child, S_ARGS ("--config", "/nonexistent.yaml", "noop"), NULL), 1);
    assert_non_null (strstr (child.err, "/nonexistent.yaml: cannot read the configuration file"));
    //  Nothing was started, so no log folder was made.
    struct stat info;
    assert_int_equal (stat (s_data_dir, &info), -1);
}

static void
test_bad_environment (void **state)
{
    (void)state;
    s_child_t child;
    assert_int_equal (s_run (&child, S_ARGS ("noop"), S_ARGS ("RAFIKI_BUS_SNDHWM=0")), 1);
    assert_non_null (
        strstr (child.err, "rafikid: RAFIKI_BUS_SNDHWM: bus.sndhwm: 0 is out of range"));
    assert_int_equal (s_run (&child, S_ARGS ("noop"), S_ARGS ("RAFIKI_STORE_URLL=x")), 1);
    assert_non_null (strstr (child.err, "RAFIKI_STORE_URLL: store.urll: unknown key"));
}

static void
test_config_and_env_apply (void **state)
{
    (void)state;
    s_child_t child;
    char text[600];
    snprintf (text, sizeof text, "data_dir: %s/elsewhere\nbus:\n  sndhwm: 77\n", s_dir);
    const char *path = s_write ("good.yaml", text);
    assert_int_equal (s_run (&child, S_ARGS ("--config", path, "--print-config"),
                             S_ARGS ("RAFIKI_BUS_RCVHWM=88")),
                      0);
    assert_non_null (strstr (child.out, "  sndhwm: 77  # "));
    assert_non_null (strstr (child.out, "  rcvhwm: 88  # RAFIKI_BUS_RCVHWM"));
    //  The test's RAFIKI_DATA_DIR beats the file's data_dir.
    assert_non_null (strstr (child.out, "data_dir: \""));
    assert_non_null (strstr (child.out, "# RAFIKI_DATA_DIR"));

    //  A finished role exits 0 and logs under the data folder.
    assert_int_equal (s_run (&child, S_ARGS ("-c", path, "noop", "done"), NULL), 0);
    char log_path[600];
    snprintf (log_path, sizeof log_path, "%s/logs/noop.log", s_data_dir);
    char *log = s_read (log_path);
    assert_non_null (log);
    assert_non_null (strstr (log, "rafikid: finished role=noop"));
    free (log);
}

//  --------------------------------------------------------------------------
//  Runtime: the actor's end, the log's destinations

static void
test_failing_role (void **state)
{
    (void)state;
    s_child_t child;
    assert_int_equal (s_run (&child, S_ARGS ("noop", "fail"), NULL), 1);
    assert_non_null (strstr (child.err, "rafikid: failed role=noop reason=\"asked to fail\""));
    assert_int_equal (s_run (&child, S_ARGS ("noop", "sideways"), NULL), 1);
    assert_non_null (strstr (child.err, "unknown operand"));
}

static void
test_stuck_role_times_out (void **state)
{
    (void)state;
    static s_child_t child;
    s_start (&child, S_ARGS ("noop", "stuck"), S_ARGS ("RAFIKI_STOP_TIMEOUT_MS=200"));
    if (!s_pump (&child, "rafikid: started role=noop", S_DEADLINE_MS)) {
        kill (child.pid, SIGKILL);
        waitpid (child.pid, NULL, 0);
        fail_msg ("rafikid did not start; stderr:\n%s", child.err);
    }
    int64_t sent = zclock_mono ();
    assert_int_equal (kill (child.pid, SIGTERM), 0);
    assert_int_equal (s_wait_exit (&child), 1);
    assert_true (zclock_mono () - sent >= 200);
    assert_non_null (strstr (child.err, "rafikid: stop-timeout role=noop waited_ms=200"));
}

static void
test_log_stderr_off (void **state)
{
    (void)state;
    s_child_t child;
    assert_int_equal (s_run (&child, S_ARGS ("noop", "done"), S_ARGS ("RAFIKI_LOG_STDERR=false")),
                      0);
    assert_null (strstr (child.err, "rafikid:"));
    char log_path[600];
    snprintf (log_path, sizeof log_path, "%s/logs/noop.log", s_data_dir);
    char *log = s_read (log_path);
    assert_non_null (log);
    assert_non_null (strstr (log, "rafikid: started role=noop"));
    free (log);
}

static void
test_unusable_data_dir (void **state)
{
    (void)state;
    s_child_t child;
    s_write ("plain", "a file, not a folder\n");
    char variable[600];
    snprintf (variable, sizeof variable, "RAFIKI_DATA_DIR=%s/plain/data", s_dir);
    assert_int_equal (s_run (&child, S_ARGS ("noop"), S_ARGS (variable)), 1);
    assert_non_null (strstr (child.err, "rafikid: cannot open the log file "));
    assert_non_null (strstr (child.err, "/plain/data/logs/noop.log: Not a directory"));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_usage_noop_stops_on_sigterm, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sigint_and_service_id, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_help_and_version, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_usage_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_config_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_environment, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_config_and_env_apply, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failing_role, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stuck_role_times_out, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_log_stderr_off, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unusable_data_dir, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
