/*  bus_test_server.c: the test server actor (see bus_test_server.h).
 */
#include "bus_test_server.h"

#include <inttypes.h>
#include <unistd.h>

typedef struct {
    const char *endpoint;       /* where to bind */
    const rfk_bus_opts_t *opts; /* bus options */
} s_args_t;

typedef struct {
    zframe_t *peer;       /* who to answer, owned */
    uint64_t correlation; /* the try's correlation id */
} s_late_t;

typedef struct {
    zsock_t *pipe;        /* the actor's pipe */
    rfk_server_t *server; /* the ROUTER helper */
    zpoller_t *poller;    /* pipe and server socket */
    rfk_timers_t *timers; /* late answers */
    zhashx_t *tries;      /* correlation id (as text) -> tries seen (as text) */
    zlistx_t *late;       /* s_late_t waiting for their timer, owned */
    bool terminated;      /* $TERM came */
} self_t;

static void
s_late_free (void **item_p)
{
    s_late_t *late = (s_late_t *)*item_p;
    if (late) {
        zframe_destroy (&late->peer);
        free (late);
        *item_p = NULL;
    }
}

/*  Counts a try of a correlation id; returns the count so far. */
static int
s_count_try (self_t *self, uint64_t correlation)
{
    char key[32];
    snprintf (key, sizeof (key), "%" PRIu64, correlation);
    const char *old = (const char *)zhashx_lookup (self->tries, key);
    int count = (old ? atoi (old) : 0) + 1;
    char value[16];
    snprintf (value, sizeof (value), "%d", count);
    zhashx_update (self->tries, key, strdup (value));
    return count;
}

static void
s_send_ack (rfk_server_t *server, zframe_t *peer, uint64_t correlation)
{
    rfk_msg_t *ack = rfk_msg_new (rfk_server_family (server), "Ack", correlation);
    rfk_server_send (server, peer, ack);
    rfk_msg_destroy (&ack);
}

static void
s_late_due (rfk_timers_t *timers, int id, void *arg)
{
    (void)timers;
    (void)id;
    self_t *self = (self_t *)arg;
    s_late_t *late = (s_late_t *)zlistx_detach (self->late, NULL);
    if (late) {
        s_send_ack (self->server, late->peer, late->correlation);
        s_late_free ((void **)&late);
    }
}

static int
s_handle_hello (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    (void)ctx;
    rfk_msg_t *hello = *msg_p;
    rfk_msg_t *config =
        rfk_msg_new (rfk_server_family (server), "ServiceConfig", hello->correlation);
    if (!config)
        return -1;
    json_t *id = json_object_get (hello->body, "service_id");
    if (json_is_string (id))
        json_object_set (config->body, "service_id", id);
    int rc = rfk_server_send (server, peer, config);
    rfk_msg_destroy (&config);
    json_t *secret = json_object_get (hello->body, "secret");
    if (rc == 0 && json_is_string (secret) && streq (json_string_value (secret), "stop-me")) {
        rfk_msg_t *stop = rfk_msg_new (rfk_server_family (server), "Stop", 0);
        json_object_set_new (stop->body, "reason", json_string ("asked to"));
        rfk_server_send (server, peer, stop);
        rfk_msg_destroy (&stop);
    }
    return rc;
}

static int
s_handle_status_report (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    self_t *self = (self_t *)ctx;
    rfk_msg_t *report = *msg_p;
    int tries = s_count_try (self, report->correlation);
    json_t *how = json_object_get (report->body, "message");
    const char *text = json_is_string (how) ? json_string_value (how) : "";
    if (streq (text, "never") || (streq (text, "ignore-first") && tries == 1))
        return 0;
    if (streq (text, "late")) {
        s_late_t *late = (s_late_t *)zmalloc (sizeof (s_late_t));
        late->peer = zframe_dup (peer);
        late->correlation = report->correlation;
        zlistx_add_end (self->late, late);
        rfk_timers_add (self->timers, 150, s_late_due, self);
        return 0;
    }
    s_send_ack (server, peer, report->correlation);
    return 0;
}

static const rfk_server_route_t s_routes[] = {
    {"Hello", s_handle_hello},
    {"StatusReport", s_handle_status_report},
    {NULL, NULL},
};

