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

    Uploads (POST /datasets, POST /models): the multipart text fields are
    kept (they are small, capped by request_max_bytes); the file part goes
    to handlers->upload_write as it arrives when every field the upload can
    take came before it, otherwise to an unlinked spool file under
    <data_dir>/tmp/ that is copied into the upload once the body is
    complete, in slices between polls (the connection is suspended
    meanwhile) so that a large copy never stalls the actor.

    GET /events (server-sent events): once the token is checked, the
    response is a content reader over the request's own output buffer. When
    the buffer is empty the reader suspends the connection and returns 0;
    rfk_http_front_event appends to the buffers of the streams allowed to
    see an event and marks suspended ones to wake, and the next
    rfk_http_front_step resumes them (never from inside a libmicrohttpd
    callback) before running the daemon. A stream whose buffer would pass
    events_buffer_bytes is dropped: its buffer is freed, its socket shut
    down, and the reader ends it if it is called again.

    libmicrohttpd does not watch a suspended connection, so a client that
    goes away between events would hold its stream until the next
    keepalive. The descriptor the actor polls is therefore an epoll set of
    our own holding libmicrohttpd's epoll descriptor and each stream's
    socket (EPOLLRDHUP only): a stream whose client hung up is ended at the
    next step.
*/
#define _GNU_SOURCE //  POLLRDHUP
#include "rfk_http_front.h"
#include "rfk_http_metrics.h"
#include "rfk_http_route.h"
#include "rfk_log.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define S_POST_BUFFER (64 * 1024)      /* MHD_PostProcessor's buffer */
#define S_FORM_OVERHEAD (64 * 1024)    /* multipart boundaries and part headers, beyond the caps */
#define S_COPY_SLICE (4 * 1024 * 1024) /* spool bytes copied into an upload per step */
#define S_COPY_BUFFER (256 * 1024)     /* read size when copying the spool */
#define S_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION (15))
#define S_EVENTS_BLOCK (16 * 1024) /* the event stream's reader block */

/* What a new event stream says first: how long EventSource waits before it
   reconnects, and a comment so that the headers go out at once. */
static const char s_stream_hello[] = "retry: 3000\n: connected\n\n";
static const char s_stream_keepalive[] = ": keepalive\n\n";

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

/* The text fields an upload takes, by route kind; the file's field name. */
static const char *s_dataset_fields[] = {"name", "task", NULL};
static const char *s_model_fields[] = {
    "name", "task", "model_class", "dependencies", "docker_image", "access_right", NULL};

struct _rfk_http_front_t {
    struct MHD_Daemon *daemon;      /* the libmicrohttpd daemon, no threads of its own */
    rfk_http_handlers_t handlers;   /* what answers requests */
    rfk_http_front_config_t config; /* copied; strings borrowed from the caller */
    char *spool_dir;                /* <data_dir>/tmp */
    char *static_root;              /* realpath of static_dir, or NULL for the placeholder */
    rfk_http_metrics_t *metrics;    /* request counters */
    uint64_t correlation;           /* last correlation id given to a request */
    long in_flight;                 /* requests not yet completed */
    zlist_t *copying;               /* requests (s_req_t *) whose spool is being copied */
    zlist_t *streams;               /* GET /events requests (s_req_t *) open */
    int epoll_fd;                   /* polled by the actor: MHD's epoll fd and stream sockets */
    bool waking;                    /* some stream is to be resumed at the next step */
    int64_t next_keepalive;         /* monotonic ms of the next keepalive round */
    uint64_t streams_dropped;       /* streams closed for falling behind */
    zlist_t *receiving;             /* requests (s_req_t *) whose body is still coming */
    zlist_t *waiting;               /* requests (s_req_t *) suspended for a deferred reply */
    rfk_http_ticket_t tickets;      /* last ticket given to a deferred reply */
    bool wake;                      /* a connection was resumed outside a step */
    int port;                       /* the port bound */
};

/* What a request's body is. */
typedef enum {
    S_BODY_JSON = 0, /* raw bytes, parsed as JSON at the end (empty: {}) */
    S_BODY_FORM      /* multipart or urlencoded, through the post processor */
} s_body_kind_t;

/* One request, from its headers to the completion callback. */
typedef struct {
    rfk_http_front_t *front;       /* owner */
    struct MHD_Connection *conn;   /* its connection */
    const rfk_http_route_t *route; /* the API route, or NULL (static, unknown) */
    const char *endpoint;          /* metrics label, static */
    struct timespec started;       /* when the headers were in */
    int status;                    /* status of the queued response, 0 until queued */
    bool responded;                /* a response is queued */
    char *token;                   /* from Authorization: Bearer, or NULL */
    json_t *params;                /* path parameters */
    json_t *query;                 /* query-string values, merged on top */
    s_body_kind_t body_kind;       /* how the body is read */
    bool multipart;                /* the form is multipart/form-data (else urlencoded) */
    char *body;                    /* JSON body bytes */
    size_t body_len;               /* bytes in body */
    size_t body_cap;               /* allocated for body */
    uint64_t received;             /* body bytes received */
    uint64_t limit;                /* body bytes allowed */
    struct MHD_PostProcessor *pp;  /* form parser, or NULL */
    bool closing;                  /* pp is being destroyed: ignore its calls */
    bool hangup_seen;              /* the client had hung up at the last look */
    uint64_t received_at_hangup;   /* received at that look */
    bool reaped;                   /* s_reap_hung_up shut its socket down */
    json_t *fields;                /* form text fields */
    uint64_t fields_bytes;         /* bytes of text fields, capped by request_max_bytes */
    char *part_key;                /* field of the current form part, or NULL */
    bool part_is_file;             /* the current part is the upload's file */
    unsigned parts;                /* form parts seen */
    uint64_t part_bytes;           /* bytes of the current part so far */
    char *text;                    /* the current text part's value */
    size_t text_len;               /* bytes in text */
    size_t text_cap;               /* allocated for text */
    const char *file_field;        /* "dataset" or "model_file_bytes" for uploads, else NULL */
    const char **upload_fields;    /* the text fields the upload takes */
    bool file_seen;                /* the file part started */
    uint64_t file_bytes;           /* file bytes received */
    void *upload;                  /* the handler's upload, or NULL */
    int spool_fd;                  /* the spool file (unlinked), or -1 */
    uint64_t copied;               /* spool bytes copied into the upload */
    char *copy_buffer;             /* buffer for copying the spool */
    bool copy_done;                /* the spool copy ended (reply or error ready) */
    rfk_msg_t *reply;              /* reply waiting for the resumed connection */
    rfk_http_ticket_t ticket;      /* its ticket while on the waiting list, else 0 */
    bool answered_later;           /* resumed with a deferred reply in reply */
    bool failed;                   /* an error is waiting to be answered */
    int err_status;                /* its HTTP status */
    char err_code[32];             /* its code name */
    char err_message[512];         /* its message */
    bool stream;                   /* a GET /events stream */
    char *user_id;                 /* the stream's user */
    bool sees_all;                 /* the stream's user is an admin: every event */
    char *out;                     /* stream bytes not yet handed to libmicrohttpd */
    size_t out_off;                /* first unsent byte in out */
    size_t out_len;                /* bytes in out */
    size_t out_cap;                /* allocated for out */
    bool suspended;                /* the stream waits for events (connection suspended) */
    bool wake;                     /* resume it at the next step */
    bool ended;                    /* end the stream once out is sent */
    bool dropped;                  /* close the stream now (it fell behind, or its client left) */
    int stream_fd;                 /* its socket while in the front's epoll set, else -1 */
} s_req_t;

