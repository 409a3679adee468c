/*  rfk_admin_services.c: the dynamic services admin launches and tracks.

    Each service is a store row (with the hash of its per-service secret)
    and a child the launcher runs as `rafikid <role> --service-id <id>`, the
    secret handed over through RAFIKI_SECRET_FD, admin's service endpoint and
    the relevant configuration in its environment (RAFIKI_ADMIN_HOST,
    RAFIKI_ADMIN_SERVICE_PORT, RAFIKI_BUS_*, RAFIKI_TRAINER_*, ...).

    On the ROUTER `service` (service family):
    - Hello {service_id, secret} -> ServiceConfig (everything the worker
      needs: paths, job, model, endpoints, limits) or Error UNAUTHORIZED;
    - StatusReport -> Ack; TrialCreate -> TrialCreated; TrialStarted,
      TrialFinished, TrialLog, TrialMetrics, TrialPlot, SubTrainJobDone -> Ack.
      Every one of them must come from a peer that said Hello, about its own
      service and the trials of its own sub train job (FORBIDDEN otherwise);
    - admin sends Stop {reason} to a service it stops; the Ack is dropped.

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
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

bool
rfk_admin_status_terminal (const char *status)
{
    return status && (streq (status, "STOPPED") || streq (status, "ERRORED"));
}

int
rfk_admin_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    int port = 0;
    if (bind (fd, (struct sockaddr *)&address, sizeof address) == 0 &&
        getsockname (fd, (struct sockaddr *)&address, &length) == 0)
        port = ntohs (address.sin_port);
    close (fd);
    return port;
}

void
rfk_admin_service_destroy (rfk_admin_service_t **self_p)
{
    rfk_admin_service_t *self = *self_p;
    if (!self)
        return;
    free (self->id);
    free (self->role);
    free (self->service_type);
    free (self->status);
    free (self->train_job_id);
    free (self->sub_train_job_id);
    free (self->inference_job_id);
    free (self->trial_id);
    zframe_destroy (&self->peer);
    free (self);
    *self_p = NULL;
}

static char *
s_dup (const char *text)
{
    return text ? strdup (text) : NULL;
}

static const char *
s_service_type_of (const char *role)
{
    if (streq (role, "advisor"))
        return "ADVISOR";
    if (streq (role, "trainer"))
        return "TRAIN";
    if (streq (role, "predictor"))
        return "PREDICT";
    return "INFERENCE";
}

static const char *
s_role_of (const char *service_type)
{
    if (!service_type)
        return "?";
    if (streq (service_type, "ADVISOR"))
        return "advisor";
    if (streq (service_type, "TRAIN"))
        return "trainer";
    if (streq (service_type, "PREDICT"))
        return "predictor";
    return "inference";
}

static rfk_admin_service_t *
s_track (rfk_admin_t *self, const char *id, const char *role, const char *train_job_id,
         const char *sub_train_job_id, const char *inference_job_id, const char *trial_id)
{
    rfk_admin_service_t *service = (rfk_admin_service_t *)calloc (1, sizeof *service);
    if (!service)
        return NULL;
    service->id = strdup (id);
    service->role = strdup (role);
    service->service_type = strdup (s_service_type_of (role));
    service->status = strdup ("STARTED");
    service->train_job_id = s_dup (train_job_id);
    service->sub_train_job_id = s_dup (sub_train_job_id);
    service->inference_job_id = s_dup (inference_job_id);
    service->trial_id = s_dup (trial_id);
    zhashx_update (self->services, id, service);
    return service;
}

/* The environment a service gets from admin (besides the launcher's own). */
static char **
s_service_env (rfk_admin_t *self)
{
    static const struct {
        const char *section, *key;
    } keys[] = {
        {"bus", "sndhwm"},
        {"bus", "rcvhwm"},
        {"bus", "heartbeat_interval_ms"},
        {"bus", "heartbeat_timeout_ms"},
        {"bus", "request_timeout_ms"},
        {"bus", "request_retries"},
        {"trainer", "memory_limit_mb"},
        {"trainer", "cpu_limit_s"},
        {"trainer", "trial_timeout_s"},
        {"predictor", "max_batch"},
        {"predictor", "batch_window_us"},
        {"predictor", "deadline_ms"},
        {"predictor", "max_inflight"},
        {"", "stop_timeout_ms"},
    };
    size_t n_keys = sizeof keys / sizeof keys[0];
    char **env = (char **)calloc (n_keys + 8, sizeof (char *));
    if (!env)
        return NULL;
    size_t at = 0;
    //  Under swarm the launcher names admin (swarm.admin_host) itself.
    if (!self->swarm) {
        env[at++] = zsys_sprintf ("RAFIKI_ADMIN_HOST=%s", self->connect_host);
        const char *endpoint = rfk_server_endpoint (self->service);
        const char *colon = endpoint ? strrchr (endpoint, ':') : NULL;
        env[at++] = zsys_sprintf ("RAFIKI_ADMIN_SERVICE_PORT=%s", colon ? colon + 1 : "0");
    }
    env[at++] = zsys_sprintf ("RAFIKI_BUS_MAX_FRAME_BYTES=%llu",
                              (unsigned long long)self->bus.max_frame_bytes);
    env[at++] =
        zsys_sprintf ("RAFIKI_LOG_LEVEL=%s", rfk_config_string (self->config, "", "log_level"));
    for (size_t index = 0; index < n_keys; index++) {
        char name[128];
        snprintf (name, sizeof name, "RAFIKI_%s%s%s", keys[index].section,
                  *keys[index].section ? "_" : "", keys[index].key);
        for (char *c = name; *c; c++)
            *c = (char)toupper ((unsigned char)*c);
        env[at++] = zsys_sprintf (
            "%s=%lld", name,
            (long long)rfk_config_int (self->config, keys[index].section, keys[index].key));
    }
    env[at] = NULL;
    return env;
}

static void
s_env_free (char **env)
{
    for (size_t index = 0; env && env[index]; index++)
        zstr_free (&env[index]);
    free (env);
}

/* Under swarm: the image of the model a service runs (NULL: the default)
   and the predictor's HTTP port, published in host mode. */
