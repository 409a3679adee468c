/*  rfk_advisor.c: the advisor actor (see rfk_advisor.h).

    One actor, one loop over its pipe, its ROUTER `advice` (an rfk_server) and,
    in the role form, its session with admin's `service` socket (rfk_session:
    Hello, ServiceConfig, Stop, StatusReport).
    Takes from trainers: Ready, Progress, Result. Sends them: Proposal, Done,
    Continue, Prune. Sends admin: Hello, StatusReport, TrialCreate,
    TrialFinished (for the trial of a trainer that went silent),
    SubTrainJobDone. Takes from admin: ServiceConfig, TrialCreated, Ack,
    Stop.

    The search is the tuning library's (actors/advisor/tune, rfk_tune.h),
    behind three small functions: s_search_next (a tuner's proposal: random,
    GP, TPE or the one trial of a template with only fixed knobs; where its
    parameters come from; its policies), s_search_observe (every proposal
    ends observed or failed, so the GP's pending points settle) and
    s_search_prune (ASHA over the progress reports).
*/
#include "rfk_advisor.h"

#include <math.h>
#include <rafiki/template.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rfk_bodies.h"
#include "rfk_log.h"
#include "rfk_role.h"
#include "rfk_train_args.h"
#include "rfk_tune.h"

#define S_LOG "advisor"
#define S_FINISH_WAIT_MS 5000 /* how long the last reports may wait for admin's Ack */

/* One trial this advisor proposed. */
typedef struct {
    uint32_t no;            /* trial number in the sub job, from 1 */
    char *id;               /* trial id (admin's, or made here); NULL while being created */
    json_t *knobs;          /* the knob values proposed */
    json_t *policies;       /* the policies switched on, an array of names */
    char *shared_params;    /* params file the trial starts from, or NULL */
    char *worker;           /* key of the trainer holding it, or NULL */
    double score;           /* COMPLETED: its score; PRUNED: the last score */
    char *error;            /* why it ERRORED or was PRUNED */
    char *params_path;      /* the parameters the trainer saved, or NULL */
    int64_t steps;          /* progress reports received */
    int64_t last_step;      /* the last progress report's step */
    double last_score;      /* and its score */
    bool observed;          /* the tuner heard how it ended */
    uint64_t progress_corr; /* correlation of the last Progress answered */
    bool progress_pruned;   /* what it was answered */
    /* where the trial is */
    rfk_trial_status_t status;
    /* where its parameters come from */
    rfk_params_source_t params_source;
} s_trial_t;

/* One trainer connected to the ROUTER. */
typedef struct {
    char *key;         /* routing id in hex */
    zframe_t *peer;    /* routing id */
    char *worker_id;   /* as the trainer named itself in Ready */
    s_trial_t *trial;  /* the trial it holds, or NULL */
    uint64_t asked;    /* correlation of the Ready/Result being answered, 0 if none */
    uint64_t answered; /* correlation of the last Ready/Result answered */
    rfk_msg_t *answer; /* that answer, re-sent to a repeated request */
    bool done;         /* told Done */
} s_worker_t;

typedef struct {
    zsock_t *pipe;               /* the actor's pipe */
    bool terminated;             /* leave the loop */
    bool finished;               /* the budget is spent and every trainer told */
    int64_t finish_deadline;     /* when finished: give up waiting for admin's Acks */
    const rfk_role_args_t *role; /* role form: rafikid's args; NULL in the direct form */
    rfk_bus_opts_t bus;          /* bus options */
    zpoller_t *poller;           /* the pipe, the session and, once bound, `advice` */
    rfk_session_t *session;      /* the conversation with admin, NULL in the direct form */
    bool configured;             /* ServiceConfig (or direct args) applied */
    rfk_server_t *server;        /* ROUTER `advice`, NULL until configured */
    char *sub_train_job_id;      /* the sub train job, or NULL */
    rfk_template_t *template;    /* the template, for its knob table */
    rfk_space_t *space;          /* the knob table as a search space */
    rfk_tuner_t *tuner;          /* proposes knobs, learns from scores */
    rfk_asha_t *asha;            /* prunes by progress, with EARLY_STOP */
    rfk_budget_t budget;         /* MODEL_TRIAL_COUNT, TIME_HOURS */
    zhashx_t *workers;           /* key -> s_worker_t */
    zlistx_t *trials;            /* s_trial_t, in number order */
    uint32_t next_no;            /* the next trial number */
    int64_t started_ms;          /* when the advisor was configured (zclock_mono) */
    int64_t time_deadline;       /* when TIME_HOURS runs out, -1: never */
    int creating;                /* TrialCreate requests without an answer */
    bool early_stop;             /* the template has EARLY_STOP and the job wants it */
    bool share_params;           /* the template has SHARE_PARAMS and the job wants it */
    int64_t asha_min_step;       /* the first rung's step */
    int64_t asha_eta;            /* reduction factor */
    bool done_reported;          /* SubTrainJobDone sent */
    char err[512];               /* why the actor cannot go on; "" while it can */
    /* the source named when sharing: BEST or LATEST */
    rfk_params_source_t params_source;
} self_t;

/* ---- OpenBLAS's threads and rafikid's signals --------------------------- */

/* OpenBLAS (the GP's linear algebra, linked into every rafikid) starts its
   thread pool when it is loaded, before main, with every signal unblocked.
   rafikid blocks SIGTERM and SIGINT in main before it starts a thread and
   reads them from a signalfd: a stop signal landing on one of OpenBLAS's
   threads would kill the process instead. So the pool is shut down here,
   still before main; OpenBLAS starts it again the first time it needs it,
   from that thread (an actor's, with the stop signals blocked). Weak: a
   BLAS without the call is left alone. */
extern int
blas_thread_shutdown_ (void) __attribute__ ((weak));

__attribute__ ((constructor)) static void
s_blas_pool_off (void)
{
    if (blas_thread_shutdown_)
        blas_thread_shutdown_ ();
}

