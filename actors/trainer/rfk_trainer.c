/*  rfk_trainer.c: the trainer actor (see rfk_trainer.h).

    One actor, one loop over its pipe, its DEALER to the advisor, its
    session with admin (role form, rfk_session) and the running trial's
    descriptor, each registered once in a poll set (rfk_poll).
    Sends the advisor: Ready, Progress, Result; takes: Proposal, Done,
    Continue, Prune. Sends admin: Hello, StatusReport, TrialStarted,
    TrialLog, TrialMetrics, TrialPlot, TrialFinished; takes: ServiceConfig,
    Ack, Stop.

    Progress is relayed without waiting: the trial's progress callback must
    answer at once, so it sends Progress to the advisor and answers
    "continue"; when the advisor's Prune arrives, the trial is pruned at its
    next progress report.
*/
#include "rfk_trainer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rfk_bodies.h"
#include "rfk_log.h"
#include "rfk_role.h"
#include "rfk_runner.h"

#define S_LOG "trainer"
#define S_FLUSH_MS 3000                      /* how long the last reports wait for their Acks */
#define S_SHARED_MAX (1024u * 1024u * 1024u) /* largest shared parameters file read */

typedef struct {
    zsock_t *pipe;               /* the actor's pipe */
    bool terminated;             /* leave the loop */
    bool stopping;               /* $TERM or Stop: stop the trial, then leave */
    bool finished;               /* Done or stopped: the last reports are out */
    char *failure;               /* why the actor cannot go on, or NULL */
    const rfk_role_args_t *role; /* role form: rafikid's args; NULL in the direct form */
    rfk_bus_opts_t bus;          /* bus options */
    rfk_poll_t *poll;            /* the pipe, the advisor, the session, the trial */
    rfk_session_t *session;      /* the conversation with admin; NULL in the direct form */
    rfk_client_t *advisor;       /* DEALER to the advisor's `advice`; NULL until configured */
    char *template_path;         /* the template's file: only the trial's process opens it */
    char *model_name;            /* the model's name from ServiceConfig, for the log; or NULL */
    char *task;                  /* the task the template must have, or NULL */
    char *train_path;            /* train dataset */
    char *val_path;              /* validation dataset */
    char *params_dir;            /* where parameters go */
    char *worker_id;             /* how we name ourselves */
    json_t *train_args;          /* the job's train args */
    rafiki_arg_t *args;          /* the same as strings for the template */
    size_t n_args;               /* how many */
    double timeout_s;            /* trial limits */
    double cpu_s;
    size_t memory_mb;
    bool sandboxed;         /* trials run in the sandbox below */
    bool confine;           /* no sandbox, not off: trials confine themselves (containers) */
    rfk_sandbox_spec_t box; /* its uid, gid and limits (the runner adds the paths) */
    char *trial_dir;        /* the trial in hand's folder in the sandbox, or NULL */
    /* the trial in hand */
    rfk_runner_trial_t *trial; /* running, or NULL */
    uint32_t trial_no;         /* its number */
    char *trial_id;            /* its id */
    char *params_path;         /* where its parameters go */
    char *knobs_json;          /* its proposal's knobs, as JSON text for the trial's process */
    void *shared;              /* shared parameters it starts from, or NULL */
    size_t shared_size;
    bool prune_asked; /* the advisor said Prune */
    int64_t ready_at; /* when to say Ready again (the advisor said later), 0: not */
    bool refused;     /* the advisor refused our last Result; we said Ready again */
    /* counters for STATS and the log */
    int64_t trials, completed, errored, pruned, logs, metrics, plots, progress;
} self_t;

/* ---- setup -------------------------------------------------------------- */

/* The actor's state with the bus options of the role's configuration (the
   defaults without one); NULL when out of memory. */
static self_t *
s_self_new (zsock_t *pipe, const rfk_role_args_t *role)
{
    rfk_poll_t *poll = rfk_poll_new (pipe, NULL);
    self_t *self = poll ? (self_t *)calloc (1, sizeof (self_t)) : NULL;
    if (!self) {
        rfk_poll_destroy (&poll);
        return NULL;
    }
    *self = (self_t){.pipe = pipe, .role = role, .poll = poll};
    rfk_bus_opts_from_config (&self->bus, role ? role->config : NULL);
    return self;
}

