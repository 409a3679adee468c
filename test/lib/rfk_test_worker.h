/*  rfk_test_worker (test/lib): fake inference workers, and msgpack from
    and to JSON for readable tests.

    A fake worker is a raw DEALER speaking the infer family to a predictor's
    (or a scatter engine's) `workers` ROUTER: it says WorkerReady for its
    trial, then answers each QueryBatch by a rule (echo, a fixed prediction,
    an error for the first query, hold until released, never, fail the
    batch) and counts what it got. It runs in the test's thread: call
    rfk_test_worker_recv when its socket is readable (or regularly) and
    rfk_test_worker_ping to send heartbeats.
*/
#ifndef RFK_TEST_WORKER_H_INCLUDED
#define RFK_TEST_WORKER_H_INCLUDED

#include <czmq.h>
#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>

typedef enum {
    RFK_TEST_WORKER_ECHO,      /* answers each query with itself */
    RFK_TEST_WORKER_FIXED,     /* answers each query with a fixed prediction */
    RFK_TEST_WORKER_BAD_FIRST, /* a per-query error for the first query, echo for the others */
    RFK_TEST_WORKER_HOLD,      /* keeps batches until released */
    RFK_TEST_WORKER_SILENT,    /* never answers, never pings */
    RFK_TEST_WORKER_FAIL       /* answers every batch with an error */
} rfk_test_worker_mode_t;

typedef struct {
    zsock_t *sock;               /* DEALER to the engine */
    const char *trial;           /* its trial (borrowed) */
    rfk_test_worker_mode_t mode; /* how it answers */
    char *fixed;                 /* FIXED: one prediction, msgpack */
    size_t fixed_size;           /* its size */
    int batches;                 /* batches received */
    int queries;                 /* queries received */
    zlistx_t *held;              /* HOLD: QueryBatch messages */
    int64_t next_ping;           /* when it pings next (zclock_mono) */
} rfk_test_worker_t;

/* A worker for trial (borrowed) connected to endpoint, which has said
   WorkerReady; fixed_json is FIXED's prediction. NULL on failure. */
rfk_test_worker_t *
rfk_test_worker_new (const char *endpoint, const char *trial, rfk_test_worker_mode_t mode,
                     const char *fixed_json);
void
rfk_test_worker_destroy (rfk_test_worker_t **self_p);
/* Takes every message waiting and answers by the rule. */
void
rfk_test_worker_recv (rfk_test_worker_t *self);
/* HOLD: answers the held batches now. */
void
rfk_test_worker_release (rfk_test_worker_t *self);
/* Sends a Heartbeat when interval_ms passed since the last (not SILENT). */
void
rfk_test_worker_ping (rfk_test_worker_t *self, int interval_ms);

/* msgpack bytes of a JSON text (free with free ()); NULL if it is not
   JSON. */
char *
rfk_test_msgpack_of (const char *json_text, size_t *size);
/* Packs a JSON value. */
void
rfk_test_msgpack_pack_json (msgpack_packer *pk, const json_t *value);
/* A msgpack object as JSON (ext: {"error": text}); new reference. */
json_t *
rfk_test_json_of_object (const msgpack_object *o);
/* msgpack bytes as JSON, NULL if they do not parse; new reference. */
json_t *
rfk_test_json_of (const void *data, size_t size);

#endif
