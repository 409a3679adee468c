/*  test/integration/launcher/test_swarm.c: the swarm launcher against a real Docker engine
    in swarm mode (suite `swarm`).

    Needs a Docker engine that is a swarm manager: test/servers/dockerd starts one under
    test/run and exports RAFIKI_TEST_DOCKER_SOCKET; by hand, /var/run/docker.sock is tried.
    Without one the cases are skipped. The group setup builds the image with
    deploy/build-image from this build (rafikid, templates, their libraries) and creates an
    overlay network; every case checks through the Engine API what it left behind.

    - usage: a `rafikid noop` service on the overlay network (dnsrr): RUNNING, its logs,
      its secret a Docker secret (not in env or args), stop -> STOPPING -> STOPPED, service
      and secret gone, logs saved;
    - a service that keeps failing: RESTARTING, then ERRORED with the exit code;
    - an image that does not exist: ERRORED naming the image;
    - engine errors: no engine, no network, a bad spec;
    - reconcile after an "admin restart" (a child process that started services and died):
      known ones adopted, unknown ones removed, vanished ones reported;
    - a sub train job whose advisor and trainers are swarm services talking to a fake admin
      (host network, so that they reach it on 127.0.0.1): one trainer's container is killed
      mid-trial; swarm restarts it, the job finishes, no trial stays RUNNING, every service
      ends STOPPED and its Docker service is gone.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rfk_test.h"
#include "rfk_test_admin.h"
#include "rafiki/template.h"
#include "rfk_launcher_swarm.h"

#define S_IMAGE "rafiki-c:swarm-test"
#define S_NETWORK "rafiki-swarm-test"
#define S_INSTANCE "swarm-test"
#define S_LOCK_WAIT_MS 240000 /* the longest wait for another test process to free the engine */

static const char *s_socket; //  the engine's socket
static char s_data_dir[512]; //  data dir shared by test and services (same path inside)
static bool s_ready;         //  the engine, the image and the network are there

/* ---- the Engine API, for checks ------------------------------------------------------------ */

static size_t
s_collect (char *data, size_t size, size_t count, void *arg)
{
    char **buffer = (char **)arg;
    size_t have = *buffer ? strlen (*buffer) : 0;
    char *grown = realloc (*buffer, have + size * count + 1);
    if (!grown)
        return 0;
    memcpy (grown + have, data, size * count);
    grown[have + size * count] = '\0';
    *buffer = grown;
    return size * count;
}

//  One call; returns the HTTP status (0: unreachable), the body as JSON in *answer if asked.
static long
s_engine (const char *method, const char *path, const char *body, json_t **answer)
{
    CURL *curl = curl_easy_init ();
    char url[2048];
    snprintf (url, sizeof url, "http://docker%s", path);
    char *buffer = NULL;
    curl_easy_setopt (curl, CURLOPT_UNIX_SOCKET_PATH, s_socket);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &buffer);
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    if (body)
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
    long status = 0;
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    if (answer)
        *answer = buffer ? json_loads (buffer, JSON_DECODE_ANY, NULL) : NULL;
    free (buffer);
    return status;
}

//  The Docker services labelled with our instance.
static size_t
s_our_services (void)
{
    json_t *list = NULL;
    s_engine ("GET",
              "/services?filters=%7B%22label%22%3A%5B%22rafiki.instance%3D" S_INSTANCE "%22%5D%7D",
              NULL, &list);
    size_t count = json_array_size (list);
    json_decref (list);
    return count;
}

static bool
s_exists (const char *kind, const char *name)
{
    char path[256];
    snprintf (path, sizeof path, "/%s/%s", kind, name);
    return s_engine ("GET", path, NULL, NULL) == 200;
}

