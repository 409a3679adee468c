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

#define S_PASSWORD "restart-Secret-pass-42"
#define S_TRAIN_MS 300000 /* one Echo trial, sanitizer build, busy machine */
#define S_SERVE_MS 120000 /* an inference job up, adopted, or down */

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

/* The services of this platform that run: service id -> pid (as text),
   found by the RAFIKI_DATA_DIR and RAFIKI_SERVICE_ID in their environment. */
static zhashx_t *
s_services (s_platform_t *platform)
{
    zhashx_t *services = zhashx_new ();
    zhashx_set_destructor (services, (czmq_destructor *)zstr_free);
    char want[PATH_MAX + 32];
    snprintf (want, sizeof want, "RAFIKI_DATA_DIR=%s", platform->var);
    DIR *proc = opendir ("/proc");
    assert_non_null (proc);
    struct dirent *entry;
    while ((entry = readdir (proc))) {
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
            continue;
        char path[300], env[16384];
        snprintf (path, sizeof path, "/proc/%s/environ", entry->d_name);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        size_t n = fread (env, 1, sizeof env - 1, file);
        fclose (file);
        env[n] = 0;
        bool ours = false;
        const char *id = NULL;
        for (size_t at = 0; at < n; at += strlen (env + at) + 1) {
            ours = ours || streq (env + at, want);
            if (strncmp (env + at, "RAFIKI_SERVICE_ID=", 18) == 0)
                id = env + at + 18;
        }
        //  A zombie has an empty environment; a trial's child has no service id.
        if (ours && id)
            zhashx_update (services, id, strdup (entry->d_name));
    }
    closedir (proc);
    return services;
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

/* Whether every service's log says the new admin's launcher adopted it and
   admin accepted its Hello again. */
static bool
s_all_rehelloed (void *arg)
{
    s_rehello_wait_t *wait = (s_rehello_wait_t *)arg;
    for (const char *pid = (const char *)zhashx_first (wait->services); pid;
         pid = (const char *)zhashx_next (wait->services)) {
        char path[PATH_MAX + 200];
        snprintf (path, sizeof path, "%s/logs/%s.log", wait->platform->var,
                  (const char *)zhashx_cursor (wait->services));
        FILE *file = fopen (path, "r");
        bool accepted = false, adopted = false;
        char line[4096];
        while (file && fgets (line, sizeof line, file)) {
            accepted = accepted || strstr (line, "admin-rehello-accepted") != NULL;
            adopted = adopted || strstr (line, "rafiki-launcher: adopted pid") != NULL;
        }
        if (file)
            fclose (file);
        if (!accepted || !adopted)
            return false;
    }
    return true;
}

/* Whether none of the pids runs any more. */
static bool
s_all_gone (void *arg)
{
    zhashx_t *services = (zhashx_t *)arg;
    for (const char *pid = (const char *)zhashx_first (services); pid;
         pid = (const char *)zhashx_next (services))
        if (kill (atoi (pid), 0) == 0)
            return false;
    return true;
}

/* Upload iris and Echo, train one trial, deploy it: the predictor's host. */
static char *
s_deploy_echo (s_platform_t *platform)
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
    body = json_pack ("{s:s}", "app", "echo");
    json_t *created = rfk_sdk_inference_job_create (sdk, body);
    json_decref (body);
    if (!created)
        s_sdk_fail (sdk, "inference job create");
    json_decref (created);
    json_t *serving = s_wait_job (platform, "echo", true, "RUNNING", S_SERVE_MS);
    char *host = strdup (json_string_value (json_object_get (serving, "predictor_host")));
    json_decref (serving);
    json_decref (train);
    json_decref (val);
    json_decref (echo);
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
    (void)state;
    s_platform_t platform = {0};
    platform.dir = rfk_test_tmpdir_new ("restart");
    assert_non_null (platform.dir);
    char var[PATH_MAX];
    snprintf (var, sizeof var, "%s/var", platform.dir);
    assert_int_equal (mkdir (var, 0700), 0);
    assert_non_null (realpath (var, platform.var));
    s_up_start (&platform);
    char *host = s_deploy_echo (&platform);
    //  The worker's WorkerReady reaches the predictor just after RUNNING.
    s_answer_wait_t answer = {host};
    assert_true (rfk_test_wait_until (s_answers, &answer, NULL, S_SERVE_MS));
    zhashx_t *before = s_services (&platform);
    assert_int_equal (zhashx_size (before), 2); //  the predictor and its worker
    char *token = strdup (rfk_sdk_token (platform.sdk));

    //  Admin dies without a word; serving goes on.
    rfk_sdk_destroy (&platform.sdk);
    assert_int_equal (kill (platform.pid, SIGKILL), 0);
    assert_int_equal (rfk_test_wait_child (platform.pid, 30000), 128 + SIGKILL);
    for (int query = 0; query < 20; query++) {
        json_t *prediction = NULL;
        assert_int_equal (s_predict (host, &prediction), 200);
        //  Echo answers with the query itself.
        assert_true (json_is_number (json_object_get (prediction, "sepal_length")));
        json_decref (prediction);
    }
    zhashx_t *orphans = s_services (&platform);
    assert_int_equal (zhashx_size (orphans), 2);
    for (const char *pid = (const char *)zhashx_first (before); pid;
         pid = (const char *)zhashx_next (before))
        assert_string_equal (zhashx_lookup (orphans, zhashx_cursor (before)), pid);
    zhashx_destroy (&orphans);

    //  A new admin on the same data dir adopts them.
    s_up_start (&platform);
    s_rehello_wait_t rehello = {&platform, before};
    if (!rfk_test_wait_until (s_all_rehelloed, &rehello, NULL, S_SERVE_MS))
        fail_msg ("not every service said Hello again (logs in %s/logs)", platform.var);
    json_t *job = s_wait_job (&platform, "echo", true, "RUNNING", S_SERVE_MS);
    assert_string_equal (json_string_value (json_object_get (job, "predictor_host")), host);
    json_decref (job);
    zhashx_t *after = s_services (&platform);
    assert_int_equal (zhashx_size (after), 2);
    for (const char *pid = (const char *)zhashx_first (before); pid;
         pid = (const char *)zhashx_next (before))
        assert_string_equal (zhashx_lookup (after, zhashx_cursor (before)), pid);
    zhashx_destroy (&after);
    assert_int_equal (s_predict (host, NULL), 200);
    //  The first admin's token still works: the signing key is kept.
    char url[300];
    snprintf (url, sizeof url, "%s/inference_jobs/echo", platform.http);
    assert_int_equal (s_http ("GET", url, token, NULL, NULL), 200);

    //  SIGTERM stops everything, adopted services too.
    rfk_sdk_destroy (&platform.sdk);
    assert_int_equal (kill (platform.pid, SIGTERM), 0);
    assert_int_equal (rfk_test_wait_child (platform.pid, 60000), 0);
    if (!rfk_test_wait_until (s_all_gone, before, NULL, 30000))
        fail_msg ("a service outlived a clean stop of rafikid up");
    zhashx_t *left = s_services (&platform);
    assert_int_equal (zhashx_size (left), 0);
    zhashx_destroy (&left);
    zhashx_destroy (&before);
    free (token);
    free (host);
    rfk_test_tmpdir_destroy (&platform.dir);
}

