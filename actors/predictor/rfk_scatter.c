/*  rfk_scatter.c: batching, scatter to one replica per trial, gather with
    deadlines (see rfk_scatter.h); the answers to each query are combined by
    rfk_ensemble.

    Queries are never re-encoded: a request's msgpack array is split into the
    byte spans of its elements (checked by rfk_msgpack_span, which
    allocates nothing), spans are appended to the open batch's body, and a
    batch's QueryBatch frame is encoded once and sent as is to every member
    (and again to another replica when a worker is lost). Answers are kept as
    received, with the offsets of each prediction, so a single member's
    answer is copied through byte for byte; only real ensembles unpack.

    Objects and who owns them:
    - trials (members) in an array, never removed; each lists its workers;
    - workers in a hash by the hex of their routing id;
    - batches: the open one (filling), the ready queue (full, to send in the
      next tick), and sent ones in a hash by id and a list in send order;
    - requests in a hash by id and a list ordered by deadline.
    A slot of a batch points at (request, query index); a request points back
    at (batch, slot index) for each query not yet resolved, so either side
    can let go of the other.
*/
#include "rfk_scatter.h"

#include <msgpack.h>

#include "rfk_envelope.h"
#include "rfk_msgpack_span.h"
#include "rfk_server.h"

typedef struct s_trial s_trial_t;
typedef struct s_worker s_worker_t;
typedef struct s_batch s_batch_t;
typedef struct s_request s_request_t;

struct s_trial {
    char *id;          /* the trial id */
    size_t index;      /* its member index */
    zlistx_t *workers; /* s_worker_t, not owned */
};

struct s_worker {
    char *key;            /* hex of the routing id */
    zframe_t *routing_id; /* owned */
    s_trial_t *trial;     /* what it serves */
    void *handle;         /* its place in trial->workers */
    size_t outstanding;   /* queries sent to it and not answered */
};

typedef enum { S_PENDING, S_ANSWERED, S_FAILED } s_state_t;

typedef struct {
    s_state_t state;    /* PENDING until answered or failed */
    s_worker_t *worker; /* PENDING: who holds the batch, or NULL */
    char *data;         /* ANSWERED: the predictions array, owned */
    size_t *offsets;    /* ANSWERED: n + 1 offsets of each prediction */
    char *error;        /* FAILED: why, owned */
} s_member_t;

typedef struct {
    s_request_t *request; /* NULL once the request let go */
    size_t index;         /* the query's index in its request */
} s_slot_t;

struct s_batch {
    uint64_t id;         /* batch_id on the wire */
    size_t n;            /* queries */
    s_slot_t *slots;     /* n of them */
    size_t capacity;     /* slots allocated (up to max_batch) */
    size_t attached;     /* slots whose request is alive */
    zchunk_t *body;      /* the queries' msgpack, concatenated */
    zframe_t *frame;     /* the encoded QueryBatch (once sent) */
    size_t n_members;    /* trials asked */
    s_member_t *members; /* one per trial */
    size_t waiting;      /* members PENDING */
    int64_t opened_us;   /* when its first query came */
    int64_t expires_us;  /* the latest deadline among its requests */
    void *sent_handle;   /* its place in the sent list, or NULL */
};

struct s_request {
    uint64_t id;               /* what the caller knows it by */
    size_t n;                  /* queries */
    size_t pending;            /* queries not yet resolved */
    char **answers;            /* per query: ensembled prediction, owned */
    size_t *answer_sizes;      /* their bytes */
    s_batch_t **batches;       /* per query: the batch holding it, or NULL */
    size_t *slots;             /* per query: its slot in that batch */
    uint32_t members;          /* the most members any of its batches asked */
    uint32_t answered;         /* the fewest that answered any of its queries */
    bool any_answer;           /* some member answered (or refused) some query */
    int64_t deadline_us;       /* when it ends regardless */
    void *deadline_handle;     /* its place in the deadline list */
    rfk_scatter_done_fn *done; /* the caller's callback */
    void *arg;                 /* and its argument */
};

struct _rfk_scatter_t {
    rfk_scatter_opts_t opts;   /* as given */
    rfk_server_t *server;      /* the ROUTER `workers` */
    s_trial_t **trials;        /* members, in order of arrival */
    size_t n_trials;           /* how many */
    zhashx_t *workers;         /* key -> s_worker_t, owned */
    size_t ready_workers;      /* workers known */
    s_batch_t *open;           /* the batch being filled, or NULL */
    zlistx_t *ready;           /* full batches to send at the next tick */
    zhashx_t *batches;         /* id -> sent s_batch_t, not owned */
    zlistx_t *sent;            /* sent s_batch_t in send order, owned */
    zhashx_t *requests;        /* id -> s_request_t, not owned */
    zlistx_t *deadlines;       /* s_request_t by deadline, owned */
    uint64_t next_batch;       /* next batch id */
    uint64_t next_request;     /* next request id */
    rfk_scatter_stats_t stats; /* counters */
};

