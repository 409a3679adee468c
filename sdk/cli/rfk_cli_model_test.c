/*  rafiki model test: a real, small tuning loop on a model template, run
    locally without admin, as the original Rafiki's test_model_class.

    Random search proposes knobs (those given with --knob stay fixed); each
    trial runs in a child process through the trial runner, with the
    timeout and memory limit given, so a template that crashes or hangs
    fails its trial with the reason, not the tool. Then, again in a child,
    the best trial's parameters are loaded into a fresh model, which
    predicts sample queries drawn from the validation (or test) dataset; the
    predictions must be well formed, a dump -> load round trip must give
    identical predictions, and with --test the test score is reported.
    Exit status: 0 when a trial completed and the checks passed, 1 when not,
    2 for bad usage.
*/
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <rafiki/template.h>

#include "rfk_cli.h"
#include "rfk_model_check.h"
#include "rfk_random_search.h"
#include "rfk_runner.h"

#define S_MAX_LOGS 200 /* log lines kept per trial for --json */

/* One finished trial. */
typedef struct {
    rafiki_knob_value_t *items; /* its knob values (strings borrowed from the search) */
    rafiki_knobs_t knobs;
    rfk_trial_result_t result;
    char params_path[512];
} s_trial_t;

/* Everything the command works with. */
typedef struct {
    const char *template_path;
    const char *task, *train, *val, *test;
    long trials;
    double timeout_s;
    long memory_mb;
    unsigned long long seed;
    long n_queries;
    bool json, quiet;
    rafiki_arg_t *args; /* --arg name=value, split in place */
    size_t n_args;
    const rafiki_model_api_t *api;
    json_t *out;                     /* the --json document */
    json_t *logs;                    /* the current trial's log lines, for --json */
    const char *step;                /* "trial" or "check", to prefix relayed lines */
    const char **knob_assignments;   /* --knob NAME=VALUE, as given */
    size_t n_knob_assignments;       /* how many */
    rafiki_args_t train_args;        /* args as the template takes them */
    rfk_template_t *tpl;             /* the opened template */
    rfk_random_search_t *search;     /* proposes each trial's knobs */
    s_trial_t *trial_list;           /* `trials` slots */
    long n_run;                      /* trials started */
    char dir[32];                    /* mkdtemp folder for parameters */
    bool have_dir;                   /* dir was made */
    msgpack_sbuffer queries;         /* the sample queries, a msgpack array */
    size_t n_sampled;                /* how many */
    const char *queries_from;        /* the dataset they come from */
    rfk_trial_callbacks_t callbacks; /* relay what trials say */
} s_ctx_t;

/* The long options. */
enum {
    O_TASK = 256,
    O_TRAIN,
    O_VAL,
    O_TEST,
    O_TRIALS,
    O_KNOB,
    O_ARG,
    O_TIMEOUT,
    O_MEMORY,
    O_SEED,
    O_QUERIES,
    O_JSON,
    O_QUIET,
    O_HELP
};
static const struct option s_options[] = {
    {"task", required_argument, NULL, O_TASK},
    {"train", required_argument, NULL, O_TRAIN},
    {"val", required_argument, NULL, O_VAL},
    {"test", required_argument, NULL, O_TEST},
    {"trials", required_argument, NULL, O_TRIALS},
    {"knob", required_argument, NULL, O_KNOB},
    {"arg", required_argument, NULL, O_ARG},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"memory-mb", required_argument, NULL, O_MEMORY},
    {"seed", required_argument, NULL, O_SEED},
    {"queries", required_argument, NULL, O_QUERIES},
    {"json", no_argument, NULL, O_JSON},
    {"quiet", no_argument, NULL, O_QUIET},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

