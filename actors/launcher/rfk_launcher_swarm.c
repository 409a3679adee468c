/*  rfk_launcher_swarm.c: the swarm launcher backend (see rfk_launcher_swarm.h): its
    configuration, the backend operations, creation and reconcile. The engine client, the
    service spec, following tasks and logs are in the rfk_launcher_swarm_*.c files beside it
    (rfk_launcher_swarm_internal.h lists them).

    Talks to the Docker Engine API over its unix socket with one libcurl easy handle (kept
    alive between calls, each call bounded by request_timeout_ms), JSON with jansson. Nothing
    runs in the background: tick polls the tasks of every live service at most every poll_ms
    (one GET /tasks filtered by the services' names) and turns what it sees into launcher
    states; next_deadline asks for the next poll while anything is live or left to clean up.
*/
#define _GNU_SOURCE
#include "rfk_launcher_swarm_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rfk_log.h"

void
rfk_launcher_swarm_config_defaults (rfk_launcher_swarm_config_t *config)
{
    assert (config);
    memset (config, 0, sizeof *config);
    config->docker_socket = "/var/run/docker.sock";
    config->image = "rafiki-c:latest";
    config->rafikid_path = "/usr/bin/rafikid";
    config->network = "rafiki";
    config->data_target = "/var/lib/rafiki";
    config->admin_host = "rafiki-admin";
    config->admin_service_port = 3002;
    config->name_prefix = "rafiki-";
    config->instance = "default";
    config->gpu_resource = "gpu";
    config->gpu_constraint = "";
    config->service_user = "10001:10001";
    config->cpu_limit_ratio = 4.0;
    config->memory_limit_ratio = 2.0;
    config->max_restarts = 3;
    config->backoff_ms = 200;
    config->grace_ms = 5000;
    config->stable_ms = 60000;
    config->poll_ms = 500;
    config->request_timeout_ms = 5000;
}

void
rfk_launcher_swarm_config_from (rfk_launcher_swarm_config_t *swarm, const rfk_config_t *config)
{
    assert (swarm);
    assert (config);
    rfk_launcher_swarm_config_defaults (swarm);
    swarm->data_dir = rfk_config_string (config, "", "data_dir");
    swarm->admin_service_port = (int)rfk_config_int (config, "admin", "service_port");
    swarm->max_restarts = (int)rfk_config_int (config, "launcher", "max_restarts");
    swarm->grace_ms = (int)rfk_config_int (config, "", "stop_timeout_ms");
    swarm->docker_socket = rfk_config_string (config, "swarm", "docker_socket");
    swarm->image = rfk_config_string (config, "swarm", "image");
    swarm->network = rfk_config_string (config, "swarm", "network");
    swarm->data_source = rfk_config_string (config, "swarm", "data_source");
    swarm->data_target = rfk_config_string (config, "swarm", "data_target");
    swarm->admin_host = rfk_config_string (config, "swarm", "admin_host");
    swarm->service_config = rfk_config_string (config, "swarm", "service_config");
    swarm->instance = rfk_config_string (config, "swarm", "instance");
    swarm->constraints = rfk_config_string (config, "swarm", "constraints");
    swarm->gpu_resource = rfk_config_string (config, "swarm", "gpu_resource");
    swarm->gpu_constraint = rfk_config_string (config, "swarm", "gpu_constraint");
    swarm->train_constraints = rfk_config_string (config, "swarm", "train_constraints");
    swarm->serve_constraints = rfk_config_string (config, "swarm", "serve_constraints");
    swarm->service_user = rfk_config_string (config, "swarm", "service_user");
    swarm->cpu_limit_ratio = rfk_config_float (config, "swarm", "cpu_limit_ratio");
    swarm->memory_limit_ratio = rfk_config_float (config, "swarm", "memory_limit_ratio");
    swarm->poll_ms = (int)rfk_config_int (config, "swarm", "poll_ms");
    swarm->request_timeout_ms = (int)rfk_config_int (config, "swarm", "request_timeout_ms");
}

static rfk_swarm_service_t *
s_find (rfk_swarm_t *self, const char *id)
{
    for (size_t i = 0; i < self->count; i++)
        if (!strcmp (self->services[i]->id, id))
            return self->services[i];
    return NULL;
}