//  The container of a service's running task, or "".
static void
s_container_of (const char *service, char *container, size_t size)
{
    char path[512];
    snprintf (path, sizeof path,
              "/tasks?filters=%%7B%%22service%%22%%3A%%5B%%22%s%%22%%5D%%2C%%22desired-state%%22%%"
              "3A%%5B%%22running%%22%%5D%%7D",
              service);
    json_t *tasks = NULL;
    s_engine ("GET", path, NULL, &tasks);
    container[0] = '\0';
    size_t index;
    json_t *task;
    json_array_foreach (tasks, index, task)
    {
        json_t *status = json_object_get (task, "Status");
        const char *state = json_string_value (json_object_get (status, "State"));
        const char *id = json_string_value (
            json_object_get (json_object_get (status, "ContainerStatus"), "ContainerID"));
        if (state && !strcmp (state, "running") && id)
            snprintf (container, size, "%s", id);
    }
    json_decref (tasks);
}

/* ---- events and the loop -------------------------------------------------------------------- */

typedef struct {
    char id[64];
    rfk_launcher_state_t state;
    char reason[256];
} s_event_t;

static s_event_t s_events[256];
static int s_n_events;

static void
s_on_event (void *arg, const char *id, rfk_launcher_state_t state, const char *reason)
{
    (void)arg;
    if (s_n_events < 256) {
        s_event_t *event = &s_events[s_n_events++];
        snprintf (event->id, sizeof event->id, "%s", id);
        event->state = state;
        snprintf (event->reason, sizeof event->reason, "%s", reason);
    }
}

//  The reason of the first event of id in state, or NULL.
static const char *
s_event (const char *id, rfk_launcher_state_t state)
{
    for (int i = 0; i < s_n_events; i++)
        if (!strcmp (s_events[i].id, id) && s_events[i].state == state)
            return s_events[i].reason;
    return NULL;
}

//  Drive the launcher as admin would: sleep until its next deadline (at
//  most timeout_ms; 100 ms without one), then tick.
static void
s_drive (void *arg, int timeout_ms)
{
    rfk_launcher_t *launcher = arg;
    int64_t deadline = rfk_launcher_next_deadline (launcher);
    int64_t wait = deadline < 0 ? 100 : deadline - rfk_launcher_now ();
    if (wait > timeout_ms)
        wait = timeout_ms;
    poll (NULL, 0, wait > 0 ? (int)wait : 0);
    rfk_launcher_tick (launcher, rfk_launcher_now ());
}

typedef struct {
    rfk_launcher_t *launcher;   //  the launcher
    const char *id;             //  the service
    rfk_launcher_state_t state; //  the state waited for
    const char *text;           //  or the text waited for in its log
} s_service_wait_t;

static bool
s_state_reached (void *arg)
{
    s_service_wait_t *wait = arg;
    return s_event (wait->id, wait->state) != NULL;
}

static bool
s_log_holds (void *arg)
{
    s_service_wait_t *wait = arg;
    char *logs = rfk_launcher_logs (wait->launcher, wait->id, 0);
    bool found = logs && strstr (logs, wait->text);
    free (logs);
    return found;
}

//  Drive the launcher until id reached state.
static bool
s_wait_state (rfk_launcher_t *launcher, const char *id, rfk_launcher_state_t state, int timeout_ms)
{
    s_service_wait_t wait = {launcher, id, state, NULL};
    return rfk_test_wait_for (s_state_reached, &wait, s_drive, launcher, timeout_ms);
}

//  Drive the launcher until the service's Docker log holds text.
static bool
s_wait_log (rfk_launcher_t *launcher, const char *id, const char *text, int timeout_ms)
{
    s_service_wait_t wait = {launcher, id, 0, text};
    return rfk_test_wait_for (s_log_holds, &wait, s_drive, launcher, timeout_ms);
}

static void
s_config (rfk_launcher_swarm_config_t *config)
{
    rfk_launcher_swarm_config_defaults (config);
    config->docker_socket = s_socket;
    config->image = S_IMAGE;
    config->network = S_NETWORK;
    config->data_dir = s_data_dir;
    config->data_target = s_data_dir;
    config->instance = S_INSTANCE;
    config->name_prefix = "rfktest-";
    config->admin_host = "127.0.0.1";
    config->max_restarts = 1;
    config->backoff_ms = 100;
    config->grace_ms = 2000;
    config->poll_ms = 200;
}

