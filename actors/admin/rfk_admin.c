/*  rfk_admin.c: the admin actor (DESIGN.md §1, §2, §7; API.md).

    One thread, one loop (zmq_poll over a poll set registered once):
    - the pipe ($TERM, ENDPOINTS, STORE-CALLS);
    - ROUTER `command` (rfk_admin_command.c): every request of admin.proto,
      answered through rfk_admin_handle (the dispatcher here, which the HTTP
      front calls too), and the streamed uploads;
    - ROUTER `service` (rfk_server, service family): Hello, StatusReport,
      trial reports (rfk_admin_service_socket.c);
    - the launcher's descriptor and deadline (children exiting, restarts);
    - the model checks' epoll set and deadline (rfk_admin_checks.c): an
      upload's last UploadChunk is answered when its check ends;
    - the password hashing child's socket (rfk_admin_hash.c): a Login or
      CreateUser is answered when its hash comes back (rfk_admin_login.c);
    - the HTTP front's epoll descriptor and timeout (rfk_http_front.h),
      whose handlers call the same functions from inside rfk_http_front_step.
    Events (JobStatus, ServiceStatus, TrialUpdate, LogLine) go through a PUB
    into an rfk_proxy XSUB -> XPUB bound on admin.events_port. Setup goes in
    steps (tables, data directory, store, launcher, sockets, HTTP front);
    the first that fails says why.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"
#include "rfk_sandbox.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rafiki/model.h"
#include "rfk_http_admin.h"
#include "rfk_http_front.h"
#include "rfk_role.h"

/* ---- shared helpers ------------------------------------------------------ */

rfk_msg_t *
rfk_admin_reply (const rfk_msg_t *request, const char *type)
{
    rfk_msg_t *reply = rfk_msg_new (&rfk_admin_family, type, request ? request->correlation : 0);
    assert (reply);
    return reply;
}

rfk_msg_t *
rfk_admin_reply_with (const rfk_msg_t *request, const char *type, json_t *body)
{
    rfk_msg_t *reply = rfk_admin_reply (request, type);
    json_decref (reply->body);
    reply->body = body;
    return reply;
}

