/*  test_rfk_server.c: the ROUTER server helper, over inproc:// and tcp://.

    The server runs in its own actor (bus_test_server.c) with the real
    service codec; the tests talk to it through real DEALERs, send it garbage,
    oversize frames, unknown bodies and 10,000 random frames, and check what a
    peer sees: the reply, the Error code, or silence. Waits are receive
    timeouts and deadlines; nothing sleeps.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <inttypes.h>

#include "bus_test_server.h"

/*  A Hello with a service id, encoded as a peer would send it. */
static rfk_msg_t *
s_hello (const char *service_id, uint64_t correlation)
{
    rfk_msg_t *hello = rfk_msg_new (&rfk_service_family, "Hello", correlation);
    assert_non_null (hello);
    json_object_set_new (hello->body, "service_id", json_string (service_id));
    return hello;
}

static zframe_t *
s_hello_frame (const char *service_id, uint64_t correlation)
{
    rfk_msg_t *hello = s_hello (service_id, correlation);
    zframe_t *frame = NULL;
    assert_int_equal (rfk_msg_encode (hello, &frame, NULL, 0), 0);
    rfk_msg_destroy (&hello);
    return frame;
}

/*  The next message on a raw DEALER, decoded; fails the test on timeout. */
static rfk_msg_t *
s_recv (zsock_t *dealer)
{
    rfk_msg_t *msg = NULL;
    int rc = rfk_envelope_recv (dealer, &rfk_service_family, 1 << 20, &msg, NULL);
    assert_int_equal (rc, 0);
    assert_non_null (msg);
    return msg;
}

static void
s_assert_error (rfk_msg_t *msg, rfk_code_t code, uint64_t correlation)
{
    assert_non_null (msg);
    assert_string_equal (msg->type, "Error");
    assert_string_equal (rfk_code_name (rfk_envelope_error_code (msg)), rfk_code_name (code));
    assert_true (msg->correlation == correlation);
    assert_true (json_is_string (json_object_get (msg->body, "message")));
}

/*  Usage: an actor serves the service family through a handler table; a
    client asks, the handler answers with the request's correlation id. */
static void
test_request_reply (void **state)
{
    const char *transport = (const char *)*state;
    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    char *bind = bus_test_endpoint (transport);
    char *endpoint = NULL;
    zactor_t *server = bus_test_server_new (bind, &opts, &endpoint);
    assert_non_null (server);

    rfk_client_t *client = rfk_client_new (endpoint, &rfk_service_family, &opts);
    assert_non_null (client);
    rfk_msg_t *hello = s_hello ("svc-1", 0);
    rfk_msg_t *reply = rfk_client_call (client, hello);
    assert_non_null (reply);
    assert_string_equal (reply->type, "ServiceConfig");
    assert_true (reply->correlation == hello->correlation);
    assert_true (hello->correlation != 0);
    assert_string_equal (json_string_value (json_object_get (reply->body, "service_id")), "svc-1");
    rfk_msg_destroy (&reply);

    /*  A second request gets a new id and its own answer. */
    uint64_t first = hello->correlation;
    json_object_set_new (hello->body, "service_id", json_string ("svc-2"));
    reply = rfk_client_call (client, hello);
    assert_string_equal (reply->type, "ServiceConfig");
    assert_true (hello->correlation != first);
    assert_true (reply->correlation == hello->correlation);
    assert_string_equal (json_string_value (json_object_get (reply->body, "service_id")), "svc-2");
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&hello);

    rfk_client_destroy (&client);
    zactor_destroy (&server);
    free (endpoint);
    free (bind);
}

/*  Garbage and truncated envelopes get Error MALFORMED, and the same peer
    and the others are still served. */
