/*  test_hostile.c: the hostile-template suite (issue 13.5), against a real
    `rafikid up` with the local launcher and the sandbox on.

    One template (tpl_escape.c) whose copies carry a trailer naming where
    it attacks and which escape (see there). Admin runs with small limits
    (256 MiB of memory, 5 CPU seconds, 64 MiB files, 64 processes, a 40 s
    trial timeout) and, as root, a sandbox uid of this run's own, so that
    "no process of the template is left" is "no process of that uid".

    A victim (the superadmin) uploads a dataset and a template; mallory, a
    model developer, uploads the hostile copies. Each case is a TAP line:

    - check/ATTACK: the constructor attacks in admin's upload check; the
      upload is refused.
    - trial/ATTACK: one train job holds a copy per attack (the constructor
      and train attack) and a good template; each hostile trial ends
      ERRORED with the reason (what the kernel answered, or the limit).
    - trial/others-completed: the good template's trial COMPLETED.
    - worker/ATTACK: a deployed copy attacked in its constructor, and
      attacks again in predict on a query naming the attack; every answer
      says blocked (or no answer comes, for what ends or hangs the worker).
      worker/spin: predict never returns; the query gets a clear error (the
      worker was lost) within its deadline, the worker's watchdog ends it
      after inference.predict_timeout_s (3 s here) with RFK-STUCK in its
      log, its process is gone, and admin still answers (issue 15: nothing
      runs forever unowned).
    - service/trainer-constructor: a copy whose constructor plants a file
      when an unsandboxed service opens it (the trainer did, until it left
      that to the trial's sandboxed process): its job of one trial ends
      STOPPED and nothing is planted. HOSTILE_PLACES=service runs it alone.
    - after/...: admin still answers; the victim's files (and admin's keys)
      have the same sha256; nothing was planted in the params folder; once
      the jobs stop no process of the sandbox uid is left.

    Environment (meson): RAFIKID, TPL_ESCAPE, RAFIKI_TEST_IRIS.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <czmq.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <rafiki/client.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rfk_sandbox.h"
#include "rfk_test.h"
#include "rfk_test_case.h"

#define S_PASSWORD "Hostile-Suite-pass-77"
#define S_MALLORY "mallory@example.com"
#define S_MALLORY_PASSWORD "Mallory-pass-1234"
#define S_WAIT_MS 240000 /* a job's trials or a deployment, on a loaded machine */

/* Every escape, in the order the cases run. */
static const char *const s_attacks[] = {
    "read-store", "read-environ",  "read-key", "read-dataset", "read-template",
    "write-job",  "connect-admin", "ptrace",   "grandchild",   "forkbomb",
    "allocate",   "write-10g",     "spin"};
#define S_N_ATTACKS (sizeof s_attacks / sizeof s_attacks[0])

/* The platform under test and what the cases share. */
static struct {
    char *dir;                    /* the test's temporary folder */
    char var[PATH_MAX];           /* admin's data dir */
    pid_t pid;                    /* rafikid up */
    unsigned uid;                 /* the sandbox uid of this run */
    int command_port;             /* admin's command port */
    char tag[16];                 /* the name hostile processes take */
    char targets[4096];           /* the trailer's targets */
    rfk_sdk_t *admin;             /* the superadmin's (the victim's) session */
    rfk_sdk_t *mallory;           /* the attacker's session */
    zhashx_t *hashes;             /* path -> sha256 (hex) of the victim's files and the keys */
    char train[64];               /* mallory's train dataset id */
    char val[64];                 /* and validation dataset id */
    char *model_ids[S_N_ATTACKS]; /* trial/ATTACK's model id */
    char *good_id;                /* the good template's model id */
    json_t *trials;               /* the hostile job's trials, once it stopped */
    char *endpoint;               /* the worker job's predictor query endpoint */
    bool skip;                    /* no sandbox can be made here */
    bool worker_tried;            /* the worker's deployment was tried */
} s;

/* ---- files ------------------------------------------------------------------ */

/* sha256 of a file in hex (66 bytes), or "" when it cannot be read. */
static void
s_sha256 (const char *path, char hex[2 * crypto_hash_sha256_BYTES + 1])
{
    hex[0] = 0;
    FILE *file = fopen (path, "rb");
    if (!file)
        return;
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init (&state);
    unsigned char buffer[65536];
    size_t got;
    while ((got = fread (buffer, 1, sizeof buffer, file)) > 0)
        crypto_hash_sha256_update (&state, buffer, got);
    fclose (file);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final (&state, digest);
    sodium_bin2hex (hex, 2 * crypto_hash_sha256_BYTES + 1, digest, sizeof digest);
}

static int
s_hash_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    if (flag == FTW_F) {
        char hex[2 * crypto_hash_sha256_BYTES + 1];
        s_sha256 (path, hex);
        zhashx_update (s.hashes, path, strdup (hex));
    }
    return 0;
}