static void
s_pack_array_header (msgpack_sbuffer *buffer, size_t n)
{
    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&packer, n);
}

/* ---------------------------------------------------------------------- */
/* construction */

void
rfk_scatter_opts_defaults (rfk_scatter_opts_t *opts)
{
    assert (opts);
    memset (opts, 0, sizeof *opts);
    opts->max_batch = 32;
    opts->batch_window_us = 500;
    opts->deadline_ms = 1000;
    opts->max_inflight = 10000;
    opts->ensemble = RFK_ENSEMBLE_FIRST;
    rfk_bus_opts_defaults (&opts->bus);
}

static size_t
s_id_hash (const void *key)
{
    return (size_t)(uintptr_t)key;
}

static int
s_id_compare (const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return x < y ? -1 : x > y;
}

static zhashx_t *
s_id_table (void)
{
    zhashx_t *table = zhashx_new ();
    if (table) {
        zhashx_set_key_hasher (table, s_id_hash);
        zhashx_set_key_comparator (table, s_id_compare);
        zhashx_set_key_duplicator (table, NULL);
        zhashx_set_key_destructor (table, NULL);
    }
    return table;
}

static void
s_worker_free (void **item_p)
{
    s_worker_t *worker = (s_worker_t *)*item_p;
    if (worker) {
        zframe_destroy (&worker->routing_id);
        free (worker->key);
        free (worker);
        *item_p = NULL;
    }
}

static void
s_batch_destroy (s_batch_t **batch_p)
{
    s_batch_t *batch = *batch_p;
    if (!batch)
        return;
    for (size_t m = 0; m < batch->n_members; m++) {
        free (batch->members[m].data);
        free (batch->members[m].offsets);
        free (batch->members[m].error);
    }
    free (batch->members);
    free (batch->slots);
    zchunk_destroy (&batch->body);
    zframe_destroy (&batch->frame);
    free (batch);
    *batch_p = NULL;
}

static void
s_batch_free (void **item_p)
{
    s_batch_destroy ((s_batch_t **)item_p);
}

static void
s_request_destroy (s_request_t **request_p)
{
    s_request_t *request = *request_p;
    if (!request)
        return;
    for (size_t i = 0; i < request->n; i++)
        free (request->answers[i]);
    free (request->answers);
    free (request->answer_sizes);
    free (request->batches);
    free (request->slots);
    free (request);
    *request_p = NULL;
}

static void
s_request_free (void **item_p)
{
    s_request_destroy ((s_request_t **)item_p);
}

static int
s_request_compare (const void *a, const void *b)
{
    int64_t x = ((const s_request_t *)a)->deadline_us, y = ((const s_request_t *)b)->deadline_us;
    return x < y ? -1 : x > y;
}

static int
s_on_worker_ready (rfk_server_t *, zframe_t *, rfk_msg_t **, void *);
static int
s_on_prediction_batch (rfk_server_t *, zframe_t *, rfk_msg_t **, void *);
static void
s_on_expired (rfk_server_t *, zframe_t *, void *);

static const rfk_server_route_t s_routes[] = {
    {"WorkerReady", s_on_worker_ready},
    {"PredictionBatch", s_on_prediction_batch},
    {NULL, NULL},
};

