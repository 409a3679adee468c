/*  test_cli.c: the built `rafiki` command, end to end, against an admin.

    The admin is the test's fake (test/lib's rfk_test_command_admin: an
    rfk_server speaking the
    admin family over tcp, with an events XPUB and a predictor ROUTER), since
    the real admin actor is not on this branch yet; the CLI and librafiki are
    the real ones, run as child processes with RAFIKI_ADMIN pointing at the
    fake. Each case checks what a user sees: the exit status, the table or
    JSON on stdout, the message on stderr, the files left behind.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "rfk_test.h"
#include "rfk_test_command_admin.h"

/* How long one rafiki run may take before it is killed (and the test fails). */
#define S_RUN_LIMIT_S 60

static char *s_dir;       /* the test's temporary folder (rfk_test_tmpdir_new) */
static char s_token[512]; /* the token file */
static zactor_t *s_admin; /* the fake admin */
static rfk_test_command_admin_ports_t s_ports;
static int s_watchers; /* watchers started so far (subscriptions) */

/* One finished run of the rafiki command. */
typedef struct {
    int status; /* exit status, or 128 + signal */
    char *out;  /* stdout */
    char *err;  /* stderr */
} s_run_t;

static char *
s_slurp (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return strdup ("");
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream (&text, &size);
    char buffer[4096];
    size_t n;
    while ((n = fread (buffer, 1, sizeof buffer, file)) > 0)
        fwrite (buffer, 1, n, mem);
    fclose (mem);
    fclose (file);
    return text;
}

static void
s_run_free (s_run_t *run)
{
    free (run->out);
    free (run->err);
    run->out = run->err = NULL;
}

/*  Starts rafiki with the arguments (NULL-terminated), stdin from
    stdin_text (or /dev/null), stdout and stderr into files named by tag. */
