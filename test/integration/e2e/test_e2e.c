/*  test_e2e.c: the platform end to end, through a real `rafikid up`.

    One `rafikid up` (admin, SQLite in a temporary data dir, the local
    launcher starting real advisors, trainers, predictors and inference
    workers as rafikid processes) is driven the way a user drives it: through
    librafiki (ZeroMQ), admin's REST API and the predictor's HTTP front
    (libcurl), and the `rafiki` command. The data is iris (the modeltest
    copy), the models the zoo's XgbClassifier and LinearClassifier.

    - test_train_deploy_predict (the usage example): upload, tune both
      models, deploy the best trial of each, predict over HTTP and through
      `rafiki predict`; the served probabilities are the mean of what the two
      templates themselves give for the deployed trials' knobs and
      parameters; stop removes every service of the job.
    - test_max_trials_replicas: redeploy the same train job as the single
      best trial with two replicas; both replicas answer, the predictions are
      that trial's own; stop removes them.
    - test_bad_requests: inference jobs that cannot be made are refused with
      the reason, and admin keeps serving.
    - test_worker_cannot_load: a worker whose trial's parameters are damaged
      says why, the job ends ERRORED and none of its services is left.

    Waits are deadlines on events (admin's `events` socket) and on what the
    services say (job states, the predictor's /healthz), never fixed sleeps.

    Environment (set by meson): RAFIKID, RAFIKI_CLI, RAFIKI_TEST_XGB,
    RAFIKI_TEST_LINEAR (template paths), RAFIKI_TEST_IRIS (folder of
    iris-train.csv, iris-val.csv).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <glob.h>
#include <curl/curl.h>
#include <czmq.h>
#include <dirent.h>
#include <math.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <rafiki/client.h>
#include <rafiki/template.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rfk_test.h"
#include "rfk_test_case.h"

#define S_PASSWORD "e2e-Secret-pass-42"
#define S_TRAIN_MS 300000 /* tuning both models, sanitizer build, busy machine */
#define S_SERVE_MS 60000  /* an inference job up, or down */

extern char **environ;

/* ---------------------------------------------------------------------- */
/* the platform */

typedef struct {
    char *dir;              /* the data dir (rfk_test_tmpdir_new) */
    pid_t pid;              /* rafikid up */
    int ports[4];           /* http, command, service, events */
    char http[64];          /* admin's REST API: http://127.0.0.1:PORT */
    char admin[64];         /* 127.0.0.1:COMMAND_PORT, for RAFIKI_ADMIN */
    char token_file[128];   /* the CLI's token */
    rfk_sdk_t *sdk;         /* logged in as the superadmin */
    rfk_sdk_watch_t *watch; /* every event since the start */
    zhashx_t *services;     /* service id -> last status (ServiceStatus events seen) */
    zhashx_t *service_jobs; /* service id -> job id */
    char *train_job_id;     /* the iris train job */
} s_platform_t;

static s_platform_t *s_platform; /* set up once for the whole file */

/* Start `rafikid up` with its own data dir and ports. */
static void
s_up_start (s_platform_t *platform)
{
    platform->dir = rfk_test_tmpdir_new ("e2e");
    assert_non_null (platform->dir);
    //  Every port 0: the ports it got come in var/rafikid.ports once it is ready.
    char var[300];
    snprintf (var, sizeof var, "%s/var", platform->dir);
    rfk_test_up_t up = {.data_dir = var, .password = S_PASSWORD};
    platform->pid = rfk_test_up_spawn (&up);
    assert_true (platform->pid > 0);
    rfk_test_ports_t ports;
    if (rfk_test_wait_ports (var, platform->pid, 120000, &ports) != 0)
        fail_msg ("rafikid up did not get ready (see %s/logs)", var);
    platform->ports[0] = ports.http;
    platform->ports[1] = ports.command;
    platform->ports[2] = ports.service;
    platform->ports[3] = ports.events;
    snprintf (platform->http, sizeof platform->http, "http://127.0.0.1:%d", platform->ports[0]);
    snprintf (platform->admin, sizeof platform->admin, "127.0.0.1:%d", platform->ports[1]);
    snprintf (platform->token_file, sizeof platform->token_file, "%s/token", platform->dir);
}

/* Note a ServiceStatus event; return the event (yours) or NULL at timeout. */
static json_t *
s_next_event (s_platform_t *platform, int timeout_ms)
{
    json_t *event = rfk_sdk_watch_next (platform->watch, timeout_ms);
    if (!event)
        return NULL;
    const char *type = json_string_value (json_object_get (event, "type"));
    json_t *body = json_object_get (event, "event");
    if (type && streq (type, "ServiceStatus")) {
        const char *id = json_string_value (json_object_get (body, "service_id"));
        const char *status = json_string_value (json_object_get (body, "status"));
        const char *job = json_string_value (json_object_get (body, "job_id"));
        if (id && status)
            zhashx_update (platform->services, id, strdup (status));
        if (id && job && !zhashx_lookup (platform->service_jobs, id))
            zhashx_insert (platform->service_jobs, id, strdup (job));
    }
    return event;
}

