/*  rfk_launcher_swarm_follow.c: how the swarm backend follows its services. Nothing runs in
    the background: each poll lists the Docker services labelled ours and the tasks of every
    live service (one GET /tasks filtered by the services' IDs), and turns what the tasks say
    into launcher states (RUNNING, RESTARTING, STOPPED, ERRORED), retiring finished services.
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

bool
rfk_swarm_live (const rfk_swarm_service_t *service)
{
    return rfk_launcher_state_live (service->state);
}

//  Report a state change (and keep the reason for status).
void
rfk_swarm_set_state (rfk_swarm_t *self, rfk_swarm_service_t *service, rfk_launcher_state_t state,
                     const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (service->reason, sizeof service->reason, format, args);
    va_end (args);
    service->state = state;
    rfk_log_info (RFK_SWARM_LOG, "swarm-service id=%s docker=%s state=%s reason=\"%s\"",
                  service->id, service->name, rfk_launcher_state_name (state), service->reason);
    if (self->launcher)
        rfk_launcher_emit (self->launcher, service->id, state, service->reason);
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
s_count_failure (rfk_swarm_service_t *service, const char *task_id)
{
    for (int i = 0; i < service->n_failed; i++)
        if (!strncmp (service->failed[i], task_id, sizeof service->failed[i] - 1))
            return false;
    if (service->n_failed < RFK_SWARM_FAILED_MAX)
        snprintf (service->failed[service->n_failed++], sizeof service->failed[0], "%s", task_id);
    return true;
}

//  What a service's tasks say, summed over them.
typedef struct {
    bool running;      //  a task runs and should
    bool pending;      //  a task is on its way to running
    bool completed;    //  a task completed (exit 0)
    bool any_active;   //  a task is not over yet
    int new_failures;  //  failed or rejected tasks not counted before
    int failure_code;  //  exit code of the last new failure, -1 if none
    char failure[200]; //  the engine's words for the last new failure
    char waiting[200]; //  what an active task waits for
} s_tasks_seen_t;

//  Add one task (a JSON task object) to what the tasks say; a new failure is counted on the
//  service.
static void
s_see_task (s_tasks_seen_t *seen, rfk_swarm_service_t *service, json_t *task)
{
    const char *task_id = json_string_value (json_object_get (task, "ID"));
    const char *desired = json_string_value (json_object_get (task, "DesiredState"));
    json_t *status = json_object_get (task, "Status");
    const char *state = json_string_value (json_object_get (status, "State"));
    if (!task_id || !desired || !state)
        return;
    const char *err = json_string_value (json_object_get (status, "Err"));
    const char *message = json_string_value (json_object_get (status, "Message"));
    json_t *code = json_object_get (json_object_get (status, "ContainerStatus"), "ExitCode");
    bool over = s_task_over (state);
    if (!over)
        seen->any_active = true;
    if (!strcmp (state, "running") && !strcmp (desired, "running"))
        seen->running = true;
    else if (!over && (!strcmp (desired, "running") || !strcmp (desired, "ready")))
        seen->pending = true;
    if (!over && err && *err)
        snprintf (seen->waiting, sizeof seen->waiting, "task %s: %s", state, err);
    else if (!over && !*seen->waiting && message)
        snprintf (seen->waiting, sizeof seen->waiting, "task %s: %s", state, message);
    if (!strcmp (state, "complete")) {
        seen->completed = true;
        service->exit_code = 0;
    }
    if ((!strcmp (state, "failed") || !strcmp (state, "rejected")) &&
        s_count_failure (service, task_id)) {
        seen->new_failures++;
        seen->failure_code = json_is_integer (code) ? (int)json_integer_value (code) : -1;
        //  The engine's words: "task: non-zero exit (137)", "No such image: ...".
        const char *why = err && *err ? err : message ? message : "no reason given";
        if (!strcmp (state, "rejected"))
            snprintf (seen->failure, sizeof seen->failure, "task rejected: %s", why);
        else
            snprintf (seen->failure, sizeof seen->failure, "%s", why);
    }
}

//  Turn a service's tasks (a JSON array of task objects) into its state.
static void
s_follow (rfk_swarm_t *self, rfk_swarm_service_t *service, json_t *tasks, int64_t now)
{
    s_tasks_seen_t seen = {.failure_code = -1};
    size_t index;
    json_t *task;
    json_array_foreach (tasks, index, task)
    {
        s_see_task (&seen, service, task);
    }
    if (service->state == RFK_LAUNCHER_STOPPING) {
        if (!seen.any_active || now >= service->stop_deadline) {
            rfk_swarm_set_state (self, service, RFK_LAUNCHER_STOPPED,
                                 seen.any_active
                                     ? "stopped (its task outlived the grace period; removed)"
                                     : "stopped");
            rfk_swarm_retire (self, service);
        }
        return;
    }
    if (seen.new_failures) {
        //  A run longer than stable_ms does not count against the limit (swarm's window).
        if (service->running_since && now - service->running_since >= self->config.stable_ms)
            service->restarts = 0;
        service->restarts += seen.new_failures;
        service->running_since = 0;
        service->exit_code = seen.failure_code;
    }
    if (seen.running) {
        if (!service->running_since)
            service->running_since = now;
        if (service->state != RFK_LAUNCHER_RUNNING)
            rfk_swarm_set_state (self, service, RFK_LAUNCHER_RUNNING,
                                 "task seen.running again (restart %d)", service->restarts);
        else if (service->reason[0] && !seen.new_failures)
            service->reason[0] = '\0';
        return;
    }
    if (service->restarts > self->config.max_restarts) {
        rfk_swarm_set_state (self, service, RFK_LAUNCHER_ERRORED, "%s; gave up after %d restart%s",
                             *seen.failure ? seen.failure : service->reason,
                             self->config.max_restarts, self->config.max_restarts == 1 ? "" : "s");
        rfk_swarm_retire (self, service);
        return;
    }
    if (seen.new_failures) {
        rfk_swarm_set_state (self, service, RFK_LAUNCHER_RESTARTING,
                             "%s; swarm restarts it (restart %d of %d)", seen.failure,
                             service->restarts, self->config.max_restarts);
        return;
    }
    if (seen.completed && !seen.pending && !seen.any_active) {
        rfk_swarm_set_state (self, service, RFK_LAUNCHER_STOPPED, "exited with code 0");
        rfk_swarm_retire (self, service);
        return;
    }
    if (*seen.waiting)
        snprintf (service->reason, sizeof service->reason, "%s", seen.waiting);
}

//  One poll: the Docker services labelled ours and the tasks of every live service.
void
rfk_swarm_poll (rfk_swarm_t *self, int64_t now)
{
    json_t *names = json_array ();
    for (size_t i = 0; i < self->count; i++)
        if (rfk_swarm_live (self->services[i]) && self->services[i]->docker_id[0])
            json_array_append_new (names, json_string (self->services[i]->docker_id));
    if (json_array_size (names) == 0) {
        json_decref (names);
        return;
    }
    json_t *services = rfk_swarm_list_ours (self);
    json_t *filters = json_pack ("{s:o}", "service", names);
    char *tasks_path = malloc (65536);
    json_t *tasks = NULL;
    if (services && tasks_path &&
        !rfk_swarm_filtered_path (self, "/tasks", filters, tasks_path, 65536))
        tasks = rfk_swarm_call_json (self, "GET", tasks_path, NULL, NULL);
    free (tasks_path);
    json_decref (filters);
    if (!services || !tasks) {
        //  The engine is away: say so in the services' reasons, keep their states.
        rfk_log_warning (RFK_SWARM_LOG, "swarm-poll-failed error=\"%s\"", self->error);
        for (size_t i = 0; i < self->count; i++)
            if (rfk_swarm_live (self->services[i]))
                snprintf (self->services[i]->reason, sizeof self->services[i]->reason,
                          "cannot follow it: %.230s", self->error);
        json_decref (services);
        json_decref (tasks);
        return;
    }
    for (size_t i = 0; i < self->count; i++) {
        rfk_swarm_service_t *service = self->services[i];
        if (!rfk_swarm_live (service) || !service->docker_id[0])
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
            rfk_swarm_remove (self, "secrets", service->name);
            if (service->state == RFK_LAUNCHER_STOPPING)
                rfk_swarm_set_state (self, service, RFK_LAUNCHER_STOPPED, "stopped");
            else
                rfk_swarm_set_state (self, service, RFK_LAUNCHER_ERRORED,
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
