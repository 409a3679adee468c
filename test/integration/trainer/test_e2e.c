/*  test/integration/trainer/test_e2e.c: training end to end through a real
    `rafikid up` (admin with SQLite and the local launcher), driven with
    librafiki as a user would.

    The iris dataset is made by deploy/datasets/convert and uploaded; the
    zoo's XgbClassifier and LinearClassifier templates are uploaded as
    models. Then:
    - a train job of both models, two trainers each: admin launches an
      advisor and two trainers per model, every trial is recorded PENDING ->
      RUNNING -> COMPLETED with knobs, score, times and parameters, the
      budget ends each sub job, their services end and the job rolls up to
      STOPPED;
    - SIGKILL of a trainer in the middle of a trial (the Sleepy test
      template, slowed down by train args): that trial ends ERRORED, the
      job still spends its budget of trials, nothing stays RUNNING;
    - `train stop` in the middle of a trial: the job is STOPPED at once, no
      trial stays RUNNING and the services end.
    Every wait is on an event (admin's events socket) or a reply, with a
    generous deadline: a loaded machine is slow, not wrong.
*/
#define _GNU_SOURCE /* POSIX_SPAWN_SETSID */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <rafiki/client.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rfk_test.h"

#undef streq /* czmq (through rfk_test.h) has one that is not NULL-safe */
#define streq(a, b) ((a) && (b) && strcmp ((a), (b)) == 0) /* NULL-safe */
#define S_PASSWORD "an end-to-end password, long enough"
#define S_TASK "TABULAR_CLASSIFICATION"
#define S_JOB_MS 600000 /* how long a job may take on a loaded machine */

static char *s_dir; /* this run's folder (rfk_test_tmpdir_new) */
static pid_t s_up;
static int s_command_port, s_events_port;
static rfk_sdk_t *s_sdk;
static char *s_train_id, *s_val_id;

/* ---- helpers -------------------------------------------------------------- */

/* The reply of a librafiki call, or a failure naming the call and why. */
static json_t *
s_ok (json_t *reply, const char *what)
{
    if (!reply)
        fail_msg ("%s failed: %s %s", what, rfk_sdk_code_name (rfk_sdk_error (s_sdk)->code),
                  rfk_sdk_error (s_sdk)->message);
    return reply;
}

