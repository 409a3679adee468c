/*  rfk_store_records.c: the descriptor table of every record the store keeps.

    One table per record type names its fields in column order: column and
    struct member, type, flags (required, fixed, stop time, touched), the
    allowed values of an enumeration, or for a status (S_STATE) its family in
    rfk_states.h, whose enum the struct holds and whose .proto name the row
    holds. The generic row binding (rfk_store_bind.c) reads and writes every
    record through these tables. To add a column: a migration in
    rfk_store_schema.c, the member in rfk_store.h, and its row here.
*/
#include "rfk_store_private.h"

static const char *const s_user_types[] = {"SUPERADMIN", "ADMIN", "MODEL_DEVELOPER",
                                           "APP_DEVELOPER", NULL};
static const char *const s_access_rights[] = {"PRIVATE", "PUBLIC", NULL};
static const char *const s_service_types[] = {"ADVISOR", "TRAIN", "PREDICT", "INFERENCE", NULL};

/* A state family over int, from its enum's functions in rfk_states.h. */
#define STATES(family)                                                                             \
    static const char *s_##family##_name (int value)                                               \
    {                                                                                              \
        return rfk_##family##_status_name ((rfk_##family##_status_t)value);                        \
    }                                                                                              \
    static int s_##family##_value (const char *name)                                               \
    {                                                                                              \
        return (int)rfk_##family##_status_from_name (name);                                        \
    }                                                                                              \
    static bool s_##family##_is_final (int value)                                                  \
    {                                                                                              \
        return rfk_##family##_status_is_final ((rfk_##family##_status_t)value);                    \
    }                                                                                              \
    static const rfk_states_t s_##family##_states = {s_##family##_name, s_##family##_value,        \
                                                     s_##family##_is_final};

STATES (service)
STATES (job)
STATES (trial)
static const char *const s_log_types[] = {"MESSAGE", "METRICS", "PLOT", NULL};

#define F(T, member, type, flags, allowed)                                                         \
    {                                                                                              \
#member, type, offsetof(T, member), flags, allowed, NULL                                   \
    }
/* A status field of a family. */
#define FS(T, member, flags, family)                                                               \
    {                                                                                              \
#member, S_STATE, offsetof(T, member), flags, NULL, &s_##family##_states                   \
    }
#define N(array) (sizeof (array) / sizeof ((array)[0]))
#define KIND(name, rec, table, T, fields)                                                          \
    static void s_##name##_destructor (void **item)                                                \
    {                                                                                              \
        rfk_##name##_destroy ((T **)item);                                                         \
    }                                                                                              \
    const rfk_kind_t rfk_##name##_kind = {rec,    table,      sizeof (T),                          \
                                          fields, N (fields), s_##name##_destructor};

static const rfk_field_t s_user_fields[] = {
    F (rfk_user_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_user_t, email, S_TEXT, S_REQUIRED, NULL),
    F (rfk_user_t, password_hash, S_TEXT, S_REQUIRED, NULL),
    F (rfk_user_t, user_type, S_TEXT, S_REQUIRED, s_user_types),
    F (rfk_user_t, banned_date, S_TEXT, 0, NULL),
    F (rfk_user_t, datetime_created, S_TEXT, S_FIXED, NULL),
};
KIND (user, "user", "users", rfk_user_t, s_user_fields)

static const rfk_field_t s_dataset_fields[] = {
    F (rfk_dataset_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_dataset_t, name, S_TEXT, S_REQUIRED, NULL),
    F (rfk_dataset_t, task, S_TEXT, S_REQUIRED, NULL),
    F (rfk_dataset_t, owner_id, S_TEXT, S_REQUIRED, NULL),
    F (rfk_dataset_t, store_dataset_id, S_TEXT, S_REQUIRED, NULL),
    F (rfk_dataset_t, size_bytes, S_INT, 0, NULL),
    F (rfk_dataset_t, datetime_created, S_TEXT, S_FIXED, NULL),
};
KIND (dataset, "dataset", "datasets", rfk_dataset_t, s_dataset_fields)

static const rfk_field_t s_model_fields[] = {
    F (rfk_model_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_model_t, user_id, S_TEXT, S_REQUIRED, NULL),
    F (rfk_model_t, name, S_TEXT, S_REQUIRED, NULL),
    F (rfk_model_t, task, S_TEXT, S_REQUIRED, NULL),
    F (rfk_model_t, model_class, S_TEXT, S_REQUIRED, NULL),
    F (rfk_model_t, model_file, S_TEXT, S_REQUIRED, NULL),
    F (rfk_model_t, docker_image, S_TEXT, 0, NULL),
    F (rfk_model_t, dependencies, S_JSON, 0, NULL),
    F (rfk_model_t, access_right, S_TEXT, S_REQUIRED, s_access_rights),
    F (rfk_model_t, datetime_created, S_TEXT, S_FIXED, NULL),
    F (rfk_model_t, knobs, S_JSON, 0, NULL),
};
KIND (model, "model", "models", rfk_model_t, s_model_fields)

