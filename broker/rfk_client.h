/*  rfk_client.h: request/reply over a DEALER, with correlation ids, a
    timeout per request, bounded retries and heartbeats.

    A client connects one DEALER to a server's ROUTER. Each request gets a
    fresh correlation id; a try waits request_timeout_ms for the reply, then
    the same frame (same correlation id) is sent again, up to request_retries
    times, then the request fails with a local Error TIMEOUT. A reply whose
    correlation id is ours but no longer pending (a late answer to a retried or
    timed-out request) is dropped. Messages from the server that answer no
    request of ours (Stop, QueryBatch, ...) go to the message handler.

    The client pings the server every heartbeat_interval_ms and counts the
    server silent when nothing came for heartbeat_timeout_ms; the liveness
    handler hears of it, and of the server coming back.

    Two ways to use it:
    - blocking, for the CLI and the SDK:
          rfk_msg_t *reply = rfk_client_call (client, request);
      returns the server's reply or a local Error (TIMEOUT, UNAVAILABLE,
      TOO_LARGE, BAD_REQUEST); NULL only when interrupted.
    - inside an actor's loop: rfk_client_send (client, request, on_reply, arg)
      returns at once; poll rfk_client_sock, call rfk_client_recv when it is
      readable, add rfk_client_deadline to the poll's deadline and call
      rfk_client_tick every turn. on_reply runs from recv or tick.
*/
#ifndef RFK_CLIENT_H_INCLUDED
#define RFK_CLIENT_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "rfk_bus.h"
#include "rfk_msg.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _rfk_client_t rfk_client_t;

/* The answer to a request: the server's reply (possibly an Error), or a
   local Error (TIMEOUT after the retries). Take *reply_p (and null it) to keep
   it; otherwise the client destroys it. */
typedef void (rfk_client_reply_fn) (rfk_client_t *client, uint64_t correlation, rfk_msg_t **reply_p,
                                    void *arg);
/* A message from the server that answers none of our requests. Take *msg_p
   to keep it. */
typedef void (rfk_client_message_fn) (rfk_client_t *client, rfk_msg_t **msg_p, void *ctx);
/* The server went silent for heartbeat_timeout_ms (alive false), or was
   heard from again afterwards (alive true). */
typedef void (rfk_client_liveness_fn) (rfk_client_t *client, bool alive, void *ctx);

/* A client on a new DEALER connected to endpoint, speaking family. opts may
   be NULL for the defaults. NULL, with a warning, when the endpoint is bad. */
rfk_client_t *
rfk_client_new (const char *endpoint, const rfk_family_t *family, const rfk_bus_opts_t *opts);
/* Closes the socket; pending requests are dropped without a callback. */
void
rfk_client_destroy (rfk_client_t **self_p);
/* Sets the handlers for unsolicited messages and for server liveness (each
   may be NULL) and the ctx they get. */
void
rfk_client_set_handlers (rfk_client_t *self, rfk_client_message_fn *on_message,
                         rfk_client_liveness_fn *on_liveness, void *ctx);

/* The DEALER to poll (owned by the client). */
zsock_t *
rfk_client_sock (rfk_client_t *self);
/* The family the client decodes with. */
const rfk_family_t *
rfk_client_family (rfk_client_t *self);

/* Sends a request and returns its correlation id (also set in
   request->correlation), or 0 when it could not be sent (see
   rfk_client_error); on_reply is called exactly once for every id returned,
   unless the request is cancelled or the client destroyed. The request stays
   the caller's. */
uint64_t
rfk_client_send (rfk_client_t *self, rfk_msg_t *request, rfk_client_reply_fn *on_reply, void *arg);
/* The same with this request's own timeout per try and number of retries. */
uint64_t
rfk_client_send_with (rfk_client_t *self, rfk_msg_t *request, int timeout_ms, int retries,
                      rfk_client_reply_fn *on_reply, void *arg);
/* Sends a message that expects no reply (an Ack to the server's request, a
   one-way report); its correlation id is left as is. 0 or -1. */
int
rfk_client_post (rfk_client_t *self, const rfk_msg_t *msg);
/* Forgets a pending request; a late reply is dropped. 0, or -1 if unknown. */
int
rfk_client_cancel (rfk_client_t *self, uint64_t correlation);
/* How many requests wait for a reply. */
size_t
rfk_client_pending (rfk_client_t *self);
/* Why the last send failed, with its code in *code_p (may be NULL). */
const char *
rfk_client_error (rfk_client_t *self, rfk_code_t *code_p);

/* Handles what is waiting on the socket (replies, heartbeats, unsolicited
   messages) without blocking; returns how many messages were read. */
int
rfk_client_recv (rfk_client_t *self);
/* The nearest deadline: a request's try, the next ping, the server's
   expiry (zclock_mono () ms). */
int64_t
rfk_client_deadline (rfk_client_t *self);
/* Does what is due: re-sends, times out requests, pings, notes a silent
   server. Cheap when nothing is due; call it every turn of the loop. */
void
rfk_client_tick (rfk_client_t *self);
/* False once the server was silent for heartbeat_timeout_ms, true again
   when it is heard from. */
bool
rfk_client_alive (rfk_client_t *self);

/* Sends a request and waits for its reply, handling heartbeats and
   unsolicited messages meanwhile. Returns the reply or a local Error (yours
   to destroy); NULL only when interrupted (SIGINT) or out of memory. */
rfk_msg_t *
rfk_client_call (rfk_client_t *self, rfk_msg_t *request);
/* The same with this request's own timeout per try and retries. */
rfk_msg_t *
rfk_client_call_with (rfk_client_t *self, rfk_msg_t *request, int timeout_ms, int retries);

#ifdef __cplusplus
}
#endif

#endif
