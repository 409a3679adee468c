/*  rfk_launcher_swarm_engine.c: the swarm backend's Docker Engine API client.

    One libcurl easy handle per backend, reused between calls (it keeps the connection to the
    engine's unix socket), each call bounded by request_timeout_ms; JSON with jansson. Engine
    errors become the backend's error (rfk_swarm_fail), never crashes.
*/
#define _GNU_SOURCE
#include "rfk_launcher_swarm_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rfk_log.h"

void
rfk_swarm_fail (rfk_swarm_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    if (self->launcher)
        rfk_launcher_set_error (self->launcher, "%s", self->error);
}

static size_t
s_on_body (char *data, size_t size, size_t count, void *arg)
{
    rfk_swarm_response_t *response = (rfk_swarm_response_t *)arg;
    size_t bytes = size * count;
    if (response->length + bytes > RFK_SWARM_RESPONSE_MAX) {
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

void
rfk_swarm_response_free (rfk_swarm_response_t *response)
{
    free (response->body);
    memset (response, 0, sizeof *response);
}

//  One Engine API call: method, path (with its query), optional JSON body. Returns 0 when the
//  engine answered (any HTTP status, in response->status), -1 when it could not be reached
//  (the error is set). The caller frees the response.
int
rfk_swarm_call (rfk_swarm_t *self, const char *method, const char *path, const json_t *body,
                rfk_swarm_response_t *response)
{
    memset (response, 0, sizeof *response);
    char *payload = body ? json_dumps (body, JSON_COMPACT) : NULL;
    if (body && !payload) {
        rfk_swarm_fail (self, "out of memory encoding a Docker Engine API request");
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
        rfk_swarm_fail (self, "cannot reach the Docker engine at %s (%s %s): %s%s",
                        self->docker_socket, method, path, curl_easy_strerror (rc),
                        response->too_big ? " (answer too large)" : "");
        rfk_swarm_response_free (response);
        return -1;
    }
    curl_easy_getinfo (self->curl, CURLINFO_RESPONSE_CODE, &response->status);
    if (!response->body) {
        response->body = strdup ("");
        if (!response->body) {
            rfk_swarm_fail (self, "out of memory");
            return -1;
        }
    }
    return 0;
}

//  The engine's message in an error answer ({"message": "..."}), or its raw body.
void
rfk_swarm_engine_message (const rfk_swarm_response_t *response, char *message, size_t size)
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
json_t *
rfk_swarm_call_json (rfk_swarm_t *self, const char *method, const char *path, const json_t *body,
                     long *status)
{
    rfk_swarm_response_t response;
    if (status)
        *status = 0;
    if (rfk_swarm_call (self, method, path, body, &response))
        return NULL;
    if (status)
        *status = response.status;
    if (response.status < 200 || response.status >= 300) {
        char message[400];
        rfk_swarm_engine_message (&response, message, sizeof message);
        rfk_swarm_fail (self, "Docker engine: %s %s: %s (HTTP %ld)", method, path, message,
                        response.status);
        rfk_swarm_response_free (&response);
        return NULL;
    }
    json_error_t error;
    json_t *root = json_loadb (response.body, response.length, JSON_DECODE_ANY, &error);
    if (!root && response.length == 0)
        root = json_object ();
    if (!root)
        rfk_swarm_fail (self, "Docker engine: %s %s: malformed answer: %s", method, path,
                        error.text);
    rfk_swarm_response_free (&response);
    return root;
}

//  A path with a filters query: filters is {key: [values]}, URL-encoded.
int
rfk_swarm_filtered_path (rfk_swarm_t *self, const char *base, json_t *filters, char *path,
                         size_t size)
{
    char *text = json_dumps (filters, JSON_COMPACT);
    char *escaped = text ? curl_easy_escape (self->curl, text, 0) : NULL;
    free (text);
    if (!escaped) {
        rfk_swarm_fail (self, "out of memory");
        return -1;
    }
    int length = snprintf (path, size, "%s?filters=%s", base, escaped);
    curl_free (escaped);
    if (length < 0 || (size_t)length >= size) {
        rfk_swarm_fail (self, "too many services to ask the Docker engine about at once");
        return -1;
    }
    return 0;
}

json_t *
rfk_swarm_list_ours (rfk_swarm_t *self)
{
    char label[300];
    snprintf (label, sizeof label, "rafiki.instance=%s", self->instance);
    json_t *filters = json_pack ("{s:[s]}", "label", label);
    char path[1024];
    json_t *services = NULL;
    if (!rfk_swarm_filtered_path (self, "/services", filters, path, sizeof path))
        services = rfk_swarm_call_json (self, "GET", path, NULL, NULL);
    json_decref (filters);
    return services;
}

//  Remove a Docker object (services/NAME, secrets/NAME). 0 when gone (also if it was not
//  there), -1 otherwise.
int
rfk_swarm_remove (rfk_swarm_t *self, const char *kind, const char *name)
{
    char path[256];
    snprintf (path, sizeof path, "/%s/%s", kind, name);
    rfk_swarm_response_t response;
    if (rfk_swarm_call (self, "DELETE", path, NULL, &response))
        return -1;
    int rc = 0;
    if (response.status != 404 && (response.status < 200 || response.status >= 300)) {
        char message[400];
        rfk_swarm_engine_message (&response, message, sizeof message);
        rfk_swarm_fail (self, "Docker engine: cannot remove %s %s: %s (HTTP %ld)", kind, name,
                        message, response.status);
        rc = -1;
    }
    rfk_swarm_response_free (&response);
    return rc;
}

//  How often admin asks an engine that does not answer /info in time (a busy engine: /info
//  counts images and containers), before it gives up at start.
#define S_INFO_TRIES 6

//  Check the engine: reachable, a swarm manager, the network there. 0 or -1 (error set).
int
rfk_swarm_check_engine (rfk_swarm_t *self)
{
    long status = 0;
    json_t *info = NULL;
    for (int tries = 1; !info; tries++) {
        info = rfk_swarm_call_json (self, "GET", "/info", NULL, &status);
        //  An answer (even a refusal) is final; only no answer in time is asked again.
        if (info || status != 0 || tries == S_INFO_TRIES)
            break;
        rfk_log_warning (RFK_SWARM_LOG, "swarm-engine-slow try=%d of %d error=\"%s\"", tries,
                         S_INFO_TRIES, self->error);
    }
    if (!info)
        return -1;
    json_t *swarm = json_object_get (info, "Swarm");
    const char *state = json_string_value (json_object_get (swarm, "LocalNodeState"));
    bool manager = json_is_true (json_object_get (swarm, "ControlAvailable"));
    int rc = 0;
    if (!state || strcmp (state, "active") || !manager) {
        rfk_swarm_fail (
            self,
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
    status = 0;
    json_t *network = rfk_swarm_call_json (self, "GET", path, NULL, &status);
    if (!network) {
        if (status == 404)
            rfk_swarm_fail (
                self,
                "Docker network %s does not exist: create it with `docker network create -d "
                "overlay --attachable %s` (deploy/swarm-up does)",
                self->network, self->network);
        return -1;
    }
    json_decref (network);
    return 0;
}
