/*  rfk_launcher_swarm.c: the swarm launcher backend (see rfk_launcher_swarm.h).

    Talks to the Docker Engine API over its unix socket with one libcurl easy handle (kept
    alive between calls, each call bounded by request_timeout_ms), JSON with jansson. Nothing
    runs in the background: tick polls the tasks of every live service at most every poll_ms
    (one GET /tasks filtered by the services' names) and turns what it sees into launcher
    states; next_deadline asks for the next poll while anything is live or left to clean up.
*/
#define _GNU_SOURCE
#include "rfk_launcher_swarm.h"

#include <assert.h>
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rfk_log.h"

#define S_LOG "launcher"
//  Largest Engine API answer read (a task list of a big cluster stays far below).
#define S_RESPONSE_MAX (64u * 1024u * 1024u)
//  Where the secret appears in a service's container.
#define S_SECRET_TARGET "rafiki-secret"
//  Swarm service names are DNS labels.
#define S_NAME_MAX 63
//  Lines of a finished service's Docker log saved to <data_dir>/logs/<id>.log.
#define S_SAVED_LINES 2000
//  Failed task ids remembered per service (each failure is counted once).
#define S_FAILED_MAX 64

//  One Rafiki service run as a Docker service.
typedef struct {
    char id[RFK_LAUNCHER_ID_MAX + 1]; //  Rafiki's service id
    char role[33];                    //  rafikid role
    char name[S_NAME_MAX + 1];        //  Docker service name (also the secret's)
    char docker_id[80];               //  Docker service ID, "" once removed
    rfk_launcher_state_t state;       //  see rfk_launcher.h
    int restarts;                     //  failed tasks seen since the last stable run
    int exit_code;                    //  last task's exit code, -1 if none
    char reason[256];                 //  why it stopped or failed, or what its task waits for
    char failed[S_FAILED_MAX][32];    //  ids of failed tasks already counted
    int n_failed;                     //  how many of them
    int64_t running_since;            //  when we first saw its current task running, 0: not
    int64_t stop_deadline;            //  STOPPING: remove it anyway after this
    bool secret_left;                 //  its secret could not be removed yet
} s_service_t;

//  The backend's state.
typedef struct {
    rfk_launcher_t *launcher; //  where events and errors go
    CURL *curl;               //  one easy handle, reused (keeps the connection)
    char *docker_socket;      //  copies of the configuration strings
    char *image;
    char *rafikid_path;
    char *service_config;
    char *network;
    char *data_dir;
    char *data_source;
    char *data_target;
    char *admin_host;
    char *name_prefix;
    char *instance;
    char *constraints;
    char *gpu_resource;
    char *gpu_constraint;
    rfk_launcher_swarm_config_t config; //  the numbers (strings point to the copies above)
    s_service_t **services;             //  every service started and not forgotten
    size_t count;                       //  services in use
    size_t capacity;                    //  services allocated
    int64_t next_poll;                  //  when tick polls the engine next
    char error[512];                    //  why the last engine call failed (creation)
} s_swarm_t;

//  An Engine API answer.
typedef struct {
    long status;   //  HTTP status, 0 if the call failed
    char *body;    //  the body, NUL-terminated
    size_t length; //  its length
    bool too_big;  //  the body was cut at S_RESPONSE_MAX
} s_response_t;

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
    config->gpu_constraint = "node.labels.gpu==true";
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
    swarm->poll_ms = (int)rfk_config_int (config, "swarm", "poll_ms");
    swarm->request_timeout_ms = (int)rfk_config_int (config, "swarm", "request_timeout_ms");
}

/* ---- small helpers ------------------------------------------------------------------------ */

static bool
s_live (const s_service_t *service)
{
    return service->state == RFK_LAUNCHER_RUNNING || service->state == RFK_LAUNCHER_RESTARTING ||
           service->state == RFK_LAUNCHER_STOPPING;
}

static s_service_t *
s_find (s_swarm_t *self, const char *id)
{
    for (size_t i = 0; i < self->count; i++)
        if (!strcmp (self->services[i]->id, id))
            return self->services[i];
    return NULL;
}