static void
s_trial_clear (self_t *self)
{
    if (self->trial)
        rfk_poll_remove (self->poll, self->trial);
    rfk_runner_trial_destroy (&self->trial);
    free (self->trial_id);
    self->trial_id = NULL;
    free (self->params_path);
    self->params_path = NULL;
    free (self->trial_dir);
    self->trial_dir = NULL;
    free (self->knobs_json);
    self->knobs_json = NULL;
    free (self->shared);
    self->shared = NULL;
    self->shared_size = 0;
    self->prune_asked = false;
}

static void
s_args_free (self_t *self)
{
    for (size_t index = 0; index < self->n_args; index++) {
        free ((char *)self->args[index].name);
        free ((char *)self->args[index].value);
    }
    free (self->args);
    self->args = NULL;
    self->n_args = 0;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    s_trial_clear (self);
    rfk_poll_destroy (&self->poll);
    rfk_client_destroy (&self->advisor);
    rfk_session_destroy (&self->session);
    free (self->template_path);
    free (self->model_name);
    free (self->task);
    free (self->train_path);
    free (self->val_path);
    free (self->params_dir);
    free (self->worker_id);
    free (self->failure);
    json_decref (self->train_args);
    s_args_free (self);
    free (self);
    *self_p = NULL;
}

static char *
s_strdup (const char *text)
{
    return text ? strdup (text) : NULL;
}

/* Train args for the template: every member of the JSON object as text. */
static int
s_args_set (self_t *self, const json_t *train_args)
{
    json_decref (self->train_args);
    self->train_args = json_is_object (train_args) ? json_deep_copy (train_args) : json_object ();
    s_args_free (self);
    size_t size = json_object_size (self->train_args);
    self->args = (rafiki_arg_t *)calloc (size ? size : 1, sizeof (rafiki_arg_t));
    if (!self->args)
        return -1;
    const char *name;
    json_t *value;
    json_object_foreach (self->train_args, name, value)
    {
        char *text = json_is_string (value) ? strdup (json_string_value (value))
                                            : json_dumps (value, JSON_ENCODE_ANY | JSON_COMPACT);
        if (!text)
            continue;
        self->args[self->n_args].name = strdup (name);
        self->args[self->n_args].value = text;
        self->n_args++;
    }
    return 0;
}

/* ---- reports ------------------------------------------------------------ */

/* A report to admin (role form only). Takes *msg_p. */
static void
s_admin_send (self_t *self, rfk_msg_t **msg_p)
{
    if (self->session)
        rfk_session_send (self->session, *msg_p);
    rfk_msg_destroy (msg_p);
}

/* A message for admin about the current trial, or NULL without admin. */
static rfk_msg_t *
s_trial_msg (self_t *self, const char *type)
{
    if (!self->session || !self->trial_id)
        return NULL;
    rfk_msg_t *msg = rfk_msg_new (&rfk_service_family, type, 0);
    json_object_set_new (msg->body, "trial_id", json_string (self->trial_id));
    return msg;
}

static void
s_on_log (void *arg, const char *message)
{
    self_t *self = (self_t *)arg;
    self->logs++;
    rfk_msg_t *msg = s_trial_msg (self, "TrialLog");
    if (!msg)
        return;
    json_object_set_new (msg->body, "time", json_real ((double)zclock_time () / 1000.0));
    json_object_set_new (msg->body, "message", json_string (message ? message : ""));
    s_admin_send (self, &msg);
}

static void
s_on_metrics (void *arg, size_t n, const char *const *names, const double *values)
{
    self_t *self = (self_t *)arg;
    self->metrics++;
    rfk_msg_t *msg = s_trial_msg (self, "TrialMetrics");
    if (!msg)
        return;
    json_t *metrics = json_object ();
    for (size_t index = 0; index < n; index++)
        if (names[index] && isfinite (values[index]))
            json_object_set_new (metrics, names[index], json_real (values[index]));
    json_object_set_new (msg->body, "time", json_real ((double)zclock_time () / 1000.0));
    json_object_set_new (msg->body, "metrics", metrics);
    s_admin_send (self, &msg);
}

static void
s_on_plot (void *arg, const char *title, size_t n, const char *const *metrics, const char *x_metric)
{
    self_t *self = (self_t *)arg;
    self->plots++;
    rfk_msg_t *msg = s_trial_msg (self, "TrialPlot");
    if (!msg)
        return;
    json_t *names = json_array ();
    for (size_t index = 0; index < n; index++)
        if (metrics[index])
            json_array_append_new (names, json_string (metrics[index]));
    json_object_set_new (msg->body, "title", json_string (title ? title : ""));
    json_object_set_new (msg->body, "metrics", names);
    if (x_metric)
        json_object_set_new (msg->body, "x_axis", json_string (x_metric));
    s_admin_send (self, &msg);
}

