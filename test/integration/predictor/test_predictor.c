/*  test_predictor.c: the predictor and inference worker actors, for real.

    The predictor runs as a direct actor on 127.0.0.1 (HTTP on a free port,
    ROUTERs on free ports); workers are direct actors holding real zoo
    templates (Echo, XgbClassifier, LinearClassifier), or rafikid processes
    when a test kills one. The tests speak HTTP with libcurl (many requests
    at once through curl's multi interface) and ZeroMQ with rfk_client, and
    check what a client sees: statuses, bodies, headers, how long it took.
    Waits are deadlines on the predictor's own counters, never sleeps.

    Environment (set by meson): RAFIKI_TEST_ECHO, RAFIKI_TEST_XGB,
    RAFIKI_TEST_LINEAR (template paths), RAFIKI_TEST_IRIS (folder of
    iris-train.csv, iris-val.csv), RAFIKID (the daemon).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <rafiki/template.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rfk_client.h"
#include "rfk_test.h"
#include "rfk_test_case.h"
#include "rfk_envelope.h"
#include "rfk_inference.h"
#include "rfk_predictor.h"

/* ---------------------------------------------------------------------- */
/* a predictor and its workers */

typedef struct {
    zactor_t *actor; /* the predictor */
    char *http;      /* "http://127.0.0.1:PORT" */
    char *query;     /* tcp://127.0.0.1:PORT */
    char *workers;   /* tcp://127.0.0.1:PORT */
} s_predictor_t;

static rfk_predictor_args_t
s_predictor_args (rfk_ensemble_t ensemble)
{
    rfk_predictor_args_t args = {.http = "127.0.0.1:0",
                                 .query_endpoint = "tcp://127.0.0.1:*",
                                 .workers_endpoint = "tcp://127.0.0.1:*"};
    rfk_scatter_opts_defaults (&args.scatter);
    args.scatter.ensemble = ensemble;
    args.scatter.bus.heartbeat_interval_ms = 200;
    args.scatter.bus.heartbeat_timeout_ms = 1000;
    return args;
}

static s_predictor_t
s_predictor_start (const rfk_predictor_args_t *args)
{
    s_predictor_t predictor = {0};
    predictor.actor = zactor_new (rfk_predictor_direct_actor, (void *)args);
    assert_non_null (predictor.actor);
    zstr_send (predictor.actor, "ENDPOINTS");
    zstr_recvx (predictor.actor, &predictor.http, &predictor.query, &predictor.workers, NULL);
    assert_non_null (predictor.http);
    assert_true (strncmp (predictor.http, "http://127.0.0.1:", 17) == 0);
    return predictor;
}

static void
s_predictor_stop (s_predictor_t *predictor)
{
    zactor_destroy (&predictor->actor);
    zstr_free (&predictor->http);
    zstr_free (&predictor->query);
    zstr_free (&predictor->workers);
}

/*  The predictor's counters. */
static json_t *
s_stats (zactor_t *actor)
{
    zstr_send (actor, "STATS");
    char *text = zstr_recv (actor);
    assert_non_null (text);
    json_t *stats = json_loads (text, 0, NULL);
    zstr_free (&text);
    assert_non_null (stats);
    return stats;
}

static int64_t
s_stat (zactor_t *actor, const char *name)
{
    json_t *stats = s_stats (actor);
    int64_t value = json_integer_value (json_object_get (stats, name));
    json_decref (stats);
    return value;
}

typedef struct {
    zactor_t *actor; /* the predictor */
    int64_t count;   /* workers wanted */
} s_workers_wait_t;

static bool
s_workers_ready (void *arg)
{
    s_workers_wait_t *wait = arg;
    return s_stat (wait->actor, "workers") == wait->count;
}

/*  Waits (a deadline, polling the counters) until count workers are ready. */
static void
s_wait_workers (zactor_t *actor, int64_t count, int timeout_ms)
{
    s_workers_wait_t wait = {actor, count};
    rfk_test_wait_until (s_workers_ready, &wait, NULL, timeout_ms);
    assert_int_equal (s_stat (actor, "workers"), count);
}

static rfk_bus_opts_t s_worker_bus;

static zactor_t *
s_worker_start (const char *endpoint, const char *template_path, const char *params,
                const json_t *knobs, const char *trial, int delay_ms)
{
    rfk_bus_opts_defaults (&s_worker_bus);
    s_worker_bus.heartbeat_interval_ms = 200;
    s_worker_bus.heartbeat_timeout_ms = 1000;
    rfk_inference_args_t args = {.predictor_endpoint = endpoint,
                                 .model_path = template_path,
                                 .params_path = params,
                                 .knobs = knobs,
                                 .trial_id = trial,
                                 .delay_ms = delay_ms,
                                 .bus = &s_worker_bus};
    zactor_t *worker = zactor_new (rfk_inference_direct_actor, &args);
    assert_non_null (worker);
    return worker;
}

/* ---------------------------------------------------------------------- */
/* HTTP with libcurl */