/* Whether a file under <data_dir>/logs has a line holding `what`. */
typedef struct {
    s_platform_t *platform; /* the platform */
    const char *what;       /* the text looked for */
} s_log_wait_t;

static bool
s_some_log_says (void *arg)
{
    s_log_wait_t *wait = (s_log_wait_t *)arg;
    char dir_path[PATH_MAX + 8];
    snprintf (dir_path, sizeof dir_path, "%s/logs", wait->platform->var);
    DIR *dir = opendir (dir_path);
    struct dirent *entry;
    bool found = false;
    while (dir && !found && (entry = readdir (dir))) {
        char path[PATH_MAX * 2];
        snprintf (path, sizeof path, "%s/%s", dir_path, entry->d_name);
        FILE *file = fopen (path, "r");
        char line[4096];
        while (file && !found && fgets (line, sizeof line, file))
            found = strstr (line, wait->what) != NULL;
        if (file)
            fclose (file);
    }
    if (dir)
        closedir (dir);
    return found;
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
    (void)state;
    s_platform_t platform = {0};
    platform.dir = rfk_test_tmpdir_new ("restart-train");
    assert_non_null (platform.dir);
    char var[PATH_MAX];
    snprintf (var, sizeof var, "%s/var", platform.dir);
    assert_int_equal (mkdir (var, 0700), 0);
    assert_non_null (realpath (var, platform.var));
    s_up_start (&platform);
    rfk_sdk_t *sdk = platform.sdk;
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
    //  One trial of 5 s: long enough to kill admin in its middle.
    json_t *body = json_pack (
        "{s:s, s:s, s:O, s:O, s:[O], s:{s:i}, s:{s:s, s:s}}", "app", "sleepy", "task",
        "TABULAR_CLASSIFICATION", "train_dataset_id", json_object_get (train, "id"),
        "val_dataset_id", json_object_get (val, "id"), "model_ids", json_object_get (sleepy, "id"),
        "budget", "MODEL_TRIAL_COUNT", 1, "train_args", "sleepy_ms", "5000", "sleepy_steps", "1");
    json_t *job = rfk_sdk_train_job_create (sdk, body);
    json_decref (body);
    if (!job)
        s_sdk_fail (sdk, "train job create");
    json_decref (job);
    s_trials_wait_t trials = {&platform, NULL};
    if (!rfk_test_wait_until (s_trial_running, &trials, NULL, S_TRAIN_MS))
        fail_msg ("the trial never ran (logs in %s/logs)", platform.var);
    char *trial_id = strdup (json_string_value (
        json_object_get (json_array_get (json_object_get (trials.trials, "trials"), 0), "id")));
    json_decref (trials.trials);

    //  Admin dies mid-trial; the trial ends while no admin runs.
    rfk_sdk_destroy (&platform.sdk);
    assert_int_equal (kill (platform.pid, SIGKILL), 0);
    assert_int_equal (rfk_test_wait_child (platform.pid, 30000), 128 + SIGKILL);
    s_log_wait_t finished = {.platform = &platform, .what = "trial-finished"};
    if (!rfk_test_wait_until (s_some_log_says, &finished, NULL, 60000))
        fail_msg ("the trial did not end (logs in %s/logs)", platform.var);

    //  The next admin gets the result once, and the job completes.
    s_up_start (&platform);
    json_decref (s_wait_job (&platform, "sleepy", false, "STOPPED", S_TRAIN_MS));
    json_t *listed = rfk_sdk_train_job_trials (platform.sdk, "sleepy", -1, 0, 0, false, 0);
    assert_non_null (listed);
    json_t *list = json_object_get (listed, "trials");
    assert_int_equal (json_array_size (list), 1);
    json_t *trial = json_array_get (list, 0);
    assert_string_equal (json_string_value (json_object_get (trial, "id")), trial_id);
    assert_string_equal (json_string_value (json_object_get (trial, "status")), "COMPLETED");
    assert_true (json_is_number (json_object_get (trial, "score")));
    json_decref (listed);
    s_log_wait_t delivered = {.platform = &platform, .what = "admin-rehello-accepted"};
    assert_true (s_some_log_says (&delivered));

    rfk_sdk_destroy (&platform.sdk);
    assert_int_equal (kill (platform.pid, SIGTERM), 0);
    assert_int_equal (rfk_test_wait_child (platform.pid, 60000), 0);
    zhashx_t *left = s_services (&platform);
    if (!rfk_test_wait_until (s_all_gone, left, NULL, 30000))
        fail_msg ("a service outlived a clean stop of rafikid up");
    zhashx_destroy (&left);
    json_decref (train);
    json_decref (val);
    json_decref (sleepy);
    free (trial_id);
    rfk_test_tmpdir_destroy (&platform.dir);
}