//  --------------------------------------------------------------------------
//  Small helpers

static int64_t
s_now_ms (void)
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

/* Remember the first error of a request; later ones are consequences. */
static void
s_fail (s_req_t *req, int status, const char *code, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
s_drop_upload (s_req_t *req)
{
    if (req->upload && req->front->handlers.upload_abort)
        req->front->handlers.upload_abort (req->front->handlers.ctx, &req->upload);
    req->upload = NULL;
    if (req->spool_fd >= 0)
        close (req->spool_fd);
    req->spool_fd = -1;
}

static void
s_fail (s_req_t *req, int status, const char *code, const char *format, ...)
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
    s_drop_upload (req);
}

/* Take an Error message as the request's error (consumes *error_p). */
static void
s_fail_msg (s_req_t *req, rfk_msg_t **error_p)
{
    rfk_msg_t *error = error_p ? *error_p : NULL;
    const char *code = error ? json_string_value (json_object_get (error->body, "code")) : NULL;
    const char *message =
        error ? json_string_value (json_object_get (error->body, "message")) : NULL;
    int value = code ? rfk_code_from_name (code) : -1;
    s_fail (req, value < 0 ? 500 : rfk_code_http_status ((rfk_code_t)value),
            code ? code : "INTERNAL", "%s", message ? message : "the upload was refused");
    rfk_msg_destroy (error_p);
}

//  --------------------------------------------------------------------------
//  Responses

static enum MHD_Result
s_queue (s_req_t *req, int status, struct MHD_Response *response)
{
    if (!response)
        return MHD_NO;
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
s_queue_json (s_req_t *req, int status, json_t *json)
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
    return s_queue (req, status, response);
}

static enum MHD_Result
s_queue_error (s_req_t *req, int status, const char *code, const char *message)
{
    json_t *error =
        json_pack ("{s:{s:s,s:s}}", "error", "code", code, "message", message ? message : "");
    return s_queue_json (req, status, error);
}

static enum MHD_Result
s_queue_failure (s_req_t *req)
{
    return s_queue_error (req, req->err_status, req->err_code, req->err_message);
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
static enum MHD_Result
s_queue_reply (s_req_t *req, rfk_msg_t **reply_p)
{
    rfk_msg_t *reply = *reply_p;
    if (!reply)
        return s_queue_error (req, 500, "INTERNAL", "the handler gave no reply");
    enum MHD_Result rc;
    if (rfk_msg_is (reply, "Error")) {
        const char *code = json_string_value (json_object_get (reply->body, "code"));
        int value = code ? rfk_code_from_name (code) : -1;
        int status = value < 0 ? 500 : rfk_code_http_status ((rfk_code_t)value);
        const char *message = json_string_value (json_object_get (reply->body, "message"));
        rc = s_queue_error (req, status, code ? code : "INTERNAL", message ? message : "");
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
        rc = s_queue (req, 200, response);
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
s_serve_static (s_req_t *req, const char *url, const char *method)
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
        return s_queue (req, 405, response);
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
            return s_queue (req, 200, response);
        }
    } else if (strcmp (url, "/") == 0 || strcmp (url, "/index.html") == 0) {
        struct MHD_Response *response = MHD_create_response_from_buffer (
            sizeof s_placeholder - 1, (void *)s_placeholder, MHD_RESPMEM_PERSISTENT);
        if (!response)
            return MHD_NO;
        MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                 "text/html; charset=utf-8");
        return s_queue (req, 200, response);
    }
    char message[300];
    snprintf (message, sizeof message, "no such page: %.200s", url);
    return s_queue_error (req, 404, "NOT_FOUND", message);
}

static enum MHD_Result
s_serve_metrics (s_req_t *req)
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
    return s_queue (req, 200, response);
}

//  --------------------------------------------------------------------------
//  GET /events: server-sent events

/* Ask admin who holds token (a GetMe request): the User reply, or an Error;
   NULL only when out of memory. */
static rfk_msg_t *
s_who (rfk_http_front_t *front, const char *token)
{
    rfk_msg_t *me = rfk_msg_new (&rfk_admin_family, "GetMe", ++front->correlation);
    if (!me)
        return NULL;
    rfk_msg_set_token (me, token);
    rfk_msg_t *reply = front->handlers.handle (front->handlers.ctx, me);
    rfk_msg_destroy (&me);
    return reply;
}

/* Have the stream's connection resumed at the next step if it waits. */
static void
s_stream_wake (s_req_t *req)
{
    if (req->suspended && !req->wake) {
        req->wake = true;
        req->front->waking = true;
    }
}

/* Close a stream that fell behind: free its buffer, shut its socket down
   (libmicrohttpd then sees the end even if the client reads nothing), and
   let the reader end it if it is called again. */
static void
s_stream_drop (s_req_t *req, const char *reason)
{
    if (req->dropped)
        return;
    req->dropped = true;
    req->front->streams_dropped++;
    rfk_log_warning ("http", "event-stream-dropped user=%s reason=\"%s\" unsent=%zu", req->user_id,
                     reason, req->out_len - req->out_off);
    free (req->out);
    req->out = NULL;
    req->out_off = req->out_len = req->out_cap = 0;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info)
        shutdown (info->connect_fd, SHUT_RDWR);
    s_stream_wake (req);
}

