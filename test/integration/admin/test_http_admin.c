/*  test_http_admin.c: the REST API against the real admin, over HTTP.

    Starts the admin actor as `rafikid up` does (embedded: SQLite under a
    temporary data directory, local launcher), on free ports, and speaks HTTP
    to it with libcurl: login and tokens, users, the roles matrix, datasets
    (uploads streamed in both field orders, ownership, delete, the size cap),
    a file that is not a model, train and inference job validation, bad
    input, banning, /healthz and /metrics, and a 512 MiB upload with the
    process's RSS growth checked (admin runs in this process).
*/
#define _GNU_SOURCE //  nftw
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <dirent.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rfk_admin.h"
#include "rfk_config.h"
#include "rfk_test.h"

#define S_PASSWORD "Integration-Pw-7431"
#define S_UPLOAD_MAX (1024ULL * 1024 * 1024)

static rfk_config_t *s_config;
static zactor_t *s_admin;
static char s_data_dir[64];
static char s_url_root[96]; /* admin.dataset_url_file_root */
static char s_base[64];
static CURL *s_curl;

//  --------------------------------------------------------------------------
//  HTTP client

typedef struct {
    long status;            /* HTTP status, 0 if the transfer failed */
    char *body;             /* body, NUL-terminated */
    size_t size;            /* its length */
    char content_type[128]; /* Content-Type */
    json_t *json;           /* the body parsed when it is JSON */
} response_t;

static size_t
s_on_body (char *data, size_t size, size_t n, void *arg)
{
    response_t *r = arg;
    size_t len = size * n;
    char *grown = realloc (r->body, r->size + len + 1);
    assert_non_null (grown);
    r->body = grown;
    memcpy (r->body + r->size, data, len);
    r->size += len;
    r->body[r->size] = 0;
    return len;
}

static size_t
s_on_header (char *data, size_t size, size_t n, void *arg)
{
    response_t *r = arg;
    size_t len = size * n;
    if (len > 13 && strncasecmp (data, "Content-Type:", 13) == 0) {
        const char *v = data + 13;
        while (*v == ' ')
            v++;
        size_t vlen = len - (size_t)(v - data);
        while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
            vlen--;
        snprintf (r->content_type, sizeof r->content_type, "%.*s", (int)vlen, v);
    }
    return len;
}

static void
s_free (response_t *r)
{
    free (r->body);
    json_decref (r->json);
    memset (r, 0, sizeof *r);
}

