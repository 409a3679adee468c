/*  rfk_server.h: a ROUTER that decodes each frame once, dispatches it
    through a handler table, and answers bad input without losing its other
    peers.

    For each [routing id][envelope] it receives, the server
    - drops a message with no routing id or no envelope without a word;
    - answers Error TOO_LARGE to a frame over max_frame_bytes, MALFORMED to a
      frame that is not an envelope of its family (or extra frames), and
      UNKNOWN_MESSAGE to a body its table does not take (when it has no
      default handler);
    - answers Heartbeat with Heartbeat;
    - otherwise calls the handler for the body type, or the default handler
      (rfk_server_set_default) for a type its table does not list.
    A peer that sends malformed_limit bad frames in a row is dropped: logged
    once with RFK-MALFORMED, its messages ignored until it has been silent for
    heartbeat_timeout_ms. Other peers are never disturbed.

    Every message from a peer counts as a sign of life; a peer that has sent
    a well-formed message and then stays silent for heartbeat_timeout_ms is
    expired, and the expiry handler hears of it (so the owner can re-send or
    fail the work the peer held).

    In an actor's loop: poll rfk_server_sock, call rfk_server_recv when it is
    readable, add rfk_server_deadline to the poll's deadline and call
    rfk_server_tick every turn.
*/
#ifndef RFK_SERVER_H_INCLUDED
#define RFK_SERVER_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "rfk_bus.h"
#include "rfk_msg.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _rfk_server_t rfk_server_t;

/* Handles one message from peer (its routing id, borrowed: zframe_dup it to
   keep it). Take *msg_p (and null it) to keep the message; otherwise the
   server destroys it. Return 0, or -1 to have the server answer Error
   INTERNAL for you (do not answer yourself as well). */
typedef int (rfk_server_handler_fn) (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p,
                                     void *ctx);
/* One row of the handler table; the table ends with a row whose type is
   NULL. */
typedef struct {
    const char *type;               /* the body type, e.g. "Hello" */
    rfk_server_handler_fn *handler; /* what handles it */
} rfk_server_route_t;
/* A peer went silent for heartbeat_timeout_ms (or was dropped for sending
   garbage). */
typedef void (rfk_server_expired_fn) (rfk_server_t *server, zframe_t *peer, void *ctx);

/* A server on a new ROUTER bound to endpoints (e.g. "tcp://127.0.0.1:*" or
   "inproc://admin-service"), speaking family, dispatching through routes (not
   copied: keep it alive, usually a static table; NULL for none, when a
   default handler takes every body) with ctx. opts may be NULL for the
   defaults. NULL, with a warning, when an endpoint cannot be bound or the
   options make no sense. */
rfk_server_t *
rfk_server_new (const char *endpoints, const rfk_family_t *family, const rfk_server_route_t *routes,
                void *ctx, const rfk_bus_opts_t *opts);
void
rfk_server_destroy (rfk_server_t **self_p);
/* Sets the handler of every body type the table does not list (gets the
   ctx given to rfk_server_new): a socket whose requests all go one way
   (e.g. into a dispatcher of its own, as admin's `command` does) needs no
   table that points every row at one function. */
void
rfk_server_set_default (rfk_server_t *self, rfk_server_handler_fn *handler);
/* Whether a peer's Heartbeat is answered (true), or answered with Error
   UNAUTHORIZED (false), which tells a client whose server restarted and
   forgot it to introduce itself again (admin's service socket, while
   services it adopted have not said Hello). Gets the ctx given to
   rfk_server_new. */
typedef bool (rfk_server_ping_check_fn) (rfk_server_t *server, zframe_t *peer, void *ctx);
void
rfk_server_set_ping_check (rfk_server_t *self, rfk_server_ping_check_fn *check);
/* Sets the expiry handler (gets the ctx given to rfk_server_new). */
void
rfk_server_set_expired (rfk_server_t *self, rfk_server_expired_fn *on_expired);

/* Frames from a peer its owner has not vouched for (rfk_server_trust) are
   capped at bytes (0, the default: max_frame_bytes for everyone): larger
   ones are answered TOO_LARGE without being decoded. */
void
rfk_server_set_untrusted_max (rfk_server_t *self, size_t bytes);
/* Vouch for a peer (e.g. once a token it sent was checked): its frames get
   the full max_frame_bytes until it is forgotten (silent, dropped). */
void
rfk_server_trust (rfk_server_t *self, zframe_t *routing_id);
/* True once rfk_server_trust vouched for the peer. */
bool
rfk_server_peer_trusted (rfk_server_t *self, zframe_t *routing_id);
/* The TCP address of a peer ("127.0.0.1", from libzmq's Peer-Address
   metadata of its last message), or NULL (inproc, ipc, unknown). Borrowed. */
const char *
rfk_server_peer_address (rfk_server_t *self, zframe_t *routing_id);

/* The ROUTER to poll (owned by the server). */
zsock_t *
rfk_server_sock (rfk_server_t *self);
/* The endpoint actually bound last (with the port for "tcp://...:*"). */
const char *
rfk_server_endpoint (rfk_server_t *self);
/* The family the server decodes with. */
const rfk_family_t *
rfk_server_family (rfk_server_t *self);

/* Handles what is waiting on the socket without blocking (up to 256
   messages); returns how many were read (a malformed one that came last
   is not counted). */
int
rfk_server_recv (rfk_server_t *self);
/* The nearest deadline (the next peer expiry), or -1. */
int64_t
rfk_server_deadline (rfk_server_t *self);
/* Expires silent peers. Cheap when nothing is due. */
void
rfk_server_tick (rfk_server_t *self);

/* Sends a message to a peer (a reply, or a message of our own). 0 or -1. */
int
rfk_server_send (rfk_server_t *self, zframe_t *peer, const rfk_msg_t *msg);
/* Sends Error {code, message} to a peer for a correlation id. 0 or -1. */
int
rfk_server_send_error (rfk_server_t *self, zframe_t *peer, uint64_t correlation, rfk_code_t code,
                       const char *message);

/* How many peers are known (heard from, not yet expired or forgotten). */
size_t
rfk_server_peers (rfk_server_t *self);
/* True while a peer is known and not dropped. */
bool
rfk_server_peer_alive (rfk_server_t *self, zframe_t *peer);
/* Forgets a peer (without the expiry handler); its next message makes it new. */
void
rfk_server_forget (rfk_server_t *self, zframe_t *peer);

#ifdef __cplusplus
}
#endif

#endif