/* Append text to a stream's buffer, or drop the stream when it would hold
   more than events_buffer_bytes unsent. */
static void
s_stream_push (s_req_t *req, const char *text, size_t len)
{
    if (req->dropped || req->ended)
        return;
    size_t pending = req->out_len - req->out_off;
    if (pending + len > req->front->config.events_buffer_bytes) {
        s_stream_drop (req, "the client falls behind");
        return;
    }
    if (req->out_off && req->out_len + len > req->out_cap) {
        memmove (req->out, req->out + req->out_off, pending);
        req->out_off = 0;
        req->out_len = pending;
    }
    if (req->out_len + len > req->out_cap) {
        size_t cap = req->out_cap ? req->out_cap : 4096;
        while (cap < req->out_len + len)
            cap *= 2;
        char *grown = realloc (req->out, cap);
        if (!grown) {
            s_stream_drop (req, "out of memory");
            return;
        }
        req->out = grown;
        req->out_cap = cap;
    }
    memcpy (req->out + req->out_len, text, len);
    req->out_len += len;
    s_stream_wake (req);
}

/* libmicrohttpd asks for the stream's next bytes: what is buffered, else
   suspend the connection until an event (or the keepalive) comes. */
static ssize_t
s_stream_read (void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    s_req_t *req = cls;
    if (req->dropped)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t pending = req->out_len - req->out_off;
    if (!pending) {
        if (req->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (req->out_cap > 64 * 1024) {
            //  After a burst: give the memory back.
            free (req->out);
            req->out = NULL;
            req->out_cap = 0;
        }
        req->out_off = req->out_len = 0;
        req->suspended = true;
        MHD_suspend_connection (req->conn);
        return 0;
    }
    size_t n = pending < max ? pending : max;
    memcpy (buf, req->out + req->out_off, n);
    req->out_off += n;
    if (req->out_off == req->out_len)
        req->out_off = req->out_len = 0;
    return (ssize_t)n;
}

/* GET /events: check the token (from the query string or the header), then
   answer with the open stream. */
static enum MHD_Result
s_open_stream (s_req_t *req, const char *method)
{
    rfk_http_front_t *front = req->front;
    if (!req->token) {
        const char *token = MHD_lookup_connection_value (req->conn, MHD_GET_ARGUMENT_KIND, "token");
        if (token && *token) {
            req->token = strdup (token);
            if (!req->token)
                return MHD_NO;
        }
    }
    rfk_msg_t *reply = s_who (front, req->token);
    if (!reply || !rfk_msg_is (reply, "User"))
        return s_queue_reply (req, &reply);
    const char *id = json_string_value (json_object_get (reply->body, "id"));
    const char *type = json_string_value (json_object_get (reply->body, "user_type"));
    req->sees_all = type && (strcmp (type, "SUPERADMIN") == 0 || strcmp (type, "ADMIN") == 0);
    req->user_id = strdup (id ? id : "");
    rfk_msg_destroy (&reply);
    if (!req->user_id)
        return MHD_NO;
    if (zlist_size (front->streams) >= front->config.events_max_streams)
        return s_queue_error (req, 503, "UNAVAILABLE",
                              "too many event streams are open; try again later");
    bool head = strcmp (method, "HEAD") == 0;
    struct MHD_Response *response;
    if (head)
        response = MHD_create_response_from_buffer (0, (void *)"", MHD_RESPMEM_PERSISTENT);
    else {
        s_stream_push (req, s_stream_hello, sizeof s_stream_hello - 1);
        response = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, S_EVENTS_BLOCK,
                                                      s_stream_read, req, NULL);
    }
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header (response, "X-Accel-Buffering", "no");
    if (!head) {
        req->stream = true;
        if (zlist_append (front->streams, req)) {
            MHD_destroy_response (response);
            return MHD_NO;
        }
        if (!front->next_keepalive)
            front->next_keepalive = s_now_ms () + front->config.events_keepalive_ms;
        //  Watch for the client hanging up while the stream is suspended.
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info (req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct epoll_event watch = {.events = EPOLLRDHUP, .data.ptr = req};
        if (info && epoll_ctl (front->epoll_fd, EPOLL_CTL_ADD, info->connect_fd, &watch) == 0)
            req->stream_fd = info->connect_fd;
        rfk_log_info ("http", "event-stream-open user=%s all=%s streams=%zu", req->user_id,
                      req->sees_all ? "yes" : "no", zlist_size (front->streams));
    }
    return s_queue (req, 200, response);
}

/* Take a stream's socket out of the front's epoll set. */
static void
s_stream_unwatch (s_req_t *req)
{
    if (req->stream_fd >= 0)
        epoll_ctl (req->front->epoll_fd, EPOLL_CTL_DEL, req->stream_fd, NULL);
    req->stream_fd = -1;
}

/* End the streams whose clients hung up (reported by the front's epoll
   set; libmicrohttpd's own descriptor is there with a NULL pointer). */
static void
s_streams_gone (rfk_http_front_t *self)
{
    struct epoll_event events[64];
    int n;
    do {
        n = epoll_wait (self->epoll_fd, events, 64, 0);
        for (int i = 0; i < n; i++) {
            s_req_t *req = events[i].data.ptr;
            if (!req)
                continue;
            s_stream_unwatch (req);
            if (!req->dropped) {
                req->dropped = true;
                s_stream_wake (req);
            }
        }
    } while (n == 64);
}

/* Between polls: the keepalive round (re-checking each stream's token; a
   stream whose token is no longer valid ends), then resume the streams
   that have something to send. */
static void
s_streams_step (rfk_http_front_t *self)
{
    if (zlist_size (self->streams))
        s_streams_gone (self);
    if (!zlist_size (self->streams))
        self->next_keepalive = 0;
    else if (self->next_keepalive && s_now_ms () >= self->next_keepalive) {
        for (s_req_t *req = zlist_first (self->streams); req; req = zlist_next (self->streams)) {
            if (req->dropped || req->ended)
                continue;
            rfk_msg_t *reply = s_who (self, req->token);
            if (reply && rfk_msg_is (reply, "User"))
                s_stream_push (req, s_stream_keepalive, sizeof s_stream_keepalive - 1);
            else {
                const char *message =
                    reply ? json_string_value (json_object_get (reply->body, "message")) : NULL;
                rfk_log_info ("http", "event-stream-end user=%s reason=\"%s\"", req->user_id,
                              message ? message : "the token was refused");
                req->ended = true;
                s_stream_wake (req);
            }
            rfk_msg_destroy (&reply);
        }
        self->next_keepalive = s_now_ms () + self->config.events_keepalive_ms;
    }
    if (!self->waking)
        return;
    self->waking = false;
    for (s_req_t *req = zlist_first (self->streams); req; req = zlist_next (self->streams))
        if (req->wake) {
            req->wake = false;
            req->suspended = false;
            MHD_resume_connection (req->conn);
        }
}

void
rfk_http_front_event (rfk_http_front_t *self, const char *owner, const char *name, const char *data)
{
    if (!self || !name || !data || !zlist_size (self->streams) || strpbrk (name, "\r\n"))
        return;
    //  "event: NAME\ndata: LINE\n" for each line of data, then a blank line.
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return;
    fprintf (out, "event: %s\n", name);
    const char *line = data;
    do {
        size_t len = strcspn (line, "\r\n");
        fprintf (out, "data: %.*s\n", (int)len, line);
        line += len;
        if (*line == '\r' && line[1] == '\n')
            line++;
        if (*line)
            line++;
    } while (*line);
    fputc ('\n', out);
    if (fclose (out)) {
        free (text);
        return;
    }
    for (s_req_t *req = zlist_first (self->streams); req; req = zlist_next (self->streams))
        if (req->sees_all || (owner && strcmp (owner, req->user_id) == 0))
            s_stream_push (req, text, size);
    free (text);
}

size_t
rfk_http_front_event_streams (rfk_http_front_t *self)
{
    return self ? zlist_size (self->streams) : 0;
}

//  --------------------------------------------------------------------------
//  Building the admin request

/* An admin request of type from user JSON, checked against the schema and
   normalised the way the ZeroMQ front sees it (through an encode and a
   decode: "3" becomes 3 where the field is an integer, enums are names), so
   handlers never see the text forms that forms and query strings carry.
   NULL with the reason (naming the field) in err. */
static rfk_msg_t *
s_request_new (rfk_http_front_t *front, const char *type, json_t *body, const char *token,
               char *err, size_t errlen)
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
    s_req_t *req = cls;
    if (req->failed || !key)
        return MHD_YES;
    char err[256];
    //  A repeated scalar in the query string: the last one wins.
    json_t *old = json_object_get (req->query, key);
    if (old && !json_is_array (old))
        json_object_del (req->query, key);
    if (rfk_http_route_add_text (req->query, key, value, value ? strlen (value) : 0, err,
                                 sizeof err))
        s_fail (req, 400, "BAD_REQUEST", "query string: %s", err);
    return MHD_YES;
}

