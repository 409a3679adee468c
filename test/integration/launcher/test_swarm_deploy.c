/*  test/integration/launcher/test_swarm_deploy.c: Rafiki-C deployed on Docker Swarm, end to
    end (issue 8; suite `swarm`).

    Needs a Docker engine that is a swarm manager (test/servers/dockerd starts one under
    test/run and exports RAFIKI_TEST_DOCKER_SOCKET; by hand /var/run/docker.sock is tried),
    the docker command, and root (swarm-up gives the data directory to the services' uid). Without
    them the file is skipped (a TAP plan of 0), saying why. The group setup builds the image
    from this build with deploy/build-image --with-postgres and runs deploy/swarm-up on a
    fresh data directory and free host ports: PostgreSQL and admin (launcher.backend swarm)
    become swarm services. The cases then use admin's REST API as a user would, and the
    Engine API to see what runs:

    - a train job (iris, the XGBoost zoo template, 2 trials, 2 trainers) whose advisor and
      trainers are Docker services; one trainer's container is killed while the job is
      live; the job still ends STOPPED with completed trials, none PENDING or RUNNING;
    - an inference job whose predictor and worker are Docker services, the predictor's HTTP
      and query ports published in host mode, predictor_host naming its node's address:
      POST /predict through it answers the validation rows with probability vectors that
      are mostly right;
    - no secret of the platform (read out of admin's container) in any `docker service
      inspect` or any file under the data dir; every launched service non-root, read-only,
      without capabilities, mounting parts of the data dir only; a GPU job refused (409);
    - stopping the inference job removes every Docker service admin started; swarm-up again
      with another data dir is refused naming the kept deployment; deploy/swarm-down --purge
      removes admin, PostgreSQL, the network, the secrets and the volume; swarm-up with a
      database volume whose password is gone is refused naming it.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "rfk_test.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_IMAGE "rafiki-c:swarm-deploy-test"
#define S_APP "iris"
#define S_LOCK_WAIT_MS 240000 /* the longest wait for another test process to free the engine */
//  The label admin's swarm launcher puts on its services (swarm.instance: default).
#define S_OUR_SERVICES "/services?filters=%7B%22label%22%3A%5B%22rafiki.instance%3Ddefault%22%5D%7D"

static const char *s_socket;       //  the engine's socket
static char s_data_dir[512];       //  the deployment's data directory
static char s_api[128];            //  http://127.0.0.1:<admin's published HTTP port>
static int s_ports[3];             //  admin's HTTP, command and events ports on the host
static char s_token[2048];         //  the superadmin's
static char s_skip_reason[512];    //  why this machine cannot run the cases, or ""
static bool s_deployed;            //  swarm-up ran (teardown runs swarm-down)
static char s_predictor_host[256]; //  the inference job's, once RUNNING
static char s_password_file[128];  //  the superadmin's password, given to swarm-up

/* ---- small helpers ------------------------------------------------------------------------ */

static int64_t
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

//  Waits between two looks at state only the engine or admin holds (no events to wait on).
static void
s_pause (int ms)
{
    poll (NULL, 0, ms);
}

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

//  One HTTP call: over the engine's socket when unix_socket is set. body is JSON text or
//  NULL; mime a multipart form or NULL. Returns the status (0: unreachable), the answer as
//  JSON in *answer when asked.
static long
s_http (const char *unix_socket, const char *method, const char *url, const char *body,
        curl_mime *mime, json_t **answer)
{
    CURL *curl = curl_easy_init ();
    char *buffer = NULL;
    if (unix_socket)
        curl_easy_setopt (curl, CURLOPT_UNIX_SOCKET_PATH, unix_socket);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &buffer);
    struct curl_slist *headers = NULL;
    if (!mime)
        headers = curl_slist_append (headers, "Content-Type: application/json");
    if (!unix_socket && *s_token) {
        char authorization[2100];
        snprintf (authorization, sizeof authorization, "Authorization: Bearer %s", s_token);
        headers = curl_slist_append (headers, authorization);
    }
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    if (mime)
        curl_easy_setopt (curl, CURLOPT_MIMEPOST, mime);
    else if (body)
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

//  The Engine API.
static long
s_engine (const char *method, const char *path, const char *body, json_t **answer)
{
    char url[2048];
    snprintf (url, sizeof url, "http://docker%s", path);
    return s_http (s_socket, method, url, body, NULL, answer);
}

//  Admin's REST API; body is JSON (stolen) or NULL. Fails the test unless the status is 200.
static json_t *
s_api_call (const char *method, const char *path, json_t *body)
{
    char url[1024];
    snprintf (url, sizeof url, "%s%s", s_api, path);
    char *text = body ? json_dumps (body, JSON_COMPACT) : NULL;
    json_decref (body);
    json_t *answer = NULL;
    long status = s_http (NULL, method, url, text, NULL, &answer);
    free (text);
    if (status != 200) {
        char *shown = answer ? json_dumps (answer, JSON_COMPACT) : NULL;
        fail_msg ("%s %s: HTTP %ld %s", method, path, status, shown ? shown : "");
    }
    return answer;
}

