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

#define S_PASSWORD "keys-Secret-pass-42"
#define S_TRAIN_MS 300000 /* one Echo trial, sanitizer build, busy machine */
#define S_SERVE_MS 120000 /* an inference job up or down */

/* One `rafikid up` on the test's data dir. */
typedef struct {
    char *dir;          /* the test's temporary folder */
    char var[PATH_MAX]; /* the data dir (dir/var, resolved) */
    pid_t pid;          /* rafikid up */
    char http[64];      /* admin's REST API: http://127.0.0.1:PORT */
    int service_port;   /* admin's `service` socket, where its services reach it */
    rfk_sdk_t *sdk;     /* logged in as the superadmin */
} s_platform_t;

static const char *
s_env (const char *name)
{
    const char *value = getenv (name);
    if (!value || !*value)
        fail_msg ("%s is not set (meson sets it)", name);
    return value;
}

static size_t
s_on_body (char *data, size_t size, size_t count, void *arg)
{
    zchunk_extend ((zchunk_t *)arg, data, size * count);
    return size * count;
}

/* method url [body] -> HTTP status (0 when no connection); *json_p the
   answer's JSON (NULL if none). */
static long
s_http (const char *method, const char *url, const char *token, const char *body, json_t **json_p)
{
    CURL *curl = curl_easy_init ();
    zchunk_t *answer = zchunk_new (NULL, 0);
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    char bearer[2048];
    if (token) {
        snprintf (bearer, sizeof bearer, "Authorization: Bearer %s", token);
        headers = curl_slist_append (headers, bearer);
    }
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    if (body)
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    if (json_p)
        *json_p = zchunk_size (answer) ? json_loadb ((const char *)zchunk_data (answer),
                                                     zchunk_size (answer), 0, NULL)
                                       : NULL;
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    zchunk_destroy (&answer);
    return status;
}

static void
s_sdk_fail (rfk_sdk_t *sdk, const char *doing)
{
    fail_msg ("%s: %s: %s", doing, rfk_sdk_code_name (rfk_sdk_error (sdk)->code),
              rfk_sdk_error (sdk)->message);
}

/* Start `rafikid up` on the platform's data dir (every port 0) and log in.
   Heartbeats are fast, so that services notice admin's absence and its
   return within a second. */
typedef struct {
    char path[PATH_MAX + 32]; /* <data_dir>/rafikid.ports */
    ino_t old;                /* the killed admin's file, 0 if none */
    pid_t pid;                /* the new admin */
} s_ports_wait_t;

/* Whether the ports file is the new admin's (written anew: a new inode),
   or the new admin is gone. */
static bool
s_new_ports (void *arg)
{
    s_ports_wait_t *wait = (s_ports_wait_t *)arg;
    struct stat st;
    if (stat (wait->path, &st) == 0 && st.st_ino != wait->old)
        return true;
    return waitpid (wait->pid, NULL, WNOHANG) != 0;
}

