/*  bench_policies.c: the training bench: what EARLY_STOP (with QUICK_EVAL)
    and SHARE_PARAMS buy on Fashion-MNIST.

    The advisor's own search (rfk_search: the GP tuner, ASHA, the share of
    trials that start from the best completed trial's parameters) proposes
    trials of the zoo's MLP (rafiki-mlp.so, dlopened as a trainer does), run
    one after the other in this process: create, train (progress reports
    go to ASHA, which may prune), evaluate on the validation split, dump the
    parameters. Four runs with the same seed: no policy, early stopping
    (+ quick evaluation), sharing, both. Each run goes on until it has done
    BENCH_POLICIES_TRIALS trials (default 12) and spent BENCH_POLICIES_MINUTES
    (default 1) minutes, so both budgets are read from one run: the best
    validation accuracy after the trial budget and after the time budget,
    and the test accuracy of the model that was best then. They are printed
    side by side, with each run's figures as ratios of the no-policy run's.

    Data: a subset of Fashion-MNIST (the Debian package dataset-fashion-
    mnist, converted by deploy/datasets/convert --limit N): N training
    images (BENCH_POLICIES_IMAGES, default 2000; the MLP holds the last 10%
    out for its per-epoch scores), N validation and N test images. The
    search space is the MLP's knob table narrowed so that a trial takes
    seconds on this 2-core machine: hidden_units 16..256, hidden_layers
    1..2, epochs 1..10, batch_size 32..256, learning_rate 1e-4..1e-2.
    QUICK_EVAL scores 100 held-out images per epoch (quick_eval_rows).

    Usage: bench_policies MLP_TEMPLATE CONVERTER DATA_DIR [seed]
*/
#include <czmq.h>
#include <math.h>
#include <msgpack.h>
#include <rafiki/template.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rfk_search.h"

#define S_RUNS 4

/* One run's policies. */
typedef struct {
    const char *name; /* as printed */
    bool early_stop;  /* EARLY_STOP and QUICK_EVAL */
    bool share;       /* SHARE_PARAMS */
} s_config_t;

static const s_config_t s_configs[S_RUNS] = {
    {"none", false, false},
    {"early-stop", true, false},
    {"sharing", false, true},
    {"both", true, true},
};

/* The bench's settings. */
typedef struct {
    const rafiki_model_api_t *api;        /* the MLP */
    json_t *table;                        /* the narrowed knob table */
    char train[600], val[600], test[600]; /* the dataset files */
    int64_t trials;                       /* the trial budget */
    double minutes;                       /* the time budget */
    int64_t seed;                         /* the tuner's seed */
} s_bench_t;

/* What a run reached at one budget. */
typedef struct {
    int64_t trials;         /* trials done by then */
    double seconds;         /* time spent by then */
    double best;            /* best validation accuracy by then */
    msgpack_sbuffer params; /* the best model's parameters then */
    double test;            /* its test accuracy (filled at the end) */
} s_mark_t;

/* One run in progress. */
typedef struct {
    rfk_search_t *search;           /* the advisor's search */
    uint32_t no;                    /* the trial being run */
    double last_score;              /* its last progress score */
    bool pruned;                    /* ASHA pruned it */
    int64_t pruned_count;           /* trials pruned */
    int64_t shared_count;           /* trials started from shared parameters */
    int64_t epochs;                 /* epochs trained, over all trials */
    double best;                    /* best validation accuracy of a COMPLETED trial */
    msgpack_sbuffer best_params;    /* its parameters (size 0: none yet) */
    s_mark_t at_trials, at_minutes; /* the two budgets */
} s_run_t;

static double
s_now (void)
{
    return (double)zclock_mono () / 1000.0;
}

/* ---- the data and the search space --------------------------------------- */

/* Converts the Fashion-MNIST subset into dir once; the three paths. */
static int
s_data (s_bench_t *b, const char *converter, const char *data_dir, int images)
{
    char dir[400];
    snprintf (dir, sizeof dir, "%s/fashion-mnist-%d", data_dir, images);
    snprintf (b->train, sizeof b->train, "%s/fashion-mnist-train.zip", dir);
    snprintf (b->val, sizeof b->val, "%s/fashion-mnist-val.zip", dir);
    snprintf (b->test, sizeof b->test, "%s/fashion-mnist-test.zip", dir);
    struct stat st;
    if (stat (b->test, &st) == 0)
        return 0;
    char cmd[1200];
    snprintf (cmd, sizeof cmd, "'%s' fashion-mnist '%s' --limit %d >&2", converter, dir, images);
    if (system (cmd) != 0 || stat (b->test, &st) != 0) {
        fprintf (stderr, "bench_policies: converting Fashion-MNIST failed (is the Debian package "
                         "dataset-fashion-mnist installed?)\n");
        return -1;
    }
    return 0;
}

