/*  rfk_admin_jobs.c: train jobs, their trials' list, inference jobs and
    stop-all (one trial's requests are in rfk_admin_trials.c).

    CreateTrainJob checks everything before anything is written (API.md):
    the app name, a known task, both datasets exist, are the caller's and of
    the task, every model exists, may be used by the caller and is of the
    task, the budget's keys and values, and that the app has no live
    (STARTED or RUNNING) job. It then writes the train job and one sub train
    job per model in one store transaction (app_version counts up per app and
    user), and launches per sub train job one advisor; its N trainers (budget
    TRAINER_COUNT, default 1) start once it reported the endpoint it bound
    (rfk_admin_endpoints.c).

    CreateInferenceJob needs a train job of the app that is no longer
    running (STOPPED, or ERRORED with some models trained) with at least one
    COMPLETED trial with saved parameters: it deploys the best such trial of
    each model, or the `max_trials` best overall, `replicas` workers per
    trial, behind one predictor. The predictor is launched at once, the
    workers once it reported the ports it bound; predictor_host (where its
    HTTP answers) and query_endpoint are known from then on.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <ctype.h>
#include <math.h>
#include <sodium.h>
#include <string.h>

#define S_TRAINERS_MAX 64
#define S_REPLICAS_MAX 16

/* ---- helpers ------------------------------------------------------------- */

/* An app name: 1-64 of letters, digits, '-', '_', '.', not starting with '.' */
static bool
s_app_ok (const char *app)
{
    size_t length = strlen (app);
    if (length == 0 || length > 64 || app[0] == '.')
        return false;
    for (const char *c = app; *c; c++)
        if (!isalnum ((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
            return false;
    return true;
}

/* Check a budget object; 0, or -1 with *error naming the key. */
static int
s_check_budget (const rfk_msg_t *req, json_t *budget, bool train, rfk_msg_t **error)
{
    if (!budget)
        return 0;
    if (!json_is_object (budget)) {
        *error = rfk_admin_error (req, RFK_CODE_BAD_REQUEST, "field `budget` must be an object");
        return -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach (budget, key, value)
    {
        bool integer =
            json_is_integer (value) ||
            (json_is_real (value) && json_real_value (value) == floor (json_real_value (value)));
        double number = json_number_value (value);
        if (streq (key, "MODEL_TRIAL_COUNT") && json_is_number (value) && number == -1) {
            //  The original's "no limit": TIME_HOURS alone decides.
            if (!json_is_number (json_object_get (budget, "TIME_HOURS"))) {
                *error = rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                          "field `budget.MODEL_TRIAL_COUNT` may be -1 (no limit) "
                                          "only with `budget.TIME_HOURS` set, which then ends "
                                          "the job");
                return -1;
            }
        } else if (streq (key, "MODEL_TRIAL_COUNT") || (train && streq (key, "TRAINER_COUNT"))) {
            long max = streq (key, "TRAINER_COUNT") ? S_TRAINERS_MAX : 1000000;
            if (!json_is_number (value) || !integer || number < 1 || number > max) {
                *error = rfk_admin_error (
                    req, RFK_CODE_BAD_REQUEST,
                    "field `budget.%s` must be a whole number from 1 to %ld%s", key, max,
                    streq (key, "MODEL_TRIAL_COUNT") ? " (or -1, no limit, with TIME_HOURS)" : "");
                return -1;
            }
        } else if (streq (key, "TIME_HOURS")) {
            if (!json_is_number (value) || !(number > 0) || number > 24 * 366) {
                *error = rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                          "field `budget.TIME_HOURS` must be a number of hours "
                                          "above 0");
                return -1;
            }
        } else if (streq (key, "GPU_COUNT")) {
            if (!json_is_number (value) || !integer || number < 0 || number > 1024) {
                *error = rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                          "field `budget.GPU_COUNT` must be a whole number >= 0");
                return -1;
            }
        } else {
            *error = rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                      "field `budget`: unknown key `%s` (known: MODEL_TRIAL_COUNT, "
                                      "TIME_HOURS, GPU_COUNT%s)",
                                      key, train ? ", TRAINER_COUNT" : "");
            return -1;
        }
    }
    return 0;
}

/* A dataset named by a field, the caller's and of the task. */
static rfk_dataset_t *
s_job_dataset (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller,
               const char *field, const char *task, rfk_msg_t **error)
{
    const char *id = rfk_admin_require (req, field, error);
    if (!id)
        return NULL;
    rfk_dataset_t *dataset = rfk_store_get_dataset (self->store, id);
    if (!dataset) {
        *error =
            rfk_store_code (self->store) == RFK_CODE_UNAVAILABLE
                ? rfk_admin_store_error (self, req, "reading a dataset")
                : rfk_admin_error (req, RFK_CODE_NOT_FOUND, "field `%s`: no dataset %s", field, id);
        return NULL;
    }
    if (rfk_auth_can_access (caller->user_id, caller->user_type, dataset->owner_id) != 0)
        *error = rfk_admin_error (req, RFK_CODE_FORBIDDEN, "field `%s`: dataset %s is not yours",
                                  field, id);
    else if (!dataset->task || !streq (dataset->task, task))
        *error =
            rfk_admin_error (req, RFK_CODE_BAD_REQUEST, "field `%s`: dataset %s is for %s, not %s",
                             field, id, dataset->task ? dataset->task : "no task", task);
    if (*error)
        rfk_dataset_destroy (&dataset);
    return dataset;
}

