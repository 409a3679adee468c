/*  rfk_admin_rollup.c: service states, and the job states they roll up to.

    Service states (API.md): STARTED (stored) -> DEPLOYING (the process is
    up, from the launcher) -> RUNNING (the worker says so) -> STOPPED |
    ERRORED (the worker or the launcher says so). STOPPED and ERRORED are
    final. Jobs roll up from their services:
    - a sub train job: any service ERRORED -> ERRORED (its other services are
      stopped); all STOPPED -> STOPPED; any RUNNING -> RUNNING;
    - a train job: all sub train jobs final -> ERRORED if any errored, else
      STOPPED; any RUNNING -> RUNNING;
    - an inference job: any service ERRORED -> ERRORED (the others stopped);
      all STOPPED -> STOPPED; predictor and every worker RUNNING -> RUNNING.
    Final job states stick. Every change is published on `events`.

    A roll-up reads what it decides on once (rfk_store_get_job_state: the
    job, its sub train jobs and the status of every service of it), decides
    in memory, and writes every status that changed in one call (one
    transaction: rfk_store_set_statuses). A service whose job admin stopped
    rolls nothing up: its end is one write.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <string.h>

/* The statuses one roll-up writes: the service, its sub train job, its job. */
typedef struct {
    rfk_status_change_t changes[3]; /* what to write, in this order */
    size_t count;                   /* how many */
    rfk_job_status_t sub_status;    /* the sub train job's new status, or UNSET */
    rfk_job_status_t job_status;    /* the job's new status, or UNSET */
} s_plan_t;

/* Count the statuses of a set of services. */
typedef struct {
    size_t total, errored, stopped, running;
} s_tally_t;

void
rfk_admin_publish_job (rfk_admin_t *self, const char *kind, const char *id, const char *app,
                       int64_t version, rfk_job_status_t status, const char *sub_id)
{
    json_t *body = json_object ();
    json_object_set_new (body, "kind", json_string (kind));
    json_object_set_new (body, "id", json_string (id));
    if (app)
        json_object_set_new (body, "app", json_string (app));
    if (version > 0)
        json_object_set_new (body, "app_version", json_integer (version));
    json_object_set_new (body, "status", json_string (rfk_job_status_name (status)));
    if (sub_id)
        json_object_set_new (body, "sub_train_job_id", json_string (sub_id));
    rfk_admin_publish (self, "job", id, "JobStatus", body);
}

/* The services of the job (of one sub train job unless NULL), by status. */
static s_tally_t
s_tally (const rfk_job_state_t *state, const char *sub_id)
{
    s_tally_t tally = {0};
    for (size_t index = 0; index < state->service_count; index++) {
        const rfk_job_service_t *service = &state->services[index];
        if (sub_id && !(service->sub_train_job_id && streq (service->sub_train_job_id, sub_id)))
            continue;
        tally.total++;
        //  A status the row could not name counts as ERRORED.
        rfk_service_status_t status = service->status ? service->status : RFK_SERVICE_ERRORED;
        if (status == RFK_SERVICE_ERRORED)
            tally.errored++;
        else if (status == RFK_SERVICE_STOPPED)
            tally.stopped++;
        else if (status == RFK_SERVICE_RUNNING)
            tally.running++;
    }
    return tally;
}

/* A sub train job's new status from its services, and then its train
   job's from its sub train jobs; added to the plan when they change. */
static void
s_decide_train (rfk_job_state_t *state, const char *sub_id, s_plan_t *plan)
{
    rfk_train_job_t *job = state->train_job;
    rfk_sub_train_job_t *sub = NULL;
    for (size_t index = 0; index < job->sub_train_job_count && !sub; index++)
        if (streq (job->sub_train_jobs[index].id, sub_id))
            sub = &job->sub_train_jobs[index];
    if (!sub || rfk_job_status_is_final (sub->status))
        return;
    s_tally_t tally = s_tally (state, sub->id);
    rfk_job_status_t status = sub->status;
    if (tally.errored)
        status = RFK_JOB_ERRORED;
    else if (tally.total && tally.stopped == tally.total)
        status = RFK_JOB_STOPPED;
    else if (tally.running)
        status = RFK_JOB_RUNNING;
    if (status == sub->status)
        return;
    plan->sub_status = status;
    plan->changes[plan->count++] = (rfk_status_change_t){
        .of = RFK_STATUS_OF_SUB_TRAIN_JOB, .id = sub->id, .status.job = status};
    sub->status = status;
    if (rfk_job_status_is_final (job->status))
        return;
    size_t final = 0, errored = 0, running = 0;
    for (size_t index = 0; index < job->sub_train_job_count; index++) {
        rfk_job_status_t each = job->sub_train_jobs[index].status;
        final += rfk_job_status_is_final (each);
        errored += each == RFK_JOB_ERRORED;
        running += each == RFK_JOB_RUNNING;
    }
    status = job->status;
    if (job->sub_train_job_count && final == job->sub_train_job_count)
        status = errored ? RFK_JOB_ERRORED : RFK_JOB_STOPPED;
    else if (running)
        status = RFK_JOB_RUNNING;
    if (status != job->status) {
        plan->job_status = status;
        plan->changes[plan->count++] = (rfk_status_change_t){
            .of = RFK_STATUS_OF_TRAIN_JOB, .id = job->id, .status.job = status};
    }
}

