/*  rfk_http_front.c: admin's HTTP front on libmicrohttpd (see
    rfk_http_front.h and HTTP.md).

    libmicrohttpd calls s_access several times per request: once when the
    headers are in (we route, check the length, the content type and, for
    uploads, the token, and may answer at once), once per piece of body (fed
    to a JSON buffer or a MHD_PostProcessor), and once at the end (we build
    the admin request, call the handler and queue the response). A response
    can only be queued at the first or the last call, so an error found
    while the body streams in is remembered, the rest of the body is read
    and dropped, and the error is answered at the end.

    Uploads are rfk_http_uploads.c, GET /events rfk_http_events.c; the
    three share rfk_http_front_internal.h. libmicrohttpd runs through
    http/rfk_http_daemon (the glue the predictor uses too); the descriptor
    the actor polls is an epoll set of the front's own holding the daemon's
    descriptor and the event streams' sockets.
*/
#define _GNU_SOURCE //  POLLRDHUP
#include "rfk_http_front_internal.h"
#include "rfk_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define S_POST_BUFFER (64 * 1024)   /* MHD_PostProcessor's buffer */
#define S_FORM_OVERHEAD (64 * 1024) /* multipart boundaries and part headers, beyond the caps */
#define S_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION (15))

/* The placeholder page at / when no web admin is built. */
static const char s_placeholder[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>Rafiki-C admin</title></head>\n<body><h1>Rafiki-C admin is up</h1>\n"
    "<p>The web admin is not built on this host. The REST API is served here: "
    "<code>POST /tokens</code> to log in, then <code>GET /datasets</code>, "
    "<code>GET /train_jobs</code>, ... with <code>Authorization: Bearer &lt;token&gt;</code>. "
    "Health: <a href=\"/healthz\">/healthz</a>, metrics: <a href=\"/metrics\">/metrics</a>."
    "</p></body></html>\n";

/* List replies answered as a bare JSON array of their records. */
static const struct {
    const char *type;  /* reply type */
    const char *field; /* its repeated field */
} s_lists[] = {{"UserList", "users"},   {"DatasetList", "datasets"},
               {"ModelList", "models"}, {"TrainJobList", "train_jobs"},
               {"TrialList", "trials"}, {"InferenceJobList", "inference_jobs"}};

//  --------------------------------------------------------------------------
//  Small helpers

int64_t
rfk_http_front_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static double
s_seconds_since (const struct timespec *start)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* True when the header value's media type (before any ';') is type. */
static bool
s_media_is (const char *value, const char *type)
{
    if (!value)
        return false;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t len = strlen (type);
    if (strncasecmp (value, type, len))
        return false;
    char c = value[len];
    return c == 0 || c == ';' || c == ' ' || c == '\t';
}

void
rfk_http_req_fail (rfk_http_req_t *req, int status, const char *code, const char *format, ...)
{
    if (req->failed)
        return;
    req->failed = true;
    req->err_status = status;
    snprintf (req->err_code, sizeof req->err_code, "%s", code);
    va_list args;
    va_start (args, format);
    vsnprintf (req->err_message, sizeof req->err_message, format, args);
    va_end (args);
    rfk_http_uploads_drop (req);
}

/* The retry_after_s of an Error (RATE_LIMITED, UNAVAILABLE), 0 for none. */
unsigned
rfk_http_retry_after (const rfk_msg_t *error)
{
    json_t *value = json_object_get (error->body, "retry_after_s");
    json_int_t seconds = json_is_integer (value) ? json_integer_value (value) : 0;
    return seconds > 0 && seconds < 86400 ? (unsigned)seconds : 0;
}

/* Take an Error message as the request's error (consumes *error_p). */
void
rfk_http_req_fail_msg (rfk_http_req_t *req, rfk_msg_t **error_p)
{
    rfk_msg_t *error = error_p ? *error_p : NULL;
    const char *code = error ? json_string_value (json_object_get (error->body, "code")) : NULL;
    const char *message =
        error ? json_string_value (json_object_get (error->body, "message")) : NULL;
    int value = code ? rfk_code_from_name (code) : -1;
    if (error)
        req->retry_after_s = rfk_http_retry_after (error);
    rfk_http_req_fail (req, value < 0 ? 500 : rfk_code_http_status ((rfk_code_t)value),
                       code ? code : "INTERNAL", "%s",
                       message ? message : "the upload was refused");
    rfk_msg_destroy (error_p);
}

//  --------------------------------------------------------------------------
//  Responses

enum MHD_Result
rfk_http_req_queue (rfk_http_req_t *req, int status, struct MHD_Response *response)
{
    if (!response)
        return MHD_NO;
    if (req->retry_after_s > 0) {
        char seconds[24];
        snprintf (seconds, sizeof seconds, "%u", req->retry_after_s);
        MHD_add_response_header (response, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
    }
    enum MHD_Result rc = MHD_queue_response (req->conn, (unsigned)status, response);
    MHD_destroy_response (response);
    if (rc == MHD_YES) {
        req->status = status;
        req->responded = true;
    }
    return rc;
}

/* Answer with a JSON document (consumed). */
static enum MHD_Result
s_queue_json (rfk_http_req_t *req, int status, json_t *json)
{
    char *text = json ? json_dumps (json, S_JSON_FLAGS | JSON_ENCODE_ANY) : NULL;
    json_decref (json);
    if (!text)
        return MHD_NO;
    struct MHD_Response *response =
        MHD_create_response_from_buffer (strlen (text), text, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (text);
        return MHD_NO;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return rfk_http_req_queue (req, status, response);
}

enum MHD_Result
rfk_http_req_queue_error (rfk_http_req_t *req, int status, const char *code, const char *message)
{
    json_t *error =
        json_pack ("{s:{s:s,s:s}}", "error", "code", code, "message", message ? message : "");
    return s_queue_json (req, status, error);
}

enum MHD_Result
rfk_http_req_queue_failure (rfk_http_req_t *req)
{
    return rfk_http_req_queue_error (req, req->err_status, req->err_code, req->err_message);
}

/* A file name safe for Content-Disposition. */
static void
s_safe_name (const char *name, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < outlen; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_';
        out[n++] = ok ? c : '_';
    }
    out[n] = 0;
}

/* Answer with an admin reply (consumed): record, list, file or Error. */
enum MHD_Result
rfk_http_req_queue_reply (rfk_http_req_t *req, rfk_msg_t **reply_p)
{
    rfk_msg_t *reply = *reply_p;
    if (!reply)
        return rfk_http_req_queue_error (req, 500, "INTERNAL", "the handler gave no reply");
    enum MHD_Result rc;
    if (rfk_msg_is (reply, "Error")) {
        const char *code = json_string_value (json_object_get (reply->body, "code"));
        int value = code ? rfk_code_from_name (code) : -1;
        int status = value < 0 ? 500 : rfk_code_http_status ((rfk_code_t)value);
        const char *message = json_string_value (json_object_get (reply->body, "message"));
        req->retry_after_s = rfk_http_retry_after (reply);
        rc = rfk_http_req_queue_error (req, status, code ? code : "INTERNAL",
                                       message ? message : "");
    } else if (rfk_msg_is (reply, "FileData")) {
        size_t size = reply->data ? zchunk_size (reply->data) : 0;
        void *copy = malloc (size ? size : 1);
        struct MHD_Response *response = NULL;
        if (copy) {
            if (size)
                memcpy (copy, zchunk_data (reply->data), size);
            response = MHD_create_response_from_buffer (size, copy, MHD_RESPMEM_MUST_FREE);
            if (!response)
                free (copy);
        }
        if (response) {
            MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                     "application/octet-stream");
            const char *name = json_string_value (json_object_get (reply->body, "name"));
            if (name && *name) {
                char safe[256], header[300];
                s_safe_name (name, safe, sizeof safe);
                snprintf (header, sizeof header, "attachment; filename=\"%s\"", safe);
                MHD_add_response_header (response, "Content-Disposition", header);
            }
        }
        rc = rfk_http_req_queue (req, 200, response);
    } else {
        json_t *json = NULL;
        for (size_t i = 0; i < sizeof s_lists / sizeof s_lists[0] && !json; i++)
            if (rfk_msg_is (reply, s_lists[i].type)) {
                json = json_object_get (reply->body, s_lists[i].field);
                json = json_is_array (json) ? json_incref (json) : json_array ();
            }
        if (!json)
            json = json_incref (reply->body);
        rc = s_queue_json (req, 200, json);
    }
    rfk_msg_destroy (reply_p);
    return rc;
}

//  --------------------------------------------------------------------------
//  Static files and the front's own endpoints

static const char *
s_content_type_of (const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".htm", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".mjs", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".json", "application/json"},
                 {".map", "application/json"},
                 {".svg", "image/svg+xml"},
                 {".png", "image/png"},
                 {".jpg", "image/jpeg"},
                 {".ico", "image/x-icon"},
                 {".woff", "font/woff"},
                 {".woff2", "font/woff2"},
                 {".txt", "text/plain; charset=utf-8"}};
    const char *dot = strrchr (path, '.');
    const char *slash = strrchr (path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp (dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* Open the regular file under root for url, or -1. No "..", no hidden
   files, and the resolved path must stay under root (symlinks out are
   refused). A directory serves its index.html. */
static int
s_open_static (const char *root, const char *url, char *resolved, struct stat *st)
{
    for (const char *p = url; *p; p++)
        if (p[0] == '/' && p[1] == '.')
            return -1;
    char path[PATH_MAX];
    int n = snprintf (path, sizeof path, "%s/%s", root, url[0] == '/' ? url + 1 : url);
    if (n < 0 || (size_t)n >= sizeof path)
        return -1;
    if (!realpath (path, resolved))
        return -1;
    size_t rootlen = strlen (root);
    if (strncmp (resolved, root, rootlen) || (resolved[rootlen] && resolved[rootlen] != '/'))
        return -1;
    if (stat (resolved, st))
        return -1;
    if (S_ISDIR (st->st_mode)) {
        size_t len = strlen (resolved);
        if (len + sizeof "/index.html" > PATH_MAX)
            return -1;
        memcpy (resolved + len, "/index.html", sizeof "/index.html");
        if (stat (resolved, st))
            return -1;
    }
    if (!S_ISREG (st->st_mode))
        return -1;
    return open (resolved, O_RDONLY | O_CLOEXEC);
}

static enum MHD_Result
s_serve_static (rfk_http_req_t *req, const char *url, const char *method)
{
    req->endpoint = "GET (static files)";
    if (strcmp (method, "GET") && strcmp (method, "HEAD")) {
        struct MHD_Response *response = MHD_create_response_from_buffer (
            strlen ("{\"error\":{\"code\":\"METHOD_NOT_ALLOWED\",\"message\":\"only GET and "
                    "HEAD are served here\"}}"),
            (void *)"{\"error\":{\"code\":\"METHOD_NOT_ALLOWED\",\"message\":\"only GET and "
                    "HEAD are served here\"}}",
            MHD_RESPMEM_PERSISTENT);
        if (!response)
            return MHD_NO;
        MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        return rfk_http_req_queue (req, 405, response);
    }
    const char *root = req->front->static_root;
    if (root) {
        char resolved[PATH_MAX];
        struct stat st;
        int fd = s_open_static (root, url, resolved, &st);
        if (fd >= 0) {
            struct MHD_Response *response =
                MHD_create_response_from_fd64 ((uint64_t)st.st_size, fd);
            if (!response) {
                close (fd);
                return MHD_NO;
            }
            MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                     s_content_type_of (resolved));
            return rfk_http_req_queue (req, 200, response);
        }
    } else if (strcmp (url, "/") == 0 || strcmp (url, "/index.html") == 0) {
        struct MHD_Response *response = MHD_create_response_from_buffer (
            sizeof s_placeholder - 1, (void *)s_placeholder, MHD_RESPMEM_PERSISTENT);
        if (!response)
            return MHD_NO;
        MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                 "text/html; charset=utf-8");
        return rfk_http_req_queue (req, 200, response);
    }
    char message[300];
    snprintf (message, sizeof message, "no such page: %.200s", url);
    return rfk_http_req_queue_error (req, 404, "NOT_FOUND", message);
}

