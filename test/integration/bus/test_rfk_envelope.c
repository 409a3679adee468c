/*  test_rfk_envelope.c: envelope frames on DEALER, ROUTER and PUB/SUB
    sockets, over inproc:// and tcp://, with the real service and event
    codecs.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "bus_test_server.h"

static rfk_msg_t *
s_hello (const char *service_id, uint64_t correlation)
{
    rfk_msg_t *hello = rfk_msg_new (&rfk_service_family, "Hello", correlation);
    assert_non_null (hello);
    json_object_set_new (hello->body, "service_id", json_string (service_id));
    return hello;
}

/*  Usage: a DEALER sends [envelope]; the ROUTER receives it with the
    sender's routing id and answers [routing id][envelope]. */
static void
test_dealer_router_round_trip (void **state)
{
    const char *transport = (const char *)*state;
    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    char *bind = bus_test_endpoint (transport);
    zsock_t *router = rfk_bus_socket_new (ZMQ_ROUTER, bind, true, &opts);
    assert_non_null (router);
    zsock_t *dealer = bus_test_dealer (zsock_endpoint (router), &opts, NULL);
    zsock_set_rcvtimeo (router, 5000);
    assert_int_equal (zsock_sndhwm (router), opts.sndhwm);
    assert_int_equal (zsock_rcvhwm (dealer), opts.rcvhwm);
    assert_int_equal (zsock_linger (dealer), opts.linger_ms);

    rfk_msg_t *hello = s_hello ("svc-1", 42);
    assert_int_equal (rfk_envelope_send (dealer, hello, opts.max_frame_bytes), 0);
    zframe_t *peer = NULL;
    rfk_msg_t *got = NULL;
    rfk_code_t code = RFK_CODE_INTERNAL;
    assert_int_equal (rfk_envelope_recv_from (router, &rfk_service_family, opts.max_frame_bytes,
                                              &peer, &got, &code),
                      0);
    assert_non_null (peer);
    assert_int_equal (code, RFK_CODE_OK);
    assert_string_equal (got->type, "Hello");
    assert_true (got->correlation == 42);
    assert_string_equal (json_string_value (json_object_get (got->body, "service_id")), "svc-1");

    rfk_msg_t *ack = rfk_msg_new (&rfk_service_family, "Ack", got->correlation);
    assert_int_equal (rfk_envelope_send_to (router, peer, ack, opts.max_frame_bytes), 0);
    rfk_msg_t *reply = NULL;
    assert_int_equal (
        rfk_envelope_recv (dealer, &rfk_service_family, opts.max_frame_bytes, &reply, NULL), 0);
    assert_string_equal (reply->type, "Ack");
    assert_true (reply->correlation == 42);

    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&ack);
    rfk_msg_destroy (&got);
    rfk_msg_destroy (&hello);
    zframe_destroy (&peer);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    free (bind);
}

/*  What a receiver sees of bad frames: the code to answer with, or, on a
    ROUTER, nothing at all when there is nobody to answer. */
