/*  rfk_store.h: the metadata store, one interface over SQLite and PostgreSQL.

    Admin is the only component that opens the store. It holds users,
    datasets, models, train jobs with their sub train jobs (one per model),
    train job workers, trials and their logs, inference jobs with their
    workers, and services. One schema, applied by versioned migrations when
    the store opens, serves both backends:

    - SQLite, the embedded default: `sqlite:///path/to/rafiki.db`, or no URL
      at all for `<data_dir>/rafiki.db`. WAL journal, busy timeout, foreign
      keys on.
    - PostgreSQL through libpq: `postgresql://user@host:port/db` (or
      `postgres://`). A lost connection is re-established and the statement
      retried once; if that fails too the call answers UNAVAILABLE.

    Records are typed structs; the rest of the code never sees SQL rows.
    Ownership follows the project's rules:
    - a record handed to a create or update function is borrowed (it may sit
      on the stack with string literals in it); create returns a new record
      as stored, with its id and times filled in, which is the caller's;
    - get returns a new record or NULL; list returns a zlistx_t of new
      records whose destructor is set, so zlistx_destroy frees them all;
    - rfk_<record>_destroy is safe twice and nulls the pointer.
    Statuses are the enums of rfk_states.h (0, UNSET, when not given); the
    store writes and reads them as their .proto names, so rows and the API
    carry the same text. Strings are UTF-8 and NULL when unset. Ids are UUID v4 strings, times are
    ISO-8601 UTC with microseconds ("2024-05-01T12:00:00.123456Z"). The
    free-form fields (budget, train_args, knobs, proposal, policies, progress,
    dependencies, metrics and plot data, service info) are jansson json_t *
    values, owned by the record; NULL is SQL NULL. Integers that are unset
    read as 0; a trial's score that is unset reads as NAN.

    Errors: functions return 0 / -1 or a pointer / NULL; after a failure
    rfk_store_code says what went wrong and rfk_store_message says it in a
    sentence naming the record and field:
    - RFK_CODE_BAD_REQUEST: a required field is missing or a value is out of
      its set (a status, a user type, an access right);
    - RFK_CODE_NOT_FOUND: no row with that id (also: a record refers to a
      dataset, model, trial ... that does not exist);
    - RFK_CODE_CONFLICT: a duplicate email, model name per user, app version
      per user, trial number per sub train job, a second running inference
      job of a train job, a delete of a row others still refer to, or a
      schema newer than this binary knows;
    - RFK_CODE_UNAVAILABLE: the database cannot be reached, is locked past
      the busy timeout, or is full;
    - RFK_CODE_INTERNAL: anything else the database said.
    Nothing in the store aborts the process.

    One store handle belongs to one thread (admin's loop). Do not share a
    handle across fork(): open a new one in the child.
*/
#ifndef RFK_STORE_H_INCLUDED
#define RFK_STORE_H_INCLUDED

#include "rfk_msg.h"
#include "rfk_states.h"

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rfk_store rfk_store_t;

/* A page of a list: at most `limit` rows (0: no limit) after skipping
   `offset`. A NULL page means every row. */
typedef struct {
    int64_t limit;
    int64_t offset;
} rfk_page_t;

/* The error of a failed rfk_store_open. */
typedef struct {
    rfk_code_t code;
    char message[512];
} rfk_store_error_t;

/* USERS. user_type: SUPERADMIN, ADMIN, MODEL_DEVELOPER, APP_DEVELOPER. */
typedef struct {
    char *id;
    char *email;         /* unique */
    char *password_hash; /* as the caller hashed it (crypto_pwhash_str) */
    char *user_type;
    char *banned_date; /* NULL unless banned */
    char *datetime_created;
} rfk_user_t;

/* DATASETS: a file under <data_dir>/datasets/. */
typedef struct {
    char *id;
    char *name;
    char *task;
    char *owner_id;         /* user id */
    char *store_dataset_id; /* the file's name under datasets/ */
    int64_t size_bytes;
    char *datetime_created;
} rfk_dataset_t;

