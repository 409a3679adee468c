/*  test/integration/trainer/test_trainer.c: trainers and their advisor over
    real sockets.

    - the direct forms (no admin): an advisor and two trainers train the
      zoo's Echo template on a slice of iris until the budget ends the job;
      pruning with EARLY_STOP; a scripted advisor hands one trainer a
      segfaulting, a hanging and a good trial, and one that refuses a
      Result (it started again without the trial); proposals whose knobs do not
      fit the template (checked by the trial's process: the trainer never
      opens the template), and a template of another task;
    - the role forms through rafikid processes and a fake admin (the real
      `service` protocol: Hello with the secret from the launcher's file,
      TrialCreate, TrialStarted/Log/Metrics/Plot/Finished, StatusReport,
      SubTrainJobDone): a full sub job; SIGKILL of a trainer in the middle of
      a trial; SIGTERM of a trainer in the middle of a trial.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rfk_test.h"
#include "rfk_test_admin.h"
#include "rfk_test_advisor.h"
#include "rafiki/template.h"
#include "rfk_advisor.h"
#include "rfk_trainer.h"

#define IRIS_TRAIN RFK_TEST_DATA "/iris-train.csv"
#define IRIS_VAL RFK_TEST_DATA "/iris-val.csv"

static rfk_bus_opts_t s_bus;

/* Bus options for a test: peers silent for heartbeat_timeout_ms are
   expired. Only the tests about a trainer that dies use a short one; the
   others give a loaded machine (sanitizers, 2 cores) plenty of time. */
static void
s_bus_with (int heartbeat_timeout_ms)
{
    rfk_bus_opts_defaults (&s_bus);
    s_bus.heartbeat_interval_ms = 100;
    s_bus.heartbeat_timeout_ms = heartbeat_timeout_ms;
    s_bus.request_timeout_ms = 5000;
    s_bus.request_retries = 3;
}

static void
s_bus_short (void)
{
    s_bus_with (10000);
}

/* A fresh data folder for a test. */
static char *
s_data_dir (void)
{
    char *dir = rfk_test_tmpdir_under (RFK_BUILD_DIR, "trainer-test");
    assert_non_null (dir);
    return dir;
}

static bool
s_file_exists (const char *path)
{
    struct stat st;
    return path && stat (path, &st) == 0 && st.st_size > 0;
}

/* Waits (with a deadline) for an actor to say DONE. */
static void
s_expect_done (zactor_t *actor, int timeout_ms)
{
    zsock_set_rcvtimeo (actor, timeout_ms);
    char *word = zstr_recv (actor);
    assert_non_null (word);
    if (!streq (word, "DONE")) {
        char *reason = zstr_recv (actor);
        fail_msg ("expected DONE, got %s %s", word, reason ? reason : "");
    }
    zstr_free (&word);
}

static json_t *
s_pipe_json (zactor_t *actor, const char *command)
{
    zstr_send (actor, command);
    char *text = zstr_recv (actor);
    assert_non_null (text);
    json_t *json = json_loads (text, 0, NULL);
    zstr_free (&text);
    assert_non_null (json);
    return json;
}

/* The knob table of the template at path, as admin stores it at upload. */
static json_t *
s_knob_table (const char *path)
{
    char err[512] = "";
    json_t *table = rfk_test_knob_table (path, err, sizeof err);
    if (!table)
        fail_msg ("%s", err);
    return table;
}

/* A direct advisor for the template at model with this budget, train args
   and fixed knobs (JSON text); its endpoint in endpoint. */
static zactor_t *
s_advisor (const char *model, const char *budget, const char *train_args, const char *fixed,
           char *endpoint, size_t size)
{
    rfk_test_advisor_t spec = {.template_path = model,
                               .model_name = model,
                               .budget = budget,
                               .train_args = train_args,
                               .fixed_knobs = fixed,
                               .bus = &s_bus};
    char err[512] = "";
    zactor_t *advisor = rfk_test_advisor_new (&spec, endpoint, size, err, sizeof err);
    if (!advisor)
        fail_msg ("%s", err);
    return advisor;
}

