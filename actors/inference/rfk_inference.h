/*  rfk_inference.h: the inference worker actor, one or more per deployed
    trial.

    A worker holds one trained model in memory: it opens the trial's template
    (rfk_template_open), creates a model with the trial's knobs and loads its
    parameters (the msgpack file the trainer saved). Its DEALER talks to the
    predictor's ROUTER `workers` (the `infer` family):

        WorkerReady (at start, then every heartbeat_timeout_ms / 2 as a
        keepalive, and at once when the predictor says it does not know us)
        QueryBatch{batch_id, n, data} -> PredictionBatch{batch_id, data | error}
        Heartbeat (pings, as every rfk_client)

    A call into the template that does not return within its limit ends
    the process with the log line RFK-STUCK (rfk_watchdog.h): a predict
    (or destroy) after inference.predict_timeout_s, loading the model after
    service.orphan_timeout_s, and never later than that: a worker stuck in
    template code cannot hear admin, so it must not outlive it. The
    predictor sees it as a lost worker.

    A query the template rejects (rafiki_pack_query_error) keeps its error in
    its place in the batch; when the template fails a whole batch, the worker
    predicts its queries one by one so that only the bad ones get an error.
    An answer that is not one prediction per query is answered with an error.

    Two ways to start it:
    - as the `inference` role of rafikid (rfk_inference_actor, args an
      rfk_role_args_t *): with --service-id and its secret, it says Hello to
      admin's `service` socket; the ServiceConfig gives task,
      predictor_endpoint and trials[0] (trial_id, model_path, params_path,
      knobs; knobs may also come as config.knobs). It reports RUNNING (or
      ERRORED with the reason) and STOPPED, and ends on admin's Stop. Without
      --service-id it runs standalone from KEY=VALUE operands:
          rafikid inference predictor=tcp://HOST:PORT template=PATH
              [params=PATH] [knobs=JSON] [trial=ID] [task=TASK]
    - directly (rfk_inference_direct_actor, args an rfk_inference_args_t *),
      for tests and benchmarks.

    Pipe protocol (config/rfk_role.h): signals once, stops on "$TERM",
    answers "STATS" with a JSON object {batches, queries, failed_batches,
    query_errors, ready}, sends "FAILED" <reason> when the model cannot be
    loaded. The direct form stays after FAILED, answering "STATS", until
    "$TERM".
*/
#ifndef RFK_INFERENCE_H_INCLUDED
#define RFK_INFERENCE_H_INCLUDED

#include <czmq.h>
#include <jansson.h>

#include "rfk_bus.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the direct form needs; everything borrowed until the actor signals. */
typedef struct {
    const char *predictor_endpoint; /* the predictor's ROUTER `workers` */
    const char *model_path;         /* the template (.so) */
    const char *params_path;        /* the trial's parameters, or NULL: untrained */
    const json_t *knobs;            /* the trial's knob values, or NULL */
    const char *task;               /* the task the template must have, or NULL */
    const char *trial_id;           /* the member it serves, or NULL: "default" */
    const char *service_id;         /* how it names itself, or NULL */
    int delay_ms;                   /* tests: wait this long before each answer */
    int predict_timeout_ms;         /* a predict call stuck this long ends the process (0: none) */
    const rfk_bus_opts_t *bus;      /* NULL: the defaults */
} rfk_inference_args_t;

/* The `inference` role of rafikid; args is an rfk_role_args_t *. */
void
rfk_inference_actor (zsock_t *pipe, void *args);

/* The worker without admin; args is an rfk_inference_args_t *. */
void
rfk_inference_direct_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
