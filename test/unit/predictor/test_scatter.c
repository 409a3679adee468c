/*  test_scatter.c: the scatter-gather engine (broker/rfk_scatter.c) with
    fake inference workers.

    The engine and its fake workers (raw DEALERs speaking the infer family)
    run in the test's thread: a pump polls them all, with the engine's
    deadline as the poll timeout, until what the test waits for happened or
    a deadline passed. Workers answer by a rule (echo, a fixed prediction,
    an error for one query, hold, never), so each test sees exactly what a
    caller of the engine would: the predictions, how many members were asked
    and answered, the error code, and when.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <inttypes.h>
#include <math.h>
#include <msgpack.h>

#include "rfk_envelope.h"
#include "rfk_scatter.h"
#include "rfk_test_worker.h"

/* The fake workers are test/lib's (rfk_test_worker.h). */
typedef rfk_test_worker_t s_worker_t;
#define W_ECHO RFK_TEST_WORKER_ECHO
#define W_FIXED RFK_TEST_WORKER_FIXED
#define W_BAD_FIRST RFK_TEST_WORKER_BAD_FIRST
#define W_HOLD RFK_TEST_WORKER_HOLD
#define W_SILENT RFK_TEST_WORKER_SILENT
#define W_FAIL RFK_TEST_WORKER_FAIL

/* A worker of the engine, which must start. */
static s_worker_t *
s_worker_new (rfk_scatter_t *engine, const char *trial, rfk_test_worker_mode_t mode,
              const char *fixed_json)
{
    s_worker_t *worker =
        rfk_test_worker_new (rfk_scatter_endpoint (engine), trial, mode, fixed_json);
    assert_non_null (worker);
    return worker;
}

/*  msgpack bytes of a JSON text; free with free (). */
static char *
s_mp (const char *json_text, size_t *size)
{
    char *data = rfk_test_msgpack_of (json_text, size);
    assert_non_null (data);
    return data;
}

/* ---------------------------------------------------------------------- */
/* results and the pump */

typedef struct {
    int done;            /* callbacks so far */
    rfk_code_t code;     /* the last one's */
    json_t *predictions; /* the last one's, as JSON */
    uint32_t members, answered;
    int64_t at; /* when (mono ms) */
} s_result_t;

static void
s_on_done (rfk_scatter_t *scatter, uint64_t request, const rfk_scatter_result_t *result, void *arg)
{
    (void)scatter;
    (void)request;
    s_result_t *out = (s_result_t *)arg;
    out->done++;
    out->code = result->code;
    json_decref (out->predictions);
    out->predictions =
        result->code == RFK_CODE_OK ? rfk_test_json_of (result->data, result->size) : NULL;
    out->members = result->members;
    out->answered = result->members_answered;
    out->at = zclock_mono ();
}

static uint64_t
s_submit (rfk_scatter_t *engine, const char *queries_json, int deadline_ms, s_result_t *out)
{
    size_t size;
    char *data = s_mp (queries_json, &size);
    char err[256];
    rfk_code_t code;
    uint64_t id = rfk_scatter_submit (engine, data, size, deadline_ms, s_on_done, out, &code, err,
                                      sizeof err);
    free (data);
    return id;
}

/*  Runs the engine and the workers until *done reaches want or timeout_ms
    passed; returns *done. */
