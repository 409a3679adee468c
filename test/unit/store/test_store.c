/*  test_store.c: the metadata store suite, run against one backend.

    `test_store sqlite` or `test_store postgresql`: meson registers both.
    Every case gets a fresh store (a new SQLite file, or a new PostgreSQL
    database on the server RAFIKI_TEST_PG_URL names). Without that variable
    the PostgreSQL run reports the whole suite as skipped.
*/
#define _GNU_SOURCE
#include "store_fixture.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

static bool s_postgres = false;

/* Fails the test with the store's own words when expr is false. */
#define ASSERT_OK(store, expr)                                                                     \
    do {                                                                                           \
        if (!(expr))                                                                               \
            fail_msg ("%s failed: %s", #expr, rfk_store_message (store));                          \
    } while (0)

/* Asserts that the store's last call failed with code. */
#define ASSERT_CODE(store, code)                                                                   \
    do {                                                                                           \
        if (rfk_store_code (store) != (code))                                                      \
            fail_msg ("expected %s, got %s: %s", #code,                                            \
                      rfk_code_name_local (rfk_store_code (store)), rfk_store_message (store));    \
    } while (0)

static const char *
rfk_code_name_local (rfk_code_t code)
{
    static const char *names[] = {"OK",        "BAD_REQUEST",     "UNAUTHORIZED", "FORBIDDEN",
                                  "NOT_FOUND", "CONFLICT",        "TOO_LARGE",    "UNAVAILABLE",
                                  "MALFORMED", "UNKNOWN_MESSAGE", "TIMEOUT",      "INTERNAL"};
    return (unsigned)code < sizeof names / sizeof names[0] ? names[code] : "?";
}

static int
s_setup (void **state)
{
    store_fixture_t *fixture = store_fixture_new (s_postgres);
    if (!fixture)
        return -1;
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    store_fixture_destroy (&fixture);
    return 0;
}

static rfk_store_t *
s_store (void **state)
{
    return ((store_fixture_t *)*state)->store;
}

/* ---- makers of records the tests build on ---------------------------- */

static rfk_user_t *
s_user (rfk_store_t *store, const char *email, const char *user_type)
{
    rfk_user_t in = {.email = (char *)email,
                     .password_hash = "$argon2id$v=19$not-a-real-hash",
                     .user_type = (char *)user_type};
    rfk_user_t *user = rfk_store_create_user (store, &in);
    ASSERT_OK (store, user);
    return user;
}

static rfk_dataset_t *
s_dataset (rfk_store_t *store, const rfk_user_t *owner, const char *name, const char *task)
{
    rfk_dataset_t in = {.name = (char *)name,
                        .task = (char *)task,
                        .owner_id = owner->id,
                        .store_dataset_id = "file.zip",
                        .size_bytes = 1234};
    rfk_dataset_t *dataset = rfk_store_create_dataset (store, &in);
    ASSERT_OK (store, dataset);
    return dataset;
}

static rfk_model_t *
s_model (rfk_store_t *store, const rfk_user_t *owner, const char *name, const char *access)
{
    rfk_model_t in = {.user_id = owner->id,
                      .name = (char *)name,
                      .task = "IMAGE_CLASSIFICATION",
                      .model_class = "SkDt",
                      .model_file = "models/skdt.so",
                      .docker_image = "rafiki/worker",
                      .dependencies = json_pack ("{s:s}", "xgboost", "1.7"),
                      .access_right = (char *)access};
    rfk_model_t *model = rfk_store_create_model (store, &in);
    json_decref (in.dependencies);
    ASSERT_OK (store, model);
    return model;
}

/* A world to run jobs in: a user, two datasets, two models. */
typedef struct {
    rfk_user_t *user;
    rfk_dataset_t *train;
    rfk_dataset_t *val;
    rfk_model_t *models[2];
} s_world_t;

static void
s_world_new (rfk_store_t *store, s_world_t *world)
{
    world->user = s_user (store, "app@rafiki", "APP_DEVELOPER");
    world->train = s_dataset (store, world->user, "fashion-train", "IMAGE_CLASSIFICATION");
    world->val = s_dataset (store, world->user, "fashion-val", "IMAGE_CLASSIFICATION");
    world->models[0] = s_model (store, world->user, "SkDt", "PUBLIC");
    world->models[1] = s_model (store, world->user, "TfFeedForward", "PRIVATE");
}

static void
s_world_destroy (s_world_t *world)
{
    rfk_user_destroy (&world->user);
    rfk_dataset_destroy (&world->train);
    rfk_dataset_destroy (&world->val);
    rfk_model_destroy (&world->models[0]);
    rfk_model_destroy (&world->models[1]);
}

static rfk_train_job_t *
s_train_job (rfk_store_t *store, s_world_t *world, const char *app)
{
    rfk_sub_train_job_t subs[2] = {{.model_id = world->models[0]->id},
                                   {.model_id = world->models[1]->id}};
    rfk_train_job_t in = {.user_id = world->user->id,
                          .app = (char *)app,
                          .task = "IMAGE_CLASSIFICATION",
                          .budget =
                              json_pack ("{s:i,s:f}", "MODEL_TRIAL_COUNT", 5, "TIME_HOURS", 0.5),
                          .train_dataset_id = world->train->id,
                          .val_dataset_id = world->val->id,
                          .train_args = json_pack ("{s:s}", "target", "class"),
                          .sub_train_job_count = 2,
                          .sub_train_jobs = subs};
    rfk_train_job_t *job = rfk_store_create_train_job (store, &in);
    json_decref (in.budget);
    json_decref (in.train_args);
    ASSERT_OK (store, job);
    return job;
}

static rfk_trial_t *
s_trial (rfk_store_t *store, const rfk_sub_train_job_t *sub, double score)
{
    rfk_trial_t in = {.sub_train_job_id = sub->id,
                      .model_id = sub->model_id,
                      .worker_id = "worker-1",
                      .knobs = json_pack ("{s:i}", "max_depth", 3),
                      .score = NAN};
    rfk_trial_t *trial = rfk_store_create_trial (store, &in);
    json_decref (in.knobs);
    ASSERT_OK (store, trial);
    if (!isnan (score)) {
        trial->status = RFK_TRIAL_COMPLETED;
        trial->score = score;
        ASSERT_OK (store, rfk_store_update_trial (store, trial) == 0);
    }
    return trial;
}

static rfk_service_t
s_service_in (const char *type)
{
    rfk_service_t service = {.service_type = (char *)type,
                             .docker_image = "rafiki/worker",
                             .container_manager_type = "local",
                             .replicas = 1,
                             .secret_hash = "hash-of-secret"};
    return service;
}

/* ---- the usage example ----------------------------------------------- */

/* How admin uses the store: open it, record a user, a dataset, a model, a
   train job with its sub train jobs, trials with logs, read the best trial
   back, and deploy it as an inference job. */
static void
test_usage (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    rfk_store_destroy (&fixture->store);

    rfk_store_error_t err;
    rfk_store_t *store = rfk_store_open (fixture->url, fixture->dir, &err);
    if (!store)
        fail_msg ("open %s: %s", fixture->url, err.message);
    assert_string_equal (rfk_store_backend (store), s_postgres ? "postgresql" : "sqlite");
    assert_int_equal (rfk_store_schema_version (store), rfk_store_latest_schema_version ());

    rfk_user_t user_in = {.email = "alice@example.com",
                          .password_hash = "$argon2id$...",
                          .user_type = "APP_DEVELOPER"};
    rfk_user_t *user = rfk_store_create_user (store, &user_in);
    ASSERT_OK (store, user);
    assert_int_equal (strlen (user->id), 36);
    assert_int_equal (user->id[14], '4'); /* UUID v4 */

    rfk_dataset_t dataset_in = {.name = "mnist",
                                .task = "IMAGE_CLASSIFICATION",
                                .owner_id = user->id,
                                .store_dataset_id = "5f0c.zip",
                                .size_bytes = 1 << 20};
    rfk_dataset_t *dataset = rfk_store_create_dataset (store, &dataset_in);
    ASSERT_OK (store, dataset);

    rfk_model_t model_in = {.user_id = user->id,
                            .name = "SkDt",
                            .task = "IMAGE_CLASSIFICATION",
                            .model_class = "SkDt",
                            .model_file = "models/skdt.so",
                            .access_right = "PUBLIC"};
    rfk_model_t *model = rfk_store_create_model (store, &model_in);
    ASSERT_OK (store, model);

    rfk_sub_train_job_t sub_in = {.model_id = model->id};
    json_t *budget = json_pack ("{s:i}", "MODEL_TRIAL_COUNT", 2);
    rfk_train_job_t job_in = {.user_id = user->id,
                              .app = "fashion",
                              .task = "IMAGE_CLASSIFICATION",
                              .budget = budget,
                              .train_dataset_id = dataset->id,
                              .val_dataset_id = dataset->id,
                              .sub_train_job_count = 1,
                              .sub_train_jobs = &sub_in};
    rfk_train_job_t *job = rfk_store_create_train_job (store, &job_in);
    json_decref (budget);
    ASSERT_OK (store, job);
    assert_int_equal (job->app_version, 1);
    assert_int_equal (job->status, RFK_JOB_STARTED);
    assert_int_equal (job->sub_train_job_count, 1);

    for (int i = 0; i < 2; i++) {
        rfk_trial_t trial_in = {
            .sub_train_job_id = job->sub_train_jobs[0].id, .model_id = model->id, .score = NAN};
        rfk_trial_t *trial = rfk_store_create_trial (store, &trial_in);
        ASSERT_OK (store, trial);
        assert_int_equal (trial->no, i + 1);
        rfk_trial_log_t log_in = {.trial_id = trial->id,
                                  .type = "METRICS",
                                  .data = json_pack ("{s:f}", "accuracy", 0.5 + i / 10.0)};
        rfk_trial_log_t *log = rfk_store_add_trial_log (store, &log_in);
        json_decref (log_in.data);
        ASSERT_OK (store, log);
        rfk_trial_log_destroy (&log);
        trial->status = RFK_TRIAL_COMPLETED;
        trial->score = 0.5 + i / 10.0;
        trial->store_params_id = strdup ("params.msgpack");
        ASSERT_OK (store, rfk_store_update_trial (store, trial) == 0);
        rfk_trial_destroy (&trial);
    }

    rfk_page_t best_one = {.limit = 1};
    zlistx_t *best = rfk_store_list_trials (store, job->id, NULL, RFK_TRIALS_BEST, &best_one);
    ASSERT_OK (store, best);
    assert_int_equal (zlistx_size (best), 1);
    rfk_trial_t *top = (rfk_trial_t *)zlistx_first (best);
    assert_int_equal (top->no, 2);
    assert_float_equal (top->score, 0.6, 1e-12);

    rfk_service_t predictor = s_service_in ("PREDICT");
    rfk_service_t worker = s_service_in ("INFERENCE");
    const rfk_service_t *workers[] = {&worker};
    rfk_inference_job_worker_t worker_in = {.trial_id = top->id};
    rfk_inference_job_t inference_in = {.user_id = user->id,
                                        .train_job_id = job->id,
                                        .max_trials = 1,
                                        .worker_count = 1,
                                        .workers = &worker_in};
    rfk_inference_job_t *inference =
        rfk_store_create_inference_job (store, &inference_in, &predictor, workers);
    ASSERT_OK (store, inference);
    assert_string_equal (inference->workers[0].trial_id, top->id);

    rfk_inference_job_t *found =
        rfk_store_get_inference_job_by_app (store, user->id, "fashion", -1, false);
    ASSERT_OK (store, found);
    assert_string_equal (found->id, inference->id);
    assert_int_equal (found->worker_count, 1);

    rfk_inference_job_destroy (&found);
    rfk_inference_job_destroy (&inference);
    zlistx_destroy (&best);
    rfk_train_job_destroy (&job);
    rfk_model_destroy (&model);
    rfk_dataset_destroy (&dataset);
    rfk_user_destroy (&user);
    rfk_store_destroy (&store);
    rfk_store_destroy (&store); /* safe twice */
}

/* ---- opening --------------------------------------------------------- */

static void
test_open_default_is_sqlite_in_data_dir (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    char *data_dir = NULL;
    assert_true (asprintf (&data_dir, "%s/data", fixture->dir) > 0);
    rfk_store_error_t err;
    rfk_store_t *store = rfk_store_open (NULL, data_dir, &err);
    if (!store)
        fail_msg ("open default: %s", err.message);
    assert_string_equal (rfk_store_backend (store), "sqlite");
    rfk_store_destroy (&store);
    char *path = NULL;
    assert_true (asprintf (&path, "%s/rafiki.db", data_dir) > 0);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    unlink (path);
    free (path);
    assert_true (asprintf (&path, "%s/rafiki.db-wal", data_dir) > 0);
    unlink (path);
    free (path);
    assert_true (asprintf (&path, "%s/rafiki.db-shm", data_dir) > 0);
    unlink (path);
    free (path);
    rmdir (data_dir);
    free (data_dir);
}

static void
test_open_refuses_bad_urls (void **state)
{
    (void)state;
    rfk_store_error_t err;
    assert_null (rfk_store_open ("mysql://localhost/rafiki", "/tmp", &err));
    assert_int_equal (err.code, RFK_CODE_BAD_REQUEST);
    assert_non_null (strstr (err.message, "store.url"));

    assert_null (rfk_store_open (NULL, NULL, &err));
    assert_int_equal (err.code, RFK_CODE_BAD_REQUEST);

    assert_null (rfk_store_open ("sqlite:///nonexistent-dir/deeper/rafiki.db", NULL, &err));
    assert_int_equal (err.code, RFK_CODE_UNAVAILABLE);

    /* Port 1 on loopback: nothing listens there. */
    assert_null (
        rfk_store_open ("postgresql://rafiki@127.0.0.1:1/rafiki?connect_timeout=2", NULL, &err));
    assert_int_equal (err.code, RFK_CODE_UNAVAILABLE);
    assert_non_null (strstr (err.message, "postgresql"));

    assert_null (rfk_store_open ("postgresql://host/db?sslmode=%zz", NULL, &err));
    assert_int_equal (err.code, RFK_CODE_BAD_REQUEST);
    assert_non_null (strstr (err.message, "store.url"));
    assert_null (rfk_store_open ("postgresql://%zz", NULL, NULL)); /* no err: no crash */
}

static void
test_reopen_keeps_records (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    rfk_user_t *user = s_user (fixture->store, "keep@rafiki", "ADMIN");
    rfk_store_destroy (&fixture->store);
    rfk_store_error_t err;
    fixture->store = rfk_store_open (fixture->url, fixture->dir, &err);
    if (!fixture->store)
        fail_msg ("reopen: %s", err.message);
    assert_int_equal (store_fixture_count (fixture, "SELECT COUNT(*) FROM schema_version"),
                      rfk_store_latest_schema_version ());
    rfk_user_t *again = rfk_store_get_user_by_email (fixture->store, "keep@rafiki");
    ASSERT_OK (fixture->store, again);
    assert_string_equal (again->id, user->id);
    assert_string_equal (again->user_type, "ADMIN");
    rfk_user_destroy (&again);
    rfk_user_destroy (&user);
}

/* Takes away what schema version 4 added (serving keys). */
static void
s_drop_version_4 (store_fixture_t *fixture)
{
    assert_int_equal (store_fixture_sql (fixture, "DROP TABLE serving_keys"), 0);
    assert_int_equal (store_fixture_sql (fixture, "ALTER TABLE inference_jobs DROP COLUMN auth"),
                      0);
}

/* A database from before the knob table was kept (version 1) is brought
   up in place: the models table gets its knobs column, old rows keep
   theirs NULL, new rows store the table. */
static void
test_upgrade_adds_knobs (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    rfk_user_t *dev = s_user (fixture->store, "old@rafiki", "MODEL_DEVELOPER");
    rfk_model_t *old = s_model (fixture->store, dev, "Old", "PRIVATE");
    rfk_store_destroy (&fixture->store);
    //  As a database of schema version 1 was (version 3's and 4's columns go too).
    s_drop_version_4 (fixture);
    assert_int_equal (store_fixture_sql (fixture, "ALTER TABLE models DROP COLUMN knobs"), 0);
    assert_int_equal (store_fixture_sql (fixture, "ALTER TABLE services DROP COLUMN pid"), 0);
    assert_int_equal (
        store_fixture_sql (fixture, "ALTER TABLE services DROP COLUMN pid_start_time"), 0);
    assert_int_equal (store_fixture_sql (fixture, "DELETE FROM schema_version WHERE version >= 2"),
                      0);
    rfk_store_error_t err;
    fixture->store = rfk_store_open (fixture->url, fixture->dir, &err);
    if (!fixture->store)
        fail_msg ("reopen: %s", err.message);
    rfk_model_t *again = rfk_store_get_model (fixture->store, old->id);
    ASSERT_OK (fixture->store, again);
    assert_null (again->knobs);
    json_t *knobs = json_loads ("[{\"name\":\"depth\",\"type\":\"INTEGER\",\"min\":1,"
                                "\"max\":8}]",
                                0, NULL);
    rfk_model_t in = {.user_id = dev->id,
                      .name = "New",
                      .task = "TABULAR_CLASSIFICATION",
                      .model_class = "Good",
                      .model_file = "models/new.so",
                      .access_right = "PRIVATE",
                      .knobs = knobs};
    rfk_model_t *made = rfk_store_create_model (fixture->store, &in);
    ASSERT_OK (fixture->store, made);
    rfk_model_t *read = rfk_store_get_model (fixture->store, made->id);
    ASSERT_OK (fixture->store, read);
    assert_true (json_equal (read->knobs, knobs));
    json_decref (knobs);
    rfk_model_destroy (&read);
    rfk_model_destroy (&made);
    rfk_model_destroy (&again);
    rfk_model_destroy (&old);
    rfk_user_destroy (&dev);
}

static void
test_newer_schema_is_refused (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    rfk_store_destroy (&fixture->store);
    assert_int_equal (store_fixture_sql (fixture, "INSERT INTO schema_version (version, applied_at)"
                                                  " VALUES (999, '2099-01-01T00:00:00Z')"),
                      0);
    rfk_store_error_t err;
    assert_null (rfk_store_open (fixture->url, fixture->dir, &err));
    assert_int_equal (err.code, RFK_CODE_CONFLICT);
    assert_non_null (strstr (err.message, "version 999"));
    assert_non_null (strstr (err.message, "newer than this binary"));
}

/* Where a local service runs (pid, start time) is kept, and a database
   made before those columns existed gains them in place when opened. */
static void
test_service_process_and_upgrade (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    rfk_service_t in = {.service_type = "PREDICT", .secret_hash = "h"};
    rfk_service_t *service = rfk_store_create_service (fixture->store, &in);
    ASSERT_OK (fixture->store, service);
    assert_int_equal (service->pid, 0);
    assert_int_equal (rfk_store_set_service_process (fixture->store, service->id, 4242, 987654), 0);
    rfk_service_t *got = rfk_store_get_service (fixture->store, service->id);
    ASSERT_OK (fixture->store, got);
    assert_int_equal (got->pid, 4242);
    assert_int_equal (got->pid_start_time, 987654);
    rfk_service_destroy (&got);
    assert_int_equal (rfk_store_set_service_process (fixture->store, "no-such-id", 1, 1), -1);
    assert_int_equal (rfk_store_code (fixture->store), RFK_CODE_NOT_FOUND);
    //  As a database of schema version 2 was: without the columns.
    rfk_store_destroy (&fixture->store);
    s_drop_version_4 (fixture);
    assert_int_equal (store_fixture_sql (fixture, "ALTER TABLE services DROP COLUMN pid"), 0);
    assert_int_equal (
        store_fixture_sql (fixture, "ALTER TABLE services DROP COLUMN pid_start_time"), 0);
    assert_int_equal (store_fixture_sql (fixture, "DELETE FROM schema_version WHERE version >= 3"),
                      0);
    rfk_store_error_t err;
    fixture->store = rfk_store_open (fixture->url, fixture->dir, &err);
    if (!fixture->store)
        fail_msg ("reopen: %s", err.message);
    assert_int_equal (rfk_store_schema_version (fixture->store),
                      rfk_store_latest_schema_version ());
    got = rfk_store_get_service (fixture->store, service->id);
    ASSERT_OK (fixture->store, got);
    assert_int_equal (got->pid, 0);
    assert_string_equal (got->service_type, "PREDICT");
    rfk_service_destroy (&got);
    assert_int_equal (rfk_store_set_service_process (fixture->store, service->id, 7, 8), 0);
    rfk_service_destroy (&service);
}

/* ---- users ----------------------------------------------------------- */

static void
test_users (void **state)
{
    rfk_store_t *store = s_store (state);
    rfk_user_t *alice = s_user (store, "alice@rafiki", "SUPERADMIN");
    assert_string_equal (alice->email, "alice@rafiki");
    assert_null (alice->banned_date);
    assert_non_null (alice->datetime_created);
    assert_int_equal (strlen (alice->datetime_created), 27); /* 2024-05-01T12:00:00.123456Z */
    assert_int_equal (alice->datetime_created[26], 'Z');

    rfk_user_t dup = {.email = "alice@rafiki", .password_hash = "x", .user_type = "ADMIN"};
    assert_null (rfk_store_create_user (store, &dup));
    ASSERT_CODE (store, RFK_CODE_CONFLICT);
    assert_non_null (strstr (rfk_store_message (store), "alice@rafiki"));

    rfk_user_t bad_type = {.email = "b@rafiki", .password_hash = "x", .user_type = "ROOT"};
    assert_null (rfk_store_create_user (store, &bad_type));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_non_null (strstr (rfk_store_message (store), "user_type"));

    rfk_user_t no_email = {.password_hash = "x", .user_type = "ADMIN"};
    assert_null (rfk_store_create_user (store, &no_email));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_non_null (strstr (rfk_store_message (store), "email is required"));
    assert_null (rfk_store_create_user (store, NULL));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);

    rfk_user_t *got = rfk_store_get_user (store, alice->id);
    ASSERT_OK (store, got);
    assert_string_equal (got->password_hash, "$argon2id$v=19$not-a-real-hash");
    rfk_user_destroy (&got);
    assert_null (rfk_store_get_user (store, "00000000-0000-4000-8000-000000000000"));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    assert_null (rfk_store_get_user_by_email (store, "nobody@rafiki"));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);

    ASSERT_OK (store, rfk_store_ban_user (store, alice->id) == 0);
    got = rfk_store_get_user (store, alice->id);
    ASSERT_OK (store, got);
    assert_non_null (got->banned_date);
    rfk_user_destroy (&got);
    assert_int_equal (rfk_store_ban_user (store, "no-such-user"), -1);
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);

    char email[32];
    for (int i = 0; i < 5; i++) {
        snprintf (email, sizeof email, "user%d@rafiki", i);
        rfk_user_t *user = s_user (store, email, "MODEL_DEVELOPER");
        rfk_user_destroy (&user);
    }
    zlistx_t *all = rfk_store_list_users (store, NULL);
    ASSERT_OK (store, all);
    assert_int_equal (zlistx_size (all), 6);
    zlistx_destroy (&all);
    rfk_page_t page = {.limit = 2, .offset = 4};
    zlistx_t *last = rfk_store_list_users (store, &page);
    ASSERT_OK (store, last);
    assert_int_equal (zlistx_size (last), 2);
    assert_string_equal (((rfk_user_t *)zlistx_last (last))->email, "user4@rafiki");
    zlistx_destroy (&last);
    rfk_page_t negative = {.limit = -1};
    assert_null (rfk_store_list_users (store, &negative));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    rfk_user_destroy (&alice);
    rfk_user_destroy (&alice);
}