static int
s_setup (void **state)
{
    (void)state;
    curl_global_init (CURL_GLOBAL_DEFAULT);
    s_platform_t *platform = (s_platform_t *)calloc (1, sizeof *platform);
    s_up_start (platform);
    platform->services = zhashx_new ();
    zhashx_set_destructor (platform->services, (czmq_destructor *)zstr_free);
    platform->service_jobs = zhashx_new ();
    zhashx_set_destructor (platform->service_jobs, (czmq_destructor *)zstr_free);
    //  The first call waits for admin to bind (ZeroMQ connects in the background).
    rfk_sdk_options_t opts;
    int64_t deadline = zclock_mono () + 30000;
    rfk_sdk_error_t error = {0};
    while (!platform->sdk && zclock_mono () < deadline) {
        rfk_sdk_options_init (&opts);
        opts.admin = platform->admin;
        opts.events_port = platform->ports[3];
        opts.timeout_ms = 30000;
        opts.retries = 0;
        platform->sdk = rfk_sdk_new (&opts, &error);
        if (!platform->sdk)
            zmq_poll (NULL, 0, 50); //  `rafikid up` is still starting: nothing listens yet
    }
    if (!platform->sdk)
        fail_msg ("rafikid up never listened at %s: %s", platform->admin, error.message);
    json_t *token = rfk_sdk_login (platform->sdk, "superadmin@rafiki", S_PASSWORD);
    if (!token)
        rfk_test_sdk_fail (platform->sdk, "login");
    json_decref (token);
    FILE *file = fopen (platform->token_file, "w");
    assert_non_null (file);
    fprintf (file, "%s", rfk_sdk_token (platform->sdk));
    fclose (file);
    chmod (platform->token_file, 0600);
    platform->watch = rfk_sdk_watch_new (platform->sdk, "");
    assert_non_null (platform->watch);
    s_platform = platform;
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    s_platform_t *platform = s_platform;
    if (!platform)
        return 0;
    rfk_sdk_watch_destroy (&platform->watch);
    rfk_sdk_destroy (&platform->sdk);
    //  `rafikid up` stops its services and exits 0 on SIGTERM.
    kill (platform->pid, SIGTERM);
    int status = rfk_test_wait_child (platform->pid, 60000);
    zhashx_destroy (&platform->services);
    zhashx_destroy (&platform->service_jobs);
    free (platform->train_job_id);
    if (status == 0)
        rfk_test_tmpdir_destroy (&platform->dir);
    else {
        fprintf (stderr, "# rafikid up exited with %d; its logs are in %s/var/logs\n", status,
                 platform->dir);
        zstr_free (&platform->dir);
    }
    free (platform);
    s_platform = NULL;
    curl_global_cleanup ();
    return status == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* HTTP */

static size_t
s_on_body (char *data, size_t size, size_t count, void *arg)
{
    zchunk_extend ((zchunk_t *)arg, data, size * count);
    return size * count;
}

/* method url [body] -> HTTP status (0 when no connection), *json_p the
   answer's JSON (NULL if none); *curl_code what curl said. */
static long
s_http (const char *method, const char *url, const char *token, const char *body, json_t **json_p,
        CURLcode *curl_code)
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
    CURLcode code = curl_easy_perform (curl);
    long status = 0;
    if (code == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    if (curl_code)
        *curl_code = code;
    if (json_p)
        *json_p = zchunk_size (answer) ? json_loadb ((const char *)zchunk_data (answer),
                                                     zchunk_size (answer), 0, NULL)
                                       : NULL;
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    zchunk_destroy (&answer);
    return status;
}

/* ---------------------------------------------------------------------- */
/* waiting for jobs */

typedef struct {
    s_platform_t *platform; /* the platform */
    const char *app;        /* the job's app */
    bool inference;         /* an inference job, else a train job */
    const char *wanted;     /* the status waited for; ERRORED ends the wait too */
    json_t *job;            /* the job as last read */
} s_job_wait_t;

/* The newest inference job of app in any state (GET /inference_jobs/{app}/{v}
   finds only a deployed one). */
static json_t *
s_newest_inference_job (rfk_sdk_t *sdk, const char *app)
{
    json_t *list = rfk_sdk_inference_jobs_of_app (sdk, app);
    json_t *jobs = json_object_get (list, "inference_jobs");
    json_t *newest = json_array_size (jobs)
                         ? json_incref (json_array_get (jobs, json_array_size (jobs) - 1))
                         : NULL;
    json_decref (list);
    return newest;
}

/* Whether the latest job of the app is in the status wanted, or ERRORED. */
static bool
s_job_in (void *arg)
{
    s_job_wait_t *wait = arg;
    rfk_sdk_t *sdk = wait->platform->sdk;
    json_decref (wait->job);
    wait->job = wait->inference ? s_newest_inference_job (sdk, wait->app)
                                : rfk_sdk_train_job_get (sdk, wait->app, -1);
    if (!wait->job)
        rfk_test_sdk_fail (sdk, "job get");
    const char *status = json_string_value (json_object_get (wait->job, "status"));
    return status && (streq (status, wait->wanted) || streq (status, "ERRORED"));
}

/* Any event may be the one that changes a job: look again after each. */
static void
s_wake_on_event (void *arg, int timeout_ms)
{
    json_decref (s_next_event (arg, timeout_ms < 1000 ? timeout_ms : 1000));
}

/* Waits (at most timeout_ms) until the latest job of app is wanted (ERRORED
   fails); returns it. */
static json_t *
s_wait_job (s_platform_t *platform, const char *app, bool inference, const char *wanted,
            int timeout_ms)
{
    s_job_wait_t wait = {platform, app, inference, wanted, NULL};
    bool done = rfk_test_wait_for (s_job_in, &wait, s_wake_on_event, platform, timeout_ms);
    const char *status = json_string_value (json_object_get (wait.job, "status"));
    const char *kind = inference ? "inference" : "train";
    if (done && !streq (status, wanted))
        fail_msg ("the %s job of %s %s; logs in %s/var/logs", kind, app, status, platform->dir);
    if (!done)
        fail_msg ("the %s job of %s is %s after %d s", kind, app, status, timeout_ms / 1000);
    return wait.job;
}

/* Wait until the train job of app is STOPPED (ERRORED fails). */
static json_t *
s_wait_train_job (s_platform_t *platform, const char *app)
{
    return s_wait_job (platform, app, false, "STOPPED", S_TRAIN_MS);
}

typedef struct {
    char url[300]; /* the predictor's /healthz */
    int workers;   /* the workers wanted */
    int ready;     /* the workers it counted last */
} s_health_wait_t;

/* Whether the predictor answers /healthz with the workers wanted. */
static bool
s_healthy (void *arg)
{
    s_health_wait_t *wait = arg;
    json_t *health = NULL;
    long status = s_http ("GET", wait->url, NULL, NULL, &health, NULL);
    wait->ready = (int)json_integer_value (json_object_get (health, "workers"));
    json_decref (health);
    return status == 200 && wait->ready == wait->workers;
}

/* Wait until the inference job of app is RUNNING and its predictor has
   `workers` workers ready; returns the job. */
static json_t *
s_wait_serving (s_platform_t *platform, const char *app, int workers)
{
    int64_t deadline = zclock_mono () + S_SERVE_MS;
    json_t *job = s_wait_job (platform, app, true, "RUNNING", S_SERVE_MS);
    //  RUNNING: every worker loaded its trial and connected; its WorkerReady
    //  reaches the predictor a moment later, which /healthz counts.
    s_health_wait_t health = {.workers = workers};
    snprintf (health.url, sizeof health.url, "http://%s/healthz",
              json_string_value (json_object_get (job, "predictor_host")));
    if (!rfk_test_wait_until (s_healthy, &health, NULL, rfk_test_left_ms (deadline)))
        fail_msg ("the predictor at %s has %d of %d workers after %d s", health.url, health.ready,
                  workers, S_SERVE_MS / 1000);
    return job;
}

/* The command line of a process running a service of job_id, or NULL. */
static char *
s_service_process (s_platform_t *platform, const char *job_id)
{
    DIR *proc = opendir ("/proc");
    assert_non_null (proc);
    struct dirent *entry;
    char *found = NULL;
    while (!found && (entry = readdir (proc))) {
        char path[300], cmdline[4096];
        snprintf (path, sizeof path, "/proc/%s/cmdline", entry->d_name);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        size_t n = fread (cmdline, 1, sizeof cmdline - 1, file);
        fclose (file);
        for (size_t i = 0; i < n; i++)
            if (!cmdline[i])
                cmdline[i] = ' ';
        cmdline[n] = 0;
        for (const char *job_of = (const char *)zhashx_first (platform->service_jobs);
             job_of && !found; job_of = (const char *)zhashx_next (platform->service_jobs))
            if (streq (job_of, job_id) &&
                strstr (cmdline, (const char *)zhashx_cursor (platform->service_jobs)))
                found = zsys_sprintf ("pid %s: %s", entry->d_name, cmdline);
    }
    closedir (proc);
    return found;
}

typedef struct {
    s_platform_t *platform; /* the platform */
    const char *job_id;     /* the job */
} s_gone_wait_t;

/* Whether no process runs a service of the job. */
static bool
s_processes_gone (void *arg)
{
    s_gone_wait_t *wait = arg;
    char *left = s_service_process (wait->platform, wait->job_id);
    free (left);
    return left == NULL;
}

/* Wait until no process runs a service of job_id (their command lines name
   them), at the latest by deadline. Another's process has no descriptor to
   wait on: the condition is checked every few milliseconds. */
static void
s_wait_processes_gone (s_platform_t *platform, const char *job_id, int64_t deadline)
{
    s_gone_wait_t wait = {platform, job_id};
    if (!rfk_test_wait_until (s_processes_gone, &wait, NULL, rfk_test_left_ms (deadline))) {
        char *left = s_service_process (platform, job_id);
        fail_msg ("a service of the ended job %s still runs: %s", job_id, left);
        free (left);
    }
}

/* Stop the inference job of app; every one of its services ends STOPPED
   and no process of them is left. */
static void
s_stop_and_check (s_platform_t *platform, const char *app, const char *predictor_host)
{
    json_t *job = rfk_sdk_inference_job_get (platform->sdk, app, -1);
    assert_non_null (job);
    char *job_id = strdup (json_string_value (json_object_get (job, "id")));
    json_decref (job);
    json_t *stopped = rfk_sdk_inference_job_stop (platform->sdk, app, -1);
    if (!stopped)
        rfk_test_sdk_fail (platform->sdk, "inference job stop");
    json_decref (stopped);
    int64_t deadline = zclock_mono () + S_SERVE_MS;
    while (true) {
        size_t total = 0, done = 0;
        for (const char *job_of = (const char *)zhashx_first (platform->service_jobs); job_of;
             job_of = (const char *)zhashx_next (platform->service_jobs))
            if (streq (job_of, job_id)) {
                total++;
                const char *status = (const char *)zhashx_lookup (
                    platform->services, zhashx_cursor (platform->service_jobs));
                done += status && streq (status, "STOPPED");
            }
        if (total > 0 && done == total)
            break;
        if (zclock_mono () > deadline)
            fail_msg ("%zu of the %zu services of inference job %s stopped within %d s", done,
                      total, job_id, S_SERVE_MS / 1000);
        json_decref (s_next_event (platform, 500));
    }
    job = s_newest_inference_job (platform->sdk, app);
    assert_string_equal (json_string_value (json_object_get (job, "status")), "STOPPED");
    json_decref (job);
    //  As in the original Rafiki, GET of the app's inference job finds only
    //  a deployed one: 404 once it is stopped.
    char url[300];
    snprintf (url, sizeof url, "%s/inference_jobs/%s/-1", platform->http, app);
    assert_int_equal (s_http ("GET", url, rfk_sdk_token (platform->sdk), NULL, NULL, NULL), 404);
    //  No process of the job's services is left: a service says STOPPED
    //  just before it exits.
    s_wait_processes_gone (platform, job_id, deadline);
    //  Its predictor no longer answers (it said STOPPED, then closed and exited).
    snprintf (url, sizeof url, "http://%s/healthz", predictor_host);
    CURLcode code;
    assert_int_equal (s_http ("GET", url, NULL, NULL, NULL, &code), 0);
    assert_int_equal (code, CURLE_COULDNT_CONNECT);
    free (job_id);
}

/* ---------------------------------------------------------------------- */
/* what the templates themselves say */

/* What a template predicts for the queries with a trial's knobs and saved
   parameters (downloaded through the API): an array of probability vectors. */
static json_t *
s_direct_predict (s_platform_t *platform, const char *template_path, json_t *trial, json_t *queries)
{
    const char *trial_id = json_string_value (json_object_get (trial, "id"));
    char params[300];
    snprintf (params, sizeof params, "%s/%s.params", platform->dir, trial_id);
    if (rfk_sdk_trial_params_download (platform->sdk, trial_id, params) != 0)
        rfk_test_sdk_fail (platform->sdk, "trial params download");
    char err[512] = "";
    rfk_template_t *template_ =
        rfk_template_open (template_path, RAFIKI_TASK_TABULAR_CLASSIFICATION, err, sizeof err);
    if (!template_)
        fail_msg ("%s", err);
    const rafiki_model_api_t *api = rfk_template_api (template_);
    rafiki_knobs_t knobs;
    if (rfk_knobs_from_json (api->knobs, api->n_knobs, json_object_get (trial, "knobs"), true,
                             &knobs, err, sizeof err) != 0)
        fail_msg ("knobs of trial %s: %s", trial_id, err);
    void *model = api->create (&knobs, err, sizeof err);
    rfk_knobs_free (&knobs);
    assert_non_null (model);
    //  The parameters as saved by the trainer.
    zfile_t *file = zfile_new (NULL, params);
    assert_non_null (file);
    assert_int_equal (zfile_input (file), 0);
    zchunk_t *bytes = zfile_read (file, zfile_cursize (file), 0);
    zfile_destroy (&file);
    msgpack_unpacked saved;
    msgpack_unpacked_init (&saved);
    size_t off = 0;
    assert_int_equal (
        msgpack_unpack_next (&saved, (const char *)zchunk_data (bytes), zchunk_size (bytes), &off),
        MSGPACK_UNPACK_SUCCESS);
    if (api->load_params (model, &saved.data, err, sizeof err) != 0)
        fail_msg ("load params of trial %s: %s", trial_id, err);
    msgpack_unpacked_destroy (&saved);
    zchunk_destroy (&bytes);
    //  The queries as msgpack, as the predictor hands them over.
    msgpack_sbuffer in;
    msgpack_sbuffer_init (&in);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &in, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, json_array_size (queries));
    size_t i;
    json_t *query;
    json_array_foreach (queries, i, query)
    {
        msgpack_pack_map (&pk, json_object_size (query));
        const char *key;
        json_t *value;
        json_object_foreach (query, key, value)
        {
            msgpack_pack_str (&pk, strlen (key));
            msgpack_pack_str_body (&pk, key, strlen (key));
            msgpack_pack_double (&pk, json_number_value (value));
        }
    }
    msgpack_unpacked batch;
    msgpack_unpacked_init (&batch);
    off = 0;
    assert_int_equal (msgpack_unpack_next (&batch, in.data, in.size, &off), MSGPACK_UNPACK_SUCCESS);
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    msgpack_packer out_pk;
    msgpack_packer_init (&out_pk, &out, msgpack_sbuffer_write);
    if (api->predict (model, &batch.data, &out_pk, err, sizeof err) != 0)
        fail_msg ("predict with trial %s: %s", trial_id, err);
    msgpack_unpacked predictions;
    msgpack_unpacked_init (&predictions);
    off = 0;
    assert_int_equal (msgpack_unpack_next (&predictions, out.data, out.size, &off),
                      MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (predictions.data.type, MSGPACK_OBJECT_ARRAY);
    json_t *result = json_array ();
    for (uint32_t q = 0; q < predictions.data.via.array.size; q++) {
        const msgpack_object *vector = &predictions.data.via.array.ptr[q];
        assert_int_equal (vector->type, MSGPACK_OBJECT_ARRAY);
        json_t *probabilities = json_array ();
        for (uint32_t c = 0; c < vector->via.array.size; c++)
            json_array_append_new (probabilities, json_real (vector->via.array.ptr[c].via.f64));
        json_array_append_new (result, probabilities);
    }
    msgpack_unpacked_destroy (&predictions);
    msgpack_unpacked_destroy (&batch);
    msgpack_sbuffer_destroy (&out);
    msgpack_sbuffer_destroy (&in);
    api->destroy (model);
    rfk_template_close (&template_);
    unlink (params);
    return result;
}

/* The mean of the members' probability vectors, query by query. */
static json_t *
s_mean (json_t **members, size_t n)
{
    json_t *mean = json_array ();
    for (size_t q = 0; q < json_array_size (members[0]); q++) {
        json_t *vector = json_array ();
        for (size_t c = 0; c < json_array_size (json_array_get (members[0], q)); c++) {
            double sum = 0;
            for (size_t m = 0; m < n; m++)
                sum += json_number_value (json_array_get (json_array_get (members[m], q), c));
            json_array_append_new (vector, json_real (sum / (double)n));
        }
        json_array_append_new (mean, vector);
    }
    return mean;
}

static void
s_assert_close (json_t *got, json_t *expect, const char *how)
{
    if (json_array_size (got) != json_array_size (expect))
        fail_msg ("%s: %zu predictions for %zu queries", how, json_array_size (got),
                  json_array_size (expect));
    for (size_t q = 0; q < json_array_size (expect); q++) {
        json_t *a = json_array_get (got, q), *b = json_array_get (expect, q);
        if (!json_is_array (a)) {
            char *text = json_dumps (a, JSON_ENCODE_ANY);
            fail_msg ("%s: query %zu got %s, not a probability vector", how, q, text);
        }
        assert_int_equal (json_array_size (a), json_array_size (b));
        for (size_t c = 0; c < json_array_size (b); c++) {
            double x = json_number_value (json_array_get (a, c));
            double y = json_number_value (json_array_get (b, c));
            if (fabs (x - y) > 1e-12)
                fail_msg ("%s: query %zu class %zu: served %.17g, the templates give %.17g", how, q,
                          c, x, y);
        }
    }
}

/* The trial the platform deploys for a model (its sub train job's best:
   COMPLETED, highest score, then lowest trial number), or overall (highest
   score, then earliest start). Borrowed from trials. */
static json_t *
s_best_trial (json_t *trials, const char *model_name)
{
    json_t *best = NULL;
    size_t index;
    json_t *trial;
    json_array_foreach (trials, index, trial)
    {
        const char *status = json_string_value (json_object_get (trial, "status"));
        const char *model = json_string_value (json_object_get (trial, "model_name"));
        json_t *score = json_object_get (trial, "score");
        if (!status || !streq (status, "COMPLETED") || !json_is_number (score))
            continue;
        if (model_name && (!model || !streq (model, model_name)))
            continue;
        if (!best) {
            best = trial;
            continue;
        }
        double a = json_number_value (score);
        double b = json_number_value (json_object_get (best, "score"));
        bool better;
        if (a != b)
            better = a > b;
        else if (model_name)
            better = json_integer_value (json_object_get (trial, "trial_no")) <
                     json_integer_value (json_object_get (best, "trial_no"));
        else
            better = strcmp (json_string_value (json_object_get (trial, "datetime_started")),
                             json_string_value (json_object_get (best, "datetime_started"))) < 0;
        if (better)
            best = trial;
    }
    if (!best)
        fail_msg ("no COMPLETED trial%s%s to deploy", model_name ? " of " : "",
                  model_name ? model_name : "");
    return best;
}

/* POST {"queries": [...]} to the predictor: the predictions. */
static json_t *
s_http_predict (const char *predictor_host, json_t *queries)
{
    json_t *request = json_pack ("{s:O}", "queries", queries);
    char *body = json_dumps (request, JSON_COMPACT);
    json_decref (request);
    char url[300];
    snprintf (url, sizeof url, "http://%s/predict", predictor_host);
    json_t *answer = NULL;
    long status = s_http ("POST", url, NULL, body, &answer, NULL);
    free (body);
    if (status != 200) {
        char *text = answer ? json_dumps (answer, 0) : NULL;
        fail_msg ("POST %s answered %ld: %s", url, status, text ? text : "(no JSON)");
    }
    assert_true (json_is_null (json_object_get (answer, "prediction")));
    json_t *predictions = json_incref (json_object_get (answer, "predictions"));
    json_decref (answer);
    return predictions;
}

/* `rafiki predict app --file queries.json --json` (or, with one, `--query
   'Q' --json` with the first query alone): its predictions. */
static json_t *
s_cli_predict (s_platform_t *platform, const char *app, json_t *queries, bool one)
{
    char queries_path[300], out_path[300];
    snprintf (queries_path, sizeof queries_path, "%s/queries.json", platform->dir);
    snprintf (out_path, sizeof out_path, "%s/predict.out", platform->dir);
    assert_int_equal (json_dump_file (queries, queries_path, 0), 0);
    char what[1200];
    if (one) {
        //  A feature map: JSON with no single quote, safe inside '...'.
        char *query = json_dumps (json_array_get (queries, 0), JSON_COMPACT);
        snprintf (what, sizeof what, "--query '%s'", query);
        free (query);
    } else
        snprintf (what, sizeof what, "--file '%s'", queries_path);
    char command[2048];
    snprintf (command, sizeof command,
              "RAFIKI_ADMIN='%s' RAFIKI_ADMIN_EVENTS_PORT=%d RAFIKI_TOKEN_FILE='%s' '%s' predict "
              "%s %s --json > '%s'",
              platform->admin, platform->ports[3], platform->token_file,
              rfk_test_env ("RAFIKI_CLI"), app, what, out_path);
    int status = system (command);
    if (status != 0)
        fail_msg ("`rafiki predict` exited with %d",
                  WIFEXITED (status) ? WEXITSTATUS (status) : -1);
    json_error_t error;
    json_t *answer = json_load_file (out_path, 0, &error);
    if (!answer)
        fail_msg ("`rafiki predict --json` printed no JSON: %s", error.text);
    json_t *predictions = json_incref (json_object_get (answer, "predictions"));
    json_decref (answer);
    unlink (queries_path);
    unlink (out_path);
    return predictions;
}

/* ---------------------------------------------------------------------- */
/* the tests */

static void
test_train_deploy_predict (void **state)
{
    (void)state;
    s_platform_t *platform = s_platform;
    rfk_sdk_t *sdk = platform->sdk;
    char train_path[600], val_path[600];
    snprintf (train_path, sizeof train_path, "%s/iris-train.csv",
              rfk_test_env ("RAFIKI_TEST_IRIS"));
    snprintf (val_path, sizeof val_path, "%s/iris-val.csv", rfk_test_env ("RAFIKI_TEST_IRIS"));

    //  Data and models.
    json_t *train = rfk_sdk_dataset_upload (sdk, train_path, "iris-train", "TABULAR_CLASSIFICATION",
                                            NULL, NULL);
    json_t *val =
        rfk_sdk_dataset_upload (sdk, val_path, "iris-val", "TABULAR_CLASSIFICATION", NULL, NULL);
    if (!train || !val)
        rfk_test_sdk_fail (sdk, "dataset upload");
    rfk_sdk_model_info_t info = {
        .name = "XgbClassifier", .task = "TABULAR_CLASSIFICATION", .access_right = "PUBLIC"};
    json_t *xgb = rfk_sdk_model_upload (sdk, rfk_test_env ("RAFIKI_TEST_XGB"), &info, NULL, NULL);
    info.name = "LinearClassifier";
    json_t *linear =
        rfk_sdk_model_upload (sdk, rfk_test_env ("RAFIKI_TEST_LINEAR"), &info, NULL, NULL);
    if (!xgb || !linear)
        rfk_test_sdk_fail (sdk, "model upload");

    //  Tune both, three trials each (the class column of this copy is `class`).
    json_t *body =
        json_pack ("{s:s, s:s, s:O, s:O, s:[O, O], s:{s:i}, s:{s:s}}", "app", "iris", "task",
                   "TABULAR_CLASSIFICATION", "train_dataset_id", json_object_get (train, "id"),
                   "val_dataset_id", json_object_get (val, "id"), "model_ids",
                   json_object_get (xgb, "id"), json_object_get (linear, "id"), "budget",
                   "MODEL_TRIAL_COUNT", 3, "train_args", "target", "class");
    json_t *job = rfk_sdk_train_job_create (sdk, body);
    json_decref (body);
    if (!job)
        rfk_test_sdk_fail (sdk, "train job create");
    platform->train_job_id = strdup (json_string_value (json_object_get (job, "id")));
    json_decref (job);
    job = s_wait_train_job (platform, "iris");
    json_decref (job);
    json_t *trials = rfk_sdk_train_job_trials (sdk, "iris", -1, 0, 0, false, 0);
    assert_non_null (trials);
    json_t *trial_list = json_object_get (trials, "trials");
    assert_int_equal (json_array_size (trial_list), 6);

    //  Deploy the best trial of each model.
    json_t *body_infer = json_pack ("{s:s}", "app", "iris");
    json_t *created = rfk_sdk_inference_job_create (sdk, body_infer);
    json_decref (body_infer);
    if (!created)
        rfk_test_sdk_fail (sdk, "inference job create");
    assert_string_equal (json_string_value (json_object_get (created, "status")), "STARTED");
    json_decref (created);
    //  Admin picks no port: the predictor binds port 0 and reports what the
    //  kernel gave, which becomes predictor_host once it is RUNNING (and
    //  every /predict below goes there).
    json_t *serving = s_wait_serving (platform, "iris", 2);
    const char *predictor_host = json_string_value (json_object_get (serving, "predictor_host"));
    assert_non_null (predictor_host);
    assert_true (atoi (strrchr (predictor_host, ':') + 1) > 0);
    assert_non_null (strstr (json_string_value (json_object_get (serving, "query_endpoint")),
                             "tcp://127.0.0.1:"));
    //  Admin's REST API reports the same place.
    char url[300];
    snprintf (url, sizeof url, "%s/inference_jobs/iris", platform->http);
    json_t *listed = NULL;
    assert_int_equal (s_http ("GET", url, rfk_sdk_token (sdk), NULL, &listed, NULL), 200);
    json_t *first = json_is_array (listed)
                        ? json_array_get (listed, 0)
                        : json_array_get (json_object_get (listed, "inference_jobs"), 0);
    assert_string_equal (json_string_value (json_object_get (first, "predictor_host")),
                         predictor_host);
    assert_string_equal (json_string_value (json_object_get (first, "status")), "RUNNING");
    json_decref (listed);

    //  What the two deployed trials give by themselves, averaged.
    json_t *queries = rfk_test_iris_queries (val_path, NULL, 50);
    assert_non_null (queries);
    json_t *members[2] = {
        s_direct_predict (platform, rfk_test_env ("RAFIKI_TEST_XGB"),
                          s_best_trial (trial_list, "XgbClassifier"), queries),
        s_direct_predict (platform, rfk_test_env ("RAFIKI_TEST_LINEAR"),
                          s_best_trial (trial_list, "LinearClassifier"), queries),
    };
    json_t *expect = s_mean (members, 2);

    //  Over HTTP, one query and many.
    json_t *got = s_http_predict (predictor_host, queries);
    s_assert_close (got, expect, "POST /predict");
    json_decref (got);
    json_t *one_query = json_pack ("{s:O}", "query", json_array_get (queries, 0));
    char *one = json_dumps (one_query, 0);
    json_decref (one_query);
    snprintf (url, sizeof url, "http://%s/predict", predictor_host);
    json_t *answer = NULL;
    assert_int_equal (s_http ("POST", url, NULL, one, &answer, NULL), 200);
    free (one);
    json_t *single = json_pack ("[O]", json_object_get (answer, "prediction"));
    json_t *expect_one = json_pack ("[O]", json_array_get (expect, 0));
    s_assert_close (single, expect_one, "POST /predict one query");
    json_decref (single);
    json_decref (expect_one);
    json_decref (answer);
    //  Through the SDK's ZeroMQ path, as `rafiki predict` sends it.
    got = s_cli_predict (platform, "iris", queries, false);
    s_assert_close (got, expect, "rafiki predict --file");
    json_decref (got);
    got = s_cli_predict (platform, "iris", queries, true);
    expect_one = json_pack ("[O]", json_array_get (expect, 0));
    s_assert_close (got, expect_one, "rafiki predict --query");
    json_decref (expect_one);
    json_decref (got);

    //  Stop: every service of the job ends and its predictor is gone.
    char *host = strdup (predictor_host);
    s_stop_and_check (platform, "iris", host);
    free (host);

    json_decref (members[0]);
    json_decref (members[1]);
    json_decref (expect);
    json_decref (queries);
    json_decref (serving);
    json_decref (trials);
    json_decref (train);
    json_decref (val);
    json_decref (xgb);
    json_decref (linear);
}

static void
test_max_trials_replicas (void **state)
{
    (void)state;
    s_platform_t *platform = s_platform;
    if (!platform->train_job_id)
        skip ();
    rfk_sdk_t *sdk = platform->sdk;
    json_t *trials = rfk_sdk_train_job_trials (sdk, "iris", -1, 0, 0, false, 0);
    assert_non_null (trials);
    json_t *best = s_best_trial (json_object_get (trials, "trials"), NULL);
    const char *model = json_string_value (json_object_get (best, "model_name"));
    //  The single best trial, two replicas of it.
    json_t *body = json_pack ("{s:s, s:i, s:i}", "app", "iris", "max_trials", 1, "replicas", 2);
    json_t *created = rfk_sdk_inference_job_create (sdk, body);
    json_decref (body);
    if (!created)
        rfk_test_sdk_fail (sdk, "inference job create");
    assert_int_equal (json_integer_value (json_object_get (created, "replicas")), 2);
    json_decref (created);
    json_t *serving = s_wait_serving (platform, "iris", 2);
    const char *predictor_host = json_string_value (json_object_get (serving, "predictor_host"));
    char url[300];
    snprintf (url, sizeof url, "http://%s/healthz", predictor_host);
    json_t *health = NULL;
    assert_int_equal (s_http ("GET", url, NULL, NULL, &health, NULL), 200);
    assert_int_equal (json_integer_value (json_object_get (health, "trials")), 1);
    json_decref (health);
    char val_path[600];
    snprintf (val_path, sizeof val_path, "%s/iris-val.csv", rfk_test_env ("RAFIKI_TEST_IRIS"));
    json_t *queries = rfk_test_iris_queries (val_path, NULL, 50);
    assert_non_null (queries);
    json_t *expect = s_direct_predict (
        platform,
        rfk_test_env (streq (model, "XgbClassifier") ? "RAFIKI_TEST_XGB" : "RAFIKI_TEST_LINEAR"),
        best, queries);
    //  Several requests, so both replicas get batches; every answer is the trial's own.
    for (int round = 0; round < 8; round++) {
        json_t *got = s_http_predict (predictor_host, queries);
        s_assert_close (got, expect, "POST /predict (one trial, two replicas)");
        json_decref (got);
    }
    json_t *got = s_cli_predict (platform, "iris", queries, false);
    s_assert_close (got, expect, "rafiki predict (one trial, two replicas)");
    json_decref (got);
    char *host = strdup (predictor_host);
    s_stop_and_check (platform, "iris", host);
    free (host);
    json_decref (expect);
    json_decref (queries);
    json_decref (serving);
    json_decref (trials);
}

/* The inference job of app with that id (yours). */
static json_t *
s_inference_job_by_id (rfk_sdk_t *sdk, const char *app, const char *id)
{
    json_t *list = rfk_sdk_inference_jobs_of_app (sdk, app);
    if (!list)
        rfk_test_sdk_fail (sdk, "inference jobs of app");
    size_t index;
    json_t *job, *found = NULL;
    json_array_foreach (json_object_get (list, "inference_jobs"), index, job)
    {
        const char *its = json_string_value (json_object_get (job, "id"));
        if (its && streq (its, id))
            found = json_incref (job);
    }
    json_decref (list);
    if (!found)
        fail_msg ("no inference job %s of %s", id, app);
    return found;
}

/*  A worker that cannot load its trial (its parameters are damaged): the
    job ends ERRORED, the worker saying why, and none of its services is
    left running. */
static void
test_worker_cannot_load (void **state)
{
    (void)state;
    s_platform_t *platform = s_platform;
    if (!platform->train_job_id)
        skip ();
    rfk_sdk_t *sdk = platform->sdk;
    //  Version 1, the one tuned to the end (test_bad_requests made a version 2).
    json_t *trials = rfk_sdk_train_job_trials (sdk, "iris", 1, 0, 0, false, 0);
    assert_non_null (trials);
    json_t *best = s_best_trial (json_object_get (trials, "trials"), NULL);
    //  Its parameters, in its sub train job's folder of params/.
    char pattern[400];
    snprintf (pattern, sizeof pattern, "%s/var/params/*/%s.msgpack", platform->dir,
              json_string_value (json_object_get (best, "id")));
    glob_t found;
    assert_int_equal (glob (pattern, 0, NULL, &found), 0);
    assert_int_equal (found.gl_pathc, 1);
    FILE *file = fopen (found.gl_pathv[0], "w");
    globfree (&found);
    assert_non_null (file);
    fputs ("these are not parameters", file);
    fclose (file);
    json_t *body = json_pack ("{s:s, s:i, s:i}", "app", "iris", "app_version", 1, "max_trials", 1);
    json_t *created = rfk_sdk_inference_job_create (sdk, body);
    json_decref (body);
    if (!created)
        rfk_test_sdk_fail (sdk, "inference job create");
    char *job_id = strdup (json_string_value (json_object_get (created, "id")));
    json_decref (created);
    int64_t deadline = zclock_mono () + S_SERVE_MS;
    char *why = NULL;
    const char *status = NULL;
    json_t *job = NULL;
    while (true) {
        json_t *event = s_next_event (platform, 500);
        json_t *fields = json_object_get (event, "event");
        const char *message = json_string_value (json_object_get (fields, "message"));
        const char *job_of = json_string_value (json_object_get (fields, "job_id"));
        if (!why && job_of && streq (job_of, job_id) && message &&
            streq (json_string_value (json_object_get (fields, "status")), "ERRORED"))
            why = strdup (message);
        json_decref (event);
        json_decref (job);
        job = s_inference_job_by_id (sdk, "iris", job_id);
        status = json_string_value (json_object_get (job, "status"));
        if (streq (status, "ERRORED") && why)
            break;
        if (zclock_mono () > deadline)
            fail_msg ("the inference job is %s (worker said: %s) after %d s", status,
                      why ? why : "nothing", S_SERVE_MS / 1000);
    }
    //  The worker said what it could not load.
    if (!strstr (why, "msgpack") && !strstr (why, "parameters"))
        fail_msg ("the worker's reason does not name its parameters: %s", why);
    s_wait_processes_gone (platform, job_id, zclock_mono () + S_SERVE_MS);
    json_decref (job);
    free (why);
    free (job_id);
    json_decref (trials);
}

static void
test_bad_requests (void **state)
{
    (void)state;
    s_platform_t *platform = s_platform;
    rfk_sdk_t *sdk = platform->sdk;
    struct {
        const char *body;
        rfk_sdk_code_t code;
        const char *says;
    } cases[] = {
        {"{\"app\": \"no-such-app\"}", RFK_SDK_NOT_FOUND, "no-such-app"},
        {"{\"app\": \"iris\", \"replicas\": 0}", RFK_SDK_BAD_REQUEST, "replicas"},
        {"{\"app\": \"iris\", \"replicas\": 1000}", RFK_SDK_BAD_REQUEST, "replicas"},
        {"{\"app\": \"iris\", \"max_trials\": -1}", RFK_SDK_BAD_REQUEST, "max_trials"},
        {"{\"app\": \"iris\", \"budget\": {\"BOGUS\": 1}}", RFK_SDK_BAD_REQUEST, "BOGUS"},
        {"{}", RFK_SDK_BAD_REQUEST, "app"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        json_t *body = json_loads (cases[index].body, 0, NULL);
        assert_non_null (body);
        json_t *job = rfk_sdk_inference_job_create (sdk, body);
        json_decref (body);
        if (job)
            fail_msg ("%s was accepted", cases[index].body);
        if (rfk_sdk_error (sdk)->code != cases[index].code ||
            !strstr (rfk_sdk_error (sdk)->message, cases[index].says))
            fail_msg ("%s: expected %s naming '%s', got %s: %s", cases[index].body,
                      rfk_sdk_code_name (cases[index].code), cases[index].says,
                      rfk_sdk_code_name (rfk_sdk_error (sdk)->code), rfk_sdk_error (sdk)->message);
    }
    //  A train job still running cannot be deployed: tune again (a long
    //  budget), ask, then stop it.
    if (platform->train_job_id) {
        json_t *old = rfk_sdk_train_job_get (sdk, "iris", -1);
        assert_non_null (old);
        json_t *sub = json_array_get (json_object_get (old, "sub_train_jobs"), 0);
        json_t *body = json_pack ("{s:s, s:s, s:O, s:O, s:[O], s:{s:i}, s:{s:s}}", "app", "iris",
                                  "task", "TABULAR_CLASSIFICATION", "train_dataset_id",
                                  json_object_get (old, "train_dataset_id"), "val_dataset_id",
                                  json_object_get (old, "val_dataset_id"), "model_ids",
                                  json_object_get (sub, "model_id"), "budget", "MODEL_TRIAL_COUNT",
                                  1000, "train_args", "target", "class");
        json_t *job = rfk_sdk_train_job_create (sdk, body);
        json_decref (body);
        if (!job)
            rfk_test_sdk_fail (sdk, "train job create");
        json_t *iris = json_pack ("{s:s}", "app", "iris");
        json_t *refused = rfk_sdk_inference_job_create (sdk, iris);
        json_decref (iris);
        assert_null (refused);
        assert_int_equal (rfk_sdk_error (sdk)->code, RFK_SDK_CONFLICT);
        json_t *stopped = rfk_sdk_train_job_stop (sdk, "iris", -1);
        assert_non_null (stopped);
        json_decref (stopped);
        json_decref (job);
        json_decref (old);
    }
    //  Admin still answers.
    json_t *me = rfk_sdk_me (sdk);
    assert_non_null (me);
    json_decref (me);
}

/* ---------------------------------------------------------------------- */
/* what the original Rafiki's clients rely on */

/* POST /models as the original client sends it: multipart, `dependencies`
   the text "null" (or left out when deps is NULL and omit). Its status. */
static long
s_upload_model (s_platform_t *platform, const char *name, const char *deps)
{
    CURL *curl = curl_easy_init ();
    curl_mime *mime = curl_mime_init (curl);
    const char *fields[][2] = {{"name", name},
                               {"task", "TABULAR_CLASSIFICATION"},
                               {"dependencies", deps},
                               {"access_right", "PRIVATE"}};
    for (size_t index = 0; index < 4; index++) {
        if (!fields[index][1])
            continue;
        curl_mimepart *part = curl_mime_addpart (mime);
        curl_mime_name (part, fields[index][0]);
        curl_mime_data (part, fields[index][1], CURL_ZERO_TERMINATED);
    }
    curl_mimepart *part = curl_mime_addpart (mime);
    curl_mime_name (part, "model_file_bytes");
    curl_mime_filedata (part, rfk_test_env ("RAFIKI_TEST_LINEAR"));
    char url[300], bearer[2048];
    snprintf (url, sizeof url, "%s/models", platform->http);
    snprintf (bearer, sizeof bearer, "Authorization: Bearer %s", rfk_sdk_token (platform->sdk));
    struct curl_slist *headers = curl_slist_append (NULL, bearer);
    zchunk_t *answer = zchunk_new (NULL, 0);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        print_message ("# POST /models %s: %ld %.*s\n", name, status, (int)zchunk_size (answer),
                       (const char *)zchunk_data (answer));
    zchunk_destroy (&answer);
    curl_slist_free_all (headers);
    curl_mime_free (mime);
    curl_easy_cleanup (curl);
    return status;
}

/* Trials carry the original's `no`, `proposal` and `is_params_saved`. */
static void
s_check_trial_fields (s_platform_t *platform)
{
    char url[300];
    snprintf (url, sizeof url, "%s/train_jobs/iris/1/trials", platform->http);
    json_t *answer = NULL;
    assert_int_equal (s_http ("GET", url, rfk_sdk_token (platform->sdk), NULL, &answer, NULL), 200);
    json_t *trials = json_is_array (answer) ? answer : json_object_get (answer, "trials");
    assert_true (json_array_size (trials) > 0);
    size_t index;
    json_t *trial;
    json_array_foreach (trials, index, trial)
    {
        assert_int_equal (json_integer_value (json_object_get (trial, "no")),
                          json_integer_value (json_object_get (trial, "trial_no")));
        json_t *proposal = json_object_get (trial, "proposal");
        assert_true (json_is_object (proposal));
        assert_true (
            json_equal (json_object_get (proposal, "knobs"), json_object_get (trial, "knobs")));
        json_t *saved = json_object_get (trial, "is_params_saved");
        assert_true (json_is_boolean (saved));
        assert_true (json_equal (saved, json_object_get (trial, "has_params")));
    }
    json_decref (answer);
}

/* MODEL_TRIAL_COUNT -1: refused without TIME_HOURS, and with it a manifest
   job runs until its time is up (0.02 h, 72 s). */
static void
s_check_unlimited_trials (s_platform_t *platform)
{
    char url[300];
    snprintf (url, sizeof url, "%s/train_jobs", platform->http);
    json_t *answer = NULL;
    long status = s_http ("POST", url, rfk_sdk_token (platform->sdk),
                          "{\"app\":\"iris-timed\",\"task\":\"TABULAR_CLASSIFICATION\","
                          "\"train_dataset_id\":\"x\",\"val_dataset_id\":\"x\","
                          "\"model_ids\":[\"x\"],\"budget\":{\"MODEL_TRIAL_COUNT\":-1}}",
                          &answer, NULL);
    assert_int_equal (status, 400);
    const char *says =
        json_string_value (json_object_get (json_object_get (answer, "error"), "message"));
    if (!says || !strstr (says, "TIME_HOURS"))
        fail_msg ("MODEL_TRIAL_COUNT -1 without TIME_HOURS: %s", says ? says : "no message");
    json_decref (answer);
    char manifest[300];
    snprintf (manifest, sizeof manifest, "%s/timed.yaml", platform->dir);
    FILE *file = fopen (manifest, "w");
    assert_non_null (file);
    fputs ("kind: train\napp: iris-timed\ntask: TABULAR_CLASSIFICATION\n"
           "train_dataset: iris-train\nval_dataset: iris-val\n"
           "budget:\n  MODEL_TRIAL_COUNT: -1\n  TIME_HOURS: 0.02\n"
           "models:\n  - LinearClassifier\ntrain_args:\n  target: class\n",
           file);
    fclose (file);
    char command[2048];
    snprintf (command, sizeof command,
              "RAFIKI_ADMIN='%s' RAFIKI_ADMIN_EVENTS_PORT=%d RAFIKI_TOKEN_FILE='%s' '%s' train "
              "create -f '%s' > /dev/null",
              platform->admin, platform->ports[3], platform->token_file,
              rfk_test_env ("RAFIKI_CLI"), manifest);
    int64_t started = zclock_mono ();
    assert_int_equal (system (command), 0);
    json_t *job = s_wait_job (platform, "iris-timed", false, "STOPPED", S_TRAIN_MS);
    int64_t took = zclock_mono () - started;
    json_t *trials = rfk_sdk_train_job_trials (platform->sdk, "iris-timed", -1, 0, 0, false, 0);
    size_t count = json_array_size (json_object_get (trials, "trials"));
    print_message ("# MODEL_TRIAL_COUNT -1, TIME_HOURS 0.02: %zu trials, stopped after %.1f s\n",
                   count, took / 1000.0);
    //  Time, not a count, ended it: not before its 72 s.
    assert_true (took >= 70000);
    assert_true (count >= 1);
    json_decref (trials);
    json_decref (job);
}

/* GET /inference_jobs/{app}/{version} finds the deployed job only, and
   stop_all_jobs names what it stopped as {"id": ...} objects. The app
   deployed is the timed one (iris's best parameters were damaged on purpose
   by test_worker_cannot_load). */
static void
s_check_running_and_stop_all (s_platform_t *platform)
{
    json_t *body =
        json_pack ("{s:s, s:i, s:i}", "app", "iris-timed", "app_version", 1, "max_trials", 1);
    json_t *created = rfk_sdk_inference_job_create (platform->sdk, body);
    json_decref (body);
    if (!created)
        rfk_test_sdk_fail (platform->sdk, "inference job create");
    char *job_id = strdup (json_string_value (json_object_get (created, "id")));
    json_decref (created);
    json_decref (s_wait_serving (platform, "iris-timed", 1));
    char url[300];
    const char *token = rfk_sdk_token (platform->sdk);
    snprintf (url, sizeof url, "%s/inference_jobs/iris-timed/1", platform->http);
    json_t *job = NULL;
    assert_int_equal (s_http ("GET", url, token, NULL, &job, NULL), 200);
    assert_string_equal (json_string_value (json_object_get (job, "id")), job_id);
    assert_string_equal (json_string_value (json_object_get (job, "status")), "RUNNING");
    json_decref (job);
    snprintf (url, sizeof url, "%s/actions/stop_all_jobs", platform->http);
    json_t *stopped = NULL;
    assert_int_equal (s_http ("POST", url, token, "{}", &stopped, NULL), 200);
    json_t *inference = json_object_get (stopped, "inference_jobs");
    assert_int_equal (json_array_size (inference), 1);
    assert_string_equal (json_string_value (json_object_get (json_array_get (inference, 0), "id")),
                         job_id);
    assert_true (json_is_array (json_object_get (stopped, "train_jobs")));
    json_decref (stopped);
    snprintf (url, sizeof url, "%s/inference_jobs/iris-timed/1", platform->http);
    assert_int_equal (s_http ("GET", url, token, NULL, NULL, NULL), 404);
    s_wait_processes_gone (platform, job_id, zclock_mono () + S_SERVE_MS);
    free (job_id);
}

static void
test_original_contract (void **state)
{
    (void)state;
    s_platform_t *platform = s_platform;
    if (!platform->train_job_id)
        skip ();
    s_check_trial_fields (platform);
    assert_int_equal (s_upload_model (platform, "LinearNullDeps", "null"), 200);
    assert_int_equal (s_upload_model (platform, "LinearNoDeps", NULL), 200);
    s_check_unlimited_trials (platform);
    s_check_running_and_stop_all (platform);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_train_deploy_predict), cmocka_unit_test (test_max_trials_replicas),
        cmocka_unit_test (test_bad_requests),         cmocka_unit_test (test_worker_cannot_load),
        cmocka_unit_test (test_original_contract),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