/* The request's fields: body (JSON or form), then the query string, then
   the path parameters, later ones winning. NULL after s_fail. */
static json_t *
s_request_body (s_req_t *req)
{
    json_t *body = NULL;
    if (req->body_kind == S_BODY_FORM)
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
                s_fail (req, 400, "BAD_REQUEST", "invalid JSON body: %s (line %d, column %d)",
                        jerr.text, jerr.line, jerr.column);
                return NULL;
            }
            if (!json_is_object (body)) {
                json_decref (body);
                s_fail (req, 400, "BAD_REQUEST", "the JSON body must be an object");
                return NULL;
            }
        }
    }
    if (!body) {
        s_fail (req, 503, "UNAVAILABLE", "out of memory");
        return NULL;
    }
    json_object_update (body, req->query);
    json_object_update (body, req->params);
    return body;
}

/* The UploadStart message of an upload from its fields, or NULL after
   s_fail. */
static rfk_msg_t *
s_upload_start (s_req_t *req)
{
    json_t *body = json_object ();
    if (!body) {
        s_fail (req, 503, "UNAVAILABLE", "out of memory");
        return NULL;
    }
    json_object_update (body, req->fields);
    json_object_update (body, req->query);
    json_object_set_new (
        body, "kind",
        json_string (req->route->kind == RFK_HTTP_ROUTE_UPLOAD_MODEL ? "MODEL" : "DATASET"));
    char err[256];
    rfk_msg_t *start = s_request_new (req->front, "UploadStart", body, req->token, err, sizeof err);
    json_decref (body);
    if (!start)
        s_fail (req, 400, "BAD_REQUEST", "%s", err);
    return start;
}

/* Begin the handler's upload with the fields known now. */
static void
s_upload_begin (s_req_t *req)
{
    rfk_msg_t *start = s_upload_start (req);
    if (!start)
        return;
    rfk_msg_t *error = NULL;
    rfk_http_front_t *front = req->front;
    req->upload =
        front->handlers.upload_begin (front->handlers.ctx, req->token, start->body, &error);
    rfk_msg_destroy (&start);
    if (!req->upload) {
        if (!error)
            error = rfk_msg_new_error (&rfk_admin_family, 0, RFK_CODE_INTERNAL,
                                       "the upload could not start");
        s_fail_msg (req, &error);
    } else
        rfk_msg_destroy (&error);
}

//  --------------------------------------------------------------------------
//  Form parts (MHD_PostProcessor)

static bool
s_is_upload_field (s_req_t *req, const char *key)
{
    for (const char **f = req->upload_fields; f && *f; f++)
        if (strcmp (*f, key) == 0)
            return true;
    return false;
}

/* Every text field the upload can take is known (from the body or the
   query string): the file can go straight to the upload. */
static bool
s_upload_ready (s_req_t *req)
{
    for (const char **f = req->upload_fields; f && *f; f++)
        if (!json_object_get (req->fields, *f) && !json_object_get (req->query, *f))
            return false;
    return true;
}

