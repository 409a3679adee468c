/*  test_advisor_restart.c: an advisor that dies comes back without losing
    its sub train job (issues 15 and 16).

    A real `rafikid up` with the local launcher trains the test's Sleepy
    template (trials of 4 s, two trainers, a budget of 6 trials, early
    stopping off so that no trial is PRUNED). Once a trial has COMPLETED
    and others run, the test sends SIGKILL to the advisor by its pid. The
    launcher starts it again at the endpoint it reported, where the
    trainers are still connected, and admin's ServiceConfig hands it the
    trials so far, which it resumes. Afterwards:

    - a new advisor process ran, and its log says it resumed the trials;
    - the trainers' Results for the trials that ran across the kill were
      taken by the new process (`trial-resumed`), none refused;
    - the train job ends STOPPED (a spent budget's status, API.md);
    - it has as many trials as MODEL_TRIAL_COUNT (a trial ERRORED by the
      kill keeps its place in the budget: the count is printed with the
      ERRORED ones), numbered 1..6 once each, every one final;
    - the best trial's score is a COMPLETED trial's.

    Environment (set by meson): RAFIKID, RAFIKI_TEST_SLEEPY, RAFIKI_TEST_IRIS.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>

#include "rfk_test.h"
#include "rfk_test_platform.h"

#define S_TRIALS 6        /* the budget */
#define S_TRIAL_MS "4000" /* each trial's length */
#define S_WAIT_MS 300000  /* the job to finish, sanitizer build, busy machine */
#define S_BACK_MS 120000  /* the advisor to be back */

/* What the case owns; the teardown kills and removes it all. */
typedef struct {
    rfk_test_platform_t platform; /* rafikid up */
} s_case_t;

static const char *
s_env (const char *name)
{
    const char *value = getenv (name);
    if (!value || !*value)
        fail_msg ("%s is not set (meson sets it)", name);
    return value;
}

static void
s_sdk_fail (rfk_sdk_t *sdk, const char *doing)
{
    fail_msg ("%s: %s: %s", doing, rfk_sdk_code_name (rfk_sdk_error (sdk)->code),
              rfk_sdk_error (sdk)->message);
}

/* Uploads iris and Sleepy, starts the train job `resume`. */
static void
s_train (rfk_test_platform_t *platform)
{
    rfk_sdk_t *sdk = platform->sdk;
    char train_path[600], val_path[600];
    snprintf (train_path, sizeof train_path, "%s/iris-train.csv", s_env ("RAFIKI_TEST_IRIS"));
    snprintf (val_path, sizeof val_path, "%s/iris-val.csv", s_env ("RAFIKI_TEST_IRIS"));
    json_t *train = rfk_sdk_dataset_upload (sdk, train_path, "iris-train", "TABULAR_CLASSIFICATION",
                                            NULL, NULL);
    json_t *val =
        rfk_sdk_dataset_upload (sdk, val_path, "iris-val", "TABULAR_CLASSIFICATION", NULL, NULL);
    rfk_sdk_model_info_t info = {
        .name = "Sleepy", .task = "TABULAR_CLASSIFICATION", .access_right = "PUBLIC"};
    json_t *sleepy = rfk_sdk_model_upload (sdk, s_env ("RAFIKI_TEST_SLEEPY"), &info, NULL, NULL);
    if (!train || !val || !sleepy)
        s_sdk_fail (sdk, "upload");
    json_t *body = json_pack (
        "{s:s, s:s, s:O, s:O, s:[O], s:{s:i, s:i}, s:{s:s, s:s, s:s}}", "app", "resume", "task",
        "TABULAR_CLASSIFICATION", "train_dataset_id", json_object_get (train, "id"),
        "val_dataset_id", json_object_get (val, "id"), "model_ids", json_object_get (sleepy, "id"),
        "budget", "MODEL_TRIAL_COUNT", S_TRIALS, "TRAINER_COUNT", 2, "train_args", "sleepy_ms",
        S_TRIAL_MS, "sleepy_steps", "1", "early_stop", "false");
    json_t *job = rfk_sdk_train_job_create (sdk, body);
    if (!job)
        s_sdk_fail (sdk, "train job create");
    json_decref (job);
    json_decref (body);
    json_decref (train);
    json_decref (val);
    json_decref (sleepy);
}

/* Whether a trial of `resume` has COMPLETED and another one RUNNING. */
static bool
s_mid_job (void *arg)
{
    rfk_test_platform_t *platform = (rfk_test_platform_t *)arg;
    json_t *listed = rfk_sdk_train_job_trials (platform->sdk, "resume", -1, 0, 0, false, 0);
    json_t *trial;
    size_t index, completed = 0, running = 0;
    json_array_foreach (json_object_get (listed, "trials"), index, trial)
    {
        const char *status = json_string_value (json_object_get (trial, "status"));
        completed += status && streq (status, "COMPLETED");
        running += status && streq (status, "RUNNING");
    }
    json_decref (listed);
    return completed >= 1 && running >= 1;
}

typedef struct {
    rfk_test_platform_t *platform; /* the platform */
    char killed[16];               /* the killed advisor's pid */
} s_back_wait_t;

/* Whether an advisor runs again, in another process than the killed one. */
static bool
s_advisor_back (void *arg)
{
    s_back_wait_t *wait = (s_back_wait_t *)arg;
    zhashx_t *found = rfk_test_platform_services (wait->platform, "advisor");
    const char *pid = (const char *)zhashx_first (found);
    bool back = pid && !streq (pid, wait->killed);
    zhashx_destroy (&found);
    return back;
}

