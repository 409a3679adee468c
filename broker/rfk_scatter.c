/*  rfk_scatter.c: batching, scatter to one replica per trial, gather with
    deadlines, ensembling (see rfk_scatter.h).

    Queries are never re-encoded: a request's msgpack array is split into the
    byte spans of its elements (checked by a small msgpack walker, which
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
#include "rfk_server.h"

/* The msgpack ext type of a per-query error (RAFIKI_MSGPACK_EXT_ERROR). */
#define S_EXT_ERROR 1
/* How deep a query may nest. */
#define S_MAX_DEPTH 64

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

/* ---------------------------------------------------------------------- */
/* msgpack walking */

static uint64_t
s_be (const unsigned char *p, size_t bytes)
{
    uint64_t value = 0;
    for (size_t i = 0; i < bytes; i++)
        value = (value << 8) | p[i];
    return value;
}

/*  Skips one msgpack object starting at *off; 0 with *off past it, or -1
    when the bytes are not one complete object (or nest too deep). */
static int
s_skip (const unsigned char *data, size_t size, size_t *off, int depth)
{
    if (depth > S_MAX_DEPTH || *off >= size)
        return -1;
    unsigned char b = data[*off];
    size_t at = *off + 1;
    uint64_t items = 0; /* nested objects to skip after the header */
    uint64_t bytes = 0; /* payload bytes after the header */
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        ;
    else if (b >= 0x80 && b <= 0x8f)
        items = 2u * (b & 0x0f);
    else if (b >= 0x90 && b <= 0x9f)
        items = b & 0x0f;
    else if (b >= 0xa0 && b <= 0xbf)
        bytes = b & 0x1f;
    else {
        static const unsigned char lengths[] = {/* c4 bin8 */ 1,
                                                /* c5 */ 2,
                                                /* c6 */ 4,
                                                /* c7 ext8 */ 1,
                                                /* c8 */ 2,
                                                /* c9 */ 4,
                                                /* ca f32 */ 0,
                                                /* cb */ 0,
                                                /* cc u8 */ 0,
                                                /* cd */ 0,
                                                /* ce */ 0,
                                                /* cf */ 0,
                                                /* d0 i8 */ 0,
                                                /* d1 */ 0,
                                                /* d2 */ 0,
                                                /* d3 */ 0,
                                                /* d4 fixext1 */ 0, 0, 0, 0, 0,
                                                /* d9 str8 */ 1,
                                                /* da */ 2,
                                                /* db */ 4,
                                                /* dc array16 */ 2,
                                                /* dd */ 4,
                                                /* de map16 */ 2,
                                                /* df */ 4};
        static const unsigned char fixed[] = {/* c4..c9 */ 0,
                                              0,
                                              0,
                                              0,
                                              0,
                                              0,
                                              /* ca */ 4,
                                              /* cb */ 8,
                                              /* cc..cf */ 1,
                                              2,
                                              4,
                                              8,
                                              /* d0..d3 */ 1,
                                              2,
                                              4,
                                              8,
                                              /* d4..d8 fixext */ 2,
                                              3,
                                              5,
                                              9,
                                              17,
                                              /* d9..df */ 0,
                                              0,
                                              0,
                                              0,
                                              0,
                                              0,
                                              0};
        if (b == 0xc1)
            return -1;
        size_t length_bytes = lengths[b - 0xc4];
        if (at + length_bytes > size)
            return -1;
        uint64_t length = s_be (data + at, length_bytes);
        at += length_bytes;
        if (b >= 0xc4 && b <= 0xc6)
            bytes = length;
        else if (b >= 0xc7 && b <= 0xc9)
            bytes = length + 1; /* the ext type byte */
        else if (b >= 0xd9 && b <= 0xdb)
            bytes = length;
        else if (b == 0xdc || b == 0xdd)
            items = length;
        else if (b == 0xde || b == 0xdf)
            items = 2 * length;
        else
            bytes = fixed[b - 0xc4];
    }
    if (bytes > size - at)
        return -1;
    at += bytes;
    if (items > size - at) /* every object is at least a byte */
        return -1;
    *off = at;
    for (uint64_t i = 0; i < items; i++)
        if (s_skip (data, size, off, depth + 1) != 0)
            return -1;
    return 0;
}

/*  Reads an array header: 0 with the element count and header length. */
static int
s_array_header (const unsigned char *data, size_t size, size_t *count, size_t *header)
{
    if (size < 1)
        return -1;
    unsigned char b = data[0];
    if (b >= 0x90 && b <= 0x9f) {
        *count = b & 0x0f;
        *header = 1;
    } else if (b == 0xdc && size >= 3) {
        *count = (size_t)s_be (data + 1, 2);
        *header = 3;
    } else if (b == 0xdd && size >= 5) {
        *count = (size_t)s_be (data + 1, 4);
        *header = 5;
    } else
        return -1;
    return 0;
}