static zactor_t *
s_trainer (const char *model, const char *endpoint, const char *params_dir, const char *name,
           double timeout_s)
{
    rfk_trainer_args_t args = {
        .advisor_endpoint = endpoint,
        .model_path = model,
        .task = "TABULAR_CLASSIFICATION",
        .train_path = IRIS_TRAIN,
        .val_path = IRIS_VAL,
        .params_dir = params_dir,
        .worker_id = name,
        .timeout_s = timeout_s,
        .bus = &s_bus,
    };
    return zactor_new (rfk_trainer_direct_actor, &args);
}

/* Usage: one advisor and two trainers train Echo on iris; the budget of six
   trials ends the job, every trial COMPLETED with its parameters saved. */
static void
test_advisor_and_trainers (void **state)
{
    (void)state;
    s_bus_short ();
    char *dir = s_data_dir ();
    char endpoint[256];
    zactor_t *advisor =
        s_advisor (ECHO_TEMPLATE, "{\"MODEL_TRIAL_COUNT\": 6}",
                   "{\"seed\": 1, \"early_stop\": false}", NULL, endpoint, sizeof endpoint);
    zactor_t *one = s_trainer (ECHO_TEMPLATE, endpoint, dir, "one", 60);
    zactor_t *two = s_trainer (ECHO_TEMPLATE, endpoint, dir, "two", 60);
    s_expect_done (one, 120000);
    s_expect_done (two, 120000);
    s_expect_done (advisor, 60000);

    json_t *trials = s_pipe_json (advisor, "TRIALS");
    assert_int_equal (json_array_size (trials), 6);
    size_t index;
    json_t *trial;
    json_array_foreach (trials, index, trial)
    {
        assert_string_equal (json_string_value (json_object_get (trial, "status")), "COMPLETED");
        /* Echo's score is its knob. */
        assert_true (
            json_real_value (json_object_get (trial, "score")) ==
            json_number_value (json_object_get (json_object_get (trial, "knobs"), "score")));
        const char *params = json_string_value (json_object_get (trial, "params_path"));
        assert_true (s_file_exists (params));
    }
    json_decref (trials);
    json_t *stats_one = s_pipe_json (one, "STATS");
    json_t *stats_two = s_pipe_json (two, "STATS");
    assert_int_equal (json_integer_value (json_object_get (stats_one, "completed")) +
                          json_integer_value (json_object_get (stats_two, "completed")),
                      6);
    json_decref (stats_one);
    json_decref (stats_two);
    zactor_destroy (&one);
    zactor_destroy (&two);
    zactor_destroy (&advisor);
    rfk_test_tmpdir_destroy (&dir);
}

/* With EARLY_STOP, the advisor prunes trials whose score at a rung is poor:
   they end PRUNED with their last score, before their last step. */
static void
test_pruning (void **state)
{
    (void)state;
    s_bus_short ();
    char *dir = s_data_dir ();
    char endpoint[256];
    zactor_t *advisor =
        s_advisor (SLEEPY_TEMPLATE, "{\"MODEL_TRIAL_COUNT\": 12}", "{\"seed\": 3, \"asha_eta\": 2}",
                   "{\"ms\": 40, \"steps\": 5}", endpoint, sizeof endpoint);
    zactor_t *one = s_trainer (SLEEPY_TEMPLATE, endpoint, dir, "one", 60);
    zactor_t *two = s_trainer (SLEEPY_TEMPLATE, endpoint, dir, "two", 60);
    s_expect_done (one, 120000);
    s_expect_done (two, 120000);
    s_expect_done (advisor, 60000);
    json_t *trials = s_pipe_json (advisor, "TRIALS");
    assert_int_equal (json_array_size (trials), 12);
    int pruned = 0, completed = 0;
    size_t index;
    json_t *trial;
    json_array_foreach (trials, index, trial)
    {
        const char *status = json_string_value (json_object_get (trial, "status"));
        if (streq (status, "PRUNED")) {
            pruned++;
            assert_true (json_integer_value (json_object_get (trial, "last_step")) < 5);
            assert_true (json_is_real (json_object_get (trial, "score")));
            assert_false (json_is_string (json_object_get (trial, "params_path")));
        } else {
            assert_string_equal (status, "COMPLETED");
            completed++;
        }
    }
    assert_true (pruned >= 1);
    assert_true (completed >= 1);
    json_decref (trials);
    zactor_destroy (&one);
    zactor_destroy (&two);
    zactor_destroy (&advisor);
    rfk_test_tmpdir_destroy (&dir);
}

