/*  rfk_admin_service_socket.c: admin's ROUTER `service` (service family),
    where the dynamic services talk to admin.

    - Hello {service_id, secret} -> ServiceConfig (everything the worker
      needs: paths, job, model, endpoints, limits; an advisor's also
      carries its sub job's trials so far, to resume it after a restart
      or a move) or Error UNAUTHORIZED;
    - StatusReport -> Ack; TrialCreate -> TrialCreated; TrialStarted,
      TrialFinished, TrialLog, TrialMetrics, TrialPlot, SubTrainJobDone -> Ack.
      Every one of them must come from a peer that said Hello, about its own
      service and the trials of its own sub train job (FORBIDDEN otherwise);
    - admin sends Stop {reason} to a service it stops; the Ack is dropped.
    Under swarm, every service that swarm stopped (its node drained or lost:
    it reports itself STOPPED "stopped ..." while admin still has it RUNNING)
    is moved, not ended: the service goes back to DEPLOYING and its new task
    on another node says Hello again (a trainer's trial ends ERRORED "node
    lost: ..."; an advisor's new task resumes the sub job from its
    ServiceConfig's past_trials; a predictor's new RUNNING report names its
    new node as the job's predictor_host).
    Retries are safe without a reply cache: a repeated report changes
    nothing twice (a final status sticks, a COMPLETED trial stays so).
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <math.h>
#include <string.h>
#include <time.h>

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

/* A PastTrial entry of an advisor's ServiceConfig. */
static json_t *
s_past_trial (rfk_admin_t *self, const rfk_trial_t *trial)
{
    json_t *entry = json_pack ("{s:I, s:s, s:s}", "trial_no", (json_int_t)trial->no, "trial_id",
                               trial->id, "status", rfk_trial_status_name (trial->status));
    if (!entry)
        return NULL;
    if (json_is_object (trial->knobs))
        json_object_set (entry, "knobs", trial->knobs);
    if (json_is_array (trial->policies))
        json_object_set (entry, "policies", trial->policies);
    bool scored = trial->status == RFK_TRIAL_COMPLETED || trial->status == RFK_TRIAL_PRUNED;
    if (scored && isfinite (trial->score))
        json_object_set_new (entry, "score", json_real (trial->score));
    if (trial->worker_id)
        json_object_set_new (entry, "worker_id", json_string (trial->worker_id));
    if (trial->status == RFK_TRIAL_COMPLETED && trial->store_params_id) {
        char *path = trial->store_params_id[0] == '/'
                         ? strdup (trial->store_params_id)
                         : zsys_sprintf ("%s/%s", self->params_dir, trial->store_params_id);
        if (path)
            json_object_set_new (entry, "params_path", json_string (path));
        free (path);
    }
    return entry;
}

/* Seconds from an ISO-8601 UTC time to now, or -1 when it cannot be read. */
static double
s_elapsed_s (const char *since)
{
    struct tm tm = {0};
    if (!since || !strptime (since, "%Y-%m-%dT%H:%M:%S", &tm))
        return -1;
    time_t then = timegm (&tm);
    time_t now = time (NULL);
    return then > 0 && now >= then ? difftime (now, then) : -1;
}

/*  An advisor's ServiceConfig carries its sub job's trials so far, so that
    one that starts again (the launcher restarted it, swarm moved it)
    resumes the sub job instead of starting it over: the latest
    RFK_PAST_TRIALS_MAX by number, every open one and the best COMPLETED
    one, the highest number in use, and the seconds since the sub job
    started (TIME_HOURS runs from then). Nothing for a new sub job. 0, or -1
    when the store could not list them (an advisor must not start over). */