//  POST a file to admin as multipart: field `file_field` plus name, task and extra pairs.
static json_t *
s_upload (const char *path, const char *file_field, const char *file, const char *name,
          const char *extra_name, const char *extra_value)
{
    CURL *curl = curl_easy_init ();
    curl_mime *mime = curl_mime_init (curl);
    curl_mimepart *part = curl_mime_addpart (mime);
    curl_mime_name (part, file_field);
    curl_mime_filedata (part, file);
    const char *fields[][2] = {
        {"name", name}, {"task", "TABULAR_CLASSIFICATION"}, {extra_name, extra_value}};
    for (size_t index = 0; index < 3; index++) {
        if (!fields[index][0])
            continue;
        part = curl_mime_addpart (mime);
        curl_mime_name (part, fields[index][0]);
        curl_mime_data (part, fields[index][1], CURL_ZERO_TERMINATED);
    }
    char url[1024];
    snprintf (url, sizeof url, "%s%s", s_api, path);
    json_t *answer = NULL;
    long status = s_http (NULL, "POST", url, NULL, mime, &answer);
    curl_mime_free (mime);
    curl_easy_cleanup (curl);
    if (status != 200) {
        char *shown = answer ? json_dumps (answer, JSON_COMPACT) : NULL;
        fail_msg ("upload %s to %s: HTTP %ld %s", file, path, status, shown ? shown : "");
    }
    return answer;
}

static const char *
s_str (json_t *object, const char *key)
{
    const char *value = json_string_value (json_object_get (object, key));
    return value ? value : "";
}

//  The status of the train job (or inference job) of S_APP version 1.
static char *
s_job_status (const char *kind)
{
    char path[128];
    snprintf (path, sizeof path, "/%s/" S_APP "/1", kind);
    json_t *job = s_api_call ("GET", path, NULL);
    char *status = strdup (s_str (job, "status"));
    if (!strcmp (kind, "inference_jobs"))
        snprintf (s_predictor_host, sizeof s_predictor_host, "%s", s_str (job, "predictor_host"));
    json_decref (job);
    return status;
}

static bool
s_final (const char *status)
{
    return !strcmp (status, "STOPPED") || !strcmp (status, "ERRORED");
}

//  Waits until the job's status is one of `wanted` (space separated); returns it.
static char *
s_wait_job (const char *kind, const char *wanted, int timeout_ms)
{
    int64_t until = s_now_ms () + timeout_ms;
    while (true) {
        char *status = s_job_status (kind);
        char pattern[64];
        snprintf (pattern, sizeof pattern, " %s ", status);
        char list[256];
        snprintf (list, sizeof list, " %s ", wanted);
        if (strstr (list, pattern) || s_now_ms () > until)
            return status;
        free (status);
        s_pause (200);
    }
}

//  Docker services of admin's launcher with the role label, or all of them (role NULL).
static json_t *
s_our_services (const char *role)
{
    json_t *list = NULL;
    s_engine ("GET", S_OUR_SERVICES, NULL, &list);
    json_t *chosen = json_array ();
    size_t index;
    json_t *service;
    json_array_foreach (list, index, service)
    {
        json_t *labels = json_object_get (json_object_get (service, "Spec"), "Labels");
        if (!role || !strcmp (s_str (labels, "rafiki.role"), role))
            json_array_append (chosen, service);
    }
    json_decref (list);
    return chosen;
}

//  The running containers on this node with a label (name=value): a JSON array.
static json_t *
s_containers (const char *label)
{
    char *escaped = curl_easy_escape (NULL, label, 0);
    char path[512];
    snprintf (path, sizeof path,
              "/containers/json?filters=%%7B%%22label%%22%%3A%%5B%%22%s%%22%%5D%%7D", escaped);
    curl_free (escaped);
    json_t *list = NULL;
    s_engine ("GET", path, NULL, &list);
    if (!json_is_array (list)) {
        json_decref (list);
        list = json_array ();
    }
    return list;
}

//  The training set, made 100 times larger (so that trials take a while): a file in the
//  data directory's parent, removed by the caller.
static void
s_big_train_set (char *path, size_t size)
{
    snprintf (path, size, "%s.train.csv", s_data_dir);
    FILE *in = fopen (RFK_TEST_DATA "/iris-train.csv", "r");
    FILE *out = fopen (path, "w");
    assert_non_null (in);
    assert_non_null (out);
    char header[256];
    assert_non_null (fgets (header, sizeof header, in));
    fputs (header, out);
    char rows[64][128];
    size_t n_rows = 0;
    while (n_rows < 64 && fgets (rows[n_rows], sizeof rows[0], in))
        n_rows++;
    for (int copy = 0; copy < 100; copy++)
        for (size_t row = 0; row < n_rows; row++)
            fputs (rows[row], out);
    fclose (in);
    fclose (out);
}

static bool
s_service_exists (const char *name)
{
    char path[256];
    snprintf (path, sizeof path, "/services/%s", name);
    return s_engine ("GET", path, NULL, NULL) == 200;
}

//  A TCP port free on this host now (swarm publishes admin's ports on it).
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl (INADDR_ANY);
    socklen_t length = sizeof address;
    int port = 0;
    if (fd >= 0 && bind (fd, (struct sockaddr *)&address, sizeof address) == 0 &&
        getsockname (fd, (struct sockaddr *)&address, &length) == 0)
        port = ntohs (address.sin_port);
    if (fd >= 0)
        close (fd);
    return port;
}