/* Narrows knob `name` of the table to [min, max]. */
static void
s_narrow (json_t *table, const char *name, double min, double max)
{
    size_t index;
    json_t *entry;
    json_array_foreach (
        table, index, entry) if (streq (json_string_value (json_object_get (entry, "name")), name))
    {
        json_object_set_new (entry, "min", json_real (min));
        json_object_set_new (entry, "max", json_real (max));
    }
}

/* ---- one trial ------------------------------------------------------------ */

static bool
s_progress (rafiki_context_t *ctx, int64_t step, double score)
{
    s_run_t *run = ctx->host;
    char reason[256];
    run->last_score = score;
    if (rfk_search_prune (run->search, run->no, step, score, reason, sizeof reason))
        run->pruned = true;
    return run->pruned;
}

static bool
s_should_stop (rafiki_context_t *ctx)
{
    return ((s_run_t *)ctx->host)->pruned;
}

/* The MLP logs one point of metrics per epoch. */
static void
s_metrics (rafiki_context_t *ctx, size_t n, const char *const *names, const double *values)
{
    (void)n;
    (void)names;
    (void)values;
    ((s_run_t *)ctx->host)->epochs++;
}

static void
s_log (rafiki_context_t *ctx, const char *message)
{
    (void)ctx;
    if (getenv ("BENCH_POLICIES_VERBOSE"))
        fprintf (stderr, "#   %s\n", message);
}

/* Trains a model of knobs (starting from the best parameters when shared);
   its score, NAN when the trial failed. A COMPLETED trial better than the
   best becomes the one shared. */
static double
s_trial (const s_bench_t *b, s_run_t *run, json_t *knobs, bool shared, const rafiki_args_t *args)
{
    const rafiki_model_api_t *api = b->api;
    char err[512] = "";
    rafiki_knobs_t values;
    if (rfk_knobs_from_json (api->knobs, api->n_knobs, knobs, true, &values, err, sizeof err) != 0)
        return NAN;
    void *model = api->create (&values, err, sizeof err);
    rfk_knobs_free (&values);
    if (!model)
        return NAN;
    msgpack_unpacked from;
    msgpack_unpacked_init (&from);
    size_t off = 0;
    if (shared)
        shared = msgpack_unpack_next (&from, run->best_params.data, run->best_params.size, &off) ==
                 MSGPACK_UNPACK_SUCCESS;
    run->shared_count += shared;
    rafiki_context_t ctx = {.host = run,
                            .log = s_log,
                            .log_metrics = s_metrics,
                            .progress = s_progress,
                            .should_stop = s_should_stop};
    run->pruned = false;
    run->last_score = NAN;
    double score = NAN;
    if (api->train (model, b->train, args, shared ? &from.data : NULL, &ctx, err, sizeof err) ==
        0) {
        if (run->pruned) {
            score = run->last_score;
            run->pruned_count++;
        } else if (api->evaluate (model, b->val, &score, err, sizeof err) == 0 &&
                   score > run->best) {
            run->best = score;
            msgpack_sbuffer_clear (&run->best_params);
            msgpack_packer pk;
            msgpack_packer_init (&pk, &run->best_params, msgpack_sbuffer_write);
            if (api->dump_params (model, &pk, err, sizeof err) != 0)
                msgpack_sbuffer_clear (&run->best_params);
        }
    }
    if (err[0])
        fprintf (stderr, "# trial %u: %s\n", run->no, err);
    msgpack_unpacked_destroy (&from);
    api->destroy (model);
    return score;
}

/* ---- one run --------------------------------------------------------------- */

/* Records what the run reached at a budget. */
static void
s_mark (s_run_t *run, s_mark_t *mark, int64_t trials, double seconds)
{
    mark->trials = trials;
    mark->seconds = seconds;
    mark->best = run->best;
    msgpack_sbuffer_clear (&mark->params);
    msgpack_sbuffer_write (&mark->params, run->best_params.data, run->best_params.size);
}