/* Fields app (required: NULL with *error when missing) and app_version
   (-1 when absent: the latest). */
static const char *
s_app_field (const rfk_msg_t *req, int64_t *version, rfk_msg_t **error)
{
    *version = rfk_admin_int_field (req, "app_version", -1);
    return rfk_admin_require (req, "app", error);
}

/* The caller's train job of fields app / app_version (-1 or absent: latest). */
static rfk_train_job_t *
s_train_job_of (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller,
                rfk_msg_t **error)
{
    int64_t version;
    const char *app = s_app_field (req, &version, error);
    rfk_train_job_t *job =
        app ? rfk_store_get_train_job_by_app (self->store, caller->user_id, app, version) : NULL;
    if (app && !job) {
        if (rfk_store_code (self->store) == RFK_CODE_UNAVAILABLE)
            *error = rfk_admin_store_error (self, req, "reading the train job");
        else if (version < 0)
            *error =
                rfk_admin_error (req, RFK_CODE_NOT_FOUND, "you have no train job of app %s", app);
        else
            *error = rfk_admin_error (req, RFK_CODE_NOT_FOUND,
                                      "you have no train job of app %s version %lld", app,
                                      (long long)version);
    }
    return job;
}

static rfk_msg_t *
s_train_job_reply (rfk_admin_t *self, const rfk_msg_t *req, const char *id)
{
    rfk_train_job_t *job = rfk_store_get_train_job (self->store, id);
    if (!job)
        return rfk_admin_store_error (self, req, "reading the train job");
    rfk_msg_t *reply = rfk_admin_reply_with (req, "TrainJob", rfk_admin_train_job_json (self, job));
    rfk_train_job_destroy (&job);
    return reply;
}

/* The user whose jobs field `user_id` names (the caller when absent), or
   NULL with *error when the caller may not list them. */
static const char *
s_jobs_owner (const rfk_msg_t *req, const rfk_auth_claims_t *caller, const char *what,
              rfk_msg_t **error)
{
    const char *user_id = rfk_admin_field (req, "user_id");
    if (!user_id || !*user_id)
        user_id = caller->user_id;
    if (rfk_auth_can_access (caller->user_id, caller->user_type, user_id) == 0)
        return user_id;
    *error = rfk_admin_error (req, RFK_CODE_FORBIDDEN,
                              "you may list only your own %s (field `user_id`)", what);
    return NULL;
}

/* ---- train jobs ---------------------------------------------------------- */

/* The request's own fields: app, task, budget, train_args and model_ids
   (their form only). NULL, or the Error to answer. */
static rfk_msg_t *
s_check_train_request (const rfk_msg_t *req, const char **app_p, const char **task_p)
{
    rfk_msg_t *error = NULL;
    const char *app = rfk_admin_require (req, "app", &error);
    if (!app)
        return error;
    if (!s_app_ok (app))
        return rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                "field `app`: use 1 to 64 letters, digits, '-', '_' or '.'");
    const char *task = rfk_admin_require (req, "task", &error);
    if (!task)
        return error;
    if (!rfk_admin_task_known (task))
        return rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                "field `task`: %s is not one of IMAGE_CLASSIFICATION, "
                                "TABULAR_CLASSIFICATION, TABULAR_REGRESSION, POS_TAGGING",
                                task);
    if (s_check_budget (req, json_object_get (req->body, "budget"), true, &error) != 0)
        return error;
    json_t *train_args = json_object_get (req->body, "train_args");
    if (train_args && !json_is_object (train_args))
        return rfk_admin_error (req, RFK_CODE_BAD_REQUEST, "field `train_args` must be an object");
    json_t *model_ids = json_object_get (req->body, "model_ids");
    if (!json_is_array (model_ids) || json_array_size (model_ids) == 0)
        return rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                "field `model_ids` is missing: name at least one model");
    *app_p = app;
    *task_p = task;
    return NULL;
}

/* Model `index` of model_ids, named once, existing, usable by the caller
   and of the task. NULL, or the Error to answer. */
