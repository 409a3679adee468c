/*  rfk_predictor.h: the predictor actor, one per inference job.

    The predictor answers prediction queries by fanning them out to the
    inference workers of the job's trials and ensembling their answers, with
    the scatter-gather engine beside it (rfk_scatter.h). It
    has three fronts, all in one loop on one thread:

    - HTTP (libmicrohttpd with MHD_USE_EPOLL and no thread of its own: its
      epoll descriptor sits in the loop's poll set). API.md's shapes:
          POST /predict {"query": q}       -> {"prediction": p, "predictions": []}
          POST /predict {"queries": [q..]} -> {"prediction": null, "predictions": [p..]}
      with an optional "deadline_ms" in the body or the query string. A
      /predict is suspended while its queries are out and resumed when the
      gather completes or its deadline passes. A query no member could answer
      is {"error": "..."} in its place. The headers X-Rafiki-Members and
      X-Rafiki-Members-Answered say how many trials were asked and answered.
      Errors are {"error": {"code", "message"}}: 400 invalid JSON or shape,
      404 unknown path, 405 wrong method, 413 body over max_body_bytes, 503
      over max_inflight or no worker ready, 504 nobody answered in time.
      GET /healthz -> {"status": "ok", "workers": n, "trials": t};
      GET /metrics -> Prometheus text.
    - ROUTER `query` (the `infer` family) for the SDK: PredictRequest{data,
      deadline_ms} -> PredictReply{data, members, members_answered} or
      Error{code, message} (UNAVAILABLE at once beyond max_inflight).
    - ROUTER `workers` (owned by the engine): inference workers' WorkerReady,
      PredictionBatch, Heartbeat.

    Three ways to start it:
    - the `predictor` role of rafikid with --service-id (and its secret): Hello
      to admin's `service` socket; the ServiceConfig gives task, the trials
      (each trial_id is a member) and bind_endpoints, in this order: the HTTP
      address "http://HOST:PORT", the `query` endpoint, the `workers` endpoint
      (PORT 0 / "*": any free port). It reports RUNNING with the message
      "http=http://HOST:PORT query=tcp://HOST:PORT workers=tcp://HOST:PORT"
      (the ports actually bound), STOPPED on $TERM, and ends on Stop;
    - the `predictor` role without --service-id, from KEY=VALUE operands:
          rafikid predictor [http=HOST:PORT] [query=tcp://HOST:PORT]
              [workers=tcp://HOST:PORT] [task=TASK] [trials=ID,ID...]
      (defaults: http=127.0.0.1:0 query=tcp://127.0.0.1:* workers=tcp://127.0.0.1:*),
      printing the same endpoints line on stdout;
    - directly (rfk_predictor_direct_actor, args an rfk_predictor_args_t *).
    Batching, deadlines and limits come from the predictor.* keys.

    Pipe protocol (config/rfk_role.h): signals once, stops on "$TERM",
    takes "SERVING-KEYS" followed by a message AUTH HASH... (AUTH "token" or
    "open", then the valid keys' hashes, as admin's ServingKeys), answered
    "OK" or the reason,
    answers "ENDPOINTS" with three frames (the HTTP URL, the query and the
    workers endpoints) and "STATS" with a JSON object of the engine's
    counters; sends "FAILED" <reason> when it cannot bind. The direct form
    stays after FAILED until "$TERM".
*/
#ifndef RFK_PREDICTOR_H_INCLUDED
#define RFK_PREDICTOR_H_INCLUDED

#include <czmq.h>

#include "rfk_bus.h"
#include "rfk_scatter.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the direct form needs; everything borrowed until the actor signals. */
typedef struct {
    const char *http;             /* "HOST:PORT" to serve HTTP on (PORT 0: any), NULL: none */
    const char *query_endpoint;   /* the SDK's ROUTER, e.g. "tcp://127.0.0.1:*"; NULL: none */
    const char *workers_endpoint; /* the workers' ROUTER, e.g. "tcp://127.0.0.1:*" */
    const char *const *trials;    /* expected trial ids, NULL-terminated, or NULL */
    rfk_scatter_opts_t scatter;   /* batching, deadlines, ensemble, bus */
    size_t max_body_bytes;        /* largest /predict body (413 above); 0: 16 MiB */
    unsigned http_per_address;    /* HTTP connections from one IP address; 0: no cap */
    unsigned http_read_timeout_s; /* slow HTTP clients (slowloris) cut after it; 0: never */
    bool auth_token;              /* `auth: token`: queries need a serving key (SERVING-KEYS) */
} rfk_predictor_args_t;

/* The `predictor` role of rafikid; args is an rfk_role_args_t *. */
void
rfk_predictor_actor (zsock_t *pipe, void *args);

/* The predictor without admin; args is an rfk_predictor_args_t *. */
void
rfk_predictor_direct_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