typedef struct {
    CURL *easy;
    char *body; /* the response body */
    size_t size;
    long status;           /* HTTP status, 0 if the request failed */
    int members;           /* X-Rafiki-Members, -1 if absent */
    int answered;          /* X-Rafiki-Members-Answered */
    bool cors;             /* Access-Control-Allow-Origin: * */
    char cors_methods[64]; /* Access-Control-Allow-Methods */
    int64_t started, ended;
    struct curl_slist *headers;
} s_call_t;

static size_t
s_on_body (char *data, size_t size, size_t count, void *arg)
{
    s_call_t *call = (s_call_t *)arg;
    char *body = (char *)realloc (call->body, call->size + size * count + 1);
    if (!body)
        return 0;
    call->body = body;
    memcpy (call->body + call->size, data, size * count);
    call->size += size * count;
    call->body[call->size] = 0;
    return size * count;
}

static size_t
s_on_header (char *data, size_t size, size_t count, void *arg)
{
    s_call_t *call = (s_call_t *)arg;
    if (strncasecmp (data, "X-Rafiki-Members:", 17) == 0)
        call->members = atoi (data + 17);
    else if (strncasecmp (data, "X-Rafiki-Members-Answered:", 26) == 0)
        call->answered = atoi (data + 26);
    else if (strncasecmp (data, "Access-Control-Allow-Origin: *", 30) == 0)
        call->cors = true;
    else if (strncasecmp (data, "Access-Control-Allow-Methods:", 29) == 0)
        snprintf (call->cors_methods, sizeof call->cors_methods, "%.*s",
                  (int)strcspn (data + 29, "\r\n"), data + 29);
    return size * count;
}

