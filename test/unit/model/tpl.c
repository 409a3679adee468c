/*  tpl.c: a tiny TABULAR_CLASSIFICATION template for the template loader
    tests: it predicts the majority class of its training set. Built several
    times with -D flags for broken variants: TPL_ABI (another ABI version),
    TPL_NOSYM (exports no rafiki_model), TPL_BADKNOBS (a knob declared
    twice). It links rfk_model statically, as real templates do. */
#include "rafiki/dataset.h"
#include "rafiki/model.h"

#include <stdio.h>
#include <stdlib.h>

#ifndef TPL_ABI
#define TPL_ABI RAFIKI_MODEL_ABI_VERSION
#endif

typedef struct {
    int64_t max_depth; /* a knob, unused */
    int32_t majority;  /* the class it predicts; -1 before training */
    uint32_t n_classes;
} tpl_model_t;

static const rafiki_value_t s_kernels[] = {{RAFIKI_VALUE_STRING, {.s = "linear"}},
                                           {RAFIKI_VALUE_STRING, {.s = "rbf"}}};

static const rafiki_knob_t s_knobs[] = {
    {.name = "max_depth", .type = RAFIKI_KNOB_INTEGER, .min = 1, .max = 10},
    {.name = "eta", .type = RAFIKI_KNOB_FLOAT, .min = 1e-3, .max = 1, .log_scale = true},
    {.name = "kernel", .type = RAFIKI_KNOB_CATEGORICAL, .values = s_kernels, .n_values = 2},
    {.name = "seed", .type = RAFIKI_KNOB_FIXED, .value = {RAFIKI_VALUE_INT, {.i = 42}}},
#ifdef TPL_BADKNOBS
    {.name = "eta", .type = RAFIKI_KNOB_FLOAT, .min = 0, .max = 1},
#endif
    {.name = "early_stop", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_EARLY_STOP},
};

static void *
s_create (const rafiki_knobs_t *knobs, char *err, size_t errlen)
{
    tpl_model_t *m = calloc (1, sizeof *m);
    if (!m) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    m->max_depth = rafiki_knobs_int (knobs, "max_depth", 3);
    m->majority = -1;
    return m;
}

static int
s_train (void *model, const char *dataset_path, const rafiki_args_t *args,
         const msgpack_object *shared_params, rafiki_context_t *ctx, char *err, size_t errlen)
{
    (void)shared_params;
    (void)ctx;
    tpl_model_t *m = model;
    rfk_tabular_options_t opts = {0};
    rfk_tabular_options_from_args (args, RAFIKI_TASK_TABULAR_CLASSIFICATION, &opts);
    rfk_tabular_t *t = NULL;
    if (rfk_tabular_load (dataset_path, &opts, &t, err, errlen))
        return -1;
    size_t *counts = calloc (t->n_classes, sizeof (size_t));
    for (size_t i = 0; i < t->n_rows; i++)
        counts[t->labels[i]]++;
    m->majority = 0;
    for (uint32_t k = 1; k < t->n_classes; k++)
        if (counts[k] > counts[m->majority])
            m->majority = (int32_t)k;
    m->n_classes = t->n_classes;
    free (counts);
    rfk_tabular_destroy (&t);
    return 0;
}

static int
s_evaluate (void *model, const char *dataset_path, double *score, char *err, size_t errlen)
{
    tpl_model_t *m = model;
    rfk_tabular_options_t opts = {.classification = true};
    rfk_tabular_t *t = NULL;
    if (rfk_tabular_load (dataset_path, &opts, &t, err, errlen))
        return -1;
    size_t right = 0;
    for (size_t i = 0; i < t->n_rows; i++)
        right += t->labels[i] == m->majority;
    *score = (double)right / (double)t->n_rows;
    rfk_tabular_destroy (&t);
    return 0;
}

static int
s_predict (void *model, const msgpack_object *queries, msgpack_packer *out, char *err,
           size_t errlen)
{
    tpl_model_t *m = model;
    if (queries->type != MSGPACK_OBJECT_ARRAY) {
        snprintf (err, errlen, "queries are an array");
        return -1;
    }
    msgpack_pack_array (out, queries->via.array.size);
    for (uint32_t q = 0; q < queries->via.array.size; q++) {
        msgpack_pack_array (out, m->n_classes);
        for (uint32_t k = 0; k < m->n_classes; k++)
            msgpack_pack_double (out, (int32_t)k == m->majority ? 1.0 : 0.0);
    }
    return 0;
}

static int
s_dump_params (void *model, msgpack_packer *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    tpl_model_t *m = model;
    msgpack_pack_array (out, 2);
    msgpack_pack_int32 (out, m->majority);
    msgpack_pack_uint32 (out, m->n_classes);
    return 0;
}

static int
s_load_params (void *model, const msgpack_object *params, char *err, size_t errlen)
{
    tpl_model_t *m = model;
    if (params->type != MSGPACK_OBJECT_ARRAY || params->via.array.size != 2) {
        snprintf (err, errlen, "bad parameters");
        return -1;
    }
    m->majority = (int32_t)params->via.array.ptr[0].via.i64;
    m->n_classes = (uint32_t)params->via.array.ptr[1].via.u64;
    return 0;
}

static void
s_destroy (void *model)
{
    free (model);
}

static const rafiki_model_api_t s_api = {
    .abi_version = TPL_ABI,
    .name = "Majority",
    .task = RAFIKI_TASK_TABULAR_CLASSIFICATION,
    .knobs = s_knobs,
    .n_knobs = sizeof s_knobs / sizeof s_knobs[0],
    .create = s_create,
    .train = s_train,
    .evaluate = s_evaluate,
    .predict = s_predict,
    .dump_params = s_dump_params,
    .load_params = s_load_params,
    .destroy = s_destroy,
};

#ifdef TPL_NOSYM
const rafiki_model_api_t *
not_rafiki_model (void)
#else
const rafiki_model_api_t *
rafiki_model (void)
#endif
{
    return &s_api;
}