static pid_t
s_spawn_v (const char *tag, const char *stdin_text, const char *const *args)
{
    char out[512], err[512], in[512];
    snprintf (out, sizeof out, "%s/%s.out", s_dir, tag);
    snprintf (err, sizeof err, "%s/%s.err", s_dir, tag);
    snprintf (in, sizeof in, "%s/%s.in", s_dir, tag);
    FILE *input = fopen (in, "w");
    if (input) {
        if (stdin_text)
            fputs (stdin_text, input);
        fclose (input);
    }
    pid_t pid = fork ();
    if (pid == 0) {
        int fd_in = open (in, O_RDONLY);
        int fd_out = open (out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fd_err = open (err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2 (fd_in, 0);
        dup2 (fd_out, 1);
        dup2 (fd_err, 2);
        /*  A run that hangs is killed, and the test sees the signal. */
        alarm (S_RUN_LIMIT_S);
        const char *argv[64] = {RFK_RAFIKI};
        int argc = 1;
        for (; args[argc - 1] && argc < 63; argc++)
            argv[argc] = args[argc - 1];
        argv[argc] = NULL;
        execv (RFK_RAFIKI, (char *const *)argv);
        _exit (127);
    }
    return pid;
}

static void
s_wait (pid_t pid, const char *tag, s_run_t *run)
{
    int status = 0;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    run->status = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
    char path[512];
    snprintf (path, sizeof path, "%s/%s.out", s_dir, tag);
    run->out = s_slurp (path);
    snprintf (path, sizeof path, "%s/%s.err", s_dir, tag);
    run->err = s_slurp (path);
}

/*  Runs rafiki with the arguments (ending in NULL) and waits. */
static void
s_rafiki_in (s_run_t *run, const char *stdin_text, ...)
{
    const char *args[64];
    int n = 0;
    va_list list;
    va_start (list, stdin_text);
    const char *arg;
    while ((arg = va_arg (list, const char *)) && n < 63)
        args[n++] = arg;
    va_end (list);
    args[n] = NULL;
    pid_t pid = s_spawn_v ("run", stdin_text, args);
    s_wait (pid, "run", run);
}

#define s_rafiki(run, ...) s_rafiki_in (run, NULL, __VA_ARGS__, NULL)

/*  Asserts a run's status, printing its output when it is not the one
    expected. */
static void
s_expect (const s_run_t *run, int status)
{
    if (run->status != status)
        print_error ("exit %d (expected %d)\nstdout: %s\nstderr: %s\n", run->status, status,
                     run->out, run->err);
    assert_int_equal (run->status, status);
}

static void
s_contains (const char *text, const char *part)
{
    if (!strstr (text, part))
        print_error ("expected '%s' in:\n%s\n", part, text);
    assert_non_null (strstr (text, part));
}

static json_t *
s_json (const char *text)
{
    json_error_t error;
    json_t *value = json_loads (text, 0, &error);
    if (!value)
        print_error ("not JSON (%s): %s\n", error.text, text);
    assert_non_null (value);
    return value;
}

static void
s_write (const char *name, const char *text)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
}

static char *
s_path (const char *name)
{
    static char paths[8][512];
    static int next;
    char *path = paths[next++ % 8];
    snprintf (path, 512, "%s/%s", s_dir, name);
    return path;
}

/*  Logs in as the superadmin (a fresh token in the token file). */
static void
s_login_superadmin (void)
{
    s_run_t run;
    s_rafiki (&run, "login", "superadmin@rafiki", "--password", RFK_TEST_COMMAND_ADMIN_PASSWORD);
    s_expect (&run, 0);
    s_run_free (&run);
}

static int
s_setup (void **state)
{
    (void)state;
    s_dir = rfk_test_tmpdir_new ("cli-test");
    if (!s_dir)
        return -1;
    s_admin = rfk_test_command_admin_new (s_dir, &s_ports);
    if (!s_admin)
        return -1;
    char value[64];
    snprintf (value, sizeof value, "127.0.0.1:%d", s_ports.command_port);
    setenv ("RAFIKI_ADMIN", value, 1);
    snprintf (value, sizeof value, "%d", s_ports.events_port);
    setenv ("RAFIKI_ADMIN_EVENTS_PORT", value, 1);
    snprintf (s_token, sizeof s_token, "%s/config/rafiki/token", s_dir);
    setenv ("RAFIKI_TOKEN_FILE", s_token, 1);
    setenv ("HOME", s_dir, 1);
    //  The stand-in admin speaks plaintext; CURVE: test_admin_curve, e2e.
    setenv ("RAFIKI_BUS_CURVE", "false", 1);
    unsetenv ("RAFIKI_PASSWORD");
    unsetenv ("RAFIKI_EMAIL");
    /*  A small converted iris, as a user would make it. */
    char command[1024];
    snprintf (command, sizeof command,
              "'%s/deploy/datasets/convert' iris '%s' --limit 30 >'%s/convert.log' 2>&1",
              RFK_SOURCE_ROOT, s_dir, s_dir);
    if (system (command) != 0) {
        fprintf (stderr, "deploy/datasets/convert iris failed: see %s/convert.log\n", s_dir);
        return -1;
    }
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    zactor_destroy (&s_admin);
    return rfk_test_tmpdir_destroy (&s_dir);
}

/*  The first session of the README: log in, add a user, upload a dataset
    and a model template, create a train job from a manifest (uploading its
    validation set on the way) while watching events, look at it, its
    trials and their logs and parameters, stop it, deploy it, predict, stop
    everything, log out. */
static void
test_first_session (void **state)
{
    (void)state;
    s_run_t run;

    s_rafiki (&run, "login", "superadmin@rafiki", "--password", RFK_TEST_COMMAND_ADMIN_PASSWORD);
    s_expect (&run, 0);
    s_contains (run.out, "Logged in as superadmin@rafiki (SUPERADMIN)");
    s_run_free (&run);
    struct stat info;
    assert_int_equal (stat (s_token, &info), 0);
    assert_int_equal (info.st_mode & 0777, 0600);

    s_rafiki (&run, "me", "--json");
    s_expect (&run, 0);
    json_t *me = s_json (run.out);
    assert_string_equal (json_string_value (json_object_get (me, "email")), "superadmin@rafiki");
    json_decref (me);
    s_run_free (&run);

    s_rafiki (&run, "users", "create", "alice@example.com", "--type", "MODEL_DEVELOPER",
              "--password", "alice-pw");
    s_expect (&run, 0);
    s_contains (run.out, "alice@example.com");
    s_run_free (&run);
    s_rafiki (&run, "users", "list");
    s_expect (&run, 0);
    s_contains (run.out, "EMAIL");
    s_contains (run.out, "alice@example.com");
    s_contains (run.out, "MODEL_DEVELOPER");
    s_run_free (&run);

    s_rafiki (&run, "datasets", "create", "iris-train", "TABULAR_CLASSIFICATION",
              s_path ("iris-train.csv"));
    s_expect (&run, 0);
    s_contains (run.out, "iris-train");
    assert_int_equal (stat (s_path ("iris-train.csv"), &info), 0);
    char size[32];
    snprintf (size, sizeof size, "%lld", (long long)info.st_size);
    s_contains (run.out, size);
    s_run_free (&run);

    s_rafiki (&run, "models", "upload", "XgbClassifier", "TABULAR_CLASSIFICATION", RFK_XGB_TEMPLATE,
              "--public");
    s_expect (&run, 0);
    s_contains (run.out, "XgbClassifier");
    s_run_free (&run);
    s_rafiki (&run, "models", "list", "--task", "TABULAR_CLASSIFICATION");
    s_expect (&run, 0);
    s_contains (run.out, "XgbClassifier");
    s_contains (run.out, "PUBLIC");
    s_run_free (&run);

    /*  Watch while the job is created. */
    const char *watch_args[] = {"watch", "--json", "--count", "1", NULL};
    pid_t watcher = s_spawn_v ("watch", NULL, watch_args);
    assert_int_equal (rfk_test_command_admin_wait_subscriptions (s_admin, ++s_watchers, 20000), 0);

    s_write ("job.yaml", "kind: train\n"
                         "app: iris\n"
                         "task: TABULAR_CLASSIFICATION\n"
                         "train_dataset: iris-train\n"
                         "val_dataset: {file: iris-val.csv}\n"
                         "budget: {MODEL_TRIAL_COUNT: 2}\n"
                         "models: [XgbClassifier]\n"
                         "train_args: {target: target}\n");
    s_rafiki (&run, "train", "create", "-f", s_path ("job.yaml"));
    s_expect (&run, 0);
    s_contains (run.out, "app_version");
    s_contains (run.out, "RUNNING");
    s_run_free (&run);

    s_run_t watched;
    s_wait (watcher, "watch", &watched);
    s_expect (&watched, 0);
    json_t *event = s_json (watched.out);
    assert_string_equal (json_string_value (json_object_get (event, "type")), "JobStatus");
    json_t *body = json_object_get (event, "event");
    assert_string_equal (json_string_value (json_object_get (body, "app")), "iris");
    assert_string_equal (json_string_value (json_object_get (body, "status")), "RUNNING");
    json_decref (event);
    s_run_free (&watched);

    /*  The manifest's validation file was uploaded as dataset iris-val. */
    s_rafiki (&run, "datasets", "list", "--json");
    s_expect (&run, 0);
    json_t *datasets = s_json (run.out);
    assert_int_equal (json_array_size (json_object_get (datasets, "datasets")), 2);
    assert_string_equal (json_string_value (json_object_get (
                             json_array_get (json_object_get (datasets, "datasets"), 1), "name")),
                         "iris-val");
    json_decref (datasets);
    s_run_free (&run);

    s_rafiki (&run, "train", "list");
    s_expect (&run, 0);
    s_contains (run.out, "APP");
    s_contains (run.out, "iris");
    s_contains (run.out, "RUNNING");
    s_run_free (&run);
    s_rafiki (&run, "train", "get", "iris");
    s_expect (&run, 0);
    s_contains (run.out, "sub_train_jobs:");
    s_contains (run.out, "XgbClassifier");
    s_run_free (&run);

    s_rafiki (&run, "train", "trials", "iris", "1", "--json");
    s_expect (&run, 0);
    json_t *trials = s_json (run.out);
    const char *trial_id = json_string_value (
        json_object_get (json_array_get (json_object_get (trials, "trials"), 0), "id"));
    assert_non_null (trial_id);
    char trial[64];
    snprintf (trial, sizeof trial, "%s", trial_id);
    json_decref (trials);
    s_run_free (&run);

    s_rafiki (&run, "trials", "get", trial);
    s_expect (&run, 0);
    s_contains (run.out, "COMPLETED");
    s_contains (run.out, "max_depth");
    s_run_free (&run);
    s_rafiki (&run, "trials", "logs", trial);
    s_expect (&run, 0);
    s_contains (run.out, "trained 10 rounds");
    s_contains (run.out, "Loss: [\"loss\"] against epoch");
    s_run_free (&run);
    s_rafiki (&run, "trials", "params", trial, "-o", s_path ("params.msgpack"));
    s_expect (&run, 0);
    assert_int_equal (stat (s_path ("params.msgpack"), &info), 0);
    assert_int_equal (info.st_size, 4);
    s_run_free (&run);

    s_rafiki (&run, "train", "stop", "iris");
    s_expect (&run, 0);
    s_contains (run.out, "STOPPED");
    s_run_free (&run);

    s_rafiki (&run, "infer", "create", "iris", "--max-trials", "1");
    s_expect (&run, 0);
    s_contains (run.out, "predictor_host");
    s_run_free (&run);
    s_rafiki (&run, "infer", "list");
    s_expect (&run, 0);
    s_contains (run.out, "PREDICTOR");
    s_contains (run.out, "RUNNING");
    s_run_free (&run);

    /*  The fake predictor echoes: the prediction is the query. */
    s_rafiki (&run, "predict", "iris", "--query", "[5.1, 3.5, 1.4, 0.2]");
    s_expect (&run, 0);
    assert_string_equal (run.out, "[5.1,3.5,1.4,0.2]\n");
    s_run_free (&run);
    s_write ("queries.json", "{\"queries\": [[1, 2], {\"petal\": \"x\"}]}");
    s_rafiki (&run, "predict", "iris", "--file", s_path ("queries.json"), "--json");
    s_expect (&run, 0);
    json_t *result = s_json (run.out);
    assert_int_equal (json_array_size (json_object_get (result, "predictions")), 2);
    assert_int_equal (json_integer_value (json_object_get (result, "members_answered")), 1);
    json_decref (result);
    s_run_free (&run);

    s_rafiki (&run, "stop-all");
    s_expect (&run, 0);
    s_contains (run.out, "Stopped 0 train job(s) and 1 inference job(s)");
    s_run_free (&run);

    s_rafiki (&run, "logout");
    s_expect (&run, 0);
    s_contains (run.out, "Logged out");
    s_run_free (&run);
    assert_int_not_equal (stat (s_token, &info), 0);
    s_rafiki (&run, "me");
    s_expect (&run, 1);
    s_contains (run.err, "no token");
    s_contains (run.err, "rafiki login");
    s_run_free (&run);
}

/*  Wrong input of every kind: each exits non-zero with a message saying
    what was wrong. */
static void
test_errors_say_what_went_wrong (void **state)
{
    (void)state;
    s_run_t run;

    s_rafiki (&run, "login", "superadmin@rafiki", "--password", "not-it");
    s_expect (&run, 1);
    s_contains (run.err, "wrong e-mail or password");
    s_run_free (&run);

    /*  The password from standard input. */
    s_rafiki_in (&run, RFK_TEST_COMMAND_ADMIN_PASSWORD "\n", "login", "superadmin@rafiki",
                 "--password-stdin", NULL);
    s_expect (&run, 0);
    s_run_free (&run);

    s_rafiki (&run, "train", "get", "no-such-app");
    s_expect (&run, 1);
    s_contains (run.err, "no train job of app 'no-such-app'");
    s_run_free (&run);

    s_rafiki (&run, "train", "get", "no-such-app", "--json");
    s_expect (&run, 1);
    json_t *error = s_json (run.out);
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (error, "error"), "code")),
        "NOT_FOUND");
    json_decref (error);
    s_run_free (&run);

    s_rafiki (&run, "datasets", "create", "x", "TABULAR_CLASSIFICATION", "/no/such/file.csv");
    s_expect (&run, 1);
    s_contains (run.err, "/no/such/file.csv: No such file or directory");
    s_run_free (&run);

    s_write ("not-a-model.so", "just text\n");
    s_rafiki (&run, "models", "upload", "Bad", "TABULAR_CLASSIFICATION", s_path ("not-a-model.so"));
    s_expect (&run, 1);
    s_contains (run.err, "not a shared object");
    s_run_free (&run);

    s_write ("typo.yaml", "app: iris\n"
                          "task: TABULAR_CLASSIFICATION\n"
                          "train_dataset: iris-train\n"
                          "budget: {MODEL_TRIAL_COUNT: 2}\n"
                          "modles: [XgbClassifier]\n");
    s_rafiki (&run, "train", "create", "-f", s_path ("typo.yaml"));
    s_expect (&run, 1);
    s_contains (run.err, "typo.yaml:5");
    s_contains (run.err, "modles");
    s_run_free (&run);

    s_write ("unknown.yaml", "app: iris2\n"
                             "task: TABULAR_CLASSIFICATION\n"
                             "train_dataset: nothing-of-that-name\n"
                             "val_dataset: iris-train\n"
                             "budget: {MODEL_TRIAL_COUNT: 2}\n"
                             "models: [XgbClassifier]\n");
    s_rafiki (&run, "train", "create", "-f", s_path ("unknown.yaml"));
    s_expect (&run, 1);
    s_contains (run.err, "no dataset named 'nothing-of-that-name'");
    s_run_free (&run);

    s_rafiki (&run, "train", "create", "-f", s_path ("missing.yaml"));
    s_expect (&run, 1);
    s_contains (run.err, "missing.yaml");
    s_run_free (&run);

    s_rafiki (&run, "infer", "create", "no-such-app");
    s_expect (&run, 1);
    s_contains (run.err, "no train job of app 'no-such-app'");
    s_run_free (&run);

    /*  Usage errors exit 2 with the usage line. */
    s_rafiki (&run, "datasets", "create", "only-a-name");
    s_expect (&run, 2);
    s_contains (run.err, "missing arguments");
    s_contains (run.err, "usage: rafiki datasets create NAME TASK FILE");
    s_run_free (&run);
    s_rafiki (&run, "datasets", "list", "--bogus");
    s_expect (&run, 2);
    s_contains (run.err, "unknown option '--bogus'");
    s_run_free (&run);
    s_rafiki (&run, "train", "get", "iris", "first");
    s_expect (&run, 2);
    s_contains (run.err, "VERSION: 'first' is not an integer");
    s_run_free (&run);
    /*  `rafiki keys`: a bad option or version is refused before any call. */
    s_rafiki (&run, "keys", "create", "iris", "--lable", "shop");
    s_expect (&run, 2);
    s_contains (run.err, "unknown option '--lable'");
    s_run_free (&run);
    s_rafiki (&run, "keys", "list", "iris", "--label", "shop");
    s_expect (&run, 2);
    s_contains (run.err, "unknown option '--label'");
    s_run_free (&run);
    s_rafiki (&run, "keys", "revoke", "iris", "k1", "--version", "latest");
    s_expect (&run, 2);
    s_contains (run.err, "--version: 'latest' is not an integer");
    s_run_free (&run);
    s_rafiki (&run, "keys", "revoke", "iris");
    s_expect (&run, 2);
    s_contains (run.err, "usage: rafiki keys revoke APP KEY_ID");
    s_run_free (&run);
    s_rafiki (&run, "no-such-command");
    s_expect (&run, 2);
    s_contains (run.err, "unknown command 'no-such-command'");
    s_run_free (&run);

    /*  An app developer cannot upload models; the server's reason is shown. */
    s_rafiki (&run, "users", "create", "bob@example.com", "--password", "bob-pw");
    s_expect (&run, 0);
    s_run_free (&run);
    s_rafiki (&run, "login", "bob@example.com", "--password", "bob-pw");
    s_expect (&run, 0);
    s_run_free (&run);
    s_rafiki (&run, "models", "upload", "Mine", "TABULAR_CLASSIFICATION", RFK_XGB_TEMPLATE);
    s_expect (&run, 1);
    s_contains (run.err, "app developers cannot upload models");
    s_run_free (&run);
    s_rafiki (&run, "stop-all");
    s_expect (&run, 1);
    s_contains (run.err, "only the superadmin");
    s_run_free (&run);

    /*  Banned at once: the token bob holds stops working. */
    s_login_superadmin ();
    s_rafiki (&run, "users", "ban", "bob@example.com");
    s_expect (&run, 0);
    s_contains (run.out, "banned");
    s_run_free (&run);
    s_rafiki (&run, "login", "bob@example.com", "--password", "bob-pw");
    s_expect (&run, 1);
    s_contains (run.err, "banned");
    s_run_free (&run);
}