//  The cases run in order on one deployment: each needs it still up.
#define S_REQUIRE_DEPLOYED()                                                                       \
    do {                                                                                           \
        if (!s_deployed)                                                                           \
            fail_msg ("Rafiki-C is not deployed (deploy/swarm-up failed or ran down)");            \
    } while (0)

//  The advertise address of the node the predictor's task runs on, from the Engine API.
static bool
s_predictor_node (char *addr, size_t size)
{
    json_t *predictors = s_our_services ("predictor");
    const char *id = s_str (json_array_get (predictors, 0), "ID");
    char path[512];
    snprintf (path, sizeof path,
              "/tasks?filters=%%7B%%22service%%22%%3A%%5B%%22%s%%22%%5D%%2C%%22desired-state%%22"
              "%%3A%%5B%%22running%%22%%5D%%7D",
              id);
    json_decref (predictors);
    json_t *tasks = NULL;
    s_engine ("GET", path, NULL, &tasks);
    const char *node_id = s_str (json_array_get (tasks, 0), "NodeID");
    snprintf (path, sizeof path, "/nodes/%s", node_id);
    json_decref (tasks);
    json_t *node = NULL;
    bool found = s_engine ("GET", path, NULL, &node) == 200;
    snprintf (addr, size, "%s", s_str (json_object_get (node, "Status"), "Addr"));
    json_decref (node);
    return found && *addr;
}

/* ---- secrets ------------------------------------------------------------------------------ */

//  The raw body of an Engine API call (the caller frees it), or NULL.
static char *
s_engine_raw (const char *path, size_t *length)
{
    char url[2048];
    snprintf (url, sizeof url, "http://docker%s", path);
    CURL *curl = curl_easy_init ();
    FILE *sink = NULL;
    char *buffer = NULL;
    sink = open_memstream (&buffer, length);
    curl_easy_setopt (curl, CURLOPT_UNIX_SOCKET_PATH, s_socket);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, sink);
    long status = 0;
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup (curl);
    fclose (sink);
    if (status != 200) {
        free (buffer);
        return NULL;
    }
    return buffer;
}

//  The platform's secrets as admin sees them: its config file, a Docker secret, read out of
//  its running container (GET /containers/{id}/archive: a tar of the one file).
typedef struct {
    char superadmin[256]; //  admin.superadmin_password
    char jwt[256];        //  admin.jwt_secret
    char pg[256];         //  PostgreSQL's password, from store.url
} s_secrets_t;

static void
s_quoted_value (const char *text, const char *key, char *value, size_t size)
{
    const char *at = strstr (text, key);
    const char *start = at ? strchr (at, '"') : NULL;
    const char *end = start ? strchr (start + 1, '"') : NULL;
    snprintf (value, size, "%.*s", end ? (int)(end - start - 1) : 0, end ? start + 1 : "");
}

static bool
s_read_secrets (s_secrets_t *secrets)
{
    json_t *containers = NULL;
    s_engine ("GET",
              "/containers/json?filters=%7B%22label%22%3A%5B%22com.docker.swarm.service.name%3D"
              "rafiki-admin%22%5D%7D",
              NULL, &containers);
    char path[512];
    snprintf (path, sizeof path, "/containers/%s/archive?path=/run/secrets/rafiki-admin-config",
              s_str (json_array_get (containers, 0), "Id"));
    json_decref (containers);
    size_t length = 0;
    char *tar = s_engine_raw (path, &length);
    if (!tar || length < 1024) {
        free (tar);
        return false;
    }
    //  One ustar entry: a 512-byte header (size in octal at 124), then the file.
    size_t size = strtoul (tar + 124, NULL, 8);
    char *text = strndup (tar + 512, size < length - 512 ? size : length - 512);
    free (tar);
    s_quoted_value (text, "superadmin_password:", secrets->superadmin, sizeof secrets->superadmin);
    s_quoted_value (text, "jwt_secret:", secrets->jwt, sizeof secrets->jwt);
    char url[512];
    s_quoted_value (text, "url:", url, sizeof url);
    const char *colon = strstr (url, "rafiki:");
    const char *at = strrchr (url, '@');
    snprintf (secrets->pg, sizeof secrets->pg, "%.*s",
              colon && at > colon ? (int)(at - colon - 7) : 0, colon ? colon + 7 : "");
    free (text);
    return *secrets->superadmin && strlen (secrets->jwt) >= 32 && strlen (secrets->pg) >= 16;
}

//  Whether a text holds one of the secrets (names which in *which).
static bool
s_holds_secret (const char *text, size_t length, const s_secrets_t *secrets, const char **which)
{
    const char *values[] = {secrets->superadmin, secrets->jwt, secrets->pg};
    const char *names[] = {"the superadmin password", "the JWT key", "the PostgreSQL password"};
    for (size_t i = 0; i < 3; i++)
        if (memmem (text, length, values[i], strlen (values[i]))) {
            *which = names[i];
            return true;
        }
    return false;
}

static const s_secrets_t *s_walk_secrets; //  what s_file_check looks for
static char s_walk_found[1024];           //  the first file holding a secret, and which

static int
s_file_check (const char *path, const struct stat *info, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F || !S_ISREG (info->st_mode))
        return 0;
    FILE *file = fopen (path, "r");
    char *text = NULL;
    size_t length = 0;
    FILE *sink = open_memstream (&text, &length);
    char chunk[65536];
    size_t got;
    while (file && (got = fread (chunk, 1, sizeof chunk, file)) > 0)
        fwrite (chunk, 1, got, sink);
    if (file)
        fclose (file);
    fclose (sink);
    const char *which = NULL;
    if (s_holds_secret (text, length, s_walk_secrets, &which))
        snprintf (s_walk_found, sizeof s_walk_found, "%s holds %s", path, which);
    free (text);
    return *s_walk_found ? 1 : 0;
}