/* The current text part is complete: keep its value. */
static void
s_part_end (s_req_t *req)
{
    if (req->part_key && !req->part_is_file && !req->failed) {
        char err[256];
        if (req->file_field && !s_is_upload_field (req, req->part_key)) {
            if (req->route->kind == RFK_HTTP_ROUTE_UPLOAD_MODEL)
                s_fail (req, 400, "BAD_REQUEST",
                        "unknown field `%.64s` in %s (it takes name, task, model_class, "
                        "dependencies, docker_image, access_right and the file "
                        "`model_file_bytes`)",
                        req->part_key, req->route->endpoint);
            else
                s_fail (req, 400, "BAD_REQUEST",
                        "unknown field `%.64s` in %s (it takes name, task and the file "
                        "`dataset`)",
                        req->part_key, req->route->endpoint);
        } else if (rfk_http_route_add_text (req->fields, req->part_key, req->text, req->text_len,
                                            err, sizeof err))
            s_fail (req, 400, "BAD_REQUEST", "%s", err);
    }
    free (req->part_key);
    req->part_key = NULL;
    req->part_is_file = false;
    req->part_bytes = 0;
    req->text_len = 0;
}

/* A new part begins. */
static void
s_part_start (s_req_t *req, const char *key, const char *filename)
{
    req->parts++;
    req->part_key = strdup (key);
    if (!req->part_key) {
        s_fail (req, 503, "UNAVAILABLE", "out of memory");
        return;
    }
    bool is_file = req->file_field && strcmp (key, req->file_field) == 0;
    if (!is_file && filename) {
        if (req->file_field)
            s_fail (req, 400, "BAD_REQUEST",
                    "unexpected file in field `%.64s`: the file goes in field `%s`", key,
                    req->file_field);
        else
            s_fail (req, 400, "BAD_REQUEST", "unexpected file in field `%.64s`: %s takes none", key,
                    req->route->endpoint);
        return;
    }
    if (!is_file)
        return;
    req->part_is_file = true;
    if (req->file_seen) {
        s_fail (req, 400, "BAD_REQUEST", "field `%s` (the file) is given twice", key);
        return;
    }
    req->file_seen = true;
    bool ready = s_upload_ready (req);
    rfk_http_metrics_add_upload (req->front->metrics, !ready);
    if (ready) {
        s_upload_begin (req);
        return;
    }
    //  Some fields may still come after the file: spool it until they are in.
    char path[PATH_MAX];
    int n = snprintf (path, sizeof path, "%s/upload-XXXXXX", req->front->spool_dir);
    if (n < 0 || (size_t)n >= sizeof path) {
        s_fail (req, 503, "UNAVAILABLE", "the spool directory's path is too long");
        return;
    }
    mkdir (req->front->spool_dir, 0700);
    req->spool_fd = mkstemp (path);
    if (req->spool_fd >= 0)
        fcntl (req->spool_fd, F_SETFD, FD_CLOEXEC);
    if (req->spool_fd < 0) {
        s_fail (req, 503, "UNAVAILABLE", "cannot spool the upload under %s: %s",
                req->front->spool_dir, strerror (errno));
        return;
    }
    unlink (path); //  the descriptor keeps it; nothing is left behind whatever happens
}

static void
s_file_data (s_req_t *req, const char *data, size_t size)
{
    req->file_bytes += size;
    rfk_http_metrics_add_upload_bytes (req->front->metrics, size);
    if (req->file_bytes > req->front->config.upload_max_bytes) {
        s_fail (req, 413, "TOO_LARGE", "the file is over the upload limit of %llu bytes",
                (unsigned long long)req->front->config.upload_max_bytes);
        return;
    }
    if (!size)
        return;
    if (req->upload) {
        rfk_msg_t *error = NULL;
        if (req->front->handlers.upload_write (req->upload, data, size, &error)) {
            if (!error)
                error = rfk_msg_new_error (&rfk_admin_family, 0, RFK_CODE_INTERNAL,
                                           "the upload failed");
            s_fail_msg (req, &error);
        } else
            rfk_msg_destroy (&error);
        return;
    }
    while (size) {
        ssize_t n = write (req->spool_fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            s_fail (req, 503, "UNAVAILABLE", "cannot spool the upload: %s",
                    n < 0 ? strerror (errno) : "short write");
            return;
        }
        data += n;
        size -= (size_t)n;
    }
}

static enum MHD_Result
s_iterate (void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
           const char *content_type, const char *transfer_encoding, const char *data, uint64_t off,
           size_t size)
{
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    s_req_t *req = cls;
    if (req->closing || req->failed)
        return MHD_NO;
    if (!key)
        key = "";
    bool new_part =
        !req->part_key || strcmp (key, req->part_key) || (off == 0 && req->part_bytes > 0);
    if (new_part) {
        s_part_end (req);
        if (!req->failed)
            s_part_start (req, key, filename);
    }
    if (req->failed)
        return MHD_NO;
    req->part_bytes += size;
    if (req->part_is_file)
        s_file_data (req, data, size);
    else if (size) {
        req->fields_bytes += size;
        if (req->fields_bytes > req->front->config.request_max_bytes) {
            s_fail (req, 413, "TOO_LARGE", "the form fields are over %llu bytes",
                    (unsigned long long)req->front->config.request_max_bytes);
            return MHD_NO;
        }
        if (req->text_len + size + 1 > req->text_cap) {
            size_t cap = req->text_cap ? req->text_cap : 256;
            while (cap < req->text_len + size + 1)
                cap *= 2;
            char *grown = realloc (req->text, cap);
            if (!grown) {
                s_fail (req, 503, "UNAVAILABLE", "out of memory");
                return MHD_NO;
            }
            req->text = grown;
            req->text_cap = cap;
        }
        memcpy (req->text + req->text_len, data, size);
        req->text_len += size;
    }
    return req->failed ? MHD_NO : MHD_YES;
}

//  --------------------------------------------------------------------------
//  Request lifecycle

static void
s_req_destroy (s_req_t **req_p)
{
    s_req_t *req = *req_p;
    if (!req)
        return;
    if (req->pp) {
        req->closing = true;
        MHD_destroy_post_processor (req->pp);
    }
    s_drop_upload (req);
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
    free (req->out);
    free (req);
    *req_p = NULL;
}