/* MODELS: a model template .so under <data_dir>/models/. access_right:
   PRIVATE (the default) or PUBLIC. */
typedef struct {
    char *id;
    char *user_id;
    char *name; /* unique per user */
    char *task;
    char *model_class;
    char *model_file; /* the template's path under models/ */
    char *docker_image;
    json_t *dependencies; /* {"package": "version", ...} */
    char *access_right;
    char *datetime_created;
    json_t *knobs; /* the template's knob table (array), NULL: uploaded before it was kept */
} rfk_model_t;

/* SERVICES: one dynamic process (advisor, trainer, predictor, inference
   worker). service_type: ADVISOR, TRAIN, PREDICT, INFERENCE. status:
   STARTED (the default), DEPLOYING, RUNNING, STOPPED, ERRORED. */
typedef struct {
    char *id;
    char *service_type;
    rfk_service_status_t status;
    char *docker_image;
    char *container_manager_type; /* the launcher: "local", "swarm" */
    int64_t replicas;
    int64_t gpus;
    char *hostname; /* inside the cluster */
    int64_t port;
    char *ext_hostname; /* as clients reach it (predictor_host) */
    int64_t ext_port;
    char *container_service_name;
    char *container_service_id; /* launcher handle: pid, swarm service id */
    json_t *container_service_info;
    json_t *service_info; /* role-specific settings */
    char *secret_hash;    /* hash of the per-service secret */
    char *datetime_started;
    char *datetime_stopped;   /* set when STOPPED or ERRORED */
    char *datetime_heartbeat; /* last heartbeat seen */
    int64_t pid;              /* local launcher: the service's process, 0 when none */
    int64_t pid_start_time;   /* its start time (/proc/<pid>/stat field 22), 0 when none */
} rfk_service_t;

/* SUB TRAIN JOBS: one per model of a train job. status as the train job. */
typedef struct {
    char *id;
    char *train_job_id;
    char *model_id;
    rfk_job_status_t status;
    char *advisor_service_id; /* NULL until the advisor is created */
    char *datetime_started;
    char *datetime_stopped;
} rfk_sub_train_job_t;

/* TRAIN JOBS with their sub train jobs. status: STARTED (the default),
   RUNNING, STOPPED, ERRORED. app_version is given by the store: 1 + the
   highest version of the user's app. */
typedef struct {
    char *id;
    char *user_id;
    char *app;
    int64_t app_version;
    char *task;
    json_t *budget; /* {"MODEL_TRIAL_COUNT": 5, "TIME_HOURS": 1, ...} */
    char *train_dataset_id;
    char *val_dataset_id;
    json_t *train_args;
    rfk_job_status_t status;
    char *datetime_started;
    char *datetime_stopped;
    size_t sub_train_job_count;
    rfk_sub_train_job_t *sub_train_jobs; /* array of sub_train_job_count */
} rfk_train_job_t;

/* TRAIN JOB WORKERS: a trainer service of a sub train job. */
typedef struct {
    char *service_id;
    char *sub_train_job_id;
} rfk_train_job_worker_t;

/* TRIALS: the store's trial record (a trial running in a child is the
   runner's rfk_runner_trial_t, what the tuner learns from a trial its
   rfk_tune_observation_t). status: PENDING (the default), RUNNING,
   COMPLETED, ERRORED, PRUNED. no is unique per sub train job; 0 on create means the next.
   train_job_id, and model_id when NULL, are taken from the sub train job. */
typedef struct {
    char *id;
    int64_t no;
    char *sub_train_job_id;
    char *train_job_id;
    char *model_id;
    char *worker_id; /* the trainer's service id */
    rfk_trial_status_t status;
    json_t *knobs;
    json_t *proposal;      /* the advisor's proposal as sent */
    json_t *policies;      /* ["EARLY_STOP", "SHARE_PARAMS", ...] */
    json_t *progress;      /* {"step": n, "score": s, ...} */
    double score;          /* NAN until scored */
    char *store_params_id; /* the parameters' file under params/ */
    char *datetime_started;
    char *datetime_updated;
    char *datetime_stopped; /* set when COMPLETED, ERRORED or PRUNED */
} rfk_trial_t;