static enum MHD_Result
s_serve_metrics (rfk_http_req_t *req)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return MHD_NO;
    rfk_http_front_metrics (req->front, out);
    if (req->front->handlers.metrics)
        req->front->handlers.metrics (req->front->handlers.ctx, out);
    if (fclose (out)) {
        free (text);
        return MHD_NO;
    }
    struct MHD_Response *response =
        MHD_create_response_from_buffer (size, text, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (text);
        return MHD_NO;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE,
                             "text/plain; version=0.0.4; charset=utf-8");
    return rfk_http_req_queue (req, 200, response);
}

//  --------------------------------------------------------------------------
//  Building the admin request

/* An admin request of type from user JSON, checked against the schema and
   normalised the way the ZeroMQ front sees it (through an encode and a
   decode: "3" becomes 3 where the field is an integer, enums are names), so
   handlers never see the text forms that forms and query strings carry.
   NULL with the reason (naming the field) in err. */
rfk_msg_t *
rfk_http_front_request_new (rfk_http_front_t *front, const char *type, json_t *body,
                            const char *token, char *err, size_t errlen)
{
    rfk_msg_t *checked =
        rfk_msg_new_from_json (&rfk_admin_family, type, ++front->correlation, body, err, errlen);
    if (!checked)
        return NULL;
    rfk_msg_set_token (checked, token);
    zframe_t *frame = NULL;
    rfk_msg_t *request = NULL;
    if (rfk_msg_encode (checked, &frame, err, errlen) == 0 &&
        rfk_msg_decode (&rfk_admin_family, frame, SIZE_MAX, &request) != 0) {
        snprintf (err, errlen, "the request cannot be encoded");
        request = NULL;
    }
    zframe_destroy (&frame);
    rfk_msg_destroy (&checked);
    return request;
}

