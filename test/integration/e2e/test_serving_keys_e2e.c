/*  test_serving_keys_e2e.c: serving keys (`auth: token`, issue 14) through a
    real `rafikid up`, its predictor and its REST API.

    The zoo's Echo template is trained for one trial and deployed twice:
    - test_token_job (the usage example): deployed with `auth: token`. Its
      predictor refuses /predict without a key and with a wrong one (401,
      JSON error), and a PredictRequest without one (the SDK gets
      UNAUTHORIZED). The owner issues a key (POST .../keys: shown once),
      lists it (never the key), queries with it over HTTP and ZeroMQ, then
      revokes it (DELETE .../keys/{id}): admin pushes the keys left to the
      predictor, which refuses the revoked key at once on both fronts.
    - test_open_job: the default stays open: no key is needed, and keys are
      refused for it (409).
    Waits are deadlines on conditions, never fixed sleeps.

    Environment (set by meson): RAFIKID, RAFIKI_TEST_ECHO (template path),
    RAFIKI_TEST_IRIS (folder of iris-train.csv, iris-val.csv).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <czmq.h>
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

#define S_PASSWORD "keys-Secret-pass-42"
#define S_TRAIN_MS 300000 /* one Echo trial, sanitizer build, busy machine */
#define S_SERVE_MS 120000 /* an inference job up or down */

typedef rfk_test_platform_t s_platform_t;

static long
s_http (const char *method, const char *url, const char *token, const char *body, json_t **json_p)
{
    return rfk_test_http (method, url, token, body, json_p, NULL);
}

/* Waits until the latest job of app is `wanted`; returns it. */
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

/* POST /predict {"query": [1, 2]} with the serving key (NULL: none): the
   status; *error_code_p the error's code when it is one (to free). */
static long
s_predict (const char *predictor_host, const char *key, char **error_code_p)
{
    char url[2048];
    snprintf (url, sizeof url, "http://%s/predict", predictor_host);
    json_t *answer = NULL;
    long status = s_http ("POST", url, key, "{\"query\": [1, 2]}", &answer);
    const char *code =
        json_string_value (json_object_get (json_object_get (answer, "error"), "code"));
    if (error_code_p)
        *error_code_p = code ? strdup (code) : NULL;
    json_decref (answer);
    return status;
}

/* A PredictRequest through the SDK with the serving key (NULL: none): the
   SDK's code. */
static rfk_sdk_code_t
s_sdk_predict (s_platform_t *platform, const char *key)
{
    assert_int_equal (rfk_sdk_set_serving_key (platform->sdk, key), 0);
    char *endpoint = rfk_sdk_predictor_endpoint (platform->sdk, "echo", -1);
    if (!endpoint)
        rfk_test_sdk_fail (platform->sdk, "predictor endpoint");
    json_t *queries = json_pack ("[[i, i]]", 1, 2);
    json_t *result = rfk_sdk_predict (platform->sdk, endpoint, queries, 0);
    rfk_sdk_code_t code = result ? RFK_SDK_OK : rfk_sdk_error (platform->sdk)->code;
    if (result) {
        json_t *expect = json_pack ("[[i, i]]", 1, 2);
        assert_true (json_equal (json_object_get (result, "predictions"), expect));
        json_decref (expect);
    }
    json_decref (result);
    json_decref (queries);
    free (endpoint);
    assert_int_equal (rfk_sdk_set_serving_key (platform->sdk, NULL), 0);
    return code;
}

/* The superadmin's token for REST calls. */
static char *
s_rest_token (s_platform_t *platform)
{
    char url[2048], body[200];
    snprintf (url, sizeof url, "%s/tokens", platform->http);
    snprintf (body, sizeof body, "{\"email\": \"superadmin@rafiki\", \"password\": \"%s\"}",
              S_PASSWORD);
    json_t *answer = NULL;
    assert_int_equal (s_http ("POST", url, NULL, body, &answer), 200);
    char *token = strdup (json_string_value (json_object_get (answer, "token")));
    json_decref (answer);
    return token;
}