static void
test_bad_frames (void **state)
{
    (void)state;
    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    zsock_t *router = rfk_bus_socket_new (ZMQ_ROUTER, "inproc://envelope-bad", true, &opts);
    zsock_t *dealer = bus_test_dealer ("inproc://envelope-bad", &opts, NULL);
    zsock_set_rcvtimeo (router, 5000);
    zframe_t *peer = NULL;
    rfk_msg_t *msg = NULL;
    rfk_code_t code = RFK_CODE_OK;

    zstr_send (dealer, "not an envelope");
    assert_int_equal (
        rfk_envelope_recv_from (router, &rfk_service_family, 4096, &peer, &msg, &code), -2);
    assert_int_equal (code, RFK_CODE_MALFORMED);
    assert_non_null (peer);
    assert_null (msg);
    zframe_destroy (&peer);

    zframe_t *big = zframe_new (NULL, 5000);
    memset (zframe_data (big), 0, 5000);
    zframe_send (&big, dealer, 0);
    assert_int_equal (
        rfk_envelope_recv_from (router, &rfk_service_family, 4096, &peer, &msg, &code), -2);
    assert_int_equal (code, RFK_CODE_TOO_LARGE);
    zframe_destroy (&peer);

    /*  An envelope of another family is not one of ours. */
    rfk_msg_t *event = rfk_msg_new (&rfk_event_family, "JobStatus", 3);
    json_object_set_new (event->body, "id", json_string ("job-1"));
    assert_int_equal (rfk_envelope_send (dealer, event, 4096), 0);
    int rc = rfk_envelope_recv_from (router, &rfk_service_family, 4096, &peer, &msg, &code);
    if (rc == 0) {
        /*  Field numbers may coincide across families; then it decodes as
            some service body, never as a JobStatus. */
        assert_string_not_equal (msg->type, "JobStatus");
        rfk_msg_destroy (&msg);
    } else
        assert_int_equal (rc, -2);
    zframe_destroy (&peer);
    rfk_msg_destroy (&event);

    /*  A DEALER receiving more than one frame. */
    zframe_t *id = NULL;
    zstr_send (dealer, "who am I");
    zmsg_t *raw = zmsg_recv (router);
    id = zmsg_pop (raw);
    zmsg_destroy (&raw);
    rfk_msg_t *hello = s_hello ("svc", 1);
    zframe_t *frame = NULL;
    assert_int_equal (rfk_msg_encode (hello, &frame, NULL, 0), 0);
    zframe_send (&id, router, ZFRAME_MORE | ZFRAME_REUSE);
    zframe_send (&frame, router, ZFRAME_MORE);
    zstr_send (router, "extra");
    assert_int_equal (rfk_envelope_recv (dealer, &rfk_service_family, 4096, &msg, &code), -2);
    assert_int_equal (code, RFK_CODE_MALFORMED);
    zframe_destroy (&id);
    rfk_msg_destroy (&hello);

    /*  No routing id to answer: a PAIR's single frame read as a ROUTER's
        message is dropped without a word. */
    zsock_t *left = zsock_new_pair ("@inproc://envelope-pair");
    zsock_t *right = zsock_new_pair (">inproc://envelope-pair");
    zsock_set_rcvtimeo (left, 5000);
    zstr_send (right, "lonely");
    assert_int_equal (rfk_envelope_recv_from (left, &rfk_service_family, 4096, &peer, &msg, &code),
                      -1);
    assert_null (peer);
    assert_null (msg);
    zsock_destroy (&left);
    zsock_destroy (&right);

    /*  Nothing to receive: -1 after the receive timeout. */
    zsock_set_rcvtimeo (dealer, 10);
    assert_int_equal (rfk_envelope_recv (dealer, &rfk_service_family, 4096, &msg, &code), -1);

    zsock_destroy (&dealer);
    zsock_destroy (&router);
}

/*  A message that cannot go out is refused before it leaves, saying why. */
static void
test_refused_sends (void **state)
{
    (void)state;
    zsock_t *pair = zsock_new_pair ("@inproc://envelope-refused");
    char big[200];
    memset (big, 'x', sizeof (big) - 1);
    big[sizeof (big) - 1] = 0;
    rfk_msg_t *hello = s_hello (big, 1);
    assert_int_equal (rfk_envelope_send (pair, hello, 100), -1);
    zframe_t *frame = NULL;
    rfk_code_t code = RFK_CODE_OK;
    char err[256];
    assert_int_equal (rfk_envelope_encode (hello, 100, &frame, &code, err, sizeof (err)), -1);
    assert_int_equal (code, RFK_CODE_TOO_LARGE);
    assert_non_null (strstr (err, "Hello"));
    rfk_msg_destroy (&hello);

    /*  A body field the schema does not have. */
    hello = s_hello ("svc", 1);
    json_object_set_new (hello->body, "no_such_field", json_string ("x"));
    assert_int_equal (rfk_envelope_encode (hello, 4096, &frame, &code, err, sizeof (err)), -1);
    assert_int_equal (code, RFK_CODE_BAD_REQUEST);
    assert_non_null (strstr (err, "no_such_field"));
    assert_null (frame);
    rfk_msg_destroy (&hello);
    zsock_destroy (&pair);
}

