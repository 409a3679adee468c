/*  rfk_http_front.h: admin's HTTP front, the REST API of API.md (and the web
    admin's static files) on libmicrohttpd, driven by the admin actor's loop.

    The front owns no thread: libmicrohttpd runs with MHD_USE_EPOLL and no
    internal polling thread (DESIGN.md §7). The actor puts rfk_http_front_fd
    (an epoll descriptor, readable when a connection needs work) in its poll
    set, bounds its poll timeout by rfk_http_front_timeout_ms, and calls
    rfk_http_front_step when the descriptor is readable or the timeout
    passed. Every handler runs in that thread, between two polls.

    A request becomes one admin request message (proto/admin.proto): method
    and path choose the type (rfk_http_route.h), path parameters, the JSON
    body or form fields, and query-string values (merged on top) fill its
    body, `Authorization: Bearer` gives its token. rfk_msg_new_from_json
    checks it (400 naming the field), handlers->handle answers it, and the
    reply becomes the response:
    - a record (Token, User, Dataset, TrainJob, ...): 200, Content-Type
      exactly `application/json`, the reply's body as JSON;
    - a list (UserList, DatasetList, ...): 200, a JSON array of the records,
      as the original Rafiki answered lists;
    - FileData: 200, `application/octet-stream`, the reply's data;
    - Error: {"error": {"code": "NOT_FOUND", "message": "..."}} with
      rfk_code_http_status (code).
    The front itself answers 404 (unknown path), 405 (wrong method, with
    Allow), 400 (invalid JSON, bad form, bad field), 413 (a body over
    request_max_bytes, a file over upload_max_bytes), GET /healthz and
    GET /metrics.

    GET /events is a stream of server-sent events (text/event-stream) for
    the web admin: the token comes from `?token=` (EventSource sends no
    headers) or `Authorization: Bearer`, is checked with a GetMe request
    (401 when refused), and the connection then stays open, suspended
    between events. The caller hands each event to rfk_http_front_event
    with the user who owns it; a stream receives its own user's events, an
    admin's (SUPERADMIN, ADMIN) every event. Each stream buffers at most
    events_buffer_bytes unsent (a client that falls further behind is
    closed and reconnects), gets a `: keepalive` comment every
    events_keepalive_ms, and ends when its token stops being valid.

    POST /datasets and POST /models are multipart uploads streamed through
    handlers->upload_begin/write/finish, never held whole in memory: the
    file part goes straight to the upload when the text fields it needs came
    before it, else into a spool file under <data_dir>/tmp/ that is handed
    over once the body is complete. See HTTP.md beside this file.

    Usage, inside an actor's loop:

        rfk_http_front_config_t config = {.host = "127.0.0.1", .port = 3000, ...};
        rfk_http_handlers_t handlers = {.ctx = admin, .handle = s_handle, ...};
        char err[256];
        rfk_http_front_t *front = rfk_http_front_new (&config, &handlers, err, sizeof err);
        zmq_pollitem_t items[] = {{pipe, 0, ZMQ_POLLIN, 0},
                                  {NULL, rfk_http_front_fd (front), ZMQ_POLLIN, 0}};
        while (!terminated) {
            zmq_poll (items, 2, rfk_http_front_timeout_ms (front));   // -1: none
            ...
            rfk_http_front_step (front);   // also when the timeout passed
        }
        rfk_http_front_destroy (&front);
*/
#ifndef RFK_HTTP_FRONT_H_INCLUDED
#define RFK_HTTP_FRONT_H_INCLUDED

#include <stdint.h>
#include <stdio.h>

#include "rfk_config.h"
#include "rfk_msg.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _rfk_http_front_t rfk_http_front_t;

/* Names one deferred upload reply (see upload_finish_later). */
typedef uint64_t rfk_http_ticket_t;

/* What the front calls; admin's handlers (rfk_admin_handlers.h) behind small
   wrappers, or a fake in tests. All run in the thread that calls
   rfk_http_front_step. An upload is opaque to the front. */
typedef struct {
    void *ctx; /* first argument of handle, upload_begin, finish, abort, metrics */
    /* Answer one request (admin family, token set); never NULL. The front
       destroys the reply. */
    rfk_msg_t *(*handle) (void *ctx, const rfk_msg_t *request);
    /* Optional, used instead of handle when set: answer now, or return
       NULL and give the reply later through rfk_http_front_finished (front,
       ticket, reply), from the thread that steps the front (a login whose
       password is checked on another thread). address is the client's IP
       address (for per-address limits), borrowed. The connection is
       suspended meanwhile. */
    rfk_msg_t *(*handle_later) (void *ctx, const rfk_msg_t *request, const char *address,
                                rfk_http_front_t *front, rfk_http_ticket_t ticket);
    /* Start an upload. fields is the UploadStart body as JSON (kind, name,
       task, dataset_url for a dataset admin downloads, and for models model_class, dependencies,
       docker_image, access_right), checked against the schema, borrowed. NULL with *error set (the
       front destroys it) when refused. */
    void *(*upload_begin) (void *ctx, const char *token, json_t *fields, rfk_msg_t **error);
    /* Append n bytes. 0, or -1 with *error set (e.g. TOO_LARGE). */
    int (*upload_write) (void *upload, const void *data, size_t n, rfk_msg_t **error);
    /* Complete the upload: the Dataset or Model record, or an Error (never
       NULL). Consumes *upload_p and nulls it. */
    rfk_msg_t *(*upload_finish) (void *ctx, void **upload_p);
    /* Optional, used instead of upload_finish when set: complete the upload
       with its reply now, or return NULL and give the reply later through
       rfk_http_front_finished (front, ticket, reply), from the thread that
       steps the front (e.g. when a model check running in a child process
       ends). Meanwhile the connection is suspended and the front serves the
       others. Consumes *upload_p and nulls it either way. */
    rfk_msg_t *(*upload_finish_later) (void *ctx, void **upload_p, rfk_http_front_t *front,
                                       rfk_http_ticket_t ticket);
    /* Drop an upload that will not complete and remove what it wrote.
       Consumes *upload_p and nulls it. */
    void (*upload_abort) (void *ctx, void **upload_p);
    /* Optional: the request of ticket (answered later) was dropped before its
       reply came; stop the work behind it (a dataset_url download). The
       reply may still come, and is then destroyed. */
    void (*upload_cancel) (void *ctx, rfk_http_ticket_t ticket);
    /* Write admin's own Prometheus lines (services by state, ...) for
       GET /metrics; may be NULL. */
    void (*metrics) (void *ctx, FILE *out);
} rfk_http_handlers_t;

