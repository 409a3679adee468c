/*  test_admin_restart.c: admin can crash and come back; serving never stops
    (issue 15).

    A real `rafikid up` (admin, SQLite in a temporary data dir, the local
    launcher) trains the zoo's Echo template for one trial and deploys it.
    Then, as a crash or an upgrade would:

    - test_serving_outlives_admin (the usage example): `rafikid up` gets
      SIGKILL. Its predictor and inference worker live on (a session of
      their own, no parent-death signal) and keep answering POST /predict
      while no admin runs. `rafikid up` is started again on the same data
      dir: it adopts the same processes (same pids: pid and start time
      were kept in the store), each says Hello again, the inference job is
      still RUNNING, predictions still answer, and a token issued by the
      first admin still works. SIGTERM to the new `rafikid up` then stops
      everything (what a clean stop always did): no process of the
      platform is left.

    - test_trial_result_while_admin_away: `rafikid up` gets SIGKILL in the
      middle of a train job's only trial (the test's Sleepy template, 5 s);
      the trial ends while no admin runs; its trainer keeps the result and,
      once a new `rafikid up` is back, says Hello again and delivers it: the
      trial is COMPLETED once, with its score, and the job finishes.

    - test_lost_service_fails_its_job: an inference worker that died while
      no admin ran is not adopted; the next admin marks it ERRORED, and its
      job rolls up to ERRORED with its predictor stopped.

    Each case runs on an rfk_test_platform (test/lib): its teardown kills
    every pid the case saw, also when an assertion failed half way.
    Processes are found by their environment (RAFIKI_DATA_DIR is this
    test's own data dir), so other tests running at the same time are never
    counted. Waits are deadlines on conditions, never fixed sleeps.

    Environment (set by meson): RAFIKID, RAFIKI_TEST_ECHO, RAFIKI_TEST_SLEEPY (template paths),
    RAFIKI_TEST_IRIS (folder of iris-train.csv, iris-val.csv).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <czmq.h>
#include <dirent.h>
#include <limits.h>
#include <rafiki/client.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rfk_test.h"
#include "rfk_test_case.h"
#include "rfk_test_platform.h"

#define S_TRAIN_MS 300000 /* one Echo trial, sanitizer build, busy machine */
#define S_SERVE_MS 120000 /* an inference job up, adopted, or down */

typedef rfk_test_platform_t s_platform_t;

static long
s_http (const char *method, const char *url, const char *token, const char *body, json_t **json_p)
{
    return rfk_test_http (method, url, token, body, json_p, NULL);
}

/* A new platform for a case (the case's state, which its teardown kills). */
static s_platform_t *
s_platform (void **state, const char *name)
{
    s_platform_t *platform = (s_platform_t *)*state;
    assert_int_equal (rfk_test_platform_init (platform, name), 0);
    return platform;
}

static void
s_up_start (s_platform_t *platform)
{
    char err[512];
    if (rfk_test_platform_up (platform, err, sizeof err) != 0)
        fail_msg ("%s", err);
}

static zhashx_t *
s_services (s_platform_t *platform)
{
    return rfk_test_platform_services (platform, NULL);
}

static json_t *
s_wait_job (s_platform_t *platform, const char *app, bool inference, const char *wanted,
            int timeout_ms)
{
    json_t *job = rfk_test_platform_wait_job (platform, app, inference, wanted, timeout_ms);
    if (!job)
        fail_msg ("the %s job of %s never was %s (logs in %s/logs)",
                  inference ? "inference" : "train", app, wanted, platform->var);
    return job;
}

/* POST /predict with one query: the HTTP status; *echo_p the prediction. */
static long
s_predict (const char *predictor_host, json_t **prediction_p)
{
    char url[300];
    snprintf (url, sizeof url, "http://%s/predict", predictor_host);
    json_t *answer = NULL;
    long status = s_http ("POST", url, NULL,
                          "{\"query\": {\"sepal_length\": 5.1, \"sepal_width\": 3.5}}", &answer);
    if (prediction_p)
        *prediction_p = json_incref (json_object_get (answer, "prediction"));
    json_decref (answer);
    return status;
}

typedef struct {
    s_platform_t *platform; /* the platform */
    zhashx_t *services;     /* service id -> pid, as before admin died */
} s_rehello_wait_t;

static bool
s_all_rehelloed (void *arg)
{
    s_rehello_wait_t *wait = (s_rehello_wait_t *)arg;
    return rfk_test_platform_rehelloed (wait->platform, wait->services);
}

/* Train the zoo's Echo for one trial on iris and deploy it: the predictor's host. */
static char *
s_deploy_echo (s_platform_t *platform)
{
    char err[512];
    rfk_test_train_t train = {"echo", rfk_test_env ("RAFIKI_TEST_ECHO"), "Echo", 1, NULL};
    if (rfk_test_platform_train (platform, &train, err, sizeof err) != 0)
        fail_msg ("%s", err);
    json_decref (s_wait_job (platform, "echo", false, "STOPPED", S_TRAIN_MS));
    json_t *body = json_pack ("{s:s}", "app", "echo");
    json_t *created = rfk_sdk_inference_job_create (platform->sdk, body);
    json_decref (body);
    if (!created)
        rfk_test_sdk_fail (platform->sdk, "inference job create");
    json_decref (created);
    json_t *serving = s_wait_job (platform, "echo", true, "RUNNING", S_SERVE_MS);
    char *host = strdup (json_string_value (json_object_get (serving, "predictor_host")));
    json_decref (serving);
    return host;
}