static rfk_msg_t *
s_check_model (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller,
               const char *task, const rfk_sub_train_job_t *subs, size_t index)
{
    const char *id =
        json_string_value (json_array_get (json_object_get (req->body, "model_ids"), index));
    if (!id || !*id)
        return rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                "field `model_ids[%zu]` must be a model id", index);
    for (size_t other = 0; other < index; other++)
        if (streq (subs[other].model_id, id))
            return rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                    "field `model_ids[%zu]`: model %s is named twice", index, id);
    rfk_msg_t *error = NULL;
    rfk_model_t *model = rfk_store_get_model (self->store, id);
    if (!model)
        error = rfk_store_code (self->store) == RFK_CODE_UNAVAILABLE
                    ? rfk_admin_store_error (self, req, "reading a model")
                    : rfk_admin_error (req, RFK_CODE_NOT_FOUND,
                                       "field `model_ids[%zu]`: no model %s", index, id);
    else if (rfk_auth_can_read_model (caller->user_id, caller->user_type, model->user_id,
                                      model->access_right &&
                                          streq (model->access_right, "PUBLIC")) != 0)
        error =
            rfk_admin_error (req, RFK_CODE_FORBIDDEN,
                             "field `model_ids[%zu]`: model %s is private to its owner", index, id);
    else if (!model->task || !streq (model->task, task))
        error = rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                 "field `model_ids[%zu]`: model %s (%s) is for %s, not %s", index,
                                 id, model->name, model->task, task);
    else if (!json_is_array (model->knobs))
        //  Uploaded before admin kept knob tables (issue 13): the advisor
        //  would have to load the template to learn it, which it never does.
        error = rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                 "field `model_ids[%zu]`: model %s (%s) was uploaded before "
                                 "Rafiki kept knob tables; upload it again to use it",
                                 index, id, model->name);
    rfk_model_destroy (&model);
    return error;
}

/* A CONFLICT when the caller's app has a live train job, else NULL. */
static rfk_msg_t *
s_live_train_job_error (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller,
                        const char *app)
{
    rfk_msg_t *error = NULL;
    zlistx_t *live = rfk_store_list_train_jobs (self->store, caller->user_id, app, true, NULL);
    if (!live)
        error = rfk_admin_store_error (self, req, "listing train jobs");
    else if (zlistx_size (live) > 0) {
        rfk_train_job_t *other = (rfk_train_job_t *)zlistx_first (live);
        error = rfk_admin_error (
            req, RFK_CODE_CONFLICT, "app %s has a live train job (version %lld, %s); stop it first",
            app, (long long)other->app_version, rfk_job_status_name (other->status));
    }
    zlistx_destroy (&live);
    return error;
}

/* The train job and its sub train jobs (one per model), written in one
   transaction; NULL with *error. */
static rfk_train_job_t *
s_store_train_job (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller,
                   const rfk_dataset_t *train, const rfk_dataset_t *val, rfk_msg_t **error)
{
    json_t *model_ids = json_object_get (req->body, "model_ids");
    size_t count = json_array_size (model_ids);
    const char *task = rfk_admin_field (req, "task");
    rfk_sub_train_job_t *subs = (rfk_sub_train_job_t *)calloc (count, sizeof *subs);
    if (!subs) {
        *error = rfk_admin_error (req, RFK_CODE_INTERNAL, "out of memory");
        return NULL;
    }
    for (size_t index = 0; index < count && !*error; index++) {
        *error = s_check_model (self, req, caller, task, subs, index);
        subs[index].model_id = (char *)json_string_value (json_array_get (model_ids, index));
    }
    const char *app = rfk_admin_field (req, "app");
    if (!*error)
        *error = s_live_train_job_error (self, req, caller, app);
    rfk_train_job_t *job = NULL;
    if (!*error) {
        json_t *budget = json_object_get (req->body, "budget");
        json_t *no_budget = json_object ();
        rfk_train_job_t record = {
            .user_id = (char *)caller->user_id,
            .app = (char *)app,
            .task = (char *)task,
            .budget = budget ? budget : no_budget,
            .status = RFK_JOB_STARTED,
            .train_dataset_id = train->id,
            .val_dataset_id = val->id,
            .train_args = json_object_get (req->body, "train_args"),
            .sub_train_job_count = count,
            .sub_train_jobs = subs,
        };
        job = rfk_store_create_train_job (self->store, &record);
        json_decref (no_budget);
        if (!job)
            *error = rfk_admin_store_error (self, req, "creating the train job");
    }
    free (subs);
    return job;
}

