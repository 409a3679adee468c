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

    The workers' side (WorkerReady, sending a batch member to a replica,
    PredictionBatch, lost workers) is in rfk_scatter_workers.c; the structs
    both share, and who owns what, are in rfk_scatter_private.h.
*/
#include "rfk_scatter_private.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>

#include "rfk_envelope.h"
#include "rfk_msgpack_span.h"
#include "rfk_server.h"

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
    rfk_scatter_worker_t *worker = (rfk_scatter_worker_t *)*item_p;
    if (worker) {
        zframe_destroy (&worker->routing_id);
        free (worker->key);
        free (worker);
        *item_p = NULL;
    }
}

static void
s_batch_destroy (rfk_scatter_batch_t **batch_p)
{
    rfk_scatter_batch_t *batch = *batch_p;
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
    s_batch_destroy ((rfk_scatter_batch_t **)item_p);
}

static void
s_request_destroy (rfk_scatter_request_t **request_p)
{
    rfk_scatter_request_t *request = *request_p;
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
    s_request_destroy ((rfk_scatter_request_t **)item_p);
}

static int
s_request_compare (const void *a, const void *b)
{
    int64_t x = ((const rfk_scatter_request_t *)a)->deadline_us,
            y = ((const rfk_scatter_request_t *)b)->deadline_us;
    return x < y ? -1 : x > y;
}

