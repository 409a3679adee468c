/*  rfk_bus.h: the bus library's options and socket constructors.

    Every socket an actor opens on the bus is made here, so that each one gets
    its high-water marks and linger from the same options: ZeroMQ queues stay
    bounded (overload is answered, never buffered without limit) and closing a
    socket never hangs on a dead peer. The options mirror the config's bus.*
    keys: rfk_bus_opts_from_config reads them (the one place that does, for
    admin, the services and the SDK); rfk_bus_opts_defaults fills in the
    defaults, so every module of this library also works without a
    configuration (tests, fuzzers).
*/
#ifndef RFK_BUS_H_INCLUDED
#define RFK_BUS_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rfk_config.h"
#include "rfk_msg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The bus options, one field per config key bus.<field>. */
typedef struct {
    int sndhwm;                /* send high-water mark, messages (bus.sndhwm) */
    int rcvhwm;                /* receive high-water mark, messages (bus.rcvhwm) */
    int linger_ms;             /* how long a closing socket keeps unsent messages */
    int heartbeat_interval_ms; /* a client pings this often (bus.heartbeat_interval_ms) */
    int heartbeat_timeout_ms;  /* a peer silent this long is expired */
    int request_timeout_ms;    /* how long one try of a request waits for its reply */
    int request_retries;       /* re-sends after the first try before TIMEOUT */
    size_t max_frame_bytes;    /* the largest envelope frame sent or accepted */
    int malformed_limit;       /* bad frames in a row before a peer is dropped */
    /* CurveZMQ (rfk_curve.h sets these; all empty: plaintext). */
    bool curve;            /* bus.curve: admin encrypts and authenticates its sockets */
    char curve_public[41]; /* this side's public key (Z85); empty: a fresh pair (clients) */
    char curve_secret[41]; /* this side's secret key (Z85) */
    char curve_server[41]; /* a client's: the server's public key it pins */
    char zap_domain[48];   /* a server's: the ZAP policy that admits its peers */
    /* Which of the context's I/O threads carries the socket's connections
       (rfk_bus_socket_apply): RFK_BUS_IO_DATA for every socket but a
       service's link to admin, RFK_BUS_IO_ADMIN for that one. */
    int io;
} rfk_bus_opts_t;

/* The I/O threads of a service (rafikid sets RFK_BUS_IO_THREADS before its
   first socket). libzmq resolves a connect's host name in its I/O thread,
   blocking it: under swarm, while admin's container restarts, its service
   name does not resolve and each try waits out the resolver. On a thread of
   its own, the admin link's tries stall nothing else: the data plane
   (predictor and workers, advisor and trainers) keeps moving. With fewer
   I/O threads than these, no affinity is set. */
#define RFK_BUS_IO_THREADS 2
#define RFK_BUS_IO_DATA 0  /* the first I/O thread */
#define RFK_BUS_IO_ADMIN 1 /* the second */

#define RFK_BUS_SNDHWM 1000
#define RFK_BUS_RCVHWM 1000
#define RFK_BUS_LINGER_MS 100
#define RFK_BUS_HEARTBEAT_INTERVAL_MS 1000
#define RFK_BUS_HEARTBEAT_TIMEOUT_MS 5000
#define RFK_BUS_REQUEST_TIMEOUT_MS 5000
#define RFK_BUS_REQUEST_RETRIES 3
#define RFK_BUS_MAX_FRAME_BYTES (64u * 1024u * 1024u)
#define RFK_BUS_MALFORMED_LIMIT 32

/* Fills opts with the defaults above. */
void
rfk_bus_opts_defaults (rfk_bus_opts_t *opts);

/* Fills opts from a configuration's bus.* keys (the defaults for the
   options that have no key: linger_ms, malformed_limit), or with the
   defaults when config is NULL. */
void
rfk_bus_opts_from_config (rfk_bus_opts_t *opts, const rfk_config_t *config);

/* A socket of the given ZeroMQ type with the options' high-water marks and
   linger, attached to endpoints (a comma-separated list; '@' binds, '>'
   connects, no prefix binds when serverish). With curve_server set the
   socket is a CURVE client of that key; else with curve_secret and
   zap_domain set it is a CURVE server whose peers the domain's policy
   admits (rfk_curve.h). NULL, with a warning naming the
   endpoint, when an endpoint cannot be bound or connected. opts may be NULL
   for the defaults. */
zsock_t *
rfk_bus_socket_new (int type, const char *endpoints, bool serverish, const rfk_bus_opts_t *opts);

/* Applies the options' high-water marks and linger to an existing socket,
   and a hard cap of twice max_frame_bytes on what it receives: a frame over
   max_frame_bytes is answered TOO_LARGE, but one over the hard cap makes
   ZeroMQ drop the connection (on tcp) before it is read into memory. */
void
rfk_bus_socket_apply (zsock_t *sock, const rfk_bus_opts_t *opts);

#ifdef __cplusplus
}
#endif

#endif
