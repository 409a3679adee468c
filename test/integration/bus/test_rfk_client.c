/*  test_rfk_client.c: request/reply over a DEALER, over inproc:// and tcp://.

    The server is the test server actor (bus_test_server.c) with the real
    service codec; it can ignore the first try of a request, never answer, or
    answer each try late, which is how timeouts, retries and late replies are
    tested. Waits are polls bounded by the client's own deadlines.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "bus_test_server.h"

typedef struct {
    int replies;           /* replies delivered */
    uint64_t ids[8];       /* their correlation ids, in order */
    char types[8][32];     /* their body types */
    rfk_code_t codes[8];   /* their error codes (OK when not an Error) */
    int messages;          /* unsolicited messages */
    char message_type[32]; /* the last one's type */
    int dead;              /* times the server went silent */
    int back;              /* times it came back */
} s_seen_t;

static void
s_on_reply (rfk_client_t *client, uint64_t correlation, rfk_msg_t **reply_p, void *arg)
{
    (void)client;
    s_seen_t *seen = (s_seen_t *)arg;
    if (seen->replies < 8) {
        seen->ids[seen->replies] = correlation;
        snprintf (seen->types[seen->replies], 32, "%s", (*reply_p)->type);
        seen->codes[seen->replies] = rfk_envelope_error_code (*reply_p);
    }
    seen->replies++;
}

static void
s_on_message (rfk_client_t *client, rfk_msg_t **msg_p, void *ctx)
{
    (void)client;
    s_seen_t *seen = (s_seen_t *)ctx;
    seen->messages++;
    snprintf (seen->message_type, 32, "%s", (*msg_p)->type);
}

static void
s_on_liveness (rfk_client_t *client, bool alive, void *ctx)
{
    (void)client;
    s_seen_t *seen = (s_seen_t *)ctx;
    if (alive)
        seen->back++;
    else
        seen->dead++;
}

/*  Runs the client as an actor's loop would until done says so or the
    limit passes: poll with the client's nearest deadline, read, tick. */
static void
s_run (rfk_client_t *client, s_seen_t *seen, bool (*done) (s_seen_t *), int64_t limit_ms)
{
    zpoller_t *poller = zpoller_new (rfk_client_sock (client), NULL);
    int64_t limit = zclock_mono () + limit_ms;
    while (!(done && done (seen)) && zclock_mono () < limit) {
        rfk_deadline_t deadline;
        rfk_deadline_reset (&deadline);
        rfk_deadline_add (&deadline, rfk_client_deadline (client));
        rfk_deadline_add (&deadline, limit);
        if (zpoller_wait (poller, rfk_deadline_timeout (&deadline)))
            rfk_client_recv (client);
        rfk_client_tick (client);
    }
    zpoller_destroy (&poller);
}

static bool
s_three_replies (s_seen_t *seen)
{
    return seen->replies >= 3;
}

static rfk_msg_t *
s_report (const char *how)
{
    rfk_msg_t *report = rfk_msg_new (&rfk_service_family, "StatusReport", 0);
    assert_non_null (report);
    json_object_set_new (report->body, "service_id", json_string ("svc-1"));
    json_object_set_new (report->body, "status", json_string ("RUNNING"));
    json_object_set_new (report->body, "message", json_string (how));
    return report;
}

static rfk_msg_t *
s_hello (const char *service_id, const char *secret)
{
    rfk_msg_t *hello = rfk_msg_new (&rfk_service_family, "Hello", 0);
    assert_non_null (hello);
    json_object_set_new (hello->body, "service_id", json_string (service_id));
    if (secret)
        json_object_set_new (hello->body, "secret", json_string (secret));
    return hello;
}

typedef struct {
    zactor_t *server; /* the test server actor */
    char *endpoint;   /* where it is bound */
    rfk_bus_opts_t opts;
} s_fixture_t;

static void
s_fixture_start (s_fixture_t *fixture, const char *transport)
{
    bus_test_opts (&fixture->opts);
    char *bind = bus_test_endpoint (transport);
    fixture->server = bus_test_server_new (bind, &fixture->opts, &fixture->endpoint);
    assert_non_null (fixture->server);
    free (bind);
}

static void
s_fixture_stop (s_fixture_t *fixture)
{
    zactor_destroy (&fixture->server);
    free (fixture->endpoint);
}

