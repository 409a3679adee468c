/*  rfk_store_train.c: the store's train jobs, sub train jobs, trials and
    trial logs.

    A train job is created with its sub train jobs (one per model) in one
    transaction, and carries them whenever it is read. Trials are numbered
    per sub train job and log lines per trial, each inside a transaction.
*/
#include "rfk_store_private.h"

/* ---- train jobs ------------------------------------------------------ */

/* Loads a train job's sub train jobs into it. */
static int
s_load_sub_train_jobs (rfk_store_t *self, void *job)
{
    rfk_train_job_t *train_job = (rfk_train_job_t *)job;
    return rfk_row_select_array (self, &rfk_sub_train_job_kind,
                                 "WHERE x.train_job_id = $1 ORDER BY x.datetime_started, x.id",
                                 train_job->id, (void **)&train_job->sub_train_jobs,
                                 &train_job->sub_train_job_count);
}

rfk_train_job_t *
rfk_store_train_job_done (rfk_store_t *self, rfk_train_job_t *job)
{
    if (job && s_load_sub_train_jobs (self, job) != 0)
        rfk_train_job_destroy (&job);
    if (job)
        rfk_store_ok (self);
    return job;
}

/* A copy of job as it will be stored, checked, with room for one sub train
   job per model; NULL with the failure set. */
static rfk_train_job_t *
s_train_job_copy (rfk_store_t *self, const rfk_train_job_t *job)
{
    if (!job) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "train job: no record given");
        return NULL;
    }
    if (job->sub_train_job_count == 0 || !job->sub_train_jobs) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "train job: at least one model is required");
        return NULL;
    }
    for (size_t i = 0; i < job->sub_train_job_count; i++)
        if (!job->sub_train_jobs[i].model_id) {
            rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "train job: model %zu has no model_id",
                            i + 1);
            return NULL;
        }
    rfk_train_job_t *copy =
        (rfk_train_job_t *)rfk_row_prepare (self, &rfk_train_job_kind, job, RFK_JOB_STARTED);
    if (!copy)
        return NULL;
    copy->sub_train_jobs =
        (rfk_sub_train_job_t *)calloc (job->sub_train_job_count, sizeof (rfk_sub_train_job_t));
    if (!copy->sub_train_jobs)
        rfk_store_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
    if (!copy->sub_train_jobs || rfk_row_check (self, &rfk_train_job_kind, copy, true) != 0)
        rfk_train_job_destroy (&copy);
    return copy;
}

/* Inserts the train job's row once its user and datasets exist, as the
   next version of its app; inside a transaction. */
static int
s_insert_train_job (rfk_store_t *self, rfk_train_job_t *copy)
{
    rfk_args_t args = {0};
    rfk_arg_text (&args, copy->user_id);
    rfk_arg_text (&args, copy->app);
    if (rfk_row_exists (self, &rfk_user_kind, copy->user_id, "user") != 0 ||
        rfk_row_exists (self, &rfk_dataset_kind, copy->train_dataset_id, "train dataset") != 0 ||
        rfk_row_exists (self, &rfk_dataset_kind, copy->val_dataset_id, "validation dataset") != 0 ||
        rfk_store_scalar (self,
                          "SELECT COALESCE(MAX(app_version), 0) + 1 FROM train_jobs"
                          " WHERE user_id = $1 AND app = $2",
                          &args, &copy->app_version) != 0)
        return -1;
    char duplicate[160];
    snprintf (duplicate, sizeof duplicate, "app '%.64s' version %" PRId64 " exists", copy->app,
              copy->app_version);
    return rfk_row_insert (self, &rfk_train_job_kind, copy, duplicate, NULL);
}