static void
test_malformed_frame (void **state)
{
    const char *transport = (const char *)*state;
    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    char *bind = bus_test_endpoint (transport);
    char *endpoint = NULL;
    zactor_t *server = bus_test_server_new (bind, &opts, &endpoint);
    zsock_t *peer = bus_test_dealer (endpoint, &opts, NULL);
    zsock_t *other = bus_test_dealer (endpoint, &opts, NULL);

    assert_int_equal (zstr_send (peer, "this is not an envelope"), 0);
    rfk_msg_t *reply = s_recv (peer);
    s_assert_error (reply, RFK_CODE_MALFORMED, 0);
    rfk_msg_destroy (&reply);

    /*  A Hello cut short in the middle of its body. */
    zframe_t *frame = s_hello_frame ("svc-truncated", 7);
    zframe_t *cut = zframe_new (zframe_data (frame), zframe_size (frame) - 3);
    assert_int_equal (zframe_send (&cut, peer, 0), 0);
    reply = s_recv (peer);
    s_assert_error (reply, RFK_CODE_MALFORMED, 0);
    rfk_msg_destroy (&reply);

    /*  An empty frame, and an envelope followed by an extra frame. */
    assert_int_equal (zstr_send (peer, ""), 0);
    reply = s_recv (peer);
    s_assert_error (reply, RFK_CODE_MALFORMED, 0);
    rfk_msg_destroy (&reply);
    assert_int_equal (zframe_send (&frame, peer, ZFRAME_MORE), 0);
    assert_int_equal (zstr_send (peer, "extra"), 0);
    reply = s_recv (peer);
    s_assert_error (reply, RFK_CODE_MALFORMED, 0);
    rfk_msg_destroy (&reply);

    /*  Both peers are still served. */
    frame = s_hello_frame ("svc-after", 8);
    assert_int_equal (zframe_send (&frame, peer, 0), 0);
    reply = s_recv (peer);
    assert_string_equal (reply->type, "ServiceConfig");
    assert_true (reply->correlation == 8);
    rfk_msg_destroy (&reply);
    frame = s_hello_frame ("svc-other", 9);
    assert_int_equal (zframe_send (&frame, other, 0), 0);
    reply = s_recv (other);
    assert_string_equal (reply->type, "ServiceConfig");
    assert_string_equal (json_string_value (json_object_get (reply->body, "service_id")),
                         "svc-other");
    rfk_msg_destroy (&reply);

    zsock_destroy (&peer);
    zsock_destroy (&other);
    zactor_destroy (&server);
    free (endpoint);
    free (bind);
}

/*  A frame over max_frame_bytes gets Error TOO_LARGE; the peer is served
    afterwards. */
static void
test_oversize_frame (void **state)
{
    const char *transport = (const char *)*state;
    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    char *bind = bus_test_endpoint (transport);
    char *endpoint = NULL;
    zactor_t *server = bus_test_server_new (bind, &opts, &endpoint);
    zsock_t *peer = bus_test_dealer (endpoint, &opts, NULL);

    /*  A well-formed Hello whose service id makes it too big. */
    char *big = (char *)malloc (opts.max_frame_bytes + 100);
    memset (big, 'x', opts.max_frame_bytes + 99);
    big[opts.max_frame_bytes + 99] = 0;
    zframe_t *frame = s_hello_frame (big, 11);
    assert_true (zframe_size (frame) > opts.max_frame_bytes);
    assert_int_equal (zframe_send (&frame, peer, 0), 0);
    rfk_msg_t *reply = s_recv (peer);
    s_assert_error (reply, RFK_CODE_TOO_LARGE, 0);
    rfk_msg_destroy (&reply);

    /*  Sending one is refused on our side too, before it leaves. */
    rfk_msg_t *hello = s_hello (big, 12);
    zframe_t *refused = NULL;
    rfk_code_t code = RFK_CODE_OK;
    char err[256];
    assert_int_equal (
        rfk_envelope_encode (hello, opts.max_frame_bytes, &refused, &code, err, sizeof (err)), -1);
    assert_null (refused);
    assert_int_equal (code, RFK_CODE_TOO_LARGE);
    assert_non_null (strstr (err, "over the limit"));
    rfk_client_t *client = rfk_client_new (endpoint, &rfk_service_family, &opts);
    reply = rfk_client_call (client, hello);
    s_assert_error (reply, RFK_CODE_TOO_LARGE, hello->correlation);
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&hello);
    free (big);

    frame = s_hello_frame ("svc-small", 13);
    assert_int_equal (zframe_send (&frame, peer, 0), 0);
    reply = s_recv (peer);
    assert_string_equal (reply->type, "ServiceConfig");
    rfk_msg_destroy (&reply);

    rfk_client_destroy (&client);
    zsock_destroy (&peer);
    zactor_destroy (&server);
    free (endpoint);
    free (bind);
}

/*  A well-formed body the table does not take gets UNKNOWN_MESSAGE with the
    request's correlation id. */
