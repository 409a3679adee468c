/*  Tests of rfk_runner: one trial of a template in a child process.

    The template is misbehaving_template.so, whose knob `behaviour` makes
    train complete, crash, hang, eat memory, burn CPU or report progress.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rfk_runner.h"
#include <rafiki/template.h>

/* Under AddressSanitizer, let malloc return NULL at the memory limit as
   glibc's does, instead of reporting and aborting. */
const char *
__asan_default_options (void);
const char *
__asan_default_options (void)
{
    return "allocator_may_return_null=1";
}

static rfk_template_t *s_template;
static const rafiki_model_api_t *s_api;
static char s_dir[] = "/tmp/rfk-runner-test-XXXXXX";
static char s_data[256];
static char s_params[256];

/* What the parent heard, in order, as text. */
typedef struct {
    char events[64][128];
    size_t n;
    int64_t prune_at; /* prune at this step; 0: never */
} heard_t;

static void
s_heard (heard_t *h, const char *fmt, ...)
{
    if (h->n >= 64)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (h->events[h->n++], sizeof h->events[0], fmt, ap);
    va_end (ap);
}

static void
s_on_log (void *arg, const char *message)
{
    s_heard (arg, "log %s", message);
}

static void
s_on_metrics (void *arg, size_t n, const char *const *names, const double *values)
{
    char line[128] = "metrics";
    for (size_t i = 0; i < n; i++)
        snprintf (line + strlen (line), sizeof line - strlen (line), " %s=%g", names[i], values[i]);
    s_heard (arg, "%s", line);
}

static void
s_on_plot (void *arg, const char *title, size_t n, const char *const *metrics, const char *x_metric)
{
    s_heard (arg, "plot %s %zu %s x=%s", title, n, n ? metrics[0] : "-",
             x_metric ? x_metric : "time");
}

static bool
s_on_progress (void *arg, int64_t step, double score)
{
    heard_t *h = arg;
    s_heard (h, "progress %lld %g", (long long)step, score);
    return h->prune_at && step >= h->prune_at;
}

static rfk_trial_callbacks_t
s_callbacks (heard_t *h)
{
    rfk_trial_callbacks_t cb = {.arg = h,
                                .on_log = s_on_log,
                                .on_metrics = s_on_metrics,
                                .on_plot = s_on_plot,
                                .on_progress = s_on_progress};
    return cb;
}

/* Knobs for one behaviour. */
typedef struct {
    rafiki_knob_value_t items[3];
    rafiki_knobs_t knobs;
} knobs_t;

static void
s_knobs (knobs_t *k, const char *behaviour, int64_t steps)
{
    k->items[0].name = "behaviour";
    k->items[0].value.type = RAFIKI_VALUE_STRING;
    k->items[0].value.u.s = behaviour;
    k->items[1].name = "steps";
    k->items[1].value.type = RAFIKI_VALUE_INT;
    k->items[1].value.u.i = steps;
    k->items[2].name = "alpha";
    k->items[2].value.type = RAFIKI_VALUE_FLOAT;
    k->items[2].value.u.f = 0.875;
    k->knobs.items = k->items;
    k->knobs.n = 3;
}

/* True while the exec group runs: trials in a fresh process (spec.exec). */
static bool s_exec;

static rfk_trial_spec_t
s_spec (const knobs_t *k)
{
    rfk_trial_spec_t spec = {.api = s_api,
                             .knobs = &k->knobs,
                             .train_path = s_data,
                             .val_path = s_data,
                             .timeout_s = 60,
                             .stop_grace_s = 0.5,
                             .exec = s_exec,
                             .template_path = RFK_TEST_TEMPLATE};
    return spec;
}

static int
s_setup (void **state)
{
    (void)state;
    char err[256];
    s_template = rfk_template_open (RFK_TEST_TEMPLATE, NULL, err, sizeof err);
    if (!s_template) {
        fprintf (stderr, "%s\n", err);
        return -1;
    }
    s_api = rfk_template_api (s_template);
    if (!mkdtemp (s_dir))
        return -1;
    snprintf (s_data, sizeof s_data, "%s/data.csv", s_dir);
    snprintf (s_params, sizeof s_params, "%s/trial.params", s_dir);
    FILE *f = fopen (s_data, "w");
    if (!f)
        return -1;
    fputs ("a,b,class\n1,2,0\n", f);
    fclose (f);
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    unlink (s_data);
    unlink (s_params);
    rmdir (s_dir);
    rfk_template_close (&s_template);
    return 0;
}