static char *
s_swarm_spec (rfk_admin_t *self, rfk_admin_service_t *service, int *published_port)
{
    char *model_id = NULL;
    if (service->sub_train_job_id) {
        rfk_sub_train_job_t *sub =
            rfk_store_get_sub_train_job (self->store, service->sub_train_job_id);
        model_id = sub ? s_dup (sub->model_id) : NULL;
        rfk_sub_train_job_destroy (&sub);
    } else if (service->trial_id) {
        rfk_trial_t *trial = rfk_store_get_trial (self->store, service->trial_id);
        model_id = trial ? s_dup (trial->model_id) : NULL;
        rfk_trial_destroy (&trial);
    }
    rfk_model_t *model = model_id ? rfk_store_get_model (self->store, model_id) : NULL;
    char *image =
        model && model->docker_image && *model->docker_image ? strdup (model->docker_image) : NULL;
    rfk_model_destroy (&model);
    free (model_id);
    if (streq (service->role, "predictor")) {
        rfk_service_t *stored = rfk_store_get_service (self->store, service->id);
        json_t *port = stored ? json_object_get (stored->service_info, "http_port") : NULL;
        *published_port = json_is_integer (port) ? (int)json_integer_value (port) : 0;
        rfk_service_destroy (&stored);
    }
    return image;
}

/* Start a tracked service's process; a failure makes it ERRORED. */
static void
s_launch (rfk_admin_t *self, rfk_admin_service_t *service, const char *secret)
{
    char **env = s_service_env (self);
    int published_port = 0;
    char *image = self->swarm ? s_swarm_spec (self, service, &published_port) : NULL;
    rfk_launcher_spec_t spec = {
        .id = service->id,
        .role = service->role,
        .secret = secret,
        .data_dir = self->data_dir,
        .env = (const char *const *)env,
        .image = image,
        .published_port = published_port,
    };
    char *id = strdup (service->id);
    if (rfk_launcher_start (self->launcher, &spec) != 0) {
        char reason[400];
        snprintf (reason, sizeof reason, "cannot start: %s", rfk_launcher_error (self->launcher));
        rfk_log_warning (RFK_ADMIN_LOG, "service-start-failed id=%s role=%s reason=\"%s\"", id,
                         spec.role, reason);
        rfk_admin_set_service_status (self, id, "ERRORED", reason);
    } else
        rfk_log_info (RFK_ADMIN_LOG, "service-started id=%s role=%s", id, spec.role);
    free (id);
    free (image);
    s_env_free (env);
}

char *
rfk_admin_launch_train_service (rfk_admin_t *self, const char *role, const char *train_job_id,
                                const char *sub_train_job_id, const char *endpoint, int port)
{
    char *secret = rfk_auth_secret_new ();
    char hash[RFK_AUTH_SECRET_HASH_LEN + 1];
    if (!secret || rfk_auth_secret_hash (self->auth, secret, hash) != 0) {
        free (secret);
        return NULL;
    }
    bool advisor = streq (role, "advisor");
    json_t *info = json_pack ("{s:s, s:s}", "role", role, "endpoint", endpoint);
    rfk_service_t record = {
        .service_type = (char *)s_service_type_of (role),
        .status = "STARTED",
        .container_manager_type = (char *)rfk_launcher_backend_name (self->launcher),
        .replicas = 1,
        .hostname = "127.0.0.1",
        .port = advisor ? port : 0,
        .secret_hash = hash,
        .service_info = info,
    };
    rfk_service_t *stored =
        advisor ? rfk_store_create_advisor (self->store, sub_train_job_id, &record)
                : rfk_store_create_train_job_worker (self->store, sub_train_job_id, &record);
    json_decref (info);
    char *id = NULL;
    if (!stored)
        rfk_log_warning (RFK_ADMIN_LOG,
                         "service-store-failed role=%s sub-train-job=%s reason=\"%s\"", role,
                         sub_train_job_id, rfk_store_message (self->store));
    else {
        id = strdup (stored->id);
        rfk_admin_service_t *service =
            s_track (self, stored->id, role, train_job_id, sub_train_job_id, NULL, NULL);
        if (service)
            s_launch (self, service, secret);
    }
    rfk_service_destroy (&stored);
    sodium_memzero (secret, strlen (secret));
    free (secret);
    return id;
}

void
rfk_admin_launch_stored_service (rfk_admin_t *self, const char *service_id, const char *role,
                                 const char *secret, const char *train_job_id,
                                 const char *sub_train_job_id, const char *inference_job_id,
                                 const char *trial_id)
{
    if (!service_id)
        return;
    rfk_admin_service_t *service = s_track (self, service_id, role, train_job_id, sub_train_job_id,
                                            inference_job_id, trial_id);
    if (service)
        s_launch (self, service, secret);
}

void
rfk_admin_stop_service (rfk_admin_t *self, const char *service_id, const char *reason)
{
    rfk_admin_service_t *service =
        (rfk_admin_service_t *)zhashx_lookup (self->services, service_id);
    if (!service)
        return;
    if (service->peer) {
        rfk_msg_t *stop = rfk_msg_new (&rfk_service_family, "Stop", 0);
        json_object_set_new (stop->body, "reason", json_string (reason));
        rfk_server_send (self->service, service->peer, stop);
        rfk_msg_destroy (&stop);
    }
    //  SIGTERM now, SIGKILL after the launcher's grace; its STOPPED event
    //  records the end (and may come at once, freeing `service`).
    char *id = strdup (service_id);
    if (rfk_launcher_stop (self->launcher, id) != 0)
        rfk_admin_set_service_status (self, id, "STOPPED", reason);
    free (id);
}

/* ---- roll-ups ------------------------------------------------------------ */

static void
s_publish_job (rfk_admin_t *self, const char *kind, const char *id, const char *app,
               int64_t version, const char *status, const char *sub_id)
{
    json_t *body = json_object ();
    json_object_set_new (body, "kind", json_string (kind));
    json_object_set_new (body, "id", json_string (id));
    if (app)
        json_object_set_new (body, "app", json_string (app));
    if (version > 0)
        json_object_set_new (body, "app_version", json_integer (version));
    json_object_set_new (body, "status", json_string (status));
    if (sub_id)
        json_object_set_new (body, "sub_train_job_id", json_string (sub_id));
    rfk_admin_publish (self, "job", id, "JobStatus", body);
}

/* Count the statuses of a set of services (by store id). */
typedef struct {
    size_t total, errored, stopped, running;
} s_tally_t;

static void
s_tally_add (rfk_admin_t *self, s_tally_t *tally, const char *service_id)
{
    if (!service_id)
        return;
    rfk_service_t *service = rfk_store_get_service (self->store, service_id);
    tally->total++;
    const char *status = service && service->status ? service->status : "ERRORED";
    if (streq (status, "ERRORED"))
        tally->errored++;
    else if (streq (status, "STOPPED"))
        tally->stopped++;
    else if (streq (status, "RUNNING"))
        tally->running++;
    rfk_service_destroy (&service);
}

