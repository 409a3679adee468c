/*  rfk_proxy.h: the event proxy, and publishers and subscribers of events.

    Admin's actors publish events ([topic][envelope], event family) on PUB
    sockets connected to the proxy's XSUB; watchers (rafiki watch, the web
    admin) connect SUB sockets to the proxy's XPUB and subscribe to topics:
    "job.<id>", "trial.<id>", or a prefix such as "job." for every job. Ids are
    UUIDs of one length, so a topic never matches a longer id by prefix.
    Subscriptions travel up through the proxy to the publishers, so events
    nobody wants are dropped at their source.

    The proxy is a czmq actor:
        zactor_t *proxy = rfk_proxy_new ("inproc://events-in",
                                         "tcp://127.0.0.1:*", &opts);
        char *frontend, *backend;
        rfk_proxy_endpoints (proxy, &frontend, &backend);
        ...
        zactor_destroy (&proxy);
    Pipe commands: "ENDPOINTS" -> [frontend][backend] as bound; "$TERM".
*/
#ifndef RFK_PROXY_H_INCLUDED
#define RFK_PROXY_H_INCLUDED

#include <czmq.h>

#include "rfk_bus.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What rfk_proxy_actor takes: read once at start, may live on the caller's
   stack. */
typedef struct {
    const char *frontend;       /* where the XSUB binds (publishers connect) */
    const char *backend;        /* where the XPUB binds (subscribers connect) */
    const rfk_bus_opts_t *opts; /* high-water marks and linger; NULL: defaults */
} rfk_proxy_args_t;

/* The actor. After setup it sends "OK" or "ERROR" <reason> on its pipe. */
void
rfk_proxy_actor (zsock_t *pipe, void *args);
/* Starts the proxy; NULL, with a warning, when an endpoint cannot be bound. */
zactor_t *
rfk_proxy_new (const char *frontend, const char *backend, const rfk_bus_opts_t *opts);
/* The endpoints the proxy bound (ports resolved); yours to free. 0 or -1. */
int
rfk_proxy_endpoints (zactor_t *proxy, char **frontend_p, char **backend_p);

/* A PUB connected to endpoint (a proxy's frontend), or bound with '@'. */
zsock_t *
rfk_publisher_new (const char *endpoint, const rfk_bus_opts_t *opts);
/* A SUB connected to endpoint (a proxy's backend), subscribed to nothing. */
zsock_t *
rfk_subscriber_new (const char *endpoint, const rfk_bus_opts_t *opts);
/* Subscribes to a topic or topic prefix ("" for everything). */
void
rfk_subscriber_subscribe (zsock_t *sub, const char *topic);
void
rfk_subscriber_unsubscribe (zsock_t *sub, const char *topic);

#ifdef __cplusplus
}
#endif

#endif