/* The first regular file under folder whose name contains part (or any
   file when part is NULL), or "". */
static void
s_find_file (const char *folder, const char *part, char *out, size_t size)
{
    out[0] = 0;
    DIR *dir = opendir (folder);
    struct dirent *entry;
    while (dir && (entry = readdir (dir)))
        if (entry->d_type == DT_REG && (!part || strstr (entry->d_name, part)) && !*out &&
            !strstr (entry->d_name, ".sha256")) /* admin's checksum beside each file */
            if (snprintf (out, size, "%s/%s", folder, entry->d_name) >= (int)size)
                out[0] = 0;
    if (dir)
        closedir (dir);
}

/* A copy of the template with the trailer, at dir/NAME.so; its path. */
static char *
s_copy (const char *name, const char *where, const char *attack)
{
    char *path = zsys_sprintf ("%s/%s.so", s.dir, name);
    zfile_t *source = zfile_new (NULL, rfk_test_env ("TPL_ESCAPE"));
    assert_int_equal (zfile_input (source), 0);
    zchunk_t *bytes = zfile_read (source, (size_t)zfile_cursize (source), 0);
    zfile_destroy (&source);
    FILE *out = fopen (path, "wb");
    assert_non_null (out);
    fwrite (zchunk_data (bytes), 1, zchunk_size (bytes), out);
    fprintf (out, "\nRFK-ESCAPE where=%s attack=%s tag=%s %s\n", where, attack, s.tag, s.targets);
    fclose (out);
    zchunk_destroy (&bytes);
    return path;
}

/* Upload a copy as mallory (or the victim); the answer, or NULL. */
static json_t *
s_upload (rfk_sdk_t *sdk, const char *name, const char *where, const char *attack)
{
    char *path = s_copy (name, where, attack);
    rfk_sdk_model_info_t info = {.name = name, .task = "TABULAR_CLASSIFICATION"};
    json_t *model = rfk_sdk_model_upload (sdk, path, &info, NULL, NULL);
    unlink (path);
    free (path);
    return model;
}

/* ---- processes ----------------------------------------------------------------- */

/* How many processes of the sandbox uid run (zombies not counted). */
static int
s_sandbox_processes (void)
{
    int count = 0;
    DIR *proc = opendir ("/proc");
    struct dirent *entry;
    while (proc && (entry = readdir (proc))) {
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
            continue;
        char path[300], line[256], name[64] = "";
        snprintf (path, sizeof path, "/proc/%s/status", entry->d_name);
        FILE *file = fopen (path, "r");
        bool ours = false, zombie = false;
        while (file && fgets (line, sizeof line, file)) {
            unsigned real = 0;
            //  As root every sandboxed process runs as the run's own uid;
            //  otherwise as ours, and only the tag tells the template's apart.
            if (sscanf (line, "Uid: %u", &real) == 1 && geteuid () == 0)
                ours = ours || real == s.uid;
            if (sscanf (line, "Name: %63s", name) == 1)
                ours = ours || streq (name, s.tag);
            if (strncmp (line, "State:", 6) == 0)
                zombie = strchr (line, 'Z') != NULL;
        }
        if (file)
            fclose (file);
        count += ours && !zombie;
    }
    if (proc)
        closedir (proc);
    return count;
}

/* True when a thread of process pid (a /proc entry name) took the tag as
   its name: the template's constructor ran there. */
static bool
s_tagged (const char *pid)
{
    char path[300];
    snprintf (path, sizeof path, "/proc/%s/task", pid);
    DIR *tasks = opendir (path);
    struct dirent *task;
    bool tagged = false;
    while (tasks && !tagged && (task = readdir (tasks))) {
        if (task->d_name[0] == '.')
            continue;
        char comm[300], name[64] = "";
        snprintf (comm, sizeof comm, "/proc/%s/task/%.20s/comm", pid, task->d_name);
        FILE *file = fopen (comm, "r");
        if (file && fscanf (file, "%63s", name) == 1)
            tagged = streq (name, s.tag);
        if (file)
            fclose (file);
    }
    if (tasks)
        closedir (tasks);
    return tagged;
}

/* The pid of a live inference worker (a rafikid inference process) whose
   template's constructor ran under the tag, or 0. */