/* The search of one configuration. NULL with a message. */
static rfk_search_t *
s_search_new (const s_bench_t *b, const s_config_t *config)
{
    json_t *budget = json_pack ("{s:I}", "MODEL_TRIAL_COUNT", (json_int_t)(b->trials * 10));
    json_t *args = json_pack ("{s:I, s:b, s:b, s:b}", "seed", (json_int_t)b->seed, "early_stop",
                              config->early_stop, "quick_eval", config->early_stop, "share_params",
                              config->share);
    char err[256] = "";
    rfk_search_t *search =
        rfk_search_new ("MlpImageClassifier", b->table, budget, args, NULL, 0.5, err, sizeof err);
    if (!search)
        fprintf (stderr, "bench_policies: %s\n", err);
    json_decref (budget);
    json_decref (args);
    return search;
}

/* Runs one configuration until both budgets are spent. */
static int
s_run (const s_bench_t *b, const s_config_t *config, s_run_t *run)
{
    memset (run, 0, sizeof *run);
    msgpack_sbuffer_init (&run->best_params);
    msgpack_sbuffer_init (&run->at_trials.params);
    msgpack_sbuffer_init (&run->at_minutes.params);
    run->best = -1;
    run->search = s_search_new (b, config);
    if (!run->search)
        return -1;
    rafiki_arg_t items[] = {{"quick_eval_rows", "100"}};
    rafiki_args_t args = {items, 1};
    double start = s_now (), budget_s = b->minutes * 60;
    int64_t done = 0;
    bool minutes_marked = false;
    while ((done < b->trials || !minutes_marked) && !rfk_search_spent (run->search, done)) {
        json_t *policies = json_array ();
        rfk_params_source_t source = RFK_PARAMS_NONE;
        json_t *knobs =
            rfk_search_next (run->search, done, run->best_params.size > 0, policies, &source);
        json_decref (policies);
        if (!knobs)
            break;
        run->no = (uint32_t)++done;
        double score = s_trial (b, run, knobs, source != RFK_PARAMS_NONE, &args);
        rfk_search_observe (run->search, run->no, knobs, score);
        json_decref (knobs);
        double spent = s_now () - start;
        if (!minutes_marked && spent >= budget_s) {
            /* The time budget ran out during this trial: what was best before it counts. */
            minutes_marked = true;
            if (run->at_minutes.trials == 0)
                s_mark (run, &run->at_minutes, done, spent);
        } else if (!minutes_marked)
            s_mark (run, &run->at_minutes, done, spent);
        if (done == b->trials)
            s_mark (run, &run->at_trials, done, spent);
        fprintf (stderr, "# %-10s trial %2" PRId64 ": %6.1f s, score %.4f, best %.4f%s\n",
                 config->name, done, spent, score, run->best, run->pruned ? " (pruned)" : "");
    }
    return 0;
}

/* The test accuracy of the parameters of a mark (NAN without any). */
static double
s_test_accuracy (const s_bench_t *b, const s_mark_t *mark)
{
    msgpack_unpacked params;
    msgpack_unpacked_init (&params);
    size_t off = 0;
    double accuracy = NAN;
    char err[256];
    rafiki_knobs_t none = {0};
    void *model = b->api->create (&none, err, sizeof err);
    if (model && mark->params.size &&
        msgpack_unpack_next (&params, mark->params.data, mark->params.size, &off) ==
            MSGPACK_UNPACK_SUCCESS &&
        b->api->load_params (model, &params.data, err, sizeof err) == 0 &&
        b->api->evaluate (model, b->test, &accuracy, err, sizeof err) != 0)
        accuracy = NAN;
    b->api->destroy (model);
    msgpack_unpacked_destroy (&params);
    return accuracy;
}

static void
s_run_free (s_run_t *run)
{
    rfk_search_destroy (&run->search);
    msgpack_sbuffer_destroy (&run->best_params);
    msgpack_sbuffer_destroy (&run->at_trials.params);
    msgpack_sbuffer_destroy (&run->at_minutes.params);
}

/* One small training before the runs, so that the first run does not pay
   for what any first training pays (the files into the page cache,
   OpenBLAS's start). */
