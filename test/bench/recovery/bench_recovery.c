/*  bench_recovery.c: how fast admin comes back (issue 15, item 7).

    A real `rafikid up` (local launcher, SQLite) deploys the zoo's Echo with
    replicas 2 (a predictor and two workers) and starts a train job of the
    test's Sleepy template with two trainers and trials long enough to
    outlast the measure (an advisor and two trainers): six services. Then,
    S_ROUNDS times, admin gets SIGKILL and is started again on the same data
    dir, and the bench prints, as TAP comments:

        # round 1: services=6 first_command_ms=... all_hello_ms=...

    - first_command_ms: from the new `rafikid up` being started to the first
      command it answered (the SDK's login on `command`);
    - all_hello_ms: from the same start until admin took a Hello again from
      every service still running (its log says service-hello for each).

    Environment (set by meson): RAFIKID, RAFIKI_TEST_ECHO,
    RAFIKI_TEST_SLEEPY, RAFIKI_TEST_IRIS.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <stdlib.h>

#include "rfk_test.h"
#include "rfk_test_case.h"
#include "rfk_test_platform.h"

#define S_ROUNDS 3
#define S_WAIT_MS 300000

static void
s_sdk_check (rfk_sdk_t *sdk, json_t *value, const char *doing)
{
    if (!value)
        fail_msg ("%s: %s", doing, rfk_sdk_error (sdk)->message);
}

/* Starts a train job of app on iris and model (an id); trials of ms. */
static void
s_train (rfk_test_platform_t *platform, const char *app, const char *model, int trials,
         int trainers, const char *ms)
{
    json_t *body = json_pack ("{s:s, s:s, s:s, s:s, s:[s], s:{s:i, s:i}, s:{s:s, s:s}}", "app", app,
                              "task", "TABULAR_CLASSIFICATION", "train_dataset_id",
                              platform->train_id, "val_dataset_id", platform->val_id, "model_ids",
                              model, "budget", "MODEL_TRIAL_COUNT", trials, "TRAINER_COUNT",
                              trainers, "train_args", "sleepy_ms", ms, "sleepy_steps", "1");
    json_t *job = rfk_sdk_train_job_create (platform->sdk, body);
    json_decref (body);
    s_sdk_check (platform->sdk, job, "train job create");
    json_decref (job);
}

typedef struct {
    rfk_test_platform_t *platform; /* the platform */
    zhashx_t *services;            /* id -> pid */
} s_hello_wait_t;

static bool
s_hellos (void *arg)
{
    s_hello_wait_t *wait = (s_hello_wait_t *)arg;
    return rfk_test_platform_hellos (wait->platform, wait->services);
}

typedef struct {
    rfk_test_platform_t *platform; /* the platform */
    size_t count;                  /* services wanted */
} s_count_wait_t;

static bool
s_services_run (void *arg)
{
    s_count_wait_t *wait = (s_count_wait_t *)arg;
    zhashx_t *found = rfk_test_platform_services (wait->platform, NULL);
    bool enough = zhashx_size (found) >= wait->count;
    zhashx_destroy (&found);
    return enough;
}

static void
bench_recovery (void **state)
{
    rfk_test_platform_t *platform = (rfk_test_platform_t *)*state;
    assert_int_equal (rfk_test_platform_init (platform, "bench-recovery"), 0);
    char err[512];
    if (rfk_test_platform_up (platform, err, sizeof err) != 0)
        fail_msg ("%s", err);
    rfk_sdk_t *sdk = platform->sdk;
    if (rfk_test_platform_iris (platform, err, sizeof err) != 0)
        fail_msg ("%s", err);
    char *echo = rfk_test_platform_model (platform, rfk_test_env ("RAFIKI_TEST_ECHO"), "Echo", err,
                                          sizeof err);
    char *sleepy = rfk_test_platform_model (platform, rfk_test_env ("RAFIKI_TEST_SLEEPY"), "Sleepy",
                                            err, sizeof err);
    if (!echo || !sleepy)
        fail_msg ("%s", err);
    s_train (platform, "serve", echo, 1, 1, "1");
    json_t *job = rfk_test_platform_wait_job (platform, "serve", false, "STOPPED", S_WAIT_MS);
    s_sdk_check (sdk, job, "train serve");
    json_decref (job);
    json_t *body = json_pack ("{s:s, s:i}", "app", "serve", "replicas", 2);
    json_t *created = rfk_sdk_inference_job_create (sdk, body);
    json_decref (body);
    s_sdk_check (sdk, created, "inference job create");
    json_decref (created);
    job = rfk_test_platform_wait_job (platform, "serve", true, "RUNNING", S_WAIT_MS);
    s_sdk_check (sdk, job, "deploy serve");
    json_decref (job);
    //  Trials of ten minutes: the train job's services outlive the bench.
    s_train (platform, "busy", sleepy, 2, 2, "600000");
    s_count_wait_t all = {platform, 6};
    if (!rfk_test_wait_until (s_services_run, &all, NULL, S_WAIT_MS))
        fail_msg ("the six services did not start (logs in %s/logs)", platform->var);

    for (int round = 1; round <= S_ROUNDS; round++) {
        zhashx_t *services = rfk_test_platform_services (platform, NULL);
        assert_int_equal (rfk_test_platform_kill (platform), 0);
        int64_t start = zclock_mono ();
        if (rfk_test_platform_up (platform, err, sizeof err) != 0)
            fail_msg ("%s", err);
        int64_t answered = zclock_mono ();
        s_hello_wait_t wait = {platform, services};
        if (!rfk_test_wait_until (s_hellos, &wait, NULL, S_WAIT_MS))
            fail_msg ("not every service said Hello again (logs in %s/logs)", platform->var);
        int64_t hellos = zclock_mono ();
        print_message ("# round %d: services=%zu first_command_ms=%lld all_hello_ms=%lld\n", round,
                       zhashx_size (services), (long long)(answered - start),
                       (long long)(hellos - start));
        zhashx_destroy (&services);
    }
    zhashx_t *services = rfk_test_platform_services (platform, NULL);
    assert_int_equal (rfk_test_platform_stop (platform, 60000), 0);
    //  Its services end within their grace period after admin's clean stop.
    if (!rfk_test_wait_until (rfk_test_pids_gone, services, NULL, 30000))
        fail_msg ("a service outlived a clean stop of rafikid up");
    zhashx_destroy (&services);
    free (echo);
    free (sleepy);
}

int
main (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        RFK_TEST_PLATFORM_CASE (bench_recovery),
    };
    int failed = cmocka_run_group_tests (tests, NULL, NULL);
    curl_global_cleanup ();
    return failed;
}
