/*  rfk_cli_jobs.c: rafiki train (create, list, get, stop, trials), trials
    (get, logs, params), infer (create, list, get, stop), predict and watch.

    Jobs are named as API.md names them: an app and its version (VERSION
    -1, the default, is the latest). `train create -f` reads a YAML manifest
    (rfk_manifest.h: datasets and models by name or file are resolved by
    librafiki) or, for a file ending in .json, a request body as is.
*/
#define _GNU_SOURCE
#include <czmq.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rfk_cli.h"
#include "rfk_cli_common.h"

static const rfk_cli_column_t s_train_columns[] = {
    {"APP", "app", 24},
    {"VERSION", "app_version", 7},
    {"TASK", "task", 24},
    {"STATUS", "status", 8},
    {"STARTED", "datetime_started", 24},
    {"STOPPED", "datetime_stopped", 24},
    {"ID", "id", 36},
};
#define S_TRAIN_COLUMNS (sizeof s_train_columns / sizeof s_train_columns[0])

static const rfk_cli_column_t s_trial_columns[] = {
    {"NO", "trial_no", 5},  {"MODEL", "model_name", 20},         {"STATUS", "status", 9},
    {"SCORE", "score", 10}, {"STARTED", "datetime_started", 24}, {"ID", "id", 36},
    {"KNOBS", "knobs", 60},
};
#define S_TRIAL_COLUMNS (sizeof s_trial_columns / sizeof s_trial_columns[0])

static const rfk_cli_column_t s_infer_columns[] = {
    {"APP", "app", 24},
    {"VERSION", "app_version", 7},
    {"STATUS", "status", 8},
    {"PREDICTOR", "predictor_host", 24},
    {"STARTED", "datetime_started", 24},
    {"ID", "id", 36},
};
#define S_INFER_COLUMNS (sizeof s_infer_columns / sizeof s_infer_columns[0])

/*  The VERSION operand (index i), -1 when absent. 0 or -1 (printed). */
static int
s_version (const rfk_cli_command_t *cmd, int i, int *version_p)
{
    long version = -1;
    if (cmd->n_operands > i &&
        rfk_cli_int ("VERSION", cmd->operands[i], -1, INT_MAX, &version) != 0)
        return -1;
    *version_p = (int)version;
    return 0;
}

/*  Reads a JSON file ("-": stdin). NULL after printing why. */
static json_t *
s_load_json (const rfk_cli_common_t *common, const char *path)
{
    json_error_t error;
    json_t *value = strcmp (path, "-") == 0 ? json_loadf (stdin, JSON_DECODE_ANY, &error)
                                            : json_load_file (path, JSON_DECODE_ANY, &error);
    if (!value) {
        if (error.line < 0)
            rfk_cli_fail_text (common, access (path, R_OK) ? RFK_SDK_NOT_FOUND : RFK_SDK_IO,
                               "%s: %s", path, error.text);
        else
            rfk_cli_fail_text (common, RFK_SDK_BAD_REQUEST, "%s:%d: %s", path, error.line,
                               error.text);
    }
    return value;
}

/*  Whether path ends with suffix. */
static bool
s_ends_with (const char *path, const char *suffix)
{
    size_t length = strlen (path), suffix_length = strlen (suffix);
    return length >= suffix_length && strcmp (path + length - suffix_length, suffix) == 0;
}

