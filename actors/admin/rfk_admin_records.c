/*  rfk_admin_records.c: store records as the JSON bodies of admin.proto's
    reply messages (User, Dataset, Model, TrainJob, Trial, InferenceJob).

    Unset fields are left out (proto2 presence), never sent as null. Secrets
    (password hashes, service secret hashes) never leave the store.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>

/* Set the string fields given as key, value pairs up to a NULL key; a
   NULL value is left out. */
static void
s_set_strs (json_t *object, const char *key, ...) __attribute__ ((sentinel));

static void
s_set_strs (json_t *object, const char *key, ...)
{
    va_list args;
    va_start (args, key);
    for (; key; key = va_arg (args, const char *)) {
        const char *value = va_arg (args, const char *);
        if (value)
            json_object_set_new (object, key, json_string (value));
    }
    va_end (args);
}

static void
s_set_str (json_t *object, const char *key, const char *value)
{
    s_set_strs (object, key, value, NULL);
}

/* Set model_name to the name of model_id's model, when there is one. */
static void
s_set_model_name (rfk_admin_t *self, json_t *object, const char *model_id)
{
    rfk_model_t *model = model_id ? rfk_store_get_model (self->store, model_id) : NULL;
    if (model)
        s_set_str (object, "model_name", model->name);
    rfk_model_destroy (&model);
}

static void
s_set_json (json_t *object, const char *key, json_t *value)
{
    if (json_is_object (value))
        json_object_set (object, key, value);
}

json_t *
rfk_admin_user_json (const rfk_user_t *user)
{
    json_t *body = json_object ();
    s_set_strs (body, "id", user->id, "email", user->email, "user_type", user->user_type, NULL);
    json_object_set_new (body, "banned", json_boolean (user->banned_date != NULL));
    s_set_str (body, "datetime_created", user->datetime_created);
    return body;
}

json_t *
rfk_admin_dataset_json (const rfk_dataset_t *dataset)
{
    json_t *body = json_object ();
    s_set_strs (body, "id", dataset->id, "name", dataset->name, "task", dataset->task, NULL);
    json_object_set_new (body, "size_bytes",
                         json_integer (dataset->size_bytes > 0 ? dataset->size_bytes : 0));
    s_set_strs (body, "owner_id", dataset->owner_id, "datetime_created", dataset->datetime_created,
                NULL);
    return body;
}

json_t *
rfk_admin_model_json (rfk_admin_t *self, const rfk_model_t *model)
{
    json_t *body = json_object ();
    s_set_strs (body, "id", model->id, "user_id", model->user_id, "name", model->name, "task",
                model->task, "model_class", model->model_class, NULL);
    s_set_json (body, "dependencies", model->dependencies);
    s_set_strs (body, "docker_image", model->docker_image, "access_right", model->access_right,
                "datetime_created", model->datetime_created, NULL);
    //  The knob table its check reported; absent for a model uploaded
    //  before admin kept it.
    if (json_is_array (model->knobs))
        json_object_set (body, "knobs", model->knobs);
    char *path = rfk_admin_model_path (self, model);
    struct stat info;
    if (path && stat (path, &info) == 0)
        json_object_set_new (body, "size_bytes", json_integer ((json_int_t)info.st_size));
    free (path);
    return body;
}

json_t *
rfk_admin_train_job_json (rfk_admin_t *self, const rfk_train_job_t *job)
{
    json_t *body = json_object ();
    s_set_strs (body, "id", job->id, "app", job->app, NULL);
    json_object_set_new (body, "app_version", json_integer (job->app_version));
    s_set_strs (body, "task", job->task, "user_id", job->user_id, "train_dataset_id",
                job->train_dataset_id, "val_dataset_id", job->val_dataset_id, NULL);
    s_set_json (body, "budget", job->budget);
    s_set_json (body, "train_args", job->train_args);
    s_set_str (body, "status", rfk_job_status_name (job->status));
    s_set_strs (body, "datetime_started", job->datetime_started, "datetime_stopped",
                job->datetime_stopped, NULL);
    json_t *subs = json_array ();
    for (size_t index = 0; index < job->sub_train_job_count; index++) {
        const rfk_sub_train_job_t *sub = &job->sub_train_jobs[index];
        json_t *entry = json_object ();
        s_set_strs (entry, "id", sub->id, "train_job_id", job->id, "model_id", sub->model_id, NULL);
        s_set_model_name (self, entry, sub->model_id);
        s_set_str (entry, "status", rfk_job_status_name (sub->status));
        s_set_strs (entry, "datetime_started", sub->datetime_started, "datetime_stopped",
                    sub->datetime_stopped, NULL);
        json_array_append_new (subs, entry);
    }
    json_object_set_new (body, "sub_train_jobs", subs);
    return body;
}

