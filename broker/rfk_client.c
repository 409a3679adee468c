/*  rfk_client.c: request/reply over a DEALER.

    Pending requests sit in a list with the encoded frame kept for re-sends.
    Correlation ids are ours when they fall in [first_id, next_id): the range
    starts at a random point, so ids of a restarted client, or those a server
    uses for its own requests, do not look like ours. A reply in our range
    that matches no pending request is late and dropped.
*/
#include "rfk_client.h"

#include <unistd.h>

#include "rfk_envelope.h"
#include "rfk_heartbeat.h"
#include "rfk_timer.h"

/* The name of the client's only peer in its heartbeat table. */
#define S_SERVER "server"
/* How many messages one rfk_client_recv reads before giving the loop back. */
#define S_RECV_BATCH 256

typedef struct {
    uint64_t correlation;    /* the request's id */
    zframe_t *frame;         /* the encoded request, for re-sends */
    const char *type;        /* the request's body type, static */
    int timeout_ms;          /* how long each try waits */
    int tries_left;          /* re-sends left before TIMEOUT */
    int tries;               /* tries made so far */
    int64_t deadline;        /* when the current try times out */
    rfk_client_reply_fn *fn; /* who gets the reply */
    void *arg;               /* fn's argument, not owned */
} s_request_t;

struct _rfk_client_t {
    zsock_t *sock;                       /* the DEALER, owned */
    char *endpoint;                      /* where it is connected, for messages */
    const rfk_family_t *family;          /* what we decode with */
    rfk_bus_opts_t opts;                 /* sizes, timeouts, retries */
    zlistx_t *requests;                  /* s_request_t, owned */
    uint64_t first_id;                   /* our first correlation id */
    uint64_t next_id;                    /* the id the next request gets */
    rfk_heartbeat_t *heartbeat;          /* the server's liveness and our pings */
    bool alive;                          /* false once the server went silent */
    rfk_client_message_fn *on_message;   /* unsolicited messages, or NULL */
    rfk_client_liveness_fn *on_liveness; /* server silent / back, or NULL */
    void *ctx;                           /* for the two handlers above */
    char error[256];                     /* why the last send failed */
    rfk_code_t error_code;               /* its code */
};