static int
s_pump (rfk_scatter_t *engine, s_worker_t **workers, size_t n_workers, const int *done, int want,
        int timeout_ms)
{
    int64_t until = zclock_mono () + timeout_ms;
    while ((!done || *done < want) && zclock_mono () < until) {
        zmq_pollitem_t items[9];
        items[0] = (zmq_pollitem_t){zsock_resolve (rfk_scatter_sock (engine)), 0, ZMQ_POLLIN, 0};
        for (size_t w = 0; w < n_workers; w++)
            items[w + 1] = (zmq_pollitem_t){zsock_resolve (workers[w]->sock), 0, ZMQ_POLLIN, 0};
        int64_t next = rfk_scatter_deadline (engine);
        int64_t now = zclock_mono ();
        int timeout = 10;
        if (next >= 0 && next - now < timeout)
            timeout = next > now ? (int)(next - now) : 0;
        zmq_poll (items, (int)n_workers + 1, timeout);
        rfk_scatter_recv (engine);
        for (size_t w = 0; w < n_workers; w++) {
            rfk_test_worker_recv (workers[w]);
            rfk_test_worker_ping (workers[w], 50);
        }
        rfk_scatter_tick (engine);
    }
    return done ? *done : 0;
}

/*  Waits until the engine knows n workers. */
static void
s_wait_workers (rfk_scatter_t *engine, s_worker_t **workers, size_t n)
{
    int64_t until = zclock_mono () + 5000;
    rfk_scatter_stats_t stats;
    do {
        s_pump (engine, workers, n, NULL, 0, 5);
        rfk_scatter_stats (engine, &stats);
    } while (stats.workers < n && zclock_mono () < until);
    assert_int_equal (stats.workers, n);
}

static rfk_scatter_t *
s_engine (rfk_ensemble_t ensemble, int max_batch, int window_us, int deadline_ms)
{
    rfk_scatter_opts_t opts;
    rfk_scatter_opts_defaults (&opts);
    opts.ensemble = ensemble;
    opts.max_batch = max_batch;
    opts.batch_window_us = window_us;
    opts.deadline_ms = deadline_ms;
    opts.bus.heartbeat_interval_ms = 50;
    opts.bus.heartbeat_timeout_ms = 300;
    rfk_scatter_t *engine = rfk_scatter_new ("tcp://127.0.0.1:*", &opts);
    assert_non_null (engine);
    return engine;
}

static void
s_assert_predictions (const s_result_t *result, const char *expect_json)
{
    assert_int_equal (result->code, RFK_CODE_OK);
    json_t *expect = json_loads (expect_json, JSON_DECODE_ANY, NULL);
    assert_non_null (expect);
    char *got = json_dumps (result->predictions, JSON_COMPACT | JSON_ENCODE_ANY);
    char *want = json_dumps (expect, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!json_equal (expect, result->predictions))
        fail_msg ("predictions %s, expected %s", got, want);
    free (got);
    free (want);
    json_decref (expect);
}

static void
s_assert_vector (const json_t *vector, const double *expect, size_t n)
{
    assert_true (json_is_array (vector));
    assert_int_equal (json_array_size (vector), n);
    for (size_t i = 0; i < n; i++)
        assert_true (fabs (json_number_value (json_array_get (vector, i)) - expect[i]) < 1e-9);
}

/* ---------------------------------------------------------------------- */
/* tests */

/*  Usage: an engine on a ROUTER, a worker that says WorkerReady, a request
    of two queries, its predictions in query order. */
static void
test_usage (void **state)
{
    (void)state;
    rfk_scatter_t *engine = s_engine (RFK_ENSEMBLE_FIRST, 32, 500, 1000);
    s_worker_t *workers[] = {s_worker_new (engine, "trial-1", W_ECHO, NULL)};
    s_wait_workers (engine, workers, 1);

    s_result_t result = {0};
    assert_true (s_submit (engine, "[{\"x\": 1}, [1, 2]]", 0, &result) > 0);
    assert_int_equal (s_pump (engine, workers, 1, &result.done, 1, 2000), 1);
    s_assert_predictions (&result, "[{\"x\": 1}, [1, 2]]");
    assert_int_equal (result.members, 1);
    assert_int_equal (result.answered, 1);

    rfk_scatter_stats_t stats;
    rfk_scatter_stats (engine, &stats);
    assert_int_equal (stats.inflight, 0);
    assert_int_equal (stats.batches, 1);
    json_decref (result.predictions);
    rfk_test_worker_destroy (&workers[0]);
    rfk_scatter_destroy (&engine);
}