static const rfk_field_t s_service_fields[] = {
    F (rfk_service_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_service_t, service_type, S_TEXT, S_REQUIRED, s_service_types),
    FS (rfk_service_t, status, S_REQUIRED, service),
    F (rfk_service_t, docker_image, S_TEXT, 0, NULL),
    F (rfk_service_t, container_manager_type, S_TEXT, 0, NULL),
    F (rfk_service_t, replicas, S_INT, 0, NULL),
    F (rfk_service_t, gpus, S_INT, 0, NULL),
    F (rfk_service_t, hostname, S_TEXT, 0, NULL),
    F (rfk_service_t, port, S_INT, 0, NULL),
    F (rfk_service_t, ext_hostname, S_TEXT, 0, NULL),
    F (rfk_service_t, ext_port, S_INT, 0, NULL),
    F (rfk_service_t, container_service_name, S_TEXT, 0, NULL),
    F (rfk_service_t, container_service_id, S_TEXT, 0, NULL),
    F (rfk_service_t, container_service_info, S_JSON, 0, NULL),
    F (rfk_service_t, service_info, S_JSON, 0, NULL),
    F (rfk_service_t, secret_hash, S_TEXT, 0, NULL),
    F (rfk_service_t, datetime_started, S_TEXT, S_FIXED, NULL),
    F (rfk_service_t, datetime_stopped, S_TEXT, S_STOPPED, NULL),
    F (rfk_service_t, datetime_heartbeat, S_TEXT, 0, NULL),
    F (rfk_service_t, pid, S_INT, 0, NULL),
    F (rfk_service_t, pid_start_time, S_INT, 0, NULL),
};
KIND (service, "service", "services", rfk_service_t, s_service_fields)