static void
s_help (FILE *out)
{
    fprintf (out, "usage: rafiki model test TEMPLATE.so --task TASK --train DATASET --val DATASET\n"
                  "                         [--test DATASET] [--trials N] [--knob NAME=VALUE ...]\n"
                  "                         [--arg NAME=VALUE ...] [--timeout SECONDS]\n"
                  "                         [--memory-mb MIB] [--seed N] [--queries N] [--quiet]\n"
                  "                         [--json]\n"
                  "\n"
                  "Runs a small tuning loop (random search) on a model template locally, each\n"
                  "trial in a child process with limits, then loads the best trial's parameters\n"
                  "into a fresh model and checks its predictions and a dump/load round trip.\n"
                  "\n"
                  "  --task TASK          IMAGE_CLASSIFICATION, TABULAR_CLASSIFICATION,\n"
                  "                       TABULAR_REGRESSION or POS_TAGGING (the template's task)\n"
                  "  --train, --val FILE  datasets to train and score trials on\n"
                  "  --test FILE          a dataset to report the best trial's test score on;\n"
                  "                       sample queries come from it (else from --val)\n"
                  "  --trials N           trials to run (default 5)\n"
                  "  --knob NAME=VALUE    fix a knob in every trial (policy knobs are off unless\n"
                  "                       fixed here, e.g. --knob early_stop=true)\n"
                  "  --arg NAME=VALUE     a train argument, e.g. --arg target=class\n"
                  "  --timeout SECONDS    wall-clock limit per trial (default 600)\n"
                  "  --memory-mb MIB      memory a trial may add to what it starts with (default\n"
                  "                       4096; 0: no limit)\n"
                  "  --seed N             random search seed (default 1)\n"
                  "  --queries N          sample queries to predict (default 10)\n"
                  "  --quiet              do not print the template's log lines\n"
                  "  --json               print one JSON document instead of text\n"
                  "\n"
                  "Exit status: 0 when a trial completed and the checks passed, 1 when not,\n"
                  "2 for bad usage.\n");
}

static int
s_usage_error (const char *fmt, const char *what)
{
    fprintf (stderr, "rafiki model test: ");
    fprintf (stderr, fmt, what);
    fprintf (stderr, "\n(rafiki model test --help shows the options)\n");
    return 2;
}

