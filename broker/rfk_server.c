/*  rfk_server.c: a ROUTER with a handler table, bad-input answers and peer
    expiry.

    Peers live in a heartbeat table keyed by the hex of their routing id; the
    item attached to each says whether it has sent anything well-formed, how
    many bad frames it sent in a row and whether it was dropped.
*/
#include "rfk_server.h"

#include "rfk_envelope.h"
#include "rfk_heartbeat.h"

/* How many messages one rfk_server_recv reads before giving the loop back. */
#define S_RECV_BATCH 256

typedef struct {
    zframe_t *routing_id; /* the peer's routing id, owned */
    int strikes;          /* bad frames in a row */
    bool known;           /* it sent a well-formed message: expiry is reported */
    bool dropped;         /* it went over the limit: ignored until silent */
    bool trusted;         /* its owner vouched for it (a token checked): full-size frames */
    char address[64];     /* its TCP address (the frames' Peer-Address), or "" */
} s_peer_t;

struct _rfk_server_t {
    zsock_t *sock;                        /* the ROUTER, owned */
    const rfk_family_t *family;           /* what we decode with */
    const rfk_server_route_t *routes;     /* body type -> handler, not owned; or NULL */
    rfk_server_handler_fn *fallback;      /* for types routes does not list, or NULL */
    rfk_server_ping_check_fn *ping_check; /* may a peer's Heartbeat be answered? NULL: yes */
    void *ctx;                            /* the handlers' context, not owned */
    rfk_bus_opts_t opts;                  /* sizes, timeouts, limits */
    rfk_heartbeat_t *heartbeat;           /* peers by routing id hex, s_peer_t items */
    rfk_server_expired_fn *on_expired;    /* the owner's expiry handler, or NULL */
    size_t untrusted_max_bytes; /* frame cap before rfk_server_trust; 0: max_frame_bytes */
};

static void
s_peer_free (void **item_p)
{
    s_peer_t *peer = (s_peer_t *)*item_p;
    if (peer) {
        zframe_destroy (&peer->routing_id);
        free (peer);
        *item_p = NULL;
    }
}

rfk_server_t *
rfk_server_new (const char *endpoints, const rfk_family_t *family, const rfk_server_route_t *routes,
                void *ctx, const rfk_bus_opts_t *opts)
{
    assert (family);
    if (!endpoints || !*endpoints) {
        zsys_warning ("RFK-BUS: a server needs an endpoint");
        return NULL;
    }
    rfk_server_t *self = (rfk_server_t *)zmalloc (sizeof (rfk_server_t));
    if (!self)
        return NULL;
    if (opts)
        self->opts = *opts;
    else
        rfk_bus_opts_defaults (&self->opts);
    self->family = family;
    self->routes = routes;
    self->ctx = ctx;
    self->heartbeat =
        rfk_heartbeat_new (self->opts.heartbeat_interval_ms, self->opts.heartbeat_timeout_ms);
    if (!self->heartbeat) {
        zsys_warning ("RFK-BUS: heartbeat interval %d ms and timeout %d ms must be positive",
                      self->opts.heartbeat_interval_ms, self->opts.heartbeat_timeout_ms);
        rfk_server_destroy (&self);
        return NULL;
    }
    rfk_heartbeat_set_destructor (self->heartbeat, s_peer_free);
    self->sock = rfk_bus_socket_new (ZMQ_ROUTER, endpoints, true, &self->opts);
    if (!self->sock) {
        rfk_server_destroy (&self);
        return NULL;
    }
    zsock_set_rcvtimeo (self->sock, 0); /* a read returns at once: see rfk_server_recv */
    return self;
}

void
rfk_server_destroy (rfk_server_t **self_p)
{
    assert (self_p);
    rfk_server_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->sock);
    rfk_heartbeat_destroy (&self->heartbeat);
    free (self);
    *self_p = NULL;
}

void
rfk_server_set_default (rfk_server_t *self, rfk_server_handler_fn *handler)
{
    assert (self);
    self->fallback = handler;
}

void
rfk_server_set_ping_check (rfk_server_t *self, rfk_server_ping_check_fn *check)
{
    assert (self);
    self->ping_check = check;
}

void
rfk_server_set_expired (rfk_server_t *self, rfk_server_expired_fn *on_expired)
{
    assert (self);
    self->on_expired = on_expired;
}

zsock_t *
rfk_server_sock (rfk_server_t *self)
{
    assert (self);
    return self->sock;
}

const char *
rfk_server_endpoint (rfk_server_t *self)
{
    assert (self);
    return zsock_endpoint (self->sock);
}

const rfk_family_t *
rfk_server_family (rfk_server_t *self)
{
    assert (self);
    return self->family;
}

int
rfk_server_send (rfk_server_t *self, zframe_t *peer, const rfk_msg_t *msg)
{
    assert (self);
    assert (peer);
    assert (msg);
    return rfk_envelope_send_to (self->sock, peer, msg, self->opts.max_frame_bytes);
}

