/*  rfk_admin_recover.c: what admin finds in the store when it starts, and
    the services it adopts from the admin before it (one path for both
    launchers).

    A service the store holds as live is adopted when it can still be
    running: under swarm, any (the launcher asks Docker); under the local
    launcher, one with a recorded process, which the launcher takes only if
    that pid is alive with the start time recorded (/proc/<pid>/stat field
    22: a later process that got the same pid is not it); one it cannot take
    is ERRORED "lost while admin was away" through its job's roll-up. Those
    with no process recorded are ERRORED, and so are the jobs none of whose
    services was adopted, with their open trials. An adopted service is tracked again (its job stays
   live), handed to the launcher (rfk_admin_adopt_local, or swarm's adopt list), and must say Hello
   again within three heartbeat timeouts: the jobs of those that do not are stopped
   (rfk_admin_adopted_tick). Its Hello finds it tracked, so admin rebuilds its view from the Hellos
   plus the store.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <string.h>

static char *
s_dup (const char *text)
{
    return text ? strdup (text) : NULL;
}

/* Whether a service the store holds as live may still run, for this
   launcher. */
static bool
s_adoptable (rfk_admin_t *self, const rfk_service_t *service)
{
    const char *manager = service->container_manager_type;
    if (self->swarm)
        return manager && streq (manager, "swarm");
    if (!manager || !streq (manager, "local"))
        return false;
    //  With a process recorded it is tracked with its job: the launcher then
    //  takes it if that pid still is it (rfk_admin_adopt_local), and one that
    //  is gone is ERRORED through its job's roll-up like any failure.
    return service->pid > 0 && service->pid_start_time > 0;
}

/* Track a service the store holds as live, with its job, so that the
   launcher adopts it. Returns 0 when tracked. */
