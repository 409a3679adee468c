/*  rafiki/model.h: the model template ABI.

    A model template is a shared object that exports one function,

        const rafiki_model_api_t *rafiki_model (void);

    which returns a table describing the model (name, task, knobs) and the
    functions the platform calls: create a model from knob values, train it on
    a dataset, evaluate it, predict batches of queries, dump and load its
    parameters, destroy it. The platform (a trainer, an inference worker,
    `rafiki model test`, admin's upload check) dlopens the template, calls
    rafiki_model () and refuses the template when abi_version differs from
    RAFIKI_MODEL_ABI_VERSION.

    Queries, predictions and parameters are msgpack. A query arrives as a
    msgpack_object; the template packs its answers with a msgpack_packer:
    - IMAGE_CLASSIFICATION: query is an image, an array of rows of pixel values
      (0-255; a row of numbers for grey, of [r,g,b] arrays for colour);
      prediction is an array of class probabilities indexed by class.
    - TABULAR_CLASSIFICATION: query is a map feature name -> number;
      prediction is an array of class probabilities indexed by class.
    - TABULAR_REGRESSION: query as above; prediction is a number.
    - POS_TAGGING: query is an array of token strings; prediction is an array
      of tag strings, one per token.

    Every function returns 0 on success and -1 on failure, after writing a
    message for the user into err (at most errlen bytes, NUL-terminated).
*/
#ifndef RAFIKI_MODEL_H_INCLUDED
#define RAFIKI_MODEL_H_INCLUDED

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on every incompatible change of this header. */
#define RAFIKI_MODEL_ABI_VERSION 1

/* The name of the symbol every template exports. */
#define RAFIKI_MODEL_SYMBOL "rafiki_model"

/* Tasks, spelt as in the original Rafiki and the REST API. */
#define RAFIKI_TASK_IMAGE_CLASSIFICATION "IMAGE_CLASSIFICATION"
#define RAFIKI_TASK_TABULAR_CLASSIFICATION "TABULAR_CLASSIFICATION"
#define RAFIKI_TASK_TABULAR_REGRESSION "TABULAR_REGRESSION"
#define RAFIKI_TASK_POS_TAGGING "POS_TAGGING"

/* The msgpack ext type that marks a per-query error inside a batch of
   predictions (see rafiki_pack_query_error). */
#define RAFIKI_MSGPACK_EXT_ERROR 1

typedef enum {
    RAFIKI_KNOB_FIXED,       /* one value, never tuned */
    RAFIKI_KNOB_CATEGORICAL, /* one of values[0 .. n_values-1] */
    RAFIKI_KNOB_INTEGER,     /* an integer in [min, max], log scale if log_scale */
    RAFIKI_KNOB_FLOAT,       /* a real in [min, max], log scale if log_scale */
    RAFIKI_KNOB_POLICY       /* a boolean the advisor switches on per trial */
} rafiki_knob_type_t;

/* The policies a template can declare with a POLICY knob. The advisor
   decides, per trial, whether the policy is on. */
typedef enum {
    RAFIKI_POLICY_NONE = 0,
    RAFIKI_POLICY_EARLY_STOP,   /* report progress; the trial may be pruned */
    RAFIKI_POLICY_SHARE_PARAMS, /* train may start from shared parameters */
    RAFIKI_POLICY_SKIP_TRAIN,   /* skip training (e.g. reuse shared params) */
    RAFIKI_POLICY_QUICK_EVAL,   /* evaluate on a subset, for speed */
    RAFIKI_POLICY_DOWNSCALE     /* train a smaller version of the model */
} rafiki_policy_t;

typedef enum {
    RAFIKI_VALUE_INT,
    RAFIKI_VALUE_FLOAT,
    RAFIKI_VALUE_STRING,
    RAFIKI_VALUE_BOOL
} rafiki_value_type_t;

/* A knob value. Strings are borrowed from whoever made the value. */
typedef struct {
    rafiki_value_type_t type;
    union {
        int64_t i;
        double f;
        const char *s;
        bool b;
    } u;
} rafiki_value_t;

/* One row of a template's knob table. */
typedef struct {
    const char *name;
    rafiki_knob_type_t type;
    rafiki_value_t value;         /* FIXED: the value */
    const rafiki_value_t *values; /* CATEGORICAL: the choices */
    size_t n_values;              /* CATEGORICAL: how many choices */
    double min, max;              /* INTEGER, FLOAT: inclusive bounds */
    bool log_scale;               /* FLOAT (min > 0), INTEGER (min >= 1): tune on a
                                     log scale, for ranges spanning decades (sizes
                                     8 .. 1024 are tried as often below 90 as above) */
    rafiki_policy_t policy;       /* POLICY: which policy */
} rafiki_knob_t;

/* Knob values chosen for one trial: a name per value. */
typedef struct {
    const char *name;
    rafiki_value_t value;
} rafiki_knob_value_t;

typedef struct {
    const rafiki_knob_value_t *items;
    size_t n;
} rafiki_knobs_t;

/* Train arguments of a job (train_args in the API), as strings. */
typedef struct {
    const char *name;
    const char *value;
} rafiki_arg_t;

typedef struct {
    const rafiki_arg_t *items;
    size_t n;
} rafiki_args_t;

/* What the platform gives train (): a logger whose lines land in the trial's
   logs, progress reports for early stopping, and a stop check. */
