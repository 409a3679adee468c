/*  A model template for the runner's tests that misbehaves on request.

    Its knob `behaviour` picks what train does:
      complete   log, log metrics, define a plot, return 0 (score = alpha)
      progress   report progress for steps 1..steps (score step/10), stop
                 when pruned
      segfault   write through a NULL pointer
      sleep      log "sleeping", then sleep forever (ignores SIGTERM)
      stop_aware log "waiting", then wait until should_stop
      allocate   allocate and touch 8 MiB blocks until malloc fails
      spin       burn CPU forever
      fail       return -1 with "the data is bad"
      exit       call exit (7)
      badpredict complete, but predict answers probabilities that do not
                 sum to 1
      unstable   complete, but load_params does not restore what was dumped
    It is a TABULAR_CLASSIFICATION template answering [alpha, 1 - alpha] for
    every query, so `rafiki model test` can run it end to end.
*/
#include <rafiki/model.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const rafiki_value_t s_behaviours[] = {
    {RAFIKI_VALUE_STRING, {.s = "complete"}},   {RAFIKI_VALUE_STRING, {.s = "progress"}},
    {RAFIKI_VALUE_STRING, {.s = "segfault"}},   {RAFIKI_VALUE_STRING, {.s = "sleep"}},
    {RAFIKI_VALUE_STRING, {.s = "stop_aware"}}, {RAFIKI_VALUE_STRING, {.s = "allocate"}},
    {RAFIKI_VALUE_STRING, {.s = "spin"}},       {RAFIKI_VALUE_STRING, {.s = "fail"}},
    {RAFIKI_VALUE_STRING, {.s = "exit"}},       {RAFIKI_VALUE_STRING, {.s = "badpredict"}},
    {RAFIKI_VALUE_STRING, {.s = "unstable"}},
};

static const rafiki_knob_t s_knobs[] = {
    {.name = "behaviour",
     .type = RAFIKI_KNOB_CATEGORICAL,
     .values = s_behaviours,
     .n_values = sizeof s_behaviours / sizeof s_behaviours[0]},
    /* log-scale, so that `rafiki model test` is seen to take such a knob */
    {.name = "steps", .type = RAFIKI_KNOB_INTEGER, .min = 1, .max = 10, .log_scale = true},
    {.name = "lr", .type = RAFIKI_KNOB_FLOAT, .min = 1e-4, .max = 1, .log_scale = true},
    {.name = "alpha", .type = RAFIKI_KNOB_FLOAT, .min = 0.5, .max = 1},
    {.name = "kind", .type = RAFIKI_KNOB_FIXED, .value = {RAFIKI_VALUE_STRING, {.s = "test"}}},
    {.name = "early_stop", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_EARLY_STOP},
};

/* Where the allocate behaviour leaves its memory. */
static void *volatile s_sink;

typedef struct {
    char behaviour[32];
    int64_t steps;
    double alpha;
} model_t;

static void *
s_create (const rafiki_knobs_t *knobs, char *err, size_t errlen)
{
    model_t *m = calloc (1, sizeof *m);
    if (!m) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    snprintf (m->behaviour, sizeof m->behaviour, "%s",
              rafiki_knobs_string (knobs, "behaviour", "complete"));
    m->steps = rafiki_knobs_int (knobs, "steps", 3);
    m->alpha = rafiki_knobs_float (knobs, "alpha", 0.75);
    return m;
}

static int
s_is (const model_t *m, const char *behaviour)
{
    return strcmp (m->behaviour, behaviour) == 0;
}

