/*  rfk_proxy.c: the event proxy actor (XSUB -> XPUB) and the PUB and SUB
    constructors.

    Our own actor rather than zproxy, so that both sockets get the bus's
    high-water marks and linger before they bind.
*/
#include "rfk_proxy.h"

typedef struct {
    zsock_t *pipe;     /* the actor's pipe, not owned */
    zsock_t *frontend; /* XSUB publishers connect to, owned */
    zsock_t *backend;  /* XPUB subscribers connect to, owned */
    zpoller_t *poller; /* pipe, frontend, backend */
    bool terminated;   /* $TERM came */
} self_t;

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (self) {
        zpoller_destroy (&self->poller);
        zsock_destroy (&self->frontend);
        zsock_destroy (&self->backend);
        free (self);
        *self_p = NULL;
    }
}

static self_t *
s_self_new (zsock_t *pipe, const rfk_proxy_args_t *args, char *err, size_t errlen)
{
    self_t *self = (self_t *)zmalloc (sizeof (self_t));
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->pipe = pipe;
    if (!args || !args->frontend || !args->backend) {
        snprintf (err, errlen, "the proxy needs a frontend and a backend endpoint");
        s_self_destroy (&self);
        return NULL;
    }
    self->frontend = rfk_bus_socket_new (ZMQ_XSUB, args->frontend, true, args->opts);
    if (!self->frontend) {
        snprintf (err, errlen, "cannot bind %s", args->frontend);
        s_self_destroy (&self);
        return NULL;
    }
    self->backend = rfk_bus_socket_new (ZMQ_XPUB, args->backend, true, args->opts);
    if (!self->backend) {
        snprintf (err, errlen, "cannot bind %s", args->backend);
        s_self_destroy (&self);
        return NULL;
    }
    self->poller = zpoller_new (pipe, self->frontend, self->backend, NULL);
    if (!self->poller) {
        snprintf (err, errlen, "out of memory");
        s_self_destroy (&self);
        return NULL;
    }
    return self;
}

/*  One command from the pipe. */
static void
s_handle_pipe (self_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command) {
        self->terminated = true; /* interrupted */
        return;
    }
    if (streq (command, "$TERM"))
        self->terminated = true;
    else if (streq (command, "ENDPOINTS"))
        zstr_sendx (self->pipe, zsock_endpoint (self->frontend), zsock_endpoint (self->backend),
                    NULL);
    else
        zsys_warning ("RFK-BUS: the event proxy does not take '%s'", command);
    free (command);
}

/*  Moves one message across: events downstream, subscriptions upstream. */
static void
s_forward (zsock_t *from, zsock_t *to)
{
    zmsg_t *msg = zmsg_recv (from);
    if (msg && zmsg_send (&msg, to) != 0)
        zmsg_destroy (&msg);
}

void
rfk_proxy_actor (zsock_t *pipe, void *args)
{
    char err[256] = "";
    self_t *self = s_self_new (pipe, (const rfk_proxy_args_t *)args, err, sizeof (err));
    zsock_signal (pipe, 0);
    if (!self) {
        zstr_sendx (pipe, "ERROR", err, NULL);
        return;
    }
    zstr_send (pipe, "OK");
    while (!self->terminated) {
        void *which = zpoller_wait (self->poller, -1);
        if (which == self->pipe)
            s_handle_pipe (self);
        else if (which == self->frontend)
            s_forward (self->frontend, self->backend);
        else if (which == self->backend)
            s_forward (self->backend, self->frontend);
        else if (zpoller_terminated (self->poller))
            break;
    }
    s_self_destroy (&self);
}

zactor_t *
rfk_proxy_new (const char *frontend, const char *backend, const rfk_bus_opts_t *opts)
{
    rfk_proxy_args_t args = {frontend, backend, opts};
    zactor_t *proxy = zactor_new (rfk_proxy_actor, &args);
    if (!proxy)
        return NULL;
    char *status = NULL, *reason = NULL;
    if (zstr_recvx (proxy, &status, &reason, NULL) < 1 || !streq (status, "OK")) {
        zsys_warning ("RFK-BUS: the event proxy did not start: %s", reason ? reason : "no answer");
        zactor_destroy (&proxy);
    }
    zstr_free (&status);
    zstr_free (&reason);
    return proxy;
}

int
rfk_proxy_endpoints (zactor_t *proxy, char **frontend_p, char **backend_p)
{
    assert (proxy);
    assert (frontend_p);
    assert (backend_p);
    *frontend_p = NULL;
    *backend_p = NULL;
    if (zstr_send (proxy, "ENDPOINTS") != 0)
        return -1;
    if (zstr_recvx (proxy, frontend_p, backend_p, NULL) != 2) {
        zstr_free (frontend_p);
        zstr_free (backend_p);
        return -1;
    }
    return 0;
}

zsock_t *
rfk_publisher_new (const char *endpoint, const rfk_bus_opts_t *opts)
{
    return rfk_bus_socket_new (ZMQ_PUB, endpoint, false, opts);
}

zsock_t *
rfk_subscriber_new (const char *endpoint, const rfk_bus_opts_t *opts)
{
    return rfk_bus_socket_new (ZMQ_SUB, endpoint, false, opts);
}

void
rfk_subscriber_subscribe (zsock_t *sub, const char *topic)
{
    assert (sub);
    zsock_set_subscribe (sub, topic ? topic : "");
}

void
rfk_subscriber_unsubscribe (zsock_t *sub, const char *topic)
{
    assert (sub);
    zsock_set_unsubscribe (sub, topic ? topic : "");
}
