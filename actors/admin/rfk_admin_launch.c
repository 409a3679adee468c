/*  rfk_admin_launch.c: the dynamic services admin launches, tracks and
    stops.

    Each service is a store row (with the hash of its per-service secret)
    and a child the launcher runs as `rafikid <role> --service-id <id>`, the
    secret handed over through RAFIKI_SECRET_FD, admin's service endpoint and
    the relevant configuration in its environment (RAFIKI_ADMIN_HOST,
    RAFIKI_ADMIN_SERVICE_PORT, RAFIKI_BUS_*, RAFIKI_TRAINER_*, ...). The
    launcher's events (the process is up, restarting, gone) become service
    states (rfk_admin_rollup.c). Stopping services, for whatever reason,
    goes through rfk_admin_stop_services.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <fcntl.h>
#include <ctype.h>
#include <sodium.h>
#include <string.h>

void
rfk_admin_service_destroy (rfk_admin_service_t **self_p)
{
    rfk_admin_service_t *self = *self_p;
    if (!self)
        return;
    free (self->id);
    free (self->role);
    free (self->service_type);
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

const char *
rfk_admin_role_of (const char *service_type)
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

rfk_admin_service_t *
rfk_admin_track (rfk_admin_t *self, const char *id, const char *role, const char *train_job_id,
                 const char *sub_train_job_id, const char *inference_job_id, const char *trial_id)
{
    rfk_admin_service_t *service = (rfk_admin_service_t *)calloc (1, sizeof *service);
    if (!service)
        return NULL;
    service->id = strdup (id);
    service->role = strdup (role);
    service->service_type = strdup (s_service_type_of (role));
    service->status = RFK_SERVICE_STARTED;
    service->train_job_id = s_dup (train_job_id);
    service->sub_train_job_id = s_dup (sub_train_job_id);
    service->inference_job_id = s_dup (inference_job_id);
    service->trial_id = s_dup (trial_id);
    zhashx_update (self->services, id, service);
    rfk_admin_curve_admit (self, id, true);
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
        {"service", "orphan_timeout_s"},
        {"trainer", "memory_limit_mb"},
        {"trainer", "cpu_limit_s"},
        {"trainer", "trial_timeout_s"},
        {"trainer", "processes"},
        {"trainer", "file_size_mb"},
        {"trainer", "open_files"},
        {"trainer", "disk_mb"},
        {"launcher", "sandbox_uid"},
        {"predictor", "max_batch"},
        {"predictor", "batch_window_us"},
        {"predictor", "deadline_ms"},
        {"predictor", "max_inflight"},
        {"inference", "predict_timeout_s"},
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
    //  The one string among them: whether template code runs in the sandbox.
    env[at++] = zsys_sprintf ("RAFIKI_LAUNCHER_SANDBOX=%s",
                              rfk_config_string (self->config, "launcher", "sandbox"));
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
   and the predictor's HTTP port, published in host mode (with the query
   port after it). */
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

/* The read-only paths of a local inference worker's sandbox: the template and the
   parameters of the trial it holds, into paths[0..1]; how many. */
static size_t
s_worker_paths (rfk_admin_t *self, rfk_admin_service_t *service, char *paths[2])
{
    rfk_trial_t *trial =
        service->trial_id ? rfk_store_get_trial (self->store, service->trial_id) : NULL;
    rfk_model_t *model =
        trial && trial->model_id ? rfk_store_get_model (self->store, trial->model_id) : NULL;
    size_t n = 0;
    if (model && (paths[n] = rfk_admin_model_path (self, model)))
        n++;
    if (trial && trial->store_params_id)
        paths[n++] = trial->store_params_id[0] == '/'
                         ? strdup (trial->store_params_id)
                         : zsys_sprintf ("%s/%s", self->params_dir, trial->store_params_id);
    if (n > 0 && !paths[n - 1])
        n--;
    rfk_model_destroy (&model);
    rfk_trial_destroy (&trial);
    return n;
}

