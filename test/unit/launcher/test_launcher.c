/*  test_launcher.c: the local launcher, for real: services are fake_rafikid child processes
    (path in RFK_FAKE_RAFIKID) that report what they saw on a FIFO. Waiting is done the way
    admin's loop does it: poll the launcher's descriptor until its next deadline, then tick.
*/
#define _GNU_SOURCE
#include "rfk_launcher.h"
#include "rfk_test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define MAX_EVENTS 64

//  One reported state change.
typedef struct {
    char id[RFK_LAUNCHER_ID_MAX + 1];
    rfk_launcher_state_t state;
    char reason[256];
} event_t;

//  What every test shares.
typedef struct {
    char *data_dir;   //  a fresh temporary data directory (rfk_test_tmpdir_new)
    const char *fake; //  the stand-in rafikid
    rfk_launcher_local_config_t config;
    rfk_launcher_t *launcher;
    event_t events[MAX_EVENTS]; //  every event so far
    int event_count;
} fixture_t;

static void
s_on_event (void *arg, const char *service_id, rfk_launcher_state_t state, const char *reason)
{
    fixture_t *fx = (fixture_t *)arg;
    if (fx->event_count == MAX_EVENTS)
        return;
    event_t *event = &fx->events[fx->event_count++];
    snprintf (event->id, sizeof event->id, "%s", service_id);
    event->state = state;
    snprintf (event->reason, sizeof event->reason, "%s", reason);
}

static int
s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof *fx);
    fx->fake = getenv ("RFK_FAKE_RAFIKID");
    if (!fx->fake) {
        free (fx);
        fail_msg ("RFK_FAKE_RAFIKID must name the fake_rafikid executable");
    }
    fx->data_dir = rfk_test_tmpdir_new ("launcher");
    assert_non_null (fx->data_dir);
    rfk_launcher_local_config_defaults (&fx->config);
    fx->config.rafikid_path = fx->fake;
    fx->config.data_dir = fx->data_dir;
    fx->config.backoff_ms = 10;
    fx->config.grace_ms = 5000;
    *state = fx;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    rfk_launcher_destroy (&fx->launcher);
    assert_int_equal (rfk_test_tmpdir_destroy (&fx->data_dir), 0);
    free (fx);
    return 0;
}

static rfk_launcher_t *
s_launcher (fixture_t *fx)
{
    fx->launcher = rfk_launcher_new_local (&fx->config, s_on_event, fx);
    assert_non_null (fx->launcher);
    return fx->launcher;
}

//  Index of the first event for id in state at or after index `from`, or -1.
static int
s_find_event (fixture_t *fx, const char *id, rfk_launcher_state_t state, int from)
{
    for (int i = from; i < fx->event_count; i++)
        if (!strcmp (fx->events[i].id, id) && fx->events[i].state == state)
            return i;
    return -1;
}

typedef struct {
    fixture_t *fx;              //  the fixture
    const char *id;             //  the service
    rfk_launcher_state_t state; //  the state waited for
    int from;                   //  the first event index to look at
    int found;                  //  the event's index, or -1
} s_state_wait_t;

static bool
s_state_reached (void *arg)
{
    s_state_wait_t *wait = arg;
    wait->found = s_find_event (wait->fx, wait->id, wait->state, wait->from);
    return wait->found >= 0;
}

//  Drive the launcher as its owner would: wait on its descriptor until its
//  next deadline (at most timeout_ms), then tick.
static void
s_drive (void *arg, int timeout_ms)
{
    rfk_launcher_t *launcher = arg;
    int64_t now = rfk_launcher_now ();
    int64_t wake = now + timeout_ms;
    int64_t deadline = rfk_launcher_next_deadline (launcher);
    if (deadline >= 0 && deadline < wake)
        wake = deadline;
    struct pollfd item = {.fd = rfk_launcher_fd (launcher), .events = POLLIN};
    poll (&item, 1, (int)(wake > now ? wake - now : 0));
    rfk_launcher_tick (launcher, rfk_launcher_now ());
}

//  Drive the launcher until id reached state, or timeout_ms passed.
//  Returns the event's index or -1.
static int
s_wait_state (fixture_t *fx, const char *id, rfk_launcher_state_t state, int from, int timeout_ms)
{
    s_state_wait_t wait = {fx, id, state, from, -1};
    rfk_test_wait_for (s_state_reached, &wait, s_drive, fx->launcher, timeout_ms);
    return wait.found;
}

//  A FIFO at <data_dir>/<name>.fifo, opened for reading without blocking.
static int
s_fifo (fixture_t *fx, const char *name, char *path, size_t size)
{
    snprintf (path, size, "%s/%s.fifo", fx->data_dir, name);
    assert_int_equal (mkfifo (path, 0600), 0);
    int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    assert_true (fd >= 0);
    return fd;
}