/*  Prepares a call; body NULL means no body. */
static void
s_call_init (s_call_t *call, const char *method, const char *url, const char *body,
             size_t body_size)
{
    memset (call, 0, sizeof *call);
    call->members = call->answered = -1;
    call->easy = curl_easy_init ();
    assert_non_null (call->easy);
    curl_easy_setopt (call->easy, CURLOPT_URL, url);
    curl_easy_setopt (call->easy, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (call->easy, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (call->easy, CURLOPT_WRITEDATA, call);
    curl_easy_setopt (call->easy, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt (call->easy, CURLOPT_HEADERDATA, call);
    curl_easy_setopt (call->easy, CURLOPT_TIMEOUT_MS, 20000L); /* a hung request fails */
    curl_easy_setopt (call->easy, CURLOPT_PRIVATE, call);
    call->headers = curl_slist_append (NULL, "Content-Type: application/json");
    call->headers = curl_slist_append (call->headers, "Expect:");
    curl_easy_setopt (call->easy, CURLOPT_HTTPHEADER, call->headers);
    if (body) {
        curl_easy_setopt (call->easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt (call->easy, CURLOPT_POSTFIELDSIZE, (long)body_size);
    }
    call->started = zclock_mono ();
}

static void
s_call_done (s_call_t *call)
{
    curl_easy_getinfo (call->easy, CURLINFO_RESPONSE_CODE, &call->status);
    call->ended = zclock_mono ();
}

static void
s_call_free (s_call_t *call)
{
    curl_easy_cleanup (call->easy);
    curl_slist_free_all (call->headers);
    free (call->body);
    call->body = NULL;
}

/*  One blocking HTTP call; the response's JSON (or NULL) in *json_p. */
static long
s_http (const char *method, const char *base, const char *path, const char *body, json_t **json_p,
        s_call_t *out)
{
    char url[300];
    snprintf (url, sizeof url, "%s%s", base, path);
    s_call_t call;
    s_call_init (&call, method, url, body, body ? strlen (body) : 0);
    CURLcode rc = curl_easy_perform (call.easy);
    if (rc != CURLE_OK)
        fail_msg ("%s %s: %s", method, url, curl_easy_strerror (rc));
    s_call_done (&call);
    if (json_p)
        *json_p = call.body ? json_loads (call.body, 0, NULL) : NULL;
    long status = call.status;
    if (out) {
        *out = call;
        out->body = NULL;
        out->easy = NULL;
        out->headers = NULL;
    }
    s_call_free (&call);
    return status;
}

/*  Runs n POSTs of body at once; each call's outcome in calls[]. */
static void
s_http_many (const char *base, const char *body, s_call_t *calls, int n)
{
    char url[300];
    snprintf (url, sizeof url, "%s/predict", base);
    CURLM *multi = curl_multi_init ();
    curl_multi_setopt (multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)n);
    for (int i = 0; i < n; i++) {
        s_call_init (&calls[i], "POST", url, body, strlen (body));
        curl_multi_add_handle (multi, calls[i].easy);
    }
    int running = n;
    while (running > 0) {
        curl_multi_perform (multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read (multi, &left)))
            if (msg->msg == CURLMSG_DONE) {
                s_call_t *call;
                curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
                s_call_done (call);
                if (msg->data.result != CURLE_OK)
                    call->status = 0;
            }
        if (running > 0)
            curl_multi_poll (multi, NULL, 0, 100, NULL);
    }
    for (int i = 0; i < n; i++)
        curl_multi_remove_handle (multi, calls[i].easy);
    curl_multi_cleanup (multi);
}

/* ---------------------------------------------------------------------- */
/* ZeroMQ as the SDK does it */

static rfk_msg_t *
s_zmq_predict (const char *endpoint, const char *queries_json, int deadline_ms)
{
    rfk_client_t *client = rfk_client_new (endpoint, &rfk_infer_family, NULL);
    assert_non_null (client);
    json_t *queries = json_loads (queries_json, 0, NULL);
    assert_non_null (queries);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, json_array_size (queries));
    size_t i;
    json_t *query;
    json_array_foreach (queries, i, query)
    {
        if (json_is_integer (query))
            msgpack_pack_int64 (&pk, json_integer_value (query));
        else {
            msgpack_pack_str (&pk, json_string_length (query));
            msgpack_pack_str_body (&pk, json_string_value (query), json_string_length (query));
        }
    }
    json_decref (queries);
    rfk_msg_t *request = rfk_msg_new (&rfk_infer_family, "PredictRequest", 0);
    rfk_msg_set_data (request, buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    if (deadline_ms)
        json_object_set_new (request->body, "deadline_ms", json_integer (deadline_ms));
    rfk_msg_t *reply = rfk_client_call (client, request);
    rfk_msg_destroy (&request);
    rfk_client_destroy (&client);
    assert_non_null (reply);
    return reply;
}

/* ---------------------------------------------------------------------- */
/* tests */

/*  Usage: a predictor, an Echo worker; HTTP and ZeroMQ answers. */
static void
test_usage (void **state)
{
    (void)state;
    rfk_predictor_args_t args = s_predictor_args (RFK_ENSEMBLE_FIRST);
    s_predictor_t predictor = s_predictor_start (&args);
    zactor_t *worker = s_worker_start (predictor.workers, rfk_test_env ("RAFIKI_TEST_ECHO"), NULL,
                                       NULL, "echo-1", 0);
    s_wait_workers (predictor.actor, 1, 15000);

    json_t *json;
    s_call_t call;
    assert_int_equal (
        s_http ("POST", predictor.http, "/predict", "{\"query\": [1, 2.5, \"x\"]}", &json, &call),
        200);
    assert_int_equal (call.members, 1);
    assert_int_equal (call.answered, 1);
    json_t *expect = json_loads ("{\"prediction\": [1, 2.5, \"x\"], \"predictions\": []}", 0, NULL);
    assert_true (json_equal (json, expect));
    json_decref (expect);
    json_decref (json);

    assert_int_equal (s_http ("POST", predictor.http, "/predict",
                              "{\"queries\": [{\"a\": 1}, [true, null], 7]}", &json, NULL),
                      200);
    expect = json_loads ("{\"prediction\": null, \"predictions\": [{\"a\": 1}, [true, null], 7]}",
                         0, NULL);
    assert_true (json_equal (json, expect));
    json_decref (expect);
    json_decref (json);

    assert_int_equal (s_http ("GET", predictor.http, "/healthz", NULL, &json, NULL), 200);
    assert_string_equal (json_string_value (json_object_get (json, "status")), "ok");
    assert_int_equal (json_integer_value (json_object_get (json, "workers")), 1);
    json_decref (json);

    s_call_t metrics;
    assert_int_equal (s_http ("GET", predictor.http, "/metrics", NULL, NULL, &metrics), 200);

    /*  The SDK's way: PredictRequest on the ROUTER `query`. */
    rfk_msg_t *reply = s_zmq_predict (predictor.query, "[3, \"q\"]", 0);
    assert_string_equal (reply->type, "PredictReply");
    assert_int_equal (json_integer_value (json_object_get (reply->body, "members")), 1);
    assert_int_equal (json_integer_value (json_object_get (reply->body, "members_answered")), 1);
    assert_non_null (reply->data);
    assert_int_equal (zchunk_size (reply->data), 4);
    assert_memory_equal (zchunk_data (reply->data), "\x92\x03\xa1q", 4);
    rfk_msg_destroy (&reply);

    zactor_destroy (&worker);
    s_predictor_stop (&predictor);
}

/*  Bad input gets a 4xx naming the problem, and the predictor keeps
    serving. */
static void
test_bad_input (void **state)
{
    (void)state;
    rfk_predictor_args_t args = s_predictor_args (RFK_ENSEMBLE_FIRST);
    args.max_body_bytes = 4096;
    s_predictor_t predictor = s_predictor_start (&args);
    zactor_t *worker = s_worker_start (predictor.workers, rfk_test_env ("RAFIKI_TEST_ECHO"), NULL,
                                       NULL, "echo-1", 0);
    s_wait_workers (predictor.actor, 1, 15000);

    char deep[200] = "{\"query\": ";
    for (int i = 0; i < 40; i++)
        strcat (deep, "[");
    for (int i = 0; i < 40; i++)
        strcat (deep, "]");
    strcat (deep, "}");
    char *huge = (char *)malloc (100000);
    memset (huge, ' ', 99999);
    memcpy (huge, "{\"query\": \"", 11);
    memset (huge + 11, 'x', 99980);
    memcpy (huge + 99991, "\"}", 3);
    struct {
        const char *method, *path, *body;
        long status;
        const char *code, *says;
    } cases[] = {
        {"POST", "/predict", "{\"query\": ", 400, "BAD_REQUEST", "not JSON"},
        {"POST", "/predict", "not json at all", 400, "BAD_REQUEST", "not JSON"},
        {"POST", "/predict", "", 400, "BAD_REQUEST", "empty"},
        {"POST", "/predict", "[1, 2]", 400, "BAD_REQUEST", "JSON object"},
        {"POST", "/predict", "{}", 400, "BAD_REQUEST", "exactly one"},
        {"POST", "/predict", "{\"query\": 1, \"queries\": [1]}", 400, "BAD_REQUEST", "exactly one"},
        {"POST", "/predict", "{\"queries\": []}", 400, "BAD_REQUEST", "non-empty array"},
        {"POST", "/predict", "{\"queries\": 5}", 400, "BAD_REQUEST", "non-empty array"},
        {"POST", "/predict", "{\"query\": null}", 400, "BAD_REQUEST", "null"},
        {"POST", "/predict", "{\"qurey\": 1}", 400, "BAD_REQUEST", "qurey"},
        {"POST", "/predict", "{\"query\": 1, \"deadline_ms\": \"soon\"}", 400, "BAD_REQUEST",
         "deadline_ms"},
        {"POST", "/predict", deep, 400, "BAD_REQUEST", "deeper"},
        {"POST", "/predict", huge, 413, "TOO_LARGE", "4096"},
        {"GET", "/predict", NULL, 405, NULL, "POST"},
        {"DELETE", "/predict", NULL, 405, NULL, "POST"},
        {"POST", "/healthz", "{}", 405, NULL, "GET"},
        {"GET", "/nope", NULL, 404, "NOT_FOUND", "/nope"},
        {"POST", "/predict/extra", "{\"query\": 1}", 404, "NOT_FOUND", "no such path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *json = NULL;
        s_call_t call;
        long status =
            s_http (cases[i].method, predictor.http, cases[i].path, cases[i].body, &json, &call);
        if (status != cases[i].status)
            fail_msg ("case %zu: %s %s got %ld, expected %ld", i, cases[i].method, cases[i].path,
                      status, cases[i].status);
        assert_true (call.cors); /* the web admin's query box reads errors too */
        json_t *error = json_object_get (json, "error");
        const char *message = json_string_value (json_object_get (error, "message"));
        assert_non_null (message);
        if (cases[i].code)
            assert_string_equal (json_string_value (json_object_get (error, "code")),
                                 cases[i].code);
        if (!strstr (message, cases[i].says))
            fail_msg ("case %zu: message \"%s\" does not say \"%s\"", i, message, cases[i].says);
        json_decref (json);
    }
    free (huge);

    /*  The web admin's query box calls from admin's origin: a CORS
        preflight is answered, and answers allow any origin. */
    s_call_t call;
    assert_int_equal (s_http ("OPTIONS", predictor.http, "/predict", NULL, NULL, &call), 204);
    assert_true (call.cors);
    assert_non_null (strstr (call.cors_methods, "POST"));
    assert_int_equal (s_http ("POST", predictor.http, "/predict", "{\"query\": 1}", NULL, &call),
                      200);
    assert_true (call.cors);

    /*  Garbage and odd messages on the ZeroMQ front. */
    char endpoint[300];
    snprintf (endpoint, sizeof endpoint, ">%s", predictor.query);
    zsock_t *dealer = zsock_new_dealer (endpoint);
    zsock_set_rcvtimeo (dealer, 5000);
    zstr_send (dealer, "garbage");
    rfk_msg_t *msg = NULL;
    assert_int_equal (rfk_envelope_recv (dealer, &rfk_infer_family, 1 << 20, &msg, NULL), 0);
    assert_int_equal (rfk_envelope_error_code (msg), RFK_CODE_MALFORMED);
    rfk_msg_destroy (&msg);
    rfk_msg_t *empty = rfk_msg_new (&rfk_infer_family, "PredictRequest", 42);
    rfk_envelope_send (dealer, empty, 1 << 20);
    rfk_msg_destroy (&empty);
    assert_int_equal (rfk_envelope_recv (dealer, &rfk_infer_family, 1 << 20, &msg, NULL), 0);
    assert_int_equal (rfk_envelope_error_code (msg), RFK_CODE_BAD_REQUEST);
    assert_true (msg->correlation == 42);
    rfk_msg_destroy (&msg);
    rfk_msg_t *wrong = rfk_msg_new (&rfk_infer_family, "PredictRequest", 43);
    rfk_msg_set_data (wrong, "\x81\xa1x\x01", 4); /* a map, not an array */
    rfk_envelope_send (dealer, wrong, 1 << 20);
    rfk_msg_destroy (&wrong);
    assert_int_equal (rfk_envelope_recv (dealer, &rfk_infer_family, 1 << 20, &msg, NULL), 0);
    assert_int_equal (rfk_envelope_error_code (msg), RFK_CODE_BAD_REQUEST);
    rfk_msg_destroy (&msg);
    zsock_destroy (&dealer);

    /*  Still serving. */
    json_t *json;
    assert_int_equal (s_http ("POST", predictor.http, "/predict", "{\"query\": 5}", &json, NULL),
                      200);
    assert_int_equal (json_integer_value (json_object_get (json, "prediction")), 5);
    json_decref (json);
    zactor_destroy (&worker);
    s_predictor_stop (&predictor);
}

/*  Many concurrent single queries reach the worker as fewer batches. */
static void
test_batching (void **state)
{
    (void)state;
    rfk_predictor_args_t args = s_predictor_args (RFK_ENSEMBLE_FIRST);
    args.scatter.max_batch = 16;
    args.scatter.batch_window_us = 20000;
    s_predictor_t predictor = s_predictor_start (&args);
    /*  A worker that takes 20 ms per batch, so queries pile up behind it. */
    zactor_t *worker = s_worker_start (predictor.workers, rfk_test_env ("RAFIKI_TEST_ECHO"), NULL,
                                       NULL, "echo-1", 20);
    s_wait_workers (predictor.actor, 1, 15000);
    enum { N = 64 };
    s_call_t calls[N];
    s_http_many (predictor.http, "{\"query\": [4, 2]}", calls, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal (calls[i].status, 200);
        assert_string_equal (calls[i].body, "{\"prediction\":[4,2],\"predictions\":[]}");
        s_call_free (&calls[i]);
    }
    zstr_send (worker, "STATS");
    char *text = zstr_recv (worker);
    json_t *stats = json_loads (text, 0, NULL);
    zstr_free (&text);
    int64_t batches = json_integer_value (json_object_get (stats, "batches"));
    int64_t queries = json_integer_value (json_object_get (stats, "queries"));
    json_decref (stats);
    print_message ("# %d single queries reached the worker as %" PRId64 " batches\n", N, batches);
    assert_int_equal (queries, N);
    assert_true (batches * 2 <= N);
    zactor_destroy (&worker);
    s_predictor_stop (&predictor);
}

/*  A slow member does not delay the reply past the deadline. */
static void
test_slow_member (void **state)
{
    (void)state;
    rfk_predictor_args_t args = s_predictor_args (RFK_ENSEMBLE_FIRST);
    const char *trials[] = {"fast", "slow", NULL};
    args.trials = trials;
    s_predictor_t predictor = s_predictor_start (&args);
    zactor_t *fast = s_worker_start (predictor.workers, rfk_test_env ("RAFIKI_TEST_ECHO"), NULL,
                                     NULL, "fast", 0);
    zactor_t *slow = s_worker_start (predictor.workers, rfk_test_env ("RAFIKI_TEST_ECHO"), NULL,
                                     NULL, "slow", 3000);
    s_wait_workers (predictor.actor, 2, 15000);
    json_t *json;
    s_call_t call;
    assert_int_equal (s_http ("POST", predictor.http, "/predict",
                              "{\"query\": 9, \"deadline_ms\": 200}", &json, &call),
                      200);
    int64_t took = call.ended - call.started;
    print_message ("# answered in %" PRId64 " ms with %d of %d members\n", took, call.answered,
                   call.members);
    assert_true (took >= 190 && took < 1500);
    assert_int_equal (call.members, 2);
    assert_int_equal (call.answered, 1);
    assert_int_equal (json_integer_value (json_object_get (json, "prediction")), 9);
    json_decref (json);

    /*  The deadline in the query string, and over ZeroMQ. */
    assert_int_equal (
        s_http ("POST", predictor.http, "/predict?deadline_ms=150", "{\"query\": 1}", NULL, &call),
        200);
    assert_true (call.ended - call.started < 1500);
    int64_t start = zclock_mono ();
    rfk_msg_t *reply = s_zmq_predict (predictor.query, "[1]", 150);
    assert_true (zclock_mono () - start < 1500);
    assert_string_equal (reply->type, "PredictReply");
    assert_int_equal (json_integer_value (json_object_get (reply->body, "members")), 2);
    assert_int_equal (json_integer_value (json_object_get (reply->body, "members_answered")), 1);
    rfk_msg_destroy (&reply);
    zactor_destroy (&slow);
    zactor_destroy (&fast);
    s_predictor_stop (&predictor);
}

/*  A rafikid inference process: its pid. */
static pid_t
s_spawn_worker (const char *workers_endpoint, const char *data_dir)
{
    char predictor[300], template_[1200];
    snprintf (predictor, sizeof predictor, "predictor=%s", workers_endpoint);
    snprintf (template_, sizeof template_, "template=%s", rfk_test_env ("RAFIKI_TEST_ECHO"));
    const char *rafikid = rfk_test_env ("RAFIKID");
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        setenv ("RAFIKI_DATA_DIR", data_dir, 1);
        setenv ("RAFIKI_LOG_STDERR", "false", 1);
        setenv ("RAFIKI_BUS_HEARTBEAT_INTERVAL_MS", "200", 1);
        setenv ("RAFIKI_BUS_HEARTBEAT_TIMEOUT_MS", "1000", 1);
        execl (rafikid, rafikid, "inference", predictor, template_, "trial=t", (char *)NULL);
        _exit (127);
    }
    return pid;
}

/*  Killing a worker under load leaves no request hanging; the job keeps
    answering through the other replica. */
static void
test_kill_worker (void **state)
{
    (void)state;
    rfk_predictor_args_t args = s_predictor_args (RFK_ENSEMBLE_FIRST);
    args.scatter.deadline_ms = 4000;
    s_predictor_t predictor = s_predictor_start (&args);
    char *data_dir = rfk_test_tmpdir_new ("predictor-test");
    assert_non_null (data_dir);
    pid_t victim = s_spawn_worker (predictor.workers, data_dir);
    pid_t survivor = s_spawn_worker (predictor.workers, data_dir);
    s_wait_workers (predictor.actor, 2, 15000);

    /*  Rounds of 16 requests at once; the victim dies during round 3. */
    enum { ROUNDS = 8, N = 16 };
    int ok = 0, failed = 0, after_kill_ok = 0;
    int64_t slowest = 0;
    for (int round = 0; round < ROUNDS; round++) {
        s_call_t calls[N];
        if (round == 3) {
            /*  Kill it while its batches are in flight. */
            kill (victim, SIGKILL);
        }
        s_http_many (predictor.http, "{\"queries\": [1, 2, 3]}", calls, N);
        for (int i = 0; i < N; i++) {
            if (calls[i].status == 200) {
                ok++;
                if (round > 3)
                    after_kill_ok++;
            } else
                failed++;
            if (calls[i].ended - calls[i].started > slowest)
                slowest = calls[i].ended - calls[i].started;
            s_call_free (&calls[i]);
        }
    }
    waitpid (victim, NULL, 0);
    print_message ("# %d answered, %d failed, slowest %" PRId64 " ms\n", ok, failed, slowest);
    /*  Nothing hung (curl gives up after 20 s; the deadline is 4 s). */
    assert_true (slowest < 6000);
    assert_int_equal (failed, 0);
    assert_int_equal (after_kill_ok, (ROUNDS - 4) * N);
    s_wait_workers (predictor.actor, 1, 5000);
    assert_int_equal (s_stat (predictor.actor, "workers_lost"), 1);
    assert_int_equal (s_stat (predictor.actor, "inflight"), 0);
    kill (survivor, SIGTERM);
    waitpid (survivor, NULL, 0);
    s_predictor_stop (&predictor);
    rfk_test_tmpdir_destroy (&data_dir);
}

/* ---------------------------------------------------------------------- */
/* end to end: train, deploy, predict, compare with the template itself */

typedef struct {
    rfk_template_t *template_;
    const rafiki_model_api_t *api;
    void *model;
    json_t *knobs;
    char params[300];
} s_trained_t;

static void
s_train (s_trained_t *trained, const char *template_path, const char *knobs_json,
         const char *train_path, const char *params_path)
{
    char err[512] = "";
    trained->template_ =
        rfk_template_open (template_path, RAFIKI_TASK_TABULAR_CLASSIFICATION, err, sizeof err);
    if (!trained->template_)
        fail_msg ("%s", err);
    trained->api = rfk_template_api (trained->template_);
    trained->knobs = json_loads (knobs_json, 0, NULL);
    rafiki_knobs_t knobs;
    if (rfk_knobs_from_json (trained->api->knobs, trained->api->n_knobs, trained->knobs, true,
                             &knobs, err, sizeof err) != 0)
        fail_msg ("%s", err);
    trained->model = trained->api->create (&knobs, err, sizeof err);
    rfk_knobs_free (&knobs);
    assert_non_null (trained->model);
    if (trained->api->train (trained->model, train_path, NULL, NULL, NULL, err, sizeof err) != 0)
        fail_msg ("train: %s", err);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    assert_int_equal (trained->api->dump_params (trained->model, &pk, err, sizeof err), 0);
    snprintf (trained->params, sizeof trained->params, "%s", params_path);
    FILE *file = fopen (params_path, "wb");
    assert_non_null (file);
    assert_int_equal (fwrite (buffer.data, 1, buffer.size, file), buffer.size);
    fclose (file);
    msgpack_sbuffer_destroy (&buffer);
}

static void
s_trained_free (s_trained_t *trained)
{
    trained->api->destroy (trained->model);
    rfk_template_close (&trained->template_);
    json_decref (trained->knobs);
    unlink (trained->params);
}

/*  What the template itself predicts for the queries (a JSON array of
    feature maps), as a JSON array of probability vectors. */
static json_t *
s_direct_predict (s_trained_t *trained, json_t *queries)
{
    msgpack_sbuffer in;
    msgpack_sbuffer_init (&in);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &in, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, json_array_size (queries));
    size_t i;
    json_t *query;
    json_array_foreach (queries, i, query)
    {
        msgpack_pack_map (&pk, json_object_size (query));
        const char *key;
        json_t *value;
        json_object_foreach (query, key, value)
        {
            msgpack_pack_str (&pk, strlen (key));
            msgpack_pack_str_body (&pk, key, strlen (key));
            msgpack_pack_double (&pk, json_number_value (value));
        }
    }
    msgpack_unpacked batch;
    msgpack_unpacked_init (&batch);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&batch, in.data, in.size, &off), MSGPACK_UNPACK_SUCCESS);
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    msgpack_packer out_pk;
    msgpack_packer_init (&out_pk, &out, msgpack_sbuffer_write);
    char err[512];
    assert_int_equal (trained->api->predict (trained->model, &batch.data, &out_pk, err, sizeof err),
                      0);
    msgpack_unpacked predictions;
    msgpack_unpacked_init (&predictions);
    off = 0;
    assert_int_equal (msgpack_unpack_next (&predictions, out.data, out.size, &off),
                      MSGPACK_UNPACK_SUCCESS);
    json_t *result = json_array ();
    for (uint32_t q = 0; q < predictions.data.via.array.size; q++) {
        const msgpack_object *vector = &predictions.data.via.array.ptr[q];
        json_t *probabilities = json_array ();
        for (uint32_t c = 0; c < vector->via.array.size; c++)
            json_array_append_new (probabilities, json_real (vector->via.array.ptr[c].via.f64));
        json_array_append_new (result, probabilities);
    }
    msgpack_unpacked_destroy (&predictions);
    msgpack_unpacked_destroy (&batch);
    msgpack_sbuffer_destroy (&out);
    msgpack_sbuffer_destroy (&in);
    return result;
}