static rfk_launcher_t *
s_launcher_new (rfk_launcher_swarm_config_t *config)
{
    char error[512] = "";
    rfk_launcher_t *launcher =
        rfk_launcher_new_swarm (config, s_on_event, NULL, error, sizeof error);
    if (!launcher)
        fail_msg ("no swarm launcher: %s", error);
    return launcher;
}

//  Sanitizer builds in a container: no leak checks (LeakSanitizer needs ptrace).
static const char *s_env[] = {"ASAN_OPTIONS=detect_leaks=0", "RAFIKI_LOG_STDERR=true", NULL};

/* ---- cases -------------------------------------------------------------------------------- */

/* Usage: start a service, follow it, read its logs, stop it; nothing is left behind. */
static void
test_usage (void **state)
{
    (void)state;
    if (!s_ready)
        skip ();
    rfk_launcher_swarm_config_t config;
    s_config (&config);
    rfk_launcher_t *launcher = s_launcher_new (&config);
    assert_string_equal (rfk_launcher_backend_name (launcher), "swarm");

    rfk_launcher_spec_t spec = {.id = "noop-1",
                                .role = "noop",
                                .secret = "s3cret-noop-1",
                                .env = s_env,
                                .cpus = 0.5,
                                .memory_bytes = 256 << 20,
                                .published_port = 18931};
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    assert_non_null (s_event ("noop-1", RFK_LAUNCHER_RUNNING));
    assert_int_equal (rfk_launcher_live (launcher), 1);
    assert_true (s_wait_log (launcher, "noop-1", "started role=noop", 60000));

    //  What swarm holds: labels, dnsrr with a host-mode port, limits, the secret as a Docker
    //  secret named by RAFIKI_SECRET_FILE, and the secret nowhere in the spec.
    json_t *service = NULL;
    assert_int_equal (s_engine ("GET", "/services/rfktest-noop-1", NULL, &service), 200);
    char *text = json_dumps (service, JSON_COMPACT);
    assert_null (strstr (text, "s3cret"));
    assert_non_null (strstr (text, "\"rafiki.service-id\":\"noop-1\""));
    assert_non_null (strstr (text, "\"Mode\":\"dnsrr\""));
    assert_non_null (strstr (text, "\"PublishMode\":\"host\""));
    assert_non_null (strstr (text, "\"PublishedPort\":18931"));
    assert_non_null (strstr (text, "RAFIKI_SECRET_FILE=/run/secrets/rafiki-secret"));
    assert_non_null (strstr (text, "\"NanoCPUs\":500000000"));
    free (text);
    json_decref (service);
    assert_true (s_exists ("secrets", "rfktest-noop-1"));
    assert_int_equal (rfk_launcher_start (launcher, &spec), -1);
    assert_non_null (strstr (rfk_launcher_error (launcher), "already live"));

    rfk_launcher_status_t status;
    assert_int_equal (rfk_launcher_status (launcher, "noop-1", &status), 0);
    assert_int_equal (status.state, RFK_LAUNCHER_RUNNING);
    assert_int_equal (status.restarts, 0);

    assert_int_equal (rfk_launcher_stop (launcher, "noop-1"), 0);
    assert_non_null (s_event ("noop-1", RFK_LAUNCHER_STOPPING));
    assert_true (s_wait_state (launcher, "noop-1", RFK_LAUNCHER_STOPPED, 30000));
    assert_int_equal (rfk_launcher_live (launcher), 0);
    assert_false (s_exists ("services", "rfktest-noop-1"));
    assert_false (s_exists ("secrets", "rfktest-noop-1"));
    //  The logs outlive the Docker service: saved under <data_dir>/logs/<id>.log.
    char *logs = rfk_launcher_logs (launcher, "noop-1", 0);
    assert_non_null (logs);
    assert_non_null (strstr (logs, "stopping role=noop signal=SIGTERM"));
    free (logs);
    assert_int_equal (rfk_launcher_forget (launcher, "noop-1"), 0);
    rfk_launcher_destroy (&launcher);
    assert_int_equal (s_our_services (), 0);
}