/* A scripted advisor: each Ready/Result gets the next proposal of the
   script, then Done; Results are kept. */
typedef struct {
    const char **script; /* knob JSON per proposal, NULL-terminated */
    int next;            /* the next one to hand out */
    json_t *results;     /* Result bodies */
    bool done;           /* Done was sent */
    int refuse;          /* Results still to answer BAD_REQUEST (an advisor that forgot) */
    int readies;         /* Ready messages received */
} s_script_t;

static int
s_script_next (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    s_script_t *script = ctx;
    rfk_msg_t *msg = *msg_p;
    if (rfk_msg_is (msg, "Result"))
        json_array_append (script->results, msg->body);
    else
        script->readies++;
    if (rfk_msg_is (msg, "Result") && script->refuse > 0) {
        script->refuse--;
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_BAD_REQUEST,
                                      "a Result for a trial this trainer does not hold");
    }
    rfk_msg_t *answer;
    if (script->script[script->next]) {
        answer = rfk_msg_new (&rfk_train_family, "Proposal", msg->correlation);
        json_object_set_new (answer->body, "trial_no", json_integer (script->next + 1));
        char id[32];
        snprintf (id, sizeof id, "scripted-%d", script->next + 1);
        json_object_set_new (answer->body, "trial_id", json_string (id));
        json_object_set_new (answer->body, "knobs",
                             json_loads (script->script[script->next], 0, NULL));
        script->next++;
    } else {
        answer = rfk_msg_new (&rfk_train_family, "Done", msg->correlation);
        json_object_set_new (answer->body, "reason", json_string ("script over"));
        script->done = true;
    }
    int rc = rfk_server_send (server, peer, answer);
    rfk_msg_destroy (&answer);
    return rc;
}

static const rfk_server_route_t s_script_routes[] = {
    {"Ready", s_script_next},
    {"Result", s_script_next},
    {NULL, NULL},
};

/* Runs one direct trainer (task, trial timeout_s) on template against a
   scripted advisor handing out proposals until the trainer says DONE; the
   advisor's Result bodies, in order. The trainer is left in *trainer_p for
   STATS. */
static json_t *
s_run_script_with (s_script_t *script_p, const char *template, const char *task, const char *dir,
                   double timeout_s, zactor_t **trainer_p)
{
    s_script_t script = *script_p;
    rfk_server_t *advisor =
        rfk_server_new ("tcp://127.0.0.1:*", &rfk_train_family, s_script_routes, &script, &s_bus);
    assert_non_null (advisor);
    rfk_trainer_args_t args = {
        .advisor_endpoint = rfk_server_endpoint (advisor),
        .model_path = template,
        .task = task,
        .train_path = IRIS_TRAIN,
        .val_path = IRIS_VAL,
        .params_dir = dir,
        .worker_id = "one",
        .timeout_s = timeout_s,
        .bus = &s_bus,
    };
    zactor_t *trainer = zactor_new (rfk_trainer_direct_actor, &args);
    assert_non_null (trainer);
    zpoller_t *poller = zpoller_new (rfk_server_sock (advisor), zactor_sock (trainer), NULL);
    int64_t until = zclock_mono () + 120000;
    bool trainer_done = false;
    while (!trainer_done && zclock_mono () < until) {
        void *which = zpoller_wait (poller, 50);
        if (which == rfk_server_sock (advisor))
            rfk_server_recv (advisor);
        else if (which == zactor_sock (trainer)) {
            char *word = zstr_recv (trainer);
            assert_string_equal (word, "DONE");
            zstr_free (&word);
            trainer_done = true;
        }
        rfk_server_tick (advisor);
    }
    zpoller_destroy (&poller);
    rfk_server_destroy (&advisor);
    assert_true (trainer_done);
    assert_true (script.done);
    *trainer_p = trainer;
    *script_p = script;
    return script.results;
}

static json_t *
s_run_script (const char *template, const char *task, const char **proposals, const char *dir,
              double timeout_s, zactor_t **trainer_p)
{
    s_script_t script = {.script = proposals, .results = json_array ()};
    return s_run_script_with (&script, template, task, dir, timeout_s, trainer_p);
}

/* A Result's status and error; fails the test unless they are status and
   an error holding every one of the NULL-terminated words. */