//  Record why something failed, on the launcher (after attach) and in self->error.
static void
s_fail (s_swarm_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
static void
s_fail (s_swarm_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    if (self->launcher)
        rfk_launcher_set_error (self->launcher, "%s", self->error);
}

//  Report a state change (and keep the reason for status).
static void
s_set_state (s_swarm_t *self, s_service_t *service, rfk_launcher_state_t state, const char *format,
             ...) __attribute__ ((format (printf, 4, 5)));
static void
s_set_state (s_swarm_t *self, s_service_t *service, rfk_launcher_state_t state, const char *format,
             ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (service->reason, sizeof service->reason, format, args);
    va_end (args);
    service->state = state;
    rfk_log_info (S_LOG, "swarm-service id=%s docker=%s state=%s reason=\"%s\"", service->id,
                  service->name, rfk_launcher_state_name (state), service->reason);
    if (self->launcher)
        rfk_launcher_emit (self->launcher, service->id, state, service->reason);
}

int
rfk_launcher_swarm_service_name (const char *name_prefix, const char *service_id, char *name,
                                 size_t size)
{
    assert (name_prefix);
    assert (service_id);
    int length = snprintf (name, size, "%s%s", name_prefix, service_id);
    if (length < 0 || (size_t)length >= size || length > S_NAME_MAX)
        return -1;
    for (char *c = name; *c; c++)
        if (*c == '.' || *c == '_')
            *c = '-';
    return 0;
}

//  The Docker name of a service id. -1 if too long.
static int
s_docker_name (s_swarm_t *self, const char *id, char *name, size_t size)
{
    return rfk_launcher_swarm_service_name (self->name_prefix, id, name, size);
}

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

/* ---- the Engine API ----------------------------------------------------------------------- */

static size_t
s_on_body (char *data, size_t size, size_t count, void *arg)
{
    s_response_t *response = (s_response_t *)arg;
    size_t bytes = size * count;
    if (response->length + bytes > S_RESPONSE_MAX) {
        response->too_big = true;
        return 0;
    }
    char *grown = realloc (response->body, response->length + bytes + 1);
    if (!grown)
        return 0;
    memcpy (grown + response->length, data, bytes);
    response->length += bytes;
    grown[response->length] = '\0';
    response->body = grown;
    return bytes;
}

static void
s_response_free (s_response_t *response)
{
    free (response->body);
    memset (response, 0, sizeof *response);
}

//  One Engine API call: method, path (with its query), optional JSON body. Returns 0 when the
//  engine answered (any HTTP status, in response->status), -1 when it could not be reached
//  (the error is set). The caller frees the response.
static int
s_call (s_swarm_t *self, const char *method, const char *path, const json_t *body,
        s_response_t *response)
{
    memset (response, 0, sizeof *response);
    char *payload = body ? json_dumps (body, JSON_COMPACT) : NULL;
    if (body && !payload) {
        s_fail (self, "out of memory encoding a Docker Engine API request");
        return -1;
    }
    char url[2048];
    snprintf (url, sizeof url, "http://docker%s", path);
    curl_easy_reset (self->curl);
    curl_easy_setopt (self->curl, CURLOPT_UNIX_SOCKET_PATH, self->docker_socket);
    curl_easy_setopt (self->curl, CURLOPT_URL, url);
    curl_easy_setopt (self->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (self->curl, CURLOPT_TIMEOUT_MS, (long)self->config.request_timeout_ms);
    curl_easy_setopt (self->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)self->config.request_timeout_ms);
    curl_easy_setopt (self->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (self->curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (self->curl, CURLOPT_WRITEDATA, response);
    struct curl_slist *headers = NULL;
    if (payload) {
        headers = curl_slist_append (headers, "Content-Type: application/json");
        curl_easy_setopt (self->curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt (self->curl, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt (self->curl, CURLOPT_POSTFIELDSIZE, (long)strlen (payload));
    } else if (!strcmp (method, "POST")) {
        curl_easy_setopt (self->curl, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt (self->curl, CURLOPT_POSTFIELDSIZE, 0L);
    }
    CURLcode rc = curl_easy_perform (self->curl);
    curl_slist_free_all (headers);
    if (payload) {
        //  A service spec names no secret value, but a secret's create body does.
        explicit_bzero (payload, strlen (payload));
        free (payload);
    }
    if (rc != CURLE_OK) {
        s_fail (self, "cannot reach the Docker engine at %s (%s %s): %s%s", self->docker_socket,
                method, path, curl_easy_strerror (rc),
                response->too_big ? " (answer too large)" : "");
        s_response_free (response);
        return -1;
    }
    curl_easy_getinfo (self->curl, CURLINFO_RESPONSE_CODE, &response->status);
    if (!response->body) {
        response->body = strdup ("");
        if (!response->body) {
            s_fail (self, "out of memory");
            return -1;
        }
    }
    return 0;
}

//  The engine's message in an error answer ({"message": "..."}), or its raw body.
static void
s_engine_message (const s_response_t *response, char *message, size_t size)
{
    json_t *root = json_loads (response->body ? response->body : "", 0, NULL);
    const char *text = json_string_value (json_object_get (root, "message"));
    snprintf (message, size, "%s", text ? text : (response->body ? response->body : ""));
    json_decref (root);
    size_t length = strlen (message);
    while (length && (message[length - 1] == '\n' || message[length - 1] == ' '))
        message[--length] = '\0';
}

//  A call whose answer is JSON: returns the parsed body (new reference) when the status is
//  2xx, NULL otherwise with the error set (the status in *status if not NULL).
static json_t *
s_call_json (s_swarm_t *self, const char *method, const char *path, const json_t *body,
             long *status)
{
    s_response_t response;
    if (status)
        *status = 0;
    if (s_call (self, method, path, body, &response))
        return NULL;
    if (status)
        *status = response.status;
    if (response.status < 200 || response.status >= 300) {
        char message[400];
        s_engine_message (&response, message, sizeof message);
        s_fail (self, "Docker engine: %s %s: %s (HTTP %ld)", method, path, message,
                response.status);
        s_response_free (&response);
        return NULL;
    }
    json_error_t error;
    json_t *root = json_loadb (response.body, response.length, JSON_DECODE_ANY, &error);
    if (!root && response.length == 0)
        root = json_object ();
    if (!root)
        s_fail (self, "Docker engine: %s %s: malformed answer: %s", method, path, error.text);
    s_response_free (&response);
    return root;
}

//  A path with a filters query: filters is {key: [values]}, URL-encoded.
static int
s_filtered_path (s_swarm_t *self, const char *base, json_t *filters, char *path, size_t size)
{
    char *text = json_dumps (filters, JSON_COMPACT);
    char *escaped = text ? curl_easy_escape (self->curl, text, 0) : NULL;
    free (text);
    if (!escaped) {
        s_fail (self, "out of memory");
        return -1;
    }
    int length = snprintf (path, size, "%s?filters=%s", base, escaped);
    curl_free (escaped);
    if (length < 0 || (size_t)length >= size) {
        s_fail (self, "too many services to ask the Docker engine about at once");
        return -1;
    }
    return 0;
}

//  Remove a Docker object (services/NAME, secrets/NAME). 0 when gone (also if it was not
//  there), -1 otherwise.
static int
s_remove (s_swarm_t *self, const char *kind, const char *name)
{
    char path[256];
    snprintf (path, sizeof path, "/%s/%s", kind, name);
    s_response_t response;
    if (s_call (self, "DELETE", path, NULL, &response))
        return -1;
    int rc = 0;
    if (response.status != 404 && (response.status < 200 || response.status >= 300)) {
        char message[400];
        s_engine_message (&response, message, sizeof message);
        s_fail (self, "Docker engine: cannot remove %s %s: %s (HTTP %ld)", kind, name, message,
                response.status);
        rc = -1;
    }
    s_response_free (&response);
    return rc;
}

/* ---- logs --------------------------------------------------------------------------------- */

//  Docker's multiplexed log stream (8-byte frame headers: stream, 0, 0, 0, big-endian size)
//  to plain text, in place. A stream without headers (a TTY) is left as it is.
static size_t
s_demultiplex (char *data, size_t length)
{
    if (length < 8 || (data[0] != 0 && data[0] != 1 && data[0] != 2) || data[1] || data[2] ||
        data[3])
        return length;
    size_t in = 0, out = 0;
    while (in + 8 <= length) {
        const unsigned char *header = (const unsigned char *)data + in;
        size_t size =
            (size_t)header[4] << 24 | (size_t)header[5] << 16 | (size_t)header[6] << 8 | header[7];
        in += 8;
        if (size > length - in)
            size = length - in;
        memmove (data + out, data + in, size);
        in += size;
        out += size;
    }
    data[out] = '\0';
    return out;
}

//  The last max_lines lines of text (all if 0), within RFK_LAUNCHER_LOGS_MAX bytes, as a new
//  string.
static char *
s_last_lines (const char *text, size_t length, size_t max_lines)
{
    size_t start = length > RFK_LAUNCHER_LOGS_MAX ? length - RFK_LAUNCHER_LOGS_MAX : 0;
    if (start > 0) {
        const char *newline = memchr (text + start, '\n', length - start);
        start = newline ? (size_t)(newline - text) + 1 : length;
    }
    if (max_lines > 0) {
        size_t lines = 0;
        size_t end = length && text[length - 1] == '\n' ? length - 1 : length;
        for (size_t i = end; i > start; i--)
            if (text[i - 1] == '\n' && ++lines == max_lines) {
                start = i;
                break;
            }
    }
    return strndup (text + start, length - start);
}

//  A live Docker service's log (stdout and stderr), or NULL with the error set.
static char *
s_docker_logs (s_swarm_t *self, const char *name, size_t max_lines)
{
    char path[256];
    char tail[32] = "all";
    if (max_lines > 0)
        snprintf (tail, sizeof tail, "%zu", max_lines);
    snprintf (path, sizeof path, "/services/%s/logs?stdout=1&stderr=1&tail=%s", name, tail);
    s_response_t response;
    if (s_call (self, "GET", path, NULL, &response))
        return NULL;
    if (response.status != 200) {
        char message[400];
        s_engine_message (&response, message, sizeof message);
        s_fail (self, "Docker engine: logs of %s: %s (HTTP %ld)", name, message, response.status);
        s_response_free (&response);
        return NULL;
    }
    size_t length = s_demultiplex (response.body, response.length);
    char *text = s_last_lines (response.body, length, max_lines);
    s_response_free (&response);
    if (!text)
        s_fail (self, "out of memory");
    return text;
}

//  The last lines of a file, or NULL.
static char *
s_file_tail (const char *path, size_t max_lines)
{
    FILE *file = fopen (path, "re");
    if (!file)
        return NULL;
    if (fseeko (file, 0, SEEK_END) == 0) {
        off_t size = ftello (file);
        if (size > RFK_LAUNCHER_LOGS_MAX)
            fseeko (file, size - RFK_LAUNCHER_LOGS_MAX, SEEK_SET);
        else
            rewind (file);
    }
    char *buffer = malloc (RFK_LAUNCHER_LOGS_MAX + 1);
    size_t length = buffer ? fread (buffer, 1, RFK_LAUNCHER_LOGS_MAX, file) : 0;
    fclose (file);
    if (!buffer)
        return NULL;
    buffer[length] = '\0';
    char *text = s_last_lines (buffer, length, max_lines);
    free (buffer);
    return text;
}

//  Keep a finished service's Docker log in <data_dir>/logs/<id>.log (as the local backend
//  does) before its Docker service is removed.
static void
s_save_logs (s_swarm_t *self, s_service_t *service)
{
    char *text = s_docker_logs (self, service->name, S_SAVED_LINES);
    if (!text)
        return;
    char path[4096];
    snprintf (path, sizeof path, "%s/logs", self->data_dir);
    mkdir (self->data_dir, 0755);
    mkdir (path, 0755);
    snprintf (path, sizeof path, "%s/logs/%s.log", self->data_dir, service->id);
    FILE *file = fopen (path, "ae");
    if (file) {
        fprintf (file, "%s%srafiki-launcher: Docker service %s %s: %s\n", text,
                 *text && text[strlen (text) - 1] != '\n' ? "\n" : "", service->name,
                 rfk_launcher_state_name (service->state), service->reason);
        fclose (file);
    } else
        rfk_log_warning (S_LOG, "swarm-logs-not-saved id=%s path=%s error=\"%s\"", service->id,
                         path, strerror (errno));
    free (text);
}

//  A service reached STOPPED or ERRORED: save its logs, remove its Docker service and secret.
static void
s_retire (s_swarm_t *self, s_service_t *service)
{
    if (!service->docker_id[0])
        return;
    s_save_logs (self, service);
    if (s_remove (self, "services", service->name))
        rfk_log_warning (S_LOG, "swarm-remove-failed id=%s error=\"%s\"", service->id, self->error);
    service->docker_id[0] = '\0';
    service->secret_left = s_remove (self, "secrets", service->name) != 0;
}

/* ---- the backend operations --------------------------------------------------------------- */

static void
s_attach (void *impl, rfk_launcher_t *launcher)
{
    ((s_swarm_t *)impl)->launcher = launcher;
}

//  The spec of a Docker service for a Rafiki service.
static json_t *
s_service_spec (s_swarm_t *self, const rfk_launcher_spec_t *spec, const char *name,
                const char *secret_id)
{
    json_t *labels = json_pack ("{s:s, s:s, s:s}", "rafiki.instance", self->instance,
                                "rafiki.service-id", spec->id, "rafiki.role", spec->role);
    json_t *args = json_pack ("[s, s, s]", spec->role, "--service-id", spec->id);
    if (self->service_config && *self->service_config) {
        json_array_append_new (args, json_string ("--config"));
        json_array_append_new (args, json_string (self->service_config));
    }
    json_t *env = json_array ();
    char entry[1024];
#define S_ENV(...)                                                                                 \
    do {                                                                                           \
        snprintf (entry, sizeof entry, __VA_ARGS__);                                               \
        json_array_append_new (env, json_string (entry));                                          \
    } while (0)
    S_ENV ("RAFIKI_SERVICE_ID=%s", spec->id);
    S_ENV ("RAFIKI_SERVICE_ROLE=%s", spec->role);
    S_ENV ("RAFIKI_DATA_DIR=%s", self->data_target);
    S_ENV ("RAFIKI_SECRET_FILE=/run/secrets/%s", S_SECRET_TARGET);
    if (self->admin_host && *self->admin_host)
        S_ENV ("RAFIKI_ADMIN_HOST=%s", self->admin_host);
    S_ENV ("RAFIKI_ADMIN_SERVICE_PORT=%d", self->config.admin_service_port);
    S_ENV ("RAFIKI_GPU_COUNT=%d", spec->gpus);
#undef S_ENV
    for (size_t i = 0; spec->env && spec->env[i]; i++)
        json_array_append_new (env, json_string (spec->env[i]));

    const char *source =
        self->data_source && *self->data_source ? self->data_source : self->data_dir;
    json_t *mounts = json_pack ("[{s:s, s:s, s:s}]", "Type", source[0] == '/' ? "bind" : "volume",
                                "Source", source, "Target", self->data_target);
    json_t *secrets =
        json_pack ("[{s:{s:s, s:s, s:s, s:i}, s:s, s:s}]", "File", "Name", S_SECRET_TARGET, "UID",
                   "0", "GID", "0", "Mode", 0400, "SecretID", secret_id, "SecretName", name);
    json_t *container = json_pack ("{s:s, s:[s], s:o, s:o, s:O, s:o, s:o, s:I}", "Image",
                                   spec->image && *spec->image ? spec->image : self->image,
                                   "Command", self->rafikid_path, "Args", args, "Env", env,
                                   "Labels", labels, "Mounts", mounts, "Secrets", secrets,
                                   "StopGracePeriod", (json_int_t)self->config.grace_ms * 1000000);

    json_t *restart;
    if (self->config.max_restarts > 0)
        restart = json_pack ("{s:s, s:I, s:i, s:I}", "Condition", "on-failure", "Delay",
                             (json_int_t)self->config.backoff_ms * 1000000, "MaxAttempts",
                             self->config.max_restarts, "Window",
                             (json_int_t)self->config.stable_ms * 1000000);
    else
        restart = json_pack ("{s:s}", "Condition", "none");

    json_t *constraints = json_array ();
    if (self->constraints && *self->constraints) {
        char *copy = strdup (self->constraints);
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
    if (spec->gpus > 0 && self->gpu_constraint && *self->gpu_constraint)
        json_array_append_new (constraints, json_string (self->gpu_constraint));

    json_t *limits = json_object ();
    json_t *reservations = json_object ();
    if (spec->cpus > 0) {
        json_int_t nano = (json_int_t)(spec->cpus * 1e9);
        json_object_set_new (limits, "NanoCPUs", json_integer (nano));
        json_object_set_new (reservations, "NanoCPUs", json_integer (nano));
    }
    if (spec->memory_bytes > 0) {
        json_object_set_new (limits, "MemoryBytes", json_integer (spec->memory_bytes));
        json_object_set_new (reservations, "MemoryBytes", json_integer (spec->memory_bytes));
    }
    if (spec->gpus > 0 && self->gpu_resource && *self->gpu_resource)
        json_object_set_new (reservations, "GenericResources",
                             json_pack ("[{s:{s:s, s:i}}]", "DiscreteResourceSpec", "Kind",
                                        self->gpu_resource, "Value", spec->gpus));

    json_t *endpoint = json_pack ("{s:s}", "Mode", "dnsrr");
    if (spec->published_port > 0)
        json_object_set_new (endpoint, "Ports",
                             json_pack ("[{s:s, s:i, s:i, s:s}]", "Protocol", "tcp", "TargetPort",
                                        spec->published_port, "PublishedPort", spec->published_port,
                                        "PublishMode", "host"));
    return json_pack ("{s:s, s:o, s:{s:o, s:o, s:{s:o}, s:{s:o, s:o}, s:[{s:s}]},"
                      " s:{s:{s:i}}, s:o}",
                      "Name", name, "Labels", labels, "TaskTemplate", "ContainerSpec", container,
                      "RestartPolicy", restart, "Placement", "Constraints", constraints,
                      "Resources", "Limits", limits, "Reservations", reservations, "Networks",
                      "Target", self->network, "Mode", "Replicated", "Replicas", 1, "EndpointSpec",
                      endpoint);
}

//  Create the service's Docker secret; returns its ID (the caller frees) or NULL.
static char *
s_create_secret (s_swarm_t *self, const rfk_launcher_spec_t *spec, const char *name)
{
    char *data = s_base64 (spec->secret, strlen (spec->secret));
    if (!data) {
        s_fail (self, "out of memory");
        return NULL;
    }
    json_t *body = json_pack ("{s:s, s:s, s:{s:s, s:s}}", "Name", name, "Data", data, "Labels",
                              "rafiki.instance", self->instance, "rafiki.service-id", spec->id);
    char *id = NULL;
    for (int attempt = 0; body && attempt < 2 && !id; attempt++) {
        long status = 0;
        json_t *created = s_call_json (self, "POST", "/secrets/create", body, &status);
        if (created) {
            const char *value = json_string_value (json_object_get (created, "ID"));
            id = value ? strdup (value) : NULL;
            if (!id)
                s_fail (self, "Docker engine created secret %s but gave no ID", name);
        } else if (status == 409 && attempt == 0) {
            //  Left over by an earlier run of this id (a crash between create and remove).
            if (s_remove (self, "secrets", name))
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

static int
s_start (void *impl, const rfk_launcher_spec_t *spec)
{
    s_swarm_t *self = (s_swarm_t *)impl;
    if (rfk_launcher_spec_check (self->launcher, spec))
        return -1;
    s_service_t *service = s_find (self, spec->id);
    if (service && s_live (service)) {
        s_fail (self, "service %s is already live (%s)", spec->id,
                rfk_launcher_state_name (service->state));
        return -1;
    }
    char name[S_NAME_MAX + 1];
    if (s_docker_name (self, spec->id, name, sizeof name)) {
        s_fail (self,
                "service %s: Docker service names are at most %d characters; '%s%s' is longer",
                spec->id, S_NAME_MAX, self->name_prefix, spec->id);
        return -1;
    }
    if (!service) {
        if (self->count == self->capacity) {
            size_t capacity = self->capacity ? self->capacity * 2 : 16;
            s_service_t **grown = realloc (self->services, capacity * sizeof *grown);
            if (!grown) {
                s_fail (self, "out of memory");
                return -1;
            }
            self->services = grown;
            self->capacity = capacity;
        }
        service = calloc (1, sizeof *service);
        if (!service) {
            s_fail (self, "out of memory");
            return -1;
        }
        self->services[self->count++] = service;
    } else {
        //  Started again after it stopped: what is left of the old one goes first.
        if (service->secret_left)
            s_remove (self, "secrets", service->name);
        memset (service, 0, sizeof *service);
    }
    snprintf (service->id, sizeof service->id, "%s", spec->id);
    snprintf (service->role, sizeof service->role, "%s", spec->role);
    snprintf (service->name, sizeof service->name, "%s", name);
    service->exit_code = -1;
    service->state = RFK_LAUNCHER_ERRORED;

    char *secret_id = s_create_secret (self, spec, name);
    if (!secret_id) {
        snprintf (service->reason, sizeof service->reason, "%.250s", self->error);
        s_fail (self, "service %s: cannot create its Docker secret: %s", spec->id, service->reason);
        return -1;
    }
    json_t *body = s_service_spec (self, spec, name, secret_id);
    free (secret_id);
    if (!body) {
        s_remove (self, "secrets", name);
        s_fail (self, "service %s: out of memory building its Docker service spec", spec->id);
        return -1;
    }
    long status = 0;
    json_t *created = s_call_json (self, "POST", "/services/create", body, &status);
    json_decref (body);
    const char *docker_id = json_string_value (json_object_get (created, "ID"));
    if (!docker_id) {
        char why[512];
        snprintf (why, sizeof why, "%s", created ? "the engine gave no service ID" : self->error);
        snprintf (service->reason, sizeof service->reason, "%.250s", why);
        s_remove (self, "secrets", name);
        json_decref (created);
        s_fail (self, "service %s: cannot create Docker service %s: %s", spec->id, name, why);
        return -1;
    }
    snprintf (service->docker_id, sizeof service->docker_id, "%s", docker_id);
    json_decref (created);
    self->next_poll = 0;
    s_set_state (self, service, RFK_LAUNCHER_RUNNING,
                 "Docker service %s created (image %s); waiting for its task", name,
                 spec->image && *spec->image ? spec->image : self->image);
    return 0;
}

//  Scale a service to 0 replicas: swarm stops its task (SIGTERM, SIGKILL after the grace).
//  Returns 0, 1 when the service is gone already, -1 on an engine error.
static int
s_scale_down (s_swarm_t *self, s_service_t *service)
{
    char path[256];
    snprintf (path, sizeof path, "/services/%s", service->docker_id);
    long status = 0;
    json_t *current = s_call_json (self, "GET", path, NULL, &status);
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
        json_t *updated = s_call_json (self, "POST", path, spec, &status);
        rc = updated ? 0 : status == 404 ? 1 : -1;
        json_decref (updated);
    } else
        s_fail (self, "Docker service %s is not a replicated service", service->name);
    json_decref (current);
    return rc;
}

static int
s_stop (void *impl, const char *service_id)
{
    s_swarm_t *self = (s_swarm_t *)impl;
    s_service_t *service = s_find (self, service_id);
    if (!service) {
        s_fail (self, "no service %s", service_id);
        return -1;
    }
    if (!s_live (service) || service->state == RFK_LAUNCHER_STOPPING)
        return 0;
    int rc = s_scale_down (self, service);
    if (rc == 1) {
        service->docker_id[0] = '\0';
        s_remove (self, "secrets", service->name);
        s_set_state (self, service, RFK_LAUNCHER_STOPPED,
                     "stopped (its Docker service was already gone)");
        return 0;
    }
    if (rc < 0) {
        //  The engine would not scale it: remove it outright, which stops it as well.
        rfk_log_warning (S_LOG, "swarm-scale-failed id=%s error=\"%s\"", service->id, self->error);
        s_set_state (self, service, RFK_LAUNCHER_STOPPED, "stopped: Docker service removed");
        s_retire (self, service);
        return 0;
    }
    service->stop_deadline = rfk_launcher_now () + self->config.grace_ms + 5000;
    self->next_poll = 0;
    s_set_state (self, service, RFK_LAUNCHER_STOPPING, "stop asked; swarm sends SIGTERM");
    return 0;
}

static int
s_stop_all (void *impl)
{
    s_swarm_t *self = (s_swarm_t *)impl;
    for (size_t i = 0; i < self->count; i++)
        if (s_live (self->services[i]))
            s_stop (impl, self->services[i]->id);
    return 0;
}

static int
s_status (void *impl, const char *service_id, rfk_launcher_status_t *status)
{
    s_swarm_t *self = (s_swarm_t *)impl;
    s_service_t *service = s_find (self, service_id);
    if (!service) {
        s_fail (self, "no service %s", service_id);
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
    s_swarm_t *self = (s_swarm_t *)impl;
    s_service_t *service = s_find (self, service_id);
    rfk_launcher_spec_t probe = {.id = service_id, .role = "probe", .secret = "x"};
    if (!service && rfk_launcher_spec_check (self->launcher, &probe))
        return NULL;
    char name[S_NAME_MAX + 1] = "";
    if (service && service->docker_id[0])
        snprintf (name, sizeof name, "%s", service->name);
    else if (!service && s_docker_name (self, service_id, name, sizeof name))
        name[0] = '\0';
    if (*name) {
        char *text = s_docker_logs (self, name, max_lines);
        if (text || service)
            return text;
    }
    //  Retired, or from before admin restarted: the saved log.
    char path[4096];
    snprintf (path, sizeof path, "%s/logs/%s.log", self->data_dir, service_id);
    char *text = s_file_tail (path, max_lines);
    if (!text)
        s_fail (self, "service %s has no log: no Docker service and no %s", service_id, path);
    return text;
}

static int
s_forget (void *impl, const char *service_id)
{
    s_swarm_t *self = (s_swarm_t *)impl;
    for (size_t i = 0; i < self->count; i++) {
        s_service_t *service = self->services[i];
        if (strcmp (service->id, service_id))
            continue;
        if (s_live (service)) {
            s_fail (self, "service %s is still live", service_id);
            return -1;
        }
        s_retire (self, service);
        if (service->secret_left)
            s_remove (self, "secrets", service->name);
        free (service);
        self->services[i] = self->services[--self->count];
        return 0;
    }
    s_fail (self, "no service %s", service_id);
    return -1;
}

static int
s_live_count (void *impl)
{
    s_swarm_t *self = (s_swarm_t *)impl;
    int live = 0;
    for (size_t i = 0; i < self->count; i++)
        live += s_live (self->services[i]);
    return live;
}

static bool
s_has_work (s_swarm_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        if (s_live (self->services[i]) || self->services[i]->secret_left)
            return true;
    return false;
}

static int64_t
s_next_deadline (void *impl)
{
    s_swarm_t *self = (s_swarm_t *)impl;
    return s_has_work (self) ? self->next_poll : -1;
}

//  Task states that are over.
static bool
s_task_over (const char *state)
{
    return !strcmp (state, "complete") || !strcmp (state, "failed") ||
           !strcmp (state, "rejected") || !strcmp (state, "shutdown") ||
           !strcmp (state, "orphaned") || !strcmp (state, "remove");
}

//  Count a failed task once; true if it was new.
static bool
s_count_failure (s_service_t *service, const char *task_id)
{
    for (int i = 0; i < service->n_failed; i++)
        if (!strncmp (service->failed[i], task_id, sizeof service->failed[i] - 1))
            return false;
    if (service->n_failed < S_FAILED_MAX)
        snprintf (service->failed[service->n_failed++], sizeof service->failed[0], "%s", task_id);
    return true;
}

//  Turn a service's tasks (a JSON array of task objects) into its state.
static void
s_follow (s_swarm_t *self, s_service_t *service, json_t *tasks, int64_t now)
{
    bool running = false, pending = false, completed = false, any_active = false;
    int new_failures = 0;
    char failure[200] = "";
    char waiting[200] = "";
    int failure_code = -1;
    size_t index;
    json_t *task;
    json_array_foreach (tasks, index, task)
    {
        const char *task_id = json_string_value (json_object_get (task, "ID"));
        const char *desired = json_string_value (json_object_get (task, "DesiredState"));
        json_t *status = json_object_get (task, "Status");
        const char *state = json_string_value (json_object_get (status, "State"));
        if (!task_id || !desired || !state)
            continue;
        const char *err = json_string_value (json_object_get (status, "Err"));
        const char *message = json_string_value (json_object_get (status, "Message"));
        json_t *code = json_object_get (json_object_get (status, "ContainerStatus"), "ExitCode");
        bool over = s_task_over (state);
        if (!over)
            any_active = true;
        if (!strcmp (state, "running") && !strcmp (desired, "running"))
            running = true;
        else if (!over && (!strcmp (desired, "running") || !strcmp (desired, "ready")))
            pending = true;
        if (!over && err && *err)
            snprintf (waiting, sizeof waiting, "task %s: %s", state, err);
        else if (!over && !*waiting && message)
            snprintf (waiting, sizeof waiting, "task %s: %s", state, message);
        if (!strcmp (state, "complete")) {
            completed = true;
            service->exit_code = 0;
        }
        if ((!strcmp (state, "failed") || !strcmp (state, "rejected")) &&
            s_count_failure (service, task_id)) {
            new_failures++;
            failure_code = json_is_integer (code) ? (int)json_integer_value (code) : -1;
            //  The engine's words: "task: non-zero exit (137)", "No such image: ...".
            const char *why = err && *err ? err : message ? message : "no reason given";
            if (!strcmp (state, "rejected"))
                snprintf (failure, sizeof failure, "task rejected: %s", why);
            else
                snprintf (failure, sizeof failure, "%s", why);
        }
    }
    if (service->state == RFK_LAUNCHER_STOPPING) {
        if (!any_active || now >= service->stop_deadline) {
            s_set_state (self, service, RFK_LAUNCHER_STOPPED,
                         any_active ? "stopped (its task outlived the grace period; removed)"
                                    : "stopped");
            s_retire (self, service);
        }
        return;
    }
    if (new_failures) {
        //  A run longer than stable_ms does not count against the limit (swarm's window).
        if (service->running_since && now - service->running_since >= self->config.stable_ms)
            service->restarts = 0;
        service->restarts += new_failures;
        service->running_since = 0;
        service->exit_code = failure_code;
    }
    if (running) {
        if (!service->running_since)
            service->running_since = now;
        if (service->state != RFK_LAUNCHER_RUNNING)
            s_set_state (self, service, RFK_LAUNCHER_RUNNING, "task running again (restart %d)",
                         service->restarts);
        else if (service->reason[0] && !new_failures)
            service->reason[0] = '\0';
        return;
    }
    if (service->restarts > self->config.max_restarts) {
        s_set_state (self, service, RFK_LAUNCHER_ERRORED, "%s; gave up after %d restart%s",
                     *failure ? failure : service->reason, self->config.max_restarts,
                     self->config.max_restarts == 1 ? "" : "s");
        s_retire (self, service);
        return;
    }
    if (new_failures) {
        s_set_state (self, service, RFK_LAUNCHER_RESTARTING,
                     "%s; swarm restarts it (restart %d of %d)", failure, service->restarts,
                     self->config.max_restarts);
        return;
    }
    if (completed && !pending && !any_active) {
        s_set_state (self, service, RFK_LAUNCHER_STOPPED, "exited with code 0");
        s_retire (self, service);
        return;
    }
    if (*waiting)
        snprintf (service->reason, sizeof service->reason, "%s", waiting);
}

//  One poll: the Docker services labelled ours and the tasks of every live service.
static void
s_poll (s_swarm_t *self, int64_t now)
{
    json_t *names = json_array ();
    for (size_t i = 0; i < self->count; i++)
        if (s_live (self->services[i]) && self->services[i]->docker_id[0])
            json_array_append_new (names, json_string (self->services[i]->docker_id));
    if (json_array_size (names) == 0) {
        json_decref (names);
        return;
    }
    char label[300];
    snprintf (label, sizeof label, "rafiki.instance=%s", self->instance);
    json_t *filters = json_pack ("{s:[s]}", "label", label);
    char path[1024];
    json_t *services = NULL;
    if (!s_filtered_path (self, "/services", filters, path, sizeof path))
        services = s_call_json (self, "GET", path, NULL, NULL);
    json_decref (filters);
    filters = json_pack ("{s:o}", "service", names);
    char *tasks_path = malloc (65536);
    json_t *tasks = NULL;
    if (services && tasks_path && !s_filtered_path (self, "/tasks", filters, tasks_path, 65536))
        tasks = s_call_json (self, "GET", tasks_path, NULL, NULL);
    free (tasks_path);
    json_decref (filters);
    if (!services || !tasks) {
        //  The engine is away: say so in the services' reasons, keep their states.
        rfk_log_warning (S_LOG, "swarm-poll-failed error=\"%s\"", self->error);
        for (size_t i = 0; i < self->count; i++)
            if (s_live (self->services[i]))
                snprintf (self->services[i]->reason, sizeof self->services[i]->reason,
                          "cannot follow it: %.230s", self->error);
        json_decref (services);
        json_decref (tasks);
        return;
    }
    for (size_t i = 0; i < self->count; i++) {
        s_service_t *service = self->services[i];
        if (!s_live (service) || !service->docker_id[0])
            continue;
        bool exists = false;
        size_t index;
        json_t *item;
        json_array_foreach (services, index, item)
        {
            const char *id = json_string_value (json_object_get (item, "ID"));
            if (id && !strcmp (id, service->docker_id))
                exists = true;
        }
        if (!exists) {
            service->docker_id[0] = '\0';
            s_remove (self, "secrets", service->name);
            if (service->state == RFK_LAUNCHER_STOPPING)
                s_set_state (self, service, RFK_LAUNCHER_STOPPED, "stopped");
            else
                s_set_state (self, service, RFK_LAUNCHER_ERRORED,
                             "its Docker service %s vanished (removed outside Rafiki)",
                             service->name);
            continue;
        }
        json_t *mine = json_array ();
        json_array_foreach (tasks, index, item)
        {
            const char *owner = json_string_value (json_object_get (item, "ServiceID"));
            if (owner && !strcmp (owner, service->docker_id))
                json_array_append (mine, item);
        }
        s_follow (self, service, mine, now);
        json_decref (mine);
    }
    json_decref (services);
    json_decref (tasks);
}

static int
s_tick (void *impl, int64_t now)
{
    s_swarm_t *self = (s_swarm_t *)impl;
    if (now < self->next_poll)
        return 0;
    self->next_poll = now + self->config.poll_ms;
    for (size_t i = 0; i < self->count; i++)
        if (self->services[i]->secret_left && !s_live (self->services[i]))
            self->services[i]->secret_left =
                s_remove (self, "secrets", self->services[i]->name) != 0;
    s_poll (self, now);
    return 0;
}

static void
s_destroy (void *impl)
{
    s_swarm_t *self = (s_swarm_t *)impl;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        s_service_t *service = self->services[i];
        if (self->curl && service->docker_id[0]) {
            s_remove (self, "services", service->name);
            s_remove (self, "secrets", service->name);
        } else if (self->curl && service->secret_left)
            s_remove (self, "secrets", service->name);
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

/* ---- creation and reconcile --------------------------------------------------------------- */

//  Check the engine: reachable, a swarm manager, the network there. 0 or -1 (error set).
static int
s_check_engine (s_swarm_t *self)
{
    json_t *info = s_call_json (self, "GET", "/info", NULL, NULL);
    if (!info)
        return -1;
    json_t *swarm = json_object_get (info, "Swarm");
    const char *state = json_string_value (json_object_get (swarm, "LocalNodeState"));
    bool manager = json_is_true (json_object_get (swarm, "ControlAvailable"));
    int rc = 0;
    if (!state || strcmp (state, "active") || !manager) {
        s_fail (self,
                "the Docker engine at %s is not a swarm manager (swarm state: %s); run `docker "
                "swarm init` or deploy/swarm-up",
                self->docker_socket, state ? state : "unknown");
        rc = -1;
    }
    json_decref (info);
    if (rc)
        return rc;
    char path[512];
    snprintf (path, sizeof path, "/networks/%s", self->network);
    long status = 0;
    json_t *network = s_call_json (self, "GET", path, NULL, &status);
    if (!network) {
        if (status == 404)
            s_fail (self,
                    "Docker network %s does not exist: create it with `docker network create -d "
                    "overlay --attachable %s` (deploy/swarm-up does)",
                    self->network, self->network);
        return -1;
    }
    json_decref (network);
    return 0;
}

static bool
s_in (const char *const *list, const char *id)
{
    for (size_t i = 0; list && list[i]; i++)
        if (!strcmp (list[i], id))
            return true;
    return false;
}

//  Add a table entry for an adopted or vanished service.
static s_service_t *
s_add (s_swarm_t *self, const char *id, const char *role)
{
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 16;
        s_service_t **grown = realloc (self->services, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        self->services = grown;
        self->capacity = capacity;
    }
    s_service_t *service = calloc (1, sizeof *service);
    if (!service)
        return NULL;
    snprintf (service->id, sizeof service->id, "%s", id);
    snprintf (service->role, sizeof service->role, "%s", role ? role : "");
    s_docker_name (self, id, service->name, sizeof service->name);
    service->exit_code = -1;
    self->services[self->count++] = service;
    return service;
}

//  After an admin restart: adopt the services admin knows, remove the others labelled ours,
//  report the known ones that vanished. 0 or -1 (the engine cannot be asked).
static int
s_reconcile (s_swarm_t *self, const char *const *adopt)
{
    char label[300];
    snprintf (label, sizeof label, "rafiki.instance=%s", self->instance);
    json_t *filters = json_pack ("{s:[s]}", "label", label);
    char path[1024];
    json_t *services = NULL;
    if (!s_filtered_path (self, "/services", filters, path, sizeof path))
        services = s_call_json (self, "GET", path, NULL, NULL);
    json_decref (filters);
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
            s_service_t *service = s_add (self, id, role);
            if (!service)
                return -1;
            snprintf (service->name, sizeof service->name, "%s", name);
            snprintf (service->docker_id, sizeof service->docker_id, "%s", docker_id);
            s_set_state (self, service, RFK_LAUNCHER_RUNNING,
                         "adopted Docker service %s after admin restarted", name);
        } else {
            //  Ours but unknown to admin: nothing would ever stop it.
            rfk_log_notice (S_LOG,
                            "swarm-reconcile removed=%s service-id=%s reason=\"unknown "
                            "to admin\"",
                            name, id ? id : "-");
            s_remove (self, "services", docker_id);
            s_remove (self, "secrets", name);
        }
    }
    json_decref (services);
    for (size_t i = 0; adopt && adopt[i]; i++) {
        if (s_find (self, adopt[i]))
            continue;
        s_service_t *service = s_add (self, adopt[i], NULL);
        if (!service)
            return -1;
        s_set_state (self, service, RFK_LAUNCHER_ERRORED,
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
             config->admin_service_port <= 0 || config->admin_service_port > 65535)
        problem = "swarm launcher: a number is out of range (restarts, times or port)";
    if (problem) {
        fprintf (stderr, "%s\n", problem);
        if (error && error_size)
            snprintf (error, error_size, "%s", problem);
        return NULL;
    }
    curl_global_init (CURL_GLOBAL_DEFAULT);
    s_swarm_t *self = calloc (1, sizeof *self);
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
    if (s_check_engine (self)) {
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