/* The trial's proposal as the original Rafiki shows it: an object with at
   least knobs and trial_no (the advisor's own proposal when it was kept). */
static json_t *
s_trial_proposal (const rfk_trial_t *trial)
{
    json_t *proposal =
        json_is_object (trial->proposal) ? json_deep_copy (trial->proposal) : json_object ();
    if (!json_object_get (proposal, "knobs"))
        json_object_set_new (proposal, "knobs",
                             trial->knobs ? json_deep_copy (trial->knobs) : json_object ());
    if (!json_object_get (proposal, "trial_no"))
        json_object_set_new (proposal, "trial_no", json_integer (trial->no > 0 ? trial->no : 0));
    return proposal;
}

json_t *
rfk_admin_trial_json (rfk_admin_t *self, const rfk_trial_t *trial, const rfk_train_job_t *job)
{
    json_t *body = json_object ();
    s_set_strs (body, "id", trial->id, "sub_train_job_id", trial->sub_train_job_id, NULL);
    json_object_set_new (body, "trial_no", json_integer (trial->no > 0 ? trial->no : 0));
    json_object_set_new (body, "no", json_integer (trial->no > 0 ? trial->no : 0));
    json_object_set_new (body, "proposal", s_trial_proposal (trial));
    s_set_str (body, "model_id", trial->model_id);
    s_set_model_name (self, body, trial->model_id);
    s_set_str (body, "status", rfk_trial_status_name (trial->status));
    if (isfinite (trial->score))
        json_object_set_new (body, "score", json_real (trial->score));
    s_set_json (body, "knobs", trial->knobs);
    s_set_str (body, "worker_id", trial->worker_id);
    json_object_set_new (body, "has_params", json_boolean (trial->store_params_id != NULL));
    json_object_set_new (body, "is_params_saved", json_boolean (trial->store_params_id != NULL));
    const char *error = json_string_value (json_object_get (trial->progress, "error"));
    s_set_strs (body, "error", error, "datetime_started", trial->datetime_started,
                "datetime_stopped", trial->datetime_stopped, NULL);
    if (job) {
        s_set_str (body, "app", job->app);
        json_object_set_new (body, "app_version", json_integer (job->app_version));
    }
    return body;
}

json_t *
rfk_admin_inference_job_json (rfk_admin_t *self, const rfk_inference_job_t *job)
{
    json_t *body = json_object ();
    s_set_strs (body, "id", job->id, "train_job_id", job->train_job_id, NULL);
    rfk_train_job_t *train =
        job->train_job_id ? rfk_store_get_train_job (self->store, job->train_job_id) : NULL;
    if (train) {
        s_set_str (body, "app", train->app);
        json_object_set_new (body, "app_version", json_integer (train->app_version));
    }
    rfk_train_job_destroy (&train);
    s_set_str (body, "user_id", job->user_id);
    s_set_str (body, "status", rfk_job_status_name (job->status));
    rfk_service_t *predictor = job->predictor_service_id
                                   ? rfk_store_get_service (self->store, job->predictor_service_id)
                                   : NULL;
    if (predictor && predictor->ext_hostname && predictor->ext_port > 0) {
        char host[300];
        snprintf (host, sizeof host, "%s:%lld", predictor->ext_hostname,
                  (long long)predictor->ext_port);
        s_set_str (body, "predictor_host", host);
    }
    //  Where the SDK sends PredictRequests (the predictor's ROUTER `query`).
    if (predictor)
        s_set_str (body, "query_endpoint",
                   json_string_value (json_object_get (predictor->service_info, "query_endpoint")));
    //  ... and the key it serves with (clients pin it; absent with bus.curve off).
    char query_key[RFK_CURVE_KEY_LEN + 1];
    if (predictor && rfk_admin_curve_group_public (self, job->id, query_key) == 0)
        s_set_str (body, "query_key", query_key);
    rfk_service_destroy (&predictor);
    s_set_json (body, "budget", job->budget);
    s_set_str (body, "auth", job->auth && *job->auth ? job->auth : "open");
    json_object_set_new (body, "max_trials",
                         json_integer (job->max_trials > 0 ? job->max_trials : 0));
    json_object_set_new (body, "replicas", json_integer (job->replicas > 0 ? job->replicas : 1));
    s_set_strs (body, "datetime_started", job->datetime_started, "datetime_stopped",
                job->datetime_stopped, NULL);
    return body;
}