static void
s_assert_result (json_t *results, size_t index, const char *status, ...)
{
    json_t *result = json_array_get (results, index);
    assert_non_null (result);
    assert_string_equal (json_string_value (json_object_get (result, "status")), status);
    const char *error = json_string_value (json_object_get (result, "error"));
    va_list words;
    va_start (words, status);
    for (const char *word = va_arg (words, const char *); word; word = va_arg (words, const char *))
        if (!error || !strstr (error, word))
            fail_msg ("trial %zu: expected \"%s\" in its error, got \"%s\"", index + 1, word,
                      error ? error : "(none)");
    va_end (words);
}

/* A trial that segfaults and one that hangs past the timeout cost one
   ERRORED trial each, with the reason; the next trial goes on. */
static void
test_misbehaving_trials (void **state)
{
    (void)state;
    s_bus_short ();
    char *dir = s_data_dir ();
    const char *proposals[] = {
        "{\"behaviour\": \"segfault\", \"steps\": 1, \"lr\": 0.1, \"alpha\": 0.6}",
        "{\"behaviour\": \"sleep\", \"steps\": 1, \"lr\": 0.1, \"alpha\": 0.6}",
        "{\"behaviour\": \"complete\", \"steps\": 2, \"lr\": 0.1, \"alpha\": 0.8}",
        NULL,
    };
    /* The timeout ends the hanging trial; the good one must fit in it even
       on a loaded machine. */
    zactor_t *trainer;
    json_t *results =
        s_run_script (MISBEHAVING_TEMPLATE, "TABULAR_CLASSIFICATION", proposals, dir, 5, &trainer);
    assert_int_equal (json_array_size (results), 3);
    s_assert_result (results, 0, "ERRORED", "signal 11", NULL);
    s_assert_result (results, 1, "ERRORED", "timed out", NULL);
    json_t *good = json_array_get (results, 2);
    assert_string_equal (json_string_value (json_object_get (good, "status")), "COMPLETED");
    assert_true (json_real_value (json_object_get (good, "score")) == 0.8);
    char path[600];
    snprintf (path, sizeof path, "%s/scripted-3.msgpack", dir);
    assert_string_equal (json_string_value (json_object_get (good, "params_path")), path);
    assert_true (s_file_exists (path));
    snprintf (path, sizeof path, "%s/scripted-1.msgpack", dir);
    assert_false (s_file_exists (path));
    json_t *stats = s_pipe_json (trainer, "STATS");
    assert_int_equal (json_integer_value (json_object_get (stats, "errored")), 2);
    assert_int_equal (json_integer_value (json_object_get (stats, "completed")), 1);
    assert_true (json_integer_value (json_object_get (stats, "logs")) >= 3);
    json_decref (stats);
    zactor_destroy (&trainer);
    json_decref (results);
    rfk_test_tmpdir_destroy (&dir);
}

/* An advisor that started again without knowing the trainer's trial
   answers its Result BAD_REQUEST: the trainer says Ready again (once) and
   goes on with the next proposal instead of failing. */
static void
test_result_refused_by_advisor (void **state)
{
    (void)state;
    s_bus_short ();
    char *dir = s_data_dir ();
    const char *proposals[] = {
        "{\"behaviour\": \"complete\", \"steps\": 1, \"lr\": 0.1, \"alpha\": 0.6}",
        "{\"behaviour\": \"complete\", \"steps\": 1, \"lr\": 0.1, \"alpha\": 0.7}",
        NULL,
    };
    s_script_t script = {.script = proposals, .results = json_array (), .refuse = 1};
    zactor_t *trainer;
    json_t *results = s_run_script_with (&script, MISBEHAVING_TEMPLATE, "TABULAR_CLASSIFICATION",
                                         dir, 30, &trainer);
    assert_int_equal (json_array_size (results), 2);
    s_assert_result (results, 0, "COMPLETED", NULL);
    s_assert_result (results, 1, "COMPLETED", NULL);
    assert_int_equal (script.readies, 2); /* the first, and the one after the refusal */
    json_t *stats = s_pipe_json (trainer, "STATS");
    assert_int_equal (json_integer_value (json_object_get (stats, "completed")), 2);
    json_decref (stats);
    zactor_destroy (&trainer);
    json_decref (results);
    rfk_test_tmpdir_destroy (&dir);
}