/*  The offsets of the elements of an array that fills data exactly: n + 1
    offsets (the last is size) in a new array, or NULL when data is not such
    an array or has another count than expect (unless expect is SIZE_MAX). */
static size_t *
s_array_offsets (const void *data, size_t size, size_t expect, size_t *count_p)
{
    const unsigned char *bytes = (const unsigned char *)data;
    size_t count, header;
    if (!data || s_array_header (bytes, size, &count, &header) != 0)
        return NULL;
    if ((expect != SIZE_MAX && count != expect) || count > size)
        return NULL;
    size_t *offsets = (size_t *)malloc ((count + 1) * sizeof (size_t));
    if (!offsets)
        return NULL;
    size_t off = header;
    for (size_t i = 0; i < count; i++) {
        offsets[i] = off;
        if (s_skip (bytes, size, &off, 1) != 0) {
            free (offsets);
            return NULL;
        }
    }
    if (off != size) {
        free (offsets);
        return NULL;
    }
    offsets[count] = off;
    if (count_p)
        *count_p = count;
    return offsets;
}

static void
s_pack_array_header (msgpack_sbuffer *buffer, size_t n)
{
    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&packer, n);
}

/*  A per-query error as msgpack bytes (ext S_EXT_ERROR), malloc'd. */
static char *
s_error_bytes (const char *message, size_t *size)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    size_t length = strlen (message);
    msgpack_pack_ext (&packer, length, S_EXT_ERROR);
    msgpack_pack_ext_body (&packer, message, length);
    *size = buffer.size;
    return msgpack_sbuffer_release (&buffer);
}

/*  True when the span is a per-query error. */
static bool
s_is_error (const unsigned char *span, size_t size)
{
    if (size < 2)
        return false;
    unsigned char b = span[0];
    size_t type_at;
    if (b >= 0xd4 && b <= 0xd8)
        type_at = 1;
    else if (b == 0xc7)
        type_at = 2;
    else if (b == 0xc8)
        type_at = 3;
    else if (b == 0xc9)
        type_at = 5;
    else
        return false;
    return type_at < size && (signed char)span[type_at] == S_EXT_ERROR;
}

/* ---------------------------------------------------------------------- */
/* ensembling */

typedef struct {
    const unsigned char *data; /* one member's prediction */
    size_t size;
} s_span_t;

static bool
s_is_number (const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
           o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || o->type == MSGPACK_OBJECT_FLOAT32 ||
           o->type == MSGPACK_OBJECT_FLOAT64;
}

static double
s_number (const msgpack_object *o)
{
    switch (o->type) {
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            return (double)o->via.u64;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return (double)o->via.i64;
        default:
            return o->via.f64;
    }
}

/*  Combines k >= 2 answers into buffer; -1 when they are not of the shape
    the ensemble wants (the caller takes the first then). */