static void
s_trial_destroy (void **item_p)
{
    s_trial_t *trial = (s_trial_t *)*item_p;
    if (!trial)
        return;
    free (trial->id);
    json_decref (trial->knobs);
    json_decref (trial->policies);
    free (trial->shared_params);
    free (trial->worker);
    free (trial->error);
    free (trial->params_path);
    free (trial);
    *item_p = NULL;
}

static void
s_worker_destroy (void **item_p)
{
    s_worker_t *worker = (s_worker_t *)*item_p;
    if (!worker)
        return;
    free (worker->key);
    zframe_destroy (&worker->peer);
    free (worker->worker_id);
    rfk_msg_destroy (&worker->answer);
    free (worker);
    *item_p = NULL;
}

static void
s_set_string (char **field, const char *value)
{
    free (*field);
    *field = value ? strdup (value) : NULL;
}

static void
s_self_destroy (self_t **self_p);

/* The actor's state with the bus options of the role's configuration (the
   defaults without one); NULL when out of memory. */
static self_t *
s_self_new (zsock_t *pipe, const rfk_role_args_t *role)
{
    self_t *self = (self_t *)calloc (1, sizeof (self_t));
    if (!self)
        return NULL;
    *self = (self_t){.pipe = pipe,
                     .role = role,
                     .workers = zhashx_new (),
                     .trials = zlistx_new (),
                     .poller = zpoller_new (pipe, NULL),
                     .next_no = 1,
                     .time_deadline = -1,
                     .finish_deadline = -1,
                     .params_source = RFK_PARAMS_BEST,
                     .asha_min_step = 1,
                     .asha_eta = 3};
    rfk_bus_opts_from_config (&self->bus, role ? role->config : NULL);
    if (!self->workers || !self->trials || !self->poller)
        s_self_destroy (&self);
    else {
        zhashx_set_destructor (self->workers, s_worker_destroy);
        zlistx_set_destructor (self->trials, s_trial_destroy);
    }
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    rfk_server_destroy (&self->server);
    rfk_session_destroy (&self->session);
    zpoller_destroy (&self->poller);
    zhashx_destroy (&self->workers);
    zlistx_destroy (&self->trials);
    rfk_asha_destroy (&self->asha);
    rfk_tuner_destroy (&self->tuner);
    rfk_space_destroy (&self->space);
    rfk_template_close (&self->template);
    free (self->sub_train_job_id);
    free (self);
    *self_p = NULL;
}

/* ---- the search: proposals, observations, pruning ----------------------- */

static const s_trial_t *
s_params_from (self_t *self);

/* Seconds since the advisor was configured. */
static double
s_elapsed_s (self_t *self)
{
    return (double)(zclock_mono () - self->started_ms) / 1000.0;
}

/* The knob values of the next trial as JSON (every knob of the table, the
   policies switched on, their names added to policies) and where its
   parameters come from (*source: NONE, BEST or LATEST); NULL when the
   tuner has nothing left to propose. */
static json_t *
s_search_next (self_t *self, json_t *policies, rfk_params_source_t *source)
{
    json_t *knobs = rfk_tuner_propose (self->tuner);
    if (!knobs)
        return NULL;
    rfk_params_source_t from = RFK_PARAMS_NONE;
    if (self->share_params && s_params_from (self)) {
        double progress =
            rfk_budget_progress (&self->budget, (int64_t)self->next_no - 1, s_elapsed_s (self));
        from = rfk_tuner_params_source (self->tuner, progress, self->params_source);
    }
    *source = from;
    unsigned mask = rfk_tuner_policies (self->tuner, from);
    if (!self->early_stop)
        mask &= ~(1u << RAFIKI_POLICY_EARLY_STOP);
    if (rfk_space_set_policies (self->space, knobs, mask) != 0) {
        json_decref (knobs);
        return NULL;
    }
    if (mask & (1u << RAFIKI_POLICY_EARLY_STOP))
        json_array_append_new (policies, json_string ("EARLY_STOP"));
    if (mask & (1u << RAFIKI_POLICY_SHARE_PARAMS))
        json_array_append_new (policies, json_string ("SHARE_PARAMS"));
    return knobs;
}

/* A trial ended (or was settled for its trainer): the tuner learns its
   score, or that it gave none. Once per trial. A pruned trial's last score
   is a real, if pessimistic, measurement. */
static void
s_search_observe (self_t *self, s_trial_t *trial)
{
    if (trial->observed)
        return;
    trial->observed = true;
    double score = trial->status == RFK_TRIAL_COMPLETED ? trial->score
                   : trial->status == RFK_TRIAL_PRUNED  ? trial->score
                                                        : NAN;
    char err[256] = "";
    int rc = isfinite (score)
                 ? rfk_tuner_observe (self->tuner, trial->knobs, score, err, sizeof err)
                 : rfk_tuner_fail (self->tuner, trial->knobs, err, sizeof err);
    if (rc != 0)
        rfk_log_warning (S_LOG, "tuner-refused trial=%u reason=\"%s\"", trial->no, err);
}

/* Asynchronous successive halving over the progress reports (rfk_asha):
   true to prune, with the reason in reason. */
static bool
s_search_prune (self_t *self, s_trial_t *trial, int64_t step, double score, char *reason,
                size_t reason_size)
{
    if (!self->asha ||
        rfk_asha_report (self->asha, (int64_t)trial->no, (double)step, score) != RFK_ASHA_PRUNE)
        return false;
    snprintf (reason, reason_size,
              "ASHA: score %g at step %" PRId64 " is not among the best 1/%" PRId64
              " of the trials at its rung",
              score, step, self->asha_eta);
    return true;
}

/* ---- trials and budget -------------------------------------------------- */

static bool
s_outstanding (const s_trial_t *trial)
{
    return trial->status == RFK_TRIAL_PENDING || trial->status == RFK_TRIAL_RUNNING;
}