int
rfk_launcher_swarm_service_name (const char *name_prefix, const char *service_id, char *name,
                                 size_t size)
{
    assert (name_prefix);
    assert (service_id);
    int length = snprintf (name, size, "%s%s", name_prefix, service_id);
    if (length < 0 || (size_t)length >= size || length > RFK_SWARM_NAME_MAX)
        return -1;
    for (char *c = name; *c; c++)
        if (*c == '.' || *c == '_')
            *c = '-';
    return 0;
}

//  The Docker name of a service id. -1 if too long.
static int
s_docker_name (rfk_swarm_t *self, const char *id, char *name, size_t size)
{
    return rfk_launcher_swarm_service_name (self->name_prefix, id, name, size);
}

/* ---- the backend operations --------------------------------------------------------------- */

static void
s_attach (void *impl, rfk_launcher_t *launcher)
{
    ((rfk_swarm_t *)impl)->launcher = launcher;
}

//  Add a table entry for a service (started, adopted or vanished); NULL when out of memory.
static rfk_swarm_service_t *
s_add (rfk_swarm_t *self, const char *id, const char *role)
{
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 16;
        rfk_swarm_service_t **grown = realloc (self->services, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        self->services = grown;
        self->capacity = capacity;
    }
    rfk_swarm_service_t *service = calloc (1, sizeof *service);
    if (!service)
        return NULL;
    snprintf (service->id, sizeof service->id, "%s", id);
    snprintf (service->role, sizeof service->role, "%s", role ? role : "");
    s_docker_name (self, id, service->name, sizeof service->name);
    service->exit_code = -1;
    self->services[self->count++] = service;
    return service;
}

//  The table entry a start fills: a new one, or the old one of a service started again, what
//  is left of its last run removed first. NULL when out of memory (error set).
static rfk_swarm_service_t *
s_entry_for_start (rfk_swarm_t *self, rfk_swarm_service_t *service, const rfk_launcher_spec_t *spec)
{
    if (!service) {
        service = s_add (self, spec->id, spec->role);
        if (!service)
            rfk_swarm_fail (self, "out of memory");
        return service;
    }
    if (service->secret_left)
        rfk_swarm_remove (self, "secrets", service->name);
    memset (service, 0, sizeof *service);
    snprintf (service->id, sizeof service->id, "%s", spec->id);
    snprintf (service->role, sizeof service->role, "%s", spec->role);
    s_docker_name (self, spec->id, service->name, sizeof service->name);
    service->exit_code = -1;
    return service;
}

//  Create a service's Docker secret and Docker service. 0, or -1 with the error set, the
//  reason noted and nothing left behind.
static int
s_create (rfk_swarm_t *self, rfk_swarm_service_t *service, const rfk_launcher_spec_t *spec)
{
    const char *name = service->name;
    char *secret_id = rfk_swarm_create_secret (self, spec, name);
    if (!secret_id) {
        snprintf (service->reason, sizeof service->reason, "%.250s", self->error);
        rfk_swarm_fail (self, "service %s: cannot create its Docker secret: %s", spec->id,
                        service->reason);
        return -1;
    }
    json_t *body = rfk_swarm_service_spec (self, spec, name, secret_id);
    free (secret_id);
    if (!body) {
        rfk_swarm_remove (self, "secrets", name);
        rfk_swarm_fail (self, "service %s: out of memory building its Docker service spec",
                        spec->id);
        return -1;
    }
    long status = 0;
    json_t *created = rfk_swarm_call_json (self, "POST", "/services/create", body, &status);
    json_decref (body);
    const char *docker_id = json_string_value (json_object_get (created, "ID"));
    if (!docker_id) {
        char why[512];
        snprintf (why, sizeof why, "%s", created ? "the engine gave no service ID" : self->error);
        snprintf (service->reason, sizeof service->reason, "%.250s", why);
        rfk_swarm_remove (self, "secrets", name);
        json_decref (created);
        rfk_swarm_fail (self, "service %s: cannot create Docker service %s: %s", spec->id, name,
                        why);
        return -1;
    }
    snprintf (service->docker_id, sizeof service->docker_id, "%s", docker_id);
    json_decref (created);
    return 0;
}

