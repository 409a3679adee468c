/*  rfk_launcher_swarm_nodes.c: what the swarm backend tells admin about the swarm's nodes: the
    most GPUs one node offers (admin refuses a job asking more at creation), and the address
    of the node a service's task runs on (a predictor's predictor_host). See
    rfk_launcher_swarm.h.
*/
#define _GNU_SOURCE
#include "rfk_launcher_swarm_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The GPUs a node advertises: its generic resources of the kind, a discrete count or named
//  resources (one per GPU id).
static int
s_node_gpus (const json_t *node, const char *kind)
{
    json_t *resources = json_object_get (
        json_object_get (json_object_get (node, "Description"), "Resources"), "GenericResources");
    int gpus = 0;
    size_t index;
    json_t *item;
    json_array_foreach (resources, index, item)
    {
        json_t *discrete = json_object_get (item, "DiscreteResourceSpec");
        json_t *named = json_object_get (item, "NamedResourceSpec");
        const char *its = json_string_value (json_object_get (discrete ? discrete : named, "Kind"));
        if (!its || strcmp (its, kind))
            continue;
        if (discrete)
            gpus += (int)json_integer_value (json_object_get (discrete, "Value"));
        else
            gpus++;
    }
    return gpus;
}

int
rfk_launcher_swarm_max_gpus (rfk_launcher_t *launcher, int *gpus, char *error, size_t size)
{
    rfk_swarm_t *self = rfk_swarm_of (launcher);
    *gpus = 0;
    if (!self) {
        snprintf (error, size, "not a swarm launcher");
        return -1;
    }
    if (!self->gpu_resource || !*self->gpu_resource)
        return 0;
    json_t *nodes = rfk_swarm_call_json (self, "GET", "/nodes", NULL, NULL);
    if (!nodes) {
        snprintf (error, size, "cannot list the swarm's nodes: %s", self->error);
        return -1;
    }
    size_t index;
    json_t *node;
    json_array_foreach (nodes, index, node)
    {
        const char *state =
            json_string_value (json_object_get (json_object_get (node, "Status"), "State"));
        const char *availability =
            json_string_value (json_object_get (json_object_get (node, "Spec"), "Availability"));
        if (!state || strcmp (state, "ready") || !availability || strcmp (availability, "active"))
            continue;
        int its = s_node_gpus (node, self->gpu_resource);
        if (its > *gpus)
            *gpus = its;
    }
    json_decref (nodes);
    return 0;
}

//  The node id of a service's running task (the newest one), or NULL. The caller frees it.
//  A task still "starting" counts: its process may report before the engine says running.
static char *
s_running_node (rfk_swarm_t *self, const char *name)
{
    json_t *filters = json_pack ("{s:[s], s:[s]}", "service", name, "desired-state", "running");
    char path[1024];
    int rc = rfk_swarm_filtered_path (self, "/tasks", filters, path, sizeof path);
    json_decref (filters);
    json_t *tasks = rc == 0 ? rfk_swarm_call_json (self, "GET", path, NULL, NULL) : NULL;
    const char *node = NULL, *newest = "";
    size_t index;
    json_t *task;
    json_array_foreach (tasks, index, task)
    {
        const char *state =
            json_string_value (json_object_get (json_object_get (task, "Status"), "State"));
        const char *updated = json_string_value (json_object_get (task, "UpdatedAt"));
        const char *its = json_string_value (json_object_get (task, "NodeID"));
        bool up = state && (!strcmp (state, "running") || !strcmp (state, "starting"));
        if (its && up && updated && strcmp (updated, newest) > 0) {
            node = its;
            newest = updated;
        }
    }
    char *copy = node ? strdup (node) : NULL;
    json_decref (tasks);
    return copy;
}

int
rfk_launcher_swarm_node_addr (rfk_launcher_t *launcher, const char *service_id, char *addr,
                              size_t size)
{
    rfk_swarm_t *self = rfk_swarm_of (launcher);
    char name[RFK_SWARM_NAME_MAX + 1];
    if (!self || rfk_launcher_swarm_service_name (self->name_prefix, service_id, name, sizeof name))
        return -1;
    char *node_id = s_running_node (self, name);
    if (!node_id)
        return -1;
    char path[256];
    snprintf (path, sizeof path, "/nodes/%s", node_id);
    free (node_id);
    json_t *node = rfk_swarm_call_json (self, "GET", path, NULL, NULL);
    const char *status_addr =
        json_string_value (json_object_get (json_object_get (node, "Status"), "Addr"));
    //  A manager that listens on every interface may report 0.0.0.0 here: its manager
    //  address (HOST:2377) names it then.
    const char *manager_addr =
        json_string_value (json_object_get (json_object_get (node, "ManagerStatus"), "Addr"));
    int rc = -1;
    if (status_addr && *status_addr && strcmp (status_addr, "0.0.0.0")) {
        snprintf (addr, size, "%s", status_addr);
        rc = 0;
    } else if (manager_addr && *manager_addr) {
        const char *colon = strrchr (manager_addr, ':');
        int length = colon ? (int)(colon - manager_addr) : (int)strlen (manager_addr);
        snprintf (addr, size, "%.*s", length, manager_addr);
        rc = 0;
    }
    json_decref (node);
    return rc;
}
