/*  rfk_admin_jobs.c: train jobs, their trials' list, inference jobs and
    stop-all (one trial's requests are in rfk_admin_trials.c).

    CreateTrainJob checks everything before anything is written (API.md):
    the app name, a known task, both datasets exist, are the caller's and of
    the task, every model exists, may be used by the caller and is of the
    task, the budget's keys and values, and that the app has no live
    (STARTED or RUNNING) job. It then writes the train job and one sub train
    job per model in one store transaction (app_version counts up per app and
    user), and launches per sub train job one advisor and N trainers (budget
    TRAINER_COUNT, default 1).

    CreateInferenceJob needs a train job of the app that is no longer
    running (STOPPED, or ERRORED with some models trained) with at least one
    COMPLETED trial with saved parameters: it deploys the best such trial of
    each model, or the `max_trials` best overall, `replicas` workers per
    trial, behind one predictor; predictor_host is where its HTTP answers.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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
        if (streq (key, "MODEL_TRIAL_COUNT") || (train && streq (key, "TRAINER_COUNT"))) {
            long max = streq (key, "TRAINER_COUNT") ? S_TRAINERS_MAX : 1000000;
            if (!json_is_number (value) || !integer || number < 1 || number > max) {
                *error = rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                          "field `budget.%s` must be a whole number from 1 to %ld",
                                          key, max);
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

rfk_msg_t *
rfk_admin_on_create_train_job (rfk_admin_t *self, const rfk_msg_t *req,
                               const rfk_auth_claims_t *caller)
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
    json_t *budget = json_object_get (req->body, "budget");
    if (s_check_budget (req, budget, true, &error) != 0)
        return error;
    json_t *train_args = json_object_get (req->body, "train_args");
    if (train_args && !json_is_object (train_args))
        return rfk_admin_error (req, RFK_CODE_BAD_REQUEST, "field `train_args` must be an object");
    json_t *model_ids = json_object_get (req->body, "model_ids");
    if (!json_is_array (model_ids) || json_array_size (model_ids) == 0)
        return rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                "field `model_ids` is missing: name at least one model");
    rfk_dataset_t *train = s_job_dataset (self, req, caller, "train_dataset_id", task, &error);
    if (!train)
        return error;
    rfk_dataset_t *val = s_job_dataset (self, req, caller, "val_dataset_id", task, &error);
    if (!val) {
        rfk_dataset_destroy (&train);
        return error;
    }
    size_t count = json_array_size (model_ids);
    rfk_sub_train_job_t *subs = (rfk_sub_train_job_t *)calloc (count, sizeof *subs);
    for (size_t index = 0; subs && index < count && !error; index++) {
        const char *id = json_string_value (json_array_get (model_ids, index));
        if (!id || !*id) {
            error = rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                     "field `model_ids[%zu]` must be a model id", index);
            break;
        }
        for (size_t other = 0; other < index; other++)
            if (streq (subs[other].model_id, id))
                error =
                    rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                     "field `model_ids[%zu]`: model %s is named twice", index, id);
        if (error)
            break;
        rfk_model_t *model = rfk_store_get_model (self->store, id);
        if (!model)
            error = rfk_store_code (self->store) == RFK_CODE_UNAVAILABLE
                        ? rfk_admin_store_error (self, req, "reading a model")
                        : rfk_admin_error (req, RFK_CODE_NOT_FOUND,
                                           "field `model_ids[%zu]`: no model %s", index, id);
        else if (rfk_auth_can_read_model (caller->user_id, caller->user_type, model->user_id,
                                          model->access_right &&
                                              streq (model->access_right, "PUBLIC")) != 0)
            error = rfk_admin_error (req, RFK_CODE_FORBIDDEN,
                                     "field `model_ids[%zu]`: model %s is private to its owner",
                                     index, id);
        else if (!model->task || !streq (model->task, task))
            error = rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                     "field `model_ids[%zu]`: model %s (%s) is for %s, not %s",
                                     index, id, model->name, model->task, task);
        rfk_model_destroy (&model);
        subs[index].model_id = (char *)id;
    }
    if (!subs && !error)
        error = rfk_admin_error (req, RFK_CODE_INTERNAL, "out of memory");
    if (!error) {
        zlistx_t *live = rfk_store_list_train_jobs (self->store, caller->user_id, app, true, NULL);
        if (!live)
            error = rfk_admin_store_error (self, req, "listing train jobs");
        else if (zlistx_size (live) > 0) {
            rfk_train_job_t *other = (rfk_train_job_t *)zlistx_first (live);
            error = rfk_admin_error (req, RFK_CODE_CONFLICT,
                                     "app %s has a live train job (version %lld, %s); stop it "
                                     "first",
                                     app, (long long)other->app_version, other->status);
        }
        zlistx_destroy (&live);
    }
    rfk_train_job_t *job = NULL;
    if (!error) {
        json_t *no_budget = json_object ();
        rfk_train_job_t record = {
            .user_id = (char *)caller->user_id,
            .app = (char *)app,
            .task = (char *)task,
            .budget = budget ? budget : no_budget,
            .status = "STARTED",
            .train_dataset_id = train->id,
            .val_dataset_id = val->id,
            .train_args = train_args,
            .sub_train_job_count = count,
            .sub_train_jobs = subs,
        };
        job = rfk_store_create_train_job (self->store, &record);
        json_decref (no_budget);
        if (!job)
            error = rfk_admin_store_error (self, req, "creating the train job");
    }
    free (subs);
    rfk_dataset_destroy (&train);
    rfk_dataset_destroy (&val);
    if (error)
        return error;
    rfk_log_info (RFK_ADMIN_LOG, "train-job-created id=%s app=%s version=%lld models=%zu user=%s",
                  job->id, job->app, (long long)job->app_version, job->sub_train_job_count,
                  caller->user_id);
    rfk_admin_publish_job (self, "TRAIN", job->id, job->app, job->app_version, job->status, NULL);
    json_t *trainers = json_object_get (budget, "TRAINER_COUNT");
    int n_trainers = json_is_number (trainers) ? (int)json_number_value (trainers) : 1;
    for (size_t index = 0; index < job->sub_train_job_count; index++) {
        const char *sub_id = job->sub_train_jobs[index].id;
        int port = rfk_admin_free_port ();
        char endpoint[64];
        snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
        char *advisor =
            rfk_admin_launch_train_service (self, "advisor", job->id, sub_id, endpoint, port);
        for (int trainer = 0; advisor && trainer < n_trainers; trainer++) {
            char *id =
                rfk_admin_launch_train_service (self, "trainer", job->id, sub_id, endpoint, 0);
            free (id);
        }
        free (advisor);
    }
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

rfk_msg_t *
rfk_admin_on_stop_train_job (rfk_admin_t *self, const rfk_msg_t *req,
                             const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    rfk_train_job_t *job = s_train_job_of (self, req, caller, &error);
    if (!job)
        return error;
    rfk_admin_stop_train_job (self, job->id, "the train job was stopped");
    rfk_msg_t *reply = s_train_job_reply (self, req, job->id);
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

/* n distinct free TCP ports on 127.0.0.1 (0 where none was found): all
   sockets are held open until every port is known, so none repeats. */