//  Read one report line from a FIFO within timeout_ms; returns 0 or -1.
static int
s_read_report (int fd, char *line, size_t size, int timeout_ms)
{
    size_t have = 0;
    int64_t give_up = rfk_launcher_now () + timeout_ms;
    while (have < size - 1) {
        int64_t now = rfk_launcher_now ();
        if (now >= give_up)
            return -1;
        struct pollfd item = {.fd = fd, .events = POLLIN};
        if (poll (&item, 1, (int)(give_up - now)) <= 0)
            continue;
        ssize_t got = read (fd, line + have, 1);
        if (got == 1) {
            if (line[have] == '\n') {
                line[have] = '\0';
                return 0;
            }
            have++;
        } else if (got == 0)
            return -1; //  the writer closed without a whole line
    }
    return -1;
}

//  The value of key=value in a report line, copied into value.
static const char *
s_field (const char *line, const char *key, char *value, size_t size)
{
    char pattern[64];
    snprintf (pattern, sizeof pattern, " %s=", key);
    const char *at = NULL;
    if (!strncmp (line, pattern + 1, strlen (pattern + 1)))
        at = line + strlen (pattern + 1);
    else if ((at = strstr (line, pattern)))
        at += strlen (pattern);
    else
        return NULL;
    size_t length = strcspn (at, " ");
    snprintf (value, size, "%.*s", (int)length, at);
    return value;
}

//  A file's whole content (NUL bytes kept), its length in *length.
static char *
s_slurp (const char *path, size_t *length)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    char *content = calloc (1, 1 << 20);
    *length = fread (content, 1, (1 << 20) - 1, file);
    fclose (file);
    return content;
}

static char *
s_log_of (fixture_t *fx, const char *id)
{
    char path[256];
    snprintf (path, sizeof path, "%s/logs/%s.log", fx->data_dir, id);
    size_t length = 0;
    return s_slurp (path, &length);
}

static int
s_count (const char *haystack, const char *needle)
{
    int count = 0;
    for (const char *at = haystack; (at = strstr (at, needle)); at++)
        count++;
    return count;
}

//  Usage example: start a service, see it RUNNING, stop it, see STOPPED and its log.
static void
test_launcher_usage (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    rfk_launcher_t *launcher = s_launcher (fx);

    char fifo_path[128], report_env[160], line[512], value[128];
    int fifo = s_fifo (fx, "svc-1", fifo_path, sizeof fifo_path);
    snprintf (report_env, sizeof report_env, "FAKE_REPORT=%s", fifo_path);
    const char *env[] = {report_env, NULL};
    rfk_launcher_spec_t spec = {
        .id = "svc-1", .role = "trainer", .secret = "s3cr3t-of-svc-1", .env = env};
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    assert_int_equal (fx->events[0].state, RFK_LAUNCHER_RUNNING);
    assert_string_equal (fx->events[0].id, "svc-1");
    assert_int_equal (rfk_launcher_live (launcher), 1);

    //  The child read its secret through the pipe.
    assert_int_equal (s_read_report (fifo, line, sizeof line, 5000), 0);
    assert_string_equal (s_field (line, "secret", value, sizeof value), "s3cr3t-of-svc-1");
    assert_string_equal (s_field (line, "role", value, sizeof value), "trainer");
    assert_string_equal (s_field (line, "id", value, sizeof value), "svc-1");

    rfk_launcher_status_t status;
    assert_int_equal (rfk_launcher_status (launcher, "svc-1", &status), 0);
    assert_int_equal (status.state, RFK_LAUNCHER_RUNNING);
    assert_true (status.pid > 0);

    assert_int_equal (rfk_launcher_stop (launcher, "svc-1"), 0);
    int stopped = s_wait_state (fx, "svc-1", RFK_LAUNCHER_STOPPED, 0, 5000);
    assert_true (stopped >= 0);
    assert_non_null (strstr (fx->events[stopped].reason, "stopped on request"));
    assert_int_equal (rfk_launcher_live (launcher), 0);

    char *logs = rfk_launcher_logs (launcher, "svc-1", 0);
    assert_non_null (logs);
    assert_non_null (strstr (logs, "hello from stdout of svc-1"));
    assert_non_null (strstr (logs, "hello from stderr of svc-1"));
    assert_non_null (strstr (logs, "got SIGTERM, exiting"));
    assert_null (strstr (logs, "s3cr3t"));
    free (logs);
    close (fifo);
}