static void
s_up_start (s_platform_t *platform)
{
    //  A killed admin leaves its ports file (the next one binds `service` on
    //  the same port for the services it adopts): wait for the new one's.
    s_ports_wait_t ports_wait = {.old = 0};
    snprintf (ports_wait.path, sizeof ports_wait.path, "%s/rafikid.ports", platform->var);
    struct stat st;
    if (stat (ports_wait.path, &st) == 0)
        ports_wait.old = st.st_ino;
    //  `service` on one port for both admins, as a deployment has (3002):
    //  with port 0 the next admin binds the last one's port again, but on a
    //  machine shared with other tests someone may take it meanwhile. The
    //  kernel picks it; the listener is closed just before admin binds it.
    if (!platform->service_port) {
        int fd = rfk_test_listen (&platform->service_port);
        assert_true (fd >= 0);
        close (fd);
    }
    char service_port[64];
    snprintf (service_port, sizeof service_port, "RAFIKI_ADMIN_SERVICE_PORT=%d",
              platform->service_port);
    const char *vars[] = {"RAFIKI_BUS_HEARTBEAT_INTERVAL_MS=200",
                          "RAFIKI_BUS_HEARTBEAT_TIMEOUT_MS=1000", service_port, NULL};
    rfk_test_up_t up = {.data_dir = platform->var, .password = S_PASSWORD, .vars = vars};
    platform->pid = rfk_test_up_spawn (&up);
    assert_true (platform->pid > 0);
    ports_wait.pid = platform->pid;
    if (ports_wait.old && !rfk_test_wait_until (s_new_ports, &ports_wait, NULL, 120000))
        fail_msg ("rafikid up did not write its ports (see %s/logs)", platform->var);
    rfk_test_ports_t ports;
    if (rfk_test_wait_ports (platform->var, platform->pid, 120000, &ports) != 0)
        fail_msg ("rafikid up did not get ready (see %s/logs)", platform->var);
    snprintf (platform->http, sizeof platform->http, "http://127.0.0.1:%d", ports.http);
    //  The services of a killed admin reach the next one where it was.
    assert_int_equal (ports.service, platform->service_port);
    char admin[64];
    snprintf (admin, sizeof admin, "127.0.0.1:%d", ports.command);
    rfk_sdk_options_t opts;
    rfk_sdk_options_init (&opts);
    opts.admin = admin;
    opts.events_port = ports.events;
    opts.timeout_ms = 30000;
    opts.retries = 0;
    rfk_sdk_error_t error = {0};
    platform->sdk = rfk_sdk_new (&opts, &error);
    if (!platform->sdk)
        fail_msg ("no SDK session with %s: %s", admin, error.message);
    json_t *token = rfk_sdk_login (platform->sdk, "superadmin@rafiki", S_PASSWORD);
    if (!token)
        s_sdk_fail (platform->sdk, "login");
    json_decref (token);
}

/* The latest job of app as admin reports it (an inference job, else a train job). */
typedef struct {
    s_platform_t *platform; /* the platform */
    const char *app;        /* the app */
    bool inference;         /* which kind of job */
    const char *wanted;     /* the status waited for */
    json_t *job;            /* the job as last read */
} s_job_wait_t;

/* The newest inference job of app in any state (GET of an app's inference
   job finds only a deployed one, as the original Rafiki's does). */
static json_t *
s_newest_inference_job (rfk_sdk_t *sdk, const char *app)
{
    json_t *list = rfk_sdk_inference_jobs_of_app (sdk, app);
    json_t *jobs = json_object_get (list, "inference_jobs");
    size_t n = json_array_size (jobs);
    json_t *newest = n ? json_incref (json_array_get (jobs, n - 1)) : NULL;
    json_decref (list);
    return newest;
}

static bool
s_job_in (void *arg)
{
    s_job_wait_t *wait = (s_job_wait_t *)arg;
    json_decref (wait->job);
    wait->job = wait->inference ? s_newest_inference_job (wait->platform->sdk, wait->app)
                                : rfk_sdk_train_job_get (wait->platform->sdk, wait->app, -1);
    const char *status = json_string_value (json_object_get (wait->job, "status"));
    return status && (streq (status, wait->wanted) || streq (status, "ERRORED"));
}

/* Waits until the latest job of app is `wanted`; returns it. */
static json_t *
s_wait_job (s_platform_t *platform, const char *app, bool inference, const char *wanted,
            int timeout_ms)
{
    s_job_wait_t wait = {platform, app, inference, wanted, NULL};
    bool done = rfk_test_wait_until (s_job_in, &wait, NULL, timeout_ms);
    const char *status = json_string_value (json_object_get (wait.job, "status"));
    if (!done || !status || !streq (status, wanted))
        fail_msg ("the %s job of %s is %s, not %s (logs in %s/logs)",
                  inference ? "inference" : "train", app, status ? status : "(unknown)", wanted,
                  platform->var);
    return wait.job;
}

/* POST /predict {"query": [1, 2]} with the serving key (NULL: none): the
   status; *error_code_p the error's code when it is one (to free). */