typedef struct {
    const char *host;              /* address to bind (admin.host); NULL: 127.0.0.1 */
    int port;                      /* admin.http_port; 0: any free port */
    uint64_t request_max_bytes;    /* cap on JSON and form bodies (admin.request_max_bytes) */
    uint64_t upload_max_bytes;     /* cap on an uploaded file (admin.upload_max_bytes) */
    unsigned max_connections;      /* admin.http_max_connections; 0: 256 */
    unsigned connection_timeout_s; /* idle connections are closed after it; 0: 60 */
    const char *data_dir;          /* spool files go to <data_dir>/tmp/; NULL: "." */
    const char *static_dir;        /* the web admin's files; NULL or missing: a placeholder page */
    unsigned events_keepalive_ms;  /* GET /events: a comment line this often; 0: 15000 */
    size_t events_buffer_bytes; /* GET /events: unsent bytes before a client is dropped; 0: 1 MiB */
    unsigned events_max_streams;  /* GET /events streams open at once; 0: max_connections / 2 */
    unsigned events_max_per_user; /* GET /events streams one user may hold; 0: no cap */
    unsigned max_per_address;     /* connections from one IP address (admin.http_max_per_address) */
    unsigned read_timeout_s;      /* a request must be read within it (admin.http_read_timeout_s) */
    unsigned user_max_requests;   /* requests of one user in progress at once; 0: no cap */
    const char *bus_key; /* GET /bus_key: admin's public bus key (Z85); NULL: bus.curve off */
} rfk_http_front_config_t;

/* Fill config from Rafiki-C's configuration: admin.host, admin.http_port,
   admin.request_max_bytes, admin.upload_max_bytes, admin.http_max_connections,
   admin.http_max_per_address, admin.http_read_timeout_s,
   admin.user_max_event_streams, admin.user_max_requests and data_dir (strings borrowed from cfg).
   static_dir is left NULL: the caller names the web admin's directory. */
void
rfk_http_front_config_from (rfk_http_front_config_t *config, const rfk_config_t *cfg);

/* A front listening on host:port, or NULL with the reason in err (port in
   use, bad address, ...). config and handlers are copied; their strings
   must outlive the front. handlers->handle is required; without the upload
   functions POST /datasets and /models answer 503. */
rfk_http_front_t *
rfk_http_front_new (const rfk_http_front_config_t *config, const rfk_http_handlers_t *handlers,
                    char *err, size_t errlen);

/* Close every connection (aborting open uploads) and the listening socket. */
void
rfk_http_front_destroy (rfk_http_front_t **self_p);

/* The descriptor to poll for input. */
int
rfk_http_front_fd (rfk_http_front_t *self);

/* Milliseconds until rfk_http_front_step must run even if the descriptor
   stays quiet (connection timeouts, buffered work), or -1 for none. */
long
rfk_http_front_timeout_ms (rfk_http_front_t *self);

/* Do all the work that is ready: accept, read, call handlers, write. Never
   blocks except inside handlers. 0, or -1 if libmicrohttpd failed. */
int
rfk_http_front_step (rfk_http_front_t *self);

/* The reply of an upload whose upload_finish_later returned NULL: the
   suspended connection is resumed and answered at the next step (the
   front's timeout is 0 until then). Takes *reply_p (nulls it). 0, or -1
   when no request waits for that ticket (the client went away, the front is
   stopping): the reply is then destroyed. */
int
rfk_http_front_finished (rfk_http_front_t *self, rfk_http_ticket_t ticket, rfk_msg_t **reply_p);

/* The port the front listens on (useful with port 0). */
int
rfk_http_front_port (rfk_http_front_t *self);

/* Send one event to the GET /events streams allowed to see it: those of
   the user `owner` (a user id; NULL: nobody in particular) and those of
   admins. name is the SSE event name ("TrialUpdate"), data its JSON (a
   newline in it starts another `data:` line). Streams that would hold more
   than events_buffer_bytes unsent are closed instead. Call it from the
   thread that steps the front; the streams are woken at the next
   rfk_http_front_step. */
void
rfk_http_front_event (rfk_http_front_t *self, const char *owner, const char *name,
                      const char *data);

/* The number of GET /events streams open. */
size_t
rfk_http_front_event_streams (rfk_http_front_t *self);

/* Write the front's Prometheus lines (requests by endpoint and status, the
   latency histogram, upload bytes) to out. */
void
rfk_http_front_metrics (rfk_http_front_t *self, FILE *out);

/* Who sees which event: the one rule of GET /events and of admin's
   `events` socket (rfk_admin_bus_events.c). A user of user_type SUPERADMIN
   or ADMIN sees every event (sees_all); anyone else the events of the jobs
   they own (owner, the job's user id; NULL for an event of no job). */
bool
rfk_events_sees_all (const char *user_type);
bool
rfk_events_visible (const char *owner, const char *user_id, bool sees_all);

#ifdef __cplusplus
}
#endif

#endif
