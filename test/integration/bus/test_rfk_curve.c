/*  test_rfk_curve.c: CurveZMQ on bus sockets, over tcp://127.0.0.1:*.

    A server (bus_test_server.c, the real service codec) bound with CURVE
    options and a ZAP policy; clients with the right key get answers, and a
    client with another key, or none (plaintext), is refused at the handshake:
    it never gets a reply and the policy counts the refusal. The group helpers
    are those a predictor, an advisor, a trainer and an inference worker call,
    so a worker holding another job's key is refused by this job's server.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "bus_test_server.h"

/*  A Hello over client: true when the server answered ServiceConfig. */
static bool
s_answered (const char *endpoint, const rfk_bus_opts_t *opts)
{
    rfk_bus_opts_t client_opts = *opts;
    client_opts.request_timeout_ms = 700;
    client_opts.request_retries = 0;
    rfk_client_t *client = rfk_client_new (endpoint, &rfk_service_family, &client_opts);
    assert_non_null (client);
    rfk_msg_t *hello = rfk_msg_new (&rfk_service_family, "Hello", 0);
    json_object_set_new (hello->body, "service_id", json_string ("svc-1"));
    rfk_msg_t *reply = rfk_client_call (client, hello);
    bool answered = reply && streq (reply->type, "ServiceConfig");
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&hello);
    rfk_client_destroy (&client);
    return answered;
}

/*  The text admin hands a service: own, group and admin keys. */
static void
s_keys_text (char *text, size_t size, rfk_curve_pair_t *group, const char *admin_public)
{
    rfk_curve_keys_t keys;
    assert_int_equal (rfk_curve_pair_new (&keys.own), 0);
    if (group->secret_key[0] == 0)
        assert_int_equal (rfk_curve_pair_new (group), 0);
    keys.group = *group;
    snprintf (keys.admin_public, sizeof keys.admin_public, "%s", admin_public);
    assert_int_equal (rfk_curve_keys_format (&keys, text, size), 0);
}

/*  Usage: a server admits exactly the keys its policy allows. */
static void
test_usage (void **state)
{
    (void)state;
    assert_true (zsys_has_curve ());
    rfk_curve_pair_t server, good, bad;
    assert_int_equal (rfk_curve_pair_new (&server), 0);
    assert_int_equal (rfk_curve_pair_new (&good), 0);
    assert_int_equal (rfk_curve_pair_new (&bad), 0);
    rfk_zap_t *zap = rfk_zap_new ("test-server", false);
    assert_non_null (zap);
    rfk_zap_allow (zap, good.public_key);

    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    rfk_bus_opts_t server_opts = opts;
    rfk_bus_opts_curve_server (&server_opts, &server, zap);
    char *endpoint = NULL;
    zactor_t *actor = bus_test_server_new ("tcp://127.0.0.1:*", &server_opts, &endpoint);
    assert_non_null (actor);

    rfk_bus_opts_t client = opts;
    rfk_bus_opts_curve_client (&client, &good, server.public_key);
    assert_true (s_answered (endpoint, &client));

    //  Another key, a fresh one, the right key with the wrong server key,
    //  and plaintext: all refused.
    rfk_bus_opts_curve_client (&client, &bad, server.public_key);
    assert_false (s_answered (endpoint, &client));
    rfk_bus_opts_curve_client (&client, NULL, server.public_key);
    assert_false (s_answered (endpoint, &client));
    rfk_bus_opts_curve_client (&client, &good, bad.public_key);
    assert_false (s_answered (endpoint, &client));
    rfk_bus_opts_curve_none (&client);
    assert_false (s_answered (endpoint, &client));
    assert_true (rfk_zap_refused (zap) >= 2);

    //  A key forgotten is refused from then on.
    rfk_zap_forget (zap, good.public_key);
    rfk_bus_opts_curve_client (&client, &good, server.public_key);
    assert_false (s_answered (endpoint, &client));

    zactor_destroy (&actor);
    zstr_free (&endpoint);
    rfk_zap_destroy (&zap);
}

