/*  test_events_admin.c: GET /events and the web admin's folder on the real
    admin actor, over real HTTP.

    Admin runs in this process (rfk_admin_actor_with) on free ports with a
    fresh data directory and SQLite; the services it launches run
    FAKE_SERVICE (test/integration/admin), which only waits to be stopped.
    Everything the test does goes through the HTTP front as the web admin
    does it (libcurl for requests and multipart uploads, sse_client.h for the
    streams): two app developers each start and stop a train job while
    their streams and a superadmin's are open, and each stream must carry
    exactly the events of its own jobs (the superadmin's: both). Then
    admin.web_dir: the configured folder is served at /, and a folder
    without index.html gives the placeholder page.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rfk_test.h"
#include "rfk_test_case.h"
#include "rfk_test_real_admin.h"
#include "rfk_admin.h"
#include "rfk_broker.h"
#include "rfk_config.h"
#include "sse_client.h"

#define S_PASSWORD "correct horse battery"
#define S_WAIT_MS 20000

/* The admin under test. */
typedef struct {
    rfk_test_real_admin_t admin; /* admin, its endpoints and its data dir */
    int port;                    /* its HTTP port */
    char *events;                /* its `events` socket, as bound (borrowed) */
} s_env_t;

/* Start admin; web_dir is admin.web_dir (NULL: leave the default). Its
   services run FAKE_SERVICE. */
static s_env_t *
s_start (const char *web_dir)
{
    s_env_t *env = calloc (1, sizeof *env);
    assert_non_null (env);
    const char *const settings[][3] = {
        {"admin", "web_dir", web_dir}, {"launcher", "max_restarts", "0"}, {NULL, NULL, NULL}};
    rfk_admin_args_t args = {.rafikid_path = rfk_test_env ("FAKE_SERVICE"),
                             .check_path = getenv ("RAFIKID")};
    char err[512];
    //  Without web_dir, the list starts after its row.
    if (rfk_test_real_admin_start (&env->admin, "web-events", S_PASSWORD,
                                   web_dir ? settings : settings + 1, &args, err, sizeof err))
        fail_msg ("%s", err);
    env->port = env->admin.http_port;
    env->events = env->admin.events;
    assert_true (env->port > 0);
    return env;
}

static void
s_stop (s_env_t **env_p)
{
    rfk_test_real_admin_stop (&(*env_p)->admin);
    free (*env_p);
    *env_p = NULL;
}

//  --------------------------------------------------------------------------
//  HTTP requests (libcurl)

typedef struct {
    long status;
    char *body;
    size_t len;
} s_response_t;

static size_t
s_write (char *data, size_t size, size_t count, void *arg)
{
    s_response_t *response = arg;
    size_t n = size * count;
    char *grown = realloc (response->body, response->len + n + 1);
    assert_non_null (grown);
    memcpy (grown + response->len, data, n);
    response->len += n;
    grown[response->len] = 0;
    response->body = grown;
    return n;
}

/* A request with a JSON body (or a multipart form when form is not NULL);
   the reply's body parsed as JSON (NULL when it is not JSON). */
static json_t *
s_http (s_env_t *env, const char *method, const char *path, const char *token, json_t *body,
        curl_mime *(*form) (CURL *, void *), void *form_arg, long *status)
{
    CURL *curl = curl_easy_init ();
    assert_non_null (curl);
    char url[512];
    snprintf (url, sizeof url, "http://127.0.0.1:%d%s", env->port, path);
    s_response_t response = {0, NULL, 0};
    struct curl_slist *headers = NULL;
    char *text = NULL;
    curl_mime *mime = NULL;
    if (token) {
        char header[2048];
        snprintf (header, sizeof header, "Authorization: Bearer %s", token);
        headers = curl_slist_append (headers, header);
    }
    if (form) {
        mime = form (curl, form_arg);
        curl_easy_setopt (curl, CURLOPT_MIMEPOST, mime);
    } else if (body) {
        text = json_dumps (body, JSON_COMPACT);
        headers = curl_slist_append (headers, "Content-Type: application/json");
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, text);
    }
    json_decref (body);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long)S_WAIT_MS);
    CURLcode rc = curl_easy_perform (curl);
    if (rc != CURLE_OK)
        fail_msg ("%s %s: %s", method, path, curl_easy_strerror (rc));
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &response.status);
    curl_slist_free_all (headers);
    curl_mime_free (mime);
    curl_easy_cleanup (curl);
    free (text);
    *status = response.status;
    json_t *json = response.body ? json_loads (response.body, JSON_DECODE_ANY, NULL) : NULL;
    free (response.body);
    return json;
}