/*  Three trials answer a query; the ensemble depends on the task. */
static void
s_ensemble_case (rfk_ensemble_t ensemble, const char *a, const char *b, const char *c,
                 s_result_t *result)
{
    rfk_scatter_t *engine = s_engine (ensemble, 32, 500, 1000);
    /*  Members in this order, whichever worker says WorkerReady first. */
    assert_int_equal (rfk_scatter_expect_trial (engine, "a"), 0);
    assert_int_equal (rfk_scatter_expect_trial (engine, "b"), 0);
    assert_int_equal (rfk_scatter_expect_trial (engine, "c"), 0);
    s_worker_t *workers[] = {s_worker_new (engine, "a", W_FIXED, a),
                             s_worker_new (engine, "b", W_FIXED, b),
                             s_worker_new (engine, "c", W_FIXED, c)};
    s_wait_workers (engine, workers, 3);
    assert_true (s_submit (engine, "[1, 2]", 0, result) > 0);
    assert_int_equal (s_pump (engine, workers, 3, &result->done, 1, 2000), 1);
    assert_int_equal (result->members, 3);
    assert_int_equal (result->answered, 3);
    for (int w = 0; w < 3; w++)
        rfk_test_worker_destroy (&workers[w]);
    rfk_scatter_destroy (&engine);
}

static void
test_ensemble_classification (void **state)
{
    (void)state;
    s_result_t result = {0};
    /*  A member that knows fewer classes counts 0 for the others. */
    s_ensemble_case (RFK_ENSEMBLE_MEAN_VEC, "[0.2, 0.8]", "[0.6, 0.4]", "[1.0]", &result);
    assert_int_equal (result.code, RFK_CODE_OK);
    const double expect[] = {0.6, 0.4};
    s_assert_vector (json_array_get (result.predictions, 0), expect, 2);
    s_assert_vector (json_array_get (result.predictions, 1), expect, 2);
    json_decref (result.predictions);
    assert_int_equal (rfk_ensemble_of_task ("IMAGE_CLASSIFICATION"), RFK_ENSEMBLE_MEAN_VEC);
    assert_int_equal (rfk_ensemble_of_task ("TABULAR_CLASSIFICATION"), RFK_ENSEMBLE_MEAN_VEC);
}

static void
test_ensemble_regression (void **state)
{
    (void)state;
    s_result_t result = {0};
    s_ensemble_case (RFK_ENSEMBLE_MEAN, "1", "2.5", "5.5", &result);
    assert_int_equal (result.code, RFK_CODE_OK);
    assert_true (fabs (json_number_value (json_array_get (result.predictions, 0)) - 3.0) < 1e-12);
    json_decref (result.predictions);
    assert_int_equal (rfk_ensemble_of_task ("TABULAR_REGRESSION"), RFK_ENSEMBLE_MEAN);
}

static void
test_ensemble_tagging (void **state)
{
    (void)state;
    s_result_t result = {0};
    /*  Per token: "nn" twice against "vb"; "at", "in", "jj" once each: the
        earliest member's wins the tie. */
    s_ensemble_case (RFK_ENSEMBLE_MAJORITY, "[\"at\", \"vb\"]", "[\"in\", \"nn\"]",
                     "[\"jj\", \"nn\"]", &result);
    s_assert_predictions (&result, "[[\"at\", \"nn\"], [\"at\", \"nn\"]]");
    json_decref (result.predictions);
    assert_int_equal (rfk_ensemble_of_task ("POS_TAGGING"), RFK_ENSEMBLE_MAJORITY);
}