static void
s_on_verdict (rfk_client_t *client, uint64_t correlation, rfk_msg_t **reply_p, void *arg)
{
    (void)client;
    (void)correlation;
    self_t *self = (self_t *)arg;
    rfk_msg_t *reply = *reply_p;
    if (rfk_msg_is (reply, "Prune") && self->trial) {
        const char *reason = json_string_value (json_object_get (reply->body, "reason"));
        rfk_log_info (S_LOG, "trial-prune-asked trial=%s reason=\"%s\"", self->trial_id,
                      reason ? reason : "");
        self->prune_asked = true;
    }
}

/* The trial reports progress: tell the advisor, answer with what it said so far. */
static bool
s_on_progress (void *arg, int64_t step, double score)
{
    self_t *self = (self_t *)arg;
    self->progress++;
    if (self->prune_asked)
        return true;
    rfk_msg_t *msg = rfk_msg_new (&rfk_train_family, "Progress", 0);
    json_object_set_new (msg->body, "trial_no", json_integer (self->trial_no));
    json_object_set_new (msg->body, "trial_id", json_string (self->trial_id));
    json_object_set_new (msg->body, "step", json_integer (step < 0 ? 0 : step));
    json_object_set_new (msg->body, "score", json_real (isfinite (score) ? score : 0));
    rfk_client_send (self->advisor, msg, s_on_verdict, self);
    rfk_msg_destroy (&msg);
    return false;
}

/* ---- the advisor's answers ---------------------------------------------- */

static void
s_on_next (rfk_client_t *client, uint64_t correlation, rfk_msg_t **reply_p, void *arg);

static void
s_ask_advisor (self_t *self, rfk_msg_t **msg_p)
{
    if (!rfk_client_send (self->advisor, *msg_p, s_on_next, self))
        rfk_log_failure (&self->failure, S_LOG, "cannot reach the advisor: %s",
                         rfk_client_error (self->advisor, NULL));
    rfk_msg_destroy (msg_p);
}

static void
s_send_ready (self_t *self)
{
    rfk_msg_t *msg = rfk_msg_new (&rfk_train_family, "Ready", 0);
    if (self->worker_id)
        json_object_set_new (msg->body, "worker_id", json_string (self->worker_id));
    s_ask_advisor (self, &msg);
}

/* The trial is over (or never started): tell admin and the advisor. */
static void
s_trial_ended (self_t *self, rfk_trial_status_t status, double score, const char *error)
{
    if (status == RFK_TRIAL_COMPLETED)
        self->completed++;
    else if (status == RFK_TRIAL_PRUNED)
        self->pruned++;
    else {
        status = RFK_TRIAL_ERRORED; /* anything else is a failure */
        self->errored++;
    }
    bool scored = status != RFK_TRIAL_ERRORED && isfinite (score);
    bool saved = status == RFK_TRIAL_COMPLETED && self->params_path;
    rfk_log_info (S_LOG, "trial-finished trial=%s status=%s score=%g%s%s", self->trial_id,
                  rfk_trial_status_name (status), scored ? score : NAN,
                  error && *error ? " error=" : "", error && *error ? error : "");
    rfk_msg_t *msg = s_trial_msg (self, "TrialFinished");
    if (msg) {
        json_object_set_new (msg->body, "status", json_string (rfk_trial_status_name (status)));
        if (scored)
            json_object_set_new (msg->body, "score", json_real (score));
        if (saved)
            json_object_set_new (msg->body, "params_path", json_string (self->params_path));
        if (error && *error)
            json_object_set_new (msg->body, "error", json_string (error));
        //  Kept until admin answers: a trial that ends while admin is away is
        //  reported to the admin that comes back (rfk_session_send_kept).
        rfk_session_send_kept (self->session, msg);
        rfk_msg_destroy (&msg);
    }
    if (!self->stopping) {
        rfk_msg_t *result =
            rfk_result_new (&(rfk_result_t){.trial_no = self->trial_no,
                                            .trial_id = self->trial_id,
                                            .status = status,
                                            .score = scored ? score : NAN,
                                            .error = error && *error ? error : NULL,
                                            .params_path = saved ? self->params_path : NULL},
                            0);
        if (result)
            s_ask_advisor (self, &result);
    }
    s_trial_clear (self);
}