static void
s_free_ports (int *ports, size_t n)
{
    int fds[8];
    for (size_t index = 0; index < n && index < 8; index++) {
        ports[index] = 0;
        fds[index] = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
        address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (fds[index] >= 0 &&
            bind (fds[index], (struct sockaddr *)&address, sizeof address) == 0 &&
            getsockname (fds[index], (struct sockaddr *)&address, &length) == 0)
            ports[index] = ntohs (address.sin_port);
    }
    for (size_t index = 0; index < n && index < 8; index++)
        if (fds[index] >= 0)
            close (fds[index]);
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
            if (trial->store_params_id && streq (trial->status, "COMPLETED"))
                zlistx_add_end (chosen, zlistx_detach_cur (best));
        zlistx_destroy (&best);
        return chosen;
    }
    for (size_t index = 0; index < job->sub_train_job_count; index++) {
        zlistx_t *best = rfk_store_list_trials (self->store, job->id, job->sub_train_jobs[index].id,
                                                RFK_TRIALS_BEST, NULL);
        for (rfk_trial_t *trial = best ? (rfk_trial_t *)zlistx_first (best) : NULL; trial;
             trial = (rfk_trial_t *)zlistx_next (best))
            if (trial->store_params_id && streq (trial->status, "COMPLETED")) {
                zlistx_add_end (chosen, zlistx_detach_cur (best));
                break;
            }
        zlistx_destroy (&best);
    }
    return chosen;
}