static int
s_combine (rfk_ensemble_t mode, const s_span_t *spans, size_t k, msgpack_sbuffer *buffer)
{
    msgpack_unpacked *objects = (msgpack_unpacked *)calloc (k, sizeof (msgpack_unpacked));
    if (!objects)
        return -1;
    int rc = 0;
    size_t unpacked = 0;
    for (; unpacked < k && rc == 0; unpacked++) {
        size_t off = 0;
        msgpack_unpacked_init (&objects[unpacked]);
        if (msgpack_unpack_next (&objects[unpacked], (const char *)spans[unpacked].data,
                                 spans[unpacked].size, &off) != MSGPACK_UNPACK_SUCCESS)
            rc = -1;
    }
    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    if (rc == 0 && mode == RFK_ENSEMBLE_MEAN) {
        double sum = 0;
        for (size_t i = 0; i < k && rc == 0; i++) {
            if (!s_is_number (&objects[i].data))
                rc = -1;
            else
                sum += s_number (&objects[i].data);
        }
        if (rc == 0)
            msgpack_pack_double (&packer, sum / (double)k);
    } else if (rc == 0 && mode == RFK_ENSEMBLE_MEAN_VEC) {
        size_t length = 0;
        for (size_t i = 0; i < k && rc == 0; i++) {
            const msgpack_object *o = &objects[i].data;
            if (o->type != MSGPACK_OBJECT_ARRAY)
                rc = -1;
            else {
                for (uint32_t j = 0; j < o->via.array.size; j++)
                    if (!s_is_number (&o->via.array.ptr[j]))
                        rc = -1;
                if (o->via.array.size > length)
                    length = o->via.array.size;
            }
        }
        if (rc == 0) {
            /*  A member that knows fewer classes gives the others 0. */
            msgpack_pack_array (&packer, length);
            for (size_t j = 0; j < length; j++) {
                double sum = 0;
                for (size_t i = 0; i < k; i++) {
                    const msgpack_object *o = &objects[i].data;
                    if (j < o->via.array.size)
                        sum += s_number (&o->via.array.ptr[j]);
                }
                msgpack_pack_double (&packer, sum / (double)k);
            }
        }
    } else if (rc == 0 && mode == RFK_ENSEMBLE_MAJORITY) {
        const msgpack_object *first = &objects[0].data;
        size_t length = first->type == MSGPACK_OBJECT_ARRAY ? first->via.array.size : 0;
        for (size_t i = 0; i < k && rc == 0; i++) {
            const msgpack_object *o = &objects[i].data;
            if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != length)
                rc = -1;
            else
                for (uint32_t j = 0; j < length; j++)
                    if (o->via.array.ptr[j].type != MSGPACK_OBJECT_STR)
                        rc = -1;
        }
        if (rc == 0) {
            msgpack_pack_array (&packer, length);
            for (size_t j = 0; j < length; j++) {
                /*  The tag most members gave; a tie goes to the earliest. */
                size_t best = 0, best_votes = 0;
                for (size_t i = 0; i < k; i++) {
                    const msgpack_object_str *tag = &objects[i].data.via.array.ptr[j].via.str;
                    size_t votes = 0;
                    for (size_t m = 0; m < k; m++) {
                        const msgpack_object_str *other = &objects[m].data.via.array.ptr[j].via.str;
                        if (other->size == tag->size &&
                            memcmp (other->ptr, tag->ptr, tag->size) == 0)
                            votes++;
                    }
                    if (votes > best_votes) {
                        best = i;
                        best_votes = votes;
                    }
                }
                const msgpack_object_str *tag = &objects[best].data.via.array.ptr[j].via.str;
                msgpack_pack_str (&packer, tag->size);
                msgpack_pack_str_body (&packer, tag->ptr, tag->size);
            }
        }
    } else
        rc = -1;
    for (size_t i = 0; i < unpacked; i++)
        msgpack_unpacked_destroy (&objects[i]);
    free (objects);
    return rc;
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