static pid_t
s_tagged_worker (void)
{
    pid_t found = 0;
    DIR *proc = opendir ("/proc");
    struct dirent *entry;
    while (proc && !found && (entry = readdir (proc))) {
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9' || !s_tagged (entry->d_name))
            continue;
        char path[300], cmdline[1024] = "", state[64] = "";
        snprintf (path, sizeof path, "/proc/%s/cmdline", entry->d_name);
        FILE *file = fopen (path, "rb");
        size_t n = file ? fread (cmdline, 1, sizeof cmdline - 1, file) : 0;
        if (file)
            fclose (file);
        bool worker = false;
        for (size_t at = 0; at < n; at += strlen (cmdline + at) + 1)
            worker = worker || streq (cmdline + at, "inference");
        snprintf (path, sizeof path, "/proc/%s/stat", entry->d_name);
        file = fopen (path, "r");
        //  pid (comm) STATE: a zombie is not running.
        if (file && fscanf (file, "%*d (%*[^)]) %63s", state) != 1)
            state[0] = 0;
        if (file)
            fclose (file);
        if (worker && !streq (state, "Z"))
            found = (pid_t)atoi (entry->d_name);
    }
    if (proc)
        closedir (proc);
    return found;
}

static bool
s_worker_gone (void *arg)
{
    (void)arg;
    return s_tagged_worker () == 0;
}

/* True when some inference worker's log under the data dir holds text. */
static bool
s_worker_log_says (const char *text)
{
    char folder[PATH_MAX + 8];
    snprintf (folder, sizeof folder, "%s/logs", s.var);
    DIR *dir = opendir (folder);
    struct dirent *entry;
    bool said = false;
    while (dir && !said && (entry = readdir (dir))) {
        if (strncmp (entry->d_name, "inference-", 10) != 0)
            continue;
        char path[PATH_MAX + 300], line[2048];
        snprintf (path, sizeof path, "%s/%s", folder, entry->d_name);
        FILE *file = fopen (path, "r");
        while (file && !said && fgets (line, sizeof line, file))
            said = strstr (line, text) != NULL;
        if (file)
            fclose (file);
    }
    if (dir)
        closedir (dir);
    return said;
}

static bool
s_no_sandbox_process (void *arg)
{
    (void)arg;
    return s_sandbox_processes () == 0;
}

/* ---- the platform -------------------------------------------------------------- */

static rfk_sdk_t *
s_session (const char *email, const char *password)
{
    char admin[64];
    snprintf (admin, sizeof admin, "127.0.0.1:%d", s.command_port);
    rfk_sdk_options_t opts;
    rfk_sdk_options_init (&opts);
    opts.admin = admin;
    opts.timeout_ms = 60000;
    opts.retries = 0;
    rfk_sdk_error_t error = {0};
    rfk_sdk_t *sdk = rfk_sdk_new (&opts, &error);
    if (!sdk)
        fail_msg ("no SDK session with %s: %s", admin, error.message);
    json_t *token = rfk_sdk_login (sdk, email, password);
    if (!token)
        rfk_test_sdk_fail (sdk, "login");
    json_decref (token);
    return sdk;
}

static void
s_up (void)
{
    char uid[64];
    snprintf (uid, sizeof uid, "RAFIKI_LAUNCHER_SANDBOX_UID=%u", s.uid);
    const char *vars[] = {"RAFIKI_LAUNCHER_SANDBOX=on",
                          uid,
                          "RAFIKI_TRAINER_MEMORY_LIMIT_MB=256",
                          "RAFIKI_TRAINER_CPU_LIMIT_S=5",
                          "RAFIKI_TRAINER_FILE_SIZE_MB=64",
                          "RAFIKI_TRAINER_PROCESSES=64",
                          "RAFIKI_TRAINER_DISK_MB=128",
                          "RAFIKI_TRAINER_TRIAL_TIMEOUT_S=40",
                          "RAFIKI_LAUNCHER_MAX_RESTARTS=0",
                          "RAFIKI_INFERENCE_PREDICT_TIMEOUT_S=3",
                          NULL};
    rfk_test_up_t up = {
        .data_dir = s.var, .password = S_PASSWORD, .vars = vars, .own_session = true};
    s.pid = rfk_test_up_spawn (&up);
    assert_true (s.pid > 0);
    rfk_test_ports_t ports;
    if (rfk_test_wait_ports (s.var, s.pid, 120000, &ports) != 0)
        fail_msg ("rafikid up did not get ready (see %s/logs)", s.var);
    s.command_port = ports.command;
}

/* The victim's dataset and template, and the hashes of their files. */
static void
s_victim (void)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/iris-val.csv", rfk_test_env ("RAFIKI_TEST_IRIS"));
    json_t *data =
        rfk_sdk_dataset_upload (s.admin, path, "victim-data", "TABULAR_CLASSIFICATION", NULL, NULL);
    if (!data)
        rfk_test_sdk_fail (s.admin, "victim's dataset");
    json_decref (data);
    json_t *model = s_upload (s.admin, "victim-model", "none", "none");
    if (!model)
        rfk_test_sdk_fail (s.admin, "victim's template");
    json_decref (model);
    s.hashes = zhashx_new ();
    zhashx_set_destructor (s.hashes, (czmq_destructor *)zstr_free);
    nftw (s.var, s_hash_one, 16, FTW_PHYS);
}

