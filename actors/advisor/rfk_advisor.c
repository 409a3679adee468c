/*  rfk_advisor.c: the advisor actor (see rfk_advisor.h).

    One actor, one loop over its pipe, its ROUTER `advice` (an rfk_server) and,
    in the role form, its session with admin's `service` socket (rfk_session:
    Hello, ServiceConfig, Stop, StatusReport).
    Takes from trainers: Ready, Progress, Result. Sends them: Proposal, Done,
    Continue, Prune. Sends admin: Hello, StatusReport, TrialCreate,
    TrialFinished (for the trial of a trainer that went silent),
    SubTrainJobDone. Takes from admin: ServiceConfig, TrialCreated, Ack,
    Stop.

    The search is rfk_search's (the tuning library, actors/advisor/tune,
    behind the template's knob table, the budget and the policies): a
    tuner's proposal, where its parameters come from, every proposal ended
    observed or failed (s_search_observe, so the GP's pending points
    settle), ASHA over the progress reports.

    A ServiceConfig with past trials (the advisor started again) is taken
    up by rfk_advisor_resume.c before `advice` is bound; the handlers below
    then accept Progress and Result on a resumed open trial from the
    trainer that reports it (s_claim_resumed) and hand a resumed PENDING
    trial to the next Ready (s_offer_resumed).
*/
#include "rfk_advisor.h"
#include "rfk_advisor_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rfk_bodies.h"
#include "rfk_log.h"
#include "rfk_role.h"
#include "rfk_search.h"
#include "rfk_train_args.h"

#define S_LOG "advisor"
#define S_FINISH_WAIT_MS 5000 /* how long the last reports may wait for admin's Ack */

#define S_CREATE_TIMEOUT_MS 2000 /* a TrialCreate's wait for admin, per try */
#define S_CREATE_RETRIES 1       /* and its tries after the first */
#define S_TRIAL_TIMEOUT_S 3600   /* a trial's longest run when admin names none */

/* One trainer connected to the ROUTER. */
typedef struct {
    char *key;                  /* routing id in hex */
    zframe_t *peer;             /* routing id */
    char *worker_id;            /* as the trainer named itself in Ready */
    rfk_advisor_trial_t *trial; /* the trial it holds, or NULL */
    uint64_t asked;             /* correlation of the Ready/Result being answered, 0 if none */
    uint64_t answered;          /* correlation of the last Ready/Result answered */
    rfk_msg_t *answer;          /* that answer, re-sent to a repeated request */
    bool done;                  /* told Done */
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
    rfk_zap_t *zap;              /* CURVE: `advice` admits its trainers' key only, or NULL */
    char *sub_train_job_id;      /* the sub train job, or NULL */
    rfk_search_t *search;        /* the tuner, budget and policies; NULL until configured */
    zhashx_t *workers;           /* key -> s_worker_t */
    zlistx_t *trials;            /* rfk_advisor_trial_t, in number order */
    uint32_t next_no;            /* the next trial number */
    int creating;                /* TrialCreate requests without an answer */
    bool done_reported;          /* SubTrainJobDone sent */
    char err[512];               /* why the actor cannot go on; "" while it can */
} self_t;

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
                     .finish_deadline = -1};
    rfk_bus_opts_from_config (&self->bus, role ? role->config : NULL);
    if (!self->workers || !self->trials || !self->poller)
        s_self_destroy (&self);
    else {
        zhashx_set_destructor (self->workers, s_worker_destroy);
        zlistx_set_destructor (self->trials, rfk_advisor_trial_destroy);
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
    rfk_zap_destroy (&self->zap);
    rfk_session_destroy (&self->session);
    zpoller_destroy (&self->poller);
    zhashx_destroy (&self->workers);
    zlistx_destroy (&self->trials);
    rfk_search_destroy (&self->search);
    free (self->sub_train_job_id);
    free (self);
    *self_p = NULL;
}

/* ---- the search --------------------------------------------------------- */

/* A trial ended (or was settled for its trainer): the tuner learns its
   score, or that it gave none. Once per trial. A pruned trial's last score
   is a real, if pessimistic, measurement. */
static void
s_search_observe (self_t *self, rfk_advisor_trial_t *trial)
{
    if (trial->observed)
        return;
    trial->observed = true;
    double score = trial->status == RFK_TRIAL_COMPLETED ? trial->score
                   : trial->status == RFK_TRIAL_PRUNED  ? trial->score
                                                        : NAN;
    rfk_search_observe (self->search, trial->no, trial->knobs, score);
}