static enum MHD_Result
s_collect_query (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    rfk_http_req_t *req = cls;
    if (req->failed || !key)
        return MHD_YES;
    char err[256];
    //  A repeated scalar in the query string: the last one wins.
    json_t *old = json_object_get (req->query, key);
    if (old && !json_is_array (old))
        json_object_del (req->query, key);
    if (rfk_http_route_add_text (req->query, key, value, value ? strlen (value) : 0, err,
                                 sizeof err))
        rfk_http_req_fail (req, 400, "BAD_REQUEST", "query string: %s", err);
    return MHD_YES;
}

/* The request's fields: body (JSON or form), then the query string, then
   the path parameters, later ones winning. NULL after rfk_http_req_fail. */
static json_t *
s_request_body (rfk_http_req_t *req)
{
    json_t *body = NULL;
    if (req->body_kind == RFK_HTTP_BODY_FORM)
        body = json_incref (req->fields);
    else {
        size_t start = 0;
        while (start < req->body_len && strchr (" \t\r\n", req->body[start]))
            start++;
        if (start == req->body_len)
            body = json_object ();
        else {
            json_error_t jerr;
            body = json_loadb (req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
            if (!body) {
                //  JSON_DECODE_ANY is off, so a scalar body fails here too.
                rfk_http_req_fail (req, 400, "BAD_REQUEST",
                                   "invalid JSON body: %s (line %d, column %d)", jerr.text,
                                   jerr.line, jerr.column);
                return NULL;
            }
            if (!json_is_object (body)) {
                json_decref (body);
                rfk_http_req_fail (req, 400, "BAD_REQUEST", "the JSON body must be an object");
                return NULL;
            }
        }
    }
    if (!body) {
        rfk_http_req_fail (req, 503, "UNAVAILABLE", "out of memory");
        return NULL;
    }
    json_object_update (body, req->query);
    json_object_update (body, req->params);
    return body;
}

//  --------------------------------------------------------------------------
//  Request lifecycle

static void
s_req_destroy (rfk_http_req_t **req_p)
{
    rfk_http_req_t *req = *req_p;
    if (!req)
        return;
    if (req->pp) {
        req->closing = true;
        MHD_destroy_post_processor (req->pp);
    }
    rfk_http_uploads_drop (req);
    rfk_msg_destroy (&req->reply);
    json_decref (req->params);
    json_decref (req->query);
    json_decref (req->fields);
    free (req->token);
    free (req->body);
    free (req->part_key);
    free (req->text);
    free (req->copy_buffer);
    free (req->user_id);
    free (req->held_user);
    free (req->out);
    free (req);
    *req_p = NULL;
}

static rfk_http_req_t *
s_req_new (rfk_http_front_t *front, struct MHD_Connection *conn)
{
    rfk_http_req_t *req = calloc (1, sizeof *req);
    if (!req)
        return NULL;
    req->front = front;
    req->conn = conn;
    req->spool_fd = -1;
    req->stream_fd = -1;
    req->endpoint = "unknown";
    clock_gettime (CLOCK_MONOTONIC, &req->started);
    req->params = json_object ();
    req->query = json_object ();
    req->fields = json_object ();
    if (!req->params || !req->query || !req->fields)
        s_req_destroy (&req);
    return req;
}

/* Route an API request: true with req->route set, else the 404 or 405 is
   queued in *rc. */
static bool
s_route (rfk_http_req_t *req, const char *url, const char *method, enum MHD_Result *rc)
{
    char allow[64];
    rfk_http_route_result_t found =
        rfk_http_route_find (method, url, &req->route, req->params, allow, sizeof allow);
    char message[512];
    if (found == RFK_HTTP_ROUTE_NOT_FOUND) {
        snprintf (message, sizeof message, "no such endpoint: %.16s %.200s", method, url);
        *rc = rfk_http_req_queue_error (req, 404, "NOT_FOUND", message);
        return false;
    }
    if (found == RFK_HTTP_ROUTE_NO_METHOD) {
        snprintf (message, sizeof message, "%.16s is not allowed on %.200s (allowed: %s)", method,
                  url, allow);
        json_t *error =
            json_pack ("{s:{s:s,s:s}}", "error", "code", "METHOD_NOT_ALLOWED", "message", message);
        char *text = error ? json_dumps (error, S_JSON_FLAGS) : NULL;
        json_decref (error);
        *rc = MHD_NO;
        if (!text)
            return false;
        struct MHD_Response *response =
            MHD_create_response_from_buffer (strlen (text), text, MHD_RESPMEM_MUST_FREE);
        if (!response) {
            free (text);
            return false;
        }
        MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, allow);
        *rc = rfk_http_req_queue (req, 405, response);
        return false;
    }
    return true;
}

