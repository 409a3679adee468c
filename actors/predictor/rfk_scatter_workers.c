/*  rfk_scatter_workers.c: the engine's workers' side (see
    rfk_scatter_private.h): workers announcing themselves (WorkerReady),
    picking the least-loaded replica of a trial and sending it a batch,
    the answers (PredictionBatch), and workers lost (silent or unreachable),
    whose batches go to another replica while their deadline allows.
*/
#include "rfk_scatter_private.h"

#include "rfk_envelope.h"
#include "rfk_msgpack_span.h"

/*  The live replica of a trial with the least outstanding work, other than
    `not`; NULL when there is none. */
static rfk_scatter_worker_t *
s_pick (rfk_scatter_trial_t *trial, rfk_scatter_worker_t * not )
{
    rfk_scatter_worker_t *best = NULL;
    for (rfk_scatter_worker_t *worker = (rfk_scatter_worker_t *)zlistx_first (trial->workers);
         worker; worker = (rfk_scatter_worker_t *)zlistx_next (trial->workers))
        if (worker != not &&(!best || worker->outstanding < best->outstanding))
            best = worker;
    return best;
}

static void
s_worker_lost (rfk_scatter_t *self, rfk_scatter_worker_t *worker, const char *why);

/*  Sends the batch's frame to a replica of member m's trial; on failure
    tries the others. 0 when one took it, -1 when none could. */
int
rfk_scatter_send_member (rfk_scatter_t *self, rfk_scatter_batch_t *batch, size_t m,
                         rfk_scatter_worker_t * not )
{
    rfk_scatter_trial_t *trial = self->trials[m];
    rfk_scatter_member_t *member = &batch->members[m];
    rfk_scatter_worker_t *tried[16];
    size_t n_tried = 0;
    while (true) {
        rfk_scatter_worker_t *worker = s_pick (trial, not );
        for (size_t t = 0; worker && t < n_tried; t++)
            if (tried[t] == worker)
                worker = NULL; /* every replica refused */
        if (!worker)
            return -1;
        zframe_t *frame = zframe_dup (batch->frame);
        if (frame &&
            rfk_envelope_send_frame (rfk_scatter_sock (self), worker->routing_id, &frame) == 0) {
            member->worker = worker;
            member->state = RFK_SCATTER_PENDING;
            worker->outstanding += batch->n;
            self->stats.batch_sends++;
            return 0;
        }
        int error = zmq_errno ();
        zframe_destroy (&frame);
        if (error == EHOSTUNREACH) {
            s_worker_lost (self, worker, "unreachable");
            n_tried = 0; /* the list changed */
        } else if (n_tried < sizeof tried / sizeof tried[0])
            tried[n_tried++] = worker; /* its queue is full: try another */
        else
            return -1;
    }
}

/*  Member m of a batch will not answer: fail it, and complete the batch
    when it was the last one waiting. */
void
rfk_scatter_member_fail (rfk_scatter_t *self, rfk_scatter_batch_t *batch, size_t m, const char *why)
{
    rfk_scatter_member_t *member = &batch->members[m];
    if (member->state != RFK_SCATTER_PENDING)
        return;
    member->state = RFK_SCATTER_FAILED;
    member->worker = NULL;
    member->error = strdup (why);
    batch->waiting--;
    if (batch->waiting == 0) {
        if (batch->attached > 0)
            rfk_scatter_batch_complete (self, batch);
        else
            rfk_scatter_batch_drop (self, batch);
    }
}

/* A batch member a lost worker held: where to re-send or fail. */
typedef struct {
    uint64_t batch; /* the batch's id (completing another may free it) */
    size_t member;  /* the member's index in it */
} s_held_t;

/*  Detaches a worker from every batch member it holds, so that re-sends
    never pick it. Returns what it held, in one array (*count_p entries),
    collected first: completing a batch changes the sent list. NULL when it
    held nothing, or out of memory (its members then stay PENDING without a
    worker and end at their requests' deadlines). */
static s_held_t *
s_worker_detach (rfk_scatter_t *self, rfk_scatter_worker_t *worker, size_t *count_p)
{
    size_t count = 0;
    for (rfk_scatter_batch_t *batch = (rfk_scatter_batch_t *)zlistx_first (self->sent); batch;
         batch = (rfk_scatter_batch_t *)zlistx_next (self->sent))
        for (size_t m = 0; m < batch->n_members; m++)
            if (batch->members[m].state == RFK_SCATTER_PENDING &&
                batch->members[m].worker == worker)
                count++;
    s_held_t *held = count ? (s_held_t *)malloc (count * sizeof (s_held_t)) : NULL;
    size_t n = 0;
    for (rfk_scatter_batch_t *batch = (rfk_scatter_batch_t *)zlistx_first (self->sent); batch;
         batch = (rfk_scatter_batch_t *)zlistx_next (self->sent))
        for (size_t m = 0; m < batch->n_members; m++)
            if (batch->members[m].state == RFK_SCATTER_PENDING &&
                batch->members[m].worker == worker) {
                batch->members[m].worker = NULL;
                if (held && n < count)
                    held[n++] = (s_held_t){batch->id, m};
            }
    if (count && !held)
        zsys_warning ("RFK-SCATTER: out of memory: %zu batches of a lost worker wait for their "
                      "deadlines",
                      count);
    *count_p = n;
    return held;
}

/*  Drops a worker: the batches it held go to another replica while their
    deadline allows, or their member fails. */