/* Expect 200 and return the string field of the reply (a copy). */
static char *
s_ok (json_t *reply, long status, const char *field)
{
    if (status != 200) {
        char *text = reply ? json_dumps (reply, 0) : NULL;
        fail_msg ("status %ld: %s", status, text ? text : "(no body)");
    }
    const char *value = json_string_value (json_object_get (reply, field));
    assert_non_null (value);
    char *copy = strdup (value);
    json_decref (reply);
    return copy;
}

static char *
s_login (s_env_t *env, const char *email, const char *password)
{
    long status;
    json_t *reply =
        s_http (env, "POST", "/tokens", NULL,
                json_pack ("{s:s,s:s}", "email", email, "password", password), NULL, NULL, &status);
    return s_ok (reply, status, "token");
}

/* A new user of type; its token. */
static char *
s_user (s_env_t *env, const char *root, const char *type, const char *email)
{
    long status;
    json_t *reply = s_http (
        env, "POST", "/users", root,
        json_pack ("{s:s,s:s,s:s}", "email", email, "password", "password-123", "user_type", type),
        NULL, NULL, &status);
    free (s_ok (reply, status, "id"));
    return s_login (env, email, "password-123");
}

typedef struct {
    const char *name; /* the record's name */
    const char *file; /* a file to send, or NULL */
    const char *data; /* else these bytes */
    bool model;       /* a model upload (else a dataset) */
} s_upload_t;

static curl_mime *
s_upload_form (CURL *curl, void *arg)
{
    s_upload_t *upload = arg;
    curl_mime *mime = curl_mime_init (curl);
    const char *fields[][2] = {{"name", upload->name},
                               {"task", "TABULAR_CLASSIFICATION"},
                               {"model_class", upload->model ? "TestGood" : NULL},
                               {"access_right", upload->model ? "PUBLIC" : NULL}};
    for (size_t i = 0; i < 4; i++)
        if (fields[i][1]) {
            curl_mimepart *part = curl_mime_addpart (mime);
            curl_mime_name (part, fields[i][0]);
            curl_mime_data (part, fields[i][1], CURL_ZERO_TERMINATED);
        }
    curl_mimepart *part = curl_mime_addpart (mime);
    curl_mime_name (part, upload->model ? "model_file_bytes" : "dataset");
    if (upload->file)
        curl_mime_filedata (part, upload->file);
    else {
        curl_mime_data (part, upload->data, CURL_ZERO_TERMINATED);
        curl_mime_filename (part, "data.csv");
    }
    return mime;
}

static char *
s_upload (s_env_t *env, const char *token, s_upload_t *upload)
{
    long status;
    json_t *reply = s_http (env, "POST", upload->model ? "/models" : "/datasets", token, NULL,
                            s_upload_form, upload, &status);
    return s_ok (reply, status, "id");
}

//  --------------------------------------------------------------------------
//  Streams

static sse_t *
s_stream (s_env_t *env, const char *token)
{
    char path[2048];
    snprintf (path, sizeof path, "/events?token=%s", token);
    sse_t *sse = sse_open (env->port, path, NULL, 0);
    assert_non_null (sse);
    assert_int_equal (sse_status (sse, S_WAIT_MS), 200);
    assert_string_equal (sse_header (sse, "Content-Type"), "text/event-stream");
    return sse;
}