/* A trial id safe to name a file with. */
static bool
s_safe_id (const char *id)
{
    if (!id || !*id || strlen (id) > 100 || id[0] == '.')
        return false;
    for (const char *c = id; *c; c++)
        if (!isalnum ((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
            return false;
    return true;
}

/* Read a shared parameters file; NULL (and a warning) when it cannot be. */
static void *
s_read_params (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    struct stat st;
    void *data = NULL;
    if (fstat (fileno (file), &st) == 0 && st.st_size > 0 && (size_t)st.st_size <= S_SHARED_MAX) {
        data = malloc ((size_t)st.st_size);
        if (data && fread (data, 1, (size_t)st.st_size, file) != (size_t)st.st_size) {
            free (data);
            data = NULL;
        }
        *size = (size_t)st.st_size;
    }
    fclose (file);
    return data;
}

/* Start the proposed trial in a child. */
static void
s_start_trial (self_t *self, const rfk_proposal_t *proposal)
{
    self->trials++;
    self->trial_no = proposal->trial_no;
    const char *id = proposal->trial_id;
    char fallback[64];
    snprintf (fallback, sizeof fallback, "trial-%u", self->trial_no);
    self->trial_id = strdup (id && *id ? id : fallback);
    char err[512] = "";
    rfk_msg_t *started = s_trial_msg (self, "TrialStarted");
    if (started) {
        json_object_set_new (started->body, "worker_id",
                             json_string (self->worker_id ? self->worker_id : ""));
        s_admin_send (self, &started);
    }
    //  The knobs go to the trial's process as the proposal's text: it
    //  checks them against its template's table, inside the sandbox (the
    //  trainer never opens the template: its constructors would run here).
    self->knobs_json = proposal->knobs
                           ? json_dumps (proposal->knobs, JSON_COMPACT | JSON_ENCODE_ANY)
                           : strdup ("null");
    if (!self->knobs_json) {
        s_trial_ended (self, RFK_TRIAL_ERRORED, NAN, "out of memory");
        return;
    }
    const char *shared_path = proposal->params_path;
    if (shared_path && *shared_path) {
        self->shared = s_read_params (shared_path, &self->shared_size);
        if (!self->shared) {
            rfk_log_warning (S_LOG, "shared-params-unreadable trial=%s path=%s", self->trial_id,
                             shared_path);
            self->shared_size = 0;
        }
    }
    if (s_safe_id (self->trial_id) && self->params_dir) {
        char path[1024];
        snprintf (path, sizeof path, "%s/%s.msgpack", self->params_dir, self->trial_id);
        self->params_path = strdup (path);
        snprintf (path, sizeof path, "%s/%s.trial", self->params_dir, self->trial_id);
        self->trial_dir = self->sandboxed ? strdup (path) : NULL;
    }
    rfk_trial_spec_t spec = {
        .knobs_json = self->knobs_json,
        .train_path = self->train_path,
        .val_path = self->val_path,
        .args = &(rafiki_args_t){self->args, self->n_args},
        .shared_params = self->shared,
        .shared_params_size = self->shared_size,
        .params_path = self->params_path,
        .timeout_s = self->timeout_s,
        .cpu_s = self->cpu_s,
        .memory_mb = self->memory_mb,
        /* A fresh process: a fork of this multithreaded one could inherit a
           lock another thread held (and hang on it). */
        .exec = true,
        .template_path = self->template_path,
        .task = self->task,
        .sandbox = self->sandboxed ? &self->box : NULL,
        .confine = self->confine,
        .work_dir = self->trial_dir,
    };
    rfk_trial_callbacks_t callbacks = {
        .arg = self,
        .on_log = s_on_log,
        .on_metrics = s_on_metrics,
        .on_plot = s_on_plot,
        .on_progress = s_on_progress,
    };
    self->trial = rfk_runner_trial_start (&spec, &callbacks, err, sizeof err);
    if (!self->trial) {
        s_trial_ended (self, RFK_TRIAL_ERRORED, NAN, err);
        return;
    }
    rfk_poll_add_fd (self->poll, rfk_runner_trial_fd (self->trial), self->trial);
    rfk_log_info (S_LOG, "trial-started trial=%s no=%u pid=%d", self->trial_id, self->trial_no,
                  rfk_runner_trial_pid (self->trial));
}

static void
s_finish (self_t *self, const char *why);

/* The trial's child said something or ended. */
static void
s_trial_step (self_t *self)
{
    if (!self->trial || rfk_runner_trial_step (self->trial) == 0)
        return;
    const rfk_trial_result_t *result = rfk_runner_trial_result (self->trial);
    s_trial_ended (self, result->status, result->score,
                   result->status == RFK_TRIAL_COMPLETED ? NULL : result->error);
    if (self->stopping)
        s_finish (self, "stopped");
}

/* We are done: report STOPPED; the loop ends once admin acknowledged. */
static void
s_finish (self_t *self, const char *why)
{
    if (self->finished)
        return;
    rfk_log_info (S_LOG,
                  "done reason=\"%s\" trials=%" PRId64 " completed=%" PRId64 " errored=%" PRId64
                  " pruned=%" PRId64,
                  why, self->trials, self->completed, self->errored, self->pruned);
    if (self->session)
        rfk_session_final (self->session, RFK_SERVICE_STOPPED, why);
    self->finished = true;
}

static void
s_on_next (rfk_client_t *client, uint64_t correlation, rfk_msg_t **reply_p, void *arg)
{
    (void)client;
    (void)correlation;
    self_t *self = (self_t *)arg;
    rfk_msg_t *reply = *reply_p;
    if (self->stopping || self->finished)
        return;
    rfk_proposal_t proposal;
    if (rfk_proposal_read (reply, &proposal) == 0) {
        self->refused = false;
        s_start_trial (self, &proposal);
    } else if (rfk_msg_is (reply, "Done")) {
        const char *reason = json_string_value (json_object_get (reply->body, "reason"));
        s_finish (self, reason ? reason : "the advisor said Done");
    } else {
        const char *message = json_string_value (json_object_get (reply->body, "message"));
        const char *code = json_string_value (json_object_get (reply->body, "code"));
        json_int_t later = json_integer_value (json_object_get (reply->body, "retry_after_s"));
        if (code && streq (code, "UNAVAILABLE") && later > 0) {
            /* admin could not record our next trial now (it or its store
               restarts): ask again in a while, within the orphan timeout. */
            rfk_log_info (S_LOG, "advisor-says-later retry_after_s=%lld", (long long)later);
            self->ready_at = zclock_mono () + 1000 * (later < 30 ? later : 30);
        } else if (code && streq (code, "BAD_REQUEST") && !self->trial && !self->refused) {
            /* The advisor does not know the trial we reported (it started
               again without it): it is recorded with admin all the same;
               ask for the next one. Once: a second refusal is a failure. */
            rfk_log_warning (S_LOG, "advisor-refused-result message=\"%s\": saying Ready again",
                             message ? message : "");
            self->refused = true;
            s_send_ready (self);
        } else if (code && (streq (code, "TIMEOUT") || streq (code, "UNAVAILABLE"))) {
            /* The advisor is gone (its budget spent and it ended, or it died). */
            rfk_log_warning (S_LOG, "advisor-silent code=%s message=\"%s\"", code,
                             message ? message : "");
            s_finish (self, "the advisor did not answer");
        } else
            rfk_log_failure (&self->failure, S_LOG, "the advisor answered %s: %s",
                             code ? code : reply->type, message ? message : "");
    }
}

/* ---- configuration ------------------------------------------------------ */

/* mkdir -p that tolerates another process making the same folders at the
   same time (trainers of one job start together): 0 when path is a folder
   at the end, -1 otherwise. */
static int
s_make_dirs (const char *path)
{
    char *copy = strdup (path);
    if (!copy)
        return -1;
    for (char *slash = strchr (copy + 1, '/'); slash; slash = strchr (slash + 1, '/')) {
        *slash = 0;
        if (mkdir (copy, 0755) != 0 && errno != EEXIST) {
            free (copy);
            return -1;
        }
        *slash = '/';
    }
    int rc = mkdir (copy, 0755) != 0 && errno != EEXIST ? -1 : 0;
    free (copy);
    struct stat st;
    return rc == 0 && stat (path, &st) == 0 && S_ISDIR (st.st_mode) ? 0 : -1;
}

/* The template's file must be there, a regular file (not a symbolic link,
   which the trial's process would refuse too): checked, never opened as a
   library here. Loading it, its task and knob table are the trial's
   process's business, inside the sandbox (a template that does not load
   ends each trial ERRORED with why). */
static int
s_template_check (const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat (path, &st) != 0) {
        snprintf (err, errlen, "cannot find the template %s: %s", path, strerror (errno));
        return -1;
    }
    if (S_ISLNK (st.st_mode) || !S_ISREG (st.st_mode)) {
        snprintf (err, errlen, "the template %s is %s", path,
                  S_ISLNK (st.st_mode) ? "a symbolic link (refused)" : "not a regular file");
        return -1;
    }
    return 0;
}

static int
s_configure (self_t *self, const char *model_path, const char *advisor_endpoint, char *err,
             size_t errlen)
{
    if (!model_path || !*model_path || !advisor_endpoint || !*advisor_endpoint ||
        !self->train_path || !self->val_path) {
        snprintf (err, errlen,
                  "the trainer needs a model path, dataset paths and the advisor "
                  "endpoint");
        return -1;
    }
    if (s_template_check (model_path, err, errlen) != 0)
        return -1;
    self->template_path = strdup (model_path);
    if (!self->template_path) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    if (self->params_dir && s_make_dirs (self->params_dir) != 0) {
        snprintf (err, errlen, "cannot make the parameters folder %s: %s", self->params_dir,
                  strerror (errno));
        return -1;
    }
    /*  With the keys admin sent: connect with the sub job's keypair, which
        its advisor alone admits. */
    rfk_bus_opts_t bus = self->bus;
    if (rfk_curve_group_client (&bus, self->role ? self->role->curve : NULL) != 0) {
        snprintf (err, errlen, "the bus keys from the launcher are malformed");
        return -1;
    }
    self->advisor = rfk_client_new (advisor_endpoint, &rfk_train_family, &bus);
    explicit_bzero (bus.curve_secret, sizeof bus.curve_secret);
    if (!self->advisor) {
        snprintf (err, errlen, "cannot connect to the advisor at %s", advisor_endpoint);
        return -1;
    }
    rfk_poll_add (self->poll, rfk_client_sock (self->advisor));
    rfk_log_info (S_LOG, "configured worker=%s model=%s template=%s advisor=%s timeout_s=%g",
                  self->worker_id ? self->worker_id : "-",
                  self->model_name && *self->model_name ? self->model_name : "-",
                  self->template_path, advisor_endpoint, self->timeout_s);
    s_send_ready (self);
    return 0;
}

/* ---- the loop ------------------------------------------------------------ */

static void
s_stop (self_t *self, const char *why)
{
    if (self->stopping)
        return;
    self->stopping = true;
    rfk_log_info (S_LOG, "stopping reason=\"%s\"", why);
    if (self->trial)
        rfk_runner_trial_stop (self->trial);
    else
        s_finish (self, why);
}

static void
s_handle_pipe (self_t *self)
{
    char *command = rfk_role_command (self->pipe, &self->terminated);
    if (self->terminated)
        s_stop (self, "stopped (SIGTERM)");
    if (!command)
        return;
    if (streq (command, "STATS")) {
        json_t *stats =
            json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i}", "trials",
                       (json_int_t)self->trials, "completed", (json_int_t)self->completed,
                       "errored", (json_int_t)self->errored, "pruned", (json_int_t)self->pruned,
                       "logs", (json_int_t)self->logs, "metrics", (json_int_t)self->metrics,
                       "plots", (json_int_t)self->plots, "progress", (json_int_t)self->progress,
                       "pid", self->trial ? rfk_runner_trial_pid (self->trial) : 0);
        char *text = stats ? json_dumps (stats, JSON_COMPACT) : NULL;
        zstr_send (self->pipe, text ? text : "{}");
        free (text);
        json_decref (stats);
    } else
        rfk_log_warning (S_LOG, "RFK-MALFORMED pipe-command=%s", command);
    free (command);
}