rfk_msg_t *
rfk_admin_on_create_train_job (rfk_admin_t *self, const rfk_msg_t *req,
                               const rfk_auth_claims_t *caller)
{
    const char *app = NULL, *task = NULL;
    if (self->sandbox_refusal)
        return rfk_admin_error (req, RFK_CODE_CONFLICT, "%s", self->sandbox_refusal);
    rfk_msg_t *error = s_check_train_request (req, &app, &task);
    //  A GPU_COUNT no node can give is refused before anything is written (409).
    if (!error)
        rfk_admin_check_gpus (self, req, json_object_get (req->body, "budget"), &error);
    if (error)
        return error;
    rfk_dataset_t *train = s_job_dataset (self, req, caller, "train_dataset_id", task, &error);
    if (!train)
        return error;
    rfk_dataset_t *val = s_job_dataset (self, req, caller, "val_dataset_id", task, &error);
    rfk_train_job_t *job = val ? s_store_train_job (self, req, caller, train, val, &error) : NULL;
    rfk_dataset_destroy (&train);
    rfk_dataset_destroy (&val);
    if (!job)
        return error;
    rfk_log_info (RFK_ADMIN_LOG, "train-job-created id=%s app=%s version=%lld models=%zu user=%s",
                  job->id, job->app, (long long)job->app_version, job->sub_train_job_count,
                  caller->user_id);
    rfk_admin_publish_job (self, "TRAIN", job->id, job->app, job->app_version, job->status, NULL);
    //  One advisor per model; its trainers start once it reported where it
    //  listens (rfk_admin_endpoints.c).
    for (size_t index = 0; index < job->sub_train_job_count; index++)
        free (rfk_admin_launch_train_service (self, "advisor", job->id,
                                              job->sub_train_jobs[index].id));
    rfk_msg_t *reply = s_train_job_reply (self, req, job->id);
    rfk_train_job_destroy (&job);
    return reply;
}

static rfk_msg_t *
s_train_job_list_reply (rfk_admin_t *self, const rfk_msg_t *req, zlistx_t *list)
{
    rfk_msg_t *reply = rfk_admin_reply (req, "TrainJobList");
    json_t *array = json_array ();
    for (rfk_train_job_t *job = (rfk_train_job_t *)zlistx_first (list); job;
         job = (rfk_train_job_t *)zlistx_next (list))
        json_array_append_new (array, rfk_admin_train_job_json (self, job));
    json_object_set_new (reply->body, "train_jobs", array);
    return reply;
}

rfk_msg_t *
rfk_admin_on_list_train_jobs (rfk_admin_t *self, const rfk_msg_t *req,
                              const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    const char *user_id = s_jobs_owner (req, caller, "train jobs", &error);
    if (!user_id)
        return error;
    zlistx_t *list = rfk_store_list_train_jobs (self->store, user_id, NULL, false, NULL);
    if (!list)
        return rfk_admin_store_error (self, req, "listing train jobs");
    rfk_msg_t *reply = s_train_job_list_reply (self, req, list);
    zlistx_destroy (&list);
    return reply;
}

rfk_msg_t *
rfk_admin_on_get_train_jobs_of_app (rfk_admin_t *self, const rfk_msg_t *req,
                                    const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    const char *app = rfk_admin_require (req, "app", &error);
    if (!app)
        return error;
    zlistx_t *list = rfk_store_list_train_jobs (self->store, caller->user_id, app, false, NULL);
    if (!list)
        return rfk_admin_store_error (self, req, "listing train jobs");
    rfk_msg_t *reply = s_train_job_list_reply (self, req, list);
    zlistx_destroy (&list);
    return reply;
}

rfk_msg_t *
rfk_admin_on_get_train_job (rfk_admin_t *self, const rfk_msg_t *req,
                            const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    rfk_train_job_t *job = s_train_job_of (self, req, caller, &error);
    if (!job)
        return error;
    rfk_msg_t *reply = rfk_admin_reply_with (req, "TrainJob", rfk_admin_train_job_json (self, job));
    rfk_train_job_destroy (&job);
    return reply;
}

/* ---- a train job's trials ------------------------------------------------ */

rfk_msg_t *
rfk_admin_on_list_trials (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    rfk_train_job_t *job = s_train_job_of (self, req, caller, &error);
    if (!job)
        return error;
    const char *type = rfk_admin_field (req, "type");
    bool best = type && streq (type, "best");
    if (type && *type && !best) {
        rfk_train_job_destroy (&job);
        return rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                "field `type`: only \"best\" is known (or leave it out)");
    }
    rfk_page_t page = {
        .limit = best ? rfk_admin_int_field (req, "max_count", 2)
                      : rfk_admin_int_field (req, "limit", 0),
        .offset = best ? 0 : rfk_admin_int_field (req, "offset", 0),
    };
    zlistx_t *list = rfk_store_list_trials (self->store, job->id, NULL,
                                            best ? RFK_TRIALS_BEST : RFK_TRIALS_BY_NO, &page);
    if (!list) {
        rfk_train_job_destroy (&job);
        return rfk_admin_store_error (self, req, "listing trials");
    }
    rfk_msg_t *reply = rfk_admin_reply (req, "TrialList");
    json_t *array = json_array ();
    for (rfk_trial_t *trial = (rfk_trial_t *)zlistx_first (list); trial;
         trial = (rfk_trial_t *)zlistx_next (list))
        json_array_append_new (array, rfk_admin_trial_json (self, trial, job));
    json_object_set_new (reply->body, "trials", array);
    zlistx_destroy (&list);
    rfk_train_job_destroy (&job);
    return reply;
}