static int
s_config_past_trials (rfk_admin_t *self, const char *sub_id, const char *started, json_t *body)
{
    zlistx_t *trials = rfk_store_list_trials (self->store, NULL, sub_id, RFK_TRIALS_BY_NO, NULL);
    if (!trials)
        return -1;
    size_t count = zlistx_size (trials);
    const rfk_trial_t *best = NULL;
    int64_t last = 0;
    for (rfk_trial_t *trial = count ? (rfk_trial_t *)zlistx_first (trials) : NULL; trial;
         trial = (rfk_trial_t *)zlistx_next (trials)) {
        if (trial->status == RFK_TRIAL_COMPLETED && isfinite (trial->score) &&
            (!best || trial->score > best->score))
            best = trial;
        if (trial->no > last)
            last = trial->no;
    }
    json_t *past = count ? json_array () : NULL;
    size_t index = 0;
    for (rfk_trial_t *trial = past ? (rfk_trial_t *)zlistx_first (trials) : NULL; trial;
         trial = (rfk_trial_t *)zlistx_next (trials), index++) {
        bool open = trial->status == RFK_TRIAL_PENDING || trial->status == RFK_TRIAL_RUNNING;
        if (open || trial == best || index + RFK_PAST_TRIALS_MAX >= count)
            json_array_append_new (past, s_past_trial (self, trial));
    }
    if (past) {
        json_object_set_new (body, "past_trials", past);
        json_object_set_new (body, "last_trial_no", json_integer (last));
        double elapsed = s_elapsed_s (started);
        if (elapsed >= 0)
            json_object_set_new (body, "elapsed_s", json_real (elapsed));
    }
    zlistx_destroy (&trials);
    return 0;
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
        //  The advisor binds its endpoint (port * until it reported the one
        //  it got, that one again after a restart); trainers start after.
        const char *endpoint =
            advisor ? json_string_value (json_object_get (advisor->service_info, "endpoint"))
                    : NULL;
        bool is_advisor = streq (service->role, "advisor");
        char mapped[400];
        rfk_admin_service_endpoint (self, endpoint ? endpoint : "tcp://127.0.0.1:*",
                                    sub->advisor_service_id, is_advisor, mapped, sizeof mapped);
        if (is_advisor && !json_is_array (model->knobs))
            snprintf (err, errlen,
                      "model %s was uploaded before Rafiki kept knob tables; upload it again",
                      model->name);
        else if (is_advisor) {
            json_object_set_new (body, "bind_endpoints", json_pack ("[s]", mapped));
            json_object_set (body, "knobs", model->knobs);
            if (s_config_past_trials (self, sub->id, sub->datetime_started, body) != 0)
                snprintf (err, errlen, "the trials of this sub train job cannot be read: %s",
                          rfk_store_message (self->store));
        } else if (rfk_admin_endpoint_known (endpoint))
            json_object_set_new (body, "advisor_endpoint", json_string (mapped));
        else
            snprintf (err, errlen,
                      "the advisor of this sub train job has not reported its "
                      "endpoint yet");
        rc = *err ? -1 : 0;
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
        json_t *config = json_object_get (body, "config");
        json_t *trials = json_array ();
        if (streq (service->role, "predictor")) {
            //  [http, query, workers] (actors/predictor/README.md): any port
            //  until it reported those it got, those again after a restart.
            const char *http = json_string_value (json_object_get (info, "http_bind"));
            const char *query_bind = json_string_value (json_object_get (info, "query_bind"));
            char binds[3][400];
            rfk_admin_service_endpoint (self, http ? http : "http://127.0.0.1:0", NULL, true,
                                        binds[0], sizeof binds[0]);
            rfk_admin_service_endpoint (self, query_bind ? query_bind : "tcp://127.0.0.1:*", NULL,
                                        true, binds[1], sizeof binds[1]);
            rfk_admin_service_endpoint (self, workers ? workers : "tcp://127.0.0.1:*", NULL, true,
                                        binds[2], sizeof binds[2]);
            json_object_set_new (body, "bind_endpoints",
                                 json_pack ("[s, s, s]", binds[0], binds[1], binds[2]));
            json_object_set (config, "http_port", json_object_get (info, "http_port"));
            json_object_set (config, "http_host", json_object_get (info, "http_host"));
            //  `auth: token`: the hashes of its valid serving keys.
            rfk_admin_serving_keys_config (self, job, config);
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
            if (rfk_admin_endpoint_known (workers))
                json_object_set_new (body, "predictor_endpoint", json_string (mapped));
            else
                snprintf (err, errlen, "the predictor has not reported its endpoints yet");
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
        rc = *err ? -1 : 0;
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
    //  The store is down (a restart): the service says Hello again later.
    if (!stored && id && rfk_store_code (self->store) == RFK_CODE_UNAVAILABLE)
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_UNAVAILABLE,
                                      rfk_store_message (self->store));
    if (!stored || !secret || !stored->secret_hash ||
        rfk_auth_secret_verify (self->auth, secret, stored->secret_hash) != 0) {
        rfk_log_warning (RFK_ADMIN_LOG, "RFK-BAD-SECRET service=%s", id ? id : "(none)");
        rfk_service_destroy (&stored);
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_UNAUTHORIZED,
                                      "unknown service or wrong secret");
    }
    rfk_admin_service_t *service = (rfk_admin_service_t *)zhashx_lookup (self->services, id);
    if (!service || rfk_service_status_is_final (stored->status)) {
        rfk_msg_t *error =
            rfk_msg_new_error (&rfk_service_family, msg->correlation, RFK_CODE_CONFLICT, "");
        json_object_set_new (error->body, "message",
                             json_string (rfk_service_status_is_final (stored->status)
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
        bool down = rfk_store_code (self->store) == RFK_CODE_UNAVAILABLE;
        return rfk_server_send_error (server, peer, msg->correlation,
                                      down ? RFK_CODE_UNAVAILABLE : RFK_CODE_NOT_FOUND,
                                      down ? rfk_store_message (self->store) : err);
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
    //  A predictor saying Hello again keeps its first ServiceConfig: its
    //  serving keys, which may have changed meanwhile, come on their own.
    if (streq (service->role, "predictor") && service->inference_job_id) {
        rfk_inference_job_t *job =
            rfk_store_get_inference_job (self->store, service->inference_job_id);
        if (job)
            rfk_admin_serving_keys_push (self, job);
        rfk_inference_job_destroy (&job);
    }
    if (service->status == RFK_SERVICE_STARTED)
        rfk_admin_set_service_status (self, id, RFK_SERVICE_DEPLOYING, "said hello");
    return rc;
}

/* The roles whose task swarm may move to another node and admin then
   adopts: each gets what it needs again from ServiceConfig (a trainer's
   trial ends "node lost" and the advisor proposes again; an advisor resumes
   its sub job from past_trials; a predictor binds the ports it reported
   before; a worker loads its trial again). */
static bool
s_movable_role (const char *role)
{
    return streq (role, "trainer") || streq (role, "advisor") || streq (role, "predictor") ||
           streq (role, "inference");
}

/* Under swarm, a service that reports STOPPED "stopped ..." (it got SIGTERM)
   while admin has not stopped it (its launcher state is still RUNNING) was
   stopped by swarm, which starts its task again on another node: its node
   was drained or left the swarm. */
static bool
s_moved_by_swarm (rfk_admin_t *self, const rfk_admin_service_t *service,
                  rfk_service_status_t status, const char *message)
{
    rfk_launcher_status_t launched;
    return self->swarm && status == RFK_SERVICE_STOPPED && s_movable_role (service->role) &&
           message && !strncmp (message, "stopped", 7) && !service->job_ended &&
           rfk_launcher_status (self->launcher, service->id, &launched) == 0 &&
           launched.state == RFK_LAUNCHER_RUNNING;
}

/* Forget a moved service's session: its new task says Hello again. */
static void
s_adopt_moved (rfk_admin_t *self, rfk_admin_service_t *service)
{
    rfk_log_warning (RFK_ADMIN_LOG,
                     "service-moved id=%s role=%s reason=\"node lost: swarm stopped its task, "
                     "not admin; its new task on another node says Hello again\"",
                     service->id, service->role);
    if (service->peer) {
        char *hex = zframe_strhex (service->peer);
        zhashx_delete (self->peers, hex);
        free (hex);
        zframe_destroy (&service->peer);
    }
    char *id = strdup (service->id);
    rfk_admin_set_service_status (self, id, RFK_SERVICE_DEPLOYING,
                                  "node lost: swarm moves it to another node");
    free (id);
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
    rfk_service_status_t status = rfk_service_status_from_name (s_str (msg, "status"));
    if (id && !streq (id, service->id))
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_FORBIDDEN,
                                      "you may report only your own status");
    if (!status || status == RFK_SERVICE_STARTED)
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_BAD_REQUEST,
                                      "field `status` must be DEPLOYING, RUNNING, STOPPED or "
                                      "ERRORED");
    char *service_id = strdup (service->id);
    bool provider = streq (service->role, "advisor") || streq (service->role, "predictor");
    int rc;
    char err[256] = "";
    //  Where an advisor or predictor listens is recorded before its job
    //  rolls up, and what waited for it starts after (rfk_admin_endpoints.c).
    if (provider && status == RFK_SERVICE_RUNNING &&
        rfk_admin_provider_running (self, service_id, json_object_get (msg->body, "endpoints"), err,
                                    sizeof err) != 0) {
        rfk_log_warning (RFK_ADMIN_LOG, "RFK-MALFORMED service=%s report=RUNNING reason=\"%s\"",
                         service_id, err);
        rc = rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_BAD_REQUEST, err);
        rfk_admin_set_service_status (self, service_id, RFK_SERVICE_ERRORED, err);
    } else if (s_moved_by_swarm (self, service, status, s_str (msg, "message"))) {
        rc = s_ack (server, peer, msg);
        s_adopt_moved (self, service);
    } else {
        rfk_admin_set_service_status (self, service_id, status, s_str (msg, "message"));
        rc = s_ack (server, peer, msg);
        if (provider && status == RFK_SERVICE_RUNNING)
            rfk_admin_launch_dependents (self, service_id);
    }
    free (service_id);
    return rc;
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
    if (!trial && id && rfk_store_code (self->store) == RFK_CODE_UNAVAILABLE) {
        //  The store is down: the service keeps its report and sends it again.
        rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_UNAVAILABLE,
                               rfk_store_message (self->store));
        return NULL;
    }
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
    json_object_set_new (event, "status", json_string (rfk_trial_status_name (trial->status)));
    if (isfinite (trial->score))
        json_object_set_new (event, "score", json_real (trial->score));
    if (error)
        json_object_set_new (event, "error", json_string (error));
    rfk_admin_publish (self, "trial", trial->id, "TrialUpdate", event);
}

