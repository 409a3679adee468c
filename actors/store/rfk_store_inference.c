/*  rfk_store_inference.c: the store's inference jobs and their workers.

    An inference job is created with its predictor service, its worker
    services and its worker rows in one transaction, and carries its
    workers whenever it is read. At most one inference job of a train job
    is STARTED or RUNNING (a partial unique index says so).
*/
#include "rfk_store_private.h"

/* Loads an inference job's workers into it. */
static int
s_load_inference_workers (rfk_store_t *self, void *job)
{
    rfk_inference_job_t *inference_job = (rfk_inference_job_t *)job;
    return rfk_row_select_array (
        self, &rfk_inference_job_worker_kind,
        "JOIN services s ON s.id = x.service_id"
        " WHERE x.inference_job_id = $1 ORDER BY s.datetime_started, x.service_id",
        inference_job->id, (void **)&inference_job->workers, &inference_job->worker_count);
}

rfk_inference_job_t *
rfk_store_inference_job_done (rfk_store_t *self, rfk_inference_job_t *job)
{
    if (job && s_load_inference_workers (self, job) != 0)
        rfk_inference_job_destroy (&job);
    if (job)
        rfk_store_ok (self);
    return job;
}

/* Whether the parts of a new inference job are all given. */
static int
s_inference_job_given (rfk_store_t *self, const rfk_inference_job_t *job,
                       const rfk_service_t *predictor, const rfk_service_t *const *worker_services)
{
    if (!job) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "inference job: no record given");
        return -1;
    }
    if (!predictor) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST,
                        "inference job: the predictor service is required");
        return -1;
    }
    if (job->worker_count == 0 || !job->workers || !worker_services) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST,
                        "inference job: at least one worker is required");
        return -1;
    }
    for (size_t i = 0; i < job->worker_count; i++)
        if (!job->workers[i].trial_id || !worker_services[i]) {
            rfk_store_fail (self, RFK_CODE_BAD_REQUEST,
                            "inference job: worker %zu needs a trial_id and a service", i + 1);
            return -1;
        }
    return 0;
}

/* A copy of job as it will be stored, checked, with room for its workers,
   and its predictor's service (*predictor_p); NULL with the failure set. */
static rfk_inference_job_t *
s_inference_job_copy (rfk_store_t *self, const rfk_inference_job_t *job,
                      const rfk_service_t *predictor, rfk_service_t **predictor_p)
{
    rfk_inference_job_t *copy = (rfk_inference_job_t *)rfk_row_prepare (
        self, &rfk_inference_job_kind, job, RFK_JOB_STARTED);
    if (!copy)
        return NULL;
    copy->workers = (rfk_inference_job_worker_t *)calloc (job->worker_count,
                                                          sizeof (rfk_inference_job_worker_t));
    if (!copy->workers)
        rfk_store_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
    else if (rfk_row_check (self, &rfk_inference_job_kind, copy, true) == 0)
        *predictor_p = rfk_store_service_prepare (self, predictor);
    if (*predictor_p) {
        free (copy->predictor_service_id);
        copy->predictor_service_id = strdup ((*predictor_p)->id);
        if (copy->predictor_service_id)
            return copy;
        rfk_store_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
    }
    rfk_service_destroy (predictor_p);
    rfk_inference_job_destroy (&copy);
    return NULL;
}

/* Inserts the predictor's service and the job's row once its user and
   train job exist; inside a transaction. */
static int
s_insert_inference_job (rfk_store_t *self, rfk_inference_job_t *copy,
                        const rfk_service_t *predictor)
{
    char duplicate[160];
    snprintf (duplicate, sizeof duplicate, "train job '%.64s' already has a running inference job",
              copy->train_job_id);
    if (rfk_row_exists (self, &rfk_user_kind, copy->user_id, "user") != 0 ||
        rfk_row_exists (self, &rfk_train_job_kind, copy->train_job_id, "train job") != 0 ||
        rfk_row_insert (self, &rfk_service_kind, predictor, NULL, NULL) != 0 ||
        rfk_row_insert (self, &rfk_inference_job_kind, copy, duplicate, NULL) != 0)
        return -1;
    return 0;
}

/* Inserts one worker of copy, with its service, per worker of job; inside
   a transaction. */
static int
s_insert_inference_workers (rfk_store_t *self, rfk_inference_job_t *copy,
                            const rfk_inference_job_t *job,
                            const rfk_service_t *const *worker_services)
{
    for (size_t i = 0; i < job->worker_count; i++) {
        rfk_inference_job_worker_t *worker = &copy->workers[i];
        copy->worker_count = i + 1;
        rfk_service_t *service = rfk_store_service_prepare (self, worker_services[i]);
        if (!service)
            return -1;
        int rc = -1;
        if (!(worker->service_id = strdup (service->id)) ||
            !(worker->inference_job_id = strdup (copy->id)) ||
            !(worker->trial_id = strdup (job->workers[i].trial_id)))
            rfk_store_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
        else if (rfk_row_exists (self, &rfk_trial_kind, worker->trial_id, "trial") == 0 &&
                 rfk_row_insert (self, &rfk_service_kind, service, NULL, NULL) == 0)
            rc = rfk_row_insert (self, &rfk_inference_job_worker_kind, worker, NULL, NULL);
        rfk_service_destroy (&service);
        if (rc != 0)
            return -1;
        if (self->hook)
            self->hook ("inference_job_worker", self->hook_arg);
    }
    return 0;
}