/* TRIAL LOGS: one line a model logged. type: MESSAGE (message and level),
   METRICS (data is {"name": value, ...}) or PLOT (data is the plot's
   definition: {"title", "metrics": [...], "x_axis"}). seq orders a trial's
   logs and is given by the store. */
typedef struct {
    char *id;
    char *trial_id;
    int64_t seq;
    char *datetime; /* when it was logged; now if NULL */
    char *type;
    char *level; /* INFO, WARNING, ERROR ... for messages */
    char *message;
    json_t *data;
} rfk_trial_log_t;

/* INFERENCE JOB WORKERS: an inference service holding one trial. */
typedef struct {
    char *service_id;
    char *inference_job_id;
    char *trial_id;
} rfk_inference_job_worker_t;

/* INFERENCE JOBS with their workers. status as train jobs. At most one
   inference job of a train job is STARTED or RUNNING at a time. */
typedef struct {
    char *id;
    char *user_id;
    char *train_job_id;
    json_t *budget;
    int64_t max_trials;
    int64_t replicas;
    rfk_job_status_t status;
    char *predictor_service_id;
    char *datetime_started;
    char *datetime_stopped;
    char *auth; /* "token": queries need a serving key; "open" or NULL: anyone may query */
    size_t worker_count;
    rfk_inference_job_worker_t *workers; /* array of worker_count */
} rfk_inference_job_t;

/* SERVING KEYS of an inference job with auth "token" (issue 14): only the
   hash of each key is kept (rfk_serving_keys.h); revoking deletes it. */
typedef struct {
    char *id;
    char *inference_job_id;
    char *hash;  /* the key's hash, hex */
    char *label; /* what the owner calls it, or NULL */
    char *datetime_created;
} rfk_serving_key_t;

/* The order of a trial list. */
typedef enum {
    RFK_TRIALS_BY_NO = 0, /* every trial, in the order they were proposed */
    RFK_TRIALS_BEST = 1   /* COMPLETED trials with a score, best first */
} rfk_trial_order_t;

/* ---- the store ------------------------------------------------------- */

/* Opens the store at `url` (NULL or "" for <data_dir>/rafiki.db, creating
   data_dir if needed) and brings its schema up to date. NULL on failure,
   with the reason in *err when err is not NULL. */
rfk_store_t *
rfk_store_open (const char *url, const char *data_dir, rfk_store_error_t *err);
void
rfk_store_destroy (rfk_store_t **self_p);
/* The last failure's code and message (RFK_CODE_OK and "" after a success). */
rfk_code_t
rfk_store_code (rfk_store_t *self);
const char *
rfk_store_message (rfk_store_t *self);
/* "sqlite" or "postgresql". */
const char *
rfk_store_backend (rfk_store_t *self);
/* The schema version of the open store, and the newest this binary knows. */
int
rfk_store_schema_version (rfk_store_t *self);
int
rfk_store_latest_schema_version (void);
/* Test hook: called at named steps inside multi-row transactions
   ("sub_train_job" after each sub train job is written,
   "inference_job_worker" after each inference job worker). */
typedef void (rfk_store_hook_fn) (const char *step, void *arg);
void
rfk_store_set_hook (rfk_store_t *self, rfk_store_hook_fn *hook, void *arg);
/* How many times the store was called (every function that reads or
   writes, including begin and commit), for tests counting round trips. */
uint64_t
rfk_store_calls (rfk_store_t *self);
/* A transaction over several calls: the calls between begin and commit
   are written together or not at all. Transactions nest (the store's own
   multi-row writes join the caller's); a failure inside dooms the whole
   transaction, whose commit then fails and writes nothing. Call
   rfk_store_rollback after a failed call to give up early. */
int
rfk_store_begin (rfk_store_t *self);
int
rfk_store_commit (rfk_store_t *self);
void
rfk_store_rollback (rfk_store_t *self);