static void
test_ensemble_first (void **state)
{
    (void)state;
    s_result_t result = {0};
    s_ensemble_case (RFK_ENSEMBLE_FIRST, "\"x\"", "\"y\"", "\"z\"", &result);
    s_assert_predictions (&result, "[\"x\", \"x\"]");
    json_decref (result.predictions);
    /*  Answers that are not of the task's shape: the first is taken. */
    memset (&result, 0, sizeof result);
    s_ensemble_case (RFK_ENSEMBLE_MEAN_VEC, "\"x\"", "[0.5, 0.5]", "[1, 0]", &result);
    s_assert_predictions (&result, "[\"x\", \"x\"]");
    json_decref (result.predictions);
    assert_int_equal (rfk_ensemble_of_task ("SOMETHING_ELSE"), RFK_ENSEMBLE_FIRST);
    assert_int_equal (rfk_ensemble_of_task (NULL), RFK_ENSEMBLE_FIRST);
}

/*  A query one member refused is answered by the others; one every member
    refused keeps the error, alone. */
static void
test_query_errors (void **state)
{
    (void)state;
    rfk_scatter_t *engine = s_engine (RFK_ENSEMBLE_MEAN, 32, 500, 1000);
    s_worker_t *workers[] = {s_worker_new (engine, "a", W_BAD_FIRST, NULL),
                             s_worker_new (engine, "b", W_ECHO, NULL)};
    s_wait_workers (engine, workers, 2);
    s_result_t result = {0};
    assert_true (s_submit (engine, "[4, 6]", 0, &result) > 0);
    assert_int_equal (s_pump (engine, workers, 2, &result.done, 1, 2000), 1);
    assert_int_equal (result.code, RFK_CODE_OK);
    assert_int_equal (json_integer_value (json_array_get (result.predictions, 0)), 4);
    assert_true (fabs (json_number_value (json_array_get (result.predictions, 1)) - 6.0) < 1e-12);
    json_decref (result.predictions);
    rfk_test_worker_destroy (&workers[1]);

    rfk_scatter_t *alone = s_engine (RFK_ENSEMBLE_MEAN, 32, 500, 1000);
    s_worker_t *bad[] = {s_worker_new (alone, "a", W_BAD_FIRST, NULL)};
    s_wait_workers (alone, bad, 1);
    memset (&result, 0, sizeof result);
    assert_true (s_submit (alone, "[4, 6]", 0, &result) > 0);
    assert_int_equal (s_pump (alone, bad, 1, &result.done, 1, 2000), 1);
    s_assert_predictions (&result, "[{\"error\": \"bad query\"}, 6]");
    json_decref (result.predictions);

    /*  A member that fails the whole batch: its error for every query. */
    rfk_test_worker_destroy (&workers[0]);
    rfk_scatter_t *fail_engine = s_engine (RFK_ENSEMBLE_MEAN, 32, 500, 1000);
    s_worker_t *failing[] = {s_worker_new (fail_engine, "c", W_FAIL, NULL)};
    s_wait_workers (fail_engine, failing, 1);
    memset (&result, 0, sizeof result);
    assert_true (s_submit (fail_engine, "[1]", 0, &result) > 0);
    assert_int_equal (s_pump (fail_engine, failing, 1, &result.done, 1, 3000), 1);
    assert_int_equal (result.code, RFK_CODE_OK);
    const char *message =
        json_string_value (json_object_get (json_array_get (result.predictions, 0), "error"));
    assert_non_null (message);
    assert_non_null (strstr (message, "the model crashed"));
    json_decref (result.predictions);
    rfk_test_worker_destroy (&failing[0]);
    rfk_test_worker_destroy (&bad[0]);
    rfk_scatter_destroy (&fail_engine);
    rfk_scatter_destroy (&alone);
    rfk_scatter_destroy (&engine);
}