static int
s_start (void *impl, const rfk_launcher_spec_t *spec)
{
    rfk_swarm_t *self = (rfk_swarm_t *)impl;
    if (rfk_launcher_spec_check (self->launcher, spec))
        return -1;
    rfk_swarm_service_t *service = s_find (self, spec->id);
    if (service && rfk_swarm_live (service)) {
        rfk_swarm_fail (self, "service %s is already live (%s)", spec->id,
                        rfk_launcher_state_name (service->state));
        return -1;
    }
    char name[RFK_SWARM_NAME_MAX + 1];
    if (s_docker_name (self, spec->id, name, sizeof name)) {
        rfk_swarm_fail (
            self, "service %s: Docker service names are at most %d characters; '%s%s' is longer",
            spec->id, RFK_SWARM_NAME_MAX, self->name_prefix, spec->id);
        return -1;
    }
    service = s_entry_for_start (self, service, spec);
    if (!service)
        return -1;
    service->state = RFK_LAUNCHER_ERRORED;
    if (s_create (self, service, spec))
        return -1;
    self->next_poll = 0;
    rfk_swarm_set_state (self, service, RFK_LAUNCHER_RUNNING,
                         "Docker service %s created (image %s); waiting for its task", name,
                         spec->image && *spec->image ? spec->image : self->image);
    return 0;
}

//  Scale a service to 0 replicas: swarm stops its task (SIGTERM, SIGKILL after the grace).
//  Returns 0, 1 when the service is gone already, -1 on an engine error.
static int
s_scale_down (rfk_swarm_t *self, rfk_swarm_service_t *service)
{
    char path[256];
    snprintf (path, sizeof path, "/services/%s", service->docker_id);
    long status = 0;
    json_t *current = rfk_swarm_call_json (self, "GET", path, NULL, &status);
    if (!current)
        return status == 404 ? 1 : -1;
    json_int_t version =
        json_integer_value (json_object_get (json_object_get (current, "Version"), "Index"));
    json_t *spec = json_object_get (current, "Spec");
    json_t *replicated = json_object_get (json_object_get (spec, "Mode"), "Replicated");
    int rc = -1;
    if (replicated) {
        json_object_set_new (replicated, "Replicas", json_integer (0));
        snprintf (path, sizeof path, "/services/%s/update?version=%lld", service->docker_id,
                  (long long)version);
        json_t *updated = rfk_swarm_call_json (self, "POST", path, spec, &status);
        rc = updated ? 0 : status == 404 ? 1 : -1;
        json_decref (updated);
    } else
        rfk_swarm_fail (self, "Docker service %s is not a replicated service", service->name);
    json_decref (current);
    return rc;
}

static int
s_stop (void *impl, const char *service_id)
{
    rfk_swarm_t *self = (rfk_swarm_t *)impl;
    rfk_swarm_service_t *service = s_find (self, service_id);
    if (!service) {
        rfk_swarm_fail (self, "no service %s", service_id);
        return -1;
    }
    if (!rfk_swarm_live (service) || service->state == RFK_LAUNCHER_STOPPING)
        return 0;
    int rc = s_scale_down (self, service);
    if (rc == 1) {
        service->docker_id[0] = '\0';
        rfk_swarm_remove (self, "secrets", service->name);
        rfk_swarm_set_state (self, service, RFK_LAUNCHER_STOPPED,
                             "stopped (its Docker service was already gone)");
        return 0;
    }
    if (rc < 0) {
        //  The engine would not scale it: remove it outright, which stops it as well.
        rfk_log_warning (RFK_SWARM_LOG, "swarm-scale-failed id=%s error=\"%s\"", service->id,
                         self->error);
        rfk_swarm_set_state (self, service, RFK_LAUNCHER_STOPPED,
                             "stopped: Docker service removed");
        rfk_swarm_retire (self, service);
        return 0;
    }
    service->stop_deadline = rfk_launcher_now () + self->config.grace_ms + 5000;
    self->next_poll = 0;
    rfk_swarm_set_state (self, service, RFK_LAUNCHER_STOPPING, "stop asked; swarm sends SIGTERM");
    return 0;
}