static size_t
s_outstanding_count (self_t *self)
{
    size_t count = (size_t)self->creating;
    for (s_trial_t *trial = (s_trial_t *)zlistx_first (self->trials); trial;
         trial = (s_trial_t *)zlistx_next (self->trials))
        if (s_outstanding (trial))
            count++;
    return count;
}

/* Why no more trials may be proposed, or NULL while the budget lasts. */
static const char *
s_budget_spent (self_t *self)
{
    if (self->budget.max_trials >= 0 && (int64_t)self->next_no - 1 >= self->budget.max_trials)
        return "MODEL_TRIAL_COUNT reached";
    if (self->time_deadline >= 0 && zclock_mono () >= self->time_deadline)
        return "TIME_HOURS reached";
    if (self->tuner && rfk_tuner_exhausted (self->tuner))
        return "nothing left to tune (the template's knobs are all fixed: one trial)";
    return NULL;
}

/* Where a new trial's parameters come from: the best or latest COMPLETED
   trial with saved parameters. */
static const s_trial_t *
s_params_from (self_t *self)
{
    const s_trial_t *best = NULL, *latest = NULL;
    for (s_trial_t *trial = (s_trial_t *)zlistx_first (self->trials); trial;
         trial = (s_trial_t *)zlistx_next (self->trials)) {
        if (trial->status != RFK_TRIAL_COMPLETED || !trial->params_path)
            continue;
        if (!best || trial->score > best->score)
            best = trial;
        latest = trial;
    }
    return self->params_source == RFK_PARAMS_LATEST ? latest : best;
}

static s_trial_t *
s_trial_new (self_t *self)
{
    s_trial_t *trial = (s_trial_t *)calloc (1, sizeof (s_trial_t));
    if (!trial)
        return NULL;
    trial->policies = json_array ();
    rfk_params_source_t source = RFK_PARAMS_NONE;
    trial->knobs = trial->policies ? s_search_next (self, trial->policies, &source) : NULL;
    if (!trial->knobs) {
        void *item = trial;
        s_trial_destroy (&item);
        return NULL;
    }
    trial->no = self->next_no++;
    trial->status = RFK_TRIAL_PENDING;
    trial->score = NAN;
    trial->last_score = NAN;
    trial->params_source = RFK_PARAMS_NONE;
    if (source != RFK_PARAMS_NONE) {
        const s_trial_t *from = s_params_from (self);
        if (from) {
            trial->params_source = source;
            trial->shared_params = strdup (from->params_path);
        }
    }
    zlistx_add_end (self->trials, trial);
    return trial;
}

static json_t *
s_trial_json (const s_trial_t *trial)
{
    json_t *json = json_pack ("{s:i, s:s?, s:s, s:O, s:O, s:s?, s:s?, s:s?, s:I, s:I}", "no",
                              (json_int_t)trial->no, "id", trial->id, "status",
                              rfk_trial_status_name (trial->status), "knobs", trial->knobs,
                              "policies", trial->policies, "worker", trial->worker, "error",
                              trial->error, "params_path", trial->params_path, "steps",
                              (json_int_t)trial->steps, "last_step", (json_int_t)trial->last_step);
    if (json) {
        json_object_set_new (json, "score",
                             isfinite (trial->score) ? json_real (trial->score) : json_null ());
        json_object_set_new (json, "last_score",
                             isfinite (trial->last_score) ? json_real (trial->last_score)
                                                          : json_null ());
    }
    return json;
}

/* ---- talking to admin --------------------------------------------------- */

/* The final report to admin (role form only): STOPPED or ERRORED, once. */
static void
s_report_final (self_t *self, rfk_service_status_t status, const char *message)
{
    if (self->session)
        rfk_session_final (self->session, status, message);
}

/* Tell admin a trial ended without its trainer saying so. */
static void
s_report_trial_errored (self_t *self, s_trial_t *trial)
{
    if (!self->session || !trial->id)
        return;
    rfk_msg_t *msg = rfk_msg_new (&rfk_service_family, "TrialFinished", 0);
    json_object_set_new (msg->body, "trial_id", json_string (trial->id));
    json_object_set_new (msg->body, "status",
                         json_string (rfk_trial_status_name (RFK_TRIAL_ERRORED)));
    json_object_set_new (msg->body, "error", json_string (trial->error ? trial->error : ""));
    rfk_session_send (self->session, msg);
    rfk_msg_destroy (&msg);
}

/* ---- answering trainers ------------------------------------------------- */

static void
s_check_finished (self_t *self);

/* Answer a worker's Ready or Result (correlation worker->asked), remembering
   the answer for a repeated request. */
static void
s_answer (self_t *self, s_worker_t *worker, rfk_msg_t **answer_p)
{
    rfk_msg_t *answer = *answer_p;
    answer->correlation = worker->asked;
    if (rfk_server_peer_alive (self->server, worker->peer))
        rfk_server_send (self->server, worker->peer, answer);
    worker->answered = worker->asked;
    worker->asked = 0;
    rfk_msg_destroy (&worker->answer);
    worker->answer = answer;
    *answer_p = NULL;
}

static void
s_send_proposal (self_t *self, s_worker_t *worker, s_trial_t *trial)
{
    rfk_msg_t *proposal = rfk_proposal_new (&(rfk_proposal_t){.trial_no = trial->no,
                                                              .trial_id = trial->id,
                                                              .knobs = trial->knobs,
                                                              .policies = trial->policies,
                                                              .params_source = trial->params_source,
                                                              .params_path = trial->shared_params},
                                            0);
    if (!proposal)
        return;
    char *knobs = json_dumps (trial->knobs, JSON_COMPACT);
    rfk_log_info (S_LOG, "trial-proposed trial=%u id=%s worker=%s knobs=%s", trial->no, trial->id,
                  worker->worker_id ? worker->worker_id : worker->key, knobs ? knobs : "?");
    free (knobs);
    s_answer (self, worker, &proposal);
}