/* The token of `Authorization: Bearer`, if any, into req->token. 0, or -1
   out of memory. */
static int
s_take_token (rfk_http_req_t *req)
{
    const char *auth = MHD_lookup_connection_value (req->conn, MHD_HEADER_KIND, "Authorization");
    if (!auth)
        return 0;
    while (*auth == ' ')
        auth++;
    if (strncasecmp (auth, "Bearer ", 7) != 0)
        return 0;
    auth += 7;
    while (*auth == ' ')
        auth++;
    req->token = strdup (auth);
    return req->token ? 0 : -1;
}

/* Lengths: a body over its cap is refused before a byte of it is read.
   true when the body may come, else the 413 is queued in *rc. */
static bool
s_check_length (rfk_http_req_t *req, bool is_upload, enum MHD_Result *rc)
{
    const rfk_http_front_config_t *config = &req->front->config;
    req->limit = is_upload ? config->upload_max_bytes + config->request_max_bytes + S_FORM_OVERHEAD
                           : config->request_max_bytes;
    const char *length =
        MHD_lookup_connection_value (req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!length)
        return true;
    char *end;
    errno = 0;
    unsigned long long value = strtoull (length, &end, 10);
    if (errno || end == length || value <= req->limit)
        return true;
    char message[512];
    if (is_upload)
        snprintf (message, sizeof message,
                  "the upload is %llu bytes, over the limit of %llu bytes for the file", value,
                  (unsigned long long)config->upload_max_bytes);
    else
        snprintf (message, sizeof message, "the body is %llu bytes, over the limit of %llu bytes",
                  value, (unsigned long long)config->request_max_bytes);
    *rc = rfk_http_req_queue_error (req, 413, "TOO_LARGE", message);
    return false;
}