/* ---- inference jobs ------------------------------------------------------ */

static rfk_msg_t *
s_inference_job_reply (rfk_admin_t *self, const rfk_msg_t *req, const char *id)
{
    rfk_inference_job_t *job = rfk_store_get_inference_job (self->store, id);
    if (!job)
        return rfk_admin_store_error (self, req, "reading the inference job");
    rfk_msg_t *reply =
        rfk_admin_reply_with (req, "InferenceJob", rfk_admin_inference_job_json (self, job));
    rfk_inference_job_destroy (&job);
    return reply;
}

/* The trials to deploy: the best COMPLETED trial with parameters of each sub
   train job, or the max_trials best overall. A list of rfk_trial_t. */
static zlistx_t *
s_trials_to_deploy (rfk_admin_t *self, const rfk_train_job_t *job, int64_t max_trials)
{
    zlistx_t *chosen = zlistx_new ();
    zlistx_set_destructor (chosen, (czmq_destructor *)rfk_trial_destroy);
    if (max_trials > 0) {
        zlistx_t *best = rfk_store_list_trials (self->store, job->id, NULL, RFK_TRIALS_BEST, NULL);
        for (rfk_trial_t *trial = best ? (rfk_trial_t *)zlistx_first (best) : NULL;
             trial && (int64_t)zlistx_size (chosen) < max_trials;
             trial = (rfk_trial_t *)zlistx_next (best))
            if (trial->store_params_id && trial->status == RFK_TRIAL_COMPLETED)
                zlistx_add_end (chosen, zlistx_detach_cur (best));
        zlistx_destroy (&best);
        return chosen;
    }
    for (size_t index = 0; index < job->sub_train_job_count; index++) {
        zlistx_t *best = rfk_store_list_trials (self->store, job->id, job->sub_train_jobs[index].id,
                                                RFK_TRIALS_BEST, NULL);
        for (rfk_trial_t *trial = best ? (rfk_trial_t *)zlistx_first (best) : NULL; trial;
             trial = (rfk_trial_t *)zlistx_next (best))
            if (trial->store_params_id && trial->status == RFK_TRIAL_COMPLETED) {
                zlistx_add_end (chosen, zlistx_detach_cur (best));
                break;
            }
        zlistx_destroy (&best);
    }
    return chosen;
}

/* The train job a CreateInferenceJob deploys, after the checks of the
   request (budget, replicas, max_trials): the caller's, no longer running,
   not deployed already. NULL with *error. */
static rfk_train_job_t *
s_deployable_train_job (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller,
                        rfk_msg_t **error)
{
    if (s_check_budget (req, json_object_get (req->body, "budget"), false, error) != 0 ||
        rfk_admin_check_gpus (self, req, json_object_get (req->body, "budget"), error) != 0)
        return NULL;
    int64_t replicas = rfk_admin_int_field (req, "replicas", 1);
    int64_t max_trials = rfk_admin_int_field (req, "max_trials", 0);
    if (replicas < 1 || replicas > S_REPLICAS_MAX)
        *error = rfk_admin_error (req, RFK_CODE_BAD_REQUEST, "field `replicas` must be 1 to %d",
                                  S_REPLICAS_MAX);
    else if (max_trials < 0 || max_trials > 64)
        *error = rfk_admin_error (req, RFK_CODE_BAD_REQUEST, "field `max_trials` must be 0 to 64");
    rfk_train_job_t *train = *error ? NULL : s_train_job_of (self, req, caller, error);
    if (!train)
        return NULL;
    if (!rfk_job_status_is_final (train->status))
        *error = rfk_admin_error (
            req, RFK_CODE_CONFLICT, "train job %s version %lld is %s: stop it before deploying it",
            train->app, (long long)train->app_version, rfk_job_status_name (train->status));
    zlistx_t *live =
        *error ? NULL : rfk_store_list_inference_jobs (self->store, caller->user_id, true, NULL);
    for (rfk_inference_job_t *other = live ? (rfk_inference_job_t *)zlistx_first (live) : NULL;
         other && !*error; other = (rfk_inference_job_t *)zlistx_next (live))
        if (other->train_job_id && streq (other->train_job_id, train->id))
            *error = rfk_admin_error (req, RFK_CODE_CONFLICT,
                                      "app %s version %lld is deployed already (inference job %s)",
                                      train->app, (long long)train->app_version, other->id);
    zlistx_destroy (&live);
    if (*error)
        rfk_train_job_destroy (&train);
    return train;
}