/* Stop every tracked service of a sub train job or inference job. */
static void
s_stop_services_of (rfk_admin_t *self, const char *sub_train_job_id, const char *inference_job_id,
                    const char *reason)
{
    zlistx_t *ids = zlistx_new ();
    zlistx_set_destructor (ids, (czmq_destructor *)zstr_free);
    for (rfk_admin_service_t *service = (rfk_admin_service_t *)zhashx_first (self->services);
         service; service = (rfk_admin_service_t *)zhashx_next (self->services))
        if ((sub_train_job_id && service->sub_train_job_id &&
             streq (service->sub_train_job_id, sub_train_job_id)) ||
            (inference_job_id && service->inference_job_id &&
             streq (service->inference_job_id, inference_job_id)))
            if (!rfk_admin_status_terminal (service->status))
                zlistx_add_end (ids, strdup (service->id));
    for (char *id = (char *)zlistx_first (ids); id; id = (char *)zlistx_next (ids))
        rfk_admin_stop_service (self, id, reason);
    zlistx_destroy (&ids);
}

void
rfk_admin_rollup_sub_train_job (rfk_admin_t *self, const char *sub_train_job_id)
{
    rfk_sub_train_job_t *sub = rfk_store_get_sub_train_job (self->store, sub_train_job_id);
    if (!sub)
        return;
    if (rfk_admin_status_terminal (sub->status)) {
        rfk_sub_train_job_destroy (&sub);
        return;
    }
    s_tally_t tally = {0};
    s_tally_add (self, &tally, sub->advisor_service_id);
    zlistx_t *workers = rfk_store_list_train_job_workers (self->store, sub->id);
    for (void *item = workers ? zlistx_first (workers) : NULL; item; item = zlistx_next (workers)) {
        //  The trainers' services.
        s_tally_add (self, &tally, ((rfk_service_t *)item)->id);
    }
    zlistx_destroy (&workers);
    const char *status = sub->status;
    if (tally.errored)
        status = "ERRORED";
    else if (tally.total && tally.stopped == tally.total)
        status = "STOPPED";
    else if (tally.running)
        status = "RUNNING";
    if (!streq (status, sub->status)) {
        rfk_store_update_sub_train_job_status (self->store, sub->id, status);
        rfk_train_job_t *job = rfk_store_get_train_job (self->store, sub->train_job_id);
        s_publish_job (self, "TRAIN", sub->train_job_id, job ? job->app : NULL,
                       job ? job->app_version : 0, status, sub->id);
        rfk_log_info (RFK_ADMIN_LOG, "sub-train-job-status id=%s status=%s", sub->id, status);
        rfk_train_job_destroy (&job);
        if (streq (status, "ERRORED"))
            s_stop_services_of (self, sub->id, NULL, "another service of its model failed");
        rfk_admin_rollup_train_job (self, sub->train_job_id);
    }
    rfk_sub_train_job_destroy (&sub);
}

void
rfk_admin_rollup_train_job (rfk_admin_t *self, const char *train_job_id)
{
    rfk_train_job_t *job = rfk_store_get_train_job (self->store, train_job_id);
    if (!job)
        return;
    if (rfk_admin_status_terminal (job->status)) {
        rfk_train_job_destroy (&job);
        return;
    }
    size_t final = 0, errored = 0, running = 0;
    for (size_t index = 0; index < job->sub_train_job_count; index++) {
        const char *status = job->sub_train_jobs[index].status;
        if (rfk_admin_status_terminal (status))
            final++;
        if (status && streq (status, "ERRORED"))
            errored++;
        if (status && streq (status, "RUNNING"))
            running++;
    }
    const char *status = job->status;
    if (job->sub_train_job_count && final == job->sub_train_job_count)
        status = errored ? "ERRORED" : "STOPPED";
    else if (running)
        status = "RUNNING";
    if (!streq (status, job->status)) {
        rfk_store_update_train_job_status (self->store, job->id, status);
        s_publish_job (self, "TRAIN", job->id, job->app, job->app_version, status, NULL);
        rfk_log_info (RFK_ADMIN_LOG, "train-job-status id=%s status=%s", job->id, status);
    }
    rfk_train_job_destroy (&job);
}

void
rfk_admin_rollup_inference_job (rfk_admin_t *self, const char *inference_job_id)
{
    rfk_inference_job_t *job = rfk_store_get_inference_job (self->store, inference_job_id);
    if (!job)
        return;
    if (rfk_admin_status_terminal (job->status)) {
        rfk_inference_job_destroy (&job);
        return;
    }
    s_tally_t tally = {0};
    s_tally_add (self, &tally, job->predictor_service_id);
    for (size_t index = 0; index < job->worker_count; index++)
        s_tally_add (self, &tally, job->workers[index].service_id);
    const char *status = job->status;
    if (tally.errored)
        status = "ERRORED";
    else if (tally.total && tally.stopped == tally.total)
        status = "STOPPED";
    else if (tally.total && tally.running == tally.total)
        status = "RUNNING";
    if (!streq (status, job->status)) {
        rfk_store_update_inference_job_status (self->store, job->id, status);
        s_publish_job (self, "INFERENCE", job->id, NULL, 0, status, NULL);
        rfk_log_info (RFK_ADMIN_LOG, "inference-job-status id=%s status=%s", job->id, status);
        if (streq (status, "ERRORED"))
            s_stop_services_of (self, NULL, job->id, "another service of its job failed");
    }
    rfk_inference_job_destroy (&job);
}