rfk_ensemble_t
rfk_scatter_ensemble_of_task (const char *task)
{
    if (!task)
        return RFK_ENSEMBLE_FIRST;
    if (streq (task, "IMAGE_CLASSIFICATION") || streq (task, "TABULAR_CLASSIFICATION"))
        return RFK_ENSEMBLE_MEAN_VEC;
    if (streq (task, "TABULAR_REGRESSION"))
        return RFK_ENSEMBLE_MEAN;
    if (streq (task, "POS_TAGGING"))
        return RFK_ENSEMBLE_MAJORITY;
    return RFK_ENSEMBLE_FIRST;
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

    s_span_t stack_spans[8];
    s_span_t *spans = batch->n_members <= 8
                          ? stack_spans
                          : (s_span_t *)malloc (batch->n_members * sizeof (s_span_t));
    size_t k = 0, answered = 0;
    const char *error = NULL;
    const unsigned char *error_span = NULL;
    size_t error_size = 0;
    for (size_t m = 0; spans && m < batch->n_members; m++) {
        s_member_t *member = &batch->members[m];
        if (member->state == S_FAILED && !error)
            error = member->error;
        if (member->state != S_ANSWERED)
            continue;
        answered++;
        const unsigned char *span = (const unsigned char *)member->data + member->offsets[j];
        size_t size = member->offsets[j + 1] - member->offsets[j];
        if (s_is_error (span, size)) {
            if (!error_span) {
                error_span = span;
                error_size = size;
            }
            continue;
        }
        spans[k].data = span;
        spans[k].size = size;
        k++;
    }
    char *answer = NULL;
    size_t answer_size = 0;
    if (k >= 2 && self->opts.ensemble != RFK_ENSEMBLE_FIRST) {
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        if (s_combine (self->opts.ensemble, spans, k, &buffer) == 0) {
            answer_size = buffer.size;
            answer = msgpack_sbuffer_release (&buffer);
        }
        msgpack_sbuffer_destroy (&buffer);
    }
    if (!answer && k >= 1) {
        answer = (char *)malloc (spans[0].size);
        if (answer) {
            memcpy (answer, spans[0].data, spans[0].size);
            answer_size = spans[0].size;
        }
    } else if (!answer && error_span) {
        /*  Every member that answered refused this query: pass its error on. */
        answer = (char *)malloc (error_size);
        if (answer) {
            memcpy (answer, error_span, error_size);
            answer_size = error_size;
        }
    } else if (!answer) {
        char text[600];
        if (error)
            snprintf (text, sizeof text, "%s", error);
        else
            snprintf (text, sizeof text, "no inference worker answered before the deadline");
        answer = s_error_bytes (text, &answer_size);
    }
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
    /*  Detach it from every batch first, so that re-sends below never pick
        it, then re-send or fail. Collect the batches: completing one
        changes the sent list. */
    size_t count = 0, capacity = 16;
    uint64_t *ids = (uint64_t *)malloc (capacity * sizeof (uint64_t));
    size_t *members = (size_t *)malloc (capacity * sizeof (size_t));
    for (s_batch_t *batch = (s_batch_t *)zlistx_first (self->sent); batch && ids && members;
         batch = (s_batch_t *)zlistx_next (self->sent))
        for (size_t m = 0; m < batch->n_members; m++)
            if (batch->members[m].state == S_PENDING && batch->members[m].worker == worker) {
                batch->members[m].worker = NULL;
                if (count == capacity) {
                    capacity *= 2;
                    uint64_t *more_ids = (uint64_t *)realloc (ids, capacity * sizeof (uint64_t));
                    if (more_ids)
                        ids = more_ids;
                    size_t *more = (size_t *)realloc (members, capacity * sizeof (size_t));
                    if (more)
                        members = more;
                    if (!more_ids || !more)
                        break;
                }
                ids[count] = batch->id;
                members[count] = m;
                count++;
            }
    char reason[200];
    snprintf (reason, sizeof reason, "the worker of trial %s was lost", worker->trial->id);
    int64_t now = zclock_usecs ();
    zhashx_delete (self->workers, worker->key); /* frees it */
    for (size_t c = 0; c < count; c++) {
        s_batch_t *batch = (s_batch_t *)zhashx_lookup (self->batches, (void *)(uintptr_t)ids[c]);
        if (!batch || batch->members[members[c]].state != S_PENDING)
            continue;
        if (batch->attached > 0 && batch->expires_us > now &&
            s_send_member (self, batch, members[c], NULL) == 0)
            self->stats.resent++;
        else
            s_member_fail (self, batch, members[c], reason);
    }
    free (ids);
    free (members);
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
    size_t *offsets = error ? NULL : s_array_offsets (data, size, batch->n, NULL);
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

uint64_t
rfk_scatter_submit (rfk_scatter_t *self, const void *queries, size_t size, int deadline_ms,
                    rfk_scatter_done_fn *done, void *arg, rfk_code_t *code_p, char *err,
                    size_t errlen)
{
    assert (self);
    size_t count = 0;
    size_t *offsets = s_array_offsets (queries, size, SIZE_MAX, &count);
    if (!offsets || count == 0) {
        free (offsets);
        s_set_error (code_p, RFK_CODE_BAD_REQUEST, err, errlen,
                     "the queries are not a non-empty msgpack array");
        return 0;
    }
    if (self->ready_workers == 0) {
        free (offsets);
        self->stats.refused++;
        s_set_error (code_p, RFK_CODE_UNAVAILABLE, err, errlen, "no inference worker is ready");
        return 0;
    }
    if (self->stats.inflight + count > (size_t)self->opts.max_inflight) {
        free (offsets);
        self->stats.refused++;
        s_set_error (code_p, RFK_CODE_UNAVAILABLE, err, errlen,
                     "the predictor is at its limit of queries in flight; try again");
        return 0;
    }
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
        free (offsets);
        s_set_error (code_p, RFK_CODE_INTERNAL, err, errlen, "out of memory");
        return 0;
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

    const unsigned char *bytes = (const unsigned char *)queries;
    for (size_t i = 0; i < count; i++) {
        if (!self->open)
            self->open = s_batch_new (self);
        s_batch_t *batch = self->open;
        if (batch && batch->n == batch->capacity) {
            size_t capacity = batch->capacity * 2;
            if (capacity > (size_t)self->opts.max_batch)
                capacity = (size_t)self->opts.max_batch;
            s_slot_t *slots = (s_slot_t *)realloc (batch->slots, capacity * sizeof (s_slot_t));
            if (slots) {
                batch->slots = slots;
                batch->capacity = capacity;
            } else
                batch = NULL;
        }
        if (!batch) {
            /*  Out of memory: this query is answered with an error. */
            request->answers[i] = s_error_bytes ("out of memory", &request->answer_sizes[i]);
            request->pending--;
            self->stats.inflight--;
            continue;
        }
        size_t j = batch->n++;
        batch->slots[j].request = request;
        batch->slots[j].index = i;
        batch->attached++;
        if (request->deadline_us > batch->expires_us)
            batch->expires_us = request->deadline_us;
        zchunk_extend (batch->body, bytes + offsets[i], offsets[i + 1] - offsets[i]);
        request->batches[i] = batch;
        request->slots[i] = j;
        if (batch->n == (size_t)self->opts.max_batch) {
            zlistx_add_end (self->ready, batch);
            self->open = NULL;
        }
    }
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
                request->answers[i] = s_error_bytes (
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