static s_req_t *
s_req_new (rfk_http_front_t *front, struct MHD_Connection *conn)
{
    s_req_t *req = calloc (1, sizeof *req);
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

/* The headers are in: route, check, and answer at once when we can. */
static enum MHD_Result
s_begin (s_req_t *req, const char *url, const char *method)
{
    rfk_http_front_t *front = req->front;
    struct MHD_Connection *conn = req->conn;
    if (!rfk_http_route_is_api (url))
        return s_serve_static (req, url, method);

    char allow[64];
    rfk_http_route_result_t found =
        rfk_http_route_find (method, url, &req->route, req->params, allow, sizeof allow);
    char message[512];
    if (found == RFK_HTTP_ROUTE_NOT_FOUND) {
        snprintf (message, sizeof message, "no such endpoint: %.16s %.200s", method, url);
        return s_queue_error (req, 404, "NOT_FOUND", message);
    }
    if (found == RFK_HTTP_ROUTE_NO_METHOD) {
        snprintf (message, sizeof message, "%.16s is not allowed on %.200s (allowed: %s)", method,
                  url, allow);
        json_t *error =
            json_pack ("{s:{s:s,s:s}}", "error", "code", "METHOD_NOT_ALLOWED", "message", message);
        char *text = error ? json_dumps (error, S_JSON_FLAGS) : NULL;
        json_decref (error);
        if (!text)
            return MHD_NO;
        struct MHD_Response *response =
            MHD_create_response_from_buffer (strlen (text), text, MHD_RESPMEM_MUST_FREE);
        if (!response) {
            free (text);
            return MHD_NO;
        }
        MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, allow);
        return s_queue (req, 405, response);
    }
    req->endpoint = req->route->endpoint;
    if (req->route->kind == RFK_HTTP_ROUTE_HEALTHZ)
        return s_queue_json (req, 200, json_pack ("{s:s}", "status", "ok"));
    if (req->route->kind == RFK_HTTP_ROUTE_METRICS)
        return s_serve_metrics (req);

    //  The token, if any.
    const char *auth = MHD_lookup_connection_value (conn, MHD_HEADER_KIND, "Authorization");
    if (auth) {
        while (*auth == ' ')
            auth++;
        if (strncasecmp (auth, "Bearer ", 7) == 0) {
            auth += 7;
            while (*auth == ' ')
                auth++;
            req->token = strdup (auth);
            if (!req->token)
                return MHD_NO;
        }
    }

    if (req->route->kind == RFK_HTTP_ROUTE_EVENTS)
        return s_open_stream (req, method);

    //  Lengths: a body over its cap is refused before a byte of it is read.
    bool is_upload = req->route->kind == RFK_HTTP_ROUTE_UPLOAD_DATASET ||
                     req->route->kind == RFK_HTTP_ROUTE_UPLOAD_MODEL;
    const rfk_http_front_config_t *config = &front->config;
    req->limit = is_upload ? config->upload_max_bytes + config->request_max_bytes + S_FORM_OVERHEAD
                           : config->request_max_bytes;
    const char *length =
        MHD_lookup_connection_value (conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length) {
        char *end;
        errno = 0;
        unsigned long long value = strtoull (length, &end, 10);
        if (!errno && end != length && value > req->limit) {
            if (is_upload)
                snprintf (message, sizeof message,
                          "the upload is %llu bytes, over the limit of %llu bytes for the file",
                          value, (unsigned long long)config->upload_max_bytes);
            else
                snprintf (message, sizeof message,
                          "the body is %llu bytes, over the limit of %llu bytes", value,
                          (unsigned long long)config->request_max_bytes);
            return s_queue_error (req, 413, "TOO_LARGE", message);
        }
    }

    MHD_get_connection_values (conn, MHD_GET_ARGUMENT_KIND, s_collect_query, req);
    if (req->failed)
        return s_queue_failure (req);

    const char *type =
        MHD_lookup_connection_value (conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    bool multipart = s_media_is (type, "multipart/form-data");
    bool urlencoded = s_media_is (type, "application/x-www-form-urlencoded");
    if (is_upload) {
        req->file_field =
            req->route->kind == RFK_HTTP_ROUTE_UPLOAD_MODEL ? "model_file_bytes" : "dataset";
        req->upload_fields =
            req->route->kind == RFK_HTTP_ROUTE_UPLOAD_MODEL ? s_model_fields : s_dataset_fields;
        if (!front->handlers.upload_begin || !front->handlers.upload_write ||
            !front->handlers.upload_finish) {
            return s_queue_error (req, 503, "UNAVAILABLE", "uploads are not served here");
        }
        if (!multipart) {
            snprintf (message, sizeof message,
                      "%s takes multipart/form-data with the file in field `%s`",
                      req->route->endpoint, req->file_field);
            return s_queue_error (req, 400, "BAD_REQUEST", message);
        }
        //  Check the token before reading what may be gigabytes.
        rfk_msg_t *me = rfk_msg_new (&rfk_admin_family, "GetMe", ++front->correlation);
        if (!me)
            return MHD_NO;
        rfk_msg_set_token (me, req->token);
        rfk_msg_t *reply = front->handlers.handle (front->handlers.ctx, me);
        rfk_msg_destroy (&me);
        if (!reply || rfk_msg_is (reply, "Error"))
            return s_queue_reply (req, &reply);
        rfk_msg_destroy (&reply);
    }
    if (multipart || urlencoded) {
        req->body_kind = S_BODY_FORM;
        req->multipart = multipart;
        req->pp = MHD_create_post_processor (conn, S_POST_BUFFER, s_iterate, req);
        if (!req->pp)
            return s_queue_error (req, 400, "BAD_REQUEST",
                                  "the form body cannot be read (a multipart body needs a "
                                  "boundary)");
    }
    return MHD_YES;
}

/* A piece of the body. */
static enum MHD_Result
s_feed (s_req_t *req, const char *data, size_t size)
{
    req->received += size;
    if (req->failed) {
        //  Drop the rest of the body, then answer; a body without a length
        //  that goes on past its cap is cut off.
        return req->received > req->limit ? MHD_NO : MHD_YES;
    }
    if (req->received > req->limit) {
        if (req->file_field)
            s_fail (req, 413, "TOO_LARGE", "the file is over the upload limit of %llu bytes",
                    (unsigned long long)req->front->config.upload_max_bytes);
        else
            s_fail (req, 413, "TOO_LARGE", "the body is over the limit of %llu bytes",
                    (unsigned long long)req->front->config.request_max_bytes);
        return MHD_YES;
    }
    if (req->pp) {
        if (MHD_post_process (req->pp, data, size) != MHD_YES && !req->failed)
            s_fail (req, 400, "BAD_REQUEST", "the form body is malformed");
        return MHD_YES;
    }
    if (req->body_len + size > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 4096;
        while (cap < req->body_len + size)
            cap *= 2;
        char *grown = realloc (req->body, cap);
        if (!grown) {
            s_fail (req, 503, "UNAVAILABLE", "out of memory");
            return MHD_YES;
        }
        req->body = grown;
        req->body_cap = cap;
    }
    memcpy (req->body + req->body_len, data, size);
    req->body_len += size;
    return MHD_YES;
}

/* Close the form parser: it may still hand over the last part. */
static void
s_form_end (s_req_t *req)
{
    if (!req->pp)
        return;
    enum MHD_Result rc = MHD_destroy_post_processor (req->pp);
    req->pp = NULL;
    if (rc != MHD_YES && !req->failed)
        s_fail (req, 400, "BAD_REQUEST", "%s",
                req->multipart ? "the multipart body ended early (no closing boundary)"
                               : "the form body is malformed (expected name=value&...)");
    if (req->multipart && req->received && !req->parts && !req->failed)
        s_fail (req, 400, "BAD_REQUEST",
                "the multipart body has no part (is its boundary the one in Content-Type?)");
    s_part_end (req);
}

/* Finish the upload: its reply, or NULL when the handler answers later
   (req is then on the waiting list; the caller suspends it). */
static rfk_msg_t *
s_finish_upload (s_req_t *req)
{
    rfk_http_front_t *front = req->front;
    if (!front->handlers.upload_finish_later)
        return front->handlers.upload_finish (front->handlers.ctx, &req->upload);
    rfk_http_ticket_t ticket = ++front->tickets;
    rfk_msg_t *reply =
        front->handlers.upload_finish_later (front->handlers.ctx, &req->upload, front, ticket);
    req->upload = NULL;
    if (reply)
        return reply;
    if (zlist_append (front->waiting, req) != 0)
        return rfk_msg_new_error (&rfk_admin_family, 0, RFK_CODE_UNAVAILABLE, "out of memory");
    req->ticket = ticket;
    return NULL;
}

/* The body is complete: answer an upload. */
static enum MHD_Result
s_complete_upload (s_req_t *req)
{
    rfk_http_front_t *front = req->front;
    if (req->failed)
        return s_queue_failure (req);
    if (!req->file_seen) {
        s_fail (req, 400, "BAD_REQUEST", "field `%s` (the file) is missing", req->file_field);
        return s_queue_failure (req);
    }
    if (req->upload) {
        rfk_msg_t *reply = s_finish_upload (req);
        if (!reply) {
            MHD_suspend_connection (req->conn); //  until rfk_http_front_finished
            return MHD_YES;
        }
        return s_queue_reply (req, &reply);
    }
    //  Spooled: start the upload now that every field is known, then copy
    //  the spool into it between polls, the connection suspended.
    s_upload_begin (req);
    if (req->failed)
        return s_queue_failure (req);
    req->copy_buffer = malloc (S_COPY_BUFFER);
    if (!req->copy_buffer || zlist_append (front->copying, req)) {
        s_fail (req, 503, "UNAVAILABLE", "out of memory");
        return s_queue_failure (req);
    }
    MHD_suspend_connection (req->conn);
    return MHD_YES;
}

/* Copy up to S_COPY_SLICE bytes of a spool into its upload (req was taken
   off the copying list); at the end, or on error, finish and resume the
   connection, whose next call answers, else put req back on the list. */
static void
s_copy_slice (s_req_t *req)
{
    rfk_http_front_t *front = req->front;
    uint64_t budget = S_COPY_SLICE;
    while (!req->copy_done && budget) {
        ssize_t n = pread (req->spool_fd, req->copy_buffer, S_COPY_BUFFER, (off_t)req->copied);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            s_fail (req, 503, "UNAVAILABLE", "cannot read the spooled upload: %s",
                    strerror (errno));
            req->copy_done = true;
        } else if (n == 0) {
            close (req->spool_fd);
            req->spool_fd = -1;
            req->reply = s_finish_upload (req); //  NULL: stays suspended, waiting
            req->copy_done = true;
        } else {
            rfk_msg_t *error = NULL;
            if (front->handlers.upload_write (req->upload, req->copy_buffer, (size_t)n, &error)) {
                if (!error)
                    error = rfk_msg_new_error (&rfk_admin_family, 0, RFK_CODE_INTERNAL,
                                               "the upload failed");
                s_fail_msg (req, &error);
                req->copy_done = true;
            }
            rfk_msg_destroy (&error);
            req->copied += (uint64_t)n;
            budget = (uint64_t)n >= budget ? 0 : budget - (uint64_t)n;
        }
    }
    if (req->copy_done) {
        if (!req->ticket)
            MHD_resume_connection (req->conn);
    } else
        zlist_append (front->copying, req);
}