int
rfk_cli_train_create (int argc, char **argv)
{
    const char *file = NULL;
    bool progress = false;
    const rfk_cli_option_t options[] = {
        {"file", 'f', "FILE", "the job's YAML manifest (or a JSON request body, FILE.json)", &file,
         NULL},
        {"progress", 0, NULL, "draw upload progress bars even when stdout is not a terminal", NULL,
         &progress},
        {NULL, 0, NULL, NULL, NULL, NULL}};
    rfk_cli_command_t cmd = {
        .usage = "rafiki train create -f job.yaml",
        .about = "Creates a train job from a manifest (config/examples/train-*.yaml): datasets\n"
                 "named there are looked up, dataset files uploaded first, model names looked up\n"
                 "among the models available for the task. A mistake in the manifest is\n"
                 "reported with its line and field.",
        .options = options,
    };
    int status;
    if (rfk_cli_parse (&cmd, argc, argv, stdout, stderr, &status) != 0)
        return status;
    if (!file) {
        fprintf (stderr, "rafiki train create: -f FILE is required\nusage: %s\n", cmd.usage);
        return RFK_CLI_USAGE;
    }
    json_t *body = NULL;
    if (s_ends_with (file, ".json") || strcmp (file, "-") == 0) {
        body = s_load_json (&cmd.common, file);
        if (!body)
            return RFK_CLI_FAILED;
    }
    rfk_sdk_t *sdk = rfk_cli_connect (&cmd.common);
    if (!sdk) {
        json_decref (body);
        return RFK_CLI_FAILED;
    }
    bool draw = rfk_cli_progress_wanted (&cmd.common, progress);
    json_t *job = body
                      ? rfk_sdk_train_job_create (sdk, body)
                      : rfk_sdk_train_job_create_from_manifest (sdk, file, rfk_cli_progress, &draw);
    json_decref (body);
    return rfk_cli_finish (&cmd, &sdk, job, NULL, NULL, 0);
}

/*  train list and infer list: the jobs of one kind, or APP's. */
typedef struct {
    const char *usage;                                     /* the usage line */
    const char *about;                                     /* the paragraph */
    json_t *(*list) (rfk_sdk_t *sdk, const char *user_id); /* the user's jobs (NULL: yours) */
    json_t *(*of_app) (rfk_sdk_t *sdk, const char *app);   /* every version of APP's */
    const char *list_key;                                  /* the array in the answer */
    const rfk_cli_column_t *columns;                       /* the table's columns */
    size_t n_columns;                                      /* how many */
} s_job_list_t;

static int
s_list_jobs (int argc, char **argv, const s_job_list_t *what)
{
    const char *user = NULL;
    const rfk_cli_option_t options[] = {
        {"user", 'u', "USER_ID", "the jobs of this user (admins)", &user, NULL},
        {NULL, 0, NULL, NULL, NULL, NULL}};
    rfk_cli_command_t cmd = {
        .usage = what->usage, .about = what->about, .options = options, .max_operands = 1};
    int status;
    rfk_sdk_t *sdk = rfk_cli_open (&cmd, argc, argv, &status);
    if (!sdk)
        return status;
    json_t *jobs = cmd.n_operands ? what->of_app (sdk, cmd.operands[0]) : what->list (sdk, user);
    return rfk_cli_finish (&cmd, &sdk, jobs, what->list_key, what->columns, what->n_columns);
}

int
rfk_cli_train_list (int argc, char **argv)
{
    static const s_job_list_t train_jobs = {.usage = "rafiki train list [APP] [--user USER_ID]",
                                            .about =
                                                "Lists your train jobs, or every version of APP's.",
                                            .list = rfk_sdk_train_jobs_list,
                                            .of_app = rfk_sdk_train_jobs_of_app,
                                            .list_key = "train_jobs",
                                            .columns = s_train_columns,
                                            .n_columns = S_TRAIN_COLUMNS};
    return s_list_jobs (argc, argv, &train_jobs);
}

/*  train get / stop, infer get / stop: APP [VERSION]. */
static int
s_app_command (int argc, char **argv, const char *usage, const char *about,
               json_t *(*call) (rfk_sdk_t *, const char *, int))
{
    rfk_cli_command_t cmd = {.usage = usage,
                             .about = about,
                             .min_operands = 1,
                             .max_operands = 2,
                             .operands_help =
                                 "  APP      the job's app\n"
                                 "  VERSION  its app_version (default -1: the latest)"};
    int status, version;
    if (rfk_cli_parse (&cmd, argc, argv, stdout, stderr, &status) != 0)
        return status;
    if (s_version (&cmd, 1, &version) != 0)
        return RFK_CLI_USAGE;
    rfk_sdk_t *sdk = rfk_cli_connect (&cmd.common);
    if (!sdk)
        return RFK_CLI_FAILED;
    return rfk_cli_finish (&cmd, &sdk, call (sdk, cmd.operands[0], version), NULL, NULL, 0);
}