/* ---- trials and budget -------------------------------------------------- */

static bool
s_outstanding (const rfk_advisor_trial_t *trial)
{
    return trial->status == RFK_TRIAL_PENDING || trial->status == RFK_TRIAL_RUNNING;
}

static size_t
s_outstanding_count (self_t *self)
{
    size_t count = (size_t)self->creating;
    for (rfk_advisor_trial_t *trial = (rfk_advisor_trial_t *)zlistx_first (self->trials); trial;
         trial = (rfk_advisor_trial_t *)zlistx_next (self->trials))
        if (s_outstanding (trial))
            count++;
    return count;
}

/* Why no more trials may be proposed, or NULL while the budget lasts. */
static const char *
s_budget_spent (self_t *self)
{
    return self->search ? rfk_search_spent (self->search, (int64_t)self->next_no - 1) : NULL;
}

/* Where a new trial's parameters come from: the best or latest COMPLETED
   trial with saved parameters. */
static const rfk_advisor_trial_t *
s_params_from (self_t *self)
{
    const rfk_advisor_trial_t *best = NULL, *latest = NULL;
    for (rfk_advisor_trial_t *trial = (rfk_advisor_trial_t *)zlistx_first (self->trials); trial;
         trial = (rfk_advisor_trial_t *)zlistx_next (self->trials)) {
        if (trial->status != RFK_TRIAL_COMPLETED || !trial->params_path)
            continue;
        if (!best || trial->score > best->score)
            best = trial;
        latest = trial;
    }
    return rfk_search_params_source (self->search) == RFK_PARAMS_LATEST ? latest : best;
}

static rfk_advisor_trial_t *
s_trial_new (self_t *self)
{
    rfk_advisor_trial_t *trial = (rfk_advisor_trial_t *)calloc (1, sizeof (rfk_advisor_trial_t));
    if (!trial)
        return NULL;
    trial->policies = json_array ();
    rfk_params_source_t source = RFK_PARAMS_NONE;
    if (trial->policies)
        trial->knobs = rfk_search_next (self->search, (int64_t)self->next_no - 1,
                                        s_params_from (self) != NULL, trial->policies, &source);
    if (!trial->knobs) {
        void *item = trial;
        rfk_advisor_trial_destroy (&item);
        return NULL;
    }
    trial->no = self->next_no++;
    trial->status = RFK_TRIAL_PENDING;
    trial->score = NAN;
    trial->last_score = NAN;
    trial->params_source = RFK_PARAMS_NONE;
    if (source != RFK_PARAMS_NONE) {
        const rfk_advisor_trial_t *from = s_params_from (self);
        if (from) {
            trial->params_source = source;
            trial->shared_params = strdup (from->params_path);
        }
    }
    zlistx_add_end (self->trials, trial);
    return trial;
}

static json_t *
s_trial_json (const rfk_advisor_trial_t *trial)
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
s_report_trial_errored (self_t *self, rfk_advisor_trial_t *trial)
{
    if (!self->session || !trial->id)
        return;
    rfk_msg_t *msg = rfk_msg_new (&rfk_service_family, "TrialFinished", 0);
    json_object_set_new (msg->body, "trial_id", json_string (trial->id));
    json_object_set_new (msg->body, "status",
                         json_string (rfk_trial_status_name (RFK_TRIAL_ERRORED)));
    json_object_set_new (msg->body, "error", json_string (trial->error ? trial->error : ""));
    rfk_session_send_kept (self->session, msg); //  admin may be away (rfk_session.h)
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
s_send_proposal (self_t *self, s_worker_t *worker, rfk_advisor_trial_t *trial)
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
s_trial_orphaned (self_t *self, rfk_advisor_trial_t *trial, const char *why)
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
    rfk_advisor_trial_t *trial;
    char *worker_key;
} s_create_t;

/* Whether admin's answer says it (or its store) is away for now, or it
   restarted and does not know us yet. */
static bool
s_admin_away (const rfk_msg_t *reply)
{
    const char *code = rfk_msg_is (reply, "Error")
                           ? json_string_value (json_object_get (reply->body, "code"))
                           : NULL;
    //  UNAUTHORIZED: a restarted admin that has not had our Hello yet.
    return code && (rfk_code_from_name (code) == RFK_CODE_TIMEOUT ||
                    rfk_code_from_name (code) == RFK_CODE_UNAVAILABLE ||
                    rfk_code_from_name (code) == RFK_CODE_UNAUTHORIZED);
}