static void
s_warm_up (const s_bench_t *b)
{
    char err[256];
    rafiki_knob_value_t one_epoch = {"epochs", {.type = RAFIKI_VALUE_INT, .u.i = 1}};
    rafiki_knobs_t knobs = {&one_epoch, 1};
    void *model = b->api->create (&knobs, err, sizeof err);
    if (model)
        b->api->train (model, b->train, NULL, NULL, NULL, err, sizeof err);
    b->api->destroy (model);
}

/* ---- the report -------------------------------------------------------------- */

static void
s_report (const s_bench_t *b, s_run_t *runs)
{
    printf ("# Fashion-MNIST subset, MlpImageClassifier, advisor search (seed %" PRId64 ")\n",
            b->seed);
    printf ("# budget A: %" PRId64 " trials; budget B: %.2g minutes. val: best validation "
            "accuracy; test: that model's test accuracy; x: ratio to 'none'\n",
            b->trials, b->minutes);
    printf ("# %-10s | %8s %6s %6s %6s %6s | %6s %6s %6s %6s | %6s %6s %6s\n", "policies",
            "A: time", "x", "val", "test", "x", "B: n", "val", "test", "x", "pruned", "shared",
            "epochs");
    for (int r = 0; r < S_RUNS; r++) {
        s_run_t *run = &runs[r];
        run->at_trials.test = s_test_accuracy (b, &run->at_trials);
        run->at_minutes.test = s_test_accuracy (b, &run->at_minutes);
    }
    for (int r = 0; r < S_RUNS; r++) {
        const s_run_t *run = &runs[r], *base = &runs[0];
        printf ("# %-10s | %7.1fs %6.2f %6.4f %6.4f %6.3f | %6" PRId64
                " %6.4f %6.4f %6.3f | %6" PRId64 " %6" PRId64 " %6" PRId64 "\n",
                s_configs[r].name, run->at_trials.seconds,
                run->at_trials.seconds / base->at_trials.seconds, run->at_trials.best,
                run->at_trials.test, run->at_trials.test / base->at_trials.test,
                run->at_minutes.trials, run->at_minutes.best, run->at_minutes.test,
                run->at_minutes.test / base->at_minutes.test, run->pruned_count, run->shared_count,
                run->epochs);
    }
}

int
main (int argc, char **argv)
{
    if (argc < 4) {
        fprintf (stderr, "usage: bench_policies MLP_TEMPLATE CONVERTER DATA_DIR [seed]\n");
        return 2;
    }
    s_bench_t b = {.trials = 12, .minutes = 1, .seed = argc > 4 ? atoll (argv[4]) : 1};
    const char *env = getenv ("BENCH_POLICIES_TRIALS");
    if (env && atoll (env) > 0)
        b.trials = atoll (env);
    if ((env = getenv ("BENCH_POLICIES_MINUTES")) && atof (env) > 0)
        b.minutes = atof (env);
    int images = (env = getenv ("BENCH_POLICIES_IMAGES")) && atoi (env) >= 100 ? atoi (env) : 2000;
    char err[512] = "";
    rfk_template_t *tpl = rfk_template_open (argv[1], NULL, err, sizeof err);
    if (!tpl || s_data (&b, argv[2], argv[3], images) != 0) {
        fprintf (stderr, "bench_policies: %s\n", err);
        rfk_template_close (&tpl);
        return 1;
    }
    b.api = rfk_template_api (tpl);
    b.table = rfk_knob_table_to_json (b.api->knobs, b.api->n_knobs);
    s_narrow (b.table, "hidden_units", 16, 256);
    s_narrow (b.table, "hidden_layers", 1, 2);
    s_narrow (b.table, "epochs", 1, 10);
    s_narrow (b.table, "batch_size", 32, 256);
    s_narrow (b.table, "learning_rate", 1e-4, 1e-2);
    printf ("1..1\n");
    s_warm_up (&b);
    s_run_t runs[S_RUNS];
    memset (runs, 0, sizeof runs);
    int rc = 0;
    for (int r = 0; r < S_RUNS && rc == 0; r++)
        rc = s_run (&b, &s_configs[r], &runs[r]);
    if (rc == 0)
        s_report (&b, runs);
    printf ("%sok 1 - four runs of the advisor's search on Fashion-MNIST\n", rc ? "not " : "");
    for (int r = 0; r < S_RUNS; r++)
        s_run_free (&runs[r]);
    json_decref (b.table);
    rfk_template_close (&tpl);
    return rc ? 1 : 0;
}