/*  Many single queries while the worker is busy reach it as few batches. */
static void
test_batching (void **state)
{
    (void)state;
    /*  A window (1 s) far longer than the submissions take even on a loaded
        machine, so the last 7 queries wait in the open batch. */
    rfk_scatter_t *engine = s_engine (RFK_ENSEMBLE_FIRST, 8, 1000000, 5000);
    s_worker_t *workers[] = {s_worker_new (engine, "a", W_HOLD, NULL)};
    s_wait_workers (engine, workers, 1);
    s_result_t results[40];
    memset (results, 0, sizeof results);
    int done = 0;
    for (int i = 0; i < 40; i++) {
        char query[32];
        snprintf (query, sizeof query, "[%d]", i);
        assert_true (s_submit (engine, query, 0, &results[i]) > 0);
        /*  The first goes at once (the worker is idle); the others wait
            behind it and fill batches of 8. */
        s_pump (engine, workers, 1, NULL, 0, 1);
    }
    s_pump (engine, workers, 1, NULL, 0, 20);
    assert_int_equal (workers[0]->queries, 1 + 8 * 4);
    rfk_test_worker_release (workers[0]);
    int64_t until = zclock_mono () + 3000;
    while (zclock_mono () < until) {
        done = 0;
        for (int i = 0; i < 40; i++)
            done += results[i].done;
        if (done == 40)
            break;
        s_pump (engine, workers, 1, NULL, 0, 5);
        rfk_test_worker_release (workers[0]);
    }
    assert_int_equal (done, 40);
    for (int i = 0; i < 40; i++) {
        assert_int_equal (results[i].code, RFK_CODE_OK);
        assert_int_equal (json_integer_value (json_array_get (results[i].predictions, 0)), i);
        json_decref (results[i].predictions);
    }
    /*  40 queries in 1 + 5 batches (the last 7 after the window or when
        the worker was idle again). */
    assert_int_equal (workers[0]->queries, 40);
    assert_true (workers[0]->batches <= 7);
    rfk_test_worker_destroy (&workers[0]);
    rfk_scatter_destroy (&engine);
}

/*  A member that never answers does not delay the reply past the
    deadline; its late answer is dropped and counted. */
static void
test_deadline (void **state)
{
    (void)state;
    rfk_scatter_t *engine = s_engine (RFK_ENSEMBLE_MEAN, 32, 500, 5000);
    s_worker_t *workers[] = {s_worker_new (engine, "fast", W_FIXED, "2"),
                             s_worker_new (engine, "slow", W_HOLD, NULL)};
    s_wait_workers (engine, workers, 2);
    s_result_t result = {0};
    int64_t start = zclock_mono ();
    assert_true (s_submit (engine, "[1]", 150, &result) > 0);
    assert_int_equal (s_pump (engine, workers, 2, &result.done, 1, 3000), 1);
    int64_t took = result.at - start;
    //  The reply came at the deadline, not when the slow member (which
    //  never answers) would have: the bound is loose so that a loaded
    //  machine cannot fail it, and far below the pump's own 3 s.
    assert_true (took >= 140);
    assert_true (took < 2000);
    s_assert_predictions (&result, "[2]");
    assert_int_equal (result.members, 2);
    assert_int_equal (result.answered, 1);
    json_decref (result.predictions);
    rfk_test_worker_release (workers[1]);
    rfk_scatter_stats_t stats;
    int64_t until = zclock_mono () + 3000;
    do {
        s_pump (engine, workers, 2, NULL, 0, 50);
        rfk_scatter_stats (engine, &stats);
    } while (stats.late < 1 && zclock_mono () < until);
    assert_int_equal (stats.late, 1);
    assert_int_equal (stats.timeouts, 1);
    assert_int_equal (stats.inflight, 0);

    /*  Nobody answers at all: TIMEOUT, at the deadline. */
    workers[0]->mode = W_HOLD;
    memset (&result, 0, sizeof result);
    start = zclock_mono ();
    assert_true (s_submit (engine, "[1]", 100, &result) > 0);
    assert_int_equal (s_pump (engine, workers, 2, &result.done, 1, 3000), 1);
    assert_int_equal (result.code, RFK_CODE_TIMEOUT);
    assert_true (result.at - start < 2000);
    rfk_test_worker_destroy (&workers[0]);
    rfk_test_worker_destroy (&workers[1]);
    rfk_scatter_destroy (&engine);
}

