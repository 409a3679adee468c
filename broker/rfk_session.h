/*  rfk_session.h: a dynamic service's whole conversation with admin.

    Every dynamic service (advisor, trainer, predictor, inference worker)
    talks to admin's `service` ROUTER the same way, so it is written once,
    here, the way zyre keeps its node behind one façade:

        connect (bus options)  -> Hello {service_id, secret}
        ServiceConfig          <- on_config (configure; then report RUNNING)
        Error                  <- on_failed ("admin refused our Hello: ...")
        StatusReport RUNNING   -> with `endpoints`, what the service bound
        Stop                   <- Ack, then on_stop (once)
        ServingKeys, ...       <- on_message, then Ack (or Error with its reason)
        StatusReport STOPPED | ERRORED -> exactly once
        (the end)              -> wait, bounded, for admin's Acks

    Heartbeats are the client's (rfk_client): the session pings admin and
    notices when it goes silent. Requests of the service's own (TrialCreate,
    TrialStarted, TrialFinished, TrialLog, ...) go through rfk_session_send
    (answers logged) or, to handle the answer, rfk_client_send on
    rfk_session_client.

    After a refused or unanswered Hello, nothing more goes to admin: admin
    does not know this peer, so a report would be refused too.

    Re-Hello: when admin was silent for heartbeat_timeout_ms and is heard
    from again (it restarted, or the network came back), the session says
    Hello again with the same id and secret; when admin answers with a
    ServiceConfig, the last RUNNING report is sent again (on_config is not
    called twice). A refusal is logged (RFK-REHELLO-REFUSED) and the service
    goes on. An UNAUTHORIZED answer from admin ("say Hello first": it
    restarted before we noticed it was away) also brings a re-Hello.
    Orphans: when admin stays silent for service.orphan_timeout_s (config,
    default 600), the service stops itself as if admin had asked (on_stop,
    stopped), with a reason saying so; nothing runs forever unowned.
    Kept reports (rfk_session_send_kept, a trainer's trial results): kept
    until admin answered them; one that times out or that admin refused as
    from an unknown peer is sent again after the next accepted re-Hello, so
    what ended while admin was away reaches the admin that comes back. This,
    and rfk_session_new's socket set-up (s_connect in
    rfk_session.c), are where CurveZMQ keys and admin-side adoption plug in.

    In an actor's loop: poll rfk_session_sock, call rfk_session_recv when it
    is readable, add rfk_session_deadline to the poll's deadline and call
    rfk_session_tick every turn. At the end call rfk_session_end.

    All callbacks run from rfk_session_recv or rfk_session_tick (the Hello's
    answer may also come during rfk_session_end's wait).
*/
#ifndef RFK_SESSION_H_INCLUDED
#define RFK_SESSION_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "rfk_bodies.h"
#include "rfk_bus.h"
#include "rfk_client.h"
#include "rfk_msg.h"
#include "rfk_role.h"
#include "rfk_states.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _rfk_session_t rfk_session_t;

/* admin's ServiceConfig, read (borrowed: copy what you keep; a message
   that cannot be read fails the session with "the ServiceConfig cannot be
   read" before this is called). Configure the service, then call
   rfk_session_running once it serves (usually before returning) and return
   0; or return -1 with the reason in err: the session reports ERRORED with
   it and calls on_failed. */
typedef int (rfk_session_config_fn) (rfk_session_t *session, const rfk_service_config_t *config,
                                     void *ctx, char *err, size_t errlen);
/* admin asked the service to stop (the Ack is already sent); called once,
   with admin's reason or "stopped by admin". Report STOPPED with
   rfk_session_final once the service has stopped. */
typedef void (rfk_session_stop_fn) (rfk_session_t *session, const char *reason, void *ctx);
/* The session cannot go on: the Hello was refused or not answered, or
   on_config failed. reason is a sentence for the actor's FAILED. (An actor
   that only needs to note it, or to leave its loop on Stop, can give the
   args' failure and stopped instead of callbacks.) */
typedef void (rfk_session_failed_fn) (rfk_session_t *session, const char *reason, void *ctx);

/* admin sent a message of the service's own, not one the session takes
   (a predictor's ServingKeys); msg is borrowed. Return 0 to have it
   acknowledged (Ack), or -1 with the reason in err (answered Error
   BAD_REQUEST). */
typedef int (rfk_session_message_fn) (rfk_session_t *session, const rfk_msg_t *msg, void *ctx,
                                      char *err, size_t errlen);
