/*  rfk_store_schema.c: the metadata store's schema, as versioned migrations.

    The one place the schema is written. Each entry brings the schema one
    version up; it is a list of statements (one string each), written once in
    SQL that SQLite and PostgreSQL both take:
    TEXT, INTEGER, BIGINT and DOUBLE PRECISION columns, CHECK constraints,
    foreign keys without cascades (so a row still referred to cannot be
    deleted), partial indexes. Ids are UUID text, times ISO-8601 UTC text
    (they sort as they compare), JSON fields are text. Never edit a released
    migration: append a new one. rfk_store.c applies the missing ones at open,
    each in its own transaction with its row in schema_version.
*/
#include "rfk_store_driver.h"

/* 1: the records Rafiki keeps, plus trial policies and progress, service
   secrets' hashes and heartbeats. */
static const char *const s_version_1[] = {
    "CREATE TABLE users ("
    "  id TEXT PRIMARY KEY,"
    "  email TEXT NOT NULL UNIQUE,"
    "  password_hash TEXT NOT NULL,"
    "  user_type TEXT NOT NULL CHECK (user_type IN ('SUPERADMIN', 'ADMIN', 'MODEL_DEVELOPER', "
    "'APP_DEVELOPER')),"
    "  banned_date TEXT,"
    "  datetime_created TEXT NOT NULL)",
    "CREATE TABLE datasets ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  task TEXT NOT NULL,"
    "  owner_id TEXT NOT NULL REFERENCES users (id),"
    "  store_dataset_id TEXT NOT NULL,"
    "  size_bytes BIGINT NOT NULL DEFAULT 0,"
    "  datetime_created TEXT NOT NULL)",
    "CREATE INDEX datasets_by_owner ON datasets (owner_id, task)",
    "CREATE TABLE models ("
    "  id TEXT PRIMARY KEY,"
    "  user_id TEXT NOT NULL REFERENCES users (id),"
    "  name TEXT NOT NULL,"
    "  task TEXT NOT NULL,"
    "  model_class TEXT NOT NULL,"
    "  model_file TEXT NOT NULL,"
    "  docker_image TEXT,"
    "  dependencies TEXT,"
    "  access_right TEXT NOT NULL CHECK (access_right IN ('PRIVATE', 'PUBLIC')),"
    "  datetime_created TEXT NOT NULL,"
    "  UNIQUE (user_id, name))",
    "CREATE INDEX models_by_task ON models (task, access_right)",
    "CREATE TABLE services ("
    "  id TEXT PRIMARY KEY,"
    "  service_type TEXT NOT NULL CHECK (service_type IN ('ADVISOR', 'TRAIN', 'PREDICT', "
    "'INFERENCE')),"
    "  status TEXT NOT NULL CHECK (status IN ('STARTED', 'DEPLOYING', 'RUNNING', 'STOPPED', "
    "'ERRORED')),"
    "  docker_image TEXT,"
    "  container_manager_type TEXT,"
    "  replicas INTEGER NOT NULL DEFAULT 1,"
    "  gpus INTEGER NOT NULL DEFAULT 0,"
    "  hostname TEXT,"
    "  port INTEGER NOT NULL DEFAULT 0,"
    "  ext_hostname TEXT,"
    "  ext_port INTEGER NOT NULL DEFAULT 0,"
    "  container_service_name TEXT,"
    "  container_service_id TEXT,"
    "  container_service_info TEXT,"
    "  service_info TEXT,"
    "  secret_hash TEXT,"
    "  datetime_started TEXT NOT NULL,"
    "  datetime_stopped TEXT,"
    "  datetime_heartbeat TEXT)",
    "CREATE INDEX services_by_status ON services (status)",
    "CREATE TABLE train_jobs ("
    "  id TEXT PRIMARY KEY,"
    "  user_id TEXT NOT NULL REFERENCES users (id),"
    "  app TEXT NOT NULL,"
    "  app_version INTEGER NOT NULL,"
    "  task TEXT NOT NULL,"
    "  budget TEXT NOT NULL,"
    "  train_dataset_id TEXT NOT NULL REFERENCES datasets (id),"
    "  val_dataset_id TEXT NOT NULL REFERENCES datasets (id),"
    "  train_args TEXT,"
    "  status TEXT NOT NULL CHECK (status IN ('STARTED', 'RUNNING', 'STOPPED', 'ERRORED')),"
    "  datetime_started TEXT NOT NULL,"
    "  datetime_stopped TEXT,"
    "  UNIQUE (user_id, app, app_version))",
    "CREATE INDEX train_jobs_by_status ON train_jobs (status)",
    "CREATE INDEX train_jobs_by_train_dataset ON train_jobs (train_dataset_id)",
    "CREATE INDEX train_jobs_by_val_dataset ON train_jobs (val_dataset_id)",
    "CREATE TABLE sub_train_jobs ("
    "  id TEXT PRIMARY KEY,"
    "  train_job_id TEXT NOT NULL REFERENCES train_jobs (id),"
    "  model_id TEXT NOT NULL REFERENCES models (id),"
    "  status TEXT NOT NULL CHECK (status IN ('STARTED', 'RUNNING', 'STOPPED', 'ERRORED')),"
    "  advisor_service_id TEXT REFERENCES services (id),"
    "  datetime_started TEXT NOT NULL,"
    "  datetime_stopped TEXT)",
    "CREATE INDEX sub_train_jobs_by_job ON sub_train_jobs (train_job_id)",
    "CREATE INDEX sub_train_jobs_by_model ON sub_train_jobs (model_id)",
    "CREATE INDEX sub_train_jobs_by_advisor ON sub_train_jobs (advisor_service_id)",
    "CREATE TABLE train_job_workers ("
    "  service_id TEXT PRIMARY KEY REFERENCES services (id),"
    "  sub_train_job_id TEXT NOT NULL REFERENCES sub_train_jobs (id))",
    "CREATE INDEX train_job_workers_by_job ON train_job_workers (sub_train_job_id)",
    "CREATE TABLE trials ("
    "  id TEXT PRIMARY KEY,"
    "  no INTEGER NOT NULL,"
    "  sub_train_job_id TEXT NOT NULL REFERENCES sub_train_jobs (id),"
    "  train_job_id TEXT NOT NULL REFERENCES train_jobs (id),"
    "  model_id TEXT NOT NULL REFERENCES models (id),"
    "  worker_id TEXT,"
    "  status TEXT NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'ERRORED', "
    "'PRUNED')),"
    "  knobs TEXT,"
    "  proposal TEXT,"
    "  policies TEXT,"
    "  progress TEXT,"
    "  score DOUBLE PRECISION,"
    "  store_params_id TEXT,"
    "  datetime_started TEXT NOT NULL,"
    "  datetime_updated TEXT NOT NULL,"
    "  datetime_stopped TEXT,"
    "  UNIQUE (sub_train_job_id, no))",
    /* Listing a job's trials best first walks these in order and stops after
       the page, instead of sorting every trial of the job. */
    "CREATE INDEX trials_best_of_job ON trials"
    "  (train_job_id, status, score DESC, datetime_started, id)",
    "CREATE INDEX trials_best_of_sub_job ON trials (sub_train_job_id, status, score DESC, no, id)",
    "CREATE INDEX trials_of_job ON trials (train_job_id, datetime_started, no, id)",
    "CREATE INDEX trials_by_model ON trials (model_id)",
    "CREATE TABLE trial_logs ("
    "  id TEXT PRIMARY KEY,"
    "  trial_id TEXT NOT NULL REFERENCES trials (id),"
    "  seq INTEGER NOT NULL,"
    "  datetime TEXT NOT NULL,"
    "  type TEXT NOT NULL CHECK (type IN ('MESSAGE', 'METRICS', 'PLOT')),"
    "  level TEXT,"
    "  message TEXT,"
    "  data TEXT,"
    "  UNIQUE (trial_id, seq))",
    "CREATE TABLE inference_jobs ("
    "  id TEXT PRIMARY KEY,"
    "  user_id TEXT NOT NULL REFERENCES users (id),"
    "  train_job_id TEXT NOT NULL REFERENCES train_jobs (id),"
    "  budget TEXT,"
    "  max_trials INTEGER NOT NULL DEFAULT 0,"
    "  replicas INTEGER NOT NULL DEFAULT 0,"
    "  status TEXT NOT NULL CHECK (status IN ('STARTED', 'RUNNING', 'STOPPED', 'ERRORED')),"
    "  predictor_service_id TEXT REFERENCES services (id),"
    "  datetime_started TEXT NOT NULL,"
    "  datetime_stopped TEXT)",
    "CREATE INDEX inference_jobs_by_user ON inference_jobs (user_id, status)",
    "CREATE UNIQUE INDEX inference_jobs_one_running ON inference_jobs (train_job_id) WHERE status "
    "IN ('STARTED', 'RUNNING')",
    "CREATE INDEX inference_jobs_by_train_job ON inference_jobs (train_job_id)",
    "CREATE TABLE inference_job_workers ("
    "  service_id TEXT PRIMARY KEY REFERENCES services (id),"
    "  inference_job_id TEXT NOT NULL REFERENCES inference_jobs (id),"
    "  trial_id TEXT NOT NULL REFERENCES trials (id))",
    "CREATE INDEX inference_job_workers_by_job ON inference_job_workers (inference_job_id)",
    "CREATE INDEX inference_job_workers_by_trial ON inference_job_workers (trial_id)",
    NULL,
};

