/*  test_e2e_images.c: a JPEG image dataset of mixed sizes trains end to end
    through a real `rafikid up` (issue 17 item 4).

    deploy/datasets/convert makes `photos` (crops of python3-sklearn's two
    sample photographs: JPEGs, some PNGs, 24 to 96 pixels a side, colour
    and grey); the zoo's MlpImageClassifier is tuned on it (3 trials; some
    may be pruned, none may fail) with train arguments image_size 24 and
    image_channels 3 (every image resized once by the loader, in each
    sandboxed trial), the best trial is deployed and a 24x24 colour query
    is answered with two class probabilities.

    The test is skipped (TAP "# SKIP") when the converter cannot run
    (Debian's python3-pil or python3-sklearn missing); deploy/install-deps
    installs them.

    Environment (set by meson): RAFIKID, RAFIKI_TEST_MLP (template path),
    RAFIKI_SOURCE_ROOT (for deploy/datasets/convert).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <czmq.h>
#include <rafiki/client.h>
#include <signal.h>
#include <sys/wait.h>

#include "rfk_test.h"
#include "rfk_test_case.h"

#define S_PASSWORD "e2e-Images-pass-42"
#define S_TRAIN_MS 300000 /* three trials, sanitizer build, busy machine */
#define S_SERVE_MS 90000  /* an inference job up */
#define S_SIDE 24         /* the size the job asks for */
/* The advisor's seed (RAFIKI_TEST_SEED overrides it). */
#define S_SEED (getenv ("RAFIKI_TEST_SEED") ? getenv ("RAFIKI_TEST_SEED") : "1")

typedef struct {
    char *dir;              /* the test's folder: var/ (data dir), data/ */
    pid_t pid;              /* rafikid up */
    rfk_sdk_t *sdk;         /* logged in as the superadmin */
    rfk_sdk_watch_t *watch; /* every event: what wakes the waits */
} s_platform_t;

static s_platform_t s_platform;

/* Makes the photos dataset (120 train, 40 val images) in dir/data; false
   when the converter cannot run here. */
static bool
s_convert (const char *dir)
{
    char cmd[2048];
    snprintf (cmd, sizeof cmd,
              "/usr/bin/python3 -c 'import PIL, sklearn' 2>/dev/null && "
              "'%s/deploy/datasets/convert' photos '%s/data' --limit 120 > '%s/convert.log' 2>&1",
              rfk_test_env ("RAFIKI_SOURCE_ROOT"), dir, dir);
    return system (cmd) == 0;
}

/* Logs in, retrying while `rafikid up` still binds. */
static void
s_login (s_platform_t *platform, int command_port, int events_port)
{
    char admin[64];
    snprintf (admin, sizeof admin, "127.0.0.1:%d", command_port);
    int64_t deadline = zclock_mono () + 30000;
    rfk_sdk_error_t error = {0};
    while (!platform->sdk && zclock_mono () < deadline) {
        rfk_sdk_options_t opts;
        rfk_sdk_options_init (&opts);
        opts.admin = admin;
        opts.events_port = events_port;
        opts.timeout_ms = 30000;
        opts.retries = 0;
        platform->sdk = rfk_sdk_new (&opts, &error);
        if (!platform->sdk)
            zmq_poll (NULL, 0, 50); /* nothing listens yet */
    }
    if (!platform->sdk)
        fail_msg ("rafikid up never listened at %s: %s", admin, error.message);
    json_t *token = rfk_sdk_login (platform->sdk, "superadmin@rafiki", S_PASSWORD);
    if (!token)
        rfk_test_sdk_fail (platform->sdk, "login");
    json_decref (token);
    platform->watch = rfk_sdk_watch_new (platform->sdk, "");
    assert_non_null (platform->watch);
}