/* ---- cases -------------------------------------------------------------------------------- */

/* Usage: upload iris and the XGBoost template, train with 2 trainers that are swarm
   services, kill one trainer's container while the job is live; the job still ends
   STOPPED with completed trials and none left PENDING or RUNNING. */
static void
test_train_job_with_a_killed_trainer (void **state)
{
    (void)state;
    S_REQUIRE_DEPLOYED ();
    char big[600];
    s_big_train_set (big, sizeof big);
    json_t *train = s_upload ("/datasets", "dataset", big, "iris-train", NULL, NULL);
    unlink (big);
    json_t *val =
        s_upload ("/datasets", "dataset", RFK_TEST_DATA "/iris-val.csv", "iris-val", NULL, NULL);
    json_t *model =
        s_upload ("/models", "model_file_bytes", XGB_TEMPLATE, "xgb", "access_right", "PUBLIC");
    assert_true (*s_str (model, "id"));
    json_t *job = s_api_call (
        "POST", "/train_jobs",
        json_pack ("{s:s, s:s, s:s, s:s, s:[s], s:{s:i, s:i}, s:{s:s}}", "app", S_APP, "task",
                   "TABULAR_CLASSIFICATION", "train_dataset_id", s_str (train, "id"),
                   "val_dataset_id", s_str (val, "id"), "model_ids", s_str (model, "id"), "budget",
                   "MODEL_TRIAL_COUNT", 2, "TRAINER_COUNT", 2, "train_args", "target", "class"));
    assert_int_equal (json_integer_value (json_object_get (job, "app_version")), 1);
    json_decref (job);

    //  Its advisor and trainers are Docker services. Kill the container of the trainer
    //  running a trial (the node's containers, not the tasks the manager reports a moment
    //  later); should trials be too quick to catch, of any trainer once one trial ended.
    char killed[128] = "";
    bool mid_trial = false;
    size_t most_trainers = 0, most_advisors = 0;
    int64_t until = s_now_ms () + 120000;
    bool final = false;
    while (!*killed && !final && s_now_ms () < until) {
        json_t *trainers = s_our_services ("trainer");
        json_t *advisors = s_our_services ("advisor");
        if (json_array_size (trainers) > most_trainers)
            most_trainers = json_array_size (trainers);
        if (json_array_size (advisors) > most_advisors)
            most_advisors = json_array_size (advisors);
        json_decref (trainers);
        json_decref (advisors);
        json_t *trials = s_api_call ("GET", "/train_jobs/" S_APP "/1/trials", NULL);
        char label[256] = "";
        bool ended = false;
        size_t index;
        json_t *trial;
        json_array_foreach (trials, index, trial)
        {
            const char *trial_status = s_str (trial, "status");
            if (!strcmp (trial_status, "RUNNING") && *s_str (trial, "worker_id"))
                snprintf (label, sizeof label, "rafiki.service-id=%s", s_str (trial, "worker_id"));
            ended |= !strcmp (trial_status, "COMPLETED") || !strcmp (trial_status, "ERRORED");
        }
        json_decref (trials);
        mid_trial = *label != '\0';
        json_t *containers = s_containers (mid_trial ? label : "rafiki.role=trainer");
        json_t *container = mid_trial || ended ? json_array_get (containers, 0) : NULL;
        char *status = s_job_status ("train_jobs");
        final = s_final (status);
        free (status);
        if (container && !final) {
            char path[256];
            snprintf (path, sizeof path, "/containers/%s/kill?signal=KILL",
                      s_str (container, "Id"));
            if (s_engine ("POST", path, NULL, NULL) == 204) {
                json_t *labels = json_object_get (container, "Labels");
                snprintf (killed, sizeof killed, "%s", s_str (labels, "rafiki.service-id"));
                fprintf (stderr, "# swarm-deploy: killed the container of trainer %s%s\n", killed,
                         mid_trial ? " during its trial" : "");
            }
        }
        json_decref (containers);
        if (!*killed && !final)
            s_pause (20);
    }
    assert_true (most_advisors == 1);
    assert_true (most_trainers >= 1);
    if (!*killed)
        fail_msg ("no trainer container could be killed while the job was live");

    //  The job survives: swarm restarts the trainer or the other one finishes the job.
    char *status = s_wait_job ("train_jobs", "STOPPED ERRORED", 240000);
    assert_string_equal (status, "STOPPED");
    free (status);
    //  What became of the killed trainer, as admin logged it.
    char log_path[600], line[1024];
    snprintf (log_path, sizeof log_path, "%s/logs/admin.log", s_data_dir);
    FILE *log = fopen (log_path, "r");
    while (log && fgets (line, sizeof line, log))
        if (strstr (line, killed) && (strstr (line, "status=") || strstr (line, "state=")))
            fprintf (stderr, "# swarm-deploy: %s", line);
    if (log)
        fclose (log);
    json_t *trials = s_api_call ("GET", "/train_jobs/" S_APP "/1/trials", NULL);
    size_t completed = 0, index;
    json_t *trial;
    json_array_foreach (trials, index, trial)
    {
        const char *trial_status = s_str (trial, "status");
        fprintf (stderr, "# swarm-deploy: trial %lld %s score %g\n",
                 (long long)json_integer_value (json_object_get (trial, "trial_no")), trial_status,
                 json_number_value (json_object_get (trial, "score")));
        assert_string_not_equal (trial_status, "PENDING");
        assert_string_not_equal (trial_status, "RUNNING");
        if (!strcmp (trial_status, "COMPLETED")) {
            completed++;
            assert_true (json_is_true (json_object_get (trial, "has_params")));
        }
    }
    assert_true (completed >= 1);
    json_decref (trials);
    //  Its services ended: their Docker services are removed.
    until = s_now_ms () + 60000;
    json_t *left = s_our_services (NULL);
    while (json_array_size (left) > 0 && s_now_ms () < until) {
        json_decref (left);
        s_pause (200);
        left = s_our_services (NULL);
    }
    assert_int_equal (json_array_size (left), 0);
    json_decref (left);
    json_decref (train);
    json_decref (val);
    json_decref (model);
}