typedef struct {
    const char *host; /* the predictor */
} s_answer_wait_t;

static bool
s_answers (void *arg)
{
    return s_predict (((s_answer_wait_t *)arg)->host, NULL) == 200;
}

static void
test_serving_outlives_admin (void **state)
{
    s_platform_t *platform = s_platform (state, "restart");
    s_up_start (platform);
    char *host = s_deploy_echo (platform);
    //  The worker's WorkerReady reaches the predictor just after RUNNING.
    s_answer_wait_t answer = {host};
    assert_true (rfk_test_wait_until (s_answers, &answer, NULL, S_SERVE_MS));
    zhashx_t *before = s_services (platform);
    assert_int_equal (zhashx_size (before), 2); //  the predictor and its worker
    char *token = strdup (rfk_sdk_token (platform->sdk));

    //  Admin dies without a word; serving goes on.
    assert_int_equal (rfk_test_platform_kill (platform), 0);
    for (int query = 0; query < 20; query++) {
        json_t *prediction = NULL;
        assert_int_equal (s_predict (host, &prediction), 200);
        //  Echo answers with the query itself.
        assert_true (json_is_number (json_object_get (prediction, "sepal_length")));
        json_decref (prediction);
    }
    zhashx_t *orphans = s_services (platform);
    assert_int_equal (zhashx_size (orphans), 2);
    for (const char *pid = (const char *)zhashx_first (before); pid;
         pid = (const char *)zhashx_next (before))
        assert_string_equal (zhashx_lookup (orphans, zhashx_cursor (before)), pid);
    zhashx_destroy (&orphans);

    //  A new admin on the same data dir adopts them.
    s_up_start (platform);
    s_rehello_wait_t rehello = {platform, before};
    if (!rfk_test_wait_until (s_all_rehelloed, &rehello, NULL, S_SERVE_MS))
        fail_msg ("not every service said Hello again (logs in %s/logs)", platform->var);
    json_t *job = s_wait_job (platform, "echo", true, "RUNNING", S_SERVE_MS);
    assert_string_equal (json_string_value (json_object_get (job, "predictor_host")), host);
    json_decref (job);
    zhashx_t *after = s_services (platform);
    assert_int_equal (zhashx_size (after), 2);
    for (const char *pid = (const char *)zhashx_first (before); pid;
         pid = (const char *)zhashx_next (before))
        assert_string_equal (zhashx_lookup (after, zhashx_cursor (before)), pid);
    zhashx_destroy (&after);
    assert_int_equal (s_predict (host, NULL), 200);
    //  The first admin's token still works: the signing key is kept.
    char url[300];
    snprintf (url, sizeof url, "%s/inference_jobs/echo", platform->http);
    assert_int_equal (s_http ("GET", url, token, NULL, NULL), 200);

    //  SIGTERM stops everything, adopted services too.
    assert_int_equal (rfk_test_platform_stop (platform, 60000), 0);
    if (!rfk_test_wait_until (rfk_test_pids_gone, before, NULL, 30000))
        fail_msg ("a service outlived a clean stop of rafikid up");
    zhashx_t *left = s_services (platform);
    assert_int_equal (zhashx_size (left), 0);
    zhashx_destroy (&left);
    zhashx_destroy (&before);
    free (token);
    free (host);
    rfk_test_platform_teardown (platform);
}

typedef struct {
    s_platform_t *platform; /* the platform */
    const char *what;       /* the text looked for */
} s_log_wait_t;

static bool
s_some_log_says (void *arg)
{
    s_log_wait_t *wait = (s_log_wait_t *)arg;
    return rfk_test_platform_log_says (wait->platform, wait->what);
}

typedef struct {
    s_platform_t *platform; /* the platform */
    json_t *trials;         /* the job's trials as last read */
} s_trials_wait_t;

/* Whether the job's one trial is RUNNING. */
static bool
s_trial_running (void *arg)
{
    s_trials_wait_t *wait = (s_trials_wait_t *)arg;
    json_decref (wait->trials);
    wait->trials = rfk_sdk_train_job_trials (wait->platform->sdk, "sleepy", -1, 0, 0, false, 0);
    json_t *first = json_array_get (json_object_get (wait->trials, "trials"), 0);
    const char *status = json_string_value (json_object_get (first, "status"));
    return status && streq (status, "RUNNING");
}

/*  A trial that ends while admin is away: its trainer keeps the result and
    delivers it to the next admin, which records it once; the train job
    then finishes as if nothing happened. */