/* The body is complete: build the request, ask the handler, answer. */
static enum MHD_Result
s_complete (s_req_t *req)
{
    rfk_http_front_t *front = req->front;
    zlist_remove (front->receiving, req);
    if (req->ticket || (req->copy_buffer && !req->copy_done))
        return MHD_YES; //  still copying or waiting for the reply (suspended)
    if (req->copy_done || req->answered_later) {
        //  Resumed after a spool copy or with a deferred reply.
        if (req->failed)
            return s_queue_failure (req);
        return s_queue_reply (req, &req->reply);
    }
    s_form_end (req);
    if (req->file_field)
        return s_complete_upload (req);
    if (req->failed)
        return s_queue_failure (req);
    json_t *body = s_request_body (req);
    if (!body)
        return s_queue_failure (req);
    char err[256];
    rfk_msg_t *request = s_request_new (front, req->route->type, body, req->token, err, sizeof err);
    json_decref (body);
    if (!request)
        return s_queue_error (req, 400, "BAD_REQUEST", err);
    rfk_msg_t *reply = front->handlers.handle (front->handlers.ctx, request);
    rfk_msg_destroy (&request);
    return s_queue_reply (req, &reply);
}

static enum MHD_Result
s_access (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    rfk_http_front_t *front = cls;
    s_req_t *req = *con_cls;
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
    s_req_t *req = *con_cls;
    if (!req)
        return;
    rfk_http_metrics_record (front->metrics, req->endpoint, req->status,
                             s_seconds_since (&req->started));
    front->in_flight--;
    zlist_remove (front->copying, req);
    if (req->stream) {
        s_stream_unwatch (req);
        zlist_remove (front->streams, req);
        rfk_log_info ("http", "event-stream-closed user=%s streams=%zu", req->user_id,
                      zlist_size (front->streams));
    }
    zlist_remove (front->receiving, req);
    zlist_remove (front->waiting, req);
    s_req_destroy (&req);
    *con_cls = NULL;
}

