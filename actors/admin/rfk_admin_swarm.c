/*  rfk_admin_swarm.c: admin with the swarm launcher (launcher.backend swarm,
    DESIGN.md §5, deploy/README.md).

    What changes when services are Docker Swarm services instead of children
    of admin, and only that:
    - the launcher: rfk_launcher_new_swarm from the swarm section, adopting
      the services the store still holds as live (rfk_admin_recover tracks
      them instead of failing them); the launcher's events during its own
      creation (adopted, vanished) are held and replayed once admin's sockets
      are up. An adopted service must say Hello again within three
      heartbeat timeouts, as under the local launcher (rfk_admin_recover.c);
    - endpoints: every service is its own host on the overlay network, so a
      service binds tcp://0.0.0.0:<port> and its peers connect to
      tcp://<Docker service name>:<port> (rfk_launcher_swarm_service_name);
      services reach admin at swarm.admin_host (the launcher sets
      RAFIKI_ADMIN_HOST and RAFIKI_ADMIN_SERVICE_PORT);
    - the spec: the model's docker_image, the predictor's HTTP port published
      in host mode.
    Paths in ServiceConfig are admin's, so admin must see the shared data
    directory where the services do (swarm.data_target), as deploy/swarm-up
    arranges.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <string.h>

#include "rfk_launcher_swarm.h"

/* A launcher event reported before self->launcher was set. */
typedef struct s_held_event s_held_event_t;

/* What admin keeps under swarm. */
struct rfk_admin_swarm {
    zlistx_t *held; /* s_held_event_t reported during the launcher's creation */
};

struct s_held_event {
    char *service_id;
    rfk_launcher_state_t state;
    char *reason;
};

static void
s_held_event_destroy (s_held_event_t **self_p)
{
    s_held_event_t *self = *self_p;
    if (!self)
        return;
    free (self->service_id);
    free (self->reason);
    free (self);
    *self_p = NULL;
}

/* The swarm launcher's callback: held while the launcher is being created
   (its owner's state is not complete yet), forwarded afterwards. */
static void
s_on_event (void *arg, const char *service_id, rfk_launcher_state_t state, const char *reason)
{
    rfk_admin_t *self = (rfk_admin_t *)arg;
    if (self->launcher) {
        rfk_admin_on_launcher_event (self, service_id, state, reason);
        return;
    }
    s_held_event_t *event = (s_held_event_t *)calloc (1, sizeof *event);
    if (!event)
        return;
    event->service_id = strdup (service_id);
    event->state = state;
    event->reason = strdup (reason ? reason : "");
    if (!event->service_id || !event->reason || !self->swarm_state)
        s_held_event_destroy (&event);
    else
        zlistx_add_end (self->swarm_state->held, event);
}

int
rfk_admin_swarm_launcher_new (rfk_admin_t *self, char *err, size_t errlen)
{
    rfk_launcher_swarm_config_t swarm;
    rfk_launcher_swarm_config_from (&swarm, self->config);
    swarm.data_dir = self->data_dir;
    //  As the local launcher's: SIGKILL comes within half of admin's stop time.
    int64_t stop_ms = rfk_config_int (self->config, "", "stop_timeout_ms");
    if (swarm.grace_ms > stop_ms / 2)
        swarm.grace_ms = (int)(stop_ms / 2);
    if (swarm.admin_service_port <= 0) {
        snprintf (err, errlen,
                  "launcher.backend swarm needs a fixed admin.service_port (services are told "
                  "it before admin binds)");
        return -1;
    }
    if (!swarm.data_target || !streq (swarm.data_target, self->data_dir)) {
        snprintf (err, errlen,
                  "launcher.backend swarm: swarm.data_target (%s) must be where admin sees the "
                  "data directory (%s): services are given admin's paths",
                  swarm.data_target ? swarm.data_target : "", self->data_dir);
        return -1;
    }
    //  Adopt the services the store still holds as live (rfk_admin_recover
    //  tracked them).
    size_t count = zhashx_size (self->services);
    const char **adopt = (const char **)calloc (count + 1, sizeof (char *));
    if (!adopt) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    size_t at = 0;
    for (rfk_admin_service_t *service = (rfk_admin_service_t *)zhashx_first (self->services);
         service && at < count; service = (rfk_admin_service_t *)zhashx_next (self->services))
        adopt[at++] = service->id;
    swarm.adopt = adopt;
    self->swarm_state = (struct rfk_admin_swarm *)calloc (1, sizeof *self->swarm_state);
    if (!self->swarm_state) {
        free (adopt);
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    self->swarm_state->held = zlistx_new ();
    zlistx_set_destructor (self->swarm_state->held, (czmq_destructor *)s_held_event_destroy);
    char launcher_err[512] = "";
    self->launcher =
        rfk_launcher_new_swarm (&swarm, s_on_event, self, launcher_err, sizeof launcher_err);
    free (adopt);
    if (!self->launcher) {
        snprintf (err, errlen, "cannot set up the swarm launcher: %s", launcher_err);
        return -1;
    }
    rfk_log_info (RFK_ADMIN_LOG,
                  "launcher backend=swarm image=%s network=%s admin_host=%s adopted=%zu",
                  swarm.image, swarm.network, swarm.admin_host, at);
    return 0;
}

void
rfk_admin_swarm_replay (rfk_admin_t *self)
{
    if (!self->swarm_state)
        return;
    zlistx_t *held = self->swarm_state->held;
    for (s_held_event_t *event = (s_held_event_t *)zlistx_first (held); event;
         event = (s_held_event_t *)zlistx_next (held))
        rfk_admin_on_launcher_event (self, event->service_id, event->state, event->reason);
    zlistx_purge (held);
}

void
rfk_admin_swarm_destroy (rfk_admin_t *self)
{
    if (!self->swarm_state)
        return;
    zlistx_destroy (&self->swarm_state->held);
    free (self->swarm_state);
    self->swarm_state = NULL;
}

void
rfk_admin_service_endpoint (rfk_admin_t *self, const char *endpoint, const char *service_id,
                            bool bind, char *out, size_t size)
{
    snprintf (out, size, "%s", endpoint ? endpoint : "");
    if (!self->swarm || !endpoint)
        return;
    //  scheme://host:port -> scheme://0.0.0.0:port or scheme://<name>:port
    const char *scheme_end = strstr (endpoint, "://");
    const char *colon = strrchr (endpoint, ':');
    if (!scheme_end || !colon || colon <= scheme_end + 2)
        return;
    rfk_launcher_swarm_config_t defaults;
    rfk_launcher_swarm_config_defaults (&defaults);
    char name[RFK_LAUNCHER_ID_MAX + 64] = "0.0.0.0";
    if (!bind && (!service_id || rfk_launcher_swarm_service_name (defaults.name_prefix, service_id,
                                                                  name, sizeof name) != 0))
        return;
    snprintf (out, size, "%.*s://%s%s", (int)(scheme_end - endpoint), endpoint, name, colon);
}