/* The nearest deadline of the loop: the clients', the trial's limits, the
   end of the wait for admin's Acks (flush_until, -1: none). */
static int
s_timeout (self_t *self, int64_t flush_until)
{
    rfk_deadline_t deadline;
    rfk_deadline_reset (&deadline);
    if (self->advisor)
        rfk_deadline_add (&deadline, rfk_client_deadline (self->advisor));
    if (self->session)
        rfk_deadline_add (&deadline, rfk_session_deadline (self->session));
    if (self->trial) {
        int64_t left = rfk_runner_trial_timeout_ms (self->trial);
        if (left >= 0)
            rfk_deadline_add (&deadline, zclock_mono () + left);
    }
    if (self->ready_at)
        rfk_deadline_add (&deadline, self->ready_at);
    rfk_deadline_add (&deadline, flush_until);
    return rfk_deadline_timeout (&deadline);
}

/* Polls until finished (and the reports acknowledged), failed or told to go. */
static void
s_run (self_t *self)
{
    int64_t flush_until = -1;
    while (!self->failure) {
        if (self->finished) {
            if (flush_until < 0)
                flush_until = zclock_mono () + S_FLUSH_MS;
            if (!self->session || rfk_session_pending (self->session) == 0 ||
                zclock_mono () >= flush_until)
                break;
        } else if (self->terminated && !self->trial)
            break;
        void *which = rfk_poll_wait (self->poll, s_timeout (self, flush_until));
        if (which == self->pipe)
            s_handle_pipe (self);
        else if (self->advisor && which == rfk_client_sock (self->advisor))
            rfk_client_recv (self->advisor);
        else if (self->session && which == rfk_session_sock (self->session))
            rfk_session_recv (self->session);
        else if (rfk_poll_terminated (self->poll))
            break;
        if (self->trial)
            s_trial_step (self); /* also enforces its deadlines when nothing came */
        if (self->advisor)
            rfk_client_tick (self->advisor);
        if (self->ready_at && zclock_mono () >= self->ready_at && !self->stopping &&
            !self->finished && !self->terminated) {
            self->ready_at = 0;
            s_send_ready (self);
        }
        if (self->session)
            rfk_session_tick (self->session);
    }
    if (self->trial) {
        /* Leaving with a trial: end it now and say so. */
        rfk_runner_trial_stop (self->trial);
        rfk_poll_remove (self->poll, self->trial);
        rfk_runner_trial_destroy (&self->trial);
        self->stopping = true;
        s_trial_ended (self, RFK_TRIAL_ERRORED, NAN, "stopped");
    }
}