/* Inserts one sub train job of copy per model of job; inside a transaction. */
static int
s_insert_sub_train_jobs (rfk_store_t *self, rfk_train_job_t *copy, const rfk_train_job_t *job)
{
    for (size_t i = 0; i < job->sub_train_job_count; i++) {
        rfk_sub_train_job_t *sub = &copy->sub_train_jobs[i];
        copy->sub_train_job_count = i + 1;
        sub->status = RFK_JOB_STARTED;
        if (!(sub->id = rfk_store_uuid ()) || !(sub->train_job_id = strdup (copy->id)) ||
            !(sub->model_id = strdup (job->sub_train_jobs[i].model_id)) ||
            !(sub->datetime_started = rfk_store_now_dup ())) {
            rfk_store_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
            return -1;
        }
        if (rfk_row_exists (self, &rfk_model_kind, sub->model_id, "model") != 0 ||
            rfk_row_insert (self, &rfk_sub_train_job_kind, sub, NULL, NULL) != 0)
            return -1;
        if (self->hook)
            self->hook ("sub_train_job", self->hook_arg);
    }
    return 0;
}

rfk_train_job_t *
rfk_store_create_train_job (rfk_store_t *self, const rfk_train_job_t *job)
{
    S_ENTER (self);
    rfk_train_job_t *copy = s_train_job_copy (self, job);
    if (!copy || rfk_store_tx_begin (self) != 0) {
        rfk_train_job_destroy (&copy);
        return NULL;
    }
    int rc = s_insert_train_job (self, copy);
    if (rc == 0)
        rc = s_insert_sub_train_jobs (self, copy, job);
    if (rfk_store_tx_end (self, rc) != 0) {
        rfk_train_job_destroy (&copy);
        return NULL;
    }
    rfk_store_ok (self);
    return copy;
}

RFK_STORE_PARENT_GETTER (train_job, rfk_train_job_t)

rfk_train_job_t *
rfk_store_train_job_by_app (rfk_store_t *self, const char *user_id, const char *app,
                            int64_t version)
{
    if (!user_id || !app) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "train job: user_id and app are required");
        return NULL;
    }
    char what[160];
    if (version < 0)
        snprintf (what, sizeof what, "train job of app '%.64s'", app);
    else
        snprintf (what, sizeof what, "train job of app '%.64s' version %" PRId64, app, version);
    rfk_args_t args = {0};
    rfk_arg_text (&args, user_id);
    rfk_arg_text (&args, app);
    rfk_arg_int (&args, version);
    return (rfk_train_job_t *)rfk_row_select_one (
        self, &rfk_train_job_kind,
        "WHERE x.user_id = $1 AND x.app = $2 AND ($3 < 0 OR x.app_version = $3)"
        " ORDER BY x.app_version DESC LIMIT 1",
        &args, what);
}

rfk_train_job_t *
rfk_store_get_train_job_by_app (rfk_store_t *self, const char *user_id, const char *app,
                                int64_t app_version)
{
    S_ENTER (self);
    return rfk_store_train_job_done (self,
                                     rfk_store_train_job_by_app (self, user_id, app, app_version));
}

zlistx_t *
rfk_store_list_train_jobs (rfk_store_t *self, const char *user_id, const char *app,
                           bool active_only, const rfk_page_t *page)
{
    S_ENTER (self);
    rfk_args_t args = {0};
    if (rfk_arg_page (self, &args, page) != 0)
        return NULL;
    rfk_arg_text (&args, user_id);
    rfk_arg_text (&args, app);
    rfk_arg_int (&args, active_only ? 1 : 0);
    return rfk_row_select_with (self, &rfk_train_job_kind,
                                "WHERE (CAST($3 AS TEXT) IS NULL OR x.user_id = $3)"
                                " AND (CAST($4 AS TEXT) IS NULL OR x.app = $4)"
                                " AND ($5 = 0 OR x.status IN ('STARTED', 'RUNNING'))"
                                " ORDER BY x.app, x.app_version, x.id LIMIT $1 OFFSET $2",
                                &args, s_load_sub_train_jobs);
}

int
rfk_store_update_train_job_status (rfk_store_t *self, const char *id, rfk_job_status_t status)
{
    S_ENTER (self);
    return rfk_row_set_status (self, &rfk_train_job_kind, id, (int)status);
}

/* ---- sub train jobs -------------------------------------------------- */

RFK_STORE_GETTER (sub_train_job, rfk_sub_train_job_t)