/* The headers are in: route, check, and answer at once when we can. */
static enum MHD_Result
s_begin (rfk_http_req_t *req, const char *url, const char *method)
{
    struct MHD_Connection *conn = req->conn;
    if (!rfk_http_route_is_api (url))
        return s_serve_static (req, url, method);

    enum MHD_Result rc;
    if (!s_route (req, url, method, &rc))
        return rc;
    req->endpoint = req->route->endpoint;
    if (req->route->kind == RFK_HTTP_ROUTE_HEALTHZ)
        return s_queue_json (req, 200, json_pack ("{s:s}", "status", "ok"));
    if (req->route->kind == RFK_HTTP_ROUTE_METRICS)
        return s_serve_metrics (req);
    /*  Unauthenticated by design: clients fetch the key to pin it (as ssh
        does, a change is what they warn about). */
    if (req->route->kind == RFK_HTTP_ROUTE_BUS_KEY)
        return s_queue_json (req, 200,
                             json_pack ("{s:b, s:s?}", "curve", req->front->config.bus_key != NULL,
                                        "bus_key", req->front->config.bus_key));

    if (s_take_token (req) != 0)
        return MHD_NO;

    if (req->route->kind == RFK_HTTP_ROUTE_EVENTS)
        return rfk_http_events_open (req, method);

    bool is_upload = req->route->kind == RFK_HTTP_ROUTE_UPLOAD_DATASET ||
                     req->route->kind == RFK_HTTP_ROUTE_UPLOAD_MODEL;
    if (!s_check_length (req, is_upload, &rc))
        return rc;
    if ((is_upload || rfk_http_limits_has_body (req)) && !rfk_http_limits_hold (req, &rc))
        return rc;

    MHD_get_connection_values (conn, MHD_GET_ARGUMENT_KIND, s_collect_query, req);
    if (req->failed)
        return rfk_http_req_queue_failure (req);

    const char *type =
        MHD_lookup_connection_value (conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    bool multipart = s_media_is (type, "multipart/form-data");
    bool urlencoded = s_media_is (type, "application/x-www-form-urlencoded");
    if (is_upload && !rfk_http_uploads_accept (req, multipart, &rc))
        return rc;
    if (multipart || urlencoded) {
        req->body_kind = RFK_HTTP_BODY_FORM;
        req->multipart = multipart;
        req->pp = MHD_create_post_processor (conn, S_POST_BUFFER, rfk_http_uploads_iterate, req);
        if (!req->pp)
            return rfk_http_req_queue_error (
                req, 400, "BAD_REQUEST",
                "the form body cannot be read (a multipart body needs a "
                "boundary)");
    }
    return MHD_YES;
}

/* A piece of the body. */
static enum MHD_Result
s_feed (rfk_http_req_t *req, const char *data, size_t size)
{
    req->received += size;
    if (req->failed) {
        //  Drop the rest of the body, then answer; a body without a length
        //  that goes on past its cap is cut off.
        return req->received > req->limit ? MHD_NO : MHD_YES;
    }
    if (req->received > req->limit) {
        if (req->file_field)
            rfk_http_req_fail (req, 413, "TOO_LARGE",
                               "the file is over the upload limit of %llu bytes",
                               (unsigned long long)req->front->config.upload_max_bytes);
        else
            rfk_http_req_fail (req, 413, "TOO_LARGE", "the body is over the limit of %llu bytes",
                               (unsigned long long)req->front->config.request_max_bytes);
        return MHD_YES;
    }
    if (req->pp) {
        if (MHD_post_process (req->pp, data, size) != MHD_YES && !req->failed)
            rfk_http_req_fail (req, 400, "BAD_REQUEST", "the form body is malformed");
        return MHD_YES;
    }
    if (req->body_len + size > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 4096;
        while (cap < req->body_len + size)
            cap *= 2;
        char *grown = realloc (req->body, cap);
        if (!grown) {
            rfk_http_req_fail (req, 503, "UNAVAILABLE", "out of memory");
            return MHD_YES;
        }
        req->body = grown;
        req->body_cap = cap;
    }
    memcpy (req->body + req->body_len, data, size);
    req->body_len += size;
    return MHD_YES;
}

/* Ask the handler: its reply, or NULL when it answers later (req is then
   on the waiting list with its ticket; the caller suspends it). */
static rfk_msg_t *
s_handle (rfk_http_req_t *req, const rfk_msg_t *request)
{
    rfk_http_front_t *front = req->front;
    if (!front->handlers.handle_later)
        return front->handlers.handle (front->handlers.ctx, request);
    char address[INET6_ADDRSTRLEN];
    rfk_http_limits_address (req, address, sizeof address);
    rfk_http_ticket_t ticket = ++front->tickets;
    rfk_msg_t *reply =
        front->handlers.handle_later (front->handlers.ctx, request, address, front, ticket);
    if (reply)
        return reply;
    if (zlist_append (front->waiting, req) != 0)
        return rfk_msg_new_error (&rfk_admin_family, 0, RFK_CODE_UNAVAILABLE, "out of memory");
    req->ticket = ticket;
    return NULL;
}

/* The body is complete: build the request, ask the handler, answer. */
static enum MHD_Result
s_complete (rfk_http_req_t *req)
{
    rfk_http_front_t *front = req->front;
    zlist_remove (front->receiving, req);
    if (req->ticket || (req->copy_buffer && !req->copy_done))
        return MHD_YES; //  still copying or waiting for the reply (suspended)
    if (req->copy_done || req->answered_later) {
        //  Resumed after a spool copy or with a deferred reply.
        if (req->failed)
            return rfk_http_req_queue_failure (req);
        return rfk_http_req_queue_reply (req, &req->reply);
    }
    rfk_http_uploads_form_end (req);
    if (req->file_field)
        return rfk_http_uploads_complete (req);
    if (req->failed)
        return rfk_http_req_queue_failure (req);
    json_t *body = s_request_body (req);
    if (!body)
        return rfk_http_req_queue_failure (req);
    char err[256];
    rfk_msg_t *request =
        rfk_http_front_request_new (front, req->route->type, body, req->token, err, sizeof err);
    json_decref (body);
    if (!request)
        return rfk_http_req_queue_error (req, 400, "BAD_REQUEST", err);
    rfk_msg_t *reply = s_handle (req, request);
    rfk_msg_destroy (&request);
    if (!reply) {
        rfk_http_daemon_suspend (front->daemon, req->conn); //  until rfk_http_front_finished
        return MHD_YES;
    }
    return rfk_http_req_queue_reply (req, &reply);
}

static enum MHD_Result
s_access (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    rfk_http_front_t *front = cls;
    rfk_http_req_t *req = *con_cls;
    if (!req) {
        req = s_req_new (front, conn);
        if (!req)
            return MHD_NO;
        *con_cls = req;
        front->in_flight++;
        enum MHD_Result rc = s_begin (req, url, method);
        if (rc == MHD_YES && !req->responded)
            zlist_append (front->receiving, req);
        return rc;
    }
    if (req->responded)
        return MHD_YES;
    if (*upload_data_size) {
        size_t size = *upload_data_size;
        *upload_data_size = 0;
        return s_feed (req, upload_data, size);
    }
    return s_complete (req);
}

static void
s_completed (void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    rfk_http_front_t *front = cls;
    rfk_http_req_t *req = *con_cls;
    if (!req)
        return;
    rfk_http_metrics_record (front->metrics, req->endpoint, req->status,
                             s_seconds_since (&req->started));
    front->in_flight--;
    zlist_remove (front->copying, req);
    if (req->stream) {
        rfk_http_events_unwatch (req);
        zlist_remove (front->streams, req);
        rfk_log_info ("http", "event-stream-closed user=%s streams=%zu", req->user_id,
                      zlist_size (front->streams));
    }
    zlist_remove (front->receiving, req);
    if (req->ticket && front->handlers.upload_cancel)
        //  The client went away before its upload was answered: stop its work.
        front->handlers.upload_cancel (front->handlers.ctx, req->ticket);
    zlist_remove (front->waiting, req);
    rfk_http_limits_release (req);
    s_req_destroy (&req);
    *con_cls = NULL;
}

//  --------------------------------------------------------------------------
//  The front

void
rfk_http_front_config_from (rfk_http_front_config_t *config, const rfk_config_t *cfg)
{
    if (!config || !cfg)
        return;
    memset (config, 0, sizeof *config);
    config->host = rfk_config_string (cfg, "admin", "host");
    config->port = (int)rfk_config_int (cfg, "admin", "http_port");
    config->request_max_bytes = rfk_config_size (cfg, "admin", "request_max_bytes");
    config->upload_max_bytes = rfk_config_size (cfg, "admin", "upload_max_bytes");
    config->max_connections = (unsigned)rfk_config_int (cfg, "admin", "http_max_connections");
    config->max_per_address = (unsigned)rfk_config_int (cfg, "admin", "http_max_per_address");
    config->read_timeout_s = (unsigned)rfk_config_int (cfg, "admin", "http_read_timeout_s");
    config->events_max_per_user = (unsigned)rfk_config_int (cfg, "admin", "user_max_event_streams");
    config->user_max_requests = (unsigned)rfk_config_int (cfg, "admin", "user_max_requests");
    config->data_dir = rfk_config_string (cfg, NULL, "data_dir");
}

/* The front's config with a default for every field left 0 or NULL. */
static void
s_config_defaults (rfk_http_front_config_t *config)
{
    if (!config->host || !*config->host)
        config->host = "127.0.0.1";
    if (!config->max_connections)
        config->max_connections = 256;
    if (!config->connection_timeout_s)
        config->connection_timeout_s = 60;
    if (!config->events_keepalive_ms)
        config->events_keepalive_ms = 15000;
    if (!config->events_buffer_bytes)
        config->events_buffer_bytes = 1024 * 1024;
    if (!config->events_max_streams)
        config->events_max_streams = config->max_connections > 1 ? config->max_connections / 2 : 1;
    if (!config->request_max_bytes)
        config->request_max_bytes = 1024 * 1024;
    if (!config->upload_max_bytes)
        config->upload_max_bytes = 2ULL * 1024 * 1024 * 1024;
}

rfk_http_front_t *
rfk_http_front_new (const rfk_http_front_config_t *config, const rfk_http_handlers_t *handlers,
                    char *err, size_t errlen)
{
    if (!config || !handlers || !handlers->handle) {
        snprintf (err, errlen, "the HTTP front needs a config and a request handler");
        return NULL;
    }
    rfk_http_front_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->handlers = *handlers;
    self->config = *config;
    s_config_defaults (&self->config);
    const char *data_dir = self->config.data_dir ? self->config.data_dir : ".";
    self->metrics = rfk_http_metrics_new ("rfk_http");
    self->copying = zlist_new ();
    self->streams = zlist_new ();
    self->epoll_fd = -1;
    self->receiving = zlist_new ();
    self->waiting = zlist_new ();
    self->held = zhashx_new (); //  user id -> requests held (a count, no destructor)
    self->spool_dir = malloc (strlen (data_dir) + sizeof "/tmp");
    if (self->spool_dir)
        sprintf (self->spool_dir, "%s/tmp", data_dir);
    if (!self->metrics || !self->copying || !self->streams || !self->receiving || !self->waiting ||
        !self->held || !self->spool_dir) {
        snprintf (err, errlen, "out of memory");
        rfk_http_front_destroy (&self);
        return NULL;
    }
    if (self->config.static_dir) {
        char resolved[PATH_MAX];
        struct stat st;
        if (realpath (self->config.static_dir, resolved) && stat (resolved, &st) == 0 &&
            S_ISDIR (st.st_mode))
            self->static_root = strdup (resolved);
    }

    rfk_http_daemon_opts_t opts = {.host = self->config.host,
                                   .port = self->config.port,
                                   .max_connections = self->config.max_connections,
                                   .connection_timeout_s = self->config.connection_timeout_s,
                                   .max_per_address = self->config.max_per_address,
                                   .read_timeout_s = self->config.read_timeout_s,
                                   .access = s_access,
                                   .completed = s_completed,
                                   .cls = self,
                                   .log = "http"};
    self->daemon = rfk_http_daemon_new (&opts, err, errlen);
    if (!self->daemon) {
        rfk_http_front_destroy (&self);
        return NULL;
    }
    //  The descriptor the actor polls: libmicrohttpd's, and stream sockets.
    struct epoll_event watch = {.events = EPOLLIN, .data.ptr = NULL};
    self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    if (self->epoll_fd < 0 ||
        epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, rfk_http_daemon_fd (self->daemon), &watch)) {
        snprintf (err, errlen, "cannot create an epoll set: %s", strerror (errno));
        rfk_http_front_destroy (&self);
        return NULL;
    }
    return self;
}

