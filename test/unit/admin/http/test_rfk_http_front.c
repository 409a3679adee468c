/*  test_rfk_http_front.c: admin's HTTP front over real HTTP.

    The front runs with a fake handler table (it records every request and
    answers with canned replies; its uploads check and count the bytes they
    get) on 127.0.0.1 and a free port, driven by a thread of this test that
    polls rfk_http_front_fd as the admin actor does. The test speaks HTTP
    with libcurl: routing of every endpoint of API.md, query-string merge,
    form bodies, content types, status mapping, bad input, static files,
    /healthz and /metrics, and multipart uploads streamed in chunks, with
    the fields before or after the file, over the cap, and 512 MiB with the
    process's RSS growth checked.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "rfk_http_front.h"
//  Compiled here to check that the real handler table fits the front's.
#include "rfk_http_admin.h"
#include "rfk_test.h"

//  --------------------------------------------------------------------------
//  The bytes of test files: a cycle of a prime length, so any misplaced or
//  lost chunk shows.

#define S_CYCLE 251
static unsigned char s_pattern[S_CYCLE * 2];

static void
s_pattern_init (void)
{
    for (size_t i = 0; i < sizeof s_pattern; i++)
        s_pattern[i] = (unsigned char)((i % S_CYCLE) * 7 + 3);
}

/* True when data is the pattern at offset. */
static bool
s_pattern_matches (const unsigned char *data, size_t size, uint64_t offset)
{
    while (size) {
        size_t at = (size_t)(offset % S_CYCLE);
        size_t n = size < S_CYCLE ? size : S_CYCLE;
        if (memcmp (data, s_pattern + at, n))
            return false;
        data += n;
        size -= n;
        offset += n;
    }
    return true;
}

//  --------------------------------------------------------------------------
//  The fake admin

typedef struct {
    json_t *fields;     /* UploadStart body */
    uint64_t bytes;     /* bytes written */
    bool pattern_ok;    /* every byte was the pattern's */
    uint64_t max_bytes; /* cap (0: none) */
} fake_upload_t;

typedef struct {
    pthread_mutex_t lock;    /* guards everything below */
    char last_type[64];      /* type of the last request */
    json_t *last_body;       /* its body */
    char last_token[256];    /* its token, "" if none */
    int requests;            /* requests handled */
    int begun;               /* uploads begun */
    int finished;            /* uploads finished */
    int aborted;             /* uploads aborted */
    json_t *upload_fields;   /* fields of the last upload begun */
    uint64_t upload_bytes;   /* bytes of the last upload finished */
    bool upload_pattern_ok;  /* its bytes were the pattern */
    uint64_t bytes_at_begin; /* file bytes the front had when it began the upload: see below */
    uint64_t upload_cap;     /* cap given to new uploads */
    long rss_peak_kb;        /* highest VmRSS seen while writing uploads */
    pthread_cond_t changed;  /* signalled when an upload finishes or is aborted */
    json_t *by_name;         /* name -> {bytes, pattern_ok} of every upload finished */
} fake_t;

static long
s_rss_kb (void)
{
    FILE *f = fopen ("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets (line, sizeof line, f))
        if (strncmp (line, "VmRSS:", 6) == 0)
            kb = strtol (line + 6, NULL, 10);
    fclose (f);
    return kb;
}

static rfk_msg_t *
s_reply (const char *type, const char *json)
{
    rfk_msg_t *reply = rfk_msg_new (&rfk_admin_family, type, 0);
    json_t *body = json_loads (json, 0, NULL);
    assert_non_null (body);
    json_decref (reply->body);
    reply->body = body;
    return reply;
}

static rfk_msg_t *
s_fake_handle (void *ctx, const rfk_msg_t *request)
{
    fake_t *fake = ctx;
    pthread_mutex_lock (&fake->lock);
    snprintf (fake->last_type, sizeof fake->last_type, "%s", request->type);
    json_decref (fake->last_body);
    fake->last_body = json_deep_copy (request->body);
    snprintf (fake->last_token, sizeof fake->last_token, "%s",
              request->token ? request->token : "");
    fake->requests++;
    pthread_mutex_unlock (&fake->lock);

    const char *id = json_string_value (json_object_get (request->body, "id"));
    if (rfk_msg_is (request, "GetMe") && request->token && strcmp (request->token, "bad") == 0)
        return rfk_msg_new_error (&rfk_admin_family, 0, RFK_CODE_UNAUTHORIZED,
                                  "the token is invalid or expired");
    if (rfk_msg_is (request, "Login"))
        return s_reply ("Token", "{\"user_id\":\"u1\",\"user_type\":\"SUPERADMIN\","
                                 "\"token\":\"tok-1\"}");
    if (rfk_msg_is (request, "GetMe"))
        return s_reply ("User", "{\"id\":\"u1\",\"email\":\"superadmin@rafiki\","
                                "\"user_type\":\"SUPERADMIN\"}");
    if (rfk_msg_is (request, "ListDatasets"))
        return s_reply ("DatasetList", "{\"datasets\":[{\"id\":\"d1\",\"name\":\"iris\","
                                       "\"task\":\"TABULAR_CLASSIFICATION\",\"size_bytes\":42}]}");
    if (rfk_msg_is (request, "ListUsers"))
        return s_reply ("UserList", "{}");
    if (rfk_msg_is (request, "GetDataset") && id && strcmp (id, "missing") == 0)
        return rfk_msg_new_error (&rfk_admin_family, 0, RFK_CODE_NOT_FOUND,
                                  "no dataset with id missing");
    if (rfk_msg_is (request, "CreateTrainJob") && json_object_get (request->body, "app") &&
        strcmp (json_string_value (json_object_get (request->body, "app")), "busy") == 0)
        return rfk_msg_new_error (&rfk_admin_family, 0, RFK_CODE_CONFLICT,
                                  "app busy has a running train job");
    if (rfk_msg_is (request, "GetModelFile")) {
        rfk_msg_t *reply = s_reply ("FileData", "{\"name\":\"my model.so\"}");
        rfk_msg_set_data (reply,
                          "\x7f"
                          "ELF\0\1\2",
                          7);
        return reply;
    }
    return s_reply ("Deleted", "{\"id\":\"ok\"}");
}

static void *
s_fake_upload_begin (void *ctx, const char *token, json_t *fields, rfk_msg_t **error)
{
    fake_t *fake = ctx;
    const char *task = json_string_value (json_object_get (fields, "task"));
    if (task && strcmp (task, "NO_SUCH_TASK") == 0) {
        *error = rfk_msg_new_error (&rfk_admin_family, 0, RFK_CODE_BAD_REQUEST,
                                    "task NO_SUCH_TASK is not a task");
        return NULL;
    }
    (void)token;
    fake_upload_t *up = calloc (1, sizeof *up);
    up->fields = json_deep_copy (fields);
    up->pattern_ok = true;
    pthread_mutex_lock (&fake->lock);
    up->max_bytes = fake->upload_cap;
    fake->begun++;
    json_decref (fake->upload_fields);
    fake->upload_fields = json_deep_copy (fields);
    pthread_mutex_unlock (&fake->lock);
    return up;
}

static fake_t *s_fake_for_rss; //  where upload writes record the RSS peak

static int
s_fake_upload_write (void *upload, const void *data, size_t n, rfk_msg_t **error)
{
    fake_upload_t *up = upload;
    if (up->pattern_ok && !s_pattern_matches (data, n, up->bytes))
        up->pattern_ok = false;
    up->bytes += n;
    if (up->max_bytes && up->bytes > up->max_bytes) {
        *error = rfk_msg_new_error (&rfk_admin_family, 0, RFK_CODE_TOO_LARGE,
                                    "the dataset is over the cap");
        return -1;
    }
    //  Sample the RSS every 8 MiB or so.
    if (s_fake_for_rss && ((up->bytes - n) >> 23) != (up->bytes >> 23)) {
        long kb = s_rss_kb ();
        pthread_mutex_lock (&s_fake_for_rss->lock);
        if (kb > s_fake_for_rss->rss_peak_kb)
            s_fake_for_rss->rss_peak_kb = kb;
        pthread_mutex_unlock (&s_fake_for_rss->lock);
    }
    return 0;
}

static rfk_msg_t *
s_fake_upload_finish (void *ctx, void **upload_p)
{
    fake_t *fake = ctx;
    fake_upload_t *up = *upload_p;
    *upload_p = NULL;
    pthread_mutex_lock (&fake->lock);
    fake->finished++;
    fake->upload_bytes = up->bytes;
    fake->upload_pattern_ok = up->pattern_ok;
    json_object_set_new (
        fake->by_name, json_string_value (json_object_get (up->fields, "name")),
        json_pack ("{s:I,s:b}", "bytes", (json_int_t)up->bytes, "pattern_ok", up->pattern_ok));
    pthread_cond_broadcast (&fake->changed);
    pthread_mutex_unlock (&fake->lock);
    bool model = strcmp (json_string_value (json_object_get (up->fields, "kind")), "MODEL") == 0;
    rfk_msg_t *reply = rfk_msg_new (&rfk_admin_family, model ? "Model" : "Dataset", 0);
    json_object_set_new (reply->body, "id", json_string (model ? "m-new" : "d-new"));
    json_object_set (reply->body, "name", json_object_get (up->fields, "name"));
    if (!model)
        json_object_set_new (reply->body, "size_bytes", json_integer ((json_int_t)up->bytes));
    else
        json_object_set_new (reply->body, "user_id", json_string ("u1"));
    json_decref (up->fields);
    free (up);
    return reply;
}

static void
s_fake_upload_abort (void *ctx, void **upload_p)
{
    fake_t *fake = ctx;
    fake_upload_t *up = *upload_p;
    *upload_p = NULL;
    pthread_mutex_lock (&fake->lock);
    fake->aborted++;
    pthread_cond_broadcast (&fake->changed);
    pthread_mutex_unlock (&fake->lock);
    json_decref (up->fields);
    free (up);
}

static void
s_fake_metrics (void *ctx, FILE *out)
{
    (void)ctx;
    fprintf (out, "# TYPE rfk_admin_services gauge\nrfk_admin_services{state=\"RUNNING\"} 2\n");
}

//  --------------------------------------------------------------------------
//  The server: a front and the thread that drives it

typedef struct {
    rfk_http_front_t *front; /* the front under test */
    fake_t fake;             /* its handlers' state */
    pthread_t thread;        /* the loop */
    int stop[2];             /* pipe: a byte stops the loop */
    char base[64];           /* "http://127.0.0.1:PORT" */
    char *data_dir;          /* temporary data directory (rfk_test_tmpdir_new) */
    CURL *curl;              /* the client, one connection kept alive */
} server_t;

static void *
s_server_loop (void *arg)
{
    server_t *server = arg;
    while (true) {
        struct pollfd items[2] = {{rfk_http_front_fd (server->front), POLLIN, 0},
                                  {server->stop[0], POLLIN, 0}};
        long timeout = rfk_http_front_timeout_ms (server->front);
        int rc = poll (items, 2, timeout < 0 ? -1 : (int)(timeout > 1000 ? 1000 : timeout));
        if (rc < 0 && errno != EINTR)
            break;
        if (items[1].revents)
            break;
        rfk_http_front_step (server->front);
    }
    return NULL;
}

static server_t *
s_server_start (uint64_t request_max, uint64_t upload_max, const char *static_dir)
{
    server_t *server = calloc (1, sizeof *server);
    assert_non_null (server);
    pthread_mutex_init (&server->fake.lock, NULL);
    pthread_cond_init (&server->fake.changed, NULL);
    server->fake.by_name = json_object ();
    server->data_dir = rfk_test_tmpdir_new ("http-test");
    assert_non_null (server->data_dir);
    rfk_http_front_config_t config = {.host = "127.0.0.1",
                                      .port = 0,
                                      .request_max_bytes = request_max,
                                      .upload_max_bytes = upload_max,
                                      .data_dir = server->data_dir,
                                      .static_dir = static_dir};
    rfk_http_handlers_t handlers = {.ctx = &server->fake,
                                    .handle = s_fake_handle,
                                    .upload_begin = s_fake_upload_begin,
                                    .upload_write = s_fake_upload_write,
                                    .upload_finish = s_fake_upload_finish,
                                    .upload_abort = s_fake_upload_abort,
                                    .metrics = s_fake_metrics};
    char err[256];
    server->front = rfk_http_front_new (&config, &handlers, err, sizeof err);
    if (!server->front)
        fail_msg ("front: %s", err);
    assert_true (rfk_http_front_port (server->front) > 0);
    assert_true (rfk_http_front_fd (server->front) >= 0);
    snprintf (server->base, sizeof server->base, "http://127.0.0.1:%d",
              rfk_http_front_port (server->front));
    assert_int_equal (pipe (server->stop), 0);
    assert_int_equal (pthread_create (&server->thread, NULL, s_server_loop, server), 0);
    server->curl = curl_easy_init ();
    assert_non_null (server->curl);
    return server;
}

/* Files left in the spool directory. */
static int
s_spool_files (server_t *server)
{
    char path[128];
    snprintf (path, sizeof path, "%s/tmp", server->data_dir);
    DIR *dir = opendir (path);
    if (!dir)
        return 0;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)))
        if (entry->d_name[0] != '.')
            count++;
    closedir (dir);
    return count;
}