rfk_sub_train_job_t *
rfk_store_get_sub_train_job_by_advisor (rfk_store_t *self, const char *service_id)
{
    S_ENTER (self);
    return (rfk_sub_train_job_t *)rfk_row_get_by (self, &rfk_sub_train_job_kind,
                                                  "WHERE x.advisor_service_id = $1", service_id,
                                                  "advisor service id", "sub train job of advisor");
}

int
rfk_store_update_sub_train_job_status (rfk_store_t *self, const char *id, rfk_job_status_t status)
{
    S_ENTER (self);
    return rfk_row_set_status (self, &rfk_sub_train_job_kind, id, (int)status);
}

/* ---- trials ---------------------------------------------------------- */

/* A copy of trial as it will be stored: its job and model are its sub train
   job's (the model when none is given), checked; NULL with the failure set. */
static rfk_trial_t *
s_trial_copy (rfk_store_t *self, const rfk_trial_t *trial)
{
    if (trial && trial->no < 0) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "trial: no must not be negative");
        return NULL;
    }
    if (trial && !trial->sub_train_job_id) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "trial: sub_train_job_id is required");
        return NULL;
    }
    rfk_trial_t *copy =
        (rfk_trial_t *)rfk_row_prepare (self, &rfk_trial_kind, trial, RFK_TRIAL_PENDING);
    if (!copy)
        return NULL;
    rfk_sub_train_job_t *sub =
        (rfk_sub_train_job_t *)rfk_row_get (self, &rfk_sub_train_job_kind, copy->sub_train_job_id);
    if (sub) {
        free (copy->train_job_id);
        copy->train_job_id = sub->train_job_id;
        sub->train_job_id = NULL;
        if (!copy->model_id) {
            copy->model_id = sub->model_id;
            sub->model_id = NULL;
        }
        rfk_sub_train_job_destroy (&sub);
    }
    if (!copy->train_job_id || rfk_row_check (self, &rfk_trial_kind, copy, true) != 0)
        rfk_trial_destroy (&copy);
    if (copy && rfk_trial_status_is_final (copy->status))
        copy->datetime_stopped = strdup (copy->datetime_started);
    return copy;
}

rfk_trial_t *
rfk_store_create_trial (rfk_store_t *self, const rfk_trial_t *trial)
{
    S_ENTER (self);
    rfk_trial_t *copy = s_trial_copy (self, trial);
    if (!copy)
        return NULL;
    bool numbered = copy->no == 0;
    if (numbered && rfk_store_tx_begin (self) != 0) {
        rfk_trial_destroy (&copy);
        return NULL;
    }
    rfk_args_t args = {0};
    rfk_arg_text (&args, copy->sub_train_job_id);
    char duplicate[160], missing[256];
    snprintf (missing, sizeof missing, "trial: model '%.64s' not found", copy->model_id);
    int rc = 0;
    if (numbered)
        rc = rfk_store_scalar (
            self, "SELECT COALESCE(MAX(no), 0) + 1 FROM trials WHERE sub_train_job_id = $1", &args,
            &copy->no);
    snprintf (duplicate, sizeof duplicate, "the sub train job already has trial %" PRId64,
              copy->no);
    if (rc == 0)
        rc = rfk_row_insert (self, &rfk_trial_kind, copy, duplicate, missing);
    if (numbered)
        rc = rfk_store_tx_end (self, rc);
    if (rc != 0) {
        rfk_trial_destroy (&copy);
        return NULL;
    }
    rfk_store_ok (self);
    return copy;
}

RFK_STORE_GETTER (trial, rfk_trial_t)
RFK_STORE_SAVER (trial, rfk_trial_t)

/* The select of a trial listing: $3 is the sub train job, or else the train job. */
static const char *
s_trials_tail (bool of_sub_train_job, rfk_trial_order_t order)
{
    if (of_sub_train_job)
        return order == RFK_TRIALS_BEST
                   ? "WHERE x.sub_train_job_id = $3 AND x.status = 'COMPLETED'"
                     " AND x.score IS NOT NULL"
                     " ORDER BY x.score DESC, x.no, x.id LIMIT $1 OFFSET $2"
                   : "WHERE x.sub_train_job_id = $3 ORDER BY x.no, x.id LIMIT $1 OFFSET $2";
    return order == RFK_TRIALS_BEST
               ? "WHERE x.train_job_id = $3 AND x.status = 'COMPLETED'"
                 " AND x.score IS NOT NULL"
                 " ORDER BY x.score DESC, x.datetime_started, x.id LIMIT $1 OFFSET $2"
               : "WHERE x.train_job_id = $3"
                 " ORDER BY x.datetime_started, x.no, x.id LIMIT $1 OFFSET $2";
}