/* The services of a new inference job, before they are stored. */
typedef struct {
    size_t n_workers;                        /* trials x replicas */
    rfk_inference_job_worker_t *workers;     /* the job's workers (trial ids borrowed) */
    rfk_service_t *services;                 /* their service records, without secrets */
    const rfk_service_t **service_ptrs;      /* pointers to services, for the store */
    json_t *infos;                           /* the workers' service_info, owned here */
    char *secret;                            /* the predictor's (wiped on destroy) */
    char hash[RFK_AUTH_SECRET_HASH_LEN + 1]; /* its hash */
    json_t *predictor_info;                  /* the predictor's service_info */
    int http_port;                           /* its HTTP port: 0, or fixed under swarm */
    char http_host[256];                     /* where clients reach its HTTP */
} s_deployment_t;

static void
s_deployment_free (s_deployment_t *plan)
{
    if (plan->secret) {
        sodium_memzero (plan->secret, strlen (plan->secret));
        free (plan->secret);
    }
    free (plan->workers);
    free (plan->services);
    free (plan->service_ptrs);
    json_decref (plan->infos);
    json_decref (plan->predictor_info);
}

/* Plan one predictor and `replicas` workers per trial; 0, or -1 when out
   of memory or ports (swarm). The workers get their secrets when they are
   launched, once the predictor reported its endpoints. */
static int
s_deployment_plan (rfk_admin_t *self, zlistx_t *trials, int64_t replicas, s_deployment_t *plan)
{
    size_t n_workers = zlistx_size (trials) * (size_t)replicas;
    plan->n_workers = n_workers;
    plan->workers = (rfk_inference_job_worker_t *)calloc (n_workers, sizeof *plan->workers);
    plan->services = (rfk_service_t *)calloc (n_workers, sizeof *plan->services);
    plan->service_ptrs = (const rfk_service_t **)calloc (n_workers, sizeof (void *));
    plan->infos = json_array ();
    plan->secret = rfk_auth_secret_new ();
    const char *host = rfk_config_string (self->config, "admin", "host");
    snprintf (plan->http_host, sizeof plan->http_host, "%s",
              host && *host && !streq (host, "0.0.0.0") && !streq (host, "*") ? host : "127.0.0.1");
    plan->predictor_info = rfk_admin_predictor_info (self, plan->http_host, &plan->http_port);
    if (!plan->workers || !plan->services || !plan->service_ptrs || !plan->infos || !plan->secret ||
        !plan->predictor_info || rfk_auth_secret_hash (self->auth, plan->secret, plan->hash) != 0)
        return -1;
    const char *backend = rfk_launcher_backend_name (self->launcher);
    size_t slot = 0;
    for (rfk_trial_t *trial = (rfk_trial_t *)zlistx_first (trials); trial;
         trial = (rfk_trial_t *)zlistx_next (trials))
        for (int64_t replica = 0; replica < replicas; replica++, slot++) {
            plan->workers[slot].trial_id = trial->id;
            json_t *info = json_pack ("{s:s, s:s}", "role", "inference", "trial_id", trial->id);
            json_array_append_new (plan->infos, info);
            plan->services[slot] = (rfk_service_t){
                .service_type = "INFERENCE",
                .status = RFK_SERVICE_STARTED,
                .container_manager_type = (char *)backend,
                .replicas = 1,
                .hostname = "127.0.0.1",
                .service_info = info,
            };
            plan->service_ptrs[slot] = &plan->services[slot];
        }
    return 0;
}

/* The inference job with its predictor and workers, in one transaction. */
static rfk_inference_job_t *
s_store_inference_job (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller,
                       const rfk_train_job_t *train, s_deployment_t *plan, rfk_msg_t **error)
{
    rfk_service_t predictor = {
        .service_type = "PREDICT",
        .status = RFK_SERVICE_STARTED,
        .container_manager_type = (char *)rfk_launcher_backend_name (self->launcher),
        .replicas = 1,
        .hostname = "127.0.0.1",
        .ext_hostname = plan->http_host,
        .ext_port = plan->http_port,
        .secret_hash = plan->hash,
        .service_info = plan->predictor_info,
    };
    int64_t max_trials = rfk_admin_int_field (req, "max_trials", 0);
    const char *auth = rfk_admin_field (req, "auth");
    rfk_inference_job_t record = {
        .auth = (char *)(auth && *auth ? auth : "open"),
        .user_id = (char *)caller->user_id,
        .train_job_id = train->id,
        .budget = json_object_get (req->body, "budget"),
        .max_trials = max_trials,
        .replicas = rfk_admin_int_field (req, "replicas", 1),
        .status = RFK_JOB_STARTED,
        .worker_count = plan->n_workers,
        .workers = plan->workers,
    };
    rfk_inference_job_t *job =
        rfk_store_create_inference_job (self->store, &record, &predictor, plan->service_ptrs);
    if (!job)
        *error = rfk_admin_store_error (self, req, "creating the inference job");
    return job;
}