/* The trainer never opens the template (its constructors would run in the
   trainer, unsandboxed): the trial's process checks the proposal's knobs
   against its template's table. Knobs that do not fit end the trial
   ERRORED naming the knob (a value of the wrong type, one out of range, an
   unknown knob, a missing one), and the next trial goes on; a template of
   another task ends each trial ERRORED saying so. */
static void
test_knobs_not_fitting (void **state)
{
    (void)state;
    s_bus_short ();
    char *dir = s_data_dir ();
    const char *proposals[] = {
        "{\"behaviour\": \"complete\", \"steps\": \"many\", \"lr\": 0.1, \"alpha\": 0.6}",
        "{\"behaviour\": \"complete\", \"steps\": 2, \"lr\": 0.1, \"alpha\": 7}",
        "{\"behaviour\": \"complete\", \"steps\": 2, \"lr\": 0.1, \"alpha\": 0.6, "
        "\"depth\": 3}",
        "{\"behaviour\": \"complete\", \"steps\": 2, \"alpha\": 0.6}",
        "{\"behaviour\": \"complete\", \"steps\": 2, \"lr\": 0.1, \"alpha\": 0.7}",
        NULL,
    };
    zactor_t *trainer;
    json_t *results =
        s_run_script (MISBEHAVING_TEMPLATE, "TABULAR_CLASSIFICATION", proposals, dir, 60, &trainer);
    assert_int_equal (json_array_size (results), 5);
    const char *unfit = "the proposal's knobs do not fit the template";
    s_assert_result (results, 0, "ERRORED", unfit, "'steps'", NULL);
    s_assert_result (results, 1, "ERRORED", unfit, "'alpha'", NULL);
    s_assert_result (results, 2, "ERRORED", unfit, "'depth'", NULL);
    s_assert_result (results, 3, "ERRORED", unfit, "'lr'", NULL);
    s_assert_result (results, 4, "COMPLETED", NULL);
    char path[600];
    snprintf (path, sizeof path, "%s/scripted-1.msgpack", dir);
    assert_false (s_file_exists (path));
    snprintf (path, sizeof path, "%s/scripted-5.msgpack", dir);
    assert_true (s_file_exists (path));
    zactor_destroy (&trainer);
    json_decref (results);

    const char *one[] = {proposals[4], NULL};
    results = s_run_script (MISBEHAVING_TEMPLATE, "IMAGE_CLASSIFICATION", one, dir, 60, &trainer);
    assert_int_equal (json_array_size (results), 1);
    s_assert_result (results, 0, "ERRORED", "cannot open the template",
                     "is for task TABULAR_CLASSIFICATION, not IMAGE_CLASSIFICATION", NULL);
    zactor_destroy (&trainer);
    json_decref (results);
    rfk_test_tmpdir_destroy (&dir);
}

/* ---- through rafikid and a fake admin ----------------------------------- */

/* Registers the advisor and starts it; waits for its RUNNING report. Its
   ServiceConfig has the knob table and a model_path that does not exist:
   the advisor never loads a template. */
static pid_t
s_start_advisor (rfk_test_admin_t *admin, const char *dir, const char *budget, const char *fixed)
{
    json_t *config = json_pack (
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:{s:i, s:b}, s:[s], s:{s:o}}", "service_id",
        "advisor-1", "service_type", "ADVISOR", "task", "TABULAR_CLASSIFICATION",
        "sub_train_job_id", "sub-job-1", "model_name", "Sleepy", "model_path",
        "/nonexistent/never-loaded.so", "knobs", s_knob_table (SLEEPY_TEMPLATE), "budget",
        json_loads (budget, 0, NULL), "train_args", "seed", 5, "early_stop", 0, "bind_endpoints",
        "tcp://127.0.0.1:*", "config", "fixed_knobs", json_loads (fixed, 0, NULL));
    assert_non_null (config);
    rfk_test_admin_add_service (admin, "advisor-1", "secret-advisor-1", config);
    pid_t pid = rfk_test_admin_spawn (admin, "advisor", "advisor-1", "secret-advisor-1", dir);
    assert_true (pid > 0);
    return pid;
}

static bool
s_advice_known (rfk_test_admin_t *admin, void *arg)
{
    (void)arg;
    return rfk_test_admin_advice (admin) != NULL;
}