static int
s_setup (void **state)
{
    (void)state;
    s_platform_t *platform = &s_platform;
    platform->dir = rfk_test_tmpdir_new ("e2e-images");
    assert_non_null (platform->dir);
    if (!s_convert (platform->dir))
        return 0; /* the test skips */
    char var[300];
    snprintf (var, sizeof var, "%s/var", platform->dir);
    rfk_test_up_t up = {.data_dir = var, .password = S_PASSWORD};
    platform->pid = rfk_test_up_spawn (&up);
    assert_true (platform->pid > 0);
    rfk_test_ports_t ports;
    if (rfk_test_wait_ports (var, platform->pid, 120000, &ports) != 0)
        fail_msg ("rafikid up did not get ready (see %s/logs)", var);
    s_login (platform, ports.command, ports.events);
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    s_platform_t *platform = &s_platform;
    rfk_sdk_watch_destroy (&platform->watch);
    rfk_sdk_destroy (&platform->sdk);
    int status = 0;
    if (platform->pid > 0) {
        kill (platform->pid, SIGTERM);
        status = rfk_test_wait_child (platform->pid, 60000);
    }
    if (status == 0)
        rfk_test_tmpdir_destroy (&platform->dir);
    else {
        fprintf (stderr, "# rafikid up exited with %d; its logs are in %s/var/logs\n", status,
                 platform->dir);
        zstr_free (&platform->dir);
    }
    return status == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------------- */

typedef struct {
    const char *app;  /* the job's app */
    bool inference;   /* an inference job, else a train job */
    const char *want; /* the status waited for */
    json_t *job;      /* the job as last seen */
} s_job_wait_t;

static bool
s_job_is (void *arg)
{
    s_job_wait_t *wait = arg;
    rfk_sdk_t *sdk = s_platform.sdk;
    json_decref (wait->job);
    wait->job = wait->inference ? rfk_sdk_inference_job_get (sdk, wait->app, -1)
                                : rfk_sdk_train_job_get (sdk, wait->app, -1);
    const char *status = json_string_value (json_object_get (wait->job, "status"));
    return status && (streq (status, wait->want) || streq (status, "ERRORED"));
}

/* Any event may be the one that changes a job: look again after each. */
static void
s_wake (void *arg, int timeout_ms)
{
    (void)arg;
    json_decref (rfk_sdk_watch_next (s_platform.watch, timeout_ms < 1000 ? timeout_ms : 1000));
}

/* Waits until app's job is `want` (ERRORED or a timeout fails); returns it. */
static json_t *
s_wait_job (const char *app, bool inference, const char *want, int timeout_ms)
{
    s_job_wait_t wait = {app, inference, want, NULL};
    bool done = rfk_test_wait_for (s_job_is, &wait, s_wake, NULL, timeout_ms);
    const char *status = json_string_value (json_object_get (wait.job, "status"));
    if (!done || !streq (status, want))
        fail_msg ("the %s job of %s is %s, not %s (logs in %s/var/logs)",
                  inference ? "inference" : "train", app, status ? status : "missing", want,
                  s_platform.dir);
    return wait.job;
}

/* One S_SIDE x S_SIDE query of [r,g,b] pixels: a warm, flower-like orange. */
static json_t *
s_query (void)
{
    json_t *image = json_array ();
    for (int y = 0; y < S_SIDE; y++) {
        json_t *row = json_array ();
        for (int x = 0; x < S_SIDE; x++)
            json_array_append_new (row, json_pack ("[i, i, i]", 230, 150 + x, 90 + y));
        json_array_append_new (image, row);
    }
    return json_pack ("[o]", image);
}

/* Uploads the photos, tunes the MLP on them at 24x24 RGB, checks the
   trials, deploys the best and asks it about one image. */
static void
test_photos_train_deploy_predict (void **state)
{
    (void)state;
    s_platform_t *platform = &s_platform;
    if (platform->pid <= 0)
        skip (); /* no converter here: the reason is in the log */
    rfk_sdk_t *sdk = platform->sdk;
    char train_path[600], val_path[600];
    snprintf (train_path, sizeof train_path, "%s/data/photos-train.zip", platform->dir);
    snprintf (val_path, sizeof val_path, "%s/data/photos-val.zip", platform->dir);
    json_t *train = rfk_sdk_dataset_upload (sdk, train_path, "photos-train", "IMAGE_CLASSIFICATION",
                                            NULL, NULL);
    json_t *val =
        rfk_sdk_dataset_upload (sdk, val_path, "photos-val", "IMAGE_CLASSIFICATION", NULL, NULL);
    if (!train || !val)
        rfk_test_sdk_fail (sdk, "dataset upload");
    rfk_sdk_model_info_t info = {
        .name = "MlpImageClassifier", .task = "IMAGE_CLASSIFICATION", .access_right = "PUBLIC"};
    json_t *mlp = rfk_sdk_model_upload (sdk, rfk_test_env ("RAFIKI_TEST_MLP"), &info, NULL, NULL);
    if (!mlp)
        rfk_test_sdk_fail (sdk, "model upload");

    json_t *body =
        json_pack ("{s:s, s:s, s:O, s:O, s:[O], s:{s:i}, s:{s:s, s:s, s:s}}", "app", "photos",
                   "task", "IMAGE_CLASSIFICATION", "train_dataset_id",
                   json_object_get (train, "id"), "val_dataset_id", json_object_get (val, "id"),
                   "model_ids", json_object_get (mlp, "id"), "budget", "MODEL_TRIAL_COUNT", 3,
                   "train_args", "image_size", "24", "image_channels", "3", "seed", S_SEED);
    json_t *job = rfk_sdk_train_job_create (sdk, body);
    json_decref (body);
    if (!job)
        rfk_test_sdk_fail (sdk, "train job create");
    json_decref (job);
    json_decref (s_wait_job ("photos", false, "STOPPED", S_TRAIN_MS));

    /* Every trial ended well; the best tells the two photos apart. */
    json_t *trials = rfk_sdk_train_job_trials (sdk, "photos", -1, 0, 0, false, 0);
    assert_non_null (trials);
    json_t *list = json_object_get (trials, "trials");
    assert_int_equal (json_array_size (list), 3);
    /* The MLP's EARLY_STOP policy lets the advisor prune a trial: PRUNED is
       fine, ERRORED is not, and one trial at least completes. */
    double best = 0;
    size_t i, completed = 0;
    json_t *trial;
    json_array_foreach (list, i, trial)
    {
        const char *status = json_string_value (json_object_get (trial, "status"));
        const char *error = json_string_value (json_object_get (trial, "error"));
        char *knobs = json_dumps (json_object_get (trial, "knobs"), JSON_COMPACT | JSON_SORT_KEYS);
        printf ("# trial %zu: %s %s score %.3f knobs %s\n", i, status ? status : "?",
                error ? error : "", json_number_value (json_object_get (trial, "score")),
                knobs ? knobs : "?");
        free (knobs);
        if (!status || !(streq (status, "COMPLETED") || streq (status, "PRUNED")))
            fail_msg ("trial %zu is %s: %s", i, status ? status : "?", error ? error : "");
        if (!streq (status, "COMPLETED"))
            continue;
        completed++;
        double score = json_number_value (json_object_get (trial, "score"));
        best = score > best ? score : best;
    }
    assert_true (completed >= 1);
    printf ("# best validation accuracy on photos: %.3f\n", best);
    assert_true (best >= 0.6);
    json_decref (trials);

    /* Deployed, it answers a 24x24 colour query with two probabilities. */
    json_t *infer_body = json_pack ("{s:s, s:i}", "app", "photos", "max_trials", 1);
    json_t *created = rfk_sdk_inference_job_create (sdk, infer_body);
    json_decref (infer_body);
    if (!created)
        rfk_test_sdk_fail (sdk, "inference job create");
    json_decref (created);
    json_decref (s_wait_job ("photos", true, "RUNNING", S_SERVE_MS));
    char *endpoint = rfk_sdk_predictor_endpoint (sdk, "photos", -1);
    if (!endpoint)
        rfk_test_sdk_fail (sdk, "predictor endpoint");
    json_t *queries = s_query ();
    json_t *answer = NULL;
    /* The job is RUNNING once its workers loaded; the predictor may count
       the worker a moment later, so an UNAVAILABLE answer is asked again. */
    int64_t deadline = zclock_mono () + S_SERVE_MS;
    while (!(answer = rfk_sdk_predict (sdk, endpoint, queries, 0)) &&
           rfk_sdk_error (sdk)->code == RFK_SDK_UNAVAILABLE && zclock_mono () < deadline)
        s_wake (NULL, 200);
    if (!answer)
        rfk_test_sdk_fail (sdk, "predict");
    json_t *probs = json_array_get (json_object_get (answer, "predictions"), 0);
    assert_int_equal (json_array_size (probs), 2);
    double sum = json_number_value (json_array_get (probs, 0)) +
                 json_number_value (json_array_get (probs, 1));
    assert_true (sum > 0.99 && sum < 1.01);
    json_decref (answer);
    json_decref (queries);
    zstr_free (&endpoint);
    json_decref (rfk_sdk_inference_job_stop (sdk, "photos", -1));
    json_decref (train);
    json_decref (val);
    json_decref (mlp);
}

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_photos_train_deploy_predict),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