static void
s_log (void *cls, const char *format, va_list args)
{
    (void)cls;
    char line[512];
    vsnprintf (line, sizeof line, format, args);
    size_t len = strlen (line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = 0;
    rfk_log_warning ("http", "RFK-HTTP %s", line);
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
    config->data_dir = rfk_config_string (cfg, NULL, "data_dir");
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
    if (!self->config.host || !*self->config.host)
        self->config.host = "127.0.0.1";
    if (!self->config.max_connections)
        self->config.max_connections = 256;
    if (!self->config.connection_timeout_s)
        self->config.connection_timeout_s = 60;
    if (!self->config.events_keepalive_ms)
        self->config.events_keepalive_ms = 15000;
    if (!self->config.events_buffer_bytes)
        self->config.events_buffer_bytes = 1024 * 1024;
    if (!self->config.events_max_streams)
        self->config.events_max_streams =
            self->config.max_connections > 1 ? self->config.max_connections / 2 : 1;
    if (!self->config.request_max_bytes)
        self->config.request_max_bytes = 1024 * 1024;
    if (!self->config.upload_max_bytes)
        self->config.upload_max_bytes = 2ULL * 1024 * 1024 * 1024;
    const char *data_dir = self->config.data_dir ? self->config.data_dir : ".";
    self->metrics = rfk_http_metrics_new ("rfk_http");
    self->copying = zlist_new ();
    self->streams = zlist_new ();
    self->epoll_fd = -1;
    self->receiving = zlist_new ();
    self->waiting = zlist_new ();
    self->spool_dir = malloc (strlen (data_dir) + sizeof "/tmp");
    if (self->spool_dir)
        sprintf (self->spool_dir, "%s/tmp", data_dir);
    if (!self->metrics || !self->copying || !self->streams || !self->receiving || !self->waiting ||
        !self->spool_dir) {
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

    //  The address to bind: numeric IPv4 or IPv6, or a name.
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *addresses = NULL;
    char service[16];
    snprintf (service, sizeof service, "%d", self->config.port);
    int rc = getaddrinfo (self->config.host, service, &hints, &addresses);
    if (rc || !addresses) {
        snprintf (err, errlen, "cannot use address %s: %s", self->config.host,
                  rc ? gai_strerror (rc) : "no address");
        rfk_http_front_destroy (&self);
        return NULL;
    }
    struct sockaddr_storage address;
    memcpy (&address, addresses->ai_addr, addresses->ai_addrlen);
    bool ipv6 = addresses->ai_family == AF_INET6;
    freeaddrinfo (addresses);

    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (ipv6)
        flags |= MHD_USE_IPv6;
    self->daemon = MHD_start_daemon (
        flags, (uint16_t)self->config.port, NULL, NULL, s_access, self, MHD_OPTION_EXTERNAL_LOGGER,
        s_log, self, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&address, MHD_OPTION_NOTIFY_COMPLETED,
        s_completed, self, MHD_OPTION_CONNECTION_LIMIT, self->config.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, self->config.connection_timeout_s, MHD_OPTION_END);
    if (!self->daemon) {
        snprintf (err, errlen, "cannot listen on %s:%d (port in use or address not local?)",
                  self->config.host, self->config.port);
        rfk_http_front_destroy (&self);
        return NULL;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : self->config.port;
    //  The descriptor the actor polls: libmicrohttpd's, and stream sockets.
    const union MHD_DaemonInfo *epoll_info =
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    struct epoll_event watch = {.events = EPOLLIN, .data.ptr = NULL};
    self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    if (self->epoll_fd < 0 || !epoll_info ||
        epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, epoll_info->epoll_fd, &watch)) {
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
        s_req_t *req;
        while (self->copying && (req = zlist_pop (self->copying)))
            MHD_resume_connection (req->conn);
        for (req = self->streams ? zlist_first (self->streams) : NULL; req;
             req = zlist_next (self->streams)) {
            req->dropped = true;
            if (req->suspended) {
                req->suspended = false;
                MHD_resume_connection (req->conn);
            }
        }
        while (self->waiting && (req = zlist_pop (self->waiting))) {
            req->ticket = 0;
            s_fail (req, 503, "UNAVAILABLE", "admin is stopping");
            MHD_resume_connection (req->conn);
        }
        MHD_stop_daemon (self->daemon);
    }
    zlist_destroy (&self->copying);
    zlist_destroy (&self->streams);
    if (self->epoll_fd >= 0)
        close (self->epoll_fd);
    zlist_destroy (&self->waiting);
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
    if (zlist_size (self->copying) || self->waking || self->wake)
        return 0;
    long result = -1;
    MHD_UNSIGNED_LONG_LONG timeout;
    if (MHD_get_timeout (self->daemon, &timeout) == MHD_YES)
        result = timeout > LONG_MAX ? LONG_MAX : (long)timeout;
    if (self->next_keepalive && zlist_size (self->streams)) {
        int64_t left = self->next_keepalive - s_now_ms ();
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
    s_req_t *reqs[64];
    size_t n = 0;
    for (s_req_t *req = zlist_first (self->receiving); req && n < 64;
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
        s_req_t *req = reqs[i];
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
    self->wake = false;
    //  One slice of each spool copy, then the sockets.
    size_t copying = zlist_size (self->copying);
    while (copying--)
        s_copy_slice (zlist_pop (self->copying));
    s_streams_step (self);
    int rc = MHD_run (self->daemon) == MHD_YES ? 0 : -1;
    s_reap_hung_up (self);
    return rc;
}

int
rfk_http_front_finished (rfk_http_front_t *self, rfk_http_ticket_t ticket, rfk_msg_t **reply_p)
{
    if (!reply_p || !*reply_p)
        return -1;
    s_req_t *req = NULL;
    for (s_req_t *item = self ? zlist_first (self->waiting) : NULL; item;
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
    MHD_resume_connection (req->conn);
    self->wake = true;
    return 0;
}

int
rfk_http_front_port (rfk_http_front_t *self)
{
    return self ? self->port : -1;
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