static void
s_assert_close (json_t *got, json_t *expect)
{
    assert_int_equal (json_array_size (got), json_array_size (expect));
    for (size_t q = 0; q < json_array_size (expect); q++) {
        json_t *a = json_array_get (got, q), *b = json_array_get (expect, q);
        assert_int_equal (json_array_size (a), json_array_size (b));
        for (size_t c = 0; c < json_array_size (b); c++) {
            double x = json_number_value (json_array_get (a, c));
            double y = json_number_value (json_array_get (b, c));
            if (fabs (x - y) > 1e-12)
                fail_msg ("query %zu class %zu: served %.17g, the template gives %.17g", q, c, x,
                          y);
        }
    }
}

static int
s_argmax (json_t *vector)
{
    int best = 0;
    for (size_t c = 1; c < json_array_size (vector); c++)
        if (json_number_value (json_array_get (vector, c)) >
            json_number_value (json_array_get (vector, (size_t)best)))
            best = (int)c;
    return best;
}

/*  Train two zoo templates on iris, deploy them, predict over HTTP: the
    answers are the templates' own (one trial), and the mean of both (two). */
static void
test_end_to_end (void **state)
{
    (void)state;
    char train[600], val[600];
    snprintf (train, sizeof train, "%s/iris-train.csv", rfk_test_env ("RAFIKI_TEST_IRIS"));
    snprintf (val, sizeof val, "%s/iris-val.csv", rfk_test_env ("RAFIKI_TEST_IRIS"));
    char *dir = rfk_test_tmpdir_new ("predictor-e2e");
    assert_non_null (dir);
    char xgb_params[300], linear_params[300];
    snprintf (xgb_params, sizeof xgb_params, "%s/xgb.msgpack", dir);
    snprintf (linear_params, sizeof linear_params, "%s/linear.msgpack", dir);
    s_trained_t xgb, linear;
    s_train (&xgb, rfk_test_env ("RAFIKI_TEST_XGB"),
             "{\"max_depth\": 3, \"eta\": 0.3, \"n_estimators\": 30, \"subsample\": 1.0, "
             "\"colsample_bytree\": 1.0, \"min_child_weight\": 1.0}",
             train, xgb_params);
    s_train (&linear, rfk_test_env ("RAFIKI_TEST_LINEAR"), "{\"C\": 100.0, \"solver\": \"l2r_lr\"}",
             train, linear_params);
    int labels[60];
    json_t *queries = rfk_test_iris_queries (val, labels, 60);
    assert_true (json_array_size (queries) >= 40);
    json_t *body = json_pack ("{s:O}", "queries", queries);
    char *body_text = json_dumps (body, JSON_COMPACT);
    json_decref (body);

    /*  One trial: exactly the template's predictions. */
    rfk_predictor_args_t args = s_predictor_args (RFK_ENSEMBLE_MEAN_VEC);
    s_predictor_t predictor = s_predictor_start (&args);
    zactor_t *worker = s_worker_start (predictor.workers, rfk_test_env ("RAFIKI_TEST_XGB"),
                                       xgb_params, xgb.knobs, "xgb", 0);
    s_wait_workers (predictor.actor, 1, 15000);
    json_t *json;
    assert_int_equal (s_http ("POST", predictor.http, "/predict", body_text, &json, NULL), 200);
    json_t *direct_xgb = s_direct_predict (&xgb, queries);
    s_assert_close (json_object_get (json, "predictions"), direct_xgb);
    json_decref (json);
    zactor_destroy (&worker);
    s_predictor_stop (&predictor);

    /*  Two trials: the mean of their probability vectors. */
    const char *trials[] = {"xgb", "linear", NULL};
    args.trials = trials;
    predictor = s_predictor_start (&args);
    zactor_t *workers[] = {s_worker_start (predictor.workers, rfk_test_env ("RAFIKI_TEST_XGB"),
                                           xgb_params, xgb.knobs, "xgb", 0),
                           s_worker_start (predictor.workers, rfk_test_env ("RAFIKI_TEST_LINEAR"),
                                           linear_params, linear.knobs, "linear", 0)};
    s_wait_workers (predictor.actor, 2, 15000);
    s_call_t call;
    assert_int_equal (s_http ("POST", predictor.http, "/predict", body_text, &json, &call), 200);
    assert_int_equal (call.members, 2);
    assert_int_equal (call.answered, 2);
    json_t *direct_linear = s_direct_predict (&linear, queries);
    json_t *mean = json_array ();
    for (size_t q = 0; q < json_array_size (direct_xgb); q++) {
        json_t *a = json_array_get (direct_xgb, q), *b = json_array_get (direct_linear, q);
        json_t *vector = json_array ();
        for (size_t c = 0; c < json_array_size (a); c++)
            json_array_append_new (vector, json_real ((json_number_value (json_array_get (a, c)) +
                                                       json_number_value (json_array_get (b, c))) /
                                                      2));
        json_array_append_new (mean, vector);
    }
    json_t *served = json_object_get (json, "predictions");
    s_assert_close (served, mean);
    int correct = 0;
    for (size_t q = 0; q < json_array_size (served); q++)
        correct += s_argmax (json_array_get (served, q)) == labels[q];
    print_message ("# ensemble accuracy on iris-val: %d / %zu\n", correct,
                   json_array_size (served));
    assert_true (correct * 10 >= (int)json_array_size (served) * 8);

    /*  A query the templates cannot read: an error for it alone. */
    json_decref (json);
    assert_int_equal (
        s_http ("POST", predictor.http, "/predict",
                "{\"queries\": [{\"sepal_length\": 1}, {\"sepal_length\": 5.1, \"sepal_width\": "
                "3.5, \"petal_length\": 1.4, \"petal_width\": 0.2}]}",
                &json, NULL),
        200);
    served = json_object_get (json, "predictions");
    assert_non_null (json_object_get (json_array_get (served, 0), "error"));
    assert_true (json_is_array (json_array_get (served, 1)));
    assert_int_equal (s_argmax (json_array_get (served, 1)), 0);
    json_decref (json);
    /*  The same query alone is the request's own fault: 400 with the reason. */
    assert_int_equal (s_http ("POST", predictor.http, "/predict",
                              "{\"query\": {\"sepal_length\": 1}}", &json, NULL),
                      400);
    json_t *error = json_object_get (json, "error");
    assert_string_equal (json_string_value (json_object_get (error, "code")), "BAD_REQUEST");
    const char *why = json_string_value (json_object_get (error, "message"));
    if (!why || !strstr (why, "refused"))
        fail_msg ("a single unreadable query: %s", why ? why : "no message");
    json_decref (json);

    json_decref (mean);
    json_decref (direct_linear);
    json_decref (direct_xgb);
    zactor_destroy (&workers[0]);
    zactor_destroy (&workers[1]);
    s_predictor_stop (&predictor);
    free (body_text);
    json_decref (queries);
    s_trained_free (&xgb);
    s_trained_free (&linear);
    rfk_test_tmpdir_destroy (&dir);
}