rfk_msg_t *
rfk_admin_on_create_inference_job (rfk_admin_t *self, const rfk_msg_t *req,
                                   const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    json_t *budget = json_object_get (req->body, "budget");
    if (s_check_budget (req, budget, false, &error) != 0)
        return error;
    int64_t replicas = rfk_admin_int_field (req, "replicas", 1);
    if (replicas < 1 || replicas > S_REPLICAS_MAX)
        return rfk_admin_error (req, RFK_CODE_BAD_REQUEST, "field `replicas` must be 1 to %d",
                                S_REPLICAS_MAX);
    int64_t max_trials = rfk_admin_int_field (req, "max_trials", 0);
    if (max_trials < 0 || max_trials > 64)
        return rfk_admin_error (req, RFK_CODE_BAD_REQUEST, "field `max_trials` must be 0 to 64");
    rfk_train_job_t *train = s_train_job_of (self, req, caller, &error);
    if (!train)
        return error;
    if (!rfk_admin_status_terminal (train->status)) {
        error = rfk_admin_error (req, RFK_CODE_CONFLICT,
                                 "train job %s version %lld is %s: stop it before deploying it",
                                 train->app, (long long)train->app_version, train->status);
        rfk_train_job_destroy (&train);
        return error;
    }
    zlistx_t *live = rfk_store_list_inference_jobs (self->store, caller->user_id, true, NULL);
    for (rfk_inference_job_t *other = live ? (rfk_inference_job_t *)zlistx_first (live) : NULL;
         other && !error; other = (rfk_inference_job_t *)zlistx_next (live))
        if (other->train_job_id && streq (other->train_job_id, train->id))
            error = rfk_admin_error (req, RFK_CODE_CONFLICT,
                                     "app %s version %lld is deployed already (inference job %s)",
                                     train->app, (long long)train->app_version, other->id);
    zlistx_destroy (&live);
    if (error) {
        rfk_train_job_destroy (&train);
        return error;
    }
    zlistx_t *trials = s_trials_to_deploy (self, train, max_trials);
    if (zlistx_size (trials) == 0) {
        zlistx_destroy (&trials);
        error = rfk_admin_error (req, RFK_CODE_CONFLICT,
                                 "train job %s version %lld has no completed trial with saved "
                                 "parameters to deploy",
                                 train->app, (long long)train->app_version);
        rfk_train_job_destroy (&train);
        return error;
    }
    //  The services: one predictor, `replicas` workers per trial.
    size_t n_workers = zlistx_size (trials) * (size_t)replicas;
    rfk_inference_job_worker_t *workers =
        (rfk_inference_job_worker_t *)calloc (n_workers, sizeof *workers);
    rfk_service_t *services = (rfk_service_t *)calloc (n_workers, sizeof *services);
    const rfk_service_t **service_ptrs =
        (const rfk_service_t **)calloc (n_workers, sizeof (void *));
    char **secrets = (char **)calloc (n_workers + 1, sizeof (char *));
    char (*hashes)[RFK_AUTH_SECRET_HASH_LEN + 1] =
        calloc (n_workers + 1, RFK_AUTH_SECRET_HASH_LEN + 1);
    json_t *infos = json_array ();
    int ports[3] = {0, 0, 0};
    s_free_ports (ports, 3);
    int http_port = ports[0], query_port = ports[1], workers_port = ports[2];
    bool ok = workers && services && service_ptrs && secrets && hashes && query_port &&
              workers_port && http_port;
    for (size_t index = 0; ok && index <= n_workers; index++) {
        secrets[index] = rfk_auth_secret_new ();
        ok =
            secrets[index] && rfk_auth_secret_hash (self->auth, secrets[index], hashes[index]) == 0;
    }
    const char *backend = rfk_launcher_backend_name (self->launcher);
    size_t slot = 0;
    for (rfk_trial_t *trial = (rfk_trial_t *)zlistx_first (trials); ok && trial;
         trial = (rfk_trial_t *)zlistx_next (trials))
        for (int64_t replica = 0; replica < replicas; replica++, slot++) {
            workers[slot].trial_id = trial->id;
            json_t *info = json_pack ("{s:s, s:s}", "role", "inference", "trial_id", trial->id);
            json_array_append_new (infos, info);
            services[slot] = (rfk_service_t){
                .service_type = "INFERENCE",
                .status = "STARTED",
                .container_manager_type = (char *)backend,
                .replicas = 1,
                .hostname = "127.0.0.1",
                .secret_hash = hashes[slot + 1],
                .service_info = info,
            };
            service_ptrs[slot] = &services[slot];
        }
    rfk_inference_job_t *job = NULL;
    char http_host[256];
    const char *host = rfk_config_string (self->config, "admin", "host");
    snprintf (http_host, sizeof http_host, "%s",
              host && *host && !streq (host, "0.0.0.0") && !streq (host, "*") ? host : "127.0.0.1");
    if (ok) {
        //  The predictor binds HTTP and `query` where admin listens (loopback, or
        //  every interface), `workers` on loopback (local services only); it
        //  reports the ports it bound when it is RUNNING (rfk_admin_predictor_running).
        const char *bind = streq (http_host, "127.0.0.1") ? "127.0.0.1" : "0.0.0.0";
        char http_bind[300], query_bind[64], query[300], workers_endpoint[64];
        snprintf (http_bind, sizeof http_bind, "http://%s:%d", bind, http_port);
        snprintf (query_bind, sizeof query_bind, "tcp://%s:%d", bind, query_port);
        snprintf (query, sizeof query, "tcp://%s:%d", http_host, query_port);
        snprintf (workers_endpoint, sizeof workers_endpoint, "tcp://127.0.0.1:%d", workers_port);
        json_t *info = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "role", "predictor",
                                  "http_bind", http_bind, "query_bind", query_bind,
                                  "query_endpoint", query, "workers_endpoint", workers_endpoint,
                                  "http_port", http_port, "http_host", http_host);
        rfk_service_t predictor = {
            .service_type = "PREDICT",
            .status = "STARTED",
            .container_manager_type = (char *)backend,
            .replicas = 1,
            .hostname = "127.0.0.1",
            .port = query_port,
            .ext_hostname = http_host,
            .ext_port = http_port,
            .secret_hash = hashes[0],
            .service_info = info,
        };
        rfk_inference_job_t record = {
            .user_id = (char *)caller->user_id,
            .train_job_id = train->id,
            .budget = budget,
            .max_trials = max_trials,
            .replicas = replicas,
            .status = "STARTED",
            .worker_count = n_workers,
            .workers = workers,
        };
        job = rfk_store_create_inference_job (self->store, &record, &predictor, service_ptrs);
        json_decref (info);
        if (!job)
            error = rfk_admin_store_error (self, req, "creating the inference job");
    } else
        error = rfk_admin_error (req, RFK_CODE_UNAVAILABLE,
                                 "cannot prepare the inference job's services (no free port or "
                                 "out of memory)");
    if (job) {
        rfk_log_info (RFK_ADMIN_LOG,
                      "inference-job-created id=%s app=%s version=%lld trials=%zu "
                      "replicas=%lld",
                      job->id, train->app, (long long)train->app_version, zlistx_size (trials),
                      (long long)replicas);
        rfk_admin_publish_job (self, "INFERENCE", job->id, train->app, train->app_version,
                               job->status, NULL);
        rfk_admin_launch_stored_service (self, job->predictor_service_id, "predictor", secrets[0],
                                         NULL, NULL, job->id, NULL);
        for (size_t index = 0; index < job->worker_count; index++)
            rfk_admin_launch_stored_service (self, job->workers[index].service_id, "inference",
                                             secrets[index + 1], NULL, NULL, job->id,
                                             job->workers[index].trial_id);
    }
    for (size_t index = 0; secrets && index <= n_workers; index++)
        if (secrets[index]) {
            sodium_memzero (secrets[index], strlen (secrets[index]));
            free (secrets[index]);
        }
    free (secrets);
    free (hashes);
    free (service_ptrs);
    free (services);
    free (workers);
    json_decref (infos);
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