static void
s_server_stop (server_t **server_p)
{
    server_t *server = *server_p;
    assert_int_equal (write (server->stop[1], "x", 1), 1);
    pthread_join (server->thread, NULL);
    curl_easy_cleanup (server->curl);
    rfk_http_front_destroy (&server->front);
    rfk_http_front_destroy (&server->front);
    close (server->stop[0]);
    close (server->stop[1]);
    char path[128];
    snprintf (path, sizeof path, "%s/tmp", server->data_dir);
    rmdir (path);
    assert_int_equal (rmdir (server->data_dir), 0); //  nothing left behind
    zstr_free (&server->data_dir);
    json_decref (server->fake.last_body);
    json_decref (server->fake.upload_fields);
    json_decref (server->fake.by_name);
    pthread_cond_destroy (&server->fake.changed);
    pthread_mutex_destroy (&server->fake.lock);
    free (server);
    *server_p = NULL;
}

//  --------------------------------------------------------------------------
//  The client

typedef struct {
    long status;            /* HTTP status, 0 if the transfer failed */
    char *body;             /* response body, NUL-terminated */
    size_t size;            /* its length */
    char content_type[128]; /* Content-Type, "" if none */
    char allow[128];        /* Allow, "" if none */
    char disposition[256];  /* Content-Disposition, "" if none */
    json_t *json;           /* the body parsed, or NULL */
} response_t;

static size_t
s_on_body (char *data, size_t size, size_t n, void *arg)
{
    response_t *response = arg;
    size_t len = size * n;
    char *grown = realloc (response->body, response->size + len + 1);
    assert_non_null (grown);
    response->body = grown;
    memcpy (response->body + response->size, data, len);
    response->size += len;
    response->body[response->size] = 0;
    return len;
}

static void
s_header_value (const char *line, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen (name);
    if (len <= nlen + 1 || strncasecmp (line, name, nlen) || line[nlen] != ':')
        return;
    const char *v = line + nlen + 1;
    size_t vlen = len - nlen - 1;
    while (vlen && *v == ' ')
        v++, vlen--;
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
        vlen--;
    snprintf (out, outlen, "%.*s", (int)vlen, v);
}

static size_t
s_on_header (char *data, size_t size, size_t n, void *arg)
{
    response_t *response = arg;
    size_t len = size * n;
    s_header_value (data, len, "Content-Type", response->content_type,
                    sizeof response->content_type);
    s_header_value (data, len, "Allow", response->allow, sizeof response->allow);
    s_header_value (data, len, "Content-Disposition", response->disposition,
                    sizeof response->disposition);
    return len;
}

static void
s_response_free (response_t *response)
{
    free (response->body);
    json_decref (response->json);
    memset (response, 0, sizeof *response);
}

/* Set up the handle for a request to path with method and token. */
static struct curl_slist *
s_prepare (server_t *server, response_t *response, const char *method, const char *path,
           const char *token, const char *content_type)
{
    CURL *curl = server->curl;
    curl_easy_reset (curl);
    memset (response, 0, sizeof *response);
    char url[2048];
    snprintf (url, sizeof url, "%s%s", server->base, path);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp (method, "HEAD") == 0)
        curl_easy_setopt (curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, response);
    curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt (curl, CURLOPT_HEADERDATA, response);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, 600L);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *headers = NULL;
    char line[512];
    if (token) {
        snprintf (line, sizeof line, "Authorization: Bearer %s", token);
        headers = curl_slist_append (headers, line);
    }
    if (content_type) {
        //  "" sends no Content-Type at all.
        snprintf (line, sizeof line, "Content-Type:%s%s", *content_type ? " " : "", content_type);
        headers = curl_slist_append (headers, line);
    }
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    return headers;
}