/* A service that always fails is restarted by swarm, then ERRORED with its exit code. */
static void
test_failing_service (void **state)
{
    (void)state;
    if (!s_ready)
        skip ();
    rfk_launcher_swarm_config_t config;
    s_config (&config);
    rfk_launcher_t *launcher = s_launcher_new (&config);
    //  An unknown role: rafikid exits with status 2.
    rfk_launcher_spec_t spec = {
        .id = "bad-role", .role = "nosuchrole", .secret = "x", .env = s_env};
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
    assert_true (s_wait_state (launcher, "bad-role", RFK_LAUNCHER_ERRORED, 60000));
    assert_non_null (s_event ("bad-role", RFK_LAUNCHER_RESTARTING));
    const char *reason = s_event ("bad-role", RFK_LAUNCHER_ERRORED);
    assert_non_null (strstr (reason, "non-zero exit (2)"));
    assert_non_null (strstr (reason, "gave up after 1 restart"));
    rfk_launcher_status_t status;
    assert_int_equal (rfk_launcher_status (launcher, "bad-role", &status), 0);
    assert_int_equal (status.exit_code, 2);
    char *logs = rfk_launcher_logs (launcher, "bad-role", 0);
    assert_non_null (logs);
    assert_non_null (strstr (logs, "unknown role 'nosuchrole'"));
    free (logs);
    assert_false (s_exists ("services", "rfktest-bad-role"));
    rfk_launcher_destroy (&launcher);
    assert_int_equal (s_our_services (), 0);
}