void
rfk_admin_set_service_status (rfk_admin_t *self, const char *service_id_in, const char *status,
                              const char *message)
{
    //  The id may be the launcher's own string, or the tracked service's,
    //  both freed below.
    char service_id[RFK_LAUNCHER_ID_MAX + 1];
    snprintf (service_id, sizeof service_id, "%s", service_id_in);
    rfk_admin_service_t *service =
        (rfk_admin_service_t *)zhashx_lookup (self->services, service_id);
    rfk_service_t *stored = rfk_store_get_service (self->store, service_id);
    if (!stored)
        return;
    //  Final states stick.
    if (rfk_admin_status_terminal (stored->status) || streq (stored->status, status)) {
        rfk_service_destroy (&stored);
        return;
    }
    rfk_store_update_service_status (self->store, service_id, status);
    if (service) {
        free (service->status);
        service->status = strdup (status);
    }
    const char *job_id =
        service ? (service->train_job_id ? service->train_job_id : service->inference_job_id)
                : NULL;
    json_t *event = json_object ();
    json_object_set_new (event, "service_id", json_string (service_id));
    json_object_set_new (event, "service_type", json_string (stored->service_type));
    if (job_id)
        json_object_set_new (event, "job_id", json_string (job_id));
    json_object_set_new (event, "status", json_string (status));
    if (message && *message)
        json_object_set_new (event, "message", json_string (message));
    rfk_admin_publish (self, "service", service_id, "ServiceStatus", event);
    rfk_log_info (RFK_ADMIN_LOG, "service-status id=%s role=%s status=%s%s%s%s", service_id,
                  s_role_of (stored->service_type), status, message ? " message=\"" : "",
                  message ? message : "", message ? "\"" : "");
    rfk_service_destroy (&stored);
    if (!service)
        return;
    char *sub = s_dup (service->sub_train_job_id);
    char *inference = s_dup (service->inference_job_id);
    if (rfk_admin_status_terminal (status)) {
        //  Done with it: forget the peer and the launcher's record once it is gone.
        if (service->peer) {
            char *peer = zframe_strhex (service->peer);
            zhashx_delete (self->peers, peer);
            free (peer);
        }
        //  The launcher forgets it after this turn (never from inside its
        //  own event callback).
        zlistx_add_end (self->to_forget, service_id);
        zhashx_delete (self->services, service_id);
    }
    if (sub)
        rfk_admin_rollup_sub_train_job (self, sub);
    if (inference)
        rfk_admin_rollup_inference_job (self, inference);
    free (sub);
    free (inference);
}

void
rfk_admin_on_launcher_event (void *arg, const char *service_id, rfk_launcher_state_t state,
                             const char *reason)
{
    rfk_admin_t *self = (rfk_admin_t *)arg;
    rfk_admin_service_t *service =
        (rfk_admin_service_t *)zhashx_lookup (self->services, service_id);
    rfk_log_debug (RFK_ADMIN_LOG, "launcher-event id=%s state=%s reason=\"%s\"", service_id,
                   rfk_launcher_state_name (state), reason ? reason : "");
    switch (state) {
        case RFK_LAUNCHER_RUNNING:
            if (service && streq (service->status, "STARTED"))
                rfk_admin_set_service_status (self, service_id, "DEPLOYING", reason);
            break;
        case RFK_LAUNCHER_RESTARTING:
            //  It will say Hello again from a new process.
            if (service && service->peer) {
                char *peer = zframe_strhex (service->peer);
                zhashx_delete (self->peers, peer);
                free (peer);
                zframe_destroy (&service->peer);
            }
            if (service && streq (service->status, "RUNNING"))
                rfk_admin_set_service_status (self, service_id, "DEPLOYING", reason);
            break;
        case RFK_LAUNCHER_STOPPING:
            break;
        case RFK_LAUNCHER_STOPPED:
            rfk_admin_set_service_status (self, service_id, "STOPPED", reason);
            break;
        case RFK_LAUNCHER_ERRORED:
            rfk_admin_set_service_status (self, service_id, "ERRORED", reason);
            break;
    }
}

/* Under swarm: track a service the store holds as live, with its job, so that
   the launcher adopts it (rfk_admin_swarm.c). Returns 0 when tracked. */
static int
s_adopt (rfk_admin_t *self, const rfk_service_t *service, zlistx_t *train_jobs,
         zlistx_t *inference_jobs)
{
    if (!service->container_manager_type || !streq (service->container_manager_type, "swarm"))
        return -1;
    const char *role = s_role_of (service->service_type);
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
                    tracked = s_track (self, service->id, role, job->id, sub->id, NULL, NULL);
            }
        free (sub_id);
    } else
        for (rfk_inference_job_t *job = (rfk_inference_job_t *)zlistx_first (inference_jobs);
             job && !tracked; job = (rfk_inference_job_t *)zlistx_next (inference_jobs)) {
            if (job->predictor_service_id && streq (job->predictor_service_id, service->id))
                tracked = s_track (self, service->id, role, NULL, NULL, job->id, NULL);
            for (size_t index = 0; index < job->worker_count && !tracked; index++)
                if (job->workers[index].service_id &&
                    streq (job->workers[index].service_id, service->id))
                    tracked = s_track (self, service->id, role, NULL, NULL, job->id,
                                       job->workers[index].trial_id);
        }
    if (!tracked)
        return -1;
    free (tracked->status);
    tracked->status = strdup (service->status);
    rfk_log_info (RFK_ADMIN_LOG, "service-adopting id=%s role=%s status=%s", service->id, role,
                  service->status);
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
        rfk_store_update_service_status (self->store, service->id, "ERRORED");
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
            if (!rfk_admin_status_terminal (job->sub_train_jobs[index].status))
                rfk_store_update_sub_train_job_status (self->store, job->sub_train_jobs[index].id,
                                                       "ERRORED");
        zlistx_t *trials =
            rfk_store_list_trials (self->store, job->id, NULL, RFK_TRIALS_BY_NO, NULL);
        for (rfk_trial_t *trial = trials ? (rfk_trial_t *)zlistx_first (trials) : NULL; trial;
             trial = (rfk_trial_t *)zlistx_next (trials))
            if (trial->status &&
                (streq (trial->status, "PENDING") || streq (trial->status, "RUNNING"))) {
                free (trial->status);
                trial->status = strdup ("ERRORED");
                if (!json_is_object (trial->progress)) {
                    json_decref (trial->progress);
                    trial->progress = json_object ();
                }
                json_object_set_new (trial->progress, "error", json_string (reason));
                rfk_store_update_trial (self->store, trial);
            }
        zlistx_destroy (&trials);
        rfk_store_update_train_job_status (self->store, job->id, "ERRORED");
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
        rfk_store_update_inference_job_status (self->store, job->id, "ERRORED");
        rfk_log_warning (RFK_ADMIN_LOG, "inference-job-recovered id=%s status=ERRORED", job->id);
    }
    zlistx_destroy (&inference);
    if (n_services)
        rfk_log_warning (RFK_ADMIN_LOG, "services-recovered count=%zu status=ERRORED reason=\"%s\"",
                         n_services, reason);
}

/* ---- the service socket -------------------------------------------------- */

/* The tracked service of a peer that said Hello, or NULL (and an answer). */
static rfk_admin_service_t *
s_caller (rfk_admin_t *self, rfk_server_t *server, zframe_t *peer, const rfk_msg_t *msg)
{
    char *hex = zframe_strhex (peer);
    const char *id = hex ? (const char *)zhashx_lookup (self->peers, hex) : NULL;
    free (hex);
    rfk_admin_service_t *service =
        id ? (rfk_admin_service_t *)zhashx_lookup (self->services, id) : NULL;
    if (!service)
        rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_UNAUTHORIZED,
                               "say Hello with your service id and secret first");
    return service;
}