rfk_scatter_t *
rfk_scatter_new (const char *endpoints, const rfk_scatter_opts_t *opts)
{
    rfk_scatter_opts_t defaults;
    if (!opts) {
        rfk_scatter_opts_defaults (&defaults);
        opts = &defaults;
    }
    if (opts->max_batch < 1 || opts->batch_window_us < 0 || opts->deadline_ms < 1 ||
        opts->max_inflight < 1) {
        zsys_warning ("RFK-SCATTER: max_batch %d, batch_window_us %d, deadline_ms %d and "
                      "max_inflight %d make no sense",
                      opts->max_batch, opts->batch_window_us, opts->deadline_ms,
                      opts->max_inflight);
        return NULL;
    }
    rfk_scatter_t *self = (rfk_scatter_t *)zmalloc (sizeof (rfk_scatter_t));
    if (!self)
        return NULL;
    self->opts = *opts;
    self->workers = zhashx_new ();
    self->ready = zlistx_new ();
    self->batches = s_id_table ();
    self->sent = zlistx_new ();
    self->requests = s_id_table ();
    self->deadlines = zlistx_new ();
    self->next_batch = 1;
    self->next_request = 1;
    if (!self->workers || !self->ready || !self->batches || !self->sent || !self->requests ||
        !self->deadlines) {
        rfk_scatter_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->workers, s_worker_free);
    zlistx_set_destructor (self->ready, s_batch_free);
    zlistx_set_destructor (self->sent, s_batch_free);
    zlistx_set_destructor (self->deadlines, s_request_free);
    zlistx_set_comparator (self->deadlines, s_request_compare);
    self->server = rfk_server_new (endpoints, &rfk_infer_family, s_routes, self, &self->opts.bus);
    if (!self->server) {
        rfk_scatter_destroy (&self);
        return NULL;
    }
    rfk_server_set_expired (self->server, s_on_expired);
    /*  A send to a worker that went away fails at once instead of vanishing,
        so its batch goes to another replica without waiting for the
        heartbeat timeout. */
    zsock_set_router_mandatory (rfk_server_sock (self->server), 1);
    return self;
}

void
rfk_scatter_destroy (rfk_scatter_t **self_p)
{
    assert (self_p);
    rfk_scatter_t *self = *self_p;
    if (!self)
        return;
    rfk_server_destroy (&self->server);
    s_batch_destroy (&self->open);
    zlistx_destroy (&self->ready);
    zhashx_destroy (&self->batches);
    zlistx_destroy (&self->sent);
    zhashx_destroy (&self->requests);
    zlistx_destroy (&self->deadlines);
    zhashx_destroy (&self->workers);
    for (size_t t = 0; t < self->n_trials; t++) {
        zlistx_destroy (&self->trials[t]->workers);
        free (self->trials[t]->id);
        free (self->trials[t]);
    }
    free (self->trials);
    free (self);
    *self_p = NULL;
}

zsock_t *
rfk_scatter_sock (rfk_scatter_t *self)
{
    assert (self);
    return rfk_server_sock (self->server);
}

const char *
rfk_scatter_endpoint (rfk_scatter_t *self)
{
    assert (self);
    return rfk_server_endpoint (self->server);
}

static s_trial_t *
s_trial_find (rfk_scatter_t *self, const char *id, bool create)
{
    for (size_t t = 0; t < self->n_trials; t++)
        if (streq (self->trials[t]->id, id))
            return self->trials[t];
    if (!create)
        return NULL;
    s_trial_t **trials =
        (s_trial_t **)realloc (self->trials, (self->n_trials + 1) * sizeof (s_trial_t *));
    if (!trials)
        return NULL;
    self->trials = trials;
    s_trial_t *trial = (s_trial_t *)zmalloc (sizeof (s_trial_t));
    if (!trial)
        return NULL;
    trial->id = strdup (id);
    trial->workers = zlistx_new ();
    if (!trial->id || !trial->workers) {
        free (trial->id);
        zlistx_destroy (&trial->workers);
        free (trial);
        return NULL;
    }
    trial->index = self->n_trials;
    self->trials[self->n_trials++] = trial;
    self->stats.trials = self->n_trials;
    return trial;
}