/* Engine errors are clear errors: no engine, no network, a name swarm cannot take. */
static void
test_engine_errors (void **state)
{
    (void)state;
    if (!s_ready)
        skip ();
    rfk_launcher_swarm_config_t config;
    char error[512];
    s_config (&config);
    config.docker_socket = "/nonexistent/docker.sock";
    assert_null (rfk_launcher_new_swarm (&config, NULL, NULL, error, sizeof error));
    assert_non_null (strstr (error, "cannot reach the Docker engine at /nonexistent/docker.sock"));
    s_config (&config);
    config.network = "rafiki-no-such-network";
    assert_null (rfk_launcher_new_swarm (&config, NULL, NULL, error, sizeof error));
    assert_non_null (strstr (error, "network rafiki-no-such-network does not exist"));
    s_config (&config);
    config.data_dir = NULL;
    assert_null (rfk_launcher_new_swarm (&config, NULL, NULL, error, sizeof error));
    assert_non_null (strstr (error, "data_dir"));

    s_config (&config);
    rfk_launcher_t *launcher = s_launcher_new (&config);
    char long_id[80];
    memset (long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    rfk_launcher_spec_t spec = {.id = long_id, .role = "noop", .secret = "x"};
    assert_int_equal (rfk_launcher_start (launcher, &spec), -1);
    assert_non_null (strstr (rfk_launcher_error (launcher), "at most 63 characters"));
    //  An image the engine refuses outright: a clear error, nothing left behind.
    spec = (rfk_launcher_spec_t){
        .id = "bad-image", .role = "noop", .secret = "x", .image = "Not A Valid Image Name"};
    assert_int_equal (rfk_launcher_start (launcher, &spec), -1);
    assert_non_null (strstr (rfk_launcher_error (launcher), "cannot create Docker service"));
    assert_false (s_exists ("secrets", "rfktest-bad-image"));
    assert_int_equal (rfk_launcher_stop (launcher, "never-started"), -1);
    assert_null (rfk_launcher_logs (launcher, "never-started", 10));
    rfk_launcher_destroy (&launcher);
    assert_int_equal (s_our_services (), 0);
}

/* Admin restarts: the services it knows are adopted, unknown ones removed, vanished ones
   reported. The "old admin" is a child process that starts services and dies. */
static void
test_reconcile (void **state)
{
    (void)state;
    if (!s_ready)
        skip ();
    pid_t child = fork ();
    assert_true (child >= 0);
    if (child == 0) {
        dup2 (STDERR_FILENO, STDOUT_FILENO); //  keep the TAP stream clean
        rfk_launcher_swarm_config_t config;
        s_config (&config);
        char error[512];
        rfk_launcher_t *launcher =
            rfk_launcher_new_swarm (&config, NULL, NULL, error, sizeof error);
        if (!launcher)
            _exit (1);
        rfk_launcher_spec_t known = {.id = "known", .role = "noop", .secret = "k", .env = s_env};
        rfk_launcher_spec_t stray = {.id = "stray", .role = "noop", .secret = "s", .env = s_env};
        int rc = rfk_launcher_start (launcher, &known) || rfk_launcher_start (launcher, &stray);
        _exit (rc ? 2 : 0); //  dies without stopping them, as a crashed admin would
    }
    int status = 0;
    assert_int_equal (waitpid (child, &status, 0), child);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    assert_true (s_exists ("services", "rfktest-known"));
    assert_true (s_exists ("services", "rfktest-stray"));

    s_n_events = 0;
    const char *adopt[] = {"known", "vanished", NULL};
    rfk_launcher_swarm_config_t config;
    s_config (&config);
    config.adopt = adopt;
    rfk_launcher_t *launcher = s_launcher_new (&config);
    assert_non_null (strstr (s_event ("known", RFK_LAUNCHER_RUNNING), "adopted"));
    assert_non_null (strstr (s_event ("vanished", RFK_LAUNCHER_ERRORED), "vanished"));
    assert_null (s_event ("stray", RFK_LAUNCHER_RUNNING));
    assert_false (s_exists ("services", "rfktest-stray"));
    assert_false (s_exists ("secrets", "rfktest-stray"));
    assert_int_equal (rfk_launcher_live (launcher), 1);
    assert_true (s_wait_log (launcher, "known", "started role=noop", 60000));
    rfk_launcher_stop_all (launcher);
    assert_true (s_wait_state (launcher, "known", RFK_LAUNCHER_STOPPED, 30000));
    assert_false (s_exists ("secrets", "rfktest-known"));
    rfk_launcher_destroy (&launcher);
    assert_int_equal (s_our_services (), 0);
}

/* ---- a sub train job of swarm services ------------------------------------------------------- */

typedef struct {
    rfk_launcher_t *launcher;
    const char *trainer; //  wait for this trainer to hold a RUNNING trial, or NULL
    char *container;     //  its container, once swarm knows it (128 bytes)
} s_job_t;

static void
s_container_of (const char *service, char *container, size_t size);

static bool
s_container_known (rfk_test_admin_t *admin, void *arg)
{
    (void)admin;
    s_job_t *job = (s_job_t *)arg;
    rfk_launcher_tick (job->launcher, rfk_launcher_now ());
    s_container_of ("rfktest-trainer-1", job->container, 128);
    return job->container[0] != '\0';
}

static bool
s_advice_known (rfk_test_admin_t *admin, void *arg)
{
    rfk_launcher_tick (((s_job_t *)arg)->launcher, rfk_launcher_now ());
    return rfk_test_admin_advice (admin) != NULL;
}

static bool
s_trial_running (rfk_test_admin_t *admin, void *arg)
{
    s_job_t *job = (s_job_t *)arg;
    rfk_launcher_tick (job->launcher, rfk_launcher_now ());
    const char *id;
    json_t *trial;
    json_object_foreach (rfk_test_admin_trials (admin), id, trial)
    {
        const char *status = json_string_value (json_object_get (trial, "status"));
        const char *worker = json_string_value (json_object_get (trial, "worker"));
        if (status && worker && !strcmp (status, "RUNNING") && !strcmp (worker, job->trainer))
            return true;
    }
    return false;
}

static bool
s_all_stopped (rfk_test_admin_t *admin, void *arg)
{
    (void)admin;
    s_job_t *job = (s_job_t *)arg;
    rfk_launcher_tick (job->launcher, rfk_launcher_now ());
    return rfk_launcher_live (job->launcher) == 0;
}

static void
s_copy_file (const char *from, const char *to)
{
    FILE *in = fopen (from, "rb");
    FILE *out = fopen (to, "wb");
    assert_non_null (in);
    assert_non_null (out);
    char buffer[65536];
    size_t got;
    while ((got = fread (buffer, 1, sizeof buffer, in)) > 0)
        assert_int_equal (fwrite (buffer, 1, got, out), got);
    fclose (in);
    fclose (out);
}

static void
s_start (rfk_launcher_t *launcher, rfk_test_admin_t *admin, const char *id, const char *role,
         json_t *config)
{
    char secret[64];
    snprintf (secret, sizeof secret, "secret-%s", id);
    rfk_test_admin_add_service (admin, id, secret, config);
    const char *env[] = {
        "ASAN_OPTIONS=detect_leaks=0",          "RAFIKI_BUS_HEARTBEAT_INTERVAL_MS=100",
        "RAFIKI_BUS_HEARTBEAT_TIMEOUT_MS=1500", "RAFIKI_BUS_REQUEST_TIMEOUT_MS=3000",
        "RAFIKI_BUS_REQUEST_RETRIES=2",         NULL};
    rfk_launcher_spec_t spec = {.id = id, .role = role, .secret = secret, .env = env};
    //  What of the data dir the service mounts (nothing else of it): a trainer its template
    //  and datasets read-only, params/ read-write (made for the services' uid, 10001).
    char params[600];
    snprintf (params, sizeof params, "%s/params", s_data_dir);
    const char *ro[] = {json_string_value (json_object_get (config, "model_path")),
                        json_string_value (json_object_get (config, "train_dataset_path")),
                        json_string_value (json_object_get (config, "val_dataset_path"))};
    const char *rw[] = {params};
    rfk_sandbox_spec_t parts = {.ro_paths = ro, .n_ro = 1, .rw_paths = rw};
    if (!strcmp (role, "trainer")) {
        mkdir (params, 0700);
        assert_int_equal (chown (params, 10001, 10001), 0);
        parts.n_ro = 3;
        parts.n_rw = 1;
    }
    spec.sandbox = &parts;
    assert_int_equal (rfk_launcher_start (launcher, &spec), 0);
}

/* The knob table of the template at path, as admin stores it at upload
   and sends the advisor (which never opens the template). */
static json_t *
s_knob_table (const char *path)
{
    char err[512] = "";
    rfk_template_t *tpl = rfk_template_open (path, NULL, err, sizeof err);
    if (!tpl)
        fail_msg ("%s", err);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    json_t *table = rfk_knob_table_to_json (api->knobs, api->n_knobs);
    rfk_template_close (&tpl);
    assert_non_null (table);
    return table;
}

/* An advisor and two trainers as swarm services; one trainer's container is killed in the
   middle of a trial: swarm restarts it, the job still finishes, no trial stays RUNNING, and
   every Docker service is gone at the end. */
static void
test_train_job_with_a_killed_trainer (void **state)
{
    (void)state;
    if (!s_ready)
        skip ();
    char template[1024], train[1024], val[1024];
    snprintf (template, sizeof template, "%s/sleepy.so", s_data_dir);
    snprintf (train, sizeof train, "%s/iris-train.csv", s_data_dir);
    snprintf (val, sizeof val, "%s/iris-val.csv", s_data_dir);
    s_copy_file (SLEEPY_TEMPLATE, template);
    s_copy_file (RFK_TEST_DATA "/iris-train.csv", train);
    s_copy_file (RFK_TEST_DATA "/iris-val.csv", val);

    rfk_bus_opts_t bus;
    rfk_bus_opts_defaults (&bus);
    bus.heartbeat_interval_ms = 100;
    bus.heartbeat_timeout_ms = 1500;
    bus.request_timeout_ms = 3000;
    bus.request_retries = 2;
    rfk_test_admin_t *admin = rfk_test_admin_new (&bus);
    rfk_launcher_swarm_config_t config;
    s_config (&config);
    config.network = "host"; //  so that they reach the fake admin on 127.0.0.1
    config.admin_service_port = rfk_test_admin_port (admin);
    config.max_restarts = 2;
    rfk_launcher_t *launcher = s_launcher_new (&config);
    s_job_t job = {launcher, NULL, NULL};

    json_t *advisor =
        json_pack ("{s:s, s:s, s:s, s:s, s:s, s:o, s:{s:i}, s:{s:i, s:b}, s:[s], s:{s:{s:i, s:i}}}",
                   "service_id", "advisor-1", "service_type", "ADVISOR", "task",
                   "TABULAR_CLASSIFICATION", "sub_train_job_id", "sub-job-1", "model_path",
                   template, "knobs", s_knob_table (SLEEPY_TEMPLATE), "budget", "MODEL_TRIAL_COUNT",
                   6, "train_args", "seed", 5, "early_stop", 0, "bind_endpoints",
                   "tcp://127.0.0.1:*", "config", "fixed_knobs", "ms", 1500, "steps", 1);
    assert_non_null (advisor);
    s_start (launcher, admin, "advisor-1", "advisor", advisor);
    assert_true (rfk_test_admin_wait (admin, s_advice_known, &job, 60000));
    for (int i = 1; i <= 2; i++) {
        char id[32];
        snprintf (id, sizeof id, "trainer-%d", i);
        json_t *trainer = json_pack (
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:{}, s:s, s:s, s:{s:i}}", "service_id", id,
            "service_type", "TRAIN", "task", "TABULAR_CLASSIFICATION", "model_path", template,
            "train_dataset_path", train, "val_dataset_path", val, "train_args", "advisor_endpoint",
            rfk_test_admin_advice (admin), "worker_id", id, "config", "trial_timeout_s", 60);
        s_start (launcher, admin, id, "trainer", trainer);
    }
    job.trainer = "trainer-1";
    assert_true (rfk_test_admin_wait (admin, s_trial_running, &job, 60000));
    //  Swarm learns that the task runs a moment after the container does.
    char container[128] = "";
    job.container = container;
    assert_true (rfk_test_admin_wait (admin, s_container_known, &job, 30000));
    char path[256];
    snprintf (path, sizeof path, "/containers/%s/kill", container);
    assert_int_equal (s_engine ("POST", path, NULL, NULL), 204);

    //  The budget runs out; every service stops by itself (exit 0) and is removed.
    assert_true (rfk_test_admin_wait (admin, s_all_stopped, &job, 120000));
    const char *restarting = s_event ("trainer-1", RFK_LAUNCHER_RESTARTING);
    assert_non_null (restarting);
    assert_non_null (strstr (restarting, "non-zero exit (137)"));
    assert_null (s_event ("trainer-1", RFK_LAUNCHER_ERRORED));
    assert_non_null (s_event ("trainer-1", RFK_LAUNCHER_STOPPED));
    assert_non_null (s_event ("trainer-2", RFK_LAUNCHER_STOPPED));
    assert_non_null (s_event ("advisor-1", RFK_LAUNCHER_STOPPED));
    assert_int_equal (json_object_size (rfk_test_admin_trials (admin)), 6);
    assert_int_equal (rfk_test_admin_trials_with (admin, "PENDING"), 0);
    assert_int_equal (rfk_test_admin_trials_with (admin, "RUNNING"), 0);
    assert_true (rfk_test_admin_trials_with (admin, "COMPLETED") >= 5);
    assert_string_equal (rfk_test_admin_status (admin, "advisor-1"), "STOPPED");
    assert_int_equal (rfk_test_admin_count (admin, "SubTrainJobDone"), 1);
    assert_int_equal (s_our_services (), 0);
    rfk_launcher_destroy (&launcher);
    rfk_test_admin_destroy (&admin);
}

