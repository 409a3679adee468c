/*  rfk_scatter_private: what the engine's two parts share, and nobody else.

    rfk_scatter.c is the caller's side (construction, requests, batching,
    sending a batch, deadlines, ensembling each query's answers);
    rfk_scatter_workers.c is the workers' side (WorkerReady, picking a
    replica and sending it a batch, PredictionBatch, lost workers).

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
#ifndef RFK_SCATTER_PRIVATE_H_INCLUDED
#define RFK_SCATTER_PRIVATE_H_INCLUDED

#include "rfk_scatter.h"
#include "rfk_server.h"

typedef struct rfk_scatter_trial rfk_scatter_trial_t;
typedef struct rfk_scatter_worker rfk_scatter_worker_t;
typedef struct rfk_scatter_batch rfk_scatter_batch_t;
typedef struct rfk_scatter_request rfk_scatter_request_t;

struct rfk_scatter_trial {
    char *id;          /* the trial id */
    size_t index;      /* its member index */
    zlistx_t *workers; /* rfk_scatter_worker_t, not owned */
};

struct rfk_scatter_worker {
    char *key;                  /* hex of the routing id */
    zframe_t *routing_id;       /* owned */
    rfk_scatter_trial_t *trial; /* what it serves */
    void *handle;               /* its place in trial->workers */
    size_t outstanding;         /* queries sent to it and not answered */
};

typedef enum { RFK_SCATTER_PENDING, RFK_SCATTER_ANSWERED, RFK_SCATTER_FAILED } rfk_scatter_state_t;

typedef struct {
    rfk_scatter_state_t state;    /* PENDING until answered or failed */
    rfk_scatter_worker_t *worker; /* PENDING: who holds the batch, or NULL */
    char *data;                   /* ANSWERED: the predictions array, owned */
    size_t *offsets;              /* ANSWERED: n + 1 offsets of each prediction */
    char *error;                  /* FAILED: why, owned */
} rfk_scatter_member_t;

typedef struct {
    rfk_scatter_request_t *request; /* NULL once the request let go */
    size_t index;                   /* the query's index in its request */
} rfk_scatter_slot_t;

struct rfk_scatter_batch {
    uint64_t id;                   /* batch_id on the wire */
    size_t n;                      /* queries */
    rfk_scatter_slot_t *slots;     /* n of them */
    size_t capacity;               /* slots allocated (up to max_batch) */
    size_t attached;               /* slots whose request is alive */
    zchunk_t *body;                /* the queries' msgpack, concatenated */
    zframe_t *frame;               /* the encoded QueryBatch (once sent) */
    size_t n_members;              /* trials asked */
    rfk_scatter_member_t *members; /* one per trial */
    size_t waiting;                /* members PENDING */
    int64_t opened_us;             /* when its first query came */
    int64_t expires_us;            /* the latest deadline among its requests */
    void *sent_handle;             /* its place in the sent list, or NULL */
};

struct rfk_scatter_request {
    uint64_t id;                   /* what the caller knows it by */
    size_t n;                      /* queries */
    size_t pending;                /* queries not yet resolved */
    char **answers;                /* per query: ensembled prediction, owned */
    size_t *answer_sizes;          /* their bytes */
    rfk_scatter_batch_t **batches; /* per query: the batch holding it, or NULL */
    size_t *slots;                 /* per query: its slot in that batch */
    uint32_t members;              /* the most members any of its batches asked */
    uint32_t answered;             /* the fewest that answered any of its queries */
    bool any_answer;               /* some member answered (or refused) some query */
    int64_t deadline_us;           /* when it ends regardless */
    void *deadline_handle;         /* its place in the deadline list */
    rfk_scatter_done_fn *done;     /* the caller's callback */
    void *arg;                     /* and its argument */
};

struct _rfk_scatter_t {
    rfk_scatter_opts_t opts;      /* as given */
    rfk_server_t *server;         /* the ROUTER `workers` */
    rfk_scatter_trial_t **trials; /* members, in order of arrival */
    size_t n_trials;              /* how many */
    zhashx_t *workers;            /* key -> rfk_scatter_worker_t, owned */
    size_t ready_workers;         /* workers known */
    rfk_scatter_batch_t *open;    /* the batch being filled, or NULL */
    zlistx_t *ready;              /* full batches to send at the next tick */
    zhashx_t *batches;            /* id -> sent rfk_scatter_batch_t, not owned */
    zlistx_t *sent;               /* sent rfk_scatter_batch_t in send order, owned */
    zhashx_t *requests;           /* id -> rfk_scatter_request_t, not owned */
    zlistx_t *deadlines;          /* rfk_scatter_request_t by deadline, owned */
    uint64_t next_batch;          /* next batch id */
    uint64_t next_request;        /* next request id */
    rfk_scatter_stats_t stats;    /* counters */
};

/* ---------------------------------------------------------------------- */
/* rfk_scatter.c */

/*  The trial of that id; when there is none, a new member at the end if
    create, else NULL. NULL out of memory. */
rfk_scatter_trial_t *
rfk_scatter_trial_find (rfk_scatter_t *self, const char *id, bool create);

/*  Every member answered or failed: resolves the queries still attached
    (ensembling their answers) and frees the batch. */
void
rfk_scatter_batch_complete (rfk_scatter_t *self, rfk_scatter_batch_t *batch);

/*  Removes a sent batch from the tables and frees it. */
void
rfk_scatter_batch_drop (rfk_scatter_t *self, rfk_scatter_batch_t *batch);

/* ---------------------------------------------------------------------- */
/* rfk_scatter_workers.c */

/*  Sends the batch's frame to a replica of member m's trial other than
    `not`; on failure tries the others. 0 when one took it, -1 when none
    could. May drop unreachable workers (and so complete other batches). */
int
rfk_scatter_send_member (rfk_scatter_t *self, rfk_scatter_batch_t *batch, size_t m,
                         rfk_scatter_worker_t * not );

/*  Member m of a batch will not answer: fails it, and completes (frees)
    the batch when it was the last one waiting. */
void
rfk_scatter_member_fail (rfk_scatter_t *self, rfk_scatter_batch_t *batch, size_t m,
                         const char *why);

/*  The routes of the `workers` ROUTER: WorkerReady and PredictionBatch. */
int
rfk_scatter_on_worker_ready (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx);
int
rfk_scatter_on_prediction_batch (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p,
                                 void *ctx);

/*  A worker's heartbeats stopped: it is lost. */
void
rfk_scatter_on_expired (rfk_server_t *server, zframe_t *peer, void *ctx);

#endif