rfk_msg_t *
rfk_admin_on_create_inference_job (rfk_admin_t *self, const rfk_msg_t *req,
                                   const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    if (self->sandbox_refusal)
        return rfk_admin_error (req, RFK_CODE_CONFLICT, "%s", self->sandbox_refusal);
    const char *auth = rfk_admin_field (req, "auth");
    if (auth && *auth && !streq (auth, "open") && !streq (auth, "token"))
        return rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                "auth must be \"open\" (anyone may query) or \"token\" (queries "
                                "need a serving key), not \"%s\"",
                                auth);
    rfk_train_job_t *train = s_deployable_train_job (self, req, caller, &error);
    if (!train)
        return error;
    int64_t replicas = rfk_admin_int_field (req, "replicas", 1);
    zlistx_t *trials = s_trials_to_deploy (self, train, rfk_admin_int_field (req, "max_trials", 0));
    s_deployment_t plan = {0};
    rfk_inference_job_t *job = NULL;
    if (zlistx_size (trials) == 0)
        error = rfk_admin_error (req, RFK_CODE_CONFLICT,
                                 "train job %s version %lld has no completed trial with saved "
                                 "parameters to deploy",
                                 train->app, (long long)train->app_version);
    else if (s_deployment_plan (self, trials, replicas, &plan) != 0)
        error = rfk_admin_error (req, RFK_CODE_UNAVAILABLE,
                                 "cannot prepare the inference job's services (out of memory%s)",
                                 self->swarm ? ", or no port left for its predictor" : "");
    else
        job = s_store_inference_job (self, req, caller, train, &plan, &error);
    if (job) {
        rfk_log_info (RFK_ADMIN_LOG,
                      "inference-job-created id=%s app=%s version=%lld trials=%zu replicas=%lld",
                      job->id, train->app, (long long)train->app_version, zlistx_size (trials),
                      (long long)replicas);
        rfk_admin_publish_job (self, "INFERENCE", job->id, train->app, train->app_version,
                               job->status, NULL);
        //  The workers wait until the predictor reported where it listens
        //  (rfk_admin_endpoints.c).
        for (size_t index = 0; index < job->worker_count; index++) {
            rfk_admin_service_t *worker =
                rfk_admin_track (self, job->workers[index].service_id, "inference", NULL, NULL,
                                 job->id, job->workers[index].trial_id);
            if (worker)
                worker->held = true;
        }
        rfk_admin_launch_stored_service (self, job->predictor_service_id, "predictor", plan.secret,
                                         NULL, NULL, job->id, NULL);
    }
    s_deployment_free (&plan);
    zlistx_destroy (&trials);
    rfk_train_job_destroy (&train);
    if (error)
        return error;
    rfk_msg_t *reply = s_inference_job_reply (self, req, job->id);
    rfk_inference_job_destroy (&job);
    return reply;
}

static rfk_msg_t *
s_inference_list_reply (rfk_admin_t *self, const rfk_msg_t *req, zlistx_t *list, const char *app)
{
    rfk_msg_t *reply = rfk_admin_reply (req, "InferenceJobList");
    json_t *array = json_array ();
    for (rfk_inference_job_t *job = (rfk_inference_job_t *)zlistx_first (list); job;
         job = (rfk_inference_job_t *)zlistx_next (list)) {
        json_t *entry = rfk_admin_inference_job_json (self, job);
        const char *its_app = json_string_value (json_object_get (entry, "app"));
        if (app && (!its_app || !streq (its_app, app)))
            json_decref (entry);
        else
            json_array_append_new (array, entry);
    }
    json_object_set_new (reply->body, "inference_jobs", array);
    return reply;
}

rfk_msg_t *
rfk_admin_on_list_inference_jobs (rfk_admin_t *self, const rfk_msg_t *req,
                                  const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    const char *user_id = s_jobs_owner (req, caller, "inference jobs", &error);
    if (!user_id)
        return error;
    zlistx_t *list = rfk_store_list_inference_jobs (self->store, user_id, false, NULL);
    if (!list)
        return rfk_admin_store_error (self, req, "listing inference jobs");
    rfk_msg_t *reply = s_inference_list_reply (self, req, list, NULL);
    zlistx_destroy (&list);
    return reply;
}

rfk_msg_t *
rfk_admin_on_get_inference_jobs_of_app (rfk_admin_t *self, const rfk_msg_t *req,
                                        const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    const char *app = rfk_admin_require (req, "app", &error);
    if (!app)
        return error;
    zlistx_t *list = rfk_store_list_inference_jobs (self->store, caller->user_id, false, NULL);
    if (!list)
        return rfk_admin_store_error (self, req, "listing inference jobs");
    rfk_msg_t *reply = s_inference_list_reply (self, req, list, app);
    zlistx_destroy (&list);
    return reply;
}

/* The caller's newest inference job of app / app_version; when live_only,
   the one deployed now (STARTED or RUNNING), as the original Rafiki's GET
   answers, so a client finds a live predictor or a 404. */