static int
s_train (void *model, const char *dataset_path, const rafiki_args_t *args,
         const msgpack_object *shared_params, rafiki_context_t *ctx, char *err, size_t errlen)
{
    model_t *m = model;
    (void)args;
    (void)shared_params;
    if (access (dataset_path, R_OK) != 0) {
        snprintf (err, errlen, "cannot read %s", dataset_path);
        return -1;
    }
    if (s_is (m, "segfault")) {
        ctx->log (ctx, "about to crash");
        /* An address in the unmapped first page, not NULL: UBSan would
           report a NULL store instead of letting it fault. */
        volatile int *bad = (volatile int *)(uintptr_t)(16 + m->steps / 1000);
        *bad = 1;
    } else if (s_is (m, "sleep")) {
        ctx->log (ctx, "sleeping");
        for (;;)
            sleep (1000);
    } else if (s_is (m, "stop_aware")) {
        ctx->log (ctx, "waiting");
        while (!ctx->should_stop (ctx))
            pause ();
        return 0;
    } else if (s_is (m, "allocate")) {
        size_t mib = 0;
        void *last = NULL;
        for (;;) {
            /* Chained and published, so no compiler elides the allocation. */
            char *block = malloc (8u << 20);
            if (!block) {
                snprintf (err, errlen, "out of memory after %zu MiB", mib);
                s_sink = last;
                return -1;
            }
            memset (block, 1, 8u << 20);
            memcpy (block, &last, sizeof last);
            last = block;
            mib += 8;
            if (mib > 64 * 1024) {
                snprintf (err, errlen, "no memory limit stopped me");
                return -1;
            }
        }
    } else if (s_is (m, "spin")) {
        volatile uint64_t x = 0;
        for (;;)
            x++;
    } else if (s_is (m, "fail")) {
        snprintf (err, errlen, "the data is bad");
        return -1;
    } else if (s_is (m, "exit")) {
        exit (7);
    } else if (s_is (m, "progress")) {
        for (int64_t step = 1; step <= m->steps; step++) {
            if (ctx->progress (ctx, step, (double)step / 10)) {
                char line[64];
                snprintf (line, sizeof line, "pruned at step %lld", (long long)step);
                ctx->log (ctx, line);
                return 0;
            }
        }
        return 0;
    }
    /* complete, badpredict, unstable */
    ctx->log (ctx, "training started");
    const char *const plot_metrics[] = {"loss"};
    ctx->define_plot (ctx, "Loss", 1, plot_metrics, "step");
    for (int64_t step = 1; step <= m->steps; step++) {
        const char *const names[] = {"step", "loss"};
        const double values[] = {(double)step, 1.0 / (double)step};
        ctx->log_metrics (ctx, 2, names, values);
    }
    ctx->log (ctx, "training done");
    return 0;
}

static int
s_evaluate (void *model, const char *dataset_path, double *score, char *err, size_t errlen)
{
    model_t *m = model;
    if (access (dataset_path, R_OK) != 0) {
        snprintf (err, errlen, "cannot read %s", dataset_path);
        return -1;
    }
    *score = m->alpha;
    return 0;
}

static int
s_predict (void *model, const msgpack_object *queries, msgpack_packer *out, char *err,
           size_t errlen)
{
    model_t *m = model;
    if (queries->type != MSGPACK_OBJECT_ARRAY) {
        snprintf (err, errlen, "queries must be an array");
        return -1;
    }
    msgpack_pack_array (out, queries->via.array.size);
    for (uint32_t i = 0; i < queries->via.array.size; i++) {
        if (queries->via.array.ptr[i].type != MSGPACK_OBJECT_MAP) {
            rafiki_pack_query_error (out, "a query must be a map of features");
            continue;
        }
        msgpack_pack_array (out, 2);
        msgpack_pack_double (out, m->alpha);
        msgpack_pack_double (out, s_is (m, "badpredict") ? m->alpha : 1 - m->alpha);
    }
    return 0;
}

static int
s_dump_params (void *model, msgpack_packer *out, char *err, size_t errlen)
{
    model_t *m = model;
    (void)err;
    (void)errlen;
    msgpack_pack_map (out, 1);
    msgpack_pack_str (out, 5);
    msgpack_pack_str_body (out, "alpha", 5);
    msgpack_pack_double (out, m->alpha);
    return 0;
}

static int
s_load_params (void *model, const msgpack_object *params, char *err, size_t errlen)
{
    model_t *m = model;
    if (params->type != MSGPACK_OBJECT_MAP || params->via.map.size != 1 ||
        params->via.map.ptr[0].val.type != MSGPACK_OBJECT_FLOAT64) {
        snprintf (err, errlen, "parameters are not {alpha: number}");
        return -1;
    }
    m->alpha = params->via.map.ptr[0].val.via.f64;
    if (s_is (m, "unstable"))
        m->alpha = 1 - m->alpha;
    return 0;
}

static void
s_destroy (void *model)
{
    free (model);
}

static const rafiki_model_api_t s_api = {
    .abi_version = RAFIKI_MODEL_ABI_VERSION,
    .name = "Misbehaving",
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

const rafiki_model_api_t *
rafiki_model (void);

const rafiki_model_api_t *
rafiki_model (void)
{
    return &s_api;
}