static void
test_unknown_body (void **state)
{
    const char *transport = (const char *)*state;
    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    char *bind = bus_test_endpoint (transport);
    char *endpoint = NULL;
    zactor_t *server = bus_test_server_new (bind, &opts, &endpoint);
    rfk_client_t *client = rfk_client_new (endpoint, &rfk_service_family, &opts);

    rfk_msg_t *log = rfk_msg_new (&rfk_service_family, "TrialLog", 0);
    json_object_set_new (log->body, "trial_id", json_string ("t-1"));
    rfk_msg_t *reply = rfk_client_call (client, log);
    s_assert_error (reply, RFK_CODE_UNKNOWN_MESSAGE, log->correlation);
    assert_non_null (
        strstr (json_string_value (json_object_get (reply->body, "message")), "TrialLog"));
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&log);

    rfk_msg_t *hello = s_hello ("svc-known", 0);
    reply = rfk_client_call (client, hello);
    assert_string_equal (reply->type, "ServiceConfig");
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&hello);

    rfk_client_destroy (&client);
    zactor_destroy (&server);
    free (endpoint);
    free (bind);
}

/*  xorshift64*: reproducible random frames. */
static uint64_t
s_random (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#define S_GOOD_PEERS 4
#define S_FRAMES 10000
#define S_WINDOW 100

typedef struct {
    zsock_t *sock;       /* the peer's DEALER */
    int sent;            /* messages sent */
    int replies;         /* messages received */
    int hellos;          /* well-formed Hellos sent */
    int answered;        /* ServiceConfig replies matching one of them */
    int wrong;           /* Hellos answered more than once */
    uint64_t next_hello; /* the index of the last Hello sent */
    bool seen[S_FRAMES]; /* which Hellos were answered */
} s_peer_t;

/*  Reads one reply of a good peer and checks it: a ServiceConfig naming one
    of its Hellos answers that Hello, and each must be answered once. (A
    corrupted Hello may come back as a ServiceConfig too, with its own id.) */
static void
s_read_reply (s_peer_t *peer, int index)
{
    rfk_msg_t *msg = s_recv (peer->sock);
    peer->replies++;
    uint64_t seq = msg->correlation & 0xffffffffu;
    if (rfk_msg_is (msg, "ServiceConfig") && (msg->correlation >> 32) == (uint64_t)index + 1 &&
        seq >= 1 && seq <= peer->next_hello) {
        char expected[64];
        snprintf (expected, sizeof (expected), "peer-%d-%" PRIu64, index, seq);
        json_t *id = json_object_get (msg->body, "service_id");
        if (json_is_string (id) && streq (json_string_value (id), expected)) {
            if (peer->seen[seq])
                peer->wrong++;
            peer->seen[seq] = true;
            peer->answered++;
        }
    }
    rfk_msg_destroy (&msg);
}

/*  One random message for a good peer: every eighth a well-formed Hello,
    otherwise garbage, a truncated or corrupted Hello, an oversize frame, an
    empty frame or two frames. */
static void
s_send_random (s_peer_t *peer, int index, uint64_t *rng, size_t max_frame)
{
    uint64_t n = peer->sent;
    peer->sent++;
    if (n % 8 == 7) {
        uint64_t seq = ++peer->next_hello;
        char id[64];
        snprintf (id, sizeof (id), "peer-%d-%" PRIu64, index, seq);
        zframe_t *frame = s_hello_frame (id, ((uint64_t)index + 1) << 32 | seq);
        assert_int_equal (zframe_send (&frame, peer->sock, 0), 0);
        peer->hellos++;
        return;
    }
    int kind = (int)(s_random (rng) % 6);
    zframe_t *frame = NULL;
    if (kind == 0) {
        size_t size = s_random (rng) % 200;
        frame = zframe_new (NULL, size);
        for (size_t i = 0; i < size; i++)
            zframe_data (frame)[i] = (byte)s_random (rng);
    } else if (kind == 1 || kind == 2) {
        /*  Ids from a range no well-formed Hello uses. */
        zframe_t *hello = s_hello_frame ("mangled", s_random (rng) & 0xffffffffu);
        size_t size = zframe_size (hello);
        if (kind == 1)
            frame = zframe_new (zframe_data (hello), 1 + s_random (rng) % (size - 1));
        else {
            frame = zframe_dup (hello);
            zframe_data (frame)[s_random (rng) % size] ^= (byte)(1 + s_random (rng) % 255);
        }
        zframe_destroy (&hello);
    } else if (kind == 3) {
        frame = zframe_new (NULL, max_frame + 1 + s_random (rng) % 100);
        memset (zframe_data (frame), 0x55, zframe_size (frame));
    } else if (kind == 4)
        frame = zframe_new_empty ();
    else {
        zframe_t *hello = s_hello_frame ("two-frames", 1);
        assert_int_equal (zframe_send (&hello, peer->sock, ZFRAME_MORE), 0);
        frame = zframe_new ("junk", 4);
    }
    assert_int_equal (zframe_send (&frame, peer->sock, 0), 0);
}

/*  10,000 random frames from several peers (and one that sends nothing but
    garbage): the server answers every frame of the peers that also send
    well-formed requests, each of their Hellos with its own ServiceConfig,
    drops the garbage-only peer after malformed_limit frames, and answers a
    valid request correctly afterwards. */
static void
test_random_frames (void **state)
{
    const char *transport = (const char *)*state;
    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    char *bind = bus_test_endpoint (transport);
    char *endpoint = NULL;
    zactor_t *server = bus_test_server_new (bind, &opts, &endpoint);
    assert_non_null (server);

    s_peer_t *peers = (s_peer_t *)calloc (S_GOOD_PEERS, sizeof (s_peer_t));
    zpoller_t *poller = zpoller_new (NULL);
    for (int i = 0; i < S_GOOD_PEERS; i++) {
        peers[i].sock = bus_test_dealer (endpoint, &opts, NULL);
        assert_non_null (peers[i].sock);
        zpoller_add (poller, peers[i].sock);
    }
    zsock_t *garbage = bus_test_dealer (endpoint, &opts, NULL);
    int garbage_sent = 0;
    int garbage_replies = 0;

    uint64_t rng = streq (transport, "tcp") ? 0x7cf1a3b5d2e4f601ULL : 0x1234abcd9876ef01ULL;
    for (int frame = 0; frame < S_FRAMES; frame++) {
        int index = frame % (S_GOOD_PEERS + 1);
        if (index == S_GOOD_PEERS) {
            /*  Field 0 with wire type 7: never a protobuf message. */
            byte junk[32];
            junk[0] = 0x07;
            for (size_t i = 1; i < sizeof (junk); i++)
                junk[i] = (byte)s_random (&rng);
            zframe_t *bad = zframe_new (junk, 1 + s_random (&rng) % sizeof (junk));
            assert_int_equal (zframe_send (&bad, garbage, 0), 0);
            garbage_sent++;
            while (zsock_events (garbage) & ZMQ_POLLIN) {
                rfk_msg_t *msg = s_recv (garbage);
                assert_string_equal (msg->type, "Error");
                garbage_replies++;
                rfk_msg_destroy (&msg);
            }
            continue;
        }
        s_peer_t *peer = &peers[index];
        /*  Keep a bounded window of unanswered messages, so that no reply
            is dropped at a high-water mark. */
        while (peer->sent - peer->replies >= S_WINDOW) {
            void *which = zpoller_wait (poller, 5000);
            assert_non_null (which);
            for (int i = 0; i < S_GOOD_PEERS; i++)
                if (which == peers[i].sock)
                    s_read_reply (&peers[i], i);
        }
        s_send_random (peer, index, &rng, opts.max_frame_bytes);
        while (zsock_events (peer->sock) & ZMQ_POLLIN)
            s_read_reply (peer, index);
    }
    /*  Collect the rest: every message of a good peer gets one reply. */
    for (int i = 0; i < S_GOOD_PEERS; i++) {
        while (peers[i].replies < peers[i].sent)
            s_read_reply (&peers[i], i);
        assert_int_equal (peers[i].replies, peers[i].sent);
        assert_int_equal (peers[i].wrong, 0);
        assert_int_equal (peers[i].answered, peers[i].hellos);
        assert_true (peers[i].hellos >= 240);
    }
    assert_int_equal (garbage_sent, S_FRAMES / (S_GOOD_PEERS + 1));

    /*  A fresh client is answered correctly. */
    rfk_client_t *client = rfk_client_new (endpoint, &rfk_service_family, &opts);
    rfk_msg_t *hello = s_hello ("svc-after-storm", 0);
    rfk_msg_t *reply = rfk_client_call (client, hello);
    assert_string_equal (reply->type, "ServiceConfig");
    assert_true (reply->correlation == hello->correlation);
    assert_string_equal (json_string_value (json_object_get (reply->body, "service_id")),
                         "svc-after-storm");
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&hello);

    /*  The garbage-only peer was answered malformed_limit times, then
        dropped: even a valid request gets no answer. */
    zframe_t *frame = s_hello_frame ("svc-dropped", 1);
    assert_int_equal (zframe_send (&frame, garbage, 0), 0);
    zsock_set_rcvtimeo (garbage, 500);
    rfk_msg_t *msg = NULL;
    while (rfk_envelope_recv (garbage, &rfk_service_family, 1 << 20, &msg, NULL) == 0) {
        assert_string_equal (msg->type, "Error");
        garbage_replies++;
        rfk_msg_destroy (&msg);
    }
    assert_int_equal (garbage_replies, opts.malformed_limit);

    rfk_client_destroy (&client);
    zsock_destroy (&garbage);
    zpoller_destroy (&poller);
    for (int i = 0; i < S_GOOD_PEERS; i++)
        zsock_destroy (&peers[i].sock);
    free (peers);
    zactor_destroy (&server);
    free (endpoint);
    free (bind);
}