void
rfk_http_front_destroy (rfk_http_front_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_http_front_t *self = *self_p;
    if (self->daemon) {
        //  Suspended connections must be resumed before the daemon stops.
        rfk_http_req_t *req;
        while (self->copying && (req = zlist_pop (self->copying)))
            rfk_http_daemon_resume (req->front->daemon, req->conn);
        for (req = self->streams ? zlist_first (self->streams) : NULL; req;
             req = zlist_next (self->streams)) {
            req->dropped = true;
            if (req->suspended) {
                req->suspended = false;
                rfk_http_daemon_resume (req->front->daemon, req->conn);
            }
        }
        while (self->waiting && (req = zlist_pop (self->waiting))) {
            req->ticket = 0;
            rfk_http_req_fail (req, 503, "UNAVAILABLE", "admin is stopping");
            rfk_http_daemon_resume (req->front->daemon, req->conn);
        }
        rfk_http_daemon_destroy (&self->daemon);
    }
    zlist_destroy (&self->copying);
    zlist_destroy (&self->streams);
    if (self->epoll_fd >= 0)
        close (self->epoll_fd);
    zlist_destroy (&self->waiting);
    zhashx_destroy (&self->held);
    zlist_destroy (&self->receiving);
    rfk_http_metrics_destroy (&self->metrics);
    free (self->spool_dir);
    free (self->static_root);
    free (self);
    *self_p = NULL;
}