/* The inference job: predictor and worker are Docker services, the predictor's HTTP port
   published in host mode; the validation rows through POST /predict come back as
   probability vectors, mostly right. */
static void
test_inference_job_through_its_published_port (void **state)
{
    (void)state;
    S_REQUIRE_DEPLOYED ();
    json_t *job = s_api_call ("POST", "/inference_jobs",
                              json_pack ("{s:s, s:i}", "app", S_APP, "app_version", -1));
    json_decref (job);
    char *status = s_wait_job ("inference_jobs", "RUNNING STOPPED ERRORED", 120000);
    assert_string_equal (status, "RUNNING");
    free (status);
    json_t *predictors = s_our_services ("predictor");
    json_t *workers = s_our_services ("inference");
    assert_int_equal (json_array_size (predictors), 1);
    assert_int_equal (json_array_size (workers), 1);
    json_decref (workers);
    //  predictor_host's port is the one swarm publishes in host mode.
    const char *colon = strrchr (s_predictor_host, ':');
    assert_non_null (colon);
    int port = atoi (colon + 1);
    json_t *ports = json_object_get (
        json_object_get (json_object_get (json_array_get (predictors, 0), "Spec"), "EndpointSpec"),
        "Ports");
    //  Both of its ports: HTTP and, one above, the ZeroMQ query port.
    assert_int_equal (json_array_size (ports), 2);
    for (size_t index = 0; index < 2; index++) {
        json_t *published = json_array_get (ports, index);
        assert_int_equal (json_integer_value (json_object_get (published, "PublishedPort")),
                          port + (int)index);
        assert_string_equal (s_str (published, "PublishMode"), "host");
    }
    json_decref (predictors);
    //  predictor_host names the node the predictor's task runs on (its advertise address),
    //  and so does the query endpoint.
    char node[128];
    assert_true (s_predictor_node (node, sizeof node));
    char expected[300];
    snprintf (expected, sizeof expected, "%s:%d", node, port);
    assert_string_equal (s_predictor_host, expected);
    json_t *listed = s_api_call ("GET", "/inference_jobs/" S_APP "/1", NULL);
    snprintf (expected, sizeof expected, "tcp://%s:%d", node, port + 1);
    assert_string_equal (s_str (listed, "query_endpoint"), expected);
    json_decref (listed);

    //  The validation rows as queries (feature name -> number), the classes kept aside.
    FILE *file = fopen (RFK_TEST_DATA "/iris-val.csv", "r");
    assert_non_null (file);
    char line[1024];
    char names[8][64];
    size_t n_names = 0;
    if (fgets (line, sizeof line, file)) {
        line[strcspn (line, "\r\n")] = '\0';
        char *saved = NULL;
        for (char *cell = strtok_r (line, ",", &saved); cell && n_names < 8;
             cell = strtok_r (NULL, ",", &saved))
            snprintf (names[n_names++], sizeof names[0], "%s", cell);
    }
    json_t *queries = json_array ();
    int classes[256];
    size_t n_rows = 0;
    while (fgets (line, sizeof line, file) && n_rows < 256) {
        line[strcspn (line, "\r\n")] = '\0';
        json_t *query = json_object ();
        size_t column = 0;
        char *saved = NULL;
        for (char *cell = strtok_r (line, ",", &saved); cell && column < n_names;
             cell = strtok_r (NULL, ",", &saved), column++)
            if (!strcmp (names[column], "class"))
                classes[n_rows] = atoi (cell);
            else
                json_object_set_new (query, names[column], json_real (atof (cell)));
        if (json_object_size (query) > 0) {
            json_array_append_new (queries, query);
            n_rows++;
        } else
            json_decref (query);
    }
    fclose (file);
    assert_true (n_rows >= 10);

    char url[512];
    snprintf (url, sizeof url, "http://%s/predict", s_predictor_host);
    json_t *body = json_pack ("{s:o}", "queries", queries);
    char *text = json_dumps (body, JSON_COMPACT);
    json_decref (body);
    json_t *answer = NULL;
    long http_status = 0;
    //  The worker may still be loading when the job reads RUNNING elsewhere: retry briefly.
    int64_t until = s_now_ms () + 30000;
    do {
        json_decref (answer);
        answer = NULL;
        http_status = s_http (NULL, "POST", url, text, NULL, &answer);
        json_t *first = json_array_get (json_object_get (answer, "predictions"), 0);
        if (http_status == 200 && json_is_array (first))
            break;
        s_pause (200);
    } while (s_now_ms () < until);
    free (text);
    assert_int_equal (http_status, 200);
    json_t *predictions = json_object_get (answer, "predictions");
    assert_int_equal (json_array_size (predictions), n_rows);
    size_t right = 0;
    for (size_t row = 0; row < n_rows; row++) {
        json_t *probabilities = json_array_get (predictions, row);
        assert_int_equal (json_array_size (probabilities), 3);
        size_t best = 0;
        double sum = 0;
        for (size_t k = 0; k < 3; k++) {
            double p = json_number_value (json_array_get (probabilities, k));
            sum += p;
            if (p > json_number_value (json_array_get (probabilities, best)))
                best = k;
        }
        assert_true (sum > 0.99 && sum < 1.01);
        right += (int)best == classes[row];
    }
    fprintf (stderr, "# swarm-deploy: %zu of %zu validation rows right through %s\n", right, n_rows,
             url);
    assert_true (right * 10 >= n_rows * 8);
    json_decref (answer);
}