/*  A replica that goes silent while it holds a batch is dropped and the
    batch goes to the other replica, well before the deadline. */
static void
test_worker_lost (void **state)
{
    (void)state;
    rfk_scatter_t *engine = s_engine (RFK_ENSEMBLE_FIRST, 32, 500, 3000);
    s_worker_t *workers[] = {s_worker_new (engine, "t", W_SILENT, NULL),
                             s_worker_new (engine, "t", W_ECHO, NULL)};
    s_wait_workers (engine, workers, 2);
    /*  Two batches, one to each idle replica: the silent one holds one. The
        engine reads nothing between the two (no answer of the echo can make
        it idle again), so the second batch must go to the other replica,
        however loaded the machine. */
    enum { MAX = 2 };
    s_result_t results[MAX];
    memset (results, 0, sizeof results);
    const char *queries[MAX] = {"[\"a\"]", "[\"b\"]"};
    int sent = 0;
    for (; sent < MAX; sent++) {
        assert_true (s_submit (engine, queries[sent], 0, &results[sent]) > 0);
        rfk_scatter_tick (engine);
    }
    int64_t held_until = zclock_mono () + 5000;
    while (workers[0]->batches == 0 && zclock_mono () < held_until)
        s_pump (engine, workers, 2, NULL, 0, 5);
    assert_int_equal (workers[0]->batches, 1);
    int64_t start = zclock_mono ();
    int64_t until = start + 3000;
    int done = 0;
    while (done < sent && zclock_mono () < until) {
        s_pump (engine, workers, 2, NULL, 0, 5);
        done = 0;
        for (int i = 0; i < sent; i++)
            done += results[i].done;
    }
    assert_int_equal (done, sent);
    for (int i = 0; i < sent; i++)
        s_assert_predictions (&results[i], queries[i]);
    rfk_scatter_stats_t stats;
    rfk_scatter_stats (engine, &stats);
    /*  The silent one held a batch: re-sent after the 300 ms timeout, long
        before the 3 s deadline. */
    assert_int_equal (workers[0]->batches, 1);
    assert_int_equal (stats.workers_lost, 1);
    assert_int_equal (stats.resent, 1);
    assert_true (zclock_mono () - start < 2000);
    assert_int_equal (stats.workers, 1);
    for (int i = 0; i < sent; i++)
        json_decref (results[i].predictions);
    rfk_test_worker_destroy (&workers[0]);
    rfk_test_worker_destroy (&workers[1]);
    rfk_scatter_destroy (&engine);
}

/*  A lost worker that held many batches (more than the engine's first
    guess of 16): every one of them is re-sent to the other replica. */
static void
test_worker_lost_many (void **state)
{
    (void)state;
    rfk_scatter_t *engine = s_engine (RFK_ENSEMBLE_FIRST, 1, 500, 4000);
    s_worker_t *workers[] = {s_worker_new (engine, "t", W_SILENT, NULL), NULL};
    s_wait_workers (engine, workers, 1);
    enum { N = 40 };
    s_result_t results[N];
    memset (results, 0, sizeof results);
    for (int i = 0; i < N; i++) {
        char query[32];
        snprintf (query, sizeof query, "[%d]", i);
        assert_true (s_submit (engine, query, 0, &results[i]) > 0);
    }
    //  All 40 batches go to the silent one: pump until it holds them (a
    //  loaded machine may take a while), well within the 4 s deadline.
    int64_t held_by = zclock_mono () + 2000;
    while (workers[0]->batches < N && zclock_mono () < held_by)
        s_pump (engine, workers, 1, NULL, 0, 10);
    assert_int_equal (workers[0]->batches, N);
    workers[1] = s_worker_new (engine, "t", W_ECHO, NULL);
    s_wait_workers (engine, workers, 2);
    int done = 0;
    int64_t until = zclock_mono () + 3000;
    while (done < N && zclock_mono () < until) {
        s_pump (engine, workers, 2, NULL, 0, 5);
        done = 0;
        for (int i = 0; i < N; i++)
            done += results[i].done;
    }
    assert_int_equal (done, N);
    for (int i = 0; i < N; i++) {
        char expect[32];
        snprintf (expect, sizeof expect, "[%d]", i);
        s_assert_predictions (&results[i], expect);
        json_decref (results[i].predictions);
    }
    rfk_scatter_stats_t stats;
    rfk_scatter_stats (engine, &stats);
    assert_int_equal (stats.workers_lost, 1);
    assert_int_equal (stats.resent, N);
    rfk_test_worker_destroy (&workers[0]);
    rfk_test_worker_destroy (&workers[1]);
    rfk_scatter_destroy (&engine);
}