rfk_inference_job_t *
rfk_store_create_inference_job (rfk_store_t *self, const rfk_inference_job_t *job,
                                const rfk_service_t *predictor,
                                const rfk_service_t *const *worker_services)
{
    S_ENTER (self);
    if (s_inference_job_given (self, job, predictor, worker_services) != 0)
        return NULL;
    rfk_service_t *service = NULL;
    rfk_inference_job_t *copy = s_inference_job_copy (self, job, predictor, &service);
    if (!copy || rfk_store_tx_begin (self) != 0) {
        rfk_service_destroy (&service);
        rfk_inference_job_destroy (&copy);
        return NULL;
    }
    int rc = s_insert_inference_job (self, copy, service);
    rfk_service_destroy (&service);
    if (rc == 0)
        rc = s_insert_inference_workers (self, copy, job, worker_services);
    if (rfk_store_tx_end (self, rc) != 0) {
        rfk_inference_job_destroy (&copy);
        return NULL;
    }
    rfk_store_ok (self);
    return copy;
}

RFK_STORE_PARENT_GETTER (inference_job, rfk_inference_job_t)

rfk_inference_job_t *
rfk_store_get_inference_job_by_app (rfk_store_t *self, const char *user_id, const char *app,
                                    int64_t app_version, bool live_only)
{
    S_ENTER (self);
    rfk_train_job_t *train_job = rfk_store_train_job_by_app (self, user_id, app, app_version);
    if (!train_job)
        return NULL;
    char what[200];
    snprintf (what, sizeof what, "%sinference job of app '%.64s' version %" PRId64,
              live_only ? "running " : "", app, train_job->app_version);
    rfk_args_t args = {0};
    rfk_arg_text (&args, train_job->id);
    rfk_inference_job_t *job = (rfk_inference_job_t *)rfk_row_select_one (
        self, &rfk_inference_job_kind,
        live_only ? "WHERE x.train_job_id = $1 AND x.status IN ('STARTED', 'RUNNING')"
                    " ORDER BY x.datetime_started DESC, x.id DESC LIMIT 1"
                  : "WHERE x.train_job_id = $1 ORDER BY x.datetime_started DESC, x.id DESC LIMIT 1",
        &args, what);
    rfk_train_job_destroy (&train_job);
    return rfk_store_inference_job_done (self, job);
}

zlistx_t *
rfk_store_list_inference_jobs (rfk_store_t *self, const char *user_id, bool active_only,
                               const rfk_page_t *page)
{
    S_ENTER (self);
    rfk_args_t args = {0};
    if (rfk_arg_page (self, &args, page) != 0)
        return NULL;
    rfk_arg_text (&args, user_id);
    rfk_arg_int (&args, active_only ? 1 : 0);
    return rfk_row_select_with (self, &rfk_inference_job_kind,
                                "WHERE (CAST($3 AS TEXT) IS NULL OR x.user_id = $3)"
                                " AND ($4 = 0 OR x.status IN ('STARTED', 'RUNNING'))"
                                " ORDER BY x.datetime_started, x.id LIMIT $1 OFFSET $2",
                                &args, s_load_inference_workers);
}

int
rfk_store_inference_job_status (rfk_store_t *self, const char *id, rfk_job_status_t status)
{
    if (!rfk_job_status_name (status)) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "inference job: status %d is not valid",
                        (int)status);
        return -1;
    }
    if (rfk_row_set_status (self, &rfk_inference_job_kind, id, (int)status) == 0)
        return 0;
    if (self->code == RFK_CODE_CONFLICT)
        rfk_store_fail (self, RFK_CODE_CONFLICT,
                        "inference job '%.64s': its train job already has a running inference job",
                        id ? id : "");
    return -1;
}

int
rfk_store_update_inference_job_status (rfk_store_t *self, const char *id, rfk_job_status_t status)
{
    S_ENTER (self);
    return rfk_store_inference_job_status (self, id, status);
}

rfk_inference_job_worker_t *
rfk_store_get_inference_job_worker (rfk_store_t *self, const char *service_id)
{
    S_ENTER (self);
    return (rfk_inference_job_worker_t *)rfk_row_get_by (self, &rfk_inference_job_worker_kind,
                                                         "WHERE x.service_id = $1", service_id,
                                                         "service id", "inference job worker");
}