/* ---- datasets and models --------------------------------------------- */

static void
test_datasets (void **state)
{
    rfk_store_t *store = s_store (state);
    s_world_t world;
    s_world_new (store, &world);
    rfk_dataset_t *tabular = s_dataset (store, world.user, "iris", "TABULAR_CLASSIFICATION");
    assert_int_equal (tabular->size_bytes, 1234);

    zlistx_t *images =
        rfk_store_list_datasets (store, world.user->id, "IMAGE_CLASSIFICATION", NULL);
    ASSERT_OK (store, images);
    assert_int_equal (zlistx_size (images), 2);
    zlistx_destroy (&images);
    zlistx_t *every = rfk_store_list_datasets (store, world.user->id, NULL, NULL);
    ASSERT_OK (store, every);
    assert_int_equal (zlistx_size (every), 3);
    zlistx_destroy (&every);

    rfk_dataset_t orphan = {
        .name = "x", .task = "T", .owner_id = "nobody", .store_dataset_id = "f"};
    assert_null (rfk_store_create_dataset (store, &orphan));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    assert_non_null (strstr (rfk_store_message (store), "owner 'nobody'"));

    rfk_train_job_t *job = s_train_job (store, &world, "app");
    assert_int_equal (rfk_store_delete_dataset (store, world.train->id), -1);
    ASSERT_CODE (store, RFK_CODE_CONFLICT);
    assert_non_null (strstr (rfk_store_message (store), "used by a train job"));
    ASSERT_OK (store, rfk_store_delete_dataset (store, tabular->id) == 0);
    assert_null (rfk_store_get_dataset (store, tabular->id));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    assert_int_equal (rfk_store_delete_dataset (store, tabular->id), -1);
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);

    rfk_train_job_destroy (&job);
    rfk_dataset_destroy (&tabular);
    s_world_destroy (&world);
}