/* A subscriber on admin's `events` socket, subscribed with token (NULL:
   a plain subscription to everything, as a stranger would). */
static zsock_t *
s_bus_stream (s_env_t *env, const char *token)
{
    zsock_t *sub = rfk_subscriber_new (env->events, NULL);
    assert_non_null (sub);
    char text[2100];
    snprintf (text, sizeof text, "auth %s ", token ? token : "");
    rfk_subscriber_subscribe (sub, token ? "c." : "");
    if (token)
        rfk_subscriber_subscribe (sub, text);
    return sub;
}

/* The job an event is about: JobStatus id, ServiceStatus job_id, TrialUpdate
   job (NULL for LogLine, which names a trial). */
static const char *
s_job_of (const char *name, json_t *data)
{
    const char *field = streq (name, "JobStatus")       ? "id"
                        : streq (name, "ServiceStatus") ? "job_id"
                        : streq (name, "TrialUpdate")   ? "job"
                                                        : NULL;
    return field ? json_string_value (json_object_get (data, field)) : NULL;
}

/* Read events until a JobStatus of job with status comes; every event on
   the way must be about one of the jobs in `mine` (NULL-terminated). */
static void
s_until (sse_t *sse, const char *who, const char *job, const char *status, const char **mine)
{
    while (true) {
        char *message = sse_next_event (sse, S_WAIT_MS);
        if (!message)
            fail_msg ("%s: no JobStatus %s of %s came", who, status, job);
        char *name = sse_field (message, "event");
        char *text = sse_field (message, "data");
        json_t *data = text ? json_loads (text, 0, NULL) : NULL;
        if (!name || !data)
            fail_msg ("%s: not an event with JSON data: \"%s\"", who, message);
        const char *about = s_job_of (name, data);
        bool allowed = !about;
        for (const char **m = mine; *m && !allowed; m++)
            allowed = streq (about, *m);
        if (!allowed)
            fail_msg ("%s got an event about another user's job: %s", who, message);
        bool done = streq (name, "JobStatus") && about && streq (about, job) &&
                    streq (json_string_value (json_object_get (data, "status")), status);
        json_decref (data);
        free (name);
        free (text);
        free (message);
        if (done)
            return;
    }
}

/* s_until on admin's `events` socket: the same check of every event. */
static void
s_bus_until (zsock_t *sub, const char *who, const char *job, const char *status, const char **mine)
{
    zsock_set_rcvtimeo (sub, S_WAIT_MS);
    while (true) {
        char *topic = NULL;
        rfk_msg_t *event = NULL;
        if (rfk_envelope_recv_topic (sub, &rfk_event_family, 1 << 20, &topic, &event, NULL) != 0 ||
            !event)
            fail_msg ("%s (bus): no JobStatus %s of %s came", who, status, job);
        const char *about = s_job_of (event->type, event->body);
        bool allowed = !about;
        for (const char **m = mine; *m && !allowed; m++)
            allowed = streq (about, *m);
        if (!allowed)
            fail_msg ("%s (bus) got an event about another user's job: %s %s", who, event->type,
                      about);
        bool done = streq (event->type, "JobStatus") && about && streq (about, job) &&
                    streq (json_string_value (json_object_get (event->body, "status")), status);
        free (topic);
        rfk_msg_destroy (&event);
        if (done)
            return;
    }
}

static const char s_csv[] = "a,b,target\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n";