/*  Refusals come at once: no worker, over max_inflight, not an array. */
static void
test_refusals (void **state)
{
    (void)state;
    rfk_scatter_opts_t opts;
    rfk_scatter_opts_defaults (&opts);
    opts.max_inflight = 3;
    rfk_scatter_t *engine = rfk_scatter_new ("tcp://127.0.0.1:*", &opts);
    assert_non_null (engine);
    char err[256];
    rfk_code_t code = RFK_CODE_OK;
    size_t size;
    char *data = s_mp ("[1]", &size);
    s_result_t result = {0};
    assert_int_equal (
        rfk_scatter_submit (engine, data, size, 0, s_on_done, &result, &code, err, sizeof err), 0);
    assert_int_equal (code, RFK_CODE_UNAVAILABLE);
    assert_non_null (strstr (err, "no inference worker"));
    free (data);

    s_worker_t *workers[] = {s_worker_new (engine, "a", W_HOLD, NULL)};
    s_wait_workers (engine, workers, 1);
    s_result_t held = {0};
    assert_true (s_submit (engine, "[1, 2, 3]", 0, &held) > 0);
    data = s_mp ("[4]", &size);
    assert_int_equal (
        rfk_scatter_submit (engine, data, size, 0, s_on_done, &result, &code, err, sizeof err), 0);
    assert_int_equal (code, RFK_CODE_UNAVAILABLE);
    free (data);
    const char *bad[] = {"{\"a\": 1}", "[]", "3", "\"text\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        data = s_mp (bad[i], &size);
        assert_int_equal (
            rfk_scatter_submit (engine, data, size, 0, s_on_done, &result, &code, err, sizeof err),
            0);
        assert_int_equal (code, RFK_CODE_BAD_REQUEST);
        free (data);
    }
    /*  Truncated and garbage msgpack. */
    const unsigned char garbage[][4] = {
        {0x92, 0x01, 0, 0}, {0xc1, 0, 0, 0}, {0xdd, 0xff, 0xff, 0xff}};
    const size_t sizes[] = {2, 1, 4};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal (rfk_scatter_submit (engine, garbage[i], sizes[i], 0, s_on_done, &result,
                                              &code, err, sizeof err),
                          0);
        assert_int_equal (code, RFK_CODE_BAD_REQUEST);
    }
    assert_int_equal (result.done, 0);
    /*  Cancelled: never called back, in-flight count back to 0. */
    rfk_scatter_stats_t stats;
    rfk_scatter_stats (engine, &stats);
    assert_int_equal (stats.inflight, 3);
    s_pump (engine, workers, 1, NULL, 0, 20);
    s_result_t cancelled = {0};
    uint64_t id = s_submit (engine, "[9]", 0, &cancelled);
    assert_int_equal (id, 0); /* still full */
    rfk_test_worker_release (workers[0]);
    assert_int_equal (s_pump (engine, workers, 1, &held.done, 1, 2000), 1);
    id = s_submit (engine, "[9]", 0, &cancelled);
    assert_true (id > 0);
    assert_int_equal (rfk_scatter_cancel (engine, id), 0);
    assert_int_equal (rfk_scatter_cancel (engine, id), -1);
    s_pump (engine, workers, 1, NULL, 0, 50);
    rfk_test_worker_release (workers[0]);
    s_pump (engine, workers, 1, NULL, 0, 50);
    assert_int_equal (cancelled.done, 0);
    rfk_scatter_stats (engine, &stats);
    assert_int_equal (stats.inflight, 0);
    json_decref (held.predictions);
    rfk_test_worker_destroy (&workers[0]);
    rfk_scatter_destroy (&engine);
}