/* Trust boundaries under swarm (issue 13.3): the platform's secrets (superadmin password, JWT
   key, PostgreSQL password) appear in no `docker service inspect` and no file under the data
   dir; every service admin started runs as uid 10001 with a read-only root fs and no
   capabilities, mounting parts of the data dir but never the data dir itself. And a job
   asking for a GPU on this GPU-less swarm is refused (issue 16.2). */
static void
test_no_secret_in_sight (void **state)
{
    (void)state;
    S_REQUIRE_DEPLOYED ();
    s_secrets_t secrets;
    if (!s_read_secrets (&secrets)) {
        //  The engine would not hand the secret file out of the container (a secret is a
        //  tmpfs there): look for what is known of them instead, the superadmin password
        //  (ours) and the shape of the others in admin's config.
        printf ("# admin's config secret cannot be read out of its container: checking for the "
                "superadmin password, `postgresql://rafiki:` and `jwt_secret` instead\n");
        FILE *file = fopen (s_password_file, "r");
        assert_non_null (file);
        assert_non_null (fgets (secrets.superadmin, sizeof secrets.superadmin, file));
        fclose (file);
        secrets.superadmin[strcspn (secrets.superadmin, "\r\n")] = '\0';
        snprintf (secrets.jwt, sizeof secrets.jwt, "jwt_secret");
        snprintf (secrets.pg, sizeof secrets.pg, "postgresql://rafiki:");
    }
    json_t *services = NULL;
    assert_int_equal (s_engine ("GET", "/services", NULL, &services), 200);
    assert_true (json_array_size (services) >= 4); //  admin, PostgreSQL, predictor, worker
    size_t index;
    json_t *service;
    json_array_foreach (services, index, service)
    {
        char *text = json_dumps (service, JSON_COMPACT);
        const char *which = NULL;
        if (s_holds_secret (text, strlen (text), &secrets, &which))
            fail_msg ("docker service inspect %s shows %s",
                      s_str (json_object_get (service, "Spec"), "Name"), which);
        free (text);
        json_t *spec = json_object_get (service, "Spec");
        if (!json_object_get (json_object_get (spec, "Labels"), "rafiki.instance"))
            continue;
        json_t *container =
            json_object_get (json_object_get (spec, "TaskTemplate"), "ContainerSpec");
        assert_string_equal (s_str (container, "User"), "10001:10001");
        assert_true (json_is_true (json_object_get (container, "ReadOnly")));
        assert_string_equal (
            json_string_value (json_array_get (json_object_get (container, "CapabilityDrop"), 0)),
            "ALL");
        size_t at;
        json_t *mount;
        json_array_foreach (json_object_get (container, "Mounts"), at, mount)
            assert_string_not_equal (s_str (mount, "Source"), s_data_dir);
    }
    json_decref (services);
    s_walk_secrets = &secrets;
    *s_walk_found = '\0';
    nftw (s_data_dir, s_file_check, 16, FTW_PHYS);
    if (*s_walk_found)
        fail_msg ("%s", s_walk_found);
    explicit_bzero (&secrets, sizeof secrets);

    //  A GPU no node advertises.
    char url[1024];
    snprintf (url, sizeof url, "%s/train_jobs", s_api);
    json_t *answer = NULL;
    long status = s_http (NULL, "POST", url,
                          "{\"app\":\"gpu-app\",\"task\":\"TABULAR_CLASSIFICATION\","
                          "\"train_dataset_id\":\"x\",\"val_dataset_id\":\"x\","
                          "\"budget\":{\"MODEL_TRIAL_COUNT\":1,\"GPU_COUNT\":1},"
                          "\"model_ids\":[\"x\"]}",
                          NULL, &answer);
    assert_int_equal (status, 409);
    char *shown = json_dumps (answer, JSON_COMPACT);
    assert_non_null (strstr (shown, "1 GPUs asked, but the largest any node of the swarm "
                                    "advertises is 0"));
    free (shown);
    json_decref (answer);
}