static int
s_stop_all (void *impl)
{
    rfk_swarm_t *self = (rfk_swarm_t *)impl;
    for (size_t i = 0; i < self->count; i++)
        if (rfk_swarm_live (self->services[i]))
            s_stop (impl, self->services[i]->id);
    return 0;
}

static int
s_status (void *impl, const char *service_id, rfk_launcher_status_t *status)
{
    rfk_swarm_t *self = (rfk_swarm_t *)impl;
    rfk_swarm_service_t *service = s_find (self, service_id);
    if (!service) {
        rfk_swarm_fail (self, "no service %s", service_id);
        return -1;
    }
    memset (status, 0, sizeof *status);
    status->state = service->state;
    status->pid = 0;
    status->restarts = service->restarts;
    status->exit_code = service->exit_code;
    status->signal =
        service->exit_code > 128 && service->exit_code < 160 ? service->exit_code - 128 : 0;
    snprintf (status->reason, sizeof status->reason, "%s", service->reason);
    return 0;
}

static char *
s_logs (void *impl, const char *service_id, size_t max_lines)
{
    rfk_swarm_t *self = (rfk_swarm_t *)impl;
    rfk_swarm_service_t *service = s_find (self, service_id);
    rfk_launcher_spec_t probe = {.id = service_id, .role = "probe", .secret = "x"};
    if (!service && rfk_launcher_spec_check (self->launcher, &probe))
        return NULL;
    char name[RFK_SWARM_NAME_MAX + 1] = "";
    if (service && service->docker_id[0])
        snprintf (name, sizeof name, "%s", service->name);
    else if (!service && s_docker_name (self, service_id, name, sizeof name))
        name[0] = '\0';
    if (*name) {
        char *text = rfk_swarm_docker_logs (self, name, max_lines);
        if (text || service)
            return text;
    }
    //  Retired, or from before admin restarted: the saved log.
    char path[4096];
    snprintf (path, sizeof path, "%s/logs/%s.log", self->data_dir, service_id);
    char *text = rfk_launcher_tail_file (path, max_lines);
    if (!text)
        rfk_swarm_fail (self, "service %s has no log: no Docker service and no %s", service_id,
                        path);
    return text;
}

static int
s_forget (void *impl, const char *service_id)
{
    rfk_swarm_t *self = (rfk_swarm_t *)impl;
    for (size_t i = 0; i < self->count; i++) {
        rfk_swarm_service_t *service = self->services[i];
        if (strcmp (service->id, service_id))
            continue;
        if (rfk_swarm_live (service)) {
            rfk_swarm_fail (self, "service %s is still live", service_id);
            return -1;
        }
        rfk_swarm_retire (self, service);
        if (service->secret_left)
            rfk_swarm_remove (self, "secrets", service->name);
        free (service);
        self->services[i] = self->services[--self->count];
        return 0;
    }
    rfk_swarm_fail (self, "no service %s", service_id);
    return -1;
}

static int
s_live_count (void *impl)
{
    rfk_swarm_t *self = (rfk_swarm_t *)impl;
    int live = 0;
    for (size_t i = 0; i < self->count; i++)
        live += rfk_swarm_live (self->services[i]);
    return live;
}

static bool
s_has_work (rfk_swarm_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        if (rfk_swarm_live (self->services[i]) || self->services[i]->secret_left)
            return true;
    return false;
}

static int64_t
s_next_deadline (void *impl)
{
    rfk_swarm_t *self = (rfk_swarm_t *)impl;
    return s_has_work (self) ? self->next_poll : -1;
}

static int
s_tick (void *impl, int64_t now)
{
    rfk_swarm_t *self = (rfk_swarm_t *)impl;
    if (now < self->next_poll)
        return 0;
    self->next_poll = now + self->config.poll_ms;
    for (size_t i = 0; i < self->count; i++)
        if (self->services[i]->secret_left && !rfk_swarm_live (self->services[i]))
            self->services[i]->secret_left =
                rfk_swarm_remove (self, "secrets", self->services[i]->name) != 0;
    rfk_swarm_poll (self, now);
    return 0;
}