/* Where the hostile copies aim, now that admin runs. */
static void
s_targets (void)
{
    char key[PATH_MAX + 64], keys[PATH_MAX + 8], data[PATH_MAX + 64], tpl[PATH_MAX + 64],
        folder[PATH_MAX + 16];
    snprintf (keys, sizeof keys, "%s/keys", s.var);
    s_find_file (keys, "jwt", key, sizeof key);
    if (!*key)
        s_find_file (keys, NULL, key, sizeof key);
    snprintf (folder, sizeof folder, "%s/datasets", s.var);
    s_find_file (folder, NULL, data, sizeof data);
    snprintf (folder, sizeof folder, "%s/models", s.var);
    s_find_file (folder, NULL, tpl, sizeof tpl);
    if (!*key || !*data || !*tpl)
        fail_msg ("cannot find the key (%s), the dataset (%s) or the template (%s) in %s", key,
                  data, tpl, s.var);
    int n = snprintf (s.targets, sizeof s.targets,
                      "store=%s/rafiki.db environ=/proc/%d/environ key=%s dataset=%s "
                      "template=%s jobdir=%s/params port=%d",
                      s.var, (int)s.pid, key, data, tpl, s.var, s.command_port);
    assert_true (n > 0 && n < (int)sizeof s.targets);
    print_message ("# targets: %s\n", s.targets);
}

static int
s_setup (void **state)
{
    (void)state;
    assert_true (sodium_init () >= 0);
    s.uid = 200000 + (unsigned)getpid () % 100000;
    char why[1024] = "";
    if (!rfk_sandbox_available (s.uid, s.uid, why, sizeof why)) {
        print_message ("# no sandbox here, every case skipped: %s\n", why);
        s.skip = true;
        return 0;
    }
    s.dir = rfk_test_tmpdir_new ("hostile");
    assert_non_null (s.dir);
    chmod (s.dir, 0755);
    snprintf (s.var, sizeof s.var, "%s/var", s.dir);
    //  s.uid: a uid of this run alone (as root): its processes are the templates'.
    snprintf (s.tag, sizeof s.tag, "esc%05u", (unsigned)getpid () % 100000);
    s_up ();
    s.admin = s_session ("superadmin@rafiki", S_PASSWORD);
    json_t *user = rfk_sdk_user_create (s.admin, S_MALLORY, S_MALLORY_PASSWORD, "MODEL_DEVELOPER");
    if (!user)
        rfk_test_sdk_fail (s.admin, "create mallory");
    json_decref (user);
    s.mallory = s_session (S_MALLORY, S_MALLORY_PASSWORD);
    s_victim ();
    s_targets ();
    char path[PATH_MAX];
    const char *sets[][2] = {{"iris-train.csv", "mallory-train"}, {"iris-val.csv", "mallory-val"}};
    char *ids[] = {s.train, s.val};
    for (size_t i = 0; i < 2; i++) {
        snprintf (path, sizeof path, "%s/%s", rfk_test_env ("RAFIKI_TEST_IRIS"), sets[i][0]);
        json_t *data = rfk_sdk_dataset_upload (s.mallory, path, sets[i][1],
                                               "TABULAR_CLASSIFICATION", NULL, NULL);
        if (!data)
            rfk_test_sdk_fail (s.mallory, "mallory's dataset");
        snprintf (ids[i], 64, "%s", json_string_value (json_object_get (data, "id")));
        json_decref (data);
    }
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    if (s.pid > 0) {
        kill (s.pid, SIGTERM);
        rfk_test_wait_child (s.pid, 120000);
    }
    rfk_sdk_destroy (&s.admin);
    rfk_sdk_destroy (&s.mallory);
    zhashx_destroy (&s.hashes);
    for (size_t i = 0; i < S_N_ATTACKS; i++)
        free (s.model_ids[i]);
    free (s.good_id);
    free (s.endpoint);
    json_decref (s.trials);
    rfk_test_tmpdir_destroy (&s.dir);
    return 0;
}

/* ---- the upload check ---------------------------------------------------------- */

/* check/ATTACK: the constructor attacks inside admin's check; the upload
   is refused, and nothing of the check is left. */
static void
test_check (void **state)
{
    const char *attack = (const char *)*state;
    if (s.skip)
        skip ();
    char name[64];
    snprintf (name, sizeof name, "check-%s", attack);
    json_t *model = s_upload (s.mallory, name, "check", attack);
    if (model) {
        const char *class_ = json_string_value (json_object_get (model, "model_class"));
        fail_msg ("the upload was accepted (model_class %s)", class_ ? class_ : "?");
    }
    print_message ("# refused: %s\n", rfk_sdk_error (s.mallory)->message);
    assert_null (strstr (rfk_sdk_error (s.mallory)->message, "ESCAPED"));
    if (!rfk_test_wait_until (s_no_sandbox_process, NULL, NULL, 20000))
        fail_msg ("%d process(es) of the sandbox uid %u are left", s_sandbox_processes (), s.uid);
}