static void
s_send_done (self_t *self, s_worker_t *worker, const char *reason)
{
    rfk_msg_t *done = rfk_msg_new (&rfk_train_family, "Done", 0);
    json_object_set_new (done->body, "reason", json_string (reason));
    worker->done = true;
    s_answer (self, worker, &done);
}

/* A trial lost its trainer (expired, or created for one that is gone). */
static void
s_trial_orphaned (self_t *self, s_trial_t *trial, const char *why)
{
    if (!s_outstanding (trial))
        return;
    trial->status = RFK_TRIAL_ERRORED;
    s_set_string (&trial->error, why);
    rfk_log_warning (S_LOG, "trial-errored trial=%u id=%s reason=\"%s\"", trial->no,
                     trial->id ? trial->id : "-", why);
    s_search_observe (self, trial);
    s_report_trial_errored (self, trial);
}

/* What a TrialCreate request carries until admin answers. */
typedef struct {
    self_t *self;
    s_trial_t *trial;
    char *worker_key;
} s_create_t;

static void
s_on_trial_created (rfk_client_t *client, uint64_t correlation, rfk_msg_t **reply_p, void *arg)
{
    (void)client;
    (void)correlation;
    s_create_t *create = (s_create_t *)arg;
    self_t *self = create->self;
    s_trial_t *trial = create->trial;
    rfk_msg_t *reply = *reply_p;
    self->creating--;
    s_worker_t *worker = (s_worker_t *)zhashx_lookup (self->workers, create->worker_key);
    const char *id = json_string_value (json_object_get (reply->body, "trial_id"));
    if (rfk_msg_is (reply, "TrialCreated") && id && *id) {
        s_set_string (&trial->id, id);
        if (worker && worker->trial == trial && worker->asked)
            s_send_proposal (self, worker, trial);
        else
            s_trial_orphaned (self, trial, "the trainer went silent before the trial started");
    } else {
        const char *message = json_string_value (json_object_get (reply->body, "message"));
        rfk_log_warning (S_LOG, "trial-create-failed trial=%u message=\"%s\"", trial->no,
                         message ? message : reply->type);
        trial->status = RFK_TRIAL_ERRORED;
        s_set_string (&trial->error, "admin could not record the trial");
        s_search_observe (self, trial);
        if (worker && worker->trial == trial) {
            worker->trial = NULL;
            if (worker->asked) {
                rfk_msg_t *error = rfk_msg_new_error (&rfk_train_family, 0, RFK_CODE_UNAVAILABLE,
                                                      "admin could not record the trial; "
                                                      "say Ready again later");
                s_answer (self, worker, &error);
            }
        }
    }
    free (create->worker_key);
    free (create);
    s_check_finished (self);
}

/* Answer a Ready or a Result with the next proposal or Done. */
static void
s_answer_next (self_t *self, s_worker_t *worker)
{
    const char *spent = s_budget_spent (self);
    if (spent) {
        s_send_done (self, worker, spent);
        s_check_finished (self);
        return;
    }
    s_trial_t *trial = s_trial_new (self);
    if (!trial) {
        rfk_msg_t *error = rfk_msg_new_error (&rfk_train_family, 0, RFK_CODE_INTERNAL,
                                              "the advisor could not make a proposal");
        s_answer (self, worker, &error);
        return;
    }
    s_set_string (&trial->worker, worker->worker_id ? worker->worker_id : worker->key);
    worker->trial = trial;
    if (!self->session) {
        zuuid_t *uuid = zuuid_new ();
        s_set_string (&trial->id, zuuid_str_canonical (uuid));
        zuuid_destroy (&uuid);
        s_send_proposal (self, worker, trial);
        return;
    }
    s_create_t *create = (s_create_t *)calloc (1, sizeof (s_create_t));
    rfk_msg_t *msg = rfk_msg_new (&rfk_service_family, "TrialCreate", 0);
    if (self->sub_train_job_id)
        json_object_set_new (msg->body, "sub_train_job_id", json_string (self->sub_train_job_id));
    json_object_set_new (msg->body, "trial_no", json_integer (trial->no));
    json_object_set (msg->body, "knobs", trial->knobs);
    json_object_set (msg->body, "policies", trial->policies);
    create->self = self;
    create->trial = trial;
    create->worker_key = strdup (worker->key);
    if (rfk_client_send (rfk_session_client (self->session), msg, s_on_trial_created, create))
        self->creating++;
    else {
        free (create->worker_key);
        free (create);
        trial->status = RFK_TRIAL_ERRORED;
        s_set_string (&trial->error, "admin could not be asked to record the trial");
        s_search_observe (self, trial);
        worker->trial = NULL;
        rfk_msg_t *error = rfk_msg_new_error (&rfk_train_family, 0, RFK_CODE_UNAVAILABLE,
                                              "admin is not reachable; say Ready again later");
        s_answer (self, worker, &error);
    }
    rfk_msg_destroy (&msg);
}

/* The worker record of a peer, made on its first message. */
static s_worker_t *
s_worker_get (self_t *self, zframe_t *peer)
{
    char *key = zframe_strhex (peer);
    if (!key)
        return NULL;
    s_worker_t *worker = (s_worker_t *)zhashx_lookup (self->workers, key);
    if (worker) {
        free (key);
        return worker;
    }
    worker = (s_worker_t *)calloc (1, sizeof (s_worker_t));
    if (!worker) {
        free (key);
        return NULL;
    }
    worker->key = key;
    worker->peer = zframe_dup (peer);
    zhashx_insert (self->workers, key, worker);
    return worker;
}

/* A repeated Ready/Result (the trainer's client re-sent it): answer it the
   same way again, or wait for the answer in the making. True if it was one. */