/* ---- users ----------------------------------------------------------- */
rfk_user_t *
rfk_store_create_user (rfk_store_t *self, const rfk_user_t *user);
rfk_user_t *
rfk_store_get_user (rfk_store_t *self, const char *id);
rfk_user_t *
rfk_store_get_user_by_email (rfk_store_t *self, const char *email);
zlistx_t *
rfk_store_list_users (rfk_store_t *self, const rfk_page_t *page);
/* Sets banned_date to now (if not banned already). */
int
rfk_store_ban_user (rfk_store_t *self, const char *id);
void
rfk_user_destroy (rfk_user_t **self_p);

/* ---- datasets -------------------------------------------------------- */
rfk_dataset_t *
rfk_store_create_dataset (rfk_store_t *self, const rfk_dataset_t *dataset);
rfk_dataset_t *
rfk_store_get_dataset (rfk_store_t *self, const char *id);
/* The owner's datasets, of `task` unless NULL, oldest first. */
zlistx_t *
rfk_store_list_datasets (rfk_store_t *self, const char *owner_id, const char *task,
                         const rfk_page_t *page);
/* CONFLICT while a train job uses it. */
int
rfk_store_delete_dataset (rfk_store_t *self, const char *id);
void
rfk_dataset_destroy (rfk_dataset_t **self_p);

/* ---- models ---------------------------------------------------------- */
rfk_model_t *
rfk_store_create_model (rfk_store_t *self, const rfk_model_t *model);
rfk_model_t *
rfk_store_get_model (rfk_store_t *self, const char *id);
rfk_model_t *
rfk_store_get_model_by_name (rfk_store_t *self, const char *user_id, const char *name);
/* Models of `user_id` (every user's if NULL), of `task` unless NULL. */
zlistx_t *
rfk_store_list_models (rfk_store_t *self, const char *user_id, const char *task,
                       const rfk_page_t *page);
/* The user's own models and every PUBLIC model, of `task` unless NULL. */
zlistx_t *
rfk_store_list_available_models (rfk_store_t *self, const char *user_id, const char *task,
                                 const rfk_page_t *page);
/* CONFLICT while a train job uses it. */
int
rfk_store_delete_model (rfk_store_t *self, const char *id);
void
rfk_model_destroy (rfk_model_t **self_p);

/* ---- services -------------------------------------------------------- */
rfk_service_t *
rfk_store_create_service (rfk_store_t *self, const rfk_service_t *service);
rfk_service_t *
rfk_store_get_service (rfk_store_t *self, const char *id);
/* Writes every field but id and datetime_started; sets datetime_stopped
   when the status becomes STOPPED or ERRORED and it was unset. */
int
rfk_store_update_service (rfk_store_t *self, const rfk_service_t *service);
int
rfk_store_update_service_status (rfk_store_t *self, const char *id, rfk_service_status_t status);
/* Records a heartbeat now. */
int
rfk_store_touch_service (rfk_store_t *self, const char *id);
/* Records where a local service runs: its pid and the pid's start time
   (0, 0: none). 0, or -1 (NOT_FOUND for an unknown id). */
int
rfk_store_set_service_process (rfk_store_t *self, const char *id, int64_t pid, int64_t start_time);
/* Services (STARTED, DEPLOYING or RUNNING only when active_only), oldest
   first. */
zlistx_t *
rfk_store_list_services (rfk_store_t *self, bool active_only, const rfk_page_t *page);
void
rfk_service_destroy (rfk_service_t **self_p);

/* ---- train jobs ------------------------------------------------------ */
/* Writes the job and one sub train job per entry of sub_train_jobs (only
   model_id is read from them) in one transaction. */
rfk_train_job_t *
rfk_store_create_train_job (rfk_store_t *self, const rfk_train_job_t *job);
rfk_train_job_t *
rfk_store_get_train_job (rfk_store_t *self, const char *id);
/* The user's train job of app at app_version, -1 for the latest. */
rfk_train_job_t *
rfk_store_get_train_job_by_app (rfk_store_t *self, const char *user_id, const char *app,
                                int64_t app_version);