static void
s_peer_expired (rfk_server_t *server, zframe_t *peer, void *ctx)
{
    (void)server;
    self_t *self = (self_t *)ctx;
    char *hex = zframe_strhex (peer);
    zstr_sendx (self->pipe, "EXPIRED", hex, NULL);
    free (hex);
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (self) {
        zpoller_destroy (&self->poller);
        rfk_server_destroy (&self->server);
        rfk_timers_destroy (&self->timers);
        zhashx_destroy (&self->tries);
        zlistx_destroy (&self->late);
        free (self);
        *self_p = NULL;
    }
}

static self_t *
s_self_new (zsock_t *pipe, s_args_t *args)
{
    self_t *self = (self_t *)zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->server = rfk_server_new (args->endpoint, &rfk_service_family, s_routes, self, args->opts);
    if (!self->server) {
        s_self_destroy (&self);
        return NULL;
    }
    rfk_server_set_expired (self->server, s_peer_expired);
    self->poller = zpoller_new (pipe, rfk_server_sock (self->server), NULL);
    self->timers = rfk_timers_new ();
    self->tries = zhashx_new ();
    zhashx_set_destructor (self->tries, (zhashx_destructor_fn *)zstr_free);
    self->late = zlistx_new ();
    zlistx_set_destructor (self->late, s_late_free);
    return self;
}

static void
s_handle_pipe (self_t *self)
{
    char *command = NULL, *arg = NULL;
    if (zstr_recvx (self->pipe, &command, &arg, NULL) < 1) {
        self->terminated = true;
        return;
    }
    if (streq (command, "$TERM"))
        self->terminated = true;
    else if (streq (command, "TRIES") && arg) {
        const char *count = (const char *)zhashx_lookup (self->tries, arg);
        zstr_send (self->pipe, count ? count : "0");
    }
    zstr_free (&command);
    zstr_free (&arg);
}

static void
s_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (s_args_t *)args);
    zsock_signal (pipe, 0);
    if (!self) {
        zstr_send (pipe, "");
        return;
    }
    zstr_send (pipe, rfk_server_endpoint (self->server));
    while (!self->terminated) {
        rfk_deadline_t deadline;
        rfk_deadline_reset (&deadline);
        rfk_deadline_add (&deadline, rfk_server_deadline (self->server));
        rfk_deadline_add (&deadline, rfk_timers_deadline (self->timers));
        void *which = zpoller_wait (self->poller, rfk_deadline_timeout (&deadline));
        if (which == self->pipe)
            s_handle_pipe (self);
        else if (which == rfk_server_sock (self->server))
            rfk_server_recv (self->server);
        else if (zpoller_terminated (self->poller))
            break;
        rfk_server_tick (self->server);
        rfk_timers_run (self->timers);
    }
    s_self_destroy (&self);
}

zactor_t *
bus_test_server_new (const char *endpoint, const rfk_bus_opts_t *opts, char **endpoint_p)
{
    s_args_t args = {endpoint, opts};
    zactor_t *actor = zactor_new (s_actor, &args);
    char *bound = zstr_recv (actor);
    if (!bound || !*bound) {
        zstr_free (&bound);
        zactor_destroy (&actor);
        return NULL;
    }
    *endpoint_p = bound;
    return actor;
}

void
bus_test_opts (rfk_bus_opts_t *opts)
{
    rfk_bus_opts_defaults (opts);
    opts->heartbeat_interval_ms = 50;
    opts->heartbeat_timeout_ms = 300;
    opts->request_timeout_ms = 1000;
    opts->request_retries = 2;
    opts->max_frame_bytes = 4096;
    opts->malformed_limit = 50;
}

char *
bus_test_endpoint (const char *transport)
{
    static int count = 0;
    if (streq (transport, "tcp"))
        return strdup ("tcp://127.0.0.1:*");
    return zsys_sprintf ("inproc://bus-test-%d-%d", getpid (), ++count);
}

zsock_t *
bus_test_dealer (const char *endpoint, const rfk_bus_opts_t *opts, const char *identity)
{
    zsock_t *sock = rfk_bus_socket_new (ZMQ_DEALER, NULL, false, opts);
    if (identity)
        zsock_set_identity (sock, identity);
    zsock_set_rcvtimeo (sock, 5000);
    zsock_set_sndtimeo (sock, 5000);
    if (zsock_connect (sock, "%s", endpoint) != 0)
        zsock_destroy (&sock);
    return sock;
}

int
bus_test_server_tries (zactor_t *server, uint64_t correlation)
{
    char key[32];
    snprintf (key, sizeof (key), "%" PRIu64, correlation);
    zstr_sendx (server, "TRIES", key, NULL);
    char *count = zstr_recv (server);
    int tries = count ? atoi (count) : -1;
    zstr_free (&count);
    return tries;
}