/* Usage: run a trial to completion; the template's logs, metrics and plot
   arrive in order, the score is evaluate's and the parameters are saved. */
static void
test_run_completes (void **state)
{
    (void)state;
    knobs_t k;
    s_knobs (&k, "complete", 2);
    rfk_trial_spec_t spec = s_spec (&k);
    spec.params_path = s_params;
    heard_t heard = {0};
    rfk_trial_callbacks_t cb = s_callbacks (&heard);
    rfk_trial_result_t result;
    assert_int_equal (rfk_runner_trial_run (&spec, &cb, &result), 0);

    assert_int_equal (result.status, RFK_TRIAL_COMPLETED);
    assert_string_equal (rfk_trial_status_name (result.status), "COMPLETED");
    assert_true (result.score == 0.875);
    assert_string_equal (result.error, "");
    assert_true (result.duration_s >= 0 && result.duration_s < 30);

    assert_int_equal (heard.n, 5);
    assert_string_equal (heard.events[0], "log training started");
    assert_string_equal (heard.events[1], "plot Loss 1 loss x=step");
    assert_string_equal (heard.events[2], "metrics step=1 loss=1");
    assert_string_equal (heard.events[3], "metrics step=2 loss=0.5");
    assert_string_equal (heard.events[4], "log training done");

    /* The parameters file holds what dump_params packed. */
    FILE *f = fopen (s_params, "rb");
    assert_non_null (f);
    char buf[256];
    size_t n = fread (buf, 1, sizeof buf, f);
    fclose (f);
    msgpack_unpacked params;
    msgpack_unpacked_init (&params);
    assert_int_equal (msgpack_unpack_next (&params, buf, n, NULL), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (params.data.type, MSGPACK_OBJECT_MAP);
    assert_true (params.data.via.map.ptr[0].val.via.f64 == 0.875);
    msgpack_unpacked_destroy (&params);
}

static void
test_segfault_is_reported (void **state)
{
    (void)state;
    knobs_t k;
    s_knobs (&k, "segfault", 1);
    rfk_trial_spec_t spec = s_spec (&k);
    heard_t heard = {0};
    rfk_trial_callbacks_t cb = s_callbacks (&heard);
    rfk_trial_result_t result;
    assert_int_equal (rfk_runner_trial_run (&spec, &cb, &result), 0);
    assert_int_equal (result.status, RFK_TRIAL_ERRORED);
    assert_string_equal (result.error, "killed by signal 11 (Segmentation fault)");
    /* What it said before dying still arrived. */
    assert_int_equal (heard.n, 1);
    assert_string_equal (heard.events[0], "log about to crash");
}

static void
test_hanging_template_times_out (void **state)
{
    (void)state;
    knobs_t k;
    s_knobs (&k, "sleep", 1);
    rfk_trial_spec_t spec = s_spec (&k);
    spec.timeout_s = 1;
    rfk_trial_result_t result;
    assert_int_equal (rfk_runner_trial_run (&spec, NULL, &result), 0);
    assert_int_equal (result.status, RFK_TRIAL_ERRORED);
    assert_string_equal (result.error, "timed out after 1 s");
    assert_true (result.duration_s >= 1.0 && result.duration_s < 10);
}

static void
test_memory_limit_is_reported (void **state)
{
    (void)state;
    knobs_t k;
    s_knobs (&k, "allocate", 1);
    rfk_trial_spec_t spec = s_spec (&k);
    spec.memory_mb = 128;
    rfk_trial_result_t result;
    assert_int_equal (rfk_runner_trial_run (&spec, NULL, &result), 0);
    assert_int_equal (result.status, RFK_TRIAL_ERRORED);
    if (!strstr (result.error, "memory limit 128 MiB reached"))
        print_message ("# error: %s\n", result.error);
    assert_non_null (strstr (result.error, "memory limit 128 MiB reached"));
    assert_non_null (strstr (result.error, "train: out of memory after"));
}

static void
test_cpu_limit_is_reported (void **state)
{
    (void)state;
    knobs_t k;
    s_knobs (&k, "spin", 1);
    rfk_trial_spec_t spec = s_spec (&k);
    spec.cpu_s = 1;
    rfk_trial_result_t result;
    assert_int_equal (rfk_runner_trial_run (&spec, NULL, &result), 0);
    assert_int_equal (result.status, RFK_TRIAL_ERRORED);
    assert_string_equal (result.error, "CPU limit 1 s reached");
    /* The limit is enforced on tick-sampled CPU time, which on a busy
       machine can run ahead of the precise time wait4 reports. */
    assert_true (result.cpu_s >= 0.5);
}

static void
test_progress_is_pruned_by_the_callback (void **state)
{
    (void)state;
    knobs_t k;
    s_knobs (&k, "progress", 10);
    rfk_trial_spec_t spec = s_spec (&k);
    spec.params_path = s_params;
    unlink (s_params);
    heard_t heard = {.prune_at = 3};
    rfk_trial_callbacks_t cb = s_callbacks (&heard);
    rfk_trial_result_t result;
    assert_int_equal (rfk_runner_trial_run (&spec, &cb, &result), 0);
    assert_int_equal (result.status, RFK_TRIAL_PRUNED);
    assert_true (result.score == 0.3);
    assert_int_equal (result.steps, 3);
    assert_int_equal (heard.n, 4);
    assert_string_equal (heard.events[0], "progress 1 0.1");
    assert_string_equal (heard.events[2], "progress 3 0.3");
    assert_string_equal (heard.events[3], "log pruned at step 3");
    /* A pruned trial saves no parameters. */
    assert_int_equal (access (s_params, F_OK), -1);
}

static void
test_progress_continues_without_prune (void **state)
{
    (void)state;
    knobs_t k;
    s_knobs (&k, "progress", 4);
    rfk_trial_spec_t spec = s_spec (&k);
    heard_t heard = {0};
    rfk_trial_callbacks_t cb = s_callbacks (&heard);
    rfk_trial_result_t result;
    assert_int_equal (rfk_runner_trial_run (&spec, &cb, &result), 0);
    assert_int_equal (result.status, RFK_TRIAL_COMPLETED);
    assert_int_equal (result.steps, 4);
    assert_int_equal (heard.n, 4);
}

/* Step a trial with poll until it finishes or `until` was heard. */
static int
s_poll_until (rfk_runner_trial_t *trial, heard_t *heard, const char *until)
{
    for (int rounds = 0; rounds < 1000; rounds++) {
        if (rfk_runner_trial_step (trial) == 1)
            return 1;
        if (until && heard->n > 0 && strcmp (heard->events[heard->n - 1], until) == 0)
            return 0;
        struct pollfd pfd = {.fd = rfk_runner_trial_fd (trial), .events = POLLIN};
        int64_t timeout = rfk_runner_trial_timeout_ms (trial);
        poll (&pfd, 1, timeout < 0 || timeout > 10000 ? 10000 : (int)timeout);
    }
    return -1;
}

static void
test_stop_on_request_kills_a_stubborn_template (void **state)
{
    (void)state;
    knobs_t k;
    s_knobs (&k, "sleep", 1);
    rfk_trial_spec_t spec = s_spec (&k);
    heard_t heard = {0};
    rfk_trial_callbacks_t cb = s_callbacks (&heard);
    char err[256];
    rfk_runner_trial_t *trial = rfk_runner_trial_start (&spec, &cb, err, sizeof err);
    assert_non_null (trial);
    assert_true (rfk_runner_trial_fd (trial) >= 0);
    assert_int_equal (rfk_runner_trial_timeout_ms (trial) > 50000, true);
    assert_int_equal (rfk_runner_trial_result (trial)->status, RFK_TRIAL_RUNNING);
    assert_int_equal (s_poll_until (trial, &heard, "log sleeping"), 0);

    rfk_runner_trial_stop (trial);
    assert_true (rfk_runner_trial_timeout_ms (trial) <= 500);
    assert_int_equal (s_poll_until (trial, &heard, NULL), 1);
    const rfk_trial_result_t *result = rfk_runner_trial_result (trial);
    assert_int_equal (result->status, RFK_TRIAL_ERRORED);
    assert_string_equal (result->error, "stopped");
    assert_int_equal (rfk_runner_trial_fd (trial), -1);
    assert_int_equal (rfk_runner_trial_pid (trial), 0);
    rfk_runner_trial_destroy (&trial);
    assert_null (trial);
    rfk_runner_trial_destroy (&trial);
}

static void
test_stop_on_request_lets_a_willing_template_return (void **state)
{
    (void)state;
    knobs_t k;
    s_knobs (&k, "stop_aware", 1);
    rfk_trial_spec_t spec = s_spec (&k);
    spec.stop_grace_s = 30; /* it must end well before SIGKILL */
    heard_t heard = {0};
    rfk_trial_callbacks_t cb = s_callbacks (&heard);
    char err[256];
    rfk_runner_trial_t *trial = rfk_runner_trial_start (&spec, &cb, err, sizeof err);
    assert_non_null (trial);
    assert_int_equal (s_poll_until (trial, &heard, "log waiting"), 0);
    rfk_runner_trial_stop (trial);
    assert_int_equal (s_poll_until (trial, &heard, NULL), 1);
    assert_int_equal (rfk_runner_trial_result (trial)->status, RFK_TRIAL_ERRORED);
    assert_string_equal (rfk_runner_trial_result (trial)->error, "stopped");
    assert_true (rfk_runner_trial_result (trial)->duration_s < 20);
    rfk_runner_trial_destroy (&trial);
}

static void
test_destroy_kills_a_running_trial (void **state)
{
    (void)state;
    knobs_t k;
    s_knobs (&k, "sleep", 1);
    rfk_trial_spec_t spec = s_spec (&k);
    heard_t heard = {0};
    rfk_trial_callbacks_t cb = s_callbacks (&heard);
    char err[256];
    rfk_runner_trial_t *trial = rfk_runner_trial_start (&spec, &cb, err, sizeof err);
    assert_non_null (trial);
    assert_int_equal (s_poll_until (trial, &heard, "log sleeping"), 0);
    pid_t pid = rfk_runner_trial_pid (trial);
    assert_true (pid > 0);
    rfk_runner_trial_destroy (&trial);
    assert_int_equal (kill (pid, 0), -1);
    assert_int_equal (errno, ESRCH);
}

static void
test_template_errors_are_reported (void **state)
{
    (void)state;
    knobs_t k;
    s_knobs (&k, "fail", 1);
    rfk_trial_spec_t spec = s_spec (&k);
    spec.memory_mb = 256; /* a limit far away is not blamed */
    rfk_trial_result_t result;
    assert_int_equal (rfk_runner_trial_run (&spec, NULL, &result), 0);
    assert_int_equal (result.status, RFK_TRIAL_ERRORED);
    assert_string_equal (result.error, "train: the data is bad");

    s_knobs (&k, "exit", 1);
    assert_int_equal (rfk_runner_trial_run (&spec, NULL, &result), 0);
    assert_int_equal (result.status, RFK_TRIAL_ERRORED);
    assert_string_equal (result.error, "exited with status 7 before reporting a result");

    /* A missing dataset is the template's to report. */
    s_knobs (&k, "complete", 1);
    spec.val_path = "/nonexistent/val.csv";
    assert_int_equal (rfk_runner_trial_run (&spec, NULL, &result), 0);
    assert_int_equal (result.status, RFK_TRIAL_ERRORED);
    assert_string_equal (result.error, "evaluate: cannot read /nonexistent/val.csv");

    /* So is a parameters file that cannot be written. */
    spec.val_path = s_data;
    spec.params_path = "/nonexistent/dir/trial.params";
    assert_int_equal (rfk_runner_trial_run (&spec, NULL, &result), 0);
    assert_int_equal (result.status, RFK_TRIAL_ERRORED);
    assert_non_null (strstr (result.error, "cannot write parameters to /nonexistent/dir/"));
}

static void
test_bad_specs_are_refused (void **state)
{
    (void)state;
    rfk_trial_result_t result;
    rfk_trial_spec_t spec = {0};
    assert_int_equal (rfk_runner_trial_run (&spec, NULL, &result), -1);
    assert_int_equal (result.status, RFK_TRIAL_ERRORED);
    assert_string_equal (result.error, "the trial names no template");

    spec.api = s_api;
    assert_int_equal (rfk_runner_trial_run (&spec, NULL, &result), -1);
    assert_string_equal (result.error, "the trial needs a train and a validation dataset");

    spec.train_path = spec.val_path = s_data;
    spec.timeout_s = -1;
    assert_int_equal (rfk_runner_trial_run (&spec, NULL, &result), -1);
    assert_string_equal (result.error, "the trial's limits must be zero or positive");

    char err[64];
    assert_null (rfk_runner_trial_start (NULL, NULL, err, sizeof err));
    assert_int_equal (rfk_runner_trial_step (NULL), 1);
    assert_int_equal (rfk_runner_trial_fd (NULL), -1);
    assert_int_equal (rfk_runner_trial_timeout_ms (NULL), -1);
    rfk_runner_trial_stop (NULL);
    rfk_runner_trial_destroy (NULL);
}

/* A custom body runs in the child with the same limits and relaying. */
static int
s_body (const rafiki_model_api_t *api, rafiki_context_t *ctx, void *arg, double *score, char *err,
        size_t errlen)
{
    (void)api;
    const char *mode = arg;
    ctx->log (ctx, "checking");
    if (strcmp (mode, "crash") == 0)
        abort ();
    if (strcmp (mode, "fail") == 0) {
        snprintf (err, errlen, "predictions are malformed");
        return -1;
    }
    *score = 0.5;
    return 0;
}

static void
test_custom_body (void **state)
{
    (void)state;
    rfk_trial_spec_t spec = {.api = s_api, .body = s_body, .body_arg = "ok", .timeout_s = 30};
    heard_t heard = {0};
    rfk_trial_callbacks_t cb = s_callbacks (&heard);
    rfk_trial_result_t result;
    assert_int_equal (rfk_runner_trial_run (&spec, &cb, &result), 0);
    assert_int_equal (result.status, RFK_TRIAL_COMPLETED);
    assert_true (result.score == 0.5);
    assert_string_equal (heard.events[0], "log checking");

    spec.body_arg = "fail";
    assert_int_equal (rfk_runner_trial_run (&spec, &cb, &result), 0);
    assert_int_equal (result.status, RFK_TRIAL_ERRORED);
    assert_string_equal (result.error, "predictions are malformed");

    spec.body_arg = "crash";
    assert_int_equal (rfk_runner_trial_run (&spec, &cb, &result), 0);
    assert_int_equal (result.status, RFK_TRIAL_ERRORED);
    assert_string_equal (result.error, "killed by signal 6 (Aborted)");
}

static int
s_exec_on (void **state)
{
    (void)state;
    s_exec = true;
    return 0;
}

static int
s_exec_off (void **state)
{
    (void)state;
    s_exec = false;
    return 0;
}

/* The same trial in a fresh process (posix_spawn of this program) rather
   than a fork: what a multithreaded caller such as the trainer uses. */
#define S_EXEC_TEST(f)                                                                             \
    {                                                                                              \
        "exec: " #f, f, s_exec_on, s_exec_off, NULL                                                \
    }

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_run_completes),
        cmocka_unit_test (test_segfault_is_reported),
        cmocka_unit_test (test_hanging_template_times_out),
        cmocka_unit_test (test_memory_limit_is_reported),
        cmocka_unit_test (test_cpu_limit_is_reported),
        cmocka_unit_test (test_progress_is_pruned_by_the_callback),
        cmocka_unit_test (test_progress_continues_without_prune),
        cmocka_unit_test (test_stop_on_request_kills_a_stubborn_template),
        cmocka_unit_test (test_stop_on_request_lets_a_willing_template_return),
        cmocka_unit_test (test_destroy_kills_a_running_trial),
        cmocka_unit_test (test_template_errors_are_reported),
        cmocka_unit_test (test_bad_specs_are_refused),
        cmocka_unit_test (test_custom_body),
        S_EXEC_TEST (test_run_completes),
        S_EXEC_TEST (test_segfault_is_reported),
        S_EXEC_TEST (test_hanging_template_times_out),
        S_EXEC_TEST (test_memory_limit_is_reported),
        S_EXEC_TEST (test_cpu_limit_is_reported),
        S_EXEC_TEST (test_progress_is_pruned_by_the_callback),
        S_EXEC_TEST (test_progress_continues_without_prune),
        S_EXEC_TEST (test_stop_on_request_kills_a_stubborn_template),
        S_EXEC_TEST (test_stop_on_request_lets_a_willing_template_return),
        S_EXEC_TEST (test_destroy_kills_a_running_trial),
        S_EXEC_TEST (test_template_errors_are_reported),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