/* An inference job's new status from its services. */
static void
s_decide_inference (rfk_job_state_t *state, s_plan_t *plan)
{
    rfk_inference_job_t *job = state->inference_job;
    if (rfk_job_status_is_final (job->status))
        return;
    s_tally_t tally = s_tally (state, NULL);
    rfk_job_status_t status = job->status;
    if (tally.errored)
        status = RFK_JOB_ERRORED;
    else if (tally.total && tally.stopped == tally.total)
        status = RFK_JOB_STOPPED;
    else if (tally.total && tally.running == tally.total)
        status = RFK_JOB_RUNNING;
    if (status != job->status) {
        plan->job_status = status;
        plan->changes[plan->count++] = (rfk_status_change_t){
            .of = RFK_STATUS_OF_INFERENCE_JOB, .id = job->id, .status.job = status};
    }
}

/* Publish and log a service's new status. */
static void
s_service_changed (rfk_admin_t *self, const char *service_id, const char *service_type,
                   const char *job_id, rfk_service_status_t status, const char *message)
{
    json_t *event = json_object ();
    json_object_set_new (event, "service_id", json_string (service_id));
    json_object_set_new (event, "service_type", json_string (service_type));
    if (job_id)
        json_object_set_new (event, "job_id", json_string (job_id));
    json_object_set_new (event, "status", json_string (rfk_service_status_name (status)));
    if (message && *message)
        json_object_set_new (event, "message", json_string (message));
    rfk_admin_publish (self, "service", service_id, "ServiceStatus", event);
    rfk_log_info (RFK_ADMIN_LOG, "service-status id=%s role=%s status=%s%s%s%s", service_id,
                  rfk_admin_role_of (service_type), rfk_service_status_name (status),
                  message ? " message=\"" : "", message ? message : "", message ? "\"" : "");
}

/* A service admin does not track (any more): its row and an event. */
static void
s_set_untracked (rfk_admin_t *self, const char *service_id, rfk_service_status_t status,
                 const char *message)
{
    rfk_service_t *stored = rfk_store_get_service (self->store, service_id);
    if (!stored)
        return;
    //  Final states stick.
    if (!rfk_service_status_is_final (stored->status) && stored->status != status &&
        rfk_store_update_service_status (self->store, service_id, status) == 0)
        s_service_changed (self, service_id, stored->service_type, NULL, status, message);
    rfk_service_destroy (&stored);
}

/* The plan for a tracked service: read its job once and decide. False
   when nothing changes (its stored status is final or the same). */
static bool
s_plan (rfk_admin_t *self, rfk_admin_service_t *service, rfk_service_status_t status,
        rfk_job_state_t **state_p, s_plan_t *plan)
{
    //  A service of a job admin stopped: the job's statuses are final.
    rfk_job_state_t *state = service->job_ended
                                 ? NULL
                                 : rfk_store_get_job_state (self->store, service->train_job_id,
                                                            service->inference_job_id);
    rfk_job_service_t *mine = NULL;
    for (size_t index = 0; state && index < state->service_count && !mine; index++)
        if (streq (state->services[index].id, service->id))
            mine = &state->services[index];
    rfk_service_status_t stored = mine ? mine->status : service->status;
    //  Final states stick.
    if (!stored || rfk_service_status_is_final (stored) || stored == status) {
        rfk_job_state_destroy (&state);
        return false;
    }
    if (mine)
        mine->status = status;
    plan->changes[plan->count++] = (rfk_status_change_t){
        .of = RFK_STATUS_OF_SERVICE, .id = service->id, .status.service = status};
    if (state && state->train_job && service->sub_train_job_id)
        s_decide_train (state, service->sub_train_job_id, plan);
    else if (state && state->inference_job)
        s_decide_inference (state, plan);
    *state_p = state;
    return true;
}

/* Done with a service that ended: forget its peer, and let the launcher
   forget it after this turn (never from inside its own event callback). */