static bool
s_parse_long (const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol (text, &end, 10);
    if (!*text || *end || errno || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* ---- what trials say ---------------------------------------------------- */

static void
s_relay (s_ctx_t *ctx, const char *line)
{
    if (ctx->json) {
        if (ctx->logs && json_array_size (ctx->logs) < S_MAX_LOGS)
            json_array_append_new (ctx->logs, json_string (line));
        return;
    }
    if (!ctx->quiet || strcmp (ctx->step, "check") == 0)
        printf ("    | %s\n", line);
    fflush (stdout);
}

static void
s_on_log (void *arg, const char *message)
{
    s_relay (arg, message);
}

static void
s_on_metrics (void *arg, size_t n, const char *const *names, const double *values)
{
    char line[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof line; i++) {
        int w = snprintf (line + used, sizeof line - used, "%s%s=%g", i ? " " : "", names[i],
                          values[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    s_relay (arg, line);
}

static void
s_on_plot (void *arg, const char *title, size_t n, const char *const *metrics, const char *x_metric)
{
    char line[1024];
    int used = snprintf (line, sizeof line, "plot '%s':", title);
    for (size_t i = 0; i < n && used > 0 && (size_t)used < sizeof line; i++)
        used += snprintf (line + used, sizeof line - (size_t)used, " %s", metrics[i]);
    if (used > 0 && (size_t)used < sizeof line)
        snprintf (line + used, sizeof line - (size_t)used, " against %s",
                  x_metric ? x_metric : "time");
    s_relay (arg, line);
}

static bool
s_on_progress (void *arg, int64_t step, double score)
{
    char line[128];
    snprintf (line, sizeof line, "progress: step %lld, score %g", (long long)step, score);
    s_relay (arg, line);
    return false; /* model test never prunes */
}

/* ---- the checks, run in a child ----------------------------------------- */

typedef struct {
    const char *task;
    const rafiki_knobs_t *knobs;
    const char *params_path;
    const char *val_path;
    const char *test_path;
    double trial_score;
    const char *queries; /* msgpack array of sample queries */
    size_t queries_size;
    size_t n_queries;
    const char *queries_from;
} s_check_t;

static char *
s_read_file (const char *path, size_t *size, char *err, size_t errlen)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        snprintf (err, errlen, "cannot read %s: %s", path, strerror (errno));
        return NULL;
    }
    char *data = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (cap - len < 65536) {
            cap = cap ? cap * 2 : 65536;
            char *bigger = realloc (data, cap);
            if (!bigger) {
                free (data);
                fclose (f);
                snprintf (err, errlen, "out of memory reading %s", path);
                return NULL;
            }
            data = bigger;
        }
        size_t n = fread (data + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    bool failed = ferror (f);
    fclose (f);
    if (failed) {
        free (data);
        snprintf (err, errlen, "cannot read %s", path);
        return NULL;
    }
    *size = len;
    return data;
}

/* Make a model from the knobs and load parameters into it. */
static void *
s_loaded_model (const rafiki_model_api_t *api, const rafiki_knobs_t *knobs,
                const msgpack_object *params, char *err, size_t errlen)
{
    char msg[400] = "";
    void *model = api->create (knobs, msg, sizeof msg);
    if (!model) {
        snprintf (err, errlen, "create: %s", msg);
        return NULL;
    }
    if (api->load_params (model, params, msg, sizeof msg) != 0) {
        snprintf (err, errlen, "load_params: %s", msg);
        api->destroy (model);
        return NULL;
    }
    return model;
}

static int
s_predict (const rafiki_model_api_t *api, void *model, const msgpack_object *queries,
           msgpack_sbuffer *out, char *err, size_t errlen)
{
    char msg[400] = "";
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    if (api->predict (model, queries, &pk, msg, sizeof msg) != 0) {
        snprintf (err, errlen, "predict: %s", msg);
        return -1;
    }
    return 0;
}

/* Predicts queries with model, checks the predictions are well formed for
   the task, and logs so. */
static int
s_check_predictions (const rafiki_model_api_t *api, rafiki_context_t *rctx, const s_check_t *check,
                     void *model, const msgpack_object *queries, msgpack_sbuffer *out, char *err,
                     size_t errlen)
{
    char line[600], msg[400] = "";
    if (s_predict (api, model, queries, out, err, errlen) != 0)
        return -1;
    if (rfk_model_check_predictions (check->task, queries, out->data, out->size, msg, sizeof msg) !=
        0) {
        snprintf (err, errlen, "predictions are malformed: %s", msg);
        return -1;
    }
    snprintf (line, sizeof line, "ok: %zu sample queries from %s answered, well formed",
              check->n_queries, check->queries_from);
    rctx->log (rctx, line);
    return 0;
}

/* Dumps model, loads the dump into a fresh model and checks that it
   answers queries exactly as `first` did. */
static int
s_check_round_trip (const rafiki_model_api_t *api, rafiki_context_t *rctx, const s_check_t *check,
                    void *model, const msgpack_object *queries, const msgpack_sbuffer *first,
                    char *err, size_t errlen)
{
    char msg[400] = "";
    msgpack_sbuffer dumped, second;
    msgpack_sbuffer_init (&dumped);
    msgpack_sbuffer_init (&second);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &dumped, msgpack_sbuffer_write);
    if (api->dump_params (model, &pk, msg, sizeof msg) != 0) {
        snprintf (err, errlen, "dump_params: %s", msg);
        return -1;
    }
    msgpack_unpacked redumped;
    msgpack_unpacked_init (&redumped);
    if (msgpack_unpack_next (&redumped, dumped.data, dumped.size, NULL) != MSGPACK_UNPACK_SUCCESS) {
        snprintf (err, errlen, "dump_params packed no valid msgpack");
        return -1;
    }
    void *again = s_loaded_model (api, check->knobs, &redumped.data, err, errlen);
    if (!again)
        return -1;
    if (s_predict (api, again, queries, &second, err, errlen) != 0)
        return -1;
    if (first->size != second.size || memcmp (first->data, second.data, first->size) != 0) {
        snprintf (err, errlen,
                  "dump -> load changes the predictions: a model loaded from its own dump "
                  "answers the sample queries differently");
        return -1;
    }
    rctx->log (rctx, "ok: dump -> load gives identical predictions");
    return 0;
}

/* Scores the loaded model on the validation set (logging whether it
   matches the trial's score) and, with a test set, on it: *score gets the
   test score, else the validation score. */
static int
s_check_scores (const rafiki_model_api_t *api, rafiki_context_t *rctx, const s_check_t *check,
                void *model, double *score, char *err, size_t errlen)
{
    char line[600], msg[400] = "";
    double val_score = 0;
    if (api->evaluate (model, check->val_path, &val_score, msg, sizeof msg) != 0) {
        snprintf (err, errlen, "evaluate on the validation set: %s", msg);
        return -1;
    }
    if (fabs (val_score - check->trial_score) > 1e-6 * fmax (1, fabs (check->trial_score)))
        snprintf (line, sizeof line,
                  "warning: the loaded model scores %.6g on the validation set, the trained "
                  "model scored %.6g",
                  val_score, check->trial_score);
    else
        snprintf (line, sizeof line,
                  "ok: the loaded model scores %.6g on the validation set, as trained", val_score);
    rctx->log (rctx, line);
    *score = val_score;
    if (!check->test_path)
        return 0;
    if (api->evaluate (model, check->test_path, score, msg, sizeof msg) != 0) {
        snprintf (err, errlen, "evaluate on the test set: %s", msg);
        return -1;
    }
    if (!isfinite (*score)) {
        snprintf (err, errlen, "evaluate on the test set gave a score that is not a number");
        return -1;
    }
    return 0;
}

/* The checks on the best trial, run as the body of a child process. */
static int
s_check_body (const rafiki_model_api_t *api, rafiki_context_t *rctx, void *arg, double *score,
              char *err, size_t errlen)
{
    const s_check_t *check = arg;
    char line[600];
    size_t size = 0;
    char *data = s_read_file (check->params_path, &size, err, errlen);
    if (!data)
        return -1;
    msgpack_unpacked params, queries;
    msgpack_unpacked_init (&params);
    msgpack_unpacked_init (&queries);
    if (msgpack_unpack_next (&params, data, size, NULL) != MSGPACK_UNPACK_SUCCESS) {
        snprintf (err, errlen, "the saved parameters are not msgpack");
        return -1;
    }
    msgpack_unpack_next (&queries, check->queries, check->queries_size, NULL);
    void *model = s_loaded_model (api, check->knobs, &params.data, err, errlen);
    if (!model)
        return -1;
    snprintf (line, sizeof line, "ok: parameters (%zu bytes) load into a fresh model", size);
    rctx->log (rctx, line);
    msgpack_sbuffer first;
    msgpack_sbuffer_init (&first);
    /* The child exits right after: what it allocated goes with it. */
    if (s_check_predictions (api, rctx, check, model, &queries.data, &first, err, errlen) != 0 ||
        s_check_round_trip (api, rctx, check, model, &queries.data, &first, err, errlen) != 0)
        return -1;
    return s_check_scores (api, rctx, check, model, score, err, errlen);
}

/* ---- the command -------------------------------------------------------- */

static json_t *
s_knobs_json (const rafiki_knobs_t *knobs)
{
    json_t *j = rfk_knobs_to_json (knobs);
    return j ? j : json_object ();
}

static int
s_fail (s_ctx_t *ctx, const char *message)
{
    if (ctx->json) {
        json_object_set_new (ctx->out, "ok", json_false ());
        json_object_set_new (ctx->out, "error", json_string (message));
        json_dumpf (ctx->out, stdout, JSON_INDENT (2));
        printf ("\n");
    } else {
        fflush (stdout);
        fprintf (stderr, "rafiki model test: FAILED: %s\n", message);
    }
    return 1;
}

/* Takes one option getopt_long returned. -1 to go on, else the exit status
   (0 after --help, 2 after a usage error). */
static int
s_take_option (s_ctx_t *ctx, int opt, char **argv)
{
    char *end;
    switch (opt) {
        case O_TASK:
            ctx->task = optarg;
            break;
        case O_TRAIN:
            ctx->train = optarg;
            break;
        case O_VAL:
            ctx->val = optarg;
            break;
        case O_TEST:
            ctx->test = optarg;
            break;
        case O_TRIALS:
            if (!s_parse_long (optarg, 1, 100000, &ctx->trials))
                return s_usage_error ("--trials wants a whole number from 1, not '%s'", optarg);
            break;
        case O_KNOB:
            ctx->knob_assignments[ctx->n_knob_assignments++] = optarg;
            break;
        case O_ARG: {
            char *eq = strchr (optarg, '=');
            if (!eq || eq == optarg)
                return s_usage_error ("--arg wants NAME=VALUE, not '%s'", optarg);
            *eq = 0;
            ctx->args[ctx->n_args].name = optarg;
            ctx->args[ctx->n_args++].value = eq + 1;
            break;
        }
        case O_TIMEOUT:
            errno = 0;
            ctx->timeout_s = strtod (optarg, &end);
            if (!*optarg || *end || errno || !isfinite (ctx->timeout_s) || ctx->timeout_s <= 0)
                return s_usage_error ("--timeout wants a number of seconds above 0, not '%s'",
                                      optarg);
            break;
        case O_MEMORY:
            if (!s_parse_long (optarg, 0, 1L << 30, &ctx->memory_mb))
                return s_usage_error ("--memory-mb wants a whole number of MiB, not '%s'", optarg);
            break;
        case O_SEED:
            errno = 0;
            ctx->seed = strtoull (optarg, &end, 10);
            if (!*optarg || *end || errno || optarg[0] == '-')
                return s_usage_error ("--seed wants a whole number, not '%s'", optarg);
            break;
        case O_QUERIES:
            if (!s_parse_long (optarg, 1, 100000, &ctx->n_queries))
                return s_usage_error ("--queries wants a whole number from 1, not '%s'", optarg);
            break;
        case O_JSON:
            ctx->json = true;
            break;
        case O_QUIET:
            ctx->quiet = true;
            break;
        case O_HELP:
        case 'h':
            s_help (stdout);
            return 0;
        case ':':
            return s_usage_error ("%s needs a value", argv[optind - 1]);
        default:
            return s_usage_error ("unknown option '%s'", argv[optind - 1]);
    }
    return -1;
}

/* Checks that the datasets named can be read: -1, or 2 after saying why. */
static int
s_check_datasets (const s_ctx_t *ctx)
{
    const char *const datasets[] = {ctx->train, ctx->val, ctx->test};
    const char *const dataset_opts[] = {"--train", "--val", "--test"};
    for (int i = 0; i < 3; i++) {
        struct stat st;
        const char *why = NULL;
        if (!datasets[i])
            continue;
        if (stat (datasets[i], &st) != 0 || access (datasets[i], R_OK) != 0)
            why = strerror (errno);
        else if (!S_ISREG (st.st_mode))
            why = "not a file";
        if (why) {
            fprintf (stderr, "rafiki model test: cannot read the %s dataset %s: %s\n",
                     dataset_opts[i], datasets[i], why);
            return 2;
        }
    }
    return -1;
}

/* Reads the command line into ctx. -1 to go on, else the exit status. */
static int
s_parse (s_ctx_t *ctx, int argc, char **argv)
{
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long (argc, argv, ":h", s_options, NULL)) != -1) {
        int status = s_take_option (ctx, opt, argv);
        if (status >= 0)
            return status;
    }
    if (optind >= argc)
        return s_usage_error ("%s", "name a template file (TEMPLATE.so)");
    if (argc - optind > 1)
        return s_usage_error ("one template at a time, not also '%s'", argv[optind + 1]);
    ctx->template_path = argv[optind];
    if (!ctx->task || !ctx->train || !ctx->val)
        return s_usage_error ("%s", "--task, --train and --val are required");
    return s_check_datasets (ctx);
}

/* Fails with "PREFIX: err". */
static int
s_fail_with (s_ctx_t *ctx, const char *prefix, const char *err)
{
    char msg[700];
    snprintf (msg, sizeof msg, "%s%s", prefix, err);
    return s_fail (ctx, msg);
}

/* Opens the template and the search, draws the sample queries and makes
   the folder for parameters. 0, or the exit status after failing. */
static int
s_prepare (s_ctx_t *ctx)
{
    char err[512] = "";
    ctx->tpl = rfk_template_open (ctx->template_path, ctx->task, err, sizeof err);
    if (!ctx->tpl)
        return s_fail (ctx, err);
    ctx->api = rfk_template_api (ctx->tpl);
    json_object_set_new (ctx->out, "name", json_string (ctx->api->name));
    ctx->search =
        rfk_random_search_new (ctx->api->knobs, ctx->api->n_knobs, ctx->seed, err, sizeof err);
    if (!ctx->search)
        return s_fail (ctx, err);
    for (size_t i = 0; i < ctx->n_knob_assignments; i++)
        if (rfk_random_search_fix_assignment (ctx->search, ctx->knob_assignments[i], err,
                                              sizeof err) != 0) {
            char prefix[300];
            snprintf (prefix, sizeof prefix, "--knob %s: ", ctx->knob_assignments[i]);
            return s_fail_with (ctx, prefix, err);
        }
    /* Sample queries first: a dataset the checks cannot read should not
       cost a tuning loop. */
    ctx->queries_from = ctx->test ? ctx->test : ctx->val;
    if (rfk_model_check_queries (ctx->task, ctx->queries_from, &ctx->train_args,
                                 (size_t)ctx->n_queries, &ctx->queries, &ctx->n_sampled, err,
                                 sizeof err) != 0)
        return s_fail_with (ctx, "cannot draw sample queries: ", err);
    if (!mkdtemp (ctx->dir))
        return s_fail_with (ctx, "cannot make a directory for parameters: ", strerror (errno));
    ctx->have_dir = true;
    ctx->trial_list = calloc ((size_t)ctx->trials, sizeof *ctx->trial_list);
    if (!ctx->trial_list)
        return s_fail (ctx, "out of memory");
    return 0;
}

/* A trial's result as JSON, with the log lines gathered in ctx->logs. */
static json_t *
s_trial_json (s_ctx_t *ctx, long t, const s_trial_t *trial)
{
    const rfk_trial_result_t *r = &trial->result;
    bool completed = r->status == RFK_TRIAL_COMPLETED;
    json_t *jtrial = json_object ();
    json_object_set_new (jtrial, "trial", json_integer (t + 1));
    json_object_set_new (jtrial, "knobs", s_knobs_json (&trial->knobs));
    json_object_set_new (jtrial, "status", json_string (rfk_trial_status_name (r->status)));
    json_object_set_new (jtrial, "score", completed ? json_real (r->score) : json_null ());
    json_object_set_new (jtrial, "duration_s", json_real (r->duration_s));
    json_object_set_new (jtrial, "peak_rss_kb", json_integer (r->peak_rss_kb));
    json_object_set_new (jtrial, "error", completed ? json_null () : json_string (r->error));
    json_object_set_new (jtrial, "logs", ctx->logs);
    ctx->logs = NULL;
    return jtrial;
}

/* Runs trial t (0-based) with the search's next knobs. -1 when out of
   memory. */
static int
s_run_trial (s_ctx_t *ctx, long t)
{
    s_trial_t *trial = &ctx->trial_list[t];
    const rafiki_knobs_t *knobs = rfk_random_search_next (ctx->search);
    trial->items = calloc (knobs->n ? knobs->n : 1, sizeof *trial->items);
    if (!trial->items)
        return -1;
    memcpy (trial->items, knobs->items, knobs->n * sizeof *trial->items);
    trial->knobs.items = trial->items;
    trial->knobs.n = knobs->n;
    snprintf (trial->params_path, sizeof trial->params_path, "%s/trial-%ld.params", ctx->dir,
              t + 1);
    ctx->n_run = t + 1;
    char text[2048];
    if (!ctx->json)
        printf ("trial %ld/%ld: %s\n", t + 1, ctx->trials,
                rfk_knobs_format (&trial->knobs, text, sizeof text));
    fflush (stdout);
    ctx->logs = json_array ();
    ctx->step = "trial";
    rfk_trial_spec_t spec = {.api = ctx->api,
                             .knobs = &trial->knobs,
                             .train_path = ctx->train,
                             .val_path = ctx->val,
                             .args = &ctx->train_args,
                             .params_path = trial->params_path,
                             .output_path = ctx->json ? "/dev/stderr" : NULL,
                             .timeout_s = ctx->timeout_s,
                             .memory_mb = (size_t)ctx->memory_mb};
    rfk_runner_trial_run (&spec, &ctx->callbacks, &trial->result);
    const rfk_trial_result_t *r = &trial->result;
    if (!ctx->json && r->status == RFK_TRIAL_COMPLETED)
        printf ("  COMPLETED  score %.6g  (%.2f s)\n", r->score, r->duration_s);
    else if (!ctx->json)
        printf ("  %s  %s  (%.2f s)\n", rfk_trial_status_name (r->status), r->error, r->duration_s);
    json_array_append_new (json_object_get (ctx->out, "trials"), s_trial_json (ctx, t, trial));
    return 0;
}

/* Runs every trial; the index of the best completed one, or -1 after
   failing (*rc_p the exit status). */
static long
s_run_trials (s_ctx_t *ctx, int *rc_p)
{
    if (!ctx->json)
        printf ("rafiki model test: %s (%s) from %s: %ld trial%s, seed %llu\n", ctx->api->name,
                ctx->api->task, ctx->template_path, ctx->trials, ctx->trials == 1 ? "" : "s",
                ctx->seed);
    json_object_set_new (ctx->out, "trials", json_array ());
    long best = -1;
    for (long t = 0; t < ctx->trials; t++) {
        if (s_run_trial (ctx, t) != 0) {
            *rc_p = s_fail (ctx, "out of memory");
            return -1;
        }
        const rfk_trial_result_t *r = &ctx->trial_list[t].result;
        if (r->status == RFK_TRIAL_COMPLETED &&
            (best < 0 || r->score > ctx->trial_list[best].result.score))
            best = t;
    }
    if (best < 0) {
        char msg[700];
        snprintf (msg, sizeof msg, "no trial completed (the last failed with: %s)",
                  ctx->trial_list[ctx->n_run - 1].result.error);
        *rc_p = s_fail (ctx, msg);
    }
    return best;
}

/* Runs the checks on the winning trial in a child; its result in *checked,
   and the "best" and "checks" members of the JSON document. */
static void
s_run_checks (s_ctx_t *ctx, long best, rfk_trial_result_t *checked)
{
    s_trial_t *winner = &ctx->trial_list[best];
    json_t *jbest = json_object ();
    json_object_set_new (jbest, "trial", json_integer (best + 1));
    json_object_set_new (jbest, "knobs", s_knobs_json (&winner->knobs));
    json_object_set_new (jbest, "score", json_real (winner->result.score));
    json_object_set_new (ctx->out, "best", jbest);
    if (!ctx->json)
        printf ("checks on the best trial (%ld):\n", best + 1);
    s_check_t check = {.task = ctx->task,
                       .knobs = &winner->knobs,
                       .params_path = winner->params_path,
                       .val_path = ctx->val,
                       .test_path = ctx->test,
                       .trial_score = winner->result.score,
                       .queries = ctx->queries.data,
                       .queries_size = ctx->queries.size,
                       .n_queries = ctx->n_sampled,
                       .queries_from = ctx->queries_from};
    ctx->logs = json_array ();
    ctx->step = "check";
    rfk_trial_spec_t spec = {.api = ctx->api,
                             .output_path = ctx->json ? "/dev/stderr" : NULL,
                             .timeout_s = ctx->timeout_s,
                             .memory_mb = (size_t)ctx->memory_mb,
                             .body = s_check_body,
                             .body_arg = &check};
    rfk_runner_trial_run (&spec, &ctx->callbacks, checked);
    bool passed = checked->status == RFK_TRIAL_COMPLETED;
    json_t *jchecks = json_object ();
    json_object_set_new (jchecks, "passed", json_boolean (passed));
    json_object_set_new (jchecks, "messages", ctx->logs);
    ctx->logs = NULL;
    json_object_set_new (jchecks, "error", passed ? json_null () : json_string (checked->error));
    json_object_set_new (ctx->out, "checks", jchecks);
    json_object_set_new (ctx->out, "test_score",
                         ctx->test && passed ? json_real (checked->score) : json_null ());
}

/* Prints the outcome of a run whose checks passed. */
static void
s_report_ok (const s_ctx_t *ctx, long best, const rfk_trial_result_t *checked)
{
    if (ctx->json) {
        json_object_set_new (ctx->out, "ok", json_true ());
        json_object_set_new (ctx->out, "error", json_null ());
        json_dumpf (ctx->out, stdout, JSON_INDENT (2));
        printf ("\n");
        return;
    }
    const s_trial_t *winner = &ctx->trial_list[best];
    char text[2048];
    rfk_knobs_format (&winner->knobs, text, sizeof text);
    printf ("best trial: %ld, validation score %.6g\n", best + 1, winner->result.score);
    printf ("best knobs: %s\n", text);
    if (ctx->test)
        printf ("test score: %.6g\n", checked->score);
    printf ("rafiki model test: OK\n");
}

/* Tunes, checks and reports, once the command line is read. */
static int
s_run (s_ctx_t *ctx)
{
    ctx->out = json_object ();
    json_object_set_new (ctx->out, "template", json_string (ctx->template_path));
    json_object_set_new (ctx->out, "task", json_string (ctx->task));
    json_object_set_new (ctx->out, "seed", json_integer ((json_int_t)ctx->seed));
    int rc = s_prepare (ctx);
    if (rc != 0)
        return rc;
    long best = s_run_trials (ctx, &rc);
    if (best < 0)
        return rc;
    rfk_trial_result_t checked;
    s_run_checks (ctx, best, &checked);
    if (checked.status != RFK_TRIAL_COMPLETED) {
        if (!ctx->json)
            printf ("  %s\n", checked.error);
        return s_fail_with (ctx, "the best trial's checks failed: ", checked.error);
    }
    s_report_ok (ctx, best, &checked);
    return 0;
}

/* Frees what ctx holds and removes the parameters folder. */
static void
s_ctx_clear (s_ctx_t *ctx)
{
    for (long t = 0; ctx->trial_list && t < ctx->n_run; t++)
        if (ctx->trial_list[t].params_path[0])
            unlink (ctx->trial_list[t].params_path);
    if (ctx->have_dir)
        rmdir (ctx->dir);
    for (long t = 0; ctx->trial_list && t < ctx->n_run; t++)
        free (ctx->trial_list[t].items);
    free (ctx->trial_list);
    msgpack_sbuffer_destroy (&ctx->queries);
    json_decref (ctx->logs);
    json_decref (ctx->out);
    rfk_random_search_destroy (&ctx->search);
    rfk_template_close (&ctx->tpl);
    free (ctx->knob_assignments);
    free (ctx->args);
}

int
rfk_cli_model_test (int argc, char **argv)
{
    s_ctx_t ctx = {.trials = 5,
                   .timeout_s = 600,
                   .memory_mb = 4096,
                   .seed = 1,
                   .n_queries = 10,
                   .dir = "/tmp/rafiki-model-test-XXXXXX",
                   .callbacks = {.on_log = s_on_log,
                                 .on_metrics = s_on_metrics,
                                 .on_plot = s_on_plot,
                                 .on_progress = s_on_progress}};
    ctx.callbacks.arg = &ctx;
    msgpack_sbuffer_init (&ctx.queries);
    ctx.knob_assignments = calloc ((size_t)argc + 1, sizeof *ctx.knob_assignments);
    ctx.args = calloc ((size_t)argc + 1, sizeof *ctx.args);
    int rc;
    if (!ctx.knob_assignments || !ctx.args) {
        fprintf (stderr, "rafiki model test: out of memory\n");
        rc = 1;
    } else if ((rc = s_parse (&ctx, argc, argv)) < 0) {
        ctx.train_args = (rafiki_args_t){ctx.args, ctx.n_args};
        rc = s_run (&ctx);
    }
    s_ctx_clear (&ctx);
    return rc;
}