/* Deploys echo with auth ("open" or "token"): the predictor's host. */
static char *
s_deploy (s_platform_t *platform, const char *auth)
{
    json_t *body = json_pack ("{s:s, s:s}", "app", "echo", "auth", auth);
    json_t *created = rfk_sdk_inference_job_create (platform->sdk, body);
    json_decref (body);
    if (!created)
        rfk_test_sdk_fail (platform->sdk, "inference job create");
    assert_string_equal (json_string_value (json_object_get (created, "auth")), auth);
    json_decref (created);
    json_t *serving = s_wait_job (platform, "echo", true, "RUNNING", S_SERVE_MS);
    char *host = strdup (json_string_value (json_object_get (serving, "predictor_host")));
    json_decref (serving);
    return host;
}

static void
s_undeploy (s_platform_t *platform)
{
    json_decref (rfk_sdk_inference_job_stop (platform->sdk, "echo", -1));
    json_decref (s_wait_job (platform, "echo", true, "STOPPED", S_SERVE_MS));
}

/* The platform both tests share. */
static s_platform_t s_platform;

/* Starts the platform and trains Echo for one trial on iris (once for both cases). */
static int
s_setup (void **state)
{
    (void)state;
    char err[512];
    if (rfk_test_platform_init (&s_platform, "serving-keys") != 0)
        return -1;
    s_platform.password = S_PASSWORD;
    if (rfk_test_platform_up (&s_platform, err, sizeof err) != 0)
        fail_msg ("%s", err);
    rfk_test_train_t train = {"echo", rfk_test_env ("RAFIKI_TEST_ECHO"), "Echo", 1, NULL};
    if (rfk_test_platform_train (&s_platform, &train, err, sizeof err) != 0)
        fail_msg ("%s", err);
    json_decref (s_wait_job (&s_platform, "echo", false, "STOPPED", S_TRAIN_MS));
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    rfk_test_platform_stop (&s_platform, 60000);
    rfk_test_platform_teardown (&s_platform);
    return 0;
}

typedef struct {
    const char *host; /* the predictor */
    const char *key;  /* the key sent */
    long status;      /* the status waited for */
} s_status_wait_t;

static bool
s_status_is (void *arg)
{
    s_status_wait_t *wait = (s_status_wait_t *)arg;
    return s_predict (wait->host, wait->key, NULL) == wait->status;
}

/* Issues a key over REST: its id, and the key in *key_p. */
static char *
s_issue (s_platform_t *platform, const char *token, char **key_p)
{
    char url[2048];
    snprintf (url, sizeof url, "%s/inference_jobs/echo/-1/keys", platform->http);
    json_t *answer = NULL;
    assert_int_equal (s_http ("POST", url, token, "{\"label\": \"the shop\"}", &answer), 200);
    const char *key = json_string_value (json_object_get (answer, "key"));
    assert_non_null (key);
    assert_int_equal (strncmp (key, "rk_", 3), 0);
    assert_string_equal (json_string_value (json_object_get (answer, "label")), "the shop");
    *key_p = strdup (key);
    char *id = strdup (json_string_value (json_object_get (answer, "id")));
    json_decref (answer);
    return id;
}