static void
s_worker_lost (rfk_scatter_t *self, rfk_scatter_worker_t *worker, const char *why)
{
    zsys_info ("RFK-SCATTER: worker %s of trial %s %s; dropped", worker->key, worker->trial->id,
               why);
    self->stats.workers_lost++;
    zlistx_delete (worker->trial->workers, worker->handle);
    self->ready_workers--;
    self->stats.workers = self->ready_workers;
    size_t count = 0;
    s_held_t *held = s_worker_detach (self, worker, &count);
    char reason[200];
    snprintf (reason, sizeof reason, "the worker of trial %s was lost", worker->trial->id);
    int64_t now = zclock_usecs ();
    zhashx_delete (self->workers, worker->key); /* frees it */
    for (size_t c = 0; c < count; c++) {
        rfk_scatter_batch_t *batch =
            (rfk_scatter_batch_t *)zhashx_lookup (self->batches, (void *)(uintptr_t)held[c].batch);
        if (!batch || batch->members[held[c].member].state != RFK_SCATTER_PENDING)
            continue;
        if (batch->attached > 0 && batch->expires_us > now &&
            rfk_scatter_send_member (self, batch, held[c].member, NULL) == 0)
            self->stats.resent++;
        else
            rfk_scatter_member_fail (self, batch, held[c].member, reason);
    }
    free (held);
}

void
rfk_scatter_on_expired (rfk_server_t *server, zframe_t *peer, void *ctx)
{
    (void)server;
    rfk_scatter_t *self = (rfk_scatter_t *)ctx;
    char *key = zframe_strhex (peer);
    rfk_scatter_worker_t *worker =
        key ? (rfk_scatter_worker_t *)zhashx_lookup (self->workers, key) : NULL;
    free (key);
    if (worker)
        s_worker_lost (self, worker, "went silent");
}

int
rfk_scatter_on_worker_ready (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    (void)server;
    rfk_scatter_t *self = (rfk_scatter_t *)ctx;
    char *key = zframe_strhex (peer);
    if (!key)
        return -1;
    if (zhashx_lookup (self->workers, key)) {
        free (key); /* already known: WorkerReady is repeated as a keepalive */
        return 0;
    }
    const char *trial_id = json_string_value (json_object_get ((*msg_p)->body, "trial_id"));
    rfk_scatter_trial_t *trial =
        rfk_scatter_trial_find (self, trial_id && *trial_id ? trial_id : "default", true);
    rfk_scatter_worker_t *worker = (rfk_scatter_worker_t *)zmalloc (sizeof (rfk_scatter_worker_t));
    if (!trial || !worker) {
        free (worker);
        free (key);
        return -1;
    }
    worker->key = key;
    worker->routing_id = zframe_dup (peer);
    worker->trial = trial;
    worker->handle = zlistx_add_end (trial->workers, worker);
    zhashx_insert (self->workers, key, worker);
    self->ready_workers++;
    self->stats.workers = self->ready_workers;
    const char *service = json_string_value (json_object_get ((*msg_p)->body, "service_id"));
    zsys_info ("RFK-SCATTER: worker %s (%s) of trial %s ready", key, service ? service : "-",
               trial->id);
    return 0;
}

int
rfk_scatter_on_prediction_batch (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_scatter_t *self = (rfk_scatter_t *)ctx;
    rfk_msg_t *msg = *msg_p;
    char *key = zframe_strhex (peer);
    rfk_scatter_worker_t *worker =
        key ? (rfk_scatter_worker_t *)zhashx_lookup (self->workers, key) : NULL;
    free (key);
    if (!worker) {
        /*  A worker we dropped that is alive after all: it says WorkerReady
            again when told. */
        rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_UNAVAILABLE,
                               "unknown worker: send WorkerReady first");
        self->stats.late++;
        return 0;
    }
    json_t *id_json = json_object_get (msg->body, "batch_id");
    uint64_t id = json_is_integer (id_json) ? (uint64_t)json_integer_value (id_json) : 0;
    rfk_scatter_batch_t *batch =
        id ? (rfk_scatter_batch_t *)zhashx_lookup (self->batches, (void *)(uintptr_t)id) : NULL;
    size_t m = 0;
    while (batch && m < batch->n_members &&
           !(batch->members[m].state == RFK_SCATTER_PENDING && batch->members[m].worker == worker))
        m++;
    if (!batch || m == batch->n_members) {
        self->stats.late++; /* its batch was purged, or re-sent elsewhere */
        return 0;
    }
    rfk_scatter_member_t *member = &batch->members[m];
    worker->outstanding -= worker->outstanding < batch->n ? worker->outstanding : batch->n;
    member->worker = NULL;
    const char *error = json_string_value (json_object_get (msg->body, "error"));
    const void *data = msg->data ? zchunk_data (msg->data) : NULL;
    size_t size = msg->data ? zchunk_size (msg->data) : 0;
    size_t *offsets = error ? NULL : rfk_msgpack_span_elements (data, size, batch->n, NULL);
    if (error || !offsets) {
        char text[512];
        if (error)
            snprintf (text, sizeof text, "trial %s: %s", worker->trial->id, error);
        else
            snprintf (text, sizeof text, "trial %s answered something other than %zu predictions",
                      worker->trial->id, batch->n);
        self->stats.member_errors++;
        if (batch->attached == 0)
            self->stats.late++;
        rfk_scatter_member_fail (self, batch, m, text);
        return 0;
    }
    member->data = (char *)malloc (size ? size : 1);
    if (!member->data) {
        free (offsets);
        rfk_scatter_member_fail (self, batch, m, "out of memory");
        return 0;
    }
    memcpy (member->data, data, size);
    member->offsets = offsets;
    member->state = RFK_SCATTER_ANSWERED;
    batch->waiting--;
    self->stats.answers++;
    if (batch->attached == 0)
        self->stats.late++;
    if (batch->waiting == 0) {
        if (batch->attached > 0)
            rfk_scatter_batch_complete (self, batch);
        else
            rfk_scatter_batch_drop (self, batch);
    }
    return 0;
}