static void
s_request_destroy (s_request_t **self_p)
{
    if (*self_p) {
        zframe_destroy (&(*self_p)->frame);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_request_free (void **item_p)
{
    s_request_destroy ((s_request_t **)item_p);
}

/*  A random starting point for correlation ids, well away from 0 and from
    the top of the range so it never wraps in practice. */
static uint64_t
s_random_base (const void *salt)
{
    uint64_t x = (uint64_t)zclock_usecs () ^ ((uint64_t)getpid () << 32) ^ (uintptr_t)salt;
    /*  splitmix64: spreads the bits of a weak seed. */
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (x >> 2) | 1;
}

rfk_client_t *
rfk_client_new (const char *endpoint, const rfk_family_t *family, const rfk_bus_opts_t *opts)
{
    assert (family);
    if (!endpoint || !*endpoint) {
        zsys_warning ("RFK-BUS: a client needs an endpoint");
        return NULL;
    }
    rfk_client_t *self = (rfk_client_t *)zmalloc (sizeof (rfk_client_t));
    if (!self)
        return NULL;
    if (opts)
        self->opts = *opts;
    else
        rfk_bus_opts_defaults (&self->opts);
    self->family = family;
    self->endpoint = strdup (endpoint);
    self->requests = zlistx_new ();
    self->heartbeat =
        rfk_heartbeat_new (self->opts.heartbeat_interval_ms, self->opts.heartbeat_timeout_ms);
    if (!self->endpoint || !self->requests || !self->heartbeat) {
        if (!self->heartbeat)
            zsys_warning ("RFK-BUS: heartbeat interval %d ms and timeout %d ms must be positive",
                          self->opts.heartbeat_interval_ms, self->opts.heartbeat_timeout_ms);
        rfk_client_destroy (&self);
        return NULL;
    }
    zlistx_set_destructor (self->requests, s_request_free);
    self->sock = rfk_bus_socket_new (ZMQ_DEALER, endpoint, false, &self->opts);
    if (!self->sock) {
        rfk_client_destroy (&self);
        return NULL;
    }
    self->first_id = s_random_base (self);
    self->next_id = self->first_id;
    /*  Count from now: a server that never answers is found silent after the
        timeout like one that stopped answering. */
    rfk_heartbeat_seen (self->heartbeat, S_SERVER);
    self->alive = true;
    return self;
}

void
rfk_client_destroy (rfk_client_t **self_p)
{
    assert (self_p);
    rfk_client_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->sock);
    zlistx_destroy (&self->requests);
    rfk_heartbeat_destroy (&self->heartbeat);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

void
rfk_client_set_handlers (rfk_client_t *self, rfk_client_message_fn *on_message,
                         rfk_client_liveness_fn *on_liveness, void *ctx)
{
    assert (self);
    self->on_message = on_message;
    self->on_liveness = on_liveness;
    self->ctx = ctx;
}

zsock_t *
rfk_client_sock (rfk_client_t *self)
{
    assert (self);
    return self->sock;
}

const rfk_family_t *
rfk_client_family (rfk_client_t *self)
{
    assert (self);
    return self->family;
}

const char *
rfk_client_error (rfk_client_t *self, rfk_code_t *code_p)
{
    assert (self);
    if (code_p)
        *code_p = self->error_code;
    return self->error;
}

static void
s_set_error (rfk_client_t *self, rfk_code_t code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof (self->error), format, args);
    va_end (args);
    self->error_code = code;
}

/*  Sends a copy of the request's frame without waiting. */
static int
s_request_send (rfk_client_t *self, s_request_t *request)
{
    zframe_t *copy = zframe_dup (request->frame);
    if (!copy || rfk_envelope_send_frame (self->sock, NULL, &copy) != 0) {
        zframe_destroy (&copy);
        return -1;
    }
    request->tries++;
    request->deadline = zclock_mono () + request->timeout_ms;
    return 0;
}

uint64_t
rfk_client_send_with (rfk_client_t *self, rfk_msg_t *request, int timeout_ms, int retries,
                      rfk_client_reply_fn *on_reply, void *arg)
{
    assert (self);
    assert (request);
    assert (on_reply);
    if (timeout_ms <= 0 || retries < 0) {
        s_set_error (self, RFK_CODE_BAD_REQUEST,
                     "request timeout %d ms must be positive and retries %d not negative",
                     timeout_ms, retries);
        return 0;
    }
    uint64_t id = self->next_id;
    request->correlation = id;
    s_request_t *pending = (s_request_t *)zmalloc (sizeof (s_request_t));
    if (!pending) {
        s_set_error (self, RFK_CODE_INTERNAL, "out of memory");
        return 0;
    }
    char err[200];
    rfk_code_t code;
    if (rfk_envelope_encode (request, self->opts.max_frame_bytes, &pending->frame, &code, err,
                             sizeof (err)) != 0) {
        s_set_error (self, code, "%s", err);
        free (pending);
        return 0;
    }
    pending->correlation = id;
    pending->type = request->type;
    pending->timeout_ms = timeout_ms;
    pending->tries_left = retries;
    pending->fn = on_reply;
    pending->arg = arg;
    if (s_request_send (self, pending) != 0) {
        /*  The queue to the server is full: overload is answered, not
            buffered. */
        s_set_error (self, RFK_CODE_UNAVAILABLE, "%s is not taking requests (queue full)",
                     self->endpoint);
        s_request_destroy (&pending);
        return 0;
    }
    if (!zlistx_add_end (self->requests, pending)) {
        s_set_error (self, RFK_CODE_INTERNAL, "out of memory");
        s_request_destroy (&pending);
        return 0;
    }
    self->next_id++;
    return id;
}

uint64_t
rfk_client_send (rfk_client_t *self, rfk_msg_t *request, rfk_client_reply_fn *on_reply, void *arg)
{
    assert (self);
    return rfk_client_send_with (self, request, self->opts.request_timeout_ms,
                                 self->opts.request_retries, on_reply, arg);
}

int
rfk_client_post (rfk_client_t *self, const rfk_msg_t *msg)
{
    assert (self);
    assert (msg);
    zframe_t *frame = NULL;
    char err[200];
    rfk_code_t code;
    if (rfk_envelope_encode (msg, self->opts.max_frame_bytes, &frame, &code, err, sizeof (err)) !=
        0) {
        s_set_error (self, code, "%s", err);
        return -1;
    }
    if (rfk_envelope_send_frame (self->sock, NULL, &frame) != 0) {
        zframe_destroy (&frame);
        s_set_error (self, RFK_CODE_UNAVAILABLE, "%s is not taking messages (queue full)",
                     self->endpoint);
        return -1;
    }
    return 0;
}

/*  The pending request with this id, with the list's cursor on it. */
static s_request_t *
s_find (rfk_client_t *self, uint64_t correlation)
{
    s_request_t *request = (s_request_t *)zlistx_first (self->requests);
    while (request && request->correlation != correlation)
        request = (s_request_t *)zlistx_next (self->requests);
    return request;
}

int
rfk_client_cancel (rfk_client_t *self, uint64_t correlation)
{
    assert (self);
    if (!s_find (self, correlation))
        return -1;
    zlistx_delete (self->requests, zlistx_cursor (self->requests));
    return 0;
}

size_t
rfk_client_pending (rfk_client_t *self)
{
    assert (self);
    return zlistx_size (self->requests);
}

/*  Hands a reply to the request's callback; destroys both afterwards
    unless the callback took the reply. */
static void
s_deliver (rfk_client_t *self, s_request_t **request_p, rfk_msg_t **reply_p)
{
    s_request_t *request = *request_p;
    request->fn (self, request->correlation, reply_p, request->arg);
    rfk_msg_destroy (reply_p);
    s_request_destroy (request_p);
}

/*  Notes that the server was heard from. */
static void
s_heard (rfk_client_t *self)
{
    rfk_heartbeat_seen (self->heartbeat, S_SERVER);
    if (!self->alive) {
        self->alive = true;
        if (self->on_liveness)
            self->on_liveness (self, true, self->ctx);
    }
}

/*  One message from the server: a heartbeat, a reply, a late reply, or a
    message of the server's own. */
static void
s_handle (rfk_client_t *self, rfk_msg_t **msg_p)
{
    rfk_msg_t *msg = *msg_p;
    s_heard (self);
    if (rfk_msg_is (msg, "Heartbeat")) {
        rfk_msg_destroy (msg_p);
        return;
    }
    uint64_t id = msg->correlation;
    if (id >= self->first_id && id < self->next_id) {
        s_request_t *request = s_find (self, id);
        if (request) {
            zlistx_detach_cur (self->requests);
            s_deliver (self, &request, msg_p);
        } else
            rfk_msg_destroy (msg_p); /* late: the request was answered or timed out */
        return;
    }
    if (self->on_message)
        self->on_message (self, msg_p, self->ctx);
    else
        zsys_debug ("RFK-BUS: %s sent %s with no request of ours; dropped", self->endpoint,
                    msg->type);
    rfk_msg_destroy (msg_p);
}

int
rfk_client_recv (rfk_client_t *self)
{
    assert (self);
    int count = 0;
    while (count < S_RECV_BATCH && (zsock_events (self->sock) & ZMQ_POLLIN)) {
        rfk_msg_t *msg = NULL;
        rfk_code_t code;
        int rc =
            rfk_envelope_recv (self->sock, self->family, self->opts.max_frame_bytes, &msg, &code);
        if (rc == -1)
            break;
        count++;
        if (rc == -2) {
            /*  A server that sends garbage is still alive, but is never
                answered: errors about errors would bounce forever. */
            s_heard (self);
            zsys_warning ("RFK-MALFORMED: %s sent a %s frame; dropped", self->endpoint,
                          rfk_code_name (code));
            continue;
        }
        s_handle (self, &msg);
    }
    return count;
}

int64_t
rfk_client_deadline (rfk_client_t *self)
{
    assert (self);
    rfk_deadline_t deadline;
    rfk_deadline_reset (&deadline);
    rfk_deadline_add (&deadline, rfk_heartbeat_ping_deadline (self->heartbeat));
    rfk_deadline_add (&deadline, rfk_heartbeat_deadline (self->heartbeat));
    s_request_t *request = (s_request_t *)zlistx_first (self->requests);
    while (request) {
        rfk_deadline_add (&deadline, request->deadline);
        request = (s_request_t *)zlistx_next (self->requests);
    }
    return deadline.nearest;
}

/*  Re-sends requests whose try timed out and fails those out of retries. */
static void
s_tick_requests (rfk_client_t *self)
{
    int64_t now = zclock_mono ();
    zlistx_t *expired = NULL;
    s_request_t *request = (s_request_t *)zlistx_first (self->requests);
    while (request) {
        if (request->deadline <= now) {
            if (request->tries_left > 0) {
                request->tries_left--;
                /*  A full queue counts as a try: the next one may get
                    through. */
                if (s_request_send (self, request) != 0) {
                    request->tries++;
                    request->deadline = now + request->timeout_ms;
                }
            } else {
                if (!expired)
                    expired = zlistx_new ();
                if (expired) {
                    zlistx_detach_cur (self->requests);
                    zlistx_add_end (expired, request);
                }
            }
        }
        request = (s_request_t *)zlistx_next (self->requests);
    }
    if (!expired)
        return;
    /*  Callbacks run after the walk: they may send or cancel requests. */
    while ((request = (s_request_t *)zlistx_detach (expired, NULL))) {
        char text[256];
        snprintf (text, sizeof (text), "no reply from %s to %s after %d tries of %d ms",
                  self->endpoint, request->type ? request->type : "a request", request->tries,
                  request->timeout_ms);
        rfk_msg_t *error =
            rfk_msg_new_error (self->family, request->correlation, RFK_CODE_TIMEOUT, text);
        if (error)
            s_deliver (self, &request, &error);
        else
            s_request_destroy (&request);
    }
    zlistx_destroy (&expired);
}

void
rfk_client_tick (rfk_client_t *self)
{
    assert (self);
    s_tick_requests (self);
    if (rfk_heartbeat_ping_due (self->heartbeat)) {
        rfk_msg_t *ping = rfk_msg_new (self->family, "Heartbeat", 0);
        if (ping) {
            /*  A full queue drops the ping: the server will hear the next. */
            rfk_client_post (self, ping);
            rfk_msg_destroy (&ping);
        }
    }
    if (rfk_heartbeat_expire (self->heartbeat, NULL, NULL) > 0 && self->alive) {
        self->alive = false;
        zsys_info ("RFK-BUS: %s silent for %d ms", self->endpoint,
                   rfk_heartbeat_timeout (self->heartbeat));
        if (self->on_liveness)
            self->on_liveness (self, false, self->ctx);
    }
}

bool
rfk_client_alive (rfk_client_t *self)
{
    assert (self);
    return self->alive;
}

typedef struct {
    bool done;        /* the reply (or local Error) came */
    rfk_msg_t *reply; /* it, taken from the callback */
} s_call_t;

static void
s_call_done (rfk_client_t *client, uint64_t correlation, rfk_msg_t **reply_p, void *arg)
{
    (void)client;
    (void)correlation;
    s_call_t *call = (s_call_t *)arg;
    call->done = true;
    call->reply = *reply_p;
    *reply_p = NULL;
}

rfk_msg_t *
rfk_client_call_with (rfk_client_t *self, rfk_msg_t *request, int timeout_ms, int retries)
{
    assert (self);
    assert (request);
    s_call_t call = {false, NULL};
    uint64_t id = rfk_client_send_with (self, request, timeout_ms, retries, s_call_done, &call);
    if (id == 0)
        return rfk_msg_new_error (self->family, request->correlation, self->error_code,
                                  self->error);
    while (!call.done) {
        rfk_deadline_t deadline;
        rfk_deadline_reset (&deadline);
        rfk_deadline_add (&deadline, rfk_client_deadline (self));
        zmq_pollitem_t item = {zsock_resolve (self->sock), 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll (&item, 1, rfk_deadline_timeout (&deadline));
        if (rc < 0 || zsys_interrupted) {
            if (zmq_errno () == EINTR && !zsys_interrupted)
                continue;
            rfk_client_cancel (self, id);
            return NULL;
        }
        if (rc > 0)
            rfk_client_recv (self);
        rfk_client_tick (self);
    }
    return call.reply;
}

rfk_msg_t *
rfk_client_call (rfk_client_t *self, rfk_msg_t *request)
{
    assert (self);
    return rfk_client_call_with (self, request, self->opts.request_timeout_ms,
                                 self->opts.request_retries);
}