/*  Usage: a job with auth: token, a key issued, used, revoked. */
static void
test_token_job (void **state)
{
    (void)state;
    s_platform_t *platform = &s_platform;
    char *host = s_deploy (platform, "token");
    char *token = s_rest_token (platform);
    char *code = NULL;
    assert_int_equal (s_predict (host, NULL, &code), 401);
    assert_string_equal (code, "UNAUTHORIZED");
    free (code);
    assert_int_equal (s_predict (host, "rk_wrong", NULL), 401);
    assert_int_equal (s_sdk_predict (platform, NULL), RFK_SDK_UNAUTHORIZED);

    char *key = NULL;
    char *id = s_issue (platform, token, &key);
    /*  admin pushed the key to the predictor with the answer. */
    s_status_wait_t wait = {host, key, 200};
    if (!rfk_test_wait_until (s_status_is, &wait, NULL, 10000))
        fail_msg ("the predictor never took the new key (logs in %s/logs)", platform->var);
    assert_int_equal (s_sdk_predict (platform, key), RFK_SDK_OK);
    assert_int_equal (s_predict (host, "rk_wrong", NULL), 401);

    /*  Listed without the key; the SDK sees the same. */
    char url[2048];
    snprintf (url, sizeof url, "%s/inference_jobs/echo/-1/keys", platform->http);
    json_t *listed = NULL;
    assert_int_equal (s_http ("GET", url, token, NULL, &listed), 200);
    json_t *keys = json_object_get (listed, "keys");
    assert_int_equal (json_array_size (keys), 1);
    assert_string_equal (json_string_value (json_object_get (json_array_get (keys, 0), "id")), id);
    assert_null (json_object_get (json_array_get (keys, 0), "key"));
    json_decref (listed);
    listed = rfk_sdk_serving_keys_list (platform->sdk, "echo", -1);
    assert_int_equal (json_array_size (json_object_get (listed, "keys")), 1);
    json_decref (listed);

    /*  Revoked: refused at once on both fronts. */
    snprintf (url, sizeof url, "%s/inference_jobs/echo/-1/keys/%s", platform->http, id);
    assert_int_equal (s_http ("DELETE", url, token, NULL, NULL), 200);
    wait.status = 401;
    if (!rfk_test_wait_until (s_status_is, &wait, NULL, 10000))
        fail_msg ("the predictor still takes a revoked key (logs in %s/logs)", platform->var);
    assert_int_equal (s_sdk_predict (platform, key), RFK_SDK_UNAUTHORIZED);
    assert_int_equal (s_http ("DELETE", url, token, NULL, NULL), 404);

    /*  The SDK's calls: create and revoke. */
    json_t *made = rfk_sdk_serving_key_create (platform->sdk, "echo", -1, NULL);
    assert_non_null (made);
    const char *other = json_string_value (json_object_get (made, "key"));
    wait.key = other;
    wait.status = 200;
    assert_true (rfk_test_wait_until (s_status_is, &wait, NULL, 10000));
    json_t *gone = rfk_sdk_serving_key_revoke (platform->sdk, "echo", -1,
                                               json_string_value (json_object_get (made, "id")));
    assert_non_null (gone);
    json_decref (gone);
    wait.status = 401;
    assert_true (rfk_test_wait_until (s_status_is, &wait, NULL, 10000));
    json_decref (made);

    s_undeploy (platform);
    free (key);
    free (id);
    free (token);
    free (host);
}

/*  The default stays open: no key needed, and keys are refused for it. */
static void
test_open_job (void **state)
{
    (void)state;
    s_platform_t *platform = &s_platform;
    char *host = s_deploy (platform, "open");
    /*  RUNNING may come before the worker said WorkerReady (503 until then). */
    s_status_wait_t wait = {host, NULL, 200};
    if (!rfk_test_wait_until (s_status_is, &wait, NULL, 30000))
        fail_msg ("the open job never answered without a key (logs in %s/logs)", platform->var);
    assert_int_equal (s_sdk_predict (platform, NULL), RFK_SDK_OK);
    char *token = s_rest_token (platform);
    char url[2048];
    snprintf (url, sizeof url, "%s/inference_jobs/echo/-1/keys", platform->http);
    json_t *answer = NULL;
    assert_int_equal (s_http ("POST", url, token, "{}", &answer), 409);
    json_decref (answer);
    s_undeploy (platform);
    free (token);
    free (host);
}

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    curl_global_init (CURL_GLOBAL_DEFAULT);
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_token_job),
        cmocka_unit_test (test_open_job),
    };
    int rc = cmocka_run_group_tests (tests, s_setup, s_teardown);
    curl_global_cleanup ();
    return rc;
}
