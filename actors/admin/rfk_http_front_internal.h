/*  rfk_http_front_internal.h: what the three parts of admin's HTTP front
    share (not for the rest of admin): the front's and a request's state,
    and the calls between the parts.

    - rfk_http_front.c: the front: routing, bodies, responses, static files,
      /healthz and /metrics, the request lifecycle, and the loop glue on
      http/rfk_http_daemon;
    - rfk_http_uploads.c: POST /datasets and POST /models, multipart bodies
      streamed or spooled into handlers->upload_*;
    - rfk_http_events.c: GET /events, server-sent event streams;
    - rfk_http_limits.c: a user's requests in progress, the client's address.
*/
#ifndef RFK_HTTP_FRONT_INTERNAL_H_INCLUDED
#define RFK_HTTP_FRONT_INTERNAL_H_INCLUDED

#include "rfk_http_daemon.h"
#include "rfk_http_front.h"
#include "rfk_http_metrics.h"
#include "rfk_http_route.h"

#include <czmq.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define RFK_HTTP_COPY_SLICE (4 * 1024 * 1024) /* spool bytes copied into an upload per step */
#define RFK_HTTP_COPY_BUFFER (256 * 1024)     /* read size when copying the spool */

typedef struct rfk_http_req rfk_http_req_t;

struct _rfk_http_front_t {
    rfk_http_daemon_t *daemon;      /* libmicrohttpd in the actor's loop (http/) */
    rfk_http_handlers_t handlers;   /* what answers requests */
    rfk_http_front_config_t config; /* copied; strings borrowed from the caller */
    char *spool_dir;                /* <data_dir>/tmp */
    char *static_root;              /* realpath of static_dir, or NULL for the placeholder */
    rfk_http_metrics_t *metrics;    /* request counters */
    uint64_t correlation;           /* last correlation id given to a request */
    long in_flight;                 /* requests not yet completed */
    zlist_t *copying;               /* requests (rfk_http_req_t *) whose spool is being copied */
    zlist_t *streams;               /* GET /events requests (rfk_http_req_t *) open */
    int epoll_fd;                   /* polled by the actor: MHD's epoll fd and stream sockets */
    bool waking;                    /* some stream is to be resumed at the next step */
    int64_t next_keepalive;         /* monotonic ms of the next keepalive round */
    uint64_t streams_dropped;       /* streams closed for falling behind */
    zlist_t *receiving;             /* requests (rfk_http_req_t *) whose body is still coming */
    zlist_t *waiting;               /* requests (rfk_http_req_t *) suspended for a deferred reply */
    rfk_http_ticket_t tickets;      /* last ticket given to a deferred reply */
    zhashx_t *held;                 /* user id -> requests of theirs in progress (a count) */
};

/* What a request's body is. */
typedef enum {
    RFK_HTTP_BODY_JSON = 0, /* raw bytes, parsed as JSON at the end (empty: {}) */
    RFK_HTTP_BODY_FORM      /* multipart or urlencoded, through the post processor */
} rfk_http_body_kind_t;

/* One request, from its headers to the completion callback. */
struct rfk_http_req {
    rfk_http_front_t *front;        /* owner */
    struct MHD_Connection *conn;    /* its connection */
    const rfk_http_route_t *route;  /* the API route, or NULL (static, unknown) */
    const char *endpoint;           /* metrics label, static */
    struct timespec started;        /* when the headers were in */
    int status;                     /* status of the queued response, 0 until queued */
    bool responded;                 /* a response is queued */
    char *token;                    /* from Authorization: Bearer, or NULL */
    json_t *params;                 /* path parameters */
    json_t *query;                  /* query-string values, merged on top */
    rfk_http_body_kind_t body_kind; /* how the body is read */
    bool multipart;                 /* the form is multipart/form-data (else urlencoded) */
    char *body;                     /* JSON body bytes */
    size_t body_len;                /* bytes in body */
    size_t body_cap;                /* allocated for body */
    uint64_t received;              /* body bytes received */
    uint64_t limit;                 /* body bytes allowed */
    struct MHD_PostProcessor *pp;   /* form parser, or NULL */
    bool closing;                   /* pp is being destroyed: ignore its calls */
    bool hangup_seen;               /* the client had hung up at the last look */
    bool cancel_sent;               /* waiting: upload_cancel was called for its ticket */
    uint64_t received_at_hangup;    /* received at that look */
    bool reaped;                    /* s_reap_hung_up shut its socket down */
    json_t *fields;                 /* form text fields */
    uint64_t fields_bytes;          /* bytes of text fields, capped by request_max_bytes */
    char *part_key;                 /* field of the current form part, or NULL */
    bool part_is_file;              /* the current part is the upload's file */
    unsigned parts;                 /* form parts seen */
    uint64_t part_bytes;            /* bytes of the current part so far */
    char *text;                     /* the current text part's value */
    size_t text_len;                /* bytes in text */
    size_t text_cap;                /* allocated for text */
    const char *file_field;         /* "dataset" or "model_file_bytes" for uploads, else NULL */
    const char **upload_fields;     /* the text fields the upload takes */
    bool file_seen;                 /* the file part started */
    uint64_t file_bytes;            /* file bytes received */
    void *upload;                   /* the handler's upload, or NULL */
    int spool_fd;                   /* the spool file (unlinked), or -1 */
    uint64_t copied;                /* spool bytes copied into the upload */
    char *copy_buffer;              /* buffer for copying the spool */
    bool copy_done;                 /* the spool copy ended (reply or error ready) */
    rfk_msg_t *reply;               /* reply waiting for the resumed connection */
    rfk_http_ticket_t ticket;       /* its ticket while on the waiting list, else 0 */
    bool answered_later;            /* resumed with a deferred reply in reply */
    bool failed;                    /* an error is waiting to be answered */
    int err_status;                 /* its HTTP status */
    char err_code[32];              /* its code name */
    char err_message[512];          /* its message */
    unsigned retry_after_s;         /* Retry-After of the response, 0: none */
    char *held_user;                /* the user it counts against (user_max_requests), or NULL */
    bool stream;                    /* a GET /events stream */
    char *user_id;                  /* the stream's user */
    bool sees_all;                  /* the stream's user is an admin: every event */
    char *out;                      /* stream bytes not yet handed to libmicrohttpd */
    size_t out_off;                 /* first unsent byte in out */
    size_t out_len;                 /* bytes in out */
    size_t out_cap;                 /* allocated for out */
    bool suspended;                 /* the stream waits for events (connection suspended) */
    bool wake;                      /* resume it at the next step */
    bool ended;                     /* end the stream once out is sent */
    bool dropped;                   /* close the stream now (it fell behind, or its client left) */
    int stream_fd;                  /* its socket while in the front's epoll set, else -1 */
};