/* Ends the actor: DONE, FAILED <reason>, or nothing after $TERM. */
static void
s_end (self_t *self)
{
    rfk_role_end (self->pipe, self->failure, !self->terminated);
}

/* The direct form's arguments (borrowed until we signal). */
static void
s_configure_direct (self_t *self, const rfk_trainer_args_t *direct)
{
    char err[512] = "";
    if (!direct) {
        rfk_log_failure (&self->failure, S_LOG, "no arguments");
        return;
    }
    if (direct->bus)
        self->bus = *direct->bus;
    self->task = s_strdup (direct->task);
    self->train_path = s_strdup (direct->train_path);
    self->val_path = s_strdup (direct->val_path);
    self->params_dir = s_strdup (direct->params_dir);
    self->worker_id = s_strdup (direct->worker_id);
    self->timeout_s = direct->timeout_s;
    self->cpu_s = direct->cpu_s;
    self->memory_mb = direct->memory_mb;
    if (direct->sandbox) {
        self->sandboxed = true;
        self->box = *direct->sandbox;
    }
    if (s_args_set (self, direct->train_args) != 0)
        rfk_log_failure (&self->failure, S_LOG, "out of memory");
    else if (s_configure (self, direct->model_path, direct->advisor_endpoint, err, sizeof err) != 0)
        rfk_log_failure (&self->failure, S_LOG, "%s", err);
}