/*  A TrialCreate sent again (its answer was lost when admin or its store
    went away after the trial was written): the PENDING trial of that
    number, nobody's yet, else NULL. */
static rfk_trial_t *
s_created_before (rfk_admin_t *self, const char *sub_id, int64_t no)
{
    zlistx_t *trials = rfk_store_list_trials (self->store, NULL, sub_id, RFK_TRIALS_BY_NO, NULL);
    rfk_trial_t *found = NULL;
    for (rfk_trial_t *trial = trials ? (rfk_trial_t *)zlistx_first (trials) : NULL; trial;
         trial = (rfk_trial_t *)zlistx_next (trials))
        if (trial->no == no && trial->status == RFK_TRIAL_PENDING && !trial->worker_id) {
            found = rfk_store_get_trial (self->store, trial->id);
            break;
        }
    zlistx_destroy (&trials);
    return found;
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
    //  A stop already ended the job's open trials: none may begin after it
    //  (the advisor's Stop may still be on its way).
    if (service->job_ended)
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_CONFLICT,
                                      "the train job was stopped: no new trial");
    json_t *knobs = json_object_get (msg->body, "knobs");
    json_t *policies = json_object_get (msg->body, "policies");
    rfk_trial_t record = {
        .no = (int64_t)json_integer_value (json_object_get (msg->body, "trial_no")),
        .sub_train_job_id = (char *)sub_id,
        .status = RFK_TRIAL_PENDING,
        .knobs = json_is_object (knobs) ? knobs : NULL,
        .policies = json_is_array (policies) ? policies : NULL,
        .score = NAN,
    };
    rfk_trial_t *trial = rfk_store_create_trial (self->store, &record);
    if (!trial && rfk_store_code (self->store) == RFK_CODE_CONFLICT) {
        trial = s_created_before (self, sub_id, record.no);
        if (!trial)
            return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_CONFLICT,
                                          "this trial number is taken");
    }
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

