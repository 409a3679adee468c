/*  rfk_admin_recover.c: what admin finds in the store when it starts.

    Services and jobs a previous run left live are ERRORED (with their open
    trials); under the swarm launcher, services still live in the store are
    tracked again for the launcher to adopt, and their jobs stay live.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <string.h>

static char *
s_dup (const char *text)
{
    return text ? strdup (text) : NULL;
}

/* Under swarm: track a service the store holds as live, with its job, so that
   the launcher adopts it (rfk_admin_swarm.c). Returns 0 when tracked. */
static int
s_adopt (rfk_admin_t *self, const rfk_service_t *service, zlistx_t *train_jobs,
         zlistx_t *inference_jobs)
{
    if (!service->container_manager_type || !streq (service->container_manager_type, "swarm"))
        return -1;
    const char *role = rfk_admin_role_of (service->service_type);
    rfk_admin_service_t *tracked = NULL;
    if (streq (role, "advisor") || streq (role, "trainer")) {
        char *sub_id = NULL;
        if (streq (role, "trainer")) {
            rfk_train_job_worker_t *worker =
                rfk_store_get_train_job_worker (self->store, service->id);
            sub_id = worker ? s_dup (worker->sub_train_job_id) : NULL;
            rfk_train_job_worker_destroy (&worker);
        }
        for (rfk_train_job_t *job = (rfk_train_job_t *)zlistx_first (train_jobs); job && !tracked;
             job = (rfk_train_job_t *)zlistx_next (train_jobs))
            for (size_t index = 0; index < job->sub_train_job_count && !tracked; index++) {
                rfk_sub_train_job_t *sub = &job->sub_train_jobs[index];
                if (sub_id
                        ? streq (sub_id, sub->id)
                        : (sub->advisor_service_id && streq (sub->advisor_service_id, service->id)))
                    tracked =
                        rfk_admin_track (self, service->id, role, job->id, sub->id, NULL, NULL);
            }
        free (sub_id);
    } else
        for (rfk_inference_job_t *job = (rfk_inference_job_t *)zlistx_first (inference_jobs);
             job && !tracked; job = (rfk_inference_job_t *)zlistx_next (inference_jobs)) {
            if (job->predictor_service_id && streq (job->predictor_service_id, service->id))
                tracked = rfk_admin_track (self, service->id, role, NULL, NULL, job->id, NULL);
            for (size_t index = 0; index < job->worker_count && !tracked; index++)
                if (job->workers[index].service_id &&
                    streq (job->workers[index].service_id, service->id))
                    tracked = rfk_admin_track (self, service->id, role, NULL, NULL, job->id,
                                               job->workers[index].trial_id);
        }
    if (!tracked)
        return -1;
    tracked->status = service->status;
    //  A provider that reported RUNNING started its dependents already.
    tracked->deps_launched = service->status == RFK_SERVICE_RUNNING;
    rfk_log_info (RFK_ADMIN_LOG, "service-adopting id=%s role=%s status=%s", service->id, role,
                  rfk_service_status_name (service->status));
    return 0;
}

/* Under swarm: true when a service of this job is tracked (adopted). */
static bool
s_job_adopted (rfk_admin_t *self, const char *job_id)
{
    for (rfk_admin_service_t *service = (rfk_admin_service_t *)zhashx_first (self->services);
         service; service = (rfk_admin_service_t *)zhashx_next (self->services))
        if ((service->train_job_id && streq (service->train_job_id, job_id)) ||
            (service->inference_job_id && streq (service->inference_job_id, job_id)))
            return true;
    return false;
}

void
rfk_admin_recover (rfk_admin_t *self)
{
    const char *reason = "admin stopped while it ran";
    zlistx_t *services = rfk_store_list_services (self->store, true, NULL);
    zlistx_t *live_train =
        self->swarm ? rfk_store_list_train_jobs (self->store, NULL, NULL, true, NULL) : NULL;
    zlistx_t *live_inference =
        self->swarm ? rfk_store_list_inference_jobs (self->store, NULL, true, NULL) : NULL;
    size_t n_services = 0;
    for (rfk_service_t *service = services ? (rfk_service_t *)zlistx_first (services) : NULL;
         service; service = (rfk_service_t *)zlistx_next (services)) {
        if (self->swarm && live_train && live_inference &&
            s_adopt (self, service, live_train, live_inference) == 0)
            continue;
        rfk_store_update_service_status (self->store, service->id, RFK_SERVICE_ERRORED);
        n_services++;
    }
    zlistx_destroy (&live_train);
    zlistx_destroy (&live_inference);
    zlistx_destroy (&services);
    zlistx_t *jobs = rfk_store_list_train_jobs (self->store, NULL, NULL, true, NULL);
    for (rfk_train_job_t *job = jobs ? (rfk_train_job_t *)zlistx_first (jobs) : NULL; job;
         job = (rfk_train_job_t *)zlistx_next (jobs)) {
        if (self->swarm && s_job_adopted (self, job->id))
            continue;
        for (size_t index = 0; index < job->sub_train_job_count; index++)
            if (!rfk_job_status_is_final (job->sub_train_jobs[index].status))
                rfk_store_update_sub_train_job_status (self->store, job->sub_train_jobs[index].id,
                                                       RFK_JOB_ERRORED);
        zlistx_t *trials =
            rfk_store_list_trials (self->store, job->id, NULL, RFK_TRIALS_BY_NO, NULL);
        for (rfk_trial_t *trial = trials ? (rfk_trial_t *)zlistx_first (trials) : NULL; trial;
             trial = (rfk_trial_t *)zlistx_next (trials))
            if (trial->status == RFK_TRIAL_PENDING || trial->status == RFK_TRIAL_RUNNING) {
                trial->status = RFK_TRIAL_ERRORED;
                if (!json_is_object (trial->progress)) {
                    json_decref (trial->progress);
                    trial->progress = json_object ();
                }
                json_object_set_new (trial->progress, "error", json_string (reason));
                rfk_store_update_trial (self->store, trial);
            }
        zlistx_destroy (&trials);
        rfk_store_update_train_job_status (self->store, job->id, RFK_JOB_ERRORED);
        rfk_log_warning (RFK_ADMIN_LOG, "train-job-recovered id=%s status=ERRORED reason=\"%s\"",
                         job->id, reason);
    }
    zlistx_destroy (&jobs);
    zlistx_t *inference = rfk_store_list_inference_jobs (self->store, NULL, true, NULL);
    for (rfk_inference_job_t *job = inference ? (rfk_inference_job_t *)zlistx_first (inference)
                                              : NULL;
         job; job = (rfk_inference_job_t *)zlistx_next (inference)) {
        if (self->swarm && s_job_adopted (self, job->id))
            continue;
        rfk_store_update_inference_job_status (self->store, job->id, RFK_JOB_ERRORED);
        rfk_log_warning (RFK_ADMIN_LOG, "inference-job-recovered id=%s status=ERRORED", job->id);
    }
    zlistx_destroy (&inference);
    if (n_services)
        rfk_log_warning (RFK_ADMIN_LOG, "services-recovered count=%zu status=ERRORED reason=\"%s\"",
                         n_services, reason);
}