/*  A closed port is reported at once, naming the address; a port where
    nothing answers the protocol fails after the timeout, not a hang. */
static void
test_admin_not_reachable (void **state)
{
    (void)state;
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    assert_int_equal (bind (fd, (struct sockaddr *)&address, sizeof address), 0);
    socklen_t length = sizeof address;
    getsockname (fd, (struct sockaddr *)&address, &length);
    char where[64];
    snprintf (where, sizeof where, "127.0.0.1:%d", ntohs (address.sin_port));

    /*  Bound but not listening: connections are refused. */
    s_run_t run;
    s_rafiki (&run, "--admin", where, "datasets", "list");
    s_expect (&run, 1);
    char expected[128];
    snprintf (expected, sizeof expected, "admin isn't reachable at %s", where);
    s_contains (run.err, expected);
    s_contains (run.err, "refused");
    s_run_free (&run);

    /*  Listening, but nobody speaks ZeroMQ there. */
    assert_int_equal (listen (fd, 4), 0);
    int64_t start = zclock_mono ();
    s_rafiki (&run, "datasets", "list", "--admin", where, "--timeout", "0.3");
    s_expect (&run, 1);
    s_contains (run.err, expected);
    s_contains (run.err, "no reply to ListDatasets");
    assert_true (zclock_mono () - start < 20000);
    s_run_free (&run);
    close (fd);
}