/* TrialStarted on a trial: a PENDING one now runs on the sender's worker.
   1 when the trial changed, 0 when there is nothing to change. */
static int
s_trial_started (const rfk_msg_t *msg, const rfk_admin_service_t *service, rfk_trial_t *trial)
{
    if (trial->status != RFK_TRIAL_PENDING)
        return 0;
    trial->status = RFK_TRIAL_RUNNING;
    free (trial->worker_id);
    const char *worker = s_str (msg, "worker_id");
    trial->worker_id = strdup (worker ? worker : service->id);
    return 1;
}

/* The error a trial ended with, as admin records it. Under swarm, a trainer
   that stops its trial ("stopped", on SIGTERM) while admin has not stopped
   it (its launcher state is still RUNNING) was stopped by swarm: its node was
   drained or left the swarm, and swarm starts its task again elsewhere. */
static const char *
s_trial_error (rfk_admin_t *self, const rfk_admin_service_t *service, const char *error)
{
    rfk_launcher_status_t status;
    if (self->swarm && error && streq (error, "stopped") && !service->job_ended &&
        rfk_launcher_status (self->launcher, service->id, &status) == 0 &&
        status.state == RFK_LAUNCHER_RUNNING)
        return "node lost: swarm stopped its trainer, not admin (the node was drained or left "
               "the swarm)";
    return error;
}

