/*  test_serving_keys.c: serving keys (`auth: token`, issue 14) through the
    predictor's real sockets.

    A direct predictor actor on 127.0.0.1 with an Echo worker. An open
    predictor answers without a key; a predictor with auth_token refuses
    /predict without a key or with a wrong one (401 with a JSON error, over
    ZeroMQ Error UNAUTHORIZED), answers a valid one, and refuses a key once
    it is revoked (the pipe's SERVING-KEYS, as admin's ServingKeys).
    Environment (set by meson): RAFIKI_TEST_ECHO.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <msgpack.h>

#include "rfk_client.h"
#include "rfk_envelope.h"
#include "rfk_inference.h"
#include "rfk_predictor.h"
#include "rfk_serving_keys.h"
#include "rfk_test.h"

/* A predictor with one Echo worker. */
typedef struct {
    zactor_t *actor;    /* the predictor */
    zactor_t *worker;   /* its Echo worker */
    char *http;         /* "http://127.0.0.1:PORT" */
    char *query;        /* its ROUTER `query` */
    char *workers;      /* its ROUTER `workers` */
    rfk_bus_opts_t bus; /* the worker's bus options */
} s_served_t;

static bool
s_has_worker (void *arg)
{
    zactor_t *actor = (zactor_t *)arg;
    zstr_send (actor, "STATS");
    char *text = zstr_recv (actor);
    json_t *stats = text ? json_loads (text, 0, NULL) : NULL;
    bool ready = json_integer_value (json_object_get (stats, "workers")) == 1;
    json_decref (stats);
    zstr_free (&text);
    return ready;
}

static void
s_start (s_served_t *served, bool auth_token)
{
    memset (served, 0, sizeof *served);
    rfk_predictor_args_t args = {.http = "127.0.0.1:0",
                                 .query_endpoint = "tcp://127.0.0.1:*",
                                 .workers_endpoint = "tcp://127.0.0.1:*",
                                 .auth_token = auth_token};
    rfk_scatter_opts_defaults (&args.scatter);
    served->actor = zactor_new (rfk_predictor_direct_actor, &args);
    assert_non_null (served->actor);
    zstr_send (served->actor, "ENDPOINTS");
    zstr_recvx (served->actor, &served->http, &served->query, &served->workers, NULL);
    assert_non_null (served->workers);
    const char *echo = getenv ("RAFIKI_TEST_ECHO");
    assert_non_null (echo);
    rfk_bus_opts_defaults (&served->bus);
    rfk_inference_args_t worker = {.predictor_endpoint = served->workers,
                                   .model_path = echo,
                                   .trial_id = "echo-1",
                                   .bus = &served->bus};
    served->worker = zactor_new (rfk_inference_direct_actor, &worker);
    assert_non_null (served->worker);
    rfk_test_wait_until (s_has_worker, served->actor, NULL, 15000);
}

static void
s_stop (s_served_t *served)
{
    zactor_destroy (&served->worker);
    zactor_destroy (&served->actor);
    zstr_free (&served->http);
    zstr_free (&served->query);
    zstr_free (&served->workers);
}

/*  The predictor's valid keys from now on: "OK" or its reason (to free). */
static char *
s_set_keys (s_served_t *served, const char *auth, const char *const *keys)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, auth);
    for (size_t i = 0; keys && keys[i]; i++) {
        char hash[RFK_SERVING_KEY_HASH_LEN + 1];
        assert_int_equal (rfk_serving_key_hash (keys[i], hash), 0);
        zmsg_addstr (msg, hash);
    }
    zstr_send (served->actor, "SERVING-KEYS");
    zmsg_send (&msg, served->actor);
    return zstr_recv (served->actor);
}

static size_t
s_on_body (char *data, size_t size, size_t count, void *arg)
{
    char **body = (char **)arg;
    size_t old = *body ? strlen (*body) : 0;
    char *more = (char *)realloc (*body, old + size * count + 1);
    assert_non_null (more);
    memcpy (more + old, data, size * count);
    more[old + size * count] = 0;
    *body = more;
    return size * count;
}

/*  POST /predict {"query": [1, 2]} with an Authorization header of
    "Bearer KEY" (key NULL: none); the status, and the body's JSON in *json_p. */
static long
s_http_predict (const s_served_t *served, const char *key, json_t **json_p)
{
    char url[300], header[200];
    snprintf (url, sizeof url, "%s/predict", served->http);
    CURL *easy = curl_easy_init ();
    assert_non_null (easy);
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    if (key) {
        snprintf (header, sizeof header, "Authorization: Bearer %s", key);
        headers = curl_slist_append (headers, header);
    }
    char *body = NULL;
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (easy, CURLOPT_POSTFIELDS, "{\"query\": [1, 2]}");
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, 20000L);
    assert_int_equal (curl_easy_perform (easy), CURLE_OK);
    long status = 0;
    curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &status);
    *json_p = body ? json_loads (body, 0, NULL) : NULL;
    free (body);
    curl_slist_free_all (headers);
    curl_easy_cleanup (easy);
    return status;
}

/*  A PredictRequest of [7] with key (NULL: none); the reply's type
    ("PredictReply", or the Error's code). */
static char *
s_zmq_predict (const s_served_t *served, const char *key)
{
    rfk_client_t *client = rfk_client_new (served->query, &rfk_infer_family, NULL);
    assert_non_null (client);
    rfk_msg_t *request = rfk_msg_new (&rfk_infer_family, "PredictRequest", 0);
    rfk_msg_set_data (request, "\x91\x07", 2);
    if (key)
        json_object_set_new (request->body, "key", json_string (key));
    rfk_msg_t *reply = rfk_client_call (client, request);
    assert_non_null (reply);
    char *what = strdup (rfk_msg_is (reply, "Error")
                             ? json_string_value (json_object_get (reply->body, "code"))
                             : reply->type);
    rfk_msg_destroy (&request);
    rfk_msg_destroy (&reply);
    rfk_client_destroy (&client);
    return what;
}

