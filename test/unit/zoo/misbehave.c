/*  test/unit/zoo/misbehave.c: model templates that misbehave in train, for
    the tests of whoever runs templates (the trial runner, the trainer).

    Built twice:
    - rafiki-test-crash.so (template "Crash"): train dies of SIGSEGV;
    - rafiki-test-hang.so (template "Hang", with RFK_MISBEHAVE_HANG): train
      never returns and ignores should_stop, so only a timeout and a kill end
      it.
    Everything else behaves: create, evaluate (0.5), predict (echoes the
    queries), dump and load ({template}). Task TABULAR_CLASSIFICATION, one
    integer knob `x`.
*/
#include <rafiki/model.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef RFK_MISBEHAVE_HANG
#define S_NAME "Hang"
#else
#define S_NAME "Crash"
#endif

static const rafiki_knob_t s_knobs[] = {
    {.name = "x", .type = RAFIKI_KNOB_INTEGER, .min = 0, .max = 10},
};

static void *
s_create (const rafiki_knobs_t *knobs, char *err, size_t errlen)
{
    (void)knobs;
    void *model = calloc (1, 1);
    if (!model)
        snprintf (err, errlen, "out of memory");
    return model;
}

static int
s_train (void *model, const char *dataset_path, const rafiki_args_t *args,
         const msgpack_object *shared_params, rafiki_context_t *ctx, char *err, size_t errlen)
{
    (void)model;
    (void)dataset_path;
    (void)args;
    (void)shared_params;
    (void)err;
    (void)errlen;
    if (ctx && ctx->log)
        ctx->log (ctx, S_NAME ": training starts");
#ifdef RFK_MISBEHAVE_HANG
    for (;;)
        pause ();
#else
    /* A real segmentation fault, with the default action: sanitizers catch
       SIGSEGV to print a report, which would turn the signal into an exit. */
    signal (SIGSEGV, SIG_DFL);
    raise (SIGSEGV);
#endif
    return -1; /* not reached */
}

static int
s_evaluate (void *model, const char *dataset_path, double *score, char *err, size_t errlen)
{
    (void)model;
    (void)dataset_path;
    (void)err;
    (void)errlen;
    *score = 0.5;
    return 0;
}

static int
s_predict (void *model, const msgpack_object *queries, msgpack_packer *out, char *err,
           size_t errlen)
{
    (void)model;
    if (queries->type != MSGPACK_OBJECT_ARRAY) {
        snprintf (err, errlen, "queries must be an array");
        return -1;
    }
    msgpack_pack_array (out, queries->via.array.size);
    for (uint32_t i = 0; i < queries->via.array.size; i++)
        msgpack_pack_object (out, queries->via.array.ptr[i]);
    return 0;
}

static int
s_dump (void *model, msgpack_packer *out, char *err, size_t errlen)
{
    (void)model;
    (void)err;
    (void)errlen;
    msgpack_pack_map (out, 1);
    msgpack_pack_str (out, 8);
    msgpack_pack_str_body (out, "template", 8);
    msgpack_pack_str (out, strlen (S_NAME));
    msgpack_pack_str_body (out, S_NAME, strlen (S_NAME));
    return 0;
}

static int
s_load (void *model, const msgpack_object *params, char *err, size_t errlen)
{
    (void)model;
    if (params->type != MSGPACK_OBJECT_MAP) {
        snprintf (err, errlen, "parameters must be a map");
        return -1;
    }
    return 0;
}

static const rafiki_model_api_t s_api = {
    .abi_version = RAFIKI_MODEL_ABI_VERSION,
    .name = S_NAME,
    .task = RAFIKI_TASK_TABULAR_CLASSIFICATION,
    .knobs = s_knobs,
    .n_knobs = 1,
    .create = s_create,
    .train = s_train,
    .evaluate = s_evaluate,
    .predict = s_predict,
    .dump_params = s_dump,
    .load_params = s_load,
    .destroy = free,
};

__attribute__ ((visibility ("default"))) const rafiki_model_api_t *
rafiki_model (void)
{
    return &s_api;
}
