/*  bench_loadgen: a ZeroMQ load generator, as the SDK talks to a predictor.

    bench_loadgen ours|bare ENDPOINT CONNECTIONS SECONDS QUERY_JSON
    bench_loadgen keys

    CONNECTIONS DEALERs each keep one request out at a time (closed loop)
    for SECONDS. `ours` sends PredictRequest envelopes (infer family) with
    data = [QUERY] in msgpack and checks each reply is a PredictReply;
    `bare` sends the msgpack bytes alone (bare_sg's protocol). Prints one
    line: requests=N errors=E rps=R p50_ms=P p99_ms=Q.

    With RAFIKI_BENCH_SERVER_KEY (a Z85 public key) every DEALER is a CURVE
    client of that key, with a fresh keypair of its own, as the SDK is.
    With RAFIKI_BENCH_API_KEY every PredictRequest carries that serving key.
    `keys` prints two lines: the bus keys a standalone predictor and its
    workers take through RAFIKI_SECRET_FD ("bench OWN GROUP ADMIN", the
    format admin hands a service), and the group's public key.
*/
#include <czmq.h>
#include <msgpack.h>

#include "rfk_curve.h"
#include "rfk_envelope.h"
#include "rfk_test_worker.h"

/* Prints a fresh set of bus keys and the group's public key. */
static int
s_keys (void)
{
    rfk_curve_keys_t keys;
    memset (&keys, 0, sizeof keys);
    rfk_curve_pair_t admin;
    if (rfk_curve_pair_new (&keys.own) != 0 || rfk_curve_pair_new (&keys.group) != 0 ||
        rfk_curve_pair_new (&admin) != 0) {
        fprintf (stderr, "bench_loadgen: this libzmq has no CURVE\n");
        return 1;
    }
    memcpy (keys.admin_public, admin.public_key, sizeof keys.admin_public);
    char text[300];
    if (rfk_curve_keys_format (&keys, text, sizeof text) != 0)
        return 1;
    printf ("bench %s\n%s\n", text, keys.group.public_key);
    return 0;
}

static int
s_compare (const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
    if (argc == 2 && streq (argv[1], "keys"))
        return s_keys ();
    if (argc != 6) {
        fprintf (stderr,
                 "usage: bench_loadgen ours|bare ENDPOINT CONNECTIONS SECONDS QUERY_JSON\n");
        return 2;
    }
    bool ours = streq (argv[1], "ours");
    int connections = atoi (argv[3]);
    double seconds = atof (argv[4]);
    json_t *query = json_loads (argv[5], JSON_DECODE_ANY, NULL);
    if (connections < 1 || connections > 1024 || seconds <= 0 || !query) {
        fprintf (stderr, "bench_loadgen: bad arguments\n");
        return 2;
    }
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 1);
    rfk_test_msgpack_pack_json (&pk, query);
    zframe_t *request = NULL;
    if (ours) {
        rfk_msg_t *msg = rfk_msg_new (&rfk_infer_family, "PredictRequest", 1);
        rfk_msg_set_data (msg, buffer.data, buffer.size);
        const char *api_key = getenv ("RAFIKI_BENCH_API_KEY");
        if (api_key && *api_key)
            json_object_set_new (msg->body, "key", json_string (api_key));
        if (rfk_msg_encode (msg, &request, NULL, 0) != 0)
            return 1;
        rfk_msg_destroy (&msg);
    } else
        request = zframe_new (buffer.data, buffer.size);

    zsock_t **socks = (zsock_t **)calloc ((size_t)connections, sizeof (zsock_t *));
    zmq_pollitem_t *items = (zmq_pollitem_t *)calloc ((size_t)connections, sizeof (zmq_pollitem_t));
    int64_t *sent_at = (int64_t *)calloc ((size_t)connections, sizeof (int64_t));
    size_t capacity = 1 << 20, count = 0;
    int64_t *latencies = (int64_t *)malloc (capacity * sizeof (int64_t));
    char endpoint[300];
    snprintf (endpoint, sizeof endpoint, ">%s", argv[2]);
    const char *server_key = getenv ("RAFIKI_BENCH_SERVER_KEY");
    for (int c = 0; c < connections; c++) {
        socks[c] = zsock_new (ZMQ_DEALER);
        if (!socks[c])
            return 1;
        if (server_key && *server_key) {
            zcert_t *own = zcert_new ();
            zcert_apply (own, socks[c]);
            zcert_destroy (&own);
            zsock_set_curve_serverkey (socks[c], server_key);
        }
        if (zsock_attach (socks[c], endpoint, false) != 0)
            return 1;
        zsock_set_sndhwm (socks[c], 0);
        items[c] = (zmq_pollitem_t){zsock_resolve (socks[c]), 0, ZMQ_POLLIN, 0};
    }
    /*  Warm-up round trip on every connection, so the clock starts with all
        of them connected (a handshake, not a guess at how long that takes). */
    for (int c = 0; c < connections; c++) {
        zframe_t *frame = zframe_dup (request);
        zframe_send (&frame, socks[c], 0);
    }
    for (int c = 0; c < connections; c++) {
        zsock_set_rcvtimeo (socks[c], 5000);
        zframe_t *reply = zframe_recv (socks[c]);
        if (!reply) {
            fprintf (stderr, "loadgen: no answer to the warm-up on connection %d\n", c);
            return 1;
        }
        zframe_destroy (&reply);
        zsock_set_rcvtimeo (socks[c], -1);
    }
    int64_t start = zclock_usecs ();
    int64_t end = start + (int64_t)(seconds * 1e6);
    for (int c = 0; c < connections; c++) {
        zframe_t *frame = zframe_dup (request);
        sent_at[c] = zclock_usecs ();
        zframe_send (&frame, socks[c], 0);
    }
    uint64_t errors = 0;
    int outstanding = connections;
    while (outstanding > 0) {
        if (zmq_poll (items, connections, 1000) <= 0)
            break;
        int64_t now = zclock_usecs ();
        for (int c = 0; c < connections; c++) {
            if (!(items[c].revents & ZMQ_POLLIN))
                continue;
            zframe_t *reply = zframe_recv (socks[c]);
            if (ours) {
                rfk_msg_t *msg = NULL;
                if (rfk_msg_decode (&rfk_infer_family, reply, 1 << 24, &msg) != 0 ||
                    !rfk_msg_is (msg, "PredictReply"))
                    errors++;
                rfk_msg_destroy (&msg);
            }
            zframe_destroy (&reply);
            if (count < capacity)
                latencies[count++] = now - sent_at[c];
            if (now < end) {
                zframe_t *frame = zframe_dup (request);
                sent_at[c] = zclock_usecs ();
                zframe_send (&frame, socks[c], 0);
            } else
                outstanding--;
        }
    }
    double elapsed = (double)(zclock_usecs () - start) / 1e6;
    qsort (latencies, count, sizeof (int64_t), s_compare);
    double p50 = count ? (double)latencies[count / 2] / 1000.0 : 0;
    double p99 = count ? (double)latencies[(size_t)((double)count * 0.99)] / 1000.0 : 0;
    printf ("requests=%zu errors=%" PRIu64 " rps=%.0f p50_ms=%.3f p99_ms=%.3f\n", count, errors,
            (double)count / elapsed, p50, p99);
    for (int c = 0; c < connections; c++)
        zsock_destroy (&socks[c]);
    free (socks);
    free (items);
    free (sent_at);
    free (latencies);
    zframe_destroy (&request);
    msgpack_sbuffer_destroy (&buffer);
    json_decref (query);
    return 0;
}