//  Run swarm-up with more arguments; true when it failed within 60 s (nothing to wait for)
//  and said `reason` and `deploy/swarm-down --purge`.
static bool
s_swarm_up_refused (const char *arguments, const char *reason)
{
    char command[2048];
    snprintf (command, sizeof command,
              "timeout 60 %s/deploy/swarm-up --data-dir %s --image %s --http-port %d "
              "--command-port %d --events-port %d --wait 5 %s 2>&1",
              RFK_SOURCE_DIR, s_data_dir, S_IMAGE, s_ports[0], s_ports[1], s_ports[2], arguments);
    FILE *pipe = popen (command, "r");
    char output[8192] = "";
    size_t length = pipe ? fread (output, 1, sizeof output - 1, pipe) : 0;
    output[length] = '\0';
    int status = pipe ? pclose (pipe) : -1;
    fprintf (stderr, "# swarm-up %s: %s", arguments, output);
    return status != 0 && strstr (output, reason) && strstr (output, "deploy/swarm-down --purge");
}

/* Stopping the inference job removes every Docker service admin started; swarm-down
   removes admin, PostgreSQL and the network. */
static void
test_stop_and_swarm_down_leave_nothing (void **state)
{
    (void)state;
    S_REQUIRE_DEPLOYED ();
    json_t *job = s_api_call ("POST", "/inference_jobs/" S_APP "/1/stop", NULL);
    assert_string_equal (s_str (job, "status"), "STOPPED");
    json_decref (job);
    int64_t until = s_now_ms () + 60000;
    json_t *left = s_our_services (NULL);
    while (json_array_size (left) > 0 && s_now_ms () < until) {
        json_decref (left);
        s_pause (200);
        left = s_our_services (NULL);
    }
    assert_int_equal (json_array_size (left), 0);
    json_decref (left);
    //  The secrets of the services went with them.
    json_t *secrets = NULL;
    s_engine ("GET", "/secrets?filters=%7B%22label%22%3A%5B%22rafiki.instance%3Ddefault%22%5D%7D",
              NULL, &secrets);
    assert_int_equal (json_array_size (secrets), 0);
    json_decref (secrets);

    //  A second swarm-up with another data dir is refused at once, naming the kept
    //  deployment and the command that clears it.
    assert_true (
        s_swarm_up_refused ("--data-dir /tmp/rafiki-swarm-deploy-other", "belongs to data dir"));
    rmdir ("/tmp/rafiki-swarm-deploy-other");

    assert_int_equal (system (RFK_SOURCE_DIR "/deploy/swarm-down --purge"), 0);
    s_deployed = false;
    assert_false (s_service_exists ("rafiki-admin"));
    assert_false (s_service_exists ("rafiki-postgres"));
    //  The engine lets go of a removed overlay network a moment later.
    int64_t gone_by = s_now_ms () + 15000;
    while (s_engine ("GET", "/networks/rafiki", NULL, NULL) == 200 && s_now_ms () < gone_by)
        s_pause (200);
    assert_int_not_equal (s_engine ("GET", "/networks/rafiki", NULL, NULL), 200);
    //  --purge removed everything swarm-up made: its secrets and the database's volume.
    assert_int_not_equal (s_engine ("GET", "/secrets/rafiki-admin-config", NULL, NULL), 200);
    assert_int_not_equal (s_engine ("GET", "/secrets/rafiki-pg-password", NULL, NULL), 200);
    assert_int_not_equal (s_engine ("GET", "/volumes/rafiki-pgdata", NULL, NULL), 200);
    //  A database volume whose password is gone is refused at once, naming it.
    assert_int_equal (s_engine ("POST", "/volumes/create", "{\"Name\":\"rafiki-pgdata\"}", NULL),
                      201);
    assert_true (s_swarm_up_refused ("", "volume rafiki-pgdata holds a database whose password"));
    assert_int_equal (s_engine ("DELETE", "/volumes/rafiki-pgdata", NULL, NULL), 204);
    assert_false (s_service_exists ("rafiki-admin"));
}

/* ---- setup -------------------------------------------------------------------------------- */

static void
s_cleanup (void);

static int
s_not_ready (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (s_skip_reason, sizeof s_skip_reason, format, args);
    va_end (args);
    return 0;
}

/* Whether this machine can run the cases; "" when it can, else why not (s_skip_reason). */
static void
s_check_machine (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
    s_socket = getenv ("RAFIKI_TEST_DOCKER_SOCKET");
    if (!s_socket || !*s_socket)
        s_socket = "/var/run/docker.sock";
    json_t *info = NULL;
    if (s_engine ("GET", "/info", NULL, &info) != 200) {
        s_not_ready ("no Docker engine at %s (test/servers/dockerd starts one)", s_socket);
        return;
    }
    json_t *swarm = json_object_get (info, "Swarm");
    bool manager = !strcmp (s_str (swarm, "LocalNodeState"), "active") &&
                   json_is_true (json_object_get (swarm, "ControlAvailable"));
    json_decref (info);
    if (!manager)
        s_not_ready ("the engine at %s is not a swarm manager", s_socket);
    else if (system ("command -v docker >/dev/null") != 0)
        s_not_ready ("the docker command is missing (deploy/swarm-up uses it)");
    else if (geteuid () != 0)
        s_not_ready ("not root: deploy/swarm-up gives the data directory to uid 10001");
    else if (s_service_exists ("rafiki-admin") || s_service_exists ("rafiki-postgres"))
        s_not_ready ("Rafiki-C is deployed on this swarm already (service rafiki-admin or "
                     "rafiki-postgres): not touching it");
}

