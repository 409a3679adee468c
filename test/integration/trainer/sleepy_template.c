/*  test/integration/trainer/sleepy_template.c: a template whose trials take
    a while, for the trainer's tests (killing a trainer in the middle of a
    trial, stopping one, the end-to-end jobs).

    rafiki-test-sleepy.so (Sleepy, TABULAR_CLASSIFICATION): train logs a
    line, defines a plot, then for `steps` steps sleeps `ms` milliseconds,
    logs a metrics point and (with EARLY_STOP) reports progress
    score * step / steps, stopping when pruned or asked to stop; evaluate
    returns the knob `score`. Parameters: {template, score}. The train args
    `sleepy_ms` and `sleepy_steps`, when given, override the knobs.
*/
#include <rafiki/model.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "rfk_test_template.h"

static const rafiki_knob_t s_knobs[] = {
    {.name = "ms", .type = RAFIKI_KNOB_INTEGER, .min = 20, .max = 60000},
    {.name = "steps", .type = RAFIKI_KNOB_INTEGER, .min = 1, .max = 5},
    {.name = "score", .type = RAFIKI_KNOB_FLOAT, .min = 0, .max = 1},
    {.name = "early_stop", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_EARLY_STOP},
};

typedef struct {
    int64_t ms, steps;
    double score;
    bool early_stop;
} s_model_t;

static void *
s_create (const rafiki_knobs_t *knobs, char *err, size_t errlen)
{
    s_model_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->ms = rafiki_knobs_int (knobs, "ms", 50);
    self->steps = rafiki_knobs_int (knobs, "steps", 1);
    self->score = rafiki_knobs_float (knobs, "score", 0.5);
    self->early_stop = rafiki_knobs_bool (knobs, "early_stop", false);
    return self;
}

static int
s_train (void *model, const char *dataset_path, const rafiki_args_t *args,
         const msgpack_object *shared_params, rafiki_context_t *ctx, char *err, size_t errlen)
{
    s_model_t *self = model;
    (void)shared_params;
    /* Train args `sleepy_ms` and `sleepy_steps` override the knobs: a job
       through admin (which fixes no knobs) can still ask for slow trials. */
    const char *ms = rafiki_args_get (args, "sleepy_ms", NULL);
    const char *steps = rafiki_args_get (args, "sleepy_steps", NULL);
    if (ms && atoll (ms) > 0)
        self->ms = atoll (ms);
    if (steps && atoll (steps) > 0)
        self->steps = atoll (steps);
    if (access (dataset_path, R_OK) != 0) {
        snprintf (err, errlen, "cannot read %s", dataset_path);
        return -1;
    }
    ctx->log (ctx, "Sleepy: training starts");
    const char *names[] = {"step", "score"};
    ctx->define_plot (ctx, "Score", 1, &names[1], "step");
    for (int64_t step = 1; step <= self->steps; step++) {
        for (int64_t slept = 0; slept < self->ms; slept += 10) {
            if (ctx->should_stop (ctx))
                return 0;
            struct timespec ten_ms = {0, 10 * 1000 * 1000};
            nanosleep (&ten_ms, NULL);
        }
        double score = self->score * (double)step / (double)self->steps;
        double values[] = {(double)step, score};
        ctx->log_metrics (ctx, 2, names, values);
        if (self->early_stop && ctx->progress (ctx, step, score))
            return 0;
    }
    return 0;
}

static int
s_evaluate (void *model, const char *dataset_path, double *score, char *err, size_t errlen)
{
    if (access (dataset_path, R_OK) != 0) {
        snprintf (err, errlen, "cannot read %s", dataset_path);
        return -1;
    }
    *score = ((s_model_t *)model)->score;
    return 0;
}

static int
s_predict (void *model, const msgpack_object *queries, msgpack_packer *out, char *err,
           size_t errlen)
{
    (void)model;
    (void)err;
    (void)errlen;
    msgpack_pack_array (out, queries->via.array.size);
    for (uint32_t i = 0; i < queries->via.array.size; i++)
        msgpack_pack_double (out, 0.5);
    return 0;
}

static int
s_dump (void *model, msgpack_packer *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    msgpack_pack_map (out, 2);
    msgpack_pack_str (out, 8);
    msgpack_pack_str_body (out, "template", 8);
    msgpack_pack_str (out, 6);
    msgpack_pack_str_body (out, "Sleepy", 6);
    msgpack_pack_str (out, 5);
    msgpack_pack_str_body (out, "score", 5);
    msgpack_pack_double (out, ((s_model_t *)model)->score);
    return 0;
}

static const rafiki_model_api_t s_api = {
    .abi_version = RAFIKI_MODEL_ABI_VERSION,
    .name = "Sleepy",
    .task = RAFIKI_TASK_TABULAR_CLASSIFICATION,
    .knobs = s_knobs,
    .n_knobs = sizeof s_knobs / sizeof s_knobs[0],
    .create = s_create,
    .train = s_train,
    .evaluate = s_evaluate,
    .predict = s_predict,
    .dump_params = s_dump,
    .load_params = rfk_test_tpl_load_nothing,
    .destroy = rfk_test_tpl_free,
};

__attribute__ ((visibility ("default"))) const rafiki_model_api_t *
rafiki_model (void)
{
    return &s_api;
}