static void
test_models (void **state)
{
    rfk_store_t *store = s_store (state);
    rfk_user_t *dev = s_user (store, "dev@rafiki", "MODEL_DEVELOPER");
    rfk_user_t *other = s_user (store, "other@rafiki", "MODEL_DEVELOPER");
    rfk_model_t *public_model = s_model (store, dev, "SkDt", "PUBLIC");
    rfk_model_t *private_model = s_model (store, dev, "Secret", "PRIVATE");

    /* The same name is a conflict for the same user only. */
    rfk_model_t dup = {.user_id = dev->id,
                       .name = "SkDt",
                       .task = "T",
                       .model_class = "C",
                       .model_file = "f",
                       .access_right = "PRIVATE"};
    assert_null (rfk_store_create_model (store, &dup));
    ASSERT_CODE (store, RFK_CODE_CONFLICT);
    assert_non_null (strstr (rfk_store_message (store), "SkDt"));
    rfk_model_t *theirs = s_model (store, other, "SkDt", "PRIVATE");

    dup.access_right = "SHARED";
    dup.name = "Other";
    assert_null (rfk_store_create_model (store, &dup));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_non_null (strstr (rfk_store_message (store), "access_right"));

    rfk_model_t *got = rfk_store_get_model_by_name (store, dev->id, "SkDt");
    ASSERT_OK (store, got);
    assert_string_equal (got->id, public_model->id);
    assert_string_equal (json_string_value (json_object_get (got->dependencies, "xgboost")), "1.7");
    assert_string_equal (got->model_file, "models/skdt.so");
    rfk_model_destroy (&got);

    /* Available to other: their own and dev's public one, not dev's private. */
    zlistx_t *available =
        rfk_store_list_available_models (store, other->id, "IMAGE_CLASSIFICATION", NULL);
    ASSERT_OK (store, available);
    assert_int_equal (zlistx_size (available), 2);
    for (rfk_model_t *m = (rfk_model_t *)zlistx_first (available); m;
         m = (rfk_model_t *)zlistx_next (available))
        assert_string_not_equal (m->id, private_model->id);
    zlistx_destroy (&available);
    zlistx_t *none = rfk_store_list_available_models (store, other->id, "POS_TAGGING", NULL);
    ASSERT_OK (store, none);
    assert_int_equal (zlistx_size (none), 0);
    zlistx_destroy (&none);
    zlistx_t *all = rfk_store_list_models (store, NULL, NULL, NULL);
    ASSERT_OK (store, all);
    assert_int_equal (zlistx_size (all), 3);
    zlistx_destroy (&all);
    zlistx_t *devs = rfk_store_list_models (store, dev->id, NULL, NULL);
    ASSERT_OK (store, devs);
    assert_int_equal (zlistx_size (devs), 2);
    zlistx_destroy (&devs);

    ASSERT_OK (store, rfk_store_delete_model (store, theirs->id) == 0);
    assert_null (rfk_store_get_model (store, theirs->id));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);

    rfk_model_destroy (&theirs);
    rfk_model_destroy (&public_model);
    rfk_model_destroy (&private_model);
    rfk_user_destroy (&dev);
    rfk_user_destroy (&other);
}