static void
s_untrack (rfk_admin_t *self, rfk_admin_service_t *service)
{
    if (service->peer) {
        char *peer = zframe_strhex (service->peer);
        zhashx_delete (self->peers, peer);
        free (peer);
    }
    zlistx_add_end (self->to_forget, service->id);
    rfk_admin_curve_admit (self, service->id, false);
    zhashx_delete (self->services, service->id);
}

/* Publish what a plan changed in its job, and stop the services of a
   part that failed. */
static void
s_publish_plan (rfk_admin_t *self, const rfk_job_state_t *state, const char *sub_id,
                const s_plan_t *plan)
{
    const rfk_train_job_t *train = state->train_job;
    if (train && plan->sub_status) {
        rfk_admin_publish_job (self, "TRAIN", train->id, train->app, train->app_version,
                               plan->sub_status, sub_id);
        rfk_log_info (RFK_ADMIN_LOG, "sub-train-job-status id=%s status=%s", sub_id,
                      rfk_job_status_name (plan->sub_status));
        if (plan->sub_status == RFK_JOB_ERRORED)
            rfk_admin_stop_services (self, &(rfk_admin_services_of_t){.sub_train_job_id = sub_id},
                                     "another service of its model failed");
    }
    if (train && plan->job_status) {
        rfk_admin_publish_job (self, "TRAIN", train->id, train->app, train->app_version,
                               plan->job_status, NULL);
        rfk_log_info (RFK_ADMIN_LOG, "train-job-status id=%s status=%s", train->id,
                      rfk_job_status_name (plan->job_status));
    }
    const rfk_inference_job_t *inference = state->inference_job;
    if (inference && plan->job_status) {
        rfk_admin_publish_job (self, "INFERENCE", inference->id, NULL, 0, plan->job_status, NULL);
        rfk_log_info (RFK_ADMIN_LOG, "inference-job-status id=%s status=%s", inference->id,
                      rfk_job_status_name (plan->job_status));
        if (plan->job_status == RFK_JOB_ERRORED)
            rfk_admin_stop_services (self, &(rfk_admin_services_of_t){.job_id = inference->id},
                                     "another service of its job failed");
    }
}

void
rfk_admin_set_service_status (rfk_admin_t *self, const char *service_id_in,
                              rfk_service_status_t status, const char *message)
{
    //  The id may be the launcher's own string, or the tracked service's,
    //  both freed below.
    char service_id[RFK_LAUNCHER_ID_MAX + 1];
    snprintf (service_id, sizeof service_id, "%s", service_id_in);
    rfk_admin_service_t *service =
        (rfk_admin_service_t *)zhashx_lookup (self->services, service_id);
    if (!service) {
        s_set_untracked (self, service_id, status, message);
        return;
    }
    rfk_job_state_t *state = NULL;
    s_plan_t plan = {.count = 0};
    if (!s_plan (self, service, status, &state, &plan))
        return;
    if (rfk_store_set_statuses (self->store, plan.changes, plan.count) != 0)
        rfk_log_warning (RFK_ADMIN_LOG,
                         "RFK-STORE doing=\"recording service %s %s\" message=\"%s\"", service_id,
                         rfk_service_status_name (status), rfk_store_message (self->store));
    service->status = status;
    char *sub = service->sub_train_job_id ? strdup (service->sub_train_job_id) : NULL;
    const char *job_id = service->train_job_id ? service->train_job_id : service->inference_job_id;
    s_service_changed (self, service_id, service->service_type, job_id, status, message);
    if (rfk_service_status_is_final (status))
        s_untrack (self, service);
    if (state)
        s_publish_plan (self, state, sub, &plan);
    free (sub);
    rfk_job_state_destroy (&state);
}

/* ---- stopping jobs ------------------------------------------------------- */

/* End the trials of a job that were still PENDING or RUNNING, in the
   transaction the caller opened; their events go out after it commits. */
static zlistx_t *
s_end_open_trials (rfk_admin_t *self, const char *train_job_id, const char *reason)
{
    zlistx_t *trials =
        rfk_store_list_trials (self->store, train_job_id, NULL, RFK_TRIALS_BY_NO, NULL);
    zlistx_t *ended = zlistx_new ();
    zlistx_set_destructor (ended, (czmq_destructor *)rfk_trial_destroy);
    for (rfk_trial_t *trial = trials ? (rfk_trial_t *)zlistx_first (trials) : NULL; trial;
         trial = (rfk_trial_t *)zlistx_next (trials)) {
        if (trial->status != RFK_TRIAL_PENDING && trial->status != RFK_TRIAL_RUNNING)
            continue;
        trial->status = RFK_TRIAL_ERRORED;
        if (!json_is_object (trial->progress)) {
            json_decref (trial->progress);
            trial->progress = json_object ();
        }
        json_object_set_new (trial->progress, "error", json_string (reason));
        if (zlistx_size (ended) == 0)
            rfk_store_begin (self->store);
        if (rfk_store_update_trial (self->store, trial) == 0) {
            zlistx_detach_cur (trials);
            zlistx_add_end (ended, trial);
        }
    }
    zlistx_destroy (&trials);
    return ended;
}

