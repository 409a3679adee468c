/*  bare_sg: a bare ZeroMQ scatter-gather, the yardstick for the predictor.

    bare_sg broker FRONT BACK   clients' DEALERs -> ROUTER FRONT; workers'
                                DEALERs -> ROUTER BACK; each request goes to
                                the worker with the fewest outstanding, its
                                answer back to the client; ports may be `*`,
                                the endpoints bound are printed as
                                `front=... back=...`
    bare_sg worker BACK         a worker: says READY, echoes what it gets

    No envelopes, no batching, no deadlines, no heartbeats: the least a
    scatter-gather over ZeroMQ can do, in one thread per process, as ours.
*/
#include <czmq.h>

#define S_MAX_WORKERS 64
#define S_RING (1 << 16)

static int
s_worker (const char *back)
{
    char endpoint[300];
    snprintf (endpoint, sizeof endpoint, ">%s", back);
    zsock_t *dealer = zsock_new_dealer (endpoint);
    if (!dealer)
        return 1;
    zstr_send (dealer, "READY");
    while (!zsys_interrupted) {
        zmsg_t *msg = zmsg_recv (dealer); /* [request id][payload] */
        if (!msg)
            break;
        zmsg_send (&msg, dealer);
    }
    zsock_destroy (&dealer);
    return 0;
}

static int
s_broker (const char *front_endpoint, const char *back_endpoint)
{
    zsock_t *front = zsock_new_router (front_endpoint);
    zsock_t *back = zsock_new_router (back_endpoint);
    if (!front || !back)
        return 1;
    //  Endpoints may end in `*`: say the ports bound.
    printf ("front=%s back=%s\n", zsock_endpoint (front), zsock_endpoint (back));
    fflush (stdout);
    zsock_set_sndhwm (front, 0);
    zsock_set_sndhwm (back, 0);
    zframe_t *workers[S_MAX_WORKERS];
    int outstanding[S_MAX_WORKERS];
    int n_workers = 0;
    zframe_t **clients = (zframe_t **)calloc (S_RING, sizeof (zframe_t *));
    int *holder = (int *)calloc (S_RING, sizeof (int));
    uint32_t next_id = 0;
    zmq_pollitem_t items[] = {{zsock_resolve (front), 0, ZMQ_POLLIN, 0},
                              {zsock_resolve (back), 0, ZMQ_POLLIN, 0}};
    while (!zsys_interrupted) {
        if (zmq_poll (items, 2, -1) < 0)
            break;
        while (zsock_events (back) & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv (back);
            zframe_t *worker = zmsg_pop (msg);
            zframe_t *first = zmsg_first (msg);
            if (first && zframe_streq (first, "READY")) {
                if (n_workers < S_MAX_WORKERS) {
                    outstanding[n_workers] = 0;
                    workers[n_workers++] = worker;
                    worker = NULL;
                }
            } else if (first && zframe_size (first) == sizeof (uint32_t)) {
                uint32_t id;
                memcpy (&id, zframe_data (first), sizeof id);
                zframe_t *client = clients[id % S_RING];
                clients[id % S_RING] = NULL;
                outstanding[holder[id % S_RING]]--;
                zmsg_remove (msg, first);
                zframe_destroy (&first);
                if (client) {
                    zmsg_prepend (msg, &client);
                    zmsg_send (&msg, front);
                }
            }
            zframe_destroy (&worker);
            zmsg_destroy (&msg);
        }
        while ((zsock_events (front) & ZMQ_POLLIN)) {
            zmsg_t *msg = zmsg_recv (front); /* [client][payload] */
            zframe_t *client = zmsg_pop (msg);
            if (n_workers == 0) {
                zframe_destroy (&client);
                zmsg_destroy (&msg);
                continue;
            }
            int best = 0;
            for (int w = 1; w < n_workers; w++)
                if (outstanding[w] < outstanding[best])
                    best = w;
            uint32_t id = next_id++;
            zframe_destroy (&clients[id % S_RING]);
            clients[id % S_RING] = client;
            holder[id % S_RING] = best;
            outstanding[best]++;
            zmsg_pushmem (msg, &id, sizeof id);
            zmsg_pushmem (msg, zframe_data (workers[best]), zframe_size (workers[best]));
            zmsg_send (&msg, back);
        }
    }
    for (int w = 0; w < n_workers; w++)
        zframe_destroy (&workers[w]);
    for (int i = 0; i < S_RING; i++)
        zframe_destroy (&clients[i]);
    free (clients);
    free (holder);
    zsock_destroy (&front);
    zsock_destroy (&back);
    return 0;
}

int
main (int argc, char **argv)
{
    if (argc == 4 && streq (argv[1], "broker"))
        return s_broker (argv[2], argv[3]);
    if (argc == 3 && streq (argv[1], "worker"))
        return s_worker (argv[2]);
    fprintf (stderr, "usage: bare_sg broker FRONT BACK | bare_sg worker BACK\n");
    return 2;
}