static int
s_ack (rfk_server_t *server, zframe_t *peer, const rfk_msg_t *msg)
{
    rfk_msg_t *ack = rfk_msg_new (&rfk_service_family, "Ack", msg->correlation);
    int rc = rfk_server_send (server, peer, ack);
    rfk_msg_destroy (&ack);
    return rc;
}

static const char *
s_str (const rfk_msg_t *msg, const char *key)
{
    const char *value = json_string_value (json_object_get (msg->body, key));
    return value && *value ? value : NULL;
}

/* The ServiceConfig body of a train-side service. */
static int
s_config_train (rfk_admin_t *self, rfk_admin_service_t *service, json_t *body, char *err,
                size_t errlen)
{
    rfk_sub_train_job_t *sub = rfk_store_get_sub_train_job (self->store, service->sub_train_job_id);
    rfk_train_job_t *job = sub ? rfk_store_get_train_job (self->store, sub->train_job_id) : NULL;
    rfk_model_t *model = sub ? rfk_store_get_model (self->store, sub->model_id) : NULL;
    rfk_dataset_t *train = job ? rfk_store_get_dataset (self->store, job->train_dataset_id) : NULL;
    rfk_dataset_t *val = job ? rfk_store_get_dataset (self->store, job->val_dataset_id) : NULL;
    rfk_service_t *advisor = sub && sub->advisor_service_id
                                 ? rfk_store_get_service (self->store, sub->advisor_service_id)
                                 : NULL;
    int rc = -1;
    if (!sub || !job || !model || !train || !val)
        snprintf (err, errlen, "the job, model or datasets of this service are gone");
    else {
        json_object_set_new (body, "task", json_string (job->task));
        json_object_set_new (body, "train_job_id", json_string (job->id));
        json_object_set_new (body, "sub_train_job_id", json_string (sub->id));
        json_object_set_new (body, "model_id", json_string (model->id));
        json_object_set_new (body, "model_name", json_string (model->name));
        char *path = rfk_admin_model_path (self, model);
        if (path)
            json_object_set_new (body, "model_path", json_string (path));
        free (path);
        path = rfk_admin_dataset_path (self, train);
        if (path)
            json_object_set_new (body, "train_dataset_path", json_string (path));
        free (path);
        path = rfk_admin_dataset_path (self, val);
        if (path)
            json_object_set_new (body, "val_dataset_path", json_string (path));
        free (path);
        if (json_is_object (job->train_args))
            json_object_set (body, "train_args", job->train_args);
        if (json_is_object (job->budget))
            json_object_set (body, "budget", job->budget);
        const char *endpoint =
            advisor ? json_string_value (json_object_get (advisor->service_info, "endpoint"))
                    : NULL;
        char mapped[400];
        rfk_admin_service_endpoint (self, endpoint, sub->advisor_service_id,
                                    streq (service->role, "advisor"), mapped, sizeof mapped);
        if (endpoint && streq (service->role, "advisor"))
            json_object_set_new (body, "bind_endpoints", json_pack ("[s]", mapped));
        else if (endpoint)
            json_object_set_new (body, "advisor_endpoint", json_string (mapped));
        rc = 0;
    }
    rfk_sub_train_job_destroy (&sub);
    rfk_train_job_destroy (&job);
    rfk_model_destroy (&model);
    rfk_dataset_destroy (&train);
    rfk_dataset_destroy (&val);
    rfk_service_destroy (&advisor);
    return rc;
}

/* A TrialToLoad entry for a trial (replicas as given). */
static json_t *
s_trial_to_load (rfk_admin_t *self, const char *trial_id, int64_t replicas)
{
    rfk_trial_t *trial = rfk_store_get_trial (self->store, trial_id);
    if (!trial)
        return NULL;
    rfk_model_t *model =
        trial->model_id ? rfk_store_get_model (self->store, trial->model_id) : NULL;
    json_t *entry = json_object ();
    json_object_set_new (entry, "trial_id", json_string (trial->id));
    if (model) {
        json_object_set_new (entry, "model_id", json_string (model->id));
        json_object_set_new (entry, "model_name", json_string (model->name));
        char *path = rfk_admin_model_path (self, model);
        if (path)
            json_object_set_new (entry, "model_path", json_string (path));
        free (path);
    }
    if (trial->store_params_id) {
        char *path = trial->store_params_id[0] == '/'
                         ? strdup (trial->store_params_id)
                         : zsys_sprintf ("%s/%s", self->params_dir, trial->store_params_id);
        json_object_set_new (entry, "params_path", json_string (path));
        free (path);
    }
    json_object_set_new (entry, "replicas", json_integer (replicas));
    rfk_model_destroy (&model);
    rfk_trial_destroy (&trial);
    return entry;
}

/* The ServiceConfig body of a predictor or an inference worker. */
static int
s_config_inference (rfk_admin_t *self, rfk_admin_service_t *service, json_t *body, char *err,
                    size_t errlen)
{
    rfk_inference_job_t *job = rfk_store_get_inference_job (self->store, service->inference_job_id);
    rfk_train_job_t *train = job ? rfk_store_get_train_job (self->store, job->train_job_id) : NULL;
    rfk_service_t *predictor = job && job->predictor_service_id
                                   ? rfk_store_get_service (self->store, job->predictor_service_id)
                                   : NULL;
    int rc = -1;
    if (!job || !train || !predictor)
        snprintf (err, errlen, "the inference job of this service is gone");
    else {
        json_t *info = predictor->service_info;
        json_object_set_new (body, "task", json_string (train->task));
        json_object_set_new (body, "train_job_id", json_string (train->id));
        json_object_set_new (body, "inference_job_id", json_string (job->id));
        const char *workers = json_string_value (json_object_get (info, "workers_endpoint"));
        const char *query = json_string_value (json_object_get (info, "query_endpoint"));
        json_t *config = json_object_get (body, "config");
        json_t *trials = json_array ();
        if (streq (service->role, "predictor")) {
            //  [http, query, workers] (actors/predictor/README.md).
            const char *http = json_string_value (json_object_get (info, "http_bind"));
            const char *query_bind = json_string_value (json_object_get (info, "query_bind"));
            char binds[3][400];
            rfk_admin_service_endpoint (self, http ? http : "http://127.0.0.1:0", NULL, true,
                                        binds[0], sizeof binds[0]);
            rfk_admin_service_endpoint (
                self, query_bind ? query_bind : (query ? query : "tcp://127.0.0.1:*"), NULL, true,
                binds[1], sizeof binds[1]);
            rfk_admin_service_endpoint (self, workers ? workers : "tcp://127.0.0.1:*", NULL, true,
                                        binds[2], sizeof binds[2]);
            json_object_set_new (body, "bind_endpoints",
                                 json_pack ("[s, s, s]", binds[0], binds[1], binds[2]));
            json_object_set (config, "http_port", json_object_get (info, "http_port"));
            json_object_set (config, "http_host", json_object_get (info, "http_host"));
            //  Every deployed trial once, with its replica count.
            zhashx_t *seen = zhashx_new ();
            for (size_t index = 0; index < job->worker_count; index++) {
                const char *trial_id = job->workers[index].trial_id;
                if (!trial_id || zhashx_lookup (seen, trial_id))
                    continue;
                zhashx_insert (seen, trial_id, (void *)1);
                json_t *entry = s_trial_to_load (self, trial_id, job->replicas);
                if (entry)
                    json_array_append_new (trials, entry);
            }
            zhashx_destroy (&seen);
        } else {
            char mapped[400];
            rfk_admin_service_endpoint (self, workers, predictor->id, false, mapped, sizeof mapped);
            if (workers)
                json_object_set_new (body, "predictor_endpoint", json_string (mapped));
            json_t *entry = service->trial_id ? s_trial_to_load (self, service->trial_id, 1) : NULL;
            if (entry)
                json_array_append_new (trials, entry);
            //  TrialToLoad has no knobs: the worker takes them from config.
            rfk_trial_t *trial =
                service->trial_id ? rfk_store_get_trial (self->store, service->trial_id) : NULL;
            if (trial && json_is_object (trial->knobs))
                json_object_set (config, "knobs", trial->knobs);
            rfk_trial_destroy (&trial);
        }
        json_object_set_new (body, "trials", trials);
        rc = 0;
    }
    rfk_inference_job_destroy (&job);
    rfk_train_job_destroy (&train);
    rfk_service_destroy (&predictor);
    return rc;
}