/* SIGKILL to the advisor; waits until the launcher started it again. */
static void
s_kill_advisor (rfk_test_platform_t *platform)
{
    zhashx_t *advisors = rfk_test_platform_services (platform, "advisor");
    assert_int_equal (zhashx_size (advisors), 1);
    s_back_wait_t wait = {platform, ""};
    snprintf (wait.killed, sizeof wait.killed, "%s", (const char *)zhashx_first (advisors));
    zhashx_destroy (&advisors);
    json_t *listed = rfk_sdk_train_job_trials (platform->sdk, "resume", -1, 0, 0, false, 0);
    print_message ("# SIGKILL to the advisor (pid %s) with %zu trials recorded\n", wait.killed,
                   json_array_size (json_object_get (listed, "trials")));
    json_decref (listed);
    assert_int_equal (kill (atoi (wait.killed), SIGKILL), 0);
    if (!rfk_test_wait_until (s_advisor_back, &wait, NULL, S_BACK_MS))
        fail_msg ("the launcher did not start the advisor again (logs in %s/logs)", platform->var);
}

/* Every trial final, numbered 1..budget once each; the count printed. */
static void
s_check_trials (rfk_test_platform_t *platform)
{
    json_t *listed = rfk_sdk_train_job_trials (platform->sdk, "resume", -1, 0, 0, false, 0);
    json_t *trials = json_object_get (listed, "trials");
    bool seen[S_TRIALS + 1] = {false};
    json_t *trial;
    size_t index, errored = 0, completed = 0;
    json_array_foreach (trials, index, trial)
    {
        const char *found = json_string_value (json_object_get (trial, "status"));
        const char *status = found ? found : "(none)";
        json_int_t no = json_integer_value (json_object_get (trial, "no"));
        if (!streq (status, "COMPLETED") && !streq (status, "ERRORED"))
            fail_msg ("trial %lld is %s, not COMPLETED or ERRORED", (long long)no, status);
        if (no < 1 || no > S_TRIALS || seen[no])
            fail_msg ("trial number %lld is out of 1..%d or used twice", (long long)no, S_TRIALS);
        seen[no] = true;
        errored += streq (status, "ERRORED");
        completed += streq (status, "COMPLETED");
    }
    print_message ("# trials: %zu (%zu completed, %zu errored by the kill), budget %d\n",
                   json_array_size (trials), completed, errored, S_TRIALS);
    //  An ERRORED trial keeps its place in the budget: none is proposed twice.
    assert_int_equal (json_array_size (trials), S_TRIALS);
    assert_true (completed >= 1);
    json_decref (listed);
}

/* The best trial's score is the best of the COMPLETED trials' scores. */
static void
s_check_best (rfk_test_platform_t *platform)
{
    json_t *listed = rfk_sdk_train_job_trials (platform->sdk, "resume", -1, 0, 0, false, 0);
    json_t *best = rfk_sdk_train_job_trials (platform->sdk, "resume", -1, 0, 0, true, 1);
    if (!listed || !best)
        s_sdk_fail (platform->sdk, "trials");
    json_t *top = json_array_get (json_object_get (best, "trials"), 0);
    assert_non_null (top);
    double score = json_number_value (json_object_get (top, "score"));
    double highest = -INFINITY;
    bool found = false;
    json_t *trial;
    size_t index;
    json_array_foreach (json_object_get (listed, "trials"), index, trial)
    {
        const char *status = json_string_value (json_object_get (trial, "status"));
        if (!status || !streq (status, "COMPLETED"))
            continue;
        double value = json_number_value (json_object_get (trial, "score"));
        found = found || value == score;
        highest = value > highest ? value : highest;
    }
    assert_true (found);
    assert_true (score == highest);
    print_message ("# best trial: no %lld, score %g\n",
                   (long long)json_integer_value (json_object_get (top, "no")), score);
    json_decref (best);
    json_decref (listed);
}

static void
test_advisor_restart (void **state)
{
    s_case_t *self = (s_case_t *)*state;
    rfk_test_platform_t *platform = &self->platform;
    char err[512];
    assert_int_equal (rfk_test_platform_init (platform, "advisor-restart"), 0);
    if (rfk_test_platform_up (platform, err, sizeof err) != 0)
        fail_msg ("%s", err);
    s_train (platform);
    if (!rfk_test_wait_until (s_mid_job, platform, NULL, S_WAIT_MS))
        fail_msg ("no trial completed while another ran (logs in %s/logs)", platform->var);

    s_kill_advisor (platform);

    json_t *done = rfk_test_platform_wait_job (platform, "resume", false, "STOPPED", S_WAIT_MS);
    if (!done)
        fail_msg ("the train job did not finish (logs in %s/logs)", platform->var);
    assert_string_equal (json_string_value (json_object_get (done, "status")), "STOPPED");
    json_decref (done);
    //  The new process resumed the sub job and took the running trials'
    //  results; no trainer's Result was refused.
    assert_true (rfk_test_platform_log_says (platform, "advisor: resumed trials="));
    assert_true (rfk_test_platform_log_says (platform, "trial-resumed"));
    assert_false (rfk_test_platform_log_says (platform, "advisor-refused-result"));
    s_check_trials (platform);
    s_check_best (platform);
    assert_int_equal (rfk_test_platform_stop (platform, 60000), 0);
}

static int
s_setup (void **state)
{
    *state = calloc (1, sizeof (s_case_t));
    return *state ? 0 : -1;
}

static int
s_teardown (void **state)
{
    s_case_t *self = (s_case_t *)*state;
    rfk_test_platform_teardown (&self->platform);
    free (self);
    return 0;
}

int
main (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_advisor_restart, s_setup, s_teardown),
    };
    int failed = cmocka_run_group_tests (tests, NULL, NULL);
    curl_global_cleanup ();
    return failed;
}
