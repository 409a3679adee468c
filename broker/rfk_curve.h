/*  rfk_curve.h: CurveZMQ keys and the ZAP policies that admit peers.

    Every TCP socket of the bus is a CURVE server (it binds: admin's
    command, service and events sockets, a predictor's query and workers
    sockets, an advisor) or a CURVE client (it connects) when the bus
    options carry keys (rfk_bus_opts_t.curve_*, set here, applied by
    rfk_bus_socket_new). A server socket names a ZAP domain: a policy made
    with rfk_zap_new that admits either any client key (encryption only; the
    requests stay authenticated per message, as on admin's command socket)
    or exactly the public keys allowed into it. Every refusal is logged
    `RFK-CURVE-REFUSED socket=<name> key=<z85> address=<ip>`.

    One ZAP handler serves the whole process (ZeroMQ asks one handler per
    context, at inproc://zeromq.zap.01): it starts with the first policy and
    stops with the last, and tells the policies apart by their domain, so
    admin, a predictor and the tests' fakes can share a process.

    Keys are Z85 text (40 characters). A dynamic service gets its keys from
    admin with its secret (rafikid splits them off): rfk_curve_keys_parse.
*/
#ifndef RFK_CURVE_H_INCLUDED
#define RFK_CURVE_H_INCLUDED

#include "rfk_bus.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RFK_CURVE_KEY_LEN 40

/* A keypair in Z85. */
typedef struct {
    char public_key[RFK_CURVE_KEY_LEN + 1]; /* the key peers pin or admit */
    char secret_key[RFK_CURVE_KEY_LEN + 1]; /* never leaves its owner */
} rfk_curve_pair_t;

/* What admin gives a dynamic service with its secret. */
typedef struct {
    rfk_curve_pair_t own;                     /* this service's keypair (admin's service socket) */
    rfk_curve_pair_t group;                   /* its job's keypair: the advisor or predictor
                                                 serves with it, trainers and workers connect
                                                 with it, and only it is admitted there */
    char admin_public[RFK_CURVE_KEY_LEN + 1]; /* admin's public key (pinned) */
} rfk_curve_keys_t;

/* A fresh random keypair; 0, or -1 when libzmq has no CURVE. */
int
rfk_curve_pair_new (rfk_curve_pair_t *pair);

/* The keypair of a Z85 secret key; 0, or -1 when it is not one. */
int
rfk_curve_pair_from_secret (rfk_curve_pair_t *pair, const char *secret_z85);

/* True when text is a 40-character Z85 key. */
bool
rfk_curve_key_valid (const char *text);

/* The text admin hands a service after its secret, and its parse:
   "OWN_SECRET GROUP_SECRET ADMIN_PUBLIC". 0, or -1 when malformed. */
int
rfk_curve_keys_format (const rfk_curve_keys_t *keys, char *text, size_t size);
int
rfk_curve_keys_parse (const char *text, rfk_curve_keys_t *keys);

/* Makes opts those of a CURVE client: own keys (NULL: a fresh keypair when
   the socket is made) and the server's public key. */
void
rfk_bus_opts_curve_client (rfk_bus_opts_t *opts, const rfk_curve_pair_t *own,
                           const char *server_public);

/* Makes opts those of a CURVE server with the keypair, admitting peers by
   the policy zap. */
typedef struct _rfk_zap_t rfk_zap_t;
void
rfk_bus_opts_curve_server (rfk_bus_opts_t *opts, const rfk_curve_pair_t *pair, rfk_zap_t *zap);

/* No CURVE on sockets made with opts (plaintext; inproc sockets, tests). */
void
rfk_bus_opts_curve_none (rfk_bus_opts_t *opts);

/* A service's server socket (an advisor's, a predictor's): opts become a
   CURVE server with the group keypair of keys (the text admin sent, the
   role's `curve`), admitting only the group's public key (its job's
   trainers or workers), or any key when any_client, through a new policy
   in *zap_p (the caller destroys it after the socket). keys NULL: plaintext
   and *zap_p NULL. 0, or -1 when keys are malformed or no policy starts. */
int
rfk_curve_group_server (rfk_bus_opts_t *opts, const char *keys, const char *name, bool any_client,
                        rfk_zap_t **zap_p);

/* A service's client socket to its group's server (a trainer's to its
   advisor, a worker's to its predictor): opts connect with the group
   keypair and pin the group's public key. keys NULL: plaintext. 0, or -1
   when keys are malformed. */
int
rfk_curve_group_client (rfk_bus_opts_t *opts, const char *keys);

/* A policy for the server sockets named name (for the log): allow_any
   admits every client key, else only the keys allowed. NULL when the ZAP
   handler cannot start. */
rfk_zap_t *
rfk_zap_new (const char *name, bool allow_any);

/* Admits, or stops admitting, a Z85 public key (established connections
   stay). */
void
rfk_zap_allow (rfk_zap_t *self, const char *public_z85);
void
rfk_zap_forget (rfk_zap_t *self, const char *public_z85);

/* The ZAP domain server sockets set. Borrowed. */
const char *
rfk_zap_domain (rfk_zap_t *self);

/* Keys refused so far (tests). */
size_t
rfk_zap_refused (rfk_zap_t *self);

void
rfk_zap_destroy (rfk_zap_t **self_p);

#ifdef __cplusplus
}
#endif

#endif