/* Train jobs of user_id (everyone's if NULL), of app unless NULL, STARTED or
   RUNNING only when active_only; by app, then version. */
zlistx_t *
rfk_store_list_train_jobs (rfk_store_t *self, const char *user_id, const char *app,
                           bool active_only, const rfk_page_t *page);
/* Sets the status; STOPPED and ERRORED also set datetime_stopped. */
int
rfk_store_update_train_job_status (rfk_store_t *self, const char *id, rfk_job_status_t status);
void
rfk_train_job_destroy (rfk_train_job_t **self_p);

rfk_sub_train_job_t *
rfk_store_get_sub_train_job (rfk_store_t *self, const char *id);
/* The sub train job whose advisor is service_id. */
rfk_sub_train_job_t *
rfk_store_get_sub_train_job_by_advisor (rfk_store_t *self, const char *service_id);
int
rfk_store_update_sub_train_job_status (rfk_store_t *self, const char *id, rfk_job_status_t status);
/* Creates the advisor's service and links it to the sub train job, in one
   transaction. Returns the service as stored. */
rfk_service_t *
rfk_store_create_advisor (rfk_store_t *self, const char *sub_train_job_id,
                          const rfk_service_t *service);
/* Creates a trainer's service and its train job worker row, in one
   transaction. Returns the service as stored. */
rfk_service_t *
rfk_store_create_train_job_worker (rfk_store_t *self, const char *sub_train_job_id,
                                   const rfk_service_t *service);
rfk_train_job_worker_t *
rfk_store_get_train_job_worker (rfk_store_t *self, const char *service_id);
/* The trainer services of a sub train job. */
zlistx_t *
rfk_store_list_train_job_workers (rfk_store_t *self, const char *sub_train_job_id);
void
rfk_sub_train_job_destroy (rfk_sub_train_job_t **self_p);
void
rfk_train_job_worker_destroy (rfk_train_job_worker_t **self_p);

/* ---- trials ---------------------------------------------------------- */
/* Writes a trial (PENDING unless status is set; no 0 takes the next). */
rfk_trial_t *
rfk_store_create_trial (rfk_store_t *self, const rfk_trial_t *trial);
rfk_trial_t *
rfk_store_get_trial (rfk_store_t *self, const char *id);
/* Writes worker_id, status, knobs, proposal, policies, progress, score and
   store_params_id; sets datetime_updated, and datetime_stopped when the
   status becomes COMPLETED, ERRORED or PRUNED. */
int
rfk_store_update_trial (rfk_store_t *self, const rfk_trial_t *trial);
/* Trials of a train job, or of one of its sub train jobs when
   sub_train_job_id is not NULL (train_job_id may then be NULL). */
zlistx_t *
rfk_store_list_trials (rfk_store_t *self, const char *train_job_id, const char *sub_train_job_id,
                       rfk_trial_order_t order, const rfk_page_t *page);
void
rfk_trial_destroy (rfk_trial_t **self_p);

/* Appends a log line to its trial; returns it as stored (seq, datetime). */
rfk_trial_log_t *
rfk_store_add_trial_log (rfk_store_t *self, const rfk_trial_log_t *log);
/* Appends count lines of one trial in one transaction. */
int
rfk_store_add_trial_logs (rfk_store_t *self, const rfk_trial_log_t *logs, size_t count);
/* A trial's logs in the order they were added. */
zlistx_t *
rfk_store_list_trial_logs (rfk_store_t *self, const char *trial_id, const rfk_page_t *page);
void
rfk_trial_log_destroy (rfk_trial_log_t **self_p);

/* ---- inference jobs -------------------------------------------------- */
/* Writes the job, its predictor service, and one service and worker row per
   entry of job->workers (only trial_id is read from them; worker_services[i]
   describes the service of workers[i]), in one transaction. */
rfk_inference_job_t *
rfk_store_create_inference_job (rfk_store_t *self, const rfk_inference_job_t *job,
                                const rfk_service_t *predictor,
                                const rfk_service_t *const *worker_services);