static bool
s_repeated (self_t *self, s_worker_t *worker, uint64_t correlation)
{
    if (correlation && correlation == worker->asked)
        return true;
    if (correlation && correlation == worker->answered && worker->answer) {
        rfk_server_send (self->server, worker->peer, worker->answer);
        return true;
    }
    return false;
}

static int
s_handle_ready (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    (void)server;
    self_t *self = (self_t *)ctx;
    rfk_msg_t *msg = *msg_p;
    s_worker_t *worker = s_worker_get (self, peer);
    if (!worker)
        return -1;
    if (s_repeated (self, worker, msg->correlation))
        return 0;
    const char *worker_id = json_string_value (json_object_get (msg->body, "worker_id"));
    if (worker_id && *worker_id)
        s_set_string (&worker->worker_id, worker_id);
    if (worker->trial && s_outstanding (worker->trial))
        s_trial_orphaned (self, worker->trial, "the trainer said Ready again during the trial");
    worker->trial = NULL;
    worker->asked = msg->correlation;
    s_answer_next (self, worker);
    return 0;
}

/* The trial numbered no, or NULL. */
static s_trial_t *
s_trial_find (self_t *self, json_int_t no)
{
    for (s_trial_t *trial = (s_trial_t *)zlistx_first (self->trials); trial;
         trial = (s_trial_t *)zlistx_next (self->trials))
        if ((json_int_t)trial->no == no)
            return trial;
    return NULL;
}

/* True when a trainer other than worker holds the trial. */
static bool
s_held_by_other (self_t *self, const s_trial_t *trial, const s_worker_t *worker)
{
    for (s_worker_t *other = (s_worker_t *)zhashx_first (self->workers); other;
         other = (s_worker_t *)zhashx_next (self->workers))
        if (other != worker && other->trial == trial)
            return true;
    return false;
}

/* A trial this advisor gave up on (its trainer was expired as silent, and
   the trial settled ERRORED) whose trainer was only slow: it reports in
   after all. The trial stays as settled (admin heard ERRORED already);
   the trainer is taken back and gets the next proposal. */
static s_trial_t *
s_late_trial (self_t *self, s_worker_t *worker, json_int_t trial_no)
{
    s_trial_t *trial = s_trial_find (self, trial_no);
    if (!trial || s_outstanding (trial) || s_held_by_other (self, trial, worker))
        return NULL;
    if (!worker->worker_id && trial->worker)
        s_set_string (&worker->worker_id, trial->worker);
    return trial;
}

static int
s_handle_result (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    self_t *self = (self_t *)ctx;
    rfk_msg_t *msg = *msg_p;
    s_worker_t *worker = s_worker_get (self, peer);
    if (!worker)
        return -1;
    if (s_repeated (self, worker, msg->correlation))
        return 0;
    s_trial_t *trial = worker->trial;
    rfk_result_t result;
    rfk_result_read (msg, &result);
    json_int_t trial_no = result.trial_no;
    if (!trial || trial->no != (uint32_t)trial_no) {
        s_trial_t *late = s_late_trial (self, worker, trial_no);
        if (!late) {
            rfk_log_warning (S_LOG,
                             "RFK-UNEXPECTED result for trial=%" JSON_INTEGER_FORMAT
                             " the trainer does not hold",
                             trial_no);
            return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_BAD_REQUEST,
                                          "a Result for a trial this trainer does not hold");
        }
        rfk_log_notice (S_LOG,
                        "late-result trial=%u id=%s worker=%s: the trial was settled %s (%s); "
                        "the trainer goes on",
                        late->no, late->id ? late->id : "-",
                        worker->worker_id ? worker->worker_id : worker->key,
                        rfk_trial_status_name (late->status), late->error ? late->error : "");
        worker->trial = NULL;
        worker->asked = msg->correlation;
        s_answer_next (self, worker);
        return 0;
    }
    const char *error = result.error;
    const char *params_path = result.params_path;
    double score = result.score;
    if (result.status == RFK_TRIAL_COMPLETED || result.status == RFK_TRIAL_PRUNED)
        trial->status = result.status;
    else
        trial->status = RFK_TRIAL_ERRORED;
    if (trial->status == RFK_TRIAL_PRUNED && !isfinite (score))
        score = trial->last_score;
    trial->score = trial->status == RFK_TRIAL_ERRORED ? NAN : score;
    s_set_string (&trial->error, error && *error ? error : NULL);
    s_set_string (&trial->params_path, params_path && *params_path ? params_path : NULL);
    rfk_log_info (S_LOG, "trial-result trial=%u id=%s status=%s score=%g%s%s", trial->no, trial->id,
                  rfk_trial_status_name (trial->status), trial->score,
                  trial->error ? " error=" : "", trial->error ? trial->error : "");
    s_search_observe (self, trial);
    worker->trial = NULL;
    worker->asked = msg->correlation;
    s_answer_next (self, worker);
    return 0;
}