/* ---- jobs ---------------------------------------------------------------------- */

/* A job of mallory's app waited for (s_job_wait). */
typedef struct {
    const char *app;   /* the app */
    bool inference;    /* its newest inference job, else its train job */
    const char *ended; /* the status that ends the wait (ERRORED ends it too) */
    char status[32];   /* the status as last read, "" when none */
} s_job_wait_t;

static bool
s_job_ended (void *arg)
{
    s_job_wait_t *wait = (s_job_wait_t *)arg;
    json_t *job, *jobs = NULL;
    if (wait->inference) {
        jobs = rfk_sdk_inference_jobs_of_app (s.mallory, wait->app);
        json_t *list = json_object_get (jobs, "inference_jobs");
        job = json_array_get (list, json_array_size (list) - 1);
    } else
        job = jobs = rfk_sdk_train_job_get (s.mallory, wait->app, -1);
    const char *status = json_string_value (json_object_get (job, "status"));
    snprintf (wait->status, sizeof wait->status, "%s", status ? status : "");
    json_decref (jobs);
    return streq (wait->status, wait->ended) || streq (wait->status, "ERRORED");
}

/* Asks admin again at most every 500 ms: a job's state moves in seconds. */
static void
s_pace (void *arg, int timeout_ms)
{
    (void)arg;
    zclock_sleep (timeout_ms < 500 ? timeout_ms : 500);
}

/* Waits until mallory's job of app is `ended` (or ERRORED); wait->status is
   its last status. */
static void
s_job_wait (s_job_wait_t *wait)
{
    rfk_test_wait_for (s_job_ended, wait, s_pace, NULL, S_WAIT_MS);
}

/* Creates mallory's train job of app on her iris, one trial of each model
   (ids, taken), and waits until it ended: its last status in *wait. */
static void
s_train (const char *app, json_t *model_ids, s_job_wait_t *wait)
{
    json_t *body =
        json_pack ("{s:s, s:s, s:s, s:s, s:o, s:{s:i}}", "app", app, "task",
                   "TABULAR_CLASSIFICATION", "train_dataset_id", s.train, "val_dataset_id", s.val,
                   "model_ids", model_ids, "budget", "MODEL_TRIAL_COUNT", 1);
    json_t *job = rfk_sdk_train_job_create (s.mallory, body);
    json_decref (body);
    if (!job)
        rfk_test_sdk_fail (s.mallory, "create a train job");
    json_decref (job);
    *wait = (s_job_wait_t){.app = app, .ended = "STOPPED"};
    s_job_wait (wait);
}

/* ---- trials ---------------------------------------------------------------------- */

/* The hostile train job: a copy per attack and a good template. Its
   trials, once the job stopped (every trial ended). */
static json_t *
s_hostile_trials (void)
{
    if (s.trials)
        return s.trials;
    json_t *ids = json_array ();
    for (size_t i = 0; i < S_N_ATTACKS; i++) {
        char name[64];
        snprintf (name, sizeof name, "trial-%s", s_attacks[i]);
        json_t *model = s_upload (s.mallory, name, "trial", s_attacks[i]);
        if (!model)
            rfk_test_sdk_fail (s.mallory, name);
        s.model_ids[i] = strdup (json_string_value (json_object_get (model, "id")));
        json_array_append (ids, json_object_get (model, "id"));
        json_decref (model);
    }
    json_t *good = s_upload (s.mallory, "trial-good", "none", "none");
    if (!good)
        rfk_test_sdk_fail (s.mallory, "the good template");
    s.good_id = strdup (json_string_value (json_object_get (good, "id")));
    json_array_append (ids, json_object_get (good, "id"));
    json_decref (good);
    s_job_wait_t wait;
    s_train ("hostile", ids, &wait);
    print_message ("# the hostile train job is %s\n", *wait.status ? wait.status : "(unknown)");
    s.trials = rfk_sdk_train_job_trials (s.mallory, "hostile", -1, 0, 0, false, 0);
    if (!s.trials)
        rfk_test_sdk_fail (s.mallory, "the hostile job's trials");
    return s.trials;
}

/* The trial of model id in the hostile job, or NULL. */
static json_t *
s_trial_of (const char *model_id)
{
    json_t *trials = json_object_get (s_hostile_trials (), "trials");
    size_t index;
    json_t *trial;
    json_array_foreach (trials, index, trial)
    {
        const char *id = json_string_value (json_object_get (trial, "model_id"));
        if (id && streq (id, model_id))
            return trial;
    }
    return NULL;
}