int
rfk_cli_train_get (int argc, char **argv)
{
    return s_app_command (argc, argv, "rafiki train get APP [VERSION]",
                          "Shows a train job with its sub train jobs (one per model).",
                          rfk_sdk_train_job_get);
}

int
rfk_cli_train_stop (int argc, char **argv)
{
    return s_app_command (argc, argv, "rafiki train stop APP [VERSION]",
                          "Stops a train job and its services.", rfk_sdk_train_job_stop);
}

int
rfk_cli_train_trials (int argc, char **argv)
{
    const char *best = NULL, *limit = NULL, *offset = NULL;
    const rfk_cli_option_t options[] = {
        {"best", 'b', "N", "only the N best trials", &best, NULL},
        {"limit", 0, "N", "at most N trials", &limit, NULL},
        {"offset", 0, "N", "skip the first N trials", &offset, NULL},
        {NULL, 0, NULL, NULL, NULL, NULL}};
    rfk_cli_command_t cmd = {
        .usage = "rafiki train trials APP [VERSION] [--best N] [--limit N] [--offset N]",
        .about = "Lists the trials of a train job.",
        .options = options,
        .min_operands = 1,
        .max_operands = 2};
    int status, version;
    if (rfk_cli_parse (&cmd, argc, argv, stdout, stderr, &status) != 0)
        return status;
    long n_best = 0, n_limit = 0, n_offset = 0;
    if (s_version (&cmd, 1, &version) != 0 ||
        (best && rfk_cli_int ("--best", best, 1, INT_MAX, &n_best) != 0) ||
        (limit && rfk_cli_int ("--limit", limit, 1, INT_MAX, &n_limit) != 0) ||
        (offset && rfk_cli_int ("--offset", offset, 0, INT_MAX, &n_offset) != 0))
        return RFK_CLI_USAGE;
    rfk_sdk_t *sdk = rfk_cli_connect (&cmd.common);
    if (!sdk)
        return RFK_CLI_FAILED;
    json_t *trials = rfk_sdk_train_job_trials (sdk, cmd.operands[0], version, (unsigned)n_limit,
                                               (unsigned)n_offset, best != NULL, (unsigned)n_best);
    return rfk_cli_finish (&cmd, &sdk, trials, "trials", s_trial_columns, S_TRIAL_COLUMNS);
}

int
rfk_cli_trials_get (int argc, char **argv)
{
    return rfk_cli_call_one (argc, argv, "rafiki trials get TRIAL_ID",
                             "Shows a trial: model, knobs, status, score.", rfk_sdk_trial_get);
}

/*  A trial's logs for people: messages, then metrics as a table, then the
    plots the template defined. */
static void
s_print_logs (const json_t *logs)
{
    json_t *messages = json_object_get (logs, "messages");
    json_t *metrics = json_object_get (logs, "metrics");
    json_t *plots = json_object_get (logs, "plots");
    size_t index;
    json_t *item;
    printf ("messages:\n");
    if (json_array_size (messages) == 0)
        printf ("(none)\n");
    json_array_foreach (messages, index, item)
    {
        printf ("%s  %s\n",
                json_string_value (json_object_get (item, "time"))
                    ? json_string_value (json_object_get (item, "time"))
                    : "-",
                json_string_value (json_object_get (item, "message"))
                    ? json_string_value (json_object_get (item, "message"))
                    : "");
    }
    printf ("\nmetrics:\n");
    json_t *wrapper = json_pack ("{s:O}", "metrics", metrics ? metrics : json_array ());
    if (json_array_size (metrics) == 0)
        printf ("(none)\n");
    else
        rfk_cli_record (stdout, wrapper);
    json_decref (wrapper);
    if (json_array_size (plots)) {
        printf ("\nplots:\n");
        json_array_foreach (plots, index, item)
        {
            char *names = rfk_cli_cell (json_object_get (item, "metrics"));
            const char *title = json_string_value (json_object_get (item, "title"));
            const char *x_axis = json_string_value (json_object_get (item, "x_axis"));
            printf ("%s: %s against %s\n", title ? title : "-", names ? names : "-",
                    x_axis ? x_axis : "time");
            free (names);
        }
    }
}