rfk_inference_job_t *
rfk_admin_inference_job_of (rfk_admin_t *self, const rfk_msg_t *req,
                            const rfk_auth_claims_t *caller, bool live_only, rfk_msg_t **error)
{
    int64_t version;
    const char *app = s_app_field (req, &version, error);
    if (!app)
        return NULL;
    rfk_inference_job_t *job =
        rfk_store_get_inference_job_by_app (self->store, caller->user_id, app, version, live_only);
    if (!job)
        *error = rfk_store_code (self->store) == RFK_CODE_UNAVAILABLE
                     ? rfk_admin_store_error (self, req, "reading the inference job")
                     : rfk_admin_error (
                           req, RFK_CODE_NOT_FOUND, "you have no %sinference job of app %s%s",
                           live_only ? "running " : "", app, version < 0 ? "" : " at that version");
    return job;
}

rfk_msg_t *
rfk_admin_on_get_inference_job (rfk_admin_t *self, const rfk_msg_t *req,
                                const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    rfk_inference_job_t *job = rfk_admin_inference_job_of (self, req, caller, true, &error);
    if (!job)
        return error;
    rfk_msg_t *reply =
        rfk_admin_reply_with (req, "InferenceJob", rfk_admin_inference_job_json (self, job));
    rfk_inference_job_destroy (&job);
    return reply;
}

/* ---- stopping jobs ------------------------------------------------------- */

/* Stops the caller's train job, or inference job, of fields app /
   app_version, and answers with the job as it now stands. */
static rfk_msg_t *
s_stop_job (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller,
            bool inference)
{
    rfk_msg_t *error = NULL;
    char *id = NULL;
    if (inference) {
        rfk_inference_job_t *job = rfk_admin_inference_job_of (self, req, caller, false, &error);
        id = job ? strdup (job->id) : NULL;
        rfk_inference_job_destroy (&job);
    } else {
        rfk_train_job_t *job = s_train_job_of (self, req, caller, &error);
        id = job ? strdup (job->id) : NULL;
        rfk_train_job_destroy (&job);
    }
    if (!id)
        return error ? error : rfk_admin_error (req, RFK_CODE_INTERNAL, "out of memory");
    if (inference)
        rfk_admin_stop_inference_job (self, id, "the inference job was stopped");
    else
        rfk_admin_stop_train_job (self, id, "the train job was stopped");
    rfk_msg_t *reply =
        inference ? s_inference_job_reply (self, req, id) : s_train_job_reply (self, req, id);
    free (id);
    return reply;
}

rfk_msg_t *
rfk_admin_on_stop_train_job (rfk_admin_t *self, const rfk_msg_t *req,
                             const rfk_auth_claims_t *caller)
{
    return s_stop_job (self, req, caller, false);
}

rfk_msg_t *
rfk_admin_on_stop_inference_job (rfk_admin_t *self, const rfk_msg_t *req,
                                 const rfk_auth_claims_t *caller)
{
    return s_stop_job (self, req, caller, true);
}

rfk_msg_t *
rfk_admin_on_stop_all_jobs (rfk_admin_t *self, const rfk_msg_t *req,
                            const rfk_auth_claims_t *caller)
{
    if (rfk_auth_can_stop_all (caller->user_type) != 0)
        return rfk_admin_error (req, RFK_CODE_FORBIDDEN, "only the superadmin may stop all jobs");
    zlistx_t *train = rfk_store_list_train_jobs (self->store, NULL, NULL, true, NULL);
    zlistx_t *inference = rfk_store_list_inference_jobs (self->store, NULL, true, NULL);
    if (!train || !inference) {
        zlistx_destroy (&train);
        zlistx_destroy (&inference);
        return rfk_admin_store_error (self, req, "listing live jobs");
    }
    rfk_msg_t *reply = rfk_admin_reply (req, "StoppedJobs");
    json_t *train_ids = json_array (), *inference_ids = json_array ();
    for (rfk_inference_job_t *job = (rfk_inference_job_t *)zlistx_first (inference); job;
         job = (rfk_inference_job_t *)zlistx_next (inference)) {
        rfk_admin_stop_inference_job (self, job->id, "all jobs were stopped");
        json_array_append_new (inference_ids, json_pack ("{s:s}", "id", job->id));
    }
    for (rfk_train_job_t *job = (rfk_train_job_t *)zlistx_first (train); job;
         job = (rfk_train_job_t *)zlistx_next (train)) {
        rfk_admin_stop_train_job (self, job->id, "all jobs were stopped");
        json_array_append_new (train_ids, json_pack ("{s:s}", "id", job->id));
    }
    json_object_set_new (reply->body, "train_jobs", train_ids);
    json_object_set_new (reply->body, "inference_jobs", inference_ids);
    rfk_log_notice (RFK_ADMIN_LOG, "all-jobs-stopped train=%zu inference=%zu by=%s",
                    zlistx_size (train), zlistx_size (inference), caller->user_id);
    zlistx_destroy (&train);
    zlistx_destroy (&inference);
    return reply;
}