rfk_msg_t *
rfk_admin_error (const rfk_msg_t *request, rfk_code_t code, const char *format, ...)
{
    char message[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    return rfk_msg_new_error (&rfk_admin_family, request ? request->correlation : 0, code, message);
}

rfk_msg_t *
rfk_admin_store_error (rfk_admin_t *self, const rfk_msg_t *request, const char *doing)
{
    rfk_code_t code = rfk_store_code (self->store);
    if (code == RFK_CODE_OK)
        code = RFK_CODE_INTERNAL;
    if (code == RFK_CODE_INTERNAL || code == RFK_CODE_UNAVAILABLE)
        rfk_log_warning (RFK_ADMIN_LOG, "RFK-STORE doing=\"%s\" message=\"%s\"", doing,
                         rfk_store_message (self->store));
    return rfk_admin_error (request, code, "%s: %s", doing, rfk_store_message (self->store));
}

const char *
rfk_admin_field (const rfk_msg_t *request, const char *name)
{
    return json_string_value (json_object_get (request->body, name));
}

const char *
rfk_admin_require (const rfk_msg_t *request, const char *name, rfk_msg_t **error)
{
    const char *value = rfk_admin_field (request, name);
    if (!value || !*value) {
        *error = rfk_admin_error (request, RFK_CODE_BAD_REQUEST, "field `%s` is missing%s", name,
                                  value ? " (empty)" : "");
        return NULL;
    }
    return value;
}

int64_t
rfk_admin_int_field (const rfk_msg_t *request, const char *name, int64_t fallback)
{
    json_t *value = json_object_get (request->body, name);
    if (json_is_integer (value))
        return (int64_t)json_integer_value (value);
    return fallback;
}

void
rfk_admin_publish (rfk_admin_t *self, const char *prefix, const char *id, const char *type,
                   json_t *body)
{
    rfk_msg_t *event = rfk_msg_new (&rfk_event_family, type, 0);
    if (!event || !self->events) {
        json_decref (body);
        rfk_msg_destroy (&event);
        return;
    }
    json_decref (event->body);
    event->body = body;
    //  Both fronts send an event to whoever may see it, by its job's owner.
    bool watched = rfk_admin_bus_events_channels (self) > 0 ||
                   (self->http && rfk_http_front_event_streams (self->http) > 0);
    const char *owner = watched ? rfk_admin_event_owner (self, type, body) : NULL;
    rfk_admin_events_forward (self, owner, type, body);
    char topic[256];
    snprintf (topic, sizeof topic, "%s.%s", prefix, id);
    rfk_admin_bus_events_publish (self, owner, topic, event);
    rfk_msg_destroy (&event);
}

bool
rfk_admin_task_known (const char *task)
{
    return task &&
           (streq (task, RAFIKI_TASK_IMAGE_CLASSIFICATION) ||
            streq (task, RAFIKI_TASK_TABULAR_CLASSIFICATION) ||
            streq (task, RAFIKI_TASK_TABULAR_REGRESSION) || streq (task, RAFIKI_TASK_POS_TAGGING));
}

char *
rfk_admin_uuid (void)
{
    unsigned char bytes[16];
    randombytes_buf (bytes, sizeof bytes);
    bytes[6] = (unsigned char)((bytes[6] & 0x0f) | 0x40);
    bytes[8] = (unsigned char)((bytes[8] & 0x3f) | 0x80);
    char *text = (char *)malloc (37);
    if (!text)
        return NULL;
    snprintf (text, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
              bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
              bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
    return text;
}

void
rfk_admin_now_iso (char *buffer, size_t size)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r (&now.tv_sec, &tm);
    char base[32];
    strftime (base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (buffer, size, "%s.%06ldZ", base, now.tv_nsec / 1000);
}

/* ---- the handler table --------------------------------------------------- */

typedef rfk_msg_t *(s_handler_fn)(rfk_admin_t *self, const rfk_msg_t *req,
                                  const rfk_auth_claims_t *caller);

typedef struct {
    const char *type;   /* request body type */
    s_handler_fn *fn;   /* its handler */
    bool authenticated; /* needs a valid token */
} s_route_t;

static const s_route_t s_routes[] = {
    {"Login", rfk_admin_on_login, false},
    {"ListUsers", rfk_admin_on_list_users, true},
    {"CreateUser", rfk_admin_on_create_user, true},
    {"BanUser", rfk_admin_on_ban_user, true},
    {"GetMe", rfk_admin_on_get_me, true},
    {"ListDatasets", rfk_admin_on_list_datasets, true},
    {"GetDataset", rfk_admin_on_get_dataset, true},
    {"DeleteDataset", rfk_admin_on_delete_dataset, true},
    {"ListAvailableModels", rfk_admin_on_list_available_models, true},
    {"GetModel", rfk_admin_on_get_model, true},
    {"DeleteModel", rfk_admin_on_delete_model, true},
    {"GetModelFile", rfk_admin_on_get_model_file, true},
    {"CreateTrainJob", rfk_admin_on_create_train_job, true},
    {"ListTrainJobs", rfk_admin_on_list_train_jobs, true},
    {"GetTrainJobsOfApp", rfk_admin_on_get_train_jobs_of_app, true},
    {"GetTrainJob", rfk_admin_on_get_train_job, true},
    {"StopTrainJob", rfk_admin_on_stop_train_job, true},
    {"ListTrials", rfk_admin_on_list_trials, true},
    {"GetTrial", rfk_admin_on_get_trial, true},
    {"GetTrialLogs", rfk_admin_on_get_trial_logs, true},
    {"GetTrialParameters", rfk_admin_on_get_trial_parameters, true},
    {"CreateInferenceJob", rfk_admin_on_create_inference_job, true},
    {"ListInferenceJobs", rfk_admin_on_list_inference_jobs, true},
    {"GetInferenceJobsOfApp", rfk_admin_on_get_inference_jobs_of_app, true},
    {"GetInferenceJob", rfk_admin_on_get_inference_job, true},
    {"StopInferenceJob", rfk_admin_on_stop_inference_job, true},
    {"CreateServingKey", rfk_admin_on_create_serving_key, true},
    {"ListServingKeys", rfk_admin_on_list_serving_keys, true},
    {"RevokeServingKey", rfk_admin_on_revoke_serving_key, true},
    {"StopAllJobs", rfk_admin_on_stop_all_jobs, true},
    {NULL, NULL, false},
};

rfk_msg_t *
rfk_admin_handle (rfk_admin_t *self, const rfk_msg_t *request)
{
    assert (self);
    if (!request || request->family != &rfk_admin_family || !request->type)
        return rfk_admin_error (request, RFK_CODE_BAD_REQUEST, "not an admin request");
    const s_route_t *route = NULL;
    for (const s_route_t *candidate = s_routes; candidate->type; candidate++)
        if (streq (candidate->type, request->type)) {
            route = candidate;
            break;
        }
    if (!route) {
        if (streq (request->type, "UploadStart") || streq (request->type, "UploadChunk"))
            return rfk_admin_error (request, RFK_CODE_BAD_REQUEST,
                                    "uploads stream through UploadStart/UploadChunk on the "
                                    "command socket or multipart POST over HTTP");
        return rfk_admin_error (request, RFK_CODE_UNKNOWN_MESSAGE,
                                "%s is not a request admin takes", request->type);
    }
    if (!json_is_object (request->body))
        return rfk_admin_error (request, RFK_CODE_BAD_REQUEST, "the request has no body");
    //  While the store is down everything is 503 at once, the token check
    //  (it reads the user's ban) included.
    rfk_msg_t *reply = rfk_admin_outage_gate (self, request);
    if (reply) {
        self->requests++;
        return reply;
    }
    uint64_t calls = rfk_store_calls (self->store);
    rfk_auth_claims_t claims;
    memset (&claims, 0, sizeof claims);
    if (route->authenticated) {
        rfk_msg_t *error = NULL;
        if (rfk_admin_authenticate (self, request, request->token, &claims, &error) != 0) {
            rfk_admin_outage_answer (self, calls, &error);
            return error;
        }
    }
    reply = route->fn (self, request, route->authenticated ? &claims : NULL);
    if (!reply)
        reply = rfk_admin_error (request, RFK_CODE_INTERNAL, "no answer to %s", request->type);
    rfk_admin_outage_answer (self, calls, &reply);
    reply->correlation = request->correlation;
    self->requests++;
    return reply;
}

/* ---- metrics ------------------------------------------------------------- */

void
rfk_admin_metrics (rfk_admin_t *self, FILE *out)
{
    assert (self);
    //  Counts by status value; index 0 (UNSET) is never printed.
    size_t services[RFK_SERVICE_ERRORED + 1] = {0}, train[RFK_JOB_ERRORED + 1] = {0},
                                          inference[RFK_JOB_ERRORED + 1] = {0};
    zlistx_t *list = rfk_store_list_services (self->store, false, NULL);
    for (rfk_service_t *item = list ? (rfk_service_t *)zlistx_first (list) : NULL; item;
         item = (rfk_service_t *)zlistx_next (list))
        if (rfk_service_status_name (item->status))
            services[item->status]++;
    zlistx_destroy (&list);
    list = rfk_store_list_train_jobs (self->store, NULL, NULL, false, NULL);
    for (rfk_train_job_t *item = list ? (rfk_train_job_t *)zlistx_first (list) : NULL; item;
         item = (rfk_train_job_t *)zlistx_next (list))
        if (rfk_job_status_name (item->status))
            train[item->status]++;
    zlistx_destroy (&list);
    list = rfk_store_list_inference_jobs (self->store, NULL, false, NULL);
    for (rfk_inference_job_t *item = list ? (rfk_inference_job_t *)zlistx_first (list) : NULL; item;
         item = (rfk_inference_job_t *)zlistx_next (list))
        if (rfk_job_status_name (item->status))
            inference[item->status]++;
    zlistx_destroy (&list);
    fprintf (out, "# HELP rafiki_services Dynamic services by state.\n"
                  "# TYPE rafiki_services gauge\n");
    for (int index = RFK_SERVICE_STARTED; index <= RFK_SERVICE_ERRORED; index++)
        fprintf (out, "rafiki_services{state=\"%s\"} %zu\n",
                 rfk_service_status_name ((rfk_service_status_t)index), services[index]);
    fprintf (out, "# HELP rafiki_jobs Train and inference jobs by kind and state.\n"
                  "# TYPE rafiki_jobs gauge\n");
    for (int index = RFK_JOB_STARTED; index <= RFK_JOB_ERRORED; index++)
        fprintf (out, "rafiki_jobs{kind=\"train\",state=\"%s\"} %zu\n",
                 rfk_job_status_name ((rfk_job_status_t)index), train[index]);
    for (int index = RFK_JOB_STARTED; index <= RFK_JOB_ERRORED; index++)
        fprintf (out, "rafiki_jobs{kind=\"inference\",state=\"%s\"} %zu\n",
                 rfk_job_status_name ((rfk_job_status_t)index), inference[index]);
    fprintf (out,
             "# HELP rafiki_admin_uploads_open Uploads in progress on the ZeroMQ front.\n"
             "# TYPE rafiki_admin_uploads_open gauge\n"
             "rafiki_admin_uploads_open %zu\n",
             zhashx_size (self->uploads));
    fprintf (out,
             "# HELP rafiki_admin_logins_refused_total Logins refused before their password "
             "was checked.\n"
             "# TYPE rafiki_admin_logins_refused_total counter\n"
             "rafiki_admin_logins_refused_total{reason=\"rate_limited\"} %llu\n"
             "rafiki_admin_logins_refused_total{reason=\"busy\"} %llu\n"
             "# HELP rafiki_admin_password_hashes_pending Password hashes queued or running.\n"
             "# TYPE rafiki_admin_password_hashes_pending gauge\n"
             "rafiki_admin_password_hashes_pending %zu\n",
             (unsigned long long)self->logins_limited, (unsigned long long)self->logins_busy,
             rfk_admin_hash_pending (self->hash));
}

/* Let the launcher forget the services that ended (outside its callbacks). */
static void
s_forget_ended (rfk_admin_t *self)
{
    for (char *id = (char *)zlistx_first (self->to_forget); id;
         id = (char *)zlistx_next (self->to_forget))
        rfk_launcher_forget (self->launcher, id);
    zlistx_purge (self->to_forget);
    rfk_admin_relaunch_due (self);
}

/* ---- setup and teardown -------------------------------------------------- */

static int
s_mkdir_p (const char *path)
{
    char buffer[PATH_MAX];
    if (snprintf (buffer, sizeof buffer, "%s", path) >= (int)sizeof buffer)
        return -1;
    for (char *slash = buffer + 1; *slash; slash++)
        if (*slash == '/') {
            *slash = 0;
            if (mkdir (buffer, 0750) != 0 && errno != EEXIST)
                return -1;
            *slash = '/';
        }
    if (mkdir (buffer, 0750) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static void
s_self_destroy (rfk_admin_t **self_p)
{
    rfk_admin_t *self = *self_p;
    if (!self)
        return;
    //  Logins still hashing are dropped first (their fronts are still up).
    rfk_admin_hash_destroy (&self->hash);
    if (self->http)
        rfk_http_front_destroy (&self->http);
    free (self->web_dir);
    zhashx_destroy (&self->event_owners);
    rfk_admin_checks_destroy (self);
    rfk_admin_fetch_destroy (self);
    zhashx_destroy (&self->answering);
    zhashx_destroy (&self->uploads);
    rfk_launcher_destroy (&self->launcher);
    rfk_admin_swarm_destroy (self);
    zlistx_destroy (&self->adopted);
    zhashx_destroy (&self->services);
    zlistx_destroy (&self->to_forget);
    zlistx_destroy (&self->to_relaunch);
    zhashx_destroy (&self->peers);
    zhashx_destroy (&self->replies);
    zlistx_destroy (&self->reply_keys);
    rfk_server_destroy (&self->command);
    rfk_server_destroy (&self->service);
    rfk_admin_bus_events_destroy (self);
    rfk_admin_curve_stop (self);
    zstr_free (&self->events_endpoint);
    rfk_auth_destroy (&self->auth);
    rfk_store_destroy (&self->store);
    free (self->data_dir);
    free (self->sandbox_refusal);
    zstr_free (&self->datasets_dir);
    zstr_free (&self->models_dir);
    zstr_free (&self->params_dir);
    zstr_free (&self->logs_dir);
    free (self->rafikid_path);
    free (self->check_path);
    rfk_admin_secrets_forget (self);
    free (self->connect_host);
    rfk_admin_limits_destroy (&self->limits); //  last: uploads give their places back
    free (self);
    *self_p = NULL;
}

static void
s_service_destructor (void **item)
{
    rfk_admin_service_destroy ((rfk_admin_service_t **)item);
}

/* The endpoint "tcp://host:port" (port 0: any free port). */
static void
s_endpoint (char *buffer, size_t size, const char *host, int64_t port)
{
    if (port > 0)
        snprintf (buffer, size, "tcp://%s:%lld", host, (long long)port);
    else
        snprintf (buffer, size, "tcp://%s:*", host);
}

/* The tables and the model checks' epoll set; libsodium. */
static int
s_self_tables (rfk_admin_t *self, char *err, size_t errlen)
{
    self->services = zhashx_new ();
    zhashx_set_destructor (self->services, s_service_destructor);
    self->to_forget = zlistx_new ();
    zlistx_set_destructor (self->to_forget, (czmq_destructor *)zstr_free);
    zlistx_set_duplicator (self->to_forget, (czmq_duplicator *)strdup);
    self->to_relaunch = zlistx_new ();
    zlistx_set_destructor (self->to_relaunch, (czmq_destructor *)zstr_free);
    zlistx_set_duplicator (self->to_relaunch, (czmq_duplicator *)strdup);
    self->peers = zhashx_new ();
    self->checks_fd = -1;
    if (rfk_admin_checks_setup (self) != 0) {
        snprintf (err, errlen, "cannot set up model checks: %s", strerror (errno));
        return -1;
    }
    self->fetch_fd = -1;
    if (rfk_admin_fetch_setup (self) != 0) {
        snprintf (err, errlen, "cannot set up dataset downloads: %s", strerror (errno));
        return -1;
    }
    if (sodium_init () < 0) {
        snprintf (err, errlen, "libsodium cannot start");
        return -1;
    }
    return 0;
}

/* Under the local launcher, template code runs in the sandbox (launcher.sandbox,
   sdk/sandbox): say at start whether it can, and where it cannot, refuse train and
   inference jobs unless the sandbox is off, which is then said at every start. */
static void
s_sandbox_check (rfk_admin_t *self)
{
    const char *mode = rfk_config_string (self->config, "launcher", "sandbox");
    uid_t uid = (uid_t)rfk_config_int (self->config, "launcher", "sandbox_uid");
    char err[1024] = "";
    self->sandboxed = false;
    self->confine_checks = !(mode && streq (mode, "off"));
    if (self->swarm) {
        //  Services run in containers; the upload check runs in admin's own,
        //  where no bwrap can: it confines itself (Landlock, seccomp).
        if (self->confine_checks)
            rfk_log_info (RFK_ADMIN_LOG, "check-confined template checks confine themselves "
                                         "(Landlock, seccomp) in admin's container");
        else
            rfk_log_warning (RFK_ADMIN_LOG, "sandbox-off template checks run unconfined in "
                                            "admin's container, with its secrets and the "
                                            "Docker socket in reach (launcher.sandbox: off)");
        return;
    }
    if (mode && streq (mode, "off")) {
        rfk_log_warning (RFK_ADMIN_LOG, "sandbox-off template code runs unsandboxed, with "
                                        "admin's uid and the whole data dir in reach "
                                        "(launcher.sandbox: off)");
        return;
    }
    if (rfk_sandbox_available (uid, (gid_t)uid, err, sizeof err)) {
        self->sandboxed = true;
        rfk_log_info (RFK_ADMIN_LOG, "sandbox-on uid=%u",
                      geteuid () == 0 ? (unsigned)uid : (unsigned)geteuid ());
        return;
    }
    self->sandbox_refusal = zsys_sprintf ("this machine cannot sandbox template code, so train "
                                          "and inference jobs are refused: %s",
                                          err);
    rfk_log_error (RFK_ADMIN_LOG, "sandbox-unavailable %s", self->sandbox_refusal);
}

/* The data directory and its folders, by absolute path (services run with
   their own working directory); umask 077 from here on. */
static int
s_self_data_dir (rfk_admin_t *self, char *err, size_t errlen)
{
    //  What admin writes (the store, keys, uploads, parameters, logs) is its
    //  own alone, and so is what the services it starts write.
    umask (077);
    const char *data_dir = rfk_config_string (self->config, "", "data_dir");
    if (!data_dir || !*data_dir || s_mkdir_p (data_dir) != 0) {
        snprintf (err, errlen, "cannot create the data directory %s: %s",
                  data_dir ? data_dir : "(empty)", strerror (errno));
        return -1;
    }
    self->data_dir = realpath (data_dir, NULL);
    if (!self->data_dir) {
        snprintf (err, errlen, "data directory %s: %s", data_dir, strerror (errno));
        return -1;
    }
    self->datasets_dir = zsys_sprintf ("%s/datasets", self->data_dir);
    self->models_dir = zsys_sprintf ("%s/models", self->data_dir);
    self->params_dir = zsys_sprintf ("%s/params", self->data_dir);
    self->logs_dir = zsys_sprintf ("%s/logs", self->data_dir);
    const char *dirs[] = {self->datasets_dir, self->models_dir, self->params_dir, self->logs_dir};
    for (int index = 0; index < 4; index++)
        if (!dirs[index] || s_mkdir_p (dirs[index]) != 0) {
            snprintf (err, errlen, "cannot create %s: %s", dirs[index] ? dirs[index] : "a folder",
                      strerror (errno));
            return -1;
        }
    return 0;
}

/* The store (store.url, or SQLite under data_dir when it is empty, for
   `up` as for `admin`), auth and the superadmin; what a previous run left
   is recovered. */
static int
s_self_store (rfk_admin_t *self, char *err, size_t errlen)
{
    const char *url = rfk_config_string (self->config, "store", "url");
    rfk_store_error_t store_error = {0};
    self->store = rfk_store_open (url, self->data_dir, &store_error);
    if (!self->store) {
        snprintf (err, errlen, "cannot open the metadata store: %s", store_error.message);
        return -1;
    }
    if (rfk_admin_auth_setup (self, err, errlen) != 0 ||
        rfk_admin_seed_superadmin (self, err, errlen) != 0)
        return -1;
    //  The launcher's backend decides what recovery does (rfk_admin_swarm.c).
    const char *backend = rfk_config_string (self->config, "launcher", "backend");
    self->swarm = !self->embedded && backend && streq (backend, "swarm");
    if (!self->embedded && backend && !streq (backend, "local") && !self->swarm) {
        snprintf (err, errlen, "launcher.backend %s is not known (local or swarm)", backend);
        return -1;
    }
    s_sandbox_check (self);
    rfk_admin_recover (self);
    rfk_admin_clean_partial_uploads (self);
    return 0;
}

/* The launcher: local, or swarm for `rafikid admin` (rfk_admin_swarm.c). */
static int
s_self_launcher (rfk_admin_t *self, const char *rafikid_path, char *err, size_t errlen)
{
    self->rafikid_path = realpath (rafikid_path ? rafikid_path : "/proc/self/exe", NULL);
    if (!self->rafikid_path) {
        snprintf (err, errlen, "cannot find the rafikid executable: %s", strerror (errno));
        return -1;
    }
    rfk_launcher_local_config_t launcher;
    rfk_launcher_local_config_defaults (&launcher);
    launcher.rafikid_path = self->rafikid_path;
    launcher.data_dir = self->data_dir;
    launcher.max_restarts = (int)rfk_config_int (self->config, "launcher", "max_restarts");
    int64_t stop_ms = rfk_config_int (self->config, "", "stop_timeout_ms");
    if (launcher.grace_ms > stop_ms / 2)
        launcher.grace_ms = (int)(stop_ms / 2);
    if (self->swarm) {
        if (rfk_admin_swarm_launcher_new (self, err, errlen) != 0)
            return -1;
    } else
        self->launcher = rfk_launcher_new_local (&launcher, rfk_admin_on_launcher_event, self);
    if (!self->launcher) {
        snprintf (err, errlen, "cannot set up the local launcher");
        return -1;
    }
    return 0;
}

/* The ZeroMQ sockets on admin.host: `command`, `service`, and `events`. */
/* A heartbeat on `service` is answered, except from a peer that never said
   Hello to this admin while services it adopted at start still have to:
   that is one of them, whose admin restarted faster than it noticed, and
   Error UNAUTHORIZED makes it say Hello again (rfk_session). */
static bool
s_service_ping_ok (rfk_server_t *server, zframe_t *peer, void *ctx)
{
    (void)server;
    rfk_admin_t *self = (rfk_admin_t *)ctx;
    if (self->hello_deadline < 0 || !self->adopted || zlistx_size (self->adopted) == 0)
        return true;
    char *hex = zframe_strhex (peer);
    bool known = hex && zhashx_lookup (self->peers, hex);
    free (hex);
    return known;
}

static int
s_self_sockets (rfk_admin_t *self, const char *host, char *err, size_t errlen)
{
    char endpoint[300];
    rfk_bus_opts_t opts;
    rfk_admin_curve_opts (self, &opts, false); //  only the service keys admin issued
    //  Services a killed admin left running reach admin where it was: with
    //  port 0, bind the last admin's port again when it is free.
    int64_t service_port = rfk_config_int (self->config, "admin", "service_port");
    int last_port = service_port ? 0 : rfk_admin_ports_last_service (self->data_dir);
    if (last_port) {
        s_endpoint (endpoint, sizeof endpoint, host, last_port);
        self->service =
            rfk_server_new (endpoint, &rfk_service_family, rfk_admin_service_routes, self, &opts);
        if (!self->service)
            rfk_log_warning (RFK_ADMIN_LOG, "service-port-taken port=%d", last_port);
    }
    s_endpoint (endpoint, sizeof endpoint, host, service_port);
    if (!self->service)
        self->service =
            rfk_server_new (endpoint, &rfk_service_family, rfk_admin_service_routes, self, &opts);
    if (!self->service) {
        snprintf (err, errlen, "cannot bind the service socket on %s", endpoint);
        return -1;
    }
    rfk_server_set_expired (self->service, rfk_admin_service_expired);
    rfk_server_set_ping_check (self->service, s_service_ping_ok);
    //  `command` after `service`, so that it never takes the port the
    //  services of a killed admin look for.
    s_endpoint (endpoint, sizeof endpoint, host,
                rfk_config_int (self->config, "admin", "command_port"));
    self->command = rfk_admin_command_new (self, endpoint);
    if (!self->command) {
        snprintf (err, errlen, "cannot bind the command socket on %s", endpoint);
        return -1;
    }
    //  The events socket: CURVE with any client key, and subscriptions by
    //  token (rfk_admin_bus_events.c).
    s_endpoint (endpoint, sizeof endpoint, host,
                rfk_config_int (self->config, "admin", "events_port"));
    return rfk_admin_bus_events_new (self, endpoint, err, errlen);
}

/* The HTTP front on admin.host, serving the web admin's folder. */
static int
s_self_http (rfk_admin_t *self, const char *host, char *err, size_t errlen)
{
    rfk_http_front_config_t http;
    rfk_http_front_config_from (&http, self->config);
    http.host = host;
    http.data_dir = self->data_dir;
    self->web_dir = rfk_admin_web_dir (self->config);
    http.static_dir = self->web_dir;
    http.bus_key = self->curve.services ? self->curve.pair.public_key : NULL;
    rfk_http_handlers_t handlers = rfk_http_admin_handlers (self);
    char http_err[256] = "";
    self->http = rfk_http_front_new (&http, &handlers, http_err, sizeof http_err);
    if (!self->http) {
        snprintf (err, errlen, "cannot start the HTTP front: %s", http_err);
        return -1;
    }
    self->http_port = rfk_http_front_port (self->http);
    return 0;
}

/* The rafikid that checks uploaded templates (rfk_admin_checks.c). */
static int
s_self_check_path (rfk_admin_t *self, const char *check_path, char *err, size_t errlen)
{
    self->check_path = check_path ? realpath (check_path, NULL) : strdup (self->rafikid_path);
    if (!self->check_path)
        snprintf (err, errlen, "cannot find the rafikid that checks templates: %s",
                  strerror (errno));
    return self->check_path ? 0 : -1;
}

static rfk_admin_t *
s_self_new (const rfk_admin_args_t *args, char *err, size_t errlen)
{
    rfk_admin_t *self = (rfk_admin_t *)calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->hello_deadline = -1;
    self->config = args->config;
    self->dev = args->dev;
    if (rfk_admin_secrets_take (self) != 0) {
        snprintf (err, errlen, "out of memory");
        free (self);
        return NULL;
    }
    self->embedded = args->embedded;
    rfk_bus_opts_from_config (&self->bus, self->config);
    self->upload_max = rfk_config_size (self->config, "admin", "upload_max_bytes");
    const char *host = rfk_config_string (self->config, "admin", "host");
    if (!host || !*host)
        host = "127.0.0.1";
    self->connect_host = strdup (streq (host, "0.0.0.0") || streq (host, "*") ? "127.0.0.1" : host);
    //  The bus keys before the launcher: services adopted at start (its
    //  recovery) have their keys admitted as they are tracked again.
    if (s_self_tables (self, err, errlen) != 0 || rfk_admin_login_setup (self, err, errlen) != 0 ||
        s_self_data_dir (self, err, errlen) != 0 ||
        rfk_admin_curve_start (self, err, errlen) != 0 || s_self_store (self, err, errlen) != 0 ||
        s_self_launcher (self, args->rafikid_path, err, errlen) != 0 ||
        s_self_check_path (self, args->check_path, err, errlen) != 0 ||
        s_self_sockets (self, host, err, errlen) != 0 ||
        s_self_http (self, host, err, errlen) != 0) {
        s_self_destroy (&self);
        return NULL;
    }
    rfk_admin_swarm_replay (self);
    rfk_admin_adopt_local (self);
    return self;
}

/* Stop every service and wait (serving `service`, so workers can report
   their last trials) until they are gone or the time is up. */
static void
s_stop_services (rfk_admin_t *self, int64_t wait_ms)
{
    if (!self->launcher || rfk_launcher_live (self->launcher) == 0)
        return;
    rfk_log_info (RFK_ADMIN_LOG, "stopping-services count=%d", rfk_launcher_live (self->launcher));
    rfk_admin_stop_services (self, &(rfk_admin_services_of_t){0}, "admin is stopping");
    rfk_launcher_stop_all (self->launcher);
    int64_t until = zclock_mono () + wait_ms;
    zmq_pollitem_t items[] = {
        {zsock_resolve (rfk_server_sock (self->service)), 0, ZMQ_POLLIN, 0},
        {NULL, rfk_launcher_fd (self->launcher), ZMQ_POLLIN, 0},
    };
    int count = rfk_launcher_fd (self->launcher) >= 0 ? 2 : 1;
    while (rfk_launcher_live (self->launcher) > 0 && zclock_mono () < until) {
        int64_t timeout = until - zclock_mono ();
        int64_t next = rfk_launcher_next_deadline (self->launcher);
        if (next >= 0 && next - zclock_mono () < timeout)
            timeout = next - zclock_mono ();
        if (timeout > 100)
            timeout = 100;
        zmq_poll (items, count, timeout < 0 ? 0 : (long)timeout);
        if (items[0].revents & ZMQ_POLLIN)
            rfk_server_recv (self->service);
        rfk_launcher_tick (self->launcher, rfk_launcher_now ());
    }
}

/* Answer a pipe command; false on $TERM. */
static bool
s_handle_pipe (rfk_admin_t *self, zsock_t *pipe)
{
    char *command = zstr_recv (pipe);
    if (!command)
        return false;
    bool go_on = true;
    if (streq (command, "$TERM"))
        go_on = false;
    else if (streq (command, "ENDPOINTS")) {
        char port[16];
        snprintf (port, sizeof port, "%d", self->http_port);
        zstr_sendm (pipe, rfk_server_endpoint (self->command));
        zstr_sendm (pipe, rfk_server_endpoint (self->service));
        zstr_sendm (pipe, self->events_endpoint);
        zstr_send (pipe, port);
    } else if (streq (command, "STORE-CALLS"))
        zstr_sendf (pipe, "%llu", (unsigned long long)rfk_store_calls (self->store));
    else
        rfk_log_warning (RFK_ADMIN_LOG, "RFK-MALFORMED pipe-command=%s", command);
    zstr_free (&command);
    return go_on;
}

static void
s_read_pipe (rfk_admin_t *self)
{
    if (!s_handle_pipe (self, self->pipe))
        self->terminated = true;
}

static void
s_read_command (rfk_admin_t *self)
{
    rfk_server_recv (self->command);
}

static void
s_read_service (rfk_admin_t *self)
{
    rfk_server_recv (self->service);
}

/* Register a socket (or, with sock NULL, a descriptor) once in the loop's
   poll set, with what reads it. */
static void
s_poll_add (rfk_admin_t *self, zsock_t *sock, int fd, rfk_admin_reader_fn *reader)
{
    assert (self->poll_count < RFK_ADMIN_POLL_MAX);
    if (!sock && fd < 0)
        return;
    self->poll[self->poll_count] =
        (zmq_pollitem_t){sock ? zsock_resolve (sock) : NULL, sock ? 0 : fd, ZMQ_POLLIN, 0};
    self->readers[self->poll_count++] = reader;
}

/* The poll set, once: the pipe and both ROUTERs with their readers; the
   HTTP front's epoll set, the launcher's and the model checks' descriptors
   only wake the loop, which steps them every turn. */
static void
s_poll_setup (rfk_admin_t *self, zsock_t *pipe)
{
    self->pipe = pipe;
    s_poll_add (self, pipe, -1, s_read_pipe);
    s_poll_add (self, rfk_server_sock (self->command), -1, s_read_command);
    s_poll_add (self, rfk_server_sock (self->service), -1, s_read_service);
    s_poll_add (self, self->events, -1, rfk_admin_bus_events_read);
    s_poll_add (self, NULL, rfk_http_front_fd (self->http), NULL);
    s_poll_add (self, NULL, rfk_launcher_fd (self->launcher), NULL);
    s_poll_add (self, NULL, rfk_admin_checks_fd (self), NULL);
    s_poll_add (self, NULL, rfk_admin_fetch_fd (self), NULL);
    s_poll_add (self, NULL, rfk_admin_hash_fd (self->hash), NULL);
}

/* The nearest deadline of everything the loop drives. */
static long
s_timeout (rfk_admin_t *self, int64_t next_sweep)
{
    rfk_deadline_t deadline;
    rfk_deadline_reset (&deadline);
    rfk_deadline_add (&deadline, rfk_server_deadline (self->command));
    rfk_deadline_add (&deadline, rfk_server_deadline (self->service));
    rfk_deadline_add (&deadline, rfk_launcher_next_deadline (self->launcher));
    rfk_deadline_add (&deadline, rfk_admin_adopted_deadline (self));
    rfk_deadline_add (&deadline, next_sweep);
    rfk_deadline_add (&deadline, rfk_admin_checks_deadline (self));
    rfk_deadline_add (&deadline, rfk_admin_hash_deadline (self->hash));
    long http_timeout = rfk_http_front_timeout_ms (self->http);
    if (http_timeout >= 0)
        rfk_deadline_add (&deadline, zclock_mono () + http_timeout);
    return rfk_deadline_timeout (&deadline);
}

static void
s_run (rfk_admin_t *self, zsock_t *pipe)
{
    int64_t next_sweep = zclock_mono () + 10000;
    s_poll_setup (self, pipe);
    while (!self->terminated) {
        int rc = zmq_poll (self->poll, self->poll_count, s_timeout (self, next_sweep));
        if (rc < 0 && zmq_errno () != EINTR)
            break;
        for (int index = 0; index < self->poll_count && !self->terminated; index++)
            if ((self->poll[index].revents & ZMQ_POLLIN) && self->readers[index])
                self->readers[index](self);
        if (self->terminated)
            break;
        rfk_http_front_step (self->http);
        rfk_admin_checks_tick (self);
        rfk_admin_fetch_tick (self);
        rfk_admin_hash_tick (self->hash);
        rfk_launcher_tick (self->launcher, rfk_launcher_now ());
        rfk_admin_adopted_tick (self, zclock_mono ());
        s_forget_ended (self);
        rfk_server_tick (self->command);
        rfk_server_tick (self->service);
        if (zclock_mono () >= next_sweep) {
            rfk_admin_command_expire (self);
            next_sweep = zclock_mono () + 10000;
        }
    }
}

void
rfk_admin_actor_with (zsock_t *pipe, void *args)
{
    const rfk_admin_args_t *admin_args = (const rfk_admin_args_t *)args;
    char err[1024] = "";
    if (admin_args->dev)
        rfk_log_warning (RFK_ADMIN_LOG, "DEV MODE (--dev): development defaults are allowed "
                                        "(a well-known superadmin password); never use it on "
                                        "a shared machine");
    rfk_admin_t *self = s_self_new (admin_args, err, sizeof err);
    zsock_signal (pipe, 0);
    if (!self) {
        rfk_log_error (RFK_ADMIN_LOG, "setup-failed reason=\"%s\"", err);
        zstr_sendx (pipe, "FAILED", err, NULL);
        OPENSSL_thread_stop (); /* setup may have made the jwt secret */
        return;
    }
    rfk_log_notice (RFK_ADMIN_LOG,
                    "ready http=http://%s:%d command=%s service=%s events=%s data_dir=%s store=%s "
                    "bus_key=%s",
                    self->connect_host, self->http_port, rfk_server_endpoint (self->command),
                    rfk_server_endpoint (self->service), self->events_endpoint, self->data_dir,
                    rfk_store_backend (self->store),
                    self->curve.services ? self->curve.pair.public_key : "(plaintext)");
    //  The ports as bound, for whoever started us with port 0.
    if (rfk_admin_ports_write (self->data_dir, self->http_port, rfk_server_endpoint (self->command),
                               rfk_server_endpoint (self->service), self->events_endpoint, err,
                               sizeof err) != 0)
        rfk_log_warning (RFK_ADMIN_LOG, "RFK-PORTS-FILE reason=\"%s\"", err);
    s_run (self, pipe);
    int64_t stop_ms = rfk_config_int (self->config, "", "stop_timeout_ms");
    s_stop_services (self, stop_ms * 3 / 4);
    rfk_admin_ports_remove (self->data_dir);
    rfk_log_info (RFK_ADMIN_LOG, "stopped requests=%zu", self->requests);
    s_self_destroy (&self);
    //  libjwt signs with OpenSSL, which keeps state per thread: free this
    //  thread's before it ends (LeakSanitizer reports it otherwise).
    OPENSSL_thread_stop ();
}

void
rfk_admin_actor (zsock_t *pipe, void *args)
{
    const rfk_role_args_t *role = (const rfk_role_args_t *)args;
    rfk_admin_args_t admin_args = {
        .config = role->config,
        .dev = role->dev,
        .embedded = role->role && streq (role->role, "up"),
        .rafikid_path = NULL,
    };
    rfk_admin_actor_with (pipe, &admin_args);
}