/*  Usage: inside an actor's loop, send requests without waiting, poll the
    client's socket with its deadline, and get each reply through the
    callback, matched by correlation id even when they come out of order. */
static void
test_requests_in_a_loop (void **state)
{
    s_fixture_t fixture;
    s_fixture_start (&fixture, (const char *)*state);
    rfk_client_t *client = rfk_client_new (fixture.endpoint, &rfk_service_family, &fixture.opts);
    assert_non_null (client);
    s_seen_t seen;
    memset (&seen, 0, sizeof (seen));

    rfk_msg_t *late = s_report ("late");
    rfk_msg_t *first = s_hello ("svc-a", NULL);
    rfk_msg_t *second = s_hello ("svc-b", NULL);
    uint64_t late_id = rfk_client_send (client, late, s_on_reply, &seen);
    uint64_t first_id = rfk_client_send (client, first, s_on_reply, &seen);
    uint64_t second_id = rfk_client_send (client, second, s_on_reply, &seen);
    assert_true (late_id && first_id && second_id);
    assert_true (late_id != first_id && first_id != second_id);
    assert_true (first->correlation == first_id);
    assert_int_equal (rfk_client_pending (client), 3);

    s_run (client, &seen, s_three_replies, 5000);
    assert_int_equal (seen.replies, 3);
    assert_true (seen.ids[0] == first_id);
    assert_string_equal (seen.types[0], "ServiceConfig");
    assert_true (seen.ids[1] == second_id);
    assert_string_equal (seen.types[1], "ServiceConfig");
    assert_true (seen.ids[2] == late_id);
    assert_string_equal (seen.types[2], "Ack");
    assert_int_equal (rfk_client_pending (client), 0);

    rfk_msg_destroy (&late);
    rfk_msg_destroy (&first);
    rfk_msg_destroy (&second);
    rfk_client_destroy (&client);
    rfk_client_destroy (&client);
    s_fixture_stop (&fixture);
}

/*  A server that ignores the first try: the client re-sends the same
    correlation id after the timeout and gets the answer. */
static void
test_retry_after_timeout (void **state)
{
    s_fixture_t fixture;
    s_fixture_start (&fixture, (const char *)*state);
    rfk_client_t *client = rfk_client_new (fixture.endpoint, &rfk_service_family, &fixture.opts);

    rfk_msg_t *report = s_report ("ignore-first");
    int64_t start = zclock_mono ();
    rfk_msg_t *reply = rfk_client_call_with (client, report, 200, 2);
    int64_t took = zclock_mono () - start;
    assert_non_null (reply);
    assert_string_equal (reply->type, "Ack");
    assert_true (reply->correlation == report->correlation);
    assert_true (took >= 200);
    assert_int_equal (bus_test_server_tries (fixture.server, report->correlation), 2);
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&report);

    rfk_client_destroy (&client);
    s_fixture_stop (&fixture);
}

/*  A server that never answers: after the retries the caller gets a local
    Error TIMEOUT naming the server and the request. */
static void
test_timeout_after_retries (void **state)
{
    s_fixture_t fixture;
    s_fixture_start (&fixture, (const char *)*state);
    rfk_client_t *client = rfk_client_new (fixture.endpoint, &rfk_service_family, &fixture.opts);

    rfk_msg_t *report = s_report ("never");
    int64_t start = zclock_mono ();
    rfk_msg_t *reply = rfk_client_call_with (client, report, 100, 2);
    int64_t took = zclock_mono () - start;
    assert_non_null (reply);
    assert_string_equal (reply->type, "Error");
    assert_int_equal (rfk_envelope_error_code (reply), RFK_CODE_TIMEOUT);
    assert_true (reply->correlation == report->correlation);
    const char *text = json_string_value (json_object_get (reply->body, "message"));
    assert_non_null (strstr (text, fixture.endpoint));
    assert_non_null (strstr (text, "StatusReport"));
    assert_non_null (strstr (text, "3 tries"));
    assert_true (took >= 300);
    assert_int_equal (bus_test_server_tries (fixture.server, report->correlation), 3);
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&report);

    /*  The client still works. */
    rfk_msg_t *hello = s_hello ("svc-after", NULL);
    reply = rfk_client_call (client, hello);
    assert_string_equal (reply->type, "ServiceConfig");
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&hello);

    rfk_client_destroy (&client);
    s_fixture_stop (&fixture);
}

static bool
s_one_reply (s_seen_t *seen)
{
    return seen->replies >= 1;
}