static void
test_trial_result_while_admin_away (void **state)
{
    s_platform_t *platform = s_platform (state, "restart-train");
    s_up_start (platform);
    //  One trial of 5 s: long enough to kill admin in its middle.
    char err[512];
    rfk_test_train_t train = {"sleepy", rfk_test_env ("RAFIKI_TEST_SLEEPY"), "Sleepy", 1, "5000"};
    if (rfk_test_platform_train (platform, &train, err, sizeof err) != 0)
        fail_msg ("%s", err);
    s_trials_wait_t trials = {platform, NULL};
    if (!rfk_test_wait_until (s_trial_running, &trials, NULL, S_TRAIN_MS))
        fail_msg ("the trial never ran (logs in %s/logs)", platform->var);
    char *trial_id = strdup (json_string_value (
        json_object_get (json_array_get (json_object_get (trials.trials, "trials"), 0), "id")));
    json_decref (trials.trials);

    //  Admin dies mid-trial; the trial ends while no admin runs.
    assert_int_equal (rfk_test_platform_kill (platform), 0);
    s_log_wait_t finished = {.platform = platform, .what = "trial-finished"};
    if (!rfk_test_wait_until (s_some_log_says, &finished, NULL, 60000))
        fail_msg ("the trial did not end (logs in %s/logs)", platform->var);

    //  The next admin gets the result once, and the job completes.
    s_up_start (platform);
    json_decref (s_wait_job (platform, "sleepy", false, "STOPPED", S_TRAIN_MS));
    json_t *listed = rfk_sdk_train_job_trials (platform->sdk, "sleepy", -1, 0, 0, false, 0);
    assert_non_null (listed);
    json_t *list = json_object_get (listed, "trials");
    assert_int_equal (json_array_size (list), 1);
    json_t *trial = json_array_get (list, 0);
    assert_string_equal (json_string_value (json_object_get (trial, "id")), trial_id);
    assert_string_equal (json_string_value (json_object_get (trial, "status")), "COMPLETED");
    assert_true (json_is_number (json_object_get (trial, "score")));
    json_decref (listed);
    s_log_wait_t delivered = {.platform = platform, .what = "admin-rehello-accepted"};
    assert_true (s_some_log_says (&delivered));

    assert_int_equal (rfk_test_platform_stop (platform, 60000), 0);
    zhashx_t *left = s_services (platform);
    if (!rfk_test_wait_until (rfk_test_pids_gone, left, NULL, 30000))
        fail_msg ("a service outlived a clean stop of rafikid up");
    zhashx_destroy (&left);
    free (trial_id);
    rfk_test_platform_teardown (platform);
}

typedef struct {
    s_platform_t *platform; /* the platform */
    const char *id;         /* a service id */
} s_service_wait_t;

/* Whether no process of the service runs any more. */
static bool
s_service_gone (void *arg)
{
    s_service_wait_t *wait = (s_service_wait_t *)arg;
    return rfk_test_platform_signal_service (wait->platform, wait->id, 0) == 0;
}

/*  A service that died while admin was away (its pid gone) is not adopted:
    the next admin marks it ERRORED and its job rolls up as for any failure
    (the inference job ERRORED, its predictor stopped). */
static void
test_lost_service_fails_its_job (void **state)
{
    s_platform_t *platform = s_platform (state, "restart-lost");
    s_up_start (platform);
    char *host = s_deploy_echo (platform);
    zhashx_t *before = s_services (platform);
    assert_int_equal (zhashx_size (before), 2);
    zhashx_t *workers = rfk_test_platform_services (platform, "inference");
    assert_int_equal (zhashx_size (workers), 1);
    zhashx_first (workers);
    char *worker = strdup ((const char *)zhashx_cursor (workers));
    zhashx_destroy (&workers);

    assert_int_equal (rfk_test_platform_kill (platform), 0);
    //  Every process of the worker (a sandbox's wrapper too: the pid the
    //  store keeps) is gone before the next admin looks for it.
    assert_true (rfk_test_platform_signal_service (platform, worker, SIGKILL) > 0);
    s_service_wait_t gone = {platform, worker};
    assert_true (rfk_test_wait_until (s_service_gone, &gone, NULL, 30000));
    free (worker);

    s_up_start (platform);
    json_decref (s_wait_job (platform, "echo", true, "ERRORED", S_SERVE_MS));
    //  Its predictor is stopped with it.
    if (!rfk_test_wait_until (rfk_test_pids_gone, before, NULL, S_SERVE_MS))
        fail_msg ("the predictor of an ERRORED job still runs (logs in %s/logs)", platform->var);

    assert_int_equal (rfk_test_platform_stop (platform, 60000), 0);
    zhashx_destroy (&before);
    free (host);
    rfk_test_platform_teardown (platform);
}

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    curl_global_init (CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        RFK_TEST_PLATFORM_CASE (test_serving_outlives_admin),
        RFK_TEST_PLATFORM_CASE (test_trial_result_while_admin_away),
        RFK_TEST_PLATFORM_CASE (test_lost_service_fails_its_job),
    };
    int failed = cmocka_run_group_tests (tests, NULL, NULL);
    curl_global_cleanup ();
    return failed;
}