/*  Uploads go in chunks no larger than admin allows, a progress bar is
    drawn when asked, and the file arrives whole. */
static void
test_upload_in_chunks_with_progress (void **state)
{
    (void)state;
    s_login_superadmin ();
    char *path = s_path ("big.csv");
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "a,b,target\n");
    for (int i = 0; i < 5000; i++)
        fprintf (file, "%d,%d,%d\n", i, i * 7, i % 3);
    fclose (file);
    struct stat info;
    assert_int_equal (stat (path, &info), 0);
    assert_true (info.st_size > 10 * RFK_TEST_COMMAND_ADMIN_CHUNK);

    s_run_t run;
    s_rafiki (&run, "datasets", "create", "big", "TABULAR_REGRESSION", path, "--progress",
              "--json");
    s_expect (&run, 0);
    s_contains (run.err, "100%");
    s_contains (run.err, "[##############################]");
    json_t *dataset = s_json (run.out);
    assert_int_equal (json_integer_value (json_object_get (dataset, "size_bytes")), info.st_size);
    json_decref (dataset);
    s_run_free (&run);
    assert_int_equal (rfk_test_command_admin_largest_chunk (s_admin), RFK_TEST_COMMAND_ADMIN_CHUNK);

    /*  Without --progress and not on a terminal: no bar. */
    s_rafiki (&run, "datasets", "upload", "big2", "TABULAR_REGRESSION", path);
    s_expect (&run, 0);
    assert_null (strstr (run.err, "%"));
    s_run_free (&run);
}