static const rfk_server_route_t s_routes[] = {
    {"WorkerReady", rfk_scatter_on_worker_ready},
    {"PredictionBatch", rfk_scatter_on_prediction_batch},
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
    rfk_server_set_expired (self->server, rfk_scatter_on_expired);
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

rfk_scatter_trial_t *
rfk_scatter_trial_find (rfk_scatter_t *self, const char *id, bool create)
{
    for (size_t t = 0; t < self->n_trials; t++)
        if (streq (self->trials[t]->id, id))
            return self->trials[t];
    if (!create)
        return NULL;
    rfk_scatter_trial_t **trials = (rfk_scatter_trial_t **)realloc (
        self->trials, (self->n_trials + 1) * sizeof (rfk_scatter_trial_t *));
    if (!trials)
        return NULL;
    self->trials = trials;
    rfk_scatter_trial_t *trial = (rfk_scatter_trial_t *)zmalloc (sizeof (rfk_scatter_trial_t));
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
    return rfk_scatter_trial_find (self, trial_id, true) ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* requests */

/*  Ends a request: tells the caller and frees it. */
static void
s_request_detach (rfk_scatter_request_t *request);

static void
s_request_finish (rfk_scatter_t *self, rfk_scatter_request_t *request, rfk_code_t code,
                  const char *message)
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
s_slot_resolve (rfk_scatter_t *self, rfk_scatter_batch_t *batch, size_t j)
{
    rfk_scatter_slot_t *slot = &batch->slots[j];
    rfk_scatter_request_t *request = slot->request;
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
        rfk_scatter_member_t *member = &batch->members[m];
        if (member->state == RFK_SCATTER_FAILED && !error)
            error = member->error;
        if (member->state != RFK_SCATTER_ANSWERED)
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
void
rfk_scatter_batch_drop (rfk_scatter_t *self, rfk_scatter_batch_t *batch)
{
    for (size_t m = 0; m < batch->n_members; m++) {
        rfk_scatter_member_t *member = &batch->members[m];
        if (member->state == RFK_SCATTER_PENDING && member->worker) {
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
void
rfk_scatter_batch_complete (rfk_scatter_t *self, rfk_scatter_batch_t *batch)
{
    /*  Callbacks may submit new queries, never touch this batch: it is
        already out of the open and ready places. */
    for (size_t j = 0; j < batch->n && batch->attached > 0; j++)
        s_slot_resolve (self, batch, j);
    rfk_scatter_batch_drop (self, batch);
}

/* ---------------------------------------------------------------------- */
/* batches */

static rfk_scatter_batch_t *
s_batch_new (rfk_scatter_t *self)
{
    rfk_scatter_batch_t *batch = (rfk_scatter_batch_t *)zmalloc (sizeof (rfk_scatter_batch_t));
    if (!batch)
        return NULL;
    batch->capacity = self->opts.max_batch < 16 ? (size_t)self->opts.max_batch : 16;
    batch->slots = (rfk_scatter_slot_t *)calloc (batch->capacity, sizeof (rfk_scatter_slot_t));
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
s_batch_send (rfk_scatter_t *self, rfk_scatter_batch_t *batch)
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
    batch->members = (rfk_scatter_member_t *)calloc (batch->n_members ? batch->n_members : 1,
                                                     sizeof (rfk_scatter_member_t));
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
        batch = (rfk_scatter_batch_t *)zhashx_lookup (self->batches, (void *)(uintptr_t)id);
        if (!batch)
            return;
        char why[400];
        if (!batch->frame) {
            snprintf (why, sizeof why, "the batch could not be sent: %s", err);
            rfk_scatter_member_fail (self, batch, m, why);
        } else if (rfk_scatter_send_member (self, batch, m, NULL) != 0) {
            snprintf (why, sizeof why, "no replica of trial %s is ready", self->trials[m]->id);
            rfk_scatter_member_fail (self, batch, m, why);
        }
    }
    batch = (rfk_scatter_batch_t *)zhashx_lookup (self->batches, (void *)(uintptr_t)id);
    if (batch && batch->n_members == 0) {
        batch->waiting = 0;
        rfk_scatter_batch_complete (self, batch);
    }
}

/*  True when every trial that has workers has an idle one: a batch sent now
    is worked on at once, so waiting for more queries only adds latency. */
static bool
s_all_idle (rfk_scatter_t *self)
{
    for (size_t t = 0; t < self->n_trials; t++) {
        rfk_scatter_trial_t *trial = self->trials[t];
        if (zlistx_size (trial->workers) == 0)
            continue;
        bool idle = false;
        for (rfk_scatter_worker_t *worker = (rfk_scatter_worker_t *)zlistx_first (trial->workers);
             worker && !idle; worker = (rfk_scatter_worker_t *)zlistx_next (trial->workers))
            idle = worker->outstanding == 0;
        if (!idle)
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------------- */
/* the caller's side */

static void
s_set_error (rfk_code_t *code_p, rfk_code_t code, char *err, size_t errlen, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));

static void
s_set_error (rfk_code_t *code_p, rfk_code_t code, char *err, size_t errlen, const char *format, ...)
{
    if (code_p)
        *code_p = code;
    if (err && errlen) {
        va_list args;
        va_start (args, format);
        vsnprintf (err, errlen, format, args);
        va_end (args);
    }
}

/*  A new request of count queries, in the tables; NULL out of memory. */
static rfk_scatter_request_t *
s_request_new (rfk_scatter_t *self, size_t count, int deadline_ms, rfk_scatter_done_fn *done,
               void *arg)
{
    rfk_scatter_request_t *request =
        (rfk_scatter_request_t *)zmalloc (sizeof (rfk_scatter_request_t));
    if (request) {
        request->answers = (char **)calloc (count, sizeof (char *));
        request->answer_sizes = (size_t *)calloc (count, sizeof (size_t));
        request->batches = (rfk_scatter_batch_t **)calloc (count, sizeof (rfk_scatter_batch_t *));
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
static rfk_scatter_batch_t *
s_batch_open (rfk_scatter_t *self)
{
    if (!self->open)
        self->open = s_batch_new (self);
    rfk_scatter_batch_t *batch = self->open;
    if (batch && batch->n == batch->capacity) {
        size_t capacity = batch->capacity * 2;
        if (capacity > (size_t)self->opts.max_batch)
            capacity = (size_t)self->opts.max_batch;
        rfk_scatter_slot_t *slots =
            (rfk_scatter_slot_t *)realloc (batch->slots, capacity * sizeof (rfk_scatter_slot_t));
        if (!slots)
            return NULL;
        batch->slots = slots;
        batch->capacity = capacity;
    }
    return batch;
}

/*  Puts query i of a request (its bytes) into the open batch. */
static void
s_request_enqueue (rfk_scatter_t *self, rfk_scatter_request_t *request, size_t i, const void *query,
                   size_t size)
{
    rfk_scatter_batch_t *batch = s_batch_open (self);
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
    rfk_scatter_request_t *request = NULL;
    if (!offsets || count == 0)
        s_set_error (code_p, RFK_CODE_BAD_REQUEST, err, errlen,
                     "the queries are not a non-empty msgpack array");
    else if (count > (size_t)self->opts.max_inflight)
        //  Never acceptable, however long the client waits: too large, not busy.
        s_set_error (code_p, RFK_CODE_TOO_LARGE, err, errlen,
                     "a request of %zu queries is over the predictor's maximum of %d "
                     "(predictor.max_inflight); send them in smaller batches",
                     count, self->opts.max_inflight);
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
s_request_detach (rfk_scatter_request_t *request)
{
    for (size_t i = 0; i < request->n; i++) {
        rfk_scatter_batch_t *batch = request->batches[i];
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
    rfk_scatter_request_t *request =
        id ? (rfk_scatter_request_t *)zhashx_lookup (self->requests, (void *)(uintptr_t)id) : NULL;
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
    rfk_scatter_request_t *first = (rfk_scatter_request_t *)zlistx_first (self->deadlines);
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
    rfk_scatter_request_t *request;
    while ((request = (rfk_scatter_request_t *)zlistx_first (self->deadlines)) &&
           request->deadline_us <= now) {
        uint64_t id = request->id;
        if (request->pending > 0)
            self->stats.timeouts++;
        /*  Resolving the last query ends (frees) the request: look it up
            again after each. */
        for (size_t i = 0; request && i < request->n; i++) {
            rfk_scatter_batch_t *batch = request->batches[i];
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
            request =
                (rfk_scatter_request_t *)zhashx_lookup (self->requests, (void *)(uintptr_t)id);
        }
        if (request)
            s_request_finish (self, request, RFK_CODE_OK, NULL);
    }
    /*  Batches whose requests all ended and whose workers never answered
        are forgotten once their workers had time to be noticed gone. */
    rfk_scatter_batch_t *batch;
    while ((batch = (rfk_scatter_batch_t *)zlistx_first (self->sent)) && batch->attached == 0 &&
           batch->expires_us + (int64_t)self->opts.bus.heartbeat_timeout_ms * 1000 <= now)
        rfk_scatter_batch_drop (self, batch);
    /*  Batches to send. */
    while ((batch = (rfk_scatter_batch_t *)zlistx_first (self->ready))) {
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