static const char *
s_str (const json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

/* The pid of the `rafikid <role> --service-id <id>` process, or 0. */
static pid_t
s_service_pid (const char *role, const char *id)
{
    DIR *proc = opendir ("/proc");
    pid_t found = 0;
    struct dirent *entry;
    while (proc && !found && (entry = readdir (proc))) {
        if (!isdigit ((unsigned char)entry->d_name[0]))
            continue;
        char path[300], args[4096];
        snprintf (path, sizeof path, "/proc/%s/cmdline", entry->d_name);
        FILE *file = fopen (path, "rb");
        if (!file)
            continue;
        size_t size = fread (args, 1, sizeof args - 1, file);
        fclose (file);
        args[size] = 0;
        /* argv: rafikid, role, --service-id, id */
        const char *argv[4] = {NULL, NULL, NULL, NULL};
        size_t at = 0;
        for (int index = 0; index < 4 && at < size; index++) {
            argv[index] = args + at;
            at += strlen (args + at) + 1;
        }
        if (argv[3] && streq (argv[1], role) && streq (argv[2], "--service-id") &&
            streq (argv[3], id) && strstr (argv[0], "rafikid"))
            found = (pid_t)atoi (entry->d_name);
    }
    if (proc)
        closedir (proc);
    return found;
}

/* How many `rafikid advisor|trainer --service-id` processes are children
   of rafikid up. */
static int
s_training_services (void)
{
    DIR *proc = opendir ("/proc");
    int count = 0;
    struct dirent *entry;
    while (proc && (entry = readdir (proc))) {
        if (!isdigit ((unsigned char)entry->d_name[0]))
            continue;
        char path[300], text[1024];
        snprintf (path, sizeof path, "/proc/%s/stat", entry->d_name);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        size_t size = fread (text, 1, sizeof text - 1, file);
        fclose (file);
        text[size] = 0;
        const char *end = strrchr (text, ')');
        int ppid = 0;
        char state = 0;
        if (!end || sscanf (end + 1, " %c %d", &state, &ppid) != 2 || ppid != s_up || state == 'Z')
            continue;
        snprintf (path, sizeof path, "/proc/%s/cmdline", entry->d_name);
        file = fopen (path, "rb");
        if (!file)
            continue;
        size = fread (text, 1, sizeof text - 1, file);
        fclose (file);
        text[size] = 0;
        const char *role = text + strlen (text) + 1;
        if ((size_t)(role - text) < size && (streq (role, "advisor") || streq (role, "trainer")))
            count++;
    }
    if (proc)
        closedir (proc);
    return count;
}

/* Waits for the next event (any) for at most ms: the pace of the loops
   below, which look at the state after every event. */
static void
s_next_event (rfk_sdk_watch_t *watch, int ms)
{
    json_t *event = rfk_sdk_watch_next (watch, ms);
    json_decref (event);
}

/* The trials of the latest job of app. */
static json_t *
s_trials (const char *app)
{
    json_t *reply = s_ok (rfk_sdk_train_job_trials (s_sdk, app, -1, 1000, 0, false, 0), "trials");
    /* No trials yet: the empty repeated field is left out. */
    json_t *trials = json_object_get (reply, "trials");
    trials = trials ? json_incref (trials) : json_array ();
    json_decref (reply);
    assert_true (json_is_array (trials));
    return trials;
}

static int
s_count (const json_t *trials, const char *status)
{
    int count = 0;
    size_t index;
    json_t *trial;
    json_array_foreach (trials, index, trial) if (streq (s_str (trial, "status"), status)) count++;
    return count;
}

typedef struct {
    const char *app; /* the job's app */
    json_t *found;   /* the job or trial found (yours) */
} s_found_t;

/* Whether the latest job of app is STOPPED or ERRORED (in found). */
static bool
s_job_final (void *arg)
{
    s_found_t *wait = arg;
    json_decref (wait->found);
    wait->found = s_ok (rfk_sdk_train_job_get (s_sdk, wait->app, -1), "train job get");
    const char *status = s_str (wait->found, "status");
    return streq (status, "STOPPED") || streq (status, "ERRORED");
}

/* Whether a trial of app is RUNNING on a worker (in found). */
static bool
s_trial_running (void *arg)
{
    s_found_t *wait = arg;
    json_t *trials = s_trials (wait->app);
    size_t index;
    json_t *trial;
    json_array_foreach (trials, index, trial)
    {
        if (!wait->found && streq (s_str (trial, "status"), "RUNNING") &&
            s_str (trial, "worker_id"))
            wait->found = json_incref (trial);
    }
    json_decref (trials);
    return wait->found != NULL;
}

static bool
s_services_gone (void *arg)
{
    (void)arg;
    return s_training_services () == 0;
}

/* Any event may be the one that changes what is waited for. */
static void
s_wake_on_event (void *watch, int timeout_ms)
{
    s_next_event (watch, timeout_ms < 500 ? timeout_ms : 500);
}

/* Waits until the latest job of app is STOPPED or ERRORED; returns it. */
static json_t *
s_wait_job_final (rfk_sdk_watch_t *watch, const char *app)
{
    s_found_t wait = {app, NULL};
    if (!rfk_test_wait_for (s_job_final, &wait, s_wake_on_event, watch, S_JOB_MS))
        fail_msg ("the train job %s did not end within %d s", app, S_JOB_MS / 1000);
    return wait.found;
}

/* Waits until a trial of app is RUNNING; returns it. */
static json_t *
s_wait_running_trial (rfk_sdk_watch_t *watch, const char *app)
{
    s_found_t wait = {app, NULL};
    if (!rfk_test_wait_for (s_trial_running, &wait, s_wake_on_event, watch, S_JOB_MS))
        fail_msg ("no trial of %s started within %d s", app, S_JOB_MS / 1000);
    return wait.found;
}

/* Waits (with a deadline) until no advisor or trainer process is left. */
static void
s_wait_services_gone (rfk_sdk_watch_t *watch)
{
    if (!rfk_test_wait_for (s_services_gone, NULL, s_wake_on_event, watch, 120000))
        fail_msg ("%d advisor/trainer processes still run", s_training_services ());
}

static char *
s_upload_model (const char *path, const char *name)
{
    rfk_sdk_model_info_t info = {.name = name, .task = S_TASK, .model_class = name};
    json_t *model = s_ok (rfk_sdk_model_upload (s_sdk, path, &info, NULL, NULL), name);
    char *id = strdup (s_str (model, "id"));
    json_decref (model);
    return id;
}

/* Creates a train job of app on iris with these models, budget and train
   args (JSON text). */
static void
s_create_job (const char *app, char **model_ids, size_t n, const char *budget,
              const char *train_args)
{
    json_t *models = json_array ();
    for (size_t index = 0; index < n; index++)
        json_array_append_new (models, json_string (model_ids[index]));
    json_t *body = json_pack ("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "app", app, "task", S_TASK,
                              "train_dataset_id", s_train_id, "val_dataset_id", s_val_id, "budget",
                              json_loads (budget, 0, NULL), "model_ids", models, "train_args",
                              json_loads (train_args, 0, NULL));
    assert_non_null (body);
    json_t *job = s_ok (rfk_sdk_train_job_create (s_sdk, body), "train job create");
    assert_string_equal (s_str (job, "app"), app);
    json_decref (job);
    json_decref (body);
}

/* ---- set-up: rafikid up, iris, a session ---------------------------------- */

static int
s_setup (void **state)
{
    (void)state;
    s_dir = rfk_test_tmpdir_new ("e2e");
    if (!s_dir)
        return -1;
    char folder[600];
    snprintf (folder, sizeof folder, "%s/var", s_dir);
    mkdir (folder, 0700);
    snprintf (folder, sizeof folder, "%s/var/logs", s_dir);
    mkdir (folder, 0700);
    /* iris from the converter, as a user would make it. */
    char command[1200];
    snprintf (command, sizeof command, "'%s' iris '%s/iris' >/dev/null", RFK_CONVERT, s_dir);
    if (system (command) != 0) {
        fprintf (stderr, "cannot convert iris: %s\n", command);
        return -1;
    }

    /* Every port 0: rafikid up writes those it got to var/rafikid.ports.
       Its own session: nothing signalled to this test's process group
       reaches it, and nothing it does reaches the test. */
    char var[600];
    snprintf (var, sizeof var, "%s/var", s_dir);
    rfk_test_up_t up = {.data_dir = var, .password = S_PASSWORD, .own_session = true};
    s_up = rfk_test_up_spawn (&up);
    if (s_up <= 0)
        return -1;
    rfk_test_ports_t ports;
    if (rfk_test_wait_ports (var, s_up, 120000, &ports) != 0) {
        fprintf (stderr, "rafikid up did not get ready (see %s/logs/up.log)\n", var);
        return -1;
    }
    s_command_port = ports.command;
    s_events_port = ports.events;

    rfk_sdk_options_t opts;
    rfk_sdk_options_init (&opts);
    char admin[64];
    snprintf (admin, sizeof admin, "127.0.0.1:%d", s_command_port);
    opts.admin = admin;
    opts.events_port = s_events_port;
    opts.timeout_ms = 60000; /* a loaded machine; the first start makes the store */
    opts.retries = 1;
    rfk_sdk_error_t error;
    s_sdk = rfk_sdk_new (&opts, &error);
    if (!s_sdk) {
        fprintf (stderr, "no session with rafikid up: %s\n", error.message);
        return -1;
    }
    json_t *login = rfk_sdk_login (s_sdk, "superadmin@rafiki", S_PASSWORD);
    if (!login) {
        fprintf (stderr, "login: %s\n", rfk_sdk_error (s_sdk)->message);
        return -1;
    }
    json_decref (login);
    char path[600];
    snprintf (path, sizeof path, "%s/iris/iris-train.csv", s_dir);
    json_t *train = rfk_sdk_dataset_upload (s_sdk, path, "iris-train", S_TASK, NULL, NULL);
    snprintf (path, sizeof path, "%s/iris/iris-val.csv", s_dir);
    json_t *val = rfk_sdk_dataset_upload (s_sdk, path, "iris-val", S_TASK, NULL, NULL);
    if (!train || !val) {
        fprintf (stderr, "dataset upload: %s\n", rfk_sdk_error (s_sdk)->message);
        return -1;
    }
    s_train_id = strdup (s_str (train, "id"));
    s_val_id = strdup (s_str (val, "id"));
    json_decref (train);
    json_decref (val);
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    rfk_sdk_destroy (&s_sdk);
    if (s_up > 0) {
        kill (s_up, SIGTERM);
        int status = rfk_test_wait_child (s_up, 120000);
        if (status != 0)
            fprintf (stderr, "rafikid up ended with status %d\n", status);
    }
    if (getenv ("RAFIKI_TEST_KEEP")) { /* to read the services' logs */
        fprintf (stderr, "kept %s\n", s_dir);
        zstr_free (&s_dir);
    } else
        rfk_test_tmpdir_destroy (&s_dir);
    free (s_train_id);
    free (s_val_id);
    return 0;
}

/* ---- the tests ------------------------------------------------------------ */

/* Usage: a train job of two zoo models with two trainers each on iris. The
   budget ends each sub job; every trial is recorded with its knobs, score,
   times and parameters; the services end; the job is STOPPED. */
static void
test_train_job_of_two_models (void **state)
{
    (void)state;
    rfk_sdk_watch_t *watch = rfk_sdk_watch_new (s_sdk, "job.");
    assert_non_null (watch);
    rfk_sdk_watch_subscribe (watch, "trial.");
    char *models[] = {s_upload_model (XGB_TEMPLATE, "XgbClassifier"),
                      s_upload_model (LINEAR_TEMPLATE, "LinearClassifier")};
    s_create_job ("iris-e2e", models, 2, "{\"MODEL_TRIAL_COUNT\": 4, \"TRAINER_COUNT\": 2}",
                  "{\"seed\": 7}");

    json_t *job = s_wait_job_final (watch, "iris-e2e");
    assert_string_equal (s_str (job, "status"), "STOPPED");
    json_t *subs = json_object_get (job, "sub_train_jobs");
    assert_int_equal (json_array_size (subs), 2);
    size_t index;
    json_t *sub;
    json_array_foreach (subs, index, sub) assert_string_equal (s_str (sub, "status"), "STOPPED");
    json_decref (job);

    json_t *trials = s_trials ("iris-e2e");
    assert_int_equal (json_array_size (trials), 8);
    assert_int_equal (s_count (trials, "PENDING"), 0);
    assert_int_equal (s_count (trials, "RUNNING"), 0);
    int completed[2] = {0, 0};
    json_t *trial;
    const char *best_id = NULL;
    double best = -1;
    json_array_foreach (trials, index, trial)
    {
        const char *model = s_str (trial, "model_name");
        assert_non_null (model);
        assert_true (json_object_size (json_object_get (trial, "knobs")) > 0);
        assert_non_null (s_str (trial, "datetime_started"));
        assert_non_null (s_str (trial, "datetime_stopped"));
        assert_non_null (s_str (trial, "worker_id"));
        if (!streq (s_str (trial, "status"), "COMPLETED"))
            continue;
        completed[streq (model, "XgbClassifier") ? 0 : 1]++;
        double score = json_number_value (json_object_get (trial, "score"));
        assert_true (score >= 0 && score <= 1);
        assert_true (json_is_true (json_object_get (trial, "has_params")));
        if (score > best) {
            best = score;
            best_id = s_str (trial, "id");
        }
    }
    assert_true (completed[0] >= 1);
    assert_true (completed[1] >= 1);
    /* Iris is easy: the best trial classifies most of it. */
    assert_true (best > 0.8);
    char params[600];
    snprintf (params, sizeof params, "%s/best.msgpack", s_dir);
    assert_int_equal (rfk_sdk_trial_params_download (s_sdk, best_id, params), 0);
    struct stat st;
    assert_int_equal (stat (params, &st), 0);
    assert_true (st.st_size > 0);
    json_t *logs = s_ok (rfk_sdk_trial_logs (s_sdk, best_id), "trial logs");
    assert_true (json_array_size (json_object_get (logs, "messages")) >= 1);
    json_decref (logs);
    json_decref (trials);

    /* Its advisors and trainers are gone. */
    s_wait_services_gone (watch);
    rfk_sdk_watch_destroy (&watch);
    free (models[0]);
    free (models[1]);
}

/* SIGKILL of a trainer in the middle of a trial: that trial ends ERRORED,
   the job still spends its budget of trials, nothing stays RUNNING. */
static void
test_sigkill_of_a_trainer (void **state)
{
    (void)state;
    rfk_sdk_watch_t *watch = rfk_sdk_watch_new (s_sdk, "job.");
    assert_non_null (watch);
    rfk_sdk_watch_subscribe (watch, "trial.");
    char *model = s_upload_model (SLEEPY_TEMPLATE, "Sleepy");
    s_create_job ("iris-kill", &model, 1, "{\"MODEL_TRIAL_COUNT\": 5, \"TRAINER_COUNT\": 2}",
                  "{\"advisor\": \"random\", \"sleepy_ms\": \"3000\", \"sleepy_steps\": \"1\"}");

    json_t *running = s_wait_running_trial (watch, "iris-kill");
    char *killed = strdup (s_str (running, "id"));
    pid_t pid = s_service_pid ("trainer", s_str (running, "worker_id"));
    assert_true (pid > 0);
    assert_int_equal (kill (pid, SIGKILL), 0);
    json_decref (running);

    json_t *job = s_wait_job_final (watch, "iris-kill");
    assert_string_equal (s_str (job, "status"), "STOPPED");
    json_decref (job);
    json_t *trials = s_trials ("iris-kill");
    assert_int_equal (json_array_size (trials), 5);
    assert_int_equal (s_count (trials, "PENDING"), 0);
    assert_int_equal (s_count (trials, "RUNNING"), 0);
    assert_true (s_count (trials, "COMPLETED") >= 3);
    size_t index;
    json_t *trial;
    json_array_foreach (trials, index, trial)
    {
        if (streq (s_str (trial, "id"), killed)) {
            assert_string_equal (s_str (trial, "status"), "ERRORED");
            assert_non_null (s_str (trial, "error"));
        }
    }
    json_decref (trials);
    s_wait_services_gone (watch);
    rfk_sdk_watch_destroy (&watch);
    free (killed);
    free (model);
}

/* `train stop` in the middle of a trial stops everything at once: the job
   is STOPPED, no trial stays RUNNING, the services end. */
static void
test_stop_mid_trial (void **state)
{
    (void)state;
    rfk_sdk_watch_t *watch = rfk_sdk_watch_new (s_sdk, "job.");
    assert_non_null (watch);
    rfk_sdk_watch_subscribe (watch, "trial.");
    json_t *models = s_ok (rfk_sdk_models_list (s_sdk, S_TASK), "models");
    char *sleepy = NULL;
    size_t index;
    json_t *model;
    json_array_foreach (json_object_get (models, "models"), index,
                        model) if (streq (s_str (model, "name"), "Sleepy")) sleepy =
        strdup (s_str (model, "id"));
    json_decref (models);
    assert_non_null (sleepy);
    s_create_job ("iris-stop", &sleepy, 1, "{\"MODEL_TRIAL_COUNT\": 3, \"TRAINER_COUNT\": 2}",
                  "{\"advisor\": \"random\", \"sleepy_ms\": \"120000\"}");
    json_t *running = s_wait_running_trial (watch, "iris-stop");
    json_decref (running);

    json_t *stopped = s_ok (rfk_sdk_train_job_stop (s_sdk, "iris-stop", -1), "train job stop");
    json_decref (stopped);
    json_t *job = s_ok (rfk_sdk_train_job_get (s_sdk, "iris-stop", -1), "train job get");
    assert_string_equal (s_str (job, "status"), "STOPPED");
    json_decref (job);
    json_t *trials = s_trials ("iris-stop");
    assert_true (json_array_size (trials) >= 1);
    assert_int_equal (s_count (trials, "PENDING"), 0);
    assert_int_equal (s_count (trials, "RUNNING"), 0);
    json_decref (trials);
    s_wait_services_gone (watch);
    /* And after the trainers' last reports, still nothing RUNNING. */
    trials = s_trials ("iris-stop");
    assert_int_equal (s_count (trials, "PENDING"), 0);
    assert_int_equal (s_count (trials, "RUNNING"), 0);
    json_decref (trials);
    rfk_sdk_watch_destroy (&watch);
    free (sleepy);
}

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_train_job_of_two_models),
        cmocka_unit_test (test_sigkill_of_a_trainer),
        cmocka_unit_test (test_stop_mid_trial),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