/*  A server that answers every try late: the first answer completes the
    request, the answer to the re-sent try comes later and is dropped, and
    the next request gets its own reply. */
static void
test_late_reply_is_dropped (void **state)
{
    s_fixture_t fixture;
    s_fixture_start (&fixture, (const char *)*state);
    rfk_client_t *client = rfk_client_new (fixture.endpoint, &rfk_service_family, &fixture.opts);
    s_seen_t seen;
    memset (&seen, 0, sizeof (seen));
    rfk_client_set_handlers (client, s_on_message, NULL, &seen);

    /*  Tries at 0 and 100 ms, answers at 150 and 250 ms. */
    rfk_msg_t *report = s_report ("late");
    uint64_t id = rfk_client_send_with (client, report, 100, 1, s_on_reply, &seen);
    assert_true (id != 0);
    s_run (client, &seen, s_one_reply, 5000);
    assert_int_equal (seen.replies, 1);
    assert_string_equal (seen.types[0], "Ack");
    assert_true (seen.ids[0] == id);
    /*  Keep the loop running past the second answer. */
    s_run (client, &seen, NULL, 400);
    assert_int_equal (bus_test_server_tries (fixture.server, id), 2);
    assert_int_equal (seen.replies, 1);
    assert_int_equal (seen.messages, 0);

    rfk_msg_t *hello = s_hello ("svc-next", NULL);
    rfk_msg_t *reply = rfk_client_call (client, hello);
    assert_string_equal (reply->type, "ServiceConfig");
    assert_true (reply->correlation == hello->correlation);
    assert_string_equal (json_string_value (json_object_get (reply->body, "service_id")),
                         "svc-next");
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&hello);
    rfk_msg_destroy (&report);

    rfk_client_destroy (&client);
    s_fixture_stop (&fixture);
}

static bool
s_one_message (s_seen_t *seen)
{
    return seen->messages >= 1;
}

/*  A message from the server that answers none of our requests (admin's
    Stop) goes to the message handler. */
static void
test_unsolicited_message (void **state)
{
    s_fixture_t fixture;
    s_fixture_start (&fixture, (const char *)*state);
    rfk_client_t *client = rfk_client_new (fixture.endpoint, &rfk_service_family, &fixture.opts);
    s_seen_t seen;
    memset (&seen, 0, sizeof (seen));
    rfk_client_set_handlers (client, s_on_message, NULL, &seen);

    rfk_msg_t *hello = s_hello ("svc-stop", "stop-me");
    rfk_msg_t *reply = rfk_client_call (client, hello);
    assert_string_equal (reply->type, "ServiceConfig");
    s_run (client, &seen, s_one_message, 5000);
    assert_int_equal (seen.messages, 1);
    assert_string_equal (seen.message_type, "Stop");
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&hello);

    rfk_client_destroy (&client);
    s_fixture_stop (&fixture);
}

/*  A cancelled request never calls back, even when its answer comes. */
static void
test_cancel (void **state)
{
    s_fixture_t fixture;
    s_fixture_start (&fixture, (const char *)*state);
    rfk_client_t *client = rfk_client_new (fixture.endpoint, &rfk_service_family, &fixture.opts);
    s_seen_t seen;
    memset (&seen, 0, sizeof (seen));
    rfk_client_set_handlers (client, s_on_message, NULL, &seen);

    rfk_msg_t *report = s_report ("late");
    uint64_t id = rfk_client_send (client, report, s_on_reply, &seen);
    assert_int_equal (rfk_client_cancel (client, id), 0);
    assert_int_equal (rfk_client_cancel (client, id), -1);
    assert_int_equal (rfk_client_pending (client), 0);
    /*  Past the late answer (150 ms). */
    s_run (client, &seen, NULL, 400);
    assert_int_equal (bus_test_server_tries (fixture.server, id), 1);
    assert_int_equal (seen.replies, 0);
    assert_int_equal (seen.messages, 0);
    rfk_msg_destroy (&report);

    rfk_client_destroy (&client);
    s_fixture_stop (&fixture);
}

static bool
s_dead (s_seen_t *seen)
{
    return seen->dead > 0;
}

static bool
s_back (s_seen_t *seen)
{
    return seen->back > 0;
}

/*  The client finds a server that stopped answering within the heartbeat
    timeout, having pinged it meanwhile, and notes when it is back. */
