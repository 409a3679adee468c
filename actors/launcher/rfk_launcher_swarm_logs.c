/*  rfk_launcher_swarm_logs.c: the swarm backend's logs. A live service's log comes from the
    engine (GET /services/{id}/logs, demultiplexed); when a service finishes its log is saved to
    <data_dir>/logs/<id>.log (as the local backend writes it) before its Docker service and
    secret are removed (rfk_swarm_retire).
*/
#define _GNU_SOURCE
#include "rfk_launcher_swarm_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rfk_log.h"

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

//  A live Docker service's log (stdout and stderr), or NULL with the error set.
char *
rfk_swarm_docker_logs (rfk_swarm_t *self, const char *name, size_t max_lines)
{
    char path[256];
    char tail[32] = "all";
    if (max_lines > 0)
        snprintf (tail, sizeof tail, "%zu", max_lines);
    snprintf (path, sizeof path, "/services/%s/logs?stdout=1&stderr=1&tail=%s", name, tail);
    rfk_swarm_response_t response;
    if (rfk_swarm_call (self, "GET", path, NULL, &response))
        return NULL;
    if (response.status != 200) {
        char message[400];
        rfk_swarm_engine_message (&response, message, sizeof message);
        rfk_swarm_fail (self, "Docker engine: logs of %s: %s (HTTP %ld)", name, message,
                        response.status);
        rfk_swarm_response_free (&response);
        return NULL;
    }
    size_t length = s_demultiplex (response.body, response.length);
    char *text = rfk_launcher_last_lines (response.body, length, max_lines);
    rfk_swarm_response_free (&response);
    if (!text)
        rfk_swarm_fail (self, "out of memory");
    return text;
}

//  Keep a finished service's Docker log in <data_dir>/logs/<id>.log (as the local backend
//  does) before its Docker service is removed.
static void
s_save_logs (rfk_swarm_t *self, rfk_swarm_service_t *service)
{
    char *text = rfk_swarm_docker_logs (self, service->name, RFK_SWARM_SAVED_LINES);
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
        rfk_log_warning (RFK_SWARM_LOG, "swarm-logs-not-saved id=%s path=%s error=\"%s\"",
                         service->id, path, strerror (errno));
    free (text);
}

//  A service reached STOPPED or ERRORED: save its logs, remove its Docker service and secret.
void
rfk_swarm_retire (rfk_swarm_t *self, rfk_swarm_service_t *service)
{
    if (!service->docker_id[0])
        return;
    s_save_logs (self, service);
    if (rfk_swarm_remove (self, "services", service->name))
        rfk_log_warning (RFK_SWARM_LOG, "swarm-remove-failed id=%s error=\"%s\"", service->id,
                         self->error);
    service->docker_id[0] = '\0';
    service->secret_left = rfk_swarm_remove (self, "secrets", service->name) != 0;
}