/*  Over max_inflight: 503 at once; a batch that alone is over it: 413. */
static void
test_overload (void **state)
{
    (void)state;
    rfk_predictor_args_t args = s_predictor_args (RFK_ENSEMBLE_FIRST);
    args.scatter.max_inflight = 4;
    s_predictor_t predictor = s_predictor_start (&args);
    json_t *json;
    /*  No worker yet: 503 too. */
    assert_int_equal (s_http ("POST", predictor.http, "/predict", "{\"query\": 1}", &json, NULL),
                      503);
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (json, "error"), "code")),
        "UNAVAILABLE");
    json_decref (json);
    zactor_t *worker =
        s_worker_start (predictor.workers, rfk_test_env ("RAFIKI_TEST_ECHO"), NULL, NULL, "e", 300);
    s_wait_workers (predictor.actor, 1, 15000);
    enum { N = 12 };
    s_call_t calls[N];
    s_http_many (predictor.http, "{\"query\": 1}", calls, N);
    int ok = 0, unavailable = 0;
    for (int i = 0; i < N; i++) {
        if (calls[i].status == 200)
            ok++;
        else if (calls[i].status == 503) {
            unavailable++;
            assert_true (calls[i].ended - calls[i].started < 250); /* at once */
        }
        s_call_free (&calls[i]);
    }
    print_message ("# %d answered, %d refused with 503\n", ok, unavailable);
    assert_int_equal (ok + unavailable, N);
    assert_true (ok >= 1 && ok <= 4 * 2);
    assert_true (unavailable >= 1);
    /*  A batch larger than max_inflight could never be taken: 413, not 503. */
    assert_int_equal (
        s_http ("POST", predictor.http, "/predict", "{\"queries\": [1, 2, 3, 4, 5]}", &json, NULL),
        413);
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (json, "error"), "code")), "TOO_LARGE");
    assert_non_null (
        strstr (json_string_value (json_object_get (json_object_get (json, "error"), "message")),
                "max_inflight"));
    json_decref (json);
    zactor_destroy (&worker);
    s_predictor_stop (&predictor);
}

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    curl_global_init (CURL_GLOBAL_DEFAULT);
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),       cmocka_unit_test (test_bad_input),
        cmocka_unit_test (test_batching),    cmocka_unit_test (test_slow_member),
        cmocka_unit_test (test_kill_worker), cmocka_unit_test (test_end_to_end),
        cmocka_unit_test (test_overload),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    curl_global_cleanup ();
    return rc;
}