/* ---- train jobs ------------------------------------------------------ */

static void
test_train_jobs (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    rfk_store_t *store = fixture->store;
    s_world_t world;
    s_world_new (store, &world);

    rfk_train_job_t *v1 = s_train_job (store, &world, "fashion");
    rfk_train_job_t *v2 = s_train_job (store, &world, "fashion");
    rfk_train_job_t *other = s_train_job (store, &world, "iris");
    assert_int_equal (v1->app_version, 1);
    assert_int_equal (v2->app_version, 2);
    assert_int_equal (other->app_version, 1);
    assert_int_equal (v2->sub_train_job_count, 2);
    assert_string_equal (v2->sub_train_jobs[0].train_job_id, v2->id);
    assert_string_equal (v2->sub_train_jobs[1].model_id, world.models[1]->id);
    assert_int_equal (v2->sub_train_jobs[1].status, RFK_JOB_STARTED);

    rfk_train_job_t *latest = rfk_store_get_train_job_by_app (store, world.user->id, "fashion", -1);
    ASSERT_OK (store, latest);
    assert_string_equal (latest->id, v2->id);
    assert_int_equal (json_integer_value (json_object_get (latest->budget, "MODEL_TRIAL_COUNT")),
                      5);
    assert_float_equal (json_real_value (json_object_get (latest->budget, "TIME_HOURS")), 0.5,
                        1e-12);
    assert_string_equal (json_string_value (json_object_get (latest->train_args, "target")),
                         "class");
    assert_int_equal (latest->sub_train_job_count, 2);
    rfk_train_job_destroy (&latest);
    rfk_train_job_t *first = rfk_store_get_train_job_by_app (store, world.user->id, "fashion", 1);
    ASSERT_OK (store, first);
    assert_string_equal (first->id, v1->id);
    rfk_train_job_destroy (&first);
    assert_null (rfk_store_get_train_job_by_app (store, world.user->id, "fashion", 3));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    assert_non_null (strstr (rfk_store_message (store), "version 3"));

    /* A missing model in the second sub job leaves nothing behind. */
    rfk_sub_train_job_t subs[2] = {{.model_id = world.models[0]->id}, {.model_id = "no-model"}};
    rfk_train_job_t bad = {.user_id = world.user->id,
                           .app = "fashion",
                           .task = "IMAGE_CLASSIFICATION",
                           .budget = json_object (),
                           .train_dataset_id = world.train->id,
                           .val_dataset_id = world.val->id,
                           .sub_train_job_count = 2,
                           .sub_train_jobs = subs};
    assert_null (rfk_store_create_train_job (store, &bad));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    assert_non_null (strstr (rfk_store_message (store), "model 'no-model'"));
    assert_int_equal (store_fixture_count (fixture, "SELECT COUNT(*) FROM train_jobs"), 3);
    assert_int_equal (store_fixture_count (fixture, "SELECT COUNT(*) FROM sub_train_jobs"), 6);

    subs[1].model_id = world.models[1]->id;
    bad.val_dataset_id = "no-dataset";
    assert_null (rfk_store_create_train_job (store, &bad));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    assert_non_null (strstr (rfk_store_message (store), "validation dataset 'no-dataset'"));
    bad.val_dataset_id = world.val->id;
    bad.sub_train_job_count = 0;
    assert_null (rfk_store_create_train_job (store, &bad));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    bad.sub_train_job_count = 2;
    bad.status = (rfk_job_status_t)9; /* not a status */
    assert_null (rfk_store_create_train_job (store, &bad));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    json_decref (bad.budget);
    bad.budget = NULL;
    bad.status = RFK_JOB_UNSET;
    assert_null (rfk_store_create_train_job (store, &bad));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_non_null (strstr (rfk_store_message (store), "budget"));

    /* Status changes; a stopped job has its stop time and is not active. */
    ASSERT_OK (store, rfk_store_update_train_job_status (store, v1->id, RFK_JOB_RUNNING) == 0);
    ASSERT_OK (store, rfk_store_update_train_job_status (store, v1->id, RFK_JOB_STOPPED) == 0);
    rfk_train_job_t *stopped = rfk_store_get_train_job (store, v1->id);
    ASSERT_OK (store, stopped);
    assert_int_equal (stopped->status, RFK_JOB_STOPPED);
    assert_non_null (stopped->datetime_stopped);
    assert_true (strcmp (stopped->datetime_stopped, stopped->datetime_started) >= 0);
    rfk_train_job_destroy (&stopped);
    assert_int_equal (rfk_store_update_train_job_status (store, v1->id, (rfk_job_status_t)99), -1);
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_int_equal (rfk_store_update_train_job_status (store, "nope", RFK_JOB_STOPPED), -1);
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    ASSERT_OK (store, rfk_store_update_sub_train_job_status (store, v2->sub_train_jobs[0].id,
                                                             RFK_JOB_ERRORED) == 0);
    rfk_sub_train_job_t *sub = rfk_store_get_sub_train_job (store, v2->sub_train_jobs[0].id);
    ASSERT_OK (store, sub);
    assert_int_equal (sub->status, RFK_JOB_ERRORED);
    assert_non_null (sub->datetime_stopped);
    rfk_sub_train_job_destroy (&sub);

    zlistx_t *active = rfk_store_list_train_jobs (store, world.user->id, NULL, true, NULL);
    ASSERT_OK (store, active);
    assert_int_equal (zlistx_size (active), 2);
    zlistx_destroy (&active);
    zlistx_t *fashion = rfk_store_list_train_jobs (store, NULL, "fashion", false, NULL);
    ASSERT_OK (store, fashion);
    assert_int_equal (zlistx_size (fashion), 2);
    rfk_train_job_t *listed = (rfk_train_job_t *)zlistx_last (fashion);
    assert_int_equal (listed->app_version, 2);
    assert_int_equal (listed->sub_train_job_count, 2);
    zlistx_destroy (&fashion);

    rfk_train_job_destroy (&v1);
    rfk_train_job_destroy (&v2);
    rfk_train_job_destroy (&other);
    s_world_destroy (&world);
}

