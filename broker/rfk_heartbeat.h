/*  rfk_heartbeat.h: peer liveness for both ends of a DEALER/ROUTER pair.

    A heartbeat table remembers when each peer was last heard from (any
    message counts, not only Heartbeat) and expires peers silent for longer
    than the timeout, calling back so the owner can re-send or fail the work
    the peer held. Peers are kept in the order they were last heard from, so
    the next expiry is always the oldest peer's and costs nothing to find.

    The same table schedules the pings of the side that sends them: the
    client (DEALER) pings every interval and the server (ROUTER) answers each
    ping, so both see traffic at least once an interval while the other is
    alive. A server tracks all its peers in one table; a client tracks its one
    server as a table of one.
*/
#ifndef RFK_HEARTBEAT_H_INCLUDED
#define RFK_HEARTBEAT_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _rfk_heartbeat_t rfk_heartbeat_t;

/* Called for each expired peer, with the item the owner attached (or NULL);
   the peer and its item are gone once the callback returns. */
typedef void (rfk_heartbeat_expired_fn) (rfk_heartbeat_t *heartbeat, const char *peer, void *item,
                                         void *arg);
/* Frees an item attached to a peer. */
typedef void (rfk_heartbeat_free_fn) (void **item_p);

/* A table that expires peers silent for timeout_ms and pings every
   interval_ms. NULL when the numbers make no sense (interval or timeout not
   positive). */
rfk_heartbeat_t *
rfk_heartbeat_new (int interval_ms, int timeout_ms);
void
rfk_heartbeat_destroy (rfk_heartbeat_t **self_p);
/* How attached items are freed (when a peer expires or is forgotten). */
void
rfk_heartbeat_set_destructor (rfk_heartbeat_t *self, rfk_heartbeat_free_fn *destructor);

/* Notes that peer was heard from now. 1 when the peer is new, 0 when it was
   known, -1 when out of memory. */
int
rfk_heartbeat_seen (rfk_heartbeat_t *self, const char *peer);
/* True while peer is known (heard from, and not expired or forgotten). */
bool
rfk_heartbeat_known (rfk_heartbeat_t *self, const char *peer);
/* The item attached to a known peer, or NULL. */
void *
rfk_heartbeat_item (rfk_heartbeat_t *self, const char *peer);
/* Attaches an item to a known peer (the old one is freed). 0, or -1 when the
   peer is not known. */
int
rfk_heartbeat_set_item (rfk_heartbeat_t *self, const char *peer, void *item);
/* Forgets a peer without calling the expiry callback. 0, or -1 if unknown. */
int
rfk_heartbeat_forget (rfk_heartbeat_t *self, const char *peer);
/* How many peers are known. */
size_t
rfk_heartbeat_size (rfk_heartbeat_t *self);
/* Milliseconds since peer was last heard from, or -1 when it is not known. */
int64_t
rfk_heartbeat_silence (rfk_heartbeat_t *self, const char *peer);

/* When the next peer expires (zclock_mono () ms), or -1 with no peers. */
int64_t
rfk_heartbeat_deadline (rfk_heartbeat_t *self);
/* Expires every peer silent for longer than the timeout, calling fn (may be
   NULL) for each. Returns how many expired. */
int
rfk_heartbeat_expire (rfk_heartbeat_t *self, rfk_heartbeat_expired_fn *fn, void *arg);

/* When the next ping is due (zclock_mono () ms). */
int64_t
rfk_heartbeat_ping_deadline (rfk_heartbeat_t *self);
/* True when a ping is due now; the next one is then scheduled an interval
   later. */
bool
rfk_heartbeat_ping_due (rfk_heartbeat_t *self);

/* The interval and the timeout the table was made with. */
int
rfk_heartbeat_interval (rfk_heartbeat_t *self);
int
rfk_heartbeat_timeout (rfk_heartbeat_t *self);

#ifdef __cplusplus
}
#endif

#endif