static int
s_on_hello (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_admin_t *self = (rfk_admin_t *)ctx;
    rfk_msg_t *msg = *msg_p;
    const char *id = s_str (msg, "service_id");
    const char *secret = s_str (msg, "secret");
    rfk_service_t *stored = id ? rfk_store_get_service (self->store, id) : NULL;
    if (!stored || !secret || !stored->secret_hash ||
        rfk_auth_secret_verify (self->auth, secret, stored->secret_hash) != 0) {
        rfk_log_warning (RFK_ADMIN_LOG, "RFK-BAD-SECRET service=%s", id ? id : "(none)");
        rfk_service_destroy (&stored);
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_UNAUTHORIZED,
                                      "unknown service or wrong secret");
    }
    rfk_admin_service_t *service = (rfk_admin_service_t *)zhashx_lookup (self->services, id);
    if (!service || rfk_admin_status_terminal (stored->status)) {
        rfk_msg_t *error =
            rfk_msg_new_error (&rfk_service_family, msg->correlation, RFK_CODE_CONFLICT, "");
        json_object_set_new (error->body, "message",
                             json_string (rfk_admin_status_terminal (stored->status)
                                              ? "this service has ended; stop"
                                              : "this service is not part of a live job"));
        rfk_service_destroy (&stored);
        int rc = rfk_server_send (server, peer, error);
        rfk_msg_destroy (&error);
        return rc;
    }
    rfk_msg_t *config = rfk_msg_new (&rfk_service_family, "ServiceConfig", msg->correlation);
    json_t *body = config->body;
    json_object_set_new (body, "service_id", json_string (id));
    json_object_set_new (body, "service_type", json_string (stored->service_type));
    json_object_set_new (body, "worker_id", json_string (id));
    json_t *limits = json_pack (
        "{s:s, s:I, s:I, s:I, s:I, s:I}", "data_dir", self->data_dir, "trial_timeout_s",
        (json_int_t)rfk_config_int (self->config, "trainer", "trial_timeout_s"), "cpu_limit_s",
        (json_int_t)rfk_config_int (self->config, "trainer", "cpu_limit_s"), "memory_limit_mb",
        (json_int_t)rfk_config_int (self->config, "trainer", "memory_limit_mb"),
        "heartbeat_interval_ms", (json_int_t)self->bus.heartbeat_interval_ms,
        "heartbeat_timeout_ms", (json_int_t)self->bus.heartbeat_timeout_ms);
    json_object_set_new (body, "config", limits);
    char err[256] = "";
    int rc = service->sub_train_job_id ? s_config_train (self, service, body, err, sizeof err)
                                       : s_config_inference (self, service, body, err, sizeof err);
    rfk_service_destroy (&stored);
    if (rc != 0) {
        rfk_msg_destroy (&config);
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_NOT_FOUND, err);
    }
    //  Remember the peer (a restarted process says Hello from a new one).
    if (service->peer) {
        char *old = zframe_strhex (service->peer);
        zhashx_delete (self->peers, old);
        free (old);
        zframe_destroy (&service->peer);
    }
    service->peer = zframe_dup (peer);
    char *hex = zframe_strhex (peer);
    zhashx_update (self->peers, hex, service->id);
    free (hex);
    rc = rfk_server_send (server, peer, config);
    rfk_msg_destroy (&config);
    rfk_log_info (RFK_ADMIN_LOG, "service-hello id=%s role=%s", id, service->role);
    if (streq (service->status, "STARTED"))
        rfk_admin_set_service_status (self, id, "DEPLOYING", "said hello");
    return rc;
}

static int
s_on_status_report (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_admin_t *self = (rfk_admin_t *)ctx;
    rfk_msg_t *msg = *msg_p;
    rfk_admin_service_t *service = s_caller (self, server, peer, msg);
    if (!service)
        return 0;
    const char *id = s_str (msg, "service_id");
    const char *status = s_str (msg, "status");
    if (id && !streq (id, service->id))
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_FORBIDDEN,
                                      "you may report only your own status");
    if (!status || streq (status, "STARTED"))
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_BAD_REQUEST,
                                      "field `status` must be DEPLOYING, RUNNING, STOPPED or "
                                      "ERRORED");
    char *service_id = strdup (service->id);
    if (streq (service->role, "predictor") && streq (status, "RUNNING"))
        rfk_admin_predictor_running (self, service_id, s_str (msg, "message"));
    rfk_admin_set_service_status (self, service_id, status, s_str (msg, "message"));
    free (service_id);
    return s_ack (server, peer, msg);
}

/* The trial named by field trial_id, if it belongs to the caller's sub
   train job; else an answer was sent and NULL returned. */