static struct curl_slist *
s_prepare (response_t *r, const char *method, const char *path, const char *token)
{
    curl_easy_reset (s_curl);
    memset (r, 0, sizeof *r);
    char url[1024];
    snprintf (url, sizeof url, "%s%s", s_base, path);
    curl_easy_setopt (s_curl, CURLOPT_URL, url);
    curl_easy_setopt (s_curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (s_curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (s_curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt (s_curl, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt (s_curl, CURLOPT_HEADERDATA, r);
    curl_easy_setopt (s_curl, CURLOPT_TIMEOUT, 600L);
    curl_easy_setopt (s_curl, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *headers = NULL;
    if (token) {
        char line[2048];
        snprintf (line, sizeof line, "Authorization: Bearer %s", token);
        headers = curl_slist_append (headers, line);
    }
    return headers;
}

static void
s_perform (response_t *r, struct curl_slist *headers)
{
    curl_easy_setopt (s_curl, CURLOPT_HTTPHEADER, headers);
    if (curl_easy_perform (s_curl) == CURLE_OK)
        curl_easy_getinfo (s_curl, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all (headers);
    if (r->body && strcmp (r->content_type, "application/json") == 0)
        r->json = json_loads (r->body, JSON_DECODE_ANY, NULL);
}

/* A request with an optional JSON body (text). */
static response_t
s_http (const char *method, const char *path, const char *token, const char *body)
{
    response_t r;
    struct curl_slist *headers = s_prepare (&r, method, path, token);
    if (body) {
        headers = curl_slist_append (headers, "Content-Type: application/json");
        curl_easy_setopt (s_curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt (s_curl, CURLOPT_POSTFIELDSIZE, (long)strlen (body));
    }
    s_perform (&r, headers);
    return r;
}

static const char *
s_str (json_t *json, const char *key)
{
    return json_string_value (json_object_get (json, key));
}

static const char *
s_error_code (const response_t *r)
{
    return s_str (json_object_get (r->json, "error"), "code");
}

/* Bytes of a generated file: a cycle of a prime length. */
typedef struct {
    uint64_t size, offset;
} source_t;

static size_t
s_read (char *buffer, size_t size, size_t n, void *arg)
{
    source_t *s = arg;
    size_t want = size * n;
    if (want > s->size - s->offset)
        want = (size_t)(s->size - s->offset);
    for (size_t i = 0; i < want; i++)
        buffer[i] = (char)('a' + (s->offset + i) % 23);
    s->offset += want;
    return want;
}

static int
s_seek (void *arg, curl_off_t offset, int origin)
{
    source_t *s = arg;
    if (origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    s->offset = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* A multipart upload: "name=value" fields, the file (size bytes, field
   file_field) at position file_at among them. */
static response_t
s_upload (const char *path, const char *token, const char **fields, size_t file_at,
          const char *file_field, uint64_t size)
{
    response_t r;
    struct curl_slist *headers = s_prepare (&r, "POST", path, token);
    curl_mime *mime = curl_mime_init (s_curl);
    source_t source = {.size = size};
    size_t count = 0;
    while (fields[count])
        count++;
    for (size_t i = 0; i <= count; i++) {
        if (i == file_at) {
            curl_mimepart *part = curl_mime_addpart (mime);
            curl_mime_name (part, file_field);
            curl_mime_filename (part, "upload.bin");
            curl_mime_data_cb (part, (curl_off_t)size, s_read, s_seek, NULL, &source);
        }
        if (i == count)
            break;
        const char *eq = strchr (fields[i], '=');
        char name[64];
        snprintf (name, sizeof name, "%.*s", (int)(eq - fields[i]), fields[i]);
        curl_mimepart *part = curl_mime_addpart (mime);
        curl_mime_name (part, name);
        curl_mime_data (part, eq + 1, CURL_ZERO_TERMINATED);
    }
    curl_easy_setopt (s_curl, CURLOPT_MIMEPOST, mime);
    s_perform (&r, headers);
    curl_mime_free (mime);
    return r;
}

/* Log in; the token (yours), or NULL. */
static char *
s_login (const char *email, const char *password)
{
    char body[512];
    snprintf (body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    response_t r = s_http ("POST", "/tokens", NULL, body);
    char *token =
        r.status == 200 && s_str (r.json, "token") ? strdup (s_str (r.json, "token")) : NULL;
    s_free (&r);
    return token;
}

//  --------------------------------------------------------------------------
//  The admin under test

static int
s_remove (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove (path);
}

/* Files under <data_dir>/<sub> (recursively). */
static int s_counted;
static int
s_count (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)st;
    (void)ftw;
    if (flag == FTW_F)
        s_counted++;
    return 0;
}

static int
s_files_under (const char *sub)
{
    char path[128];
    snprintf (path, sizeof path, "%s/%s", s_data_dir, sub);
    s_counted = 0;
    nftw (path, s_count, 16, FTW_PHYS);
    return s_counted;
}

/* rfk_test_wait_until's condition: the files under datasets/ are *arg again. */
static bool
s_datasets_back_to (void *arg)
{
    return s_files_under ("datasets") == *(int *)arg;
}

static int
s_setup (void **state)
{
    (void)state;
    snprintf (s_data_dir, sizeof s_data_dir, "/tmp/rfk-http-admin-XXXXXX");
    assert_non_null (mkdtemp (s_data_dir));
    snprintf (s_url_root, sizeof s_url_root, "%s/url-root", s_data_dir);
    assert_int_equal (mkdir (s_url_root, 0700), 0);
    s_config = rfk_config_new ();
    assert_non_null (s_config);
    const char *settings[][3] = {
        {NULL, "data_dir", s_data_dir},
        {NULL, "log_stderr", "false"},
        {"admin", "http_port", "0"},
        {"admin", "command_port", "0"},
        {"admin", "service_port", "0"},
        {"bus", "curve", "false"},
        {"admin", "events_port", "0"},
        {"admin", "superadmin_password", S_PASSWORD},
        {"admin", "jwt_secret", "integration-jwt-secret-0123456789abcdef"},
        {"admin", "request_max_bytes", "64KiB"},
        {"admin", "upload_max_bytes", "1GiB"},
        {"admin", "dataset_url_file_root", s_url_root},
        //  The slow template leaves marks in the data dir, which the sandbox
        //  around the model check would hide (e2e checks uploads sandboxed).
        {"launcher", "sandbox", "off"},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (rfk_config_set (s_config, settings[i][0], settings[i][1], settings[i][2], "test"))
            fail_msg ("config: %s", rfk_config_error (s_config));
    static rfk_admin_args_t args;
    args = (rfk_admin_args_t){
        .config = s_config, .dev = false, .embedded = true, .check_path = getenv ("RAFIKID")};
    s_admin = zactor_new (rfk_admin_actor_with, &args);
    assert_non_null (s_admin);
    zsock_set_rcvtimeo (zactor_sock (s_admin), 30000);
    //  [command][service][events][http port], or FAILED <reason>.
    zstr_send (s_admin, "ENDPOINTS");
    zmsg_t *reply = zmsg_recv (s_admin);
    assert_non_null (reply);
    char *frame = zmsg_popstr (reply);
    if (frame && strcmp (frame, "FAILED") == 0) {
        char *reason = zmsg_popstr (reply);
        fail_msg ("admin failed to start: %s", reason ? reason : "?");
    }
    assert_int_equal (zmsg_size (reply), 3);
    for (int i = 0; i < 3; i++) {
        zstr_free (&frame);
        frame = zmsg_popstr (reply);
    }
    zmsg_destroy (&reply);
    assert_true (atoi (frame) > 0);
    snprintf (s_base, sizeof s_base, "http://127.0.0.1:%s", frame);
    zstr_free (&frame);
    s_curl = curl_easy_init ();
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    curl_easy_cleanup (s_curl);
    zactor_destroy (&s_admin);
    rfk_config_destroy (&s_config);
    nftw (s_data_dir, s_remove, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

//  --------------------------------------------------------------------------
//  Users for the tests: one of each role, created once.

enum { S_SUPER, S_ADMIN, S_MODEL_DEV, S_APP_DEV, S_APP_DEV2, S_NUSERS };
static const char *s_emails[S_NUSERS] = {"superadmin@rafiki", "admin@it", "modeldev@it",
                                         "appdev@it", "appdev2@it"};
static const char *s_types[S_NUSERS] = {"SUPERADMIN", "ADMIN", "MODEL_DEVELOPER", "APP_DEVELOPER",
                                        "APP_DEVELOPER"};
static char *s_tokens[S_NUSERS];

static void
s_users (void)
{
    if (s_tokens[S_SUPER])
        return;
    s_tokens[S_SUPER] = s_login (s_emails[S_SUPER], S_PASSWORD);
    assert_non_null (s_tokens[S_SUPER]);
    for (int i = S_ADMIN; i < S_NUSERS; i++) {
        char body[256];
        snprintf (body, sizeof body,
                  "{\"email\":\"%s\",\"password\":\"pw-%s-123\",\"user_type\":\"%s\"}", s_emails[i],
                  s_types[i], s_types[i]);
        response_t r = s_http ("POST", "/users", s_tokens[S_SUPER], body);
        if (r.status != 200)
            fail_msg ("create %s: %ld %s", s_emails[i], r.status, r.body);
        assert_string_equal (s_str (r.json, "email"), s_emails[i]);
        assert_string_equal (s_str (r.json, "user_type"), s_types[i]);
        s_free (&r);
        snprintf (body, sizeof body, "pw-%s-123", s_types[i]);
        s_tokens[i] = s_login (s_emails[i], body);
        assert_non_null (s_tokens[i]);
    }
}

//  --------------------------------------------------------------------------
//  Tests

/* Usage: log in as the superadmin and ask who we are. */
static void
test_usage (void **state)
{
    (void)state;
    response_t r = s_http ("POST", "/tokens", NULL,
                           "{\"email\":\"superadmin@rafiki\",\"password\":\"" S_PASSWORD "\"}");
    assert_int_equal (r.status, 200);
    assert_string_equal (r.content_type, "application/json");
    assert_string_equal (s_str (r.json, "user_type"), "SUPERADMIN");
    assert_non_null (s_str (r.json, "user_id"));
    char *token = strdup (s_str (r.json, "token"));
    s_free (&r);
    r = s_http ("GET", "/me", token, NULL);
    assert_int_equal (r.status, 200);
    assert_string_equal (s_str (r.json, "email"), "superadmin@rafiki");
    s_free (&r);
    free (token);
}

/* Logging in and tokens: wrong password, missing fields, bad tokens. */
static void
test_tokens (void **state)
{
    (void)state;
    response_t r = s_http ("POST", "/tokens", NULL,
                           "{\"email\":\"superadmin@rafiki\",\"password\":\"wrong\"}");
    assert_int_equal (r.status, 401);
    assert_string_equal (s_error_code (&r), "UNAUTHORIZED");
    s_free (&r);
    r = s_http ("POST", "/tokens", NULL, "{}");
    assert_int_equal (r.status, 400);
    s_free (&r);
    r = s_http ("GET", "/me", NULL, NULL);
    assert_int_equal (r.status, 401);
    s_free (&r);
    r = s_http ("GET", "/me", "not.a.jwt", NULL);
    assert_int_equal (r.status, 401);
    s_free (&r);
    r = s_http ("GET", "/datasets", "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoieCJ9.AAAA", NULL);
    assert_int_equal (r.status, 401);
    s_free (&r);
}

/* The roles matrix of API.md, the same for every role through HTTP. */
static void
test_roles (void **state)
{
    (void)state;
    s_users ();
    static const struct {
        const char *method, *path, *body; /* body: %s is replaced by the role's index */
        long status[4];                   /* SUPERADMIN, ADMIN, MODEL_DEVELOPER, APP_DEVELOPER */
    } rows[] = {
        {"GET", "/users", NULL, {200, 200, 403, 403}},
        {"POST",
         "/users",
         "{\"email\":\"made-by-%d@it\",\"password\":\"pw-made-123\",\"user_type\":\"APP_"
         "DEVELOPER\"}",
         {200, 200, 403, 403}},
        {"POST",
         "/users",
         "{\"email\":\"admin-by-%d@it\",\"password\":\"pw-made-123\",\"user_type\":\"ADMIN\"}",
         {200, 403, 403, 403}},
        {"GET", "/me", NULL, {200, 200, 200, 200}},
        {"GET", "/datasets", NULL, {200, 200, 200, 200}},
        {"GET", "/models/available", NULL, {200, 200, 200, 200}},
        {"GET", "/train_jobs", NULL, {200, 200, 200, 200}},
        {"GET", "/inference_jobs", NULL, {200, 200, 200, 200}},
        {"POST", "/actions/stop_all_jobs", NULL, {200, 403, 403, 403}},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        for (int role = 0; role < 4; role++) {
            char body[512];
            if (rows[i].body)
                snprintf (body, sizeof body, rows[i].body, role);
            response_t r =
                s_http (rows[i].method, rows[i].path, s_tokens[role], rows[i].body ? body : NULL);
            if (r.status != rows[i].status[role])
                fail_msg ("%s %s as %s: %ld, expected %ld: %s", rows[i].method, rows[i].path,
                          s_types[role], r.status, rows[i].status[role], r.body ? r.body : "");
            if (r.status == 403)
                assert_string_equal (s_error_code (&r), "FORBIDDEN");
            s_free (&r);
        }
    //  Model uploads: admins and model developers only.
    const char *fields[] = {"name=roles-model", "task=TABULAR_CLASSIFICATION", "model_class=Nope",
                            NULL};
    response_t r = s_upload ("/models", s_tokens[S_APP_DEV], fields, 3, "model_file_bytes", 100);
    assert_int_equal (r.status, 403);
    s_free (&r);
    //  Lists are arrays.
    r = s_http ("GET", "/users", s_tokens[S_SUPER], NULL);
    assert_true (json_is_array (r.json));
    assert_true (json_array_size (r.json) >= S_NUSERS);
    s_free (&r);
}

/* Datasets: uploads in both field orders, reading, ownership, deleting. */
static void
test_datasets (void **state)
{
    (void)state;
    s_users ();
    const char *fields[] = {"name=iris-it", "task=TABULAR_CLASSIFICATION", NULL};
    response_t r = s_upload ("/datasets", s_tokens[S_APP_DEV], fields, 2, "dataset", 100000);
    if (r.status != 200)
        fail_msg ("upload: %ld %s", r.status, r.body);
    assert_string_equal (s_str (r.json, "name"), "iris-it");
    assert_string_equal (s_str (r.json, "task"), "TABULAR_CLASSIFICATION");
    assert_int_equal (json_integer_value (json_object_get (r.json, "size_bytes")), 100000);
    char *id = strdup (s_str (r.json, "id"));
    s_free (&r);

    //  The file first: the same result.
    const char *other[] = {"name=iris-it-2", "task=TABULAR_REGRESSION", NULL};
    r = s_upload ("/datasets", s_tokens[S_APP_DEV], other, 0, "dataset", 54321);
    assert_int_equal (r.status, 200);
    assert_int_equal (json_integer_value (json_object_get (r.json, "size_bytes")), 54321);
    s_free (&r);

    r = s_http ("GET", "/datasets?task=TABULAR_CLASSIFICATION", s_tokens[S_APP_DEV], NULL);
    assert_int_equal (r.status, 200);
    assert_true (json_is_array (r.json));
    bool found = false;
    for (size_t i = 0; i < json_array_size (r.json); i++) {
        json_t *d = json_array_get (r.json, i);
        assert_string_equal (s_str (d, "task"), "TABULAR_CLASSIFICATION");
        if (strcmp (s_str (d, "id"), id) == 0)
            found = true;
    }
    assert_true (found);
    s_free (&r);

    char path[256];
    snprintf (path, sizeof path, "/datasets/%s", id);
    r = s_http ("GET", path, s_tokens[S_APP_DEV], NULL);
    assert_int_equal (r.status, 200);
    assert_string_equal (s_str (r.json, "id"), id);
    s_free (&r);
    //  Someone else's dataset.
    r = s_http ("GET", path, s_tokens[S_APP_DEV2], NULL);
    assert_int_equal (r.status, 403);
    s_free (&r);
    r = s_http ("DELETE", path, s_tokens[S_APP_DEV2], NULL);
    assert_int_equal (r.status, 403);
    s_free (&r);
    //  Deleted, then gone.
    r = s_http ("DELETE", path, s_tokens[S_APP_DEV], NULL);
    assert_int_equal (r.status, 200);
    s_free (&r);
    r = s_http ("GET", path, s_tokens[S_APP_DEV], NULL);
    assert_int_equal (r.status, 404);
    assert_string_equal (s_error_code (&r), "NOT_FOUND");
    s_free (&r);
    r = s_http ("GET", "/datasets/no-such-id", s_tokens[S_APP_DEV], NULL);
    assert_int_equal (r.status, 404);
    s_free (&r);
    free (id);

    //  Bad uploads, answered with what is wrong; nothing stays behind.
    int files = s_files_under ("datasets");
    const char *no_task[] = {"name=x", NULL};
    r = s_upload ("/datasets", s_tokens[S_APP_DEV], no_task, 1, "dataset", 1000);
    assert_int_equal (r.status, 400);
    assert_non_null (strstr (r.body, "task"));
    s_free (&r);
    const char *bad_task[] = {"name=x", "task=NOT_A_TASK", NULL};
    r = s_upload ("/datasets", s_tokens[S_APP_DEV], bad_task, 2, "dataset", 1000);
    assert_int_equal (r.status, 400);
    s_free (&r);
    r = s_upload ("/datasets", NULL, fields, 2, "dataset", 1000);
    assert_int_equal (r.status, 401);
    s_free (&r);
    assert_int_equal (s_files_under ("datasets"), files);
}

/* A file over admin.upload_max_bytes is 413 before its bytes are read, and
   nothing of it stays. (A file found over the cap while it streams is
   covered by test_rfk_http_front, with a fake admin.) */
static void
test_upload_cap (void **state)
{
    (void)state;
    s_users ();
    int files = s_files_under ("datasets");
    const char *fields[] = {"name=too-big", "task=TABULAR_CLASSIFICATION", NULL};
    response_t r =
        s_upload ("/datasets", s_tokens[S_APP_DEV], fields, 2, "dataset", 4 * S_UPLOAD_MAX);
    assert_int_equal (r.status, 413);
    assert_string_equal (s_error_code (&r), "TOO_LARGE");
    s_free (&r);
    assert_int_equal (s_files_under ("datasets"), files);
    assert_int_equal (s_files_under ("tmp"), 0);
}

/* A file that is not a model template is refused with a message. */
static void
test_not_a_model (void **state)
{
    (void)state;
    s_users ();
    const char *fields[] = {"name=junk-model",
                            "task=TABULAR_CLASSIFICATION",
                            "model_class=Junk",
                            "dependencies={}",
                            "docker_image=",
                            "access_right=PRIVATE",
                            NULL};
    int files = s_files_under ("models");
    response_t r = s_upload ("/models", s_tokens[S_MODEL_DEV], fields, 6, "model_file_bytes", 4096);
    assert_int_equal (r.status, 400);
    assert_string_equal (s_error_code (&r), "BAD_REQUEST");
    assert_true (strlen (json_string_value (
                     json_object_get (json_object_get (r.json, "error"), "message"))) > 0);
    s_free (&r);
    assert_int_equal (s_files_under ("models"), files);
    //  Admin keeps serving.
    r = s_http ("GET", "/models/available", s_tokens[S_MODEL_DEV], NULL);
    assert_int_equal (r.status, 200);
    assert_true (json_is_array (r.json));
    s_free (&r);
}

/* ---- datasets named by URL ------------------------------------------------ */

#define S_IRIS_CSV "sepal,petal,class\n5.1,1.4,setosa\n6.2,4.5,versicolor\n7.7,6.7,virginica\n"

/* POST /datasets with dataset_url in place of the file. */
static response_t
s_dataset_of (const char *name, const char *task, const char *url)
{
    char name_field[128], task_field[64], url_field[1024];
    snprintf (name_field, sizeof name_field, "name=%s", name);
    snprintf (task_field, sizeof task_field, "task=%s", task);
    snprintf (url_field, sizeof url_field, "dataset_url=%s", url);
    const char *fields[] = {name_field, task_field, url_field, NULL};
    return s_upload ("/datasets", s_tokens[S_APP_DEV], fields, SIZE_MAX, "dataset", 0);
}

static response_t
s_dataset_from (const char *name, const char *url)
{
    return s_dataset_of (name, "TABULAR_CLASSIFICATION", url);
}

/* The refusal of url names it and says why. */
static void
s_refused (const char *url, long status, const char *says)
{
    response_t r = s_dataset_from ("refused", url);
    if (r.status != status)
        fail_msg ("dataset_url %s: %ld %s", url, r.status, r.body);
    const char *message = s_str (json_object_get (r.json, "error"), "message");
    if (!message || !strstr (message, says))
        fail_msg ("dataset_url %s: expected '%s' in: %s", url, says, message ? message : "");
    s_free (&r);
}

static void
test_dataset_url (void **state)
{
    (void)state;
    s_users ();
    int files = s_files_under ("datasets");
    //  A file beneath admin.dataset_url_file_root.
    char path[256], url[512];
    snprintf (path, sizeof path, "%s/iris.csv", s_url_root);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (S_IRIS_CSV, file);
    fclose (file);
    snprintf (url, sizeof url, "file://%s", path);
    response_t r = s_dataset_from ("iris-file", url);
    if (r.status != 200)
        fail_msg ("file URL: %ld %s", r.status, r.body);
    assert_int_equal (json_integer_value (json_object_get (r.json, "size_bytes")),
                      strlen (S_IRIS_CSV));
    s_free (&r);
    //  Over http.
    static char ok[512];
    snprintf (ok, sizeof ok,
              "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: %zu\r\n"
              "Connection: close\r\n\r\n%s",
              strlen (S_IRIS_CSV), S_IRIS_CSV);
    rfk_test_http_once_t server;
    assert_int_equal (rfk_test_http_once_start (&server, ok, false), 0);
    snprintf (url, sizeof url, "http://127.0.0.1:%d/iris.csv", server.port);
    r = s_dataset_from ("iris-http", url);
    rfk_test_http_once_join (&server);
    if (r.status != 200)
        fail_msg ("http URL: %ld %s", r.status, r.body);
    assert_string_equal (s_str (r.json, "name"), "iris-http");
    s_free (&r);
    //  Refusals name the URL and what failed.
    assert_int_equal (rfk_test_http_once_start (
                          &server, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false),
                      0);
    snprintf (url, sizeof url, "http://127.0.0.1:%d/missing.csv", server.port);
    s_refused (url, 400, "404");
    rfk_test_http_once_join (&server);
    assert_int_equal (
        rfk_test_http_once_start (
            &server, "HTTP/1.1 200 OK\r\nContent-Length: 5000000000\r\n\r\nsepal,petal\n", false),
        0);
    snprintf (url, sizeof url, "http://127.0.0.1:%d/huge.csv", server.port);
    s_refused (url, 413, "limit");
    rfk_test_http_once_join (&server);
    s_refused ("file:///etc/passwd", 400, "not beneath");
    char link[256];
    snprintf (link, sizeof link, "%s/escape.csv", s_url_root);
    assert_int_equal (symlink ("/etc/passwd", link), 0);
    snprintf (url, sizeof url, "file://%s", link);
    s_refused (url, 400, "not beneath");
    s_refused ("ftp://127.0.0.1/x.csv", 400, "only http, https and file");
    s_refused ("gopher://x", 400, "gopher://x");
    //  Not a dataset (an image set is a zip): the same check as a file sent.
    assert_int_equal (
        rfk_test_http_once_start (
            &server, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n\x01\x02\x03\x04", false),
        0);
    snprintf (url, sizeof url, "http://127.0.0.1:%d/binary.csv", server.port);
    r = s_dataset_of ("binary", "IMAGE_CLASSIFICATION", url);
    rfk_test_http_once_join (&server);
    assert_int_equal (r.status, 400);
    s_free (&r);
    //  Only the two good ones were kept (each with its digest file).
    assert_int_equal (s_files_under ("datasets"), files + 4);
}

/* A client that goes away while admin downloads: the download stops. */
static void
test_dataset_url_cancel (void **state)
{
    (void)state;
    s_users ();
    int files = s_files_under ("datasets");
    rfk_test_http_once_t server;
    assert_int_equal (rfk_test_http_once_start (
                          &server, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nsepal,", true),
                      0);
    char url[256], url_field[300];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/slow.csv", server.port);
    snprintf (url_field, sizeof url_field, "dataset_url=%s", url);
    const char *fields[] = {"name=slow", "task=TABULAR_CLASSIFICATION", url_field, NULL};
    response_t r;
    struct curl_slist *headers = s_prepare (&r, "POST", "/datasets", s_tokens[S_APP_DEV]);
    curl_mime *mime = curl_mime_init (s_curl);
    for (size_t i = 0; fields[i]; i++) {
        const char *eq = strchr (fields[i], '=');
        char name[64];
        snprintf (name, sizeof name, "%.*s", (int)(eq - fields[i]), fields[i]);
        curl_mimepart *part = curl_mime_addpart (mime);
        curl_mime_name (part, name);
        curl_mime_data (part, eq + 1, CURL_ZERO_TERMINATED);
    }
    curl_easy_setopt (s_curl, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt (s_curl, CURLOPT_TIMEOUT_MS, 1500L); //  gives up, closing the connection
    s_perform (&r, headers);
    curl_mime_free (mime);
    assert_int_equal (r.status, 0);
    s_free (&r);
    rfk_test_http_once_join (&server);
    //  Admin closed its download (within 20 s), kept nothing, and serves on.
    assert_true (server.peer_closed);
    //  Its partial file goes once admin's loop has joined the download.
    assert_true (rfk_test_wait_until (s_datasets_back_to, &files, NULL, 10000));
    r = s_http ("GET", "/datasets", s_tokens[S_APP_DEV], NULL);
    assert_int_equal (r.status, 200);
    s_free (&r);
}

/* Jobs and trials: validation and unknown ids. */
static void
test_jobs (void **state)
{
    (void)state;
    s_users ();
    const char *token = s_tokens[S_APP_DEV];
    response_t r = s_http ("POST", "/train_jobs", token, "{}");
    assert_int_equal (r.status, 400);
    s_free (&r);
    r = s_http ("POST", "/train_jobs", token,
                "{\"app\":\"it-app\",\"task\":\"TABULAR_CLASSIFICATION\","
                "\"train_dataset_id\":\"nope\",\"val_dataset_id\":\"nope\","
                "\"budget\":{\"MODEL_TRIAL_COUNT\":1},\"model_ids\":[\"nope\"]}");
    assert_true (r.status == 400 || r.status == 404);
    s_free (&r);
    r = s_http ("POST", "/train_jobs", token, "{\"app\":\"it-app\",\"budget\":\"lots\"}");
    assert_int_equal (r.status, 400);
    assert_non_null (strstr (r.body, "budget"));
    s_free (&r);
    //  GPUs: the local launcher gives none unless launcher.gpus says so; a job asking for
    //  one is refused before anything is looked up, naming both numbers.
    r = s_http ("POST", "/train_jobs", token,
                "{\"app\":\"it-app\",\"task\":\"TABULAR_CLASSIFICATION\","
                "\"train_dataset_id\":\"nope\",\"val_dataset_id\":\"nope\","
                "\"budget\":{\"MODEL_TRIAL_COUNT\":1,\"GPU_COUNT\":1},\"model_ids\":[\"nope\"]}");
    assert_int_equal (r.status, 409);
    assert_non_null (strstr (r.body, "budget.GPU_COUNT`: 1 GPUs asked"));
    assert_non_null (strstr (r.body, "gives jobs 0 under the local launcher (launcher.gpus)"));
    s_free (&r);
    r = s_http ("GET", "/train_jobs", token, NULL);
    assert_int_equal (r.status, 200);
    assert_true (json_is_array (r.json));
    s_free (&r);
    r = s_http ("GET", "/train_jobs/no-such-app/1", token, NULL);
    assert_int_equal (r.status, 404);
    s_free (&r);
    r = s_http ("GET", "/train_jobs/no-such-app/latest", token, NULL);
    assert_int_equal (r.status, 400);
    s_free (&r);
    r = s_http ("GET", "/trials/no-such-trial", token, NULL);
    assert_int_equal (r.status, 404);
    s_free (&r);
    r = s_http ("POST", "/inference_jobs", token, "{\"app\":\"no-such-app\",\"app_version\":-1}");
    assert_true (r.status == 400 || r.status == 404 || r.status == 409);
    s_free (&r);
    r = s_http ("POST", "/inference_jobs", token,
                "{\"app\":\"no-such-app\",\"app_version\":-1,\"budget\":{\"GPU_COUNT\":2}}");
    assert_int_equal (r.status, 409);
    assert_non_null (strstr (r.body, "2 GPUs asked"));
    s_free (&r);
    r = s_http ("GET", "/inference_jobs/no-such-app", token, NULL);
    assert_true (r.status == 200 || r.status == 404);
    s_free (&r);
}

/* Bad input of every kind is answered, and admin keeps serving. */
static void
test_bad_input (void **state)
{
    (void)state;
    s_users ();
    const char *token = s_tokens[S_SUPER];
    static const struct {
        const char *method, *path, *body;
        long status;
    } cases[] = {
        {"POST", "/users", "{\"email\": ", 400},
        {"POST", "/users", "[]", 400},
        {"POST", "/users", "{\"email\":\"a@b\",\"bogus\":1}", 400},
        {"POST", "/users", "{\"email\":\"a@b\",\"password\":\"x\",\"user_type\":\"KING\"}", 400},
        {"GET", "/no/such/path", NULL, 404},
        {"GET", "/datasets/x/y", NULL, 404},
        {"PUT", "/users", "{}", 405},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        response_t r = s_http (cases[i].method, cases[i].path, token, cases[i].body);
        if (r.status != cases[i].status)
            fail_msg ("%s %s: %ld %s", cases[i].method, cases[i].path, r.status, r.body);
        s_free (&r);
    }
    //  Over admin.request_max_bytes (64 KiB).
    size_t big = 70 * 1024;
    char *body = malloc (big + 1);
    memset (body, ' ', big);
    body[0] = '{';
    body[big - 1] = '}';
    body[big] = 0;
    response_t r = s_http ("POST", "/users", token, body);
    assert_int_equal (r.status, 413);
    s_free (&r);
    free (body);
    r = s_http ("GET", "/healthz", NULL, NULL);
    assert_int_equal (r.status, 200);
    s_free (&r);
}

/* A banned user cannot log in, and their token stops working at once. */
static void
test_ban (void **state)
{
    (void)state;
    s_users ();
    response_t r = s_http ("GET", "/me", s_tokens[S_APP_DEV2], NULL);
    assert_int_equal (r.status, 200);
    s_free (&r);
    r = s_http ("DELETE", "/users", s_tokens[S_SUPER], "{\"email\":\"appdev2@it\"}");
    assert_int_equal (r.status, 200);
    s_free (&r);
    r = s_http ("GET", "/me", s_tokens[S_APP_DEV2], NULL);
    assert_true (r.status == 401 || r.status == 403);
    s_free (&r);
    char *token = s_login ("appdev2@it", "pw-APP_DEVELOPER-123");
    assert_null (token);
}

/* /healthz and /metrics: the front's lines and admin's. */
static void
test_health_metrics (void **state)
{
    (void)state;
    response_t r = s_http ("GET", "/healthz", NULL, NULL);
    assert_int_equal (r.status, 200);
    assert_string_equal (r.body, "{\"status\":\"ok\"}");
    s_free (&r);
    r = s_http ("GET", "/metrics", NULL, NULL);
    assert_int_equal (r.status, 200);
    assert_non_null (strstr (r.body, "rfk_http_requests_total{endpoint=\"POST /tokens\""));
    assert_non_null (strstr (r.body, "rfk_http_request_duration_seconds_bucket"));
    //  Admin's own series follow the front's.
    bool other = false;
    for (char *line = strstr (r.body, "\n# TYPE "); line; line = strstr (line + 1, "\n# TYPE "))
        if (strncmp (line + 8, "rfk_http_", 9))
            other = true;
    assert_true (other);
    s_free (&r);
}

/* A model upload over HTTP whose check takes 3 s (TPL_SLOW), added to
   multi: fields then file (streamed) or file then fields (spooled). */
static CURL *
s_slow_upload (CURLM *multi, response_t *r, const char *name, bool file_first, curl_mime **mime_p)
{
    CURL *easy = curl_easy_init ();
    assert_non_null (easy);
    memset (r, 0, sizeof *r);
    char url[1024];
    snprintf (url, sizeof url, "%s/models", s_base);
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt (easy, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt (easy, CURLOPT_HEADERDATA, r);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    char line[2048];
    snprintf (line, sizeof line, "Authorization: Bearer %s", s_tokens[S_MODEL_DEV]);
    struct curl_slist *headers = curl_slist_append (NULL, line);
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, headers);
    curl_mime *mime = curl_mime_init (easy);
    const char *fields[][2] = {{"name", name},
                               {"task", "TABULAR_CLASSIFICATION"},
                               {"model_class", "TestGood"},
                               {"dependencies", "{}"},
                               {"docker_image", ""},
                               {"access_right", "PRIVATE"}};
    const char *path = getenv ("TPL_SLOW");
    assert_non_null (path);
    for (int i = 0; i <= 6; i++) {
        if (i == (file_first ? 0 : 6)) {
            curl_mimepart *part = curl_mime_addpart (mime);
            curl_mime_name (part, "model_file_bytes");
            assert_int_equal (curl_mime_filedata (part, path), CURLE_OK);
        }
        if (i == 6)
            break;
        curl_mimepart *part = curl_mime_addpart (mime);
        curl_mime_name (part, fields[i][0]);
        curl_mime_data (part, fields[i][1], CURL_ZERO_TERMINATED);
    }
    curl_easy_setopt (easy, CURLOPT_MIMEPOST, mime);
    *mime_p = mime;
    curl_multi_add_handle (multi, easy);
    return easy;
}

static int
s_files_in (const char *path)
{
    DIR *dir = opendir (path);
    int count = 0;
    struct dirent *entry;
    while (dir && (entry = readdir (dir)))
        if (entry->d_name[0] != '.')
            count++;
    if (dir)
        closedir (dir);
    return count;
}

/* Two model uploads whose checks take 3 s each (one streamed, one spooled):
   while they run admin answers other requests at once, and each upload is
   answered with its Model when its check ends. */
static void
test_slow_model_check (void **state)
{
    (void)state;
    s_users ();
    //  The folder tpl_slow is built to leave its marks in.
    const char *marks = getenv ("TPL_SLOW_MARKS");
    assert_non_null (marks);
    nftw (marks, s_remove, 8, FTW_DEPTH | FTW_PHYS);
    assert_int_equal (mkdir (marks, 0700), 0);
    CURLM *multi = curl_multi_init ();
    response_t streamed, spooled;
    curl_mime *mimes[2];
    CURL *easy[2] = {s_slow_upload (multi, &streamed, "slow-streamed", false, &mimes[0]),
                     s_slow_upload (multi, &spooled, "slow-spooled", true, &mimes[1])};
    //  Until both checks are running (each left its mark).
    int running = 2;
    struct timespec start;
    clock_gettime (CLOCK_MONOTONIC, &start);
    while (s_files_in (marks) < 2 && running == 2) {
        curl_multi_perform (multi, &running);
        curl_multi_poll (multi, NULL, 0, 100, NULL);
        struct timespec now;
        clock_gettime (CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 30)
            fail_msg ("the checks did not start within 30 s");
    }
    assert_int_equal (running, 2);
    //  Admin answers another request at once.
    struct timespec asked, answered;
    clock_gettime (CLOCK_MONOTONIC, &asked);
    response_t r = s_http ("GET", "/me", s_tokens[S_MODEL_DEV], NULL);
    clock_gettime (CLOCK_MONOTONIC, &answered);
    assert_int_equal (r.status, 200);
    s_free (&r);
    long took_ms =
        (answered.tv_sec - asked.tv_sec) * 1000 + (answered.tv_nsec - asked.tv_nsec) / 1000000;
    print_message ("# GET /me answered in %ld ms while two checks ran\n", took_ms);
    assert_true (took_ms < 1000);
    curl_multi_perform (multi, &running);
    assert_int_equal (running, 2);
    //  Both uploads are answered when their checks end.
    while (running > 0) {
        curl_multi_poll (multi, NULL, 0, 1000, NULL);
        curl_multi_perform (multi, &running);
        struct timespec now;
        clock_gettime (CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 60)
            fail_msg ("the uploads were not answered within 60 s");
    }
    clock_gettime (CLOCK_MONOTONIC, &answered);
    long waited_ms =
        (answered.tv_sec - asked.tv_sec) * 1000 + (answered.tv_nsec - asked.tv_nsec) / 1000000;
    print_message ("# the uploads were answered %ld ms later\n", waited_ms);
    response_t *responses[2] = {&streamed, &spooled};
    const char *names[2] = {"slow-streamed", "slow-spooled"};
    for (int i = 0; i < 2; i++) {
        long status = 0;
        curl_easy_getinfo (easy[i], CURLINFO_RESPONSE_CODE, &status);
        if (status != 200)
            fail_msg ("%s: %ld %s", names[i], status, responses[i]->body);
        json_t *json = json_loads (responses[i]->body, 0, NULL);
        assert_string_equal (s_str (json, "name"), names[i]);
        json_decref (json);
        struct curl_slist *headers = NULL;
        curl_easy_getinfo (easy[i], CURLINFO_PRIVATE, (char **)&headers);
        curl_multi_remove_handle (multi, easy[i]);
        curl_easy_cleanup (easy[i]);
        curl_mime_free (mimes[i]);
        curl_slist_free_all (headers);
        s_free (responses[i]);
    }
    curl_multi_cleanup (multi);
    r = s_http ("GET", "/models/available", s_tokens[S_MODEL_DEV], NULL);
    assert_int_equal (r.status, 200);
    size_t slow = 0;
    for (size_t i = 0; i < json_array_size (r.json); i++)
        if (strncmp (s_str (json_array_get (r.json, i), "name"), "slow-", 5) == 0)
            slow++;
    assert_int_equal (slow, 2);
    s_free (&r);
}

static long
s_rss_kb (void)
{
    FILE *f = fopen ("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets (line, sizeof line, f))
        if (strncmp (line, "VmRSS:", 6) == 0)
            kb = strtol (line + 6, NULL, 10);
    if (f)
        fclose (f);
    return kb;
}

typedef struct {
    source_t source;
    long peak_kb;
} rss_source_t;

/* A CSV file: a header line, then the same row over and over. */
#define S_CSV_HEADER "a,b,c,y\n"
#define S_CSV_ROW "1.5,2.25,3.0,1\n"

static size_t
s_read_csv (char *buffer, size_t size, size_t n, source_t *s)
{
    size_t want = size * n;
    if (want > s->size - s->offset)
        want = (size_t)(s->size - s->offset);
    const size_t header = sizeof S_CSV_HEADER - 1, row = sizeof S_CSV_ROW - 1;
    for (size_t i = 0; i < want; i++) {
        uint64_t at = s->offset + i;
        buffer[i] = at < header ? S_CSV_HEADER[at] : S_CSV_ROW[(at - header) % row];
    }
    s->offset += want;
    return want;
}

static size_t
s_read_sampling (char *buffer, size_t size, size_t n, void *arg)
{
    rss_source_t *s = arg;
    uint64_t before = s->source.offset;
    size_t got = s_read_csv (buffer, size, n, &s->source);
    if ((before >> 23) != (s->source.offset >> 23)) {
        long kb = s_rss_kb ();
        if (kb > s->peak_kb)
            s->peak_kb = kb;
    }
    return got;
}

/* A 512 MiB dataset through admin grows the process's RSS by < 64 MiB. */
static void
test_upload_512mib (void **state)
{
    (void)state;
    s_users ();
    response_t r;
    struct curl_slist *headers = s_prepare (&r, "POST", "/datasets", s_tokens[S_APP_DEV]);
    curl_mime *mime = curl_mime_init (s_curl);
    curl_mimepart *part = curl_mime_addpart (mime);
    curl_mime_name (part, "name");
    curl_mime_data (part, "huge-it", CURL_ZERO_TERMINATED);
    part = curl_mime_addpart (mime);
    curl_mime_name (part, "task");
    curl_mime_data (part, "TABULAR_CLASSIFICATION", CURL_ZERO_TERMINATED);
    long before = s_rss_kb ();
    //  512 MiB of whole rows.
    const uint64_t header = sizeof S_CSV_HEADER - 1, row = sizeof S_CSV_ROW - 1;
    const uint64_t size = header + (512ULL * 1024 * 1024 - header) / row * row;
    rss_source_t source = {.source = {.size = size}, .peak_kb = before};
    part = curl_mime_addpart (mime);
    curl_mime_name (part, "dataset");
    curl_mime_filename (part, "huge.csv");
    curl_mime_data_cb (part, (curl_off_t)source.source.size, s_read_sampling, NULL, NULL, &source);
    curl_easy_setopt (s_curl, CURLOPT_MIMEPOST, mime);
    s_perform (&r, headers);
    curl_mime_free (mime);
    if (r.status != 200)
        fail_msg ("%ld %s", r.status, r.body);
    assert_int_equal (json_integer_value (json_object_get (r.json, "size_bytes")), size);
    long after = s_rss_kb ();
    long peak = source.peak_kb > after ? source.peak_kb : after;
    print_message ("# RSS before %ld KiB, peak %ld KiB, after %ld KiB\n", before, peak, after);
    assert_true (peak - before < 64 * 1024);
    char path[256];
    snprintf (path, sizeof path, "/datasets/%s", s_str (r.json, "id"));
    s_free (&r);
    r = s_http ("DELETE", path, s_tokens[S_APP_DEV], NULL);
    assert_int_equal (r.status, 200);
    s_free (&r);
}

int
main (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),         cmocka_unit_test (test_tokens),
        cmocka_unit_test (test_roles),         cmocka_unit_test (test_datasets),
        cmocka_unit_test (test_upload_cap),    cmocka_unit_test (test_not_a_model),
        cmocka_unit_test (test_jobs),          cmocka_unit_test (test_bad_input),
        cmocka_unit_test (test_ban),           cmocka_unit_test (test_health_metrics),
        cmocka_unit_test (test_upload_512mib), cmocka_unit_test (test_slow_model_check),
        cmocka_unit_test (test_dataset_url),   cmocka_unit_test (test_dataset_url_cancel),
    };
    int rc = cmocka_run_group_tests (tests, s_setup, s_teardown);
    for (int i = 0; i < S_NUSERS; i++)
        free (s_tokens[i]);
    curl_global_cleanup ();
    return rc;
}