/* ---- the front (rfk_http_front.c) ---- */

/* Monotonic milliseconds. */
int64_t
rfk_http_front_now_ms (void);
/* Remember the first error of a request (later ones are consequences); an
   upload it had is dropped. */
void
rfk_http_req_fail (rfk_http_req_t *req, int status, const char *code, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));
/* The retry_after_s of an Error (RATE_LIMITED, UNAVAILABLE), 0 for none. */
unsigned
rfk_http_retry_after (const rfk_msg_t *error);
/* Take an Error message as the request's error (consumes *error_p). */
void
rfk_http_req_fail_msg (rfk_http_req_t *req, rfk_msg_t **error_p);
/* Queue a response (consumed) with its status. */
enum MHD_Result
rfk_http_req_queue (rfk_http_req_t *req, int status, struct MHD_Response *response);
/* Answer {"error": {"code", "message"}}. */
enum MHD_Result
rfk_http_req_queue_error (rfk_http_req_t *req, int status, const char *code, const char *message);
/* Answer the error remembered by rfk_http_req_fail. */
enum MHD_Result
rfk_http_req_queue_failure (rfk_http_req_t *req);
/* Answer with an admin reply (consumed): record, list, file or Error. */
enum MHD_Result
rfk_http_req_queue_reply (rfk_http_req_t *req, rfk_msg_t **reply_p);
/* An admin request of type from user JSON, checked and normalised; NULL
   with the reason in err. */
rfk_msg_t *
rfk_http_front_request_new (rfk_http_front_t *front, const char *type, json_t *body,
                            const char *token, char *err, size_t errlen);

/* ---- limits (rfk_http_limits.c) ---- */

/* A request with a body to come or an upload counts against its user's
   user_max_requests: true when it may go on (no token: refused later),
   else the 429 (or the token's 401) is queued in *rc. */
bool
rfk_http_limits_hold (rfk_http_req_t *req, enum MHD_Result *rc);
/* Give back the request's place among its user's (on completion). */
void
rfk_http_limits_release (rfk_http_req_t *req);
/* True when the request has a body to come (a length or chunks). */
bool
rfk_http_limits_has_body (rfk_http_req_t *req);
/* The client's IP address as text, or "" when unknown. */
void
rfk_http_limits_address (rfk_http_req_t *req, char *out, size_t size);

/* ---- uploads (rfk_http_uploads.c) ---- */

/* The headers of an upload are in: check that uploads are served, that the
   body is multipart and that the token is good, and set the file field.
   true when the body may come; else the answer is queued in *rc. */
bool
rfk_http_uploads_accept (rfk_http_req_t *req, bool multipart, enum MHD_Result *rc);
/* MHD_PostProcessor's iterator: text fields kept, the file part streamed
   or spooled. */
enum MHD_Result
rfk_http_uploads_iterate (void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                          const char *content_type, const char *transfer_encoding, const char *data,
                          uint64_t off, size_t size);
/* Close the form parser: it may still hand over the last part. */
void
rfk_http_uploads_form_end (rfk_http_req_t *req);
/* The body is complete: answer an upload (or suspend it while its spool is
   copied or its reply comes later). */
enum MHD_Result
rfk_http_uploads_complete (rfk_http_req_t *req);
/* One slice of a spool copy (req was taken off the copying list). */
void
rfk_http_uploads_copy_slice (rfk_http_req_t *req);
/* Suspended connections are not watched by libmicrohttpd: look at those
   waiting for a deferred reply, and when a client hung up, tell the
   handler (upload_cancel) once, so the work behind it stops. */
void
rfk_http_uploads_watch_waiting (rfk_http_front_t *front);
/* Abort the request's upload and close its spool. */
void
rfk_http_uploads_drop (rfk_http_req_t *req);

/* ---- events (rfk_http_events.c) ---- */

/* GET /events: check the token, then answer with the open stream. */
enum MHD_Result
rfk_http_events_open (rfk_http_req_t *req, const char *method);
/* Take a stream's socket out of the front's epoll set. */
void
rfk_http_events_unwatch (rfk_http_req_t *req);
/* Between polls: streams whose clients hung up end, the keepalive round,
   and streams with something to send are resumed. */
void
rfk_http_events_step (rfk_http_front_t *self);

#endif
