/*  test_rfk_proxy.c: the event proxy (XSUB -> XPUB) with publishers and
    subscribers, over inproc:// and tcp://, with the real event codec.

    Subscriptions take a moment to travel up through the proxy; the tests
    wait for them by publishing a probe on the subscribed topic until it
    arrives (a receive timeout per try), never by sleeping.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "bus_test_server.h"

#define S_JOB_A "0b0f1e6a-5a52-4d3c-9a53-5a0f6c1e7d01"
#define S_JOB_B "0b0f1e6a-5a52-4d3c-9a53-5a0f6c1e7d02"

static rfk_msg_t *
s_job_status (const char *id, const char *status)
{
    rfk_msg_t *event = rfk_msg_new (&rfk_event_family, "JobStatus", 0);
    assert_non_null (event);
    json_object_set_new (event->body, "kind", json_string ("TRAIN"));
    json_object_set_new (event->body, "id", json_string (id));
    json_object_set_new (event->body, "status", json_string (status));
    return event;
}

static void
s_publish (zsock_t *pub, const char *topic, rfk_msg_t *event)
{
    assert_int_equal (rfk_envelope_publish (pub, topic, event, 4096), 0);
}

/*  Publishes probes on topic until the subscriber gets one: then the
    subscription has reached the publisher. */
static void
s_wait_subscribed (zsock_t *pub, zsock_t *sub, const char *topic)
{
    rfk_msg_t *probe = s_job_status ("probe", "STARTED");
    zsock_set_rcvtimeo (sub, 20);
    int64_t limit = zclock_mono () + 5000;
    bool through = false;
    while (!through && zclock_mono () < limit) {
        s_publish (pub, topic, probe);
        char *got_topic = NULL;
        rfk_msg_t *event = NULL;
        if (rfk_envelope_recv_topic (sub, &rfk_event_family, 4096, &got_topic, &event, NULL) == 0)
            through = true;
        zstr_free (&got_topic);
        rfk_msg_destroy (&event);
    }
    assert_true (through);
    /*  Drain the probes still on their way. */
    char *got_topic = NULL;
    rfk_msg_t *event = NULL;
    while (rfk_envelope_recv_topic (sub, &rfk_event_family, 4096, &got_topic, &event, NULL) == 0) {
        assert_string_equal (json_string_value (json_object_get (event->body, "id")), "probe");
        zstr_free (&got_topic);
        rfk_msg_destroy (&event);
    }
    zsock_set_rcvtimeo (sub, 5000);
    rfk_msg_destroy (&probe);
}

/*  Usage: admin starts the proxy, its actors publish events on topics, a
    watcher subscribes to one job and sees only that job's events. */