/* ---- services and workers -------------------------------------------- */

static void
test_services_and_workers (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    rfk_store_t *store = fixture->store;
    s_world_t world;
    s_world_new (store, &world);
    rfk_train_job_t *job = s_train_job (store, &world, "app");
    const char *sub_id = job->sub_train_jobs[0].id;

    rfk_service_t advisor_in = s_service_in ("ADVISOR");
    rfk_service_t *advisor = rfk_store_create_advisor (store, sub_id, &advisor_in);
    ASSERT_OK (store, advisor);
    assert_int_equal (advisor->status, RFK_SERVICE_STARTED);
    assert_string_equal (advisor->secret_hash, "hash-of-secret");
    rfk_sub_train_job_t *sub = rfk_store_get_sub_train_job_by_advisor (store, advisor->id);
    ASSERT_OK (store, sub);
    assert_string_equal (sub->id, sub_id);
    assert_string_equal (sub->advisor_service_id, advisor->id);
    rfk_sub_train_job_destroy (&sub);

    rfk_service_t trainer_in = s_service_in ("TRAIN");
    rfk_service_t *trainers[2];
    for (int i = 0; i < 2; i++) {
        trainers[i] = rfk_store_create_train_job_worker (store, sub_id, &trainer_in);
        ASSERT_OK (store, trainers[i]);
    }
    zlistx_t *workers = rfk_store_list_train_job_workers (store, sub_id);
    ASSERT_OK (store, workers);
    assert_int_equal (zlistx_size (workers), 2);
    assert_string_equal (((rfk_service_t *)zlistx_first (workers))->service_type, "TRAIN");
    zlistx_destroy (&workers);
    rfk_train_job_worker_t *worker = rfk_store_get_train_job_worker (store, trainers[1]->id);
    ASSERT_OK (store, worker);
    assert_string_equal (worker->sub_train_job_id, sub_id);
    rfk_train_job_worker_destroy (&worker);

    /* A worker of a missing sub train job: nothing is written. */
    long long services = store_fixture_count (fixture, "SELECT COUNT(*) FROM services");
    assert_null (rfk_store_create_train_job_worker (store, "no-sub-job", &trainer_in));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    assert_null (rfk_store_create_advisor (store, "no-sub-job", &advisor_in));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    assert_int_equal (store_fixture_count (fixture, "SELECT COUNT(*) FROM services"), services);
    rfk_service_t bad = s_service_in ("DAEMON");
    assert_null (rfk_store_create_service (store, &bad));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);

    /* The launcher fills in where the service runs; admin marks it running. */
    free (trainers[0]->hostname);
    trainers[0]->hostname = strdup ("node-1");
    trainers[0]->port = 7001;
    trainers[0]->container_service_id = strdup ("4242");
    trainers[0]->container_service_info = json_pack ("{s:i}", "pid", 4242);
    trainers[0]->status = RFK_SERVICE_RUNNING;
    ASSERT_OK (store, rfk_store_update_service (store, trainers[0]) == 0);
    ASSERT_OK (store, rfk_store_touch_service (store, trainers[0]->id) == 0);
    rfk_service_t *got = rfk_store_get_service (store, trainers[0]->id);
    ASSERT_OK (store, got);
    assert_string_equal (got->hostname, "node-1");
    assert_int_equal (got->port, 7001);
    assert_int_equal (json_integer_value (json_object_get (got->container_service_info, "pid")),
                      4242);
    assert_int_equal (got->status, RFK_SERVICE_RUNNING);
    assert_null (got->datetime_stopped);
    assert_non_null (got->datetime_heartbeat);
    rfk_service_destroy (&got);

    zlistx_t *active = rfk_store_list_services (store, true, NULL);
    ASSERT_OK (store, active);
    assert_int_equal (zlistx_size (active), 3);
    zlistx_destroy (&active);
    ASSERT_OK (store,
               rfk_store_update_service_status (store, trainers[1]->id, RFK_SERVICE_ERRORED) == 0);
    ASSERT_OK (store,
               rfk_store_update_service_status (store, advisor->id, RFK_SERVICE_STOPPED) == 0);
    got = rfk_store_get_service (store, advisor->id);
    ASSERT_OK (store, got);
    assert_non_null (got->datetime_stopped);
    rfk_service_destroy (&got);
    active = rfk_store_list_services (store, true, NULL);
    ASSERT_OK (store, active);
    assert_int_equal (zlistx_size (active), 1);
    zlistx_destroy (&active);
    assert_int_equal (
        rfk_store_update_service_status (store, advisor->id, (rfk_service_status_t)42), -1);
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_int_equal (rfk_store_touch_service (store, "nope"), -1);
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    free (trainers[0]->id);
    trainers[0]->id = strdup ("nope");
    assert_int_equal (rfk_store_update_service (store, trainers[0]), -1);
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);

    rfk_service_destroy (&trainers[0]);
    rfk_service_destroy (&trainers[1]);
    rfk_service_destroy (&advisor);
    rfk_train_job_destroy (&job);
    s_world_destroy (&world);
}

/* ---- trials ---------------------------------------------------------- */

/* A roll-up's read and write: the job with every service's status in one
   call, several statuses in one transaction (all or none), transactions
   that nest, and the call counter. */
static void
test_job_state_and_transactions (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    rfk_store_t *store = fixture->store;
    s_world_t world;
    s_world_new (store, &world);
    rfk_train_job_t *job = s_train_job (store, &world, "app");
    const char *sub_id = job->sub_train_jobs[0].id;
    rfk_service_t in = s_service_in ("ADVISOR");
    rfk_service_t *advisor = rfk_store_create_advisor (store, sub_id, &in);
    in = s_service_in ("TRAIN");
    rfk_service_t *trainer = rfk_store_create_train_job_worker (store, sub_id, &in);
    ASSERT_OK (store, advisor && trainer);

    uint64_t calls = rfk_store_calls (store);
    rfk_job_state_t *job_state = rfk_store_get_job_state (store, job->id, NULL);
    ASSERT_OK (store, job_state);
    assert_int_equal (rfk_store_calls (store), calls + 1);
    assert_int_equal (job_state->train_job->sub_train_job_count, 2);
    assert_int_equal (job_state->service_count, 2);
    for (size_t index = 0; index < job_state->service_count; index++) {
        assert_string_equal (job_state->services[index].sub_train_job_id, sub_id);
        assert_int_equal (job_state->services[index].status, RFK_SERVICE_STARTED);
    }
    rfk_job_state_destroy (&job_state);
    assert_null (rfk_store_get_job_state (store, "no-such-job", NULL));

    //  All or none: a bad status in the batch writes nothing.
    rfk_status_change_t bad[] = {
        {RFK_STATUS_OF_SERVICE, trainer->id, .status.service = RFK_SERVICE_STOPPED},
        {RFK_STATUS_OF_SUB_TRAIN_JOB, sub_id, .status.job = (rfk_job_status_t)9}};
    assert_int_equal (rfk_store_set_statuses (store, bad, 2), -1);
    assert_int_equal (rfk_store_code (store), RFK_CODE_BAD_REQUEST);
    rfk_service_t *read = rfk_store_get_service (store, trainer->id);
    assert_int_equal (read->status, RFK_SERVICE_STARTED);
    rfk_service_destroy (&read);
    rfk_status_change_t good[] = {
        {RFK_STATUS_OF_SERVICE, trainer->id, .status.service = RFK_SERVICE_ERRORED},
        {RFK_STATUS_OF_SUB_TRAIN_JOB, sub_id, .status.job = RFK_JOB_ERRORED},
        {RFK_STATUS_OF_TRAIN_JOB, job->id, .status.job = RFK_JOB_ERRORED}};
    ASSERT_OK (store, rfk_store_set_statuses (store, good, 3) == 0);
    rfk_train_job_t *stored = rfk_store_get_train_job (store, job->id);
    assert_int_equal (stored->status, RFK_JOB_ERRORED);
    assert_non_null (stored->datetime_stopped);
    rfk_train_job_destroy (&stored);

    //  A caller's transaction: the store's own multi-row write joins it,
    //  and a rollback undoes both.
    ASSERT_OK (store, rfk_store_begin (store) == 0);
    ASSERT_OK (store,
               rfk_store_update_service_status (store, advisor->id, RFK_SERVICE_RUNNING) == 0);
    ASSERT_OK (store, rfk_store_set_statuses (store, good, 3) == 0);
    rfk_store_rollback (store);
    read = rfk_store_get_service (store, advisor->id);
    assert_int_equal (read->status, RFK_SERVICE_STARTED);
    rfk_service_destroy (&read);
    ASSERT_OK (store, rfk_store_begin (store) == 0);
    ASSERT_OK (store,
               rfk_store_update_service_status (store, advisor->id, RFK_SERVICE_RUNNING) == 0);
    ASSERT_OK (store, rfk_store_commit (store) == 0);
    read = rfk_store_get_service (store, advisor->id);
    assert_int_equal (read->status, RFK_SERVICE_RUNNING);
    rfk_service_destroy (&read);
    assert_int_equal (rfk_store_commit (store), -1); /* nothing open */

    rfk_service_destroy (&advisor);
    rfk_service_destroy (&trainer);
    rfk_train_job_destroy (&job);
    s_world_destroy (&world);
}