static void
s_destroy (void *impl)
{
    rfk_swarm_t *self = (rfk_swarm_t *)impl;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        rfk_swarm_service_t *service = self->services[i];
        if (self->curl && service->docker_id[0]) {
            rfk_swarm_remove (self, "services", service->name);
            rfk_swarm_remove (self, "secrets", service->name);
        } else if (self->curl && service->secret_left)
            rfk_swarm_remove (self, "secrets", service->name);
        free (service);
    }
    free (self->services);
    if (self->curl)
        curl_easy_cleanup (self->curl);
    free (self->docker_socket);
    free (self->image);
    free (self->rafikid_path);
    free (self->service_config);
    free (self->network);
    free (self->data_dir);
    free (self->data_source);
    free (self->data_target);
    free (self->admin_host);
    free (self->name_prefix);
    free (self->instance);
    free (self->constraints);
    free (self->gpu_resource);
    free (self->gpu_constraint);
    free (self->train_constraints);
    free (self->serve_constraints);
    free (self->service_user);
    free (self);
}

static const rfk_launcher_backend_t s_swarm_backend = {
    .name = "swarm",
    .attach = s_attach,
    .start = s_start,
    .stop = s_stop,
    .stop_all = s_stop_all,
    .status = s_status,
    .logs = s_logs,
    .forget = s_forget,
    .live = s_live_count,
    .fd = NULL,
    .next_deadline = s_next_deadline,
    .tick = s_tick,
    .destroy = s_destroy,
};

rfk_swarm_t *
rfk_swarm_of (rfk_launcher_t *launcher)
{
    return launcher ? (rfk_swarm_t *)rfk_launcher_backend_impl (launcher, &s_swarm_backend) : NULL;
}

/* ---- creation and reconcile --------------------------------------------------------------- */

static bool
s_in (const char *const *list, const char *id)
{
    for (size_t i = 0; list && list[i]; i++)
        if (!strcmp (list[i], id))
            return true;
    return false;
}

//  After an admin restart: adopt the services admin knows, remove the others labelled ours,
//  report the known ones that vanished. 0 or -1 (the engine cannot be asked).
static int
s_reconcile (rfk_swarm_t *self, const char *const *adopt)
{
    json_t *services = rfk_swarm_list_ours (self);
    if (!services)
        return -1;
    size_t index;
    json_t *item;
    json_array_foreach (services, index, item)
    {
        json_t *labels = json_object_get (json_object_get (item, "Spec"), "Labels");
        const char *id = json_string_value (json_object_get (labels, "rafiki.service-id"));
        const char *role = json_string_value (json_object_get (labels, "rafiki.role"));
        const char *docker_id = json_string_value (json_object_get (item, "ID"));
        const char *name =
            json_string_value (json_object_get (json_object_get (item, "Spec"), "Name"));
        if (!docker_id || !name)
            continue;
        if (id && s_in (adopt, id) && !s_find (self, id)) {
            rfk_swarm_service_t *service = s_add (self, id, role);
            if (!service)
                return -1;
            snprintf (service->name, sizeof service->name, "%s", name);
            snprintf (service->docker_id, sizeof service->docker_id, "%s", docker_id);
            rfk_swarm_set_state (self, service, RFK_LAUNCHER_RUNNING,
                                 "adopted Docker service %s after admin restarted", name);
        } else {
            //  Ours but unknown to admin: nothing would ever stop it.
            rfk_log_notice (RFK_SWARM_LOG,
                            "swarm-reconcile removed=%s service-id=%s reason=\"unknown "
                            "to admin\"",
                            name, id ? id : "-");
            rfk_swarm_remove (self, "services", docker_id);
            rfk_swarm_remove (self, "secrets", name);
        }
    }
    json_decref (services);
    for (size_t i = 0; adopt && adopt[i]; i++) {
        if (s_find (self, adopt[i]))
            continue;
        rfk_swarm_service_t *service = s_add (self, adopt[i], NULL);
        if (!service)
            return -1;
        rfk_swarm_set_state (self, service, RFK_LAUNCHER_ERRORED,
                             "its Docker service %s vanished while admin was down", service->name);
    }
    return 0;
}

//  A copy of a configuration string ("" for NULL).
static char *
s_copy (const char *string, bool *ok)
{
    char *copy = strdup (string ? string : "");
    if (!copy)
        *ok = false;
    return copy;
}