static void
s_perform (server_t *server, response_t *response, struct curl_slist *headers)
{
    CURLcode rc = curl_easy_perform (server->curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo (server->curl, CURLINFO_RESPONSE_CODE, &response->status);
    curl_slist_free_all (headers);
    if (response->body && strcmp (response->content_type, "application/json") == 0)
        response->json = json_loads (response->body, JSON_DECODE_ANY, NULL);
}

/* One request with an optional body (NULL: none) of the given content type. */
static response_t
s_http (server_t *server, const char *method, const char *path, const char *token,
        const char *content_type, const char *body)
{
    response_t response;
    struct curl_slist *headers =
        s_prepare (server, &response, method, path, token, body ? content_type : NULL);
    if (body) {
        curl_easy_setopt (server->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt (server->curl, CURLOPT_POSTFIELDSIZE, (long)strlen (body));
    }
    s_perform (server, &response, headers);
    return response;
}

/* The error code and message of an error response. */
static const char *
s_error_code (const response_t *response)
{
    return json_string_value (json_object_get (json_object_get (response->json, "error"), "code"));
}

static const char *
s_error_message (const response_t *response)
{
    const char *message =
        json_string_value (json_object_get (json_object_get (response->json, "error"), "message"));
    return message ? message : "";
}

/* The value of one series in GET /metrics, or -1. */
static long long
s_metric (server_t *server, const char *series)
{
    response_t r = s_http (server, "GET", "/metrics", NULL, NULL, NULL);
    long long value = -1;
    const char *at = r.body ? strstr (r.body, series) : NULL;
    if (at)
        value = strtoll (at + strlen (series), NULL, 10);
    s_response_free (&r);
    return value;
}

#define S_STREAMED "rfk_http_uploads_total{mode=\"streamed\"} "
#define S_SPOOLED "rfk_http_uploads_total{mode=\"spooled\"} "

//  Multipart uploads: text fields and a generated file part, in any order.

typedef struct {
    uint64_t size;   /* bytes to produce */
    uint64_t offset; /* produced so far */
    size_t chunk;    /* at most this many per read, to cut the stream into chunks */
} file_source_t;

static size_t
s_file_read (char *buffer, size_t size, size_t n, void *arg)
{
    file_source_t *source = arg;
    size_t want = size * n;
    if (want > source->chunk)
        want = source->chunk;
    if (want > source->size - source->offset)
        want = (size_t)(source->size - source->offset);
    size_t done = 0;
    while (done < want) {
        size_t at = (size_t)((source->offset + done) % S_CYCLE);
        size_t m = want - done < S_CYCLE ? want - done : S_CYCLE;
        memcpy (buffer + done, s_pattern + at, m);
        done += m;
    }
    source->offset += want;
    return want;
}

static int
s_file_seek (void *arg, curl_off_t offset, int origin)
{
    file_source_t *source = arg;
    if (origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    source->offset = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static bool s_chunked; //  uploads without a length (Transfer-Encoding: chunked)

/* A multipart POST: fields is "name=value" strings, NULL-terminated; the
   file part (named file_field, file_size bytes of the pattern, read in
   chunks of chunk bytes) goes at position file_at among them. */
static response_t
s_upload (server_t *server, const char *path, const char *token, const char **fields,
          size_t file_at, const char *file_field, uint64_t file_size, size_t chunk)
{
    response_t response;
    struct curl_slist *headers = s_prepare (server, &response, "POST", path, token, NULL);
    curl_mime *mime = curl_mime_init (server->curl);
    file_source_t source = {.size = file_size, .chunk = chunk};
    size_t i = 0;
    for (; fields && fields[i]; i++) {
        if (i == file_at && file_field) {
            curl_mimepart *part = curl_mime_addpart (mime);
            curl_mime_name (part, file_field);
            curl_mime_filename (part, "data.bin");
            curl_mime_data_cb (part, s_chunked ? -1 : (curl_off_t)file_size, s_file_read,
                               s_file_seek, NULL, &source);
        }
        const char *eq = strchr (fields[i], '=');
        assert_non_null (eq);
        char name[64];
        snprintf (name, sizeof name, "%.*s", (int)(eq - fields[i]), fields[i]);
        curl_mimepart *part = curl_mime_addpart (mime);
        curl_mime_name (part, name);
        curl_mime_data (part, eq + 1, CURL_ZERO_TERMINATED);
    }
    if (file_at >= i && file_field) {
        curl_mimepart *part = curl_mime_addpart (mime);
        curl_mime_name (part, file_field);
        curl_mime_filename (part, "data.bin");
        curl_mime_data_cb (part, s_chunked ? -1 : (curl_off_t)file_size, s_file_read, s_file_seek,
                           NULL, &source);
    }
    curl_easy_setopt (server->curl, CURLOPT_MIMEPOST, mime);
    s_perform (server, &response, headers);
    curl_mime_free (mime);
    return response;
}

//  --------------------------------------------------------------------------
//  Tests

static server_t *s_server; //  the shared server of most tests

static int
s_setup (void **state)
{
    (void)state;
    s_server = s_server_start (64 * 1024, 16 * 1024 * 1024, NULL);
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    s_server_stop (&s_server);
    return 0;
}

/* Usage: log in over HTTP; the reply is the admin's Token as JSON. */
static void
test_usage (void **state)
{
    (void)state;
    response_t r = s_http (s_server, "POST", "/tokens", NULL, "application/json",
                           "{\"email\":\"superadmin@rafiki\",\"password\":\"secret\"}");
    assert_int_equal (r.status, 200);
    assert_string_equal (r.content_type, "application/json");
    assert_non_null (r.json);
    assert_string_equal (json_string_value (json_object_get (r.json, "user_id")), "u1");
    assert_string_equal (json_string_value (json_object_get (r.json, "user_type")), "SUPERADMIN");
    assert_string_equal (json_string_value (json_object_get (r.json, "token")), "tok-1");
    assert_string_equal (s_server->fake.last_type, "Login");
    assert_string_equal (json_string_value (json_object_get (s_server->fake.last_body, "email")),
                         "superadmin@rafiki");
    s_response_free (&r);
}

/* The front's settings come from Rafiki-C's configuration keys. */
static void
test_config (void **state)
{
    (void)state;
    rfk_config_t *cfg = rfk_config_new ();
    assert_int_equal (rfk_config_set (cfg, "admin", "http_port", "0", "test"), 0);
    assert_int_equal (rfk_config_set (cfg, "admin", "upload_max_bytes", "3MiB", "test"), 0);
    assert_int_equal (rfk_config_set (cfg, NULL, "data_dir", "/tmp", "test"), 0);
    rfk_http_front_config_t config;
    rfk_http_front_config_from (&config, cfg);
    assert_string_equal (config.host, "127.0.0.1");
    assert_int_equal (config.port, 0);
    assert_int_equal (config.request_max_bytes, 1024 * 1024);
    assert_int_equal (config.upload_max_bytes, 3 * 1024 * 1024);
    assert_int_equal (config.max_connections, 256);
    assert_string_equal (config.data_dir, "/tmp");
    assert_null (config.static_dir);
    //  A front on those settings listens; a second one on its port cannot.
    rfk_http_handlers_t handlers = {.ctx = NULL, .handle = s_fake_handle};
    char err[256];
    rfk_http_front_t *front = rfk_http_front_new (&config, &handlers, err, sizeof err);
    assert_non_null (front);
    config.port = rfk_http_front_port (front);
    rfk_http_front_t *second = rfk_http_front_new (&config, &handlers, err, sizeof err);
    assert_null (second);
    assert_non_null (strstr (err, "cannot listen"));
    config.host = "no such host name.invalid";
    assert_null (rfk_http_front_new (&config, &handlers, err, sizeof err));
    assert_non_null (strstr (err, "cannot use address"));
    rfk_http_front_destroy (&front);
    assert_null (front);
    rfk_config_destroy (&cfg);
}

/* Every endpoint reaches the handler as its request type, with its fields. */
static void
test_routing (void **state)
{
    (void)state;
    static const struct {
        const char *method, *path, *body, *type, *fields;
    } cases[] = {
        {"GET", "/users", NULL, "ListUsers", "{}"},
        {"POST", "/users", "{\"email\":\"a@b\",\"password\":\"p\",\"user_type\":\"ADMIN\"}",
         "CreateUser", "{\"email\":\"a@b\",\"password\":\"p\",\"user_type\":\"ADMIN\"}"},
        {"DELETE", "/users", "{\"email\":\"a@b\"}", "BanUser", "{\"email\":\"a@b\"}"},
        {"GET", "/me", NULL, "GetMe", "{}"},
        {"GET", "/datasets?task=IMAGE_CLASSIFICATION", NULL, "ListDatasets",
         "{\"task\":\"IMAGE_CLASSIFICATION\"}"},
        {"GET", "/datasets/d-1", NULL, "GetDataset", "{\"id\":\"d-1\"}"},
        {"DELETE", "/datasets/d-1", NULL, "DeleteDataset", "{\"id\":\"d-1\"}"},
        {"GET", "/models/available?task=POS_TAGGING", NULL, "ListAvailableModels",
         "{\"task\":\"POS_TAGGING\"}"},
        {"GET", "/models?task=POS_TAGGING", NULL, "ListAvailableModels",
         "{\"task\":\"POS_TAGGING\"}"},
        {"GET", "/models/m-1", NULL, "GetModel", "{\"id\":\"m-1\"}"},
        {"DELETE", "/models/m-1", NULL, "DeleteModel", "{\"id\":\"m-1\"}"},
        {"GET", "/models/m-1/model_file", NULL, "GetModelFile", "{\"id\":\"m-1\"}"},
        {"POST", "/train_jobs",
         "{\"app\":\"fashion\",\"task\":\"IMAGE_CLASSIFICATION\",\"train_dataset_id\":\"d1\","
         "\"val_dataset_id\":\"d2\",\"budget\":{\"MODEL_TRIAL_COUNT\":5,\"GPU_COUNT\":0},"
         "\"model_ids\":[\"m1\",\"m2\"],\"train_args\":{\"target\":\"y\"}}",
         "CreateTrainJob",
         "{\"app\":\"fashion\",\"task\":\"IMAGE_CLASSIFICATION\",\"train_dataset_id\":\"d1\","
         "\"val_dataset_id\":\"d2\",\"budget\":{\"MODEL_TRIAL_COUNT\":5,\"GPU_COUNT\":0},"
         "\"model_ids\":[\"m1\",\"m2\"],\"train_args\":{\"target\":\"y\"}}"},
        {"GET", "/train_jobs?user_id=u-9", NULL, "ListTrainJobs", "{\"user_id\":\"u-9\"}"},
        {"GET", "/train_jobs/fashion", NULL, "GetTrainJobsOfApp", "{\"app\":\"fashion\"}"},
        {"GET", "/train_jobs/fashion/2", NULL, "GetTrainJob",
         "{\"app\":\"fashion\",\"app_version\":2}"},
        {"POST", "/train_jobs/fashion/-1/stop", NULL, "StopTrainJob",
         "{\"app\":\"fashion\",\"app_version\":-1}"},
        {"GET", "/train_jobs/fashion/2/trials?limit=10&offset=20", NULL, "ListTrials",
         "{\"app\":\"fashion\",\"app_version\":2,\"limit\":10,\"offset\":20}"},
        {"GET", "/train_jobs/fashion/2/trials?type=best&max_count=3", NULL, "ListTrials",
         "{\"app\":\"fashion\",\"app_version\":2,\"type\":\"best\",\"max_count\":3}"},
        {"GET", "/trials/t-1", NULL, "GetTrial", "{\"id\":\"t-1\"}"},
        {"GET", "/trials/t-1/logs", NULL, "GetTrialLogs", "{\"id\":\"t-1\"}"},
        {"GET", "/trials/t-1/parameters", NULL, "GetTrialParameters", "{\"id\":\"t-1\"}"},
        {"POST", "/inference_jobs",
         "{\"app\":\"fashion\",\"app_version\":-1,\"budget\":{\"GPU_COUNT\":0},"
         "\"max_trials\":2,\"replicas\":1}",
         "CreateInferenceJob",
         "{\"app\":\"fashion\",\"app_version\":-1,\"budget\":{\"GPU_COUNT\":0},"
         "\"max_trials\":2,\"replicas\":1}"},
        {"GET", "/inference_jobs?user_id=u-9", NULL, "ListInferenceJobs", "{\"user_id\":\"u-9\"}"},
        {"GET", "/inference_jobs/fashion", NULL, "GetInferenceJobsOfApp", "{\"app\":\"fashion\"}"},
        {"GET", "/inference_jobs/fashion/1", NULL, "GetInferenceJob",
         "{\"app\":\"fashion\",\"app_version\":1}"},
        {"POST", "/inference_jobs/fashion/1/stop", NULL, "StopInferenceJob",
         "{\"app\":\"fashion\",\"app_version\":1}"},
        {"POST", "/actions/stop_all_jobs", NULL, "StopAllJobs", "{}"},
        //  Percent-encoded path segments arrive decoded.
        {"GET", "/train_jobs/my%20app", NULL, "GetTrainJobsOfApp", "{\"app\":\"my app\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        response_t r = s_http (s_server, cases[i].method, cases[i].path, "tok-1",
                               "application/json", cases[i].body);
        if (r.status != 200)
            fail_msg ("%s %s: status %ld: %s", cases[i].method, cases[i].path, r.status,
                      r.body ? r.body : "");
        assert_string_equal (r.content_type, cases[i].type && strcmp (cases[i].type, "GetModelFile")
                                                 ? "application/json"
                                                 : "application/octet-stream");
        assert_string_equal (s_server->fake.last_type, cases[i].type);
        assert_string_equal (s_server->fake.last_token, "tok-1");
        json_t *expected = json_loads (cases[i].fields, 0, NULL);
        assert_non_null (expected);
        if (!json_equal (expected, s_server->fake.last_body)) {
            char *got = json_dumps (s_server->fake.last_body, JSON_COMPACT | JSON_SORT_KEYS);
            fail_msg ("%s %s: fields %s, expected %s", cases[i].method, cases[i].path, got,
                      cases[i].fields);
        }
        json_decref (expected);
        s_response_free (&r);
    }
}

/* Query-string values are merged on top of the body, path parameters on
   top of both; form bodies work like JSON ones. */
static void
test_merge_and_forms (void **state)
{
    (void)state;
    response_t r = s_http (s_server, "POST", "/inference_jobs?app_version=3&app=other", "t",
                           "application/json", "{\"app\":\"fashion\",\"app_version\":1}");
    assert_int_equal (r.status, 200);
    json_t *expected = json_pack ("{s:s,s:i}", "app", "other", "app_version", 3);
    assert_true (json_equal (expected, s_server->fake.last_body));
    json_decref (expected);
    s_response_free (&r);

    r = s_http (s_server, "GET", "/train_jobs/fashion/2?app=evil", "t", NULL, NULL);
    assert_int_equal (r.status, 200);
    assert_string_equal (json_string_value (json_object_get (s_server->fake.last_body, "app")),
                         "fashion");
    s_response_free (&r);

    //  The original clients post forms: urlencoded ...
    r = s_http (s_server, "POST", "/tokens", NULL, "application/x-www-form-urlencoded",
                "email=a%40b.c&password=p%26q");
    assert_int_equal (r.status, 200);
    expected = json_pack ("{s:s,s:s}", "email", "a@b.c", "password", "p&q");
    assert_true (json_equal (expected, s_server->fake.last_body));
    json_decref (expected);
    s_response_free (&r);

    //  ... with JSON-valued fields as text, and repeated list fields.
    r = s_http (s_server, "POST", "/train_jobs", "t", "application/x-www-form-urlencoded",
                "app=a&task=T&budget=%7B%22MODEL_TRIAL_COUNT%22%3A2%7D&model_ids=m1&model_ids=m2");
    assert_int_equal (r.status, 200);
    expected = json_loads ("{\"app\":\"a\",\"task\":\"T\",\"budget\":{\"MODEL_TRIAL_COUNT\":2},"
                           "\"model_ids\":[\"m1\",\"m2\"]}",
                           0, NULL);
    assert_true (json_equal (expected, s_server->fake.last_body));
    json_decref (expected);
    s_response_free (&r);

    //  ... and multipart without a file.
    const char *fields[] = {"email=x@y", "password=pw", "user_type=MODEL_DEVELOPER", NULL};
    r = s_upload (s_server, "/users", "t", fields, 99, NULL, 0, 0);
    assert_int_equal (r.status, 200);
    assert_string_equal (s_server->fake.last_type, "CreateUser");
    expected = json_pack ("{s:s,s:s,s:s}", "email", "x@y", "password", "pw", "user_type",
                          "MODEL_DEVELOPER");
    assert_true (json_equal (expected, s_server->fake.last_body));
    json_decref (expected);
    s_response_free (&r);

    //  An empty body is an empty request; the handler judges it.
    r = s_http (s_server, "POST", "/tokens", NULL, "application/json", "");
    assert_int_equal (r.status, 200);
    assert_string_equal (s_server->fake.last_type, "Login");
    assert_int_equal (json_object_size (s_server->fake.last_body), 0);
    s_response_free (&r);
    r = s_http (s_server, "POST", "/actions/stop_all_jobs", "t", NULL, NULL);
    assert_int_equal (r.status, 200);
    assert_string_equal (s_server->fake.last_type, "StopAllJobs");
    s_response_free (&r);
}

/* Replies map to statuses and content types as API.md says. */
static void
test_replies (void **state)
{
    (void)state;
    //  A list is a JSON array of its records.
    response_t r = s_http (s_server, "GET", "/datasets", "t", NULL, NULL);
    assert_int_equal (r.status, 200);
    assert_string_equal (r.content_type, "application/json");
    assert_true (json_is_array (r.json));
    assert_int_equal (json_array_size (r.json), 1);
    assert_string_equal (json_string_value (json_object_get (json_array_get (r.json, 0), "id")),
                         "d1");
    s_response_free (&r);
    r = s_http (s_server, "GET", "/users", "t", NULL, NULL);
    assert_int_equal (r.status, 200);
    assert_string_equal (r.body, "[]");
    s_response_free (&r);

    //  A file is octet-stream with its bytes and a safe name.
    r = s_http (s_server, "GET", "/models/m1/model_file", "t", NULL, NULL);
    assert_int_equal (r.status, 200);
    assert_string_equal (r.content_type, "application/octet-stream");
    assert_int_equal (r.size, 7);
    assert_memory_equal (r.body,
                         "\x7f"
                         "ELF\0\1\2",
                         7);
    assert_string_equal (r.disposition, "attachment; filename=\"my_model.so\"");
    s_response_free (&r);

    //  Errors carry their code's status and the handler's message.
    r = s_http (s_server, "GET", "/datasets/missing", "t", NULL, NULL);
    assert_int_equal (r.status, 404);
    assert_string_equal (r.content_type, "application/json");
    assert_string_equal (s_error_code (&r), "NOT_FOUND");
    assert_string_equal (s_error_message (&r), "no dataset with id missing");
    s_response_free (&r);
    r = s_http (s_server, "POST", "/train_jobs", "t", "application/json", "{\"app\":\"busy\"}");
    assert_int_equal (r.status, 409);
    assert_string_equal (s_error_code (&r), "CONFLICT");
    s_response_free (&r);
    r = s_http (s_server, "GET", "/me", "bad", NULL, NULL);
    assert_int_equal (r.status, 401);
    assert_string_equal (s_error_code (&r), "UNAUTHORIZED");
    s_response_free (&r);

    //  The token is the Bearer's; other schemes give none.
    r = s_http (s_server, "GET", "/me", NULL, NULL, NULL);
    assert_string_equal (s_server->fake.last_token, "");
    s_response_free (&r);
}

/* Bad input is answered 400/404/405/413 with a message, never 500. */
static void
test_bad_input (void **state)
{
    (void)state;
    static const struct {
        const char *method, *path, *content_type, *body;
        long status;
        const char *code, *message;
    } cases[] = {
        {"POST", "/tokens", "application/json", "{\"email\": ", 400, "BAD_REQUEST",
         "invalid JSON body"},
        {"POST", "/tokens", "application/json", "[1,2]", 400, "BAD_REQUEST", "must be an object"},
        {"POST", "/tokens", "application/json", "\"text\"", 400, "BAD_REQUEST", "JSON"},
        {"POST", "/tokens", "application/json", "{\"email\":\"a\",\"email\":\"b\"}", 400,
         "BAD_REQUEST", "duplicate"},
        {"POST", "/tokens", "", "not json at all", 400, "BAD_REQUEST", "invalid JSON body"},
        {"POST", "/tokens", "text/plain", "{\"email\":", 400, "BAD_REQUEST", "invalid JSON body"},
        {"POST", "/tokens", "application/x-www-form-urlencoded", "not a form", 400, "BAD_REQUEST",
         "form body is malformed"},
        {"POST", "/tokens", "application/json", "{\"bogus\":1}", 400, "BAD_REQUEST",
         "unknown field `bogus`"},
        {"POST", "/tokens", "application/json", "{\"email\":5}", 400, "BAD_REQUEST",
         "field `email` must be a string"},
        {"POST", "/users", "application/json", "{\"user_type\":\"KING\"}", 400, "BAD_REQUEST",
         "field `user_type` must be one of"},
        {"GET", "/train_jobs/app/latest", NULL, NULL, 400, "BAD_REQUEST",
         "field `app_version` must be an integer"},
        {"GET", "/train_jobs/app/1/trials?limit=-5", NULL, NULL, 400, "BAD_REQUEST",
         "field `limit`"},
        {"POST", "/train_jobs", "application/json", "{\"budget\":[1]}", 400, "BAD_REQUEST",
         "field `budget` must be an object"},
        {"POST", "/train_jobs?budget=%7Bnope", NULL, NULL, 400, "BAD_REQUEST",
         "field `budget` is not valid JSON"},
        {"POST", "/train_jobs", "application/json", "{\"data\":\"x\"}", 400, "BAD_REQUEST", "data"},
        {"GET", "/nothing/here", NULL, NULL, 404, "NOT_FOUND", "no such page"},
        {"GET", "/datasets/a/b/c", NULL, NULL, 404, "NOT_FOUND", "no such endpoint"},
        {"PUT", "/datasets/d1", "application/json", "{}", 405, "METHOD_NOT_ALLOWED",
         "allowed: GET, DELETE"},
        {"GET", "/tokens", NULL, NULL, 405, "METHOD_NOT_ALLOWED", "allowed: POST"},
        {"POST", "/healthz", NULL, NULL, 405, "METHOD_NOT_ALLOWED", "GET"},
        {"POST", "/users", "multipart/form-data", "x", 400, "BAD_REQUEST", "boundary"},
        {"POST", "/users", "multipart/form-data; boundary=XX", "garbage without boundary", 400,
         "BAD_REQUEST", "multipart body has no part"},
        {"POST", "/tokens", "application/x-www-form-urlencoded", "email=a&email=b", 400,
         "BAD_REQUEST", "given twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        response_t r = s_http (s_server, cases[i].method, cases[i].path, "t", cases[i].content_type,
                               cases[i].body);
        if (r.status != cases[i].status || !s_error_code (&r) ||
            strcmp (s_error_code (&r), cases[i].code) ||
            !strstr (s_error_message (&r), cases[i].message))
            fail_msg ("%s %s %s: got %ld %s", cases[i].method, cases[i].path,
                      cases[i].body ? cases[i].body : "", r.status, r.body ? r.body : "(none)");
        assert_string_equal (r.content_type, "application/json");
        s_response_free (&r);
    }
    //  405 says which methods would do.
    response_t r = s_http (s_server, "PATCH", "/users", "t", NULL, NULL);
    assert_int_equal (r.status, 405);
    assert_string_equal (r.allow, "GET, POST, DELETE");
    s_response_free (&r);

    //  A body over request_max_bytes (64 KiB here): 413, with a length ...
    size_t big = 65 * 1024;
    char *body = malloc (big + 1);
    memset (body, ' ', big);
    body[0] = '{';
    body[big - 1] = '}';
    body[big] = 0;
    r = s_http (s_server, "POST", "/tokens", NULL, "application/json", body);
    assert_int_equal (r.status, 413);
    assert_string_equal (s_error_code (&r), "TOO_LARGE");
    s_response_free (&r);
    //  ... and chunked, without one.
    struct curl_slist *headers =
        s_prepare (s_server, &r, "POST", "/tokens", NULL, "application/json");
    headers = curl_slist_append (headers, "Transfer-Encoding: chunked");
    file_source_t source = {.size = big, .chunk = 4096};
    curl_easy_setopt (s_server->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (s_server->curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt (s_server->curl, CURLOPT_READFUNCTION, s_file_read);
    curl_easy_setopt (s_server->curl, CURLOPT_READDATA, &source);
    curl_easy_setopt (s_server->curl, CURLOPT_CUSTOMREQUEST, "POST");
    s_perform (s_server, &r, headers);
    assert_int_equal (r.status, 413);
    assert_string_equal (s_error_code (&r), "TOO_LARGE");
    s_response_free (&r);
    free (body);

    //  After all that, the front still serves.
    r = s_http (s_server, "GET", "/healthz", NULL, NULL, NULL);
    assert_int_equal (r.status, 200);
    s_response_free (&r);
}

/* Garbage on the socket does not disturb the front. */
static void
test_garbage (void **state)
{
    (void)state;
    static const char *inputs[] = {
        "GARBAGE\r\n\r\n", "GET\r\n\r\n",
        "POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\n{",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        int fd = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in address = {.sin_family = AF_INET,
                                      .sin_port =
                                          htons ((uint16_t)rfk_http_front_port (s_server->front))};
        inet_pton (AF_INET, "127.0.0.1", &address.sin_addr);
        assert_int_equal (connect (fd, (struct sockaddr *)&address, sizeof address), 0);
        assert_true (write (fd, inputs[i], strlen (inputs[i])) > 0);
        shutdown (fd, SHUT_WR);
        char reply[512];
        struct pollfd item = {fd, POLLIN, 0};
        if (poll (&item, 1, 5000) > 0) {
            ssize_t n = read (fd, reply, sizeof reply - 1);
            (void)n;
        }
        close (fd);
    }
    response_t r = s_http (s_server, "GET", "/healthz", NULL, NULL, NULL);
    assert_int_equal (r.status, 200);
    s_response_free (&r);
}

/* /healthz and /metrics are the front's own. */
static void
test_health_and_metrics (void **state)
{
    (void)state;
    response_t r = s_http (s_server, "GET", "/healthz", NULL, NULL, NULL);
    assert_int_equal (r.status, 200);
    assert_string_equal (r.content_type, "application/json");
    assert_string_equal (r.body, "{\"status\":\"ok\"}");
    s_response_free (&r);
    r = s_http (s_server, "HEAD", "/healthz", NULL, NULL, NULL);
    assert_int_equal (r.status, 200);
    s_response_free (&r);
    r = s_http (s_server, "GET", "/datasets/missing", "t", NULL, NULL);
    s_response_free (&r);

    r = s_http (s_server, "GET", "/metrics", NULL, NULL, NULL);
    assert_int_equal (r.status, 200);
    assert_non_null (strstr (r.content_type, "text/plain"));
    assert_non_null (strstr (r.body, "# TYPE rfk_http_requests_total counter"));
    assert_non_null (
        strstr (r.body, "rfk_http_requests_total{endpoint=\"GET /healthz\",status=\"200\"}"));
    assert_non_null (strstr (r.body, "rfk_http_requests_total{endpoint=\"GET /datasets/{id}\","
                                     "status=\"404\"}"));
    assert_non_null (strstr (r.body, "# TYPE rfk_http_request_duration_seconds histogram"));
    assert_non_null (strstr (r.body, "rfk_http_request_duration_seconds_bucket{endpoint=\"GET "
                                     "/healthz\",le=\"+Inf\"}"));
    assert_non_null (strstr (r.body, "rfk_http_upload_bytes_total"));
    assert_non_null (strstr (r.body, "rfk_admin_services{state=\"RUNNING\"} 2"));
    s_response_free (&r);
}

/* Without a web admin build, / is a placeholder page; with one, its files. */
static void
test_static (void **state)
{
    (void)state;
    response_t r = s_http (s_server, "GET", "/", NULL, NULL, NULL);
    assert_int_equal (r.status, 200);
    assert_string_equal (r.content_type, "text/html; charset=utf-8");
    assert_non_null (strstr (r.body, "Rafiki-C admin is up"));
    s_response_free (&r);

    char *dir = rfk_test_tmpdir_new ("http-web");
    assert_non_null (dir);
    char path[128];
    snprintf (path, sizeof path, "%s/index.html", dir);
    FILE *f = fopen (path, "w");
    fputs ("<html>web admin</html>", f);
    fclose (f);
    snprintf (path, sizeof path, "%s/assets", dir);
    mkdir (path, 0700);
    snprintf (path, sizeof path, "%s/assets/app.js", dir);
    f = fopen (path, "w");
    fputs ("console.log(1)", f);
    fclose (f);
    snprintf (path, sizeof path, "%s/.secret", dir);
    f = fopen (path, "w");
    fputs ("no", f);
    fclose (f);

    server_t *server = s_server_start (64 * 1024, 1024 * 1024, dir);
    r = s_http (server, "GET", "/", NULL, NULL, NULL);
    assert_int_equal (r.status, 200);
    assert_string_equal (r.body, "<html>web admin</html>");
    assert_string_equal (r.content_type, "text/html; charset=utf-8");
    s_response_free (&r);
    r = s_http (server, "GET", "/assets/app.js", NULL, NULL, NULL);
    assert_int_equal (r.status, 200);
    assert_string_equal (r.body, "console.log(1)");
    assert_string_equal (r.content_type, "text/javascript; charset=utf-8");
    s_response_free (&r);
    static const char *refused[] = {"/.secret", "/assets/../.secret", "/../../etc/passwd",
                                    "/missing.js", "/assets/%2e%2e/%2e%2e/etc/passwd"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        r = s_http (server, "GET", refused[i], NULL, NULL, NULL);
        if (r.status != 404)
            fail_msg ("%s: %ld", refused[i], r.status);
        s_response_free (&r);
    }
    r = s_http (server, "POST", "/index.html", NULL, "application/json", "{}");
    assert_int_equal (r.status, 405);
    s_response_free (&r);
    //  API paths are never files.
    r = s_http (server, "GET", "/healthz", NULL, NULL, NULL);
    assert_string_equal (r.body, "{\"status\":\"ok\"}");
    s_response_free (&r);
    s_server_stop (&server);

    assert_int_equal (rfk_test_tmpdir_destroy (&dir), 0);
}

/* A dataset upload with the fields first streams into the upload as the
   chunks arrive. */
static void
test_upload_fields_first (void **state)
{
    (void)state;
    int begun = s_server->fake.begun;
    long long streamed = s_metric (s_server, S_STREAMED);
    long long spooled = s_metric (s_server, S_SPOOLED);
    const char *fields[] = {"name=iris", "task=TABULAR_CLASSIFICATION", NULL};
    uint64_t size = 3 * 1024 * 1024 + 17;
    response_t r = s_upload (s_server, "/datasets", "tok-1", fields, 2, "dataset", size, 10000);
    if (r.status != 200)
        fail_msg ("%ld %s", r.status, r.body);
    assert_string_equal (r.content_type, "application/json");
    assert_string_equal (json_string_value (json_object_get (r.json, "id")), "d-new");
    assert_int_equal (json_integer_value (json_object_get (r.json, "size_bytes")), size);
    assert_int_equal (s_server->fake.begun, begun + 1);
    assert_int_equal (s_server->fake.upload_bytes, size);
    assert_true (s_server->fake.upload_pattern_ok);
    json_t *expected = json_pack ("{s:s,s:s,s:s}", "kind", "DATASET", "name", "iris", "task",
                                  "TABULAR_CLASSIFICATION");
    assert_true (json_equal (expected, s_server->fake.upload_fields));
    json_decref (expected);
    //  The front checked the token first.
    assert_string_equal (s_server->fake.last_type, "GetMe");
    assert_string_equal (s_server->fake.last_token, "tok-1");
    assert_int_equal (s_spool_files (s_server), 0);
    assert_int_equal (s_metric (s_server, S_STREAMED), streamed + 1);
    assert_int_equal (s_metric (s_server, S_SPOOLED), spooled);
    s_response_free (&r);

    //  Without a Content-Length (chunked), the same.
    s_chunked = true;
    r = s_upload (s_server, "/datasets", "tok-1", fields, 2, "dataset", 1000003, 7000);
    s_chunked = false;
    assert_int_equal (r.status, 200);
    assert_int_equal (s_server->fake.upload_bytes, 1000003);
    assert_true (s_server->fake.upload_pattern_ok);
    s_response_free (&r);

    //  Query-string fields count as fields that came first.
    const char *name_only[] = {"name=wine", NULL};
    r = s_upload (s_server, "/datasets?task=TABULAR_REGRESSION", "tok-1", name_only, 1, "dataset",
                  1000, 100);
    assert_int_equal (r.status, 200);
    assert_string_equal (json_string_value (json_object_get (s_server->fake.upload_fields, "task")),
                         "TABULAR_REGRESSION");
    s_response_free (&r);
}

/* The file may come before the fields (curl -F order is the user's): it is
   spooled and handed over whole once the fields are in. */
static void
test_upload_file_first (void **state)
{
    (void)state;
    long long streamed = s_metric (s_server, S_STREAMED);
    long long spooled = s_metric (s_server, S_SPOOLED);
    const char *fields[] = {"name=fmnist", "task=IMAGE_CLASSIFICATION", NULL};
    uint64_t size = 5 * 1024 * 1024 + 3;
    response_t r = s_upload (s_server, "/datasets", "tok-1", fields, 0, "dataset", size, 65536);
    if (r.status != 200)
        fail_msg ("%ld %s", r.status, r.body);
    assert_int_equal (json_integer_value (json_object_get (r.json, "size_bytes")), size);
    assert_int_equal (s_server->fake.upload_bytes, size);
    assert_true (s_server->fake.upload_pattern_ok);
    assert_string_equal (json_string_value (json_object_get (s_server->fake.upload_fields, "name")),
                         "fmnist");
    assert_int_equal (s_spool_files (s_server), 0);
    assert_int_equal (s_metric (s_server, S_STREAMED), streamed);
    assert_int_equal (s_metric (s_server, S_SPOOLED), spooled + 1);
    s_response_free (&r);

    //  Chunked, too.
    s_chunked = true;
    r = s_upload (s_server, "/datasets", "tok-1", fields, 0, "dataset", size, 50000);
    s_chunked = false;
    assert_int_equal (r.status, 200);
    assert_int_equal (s_server->fake.upload_bytes, size);
    assert_true (s_server->fake.upload_pattern_ok);
    s_response_free (&r);

    //  Between two fields, too.
    r = s_upload (s_server, "/datasets", "tok-1", fields, 1, "dataset", 12345, 1000);
    assert_int_equal (r.status, 200);
    assert_int_equal (s_server->fake.upload_bytes, 12345);
    assert_true (s_server->fake.upload_pattern_ok);
    s_response_free (&r);
}

/* A model upload takes its fields, JSON dependencies included. */
static void
test_upload_model (void **state)
{
    (void)state;
    const char *fields[] = {"name=svm",
                            "task=TABULAR_CLASSIFICATION",
                            "model_class=SvmClassifier",
                            "dependencies={\"libsvm\": \"3.25\"}",
                            "docker_image=rafiki/worker",
                            "access_right=PUBLIC",
                            NULL};
    response_t r =
        s_upload (s_server, "/models", "tok-1", fields, 6, "model_file_bytes", 200000, 4096);
    if (r.status != 200)
        fail_msg ("%ld %s", r.status, r.body);
    assert_string_equal (json_string_value (json_object_get (r.json, "id")), "m-new");
    assert_string_equal (json_string_value (json_object_get (r.json, "user_id")), "u1");
    json_t *expected =
        json_loads ("{\"kind\":\"MODEL\",\"name\":\"svm\",\"task\":\"TABULAR_CLASSIFICATION\","
                    "\"model_class\":\"SvmClassifier\",\"dependencies\":{\"libsvm\":\"3.25\"},"
                    "\"docker_image\":\"rafiki/worker\",\"access_right\":\"PUBLIC\"}",
                    0, NULL);
    assert_true (json_equal (expected, s_server->fake.upload_fields));
    json_decref (expected);
    assert_int_equal (s_server->fake.upload_bytes, 200000);
    s_response_free (&r);

    //  Optional fields left out: the file is spooled (a later field could
    //  still come) and handed over at the end.
    const char *few[] = {"name=svm2", "task=TABULAR_CLASSIFICATION", "model_class=Svm", NULL};
    r = s_upload (s_server, "/models", "tok-1", few, 3, "model_file_bytes", 70000, 4096);
    assert_int_equal (r.status, 200);
    assert_int_equal (s_server->fake.upload_bytes, 70000);
    assert_true (s_server->fake.upload_pattern_ok);
    assert_null (json_object_get (s_server->fake.upload_fields, "dependencies"));
    s_response_free (&r);
}

/* Uploads with something wrong are refused with the right status; the
   partial upload is dropped and no spool file stays. */
static void
test_upload_errors (void **state)
{
    (void)state;
    const char *ok[] = {"name=iris", "task=TABULAR_CLASSIFICATION", NULL};
    const char *unknown[] = {"name=iris", "task=T", "colour=red", NULL};
    const char *bad_task[] = {"name=iris", "task=NO_SUCH_TASK", NULL};
    const char *bad_deps[] = {"name=m",
                              "task=T",
                              "model_class=C",
                              "dependencies=[1",
                              "docker_image=i",
                              "access_right=PUBLIC",
                              NULL};
    const char *bad_right[] = {"name=m", "task=T", "model_class=C", "access_right=OPEN", NULL};
    int begun = s_server->fake.begun;
    struct {
        const char *path, *token, **fields;
        size_t file_at;
        const char *file_field;
        long status;
        const char *code, *message;
    } cases[] = {
        {"/datasets", "bad", ok, 2, "dataset", 401, "UNAUTHORIZED", "invalid"},
        {"/datasets", "t", ok, 2, NULL, 400, "BAD_REQUEST",
         "field `dataset` (the file) is missing"},
        {"/datasets", "t", ok, 2, "model_file_bytes", 400, "BAD_REQUEST",
         "unexpected file in field `model_file_bytes`"},
        {"/datasets", "t", unknown, 0, "dataset", 400, "BAD_REQUEST", "unknown field `colour`"},
        {"/datasets", "t", unknown, 3, "dataset", 400, "BAD_REQUEST", "unknown field `colour`"},
        {"/datasets", "t", bad_task, 2, "dataset", 400, "BAD_REQUEST", "NO_SUCH_TASK"},
        {"/datasets", "t", bad_task, 0, "dataset", 400, "BAD_REQUEST", "NO_SUCH_TASK"},
        {"/models", "t", bad_deps, 6, "model_file_bytes", 400, "BAD_REQUEST",
         "field `dependencies` is not valid JSON"},
        {"/models", "t", bad_right, 0, "model_file_bytes", 400, "BAD_REQUEST",
         "field `access_right` must be one of"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int aborted = s_server->fake.aborted;
        int begun_before = s_server->fake.begun;
        response_t r = s_upload (s_server, cases[i].path, cases[i].token, cases[i].fields,
                                 cases[i].file_at, cases[i].file_field, 300000, 8192);
        if (r.status != cases[i].status || !s_error_code (&r) ||
            strcmp (s_error_code (&r), cases[i].code) ||
            !strstr (s_error_message (&r), cases[i].message))
            fail_msg ("case %zu: got %ld %s", i, r.status, r.body ? r.body : "(none)");
        //  Whatever began was aborted.
        assert_int_equal (s_server->fake.aborted - aborted, s_server->fake.begun - begun_before);
        assert_int_equal (s_spool_files (s_server), 0);
        s_response_free (&r);
    }
    //  A bad token is refused before any upload begins.
    (void)begun;

    //  Not multipart.
    response_t r = s_http (s_server, "POST", "/datasets", "t", "application/json", "{}");
    assert_int_equal (r.status, 400);
    assert_non_null (strstr (s_error_message (&r), "multipart/form-data"));
    s_response_free (&r);

    //  The front still serves.
    r = s_http (s_server, "GET", "/healthz", NULL, NULL, NULL);
    assert_int_equal (r.status, 200);
    s_response_free (&r);
}

/* A file over upload_max_bytes is 413 TOO_LARGE, whether the length says so
   up front or it only shows while streaming; nothing of it stays. */
static void
test_upload_too_large (void **state)
{
    (void)state;
    server_t *server = s_server_start (64 * 1024, 1024 * 1024, NULL);
    const char *fields[] = {"name=big", "task=T", NULL};

    //  Just over the cap, fields first (streaming into the upload).
    response_t r =
        s_upload (server, "/datasets", "t", fields, 2, "dataset", 1024 * 1024 + 1, 65536);
    assert_int_equal (r.status, 413);
    assert_string_equal (s_error_code (&r), "TOO_LARGE");
    assert_int_equal (server->fake.begun, 1);
    assert_int_equal (server->fake.aborted, 1);
    assert_int_equal (server->fake.finished, 0);
    s_response_free (&r);

    //  Just over the cap, file first (spooling).
    r = s_upload (server, "/datasets", "t", fields, 0, "dataset", 1024 * 1024 + 1, 65536);
    assert_int_equal (r.status, 413);
    assert_string_equal (s_error_code (&r), "TOO_LARGE");
    assert_int_equal (server->fake.begun, 1);
    assert_int_equal (s_spool_files (server), 0);
    s_response_free (&r);

    //  Far over: refused from the Content-Length, before the body is read.
    r = s_upload (server, "/datasets", "t", fields, 2, "dataset", 64 * 1024 * 1024, 65536);
    assert_int_equal (r.status, 413);
    assert_string_equal (s_error_code (&r), "TOO_LARGE");
    assert_int_equal (server->fake.begun, 1);
    s_response_free (&r);

    //  Over the cap without a length: the file is cut off at the cap.
    s_chunked = true;
    r = s_upload (server, "/datasets", "t", fields, 2, "dataset", 1024 * 1024 + 100, 65536);
    s_chunked = false;
    assert_int_equal (r.status, 413);
    assert_string_equal (s_error_code (&r), "TOO_LARGE");
    assert_int_equal (server->fake.begun, 2);
    assert_int_equal (server->fake.aborted, 2);
    s_response_free (&r);

    //  The handler's own cap (admin's) is answered the same way.
    server->fake.upload_cap = 1000;
    r = s_upload (server, "/datasets", "t", fields, 2, "dataset", 5000, 512);
    assert_int_equal (r.status, 413);
    assert_string_equal (s_error_message (&r), "the dataset is over the cap");
    assert_int_equal (server->fake.aborted, 3);
    s_response_free (&r);
    server->fake.upload_cap = 0;

    //  And uploads under the cap still work.
    r = s_upload (server, "/datasets", "t", fields, 2, "dataset", 1024 * 1024, 65536);
    assert_int_equal (r.status, 200);
    assert_int_equal (server->fake.upload_bytes, 1024 * 1024);
    s_response_free (&r);
    s_server_stop (&server);
}

typedef struct {
    server_t *server; /* the front's test server */
    int count;        /* the aborted uploads wanted */
} s_aborted_wait_t;

/* Whether the fake aborted count uploads (lock held). */
static bool
s_aborted (void *arg)
{
    s_aborted_wait_t *wait = arg;
    return wait->server->fake.aborted >= wait->count;
}

/* Wait (up to 10 s) until the fake has aborted `count` uploads. */
static bool
s_wait_aborted (server_t *server, int count)
{
    s_aborted_wait_t wait = {server, count};
    return rfk_test_wait_locked (&server->fake.lock, &server->fake.changed, s_aborted, &wait,
                                 10000);
}

/* A source that gives up halfway, as a client that goes away. */
static size_t
s_abort_read (char *buffer, size_t size, size_t n, void *arg)
{
    file_source_t *source = arg;
    if (source->offset >= source->size / 2)
        return CURL_READFUNC_ABORT;
    return s_file_read (buffer, size, n, arg);
}

/* A client that goes away mid-upload: the upload is aborted (admin drops
   its partial file), in both paths, and the front goes on serving. */
static void
test_upload_client_gone (void **state)
{
    (void)state;
    server_t *server = s_server_start (64 * 1024, 64 * 1024 * 1024, NULL);
    for (int spooled = 0; spooled < 2; spooled++) {
        response_t r;
        struct curl_slist *headers = s_prepare (server, &r, "POST", "/datasets", "t", NULL);
        curl_mime *mime = curl_mime_init (server->curl);
        curl_mimepart *part;
        if (!spooled) {
            part = curl_mime_addpart (mime);
            curl_mime_name (part, "name");
            curl_mime_data (part, "gone", CURL_ZERO_TERMINATED);
            part = curl_mime_addpart (mime);
            curl_mime_name (part, "task");
            curl_mime_data (part, "T", CURL_ZERO_TERMINATED);
        }
        file_source_t source = {.size = 8 * 1024 * 1024, .chunk = 65536};
        part = curl_mime_addpart (mime);
        curl_mime_name (part, "dataset");
        curl_mime_filename (part, "data.bin");
        curl_mime_data_cb (part, (curl_off_t)source.size, s_abort_read, s_file_seek, NULL, &source);
        curl_easy_setopt (server->curl, CURLOPT_MIMEPOST, mime);
        assert_int_not_equal (curl_easy_perform (server->curl), CURLE_OK);
        curl_slist_free_all (headers);
        curl_mime_free (mime);
        s_response_free (&r);
        if (!spooled && !s_wait_aborted (server, 1)) {
            char cmd[128];
            snprintf (cmd, sizeof cmd, "ss -tnoi | grep -A1 %d",
                      rfk_http_front_port (server->front));
            system (cmd);
            fail ();
        }
    }
    assert_int_equal (server->fake.begun, 1);
    assert_int_equal (server->fake.finished, 0);
    assert_int_equal (s_spool_files (server), 0);
    response_t r = s_http (server, "GET", "/healthz", NULL, NULL, NULL);
    assert_int_equal (r.status, 200);
    s_response_free (&r);
    s_server_stop (&server);
}

/* Uploads and requests on several connections at once, one streamed, one
   spooled, interleave without mixing their bytes. */
static void
test_concurrent (void **state)
{
    (void)state;
    server_t *server = s_server_start (64 * 1024, 64 * 1024 * 1024, NULL);
    CURLM *multi = curl_multi_init ();
    enum { N = 5 };
    CURL *easy[N];
    response_t responses[N];
    curl_mime *mimes[N] = {NULL};
    file_source_t sources[N];
    memset (sources, 0, sizeof sources);
    struct curl_slist *headers = curl_slist_append (NULL, "Authorization: Bearer t");
    for (int i = 0; i < N; i++) {
        easy[i] = curl_easy_init ();
        memset (&responses[i], 0, sizeof responses[i]);
        char url[128];
        bool upload = i < 3;
        snprintf (url, sizeof url, "%s%s", server->base, upload ? "/datasets" : "/datasets?task=X");
        curl_easy_setopt (easy[i], CURLOPT_URL, url);
        curl_easy_setopt (easy[i], CURLOPT_WRITEFUNCTION, s_on_body);
        curl_easy_setopt (easy[i], CURLOPT_WRITEDATA, &responses[i]);
        curl_easy_setopt (easy[i], CURLOPT_HEADERFUNCTION, s_on_header);
        curl_easy_setopt (easy[i], CURLOPT_HEADERDATA, &responses[i]);
        curl_easy_setopt (easy[i], CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt (easy[i], CURLOPT_NOSIGNAL, 1L);
        if (upload) {
            char name[32];
            snprintf (name, sizeof name, "up%d", i);
            mimes[i] = curl_mime_init (easy[i]);
            sources[i].size = (uint64_t)(i + 2) * 1024 * 1024 + (uint64_t)i;
            sources[i].chunk = 3000 + (size_t)i * 1000;
            curl_mimepart *file = NULL;
            if (i == 1) { //  the file first: spooled
                file = curl_mime_addpart (mimes[i]);
            }
            curl_mimepart *part = curl_mime_addpart (mimes[i]);
            curl_mime_name (part, "name");
            curl_mime_data (part, name, CURL_ZERO_TERMINATED);
            part = curl_mime_addpart (mimes[i]);
            curl_mime_name (part, "task");
            curl_mime_data (part, "T", CURL_ZERO_TERMINATED);
            if (!file)
                file = curl_mime_addpart (mimes[i]);
            curl_mime_name (file, "dataset");
            curl_mime_filename (file, "data.bin");
            curl_mime_data_cb (file, (curl_off_t)sources[i].size, s_file_read, s_file_seek, NULL,
                               &sources[i]);
            curl_easy_setopt (easy[i], CURLOPT_MIMEPOST, mimes[i]);
        }
        curl_multi_add_handle (multi, easy[i]);
    }
    int running = N;
    while (running) {
        assert_int_equal (curl_multi_perform (multi, &running), CURLM_OK);
        if (running)
            curl_multi_poll (multi, NULL, 0, 1000, NULL);
    }
    for (int i = 0; i < N; i++) {
        long status = 0;
        curl_easy_getinfo (easy[i], CURLINFO_RESPONSE_CODE, &status);
        if (status != 200)
            fail_msg ("transfer %d: %ld %s", i, status, responses[i].body);
        if (i < 3) {
            char name[32];
            snprintf (name, sizeof name, "up%d", i);
            json_t *result = json_object_get (server->fake.by_name, name);
            assert_non_null (result);
            assert_int_equal (json_integer_value (json_object_get (result, "bytes")),
                              sources[i].size);
            assert_true (json_is_true (json_object_get (result, "pattern_ok")));
        } else
            assert_non_null (strstr (responses[i].body, "\"d1\""));
        curl_multi_remove_handle (multi, easy[i]);
        curl_easy_cleanup (easy[i]);
        curl_mime_free (mimes[i]);
        free (responses[i].body);
    }
    curl_slist_free_all (headers);
    curl_multi_cleanup (multi);
    assert_int_equal (s_metric (server, S_SPOOLED), 1);
    assert_int_equal (s_metric (server, S_STREAMED), 2);
    s_server_stop (&server);
}

/* A 512 MiB upload streams through with the process's RSS growing by less
   than 64 MiB. */
static void
test_upload_512mib (void **state)
{
    (void)state;
    server_t *server = s_server_start (64 * 1024, 1024ULL * 1024 * 1024, NULL);
    const char *fields[] = {"name=huge", "task=IMAGE_CLASSIFICATION", NULL};
    long before = s_rss_kb ();
    assert_true (before > 0);
    server->fake.rss_peak_kb = before;
    s_fake_for_rss = &server->fake;
    uint64_t size = 512ULL * 1024 * 1024;
    response_t r = s_upload (server, "/datasets", "t", fields, 2, "dataset", size, 1024 * 1024);
    s_fake_for_rss = NULL;
    if (r.status != 200)
        fail_msg ("%ld %s", r.status, r.body);
    assert_int_equal (server->fake.upload_bytes, size);
    assert_true (server->fake.upload_pattern_ok);
    long after = s_rss_kb ();
    long peak = server->fake.rss_peak_kb > after ? server->fake.rss_peak_kb : after;
    print_message ("# RSS before %ld KiB, peak %ld KiB, after %ld KiB\n", before, peak, after);
    assert_true (peak - before < 64 * 1024);
    s_response_free (&r);
    s_server_stop (&server);
}

int
main (void)
{
    s_pattern_init ();
    curl_global_init (CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_config),
        cmocka_unit_test (test_routing),
        cmocka_unit_test (test_merge_and_forms),
        cmocka_unit_test (test_replies),
        cmocka_unit_test (test_bad_input),
        cmocka_unit_test (test_garbage),
        cmocka_unit_test (test_health_and_metrics),
        cmocka_unit_test (test_static),
        cmocka_unit_test (test_upload_fields_first),
        cmocka_unit_test (test_upload_file_first),
        cmocka_unit_test (test_upload_model),
        cmocka_unit_test (test_upload_errors),
        cmocka_unit_test (test_upload_too_large),
        cmocka_unit_test (test_upload_client_gone),
        cmocka_unit_test (test_concurrent),
        cmocka_unit_test (test_upload_512mib),
    };
    int rc = cmocka_run_group_tests (tests, s_setup, s_teardown);
    curl_global_cleanup ();
    return rc;
}