/*  admin could not record the trial now (it restarts, or its store does):
    the trial keeps its number and knobs and waits, PENDING with no id and
    no trainer, for the next Ready; the trainer is told to say Ready again
    in a while. No budget is spent on it and no trial number is skipped. */
static void
s_trial_unplace (self_t *self, rfk_advisor_trial_t *trial, s_worker_t *worker)
{
    rfk_log_info (S_LOG, "trial-create-waits trial=%u reason=\"admin is away\"", trial->no);
    free (trial->worker);
    trial->worker = NULL;
    if (worker && worker->trial == trial) {
        worker->trial = NULL;
        if (worker->asked) {
            rfk_msg_t *error = rfk_msg_new_error (&rfk_train_family, 0, RFK_CODE_UNAVAILABLE,
                                                  "admin could not record the trial now; "
                                                  "say Ready again later");
            json_object_set_new (error->body, "retry_after_s", json_integer (1));
            s_answer (self, worker, &error);
        }
    }
}

/* A trial admin could not record yet, waiting for a trainer; or NULL. */
static rfk_advisor_trial_t *
s_trial_unplaced (self_t *self)
{
    for (rfk_advisor_trial_t *trial = (rfk_advisor_trial_t *)zlistx_first (self->trials); trial;
         trial = (rfk_advisor_trial_t *)zlistx_next (self->trials))
        if (trial->status == RFK_TRIAL_PENDING && !trial->id && !trial->worker)
            return trial;
    return NULL;
}