/*  Asserts that a /predict with key is refused with 401 and a JSON error. */
static void
s_assert_refused (const s_served_t *served, const char *key)
{
    json_t *json = NULL;
    assert_int_equal (s_http_predict (served, key, &json), 401);
    json_t *error = json_object_get (json, "error");
    assert_string_equal (json_string_value (json_object_get (error, "code")), "UNAUTHORIZED");
    assert_non_null (
        strstr (json_string_value (json_object_get (error, "message")), "Authorization: Bearer"));
    json_decref (json);
    char *what = s_zmq_predict (served, key);
    assert_string_equal (what, "UNAUTHORIZED");
    free (what);
}

static void
s_assert_answered (const s_served_t *served, const char *key)
{
    json_t *json = NULL;
    assert_int_equal (s_http_predict (served, key, &json), 200);
    json_t *expect = json_loads ("{\"prediction\": [1, 2], \"predictions\": []}", 0, NULL);
    assert_true (json_equal (json, expect));
    json_decref (expect);
    json_decref (json);
    char *what = s_zmq_predict (served, key);
    assert_string_equal (what, "PredictReply");
    free (what);
}

/*  Usage: a key is 256 random bits as text; only its hash is kept. */
static void
test_usage (void **state)
{
    (void)state;
    char key[RFK_SERVING_KEY_LEN + 1], other[RFK_SERVING_KEY_LEN + 1];
    char hash[RFK_SERVING_KEY_HASH_LEN + 1];
    assert_int_equal (rfk_serving_key_new (key), 0);
    assert_int_equal (rfk_serving_key_new (other), 0);
    assert_int_equal (strlen (key), RFK_SERVING_KEY_LEN);
    assert_string_not_equal (key, other);
    assert_int_equal (rfk_serving_key_hash (key, hash), 0);
    assert_true (rfk_serving_key_hash_valid (hash));
    assert_false (rfk_serving_key_hash_valid (key));

    rfk_serving_keys_t *keys = rfk_serving_keys_new ();
    assert_true (rfk_serving_keys_allow (keys, NULL)); /* open by default */
    rfk_serving_keys_require (keys, true);
    assert_false (rfk_serving_keys_allow (keys, key));
    json_t *hashes = json_pack ("[s]", hash);
    assert_int_equal (rfk_serving_keys_set (keys, hashes), 0);
    assert_true (rfk_serving_keys_allow (keys, key));
    assert_false (rfk_serving_keys_allow (keys, other));
    assert_false (rfk_serving_keys_allow (keys, ""));
    json_decref (hashes);
    /*  Not hashes: refused, and nothing changes. */
    hashes = json_pack ("[s]", key);
    assert_int_equal (rfk_serving_keys_set (keys, hashes), -1);
    assert_int_equal (rfk_serving_keys_set (keys, json_object_get (hashes, "x")), 0);
    assert_int_equal (rfk_serving_keys_count (keys), 0);
    json_decref (hashes);
    rfk_serving_keys_destroy (&keys);
    rfk_serving_keys_destroy (&keys);

    assert_string_equal (rfk_serving_key_from_bearer ("Bearer abc"), "abc");
    assert_string_equal (rfk_serving_key_from_bearer ("bearer  abc"), "abc");
    assert_null (rfk_serving_key_from_bearer ("Basic abc"));
    assert_null (rfk_serving_key_from_bearer ("Bearer "));
    assert_null (rfk_serving_key_from_bearer (NULL));
}

/*  The default stays open: no key is needed, and one given is ignored. */
static void
test_open_job (void **state)
{
    (void)state;
    s_served_t served;
    s_start (&served, false);
    s_assert_answered (&served, NULL);
    s_assert_answered (&served, "rk_whatever");
    s_stop (&served);
}

/*  auth: token refuses no key, a wrong key and a revoked key; answers a
    valid one, over HTTP and ZeroMQ. */
static void
test_token_job (void **state)
{
    (void)state;
    s_served_t served;
    s_start (&served, true);
    s_assert_refused (&served, NULL);
    s_assert_refused (&served, "rk_wrong");

    char first[RFK_SERVING_KEY_LEN + 1], second[RFK_SERVING_KEY_LEN + 1];
    assert_int_equal (rfk_serving_key_new (first), 0);
    assert_int_equal (rfk_serving_key_new (second), 0);
    const char *both[] = {first, second, NULL};
    char *answer = s_set_keys (&served, "token", both);
    assert_string_equal (answer, "OK");
    zstr_free (&answer);
    s_assert_answered (&served, first);
    s_assert_answered (&served, second);
    s_assert_refused (&served, "rk_wrong");

    /*  first is revoked: admin pushes the keys left. */
    const char *left[] = {second, NULL};
    answer = s_set_keys (&served, "token", left);
    assert_string_equal (answer, "OK");
    zstr_free (&answer);
    s_assert_refused (&served, first);
    s_assert_answered (&served, second);

    /*  A malformed update is refused with its reason, and changes nothing. */
    zstr_send (served.actor, "SERVING-KEYS");
    zstr_sendx (served.actor, "token", "not-a-hash", NULL);
    answer = zstr_recv (served.actor);
    assert_non_null (strstr (answer, "serving_keys"));
    zstr_free (&answer);
    s_assert_answered (&served, second);
    s_stop (&served);
}

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    curl_global_init (CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_open_job),
        cmocka_unit_test (test_token_job),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    curl_global_cleanup ();
    return rc;
}