/* The TrialUpdate events of trials a stopped job ended. */
static void
s_publish_ended_trials (rfk_admin_t *self, const char *train_job_id, zlistx_t *ended,
                        const char *reason)
{
    for (rfk_trial_t *trial = (rfk_trial_t *)zlistx_first (ended); trial;
         trial = (rfk_trial_t *)zlistx_next (ended)) {
        json_t *event = json_object ();
        json_object_set_new (event, "trial_id", json_string (trial->id));
        json_object_set_new (event, "job", json_string (train_job_id));
        json_object_set_new (event, "sub_train_job_id", json_string (trial->sub_train_job_id));
        json_object_set_new (event, "trial_no", json_integer (trial->no));
        json_object_set_new (event, "status",
                             json_string (rfk_trial_status_name (RFK_TRIAL_ERRORED)));
        json_object_set_new (event, "error", json_string (reason));
        rfk_admin_publish (self, "trial", trial->id, "TrialUpdate", event);
    }
}

void
rfk_admin_stop_train_job (rfk_admin_t *self, const char *train_job_id, const char *reason)
{
    rfk_train_job_t *job = rfk_store_get_train_job (self->store, train_job_id);
    if (!job)
        return;
    //  Stop its services first, then record the states: the sub train jobs,
    //  the open trials and the job, written together.
    rfk_admin_stop_services (
        self, &(rfk_admin_services_of_t){.job_id = train_job_id, .job_ended = true}, reason);
    rfk_status_change_t changes[job->sub_train_job_count + 1];
    size_t count = 0;
    for (size_t index = 0; index < job->sub_train_job_count; index++)
        if (!rfk_job_status_is_final (job->sub_train_jobs[index].status))
            changes[count++] = (rfk_status_change_t){.of = RFK_STATUS_OF_SUB_TRAIN_JOB,
                                                     .id = job->sub_train_jobs[index].id,
                                                     .status.job = RFK_JOB_STOPPED};
    bool job_live = !rfk_job_status_is_final (job->status);
    if (job_live)
        changes[count++] = (rfk_status_change_t){
            .of = RFK_STATUS_OF_TRAIN_JOB, .id = job->id, .status.job = RFK_JOB_STOPPED};
    zlistx_t *ended = s_end_open_trials (self, job->id, reason);
    int rc = rfk_store_set_statuses (self->store, changes, count);
    if (zlistx_size (ended) > 0)
        rc = rc == 0 ? rfk_store_commit (self->store) : (rfk_store_rollback (self->store), -1);
    if (rc != 0) {
        rfk_log_warning (RFK_ADMIN_LOG, "RFK-STORE doing=\"stopping train job %s\" message=\"%s\"",
                         job->id, rfk_store_message (self->store));
        zlistx_purge (ended);
    }
    for (size_t index = 0; index < count - job_live; index++)
        rfk_admin_publish_job (self, "TRAIN", job->id, job->app, job->app_version, RFK_JOB_STOPPED,
                               changes[index].id);
    s_publish_ended_trials (self, job->id, ended, reason);
    zlistx_destroy (&ended);
    if (job_live) {
        rfk_admin_publish_job (self, "TRAIN", job->id, job->app, job->app_version, RFK_JOB_STOPPED,
                               NULL);
        rfk_log_info (RFK_ADMIN_LOG, "train-job-stopped id=%s reason=\"%s\"", job->id, reason);
    }
    rfk_train_job_destroy (&job);
}

void
rfk_admin_stop_inference_job (rfk_admin_t *self, const char *inference_job_id, const char *reason)
{
    rfk_inference_job_t *job = rfk_store_get_inference_job (self->store, inference_job_id);
    if (!job)
        return;
    rfk_admin_stop_services (
        self, &(rfk_admin_services_of_t){.job_id = inference_job_id, .job_ended = true}, reason);
    if (!rfk_job_status_is_final (job->status)) {
        rfk_store_update_inference_job_status (self->store, job->id, RFK_JOB_STOPPED);
        rfk_admin_publish_job (self, "INFERENCE", job->id, NULL, 0, RFK_JOB_STOPPED, NULL);
        rfk_log_info (RFK_ADMIN_LOG, "inference-job-stopped id=%s reason=\"%s\"", job->id, reason);
    }
    rfk_inference_job_destroy (&job);
}