/*  The server expires a peer that stops talking within its heartbeat
    timeout, and keeps the one that heartbeats. */
static void
test_silent_peer_expires (void **state)
{
    const char *transport = (const char *)*state;
    rfk_bus_opts_t opts;
    bus_test_opts (&opts);
    char *bind = bus_test_endpoint (transport);
    char *endpoint = NULL;
    zactor_t *server = bus_test_server_new (bind, &opts, &endpoint);

    /*  The talker: a client whose loop pings every 50 ms. */
    rfk_client_t *talker = rfk_client_new (endpoint, &rfk_service_family, &opts);
    rfk_msg_t *hello = s_hello ("talker", 0);
    rfk_msg_t *reply = rfk_client_call (talker, hello);
    assert_string_equal (reply->type, "ServiceConfig");
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&hello);

    /*  The quiet one says Hello once, then nothing. */
    zsock_t *quiet = bus_test_dealer (endpoint, &opts, "quiet-peer");
    zframe_t *frame = s_hello_frame ("quiet", 1);
    /*  The server hears it after this, so it may not expire it earlier than
        a timeout from now. */
    int64_t last_heard = zclock_mono ();
    assert_int_equal (zframe_send (&frame, quiet, 0), 0);
    reply = s_recv (quiet);
    assert_string_equal (reply->type, "ServiceConfig");
    rfk_msg_destroy (&reply);

    zpoller_t *poller = zpoller_new (server, rfk_client_sock (talker), NULL);
    char *expired = NULL;
    int64_t limit = zclock_mono () + 5000;
    while (!expired && zclock_mono () < limit) {
        rfk_deadline_t deadline;
        rfk_deadline_reset (&deadline);
        rfk_deadline_add (&deadline, rfk_client_deadline (talker));
        rfk_deadline_add (&deadline, limit);
        void *which = zpoller_wait (poller, rfk_deadline_timeout (&deadline));
        if (which == server) {
            char *event = NULL;
            assert_int_equal (zstr_recvx (server, &event, &expired, NULL), 2);
            assert_string_equal (event, "EXPIRED");
            zstr_free (&event);
        } else if (which == rfk_client_sock (talker))
            rfk_client_recv (talker);
        rfk_client_tick (talker);
    }
    int64_t took = zclock_mono () - last_heard;
    assert_non_null (expired);
    /*  "quiet-peer" in hex: the quiet one, not the talker. */
    assert_string_equal (expired, "71756965742D70656572");
    assert_true (took >= opts.heartbeat_timeout_ms);
    assert_true (took < opts.heartbeat_timeout_ms + 1500);
    assert_true (rfk_client_alive (talker));
    zstr_free (&expired);

    /*  Once the talker goes quiet as well, it is expired too. */
    zpoller_destroy (&poller);
    rfk_client_destroy (&talker);
    zsock_set_rcvtimeo (server, opts.heartbeat_timeout_ms + 2000);
    char *event = NULL;
    assert_int_equal (zstr_recvx (server, &event, &expired, NULL), 2);
    assert_string_equal (event, "EXPIRED");
    assert_string_not_equal (expired, "71756965742D70656572");
    zstr_free (&event);
    zstr_free (&expired);

    zsock_destroy (&quiet);
    zactor_destroy (&server);
    free (endpoint);
    free (bind);
}

#define S_BOTH(test)                                                                               \
    cmocka_unit_test_prestate (test, (void *)"inproc"),                                            \
        cmocka_unit_test_prestate (test, (void *)"tcp")

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    const struct CMUnitTest tests[] = {
        S_BOTH (test_request_reply),  S_BOTH (test_malformed_frame),
        S_BOTH (test_oversize_frame), S_BOTH (test_unknown_body),
        S_BOTH (test_random_frames),  S_BOTH (test_silent_peer_expires),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