/* A train job of the user's own datasets and the public model; its id. */
static char *
s_train_job (s_env_t *env, const char *token, const char *app, const char *model)
{
    s_upload_t train = {.name = "train", .data = s_csv};
    s_upload_t val = {.name = "val", .data = s_csv};
    char *train_id = s_upload (env, token, &train);
    char *val_id = s_upload (env, token, &val);
    long status;
    json_t *reply =
        s_http (env, "POST", "/train_jobs", token,
                json_pack ("{s:s,s:s,s:s,s:s,s:[s],s:{s:i},s:{s:s}}", "app", app, "task",
                           "TABULAR_CLASSIFICATION", "train_dataset_id", train_id, "val_dataset_id",
                           val_id, "model_ids", model, "budget", "MODEL_TRIAL_COUNT", 1,
                           "train_args", "target", "target"),
                NULL, NULL, &status);
    free (train_id);
    free (val_id);
    return s_ok (reply, status, "id");
}

static void
s_stop_job (s_env_t *env, const char *token, const char *app)
{
    char path[128];
    snprintf (path, sizeof path, "/train_jobs/%s/1/stop", app);
    long status;
    json_t *reply = s_http (env, "POST", path, token, NULL, NULL, NULL, &status);
    if (status != 200)
        fail_msg ("stopping %s: status %ld", app, status);
    json_decref (reply);
}

//  --------------------------------------------------------------------------
//  Tests

/* Usage: each user's stream carries the events of that user's jobs, a
   superadmin's carries everyone's. */
static void
test_events_of_own_jobs (void **state)
{
    (void)state;
    s_env_t *env = s_start (NULL);
    char *root = s_login (env, "superadmin@rafiki", S_PASSWORD);
    char *dev = s_user (env, root, "MODEL_DEVELOPER", "dev@example.org");
    char *alice = s_user (env, root, "APP_DEVELOPER", "alice@example.org");
    char *bob = s_user (env, root, "APP_DEVELOPER", "bob@example.org");
    s_upload_t template = {.name = "good", .file = getenv ("TPL_GOOD"), .model = true};
    assert_non_null (template.file);
    char *model = s_upload (env, dev, &template);

    //  No token, a bad one: 401.
    sse_t *refused = sse_open (env->port, "/events", NULL, 0);
    assert_int_equal (sse_status (refused, S_WAIT_MS), 401);
    sse_close (&refused);
    refused = sse_open (env->port, "/events?token=not.a.token", NULL, 0);
    assert_int_equal (sse_status (refused, S_WAIT_MS), 401);
    sse_close (&refused);

    sse_t *alice_events = s_stream (env, alice);
    sse_t *bob_events = s_stream (env, bob);
    char authorization[2048];
    snprintf (authorization, sizeof authorization, "Bearer %s", root);
    sse_t *root_events = sse_open (env->port, "/events", authorization, 0);
    assert_int_equal (sse_status (root_events, S_WAIT_MS), 200);
    //  The same cases on admin's `events` socket, where each subscription
    //  carries its token; a plain one and a bad token's get nothing.
    zsock_t *alice_bus = s_bus_stream (env, alice);
    zsock_t *bob_bus = s_bus_stream (env, bob);
    zsock_t *root_bus = s_bus_stream (env, root);
    zsock_t *plain_bus = s_bus_stream (env, NULL);
    zsock_t *bad_bus = s_bus_stream (env, "not.a.token");
    //  Subscriptions travel as the connections come up: give them time.
    zclock_sleep (500);

    char *job_a = s_train_job (env, alice, "app-a", model);
    const char *mine_a[] = {job_a, NULL};
    s_until (alice_events, "alice", job_a, "STARTED", mine_a);
    char *job_b = s_train_job (env, bob, "app-b", model);
    const char *mine_b[] = {job_b, NULL};
    s_until (bob_events, "bob", job_b, "STARTED", mine_b);
    s_stop_job (env, alice, "app-a");
    s_until (alice_events, "alice", job_a, "STOPPED", mine_a);
    s_stop_job (env, bob, "app-b");
    s_until (bob_events, "bob", job_b, "STOPPED", mine_b);
    //  Bob's stream saw nothing of Alice's job before Bob's own STOPPED,
    //  which came after it; Alice's, likewise. The superadmin sees both.
    const char *both[] = {job_a, job_b, NULL};
    s_until (root_events, "superadmin", job_a, "STARTED", both);
    s_until (root_events, "superadmin", job_b, "STARTED", both);
    s_until (root_events, "superadmin", job_b, "STOPPED", both);
    s_bus_until (alice_bus, "alice", job_a, "STARTED", mine_a);
    s_bus_until (alice_bus, "alice", job_a, "STOPPED", mine_a);
    s_bus_until (bob_bus, "bob", job_b, "STARTED", mine_b);
    s_bus_until (bob_bus, "bob", job_b, "STOPPED", mine_b);
    s_bus_until (root_bus, "superadmin", job_a, "STARTED", both);
    s_bus_until (root_bus, "superadmin", job_b, "STARTED", both);
    s_bus_until (root_bus, "superadmin", job_b, "STOPPED", both);
    zsock_set_rcvtimeo (plain_bus, 200);
    zsock_set_rcvtimeo (bad_bus, 200);
    zmsg_t *nothing = zmsg_recv (plain_bus);
    assert_null (nothing);
    nothing = zmsg_recv (bad_bus);
    assert_null (nothing);
    zsock_destroy (&alice_bus);
    zsock_destroy (&bob_bus);
    zsock_destroy (&root_bus);
    zsock_destroy (&plain_bus);
    zsock_destroy (&bad_bus);

    sse_close (&alice_events);
    sse_close (&bob_events);
    sse_close (&root_events);
    free (job_a);
    free (job_b);
    free (model);
    free (root);
    free (dev);
    free (alice);
    free (bob);
    s_stop (&env);
}