/* TrialFinished on a trial: its final status, score, parameters and error.
   1 when the trial changed, 0 when it was COMPLETED before (a retry), -1
   when field `status` is no final status. */
static int
s_trial_finished (rfk_admin_t *self, const rfk_msg_t *msg, const rfk_admin_service_t *service,
                  rfk_trial_t *trial)
{
    rfk_trial_status_t status = rfk_trial_status_from_name (s_str (msg, "status"));
    if (!rfk_trial_status_is_final (status))
        return -1;
    //  A result delivered again (a trainer keeps what admin did not answer,
    //  and sends it again after admin restarted) changes nothing.
    if (trial->status == RFK_TRIAL_COMPLETED || trial->status == status)
        return 0;
    trial->status = status;
    json_t *score = json_object_get (msg->body, "score");
    if (json_is_number (score))
        trial->score = json_number_value (score);
    const char *params = s_str (msg, "params_path");
    if (params) {
        free (trial->store_params_id);
        trial->store_params_id = s_params_id (self, params);
    }
    const char *error = s_trial_error (self, service, s_str (msg, "error"));
    if (error) {
        if (!json_is_object (trial->progress)) {
            json_decref (trial->progress);
            trial->progress = json_object ();
        }
        json_object_set_new (trial->progress, "error", json_string (error));
    }
    if (!trial->worker_id)
        trial->worker_id = strdup (service->id);
    return 1;
}

/* A worker's report on one of its trials (TrialStarted, or TrialFinished
   when finished): the trial changed, stored and published, then an ack. */
static int
s_trial_report (rfk_admin_t *self, rfk_server_t *server, zframe_t *peer, const rfk_msg_t *msg,
                bool finished)
{
    rfk_admin_service_t *service = NULL;
    rfk_trial_t *trial = s_own_trial (self, server, peer, msg, &service);
    if (!trial)
        return 0;
    int changed = finished ? s_trial_finished (self, msg, service, trial)
                           : s_trial_started (msg, service, trial);
    int rc;
    if (changed < 0)
        rc = rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_BAD_REQUEST,
                                    "field `status` must be COMPLETED, ERRORED or PRUNED");
    else if (changed && rfk_store_update_trial (self->store, trial) != 0)
        rc = rfk_server_send_error (server, peer, msg->correlation, rfk_store_code (self->store),
                                    rfk_store_message (self->store));
    else {
        if (changed)
            s_publish_trial (
                self, trial,
                finished ? json_string_value (json_object_get (trial->progress, "error")) : NULL);
        rc = s_ack (server, peer, msg);
    }
    rfk_trial_destroy (&trial);
    return rc;
}

static int
s_on_trial_started (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    return s_trial_report ((rfk_admin_t *)ctx, server, peer, *msg_p, false);
}

static int
s_on_trial_finished (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    return s_trial_report ((rfk_admin_t *)ctx, server, peer, *msg_p, true);
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
    rfk_admin_stop_services (
        self, &(rfk_admin_services_of_t){.sub_train_job_id = sub, .except_id = advisor},
        "the budget of its sub train job is spent");
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