/* The sandbox of a local inference worker (template code), or NULL for the others.
   paths[0..1] are its template and parameters (read-only), paths[2] its own log file
   (read-write: rafikid appends to <logs>/<role>-<id>.log), made here. */
static rfk_sandbox_spec_t *
s_worker_sandbox (rfk_admin_t *self, rfk_admin_service_t *service, rfk_sandbox_spec_t *box,
                  char *paths[3])
{
    if (self->swarm || !self->sandboxed || !streq (service->role, "inference"))
        return NULL;
    paths[2] = zsys_sprintf ("%s/%s-%s.log", self->logs_dir, service->role, service->id);
    int log_fd = paths[2]
                     ? open (paths[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600)
                     : -1;
    if (log_fd >= 0)
        close (log_fd);
    uid_t uid = (uid_t)rfk_config_int (self->config, "launcher", "sandbox_uid");
    *box = (rfk_sandbox_spec_t){
        .ro_paths = (const char *const *)paths,
        .n_ro = s_worker_paths (self, service, paths),
        .rw_paths = (const char *const *)&paths[2],
        .n_rw = log_fd >= 0 ? 1 : 0,
        .share_net = true,
        .outlive_parent = true, //  serving goes on while admin is away (issue 15)
        .uid = uid,
        .gid = (gid_t)uid,
        .limits = {.nproc = (unsigned)rfk_config_int (self->config, "trainer", "processes"),
                   .fsize_mb = (size_t)rfk_config_int (self->config, "trainer", "file_size_mb"),
                   .nofile = (unsigned)rfk_config_int (self->config, "trainer", "open_files")}};
    return box;
}

/* Start a tracked service's process; a failure makes it ERRORED. */
static void
s_launch (rfk_admin_t *self, rfk_admin_service_t *service, const char *secret)
{
    /*  Its bus keys go with its secret, through the same channel. */
    char handed[RFK_LAUNCHER_SECRET_MAX + 1];
    if (rfk_admin_curve_issue (self, service, secret, handed, sizeof handed) != 0) {
        char *id = strdup (service->id);
        rfk_log_warning (RFK_ADMIN_LOG, "service-keys-failed id=%s", id);
        rfk_admin_set_service_status (self, id, RFK_SERVICE_ERRORED, "cannot give it bus keys");
        free (id);
        return;
    }
    char **env = s_service_env (self);
    int published_port = 0;
    char *image = self->swarm ? s_swarm_spec (self, service, &published_port) : NULL;
    rfk_launcher_spec_t spec = {
        .id = service->id,
        .role = service->role,
        .secret = handed,
        .data_dir = self->data_dir,
        .env = (const char *const *)env,
        .image = image,
        .published_port = published_port,
        //  A predictor's ZeroMQ query port is the one after its HTTP port (rfk_admin_endpoints.c).
        .published_port2 = published_port > 0 ? published_port + 1 : 0,
    };
    rfk_admin_placement_t placement;
    rfk_admin_placement_spec (self, service, &spec, &placement);
    rfk_sandbox_spec_t box;
    char *paths[3] = {NULL, NULL, NULL};
    if (!self->swarm)
        spec.sandbox = s_worker_sandbox (self, service, &box, paths);
    char *id = strdup (service->id);
    if (rfk_launcher_start (self->launcher, &spec) != 0) {
        char reason[400];
        snprintf (reason, sizeof reason, "cannot start: %s", rfk_launcher_error (self->launcher));
        rfk_log_warning (RFK_ADMIN_LOG, "service-start-failed id=%s role=%s reason=\"%s\"", id,
                         spec.role, reason);
        rfk_admin_set_service_status (self, id, RFK_SERVICE_ERRORED, reason);
    } else
        rfk_log_info (RFK_ADMIN_LOG, "service-started id=%s role=%s", id, spec.role);
    free (id);
    free (image);
    free (paths[0]);
    free (paths[1]);
    free (paths[2]);
    rfk_admin_placement_free (&placement);
    s_env_free (env);
    sodium_memzero (handed, sizeof handed);
}

char *
rfk_admin_launch_train_service (rfk_admin_t *self, const char *role, const char *train_job_id,
                                const char *sub_train_job_id)
{
    char *secret = rfk_auth_secret_new ();
    char hash[RFK_AUTH_SECRET_HASH_LEN + 1];
    if (!secret || rfk_auth_secret_hash (self->auth, secret, hash) != 0) {
        free (secret);
        return NULL;
    }
    bool advisor = streq (role, "advisor");
    //  An advisor binds any port and reports it (rfk_admin_endpoints.c).
    json_t *info = advisor ? json_pack ("{s:s, s:s}", "role", role, "endpoint", "tcp://127.0.0.1:*")
                           : json_pack ("{s:s}", "role", role);
    rfk_service_t record = {
        .service_type = (char *)s_service_type_of (role),
        .status = RFK_SERVICE_STARTED,
        .container_manager_type = (char *)rfk_launcher_backend_name (self->launcher),
        .replicas = 1,
        .hostname = "127.0.0.1",
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
            rfk_admin_track (self, stored->id, role, train_job_id, sub_train_job_id, NULL, NULL);
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
    rfk_admin_service_t *service = rfk_admin_track (self, service_id, role, train_job_id,
                                                    sub_train_job_id, inference_job_id, trial_id);
    if (service)
        s_launch (self, service, secret);
}

void
rfk_admin_launch_held (rfk_admin_t *self, const char *service_id)
{
    rfk_admin_service_t *service =
        (rfk_admin_service_t *)zhashx_lookup (self->services, service_id);
    if (!service || !service->held)
        return;
    service->held = false;
    //  Its row was stored without a secret: nobody could say Hello as it.
    char *secret = rfk_auth_secret_new ();
    char hash[RFK_AUTH_SECRET_HASH_LEN + 1];
    rfk_service_t *stored = rfk_store_get_service (self->store, service_id);
    int rc = -1;
    if (secret && stored && rfk_auth_secret_hash (self->auth, secret, hash) == 0) {
        free (stored->secret_hash);
        stored->secret_hash = strdup (hash);
        rc = stored->secret_hash ? rfk_store_update_service (self->store, stored) : -1;
    }
    rfk_service_destroy (&stored);
    if (rc == 0)
        s_launch (self, service, secret);
    else {
        char *id = strdup (service_id);
        rfk_log_warning (RFK_ADMIN_LOG, "service-secret-failed id=%s reason=\"%s\"", id,
                         rfk_store_message (self->store));
        rfk_admin_set_service_status (self, id, RFK_SERVICE_ERRORED, "cannot give it a secret");
        free (id);
    }
    if (secret) {
        sodium_memzero (secret, strlen (secret));
        free (secret);
    }
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
        rfk_admin_set_service_status (self, id, RFK_SERVICE_STOPPED, reason);
    free (id);
}

/* True when a tracked service is one of `which`. */
static bool
s_is_of (const rfk_admin_service_t *service, const rfk_admin_services_of_t *which)
{
    const char *job = which->job_id;
    const char *sub = which->sub_train_job_id;
    if (job && !((service->train_job_id && streq (service->train_job_id, job)) ||
                 (service->inference_job_id && streq (service->inference_job_id, job))))
        return false;
    if (sub && !(service->sub_train_job_id && streq (service->sub_train_job_id, sub)))
        return false;
    if (which->except_id && streq (service->id, which->except_id))
        return false;
    return !rfk_service_status_is_final (service->status);
}

void
rfk_admin_stop_services (rfk_admin_t *self, const rfk_admin_services_of_t *which,
                         const char *reason)
{
    //  Stopping one may end it at once, changing the table: ids first.
    zlistx_t *ids = zlistx_new ();
    zlistx_set_destructor (ids, (czmq_destructor *)zstr_free);
    for (rfk_admin_service_t *service = (rfk_admin_service_t *)zhashx_first (self->services);
         service; service = (rfk_admin_service_t *)zhashx_next (self->services))
        if (s_is_of (service, which)) {
            service->job_ended = service->job_ended || which->job_ended;
            zlistx_add_end (ids, strdup (service->id));
        }
    for (char *id = (char *)zlistx_first (ids); id; id = (char *)zlistx_next (ids))
        rfk_admin_stop_service (self, id, reason);
    zlistx_destroy (&ids);
}

/* A local service's process started: keep its pid and the pid's start time
   in the store, so that the next admin finds it again if this one dies
   (rfk_admin_recover.c). */
static void
s_note_process (rfk_admin_t *self, const char *service_id)
{
    rfk_launcher_status_t status;
    if (self->swarm || rfk_launcher_status (self->launcher, service_id, &status) != 0 ||
        status.pid <= 0)
        return;
    if (rfk_store_set_service_process (self->store, service_id, status.pid, status.start_time))
        rfk_log_warning (RFK_ADMIN_LOG, "service-process-unsaved id=%s pid=%d reason=\"%s\"",
                         service_id, status.pid, rfk_store_message (self->store));
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
            s_note_process (self, service_id);
            if (service && service->status == RFK_SERVICE_STARTED)
                rfk_admin_set_service_status (self, service_id, RFK_SERVICE_DEPLOYING, reason);
            break;
        case RFK_LAUNCHER_RESTARTING:
            //  It will say Hello again from a new process. The launcher watches the
            //  restart, so one adopted at start no longer waits under the adoption
            //  deadline (it would get its job stopped for a Hello its restart delays).
            rfk_admin_adopted_forget (self, service_id);
            if (service && service->peer) {
                char *peer = zframe_strhex (service->peer);
                zhashx_delete (self->peers, peer);
                free (peer);
                zframe_destroy (&service->peer);
            }
            if (service && service->status == RFK_SERVICE_RUNNING)
                rfk_admin_set_service_status (self, service_id, RFK_SERVICE_DEPLOYING, reason);
            break;
        case RFK_LAUNCHER_STOPPING:
            break;
        case RFK_LAUNCHER_STOPPED:
            rfk_admin_set_service_status (self, service_id, RFK_SERVICE_STOPPED, reason);
            break;
        case RFK_LAUNCHER_ERRORED:
            if (!rfk_admin_relaunch_adopted (self, service_id, reason))
                rfk_admin_set_service_status (self, service_id, RFK_SERVICE_ERRORED, reason);
            break;
    }
}

#define S_RELAUNCH_MAX 3 /* an adopted service is started anew at most this often */

bool
rfk_admin_relaunch_adopted (rfk_admin_t *self, const char *service_id, const char *reason)
{
    rfk_admin_service_t *service =
        (rfk_admin_service_t *)zhashx_lookup (self->services, service_id);
    rfk_launcher_status_t status;
    if (self->swarm || !service || service->job_ended ||
        rfk_service_status_is_final (service->status) || service->relaunches >= S_RELAUNCH_MAX ||
        rfk_launcher_status (self->launcher, service_id, &status) != 0 || !status.adopted)
        return false;
    service->relaunches++;
    rfk_log_warning (RFK_ADMIN_LOG,
                     "service-adopted-died id=%s role=%s reason=\"%s\": starting it anew",
                     service_id, service->role, reason ? reason : "");
    if (service->peer) {
        char *peer = zframe_strhex (service->peer);
        zhashx_delete (self->peers, peer);
        free (peer);
        zframe_destroy (&service->peer);
    }
    if (service->status == RFK_SERVICE_RUNNING)
        rfk_admin_set_service_status (self, service_id, RFK_SERVICE_DEPLOYING, reason);
    zlistx_add_end (self->to_relaunch, (void *)service_id);
    return true;
}

void
rfk_admin_relaunch_due (rfk_admin_t *self)
{
    for (char *id = (char *)zlistx_first (self->to_relaunch); id;
         id = (char *)zlistx_next (self->to_relaunch)) {
        rfk_launcher_forget (self->launcher, id);
        rfk_admin_service_t *service = (rfk_admin_service_t *)zhashx_lookup (self->services, id);
        if (!service)
            continue;
        service->held = true; //  a new secret, as for a held service
        rfk_admin_launch_held (self, id);
    }
    zlistx_purge (self->to_relaunch);
}