/* What a trial's reason must say for an attack: the limit it ran into,
   else that the kernel refused. */
static const char *
s_expected_reason (const char *attack)
{
    if (streq (attack, "spin"))
        return "CPU limit 5 s reached";
    if (streq (attack, "write-10g"))
        return "file size limit 64 MiB reached";
    if (streq (attack, "grandchild"))
        return "grandchild: left running";
    return "blocked";
}

/* trial/ATTACK: the trial ended ERRORED, saying what stopped it. */
static void
test_trial (void **state)
{
    const char *attack = (const char *)*state;
    if (s.skip)
        skip ();
    s_hostile_trials ();
    size_t index = 0;
    while (index < S_N_ATTACKS && !streq (s_attacks[index], attack))
        index++;
    assert_true (index < S_N_ATTACKS && s.model_ids[index]);
    json_t *trial = s_trial_of (s.model_ids[index]);
    if (!trial)
        fail_msg ("the trial-%s model has no trial", attack);
    const char *status = json_string_value (json_object_get (trial, "status"));
    const char *error = json_string_value (json_object_get (trial, "error"));
    print_message ("# %s: %s\n", status ? status : "?", error ? error : "(no reason)");
    assert_non_null (status);
    assert_string_equal (status, "ERRORED");
    assert_non_null (error);
    assert_null (strstr (error, "ESCAPED"));
    const char *wanted = s_expected_reason (attack);
    //  Memory: the kernel refused the mapping, or the limit ended the trial.
    if (streq (attack, "allocate") && strstr (error, "memory limit 256 MiB reached"))
        wanted = "memory limit";
    if (!strstr (error, wanted))
        fail_msg ("the reason does not say \"%s\"", wanted);
}

/* trial/others-completed: the good template's trial completed beside them. */
static void
test_trial_others (void **state)
{
    (void)state;
    if (s.skip)
        skip ();
    s_hostile_trials ();
    json_t *trial = s_trial_of (s.good_id);
    assert_non_null (trial);
    const char *status = json_string_value (json_object_get (trial, "status"));
    const char *error = json_string_value (json_object_get (trial, "error"));
    if (!status || !streq (status, "COMPLETED"))
        fail_msg ("the good trial is %s: %s", status ? status : "?", error ? error : "");
}

/* ---- an inference worker ---------------------------------------------------------- */

/* Train and deploy the worker copy: its predictor's query endpoint. */
static const char *
s_worker (void)
{
    if (s.endpoint)
        return s.endpoint;
    if (s.worker_tried)
        fail_msg ("no worker to attack: its deployment failed (see the first worker case)");
    s.worker_tried = true;
    json_t *model = s_upload (s.mallory, "worker-probe", "worker", "all");
    if (!model)
        rfk_test_sdk_fail (s.mallory, "the worker template");
    s_job_wait_t wait;
    s_train ("serve", json_pack ("[O]", json_object_get (model, "id")), &wait);
    json_decref (model);
    if (!streq (wait.status, "STOPPED"))
        fail_msg ("the worker's train job is %s", *wait.status ? wait.status : "(unknown)");
    json_t *body = json_pack ("{s:s}", "app", "serve");
    json_t *job = rfk_sdk_inference_job_create (s.mallory, body);
    json_decref (body);
    if (!job)
        rfk_test_sdk_fail (s.mallory, "deploy the worker");
    json_decref (job);
    wait = (s_job_wait_t){.app = "serve", .inference = true, .ended = "RUNNING"};
    s_job_wait (&wait);
    if (!streq (wait.status, "RUNNING"))
        fail_msg ("the worker's inference job is not RUNNING (logs in %s/logs)", s.var);
    s.endpoint = rfk_sdk_predictor_endpoint (s.mallory, "serve", -1);
    if (!s.endpoint)
        rfk_test_sdk_fail (s.mallory, "the predictor's endpoint");
    return s.endpoint;
}

/* The worker's answer to {"attack": attack, "from": from}: a new string,
   or NULL when no prediction came. */
static char *
s_ask (const char *attack, const char *from, unsigned deadline_ms)
{
    json_t *queries = json_pack ("[{s:s, s:s}]", "attack", attack, "from", from);
    json_t *answer = rfk_sdk_predict (s.mallory, s_worker (), queries, deadline_ms);
    json_decref (queries);
    json_t *prediction = json_array_get (json_object_get (answer, "predictions"), 0);
    char *said = json_is_string (prediction) ? strdup (json_string_value (prediction)) : NULL;
    if (!said) {
        char *dump = answer ? json_dumps (answer, JSON_COMPACT) : NULL;
        print_message ("# %s from %s: no prediction (%s)\n", attack, from,
                       dump ? dump : rfk_sdk_error (s.mallory)->message);
        free (dump);
    }
    json_decref (answer);
    return said;
}