static void
test_trials (void **state)
{
    rfk_store_t *store = s_store (state);
    s_world_t world;
    s_world_new (store, &world);
    rfk_train_job_t *job = s_train_job (store, &world, "app");
    const rfk_sub_train_job_t *a = &job->sub_train_jobs[0];
    const rfk_sub_train_job_t *b = &job->sub_train_jobs[1];

    double scores[] = {0.3, 0.9, NAN, 0.7, 0.1};
    rfk_trial_t *trials[5];
    for (int i = 0; i < 5; i++)
        trials[i] = s_trial (store, i % 2 ? b : a, scores[i]);
    assert_int_equal (trials[0]->no, 1);
    assert_int_equal (trials[2]->no, 2);
    assert_int_equal (trials[1]->no, 1);
    assert_int_equal (trials[2]->status, RFK_TRIAL_PENDING);
    assert_string_equal (trials[2]->train_job_id, job->id);

    /* Only the sub train job is needed: its job and model are the trial's. */
    rfk_trial_t bare_in = {.sub_train_job_id = b->id, .score = NAN};
    rfk_trial_t *bare = rfk_store_create_trial (store, &bare_in);
    ASSERT_OK (store, bare);
    assert_string_equal (bare->model_id, b->model_id);
    assert_string_equal (bare->train_job_id, job->id);
    assert_int_equal (bare->no, 3);
    rfk_trial_destroy (&bare);
    assert_true (isnan (trials[2]->score));

    /* Best first across the job, paged; unscored trials are not ranked. */
    zlistx_t *best = rfk_store_list_trials (store, job->id, NULL, RFK_TRIALS_BEST, NULL);
    ASSERT_OK (store, best);
    assert_int_equal (zlistx_size (best), 4);
    double expect[] = {0.9, 0.7, 0.3, 0.1};
    int k = 0;
    for (rfk_trial_t *t = (rfk_trial_t *)zlistx_first (best); t;
         t = (rfk_trial_t *)zlistx_next (best), k++) {
        assert_float_equal (t->score, expect[k], 1e-12);
        assert_int_equal (t->status, RFK_TRIAL_COMPLETED);
        assert_non_null (t->datetime_stopped);
    }
    zlistx_destroy (&best);
    rfk_page_t second_page = {.limit = 2, .offset = 2};
    best = rfk_store_list_trials (store, job->id, NULL, RFK_TRIALS_BEST, &second_page);
    ASSERT_OK (store, best);
    assert_int_equal (zlistx_size (best), 2);
    assert_float_equal (((rfk_trial_t *)zlistx_first (best))->score, 0.3, 1e-12);
    zlistx_destroy (&best);
    best = rfk_store_list_trials (store, NULL, b->id, RFK_TRIALS_BEST, NULL);
    ASSERT_OK (store, best);
    assert_int_equal (zlistx_size (best), 2);
    assert_string_equal (((rfk_trial_t *)zlistx_first (best))->id, trials[1]->id);
    zlistx_destroy (&best);
    zlistx_t *all = rfk_store_list_trials (store, job->id, NULL, RFK_TRIALS_BY_NO, NULL);
    ASSERT_OK (store, all);
    assert_int_equal (zlistx_size (all), 6);
    zlistx_destroy (&all);
    all = rfk_store_list_trials (store, NULL, a->id, RFK_TRIALS_BY_NO, NULL);
    ASSERT_OK (store, all);
    assert_int_equal (zlistx_size (all), 3);
    assert_int_equal (((rfk_trial_t *)zlistx_last (all))->no, 3);
    zlistx_destroy (&all);
    assert_null (rfk_store_list_trials (store, NULL, NULL, RFK_TRIALS_BEST, NULL));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_null (rfk_store_list_trials (store, job->id, NULL, (rfk_trial_order_t)7, NULL));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);

    /* A score keeps every bit; policies, progress and proposal round-trip. */
    rfk_trial_t *t = trials[2];
    t->score = 0.1 + 0.2;
    t->status = RFK_TRIAL_RUNNING;
    t->policies = json_pack ("[s,s]", "EARLY_STOP", "SHARE_PARAMS");
    t->progress = json_pack ("{s:i,s:f}", "step", 3, "score", 0.25);
    t->proposal = json_pack ("{s:i,s:s}", "trial_no", 2, "params_source", "GLOBAL_BEST");
    ASSERT_OK (store, rfk_store_update_trial (store, t) == 0);
    rfk_trial_t *got = rfk_store_get_trial (store, t->id);
    ASSERT_OK (store, got);
    assert_true (got->score == 0.1 + 0.2);
    assert_null (got->datetime_stopped);
    assert_true (strcmp (got->datetime_updated, t->datetime_updated) >= 0);
    assert_string_equal (json_string_value (json_array_get (got->policies, 1)), "SHARE_PARAMS");
    assert_int_equal (json_integer_value (json_object_get (got->progress, "step")), 3);
    assert_string_equal (json_string_value (json_object_get (got->proposal, "params_source")),
                         "GLOBAL_BEST");
    assert_int_equal (json_integer_value (json_object_get (got->knobs, "max_depth")), 3);
    rfk_trial_destroy (&got);
    t->status = RFK_TRIAL_PRUNED;
    ASSERT_OK (store, rfk_store_update_trial (store, t) == 0);
    got = rfk_store_get_trial (store, t->id);
    ASSERT_OK (store, got);
    assert_int_equal (got->status, RFK_TRIAL_PRUNED);
    assert_non_null (got->datetime_stopped);
    rfk_trial_destroy (&got);

    /* Errors: a taken number, a bad status, a missing sub job. */
    rfk_trial_t dup = {.no = 1, .sub_train_job_id = a->id, .model_id = a->model_id, .score = NAN};
    assert_null (rfk_store_create_trial (store, &dup));
    ASSERT_CODE (store, RFK_CODE_CONFLICT);
    assert_non_null (strstr (rfk_store_message (store), "trial 1"));
    dup.no = 10;
    dup.status = (rfk_trial_status_t)17; /* not a status */
    assert_null (rfk_store_create_trial (store, &dup));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    dup.status = RFK_TRIAL_UNSET;
    dup.sub_train_job_id = "no-sub-job";
    assert_null (rfk_store_create_trial (store, &dup));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    dup.no = 0;
    assert_null (rfk_store_create_trial (store, &dup));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    dup.no = -3;
    assert_null (rfk_store_create_trial (store, &dup));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    t->status = RFK_TRIAL_UNSET;
    assert_int_equal (rfk_store_update_trial (store, t), -1);
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_null (rfk_store_get_trial (store, NULL));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);

    for (int i = 0; i < 5; i++)
        rfk_trial_destroy (&trials[i]);
    rfk_train_job_destroy (&job);
    s_world_destroy (&world);
}