int
rfk_server_send_error (rfk_server_t *self, zframe_t *peer, uint64_t correlation, rfk_code_t code,
                       const char *message)
{
    assert (self);
    rfk_msg_t *error = rfk_msg_new_error (self->family, correlation, code, message);
    if (!error)
        return -1;
    int rc = rfk_server_send (self, peer, error);
    rfk_msg_destroy (&error);
    return rc;
}

/*  The peer behind a routing id, made known if new; NULL if out of memory. */
static s_peer_t *
s_peer_seen (rfk_server_t *self, zframe_t *routing_id, const char *key)
{
    int rc = rfk_heartbeat_seen (self->heartbeat, key);
    if (rc < 0)
        return NULL;
    s_peer_t *peer = (s_peer_t *)rfk_heartbeat_item (self->heartbeat, key);
    if (!peer) {
        peer = (s_peer_t *)zmalloc (sizeof (s_peer_t));
        if (peer)
            peer->routing_id = zframe_dup (routing_id);
        if (!peer || !peer->routing_id) {
            free (peer);
            rfk_heartbeat_forget (self->heartbeat, key);
            return NULL;
        }
        rfk_heartbeat_set_item (self->heartbeat, key, peer);
    }
    return peer;
}

/*  Answers a bad frame and counts it against the peer; past the limit the
    peer is dropped, which its owner hears of as an expiry. */
static void
s_handle_bad (rfk_server_t *self, s_peer_t *peer, const char *key, rfk_code_t code)
{
    char text[200];
    if (code == RFK_CODE_TOO_LARGE && !peer->trusted && self->untrusted_max_bytes)
        snprintf (text, sizeof (text),
                  "the frame is over the limit of %zu bytes for a peer that has not "
                  "authenticated yet (larger bodies, e.g. upload chunks, only after a request "
                  "with a valid token)",
                  self->untrusted_max_bytes);
    else if (code == RFK_CODE_TOO_LARGE)
        snprintf (text, sizeof (text), "the frame is over the limit of %zu bytes",
                  self->opts.max_frame_bytes);
    else
        snprintf (text, sizeof (text), "the message is not one %s envelope frame",
                  self->family->name);
    rfk_server_send_error (self, peer->routing_id, 0, code, text);
    peer->strikes++;
    if (self->opts.malformed_limit > 0 && peer->strikes >= self->opts.malformed_limit) {
        peer->dropped = true;
        zsys_warning ("RFK-MALFORMED: %s peer %s sent %d bad frames in a row; dropped",
                      self->family->name, key, peer->strikes);
        zframe_t *routing_id = peer->known ? zframe_dup (peer->routing_id) : NULL;
        if (routing_id && self->on_expired)
            self->on_expired (self, routing_id, self->ctx);
        zframe_destroy (&routing_id);
    }
}

/*  Dispatches one well-formed message. */
static void
s_handle_msg (rfk_server_t *self, s_peer_t *peer, rfk_msg_t **msg_p)
{
    rfk_msg_t *msg = *msg_p;
    peer->strikes = 0;
    peer->known = true;
    if (rfk_msg_is (msg, "Heartbeat") && self->ping_check &&
        !self->ping_check (self, peer->routing_id, self->ctx)) {
        rfk_server_send_error (self, peer->routing_id, msg->correlation, RFK_CODE_UNAUTHORIZED,
                               "this server does not know you (it restarted): say Hello again");
        return;
    }
    if (rfk_msg_is (msg, "Heartbeat")) {
        rfk_msg_t *pong = rfk_msg_new (self->family, "Heartbeat", msg->correlation);
        if (pong)
            rfk_server_send (self, peer->routing_id, pong);
        rfk_msg_destroy (&pong);
        return;
    }
    rfk_server_handler_fn *handler = self->fallback;
    for (const rfk_server_route_t *route = self->routes; route && route->type; route++)
        if (streq (route->type, msg->type)) {
            handler = route->handler;
            break;
        }
    if (!handler) {
        char text[200];
        snprintf (text, sizeof (text), "this %s server does not take %s", self->family->name,
                  msg->type);
        rfk_server_send_error (self, peer->routing_id, msg->correlation, RFK_CODE_UNKNOWN_MESSAGE,
                               text);
        return;
    }
    uint64_t correlation = msg->correlation;
    const char *type = msg->type;
    /*  The handler gets its own copy of the routing id: it may forget the
        peer, which frees ours. */
    zframe_t *routing_id = zframe_dup (peer->routing_id);
    if (!routing_id)
        return;
    if (handler (self, routing_id, msg_p, self->ctx) != 0) {
        char text[200];
        snprintf (text, sizeof (text), "%s failed on the server", type);
        rfk_server_send_error (self, routing_id, correlation, RFK_CODE_INTERNAL, text);
    }
    zframe_destroy (&routing_id);
}

/*  The frame cap for a peer: max_frame_bytes once trusted, else the
    untrusted cap (when set). */
static size_t
s_frame_cap (rfk_server_t *self, const s_peer_t *peer)
{
    if (peer->trusted || !self->untrusted_max_bytes ||
        self->untrusted_max_bytes > self->opts.max_frame_bytes)
        return self->opts.max_frame_bytes;
    return self->untrusted_max_bytes;
}