/* The caller's newest inference job of app / app_version. */
static rfk_inference_job_t *
s_inference_job_of (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller,
                    rfk_msg_t **error)
{
    int64_t version;
    const char *app = s_app_field (req, &version, error);
    if (!app)
        return NULL;
    rfk_inference_job_t *job =
        rfk_store_get_inference_job_by_app (self->store, caller->user_id, app, version);
    if (!job)
        *error =
            rfk_store_code (self->store) == RFK_CODE_UNAVAILABLE
                ? rfk_admin_store_error (self, req, "reading the inference job")
                : rfk_admin_error (req, RFK_CODE_NOT_FOUND, "you have no inference job of app %s%s",
                                   app, version < 0 ? "" : " at that version");
    return job;
}

rfk_msg_t *
rfk_admin_on_get_inference_job (rfk_admin_t *self, const rfk_msg_t *req,
                                const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    rfk_inference_job_t *job = s_inference_job_of (self, req, caller, &error);
    if (!job)
        return error;
    rfk_msg_t *reply =
        rfk_admin_reply_with (req, "InferenceJob", rfk_admin_inference_job_json (self, job));
    rfk_inference_job_destroy (&job);
    return reply;
}

/* The value of `key=` in a "key=value key=value" line, copied into buffer
   (empty when absent or "-"). */