static pid_t
s_start_trainer (rfk_test_admin_t *admin, const char *dir, const char *id)
{
    json_t *config =
        json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:{}, s:s, s:s, s:{s:i}}", "service_id", id,
                   "service_type", "TRAIN", "task", "TABULAR_CLASSIFICATION", "model_path",
                   SLEEPY_TEMPLATE, "train_dataset_path", IRIS_TRAIN, "val_dataset_path", IRIS_VAL,
                   "train_args", "advisor_endpoint", rfk_test_admin_advice (admin), "worker_id", id,
                   "config", "trial_timeout_s", 60);
    assert_non_null (config);
    char secret[64];
    snprintf (secret, sizeof secret, "secret-%s", id);
    rfk_test_admin_add_service (admin, id, secret, config);
    pid_t pid = rfk_test_admin_spawn (admin, "trainer", id, secret, dir);
    assert_true (pid > 0);
    return pid;
}

/* Every trial ended: none PENDING or RUNNING. */
static void
s_assert_nothing_running (rfk_test_admin_t *admin)
{
    assert_int_equal (rfk_test_admin_trials_with (admin, "PENDING"), 0);
    assert_int_equal (rfk_test_admin_trials_with (admin, "RUNNING"), 0);
}

/* A sub job through the service protocol: the advisor and two trainers say
   Hello, every trial is recorded PENDING -> RUNNING -> COMPLETED with its
   logs, metrics, plot, score and parameters file; the budget ends the sub
   job, every service reports STOPPED and exits 0. */
static void
test_services_through_admin (void **state)
{
    (void)state;
    s_bus_short ();
    char *dir = s_data_dir ();
    rfk_test_admin_t *admin = rfk_test_admin_new (&s_bus);
    pid_t advisor =
        s_start_advisor (admin, dir, "{\"MODEL_TRIAL_COUNT\": 6}", "{\"ms\": 30, \"steps\": 2}");
    assert_true (rfk_test_admin_wait (admin, s_advice_known, NULL, 60000));
    pid_t one = s_start_trainer (admin, dir, "trainer-1");
    pid_t two = s_start_trainer (admin, dir, "trainer-2");
    assert_int_equal (rfk_test_admin_reap (admin, one, 120000), 0);
    assert_int_equal (rfk_test_admin_reap (admin, two, 120000), 0);
    assert_int_equal (rfk_test_admin_reap (admin, advisor, 60000), 0);

    assert_int_equal (json_object_size (rfk_test_admin_trials (admin)), 6);
    assert_int_equal (rfk_test_admin_trials_with (admin, "COMPLETED"), 6);
    const char *id;
    json_t *trial;
    json_object_foreach (rfk_test_admin_trials (admin), id, trial)
    {
        const char *params = json_string_value (json_object_get (trial, "params_path"));
        char expected[600];
        snprintf (expected, sizeof expected, "%s/params/%s.msgpack", dir, id);
        assert_string_equal (params, expected);
        assert_true (s_file_exists (params));
        assert_true (json_integer_value (json_object_get (trial, "logs")) >= 1);
        assert_int_equal (json_integer_value (json_object_get (trial, "metrics")), 2);
        assert_int_equal (json_integer_value (json_object_get (trial, "plots")), 1);
        assert_true (json_is_real (json_object_get (trial, "score")));
    }
    assert_string_equal (rfk_test_admin_status (admin, "advisor-1"), "STOPPED");
    assert_string_equal (rfk_test_admin_status (admin, "trainer-1"), "STOPPED");
    assert_string_equal (rfk_test_admin_status (admin, "trainer-2"), "STOPPED");
    assert_int_equal (rfk_test_admin_count (admin, "SubTrainJobDone"), 1);
    rfk_test_admin_destroy (&admin);
    rfk_test_tmpdir_destroy (&dir);
}

/* True once trainer-1 holds a RUNNING trial. */
static bool
s_trainer_one_running (rfk_test_admin_t *admin, void *arg)
{
    (void)arg;
    const char *id;
    json_t *trial;
    json_object_foreach (
        rfk_test_admin_trials (admin), id,
        trial) if (streq (json_string_value (json_object_get (trial, "status")), "RUNNING") &&
                   streq (json_string_value (json_object_get (trial, "worker")),
                          "trainer-1")) return true;
    return false;
}

/* SIGKILL of a trainer in the middle of a trial: that trial ends ERRORED
   (the advisor notices the silence), the other trainer finishes the budget,
   nothing stays RUNNING. */
