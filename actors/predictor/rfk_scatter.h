/*  rfk_scatter.h: the predictor's scatter-gather engine (the batching,
    scatter and gather; rfk_ensemble combines answers, rfk_msgpack_span
    finds them in the bytes).

    The engine owns the ROUTER `workers` that inference workers connect to
    (the `infer` family: WorkerReady, QueryBatch -> PredictionBatch,
    Heartbeat) and turns requests (a msgpack array of queries each) into
    answers (a msgpack array of predictions in query order):

    - queries from all requests are coalesced into batches of at most
      max_batch; a batch leaves when it is full, when its oldest query has
      waited batch_window_us, or at once when every deployed trial has an idle
      replica (so a lone query never waits for the window);
    - each batch goes to one replica of every deployed trial (a member), the
      live replica with the least outstanding queries first;
    - a batch is gathered until every member answered or failed; a request
      ends when all its queries are answered or when its deadline passes
      (the configured default, or the request's own), whichever is first:
      nothing waits past its deadline, and answers arriving later are dropped
      and counted;
    - the members' answers to each query are ensembled by task
      (rfk_ensemble.h: mean of probability vectors, mean, per-token
      majority, or the first answer). A query no member could answer gets a
      per-query error (msgpack ext RAFIKI_MSGPACK_EXT_ERROR, as templates
      write them) in its place;
    - at most max_inflight queries are accepted and not yet answered; beyond
      that a submission is refused at once with UNAVAILABLE, as it is when no
      worker is ready;
    - a worker silent for heartbeat_timeout_ms, or that can no longer be
      reached, is dropped: the batches it held go to another replica of its
      trial while their requests' deadlines allow, or that member counts as
      not answering.

    In an actor's loop: poll rfk_scatter_sock, call rfk_scatter_recv when it
    is readable, add rfk_scatter_deadline to the poll's deadline and call
    rfk_scatter_tick every turn (after submitting: the tick sends batches).
    Completions are reported through the request's callback from inside
    rfk_scatter_recv and rfk_scatter_tick, never from rfk_scatter_submit.
*/
#ifndef RFK_SCATTER_H_INCLUDED
#define RFK_SCATTER_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "rfk_bus.h"
#include "rfk_ensemble.h"
#include "rfk_msg.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _rfk_scatter_t rfk_scatter_t;

/* The engine's options (the config's predictor.* keys and the bus). */
typedef struct {
    int max_batch;           /* most queries in one batch */
    int batch_window_us;     /* longest a query waits for a batch to fill */
    int deadline_ms;         /* a request's deadline when it brings none */
    int max_inflight;        /* queries accepted and not yet answered */
    rfk_ensemble_t ensemble; /* how members' answers are combined */
    rfk_bus_opts_t bus;      /* sockets, heartbeats, frame cap */
} rfk_scatter_opts_t;

/* Fills opts with the config's defaults (max_batch 32, window 500 us,
   deadline 1000 ms, max_inflight 10000, FIRST) and the bus defaults. */
void
rfk_scatter_opts_defaults (rfk_scatter_opts_t *opts);

/* How a request ended. Everything is borrowed for the callback's duration. */
typedef struct {
    rfk_code_t code;           /* OK, or why the whole request failed */
    const char *message;       /* when code is not OK */
    const void *data;          /* OK: msgpack array of predictions, query order */
    size_t size;               /* its bytes */
    uint32_t members;          /* trials asked */
    uint32_t members_answered; /* trials that answered every query in time */
} rfk_scatter_result_t;

/* A request ended (answered, deadline passed, or failed). */
typedef void (rfk_scatter_done_fn) (rfk_scatter_t *scatter, uint64_t request,
                                    const rfk_scatter_result_t *result, void *arg);

/* Counters, for /metrics and tests. */
typedef struct {
    uint64_t requests;      /* requests accepted */
    uint64_t queries;       /* queries accepted */
    uint64_t refused;       /* submissions refused (over max_inflight, no worker) */
    uint64_t batches;       /* batches sent (a batch to k members counts once) */
    uint64_t batch_sends;   /* QueryBatch messages sent, re-sends included */
    uint64_t resent;        /* batches re-sent to another replica */
    uint64_t answers;       /* PredictionBatch messages used */
    uint64_t late;          /* answers dropped: their requests had ended */
    uint64_t member_errors; /* members that answered a batch with an error */
    uint64_t timeouts;      /* requests that ended at their deadline */
    uint64_t workers_lost;  /* workers dropped (silent or unreachable) */
    size_t inflight;        /* queries accepted, not yet answered */
    size_t workers;         /* workers ready now */
    size_t trials;          /* trials (members) known */
} rfk_scatter_stats_t;

/* An engine with a ROUTER bound to endpoints. NULL, with a warning, when an
   endpoint cannot be bound or the options make no sense. */
rfk_scatter_t *
rfk_scatter_new (const char *endpoints, const rfk_scatter_opts_t *opts);
void
rfk_scatter_destroy (rfk_scatter_t **self_p);

/* The ROUTER to poll (owned by the engine). */
zsock_t *
rfk_scatter_sock (rfk_scatter_t *self);
/* The endpoint actually bound last (with the port for "tcp://...:*"). */
const char *
rfk_scatter_endpoint (rfk_scatter_t *self);

/* Declares a trial that is deployed even while none of its workers is
   ready: it counts among the members asked. 0 or -1. */
int
rfk_scatter_expect_trial (rfk_scatter_t *self, const char *trial_id);

/* Accepts a request: queries is a msgpack array of at least one query
   (copied), deadline_ms its deadline (0: the default). Returns the request
   id (> 0); done is called once for it later. Returns 0 when refused, with
   *code_p (may be NULL) and err saying why: BAD_REQUEST (not a non-empty
   msgpack array), TOO_LARGE (more queries than max_inflight: never
   acceptable), UNAVAILABLE (the queries in flight would pass max_inflight,
   or no worker is ready). */
uint64_t
rfk_scatter_submit (rfk_scatter_t *self, const void *queries, size_t size, int deadline_ms,
                    rfk_scatter_done_fn *done, void *arg, rfk_code_t *code_p, char *err,
                    size_t errlen);
/* Forgets a request (its caller went away) without calling done. 0, or -1
   when it is not pending. */
int
rfk_scatter_cancel (rfk_scatter_t *self, uint64_t request);

/* Handles what the workers sent, without blocking; returns how many
   messages were read. */
int
rfk_scatter_recv (rfk_scatter_t *self);
/* The nearest deadline (zclock_mono () ms, rounded up): a batch window, a
   request deadline, a worker expiry; -1 when none. 0 when batches wait to be
   sent (call rfk_scatter_tick). */
int64_t
rfk_scatter_deadline (rfk_scatter_t *self);
/* Sends batches that are due, ends requests whose deadline passed, drops
   silent workers. Cheap when nothing is due. */
void
rfk_scatter_tick (rfk_scatter_t *self);

/* The counters now. */
void
rfk_scatter_stats (rfk_scatter_t *self, rfk_scatter_stats_t *stats);

#ifdef __cplusplus
}
#endif

#endif