/* The status of the last inference job of app "serve", or "" (copied). */
static void
s_serve_status (char *out, size_t size)
{
    json_t *jobs = rfk_sdk_inference_jobs_of_app (s.mallory, "serve");
    json_t *list = json_object_get (jobs, "inference_jobs");
    json_t *last = json_array_get (list, json_array_size (list) - 1);
    const char *status = json_string_value (json_object_get (last, "status"));
    snprintf (out, size, "%s", status ? status : "");
    json_decref (jobs);
}

/* worker/spin: a predict that never returns. The worker's watchdog ends it
   after inference.predict_timeout_s; its query gets an error long before
   its deadline (the worker was lost, or, as this suite restarts nothing,
   its job ERRORED and the predictor stopped); admin answers. */
static void
s_worker_spin (void)
{
    s_worker ();
    pid_t pid = s_tagged_worker ();
    if (pid == 0)
        fail_msg ("no inference worker of the tagged template runs before the spin");
    json_t *queries = json_pack ("[{s:s, s:s}]", "attack", "spin", "from", "predict");
    int64_t started = zclock_mono ();
    json_t *answer = rfk_sdk_predict (s.mallory, s_worker (), queries, 30000);
    int64_t took = zclock_mono () - started;
    json_decref (queries);
    json_t *first = json_array_get (json_object_get (answer, "predictions"), 0);
    char said[600];
    snprintf (said, sizeof said, "%s",
              answer ? (json_string_value (json_object_get (first, "error"))
                            ? json_string_value (json_object_get (first, "error"))
                            : "(a prediction)")
                     : rfk_sdk_error (s.mallory)->message);
    json_decref (answer);
    print_message ("# spin: answered in %lld ms: %s\n", (long long)took, said);
    if (!strstr (said, "was lost") && !strstr (said, "predictor stopped before the query"))
        fail_msg ("the spinning query got no clear error");
    assert_true (took < 25000); /* an error, not the deadline's end */
    if (!rfk_test_wait_until (s_worker_gone, NULL, NULL, 30000))
        fail_msg ("the stuck worker (pid %d) still runs", (int)pid);
    assert_true (s_worker_log_says ("RFK-STUCK the template's predict did not return "
                                    "within 3000 ms (inference.predict_timeout_s)"));
    char status[32];
    s_serve_status (status, sizeof status);
    print_message ("# the inference job is %s\n", status);
    assert_string_equal (status, "ERRORED"); /* launcher.max_restarts is 0 here */
    json_t *me = rfk_sdk_me (s.admin);
    if (!me)
        rfk_test_sdk_fail (s.admin, "admin after the stuck worker");
    json_decref (me);
}

/* worker/ATTACK: the constructor's attempt (for those it makes) and one in
   predict are blocked; an attack that ends or hangs the worker gets no
   prediction, and never an ESCAPED one. */
static void
test_worker (void **state)
{
    const char *attack = (const char *)*state;
    if (s.skip)
        skip ();
    if (streq (attack, "spin")) {
        s_worker_spin ();
        return;
    }
    s_worker ();
    bool quiet = !streq (attack, "forkbomb") && !streq (attack, "allocate") &&
                 !streq (attack, "write-10g") && !streq (attack, "spin");
    if (quiet) {
        char *said = s_ask (attack, "ctor", 0);
        assert_non_null (said);
        print_message ("# ctor: %s\n", said);
        assert_null (strstr (said, "ESCAPED"));
        if (!streq (attack, "grandchild"))
            assert_non_null (strstr (said, ": blocked"));
        free (said);
    }
    bool ends = streq (attack, "write-10g");
    //  A fork bomb or 8 GiB take a while on a loaded machine; what ends or
    //  hangs the worker gets a short wait.
    char *said = s_ask (attack, "predict", ends ? 8000 : 60000);
    if (said)
        print_message ("# predict: %s\n", said);
    if (!ends) {
        assert_non_null (said);
        if (!streq (attack, "grandchild"))
            assert_non_null (strstr (said, ": blocked"));
    }
    assert_true (!said || !strstr (said, "ESCAPED"));
    free (said);
}

/* ---- services ------------------------------------------------------------------- */

/* service/trainer-constructor: a copy whose constructor plants a file in
   the params folder when a service (not a sandboxed trial or worker)
   opens it; one trial of it runs. Nothing may be planted: a trainer that
   opens the template itself runs its constructors unsandboxed. */