/*  Garbage from a worker never reaches a request; the engine keeps going. */
static void
test_bad_answers (void **state)
{
    (void)state;
    rfk_scatter_t *engine = s_engine (RFK_ENSEMBLE_FIRST, 32, 500, 1000);
    s_worker_t *workers[] = {s_worker_new (engine, "a", W_HOLD, NULL)};
    s_wait_workers (engine, workers, 1);
    s_result_t result = {0};
    assert_true (s_submit (engine, "[1, 2]", 0, &result) > 0);
    int64_t until = zclock_mono () + 5000; /* until the worker holds it, however loaded */
    while (zlistx_size (workers[0]->held) == 0 && zclock_mono () < until)
        s_pump (engine, workers, 1, NULL, 0, 5);
    rfk_msg_t *batch = (rfk_msg_t *)zlistx_first (workers[0]->held);
    assert_non_null (batch);
    /*  Wrong count, garbage data, unknown batch id, raw junk frames. */
    const char *answers[] = {"[1]", NULL};
    rfk_msg_t *reply = rfk_msg_new (&rfk_infer_family, "PredictionBatch", 0);
    json_object_set_new (reply->body, "batch_id", json_integer (999));
    rfk_msg_set_data (reply, "\x91\x01", 2);
    rfk_envelope_send (workers[0]->sock, reply, 1 << 20);
    rfk_msg_destroy (&reply);
    zstr_send (workers[0]->sock, "junk");
    size_t size;
    char *data = s_mp (answers[0], &size);
    reply = rfk_msg_new (&rfk_infer_family, "PredictionBatch", 0);
    json_object_set (reply->body, "batch_id", json_object_get (batch->body, "batch_id"));
    rfk_msg_set_data (reply, data, size);
    rfk_envelope_send (workers[0]->sock, reply, 1 << 20);
    rfk_msg_destroy (&reply);
    free (data);
    assert_int_equal (s_pump (engine, workers, 1, &result.done, 1, 2000), 1);
    assert_int_equal (result.code, RFK_CODE_OK);
    const char *message =
        json_string_value (json_object_get (json_array_get (result.predictions, 0), "error"));
    assert_non_null (message);
    assert_non_null (strstr (message, "other than 2 predictions"));
    json_decref (result.predictions);
    /*  And still serves. */
    workers[0]->mode = W_ECHO;
    memset (&result, 0, sizeof result);
    assert_true (s_submit (engine, "[7]", 0, &result) > 0);
    assert_int_equal (s_pump (engine, workers, 1, &result.done, 1, 2000), 1);
    s_assert_predictions (&result, "[7]");
    json_decref (result.predictions);
    rfk_test_worker_destroy (&workers[0]);
    rfk_scatter_destroy (&engine);
}

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_ensemble_classification),
        cmocka_unit_test (test_ensemble_regression),
        cmocka_unit_test (test_ensemble_tagging),
        cmocka_unit_test (test_ensemble_first),
        cmocka_unit_test (test_query_errors),
        cmocka_unit_test (test_batching),
        cmocka_unit_test (test_deadline),
        cmocka_unit_test (test_worker_lost),
        cmocka_unit_test (test_worker_lost_many),
        cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_bad_answers),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