int
rfk_scatter_expect_trial (rfk_scatter_t *self, const char *trial_id)
{
    assert (self);
    if (!trial_id || !*trial_id)
        return -1;
    return s_trial_find (self, trial_id, true) ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* requests */

/*  Ends a request: tells the caller and frees it. */
static void
s_request_detach (s_request_t *request);

static void
s_request_finish (rfk_scatter_t *self, s_request_t *request, rfk_code_t code, const char *message)
{
    s_request_detach (request);
    zhashx_delete (self->requests, (void *)(uintptr_t)request->id);
    if (request->answered == UINT32_MAX)
        request->answered = 0;
    self->stats.inflight -= request->pending;
    rfk_scatter_result_t result = {.code = code, .message = message};
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    if (code == RFK_CODE_OK && !request->any_answer) {
        result.code = RFK_CODE_TIMEOUT;
        result.message = "no inference worker answered before the deadline";
    } else if (code == RFK_CODE_OK) {
        s_pack_array_header (&buffer, request->n);
        for (size_t i = 0; i < request->n; i++)
            msgpack_sbuffer_write (&buffer, request->answers[i], request->answer_sizes[i]);
        result.data = buffer.data;
        result.size = buffer.size;
    }
    result.members = request->members;
    result.members_answered = request->answered;
    if (request->done)
        request->done (self, request->id, &result, request->arg);
    msgpack_sbuffer_destroy (&buffer);
    zlistx_delete (self->deadlines, request->deadline_handle);
}

/*  Resolves slot j of a batch into its request with what the members
    answered so far; the request ends when it was its last query. */
static void
s_slot_resolve (rfk_scatter_t *self, s_batch_t *batch, size_t j)
{
    s_slot_t *slot = &batch->slots[j];
    s_request_t *request = slot->request;
    if (!request)
        return;
    slot->request = NULL;
    batch->attached--;
    size_t i = slot->index;
    request->batches[i] = NULL;

    rfk_ensemble_span_t stack_spans[8];
    rfk_ensemble_span_t *spans =
        batch->n_members <= 8
            ? stack_spans
            : (rfk_ensemble_span_t *)malloc (batch->n_members * sizeof (rfk_ensemble_span_t));
    size_t k = 0, answered = 0;
    const char *error = NULL;
    rfk_ensemble_span_t error_span = {NULL, 0};
    for (size_t m = 0; spans && m < batch->n_members; m++) {
        s_member_t *member = &batch->members[m];
        if (member->state == S_FAILED && !error)
            error = member->error;
        if (member->state != S_ANSWERED)
            continue;
        answered++;
        rfk_ensemble_span_t span = {(const unsigned char *)member->data + member->offsets[j],
                                    member->offsets[j + 1] - member->offsets[j]};
        if (rfk_msgpack_span_is_error (span.data, span.size)) {
            if (!error_span.data)
                error_span = span;
        } else
            spans[k++] = span;
    }
    size_t answer_size = 0;
    char *answer = rfk_ensemble_answer (self->opts.ensemble, spans, k,
                                        error_span.data ? &error_span : NULL, error, &answer_size);
    if (spans != stack_spans)
        free (spans);
    free (request->answers[i]);
    request->answers[i] = answer;
    request->answer_sizes[i] = answer ? answer_size : 0;
    if (answered > 0 || error)
        request->any_answer = true;
    if ((uint32_t)batch->n_members > request->members)
        request->members = (uint32_t)batch->n_members;
    if ((uint32_t)answered < request->answered)
        request->answered = (uint32_t)answered;
    request->pending--;
    self->stats.inflight--;
    if (request->pending == 0)
        s_request_finish (self, request, RFK_CODE_OK, NULL);
}

/*  Removes a sent batch from the tables and frees it. */
static void
s_batch_drop (rfk_scatter_t *self, s_batch_t *batch)
{
    for (size_t m = 0; m < batch->n_members; m++) {
        s_member_t *member = &batch->members[m];
        if (member->state == S_PENDING && member->worker) {
            member->worker->outstanding -=
                member->worker->outstanding < batch->n ? member->worker->outstanding : batch->n;
            member->worker = NULL;
        }
    }
    zhashx_delete (self->batches, (void *)(uintptr_t)batch->id);
    if (batch->sent_handle)
        zlistx_delete (self->sent, batch->sent_handle); /* frees it */
    else
        s_batch_destroy (&batch);
}

/*  Every member answered or failed: resolve what is still attached. */
static void
s_batch_complete (rfk_scatter_t *self, s_batch_t *batch)
{
    /*  Callbacks may submit new queries, never touch this batch: it is
        already out of the open and ready places. */
    for (size_t j = 0; j < batch->n && batch->attached > 0; j++)
        s_slot_resolve (self, batch, j);
    s_batch_drop (self, batch);
}

/* ---------------------------------------------------------------------- */
/* workers */

/*  The live replica of a trial with the least outstanding work, other than
    `not`; NULL when there is none. */
static s_worker_t *
s_pick (s_trial_t *trial, s_worker_t * not )
{
    s_worker_t *best = NULL;
    for (s_worker_t *worker = (s_worker_t *)zlistx_first (trial->workers); worker;
         worker = (s_worker_t *)zlistx_next (trial->workers))
        if (worker != not &&(!best || worker->outstanding < best->outstanding))
            best = worker;
    return best;
}

static void
s_worker_lost (rfk_scatter_t *self, s_worker_t *worker, const char *why);

/*  Sends the batch's frame to a replica of member m's trial; on failure
    tries the others. 0 when one took it, -1 when none could. */
static int
s_send_member (rfk_scatter_t *self, s_batch_t *batch, size_t m, s_worker_t * not )
{
    s_trial_t *trial = self->trials[m];
    s_member_t *member = &batch->members[m];
    s_worker_t *tried[16];
    size_t n_tried = 0;
    while (true) {
        s_worker_t *worker = s_pick (trial, not );
        for (size_t t = 0; worker && t < n_tried; t++)
            if (tried[t] == worker)
                worker = NULL; /* every replica refused */
        if (!worker)
            return -1;
        zframe_t *frame = zframe_dup (batch->frame);
        if (frame &&
            rfk_envelope_send_frame (rfk_scatter_sock (self), worker->routing_id, &frame) == 0) {
            member->worker = worker;
            member->state = S_PENDING;
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
static void
s_member_fail (rfk_scatter_t *self, s_batch_t *batch, size_t m, const char *why)
{
    s_member_t *member = &batch->members[m];
    if (member->state != S_PENDING)
        return;
    member->state = S_FAILED;
    member->worker = NULL;
    member->error = strdup (why);
    batch->waiting--;
    if (batch->waiting == 0) {
        if (batch->attached > 0)
            s_batch_complete (self, batch);
        else
            s_batch_drop (self, batch);
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
s_worker_detach (rfk_scatter_t *self, s_worker_t *worker, size_t *count_p)
{
    size_t count = 0;
    for (s_batch_t *batch = (s_batch_t *)zlistx_first (self->sent); batch;
         batch = (s_batch_t *)zlistx_next (self->sent))
        for (size_t m = 0; m < batch->n_members; m++)
            if (batch->members[m].state == S_PENDING && batch->members[m].worker == worker)
                count++;
    s_held_t *held = count ? (s_held_t *)malloc (count * sizeof (s_held_t)) : NULL;
    size_t n = 0;
    for (s_batch_t *batch = (s_batch_t *)zlistx_first (self->sent); batch;
         batch = (s_batch_t *)zlistx_next (self->sent))
        for (size_t m = 0; m < batch->n_members; m++)
            if (batch->members[m].state == S_PENDING && batch->members[m].worker == worker) {
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
s_worker_lost (rfk_scatter_t *self, s_worker_t *worker, const char *why)
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
        s_batch_t *batch =
            (s_batch_t *)zhashx_lookup (self->batches, (void *)(uintptr_t)held[c].batch);
        if (!batch || batch->members[held[c].member].state != S_PENDING)
            continue;
        if (batch->attached > 0 && batch->expires_us > now &&
            s_send_member (self, batch, held[c].member, NULL) == 0)
            self->stats.resent++;
        else
            s_member_fail (self, batch, held[c].member, reason);
    }
    free (held);
}

static void
s_on_expired (rfk_server_t *server, zframe_t *peer, void *ctx)
{
    (void)server;
    rfk_scatter_t *self = (rfk_scatter_t *)ctx;
    char *key = zframe_strhex (peer);
    s_worker_t *worker = key ? (s_worker_t *)zhashx_lookup (self->workers, key) : NULL;
    free (key);
    if (worker)
        s_worker_lost (self, worker, "went silent");
}

static int
s_on_worker_ready (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
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
    s_trial_t *trial = s_trial_find (self, trial_id && *trial_id ? trial_id : "default", true);
    s_worker_t *worker = (s_worker_t *)zmalloc (sizeof (s_worker_t));
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

static int
s_on_prediction_batch (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_scatter_t *self = (rfk_scatter_t *)ctx;
    rfk_msg_t *msg = *msg_p;
    char *key = zframe_strhex (peer);
    s_worker_t *worker = key ? (s_worker_t *)zhashx_lookup (self->workers, key) : NULL;
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
    s_batch_t *batch =
        id ? (s_batch_t *)zhashx_lookup (self->batches, (void *)(uintptr_t)id) : NULL;
    size_t m = 0;
    while (batch && m < batch->n_members &&
           !(batch->members[m].state == S_PENDING && batch->members[m].worker == worker))
        m++;
    if (!batch || m == batch->n_members) {
        self->stats.late++; /* its batch was purged, or re-sent elsewhere */
        return 0;
    }
    s_member_t *member = &batch->members[m];
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
        s_member_fail (self, batch, m, text);
        return 0;
    }
    member->data = (char *)malloc (size ? size : 1);
    if (!member->data) {
        free (offsets);
        s_member_fail (self, batch, m, "out of memory");
        return 0;
    }
    memcpy (member->data, data, size);
    member->offsets = offsets;
    member->state = S_ANSWERED;
    batch->waiting--;
    self->stats.answers++;
    if (batch->attached == 0)
        self->stats.late++;
    if (batch->waiting == 0) {
        if (batch->attached > 0)
            s_batch_complete (self, batch);
        else
            s_batch_drop (self, batch);
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* batches */

static s_batch_t *
s_batch_new (rfk_scatter_t *self)
{
    s_batch_t *batch = (s_batch_t *)zmalloc (sizeof (s_batch_t));
    if (!batch)
        return NULL;
    batch->capacity = self->opts.max_batch < 16 ? (size_t)self->opts.max_batch : 16;
    batch->slots = (s_slot_t *)calloc (batch->capacity, sizeof (s_slot_t));
    batch->body = zchunk_new (NULL, 256);
    if (!batch->slots || !batch->body) {
        s_batch_destroy (&batch);
        return NULL;
    }
    batch->id = self->next_batch++;
    batch->opened_us = zclock_usecs ();
    return batch;
}

/*  Sends a batch to one replica of every trial. */
static void
s_batch_send (rfk_scatter_t *self, s_batch_t *batch)
{
    if (batch->attached == 0) {
        s_batch_destroy (&batch);
        return;
    }
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    s_pack_array_header (&buffer, batch->n);
    msgpack_sbuffer_write (&buffer, (const char *)zchunk_data (batch->body),
                           zchunk_size (batch->body));
    zchunk_destroy (&batch->body);
    rfk_msg_t *msg = rfk_msg_new (&rfk_infer_family, "QueryBatch", 0);
    rfk_code_t code = RFK_CODE_INTERNAL;
    char err[256] = "out of memory";
    if (msg) {
        json_object_set_new (msg->body, "batch_id", json_integer ((json_int_t)batch->id));
        json_object_set_new (msg->body, "n", json_integer ((json_int_t)batch->n));
        msg->data = zchunk_new (buffer.data, buffer.size);
        if (rfk_envelope_encode (msg, self->opts.bus.max_frame_bytes, &batch->frame, &code, err,
                                 sizeof err) != 0)
            batch->frame = NULL;
    }
    rfk_msg_destroy (&msg);
    msgpack_sbuffer_destroy (&buffer);

    batch->n_members = self->n_trials;
    batch->members =
        (s_member_t *)calloc (batch->n_members ? batch->n_members : 1, sizeof (s_member_t));
    if (!batch->members) {
        batch->n_members = 0;
        snprintf (err, sizeof err, "out of memory");
        zframe_destroy (&batch->frame);
    }
    batch->waiting = batch->n_members;
    zhashx_insert (self->batches, (void *)(uintptr_t)batch->id, batch);
    batch->sent_handle = zlistx_add_end (self->sent, batch);
    self->stats.batches++;
    uint64_t id = batch->id;
    for (size_t m = 0; m < batch->n_members; m++) {
        /*  Failing a member may complete and free the batch. */
        batch = (s_batch_t *)zhashx_lookup (self->batches, (void *)(uintptr_t)id);
        if (!batch)
            return;
        char why[400];
        if (!batch->frame) {
            snprintf (why, sizeof why, "the batch could not be sent: %s", err);
            s_member_fail (self, batch, m, why);
        } else if (s_send_member (self, batch, m, NULL) != 0) {
            snprintf (why, sizeof why, "no replica of trial %s is ready", self->trials[m]->id);
            s_member_fail (self, batch, m, why);
        }
    }
    batch = (s_batch_t *)zhashx_lookup (self->batches, (void *)(uintptr_t)id);
    if (batch && batch->n_members == 0) {
        batch->waiting = 0;
        s_batch_complete (self, batch);
    }
}

/*  True when every trial that has workers has an idle one: a batch sent now
    is worked on at once, so waiting for more queries only adds latency. */
static bool
s_all_idle (rfk_scatter_t *self)
{
    for (size_t t = 0; t < self->n_trials; t++) {
        s_trial_t *trial = self->trials[t];
        if (zlistx_size (trial->workers) == 0)
            continue;
        bool idle = false;
        for (s_worker_t *worker = (s_worker_t *)zlistx_first (trial->workers); worker && !idle;
             worker = (s_worker_t *)zlistx_next (trial->workers))
            idle = worker->outstanding == 0;
        if (!idle)
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------------- */
/* the caller's side */

static void
s_set_error (rfk_code_t *code_p, rfk_code_t code, char *err, size_t errlen, const char *text)
{
    if (code_p)
        *code_p = code;
    if (err && errlen)
        snprintf (err, errlen, "%s", text);
}

/*  A new request of count queries, in the tables; NULL out of memory. */
static s_request_t *
s_request_new (rfk_scatter_t *self, size_t count, int deadline_ms, rfk_scatter_done_fn *done,
               void *arg)
{
    s_request_t *request = (s_request_t *)zmalloc (sizeof (s_request_t));
    if (request) {
        request->answers = (char **)calloc (count, sizeof (char *));
        request->answer_sizes = (size_t *)calloc (count, sizeof (size_t));
        request->batches = (s_batch_t **)calloc (count, sizeof (s_batch_t *));
        request->slots = (size_t *)calloc (count, sizeof (size_t));
    }
    if (!request || !request->answers || !request->answer_sizes || !request->batches ||
        !request->slots) {
        s_request_destroy (&request);
        return NULL;
    }
    request->id = self->next_request++;
    request->n = count;
    request->pending = count;
    request->answered = UINT32_MAX;
    request->done = done;
    request->arg = arg;
    request->deadline_us =
        zclock_usecs () + (int64_t)(deadline_ms > 0 ? deadline_ms : self->opts.deadline_ms) * 1000;
    request->deadline_handle = zlistx_insert (self->deadlines, request, false);
    zhashx_insert (self->requests, (void *)(uintptr_t)request->id, request);
    self->stats.requests++;
    self->stats.queries += count;
    self->stats.inflight += count;
    return request;
}

/*  The open batch with room for one more query; NULL out of memory. */
static s_batch_t *
s_batch_open (rfk_scatter_t *self)
{
    if (!self->open)
        self->open = s_batch_new (self);
    s_batch_t *batch = self->open;
    if (batch && batch->n == batch->capacity) {
        size_t capacity = batch->capacity * 2;
        if (capacity > (size_t)self->opts.max_batch)
            capacity = (size_t)self->opts.max_batch;
        s_slot_t *slots = (s_slot_t *)realloc (batch->slots, capacity * sizeof (s_slot_t));
        if (!slots)
            return NULL;
        batch->slots = slots;
        batch->capacity = capacity;
    }
    return batch;
}

/*  Puts query i of a request (its bytes) into the open batch. */
static void
s_request_enqueue (rfk_scatter_t *self, s_request_t *request, size_t i, const void *query,
                   size_t size)
{
    s_batch_t *batch = s_batch_open (self);
    if (!batch) {
        /*  Out of memory: this query is answered with an error. */
        request->answers[i] = rfk_ensemble_error_new ("out of memory", &request->answer_sizes[i]);
        request->pending--;
        self->stats.inflight--;
        return;
    }
    size_t j = batch->n++;
    batch->slots[j].request = request;
    batch->slots[j].index = i;
    batch->attached++;
    if (request->deadline_us > batch->expires_us)
        batch->expires_us = request->deadline_us;
    zchunk_extend (batch->body, query, size);
    request->batches[i] = batch;
    request->slots[i] = j;
    if (batch->n == (size_t)self->opts.max_batch) {
        zlistx_add_end (self->ready, batch);
        self->open = NULL;
    }
}

uint64_t
rfk_scatter_submit (rfk_scatter_t *self, const void *queries, size_t size, int deadline_ms,
                    rfk_scatter_done_fn *done, void *arg, rfk_code_t *code_p, char *err,
                    size_t errlen)
{
    assert (self);
    size_t count = 0;
    size_t *offsets = rfk_msgpack_span_elements (queries, size, SIZE_MAX, &count);
    s_request_t *request = NULL;
    if (!offsets || count == 0)
        s_set_error (code_p, RFK_CODE_BAD_REQUEST, err, errlen,
                     "the queries are not a non-empty msgpack array");
    else if (self->ready_workers == 0) {
        self->stats.refused++;
        s_set_error (code_p, RFK_CODE_UNAVAILABLE, err, errlen, "no inference worker is ready");
    } else if (self->stats.inflight + count > (size_t)self->opts.max_inflight) {
        self->stats.refused++;
        s_set_error (code_p, RFK_CODE_UNAVAILABLE, err, errlen,
                     "the predictor is at its limit of queries in flight; try again");
    } else if (!(request = s_request_new (self, count, deadline_ms, done, arg)))
        s_set_error (code_p, RFK_CODE_INTERNAL, err, errlen, "out of memory");
    if (!request) {
        free (offsets);
        return 0;
    }
    const unsigned char *bytes = (const unsigned char *)queries;
    for (size_t i = 0; i < count; i++)
        s_request_enqueue (self, request, i, bytes + offsets[i], offsets[i + 1] - offsets[i]);
    free (offsets);
    if (request->pending == 0) {
        /*  Nothing could be queued: end it at the next tick. */
        request->deadline_us = 0;
        zlistx_reorder (self->deadlines, request->deadline_handle, true);
    }
    return request->id;
}

/*  Lets go of a request's queries still in batches. */
static void
s_request_detach (s_request_t *request)
{
    for (size_t i = 0; i < request->n; i++) {
        s_batch_t *batch = request->batches[i];
        if (batch) {
            batch->slots[request->slots[i]].request = NULL;
            batch->attached--;
            request->batches[i] = NULL;
        }
    }
}

int
rfk_scatter_cancel (rfk_scatter_t *self, uint64_t id)
{
    assert (self);
    s_request_t *request =
        id ? (s_request_t *)zhashx_lookup (self->requests, (void *)(uintptr_t)id) : NULL;
    if (!request)
        return -1;
    s_request_detach (request);
    self->stats.inflight -= request->pending;
    zhashx_delete (self->requests, (void *)(uintptr_t)id);
    zlistx_delete (self->deadlines, request->deadline_handle);
    return 0;
}

int
rfk_scatter_recv (rfk_scatter_t *self)
{
    assert (self);
    return rfk_server_recv (self->server);
}

int64_t
rfk_scatter_deadline (rfk_scatter_t *self)
{
    assert (self);
    if (zlistx_size (self->ready) > 0)
        return 0;
    int64_t nearest_us = -1;
    if (self->open && self->open->n > 0)
        nearest_us = self->open->opened_us + self->opts.batch_window_us;
    s_request_t *first = (s_request_t *)zlistx_first (self->deadlines);
    if (first && (nearest_us < 0 || first->deadline_us < nearest_us))
        nearest_us = first->deadline_us;
    int64_t nearest = nearest_us < 0 ? -1 : (nearest_us + 999) / 1000;
    int64_t server = rfk_server_deadline (self->server);
    if (server >= 0 && (nearest < 0 || server < nearest))
        nearest = server;
    return nearest;
}

void
rfk_scatter_tick (rfk_scatter_t *self)
{
    assert (self);
    rfk_server_tick (self->server);
    int64_t now = zclock_usecs ();
    /*  Requests whose deadline passed end with what arrived. */
    s_request_t *request;
    while ((request = (s_request_t *)zlistx_first (self->deadlines)) &&
           request->deadline_us <= now) {
        uint64_t id = request->id;
        if (request->pending > 0)
            self->stats.timeouts++;
        /*  Resolving the last query ends (frees) the request: look it up
            again after each. */
        for (size_t i = 0; request && i < request->n; i++) {
            s_batch_t *batch = request->batches[i];
            if (!batch)
                continue;
            if (batch->members)
                s_slot_resolve (self, batch, request->slots[i]);
            else {
                /*  Never sent (the window is longer than the deadline). */
                batch->slots[request->slots[i]].request = NULL;
                batch->attached--;
                request->batches[i] = NULL;
                request->answers[i] = rfk_ensemble_error_new (
                    "no inference worker answered before the deadline", &request->answer_sizes[i]);
                request->answered = 0;
                request->pending--;
                self->stats.inflight--;
                if (request->pending == 0)
                    s_request_finish (self, request, RFK_CODE_OK, NULL);
            }
            request = (s_request_t *)zhashx_lookup (self->requests, (void *)(uintptr_t)id);
        }
        if (request)
            s_request_finish (self, request, RFK_CODE_OK, NULL);
    }
    /*  Batches whose requests all ended and whose workers never answered
        are forgotten once their workers had time to be noticed gone. */
    s_batch_t *batch;
    while ((batch = (s_batch_t *)zlistx_first (self->sent)) && batch->attached == 0 &&
           batch->expires_us + (int64_t)self->opts.bus.heartbeat_timeout_ms * 1000 <= now)
        s_batch_drop (self, batch);
    /*  Batches to send. */
    while ((batch = (s_batch_t *)zlistx_first (self->ready))) {
        zlistx_detach (self->ready, zlistx_cursor (self->ready));
        s_batch_send (self, batch);
    }
    if (self->open && self->open->n > 0 &&
        (now >= self->open->opened_us + self->opts.batch_window_us || s_all_idle (self))) {
        batch = self->open;
        self->open = NULL;
        s_batch_send (self, batch);
    }
}

void
rfk_scatter_stats (rfk_scatter_t *self, rfk_scatter_stats_t *stats)
{
    assert (self);
    assert (stats);
    *stats = self->stats;
    stats->workers = self->ready_workers;
    stats->trials = self->n_trials;
}