/* The RAFIKI_SERVICE_ROLE in a process's environment, or "". */
static void
s_role_of (const char *pid, char *role, size_t size)
{
    char path[64], env[16384];
    snprintf (path, sizeof path, "/proc/%s/environ", pid);
    role[0] = 0;
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    size_t n = fread (env, 1, sizeof env - 1, file);
    fclose (file);
    env[n] = 0;
    for (size_t at = 0; at < n; at += strlen (env + at) + 1)
        if (strncmp (env + at, "RAFIKI_SERVICE_ROLE=", 20) == 0)
            snprintf (role, size, "%s", env + at + 20);
}

/*  A service that died while admin was away (its pid gone) is not adopted:
    the next admin marks it ERRORED and its job rolls up as for any failure
    (the inference job ERRORED, its predictor stopped). */
static void
test_lost_service_fails_its_job (void **state)
{
    (void)state;
    s_platform_t platform = {0};
    platform.dir = rfk_test_tmpdir_new ("restart-lost");
    assert_non_null (platform.dir);
    char var[PATH_MAX];
    snprintf (var, sizeof var, "%s/var", platform.dir);
    assert_int_equal (mkdir (var, 0700), 0);
    assert_non_null (realpath (var, platform.var));
    s_up_start (&platform);
    char *host = s_deploy_echo (&platform);
    zhashx_t *before = s_services (&platform);
    assert_int_equal (zhashx_size (before), 2);
    int worker = 0;
    for (const char *pid = (const char *)zhashx_first (before); pid;
         pid = (const char *)zhashx_next (before)) {
        char role[32];
        s_role_of (pid, role, sizeof role);
        if (streq (role, "inference"))
            worker = atoi (pid);
    }
    assert_true (worker > 0);

    rfk_sdk_destroy (&platform.sdk);
    assert_int_equal (kill (platform.pid, SIGKILL), 0);
    assert_int_equal (rfk_test_wait_child (platform.pid, 30000), 128 + SIGKILL);
    assert_int_equal (kill (worker, SIGKILL), 0);
    zhashx_t *dead = zhashx_new ();
    char text[16];
    snprintf (text, sizeof text, "%d", worker);
    zhashx_insert (dead, "worker", text);
    assert_true (rfk_test_wait_until (s_all_gone, dead, NULL, 30000));
    zhashx_destroy (&dead);

    s_up_start (&platform);
    json_decref (s_wait_job (&platform, "echo", true, "ERRORED", S_SERVE_MS));
    //  Its predictor is stopped with it.
    if (!rfk_test_wait_until (s_all_gone, before, NULL, S_SERVE_MS))
        fail_msg ("the predictor of an ERRORED job still runs (logs in %s/logs)", platform.var);

    rfk_sdk_destroy (&platform.sdk);
    assert_int_equal (kill (platform.pid, SIGTERM), 0);
    assert_int_equal (rfk_test_wait_child (platform.pid, 60000), 0);
    zhashx_destroy (&before);
    free (host);
    rfk_test_tmpdir_destroy (&platform.dir);
}

int
main (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_serving_outlives_admin),
        cmocka_unit_test (test_trial_result_while_admin_away),
        cmocka_unit_test (test_lost_service_fails_its_job),
    };
    int failed = cmocka_run_group_tests (tests, NULL, NULL);
    curl_global_cleanup ();
    return failed;
}