int
rfk_cli_trials_logs (int argc, char **argv)
{
    rfk_cli_command_t cmd = {.usage = "rafiki trials logs TRIAL_ID",
                             .about = "Shows a trial's log messages, metrics and plots.",
                             .min_operands = 1,
                             .max_operands = 1};
    int status;
    rfk_sdk_t *sdk = rfk_cli_open (&cmd, argc, argv, &status);
    if (!sdk)
        return status;
    json_t *logs = rfk_sdk_trial_logs (sdk, cmd.operands[0]);
    int rc = RFK_CLI_OK;
    if (!logs)
        rc = rfk_cli_fail (&cmd.common, rfk_sdk_error (sdk));
    else if (cmd.common.json)
        rfk_cli_json (stdout, logs);
    else
        s_print_logs (logs);
    json_decref (logs);
    rfk_sdk_destroy (&sdk);
    return rc;
}

int
rfk_cli_trials_params (int argc, char **argv)
{
    static const rfk_cli_download_t download = {
        .usage = "rafiki trials params TRIAL_ID [-o FILE]",
        .about = "Downloads a trial's trained parameters (msgpack).",
        .output_help = "where to write them (default TRIAL_ID.params)",
        .suffix = ".params",
        .download = rfk_sdk_trial_params_download};
    return rfk_cli_download (argc, argv, &download);
}

int
rfk_cli_infer_create (int argc, char **argv)
{
    const char *file = NULL, *version = NULL, *max_trials = NULL, *replicas = NULL;
    const rfk_cli_option_t options[] = {
        {"file", 'f', "FILE", "an inference manifest (config/examples/infer.yaml) instead of APP",
         &file, NULL},
        {"version", 'v', "VERSION", "the train job's app_version (default -1: the latest)",
         &version, NULL},
        {"max-trials", 0, "N", "deploy the N best trials (default: admin's)", &max_trials, NULL},
        {"replicas", 0, "N", "inference workers per trial (default: admin's)", &replicas, NULL},
        {NULL, 0, NULL, NULL, NULL, NULL}};
    rfk_cli_command_t cmd = {
        .usage = "rafiki infer create APP [--version V] [--max-trials N] [--replicas N]\n"
                 "       rafiki infer create -f infer.yaml",
        .about = "Deploys the best trials of a stopped train job behind a predictor.",
        .options = options,
        .max_operands = 1,
    };
    int status;
    if (rfk_cli_parse (&cmd, argc, argv, stdout, stderr, &status) != 0)
        return status;
    if ((file != NULL) == (cmd.n_operands == 1)) {
        fprintf (stderr, "rafiki infer create: give APP or -f FILE (one of them)\nusage: %s\n",
                 cmd.usage);
        return RFK_CLI_USAGE;
    }
    long n_version = -1, n_trials = 0, n_replicas = 0;
    if ((version && rfk_cli_int ("--version", version, -1, INT_MAX, &n_version) != 0) ||
        (max_trials && rfk_cli_int ("--max-trials", max_trials, 1, INT_MAX, &n_trials) != 0) ||
        (replicas && rfk_cli_int ("--replicas", replicas, 1, INT_MAX, &n_replicas) != 0))
        return RFK_CLI_USAGE;
    rfk_sdk_t *sdk = rfk_cli_connect (&cmd.common);
    if (!sdk)
        return RFK_CLI_FAILED;
    json_t *job;
    if (file)
        job = rfk_sdk_inference_job_create_from_manifest (sdk, file);
    else {
        json_t *body =
            json_pack ("{s:s,s:i}", "app", cmd.operands[0], "app_version", (int)n_version);
        if (n_trials)
            json_object_set_new (body, "max_trials", json_integer (n_trials));
        if (n_replicas)
            json_object_set_new (body, "replicas", json_integer (n_replicas));
        job = rfk_sdk_inference_job_create (sdk, body);
        json_decref (body);
    }
    return rfk_cli_finish (&cmd, &sdk, job, NULL, NULL, 0);
}

