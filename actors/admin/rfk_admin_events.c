/*  rfk_admin_events.c: admin's events for the web admin (GET /events on the
    HTTP front), and where the web admin's files are.

    rfk_admin_publish hands every event it publishes on `events` to
    rfk_admin_events_forward as well, in admin's own thread: no SUB socket,
    no decoding, the same order as on the bus. The event goes to the HTTP
    front's streams of the user who owns its job (admins see every event;
    the front checks who a stream is). The owner comes from the store and is
    cached by id, since a job's owner never changes:
    - JobStatus: `id`, a train job (kind TRAIN) or an inference job;
    - TrialUpdate: `job`, its train job (else `trial_id`);
    - LogLine: `trial_id`, through the trial to its train job;
    - ServiceStatus: `job_id`, a train job or an inference job (absent for
      services of no job: admins only).
    Nothing is looked up while no stream is open.

    rfk_admin_web_dir chooses the web admin's folder: admin.web_dir when set,
    else the build's <build>/web/www (RFK_WEB_BUILD_DIR) when this rafikid
    runs from that build tree or nothing is installed, else the installed
    <prefix>/share/rafiki/www (RFK_WEB_INSTALL_DIR); NULL (the front's
    placeholder page) when none has an index.html.
*/
#include "rfk_admin_internal.h"
#include "rfk_http_front.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_OWNERS_MAX 4096 /* cached owners before the cache starts over */

/* The owner (user id) of a train job, an inference job or a trial, or NULL
   when the store has no such record. kind: 't' train job, 'i' inference
   job, 'r' trial. */
static char *
s_lookup (rfk_admin_t *self, char kind, const char *id)
{
    char *owner = NULL;
    if (kind == 't') {
        rfk_train_job_t *job = rfk_store_get_train_job (self->store, id);
        if (job && job->user_id)
            owner = strdup (job->user_id);
        rfk_train_job_destroy (&job);
    } else if (kind == 'i') {
        rfk_inference_job_t *job = rfk_store_get_inference_job (self->store, id);
        if (job && job->user_id)
            owner = strdup (job->user_id);
        rfk_inference_job_destroy (&job);
    } else if (kind == 'r') {
        rfk_trial_t *trial = rfk_store_get_trial (self->store, id);
        if (trial && trial->train_job_id) {
            rfk_train_job_t *job = rfk_store_get_train_job (self->store, trial->train_job_id);
            if (job && job->user_id)
                owner = strdup (job->user_id);
            rfk_train_job_destroy (&job);
        }
        rfk_trial_destroy (&trial);
    }
    return owner;
}

/* The cached owner of kind/id (borrowed), looked up on a miss. */
static const char *
s_owner (rfk_admin_t *self, char kind, const char *id)
{
    if (!id || !*id)
        return NULL;
    if (!self->event_owners) {
        self->event_owners = zhashx_new ();
        if (!self->event_owners)
            return NULL;
        zhashx_set_destructor (self->event_owners, (czmq_destructor *)zstr_free);
    }
    char key[300];
    snprintf (key, sizeof key, "%c:%.280s", kind, id);
    const char *owner = (const char *)zhashx_lookup (self->event_owners, key);
    if (owner)
        return owner;
    char *found = s_lookup (self, kind, id);
    if (!found)
        return NULL; //  not cached: the record may appear later
    if (zhashx_size (self->event_owners) >= S_OWNERS_MAX)
        zhashx_purge (self->event_owners);
    if (zhashx_insert (self->event_owners, key, found) != 0) {
        free (found);
        return NULL;
    }
    return found;
}

static const char *
s_str (const json_t *body, const char *field)
{
    return json_string_value (json_object_get (body, field));
}

const char *
rfk_admin_event_owner (rfk_admin_t *self, const char *type, const json_t *body)
{
    if (!type || !json_is_object (body))
        return NULL;
    const char *owner = NULL;
    if (streq (type, "JobStatus")) {
        const char *kind = s_str (body, "kind");
        owner = s_owner (self, kind && streq (kind, "INFERENCE") ? 'i' : 't', s_str (body, "id"));
    } else if (streq (type, "TrialUpdate")) {
        owner = s_owner (self, 't', s_str (body, "job"));
        if (!owner)
            owner = s_owner (self, 'r', s_str (body, "trial_id"));
    } else if (streq (type, "LogLine"))
        owner = s_owner (self, 'r', s_str (body, "trial_id"));
    else if (streq (type, "ServiceStatus")) {
        owner = s_owner (self, 't', s_str (body, "job_id"));
        if (!owner)
            owner = s_owner (self, 'i', s_str (body, "job_id"));
    }
    return owner;
}

void
rfk_admin_events_forward (rfk_admin_t *self, const char *owner, const char *type,
                          const json_t *body)
{
    rfk_http_front_t *front = self->http;
    if (!front || !type || !json_is_object (body) || rfk_http_front_event_streams (front) == 0)
        return;
    char *data = json_dumps (body, JSON_COMPACT | JSON_REAL_PRECISION (15));
    if (!data)
        return;
    rfk_http_front_event (front, owner, type, data);
    free (data);
}

/* True when dir holds an index.html. */
static bool
s_is_site (const char *dir)
{
    if (!dir || !*dir)
        return false;
    char path[PATH_MAX];
    struct stat st;
    if (snprintf (path, sizeof path, "%s/index.html", dir) >= (int)sizeof path)
        return false;
    return stat (path, &st) == 0 && S_ISREG (st.st_mode);
}

/* True when this executable lies under the build tree it was built in. */
static bool
s_runs_from_build (void)
{
#ifdef RFK_BUILD_ROOT
    char exe[PATH_MAX], root[PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0 || !realpath (RFK_BUILD_ROOT, root))
        return false;
    exe[n] = 0;
    size_t len = strlen (root);
    return strncmp (exe, root, len) == 0 && exe[len] == '/';
#else
    return false;
#endif
}

char *
rfk_admin_web_dir (const rfk_config_t *config)
{
    const char *configured = rfk_config_string (config, "admin", "web_dir");
    if (configured && *configured) {
        if (s_is_site (configured))
            return strdup (configured);
        rfk_log_warning (RFK_ADMIN_LOG,
                         "admin.web_dir %s has no index.html: serving a placeholder page at /",
                         configured);
        return NULL;
    }
    const char *build = NULL, *installed = NULL;
#ifdef RFK_WEB_BUILD_DIR
    build = RFK_WEB_BUILD_DIR;
#endif
#ifdef RFK_WEB_INSTALL_DIR
    installed = RFK_WEB_INSTALL_DIR;
#endif
    const char *order[2] = {installed, build};
    if (s_runs_from_build ()) {
        order[0] = build;
        order[1] = installed;
    }
    for (int i = 0; i < 2; i++)
        if (s_is_site (order[i]))
            return strdup (order[i]);
    rfk_log_info (RFK_ADMIN_LOG, "no web admin is built (%s, %s): serving a placeholder page at /",
                  build ? build : "no build folder", installed ? installed : "no install folder");
    return NULL;
}