static void
test_trial_logs (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    rfk_store_t *store = fixture->store;
    s_world_t world;
    s_world_new (store, &world);
    rfk_train_job_t *job = s_train_job (store, &world, "app");
    rfk_trial_t *trial = s_trial (store, &job->sub_train_jobs[0], NAN);

    rfk_trial_log_t message = {
        .trial_id = trial->id, .type = "MESSAGE", .level = "INFO", .message = "loading dataset"};
    rfk_trial_log_t *first = rfk_store_add_trial_log (store, &message);
    ASSERT_OK (store, first);
    assert_int_equal (first->seq, 1);
    assert_non_null (first->datetime);

    rfk_trial_log_t lines[3] = {
        {.trial_id = trial->id,
         .type = "PLOT",
         .data =
             json_pack ("{s:s,s:[s],s:s}", "title", "Loss", "metrics", "loss", "x_axis", "epoch")},
        {.trial_id = trial->id,
         .type = "METRICS",
         .datetime = "2024-01-01T00:00:00.000001Z",
         .data = json_pack ("{s:i,s:f}", "epoch", 1, "loss", 0.5)},
        {.trial_id = trial->id, .type = "MESSAGE", .level = "WARNING", .message = "überfit"},
    };
    ASSERT_OK (store, rfk_store_add_trial_logs (store, lines, 3) == 0);
    zlistx_t *logs = rfk_store_list_trial_logs (store, trial->id, NULL);
    ASSERT_OK (store, logs);
    assert_int_equal (zlistx_size (logs), 4);
    rfk_trial_log_t *log = (rfk_trial_log_t *)zlistx_first (logs);
    assert_string_equal (log->message, "loading dataset");
    log = (rfk_trial_log_t *)zlistx_next (logs);
    assert_string_equal (log->type, "PLOT");
    assert_string_equal (json_string_value (json_object_get (log->data, "x_axis")), "epoch");
    log = (rfk_trial_log_t *)zlistx_next (logs);
    assert_int_equal (log->seq, 3);
    assert_string_equal (log->datetime, "2024-01-01T00:00:00.000001Z");
    assert_float_equal (json_real_value (json_object_get (log->data, "loss")), 0.5, 1e-12);
    log = (rfk_trial_log_t *)zlistx_next (logs);
    assert_string_equal (log->message, "überfit");
    zlistx_destroy (&logs);
    rfk_page_t page = {.limit = 1, .offset = 3};
    logs = rfk_store_list_trial_logs (store, trial->id, &page);
    ASSERT_OK (store, logs);
    assert_int_equal (zlistx_size (logs), 1);
    assert_int_equal (((rfk_trial_log_t *)zlistx_first (logs))->seq, 4);
    zlistx_destroy (&logs);

    /* A bad line in a batch writes none of it. */
    lines[2].type = "SHOUT";
    assert_int_equal (rfk_store_add_trial_logs (store, lines, 3), -1);
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    lines[2].type = "MESSAGE";
    lines[2].trial_id = "no-trial";
    assert_int_equal (rfk_store_add_trial_logs (store, lines, 3), -1);
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    assert_non_null (strstr (rfk_store_message (store), "no-trial"));
    assert_int_equal (store_fixture_count (fixture, "SELECT COUNT(*) FROM trial_logs"), 4);
    assert_int_equal (rfk_store_add_trial_logs (store, NULL, 2), -1);
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    ASSERT_OK (store, rfk_store_add_trial_logs (store, NULL, 0) == 0);

    for (int i = 0; i < 3; i++)
        json_decref (lines[i].data);
    rfk_trial_log_destroy (&first);
    rfk_trial_destroy (&trial);
    rfk_train_job_destroy (&job);
    s_world_destroy (&world);
}

/* ---- inference jobs -------------------------------------------------- */

static rfk_inference_job_t *
s_inference_job (rfk_store_t *store, s_world_t *world, const rfk_train_job_t *job,
                 rfk_trial_t **trials, size_t count)
{
    rfk_service_t predictor = s_service_in ("PREDICT");
    predictor.ext_hostname = "127.0.0.1";
    predictor.ext_port = 30001;
    rfk_service_t worker = s_service_in ("INFERENCE");
    const rfk_service_t *services[] = {&worker, &worker, &worker};
    rfk_inference_job_worker_t workers[3] = {{0}};
    for (size_t i = 0; i < count; i++)
        workers[i].trial_id = trials[i]->id;
    rfk_inference_job_t in = {.user_id = world->user->id,
                              .train_job_id = job->id,
                              .budget = json_pack ("{s:i}", "GPU_COUNT", 0),
                              .max_trials = 2,
                              .replicas = 1,
                              .worker_count = count,
                              .workers = workers};
    rfk_inference_job_t *inference =
        rfk_store_create_inference_job (store, &in, &predictor, services);
    json_decref (in.budget);
    return inference;
}

static void
test_inference_jobs (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    rfk_store_t *store = fixture->store;
    s_world_t world;
    s_world_new (store, &world);
    rfk_train_job_t *job = s_train_job (store, &world, "fashion");
    rfk_trial_t *trials[2] = {s_trial (store, &job->sub_train_jobs[0], 0.8),
                              s_trial (store, &job->sub_train_jobs[1], 0.9)};

    rfk_inference_job_t *first = s_inference_job (store, &world, job, trials, 2);
    ASSERT_OK (store, first);
    assert_int_equal (first->status, RFK_JOB_STARTED);
    assert_int_equal (first->worker_count, 2);
    assert_int_equal (first->max_trials, 2);
    rfk_service_t *predictor = rfk_store_get_service (store, first->predictor_service_id);
    ASSERT_OK (store, predictor);
    assert_string_equal (predictor->service_type, "PREDICT");
    assert_int_equal (predictor->ext_port, 30001);
    rfk_service_destroy (&predictor);
    rfk_inference_job_worker_t *worker =
        rfk_store_get_inference_job_worker (store, first->workers[1].service_id);
    ASSERT_OK (store, worker);
    assert_string_equal (worker->inference_job_id, first->id);
    assert_string_equal (worker->trial_id, trials[1]->id);
    rfk_inference_job_worker_destroy (&worker);

    /* One running inference job per train job; nothing of the second stays. */
    long long services = store_fixture_count (fixture, "SELECT COUNT(*) FROM services");
    assert_null (s_inference_job (store, &world, job, trials, 1));
    ASSERT_CODE (store, RFK_CODE_CONFLICT);
    assert_non_null (strstr (rfk_store_message (store), "already has a running inference job"));
    assert_int_equal (store_fixture_count (fixture, "SELECT COUNT(*) FROM services"), services);

    ASSERT_OK (store,
               rfk_store_update_inference_job_status (store, first->id, RFK_JOB_STOPPED) == 0);
    rfk_inference_job_t *second = s_inference_job (store, &world, job, trials, 1);
    ASSERT_OK (store, second);
    /* The first cannot run again while the second does. */
    assert_int_equal (rfk_store_update_inference_job_status (store, first->id, RFK_JOB_RUNNING),
                      -1);
    ASSERT_CODE (store, RFK_CODE_CONFLICT);

    rfk_inference_job_t *found =
        rfk_store_get_inference_job_by_app (store, world.user->id, "fashion", 1, false);
    ASSERT_OK (store, found);
    assert_string_equal (found->id, second->id);
    assert_int_equal (found->worker_count, 1);
    rfk_inference_job_destroy (&found);
    assert_null (rfk_store_get_inference_job_by_app (store, world.user->id, "other", -1, false));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    /* live_only finds the deployed one, and nothing once it is stopped. */
    found = rfk_store_get_inference_job_by_app (store, world.user->id, "fashion", 1, true);
    ASSERT_OK (store, found);
    assert_string_equal (found->id, second->id);
    rfk_inference_job_destroy (&found);
    found = rfk_store_get_inference_job (store, first->id);
    ASSERT_OK (store, found);
    assert_int_equal (found->status, RFK_JOB_STOPPED);
    assert_non_null (found->datetime_stopped);
    assert_int_equal (found->worker_count, 2);
    assert_int_equal (json_integer_value (json_object_get (found->budget, "GPU_COUNT")), 0);
    rfk_inference_job_destroy (&found);

    zlistx_t *active = rfk_store_list_inference_jobs (store, world.user->id, true, NULL);
    ASSERT_OK (store, active);
    assert_int_equal (zlistx_size (active), 1);
    zlistx_destroy (&active);
    zlistx_t *all = rfk_store_list_inference_jobs (store, NULL, false, NULL);
    ASSERT_OK (store, all);
    assert_int_equal (zlistx_size (all), 2);
    zlistx_destroy (&all);

    /* A missing trial: no job, no services. */
    ASSERT_OK (store,
               rfk_store_update_inference_job_status (store, second->id, RFK_JOB_ERRORED) == 0);
    /* Once it ended, live_only finds none; without, the newest still. */
    assert_null (rfk_store_get_inference_job_by_app (store, world.user->id, "fashion", 1, true));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    found = rfk_store_get_inference_job_by_app (store, world.user->id, "fashion", 1, false);
    ASSERT_OK (store, found);
    assert_string_equal (found->id, second->id);
    rfk_inference_job_destroy (&found);
    services = store_fixture_count (fixture, "SELECT COUNT(*) FROM services");
    rfk_trial_t ghost = {.id = "no-trial"};
    rfk_trial_t *ghosts[2] = {trials[0], &ghost};
    assert_null (s_inference_job (store, &world, job, ghosts, 2));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    assert_non_null (strstr (rfk_store_message (store), "trial 'no-trial'"));
    assert_int_equal (store_fixture_count (fixture, "SELECT COUNT(*) FROM services"), services);
    assert_int_equal (store_fixture_count (fixture, "SELECT COUNT(*) FROM inference_jobs"), 2);
    assert_null (s_inference_job (store, &world, job, trials, 0));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);

    rfk_inference_job_destroy (&first);
    rfk_inference_job_destroy (&second);
    rfk_trial_destroy (&trials[0]);
    rfk_trial_destroy (&trials[1]);
    rfk_train_job_destroy (&job);
    s_world_destroy (&world);
}

