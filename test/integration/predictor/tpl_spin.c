/*  tpl_spin.c: a template whose predict never returns (test_stuck_worker).

    Loads like any (no knobs, no parameters); predict spins for ever, as a
    buggy or hostile template may. Only the worker's watchdog can end it. */
#include "rfk_test_template.h"

static void *
s_create (const rafiki_knobs_t *knobs, char *err, size_t errlen)
{
    (void)knobs, (void)err, (void)errlen;
    static int model;
    return &model;
}

static int
s_train (void *model, const char *path, const rafiki_args_t *args, const msgpack_object *shared,
         rafiki_context_t *ctx, char *err, size_t errlen)
{
    (void)model, (void)path, (void)args, (void)shared, (void)ctx, (void)err, (void)errlen;
    return 0;
}

static int
s_evaluate (void *model, const char *path, double *score, char *err, size_t errlen)
{
    (void)model, (void)path, (void)err, (void)errlen;
    *score = 0;
    return 0;
}

static int
s_predict (void *model, const msgpack_object *queries, msgpack_packer *out, char *err,
           size_t errlen)
{
    (void)model, (void)queries, (void)out, (void)err, (void)errlen;
    for (volatile unsigned long i = 0;; i++)
        ;
    return 0;
}

static const rafiki_model_api_t s_api = {
    .abi_version = RAFIKI_MODEL_ABI_VERSION,
    .name = "Spin",
    .task = RAFIKI_TASK_TABULAR_CLASSIFICATION,
    .create = s_create,
    .train = s_train,
    .evaluate = s_evaluate,
    .predict = s_predict,
    .dump_params = rfk_test_tpl_dump_nil,
    .load_params = rfk_test_tpl_load_nothing,
    .destroy = rfk_test_tpl_keep,
};

const rafiki_model_api_t *
rafiki_model (void)
{
    return &s_api;
}