/* 2: a model's knob table (JSON text, the array rfk_knob_table_to_json
   makes), from the check program's report at upload (issue 13): the
   advisor gets it in its ServiceConfig and never loads a template. NULL
   for models uploaded before. */
static const char *const s_version_2[] = {
    "ALTER TABLE models ADD COLUMN knobs TEXT",
    NULL,
};

/* 3: where a local service runs, so that an admin that restarted finds it
   again (its pid, and the pid's start time from /proc, which tells the
   service from a later process that got the same pid). Existing databases
   gain the columns in place. */
static const char *const s_version_3[] = {
    "ALTER TABLE services ADD COLUMN pid BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE services ADD COLUMN pid_start_time BIGINT NOT NULL DEFAULT 0",
    NULL,
};

/* 4: serving keys (issue 14): an inference job created with auth "token"
   answers only queries that carry one of its keys, of which the store
   keeps the hashes. NULL auth: open, as every job before. */
static const char *const s_version_4[] = {
    "ALTER TABLE inference_jobs ADD COLUMN auth TEXT",
    "CREATE TABLE serving_keys ("
    "  id TEXT PRIMARY KEY,"
    "  inference_job_id TEXT NOT NULL REFERENCES inference_jobs (id),"
    "  hash TEXT NOT NULL,"
    "  label TEXT,"
    "  datetime_created TEXT NOT NULL)",
    "CREATE INDEX serving_keys_by_job ON serving_keys (inference_job_id)",
    NULL,
};

const char *const *const rfk_store_migrations[] = {
    s_version_1,
    s_version_2,
    s_version_3,
    s_version_4,
};

const size_t rfk_store_migration_count =
    sizeof (rfk_store_migrations) / sizeof (rfk_store_migrations[0]);