/* ---- setup -------------------------------------------------------------------------------- */

static int
s_setup (void **state)
{
    (void)state;
    curl_global_init (CURL_GLOBAL_DEFAULT);
    s_socket = getenv ("RAFIKI_TEST_DOCKER_SOCKET");
    if (!s_socket || !*s_socket)
        s_socket = "/var/run/docker.sock";
    json_t *info = NULL;
    if (s_engine ("GET", "/info", NULL, &info) != 200) {
        fprintf (stderr, "# swarm: no Docker engine at %s: skipping (test/servers/dockerd)\n",
                 s_socket);
        json_decref (info);
        return 0;
    }
    const char *swarm =
        json_string_value (json_object_get (json_object_get (info, "Swarm"), "LocalNodeState"));
    bool active = swarm && !strcmp (swarm, "active");
    json_decref (info);
    if (!active) {
        fprintf (stderr, "# swarm: the engine at %s is not in a swarm: skipping\n", s_socket);
        return 0;
    }
    snprintf (s_data_dir, sizeof s_data_dir, "%s/swarm-test-XXXXXX", RFK_BUILD_DIR);
    if (!mkdtemp (s_data_dir))
        return -1;
    chmod (s_data_dir, 0755);
    char command[2048];
    snprintf (command, sizeof command, "%s/deploy/build-image --build %s --tag %s >/dev/null",
              RFK_SOURCE_DIR, RFK_BUILD_ROOT, S_IMAGE);
    if (system (command) != 0) {
        fprintf (stderr, "# swarm: deploy/build-image failed\n");
        return -1;
    }
    //  Left over by an interrupted run: services first, then the network.
    json_t *list = NULL;
    s_engine ("GET",
              "/services?filters=%7B%22label%22%3A%5B%22rafiki.instance%3D" S_INSTANCE "%22%5D%7D",
              NULL, &list);
    size_t index;
    json_t *item;
    json_array_foreach (list, index, item)
    {
        char path[256];
        snprintf (path, sizeof path, "/services/%s",
                  json_string_value (json_object_get (item, "ID")));
        s_engine ("DELETE", path, NULL, NULL);
    }
    json_decref (list);
    s_engine ("POST", "/networks/create",
              "{\"Name\":\"" S_NETWORK "\",\"Driver\":\"overlay\",\"Attachable\":true}", NULL);
    s_ready = s_exists ("networks", S_NETWORK);
    return s_ready ? 0 : -1;
}

