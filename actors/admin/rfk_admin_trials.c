/*  rfk_admin_trials.c: one trial's requests: GetTrial, GetTrialLogs (its
    plots, metrics and messages) and GetTrialParameters (the saved
    parameters as a file). A trial is read only by whoever may read its
    train job. ListTrials, a train job's trials, is in rfk_admin_jobs.c.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <string.h>

/* A trial the caller may read, with its train job. */
static rfk_trial_t *
s_trial_of (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller,
            rfk_train_job_t **job_p, rfk_msg_t **error)
{
    const char *id = rfk_admin_require (req, "id", error);
    if (!id)
        return NULL;
    rfk_trial_t *trial = rfk_store_get_trial (self->store, id);
    if (!trial) {
        *error = rfk_store_code (self->store) == RFK_CODE_UNAVAILABLE
                     ? rfk_admin_store_error (self, req, "reading the trial")
                     : rfk_admin_error (req, RFK_CODE_NOT_FOUND, "no trial %s", id);
        return NULL;
    }
    rfk_train_job_t *job =
        trial->train_job_id ? rfk_store_get_train_job (self->store, trial->train_job_id) : NULL;
    if (!job)
        *error = rfk_admin_store_error (self, req, "reading the trial's train job");
    else if (rfk_auth_can_access (caller->user_id, caller->user_type, job->user_id) != 0)
        *error = rfk_admin_error (req, RFK_CODE_FORBIDDEN, "trial %s is not yours", id);
    if (*error) {
        rfk_trial_destroy (&trial);
        rfk_train_job_destroy (&job);
        return NULL;
    }
    *job_p = job;
    return trial;
}

/* What answers a request about one trial the caller may read. */
typedef rfk_msg_t *(s_trial_fn)(rfk_admin_t *self, const rfk_msg_t *req, const rfk_trial_t *trial,
                                const rfk_train_job_t *job);

/* Answer a request about the trial of field `id` with fn (or an Error when
   there is no such trial, or it is not the caller's). */
static rfk_msg_t *
s_on_trial (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller,
            s_trial_fn *fn)
{
    rfk_msg_t *error = NULL;
    rfk_train_job_t *job = NULL;
    rfk_trial_t *trial = s_trial_of (self, req, caller, &job, &error);
    if (!trial)
        return error;
    rfk_msg_t *reply = fn (self, req, trial, job);
    rfk_trial_destroy (&trial);
    rfk_train_job_destroy (&job);
    return reply;
}

static rfk_msg_t *
s_trial_reply (rfk_admin_t *self, const rfk_msg_t *req, const rfk_trial_t *trial,
               const rfk_train_job_t *job)
{
    return rfk_admin_reply_with (req, "Trial", rfk_admin_trial_json (self, trial, job));
}

rfk_msg_t *
rfk_admin_on_get_trial (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller)
{
    return s_on_trial (self, req, caller, s_trial_reply);
}

/* A PLOT log's definition: title, metrics, x_axis. */
static json_t *
s_plot_json (const json_t *data)
{
    json_t *plot = json_object ();
    json_t *title = json_object_get (data, "title");
    json_t *names = json_object_get (data, "metrics");
    json_t *x_axis = json_object_get (data, "x_axis");
    if (json_is_string (title))
        json_object_set (plot, "title", title);
    if (json_is_array (names))
        json_object_set (plot, "metrics", names);
    if (json_is_string (x_axis))
        json_object_set (plot, "x_axis", x_axis);
    return plot;
}

/* Sort one log line into plots, metrics or messages. */
static void
s_add_log (const rfk_trial_log_t *log, json_t *plots, json_t *metrics, json_t *messages)
{
    const char *type = log->type ? log->type : "MESSAGE";
    if (streq (type, "PLOT") && json_is_object (log->data))
        json_array_append_new (plots, s_plot_json (log->data));
    else if (streq (type, "METRICS") && json_is_object (log->data)) {
        json_t *entry = json_deep_copy (log->data);
        if (log->datetime)
            json_object_set_new (entry, "time", json_string (log->datetime));
        json_array_append_new (metrics, entry);
    } else {
        json_t *entry = json_object ();
        if (log->datetime)
            json_object_set_new (entry, "time", json_string (log->datetime));
        json_object_set_new (entry, "message", json_string (log->message ? log->message : ""));
        json_array_append_new (messages, entry);
    }
}

static rfk_msg_t *
s_trial_logs (rfk_admin_t *self, const rfk_msg_t *req, const rfk_trial_t *trial,
              const rfk_train_job_t *job)
{
    (void)job;
    zlistx_t *logs = rfk_store_list_trial_logs (self->store, trial->id, NULL);
    if (!logs)
        return rfk_admin_store_error (self, req, "reading the trial's logs");
    json_t *plots = json_array (), *metrics = json_array (), *messages = json_array ();
    for (rfk_trial_log_t *log = (rfk_trial_log_t *)zlistx_first (logs); log;
         log = (rfk_trial_log_t *)zlistx_next (logs))
        s_add_log (log, plots, metrics, messages);
    rfk_msg_t *reply = rfk_admin_reply (req, "TrialLogs");
    json_object_set_new (reply->body, "plots", plots);
    json_object_set_new (reply->body, "metrics", metrics);
    json_object_set_new (reply->body, "messages", messages);
    zlistx_destroy (&logs);
    return reply;
}

rfk_msg_t *
rfk_admin_on_get_trial_logs (rfk_admin_t *self, const rfk_msg_t *req,
                             const rfk_auth_claims_t *caller)
{
    return s_on_trial (self, req, caller, s_trial_logs);
}

/* The absolute path of a trial's parameters, only inside params/. */
static char *
s_params_path (rfk_admin_t *self, const char *store_params_id)
{
    if (!store_params_id || !*store_params_id || strstr (store_params_id, ".."))
        return NULL;
    if (store_params_id[0] == '/') {
        size_t length = strlen (self->params_dir);
        if (strncmp (store_params_id, self->params_dir, length) != 0 ||
            store_params_id[length] != '/')
            return NULL;
        return strdup (store_params_id);
    }
    return zsys_sprintf ("%s/%s", self->params_dir, store_params_id);
}

static rfk_msg_t *
s_trial_parameters (rfk_admin_t *self, const rfk_msg_t *req, const rfk_trial_t *trial,
                    const rfk_train_job_t *job)
{
    (void)job;
    char *path = s_params_path (self, trial->store_params_id);
    if (!path)
        return rfk_admin_error (req, RFK_CODE_NOT_FOUND, "trial %s has no saved parameters",
                                trial->id);
    char name[128];
    snprintf (name, sizeof name, "%s.params", trial->id);
    rfk_msg_t *reply = rfk_admin_file_reply (self, req, self->params_dir, path, name);
    free (path);
    return reply;
}

rfk_msg_t *
rfk_admin_on_get_trial_parameters (rfk_admin_t *self, const rfk_msg_t *req,
                                   const rfk_auth_claims_t *caller)
{
    return s_on_trial (self, req, caller, s_trial_parameters);
}