static void
test_service (void **state)
{
    (void)state;
    if (s.skip)
        skip ();
    json_t *model = s_upload (s.mallory, "service-write-job", "service", "write-job");
    if (!model)
        rfk_test_sdk_fail (s.mallory, "the service template");
    s_job_wait_t wait;
    s_train ("service", json_pack ("[O]", json_object_get (model, "id")), &wait);
    json_decref (model);
    //  Not vacuous: the trainer ran the job (its one trial) to its end.
    char planted[PATH_MAX + 64];
    snprintf (planted, sizeof planted, "%s/params/planted-by-escape", s.var);
    struct stat st;
    if (lstat (planted, &st) == 0) {
        unlink (planted); //  so that after/files-unchanged tells its own story
        fail_msg ("ESCAPED: a service ran the template's constructor unsandboxed and planted %s "
                  "(owner uid %u)",
                  planted, (unsigned)st.st_uid);
    }
    if (!streq (wait.status, "STOPPED"))
        fail_msg ("the service's train job ended %s, not STOPPED",
                  *wait.status ? wait.status : "(none)");
}

/* ---- afterwards ------------------------------------------------------------------- */

/* after/admin-answers: admin still serves its users. */
static void
test_after_admin (void **state)
{
    (void)state;
    if (s.skip)
        skip ();
    json_t *me = rfk_sdk_me (s.admin);
    if (!me)
        rfk_test_sdk_fail (s.admin, "who am I");
    json_decref (me);
    assert_int_equal (kill (s.pid, 0), 0);
}

/* after/files-unchanged: every file that was there before (the victim's,
   the keys) has the same sha256; nothing planted in params. */
static void
test_after_files (void **state)
{
    (void)state;
    if (s.skip)
        skip ();
    int changed = 0;
    for (const char *was = (const char *)zhashx_first (s.hashes); was;
         was = (const char *)zhashx_next (s.hashes)) {
        const char *path = (const char *)zhashx_cursor (s.hashes);
        //  The store and the logs change as admin works: not the victim's files.
        if (strstr (path, "/rafiki.db") || strstr (path, "/logs/") || strstr (path, ".ports"))
            continue;
        char now[2 * crypto_hash_sha256_BYTES + 1];
        s_sha256 (path, now);
        if (!streq (now, was)) {
            print_message ("# changed: %s\n", path);
            changed++;
        }
    }
    assert_int_equal (changed, 0);
    char planted[PATH_MAX + 64];
    snprintf (planted, sizeof planted, "%s/params/planted-by-escape", s.var);
    struct stat st;
    if (lstat (planted, &st) == 0)
        fail_msg ("%s was planted (owner uid %u)", planted, (unsigned)st.st_uid);
}

/* after/no-process-left: once every job stopped, no process of the
   sandbox uid runs. */
static void
test_after_processes (void **state)
{
    (void)state;
    if (s.skip)
        skip ();
    json_t *stopped = rfk_sdk_stop_all (s.admin);
    json_decref (stopped);
    if (!rfk_test_wait_until (s_no_sandbox_process, NULL, NULL, 60000))
        fail_msg ("%d process(es) of the sandbox uid %u are left", s_sandbox_processes (), s.uid);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr); /* stdout is for TAP; the bus's log lines go to stderr */
    setvbuf (stdout, NULL, _IOLBF, 0);
    struct CMUnitTest tests[3 * S_N_ATTACKS + 5];
    char names[3 * S_N_ATTACKS][64];
    size_t n = 0;
    const char *places[] = {"check", "trial", "worker"};
    CMUnitTestFunction fns[] = {test_check, test_trial, test_worker};
    //  HOSTILE_PLACES=worker (say) runs only those places' cases, for a
    //  developer after one of them.
    const char *only = getenv ("HOSTILE_PLACES");
    for (size_t p = 0; p < 3; p++) {
        //  Before the worker's cases: its spin and fork bomb hold the uid's processes.
        if (p == 2 && (!only || strstr (only, "service")))
            tests[n++] =
                (struct CMUnitTest){"service/trainer-constructor", test_service, NULL, NULL, NULL};
        if (only && !strstr (only, places[p]))
            continue;
        for (size_t a = 0; a < S_N_ATTACKS; a++) {
            char *name = names[p * S_N_ATTACKS + a];
            snprintf (name, sizeof names[0], "%s/%s", places[p], s_attacks[a]);
            tests[n] = (struct CMUnitTest){name, fns[p], NULL, NULL, (void *)s_attacks[a]};
            n++;
        }
        if (p == 1)
            tests[n++] =
                (struct CMUnitTest){"trial/others-completed", test_trial_others, NULL, NULL, NULL};
    }
    tests[n++] = (struct CMUnitTest){"after/admin-answers", test_after_admin, NULL, NULL, NULL};
    tests[n++] = (struct CMUnitTest){"after/files-unchanged", test_after_files, NULL, NULL, NULL};
    tests[n++] =
        (struct CMUnitTest){"after/no-process-left", test_after_processes, NULL, NULL, NULL};
    return _cmocka_run_group_tests ("hostile", tests, n, s_setup, s_teardown);
}