static int
s_setup (void **state)
{
    (void)state;
    snprintf (s_data_dir, sizeof s_data_dir, "/tmp/rafiki-swarm-deploy-XXXXXX");
    if (!mkdtemp (s_data_dir))
        return -1;
    chmod (s_data_dir, 0755);
    char command[4096];
    snprintf (command, sizeof command,
              "%s/deploy/build-image --with-postgres --build %s --tag %s >/dev/null",
              RFK_SOURCE_DIR, RFK_BUILD_ROOT, S_IMAGE);
    if (system (command) != 0) {
        fprintf (stderr, "# swarm-deploy: deploy/build-image failed\n");
        s_cleanup ();
        return -1;
    }
    for (int index = 0; index < 3; index++)
        s_ports[index] = s_free_port ();
    //  The superadmin's password, from a file of ours outside the data dir (swarm-up keeps
    //  it only as a Docker secret).
    char password[64];
    snprintf (password, sizeof password, "sa-%08x%08x", (unsigned)random (), (unsigned)getpid ());
    snprintf (s_password_file, sizeof s_password_file, "/tmp/rafiki-swarm-deploy-pw-XXXXXX");
    int fd = mkstemp (s_password_file);
    if (fd < 0 || write (fd, password, strlen (password)) != (ssize_t)strlen (password)) {
        if (fd >= 0)
            close (fd);
        s_cleanup ();
        return -1;
    }
    close (fd);
    s_deployed = true;
    snprintf (command, sizeof command,
              "%s/deploy/swarm-up --data-dir %s --image %s --http-port %d --command-port %d "
              "--events-port %d --password-file %s --wait 120 >&2",
              RFK_SOURCE_DIR, s_data_dir, S_IMAGE, s_ports[0], s_ports[1], s_ports[2],
              s_password_file);
    if (system (command) != 0) {
        fprintf (stderr, "# swarm-deploy: deploy/swarm-up failed\n");
        s_cleanup ();
        return -1;
    }
    snprintf (s_api, sizeof s_api, "http://127.0.0.1:%d", s_ports[0]);

    char url[256];
    snprintf (url, sizeof url, "%s/tokens", s_api);
    json_t *login = json_pack ("{s:s, s:s}", "email", "superadmin@rafiki", "password", password);
    char *text = json_dumps (login, JSON_COMPACT);
    json_decref (login);
    json_t *answer = NULL;
    //  swarm-up waited for admin's HTTP port; PostgreSQL restarts may still bounce it once.
    int64_t until = s_now_ms () + 60000;
    long status = 0;
    while ((status = s_http (NULL, "POST", url, text, NULL, &answer)) != 200 &&
           s_now_ms () < until) {
        json_decref (answer);
        answer = NULL;
        s_pause (500);
    }
    free (text);
    snprintf (s_token, sizeof s_token, "%s", s_str (answer, "token"));
    json_decref (answer);
    if (status != 200 || !*s_token) {
        fprintf (stderr, "# swarm-deploy: cannot log in as the superadmin (HTTP %ld)\n", status);
        s_cleanup ();
        return -1;
    }
    return 0;
}

/* Leave no deployment, image or data directory behind. */
static void
s_cleanup (void)
{
    if (s_deployed) {
        //  A case failed half-way.
        fprintf (stderr, "# swarm-deploy: admin's last lines:\n");
        if (system ("docker service logs --tail 40 rafiki-admin >&2") != 0)
            fprintf (stderr, "# swarm-deploy: (no logs)\n");
        if (system (RFK_SOURCE_DIR "/deploy/swarm-down --purge") != 0)
            fprintf (stderr, "# swarm-deploy: deploy/swarm-down failed\n");
        s_deployed = false;
    }
    if (*s_password_file) {
        unlink (s_password_file);
        *s_password_file = '\0';
    }
    if (*s_data_dir) {
        s_engine ("DELETE", "/images/" S_IMAGE, NULL, NULL);
        char command[1024];
        snprintf (command, sizeof command, "rm -rf '%s'", s_data_dir);
        if (system (command) != 0)
            fprintf (stderr, "# swarm-deploy: could not remove %s\n", s_data_dir);
        *s_data_dir = '\0';
    }
}

static int
s_teardown (void **state)
{
    (void)state;
    s_cleanup ();
    curl_global_cleanup ();
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_train_job_with_a_killed_trainer),
        cmocka_unit_test (test_inference_job_through_its_published_port),
        cmocka_unit_test (test_no_secret_in_sight),
        cmocka_unit_test (test_stop_and_swarm_down_leave_nothing),
    };
    //  One engine per machine and fixed service names (rafiki-admin, ...): another test
    //  process using them (a developer's meson test beside a test/run) is waited for first.
    if (rfk_test_machine_lock ("swarm", S_LOCK_WAIT_MS) != 0)
        s_not_ready ("another test process held /tmp/rafiki-test-swarm.lock for %d s",
                     S_LOCK_WAIT_MS / 1000);
    //  A machine that cannot run them skips the whole file, saying why (a TAP plan of 0).
    else
        s_check_machine ();
    if (*s_skip_reason) {
        printf ("1..0 # SKIP %s\n", s_skip_reason);
        curl_global_cleanup ();
        return 0;
    }
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