static void
s_on_trial_created (rfk_client_t *client, uint64_t correlation, rfk_msg_t **reply_p, void *arg)
{
    (void)client;
    (void)correlation;
    s_create_t *create = (s_create_t *)arg;
    self_t *self = create->self;
    rfk_advisor_trial_t *trial = create->trial;
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
    } else if (s_admin_away (reply)) {
        s_trial_unplace (self, trial, worker);
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

/* A resumed trial whose proposal was lost with the earlier process (admin
   has it PENDING, nobody started it) goes to this trainer as it is: same
   number, id, knobs and policies; parameters from the trial they would
   come from now. */
static void
s_offer_resumed (self_t *self, s_worker_t *worker, rfk_advisor_trial_t *trial)
{
    rfk_advisor_resume_claim (trial, worker->worker_id ? worker->worker_id : worker->key);
    worker->trial = trial;
    const rfk_advisor_trial_t *from = s_params_from (self);
    bool shares = false;
    for (size_t index = 0; index < json_array_size (trial->policies); index++) {
        const char *policy = json_string_value (json_array_get (trial->policies, index));
        shares = shares || (policy && streq (policy, "SHARE_PARAMS"));
    }
    if (shares && from && !trial->shared_params) {
        trial->params_source = rfk_search_params_source (self->search);
        trial->shared_params = strdup (from->params_path);
    }
    s_send_proposal (self, worker, trial);
}

/* Answer a Ready or a Result with the next proposal or Done. */
static void
s_answer_next (self_t *self, s_worker_t *worker)
{
    rfk_advisor_trial_t *resumed = rfk_advisor_resume_unplaced (self->trials);
    if (resumed) {
        s_offer_resumed (self, worker, resumed);
        return;
    }
    rfk_advisor_trial_t *trial = s_trial_unplaced (self);
    const char *spent = trial ? NULL : s_budget_spent (self);
    if (spent) {
        s_send_done (self, worker, spent);
        s_check_finished (self);
        return;
    }
    if (!trial)
        trial = s_trial_new (self);
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
    //  Short tries: a trainer waits for this answer, and must hear "later"
    //  from us before its own request to us times out.
    if (rfk_client_send_with (rfk_session_client (self->session), msg, S_CREATE_TIMEOUT_MS,
                              S_CREATE_RETRIES, s_on_trial_created, create))
        self->creating++;
    else {
        free (create->worker_key);
        free (create);
        s_trial_unplace (self, trial, worker);
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
    /* A trial an earlier process of ours gave this trainer: it started
       again too, and the trial went with its old process. */
    rfk_advisor_trial_t *lost;
    while ((lost = rfk_advisor_resume_of_worker (self->trials, worker->worker_id)))
        s_trial_orphaned (self, lost,
                          "the trainer started again while the advisor was away; the trial "
                          "went with it");
    worker->trial = NULL;
    worker->asked = msg->correlation;
    s_answer_next (self, worker);
    return 0;
}

/* The trial numbered no, or NULL. */
static rfk_advisor_trial_t *
s_trial_find (self_t *self, json_int_t no)
{
    for (rfk_advisor_trial_t *trial = (rfk_advisor_trial_t *)zlistx_first (self->trials); trial;
         trial = (rfk_advisor_trial_t *)zlistx_next (self->trials))
        if ((json_int_t)trial->no == no)
            return trial;
    return NULL;
}

/* True when a trainer other than worker holds the trial. */
static bool
s_held_by_other (self_t *self, const rfk_advisor_trial_t *trial, const s_worker_t *worker)
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
static rfk_advisor_trial_t *
s_late_trial (self_t *self, s_worker_t *worker, json_int_t trial_no)
{
    rfk_advisor_trial_t *trial = s_trial_find (self, trial_no);
    if (!trial || s_outstanding (trial) || s_held_by_other (self, trial, worker))
        return NULL;
    if (!worker->worker_id && trial->worker)
        s_set_string (&worker->worker_id, trial->worker);
    return trial;
}

/*  A Progress or Result on trial no from a trainer that does not hold it
    here: if an earlier process of ours proposed it and it is still open,
    the trainer (reconnected to this process) holds it; the trial is its
    own from now on. NULL when it is not such a trial. */
static rfk_advisor_trial_t *
s_claim_resumed (self_t *self, s_worker_t *worker, json_int_t no)
{
    if (no <= 0 || no > UINT32_MAX)
        return NULL;
    rfk_advisor_trial_t *trial = rfk_advisor_resume_unclaimed (self->trials, (uint32_t)no);
    if (!trial || s_held_by_other (self, trial, worker))
        return NULL;
    if (worker->trial && worker->trial != trial && s_outstanding (worker->trial))
        return NULL; /* it holds another open trial here: not its to claim */
    if (!worker->worker_id && trial->worker)
        s_set_string (&worker->worker_id, trial->worker);
    rfk_advisor_resume_claim (trial, worker->worker_id ? worker->worker_id : worker->key);
    worker->trial = trial;
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
    rfk_advisor_trial_t *trial = worker->trial;
    rfk_result_t result;
    rfk_result_read (msg, &result);
    json_int_t trial_no = result.trial_no;
    if (!trial || trial->no != (uint32_t)trial_no) {
        rfk_advisor_trial_t *resumed = s_claim_resumed (self, worker, trial_no);
        trial = resumed ? resumed : trial;
    }
    if (!trial || trial->no != (uint32_t)trial_no) {
        rfk_advisor_trial_t *late = s_late_trial (self, worker, trial_no);
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
    rfk_advisor_trial_t *trial = worker->trial;
    json_int_t trial_no = json_integer_value (json_object_get (msg->body, "trial_no"));
    if (!trial || trial->no != (uint32_t)trial_no) {
        rfk_advisor_trial_t *resumed = s_claim_resumed (self, worker, trial_no);
        trial = resumed ? resumed : trial;
    }
    if (!trial || trial->no != (uint32_t)trial_no || !s_outstanding (trial)) {
        rfk_advisor_trial_t *late = trial && trial->no == (uint32_t)trial_no
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
        prune = rfk_search_prune (self->search, trial->no, step, score, reason, sizeof reason);
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

/* What a configuration brings besides the search's settings: the trials
   of an earlier process of this advisor to resume. */
typedef struct {
    const json_t *past_trials; /* ServiceConfig's past_trials, or NULL */
    uint32_t last_trial_no;    /* the highest trial number in use */
    double elapsed_s;          /* the sub job's age (NAN: unknown) */
    int64_t claim_ms;          /* how long a resumed open trial waits for its trainer */
} s_resume_t;

/* Apply the sub job's settings: the search (template, budget, policies),
   the trials to resume, then bind `advice`. 0, or -1 with a reason in err. */
static int
s_configure (self_t *self, const char *model, const json_t *knobs, const json_t *budget,
             const json_t *train_args, const json_t *fixed_knobs, const s_resume_t *resume,
             const char *bind, char *err, size_t errlen)
{
    double share_ratio =
        self->role && self->role->config
            ? rfk_config_float (self->role->config, "advisor", "share_params_ratio")
            : 0.5;
    self->search =
        rfk_search_new (model, knobs, budget, train_args, fixed_knobs, share_ratio, err, errlen);
    if (!self->search)
        return -1;
    rfk_advisor_resume (self->trials, self->search, resume->past_trials, resume->last_trial_no,
                        resume->elapsed_s, resume->claim_ms, &self->next_no);
    if (!bind || !*bind)
        bind = "tcp://127.0.0.1:*";
    /*  With the keys admin sent: serve with the sub job's keypair and admit
        only it, which its trainers alone were given. */
    rfk_bus_opts_t bus = self->bus;
    if (rfk_curve_group_server (&bus, self->role ? self->role->curve : NULL, "advisor", false,
                                &self->zap) != 0) {
        snprintf (err, errlen, "the bus keys from the launcher are malformed");
        return -1;
    }
    self->server = rfk_server_new (bind, &rfk_train_family, s_routes, self, &bus);
    explicit_bzero (bus.curve_secret, sizeof bus.curve_secret);
    if (!self->server) {
        snprintf (err, errlen, "cannot bind %s", bind);
        return -1;
    }
    rfk_server_set_expired (self->server, s_on_expired);
    zpoller_add (self->poller, rfk_server_sock (self->server));
    self->configured = true;
    char search[300];
    rfk_log_info (S_LOG, "configured sub-train-job=%s model=%s endpoint=%s %s",
                  self->sub_train_job_id ? self->sub_train_job_id : "-",
                  rfk_search_model (self->search), rfk_server_endpoint (self->server),
                  rfk_search_describe (self->search, search, sizeof search));
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
        rfk_session_send_kept (self->session, msg); //  reaches an admin that was away
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
        zstr_send (self->pipe, self->search ? rfk_search_tuner_name (self->search) : "");
    else if (streq (command, "TRIALS")) {
        json_t *trials = json_array ();
        for (rfk_advisor_trial_t *trial = (rfk_advisor_trial_t *)zlistx_first (self->trials); trial;
             trial = (rfk_advisor_trial_t *)zlistx_next (self->trials))
            json_array_append_new (trials, s_trial_json (trial));
        char *text = json_dumps (trials, JSON_COMPACT);
        zstr_send (self->pipe, text ? text : "[]");
        free (text);
        json_decref (trials);
    } else
        rfk_log_warning (S_LOG, "RFK-MALFORMED pipe-command=%s", command);
    free (command);
}

/* Resumed trials whose trainer never reported on them to this process
   within a trial's longest run: they ended with it, unheard. */
static void
s_resume_expire (self_t *self)
{
    if (self->finished)
        return;
    rfk_advisor_trial_t *trial;
    int64_t now = zclock_mono ();
    while ((trial = rfk_advisor_resume_expired (self->trials, now)))
        s_trial_orphaned (self, trial,
                          "its trainer did not report on it after the advisor started again");
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
        if (self->finished)
            rfk_deadline_add (&deadline, self->finish_deadline);
        else if (self->search) {
            rfk_deadline_add (&deadline, rfk_search_deadline (self->search));
            rfk_deadline_add (&deadline, rfk_advisor_resume_deadline (self->trials));
        }
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
        s_resume_expire (self);
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

/* How long a resumed open trial waits for its trainer: a trial's longest
   run (trial_timeout_s, admin's; -1: the default), then its Result's tries
   on the bus and a trainer's heartbeat. */
static int64_t
s_claim_ms (self_t *self, json_int_t trial_timeout_s)
{
    int64_t run_ms = 1000 * (trial_timeout_s > 0 ? trial_timeout_s : S_TRIAL_TIMEOUT_S);
    return run_ms + (int64_t)self->bus.request_timeout_ms * (self->bus.request_retries + 1) +
           self->bus.heartbeat_timeout_ms;
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
        s_resume_t resume = {.past_trials = direct->past_trials,
                             .last_trial_no = direct->last_trial_no,
                             .elapsed_s = direct->elapsed_s > 0 ? direct->elapsed_s : NAN,
                             .claim_ms =
                                 direct->claim_ms > 0 ? direct->claim_ms : s_claim_ms (self, -1)};
        s_configure (self, direct->model_name, direct->knobs, direct->budget, direct->train_args,
                     direct->fixed_knobs, &resume, direct->bind, self->err, sizeof self->err);
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
    s_resume_t resume = {.past_trials = config->past_trials,
                         .last_trial_no = config->last_trial_no,
                         .elapsed_s = config->elapsed_s,
                         .claim_ms = s_claim_ms (self, json_integer_value (json_object_get (
                                                           config->config, "trial_timeout_s")))};
    if (s_configure (self, config->model_name, config->knobs, config->budget, config->train_args,
                     json_object_get (config->config, "fixed_knobs"), &resume,
                     config->bind_endpoints[0], err, errlen) != 0)
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
    for (rfk_advisor_trial_t *trial = (rfk_advisor_trial_t *)zlistx_first (self->trials); trial;
         trial = (rfk_advisor_trial_t *)zlistx_next (self->trials))
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
