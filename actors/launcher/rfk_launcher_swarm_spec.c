/*  rfk_launcher_swarm_spec.c: what the swarm backend creates for a Rafiki service: its Docker
    secret (the per-service secret, base64) and its Docker service spec (command, environment,
    mounts, restart policy, placement, resources, endpoint). See rfk_launcher_swarm.h for what
    a service gets.
*/
#define _GNU_SOURCE
#include "rfk_launcher_swarm_internal.h"

#include <ctype.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rfk_log.h"

//  Standard base64 of data (for the secret's Data field). The caller frees it.
static char *
s_base64 (const char *data, size_t length)
{
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc ((length + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < length; i += 3) {
        unsigned v = (unsigned char)data[i] << 16;
        if (i + 1 < length)
            v |= (unsigned char)data[i + 1] << 8;
        if (i + 2 < length)
            v |= (unsigned char)data[i + 2];
        out[o++] = table[(v >> 18) & 63];
        out[o++] = table[(v >> 12) & 63];
        out[o++] = i + 1 < length ? table[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < length ? table[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

//  Append one printf'd "NAME=value" entry to an environment array.
static void
s_env_add (json_t *env, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
static void
s_env_add (json_t *env, const char *format, ...)
{
    char entry[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (entry, sizeof entry, format, args);
    va_end (args);
    json_array_append_new (env, json_string (entry));
}

//  The container's environment: what every service gets, then the spec's own entries.
static json_t *
s_spec_env (rfk_swarm_t *self, const rfk_launcher_spec_t *spec)
{
    json_t *env = json_array ();
    s_env_add (env, "RAFIKI_SERVICE_ID=%s", spec->id);
    s_env_add (env, "RAFIKI_SERVICE_ROLE=%s", spec->role);
    s_env_add (env, "RAFIKI_DATA_DIR=%s", self->data_target);
    s_env_add (env, "RAFIKI_SECRET_FILE=/run/secrets/%s", RFK_SWARM_SECRET_TARGET);
    if (self->admin_host && *self->admin_host)
        s_env_add (env, "RAFIKI_ADMIN_HOST=%s", self->admin_host);
    s_env_add (env, "RAFIKI_ADMIN_SERVICE_PORT=%d", self->config.admin_service_port);
    s_env_add (env, "RAFIKI_GPU_COUNT=%d", spec->gpus);
    for (size_t i = 0; spec->env && spec->env[i]; i++)
        json_array_append_new (env, json_string (spec->env[i]));
    return env;
}

//  A path of admin's data dir relative to it ("params", "models/x.so"), or NULL when the path
//  is not strictly under it or climbs out of it.
static const char *
s_relative (rfk_swarm_t *self, const char *path)
{
    size_t length = strlen (self->data_dir);
    while (length > 1 && self->data_dir[length - 1] == '/')
        length--;
    if (!path || strncmp (path, self->data_dir, length) || path[length] != '/' ||
        !path[length + 1] || strstr (path, "/../") || strstr (path, "/.."))
        return NULL;
    return path + length + 1;
}

static void
s_user_ids (rfk_swarm_t *self, char user[16], char group[16]);

//  Bind the listed parts of the data dir (admin's paths) at the same place under data_target.
static void
s_bind_parts (rfk_swarm_t *self, json_t *mounts, const char *source, const char *const *paths,
              size_t count, bool read_only)
{
    for (size_t i = 0; paths && i < count; i++) {
        const char *part = s_relative (self, paths[i]);
        if (!part) {
            rfk_log_warning (RFK_SWARM_LOG,
                             "swarm-mount-skipped path=\"%s\" reason=\"not under %s\"", paths[i],
                             self->data_dir);
            continue;
        }
        //  A read-write folder that is not there yet (a job's params/<id>/) is made now: a
        //  bind mount's source must exist. A launcher running as root gives it to the
        //  service's uid.
        if (!read_only && mkdir (paths[i], 0700) == 0 && geteuid () == 0) {
            char uid[16], gid[16];
            s_user_ids (self, uid, gid);
            if (chown (paths[i], (uid_t)atol (uid), (gid_t)atol (gid)) != 0)
                rfk_log_warning (RFK_SWARM_LOG, "swarm-mount-folder path=\"%s\" error=\"%s\"",
                                 paths[i], strerror (errno));
        }
        char from[4096], to[4096];
        snprintf (from, sizeof from, "%s/%s", source, part);
        snprintf (to, sizeof to, "%s/%s", self->data_target, part);
        json_array_append_new (mounts, json_pack ("{s:s, s:s, s:s, s:b}", "Type", "bind", "Source",
                                                  from, "Target", to, "ReadOnly", read_only));
    }
}

//  The uid and gid of service_user ("uid:gid" or "uid"), into user and group; "0" when unset.
static void
s_user_ids (rfk_swarm_t *self, char user[16], char group[16])
{
    unsigned long uid = 0, gid = 0;
    const char *text = self->service_user ? self->service_user : "";
    char *end = NULL;
    if (*text) {
        uid = strtoul (text, &end, 10);
        gid = end && *end == ':' ? strtoul (end + 1, NULL, 10) : uid;
    }
    snprintf (user, 16, "%lu", uid);
    snprintf (group, 16, "%lu", gid);
}

//  The mounts: a private /tmp, and of the data dir only the parts the spec lists (its sandbox's
//  ro_paths and rw_paths) and its own log folder; never the data dir itself. A
//  data dir that is a volume (not a path) cannot be mounted in parts: it is mounted whole.
static json_t *
s_spec_mounts (rfk_swarm_t *self, const rfk_launcher_spec_t *spec)
{
    const char *source =
        self->data_source && *self->data_source ? self->data_source : self->data_dir;
    json_t *mounts = json_pack ("[{s:s, s:s, s:{s:I, s:i}}]", "Type", "tmpfs", "Target", "/tmp",
                                "TmpfsOptions", "SizeBytes", (json_int_t)256 << 20, "Mode", 01777);
    if (source[0] != '/') {
        json_array_append_new (mounts, json_pack ("{s:s, s:s, s:s}", "Type", "volume", "Source",
                                                  source, "Target", self->data_target));
        return mounts;
    }
    //  rafikid writes its log to data_target/logs: a folder of the service's own there,
    //  <data dir>/logs/<id>/ on the node (a tmpfs would not do: Docker 20.10 makes a service's
    //  tmpfs root's 0755 whatever its Mode, and the service is not root).
    char own[4096], from[4096], to[4096];
    snprintf (own, sizeof own, "%s/logs", self->data_dir);
    mkdir (own, 0700);
    snprintf (own, sizeof own, "%s/logs/%s", self->data_dir, spec->id);
    if (mkdir (own, 0700) != 0 && errno != EEXIST)
        rfk_log_warning (RFK_SWARM_LOG, "swarm-log-folder path=\"%s\" error=\"%s\"", own,
                         strerror (errno));
    //  A launcher running as root (not admin under swarm-up) gives it to the service's uid.
    char uid[16], gid[16];
    s_user_ids (self, uid, gid);
    if (geteuid () == 0 && chown (own, (uid_t)atol (uid), (gid_t)atol (gid)) != 0)
        rfk_log_warning (RFK_SWARM_LOG, "swarm-log-folder path=\"%s\" error=\"%s\"", own,
                         strerror (errno));
    snprintf (from, sizeof from, "%s/logs/%s", source, spec->id);
    snprintf (to, sizeof to, "%s/logs", self->data_target);
    json_array_append_new (mounts, json_pack ("{s:s, s:s, s:s, s:b}", "Type", "bind", "Source",
                                              from, "Target", to, "ReadOnly", 0));
    const rfk_sandbox_spec_t *parts = spec->sandbox;
    if (parts) {
        s_bind_parts (self, mounts, source, parts->ro_paths, parts->n_ro, true);
        s_bind_parts (self, mounts, source, parts->rw_paths, parts->n_rw, false);
    }
    return mounts;
}

//  The ContainerSpec: rafikid with its arguments and environment, as service_user, with a
//  read-only root fs, no capabilities, no new privileges (Docker's default seccomp profile
//  stays on), its mounts and its secret file.
static json_t *
s_spec_container (rfk_swarm_t *self, const rfk_launcher_spec_t *spec, const char *name,
                  const char *secret_id, json_t *labels)
{
    json_t *args = json_pack ("[s, s, s]", spec->role, "--service-id", spec->id);
    if (self->service_config && *self->service_config) {
        json_array_append_new (args, json_string ("--config"));
        json_array_append_new (args, json_string (self->service_config));
    }
    char uid[16], gid[16];
    s_user_ids (self, uid, gid);
    json_t *secrets =
        json_pack ("[{s:{s:s, s:s, s:s, s:i}, s:s, s:s}]", "File", "Name", RFK_SWARM_SECRET_TARGET,
                   "UID", uid, "GID", gid, "Mode", 0400, "SecretID", secret_id, "SecretName", name);
    json_t *container =
        json_pack ("{s:s, s:[s], s:o, s:o, s:O, s:o, s:o, s:I, s:b, s:[s], s:{s:b}}", "Image",
                   spec->image && *spec->image ? spec->image : self->image, "Command",
                   self->rafikid_path, "Args", args, "Env", s_spec_env (self, spec), "Labels",
                   labels, "Mounts", s_spec_mounts (self, spec), "Secrets", secrets,
                   "StopGracePeriod", (json_int_t)self->config.grace_ms * 1000000, "ReadOnly", 1,
                   "CapabilityDrop", "ALL", "Privileges", "NoNewPrivileges", 1);
    if (container && self->service_user && *self->service_user)
        json_object_set_new (container, "User", json_string (self->service_user));
    return container;
}

//  The RestartPolicy: swarm restarts failed tasks max_restarts times, or never.
static json_t *
s_spec_restart (rfk_swarm_t *self)
{
    if (self->config.max_restarts <= 0)
        return json_pack ("{s:s}", "Condition", "none");
    return json_pack ("{s:s, s:I, s:i, s:I}", "Condition", "on-failure", "Delay",
                      (json_int_t)self->config.backoff_ms * 1000000, "MaxAttempts",
                      self->config.max_restarts, "Window",
                      (json_int_t)self->config.stable_ms * 1000000);
}

//  Add a comma separated list of constraints (each trimmed) to an array.
static void
s_add_constraints (json_t *constraints, const char *list)
{
    if (list && *list) {
        char *copy = strdup (list);
        char *saved = NULL;
        for (char *item = copy ? strtok_r (copy, ",", &saved) : NULL; item;
             item = strtok_r (NULL, ",", &saved)) {
            while (isspace ((unsigned char)*item))
                item++;
            size_t length = strlen (item);
            while (length && isspace ((unsigned char)item[length - 1]))
                item[--length] = '\0';
            if (*item)
                json_array_append_new (constraints, json_string (item));
        }
        free (copy);
    }
}

//  The placement constraints: the configured ones, those of the role's side (training:
//  advisors and trainers; serving: predictors and inference workers), plus the GPU constraint
//  for a service that asks for GPUs.
static json_t *
s_spec_constraints (rfk_swarm_t *self, const rfk_launcher_spec_t *spec)
{
    json_t *constraints = json_array ();
    s_add_constraints (constraints, self->constraints);
    bool serving = !strcmp (spec->role, "predictor") || !strcmp (spec->role, "inference");
    s_add_constraints (constraints, serving ? self->serve_constraints : self->train_constraints);
    if (spec->gpus > 0 && self->gpu_constraint && *self->gpu_constraint)
        json_array_append_new (constraints, json_string (self->gpu_constraint));
    return constraints;
}

//  The Resources: the spec's hints as reservations (what the scheduler places by), the same
//  times cpu_limit_ratio / memory_limit_ratio as limits, GPUs as a generic resource.
static json_t *
s_spec_resources (rfk_swarm_t *self, const rfk_launcher_spec_t *spec)
{
    json_t *limits = json_object ();
    json_t *reservations = json_object ();
    if (spec->cpus > 0) {
        json_object_set_new (reservations, "NanoCPUs",
                             json_integer ((json_int_t)(spec->cpus * 1e9)));
        if (self->config.cpu_limit_ratio > 0)
            json_object_set_new (
                limits, "NanoCPUs",
                json_integer ((json_int_t)(spec->cpus * self->config.cpu_limit_ratio * 1e9)));
    }
    if (spec->memory_bytes > 0) {
        json_object_set_new (reservations, "MemoryBytes", json_integer (spec->memory_bytes));
        if (self->config.memory_limit_ratio > 0)
            json_object_set_new (limits, "MemoryBytes",
                                 json_integer ((json_int_t)((double)spec->memory_bytes *
                                                            self->config.memory_limit_ratio)));
    }
    if (spec->gpus > 0 && self->gpu_resource && *self->gpu_resource)
        json_object_set_new (reservations, "GenericResources",
                             json_pack ("[{s:{s:s, s:i}}]", "DiscreteResourceSpec", "Kind",
                                        self->gpu_resource, "Value", spec->gpus));
    return json_pack ("{s:o, s:o}", "Limits", limits, "Reservations", reservations);
}

//  The EndpointSpec: DNS round robin (no VIP), a predictor's ports (HTTP and ZeroMQ query)
//  published in host mode on the node its task runs on.
static json_t *
s_spec_endpoint (const rfk_launcher_spec_t *spec)
{
    json_t *endpoint = json_pack ("{s:s}", "Mode", "dnsrr");
    json_t *ports = json_array ();
    int published[2] = {spec->published_port, spec->published_port2};
    for (int i = 0; i < 2; i++)
        if (published[i] > 0)
            json_array_append_new (ports, json_pack ("{s:s, s:i, s:i, s:s}", "Protocol", "tcp",
                                                     "TargetPort", published[i], "PublishedPort",
                                                     published[i], "PublishMode", "host"));
    if (json_array_size (ports))
        json_object_set_new (endpoint, "Ports", ports);
    else
        json_decref (ports);
    return endpoint;
}

json_t *
rfk_swarm_service_spec (rfk_swarm_t *self, const rfk_launcher_spec_t *spec, const char *name,
                        const char *secret_id)
{
    json_t *labels = json_pack ("{s:s, s:s, s:s}", "rafiki.instance", self->instance,
                                "rafiki.service-id", spec->id, "rafiki.role", spec->role);
    json_t *container = s_spec_container (self, spec, name, secret_id, labels);
    return json_pack ("{s:s, s:o, s:{s:o, s:o, s:{s:o}, s:o, s:[{s:s}]}, s:{s:{s:i}}, s:o}", "Name",
                      name, "Labels", labels, "TaskTemplate", "ContainerSpec", container,
                      "RestartPolicy", s_spec_restart (self), "Placement", "Constraints",
                      s_spec_constraints (self, spec), "Resources", s_spec_resources (self, spec),
                      "Networks", "Target", self->network, "Mode", "Replicated", "Replicas", 1,
                      "EndpointSpec", s_spec_endpoint (spec));
}

//  Create the service's Docker secret; returns its ID (the caller frees) or NULL.
char *
rfk_swarm_create_secret (rfk_swarm_t *self, const rfk_launcher_spec_t *spec, const char *name)
{
    char *data = s_base64 (spec->secret, strlen (spec->secret));
    if (!data) {
        rfk_swarm_fail (self, "out of memory");
        return NULL;
    }
    json_t *body = json_pack ("{s:s, s:s, s:{s:s, s:s}}", "Name", name, "Data", data, "Labels",
                              "rafiki.instance", self->instance, "rafiki.service-id", spec->id);
    char *id = NULL;
    for (int attempt = 0; body && attempt < 2 && !id; attempt++) {
        long status = 0;
        json_t *created = rfk_swarm_call_json (self, "POST", "/secrets/create", body, &status);
        if (created) {
            const char *value = json_string_value (json_object_get (created, "ID"));
            id = value ? strdup (value) : NULL;
            if (!id)
                rfk_swarm_fail (self, "Docker engine created secret %s but gave no ID", name);
        } else if (status == 409 && attempt == 0) {
            //  Left over by an earlier run of this id (a crash between create and remove).
            if (rfk_swarm_remove (self, "secrets", name))
                break;
        }
        json_decref (created);
    }
    if (body) {
        //  The body holds the secret (base64): wipe it before it is freed.
        json_t *field = json_object_get (body, "Data");
        explicit_bzero ((char *)json_string_value (field), strlen (json_string_value (field)));
    }
    json_decref (body);
    explicit_bzero (data, strlen (data));
    free (data);
    return id;
}