rfk_inference_job_t *
rfk_store_get_inference_job (rfk_store_t *self, const char *id);
/* The newest inference job of the user's app at app_version (-1: the
   latest version); only a STARTED or RUNNING one when live_only. */
rfk_inference_job_t *
rfk_store_get_inference_job_by_app (rfk_store_t *self, const char *user_id, const char *app,
                                    int64_t app_version, bool live_only);
/* Inference jobs of user_id (everyone's if NULL), STARTED or RUNNING only
   when active_only, oldest first. */
zlistx_t *
rfk_store_list_inference_jobs (rfk_store_t *self, const char *user_id, bool active_only,
                               const rfk_page_t *page);
int
rfk_store_update_inference_job_status (rfk_store_t *self, const char *id, rfk_job_status_t status);
rfk_inference_job_worker_t *
rfk_store_get_inference_job_worker (rfk_store_t *self, const char *service_id);
/* Serving keys (rfk_store_keys.c): a new key's record (id and time set
   here), the keys of an inference job oldest first (an array of *count, to
   free with rfk_serving_keys_free; 0, or -1 with the failure set), one key,
   and revoking one (deleting it). */
rfk_serving_key_t *
rfk_store_create_serving_key (rfk_store_t *self, const rfk_serving_key_t *key);
int
rfk_store_list_serving_keys (rfk_store_t *self, const char *inference_job_id,
                             rfk_serving_key_t **keys_p, size_t *count_p);
rfk_serving_key_t *
rfk_store_get_serving_key (rfk_store_t *self, const char *id);
int
rfk_store_delete_serving_key (rfk_store_t *self, const char *id);
void
rfk_serving_key_destroy (rfk_serving_key_t **self_p);
void
rfk_serving_keys_free (rfk_serving_key_t **keys_p, size_t count);
void
rfk_inference_job_destroy (rfk_inference_job_t **self_p);
void
rfk_inference_job_worker_destroy (rfk_inference_job_worker_t **self_p);

/* ---- roll-ups --------------------------------------------------------- */
/* A service of a job as a roll-up sees it. */
typedef struct {
    char *id;
    char *service_type;
    rfk_service_status_t status; /* UNSET if the row's text is not a status */
    char *sub_train_job_id;      /* the sub train job it serves (advisors, trainers), else NULL */
} rfk_job_service_t;

/* What a job's roll-up decides on, read in one call: the train job with its
   sub train jobs, or the inference job with its workers, and every service
   of the job with its status. */
typedef struct {
    rfk_train_job_t *train_job;         /* the train job, or NULL */
    rfk_inference_job_t *inference_job; /* the inference job, or NULL */
    size_t service_count;
    rfk_job_service_t *services; /* array of service_count */
} rfk_job_state_t;

/* The state of the train job train_job_id, or (when it is NULL) of the
   inference job inference_job_id. NULL when there is no such job. */
rfk_job_state_t *
rfk_store_get_job_state (rfk_store_t *self, const char *train_job_id, const char *inference_job_id);
void
rfk_job_state_destroy (rfk_job_state_t **self_p);

/* The record whose status a change sets. */
typedef enum {
    RFK_STATUS_OF_SERVICE,
    RFK_STATUS_OF_SUB_TRAIN_JOB,
    RFK_STATUS_OF_TRAIN_JOB,
    RFK_STATUS_OF_INFERENCE_JOB
} rfk_status_of_t;

/* One status to write (borrowed id). */
typedef struct {
    rfk_status_of_t of;
    const char *id;
    union {
        rfk_service_status_t service; /* of RFK_STATUS_OF_SERVICE */
        rfk_job_status_t job;         /* of the sub train job, train job, inference job */
    } status;
} rfk_status_change_t;

/* Writes count statuses as the rfk_store_update_*_status functions do,
   in one transaction when there are several: all or none. */
int
rfk_store_set_statuses (rfk_store_t *self, const rfk_status_change_t *changes, size_t count);

#ifdef __cplusplus
}
#endif

#endif