/*  Receives one message: its routing id and, for its peer (seen now), the
    envelope decoded under that peer's cap, so that a peer nobody vouched
    for gets no large frame decoded. false when nothing was waiting. */
static bool
s_recv_one (rfk_server_t *self)
{
    zmsg_t *zmsg = zmsg_recv (self->sock);
    if (!zmsg)
        return false; /* nothing left (the socket does not block) */
    zframe_t *routing_id = zmsg_pop (zmsg);
    if (!routing_id || zframe_size (routing_id) == 0 || zmsg_size (zmsg) == 0) {
        zframe_destroy (&routing_id); /* nobody to answer */
        zmsg_destroy (&zmsg);
        return true;
    }
    char *key = zframe_strhex (routing_id);
    s_peer_t *peer = key ? s_peer_seen (self, routing_id, key) : NULL;
    if (peer && !peer->dropped) {
        const char *address = zframe_meta (zmsg_first (zmsg), "Peer-Address");
        if (address)
            snprintf (peer->address, sizeof peer->address, "%s", address);
        rfk_msg_t *msg = NULL;
        rfk_code_t code = RFK_CODE_MALFORMED;
        int rc = zmsg_size (zmsg) == 1 ? rfk_envelope_decode (self->family, zmsg_first (zmsg),
                                                              s_frame_cap (self, peer), &msg, &code)
                                       : -2;
        zmsg_destroy (&zmsg);
        if (rc == -2)
            s_handle_bad (self, peer, key, code);
        else if (rc == 0)
            s_handle_msg (self, peer, &msg);
        rfk_msg_destroy (&msg);
    }
    zmsg_destroy (&zmsg);
    zframe_destroy (&routing_id);
    free (key);
    return true;
}

int
rfk_server_recv (rfk_server_t *self)
{
    assert (self);
    int count = 0;
    /*  The socket does not block (rfk_server_new): read until it has nothing
        more. Asking ZMQ_EVENTS before each read would cost libzmq a poll(2)
        and a getpid(2) per message. */
    while (count < S_RECV_BATCH && s_recv_one (self)) {
        count++;
    }
    return count;
}

void
rfk_server_set_untrusted_max (rfk_server_t *self, size_t bytes)
{
    assert (self);
    self->untrusted_max_bytes = bytes;
}

/*  The peer of a routing id, or NULL. */
static s_peer_t *
s_peer_of (rfk_server_t *self, zframe_t *routing_id)
{
    char *key = routing_id ? zframe_strhex (routing_id) : NULL;
    s_peer_t *peer = key ? (s_peer_t *)rfk_heartbeat_item (self->heartbeat, key) : NULL;
    free (key);
    return peer;
}

void
rfk_server_trust (rfk_server_t *self, zframe_t *routing_id)
{
    assert (self);
    s_peer_t *peer = s_peer_of (self, routing_id);
    if (peer)
        peer->trusted = true;
}

bool
rfk_server_peer_trusted (rfk_server_t *self, zframe_t *routing_id)
{
    assert (self);
    s_peer_t *peer = s_peer_of (self, routing_id);
    return peer && peer->trusted;
}

const char *
rfk_server_peer_address (rfk_server_t *self, zframe_t *routing_id)
{
    assert (self);
    s_peer_t *peer = s_peer_of (self, routing_id);
    return peer && *peer->address ? peer->address : NULL;
}

int64_t
rfk_server_deadline (rfk_server_t *self)
{
    assert (self);
    return rfk_heartbeat_deadline (self->heartbeat);
}

static void
s_peer_expired (rfk_heartbeat_t *heartbeat, const char *key, void *item, void *arg)
{
    (void)heartbeat;
    rfk_server_t *self = (rfk_server_t *)arg;
    s_peer_t *peer = (s_peer_t *)item;
    /*  A dropped peer was reported when it was dropped; one that never said
        anything well-formed has no work to lose. */
    if (peer && peer->known && !peer->dropped) {
        zsys_debug ("RFK-BUS: %s peer %s silent for %d ms; expired", self->family->name, key,
                    self->opts.heartbeat_timeout_ms);
        if (self->on_expired)
            self->on_expired (self, peer->routing_id, self->ctx);
    }
}

void
rfk_server_tick (rfk_server_t *self)
{
    assert (self);
    rfk_heartbeat_expire (self->heartbeat, s_peer_expired, self);
}

size_t
rfk_server_peers (rfk_server_t *self)
{
    assert (self);
    return rfk_heartbeat_size (self->heartbeat);
}

bool
rfk_server_peer_alive (rfk_server_t *self, zframe_t *routing_id)
{
    assert (self);
    if (!routing_id)
        return false;
    char *key = zframe_strhex (routing_id);
    s_peer_t *peer = key ? (s_peer_t *)rfk_heartbeat_item (self->heartbeat, key) : NULL;
    free (key);
    return peer && !peer->dropped;
}

void
rfk_server_forget (rfk_server_t *self, zframe_t *routing_id)
{
    assert (self);
    if (!routing_id)
        return;
    char *key = zframe_strhex (routing_id);
    if (key)
        rfk_heartbeat_forget (self->heartbeat, key);
    free (key);
}