static void
test_publish_subscribe_through_proxy (void **state)
{
    const char *transport = (const char *)*state;
    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    char *front = bus_test_endpoint (transport);
    char *back = bus_test_endpoint (transport);
    zactor_t *proxy = rfk_proxy_new (front, back, &opts);
    assert_non_null (proxy);
    char *frontend = NULL, *backend = NULL;
    assert_int_equal (rfk_proxy_endpoints (proxy, &frontend, &backend), 0);
    assert_null (strchr (frontend, '*'));
    assert_null (strchr (backend, '*'));

    zsock_t *pub = rfk_publisher_new (frontend, &opts);
    zsock_t *sub = rfk_subscriber_new (backend, &opts);
    assert_non_null (pub);
    assert_non_null (sub);
    char *topic_a = rfk_topic_job (S_JOB_A);
    char *topic_b = rfk_topic_job (S_JOB_B);
    char *trial_a = rfk_topic_trial (S_JOB_A);
    rfk_subscriber_subscribe (sub, topic_a);
    s_wait_subscribed (pub, sub, topic_a);

    /*  Events of another job and of a trial, then ours: only ours comes,
        and it comes after the others were published, so they were
        filtered, not late. */
    rfk_msg_t *other = s_job_status (S_JOB_B, "RUNNING");
    s_publish (pub, topic_b, other);
    rfk_msg_t *trial = rfk_msg_new (&rfk_event_family, "TrialUpdate", 0);
    json_object_set_new (trial->body, "trial_id", json_string (S_JOB_A));
    s_publish (pub, trial_a, trial);
    rfk_msg_t *ours = s_job_status (S_JOB_A, "RUNNING");
    s_publish (pub, topic_a, ours);
    rfk_msg_t *done = s_job_status (S_JOB_A, "STOPPED");
    s_publish (pub, topic_a, done);

    char *topic = NULL;
    rfk_msg_t *event = NULL;
    assert_int_equal (rfk_envelope_recv_topic (sub, &rfk_event_family, 4096, &topic, &event, NULL),
                      0);
    assert_string_equal (topic, topic_a);
    assert_string_equal (event->type, "JobStatus");
    assert_string_equal (json_string_value (json_object_get (event->body, "id")), S_JOB_A);
    assert_string_equal (json_string_value (json_object_get (event->body, "status")), "RUNNING");
    zstr_free (&topic);
    rfk_msg_destroy (&event);
    assert_int_equal (rfk_envelope_recv_topic (sub, &rfk_event_family, 4096, &topic, &event, NULL),
                      0);
    assert_string_equal (topic, topic_a);
    assert_string_equal (json_string_value (json_object_get (event->body, "status")), "STOPPED");
    zstr_free (&topic);
    rfk_msg_destroy (&event);

    /*  A second watcher of every job ("job.") sees job B, not the trial. */
    zsock_t *all = rfk_subscriber_new (backend, &opts);
    rfk_subscriber_subscribe (all, "job.");
    s_wait_subscribed (pub, all, topic_b);
    s_publish (pub, trial_a, trial);
    s_publish (pub, topic_b, other);
    assert_int_equal (rfk_envelope_recv_topic (all, &rfk_event_family, 4096, &topic, &event, NULL),
                      0);
    assert_string_equal (topic, topic_b);
    assert_string_equal (json_string_value (json_object_get (event->body, "id")), S_JOB_B);
    zstr_free (&topic);
    rfk_msg_destroy (&event);
    /*  The first watcher, subscribed to job A only, got none of these. */
    zsock_set_rcvtimeo (sub, 200);
    assert_int_equal (rfk_envelope_recv_topic (sub, &rfk_event_family, 4096, &topic, &event, NULL),
                      -1);

    rfk_msg_destroy (&other);
    rfk_msg_destroy (&trial);
    rfk_msg_destroy (&ours);
    rfk_msg_destroy (&done);
    free (topic_a);
    free (topic_b);
    free (trial_a);
    zsock_destroy (&all);
    zsock_destroy (&sub);
    zsock_destroy (&pub);
    zstr_free (&frontend);
    zstr_free (&backend);
    zactor_destroy (&proxy);
    zactor_destroy (&proxy);
    free (front);
    free (back);
}

/*  A bad frame published through the proxy reaches the watcher as a
    MALFORMED receive, not a crash; the next event is fine. */
static void
test_bad_event_is_reported (void **state)
{
    (void)state;
    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    zactor_t *proxy = rfk_proxy_new ("inproc://proxy-bad-in", "inproc://proxy-bad-out", &opts);
    assert_non_null (proxy);
    zsock_t *pub = rfk_publisher_new ("inproc://proxy-bad-in", &opts);
    zsock_t *sub = rfk_subscriber_new ("inproc://proxy-bad-out", &opts);
    rfk_subscriber_subscribe (sub, "");
    s_wait_subscribed (pub, sub, "job.x");

    zstr_sendx (pub, "job.x", "garbage", NULL);
    char *topic = NULL;
    rfk_msg_t *event = NULL;
    rfk_code_t code = RFK_CODE_OK;
    assert_int_equal (rfk_envelope_recv_topic (sub, &rfk_event_family, 4096, &topic, &event, &code),
                      -2);
    assert_int_equal (code, RFK_CODE_MALFORMED);
    assert_string_equal (topic, "job.x");
    assert_null (event);
    zstr_free (&topic);

    rfk_msg_t *good = s_job_status ("x", "RUNNING");
    s_publish (pub, "job.x", good);
    assert_int_equal (rfk_envelope_recv_topic (sub, &rfk_event_family, 4096, &topic, &event, NULL),
                      0);
    assert_string_equal (event->type, "JobStatus");
    zstr_free (&topic);
    rfk_msg_destroy (&event);
    rfk_msg_destroy (&good);

    zsock_destroy (&sub);
    zsock_destroy (&pub);
    zactor_destroy (&proxy);
}

/*  An endpoint that cannot be bound is reported, not asserted. */
static void
test_bad_endpoint (void **state)
{
    (void)state;
    zactor_t *taken = rfk_proxy_new ("inproc://proxy-taken-in", "inproc://proxy-taken-out", NULL);
    assert_non_null (taken);
    assert_null (rfk_proxy_new ("inproc://proxy-taken-in", "inproc://proxy-other-out", NULL));
    assert_null (rfk_proxy_new ("bogus://nowhere", "inproc://proxy-other-out", NULL));
    zactor_destroy (&taken);
}

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate (test_publish_subscribe_through_proxy, (void *)"inproc"),
        cmocka_unit_test_prestate (test_publish_subscribe_through_proxy, (void *)"tcp"),
        cmocka_unit_test (test_bad_event_is_reported),
        cmocka_unit_test (test_bad_endpoint),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