/*  PUB/SUB carries [topic][envelope]; topics name jobs and trials. */
static void
test_publish_topics (void **state)
{
    const char *transport = (const char *)*state;
    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    char *bind = bus_test_endpoint (transport);
    zsock_t *pub = rfk_bus_socket_new (ZMQ_PUB, bind, true, &opts);
    zsock_t *sub = rfk_subscriber_new (zsock_endpoint (pub), &opts);
    rfk_subscriber_subscribe (sub, "trial.");
    zsock_set_rcvtimeo (sub, 20);

    char *topic = rfk_topic_trial ("t-9");
    assert_string_equal (topic, "trial.t-9");
    rfk_msg_t *update = rfk_msg_new (&rfk_event_family, "TrialUpdate", 0);
    json_object_set_new (update->body, "trial_id", json_string ("t-9"));
    json_object_set_new (update->body, "status", json_string ("COMPLETED"));
    json_object_set_new (update->body, "score", json_real (0.5));
    /*  Publish until the subscription has arrived (a receive timeout per
        try). */
    char *got_topic = NULL;
    rfk_msg_t *got = NULL;
    int64_t limit = zclock_mono () + 5000;
    while (!got && zclock_mono () < limit) {
        assert_int_equal (rfk_envelope_publish (pub, topic, update, 4096), 0);
        rfk_envelope_recv_topic (sub, &rfk_event_family, 4096, &got_topic, &got, NULL);
    }
    assert_non_null (got);
    assert_string_equal (got_topic, "trial.t-9");
    assert_string_equal (got->type, "TrialUpdate");
    assert_string_equal (json_string_value (json_object_get (got->body, "status")), "COMPLETED");

    char *job = rfk_topic_job ("j-1");
    assert_string_equal (job, "job.j-1");
    assert_null (rfk_topic_job (""));
    assert_null (rfk_topic_trial (NULL));

    free (job);
    zstr_free (&got_topic);
    rfk_msg_destroy (&got);
    rfk_msg_destroy (&update);
    free (topic);
    zsock_destroy (&sub);
    zsock_destroy (&pub);
    free (bind);
}

static void
test_error_code (void **state)
{
    (void)state;
    rfk_msg_t *error = rfk_msg_new_error (&rfk_service_family, 5, RFK_CODE_NOT_FOUND, "no such");
    assert_int_equal (rfk_envelope_error_code (error), RFK_CODE_NOT_FOUND);
    json_object_set_new (error->body, "code", json_string ("NONSENSE"));
    assert_int_equal (rfk_envelope_error_code (error), RFK_CODE_INTERNAL);
    rfk_msg_destroy (&error);
    rfk_msg_t *ack = rfk_msg_new (&rfk_service_family, "Ack", 5);
    assert_int_equal (rfk_envelope_error_code (ack), RFK_CODE_OK);
    assert_int_equal (rfk_envelope_error_code (NULL), RFK_CODE_OK);
    rfk_msg_destroy (&ack);
}

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate (test_dealer_router_round_trip, (void *)"inproc"),
        cmocka_unit_test_prestate (test_dealer_router_round_trip, (void *)"tcp"),
        cmocka_unit_test (test_bad_frames),
        cmocka_unit_test (test_refused_sends),
        cmocka_unit_test_prestate (test_publish_topics, (void *)"inproc"),
        cmocka_unit_test_prestate (test_publish_topics, (void *)"tcp"),
        cmocka_unit_test (test_error_code),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