static const rfk_field_t s_sub_train_job_fields[] = {
    F (rfk_sub_train_job_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_sub_train_job_t, train_job_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_sub_train_job_t, model_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    FS (rfk_sub_train_job_t, status, S_REQUIRED, job),
    F (rfk_sub_train_job_t, advisor_service_id, S_TEXT, 0, NULL),
    F (rfk_sub_train_job_t, datetime_started, S_TEXT, S_FIXED, NULL),
    F (rfk_sub_train_job_t, datetime_stopped, S_TEXT, S_STOPPED, NULL),
};
KIND (sub_train_job, "sub train job", "sub_train_jobs", rfk_sub_train_job_t, s_sub_train_job_fields)

static const rfk_field_t s_train_job_fields[] = {
    F (rfk_train_job_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_train_job_t, user_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_train_job_t, app, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_train_job_t, app_version, S_INT, S_FIXED, NULL),
    F (rfk_train_job_t, task, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_train_job_t, budget, S_JSON, S_REQUIRED | S_FIXED, NULL),
    F (rfk_train_job_t, train_dataset_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_train_job_t, val_dataset_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_train_job_t, train_args, S_JSON, S_FIXED, NULL),
    FS (rfk_train_job_t, status, S_REQUIRED, job),
    F (rfk_train_job_t, datetime_started, S_TEXT, S_FIXED, NULL),
    F (rfk_train_job_t, datetime_stopped, S_TEXT, S_STOPPED, NULL),
};
KIND (train_job, "train job", "train_jobs", rfk_train_job_t, s_train_job_fields)

static const rfk_field_t s_train_job_worker_fields[] = {
    F (rfk_train_job_worker_t, service_id, S_TEXT, S_REQUIRED, NULL),
    F (rfk_train_job_worker_t, sub_train_job_id, S_TEXT, S_REQUIRED, NULL),
};
KIND (train_job_worker, "train job worker", "train_job_workers", rfk_train_job_worker_t,
      s_train_job_worker_fields)

static const rfk_field_t s_trial_fields[] = {
    F (rfk_trial_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_trial_t, no, S_INT, S_FIXED, NULL),
    F (rfk_trial_t, sub_train_job_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_trial_t, train_job_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_trial_t, model_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_trial_t, worker_id, S_TEXT, 0, NULL),
    FS (rfk_trial_t, status, S_REQUIRED, trial),
    F (rfk_trial_t, knobs, S_JSON, 0, NULL),
    F (rfk_trial_t, proposal, S_JSON, 0, NULL),
    F (rfk_trial_t, policies, S_JSON, 0, NULL),
    F (rfk_trial_t, progress, S_JSON, 0, NULL),
    F (rfk_trial_t, score, S_DOUBLE, 0, NULL),
    F (rfk_trial_t, store_params_id, S_TEXT, 0, NULL),
    F (rfk_trial_t, datetime_started, S_TEXT, S_FIXED, NULL),
    F (rfk_trial_t, datetime_updated, S_TEXT, S_TOUCHED, NULL),
    F (rfk_trial_t, datetime_stopped, S_TEXT, S_STOPPED, NULL),
};
KIND (trial, "trial", "trials", rfk_trial_t, s_trial_fields)

static const rfk_field_t s_trial_log_fields[] = {
    F (rfk_trial_log_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_trial_log_t, trial_id, S_TEXT, S_REQUIRED, NULL),
    F (rfk_trial_log_t, seq, S_INT, 0, NULL),
    F (rfk_trial_log_t, datetime, S_TEXT, 0, NULL),
    F (rfk_trial_log_t, type, S_TEXT, S_REQUIRED, s_log_types),
    F (rfk_trial_log_t, level, S_TEXT, 0, NULL),
    F (rfk_trial_log_t, message, S_TEXT, 0, NULL),
    F (rfk_trial_log_t, data, S_JSON, 0, NULL),
};
KIND (trial_log, "trial log", "trial_logs", rfk_trial_log_t, s_trial_log_fields)

static const rfk_field_t s_inference_job_worker_fields[] = {
    F (rfk_inference_job_worker_t, service_id, S_TEXT, S_REQUIRED, NULL),
    F (rfk_inference_job_worker_t, inference_job_id, S_TEXT, S_REQUIRED, NULL),
    F (rfk_inference_job_worker_t, trial_id, S_TEXT, S_REQUIRED, NULL),
};
KIND (inference_job_worker, "inference job worker", "inference_job_workers",
      rfk_inference_job_worker_t, s_inference_job_worker_fields)

static const char *const s_auth_modes[] = {"open", "token", NULL};

static const rfk_field_t s_inference_job_fields[] = {
    F (rfk_inference_job_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_inference_job_t, user_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_inference_job_t, train_job_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_inference_job_t, budget, S_JSON, S_FIXED, NULL),
    F (rfk_inference_job_t, max_trials, S_INT, S_FIXED, NULL),
    F (rfk_inference_job_t, replicas, S_INT, S_FIXED, NULL),
    FS (rfk_inference_job_t, status, S_REQUIRED, job),
    F (rfk_inference_job_t, predictor_service_id, S_TEXT, 0, NULL),
    F (rfk_inference_job_t, datetime_started, S_TEXT, S_FIXED, NULL),
    F (rfk_inference_job_t, datetime_stopped, S_TEXT, S_STOPPED, NULL),
    F (rfk_inference_job_t, auth, S_TEXT, S_FIXED, s_auth_modes),
};
KIND (inference_job, "inference job", "inference_jobs", rfk_inference_job_t, s_inference_job_fields)

static const rfk_field_t s_serving_key_fields[] = {
    F (rfk_serving_key_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_serving_key_t, inference_job_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_serving_key_t, hash, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_serving_key_t, label, S_TEXT, S_FIXED, NULL),
    F (rfk_serving_key_t, datetime_created, S_TEXT, S_FIXED, NULL),
};
KIND (serving_key, "serving key", "serving_keys", rfk_serving_key_t, s_serving_key_fields)

/* ---- the records' destructors ---------------------------------------- */

#define DESTROY(name, T)                                                                           \
    void rfk_##name##_destroy (T **self_p)                                                         \
    {                                                                                              \
        rfk_row_destroy (&rfk_##name##_kind, (void **)self_p);                                     \
    }

DESTROY (user, rfk_user_t)
DESTROY (dataset, rfk_dataset_t)
DESTROY (model, rfk_model_t)
DESTROY (service, rfk_service_t)
DESTROY (sub_train_job, rfk_sub_train_job_t)
DESTROY (train_job_worker, rfk_train_job_worker_t)
DESTROY (trial, rfk_trial_t)
DESTROY (trial_log, rfk_trial_log_t)
DESTROY (inference_job_worker, rfk_inference_job_worker_t)
DESTROY (serving_key, rfk_serving_key_t)

void
rfk_train_job_destroy (rfk_train_job_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_train_job_t *self = *self_p;
    for (size_t i = 0; i < self->sub_train_job_count; i++)
        rfk_row_clear (&rfk_sub_train_job_kind, &self->sub_train_jobs[i]);
    free (self->sub_train_jobs);
    rfk_row_destroy (&rfk_train_job_kind, (void **)self_p);
}

void
rfk_inference_job_destroy (rfk_inference_job_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_inference_job_t *self = *self_p;
    for (size_t i = 0; i < self->worker_count; i++)
        rfk_row_clear (&rfk_inference_job_worker_kind, &self->workers[i]);
    free (self->workers);
    rfk_row_destroy (&rfk_inference_job_kind, (void **)self_p);
}
/* A service as a roll-up reads it: with the sub train job it serves. */

static const rfk_field_t s_job_service_fields[] = {
    F (rfk_job_service_t, id, S_TEXT, 0, NULL),
    F (rfk_job_service_t, service_type, S_TEXT, 0, NULL),
    FS (rfk_job_service_t, status, 0, service),
    F (rfk_job_service_t, sub_train_job_id, S_TEXT, 0, NULL),
};
const rfk_kind_t rfk_job_service_kind = {"job service",
                                         "services",
                                         sizeof (rfk_job_service_t),
                                         s_job_service_fields,
                                         N (s_job_service_fields),
                                         NULL};