zlistx_t *
rfk_store_list_trials (rfk_store_t *self, const char *train_job_id, const char *sub_train_job_id,
                       rfk_trial_order_t order, const rfk_page_t *page)
{
    S_ENTER (self);
    if (!train_job_id && !sub_train_job_id) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST,
                        "trial: a train job or sub train job id is required");
        return NULL;
    }
    if (order != RFK_TRIALS_BY_NO && order != RFK_TRIALS_BEST) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "trial: unknown order %d", (int)order);
        return NULL;
    }
    rfk_args_t args = {0};
    if (rfk_arg_page (self, &args, page) != 0)
        return NULL;
    rfk_arg_text (&args, sub_train_job_id ? sub_train_job_id : train_job_id);
    return rfk_row_select (self, &rfk_trial_kind, s_trials_tail (sub_train_job_id, order), &args);
}

/* ---- trial logs ------------------------------------------------------ */

/* Inserts a copy of one log line with the trial's next seq; inside a transaction. */
static int
s_insert_trial_log (rfk_store_t *self, const rfk_trial_log_t *log, rfk_trial_log_t **copy_p)
{
    rfk_trial_log_t *copy = (rfk_trial_log_t *)rfk_row_prepare (self, &rfk_trial_log_kind, log, 0);
    *copy_p = copy;
    if (!copy || rfk_row_check (self, &rfk_trial_log_kind, copy, true) != 0)
        return -1;
    rfk_args_t args = {0};
    rfk_arg_text (&args, copy->trial_id);
    char missing[160];
    snprintf (missing, sizeof missing, "trial '%.64s' not found", copy->trial_id);
    if (rfk_store_scalar (self,
                          "SELECT COALESCE(MAX(seq), 0) + 1 FROM trial_logs WHERE trial_id = $1",
                          &args, &copy->seq) != 0)
        return -1;
    return rfk_row_insert (self, &rfk_trial_log_kind, copy, NULL, missing);
}

rfk_trial_log_t *
rfk_store_add_trial_log (rfk_store_t *self, const rfk_trial_log_t *log)
{
    S_ENTER (self);
    if (!log) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "trial log: no record given");
        return NULL;
    }
    if (rfk_store_tx_begin (self) != 0)
        return NULL;
    rfk_trial_log_t *copy = NULL;
    if (rfk_store_tx_end (self, s_insert_trial_log (self, log, &copy)) != 0) {
        rfk_trial_log_destroy (&copy);
        return NULL;
    }
    rfk_store_ok (self);
    return copy;
}

int
rfk_store_add_trial_logs (rfk_store_t *self, const rfk_trial_log_t *logs, size_t count)
{
    S_ENTER (self);
    if (count == 0) {
        rfk_store_ok (self);
        return 0;
    }
    if (!logs) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "trial log: no lines given");
        return -1;
    }
    if (rfk_store_tx_begin (self) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        rfk_trial_log_t *copy = NULL;
        rc = s_insert_trial_log (self, &logs[i], &copy);
        rfk_trial_log_destroy (&copy);
    }
    if (rfk_store_tx_end (self, rc) != 0)
        return -1;
    rfk_store_ok (self);
    return 0;
}

zlistx_t *
rfk_store_list_trial_logs (rfk_store_t *self, const char *trial_id, const rfk_page_t *page)
{
    S_ENTER (self);
    if (!trial_id) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "trial log: trial id is required");
        return NULL;
    }
    rfk_args_t args = {0};
    if (rfk_arg_page (self, &args, page) != 0)
        return NULL;
    rfk_arg_text (&args, trial_id);
    return rfk_row_select (self, &rfk_trial_log_kind,
                           "WHERE x.trial_id = $3 ORDER BY x.seq LIMIT $1 OFFSET $2", &args);
}
