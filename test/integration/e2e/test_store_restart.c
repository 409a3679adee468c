/*  test_store_restart.c: PostgreSQL restarts under a running admin (issue
    15, item 5).

    A real `rafikid up` on a PostgreSQL server of the test's own (so the
    server the rest of the suite shares is never stopped) trains the test's
    Sleepy template, three trials of 3 s. In the middle of a trial the
    server is stopped:

    - a request over HTTP gets 503 with a Retry-After, and one over the
      ZeroMQ command API the code UNAVAILABLE, never 500 or a wrong 404;
    - the trial ends while the store is down: its trainer keeps the result
      and sends it again until admin can write it; the advisor keeps the
      next trial's proposal until admin can record it and its trainer says
      Ready again (it does not end);
    - the server starts again: the same requests answer 200, and the job
      finishes with its three trials COMPLETED, each once, with a score.

    Skips without PostgreSQL (RAFIKI_TEST_PG_URL unset, as test/run sets
    it, or no initdb). Environment (set by meson): RAFIKID,
    RAFIKI_TEST_SLEEPY, RAFIKI_TEST_IRIS.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

#include "rfk_test.h"
#include "rfk_test_case.h"
#include "rfk_test_platform.h"

#define S_TRAIN_MS 300000 /* three Sleepy trials, sanitizer build, busy machine */

/* What a case owns, killed and removed by the teardown. */
typedef struct {
    rfk_test_platform_t platform; /* rafikid up */
    rfk_test_pg_t pg;             /* its store */
    char *token;                  /* the superadmin's, from before the outage */
} s_case_t;

typedef struct {
    rfk_test_platform_t *platform; /* the platform */
    const char *app;               /* its app */
} s_running_wait_t;

/* Whether a trial of the app is RUNNING. */
static bool
s_trial_running (void *arg)
{
    s_running_wait_t *wait = (s_running_wait_t *)arg;
    json_t *listed = rfk_sdk_train_job_trials (wait->platform->sdk, wait->app, -1, 0, 0, false, 0);
    json_t *trial;
    size_t index;
    bool running = false;
    json_array_foreach (json_object_get (listed, "trials"), index, trial)
    {
        const char *status = json_string_value (json_object_get (trial, "status"));
        running = running || (status && streq (status, "RUNNING"));
    }
    json_decref (listed);
    return running;
}

static bool
s_trial_finished (void *arg)
{
    return rfk_test_platform_log_says ((rfk_test_platform_t *)arg, "trial-finished");
}

static void
test_store_restarts_mid_job (void **state)
{
    s_case_t *self = (s_case_t *)*state;
    char err[512];
    if (rfk_test_pg_start (&self->pg, err, sizeof err) != 0)
        fail_msg ("postgresql: %s", err);
    rfk_test_platform_t *platform = &self->platform;
    assert_int_equal (rfk_test_platform_init (platform, "store-restart"), 0);
    char store_url[300];
    snprintf (store_url, sizeof store_url, "RAFIKI_STORE_URL=%s", self->pg.url);
    const char *vars[] = {store_url, NULL};
    platform->vars = vars;
    if (rfk_test_platform_up (platform, err, sizeof err) != 0)
        fail_msg ("%s", err);
    rfk_test_train_t train = {"sleepy", rfk_test_env ("RAFIKI_TEST_SLEEPY"), "Sleepy", 3, "3000"};
    if (rfk_test_platform_train (platform, &train, err, sizeof err) != 0)
        fail_msg ("%s", err);
    s_running_wait_t running = {platform, "sleepy"};
    if (!rfk_test_wait_until (s_trial_running, &running, NULL, S_TRAIN_MS))
        fail_msg ("no trial ran (logs in %s/logs)", platform->var);
    self->token = strdup (rfk_sdk_token (platform->sdk));
    const char *token = self->token;
    char url[300];
    snprintf (url, sizeof url, "%s/train_jobs/sleepy", platform->http);
    assert_int_equal (rfk_test_http ("GET", url, token, NULL, NULL, NULL), 200);

    //  The store goes away mid-trial.
    assert_int_equal (rfk_test_pg_halt (&self->pg), 0);
    long retry_after = 0;
    long status = rfk_test_http ("GET", url, token, NULL, NULL, &retry_after);
    assert_int_equal (status, 503);
    assert_true (retry_after >= 1);
    //  Again at once: answered from admin's memory of the outage, still 503.
    assert_int_equal (rfk_test_http ("GET", url, token, NULL, NULL, NULL), 503);
    json_t *job = rfk_sdk_train_job_get (platform->sdk, "sleepy", -1);
    assert_null (job);
    assert_int_equal (rfk_sdk_error (platform->sdk)->code, RFK_SDK_UNAVAILABLE);
    //  The trial ends while the store is down; its result waits.
    if (!rfk_test_wait_until (s_trial_finished, platform, NULL, 60000))
        fail_msg ("the trial did not end (logs in %s/logs)", platform->var);

    //  The store is back: requests answer, the job finishes, nothing lost.
    assert_int_equal (rfk_test_pg_resume (&self->pg), 0);
    json_t *done = rfk_test_platform_wait_job (platform, "sleepy", false, "STOPPED", S_TRAIN_MS);
    if (!done)
        fail_msg ("the train job did not finish (logs in %s/logs)", platform->var);
    json_decref (done);
    assert_int_equal (rfk_test_http ("GET", url, token, NULL, NULL, NULL), 200);
    json_t *listed = rfk_sdk_train_job_trials (platform->sdk, "sleepy", -1, 0, 0, false, 0);
    json_t *trials = json_object_get (listed, "trials");
    assert_int_equal (json_array_size (trials), 3);
    json_t *trial;
    size_t index;
    json_array_foreach (trials, index, trial)
    {
        assert_string_equal (json_string_value (json_object_get (trial, "status")), "COMPLETED");
        assert_true (json_is_number (json_object_get (trial, "score")));
    }
    json_decref (listed);
    assert_true (rfk_test_platform_log_says (platform, "store-reconnected"));
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
    rfk_test_pg_destroy (&self->pg);
    free (self->token);
    free (self);
    return 0;
}

int
main (void)
{
    if (!rfk_test_pg_wanted ()) {
        //  What the store's PostgreSQL suites say too (cmocka's skip() is a
        //  `not ok ... # SKIP` meson counts as a failure).
        printf ("1..0 # SKIP RAFIKI_TEST_PG_URL is not set or initdb is missing\n");
        return 0;
    }
    curl_global_init (CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_store_restarts_mid_job, s_setup, s_teardown),
    };
    int failed = cmocka_run_group_tests (tests, NULL, NULL);
    curl_global_cleanup ();
    return failed;
}