static void
test_sigkill_trainer_mid_trial (void **state)
{
    (void)state;
    s_bus_with (3000); /* the advisor must notice the trainer is gone */
    char *dir = s_data_dir ();
    rfk_test_admin_t *admin = rfk_test_admin_new (&s_bus);
    pid_t advisor =
        s_start_advisor (admin, dir, "{\"MODEL_TRIAL_COUNT\": 5}", "{\"ms\": 1500, \"steps\": 1}");
    assert_true (rfk_test_admin_wait (admin, s_advice_known, NULL, 60000));
    pid_t one = s_start_trainer (admin, dir, "trainer-1");
    pid_t two = s_start_trainer (admin, dir, "trainer-2");
    assert_true (rfk_test_admin_wait (admin, s_trainer_one_running, NULL, 60000));
    kill (one, SIGKILL);
    assert_int_equal (rfk_test_admin_reap (admin, one, 30000), 128 + SIGKILL);
    assert_int_equal (rfk_test_admin_reap (admin, two, 120000), 0);
    assert_int_equal (rfk_test_admin_reap (admin, advisor, 60000), 0);

    assert_int_equal (json_object_size (rfk_test_admin_trials (admin)), 5);
    s_assert_nothing_running (admin);
    assert_int_equal (rfk_test_admin_trials_with (admin, "ERRORED"), 1);
    assert_int_equal (rfk_test_admin_trials_with (admin, "COMPLETED"), 4);
    const char *id;
    json_t *trial;
    json_object_foreach (
        rfk_test_admin_trials (admin), id,
        trial) if (streq (json_string_value (json_object_get (trial, "status")), "ERRORED"))
    {
        assert_string_equal (json_string_value (json_object_get (trial, "worker")), "trainer-1");
        assert_non_null (strstr (json_string_value (json_object_get (trial, "error")), "silent"));
    }
    assert_string_equal (rfk_test_admin_status (admin, "advisor-1"), "STOPPED");
    rfk_test_admin_destroy (&admin);
    rfk_test_tmpdir_destroy (&dir);
}

/* SIGTERM of a trainer in the middle of a trial: the trial is stopped and
   recorded ERRORED ("stopped"), the trainer reports STOPPED and exits 0. */
static void
test_sigterm_stops_the_trial (void **state)
{
    (void)state;
    s_bus_with (3000); /* the advisor must notice the trainer is gone */
    char *dir = s_data_dir ();
    rfk_test_admin_t *admin = rfk_test_admin_new (&s_bus);
    pid_t advisor =
        s_start_advisor (admin, dir, "{\"MODEL_TRIAL_COUNT\": 1}", "{\"ms\": 60000, \"steps\": 1}");
    assert_true (rfk_test_admin_wait (admin, s_advice_known, NULL, 60000));
    pid_t one = s_start_trainer (admin, dir, "trainer-1");
    assert_true (rfk_test_admin_wait (admin, s_trainer_one_running, NULL, 60000));
    kill (one, SIGTERM);
    assert_int_equal (rfk_test_admin_reap (admin, one, 30000), 0);
    s_assert_nothing_running (admin);
    assert_int_equal (rfk_test_admin_trials_with (admin, "ERRORED"), 1);
    const char *id;
    json_t *trial;
    json_object_foreach (rfk_test_admin_trials (admin), id, trial)
        assert_string_equal (json_string_value (json_object_get (trial, "error")), "stopped");
    assert_string_equal (rfk_test_admin_status (admin, "trainer-1"), "STOPPED");
    /* The advisor's only trial is over: it ends too. */
    assert_int_equal (rfk_test_admin_reap (admin, advisor, 60000), 0);
    assert_string_equal (rfk_test_admin_status (admin, "advisor-1"), "STOPPED");
    rfk_test_admin_destroy (&admin);
    rfk_test_tmpdir_destroy (&dir);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_advisor_and_trainers),
        cmocka_unit_test (test_pruning),
        cmocka_unit_test (test_misbehaving_trials),
        cmocka_unit_test (test_result_refused_by_advisor),
        cmocka_unit_test (test_knobs_not_fitting),
        cmocka_unit_test (test_services_through_admin),
        cmocka_unit_test (test_sigkill_trainer_mid_trial),
        cmocka_unit_test (test_sigterm_stops_the_trial),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