int
rfk_http_front_fd (rfk_http_front_t *self)
{
    return self ? self->epoll_fd : -1;
}

long
rfk_http_front_timeout_ms (rfk_http_front_t *self)
{
    if (!self)
        return -1;
    if (zlist_size (self->copying) || self->waking)
        return 0;
    long result = rfk_http_daemon_timeout_ms (self->daemon);
    if (zlist_size (self->waiting) && (result < 0 || result > 1000))
        result = 1000; //  look at the waiting clients every second (rfk_http_uploads_watch_waiting)
    if (self->next_keepalive && zlist_size (self->streams)) {
        int64_t left = self->next_keepalive - rfk_http_front_now_ms ();
        long keepalive = left < 0 ? 0 : left > LONG_MAX ? LONG_MAX : (long)left;
        if (result < 0 || keepalive < result)
            result = keepalive;
    }
    return result;
}

/* libmicrohttpd 0.9.75 in epoll mode stops reading a connection whose
   client hung up (FIN, EPOLLRDHUP) in the middle of a request body: the
   rest stays unread and the request hangs until the connection timeout,
   with its upload open. For requests whose body is still coming, look at
   the socket: when the client has hung up and no byte came since the last
   look, shut the socket down; libmicrohttpd then sees the error and closes
   the connection, and the completion callback aborts the upload. */