//  The secret is neither on the command line nor in the environment, the child has no
//  stray descriptors, and admin's own environment does not leak into it.
static void
test_launcher_secret_is_private (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    rfk_launcher_t *launcher = s_launcher (fx);
    setenv ("RAFIKI_DB_PASSWORD", "admin-only-password", 1);

    char fifo_path[128], report_env[160], line[512], value[128];
    int fifo = s_fifo (fx, "private", fifo_path, sizeof fifo_path);
    snprintf (report_env, sizeof report_env, "FAKE_REPORT=%s", fifo_path);
    const char *env[] = {report_env, "EXTRA_SETTING=42", NULL};
    const char *secret = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
    rfk_launcher_spec_t spec = {.id = "private",
                                .role = "predictor",
                                .secret = secret,
                                .config_path = "/etc/rafiki.yaml",
                                .env = env};
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    assert_int_equal (s_read_report (fifo, line, sizeof line, 5000), 0);
    assert_string_equal (s_field (line, "secret", value, sizeof value), secret);
    assert_string_equal (s_field (line, "config", value, sizeof value), "/etc/rafiki.yaml");
    assert_string_equal (s_field (line, "extra_fds", value, sizeof value), "0");
    assert_string_equal (s_field (line, "error", value, sizeof value), "-");

    rfk_launcher_status_t status;
    assert_int_equal (rfk_launcher_status (launcher, "private", &status), 0);
    char path[64];
    size_t length = 0;
    snprintf (path, sizeof path, "/proc/%d/cmdline", status.pid);
    char *cmdline = s_slurp (path, &length);
    assert_non_null (cmdline);
    assert_null (memmem (cmdline, length, secret, strlen (secret)));
    //  The arguments are exactly the documented ones.
    char expected[512];
    size_t expected_length =
        (size_t)snprintf (expected, sizeof expected,
                          "%s%cpredictor%c--service-id%cprivate%c--config%c/etc/rafiki.yaml",
                          fx->fake, 0, 0, 0, 0, 0);
    assert_int_equal (length, expected_length + 1);
    assert_memory_equal (cmdline, expected, expected_length);
    free (cmdline);

    snprintf (path, sizeof path, "/proc/%d/environ", status.pid);
    char *environ_ = s_slurp (path, &length);
    assert_non_null (environ_);
    assert_null (memmem (environ_, length, secret, strlen (secret)));
    assert_null (memmem (environ_, length, "admin-only-password", 19));
    assert_non_null (memmem (environ_, length, "RAFIKI_SERVICE_ID=private", 25));
    assert_non_null (memmem (environ_, length, "RAFIKI_SECRET_FD=3", 18));
    assert_non_null (memmem (environ_, length, "EXTRA_SETTING=42", 16));
    free (environ_);
    unsetenv ("RAFIKI_DB_PASSWORD");

    assert_int_equal (rfk_launcher_stop (launcher, "private"), 0);
    assert_true (s_wait_state (fx, "private", RFK_LAUNCHER_STOPPED, 0, 5000) >= 0);
    close (fifo);
}

//  In the sandbox (local backend): the service still gets its secret on descriptor 3 and
//  nothing else, sees the read-only path it was given and not the rest of the data dir, and
//  stops when asked. Skipped where no sandbox can be made.
static void
test_launcher_sandboxed_service (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    char err[1024] = "";
    if (!rfk_sandbox_available (65534, 65534, err, sizeof err)) {
        fprintf (stderr, "# no sandbox here: %s\n", err);
        skip ();
    }
    rfk_launcher_t *launcher = s_launcher (fx);
    char fifo_path[128], report_env[160], line[512], value[128];
    int fifo = s_fifo (fx, "boxed", fifo_path, sizeof fifo_path);
    chmod (fifo_path, 0666); //  the sandbox uid writes its report there
    snprintf (report_env, sizeof report_env, "FAKE_REPORT=%s", fifo_path);
    const char *env[] = {report_env, NULL};
    const char *ro[] = {fifo_path};
    rfk_sandbox_spec_t box = {.ro_paths = ro,
                              .n_ro = 1,
                              .uid = 65534,
                              .gid = 65534,
                              .limits = {.nproc = 64, .nofile = 256}};
    rfk_launcher_spec_t spec = {
        .id = "boxed", .role = "inference", .secret = "boxed-secret", .env = env, .sandbox = &box};
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    assert_int_equal (s_read_report (fifo, line, sizeof line, 10000), 0);
    assert_string_equal (s_field (line, "secret", value, sizeof value), "boxed-secret");
    assert_string_equal (s_field (line, "extra_fds", value, sizeof value), "0");
    assert_string_equal (s_field (line, "role", value, sizeof value), "inference");
    rfk_launcher_status_t status;
    assert_int_equal (rfk_launcher_status (launcher, "boxed", &status), 0);
    char path[64];
    size_t length = 0;
    snprintf (path, sizeof path, "/proc/%d/cmdline", status.pid);
    char *cmdline = s_slurp (path, &length);
    assert_non_null (cmdline);
    assert_non_null (strstr (cmdline, "bwrap")); //  the launcher watches bwrap
    free (cmdline);
    assert_int_equal (rfk_launcher_stop (launcher, "boxed"), 0);
    assert_true (s_wait_state (fx, "boxed", RFK_LAUNCHER_STOPPED, 0, 10000) >= 0);
    close (fifo);
}