static void
test_silent_server (void **state)
{
    const char *transport = (const char *)*state;
    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    char *bind = bus_test_endpoint (transport);
    /*  A raw ROUTER that reads but does not answer. */
    zsock_t *router = rfk_bus_socket_new (ZMQ_ROUTER, bind, true, &opts);
    assert_non_null (router);
    rfk_client_t *client = rfk_client_new (zsock_endpoint (router), &rfk_service_family, &opts);
    s_seen_t seen;
    memset (&seen, 0, sizeof (seen));
    rfk_client_set_handlers (client, NULL, s_on_liveness, &seen);

    int64_t start = zclock_mono ();
    assert_true (rfk_client_alive (client));
    s_run (client, &seen, s_dead, 5000);
    int64_t took = zclock_mono () - start;
    assert_int_equal (seen.dead, 1);
    assert_false (rfk_client_alive (client));
    assert_true (took >= opts.heartbeat_timeout_ms);
    assert_true (took < opts.heartbeat_timeout_ms + 1500);

    /*  The pings reached the server: answer the last one. */
    int pings = 0;
    zframe_t *peer = NULL;
    zsock_set_rcvtimeo (router, 0);
    while (true) {
        zframe_t *from = NULL;
        rfk_msg_t *ping = NULL;
        if (rfk_envelope_recv_from (router, &rfk_service_family, 4096, &from, &ping, NULL) != 0)
            break;
        assert_string_equal (ping->type, "Heartbeat");
        pings++;
        rfk_msg_destroy (&ping);
        zframe_destroy (&peer);
        peer = from;
    }
    assert_true (pings >= 3);
    assert_non_null (peer);
    rfk_msg_t *pong = rfk_msg_new (&rfk_service_family, "Heartbeat", 0);
    assert_int_equal (rfk_envelope_send_to (router, peer, pong, 4096), 0);
    s_run (client, &seen, s_back, 5000);
    assert_int_equal (seen.back, 1);
    assert_true (rfk_client_alive (client));

    rfk_msg_destroy (&pong);
    zframe_destroy (&peer);
    rfk_client_destroy (&client);
    zsock_destroy (&router);
    free (bind);
}

/*  With nobody taking requests and the queue full, a send is refused at
    once with UNAVAILABLE instead of buffering without limit. */
static void
test_full_queue (void **state)
{
    (void)state;
    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    opts.sndhwm = 4;
    /*  A port nobody listens on any more. */
    zsock_t *gone = rfk_bus_socket_new (ZMQ_ROUTER, "tcp://127.0.0.1:*", true, &opts);
    char *endpoint = strdup (zsock_endpoint (gone));
    zsock_destroy (&gone);

    rfk_client_t *client = rfk_client_new (endpoint, &rfk_service_family, &opts);
    s_seen_t seen;
    memset (&seen, 0, sizeof (seen));
    int sent = 0;
    rfk_code_t code = RFK_CODE_OK;
    for (int i = 0; i < 100 && code == RFK_CODE_OK; i++) {
        rfk_msg_t *hello = s_hello ("svc-queued", NULL);
        if (rfk_client_send (client, hello, s_on_reply, &seen))
            sent++;
        else
            rfk_client_error (client, &code);
        rfk_msg_destroy (&hello);
    }
    assert_int_equal (code, RFK_CODE_UNAVAILABLE);
    assert_true (sent >= 1 && sent <= 16);
    rfk_msg_t *hello = s_hello ("svc-blocked", NULL);
    rfk_msg_t *reply = rfk_client_call (client, hello);
    assert_string_equal (reply->type, "Error");
    assert_int_equal (rfk_envelope_error_code (reply), RFK_CODE_UNAVAILABLE);
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&hello);

    rfk_client_destroy (&client);
    free (endpoint);
}

#define S_BOTH(test)                                                                               \
    cmocka_unit_test_prestate (test, (void *)"inproc"),                                            \
        cmocka_unit_test_prestate (test, (void *)"tcp")

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    const struct CMUnitTest tests[] = {
        S_BOTH (test_requests_in_a_loop),    S_BOTH (test_retry_after_timeout),
        S_BOTH (test_timeout_after_retries), S_BOTH (test_late_reply_is_dropped),
        S_BOTH (test_unsolicited_message),   S_BOTH (test_cancel),
        S_BOTH (test_silent_server),         cmocka_unit_test (test_full_queue),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