int
rfk_cli_infer_list (int argc, char **argv)
{
    static const s_job_list_t inference_jobs = {.usage = "rafiki infer list [APP] [--user USER_ID]",
                                                .about = "Lists your inference jobs, or APP's.",
                                                .list = rfk_sdk_inference_jobs_list,
                                                .of_app = rfk_sdk_inference_jobs_of_app,
                                                .list_key = "inference_jobs",
                                                .columns = s_infer_columns,
                                                .n_columns = S_INFER_COLUMNS};
    return s_list_jobs (argc, argv, &inference_jobs);
}

int
rfk_cli_infer_get (int argc, char **argv)
{
    return s_app_command (argc, argv, "rafiki infer get APP [VERSION]",
                          "Shows an inference job and where its predictor answers.",
                          rfk_sdk_inference_job_get);
}

int
rfk_cli_infer_stop (int argc, char **argv)
{
    return s_app_command (argc, argv, "rafiki infer stop APP [VERSION]",
                          "Stops an inference job, its predictor and workers.",
                          rfk_sdk_inference_job_stop);
}

/*  The queries to send: --query JSON as a batch of one, or the array in
    FILE ([q, ...] or {"queries": [...]}). NULL after printing why. */
static json_t *
s_read_queries (const rfk_cli_common_t *common, const char *query, const char *file)
{
    if (query) {
        json_error_t error;
        json_t *one = json_loads (query, JSON_DECODE_ANY, &error);
        if (!one) {
            rfk_cli_fail_text (common, RFK_SDK_BAD_REQUEST, "--query: not JSON: %s (column %d)",
                               error.text, error.column);
            return NULL;
        }
        return json_pack ("[o]", one);
    }
    json_t *loaded = s_load_json (common, file);
    if (!loaded)
        return NULL;
    json_t *queries = json_is_object (loaded) ? json_incref (json_object_get (loaded, "queries"))
                                              : json_incref (loaded);
    json_decref (loaded);
    if (!json_is_array (queries) || json_array_size (queries) == 0) {
        json_decref (queries);
        rfk_cli_fail_text (common, RFK_SDK_BAD_REQUEST,
                           "%s: expected a non-empty array of queries, or {\"queries\": [...]}",
                           file);
        return NULL;
    }
    return queries;
}

/*  The predictor's answer for people: one line of JSON per prediction, and
    a note on stderr when some ensemble members did not answer in time. */
static void
s_print_predictions (const json_t *result)
{
    size_t index;
    json_t *prediction;
    json_array_foreach (json_object_get (result, "predictions"), index, prediction)
    {
        char *text =
            json_dumps (prediction, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION (15));
        printf ("%s\n", text ? text : "null");
        free (text);
    }
    json_t *members = json_object_get (result, "members");
    json_t *answered = json_object_get (result, "members_answered");
    if (members && answered && json_integer_value (answered) < json_integer_value (members))
        fprintf (stderr,
                 "rafiki: %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
                 " ensemble members answered in time\n",
                 json_integer_value (answered), json_integer_value (members));
}

/*  What predict was asked. */
typedef struct {
    const char *query, *file, *version, *endpoint, *deadline; /* the options' values */
    const char *key; /* --key, else RAFIKI_SERVING_KEY, else none */
} s_predict_args_t;

/*  Sends the queries to the predictor (endpoint, or APP's) and shows the
    predictions. */
