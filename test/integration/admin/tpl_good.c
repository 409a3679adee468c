/*  tpl_good.c: the smallest valid model template (TABULAR_CLASSIFICATION),
    for admin's upload tests. It never trains anything. Built with
    -DTPL_SLOW_SECONDS=N it is tpl_slow: rafiki_model () takes N seconds, so
    admin's check of it runs that long (admin must serve others meanwhile);
    with -DTPL_SLOW_MARKS=DIR it leaves a file in DIR when it starts (a
    path built in: the check runs with an empty environment). */
#include <rafiki/model.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const rafiki_knob_t s_knobs[] = {
    {.name = "depth", .type = RAFIKI_KNOB_INTEGER, .min = 1, .max = 8},
};

static void *
s_create (const rafiki_knobs_t *knobs, char *err, size_t errlen)
{
    (void)knobs;
    (void)err;
    (void)errlen;
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
    *score = 0.5;
    return 0;
}

static int
s_predict (void *model, const msgpack_object *queries, msgpack_packer *out, char *err,
           size_t errlen)
{
    (void)model, (void)queries, (void)err, (void)errlen;
    return msgpack_pack_array (out, 0);
}

static int
s_dump (void *model, msgpack_packer *out, char *err, size_t errlen)
{
    (void)model, (void)err, (void)errlen;
    return msgpack_pack_nil (out);
}

static int
s_load (void *model, const msgpack_object *params, char *err, size_t errlen)
{
    (void)model, (void)params, (void)err, (void)errlen;
    return 0;
}

static void
s_destroy (void *model)
{
    (void)model;
}

#ifndef TPL_NAME
#define TPL_NAME "TestGood" /* tpl_hostile.c names its own */
#endif

static const rafiki_model_api_t s_api = {
    .abi_version = RAFIKI_MODEL_ABI_VERSION,
    .name = TPL_NAME,
    .task = RAFIKI_TASK_TABULAR_CLASSIFICATION,
    .knobs = s_knobs,
    .n_knobs = 1,
    .create = s_create,
    .train = s_train,
    .evaluate = s_evaluate,
    .predict = s_predict,
    .dump_params = s_dump,
    .load_params = s_load,
    .destroy = s_destroy,
};

const rafiki_model_api_t *
rafiki_model (void)
{
#ifdef TPL_SLOW_SECONDS
    //  Tests that need to know the check is running name a folder where
    //  each check leaves a file named after its process.
#ifdef TPL_SLOW_MARKS
    const char *marks = TPL_SLOW_MARKS;
    {
        char path[512];
        snprintf (path, sizeof path, "%s/%d", marks, (int)getpid ());
        FILE *mark = fopen (path, "w");
        if (mark)
            fclose (mark);
    }
#endif
    struct timespec pause = {TPL_SLOW_SECONDS, 0};
    while (nanosleep (&pause, &pause) != 0)
        ;
#endif
    return &s_api;
}