static void
s_reap_hung_up (rfk_http_front_t *self)
{
    struct pollfd items[64];
    rfk_http_req_t *reqs[64];
    size_t n = 0;
    for (rfk_http_req_t *req = zlist_first (self->receiving); req && n < 64;
         req = zlist_next (self->receiving)) {
        if (req->reaped)
            continue;
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info (req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!info)
            continue;
        items[n].fd = info->connect_fd;
        items[n].events = POLLRDHUP;
        items[n].revents = 0;
        reqs[n++] = req;
    }
    if (!n || poll (items, n, 0) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        rfk_http_req_t *req = reqs[i];
        bool hung_up = items[i].revents & (POLLRDHUP | POLLHUP | POLLERR);
        if (hung_up && req->hangup_seen && req->received == req->received_at_hangup) {
            req->reaped = true;
            shutdown (items[i].fd, SHUT_RDWR);
        }
        req->hangup_seen = hung_up;
        req->received_at_hangup = req->received;
    }
}

int
rfk_http_front_step (rfk_http_front_t *self)
{
    if (!self)
        return -1;
    //  One slice of each spool copy, then the sockets.
    size_t copying = zlist_size (self->copying);
    while (copying--)
        rfk_http_uploads_copy_slice (zlist_pop (self->copying));
    rfk_http_events_step (self);
    int rc = rfk_http_daemon_run (self->daemon);
    s_reap_hung_up (self);
    rfk_http_uploads_watch_waiting (self);
    return rc;
}

int
rfk_http_front_finished (rfk_http_front_t *self, rfk_http_ticket_t ticket, rfk_msg_t **reply_p)
{
    if (!reply_p || !*reply_p)
        return -1;
    rfk_http_req_t *req = NULL;
    for (rfk_http_req_t *item = self ? zlist_first (self->waiting) : NULL; item;
         item = zlist_next (self->waiting))
        if (item->ticket == ticket) {
            req = item;
            break;
        }
    if (!req || !ticket) {
        rfk_msg_destroy (reply_p);
        return -1;
    }
    zlist_remove (self->waiting, req);
    req->ticket = 0;
    req->answered_later = true;
    rfk_msg_destroy (&req->reply);
    req->reply = *reply_p;
    *reply_p = NULL;
    rfk_http_daemon_resume (req->front->daemon, req->conn);
    return 0;
}

int
rfk_http_front_port (rfk_http_front_t *self)
{
    return self ? rfk_http_daemon_port (self->daemon) : -1;
}

void
rfk_http_front_metrics (rfk_http_front_t *self, FILE *out)
{
    if (!self || !out)
        return;
    rfk_http_metrics_set_in_flight (self->metrics, self->in_flight);
    rfk_http_metrics_write (self->metrics, out);
    fprintf (out,
             "# HELP rfk_http_event_streams GET /events streams open.\n"
             "# TYPE rfk_http_event_streams gauge\n"
             "rfk_http_event_streams %zu\n",
             zlist_size (self->streams));
    fprintf (out,
             "# HELP rfk_http_event_streams_dropped_total GET /events streams closed for "
             "falling behind.\n"
             "# TYPE rfk_http_event_streams_dropped_total counter\n"
             "rfk_http_event_streams_dropped_total %llu\n",
             (unsigned long long)self->streams_dropped);
}