static int
s_send_queries (rfk_cli_command_t *cmd, const s_predict_args_t *a, long version, long deadline,
                json_t *queries)
{
    rfk_sdk_t *sdk = rfk_cli_connect (&cmd->common);
    if (!sdk)
        return RFK_CLI_FAILED;
    const char *key = a->key ? a->key : getenv ("RAFIKI_SERVING_KEY");
    if (key && *key && rfk_sdk_set_serving_key (sdk, key) != 0) {
        rfk_sdk_destroy (&sdk);
        return RFK_CLI_FAILED;
    }
    char *resolved = a->endpoint ? strdup (a->endpoint)
                                 : rfk_sdk_predictor_endpoint (sdk, cmd->operands[0], (int)version);
    json_t *result = resolved ? rfk_sdk_predict (sdk, resolved, queries, (unsigned)deadline) : NULL;
    int rc = RFK_CLI_OK;
    if (!result)
        rc = rfk_cli_fail (&cmd->common, rfk_sdk_error (sdk));
    else {
        if (a->query)
            json_object_set (result, "prediction",
                             json_array_get (json_object_get (result, "predictions"), 0));
        if (cmd->common.json)
            rfk_cli_json (stdout, result);
        else
            s_print_predictions (result);
    }
    json_decref (result);
    free (resolved);
    rfk_sdk_destroy (&sdk);
    return rc;
}

int
rfk_cli_predict (int argc, char **argv)
{
    s_predict_args_t a = {0};
    const rfk_cli_option_t options[] = {
        {"query", 'q', "JSON", "one query, e.g. '[5.1, 3.5, 1.4, 0.2]'", &a.query, NULL},
        {"file", 'f', "FILE",
         "a JSON file of queries: [q, ...] or {\"queries\": [...]} "
         "(- for stdin)",
         &a.file, NULL},
        {"version", 'v', "VERSION", "the inference job's app_version (default -1: the latest)",
         &a.version, NULL},
        {"endpoint", 'e', "tcp://HOST:PORT",
         "the predictor's query socket (default: from the "
         "inference job)",
         &a.endpoint, NULL},
        {"deadline-ms", 0, "MS", "how long the predictor may wait for its workers", &a.deadline,
         NULL},
        {"key", 'k', "KEY",
         "a serving key, for a job created with auth: token (default: $RAFIKI_SERVING_KEY)", &a.key,
         NULL},
        {NULL, 0, NULL, NULL, NULL, NULL}};
    rfk_cli_command_t cmd = {
        .usage = "rafiki predict APP (--query JSON | --file FILE) [--version V] "
                 "[--endpoint tcp://HOST:PORT]",
        .about = "Sends queries to the predictor of APP's running inference job over ZeroMQ\n"
                 "and prints the predictions, one line (JSON) per query.",
        .options = options,
        .min_operands = 0,
        .max_operands = 1,
    };
    int status;
    if (rfk_cli_parse (&cmd, argc, argv, stdout, stderr, &status) != 0)
        return status;
    if ((a.query != NULL) == (a.file != NULL) || (cmd.n_operands == 0 && !a.endpoint)) {
        fprintf (stderr,
                 "rafiki predict: give APP (or --endpoint) and one of --query or --file\n"
                 "usage: %s\n",
                 cmd.usage);
        return RFK_CLI_USAGE;
    }
    long version = -1, deadline = 0;
    if ((a.version && rfk_cli_int ("--version", a.version, -1, INT_MAX, &version) != 0) ||
        (a.deadline && rfk_cli_int ("--deadline-ms", a.deadline, 1, 3600000, &deadline) != 0))
        return RFK_CLI_USAGE;
    json_t *queries = s_read_queries (&cmd.common, a.query, a.file);
    if (!queries)
        return RFK_CLI_FAILED;
    int rc = s_send_queries (&cmd, &a, version, deadline, queries);
    json_decref (queries);
    return rc;
}

/*  One event for people: time, topic, type, then its fields. */
static void
s_print_event (const json_t *event)
{
    time_t now = time (NULL);
    struct tm local;
    char when[16] = "";
    if (localtime_r (&now, &local))
        strftime (when, sizeof when, "%H:%M:%S", &local);
    printf ("%s  %-28s %-14s", when, json_string_value (json_object_get (event, "topic")),
            json_string_value (json_object_get (event, "type")));
    const char *key;
    json_t *value;
    json_object_foreach (json_object_get (event, "event"), key, value)
    {
        char *text = rfk_cli_cell (value);
        printf (" %s=%s", key, text ? text : "?");
        free (text);
    }
    printf ("\n");
    fflush (stdout);
}

/*  Prints events from watch until count events were seen (0: no limit),
    the deadline (monotonic ms, -1: none) passes, or an interrupt. */