static int
s_handle_progress (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    self_t *self = (self_t *)ctx;
    rfk_msg_t *msg = *msg_p;
    s_worker_t *worker = s_worker_get (self, peer);
    if (!worker)
        return -1;
    s_trial_t *trial = worker->trial;
    json_int_t trial_no = json_integer_value (json_object_get (msg->body, "trial_no"));
    if (!trial || trial->no != (uint32_t)trial_no || !s_outstanding (trial)) {
        s_trial_t *late = trial && trial->no == (uint32_t)trial_no
                              ? trial
                              : s_late_trial (self, worker, trial_no);
        if (!late)
            return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_BAD_REQUEST,
                                          "Progress for a trial this trainer does not hold");
        /* Settled already (its trainer was taken for gone): no use going on. */
        rfk_msg_t *prune = rfk_msg_new (&rfk_train_family, "Prune", msg->correlation);
        char reason[300];
        snprintf (reason, sizeof reason, "the advisor settled this trial already (%s: %s)",
                  rfk_trial_status_name (late->status), late->error ? late->error : "");
        json_object_set_new (prune->body, "reason", json_string (reason));
        int rc = rfk_server_send (server, peer, prune);
        rfk_msg_destroy (&prune);
        return rc;
    }
    bool prune = false;
    char reason[256] = "";
    if ((msg->correlation && msg->correlation == trial->progress_corr) || trial->progress_pruned)
        prune = trial->progress_pruned; /* a repeated report, or one already in flight */
    else {
        json_int_t step = json_integer_value (json_object_get (msg->body, "step"));
        double score = NAN;
        rfk_train_arg_number (json_object_get (msg->body, "score"), &score);
        trial->status = RFK_TRIAL_RUNNING;
        trial->steps++;
        trial->last_step = step;
        trial->last_score = score;
        if (self->early_stop)
            prune = s_search_prune (self, trial, step, score, reason, sizeof reason);
        trial->progress_corr = msg->correlation;
        trial->progress_pruned = prune;
        if (prune)
            rfk_log_info (S_LOG, "trial-pruned trial=%u id=%s reason=\"%s\"", trial->no, trial->id,
                          reason);
    }
    rfk_msg_t *answer =
        rfk_msg_new (&rfk_train_family, prune ? "Prune" : "Continue", msg->correlation);
    if (prune)
        json_object_set_new (answer->body, "reason",
                             json_string (*reason ? reason : "pruned by ASHA"));
    int rc = rfk_server_send (server, peer, answer);
    rfk_msg_destroy (&answer);
    return rc;
}

static const rfk_server_route_t s_routes[] = {
    {"Ready", s_handle_ready},
    {"Progress", s_handle_progress},
    {"Result", s_handle_result},
    {NULL, NULL},
};

/* A trainer went silent: the trial it held is ERRORED. */
static void
s_on_expired (rfk_server_t *server, zframe_t *peer, void *ctx)
{
    (void)server;
    self_t *self = (self_t *)ctx;
    char *key = zframe_strhex (peer);
    s_worker_t *worker = key ? (s_worker_t *)zhashx_lookup (self->workers, key) : NULL;
    if (worker) {
        rfk_log_warning (S_LOG, "trainer-silent worker=%s",
                         worker->worker_id ? worker->worker_id : key);
        if (worker->trial && worker->trial->id)
            s_trial_orphaned (self, worker->trial,
                              "the trainer went silent during the trial (heartbeat expired)");
        /* A trial still being created is settled when admin answers. */
        zhashx_delete (self->workers, key);
    }
    free (key);
    s_check_finished (self);
}

/* ---- configuration ------------------------------------------------------ */

/* Apply the sub job's settings: open the template, set the budget and the
   policies, bind `advice`. 0, or -1 with a reason in err. */