static rfk_trial_t *
s_own_trial (rfk_admin_t *self, rfk_server_t *server, zframe_t *peer, const rfk_msg_t *msg,
             rfk_admin_service_t **service_p)
{
    rfk_admin_service_t *service = s_caller (self, server, peer, msg);
    if (!service)
        return NULL;
    const char *id = s_str (msg, "trial_id");
    rfk_trial_t *trial = id ? rfk_store_get_trial (self->store, id) : NULL;
    if (!trial) {
        rfk_server_send_error (server, peer, msg->correlation,
                               id ? RFK_CODE_NOT_FOUND : RFK_CODE_BAD_REQUEST,
                               id ? "no such trial" : "field `trial_id` is missing");
        return NULL;
    }
    if (!service->sub_train_job_id || !trial->sub_train_job_id ||
        !streq (service->sub_train_job_id, trial->sub_train_job_id)) {
        rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_FORBIDDEN,
                               "that trial belongs to another sub train job");
        rfk_trial_destroy (&trial);
        return NULL;
    }
    *service_p = service;
    return trial;
}

static void
s_publish_trial (rfk_admin_t *self, const rfk_trial_t *trial, const char *error)
{
    json_t *event = json_object ();
    json_object_set_new (event, "trial_id", json_string (trial->id));
    if (trial->train_job_id)
        json_object_set_new (event, "job", json_string (trial->train_job_id));
    if (trial->sub_train_job_id)
        json_object_set_new (event, "sub_train_job_id", json_string (trial->sub_train_job_id));
    json_object_set_new (event, "trial_no", json_integer (trial->no));
    rfk_model_t *model =
        trial->model_id ? rfk_store_get_model (self->store, trial->model_id) : NULL;
    if (model)
        json_object_set_new (event, "model_name", json_string (model->name));
    rfk_model_destroy (&model);
    json_object_set_new (event, "status", json_string (trial->status));
    if (isfinite (trial->score))
        json_object_set_new (event, "score", json_real (trial->score));
    if (error)
        json_object_set_new (event, "error", json_string (error));
    rfk_admin_publish (self, "trial", trial->id, "TrialUpdate", event);
}

static int
s_on_trial_create (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_admin_t *self = (rfk_admin_t *)ctx;
    rfk_msg_t *msg = *msg_p;
    rfk_admin_service_t *service = s_caller (self, server, peer, msg);
    if (!service)
        return 0;
    const char *sub_id = s_str (msg, "sub_train_job_id");
    if (!sub_id)
        sub_id = service->sub_train_job_id;
    if (!streq (service->role, "advisor") || !service->sub_train_job_id ||
        !streq (sub_id, service->sub_train_job_id))
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_FORBIDDEN,
                                      "only the advisor of a sub train job creates its trials");
    json_t *knobs = json_object_get (msg->body, "knobs");
    json_t *policies = json_object_get (msg->body, "policies");
    rfk_trial_t record = {
        .no = (int64_t)json_integer_value (json_object_get (msg->body, "trial_no")),
        .sub_train_job_id = (char *)sub_id,
        .status = "PENDING",
        .knobs = json_is_object (knobs) ? knobs : NULL,
        .policies = json_is_array (policies) ? policies : NULL,
        .score = NAN,
    };
    rfk_trial_t *trial = rfk_store_create_trial (self->store, &record);
    if (!trial)
        return rfk_server_send_error (server, peer, msg->correlation, rfk_store_code (self->store),
                                      rfk_store_message (self->store));
    rfk_msg_t *reply = rfk_msg_new (&rfk_service_family, "TrialCreated", msg->correlation);
    json_object_set_new (reply->body, "trial_id", json_string (trial->id));
    json_object_set_new (reply->body, "trial_no", json_integer (trial->no));
    int rc = rfk_server_send (server, peer, reply);
    rfk_msg_destroy (&reply);
    s_publish_trial (self, trial, NULL);
    rfk_trial_destroy (&trial);
    return rc;
}

static int
s_on_trial_started (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_admin_t *self = (rfk_admin_t *)ctx;
    rfk_msg_t *msg = *msg_p;
    rfk_admin_service_t *service = NULL;
    rfk_trial_t *trial = s_own_trial (self, server, peer, msg, &service);
    if (!trial)
        return 0;
    if (streq (trial->status, "PENDING")) {
        free (trial->status);
        trial->status = strdup ("RUNNING");
        free (trial->worker_id);
        const char *worker = s_str (msg, "worker_id");
        trial->worker_id = strdup (worker ? worker : service->id);
        if (rfk_store_update_trial (self->store, trial) != 0) {
            int rc =
                rfk_server_send_error (server, peer, msg->correlation, rfk_store_code (self->store),
                                       rfk_store_message (self->store));
            rfk_trial_destroy (&trial);
            return rc;
        }
        s_publish_trial (self, trial, NULL);
    }
    rfk_trial_destroy (&trial);
    return s_ack (server, peer, msg);
}

/* The params file's name under params/, or NULL when outside. */
static char *
s_params_id (rfk_admin_t *self, const char *path)
{
    if (!path || !*path || strstr (path, ".."))
        return NULL;
    if (path[0] != '/')
        return strdup (path);
    size_t length = strlen (self->params_dir);
    if (strncmp (path, self->params_dir, length) == 0 && path[length] == '/')
        return strdup (path + length + 1);
    return NULL;
}

static int
s_on_trial_finished (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_admin_t *self = (rfk_admin_t *)ctx;
    rfk_msg_t *msg = *msg_p;
    rfk_admin_service_t *service = NULL;
    rfk_trial_t *trial = s_own_trial (self, server, peer, msg, &service);
    if (!trial)
        return 0;
    const char *status = s_str (msg, "status");
    if (!status ||
        (!streq (status, "COMPLETED") && !streq (status, "ERRORED") && !streq (status, "PRUNED"))) {
        rfk_trial_destroy (&trial);
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_BAD_REQUEST,
                                      "field `status` must be COMPLETED, ERRORED or PRUNED");
    }
    if (streq (trial->status, "COMPLETED")) {
        rfk_trial_destroy (&trial); //  said before (a retry): nothing to change
        return s_ack (server, peer, msg);
    }
    free (trial->status);
    trial->status = strdup (status);
    json_t *score = json_object_get (msg->body, "score");
    if (json_is_number (score))
        trial->score = json_number_value (score);
    const char *params = s_str (msg, "params_path");
    if (params) {
        free (trial->store_params_id);
        trial->store_params_id = s_params_id (self, params);
    }
    const char *error = s_str (msg, "error");
    if (error) {
        if (!json_is_object (trial->progress)) {
            json_decref (trial->progress);
            trial->progress = json_object ();
        }
        json_object_set_new (trial->progress, "error", json_string (error));
    }
    if (!trial->worker_id)
        trial->worker_id = strdup (service->id);
    int rc;
    if (rfk_store_update_trial (self->store, trial) != 0)
        rc = rfk_server_send_error (server, peer, msg->correlation, rfk_store_code (self->store),
                                    rfk_store_message (self->store));
    else {
        s_publish_trial (self, trial, error);
        rc = s_ack (server, peer, msg);
    }
    rfk_trial_destroy (&trial);
    return rc;
}