static long
s_predict (const char *predictor_host, const char *key, char **error_code_p)
{
    char url[300];
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
        s_sdk_fail (platform->sdk, "predictor endpoint");
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
    char url[300], body[200];
    snprintf (url, sizeof url, "%s/tokens", platform->http);
    snprintf (body, sizeof body, "{\"email\": \"superadmin@rafiki\", \"password\": \"%s\"}",
              S_PASSWORD);
    json_t *answer = NULL;
    assert_int_equal (s_http ("POST", url, NULL, body, &answer), 200);
    char *token = strdup (json_string_value (json_object_get (answer, "token")));
    json_decref (answer);
    return token;
}

/* Upload iris and Echo and train one trial (once per platform). */
static void
s_train_echo (s_platform_t *platform)
{
    rfk_sdk_t *sdk = platform->sdk;
    char train_path[600], val_path[600];
    snprintf (train_path, sizeof train_path, "%s/iris-train.csv", s_env ("RAFIKI_TEST_IRIS"));
    snprintf (val_path, sizeof val_path, "%s/iris-val.csv", s_env ("RAFIKI_TEST_IRIS"));
    json_t *train = rfk_sdk_dataset_upload (sdk, train_path, "iris-train", "TABULAR_CLASSIFICATION",
                                            NULL, NULL);
    json_t *val =
        rfk_sdk_dataset_upload (sdk, val_path, "iris-val", "TABULAR_CLASSIFICATION", NULL, NULL);
    if (!train || !val)
        s_sdk_fail (sdk, "dataset upload");
    rfk_sdk_model_info_t info = {
        .name = "Echo", .task = "TABULAR_CLASSIFICATION", .access_right = "PUBLIC"};
    json_t *echo = rfk_sdk_model_upload (sdk, s_env ("RAFIKI_TEST_ECHO"), &info, NULL, NULL);
    if (!echo)
        s_sdk_fail (sdk, "model upload");
    json_t *body =
        json_pack ("{s:s, s:s, s:O, s:O, s:[O], s:{s:i}}", "app", "echo", "task",
                   "TABULAR_CLASSIFICATION", "train_dataset_id", json_object_get (train, "id"),
                   "val_dataset_id", json_object_get (val, "id"), "model_ids",
                   json_object_get (echo, "id"), "budget", "MODEL_TRIAL_COUNT", 1);
    json_t *job = rfk_sdk_train_job_create (sdk, body);
    json_decref (body);
    if (!job)
        s_sdk_fail (sdk, "train job create");
    json_decref (job);
    json_decref (s_wait_job (platform, "echo", false, "STOPPED", S_TRAIN_MS));
    json_decref (train);
    json_decref (val);
    json_decref (echo);
}

/* Deploys echo with auth ("open" or "token"): the predictor's host. */
static char *
s_deploy (s_platform_t *platform, const char *auth)
{
    json_t *body = json_pack ("{s:s, s:s}", "app", "echo", "auth", auth);
    json_t *created = rfk_sdk_inference_job_create (platform->sdk, body);
    json_decref (body);
    if (!created)
        s_sdk_fail (platform->sdk, "inference job create");
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

static int
s_setup (void **state)
{
    (void)state;
    s_platform.dir = rfk_test_tmpdir_new ("serving-keys");
    char var[PATH_MAX + 8];
    snprintf (var, sizeof var, "%s/var", s_platform.dir);
    mkdir (var, 0700);
    if (!realpath (var, s_platform.var))
        return -1;
    s_up_start (&s_platform);
    s_train_echo (&s_platform);
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    rfk_sdk_destroy (&s_platform.sdk);
    if (s_platform.pid > 0) {
        kill (s_platform.pid, SIGTERM);
        waitpid (s_platform.pid, NULL, 0);
    }
    rfk_test_tmpdir_destroy (&s_platform.dir);
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
    char url[300];
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
    char url[300];
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
    char url[300];
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