void
rfk_trainer_direct_actor (zsock_t *pipe, void *args)
{
    /* The arguments are borrowed until we signal: set up first. */
    self_t *self = s_self_new (pipe, NULL);
    if (self)
        s_configure_direct (self, (const rfk_trainer_args_t *)args);
    if (!rfk_role_ready (pipe, self))
        return;
    s_run (self);
    s_end (self);
    /* The direct form stays for STATS until $TERM. */
    while (!self->terminated)
        s_handle_pipe (self);
    s_self_destroy (&self);
}

/* ---- the role form ------------------------------------------------------ */

/* A limit from ServiceConfig.config, else from our configuration. */
static double
s_limit (const json_t *config, const char *key, const rfk_config_t *own)
{
    const json_t *value = json_object_get (config, key);
    if (json_is_number (value) && json_number_value (value) >= 0)
        return json_number_value (value);
    return (double)rfk_config_int (own, "trainer", key);
}

/* Whether and how trials are sandboxed (launcher.sandbox: auto uses the
   sandbox where bwrap can make one; admin refuses jobs where it cannot
   unless the setting is off), with the trial limits of the config. */
static void
s_sandbox_configure (self_t *self, const json_t *config, const rfk_config_t *own)
{
    const char *mode = rfk_config_string (own, "launcher", "sandbox");
    uid_t uid = (uid_t)rfk_config_int (own, "launcher", "sandbox_uid");
    self->box =
        (rfk_sandbox_spec_t){.uid = uid,
                             .gid = (gid_t)uid,
                             .limits = {.nproc = (unsigned)s_limit (config, "processes", own),
                                        .fsize_mb = (size_t)s_limit (config, "file_size_mb", own),
                                        .nofile = (unsigned)s_limit (config, "open_files", own),
                                        .disk_mb = (size_t)s_limit (config, "disk_mb", own)}};
    char err[512] = "";
    if (mode && strcmp (mode, "off") == 0)
        self->sandboxed = false;
    else if (mode && strcmp (mode, "on") == 0)
        self->sandboxed = true; /* a failure to make one fails the trial with why */
    else
        self->sandboxed = rfk_sandbox_available (uid, (gid_t)uid, err, sizeof err);
    //  Where bwrap cannot run (a container, under swarm) trials confine themselves.
    self->confine = !self->sandboxed && !(mode && strcmp (mode, "off") == 0);
    if (self->confine)
        rfk_log_info (S_LOG, "trials-confined (Landlock, seccomp): no bubblewrap here%s%s",
                      *err ? ": " : "", err);
    else if (!self->sandboxed)
        rfk_log_warning (S_LOG, "trials-unsandboxed launcher.sandbox=%s%s%s", mode ? mode : "?",
                         *err ? " reason=" : "", err);
}