static int
s_configure (self_t *self, const char *model_path, const char *task, const json_t *budget,
             const json_t *train_args, const json_t *fixed_knobs, const char *bind, char *err,
             size_t errlen)
{
    if (!model_path || !*model_path) {
        snprintf (err, errlen, "no model_path: the advisor needs the template's knob table");
        return -1;
    }
    if (fixed_knobs && !json_is_object (fixed_knobs) && !json_is_null (fixed_knobs)) {
        snprintf (err, errlen, "fixed_knobs must be an object {knob: value}");
        return -1;
    }
    self->template = rfk_template_open (model_path, task, err, errlen);
    if (!self->template)
        return -1;
    const rafiki_model_api_t *api = rfk_template_api (self->template);

    /* The search space: the template's table, with the job's fixed knobs
       made FIXED at their (checked) values. */
    rafiki_knob_t *table = (rafiki_knob_t *)calloc (api->n_knobs + 1, sizeof (rafiki_knob_t));
    rafiki_knobs_t fixed = {NULL, 0};
    if (!table) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    memcpy (table, api->knobs, api->n_knobs * sizeof (rafiki_knob_t));
    int rc = 0;
    if (json_object_size (fixed_knobs) > 0) {
        const char *name;
        json_t *value;
        json_object_foreach ((json_t *)fixed_knobs, name, value)
        {
            size_t index = 0;
            while (index < api->n_knobs && !streq (api->knobs[index].name, name))
                index++;
            if (index == api->n_knobs || api->knobs[index].type == RAFIKI_KNOB_POLICY) {
                snprintf (err, errlen, "fixed knob %s: the template %s has no such %s", name,
                          api->name, index == api->n_knobs ? "knob" : "tunable knob");
                rc = -1;
                break;
            }
        }
        if (rc == 0)
            rc = rfk_knobs_from_json (api->knobs, api->n_knobs, fixed_knobs, false, &fixed, err,
                                      errlen);
        for (size_t index = 0; rc == 0 && index < fixed.n; index++) {
            if (!json_object_get (fixed_knobs, fixed.items[index].name))
                continue; /* the template's own FIXED and POLICY knobs */
            for (size_t knob = 0; knob < api->n_knobs; knob++)
                if (streq (table[knob].name, fixed.items[index].name)) {
                    table[knob].type = RAFIKI_KNOB_FIXED;
                    table[knob].value = fixed.items[index].value;
                }
        }
    }
    if (rc == 0) {
        self->space = rfk_space_new (table, api->n_knobs, err, errlen);
        rc = self->space ? 0 : -1;
    }
    rfk_knobs_free (&fixed); /* the space keeps copies */
    free (table);
    if (rc != 0)
        return -1;

    /* The tuner the job asks for (train arg `advisor`: auto, random, gp,
       tpe), as the original chooses: only fixed knobs -> one trial, else
       the GP. */
    rfk_tuner_kind_t asked = RFK_TUNER_AUTO;
    const char *advisor = json_string_value (rfk_train_arg (train_args, "advisor"));
    if (advisor && rfk_tuner_kind_parse (advisor, &asked, err, errlen) != 0)
        return -1;
    uint64_t seed = (uint64_t)zclock_time () ^ ((uint64_t)getpid () << 20);
    double number;
    if (rfk_train_arg_number (rfk_train_arg (train_args, "seed"), &number))
        seed = (uint64_t)number;
    self->tuner = rfk_tuner_new (rfk_tuner_kind_choose (self->space, asked), self->space, seed);
    if (!self->tuner) {
        snprintf (err, errlen, "cannot make a %s tuner", rfk_tuner_kind_name (asked));
        return -1;
    }

    /* The budget. A count or time of zero or less means "not set", as the
       original's -1. */
    json_t *limits = json_object ();
    const char *keys[] = {"MODEL_TRIAL_COUNT", "TIME_HOURS"};
    for (size_t index = 0; index < 2; index++) {
        json_t *value = json_is_object (budget) ? json_object_get (budget, keys[index]) : NULL;
        if (value && !(rfk_train_arg_number (value, &number) && number <= 0))
            json_object_set (limits, keys[index], value);
    }
    rc = rfk_budget_parse (limits, &self->budget, err, errlen);
    json_decref (limits);
    if (rc != 0)
        return -1;
    self->started_ms = zclock_mono ();
    self->time_deadline = self->budget.time_hours > 0
                              ? self->started_ms + (int64_t)(self->budget.time_hours * 3600000.0)
                              : -1;

    self->early_stop = rfk_space_has_policy (self->space, RAFIKI_POLICY_EARLY_STOP) &&
                       rfk_train_arg_flag (rfk_train_arg (train_args, "early_stop"), true);
    self->share_params = rfk_space_has_policy (self->space, RAFIKI_POLICY_SHARE_PARAMS) &&
                         rfk_train_arg_flag (rfk_train_arg (train_args, "share_params"), true);
    const char *source = json_string_value (rfk_train_arg (train_args, "params_source"));
    self->params_source =
        source && strcasecmp (source, "LATEST") == 0 ? RFK_PARAMS_LATEST : RFK_PARAMS_BEST;
    if (source && strcasecmp (source, "NONE") == 0)
        self->share_params = false;
    if (rfk_train_arg_number (rfk_train_arg (train_args, "asha_min_step"), &number) && number >= 1)
        self->asha_min_step = (int64_t)number;
    if (rfk_train_arg_number (rfk_train_arg (train_args, "asha_eta"), &number) && number >= 2)
        self->asha_eta = (int64_t)number;
    if (self->early_stop) {
        self->asha = rfk_asha_new ((double)self->asha_min_step, (double)self->asha_eta, 0);
        if (!self->asha) {
            snprintf (err, errlen, "cannot make the ASHA pruner");
            return -1;
        }
    }

    self->server = rfk_server_new (bind && *bind ? bind : "tcp://127.0.0.1:*", &rfk_train_family,
                                   s_routes, self, &self->bus);
    if (!self->server) {
        snprintf (err, errlen, "cannot bind %s", bind && *bind ? bind : "tcp://127.0.0.1:*");
        return -1;
    }
    rfk_server_set_expired (self->server, s_on_expired);
    zpoller_add (self->poller, rfk_server_sock (self->server));
    self->configured = true;
    rfk_log_info (S_LOG,
                  "configured sub-train-job=%s template=%s endpoint=%s tuner=%s trials=%" PRId64
                  " hours=%g early-stop=%s share-params=%s",
                  self->sub_train_job_id ? self->sub_train_job_id : "-", api->name,
                  rfk_server_endpoint (self->server),
                  rfk_tuner_kind_name (rfk_tuner_kind (self->tuner)), self->budget.max_trials,
                  self->budget.time_hours, self->early_stop ? "on" : "off",
                  self->share_params ? "on" : "off");
    return 0;
}

/* ---- the end ------------------------------------------------------------ */

/* Finish once the budget is spent, no trial is outstanding and every trainer
   heard Done. */
static void
s_check_finished (self_t *self)
{
    if (!self->configured || self->finished)
        return;
    const char *spent = s_budget_spent (self);
    if (!spent || s_outstanding_count (self) > 0)
        return;
    if (!self->done_reported && self->session) {
        rfk_msg_t *msg = rfk_msg_new (&rfk_service_family, "SubTrainJobDone", 0);
        if (self->sub_train_job_id)
            json_object_set_new (msg->body, "sub_train_job_id",
                                 json_string (self->sub_train_job_id));
        json_object_set_new (msg->body, "reason", json_string (spent));
        rfk_session_send (self->session, msg);
        rfk_msg_destroy (&msg);
    }
    self->done_reported = true;
    for (s_worker_t *worker = (s_worker_t *)zhashx_first (self->workers); worker;
         worker = (s_worker_t *)zhashx_next (self->workers)) {
        if (!worker->done && worker->asked)
            s_send_done (self, worker, spent);
        if (!worker->done)
            return; /* a trainer that has not asked yet will hear Done when it does */
    }
    rfk_log_info (S_LOG, "budget-spent reason=\"%s\" trials=%zu", spent,
                  zlistx_size (self->trials));
    s_report_final (self, RFK_SERVICE_STOPPED, spent);
    self->finished = true;
    self->finish_deadline = zclock_mono () + S_FINISH_WAIT_MS;
}

/* ---- the pipe and the loop ---------------------------------------------- */

static void
s_handle_pipe (self_t *self)
{
    char *command = rfk_role_command (self->pipe, &self->terminated);
    if (!command)
        return;
    if (streq (command, "ENDPOINT"))
        zstr_send (self->pipe, self->server ? rfk_server_endpoint (self->server) : "");
    else if (streq (command, "TUNER"))
        zstr_send (self->pipe,
                   self->tuner ? rfk_tuner_kind_name (rfk_tuner_kind (self->tuner)) : "");
    else if (streq (command, "TRIALS")) {
        json_t *trials = json_array ();
        for (s_trial_t *trial = (s_trial_t *)zlistx_first (self->trials); trial;
             trial = (s_trial_t *)zlistx_next (self->trials))
            json_array_append_new (trials, s_trial_json (trial));
        char *text = json_dumps (trials, JSON_COMPACT);
        zstr_send (self->pipe, text ? text : "[]");
        free (text);
        json_decref (trials);
    } else
        rfk_log_warning (S_LOG, "RFK-MALFORMED pipe-command=%s", command);
    free (command);
}

