/*  models/echo/echo.c: a template that learns nothing and echoes queries.

    rafiki-echo.so (Echo, TABULAR_CLASSIFICATION) is for benchmarks and
    tests of the platform, not for users: predict answers every query with
    the query itself, unchanged; evaluate returns the knob `score`; train
    only checks that the dataset file can be read, then (for `steps` steps)
    logs a metrics point per step and, when the EARLY_STOP policy is on,
    reports progress with score * step / steps, stopping when pruned. So a
    tuner sees scores it chose, and the trainer sees progress reports and
    pruning without the cost of real training.

    Parameters: {template: "Echo", score}.
*/
#include "zoo.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define S_NAME "Echo"

static const rafiki_knob_t s_knobs[] = {
    {.name = "score", .type = RAFIKI_KNOB_FLOAT, .min = 0, .max = 1},
    {.name = "steps", .type = RAFIKI_KNOB_INTEGER, .min = 0, .max = 1000},
    {.name = "early_stop", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_EARLY_STOP},
};

typedef struct {
    double score;    /* knob: what evaluate returns */
    int64_t steps;   /* knob: steps of make-believe training */
    bool early_stop; /* policy: report progress per step */
} s_model_t;

static void *
s_create (const rafiki_knobs_t *knobs, char *err, size_t errlen)
{
    s_model_t *self = rfk_zoo_new (sizeof *self, err, errlen);
    if (!self)
        return NULL;
    self->score = rafiki_knobs_float (knobs, "score", 0.5);
    self->steps = rafiki_knobs_int (knobs, "steps", 0);
    self->early_stop = rafiki_knobs_bool (knobs, "early_stop", false);
    if (self->steps < 0) {
        rfk_zoo_err (err, errlen, "%s: steps %" PRId64 " is negative", S_NAME, self->steps);
        free (self);
        return NULL;
    }
    return self;
}

static void
s_destroy (void *model)
{
    free (model);
}

static int
s_train (void *model, const char *dataset_path, const rafiki_args_t *args,
         const msgpack_object *shared_params, rafiki_context_t *ctx, char *err, size_t errlen)
{
    s_model_t *self = model;
    (void)args;
    (void)shared_params;
    if (!dataset_path || access (dataset_path, R_OK) != 0) {
        rfk_zoo_err (err, errlen, "%s: cannot read the dataset", dataset_path ? dataset_path : "");
        return -1;
    }
    const char *names[] = {"step", "score"};
    if (self->steps > 0)
        rfk_zoo_plot (ctx, "Score", 1, &names[1], "step");
    for (int64_t step = 1; step <= self->steps; step++) {
        if (rfk_zoo_should_stop (ctx))
            break;
        double score = self->score * (double)step / (double)self->steps;
        double values[] = {(double)step, score};
        rfk_zoo_metrics (ctx, 2, names, values);
        if (self->early_stop && rfk_zoo_progress (ctx, step, score)) {
            rfk_zoo_log (ctx, "%s: pruned at step %" PRId64, S_NAME, step);
            break;
        }
    }
    return 0;
}

static int
s_evaluate (void *model, const char *dataset_path, double *score, char *err, size_t errlen)
{
    s_model_t *self = model;
    if (!dataset_path || access (dataset_path, R_OK) != 0) {
        rfk_zoo_err (err, errlen, "%s: cannot read the dataset", dataset_path ? dataset_path : "");
        return -1;
    }
    *score = self->score;
    return 0;
}

static int
s_predict (void *model, const msgpack_object *queries, msgpack_packer *out, char *err,
           size_t errlen)
{
    (void)model;
    if (rfk_zoo_check_batch (queries, err, errlen) != 0)
        return -1;
    if (msgpack_pack_array (out, queries->via.array.size) != 0)
        goto fail;
    for (uint32_t i = 0; i < queries->via.array.size; i++)
        if (msgpack_pack_object (out, queries->via.array.ptr[i]) != 0)
            goto fail;
    return 0;
fail:
    rfk_zoo_err (err, errlen, "packing predictions failed");
    return -1;
}

static int
s_dump (void *model, msgpack_packer *out, char *err, size_t errlen)
{
    s_model_t *self = model;
    if (rfk_zoo_params_pack_head (out, 2, S_NAME, -1, NULL) != 0 ||
        rfk_zoo_pack_key_double (out, "score", self->score) != 0)
        return rfk_zoo_pack_failed (err, errlen);
    return 0;
}

static int
s_load (void *model, const msgpack_object *params, char *err, size_t errlen)
{
    s_model_t *self = model;
    double score;
    if (rfk_zoo_params_check (params, S_NAME, -1, err, errlen) != 0 ||
        rfk_zoo_get_double (params, "score", &score, err, errlen) != 0)
        return -1;
    self->score = score;
    return 0;
}

RFK_ZOO_TEMPLATE (S_NAME, RAFIKI_TASK_TABULAR_CLASSIFICATION)