static int
s_teardown (void **state)
{
    (void)state;
    if (s_ready) {
        s_engine ("DELETE", "/networks/" S_NETWORK, NULL, NULL);
        s_engine ("DELETE", "/images/" S_IMAGE, NULL, NULL);
        if (rfk_test_tree_remove (s_data_dir) != 0)
            fprintf (stderr, "# swarm: could not remove %s\n", s_data_dir);
    }
    curl_global_cleanup ();
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_failing_service),
        cmocka_unit_test (test_engine_errors),
        cmocka_unit_test (test_reconcile),
        cmocka_unit_test (test_train_job_with_a_killed_trainer),
    };
    //  No engine that is a swarm manager: skip the whole file, saying why (a TAP plan of 0;
    //  cmocka's "not ok # SKIP" would read as failures).
    curl_global_init (CURL_GLOBAL_DEFAULT);
    s_socket = getenv ("RAFIKI_TEST_DOCKER_SOCKET");
    if (!s_socket || !*s_socket)
        s_socket = "/var/run/docker.sock";
    json_t *info = NULL;
    long status = s_engine ("GET", "/info", NULL, &info);
    const char *swarm =
        json_string_value (json_object_get (json_object_get (info, "Swarm"), "LocalNodeState"));
    bool active = swarm && !strcmp (swarm, "active");
    json_decref (info);
    curl_global_cleanup ();
    if (status != 200 || !active) {
        printf ("1..0 # SKIP %s at %s (test/servers/dockerd starts one)\n",
                status != 200 ? "no Docker engine" : "the engine is not in a swarm", s_socket);
        return 0;
    }
    //  One engine per machine, fixed image tag and names: another test process using it
    //  (a developer's meson test beside a test/run) is waited for, or this file skips.
    if (rfk_test_machine_lock ("swarm", S_LOCK_WAIT_MS) != 0) {
        printf ("1..0 # SKIP another test process held /tmp/rafiki-test-swarm.lock for %d s\n",
                S_LOCK_WAIT_MS / 1000);
        return 0;
    }
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