/*  A policy that admits any key still needs CURVE: plaintext is refused. */
static void
test_any_client_key (void **state)
{
    (void)state;
    rfk_curve_pair_t server;
    assert_int_equal (rfk_curve_pair_new (&server), 0);
    rfk_zap_t *zap = rfk_zap_new ("test-command", true);
    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    rfk_bus_opts_t server_opts = opts;
    rfk_bus_opts_curve_server (&server_opts, &server, zap);
    char *endpoint = NULL;
    zactor_t *actor = bus_test_server_new ("tcp://127.0.0.1:*", &server_opts, &endpoint);
    assert_non_null (actor);
    rfk_bus_opts_t client = opts;
    rfk_bus_opts_curve_client (&client, NULL, server.public_key);
    assert_true (s_answered (endpoint, &client));
    rfk_bus_opts_curve_none (&client);
    assert_false (s_answered (endpoint, &client));
    zactor_destroy (&actor);
    zstr_free (&endpoint);
    rfk_zap_destroy (&zap);
}

/*  A job's server (predictor `workers`, advisor) admits its own job's
    workers; a rogue holding a valid key of another job's worker is refused. */
static void
test_other_jobs_worker_refused (void **state)
{
    (void)state;
    rfk_curve_pair_t job_a = {{0}, {0}}, job_b = {{0}, {0}};
    rfk_curve_pair_t admin;
    assert_int_equal (rfk_curve_pair_new (&admin), 0);
    char keys_a[200], worker_a[200], worker_b[200];
    s_keys_text (keys_a, sizeof keys_a, &job_a, admin.public_key);
    s_keys_text (worker_a, sizeof worker_a, &job_a, admin.public_key);
    s_keys_text (worker_b, sizeof worker_b, &job_b, admin.public_key);

    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    rfk_bus_opts_t server_opts = opts;
    rfk_zap_t *zap = NULL;
    assert_int_equal (
        rfk_curve_group_server (&server_opts, keys_a, "predictor-workers", false, &zap), 0);
    assert_non_null (zap);
    char *endpoint = NULL;
    zactor_t *actor = bus_test_server_new ("tcp://127.0.0.1:*", &server_opts, &endpoint);
    assert_non_null (actor);

    rfk_bus_opts_t client = opts;
    assert_int_equal (rfk_curve_group_client (&client, worker_a), 0);
    assert_true (s_answered (endpoint, &client));
    //  Job B's worker, its own keys: its server key is not this server's.
    assert_int_equal (rfk_curve_group_client (&client, worker_b), 0);
    assert_false (s_answered (endpoint, &client));
    //  Job B's worker that learnt job A's public key: its key is not admitted.
    rfk_curve_keys_t parsed;
    assert_int_equal (rfk_curve_keys_parse (worker_b, &parsed), 0);
    rfk_bus_opts_curve_client (&client, &parsed.group, job_a.public_key);
    assert_false (s_answered (endpoint, &client));
    assert_true (rfk_zap_refused (zap) >= 1);

    zactor_destroy (&actor);
    zstr_free (&endpoint);
    rfk_zap_destroy (&zap);
}

/*  The keys text a service gets: parsed back, malformed refused; no keys
    (a test's fake admin) means plaintext. */
static void
test_keys_text (void **state)
{
    (void)state;
    rfk_curve_pair_t group = {{0}, {0}}, admin;
    assert_int_equal (rfk_curve_pair_new (&admin), 0);
    char text[200];
    s_keys_text (text, sizeof text, &group, admin.public_key);
    rfk_curve_keys_t keys;
    assert_int_equal (rfk_curve_keys_parse (text, &keys), 0);
    assert_string_equal (keys.group.public_key, group.public_key);
    assert_string_equal (keys.admin_public, admin.public_key);
    assert_int_equal (rfk_curve_keys_parse ("", &keys), -1);
    assert_int_equal (rfk_curve_keys_parse ("short keys here", &keys), -1);
    char longer[300];
    snprintf (longer, sizeof longer, "%s extra", text);
    assert_int_equal (rfk_curve_keys_parse (longer, &keys), -1);
    rfk_bus_opts_t opts;
    rfk_bus_opts_defaults (&opts);
    rfk_zap_t *zap = NULL;
    assert_int_equal (rfk_curve_group_server (&opts, NULL, "x", false, &zap), 0);
    assert_null (zap);
    assert_false (opts.curve);
    assert_int_equal (rfk_curve_group_server (&opts, "bad", "x", false, &zap), -1);
    assert_int_equal (rfk_curve_group_client (&opts, "bad"), -1);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_any_client_key),
        cmocka_unit_test (test_other_jobs_worker_refused),
        cmocka_unit_test (test_keys_text),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