static const char *
s_line_value (const char *line, const char *key, char *buffer, size_t size)
{
    buffer[0] = 0;
    size_t key_length = strlen (key);
    for (const char *at = line; at && *at;) {
        while (*at == ' ')
            at++;
        size_t length = strcspn (at, " ");
        if (length > key_length && strncmp (at, key, key_length) == 0 && at[key_length] == '=') {
            size_t value = length - key_length - 1;
            if (value < size && !(value == 1 && at[key_length + 1] == '-')) {
                memcpy (buffer, at + key_length + 1, value);
                buffer[value] = 0;
            }
            break;
        }
        at += length;
    }
    return buffer;
}

/* Split "scheme://HOST:PORT" into host and port; 0, or -1 when malformed. */
static int
s_split_endpoint (const char *endpoint, char *host, size_t size, int *port)
{
    const char *start = strstr (endpoint, "://");
    start = start ? start + 3 : endpoint;
    const char *colon = strrchr (start, ':');
    if (!colon || colon == start || (size_t)(colon - start) >= size)
        return -1;
    char *end;
    long value = strtol (colon + 1, &end, 10);
    if (*end || value <= 0 || value > 65535)
        return -1;
    memcpy (host, start, (size_t)(colon - start));
    host[colon - start] = 0;
    *port = (int)value;
    return 0;
}