/* Seconds since the epoch as ISO-8601 UTC (now when absent). */
static void
s_iso_time (json_t *seconds, char *buffer, size_t size)
{
    if (!json_is_number (seconds)) {
        rfk_admin_now_iso (buffer, size);
        return;
    }
    double value = json_number_value (seconds);
    time_t whole = (time_t)value;
    struct tm tm;
    gmtime_r (&whole, &tm);
    char base[32];
    strftime (base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (buffer, size, "%s.%06dZ", base, (int)((value - (double)whole) * 1e6));
}

static int
s_add_log (rfk_admin_t *self, rfk_server_t *server, zframe_t *peer, const rfk_msg_t *msg,
           const char *type, const char *text, json_t *data)
{
    rfk_admin_service_t *service = NULL;
    rfk_trial_t *trial = s_own_trial (self, server, peer, msg, &service);
    if (!trial)
        return 0;
    char when[64];
    s_iso_time (json_object_get (msg->body, "time"), when, sizeof when);
    rfk_trial_log_t log = {
        .trial_id = trial->id,
        .datetime = when,
        .type = (char *)type,
        .level = streq (type, "MESSAGE") ? "INFO" : NULL,
        .message = (char *)text,
        .data = data,
    };
    rfk_trial_log_t *stored = rfk_store_add_trial_log (self->store, &log);
    int rc;
    if (!stored)
        rc = rfk_server_send_error (server, peer, msg->correlation, rfk_store_code (self->store),
                                    rfk_store_message (self->store));
    else {
        if (streq (type, "MESSAGE")) {
            json_t *event = json_object ();
            json_object_set_new (event, "trial_id", json_string (trial->id));
            json_object_set_new (event, "source", json_string (service->id));
            json_object_set_new (event, "time", json_string (when));
            json_object_set_new (event, "message", json_string (text ? text : ""));
            rfk_admin_publish (self, "log", trial->id, "LogLine", event);
        }
        rc = s_ack (server, peer, msg);
    }
    rfk_trial_log_destroy (&stored);
    rfk_trial_destroy (&trial);
    return rc;
}

static int
s_on_trial_log (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_msg_t *msg = *msg_p;
    const char *text = json_string_value (json_object_get (msg->body, "message"));
    return s_add_log ((rfk_admin_t *)ctx, server, peer, msg, "MESSAGE", text ? text : "", NULL);
}

static int
s_on_trial_metrics (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_msg_t *msg = *msg_p;
    json_t *metrics = json_object_get (msg->body, "metrics");
    if (!json_is_object (metrics))
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_BAD_REQUEST,
                                      "field `metrics` must be an object");
    return s_add_log ((rfk_admin_t *)ctx, server, peer, msg, "METRICS", NULL, metrics);
}

static int
s_on_trial_plot (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_msg_t *msg = *msg_p;
    json_t *data = json_object ();
    json_t *value;
    if ((value = json_object_get (msg->body, "title")))
        json_object_set (data, "title", value);
    json_object_set (data, "metrics",
                     json_is_array (json_object_get (msg->body, "metrics"))
                         ? json_object_get (msg->body, "metrics")
                         : json_array ());
    if ((value = json_object_get (msg->body, "x_axis")))
        json_object_set (data, "x_axis", value);
    int rc = s_add_log ((rfk_admin_t *)ctx, server, peer, msg, "PLOT", NULL, data);
    json_decref (data);
    return rc;
}

static int
s_on_sub_train_job_done (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_admin_t *self = (rfk_admin_t *)ctx;
    rfk_msg_t *msg = *msg_p;
    rfk_admin_service_t *service = s_caller (self, server, peer, msg);
    if (!service)
        return 0;
    if (!streq (service->role, "advisor"))
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_FORBIDDEN,
                                      "only the advisor ends its sub train job");
    char *sub = strdup (service->sub_train_job_id);
    char *advisor = strdup (service->id);
    const char *reason = s_str (msg, "reason");
    rfk_log_info (RFK_ADMIN_LOG, "sub-train-job-done id=%s reason=\"%s\"", sub,
                  reason ? reason : "budget spent");
    int rc = s_ack (server, peer, msg);
    //  Its trainers stop; the advisor ends by itself once it told them.
    zlistx_t *ids = zlistx_new ();
    zlistx_set_destructor (ids, (czmq_destructor *)zstr_free);
    for (rfk_admin_service_t *other = (rfk_admin_service_t *)zhashx_first (self->services); other;
         other = (rfk_admin_service_t *)zhashx_next (self->services))
        if (other->sub_train_job_id && streq (other->sub_train_job_id, sub) &&
            !streq (other->id, advisor))
            zlistx_add_end (ids, strdup (other->id));
    for (char *id = (char *)zlistx_first (ids); id; id = (char *)zlistx_next (ids))
        rfk_admin_stop_service (self, id, "the budget of its sub train job is spent");
    zlistx_destroy (&ids);
    free (sub);
    free (advisor);
    return rc;
}

static int
s_on_ack (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    (void)server;
    (void)peer;
    (void)msg_p;
    (void)ctx;
    return 0; //  a worker acknowledged our Stop
}

void
rfk_admin_service_expired (rfk_server_t *server, zframe_t *peer, void *ctx)
{
    (void)server;
    rfk_admin_t *self = (rfk_admin_t *)ctx;
    char *hex = zframe_strhex (peer);
    const char *id = hex ? (const char *)zhashx_lookup (self->peers, hex) : NULL;
    if (id)
        rfk_log_warning (RFK_ADMIN_LOG, "service-silent id=%s (the launcher decides its fate)", id);
    free (hex);
}

const rfk_server_route_t rfk_admin_service_routes[] = {
    {"Hello", s_on_hello},
    {"StatusReport", s_on_status_report},
    {"TrialCreate", s_on_trial_create},
    {"TrialStarted", s_on_trial_started},
    {"TrialFinished", s_on_trial_finished},
    {"TrialLog", s_on_trial_log},
    {"TrialMetrics", s_on_trial_metrics},
    {"TrialPlot", s_on_trial_plot},
    {"SubTrainJobDone", s_on_sub_train_job_done},
    {"Ack", s_on_ack},
    {NULL, NULL},
};