static int
s_adopt (rfk_admin_t *self, const rfk_service_t *service, zlistx_t *train_jobs,
         zlistx_t *inference_jobs)
{
    if (!s_adoptable (self, service))
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

/* True when a service of this job is tracked (adopted). */
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

/* The services the store holds as live: adopted (tracked) or ERRORED. */
static void
s_recover_services (rfk_admin_t *self)
{
    zlistx_t *services = rfk_store_list_services (self->store, true, NULL);
    zlistx_t *live_train = rfk_store_list_train_jobs (self->store, NULL, NULL, true, NULL);
    zlistx_t *live_inference = rfk_store_list_inference_jobs (self->store, NULL, true, NULL);
    size_t n_services = 0;
    for (rfk_service_t *service = services ? (rfk_service_t *)zlistx_first (services) : NULL;
         service; service = (rfk_service_t *)zlistx_next (services)) {
        if (live_train && live_inference &&
            s_adopt (self, service, live_train, live_inference) == 0)
            continue;
        rfk_store_update_service_status (self->store, service->id, RFK_SERVICE_ERRORED);
        rfk_log_warning (RFK_ADMIN_LOG,
                         "service-recovered id=%s status=ERRORED reason=\"admin stopped while it "
                         "ran\"",
                         service->id);
        n_services++;
    }
    if (n_services)
        rfk_log_warning (RFK_ADMIN_LOG, "services-recovered count=%zu status=ERRORED", n_services);
    zlistx_destroy (&live_train);
    zlistx_destroy (&live_inference);
    zlistx_destroy (&services);
}

void
rfk_admin_recover (rfk_admin_t *self)
{
    const char *reason = "admin stopped while it ran";
    s_recover_services (self);
    zlistx_t *jobs = rfk_store_list_train_jobs (self->store, NULL, NULL, true, NULL);
    for (rfk_train_job_t *job = jobs ? (rfk_train_job_t *)zlistx_first (jobs) : NULL; job;
         job = (rfk_train_job_t *)zlistx_next (jobs)) {
        if (s_job_adopted (self, job->id))
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
        if (s_job_adopted (self, job->id))
            continue;
        rfk_store_update_inference_job_status (self->store, job->id, RFK_JOB_ERRORED);
        rfk_log_warning (RFK_ADMIN_LOG, "inference-job-recovered id=%s status=ERRORED", job->id);
    }
    zlistx_destroy (&inference);
    //  Those tracked now are adopted: they must say Hello again.
    self->adopted = zlistx_new ();
    zlistx_set_destructor (self->adopted, (czmq_destructor *)zstr_free);
    for (rfk_admin_service_t *service = (rfk_admin_service_t *)zhashx_first (self->services);
         service; service = (rfk_admin_service_t *)zhashx_next (self->services))
        zlistx_add_end (self->adopted, strdup (service->id));
    //  A service notices admin's silence (one heartbeat timeout), reconnects,
    //  makes its CURVE handshake and says Hello: give it five timeouts, and
    //  never less than 10 s (a loaded machine, short test timeouts). Under
    //  swarm, twelve and never less than 60 s: the new container has a new
    //  address, which the services' connections find only once the old one
    //  timed out and the service name resolves to it (about 25 s after
    //  admin answered, on a loaded machine in the chaos-swarm test); a job
    //  stopped for a late Hello is a high price for a short wait.
    int64_t wait_ms = (self->swarm ? 12 : 5) * (int64_t)self->bus.heartbeat_timeout_ms;
    int64_t least_ms = self->swarm ? 60000 : 10000;
    self->hello_deadline = zlistx_size (self->adopted)
                               ? zclock_mono () + (wait_ms < least_ms ? least_ms : wait_ms)
                               : -1;
}

void
rfk_admin_adopt_local (rfk_admin_t *self)
{
    if (self->swarm || !self->adopted)
        return;
    //  Every live one goes to the launcher first: a lost one's roll-up may
    //  stop the others of its job, which the launcher must hold by then.
    zhashx_t *lost = zhashx_new ();
    zhashx_set_destructor (lost, (czmq_destructor *)zstr_free);
    for (char *id = (char *)zlistx_first (self->adopted); id;
         id = (char *)zlistx_next (self->adopted)) {
        rfk_admin_service_t *service = (rfk_admin_service_t *)zhashx_lookup (self->services, id);
        rfk_service_t *stored = service ? rfk_store_get_service (self->store, id) : NULL;
        if (stored && rfk_launcher_adopt (self->launcher, id, service->role, (int)stored->pid,
                                          stored->pid_start_time) == 0)
            rfk_log_info (RFK_ADMIN_LOG, "service-adopted id=%s role=%s pid=%lld", id,
                          service->role, (long long)stored->pid);
        else if (service)
            zhashx_insert (lost, id,
                           zsys_sprintf ("lost while admin was away: %s",
                                         rfk_launcher_error (self->launcher)));
        rfk_service_destroy (&stored);
    }
    for (char *reason = (char *)zhashx_first (lost); reason; reason = (char *)zhashx_next (lost)) {
        const char *id = (const char *)zhashx_cursor (lost);
        rfk_log_warning (RFK_ADMIN_LOG, "service-adopt-failed id=%s reason=\"%s\"", id, reason);
        rfk_admin_set_service_status (self, id, RFK_SERVICE_ERRORED, reason);
    }
    zhashx_destroy (&lost);
}

int64_t
rfk_admin_adopted_deadline (rfk_admin_t *self)
{
    return self->hello_deadline;
}

void
rfk_admin_adopted_forget (rfk_admin_t *self, const char *service_id)
{
    if (!self->adopted || !service_id)
        return;
    for (char *id = (char *)zlistx_first (self->adopted); id;
         id = (char *)zlistx_next (self->adopted))
        if (streq (id, service_id)) {
            zlistx_delete (self->adopted, zlistx_cursor (self->adopted));
            return;
        }
}

void
rfk_admin_adopted_tick (rfk_admin_t *self, int64_t now)
{
    if (self->hello_deadline < 0 || now < self->hello_deadline || !self->adopted)
        return;
    self->hello_deadline = -1;
    //  The jobs of adopted services still live that never said Hello again.
    zlistx_t *train_jobs = zlistx_new ();
    zlistx_t *inference_jobs = zlistx_new ();
    zlistx_set_destructor (train_jobs, (czmq_destructor *)zstr_free);
    zlistx_set_destructor (inference_jobs, (czmq_destructor *)zstr_free);
    zlistx_set_duplicator (train_jobs, (czmq_duplicator *)strdup);
    zlistx_set_duplicator (inference_jobs, (czmq_duplicator *)strdup);
    zlistx_set_comparator (train_jobs, (czmq_comparator *)strcmp);
    zlistx_set_comparator (inference_jobs, (czmq_comparator *)strcmp);
    for (char *id = (char *)zlistx_first (self->adopted); id;
         id = (char *)zlistx_next (self->adopted)) {
        rfk_admin_service_t *service = (rfk_admin_service_t *)zhashx_lookup (self->services, id);
        if (!service || service->peer || rfk_service_status_is_final (service->status))
            continue;
        rfk_log_warning (RFK_ADMIN_LOG, "service-adopted-silent id=%s role=%s", id, service->role);
        if (service->train_job_id && !zlistx_find (train_jobs, service->train_job_id))
            zlistx_add_end (train_jobs, service->train_job_id);
        if (service->inference_job_id && !zlistx_find (inference_jobs, service->inference_job_id))
            zlistx_add_end (inference_jobs, service->inference_job_id);
    }
    const char *reason = "admin restarted while it ran and its services did not say Hello again";
    for (char *id = (char *)zlistx_first (train_jobs); id; id = (char *)zlistx_next (train_jobs))
        rfk_admin_stop_train_job (self, id, reason);
    for (char *id = (char *)zlistx_first (inference_jobs); id;
         id = (char *)zlistx_next (inference_jobs))
        rfk_admin_stop_inference_job (self, id, reason);
    zlistx_destroy (&train_jobs);
    zlistx_destroy (&inference_jobs);
    zlistx_purge (self->adopted);
}