typedef struct rafiki_context rafiki_context_t;
struct rafiki_context {
    void *host; /* the platform's own state; templates leave it alone */
    /* A free-text log message. */
    void (*log) (rafiki_context_t *ctx, const char *message);
    /* One point of metrics, e.g. names {"epoch","loss"} values {3, 0.41}. */
    void (*log_metrics) (rafiki_context_t *ctx, size_t n, const char *const *names,
                         const double *values);
    /* A plot of metrics against x_metric (NULL: against time), drawn by the
       web admin from the logged metrics. */
    void (*define_plot) (rafiki_context_t *ctx, const char *title, size_t n,
                         const char *const *metrics, const char *x_metric);
    /* Progress after `step` (an epoch, say) with a validation score (higher
       is better). Returns true when the advisor prunes the trial: the
       template should stop training and return 0 at once. */
    bool (*progress) (rafiki_context_t *ctx, int64_t step, double score);
    /* True when the trial must stop (pruned, job stopped, time out). */
    bool (*should_stop) (rafiki_context_t *ctx);
};

/* The table a template exports. */
typedef struct {
    uint32_t abi_version; /* RAFIKI_MODEL_ABI_VERSION when built */
    const char *name;     /* e.g. "XgbClassifier" */
    const char *task;     /* one of RAFIKI_TASK_* */
    const rafiki_knob_t *knobs;
    size_t n_knobs;

    /* A new untrained model with these knob values (every knob of the table
       has a value; policy knobs are booleans). NULL on failure. */
    void *(*create) (const rafiki_knobs_t *knobs, char *err, size_t errlen);
    /* Train on the dataset file at dataset_path. shared_params, when not
       NULL, are another trial's dumped parameters to start from (policy
       SHARE_PARAMS). */
    int (*train) (void *model, const char *dataset_path, const rafiki_args_t *args,
                  const msgpack_object *shared_params, rafiki_context_t *ctx, char *err,
                  size_t errlen);
    /* Score on the dataset at dataset_path; higher is better (accuracy for
       classification and tagging, negative RMSE for regression). */
    int (*evaluate) (void *model, const char *dataset_path, double *score, char *err,
                     size_t errlen);
    /* Predict a batch: queries is a msgpack array; pack an array with one
       prediction per query, in order. A query the model cannot answer gets
       rafiki_pack_query_error () in its place; the others are answered. */
    int (*predict) (void *model, const msgpack_object *queries, msgpack_packer *out, char *err,
                    size_t errlen);
    /* Pack the trained parameters (one msgpack object). */
    int (*dump_params) (void *model, msgpack_packer *out, char *err, size_t errlen);
    /* Load parameters packed by dump_params into a model made by create. */
    int (*load_params) (void *model, const msgpack_object *params, char *err, size_t errlen);
    /* Free the model; NULL is a no-op. */
    void (*destroy) (void *model);
} rafiki_model_api_t;

typedef const rafiki_model_api_t *(rafiki_model_fn)(void);

/* Packs a per-query error: an ext of type RAFIKI_MSGPACK_EXT_ERROR whose
   bytes are the message. */
static inline int
rafiki_pack_query_error (msgpack_packer *pk, const char *message)
{
    size_t len = strlen (message);
    if (msgpack_pack_ext (pk, len, RAFIKI_MSGPACK_EXT_ERROR) != 0)
        return -1;
    return msgpack_pack_ext_body (pk, message, len);
}

/* The value of knob `name`, or NULL when the trial has no such knob. */
static inline const rafiki_value_t *
rafiki_knobs_find (const rafiki_knobs_t *knobs, const char *name)
{
    for (size_t i = 0; knobs && i < knobs->n; i++)
        if (strcmp (knobs->items[i].name, name) == 0)
            return &knobs->items[i].value;
    return NULL;
}

/* Typed knob getters with a default for a missing knob. An integer knob read
   as a float and a float read as an integer are converted. */
static inline int64_t
rafiki_knobs_int (const rafiki_knobs_t *knobs, const char *name, int64_t dflt)
{
    const rafiki_value_t *v = rafiki_knobs_find (knobs, name);
    if (!v)
        return dflt;
    switch (v->type) {
        case RAFIKI_VALUE_INT:
            return v->u.i;
        case RAFIKI_VALUE_FLOAT:
            return (int64_t)v->u.f;
        case RAFIKI_VALUE_BOOL:
            return v->u.b;
        default:
            return dflt;
    }
}

static inline double
rafiki_knobs_float (const rafiki_knobs_t *knobs, const char *name, double dflt)
{
    const rafiki_value_t *v = rafiki_knobs_find (knobs, name);
    if (!v)
        return dflt;
    switch (v->type) {
        case RAFIKI_VALUE_INT:
            return (double)v->u.i;
        case RAFIKI_VALUE_FLOAT:
            return v->u.f;
        default:
            return dflt;
    }
}

static inline const char *
rafiki_knobs_string (const rafiki_knobs_t *knobs, const char *name, const char *dflt)
{
    const rafiki_value_t *v = rafiki_knobs_find (knobs, name);
    return v && v->type == RAFIKI_VALUE_STRING ? v->u.s : dflt;
}

static inline bool
rafiki_knobs_bool (const rafiki_knobs_t *knobs, const char *name, bool dflt)
{
    const rafiki_value_t *v = rafiki_knobs_find (knobs, name);
    if (!v)
        return dflt;
    if (v->type == RAFIKI_VALUE_BOOL)
        return v->u.b;
    if (v->type == RAFIKI_VALUE_INT)
        return v->u.i != 0;
    return dflt;
}

/* The value of train argument `name`, or dflt. */
static inline const char *
rafiki_args_get (const rafiki_args_t *args, const char *name, const char *dflt)
{
    for (size_t i = 0; args && i < args->n; i++)
        if (strcmp (args->items[i].name, name) == 0)
            return args->items[i].value;
    return dflt;
}

#ifdef __cplusplus
}
#endif

#endif