/* Runs until $TERM, the end of the budget or a fatal error (reason in err). */
static void
s_run (self_t *self)
{
    while (!self->terminated && !*self->err) {
        if (self->finished && (!self->session || rfk_session_pending (self->session) == 0 ||
                               zclock_mono () >= self->finish_deadline))
            break;
        rfk_deadline_t deadline;
        rfk_deadline_reset (&deadline);
        if (self->server)
            rfk_deadline_add (&deadline, rfk_server_deadline (self->server));
        if (self->session)
            rfk_deadline_add (&deadline, rfk_session_deadline (self->session));
        rfk_deadline_add (&deadline, self->finished ? self->finish_deadline : self->time_deadline);
        void *which = zpoller_wait (self->poller, rfk_deadline_timeout (&deadline));
        if (which == self->pipe)
            s_handle_pipe (self);
        else if (self->server && which == rfk_server_sock (self->server))
            rfk_server_recv (self->server);
        else if (self->session && which == rfk_session_sock (self->session))
            rfk_session_recv (self->session);
        else if (zpoller_terminated (self->poller))
            self->terminated = true;
        if (self->server)
            rfk_server_tick (self->server);
        if (self->session)
            rfk_session_tick (self->session);
        if (!*self->err)
            s_check_finished (self);
    }
}

/* Ends the actor: DONE, FAILED <reason> or nothing after $TERM. */
static void
s_end (self_t *self, const char *failure)
{
    if (failure)
        rfk_log_error (S_LOG, "failed reason=\"%s\"", failure);
    rfk_role_end (self->pipe, failure, !self->terminated);
}

void
rfk_advisor_direct_actor (zsock_t *pipe, void *args)
{
    /* The arguments are borrowed until we signal: set up first. */
    const rfk_advisor_args_t *direct = (const rfk_advisor_args_t *)args;
    self_t *self = s_self_new (pipe, NULL);
    if (self && !direct)
        snprintf (self->err, sizeof self->err, "no arguments");
    else if (self) {
        if (direct->bus)
            self->bus = *direct->bus;
        if (direct->sub_train_job_id)
            self->sub_train_job_id = strdup (direct->sub_train_job_id);
        s_configure (self, direct->model_path, direct->task, direct->budget, direct->train_args,
                     direct->fixed_knobs, direct->bind, self->err, sizeof self->err);
    }
    if (!rfk_role_ready (pipe, self))
        return;
    if (!*self->err)
        s_run (self);
    s_end (self, *self->err ? self->err : NULL);
    /* The direct form stays for TRIALS until $TERM. */
    while (!self->terminated)
        s_handle_pipe (self);
    s_self_destroy (&self);
}

/* ---- the role form: the session with admin ------------------------------ */

/* admin's ServiceConfig: bind `advice` and report RUNNING with its endpoint. */
static int
s_on_config (rfk_session_t *session, const rfk_service_config_t *config, void *ctx, char *err,
             size_t errlen)
{
    self_t *self = (self_t *)ctx;
    if (config->sub_train_job_id)
        self->sub_train_job_id = strdup (config->sub_train_job_id);
    if (s_configure (self, config->model_path, config->task, config->budget, config->train_args,
                     json_object_get (config->config, "fixed_knobs"), config->bind_endpoints[0],
                     err, errlen) != 0)
        return -1;
    const char *endpoints[] = {rfk_server_endpoint (self->server), NULL};
    char message[300];
    snprintf (message, sizeof message, "advice=%s", endpoints[0]);
    rfk_session_running (session, message, endpoints);
    return 0;
}

/* admin's Stop: every outstanding trial ends "stopped", and so do we. */
static void
s_on_stop (rfk_session_t *session, const char *reason, void *ctx)
{
    self_t *self = (self_t *)ctx;
    for (s_trial_t *trial = (s_trial_t *)zlistx_first (self->trials); trial;
         trial = (s_trial_t *)zlistx_next (self->trials))
        if (s_outstanding (trial))
            s_set_string (&trial->error, "stopped");
    rfk_session_final (session, RFK_SERVICE_STOPPED, reason);
    self->finished = true;
    self->finish_deadline = zclock_mono () + S_FINISH_WAIT_MS;
}

/* The session failed (Hello refused, bad ServiceConfig): say why and go. */
static void
s_on_failed (rfk_session_t *session, const char *reason, void *ctx)
{
    (void)session;
    self_t *self = (self_t *)ctx;
    if (!*self->err)
        snprintf (self->err, sizeof self->err, "%s", reason);
}

/* Says Hello to admin; the loop polls the session from now on. */
static void
s_start_session (self_t *self)
{
    rfk_session_args_t args = {.name = S_LOG,
                               .role = self->role,
                               .bus = &self->bus,
                               .on_config = s_on_config,
                               .on_stop = s_on_stop,
                               .on_failed = s_on_failed,
                               .ctx = self};
    self->session = rfk_session_new (&args, self->err, sizeof self->err);
    if (self->session)
        zpoller_add (self->poller, rfk_session_sock (self->session));
}

void
rfk_advisor_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (const rfk_role_args_t *)args);
    if (self)
        s_start_session (self);
    if (!rfk_role_ready (pipe, self))
        return;
    if (!*self->err)
        s_run (self);
    if (*self->err)
        rfk_log_error (S_LOG, "failed reason=\"%s\"", self->err);
    rfk_session_leave (self->session, pipe, *self->err ? self->err : NULL, !self->terminated);
    s_self_destroy (&self);
}