/* What a session needs; borrowed during rfk_session_new only. */
typedef struct {
    const char *name;                   /* the service kind for the log ("trainer") */
    const rfk_role_args_t *role;        /* config, service_id and secret from rafikid */
    const char *endpoint;               /* admin's `service`; NULL: from role->config */
    const rfk_bus_opts_t *bus;          /* NULL: from role->config's bus.* keys */
    int flush_ms;                       /* rfk_session_end's wait for Acks; 0: 1000 */
    rfk_session_config_fn *on_config;   /* ServiceConfig arrived (required) */
    rfk_session_stop_fn *on_stop;       /* Stop arrived, or NULL */
    rfk_session_failed_fn *on_failed;   /* the session failed, or NULL */
    rfk_session_message_fn *on_message; /* admin's other messages, or NULL: logged */
    void *ctx;                          /* what the callbacks get */
    bool *stopped;                      /* set true when Stop arrives, or NULL */
    char **failure;                     /* gets why the session failed (rfk_log_failure), or NULL */
} rfk_session_args_t;

/* Connects to admin and sends Hello. NULL when the role lacks a
   configuration, service id or secret, or admin's endpoint cannot be
   connected, with the reason in err (may be NULL) and in args->failure
   (when given). */
rfk_session_t *
rfk_session_new (const rfk_session_args_t *args, char *err, size_t errlen);
/* Closes the socket without a word (call rfk_session_end first); safe
   twice. */
void
rfk_session_destroy (rfk_session_t **self_p);

/* admin's `service` endpoint from a configuration: tcp://admin.host:
   admin.service_port, with a wildcard host (0.0.0.0, *) read as 127.0.0.1.
   Written into buf; returns buf. */
const char *
rfk_session_admin_endpoint (const rfk_config_t *config, char *buf, size_t size);

/* Reports RUNNING, with message (may be NULL) and endpoints: what the
   service bound, in the order of ServiceConfig's bind_endpoints (a
   NULL-terminated array, or NULL for none). Remembered for a re-Hello.
   Ignored after the final report. 0, or -1 when it could not be queued. */
int
rfk_session_running (rfk_session_t *self, const char *message, const char *const *endpoints);
/* Reports STOPPED or ERRORED (message may be NULL). Only the first call
   sends; later ones return 0 and send nothing. 0 or -1. */
int
rfk_session_final (rfk_session_t *self, rfk_service_status_t status, const char *message);
/* True once the final report went out (or can no longer go: refused). */
bool
rfk_session_final_sent (rfk_session_t *self);
/* Sends admin a request of the service's own (TrialStarted, TrialLog, ...);
   an Error answer is logged with the request's type. The message stays the
   caller's. 0, or -1 (logged) when it could not be queued. */
int
rfk_session_send (rfk_session_t *self, rfk_msg_t *msg);
/* Sends admin a report it must not miss (a trial's result): kept, and sent
   again after a re-Hello, until admin answered it with anything but a
   TIMEOUT, UNAVAILABLE or UNAUTHORIZED Error. Admin must take a repeated
   one as harmless (it may have stored the first before it went away). The
   message stays the caller's. 0, or -1 when out of memory or refused. */
int
rfk_session_send_kept (rfk_session_t *self, rfk_msg_t *msg);
/* How many kept reports admin has not answered yet. */
size_t
rfk_session_kept (rfk_session_t *self);
/* The client under the session, for requests whose answer the service
   handles itself (rfk_client_send); owned by the session. */
rfk_client_t *
rfk_session_client (rfk_session_t *self);
/* The service id the session said Hello with (borrowed). */
const char *
rfk_session_service_id (rfk_session_t *self);

/* The DEALER to poll, the nearest deadline, reading and ticking: as
   rfk_client's. */
zsock_t *
rfk_session_sock (rfk_session_t *self);
int64_t
rfk_session_deadline (rfk_session_t *self);
int
rfk_session_recv (rfk_session_t *self);
void
rfk_session_tick (rfk_session_t *self);
/* How many requests to admin wait for an answer. */
size_t
rfk_session_pending (rfk_session_t *self);

/* Waits up to wait_ms for admin's answers to what was sent (a bounded
   wait: admin may be gone). */
void
rfk_session_flush (rfk_session_t *self, int wait_ms);
/* True once admin asked the service to stop. */
bool
rfk_session_stop_asked (rfk_session_t *self);
/* The end of the conversation: the final report, unless one went out
   (ERRORED with failure when it is not NULL, else STOPPED with admin's
   reason when admin asked for the stop, else with reason), then
   rfk_session_flush for flush_ms. Returns rfk_session_stop_asked: true when
   the service ended because admin asked (its work is done). */
bool
rfk_session_end (rfk_session_t *self, const char *failure, const char *reason);

/* The end of a worker actor's role form, written once: the session's end
   (when self is not NULL) with "stopped (SIGTERM)" as the reason, then
   rafikid told how it went on the actor's pipe (rfk_role_end): FAILED with
   failure, else DONE when done or admin asked for the stop, else nothing. */
void
rfk_session_leave (rfk_session_t *self, zsock_t *pipe, const char *failure, bool done);

#ifdef __cplusplus
}
#endif

#endif