//  A service that keeps failing is restarted max_restarts times, then ERRORED.
static void
test_launcher_crash_restarts_then_errored (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    fx->config.max_restarts = 2;
    rfk_launcher_t *launcher = s_launcher (fx);
    const char *env[] = {"FAKE_MODE=exit", "FAKE_EXIT_CODE=3", NULL};
    rfk_launcher_spec_t spec = {.id = "crasher", .role = "trainer", .secret = "x", .env = env};
    int64_t started = rfk_launcher_now ();
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    int errored = s_wait_state (fx, "crasher", RFK_LAUNCHER_ERRORED, 0, 10000);
    assert_true (errored >= 0);
    //  Backoff: 10 ms then 20 ms.
    assert_true (rfk_launcher_now () - started >= 30);

    rfk_launcher_state_t expected[] = {RFK_LAUNCHER_RUNNING, RFK_LAUNCHER_RESTARTING,
                                       RFK_LAUNCHER_RUNNING, RFK_LAUNCHER_RESTARTING,
                                       RFK_LAUNCHER_RUNNING, RFK_LAUNCHER_ERRORED};
    assert_int_equal (fx->event_count, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal (fx->events[i].state, expected[i]);
    assert_non_null (strstr (fx->events[1].reason, "exited with code 3; restarting in 10 ms"));
    assert_non_null (strstr (fx->events[3].reason, "restarting in 20 ms (restart 2 of 2)"));
    assert_string_equal (fx->events[5].reason, "exited with code 3; gave up after 2 restarts");

    rfk_launcher_status_t status;
    assert_int_equal (rfk_launcher_status (launcher, "crasher", &status), 0);
    assert_int_equal (status.state, RFK_LAUNCHER_ERRORED);
    assert_int_equal (status.restarts, 2);
    assert_int_equal (status.exit_code, 3);
    assert_int_equal (status.pid, 0);
    assert_string_equal (status.reason, fx->events[5].reason);
    assert_int_equal (rfk_launcher_next_deadline (launcher), -1);

    char *log = s_log_of (fx, "crasher");
    assert_int_equal (s_count (log, "rafiki-launcher: RUNNING: started pid"), 3);
    assert_int_equal (s_count (log, "hello from stdout of crasher"), 3);
    free (log);
}

//  Without pidfds (old kernels, strict seccomp) the launcher asks to be ticked every 100 ms
//  and supervises just the same.
static void
test_launcher_without_pidfd (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    fx->config.use_polling = true;
    fx->config.max_restarts = 1;
    rfk_launcher_t *launcher = s_launcher (fx);
    assert_int_equal (rfk_launcher_next_deadline (launcher), -1);
    const char *env[] = {"FAKE_MODE=exit", "FAKE_EXIT_CODE=4", NULL};
    rfk_launcher_spec_t spec = {.id = "polled", .role = "trainer", .secret = "x", .env = env};
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    int64_t deadline = rfk_launcher_next_deadline (launcher);
    assert_true (deadline > 0 && deadline <= rfk_launcher_now () + 100);
    int errored = s_wait_state (fx, "polled", RFK_LAUNCHER_ERRORED, 0, 5000);
    assert_true (errored >= 0);
    assert_string_equal (fx->events[errored].reason, "exited with code 4; gave up after 1 restart");
    assert_int_equal (rfk_launcher_next_deadline (launcher), -1);
    spec = (rfk_launcher_spec_t){.id = "polled-run", .role = "trainer", .secret = "x"};
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    assert_int_equal (rfk_launcher_stop (launcher, "polled-run"), 0);
    assert_true (s_wait_state (fx, "polled-run", RFK_LAUNCHER_STOPPED, 0, 5000) >= 0);
}

//  Death by a signal counts as a failure and the signal is named.
static void
test_launcher_signal_death (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    fx->config.max_restarts = 0;
    rfk_launcher_t *launcher = s_launcher (fx);
    const char *env[] = {"FAKE_MODE=kill", NULL};
    rfk_launcher_spec_t spec = {.id = "victim", .role = "trainer", .secret = "x", .env = env};
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    int errored = s_wait_state (fx, "victim", RFK_LAUNCHER_ERRORED, 0, 5000);
    assert_true (errored >= 0);
    assert_string_equal (fx->events[errored].reason,
                         "killed by signal 9 (SIGKILL); not restarted (max_restarts is 0)");
    rfk_launcher_status_t status;
    assert_int_equal (rfk_launcher_status (launcher, "victim", &status), 0);
    assert_int_equal (status.signal, 9);
    assert_int_equal (status.exit_code, -1);
}

//  A service that fails once and then runs is RUNNING again after one restart.
static void
test_launcher_recovers_after_restart (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    rfk_launcher_t *launcher = s_launcher (fx);
    char counter[128], counter_env[160];
    snprintf (counter, sizeof counter, "%s/counter", fx->data_dir);
    snprintf (counter_env, sizeof counter_env, "FAKE_COUNTER=%s", counter);
    const char *env[] = {"FAKE_MODE=flaky", "FAKE_CRASHES=1", counter_env, NULL};
    rfk_launcher_spec_t spec = {.id = "flaky", .role = "advisor", .secret = "x", .env = env};
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    int restarting = s_wait_state (fx, "flaky", RFK_LAUNCHER_RESTARTING, 0, 5000);
    assert_true (restarting >= 0);
    int running = s_wait_state (fx, "flaky", RFK_LAUNCHER_RUNNING, restarting, 5000);
    assert_true (running >= 0);
    assert_non_null (strstr (fx->events[running].reason, "(restart 1 of 3)"));
    rfk_launcher_status_t status;
    assert_int_equal (rfk_launcher_status (launcher, "flaky", &status), 0);
    assert_int_equal (status.state, RFK_LAUNCHER_RUNNING);
    assert_int_equal (status.restarts, 1);
    assert_int_equal (rfk_launcher_stop (launcher, "flaky"), 0);
    assert_true (s_wait_state (fx, "flaky", RFK_LAUNCHER_STOPPED, running, 5000) >= 0);
}

//  A clean exit (code 0) is STOPPED and not restarted.
static void
test_launcher_clean_exit_is_stopped (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    rfk_launcher_t *launcher = s_launcher (fx);
    const char *env[] = {"FAKE_MODE=exit", "FAKE_EXIT_CODE=0", NULL};
    rfk_launcher_spec_t spec = {.id = "done", .role = "advisor", .secret = "x", .env = env};
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    int stopped = s_wait_state (fx, "done", RFK_LAUNCHER_STOPPED, 0, 5000);
    assert_int_equal (stopped, 1);
    assert_string_equal (fx->events[stopped].reason, "exited with code 0");
    rfk_launcher_status_t status;
    assert_int_equal (rfk_launcher_status (launcher, "done", &status), 0);
    assert_int_equal (status.restarts, 0);
    assert_int_equal (status.exit_code, 0);
    assert_int_equal (rfk_launcher_live (launcher), 0);
    //  Once stopped, the same id can be started again, and forgotten when done.
    const char *run_env[] = {NULL};
    spec.env = run_env;
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    assert_int_equal (rfk_launcher_forget (launcher, "done"), -1);
    assert_non_null (strstr (rfk_launcher_error (launcher), "still RUNNING"));
    assert_int_equal (rfk_launcher_stop (launcher, "done"), 0);
    assert_true (s_wait_state (fx, "done", RFK_LAUNCHER_STOPPED, 2, 5000) >= 0);
    assert_int_equal (rfk_launcher_forget (launcher, "done"), 0);
    assert_int_equal (rfk_launcher_status (launcher, "done", &status), -1);
}

//  A service that ignores SIGTERM is killed when the grace period ends, not before.
static void
test_launcher_stop_kills_after_grace (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    fx->config.grace_ms = 300;
    rfk_launcher_t *launcher = s_launcher (fx);
    char fifo_path[128], report_env[160], line[512];
    int fifo = s_fifo (fx, "stubborn", fifo_path, sizeof fifo_path);
    snprintf (report_env, sizeof report_env, "FAKE_REPORT=%s", fifo_path);
    const char *env[] = {"FAKE_MODE=stubborn", report_env, NULL};
    rfk_launcher_spec_t spec = {.id = "stubborn", .role = "predictor", .secret = "x", .env = env};
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    assert_int_equal (s_read_report (fifo, line, sizeof line, 5000), 0);
    rfk_launcher_status_t status;
    assert_int_equal (rfk_launcher_status (launcher, "stubborn", &status), 0);
    int pid = status.pid;

    int64_t asked = rfk_launcher_now ();
    assert_int_equal (rfk_launcher_stop (launcher, "stubborn"), 0);
    assert_int_equal (fx->events[fx->event_count - 1].state, RFK_LAUNCHER_STOPPING);
    int64_t deadline = rfk_launcher_next_deadline (launcher);
    assert_true (deadline >= asked + 300 && deadline <= asked + 400);
    int stopped = s_wait_state (fx, "stubborn", RFK_LAUNCHER_STOPPED, 0, 5000);
    int64_t took = rfk_launcher_now () - asked;
    assert_true (stopped >= 0);
    assert_true (took >= 300);
    assert_true (took < 4000);
    assert_string_equal (fx->events[stopped].reason,
                         "stopped on request: killed by signal 9 (SIGKILL) after 300 ms grace");
    assert_int_equal (kill (pid, 0), -1);
    assert_int_equal (errno, ESRCH);
    close (fifo);
}

//  stop_all stops every live service; services that honour SIGTERM go well within grace.
static void
test_launcher_stop_all (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    rfk_launcher_t *launcher = s_launcher (fx);
    const char *ids[] = {"all-1", "all-2", "all-3"};
    int fifos[3];
    for (int i = 0; i < 3; i++) {
        char fifo_path[128], report_env[160];
        fifos[i] = s_fifo (fx, ids[i], fifo_path, sizeof fifo_path);
        snprintf (report_env, sizeof report_env, "FAKE_REPORT=%s", fifo_path);
        const char *env[] = {report_env, NULL};
        rfk_launcher_spec_t spec = {.id = ids[i], .role = "inference", .secret = "x", .env = env};
        assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    }
    for (int i = 0; i < 3; i++) {
        char line[512];
        assert_int_equal (s_read_report (fifos[i], line, sizeof line, 5000), 0);
        close (fifos[i]);
    }
    assert_int_equal (rfk_launcher_live (launcher), 3);
    int64_t asked = rfk_launcher_now ();
    assert_int_equal (rfk_launcher_stop_all (launcher), 0);
    for (int i = 0; i < 3; i++)
        assert_true (s_wait_state (fx, ids[i], RFK_LAUNCHER_STOPPED, 0, 5000) >= 0);
    assert_true (rfk_launcher_now () - asked < fx->config.grace_ms);
    assert_int_equal (rfk_launcher_live (launcher), 0);
    for (int i = 0; i < 3; i++) {
        char *log = s_log_of (fx, ids[i]);
        assert_non_null (strstr (log, "got SIGTERM, exiting"));
        free (log);
    }
}

//  Destroying the launcher kills and reaps what is still running.
static void
test_launcher_destroy_kills_children (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    rfk_launcher_t *launcher = s_launcher (fx);
    rfk_launcher_spec_t spec = {.id = "orphan", .role = "trainer", .secret = "x"};
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    rfk_launcher_status_t status;
    assert_int_equal (rfk_launcher_status (launcher, "orphan", &status), 0);
    rfk_launcher_destroy (&fx->launcher);
    assert_null (fx->launcher);
    assert_int_equal (kill (status.pid, 0), -1);
    assert_int_equal (errno, ESRCH);
    rfk_launcher_destroy (&fx->launcher);
}

static bool
s_none_live (void *arg)
{
    return rfk_launcher_live ((rfk_launcher_t *)arg) == 0;
}

//  A service runs in a session of its own, and another launcher (the next admin's) adopts it by
//  pid and start time, watches it without being its parent, and stops it; a wrong start time
//  (a recycled pid) or a gone process is refused.
static void
test_launcher_adopts_a_survivor (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    fx->config.max_restarts = 0; //  the first launcher must not start it again once it ended
    rfk_launcher_t *first = s_launcher (fx);
    rfk_launcher_spec_t spec = {.id = "survivor", .role = "predictor", .secret = "x"};
    assert_int_equal (rfk_launcher_start (first, &spec), 0);
    rfk_launcher_status_t status;
    assert_int_equal (rfk_launcher_status (first, "survivor", &status), 0);
    assert_int_equal (getsid (status.pid), status.pid);
    assert_true (status.start_time > 0);
    assert_int_equal (rfk_launcher_pid_start_time (status.pid), status.start_time);
    assert_false (status.adopted);

    rfk_launcher_t *next = rfk_launcher_new_local (&fx->config, s_on_event, fx);
    assert_non_null (next);
    assert_int_equal (
        rfk_launcher_adopt (next, "survivor", "predictor", status.pid, status.start_time + 1), -1);
    assert_non_null (strstr (rfk_launcher_error (next), "another process"));
    assert_int_equal (rfk_launcher_adopt (next, "survivor", "predictor", 0, 1), -1);
    int events = fx->event_count;
    assert_int_equal (
        rfk_launcher_adopt (next, "survivor", "predictor", status.pid, status.start_time), 0);
    assert_int_equal (fx->event_count, events); //  adopting reports nothing
    rfk_launcher_status_t adopted;
    assert_int_equal (rfk_launcher_status (next, "survivor", &adopted), 0);
    assert_int_equal (adopted.state, RFK_LAUNCHER_RUNNING);
    assert_int_equal (adopted.pid, status.pid);
    assert_true (adopted.adopted);
    assert_int_equal (rfk_launcher_live (next), 1);
    char *logs = rfk_launcher_logs (next, "survivor", 0);
    assert_non_null (strstr (logs, "adopted pid"));
    free (logs);

    //  The new owner stops it and sees it end through its pidfd.
    assert_int_equal (rfk_launcher_stop (next, "survivor"), 0);
    fx->launcher = next;
    int stopped = s_wait_state (fx, "survivor", RFK_LAUNCHER_STOPPED, events, 5000);
    fx->launcher = first;
    assert_true (stopped >= 0);
    assert_non_null (strstr (fx->events[stopped].reason, "exit status cannot be known"));
    assert_int_equal (rfk_launcher_live (next), 0);
    //  Its parent (this process, the first launcher) reaps it; then it is gone for good.
    assert_true (rfk_test_wait_for (s_none_live, first, s_drive, first, 5000));
    assert_int_equal (rfk_launcher_forget (next, "survivor"), 0);
    assert_int_equal (
        rfk_launcher_adopt (next, "survivor", "predictor", status.pid, status.start_time), -1);
    rfk_launcher_destroy (&next);
}

//  logs returns the tail of the log file.
static void
test_launcher_logs_tail (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    rfk_launcher_t *launcher = s_launcher (fx);
    char path[256];
    snprintf (path, sizeof path, "%s/logs", fx->data_dir);
    assert_int_equal (mkdir (path, 0750), 0);
    snprintf (path, sizeof path, "%s/logs/old-service.log", fx->data_dir);
    FILE *file = fopen (path, "w");
    for (int i = 1; i <= 100; i++)
        fprintf (file, "line %d\n", i);
    fclose (file);
    //  A service from before admin restarted: found by id.
    char *tail = rfk_launcher_logs (launcher, "old-service", 3);
    assert_string_equal (tail, "line 98\nline 99\nline 100\n");
    free (tail);
    tail = rfk_launcher_logs (launcher, "old-service", 0);
    assert_int_equal (s_count (tail, "\n"), 100);
    free (tail);
    tail = rfk_launcher_logs (launcher, "old-service", 1000);
    assert_int_equal (s_count (tail, "\n"), 100);
    free (tail);
    assert_null (rfk_launcher_logs (launcher, "never-started", 10));
    assert_non_null (strstr (rfk_launcher_error (launcher), "has no log"));
    //  An id that would leave the logs directory is refused.
    assert_null (rfk_launcher_logs (launcher, "../../etc/passwd", 10));
    assert_non_null (strstr (rfk_launcher_error (launcher), "may hold only"));
}

//  Bad specs and bad ids are refused with a message that says what is wrong.
static void
test_launcher_rejects_bad_input (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    rfk_launcher_t *launcher = s_launcher (fx);
    struct {
        rfk_launcher_spec_t spec;
        const char *message;
    } cases[] = {
        {{.role = "trainer", .secret = "x"}, "has no id"},
        {{.id = "a/b", .role = "trainer", .secret = "x"}, "may hold only letters"},
        {{.id = "..", .role = "trainer", .secret = "x"}, "must not start with '.'"},
        {{.id = "ok", .secret = "x"}, "has no role"},
        {{.id = "ok", .role = "Trainer;rm", .secret = "x"}, "role 'Trainer;rm'"},
        {{.id = "ok", .role = "trainer"}, "has no secret"},
        {{.id = "ok", .role = "trainer", .secret = ""}, "has no secret"},
        {{.id = "ok", .role = "trainer", .secret = "x", .published_port = 70000}, "not 0..65535"},
        {{.id = "ok", .role = "trainer", .secret = "x", .gpus = -1}, "must not be negative"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal (rfk_launcher_start (launcher, &cases[i].spec), -1);
        if (!strstr (rfk_launcher_error (launcher), cases[i].message))
            fail_msg ("case %zu: '%s' does not say '%s'", i, rfk_launcher_error (launcher),
                      cases[i].message);
    }
    char long_secret[RFK_LAUNCHER_SECRET_MAX + 2];
    memset (long_secret, 'k', sizeof long_secret - 1);
    long_secret[sizeof long_secret - 1] = '\0';
    rfk_launcher_spec_t spec = {.id = "ok", .role = "trainer", .secret = long_secret};
    assert_int_equal (rfk_launcher_start (launcher, &spec), -1);
    assert_non_null (strstr (rfk_launcher_error (launcher), "secret is longer"));
    const char *bad_env[] = {"NOEQUALS", NULL};
    spec = (rfk_launcher_spec_t){.id = "ok", .role = "trainer", .secret = "x", .env = bad_env};
    assert_int_equal (rfk_launcher_start (launcher, &spec), -1);
    assert_non_null (strstr (rfk_launcher_error (launcher), "is not NAME=value"));
    const char *reserved_env[] = {"RAFIKI_SECRET_FD=0", NULL};
    spec.env = reserved_env;
    assert_int_equal (rfk_launcher_start (launcher, &spec), -1);
    assert_non_null (strstr (rfk_launcher_error (launcher), "set by the launcher"));
    assert_int_equal (rfk_launcher_start (launcher, NULL), -1);
    assert_int_equal (fx->event_count, 0);

    //  The same id twice while live.
    spec = (rfk_launcher_spec_t){.id = "twice", .role = "trainer", .secret = "x"};
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    assert_int_equal (rfk_launcher_start (launcher, &spec), -1);
    assert_string_equal (rfk_launcher_error (launcher), "service twice is already RUNNING");

    //  Unknown ids.
    rfk_launcher_status_t status;
    assert_int_equal (rfk_launcher_stop (launcher, "nobody"), -1);
    assert_string_equal (rfk_launcher_error (launcher), "no service nobody");
    assert_int_equal (rfk_launcher_status (launcher, "nobody", &status), -1);
    assert_int_equal (rfk_launcher_stop (launcher, NULL), -1);
    assert_int_equal (rfk_launcher_forget (launcher, "nobody"), -1);
}

//  A rafikid that cannot be executed: the launcher refuses to start, and start says why.
static void
test_launcher_bad_executable (void **state)
{
    fixture_t *fx = (fixture_t *)*state;
    fx->config.rafikid_path = "relative/rafikid";
    assert_null (rfk_launcher_new_local (&fx->config, NULL, NULL));
    fx->config.rafikid_path = "/nonexistent/rafikid";
    assert_null (rfk_launcher_new_local (&fx->config, NULL, NULL));
    fx->config.rafikid_path = fx->fake;
    fx->config.data_dir = NULL;
    assert_null (rfk_launcher_new_local (&fx->config, NULL, NULL));
    fx->config.data_dir = fx->data_dir;

    //  Executable bit, but not a program: exec fails with ENOEXEC.
    char path[128];
    snprintf (path, sizeof path, "%s/not-a-program", fx->data_dir);
    FILE *file = fopen (path, "w");
    fputs ("\x01\x02garbage", file);
    fclose (file);
    assert_int_equal (chmod (path, 0755), 0);
    fx->config.rafikid_path = path;
    rfk_launcher_t *launcher = s_launcher (fx);
    rfk_launcher_spec_t spec = {.id = "noexec", .role = "trainer", .secret = "x"};
    assert_int_equal (rfk_launcher_start (launcher, &spec), -1);
    assert_non_null (strstr (rfk_launcher_error (launcher), "cannot run"));
    assert_non_null (strstr (rfk_launcher_error (launcher), "Exec format error"));
    assert_int_equal (fx->event_count, 0);
    assert_int_equal (rfk_launcher_live (launcher), 0);
}

//  The child side of the secret contract, in this process.
static void
test_launcher_read_secret (void **state)
{
    (void)state;
    char error[256];
    unsetenv ("RAFIKI_SECRET_FD");
    assert_null (rfk_launcher_read_secret (error, sizeof error));
    assert_non_null (strstr (error, "neither RAFIKI_SECRET_FD nor RAFIKI_SECRET_FILE is set"));
    setenv ("RAFIKI_SECRET_FD", "three", 1);
    assert_null (rfk_launcher_read_secret (error, sizeof error));
    assert_non_null (strstr (error, "is not a descriptor number"));

    int pipe_fds[2];
    char number[16];
    assert_int_equal (pipe (pipe_fds), 0);
    assert_int_equal (write (pipe_fds[1], "abc", 3), 3);
    close (pipe_fds[1]);
    snprintf (number, sizeof number, "%d", pipe_fds[0]);
    setenv ("RAFIKI_SECRET_FD", number, 1);
    char *secret = rfk_launcher_read_secret (error, sizeof error);
    assert_string_equal (secret, "abc");
    free (secret);
    assert_null (getenv ("RAFIKI_SECRET_FD"));
    assert_int_equal (fcntl (pipe_fds[0], F_GETFD), -1); //  closed

    assert_int_equal (pipe (pipe_fds), 0);
    close (pipe_fds[1]);
    snprintf (number, sizeof number, "%d", pipe_fds[0]);
    setenv ("RAFIKI_SECRET_FD", number, 1);
    assert_null (rfk_launcher_read_secret (error, sizeof error));
    assert_string_equal (error, "the secret is empty");
    assert_null (rfk_launcher_read_secret (NULL, 0));

    //  The file form (swarm: a Docker secret).
    char path[] = "/tmp/rfk-secret-XXXXXX";
    int fd = mkstemp (path);
    assert_int_equal (write (fd, "from-a-file", 11), 11);
    close (fd);
    setenv ("RAFIKI_SECRET_FILE", path, 1);
    secret = rfk_launcher_read_secret (error, sizeof error);
    assert_string_equal (secret, "from-a-file");
    free (secret);
    assert_null (getenv ("RAFIKI_SECRET_FILE"));
    unlink (path);
    setenv ("RAFIKI_SECRET_FILE", path, 1);
    assert_null (rfk_launcher_read_secret (error, sizeof error));
    assert_non_null (strstr (error, "cannot open RAFIKI_SECRET_FILE"));
    unsetenv ("RAFIKI_SECRET_FILE");
}

int
main (void)
{
    signal (SIGPIPE, SIG_IGN); //  as admin does; the children must not inherit it
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_launcher_usage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_launcher_secret_is_private, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_launcher_sandboxed_service, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_launcher_crash_restarts_then_errored, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_launcher_without_pidfd, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_launcher_signal_death, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_launcher_recovers_after_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_launcher_clean_exit_is_stopped, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_launcher_stop_kills_after_grace, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_launcher_stop_all, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_launcher_destroy_kills_children, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_launcher_adopts_a_survivor, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_launcher_logs_tail, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_launcher_rejects_bad_input, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_launcher_bad_executable, s_setup, s_teardown),
        cmocka_unit_test (test_launcher_read_secret),
    };
    return cmocka_run_group_tests_name ("launcher", tests, NULL, NULL);
}