void
rfk_admin_predictor_running (rfk_admin_t *self, const char *service_id, const char *message)
{
    if (!message)
        return;
    rfk_service_t *predictor = rfk_store_get_service (self->store, service_id);
    if (!predictor || !predictor->service_type || !streq (predictor->service_type, "PREDICT")) {
        rfk_service_destroy (&predictor);
        return;
    }
    char value[300], host[256];
    int port = 0;
    //  A wildcard address is reached through the host admin reported at creation.
    char *public_host = strdup (predictor->ext_hostname ? predictor->ext_hostname : "127.0.0.1");
    bool changed = false;
    if (*s_line_value (message, "http", value, sizeof value) &&
        s_split_endpoint (value, host, sizeof host, &port) == 0) {
        if (!streq (host, "0.0.0.0") && !streq (host, "*")) {
            free (public_host);
            public_host = strdup (host);
        }
        if (predictor->ext_port != port || !predictor->ext_hostname ||
            !streq (predictor->ext_hostname, public_host)) {
            free (predictor->ext_hostname);
            predictor->ext_hostname = strdup (public_host);
            predictor->ext_port = port;
            changed = true;
        }
    }
    if (*s_line_value (message, "query", value, sizeof value) &&
        s_split_endpoint (value, host, sizeof host, &port) == 0) {
        char query[300];
        snprintf (query, sizeof query, "tcp://%s:%d",
                  streq (host, "0.0.0.0") || streq (host, "*") ? public_host : host, port);
        if (!json_is_object (predictor->service_info)) {
            json_decref (predictor->service_info);
            predictor->service_info = json_object ();
        }
        const char *before =
            json_string_value (json_object_get (predictor->service_info, "query_endpoint"));
        if (!before || !streq (before, query)) {
            json_object_set_new (predictor->service_info, "query_endpoint", json_string (query));
            changed = true;
        }
    }
    if (changed && rfk_store_update_service (self->store, predictor) != 0)
        rfk_log_warning (RFK_ADMIN_LOG, "predictor-endpoints-not-saved id=%s reason=\"%s\"",
                         service_id, rfk_store_message (self->store));
    rfk_log_info (RFK_ADMIN_LOG, "predictor-running id=%s predictor_host=%s:%lld %s", service_id,
                  predictor->ext_hostname ? predictor->ext_hostname : "-",
                  (long long)predictor->ext_port, message);
    free (public_host);
    rfk_service_destroy (&predictor);
}

rfk_msg_t *
rfk_admin_on_stop_inference_job (rfk_admin_t *self, const rfk_msg_t *req,
                                 const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    rfk_inference_job_t *job = s_inference_job_of (self, req, caller, &error);
    if (!job)
        return error;
    rfk_admin_stop_inference_job (self, job->id, "the inference job was stopped");
    rfk_msg_t *reply = s_inference_job_reply (self, req, job->id);
    rfk_inference_job_destroy (&job);
    return reply;
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
        json_array_append_new (inference_ids, json_string (job->id));
    }
    for (rfk_train_job_t *job = (rfk_train_job_t *)zlistx_first (train); job;
         job = (rfk_train_job_t *)zlistx_next (train)) {
        rfk_admin_stop_train_job (self, job->id, "all jobs were stopped");
        json_array_append_new (train_ids, json_string (job->id));
    }
    json_object_set_new (reply->body, "train_jobs", train_ids);
    json_object_set_new (reply->body, "inference_jobs", inference_ids);
    rfk_log_notice (RFK_ADMIN_LOG, "all-jobs-stopped train=%zu inference=%zu by=%s",
                    zlistx_size (train), zlistx_size (inference), caller->user_id);
    zlistx_destroy (&train);
    zlistx_destroy (&inference);
    return reply;
}