/* admin's ServiceConfig: the datasets, limits and advisor; then Ready. */
static int
s_on_config (rfk_session_t *session, const rfk_service_config_t *view, void *ctx, char *err,
             size_t errlen)
{
    self_t *self = (self_t *)ctx;
    json_t *config = view->config;
    const rfk_config_t *own = self->role->config;
    self->task = s_strdup (view->task);
    self->model_name = s_strdup (view->model_name);
    self->train_path = s_strdup (view->train_dataset_path);
    self->val_path = s_strdup (view->val_dataset_path);
    const char *worker_id = view->worker_id;
    self->worker_id = strdup (worker_id && *worker_id ? worker_id : self->role->service_id);
    //  Parameters go to params/<sub train job>/: a folder of the job's own, which is all of
    //  params/ a trainer's container mounts under swarm (no other job's parameters in reach).
    const char *data_dir = json_string_value (json_object_get (config, "data_dir"));
    char *params = data_dir && *data_dir ? zsys_sprintf ("%s/params", data_dir)
                                         : rfk_config_data_path (own, "params");
    const char *sub = view->sub_train_job_id;
    self->params_dir =
        params && s_safe_id (sub) ? zsys_sprintf ("%s/%s", params, sub) : s_strdup (params);
    free (params);
    self->timeout_s = s_limit (config, "trial_timeout_s", own);
    self->cpu_s = s_limit (config, "cpu_limit_s", own);
    self->memory_mb = (size_t)s_limit (config, "memory_limit_mb", own);
    s_sandbox_configure (self, config, own);
    if (s_args_set (self, view->train_args) != 0) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    if (s_configure (self, view->model_path, view->advisor_endpoint, err, errlen) != 0)
        return -1;
    rfk_session_running (session, NULL, NULL);
    return 0;
}

/* admin's Stop: stop the trial, then report STOPPED (s_finish). */
static void
s_on_stop (rfk_session_t *session, const char *reason, void *ctx)
{
    (void)session;
    s_stop ((self_t *)ctx, reason);
}

void
rfk_trainer_actor (zsock_t *pipe, void *args)
{
    self_t *self = rfk_role_ready (pipe, s_self_new (pipe, (const rfk_role_args_t *)args));
    if (!self)
        return;
    rfk_session_args_t session = {.name = S_LOG,
                                  .role = self->role,
                                  .bus = &self->bus,
                                  .on_config = s_on_config,
                                  .on_stop = s_on_stop,
                                  .ctx = self,
                                  .failure = &self->failure};
    if ((self->session = rfk_session_new (&session, NULL, 0)))
        rfk_poll_add (self->poll, rfk_session_sock (self->session));
    if (!self->failure)
        s_run (self);
    rfk_session_leave (self->session, pipe, self->failure, !self->terminated);
    s_self_destroy (&self);
}