static void
s_watch_loop (rfk_sdk_watch_t *watch, bool json, long count, int64_t deadline)
{
    long seen = 0;
    while (!count || seen < count) {
        int timeout = -1;
        if (deadline >= 0) {
            int64_t left = deadline - zclock_mono ();
            if (left <= 0)
                break;
            timeout = (int)left;
        }
        json_t *event = rfk_sdk_watch_next (watch, timeout);
        if (!event) {
            if (zsys_interrupted)
                break;
            continue;
        }
        seen++;
        if (json) {
            char *text = json_dumps (event, JSON_COMPACT);
            printf ("%s\n", text ? text : "{}");
            fflush (stdout);
            free (text);
        } else
            s_print_event (event);
        json_decref (event);
    }
}

/*  What watch was asked. */
typedef struct {
    const char *job, *trial, *topic, *count, *seconds; /* the options' values */
} s_watch_args_t;

/*  Subscribes to what the options ask for and prints events until done. */
static int
s_watch (const rfk_cli_command_t *cmd, const s_watch_args_t *a, long count, long seconds)
{
    rfk_sdk_t *sdk = rfk_cli_connect (&cmd->common);
    if (!sdk)
        return RFK_CLI_FAILED;
    char prefix[300] = "";
    if (a->job)
        snprintf (prefix, sizeof prefix, "job.%s", a->job);
    else if (a->trial)
        snprintf (prefix, sizeof prefix, "trial.%s", a->trial);
    else if (a->topic)
        snprintf (prefix, sizeof prefix, "%s", a->topic);
    rfk_sdk_watch_t *watch = rfk_sdk_watch_new (sdk, prefix);
    if (!watch) {
        int rc = rfk_cli_fail (&cmd->common, rfk_sdk_error (sdk));
        rfk_sdk_destroy (&sdk);
        return rc;
    }
    if (a->trial) {
        snprintf (prefix, sizeof prefix, "log.%s", a->trial);
        rfk_sdk_watch_subscribe (watch, prefix);
    }
    if (isatty (STDERR_FILENO))
        fprintf (stderr, "Watching admin's events at %s; Ctrl-C to stop\n",
                 rfk_sdk_events_endpoint (sdk));
    s_watch_loop (watch, cmd->common.json, count, seconds ? zclock_mono () + seconds * 1000 : -1);
    rfk_sdk_watch_destroy (&watch);
    rfk_sdk_destroy (&sdk);
    return RFK_CLI_OK;
}

int
rfk_cli_watch (int argc, char **argv)
{
    s_watch_args_t a = {0};
    const rfk_cli_option_t options[] = {
        {"job", 'j', "JOB_ID", "only events of this job (topic job.JOB_ID)", &a.job, NULL},
        {"trial", 't', "TRIAL_ID", "only events of this trial (topics trial.ID and log.ID)",
         &a.trial, NULL},
        {"topic", 0, "PREFIX",
         "only events whose topic starts with PREFIX (job., trial., "
         "service., log.)",
         &a.topic, NULL},
        {"count", 'n', "N", "stop after N events", &a.count, NULL},
        {"for", 0, "SECONDS", "stop after this many seconds", &a.seconds, NULL},
        {NULL, 0, NULL, NULL, NULL, NULL}};
    rfk_cli_command_t cmd = {
        .usage = "rafiki watch [--job ID | --trial ID | --topic PREFIX] [--count N] "
                 "[--for SECONDS]",
        .about = "Prints admin's events (job, service and trial status changes, trial log\n"
                 "lines) as they happen, until Ctrl-C. With --json, one JSON object per line.",
        .options = options,
    };
    int status;
    if (rfk_cli_parse (&cmd, argc, argv, stdout, stderr, &status) != 0)
        return status;
    long count = 0, seconds = 0;
    if ((a.count && rfk_cli_int ("--count", a.count, 1, LONG_MAX, &count) != 0) ||
        (a.seconds && rfk_cli_int ("--for", a.seconds, 1, 31536000, &seconds) != 0))
        return RFK_CLI_USAGE;
    return s_watch (&cmd, &a, count, seconds);
}
