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
    json_t *out;      /* the --json document */
    json_t *logs;     /* the current trial's log lines, for --json */
    const char *step; /* "trial" or "check", to prefix relayed lines */
} s_ctx_t;

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

static int
s_check_body (const rafiki_model_api_t *api, rafiki_context_t *rctx, void *arg, double *score,
              char *err, size_t errlen)
{
    const s_check_t *check = arg;
    char line[600], msg[400] = "";
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

    msgpack_sbuffer first, dumped, second;
    msgpack_sbuffer_init (&first);
    msgpack_sbuffer_init (&dumped);
    msgpack_sbuffer_init (&second);
    if (s_predict (api, model, &queries.data, &first, err, errlen) != 0)
        return -1;
    if (rfk_model_check_predictions (check->task, &queries.data, first.data, first.size, msg,
                                     sizeof msg) != 0) {
        snprintf (err, errlen, "predictions are malformed: %s", msg);
        return -1;
    }
    snprintf (line, sizeof line, "ok: %zu sample queries from %s answered, well formed",
              check->n_queries, check->queries_from);
    rctx->log (rctx, line);

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
    if (s_predict (api, again, &queries.data, &second, err, errlen) != 0)
        return -1;
    if (first.size != second.size || memcmp (first.data, second.data, first.size) != 0) {
        snprintf (err, errlen,
                  "dump -> load changes the predictions: a model loaded from its own dump "
                  "answers the sample queries differently");
        return -1;
    }
    rctx->log (rctx, "ok: dump -> load gives identical predictions");

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
    if (check->test_path) {
        if (api->evaluate (model, check->test_path, score, msg, sizeof msg) != 0) {
            snprintf (err, errlen, "evaluate on the test set: %s", msg);
            return -1;
        }
        if (!isfinite (*score)) {
            snprintf (err, errlen, "evaluate on the test set gave a score that is not a number");
            return -1;
        }
    }
    /* The child exits right after: what it allocated goes with it. */
    return 0;
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

static void
s_remove_dir (const char *dir, s_trial_t *trials, long n)
{
    for (long i = 0; i < n; i++)
        if (trials[i].params_path[0])
            unlink (trials[i].params_path);
    rmdir (dir);
}

int
rfk_cli_model_test (int argc, char **argv)
{
    s_ctx_t ctx = {.trials = 5, .timeout_s = 600, .memory_mb = 4096, .seed = 1, .n_queries = 10};
    const char **knob_assignments = calloc ((size_t)argc + 1, sizeof *knob_assignments);
    size_t n_knob_assignments = 0;
    ctx.args = calloc ((size_t)argc + 1, sizeof *ctx.args);
    if (!knob_assignments || !ctx.args) {
        fprintf (stderr, "rafiki model test: out of memory\n");
        return 1;
    }
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
    static const struct option options[] = {
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
    int rc = 2;
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long (argc, argv, ":h", options, NULL)) != -1) {
        char *end;
        switch (opt) {
            case O_TASK:
                ctx.task = optarg;
                break;
            case O_TRAIN:
                ctx.train = optarg;
                break;
            case O_VAL:
                ctx.val = optarg;
                break;
            case O_TEST:
                ctx.test = optarg;
                break;
            case O_TRIALS:
                if (!s_parse_long (optarg, 1, 100000, &ctx.trials)) {
                    rc = s_usage_error ("--trials wants a whole number from 1, not '%s'", optarg);
                    goto done;
                }
                break;
            case O_KNOB:
                knob_assignments[n_knob_assignments++] = optarg;
                break;
            case O_ARG: {
                char *eq = strchr (optarg, '=');
                if (!eq || eq == optarg) {
                    rc = s_usage_error ("--arg wants NAME=VALUE, not '%s'", optarg);
                    goto done;
                }
                *eq = 0;
                ctx.args[ctx.n_args].name = optarg;
                ctx.args[ctx.n_args++].value = eq + 1;
                break;
            }
            case O_TIMEOUT:
                errno = 0;
                ctx.timeout_s = strtod (optarg, &end);
                if (!*optarg || *end || errno || !isfinite (ctx.timeout_s) || ctx.timeout_s <= 0) {
                    rc = s_usage_error ("--timeout wants a number of seconds above 0, not '%s'",
                                        optarg);
                    goto done;
                }
                break;
            case O_MEMORY:
                if (!s_parse_long (optarg, 0, 1L << 30, &ctx.memory_mb)) {
                    rc =
                        s_usage_error ("--memory-mb wants a whole number of MiB, not '%s'", optarg);
                    goto done;
                }
                break;
            case O_SEED:
                errno = 0;
                ctx.seed = strtoull (optarg, &end, 10);
                if (!*optarg || *end || errno || optarg[0] == '-') {
                    rc = s_usage_error ("--seed wants a whole number, not '%s'", optarg);
                    goto done;
                }
                break;
            case O_QUERIES:
                if (!s_parse_long (optarg, 1, 100000, &ctx.n_queries)) {
                    rc = s_usage_error ("--queries wants a whole number from 1, not '%s'", optarg);
                    goto done;
                }
                break;
            case O_JSON:
                ctx.json = true;
                break;
            case O_QUIET:
                ctx.quiet = true;
                break;
            case O_HELP:
            case 'h':
                s_help (stdout);
                rc = 0;
                goto done;
            case ':':
                rc = s_usage_error ("%s needs a value", argv[optind - 1]);
                goto done;
            default:
                rc = s_usage_error ("unknown option '%s'", argv[optind - 1]);
                goto done;
        }
    }
    if (optind >= argc) {
        rc = s_usage_error ("%s", "name a template file (TEMPLATE.so)");
        goto done;
    }
    if (argc - optind > 1) {
        rc = s_usage_error ("one template at a time, not also '%s'", argv[optind + 1]);
        goto done;
    }
    ctx.template_path = argv[optind];
    if (!ctx.task || !ctx.train || !ctx.val) {
        rc = s_usage_error ("%s", "--task, --train and --val are required");
        goto done;
    }
    const char *const datasets[] = {ctx.train, ctx.val, ctx.test};
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
            rc = 2;
            goto done;
        }
    }
    rc = 1;
    ctx.out = json_object ();
    json_object_set_new (ctx.out, "template", json_string (ctx.template_path));
    json_object_set_new (ctx.out, "task", json_string (ctx.task));
    json_object_set_new (ctx.out, "seed", json_integer ((json_int_t)ctx.seed));

    char err[512] = "";
    rfk_template_t *tpl = rfk_template_open (ctx.template_path, ctx.task, err, sizeof err);
    rfk_random_search_t *search = NULL;
    s_trial_t *trials = NULL;
    long n_run = 0;
    char dir[] = "/tmp/rafiki-model-test-XXXXXX";
    bool have_dir = false;
    msgpack_sbuffer queries;
    msgpack_sbuffer_init (&queries);
    if (!tpl) {
        rc = s_fail (&ctx, err);
        goto cleanup;
    }
    ctx.api = rfk_template_api (tpl);
    json_object_set_new (ctx.out, "name", json_string (ctx.api->name));
    search = rfk_random_search_new (ctx.api->knobs, ctx.api->n_knobs, ctx.seed, err, sizeof err);
    if (!search) {
        rc = s_fail (&ctx, err);
        goto cleanup;
    }
    for (size_t i = 0; i < n_knob_assignments; i++)
        if (rfk_random_search_fix_assignment (search, knob_assignments[i], err, sizeof err) != 0) {
            char msg[600];
            snprintf (msg, sizeof msg, "--knob %s: %s", knob_assignments[i], err);
            rc = s_fail (&ctx, msg);
            goto cleanup;
        }

    /* Sample queries first: a dataset the checks cannot read should not
       cost a tuning loop. */
    const char *queries_from = ctx.test ? ctx.test : ctx.val;
    size_t n_queries = 0;
    rafiki_args_t args = {ctx.args, ctx.n_args};
    if (rfk_model_check_queries (ctx.task, queries_from, &args, (size_t)ctx.n_queries, &queries,
                                 &n_queries, err, sizeof err) != 0) {
        char msg[600];
        snprintf (msg, sizeof msg, "cannot draw sample queries: %s", err);
        rc = s_fail (&ctx, msg);
        goto cleanup;
    }
    if (!mkdtemp (dir)) {
        snprintf (err, sizeof err, "cannot make a directory for parameters: %s", strerror (errno));
        rc = s_fail (&ctx, err);
        goto cleanup;
    }
    have_dir = true;
    trials = calloc ((size_t)ctx.trials, sizeof *trials);
    if (!trials) {
        rc = s_fail (&ctx, "out of memory");
        goto cleanup;
    }

    if (!ctx.json)
        printf ("rafiki model test: %s (%s) from %s: %ld trial%s, seed %llu\n", ctx.api->name,
                ctx.api->task, ctx.template_path, ctx.trials, ctx.trials == 1 ? "" : "s", ctx.seed);
    json_t *jtrials = json_array ();
    json_object_set_new (ctx.out, "trials", jtrials);
    rfk_trial_callbacks_t callbacks = {.arg = &ctx,
                                       .on_log = s_on_log,
                                       .on_metrics = s_on_metrics,
                                       .on_plot = s_on_plot,
                                       .on_progress = s_on_progress};
    long best = -1;
    for (long t = 0; t < ctx.trials; t++) {
        s_trial_t *trial = &trials[t];
        const rafiki_knobs_t *knobs = rfk_random_search_next (search);
        trial->items = calloc (knobs->n ? knobs->n : 1, sizeof *trial->items);
        if (!trial->items) {
            rc = s_fail (&ctx, "out of memory");
            goto cleanup;
        }
        memcpy (trial->items, knobs->items, knobs->n * sizeof *trial->items);
        trial->knobs.items = trial->items;
        trial->knobs.n = knobs->n;
        snprintf (trial->params_path, sizeof trial->params_path, "%s/trial-%ld.params", dir, t + 1);
        n_run = t + 1;
        char text[2048];
        if (!ctx.json)
            printf ("trial %ld/%ld: %s\n", t + 1, ctx.trials,
                    rfk_knobs_format (&trial->knobs, text, sizeof text));
        fflush (stdout);
        json_t *jtrial = json_object ();
        ctx.logs = json_array ();
        ctx.step = "trial";
        rfk_trial_spec_t spec = {.api = ctx.api,
                                 .knobs = &trial->knobs,
                                 .train_path = ctx.train,
                                 .val_path = ctx.val,
                                 .args = &args,
                                 .params_path = trial->params_path,
                                 .output_path = ctx.json ? "/dev/stderr" : NULL,
                                 .timeout_s = ctx.timeout_s,
                                 .memory_mb = (size_t)ctx.memory_mb};
        rfk_trial_run (&spec, &callbacks, &trial->result);
        const rfk_trial_result_t *r = &trial->result;
        if (!ctx.json) {
            if (r->status == RFK_TRIAL_COMPLETED)
                printf ("  COMPLETED  score %.6g  (%.2f s)\n", r->score, r->duration_s);
            else
                printf ("  %s  %s  (%.2f s)\n", rfk_trial_status_name (r->status), r->error,
                        r->duration_s);
        }
        json_object_set_new (jtrial, "trial", json_integer (t + 1));
        json_object_set_new (jtrial, "knobs", s_knobs_json (&trial->knobs));
        json_object_set_new (jtrial, "status", json_string (rfk_trial_status_name (r->status)));
        json_object_set_new (jtrial, "score",
                             r->status == RFK_TRIAL_COMPLETED ? json_real (r->score)
                                                              : json_null ());
        json_object_set_new (jtrial, "duration_s", json_real (r->duration_s));
        json_object_set_new (jtrial, "peak_rss_kb", json_integer (r->peak_rss_kb));
        json_object_set_new (jtrial, "error",
                             r->status == RFK_TRIAL_COMPLETED ? json_null ()
                                                              : json_string (r->error));
        json_object_set_new (jtrial, "logs", ctx.logs);
        ctx.logs = NULL;
        json_array_append_new (jtrials, jtrial);
        if (r->status == RFK_TRIAL_COMPLETED && (best < 0 || r->score > trials[best].result.score))
            best = t;
    }
    if (best < 0) {
        char msg[700];
        snprintf (msg, sizeof msg, "no trial completed (the last failed with: %s)",
                  trials[n_run - 1].result.error);
        rc = s_fail (&ctx, msg);
        goto cleanup;
    }

    s_trial_t *winner = &trials[best];
    char text[2048];
    rfk_knobs_format (&winner->knobs, text, sizeof text);
    json_t *jbest = json_object ();
    json_object_set_new (jbest, "trial", json_integer (best + 1));
    json_object_set_new (jbest, "knobs", s_knobs_json (&winner->knobs));
    json_object_set_new (jbest, "score", json_real (winner->result.score));
    json_object_set_new (ctx.out, "best", jbest);

    if (!ctx.json)
        printf ("checks on the best trial (%ld):\n", best + 1);
    s_check_t check = {.task = ctx.task,
                       .knobs = &winner->knobs,
                       .params_path = winner->params_path,
                       .val_path = ctx.val,
                       .test_path = ctx.test,
                       .trial_score = winner->result.score,
                       .queries = queries.data,
                       .queries_size = queries.size,
                       .n_queries = n_queries,
                       .queries_from = queries_from};
    ctx.logs = json_array ();
    ctx.step = "check";
    rfk_trial_spec_t spec = {.api = ctx.api,
                             .output_path = ctx.json ? "/dev/stderr" : NULL,
                             .timeout_s = ctx.timeout_s,
                             .memory_mb = (size_t)ctx.memory_mb,
                             .body = s_check_body,
                             .body_arg = &check};
    rfk_trial_result_t checked;
    rfk_trial_run (&spec, &callbacks, &checked);
    json_t *jchecks = json_object ();
    json_object_set_new (jchecks, "passed", json_boolean (checked.status == RFK_TRIAL_COMPLETED));
    json_object_set_new (jchecks, "messages", ctx.logs);
    ctx.logs = NULL;
    json_object_set_new (jchecks, "error",
                         checked.status == RFK_TRIAL_COMPLETED ? json_null ()
                                                               : json_string (checked.error));
    json_object_set_new (ctx.out, "checks", jchecks);
    json_object_set_new (ctx.out, "test_score",
                         ctx.test && checked.status == RFK_TRIAL_COMPLETED
                             ? json_real (checked.score)
                             : json_null ());
    if (checked.status != RFK_TRIAL_COMPLETED) {
        char msg[700];
        snprintf (msg, sizeof msg, "the best trial's checks failed: %s", checked.error);
        if (!ctx.json)
            printf ("  %s\n", checked.error);
        rc = s_fail (&ctx, msg);
        goto cleanup;
    }
    if (ctx.json) {
        json_object_set_new (ctx.out, "ok", json_true ());
        json_object_set_new (ctx.out, "error", json_null ());
        json_dumpf (ctx.out, stdout, JSON_INDENT (2));
        printf ("\n");
    } else {
        printf ("best trial: %ld, validation score %.6g\n", best + 1, winner->result.score);
        printf ("best knobs: %s\n", text);
        if (ctx.test)
            printf ("test score: %.6g\n", checked.score);
        printf ("rafiki model test: OK\n");
    }
    rc = 0;

cleanup:
    if (have_dir)
        s_remove_dir (dir, trials, n_run);
    for (long t = 0; trials && t < n_run; t++)
        free (trials[t].items);
    free (trials);
    msgpack_sbuffer_destroy (&queries);
    json_decref (ctx.logs);
    json_decref (ctx.out);
    rfk_random_search_destroy (&search);
    rfk_template_close (&tpl);
done:
    free (knob_assignments);
    free (ctx.args);
    return rc;
}