/* ---- bad input ------------------------------------------------------- */

static void
test_hostile_strings_are_data (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    rfk_store_t *store = fixture->store;
    const char *evil = "x'); DROP TABLE users; --";
    rfk_user_t *user = s_user (store, evil, "APP_DEVELOPER");
    rfk_user_t *got = rfk_store_get_user_by_email (store, evil);
    ASSERT_OK (store, got);
    assert_string_equal (got->email, evil);
    rfk_user_destroy (&got);
    assert_null (rfk_store_get_user_by_email (store, "' OR '1'='1"));
    ASSERT_CODE (store, RFK_CODE_NOT_FOUND);
    zlistx_t *none = rfk_store_list_datasets (store, user->id, "' OR 1=1 --", NULL);
    ASSERT_OK (store, none);
    assert_int_equal (zlistx_size (none), 0);
    zlistx_destroy (&none);
    assert_int_equal (store_fixture_count (fixture, "SELECT COUNT(*) FROM users"), 1);

    /* NULL ids and records are answered, never crashed on. */
    assert_null (rfk_store_get_dataset (store, NULL));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_null (rfk_store_get_train_job (store, ""));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_null (rfk_store_create_train_job (store, NULL));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_null (rfk_store_create_inference_job (store, NULL, NULL, NULL));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_null (rfk_store_list_datasets (store, NULL, NULL, NULL));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_int_equal (rfk_store_update_service (store, NULL), -1);
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_int_equal (rfk_store_delete_model (store, NULL), -1);
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_null (rfk_store_get_train_job_by_app (store, user->id, NULL, -1));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);
    assert_null (rfk_store_create_advisor (store, NULL, NULL));
    ASSERT_CODE (store, RFK_CODE_BAD_REQUEST);

    /* A success clears the last failure. */
    rfk_user_t *again = rfk_store_get_user (store, user->id);
    ASSERT_OK (store, again);
    assert_int_equal (rfk_store_code (store), RFK_CODE_OK);
    assert_string_equal (rfk_store_message (store), "");
    rfk_user_destroy (&again);
    rfk_user_destroy (&user);
}

/* ---- backend failures ------------------------------------------------ */

/* SQLite: another process holds the write lock past the busy timeout. */
static void
test_sqlite_locked_is_unavailable (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    rfk_store_t *store = fixture->store;
    char path[512];
    snprintf (path, sizeof path, "%s/rafiki.db", fixture->dir);
    sqlite3 *other = NULL;
    assert_int_equal (sqlite3_open (path, &other), SQLITE_OK);
    assert_int_equal (sqlite3_exec (other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    rfk_user_t in = {.email = "late@rafiki", .password_hash = "x", .user_type = "ADMIN"};
    assert_null (rfk_store_create_user (store, &in));
    ASSERT_CODE (store, RFK_CODE_UNAVAILABLE);
    /* Reading still works under WAL while the writer holds its lock. */
    zlistx_t *users = rfk_store_list_users (store, NULL);
    ASSERT_OK (store, users);
    zlistx_destroy (&users);
    sqlite3_exec (other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close (other);
    rfk_user_t *user = rfk_store_create_user (store, &in);
    ASSERT_OK (store, user);
    rfk_user_destroy (&user);
}

/* PostgreSQL: the server cuts the connection; the store reconnects and
   retries once, so the caller sees a normal answer. */
static void
test_pg_reconnects (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    rfk_store_t *store = fixture->store;
    rfk_user_t *user = s_user (store, "before@rafiki", "ADMIN");
    for (int round = 0; round < 2; round++) {
        long long killed = store_fixture_count (
            fixture, "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
                     " WHERE datname = current_database() AND pid <> pg_backend_pid()");
        assert_int_equal (killed, 1);
        rfk_user_t *got = rfk_store_get_user (store, user->id);
        ASSERT_OK (store, got);
        assert_string_equal (got->email, "before@rafiki");
        rfk_user_destroy (&got);
    }
    /* A transaction also starts on a fresh connection. */
    store_fixture_count (fixture,
                         "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
                         " WHERE datname = current_database() AND pid <> pg_backend_pid()");
    s_world_t world;
    s_world_new (store, &world);
    rfk_train_job_t *job = s_train_job (store, &world, "after");
    rfk_train_job_destroy (&job);
    s_world_destroy (&world);
    rfk_user_destroy (&user);
}

/* PostgreSQL: the database is gone for good; calls answer UNAVAILABLE. */
static void
test_pg_gone_is_unavailable (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    rfk_store_t *store = fixture->store;
    rfk_user_t *user = s_user (store, "gone@rafiki", "ADMIN");
    char *base = NULL;
    assert_true (asprintf (&base, "DROP DATABASE %s WITH (FORCE)", fixture->database) > 0);
    PGconn *pg = PQconnectdb (store_fixture_pg_url ());
    PGresult *res = PQexec (pg, base);
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    PQfinish (pg);
    free (base);
    assert_null (rfk_store_get_user (store, user->id));
    ASSERT_CODE (store, RFK_CODE_UNAVAILABLE);
    rfk_user_t in = {.email = "x@rafiki", .password_hash = "x", .user_type = "ADMIN"};
    assert_null (rfk_store_create_user (store, &in));
    ASSERT_CODE (store, RFK_CODE_UNAVAILABLE);
    rfk_sub_train_job_t sub = {.model_id = "m"};
    rfk_train_job_t job_in = {.user_id = user->id,
                              .app = "a",
                              .task = "T",
                              .budget = json_object (),
                              .train_dataset_id = "d",
                              .val_dataset_id = "d",
                              .sub_train_job_count = 1,
                              .sub_train_jobs = &sub};
    assert_null (rfk_store_create_train_job (store, &job_in));
    ASSERT_CODE (store, RFK_CODE_UNAVAILABLE);
    json_decref (job_in.budget);
    rfk_user_destroy (&user);
}

int
main (int argc, char **argv)
{
    if (store_fixture_backend (argc, argv, &s_postgres) != 0) {
        fprintf (stderr, "usage: %s [sqlite|postgresql]\n", argv[0]);
        return 2;
    }
    if (s_postgres && !store_fixture_pg_url ())
        return store_fixture_no_server ();
    const struct CMUnitTest common[] = {
        cmocka_unit_test_setup_teardown (test_usage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_open_default_is_sqlite_in_data_dir, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_open_refuses_bad_urls, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reopen_keeps_records, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_newer_schema_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_upgrade_adds_knobs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_service_process_and_upgrade, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_users, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_datasets, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_models, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_train_jobs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_services_and_workers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_job_state_and_transactions, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_trials, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_trial_logs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_inference_jobs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_hostile_strings_are_data, s_setup, s_teardown),
    };
    /* How each backend fails is its own: only its cases run. */
    const struct CMUnitTest sqlite_only[] = {
        cmocka_unit_test_setup_teardown (test_sqlite_locked_is_unavailable, s_setup, s_teardown),
    };
    const struct CMUnitTest postgres_only[] = {
        cmocka_unit_test_setup_teardown (test_pg_reconnects, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pg_gone_is_unavailable, s_setup, s_teardown),
    };
    const size_t ncommon = sizeof common / sizeof common[0];
    const struct CMUnitTest *own = s_postgres ? postgres_only : sqlite_only;
    size_t nown = s_postgres ? sizeof postgres_only / sizeof postgres_only[0]
                             : sizeof sqlite_only / sizeof sqlite_only[0];
    struct CMUnitTest tests[sizeof common / sizeof common[0] + 4];
    memcpy (tests, common, sizeof common);
    memcpy (tests + ncommon, own, nown * sizeof own[0]);
    return _cmocka_run_group_tests (s_postgres ? "store (postgresql)" : "store (sqlite)", tests,
                                    ncommon + nown, NULL, NULL);
}