/*  `rafiki watch` runs until Ctrl-C, then exits 0. */
static void
test_watch_until_interrupted (void **state)
{
    (void)state;
    const char *args[] = {"watch", "--topic", "job.", NULL};
    pid_t watcher = s_spawn_v ("watch2", NULL, args);
    assert_int_equal (rfk_test_command_admin_wait_subscriptions (s_admin, ++s_watchers, 20000), 0);
    assert_int_equal (kill (watcher, SIGINT), 0);
    s_run_t run;
    s_wait (watcher, "watch2", &run);
    s_expect (&run, 0);
    s_run_free (&run);
}

/*  Every command answers --help with its usage, on stdout, exit 0. */
static void
test_help_everywhere (void **state)
{
    (void)state;
    s_run_t run;
    s_rafiki (&run, "--help");
    s_expect (&run, 0);
    char *list = strdup (run.out);
    s_run_free (&run);
    int checked = 0;
    for (char *line = strtok (list, "\n"); line; line = strtok (NULL, "\n")) {
        char group[64] = "", verb[64] = "";
        if (strncmp (line, "  ", 2) != 0 || sscanf (line, " %63s %63s", group, verb) < 1)
            continue;
        /*  A command without a verb has its summary where the verb would be. */
        bool has_verb = line[2 + strlen (group)] == ' ' && line[3 + strlen (group)] != ' ';
        if (has_verb)
            s_rafiki (&run, group, verb, "--help");
        else
            s_rafiki (&run, group, "--help");
        s_expect (&run, 0);
        s_contains (run.out, "usage: rafiki");
        s_run_free (&run);
        checked++;
    }
    free (list);
    assert_true (checked >= 30);
}

int
main (void)
{
    /*  czmq logs to stdout, where TAP goes. */
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_first_session),
        cmocka_unit_test (test_errors_say_what_went_wrong),
        cmocka_unit_test (test_admin_not_reachable),
        cmocka_unit_test (test_upload_in_chunks_with_progress),
        cmocka_unit_test (test_watch_until_interrupted),
        cmocka_unit_test (test_help_everywhere),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