rfk_launcher_t *
rfk_launcher_new_swarm (const rfk_launcher_swarm_config_t *config, rfk_launcher_event_fn *on_event,
                        void *arg, char *error, size_t error_size)
{
    assert (config);
    const char *problem = NULL;
    if (!config->data_dir || !*config->data_dir)
        problem = "swarm launcher: no data_dir given";
    else if (!config->docker_socket || !*config->docker_socket)
        problem = "swarm launcher: no docker_socket given";
    else if (!config->image || !*config->image || !config->rafikid_path || !*config->rafikid_path)
        problem = "swarm launcher: no image or rafikid_path given";
    else if (!config->network || !*config->network)
        problem = "swarm launcher: no network given";
    else if (!config->data_target || config->data_target[0] != '/')
        problem = "swarm launcher: data_target must be an absolute path";
    else if (!config->instance || !*config->instance || !config->name_prefix)
        problem = "swarm launcher: no instance label or name prefix given";
    else if (config->max_restarts < 0 || config->backoff_ms < 0 || config->grace_ms < 0 ||
             config->stable_ms < 0 || config->poll_ms <= 0 || config->request_timeout_ms <= 0 ||
             config->admin_service_port <= 0 || config->admin_service_port > 65535 ||
             config->cpu_limit_ratio < 0 || config->memory_limit_ratio < 0)
        problem = "swarm launcher: a number is out of range (restarts, times or port)";
    if (problem) {
        fprintf (stderr, "%s\n", problem);
        if (error && error_size)
            snprintf (error, error_size, "%s", problem);
        return NULL;
    }
    curl_global_init (CURL_GLOBAL_DEFAULT);
    rfk_swarm_t *self = calloc (1, sizeof *self);
    bool ok = self != NULL;
    if (ok) {
        self->config = *config;
        self->docker_socket = s_copy (config->docker_socket, &ok);
        self->image = s_copy (config->image, &ok);
        self->rafikid_path = s_copy (config->rafikid_path, &ok);
        self->service_config = s_copy (config->service_config, &ok);
        self->network = s_copy (config->network, &ok);
        self->data_dir = s_copy (config->data_dir, &ok);
        self->data_source = s_copy (config->data_source, &ok);
        self->data_target = s_copy (config->data_target, &ok);
        self->admin_host = s_copy (config->admin_host, &ok);
        self->name_prefix = s_copy (config->name_prefix, &ok);
        self->instance = s_copy (config->instance, &ok);
        self->constraints = s_copy (config->constraints, &ok);
        self->gpu_resource = s_copy (config->gpu_resource, &ok);
        self->gpu_constraint = s_copy (config->gpu_constraint, &ok);
        self->train_constraints = s_copy (config->train_constraints, &ok);
        self->serve_constraints = s_copy (config->serve_constraints, &ok);
        self->service_user = s_copy (config->service_user, &ok);
        self->config.adopt = NULL;
        self->curl = curl_easy_init ();
        ok = ok && self->curl;
    }
    if (!ok) {
        fprintf (stderr, "swarm launcher: out of memory\n");
        if (error && error_size)
            snprintf (error, error_size, "swarm launcher: out of memory");
        s_destroy (self);
        return NULL;
    }
    if (rfk_swarm_check_engine (self)) {
        fprintf (stderr, "swarm launcher: %s\n", self->error);
        if (error && error_size)
            snprintf (error, error_size, "%s", self->error);
        s_destroy (self);
        return NULL;
    }
    rfk_launcher_t *launcher = rfk_launcher_new (&s_swarm_backend, self, on_event, arg);
    if (!launcher)
        return NULL;
    if (s_reconcile (self, config->adopt)) {
        //  Leave the services it adopted so far running: a later attempt adopts them.
        for (size_t i = 0; i < self->count; i++)
            self->services[i]->docker_id[0] = '\0';
        fprintf (stderr, "swarm launcher: reconcile failed: %s\n", self->error);
        if (error && error_size)
            snprintf (error, error_size, "reconcile failed: %s", self->error);
        rfk_launcher_destroy (&launcher);
        return NULL;
    }
    rfk_launcher_set_error (launcher, "%s", "");
    return launcher;
}