/* The GET / of a page: status and body. */
static char *
s_page (s_env_t *env, const char *path, long *status)
{
    sse_t *page = sse_open (env->port, path, NULL, 0);
    assert_non_null (page);
    *status = sse_status (page, S_WAIT_MS);
    assert_true (sse_wait_end (page, S_WAIT_MS));
    char *body = strdup (sse_body (page));
    sse_close (&page);
    return body;
}

/* admin.web_dir is served at /; a folder without index.html, the
   placeholder page. */
static void
test_web_dir (void **state)
{
    (void)state;
    char *site = rfk_test_tmpdir_new ("web-site");
    assert_non_null (site);
    char path[300];
    snprintf (path, sizeof path, "%s/index.html", site);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs ("<!doctype html><title>the web admin of this test</title>\n", file);
    fclose (file);
    snprintf (path, sizeof path, "%s/assets", site);
    assert_int_equal (mkdir (path, 0700), 0);
    snprintf (path, sizeof path, "%s/assets/app.js", site);
    file = fopen (path, "w");
    assert_non_null (file);
    fputs ("console.log ('hello');\n", file);
    fclose (file);

    s_env_t *env = s_start (site);
    long status;
    char *body = s_page (env, "/", &status);
    assert_int_equal (status, 200);
    assert_non_null (strstr (body, "the web admin of this test"));
    free (body);
    body = s_page (env, "/assets/app.js", &status);
    assert_int_equal (status, 200);
    assert_non_null (strstr (body, "hello"));
    free (body);
    s_stop (&env);

    //  A folder without index.html: the placeholder, not an error.
    snprintf (path, sizeof path, "%s/assets", site);
    env = s_start (path);
    body = s_page (env, "/", &status);
    assert_int_equal (status, 200);
    assert_non_null (strstr (body, "Rafiki-C admin is up"));
    free (body);
    s_stop (&env);

    assert_int_equal (rfk_test_tmpdir_destroy (&site), 0);
}

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    curl_global_init (CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_events_of_own_jobs),
        cmocka_unit_test (test_web_dir),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    curl_global_cleanup ();
    return rc;
}
