/*  models/xgboost/xgb.c: gradient-boosted trees with XGBoost's C API.

    Built twice: rafiki-xgb-classifier.so (XgbClassifier,
    TABULAR_CLASSIFICATION, objective multi:softprob, predictions are
    probability vectors) and, with RFK_XGB_REGRESSION defined,
    rafiki-xgb-regressor.so (XgbRegressor, TABULAR_REGRESSION, objective
    reg:squarederror, predictions are numbers).

    Parameters: a map {template, version, schema, booster}; booster is the
    model in XGBoost's UBJSON format (XGBoosterSaveModelToBuffer), so dumps
    stay loadable by later XGBoost versions.

    Policies:
    - EARLY_STOP: the last 10% of the training rows (at most 5000) are held
      out; after every boosting round their score (accuracy, or -RMSE for
      the regressor) is reported through ctx->progress, and boosting stops
      when the trial is pruned. XGBoost keeps the held-out predictions in
      its cache, so a round's report costs one tree's predictions.
    - QUICK_EVAL: those per-round scores come from the first
      RFK_ZOO_QUICK_ROWS (1000; train arg quick_eval_rows) held-out rows
      only; evaluate () always scores the whole validation set.
    - SHARE_PARAMS: given shared parameters of the same template, features
      and classes, boosting continues from the shared booster's trees
      (n_estimators more rounds, with this trial's knobs); otherwise it
      starts fresh and logs why.
*/
#include "zoo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <xgboost/c_api.h>

#ifdef RFK_XGB_REGRESSION
#define S_NAME "XgbRegressor"
#define S_TASK RAFIKI_TASK_TABULAR_REGRESSION
#else
#define S_NAME "XgbClassifier"
#define S_TASK RAFIKI_TASK_TABULAR_CLASSIFICATION
#endif

#define S_PARAMS_VERSION 1

#ifdef RFK_XGB_REGRESSION
#define S_LOSS "rmse"
#else
#define S_LOSS "mlogloss"
#endif

static const rafiki_knob_t s_knobs[] = {
    {.name = "max_depth", .type = RAFIKI_KNOB_INTEGER, .min = 1, .max = 10},
    {.name = "eta", .type = RAFIKI_KNOB_FLOAT, .min = 0.01, .max = 1, .log_scale = true},
    {.name = "n_estimators", .type = RAFIKI_KNOB_INTEGER, .min = 1, .max = 300, .log_scale = true},
    {.name = "subsample", .type = RAFIKI_KNOB_FLOAT, .min = 0.5, .max = 1},
    {.name = "colsample_bytree", .type = RAFIKI_KNOB_FLOAT, .min = 0.3, .max = 1},
    {.name = "min_child_weight",
     .type = RAFIKI_KNOB_FLOAT,
     .min = 0.01,
     .max = 20,
     .log_scale = true},
    {.name = "early_stop", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_EARLY_STOP},
    {.name = "share_params", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_SHARE_PARAMS},
    {.name = "quick_eval", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_QUICK_EVAL},
};

typedef struct {
    int64_t max_depth;        /* knob: depth of each tree */
    double eta;               /* knob: learning rate */
    int64_t n_estimators;     /* knob: boosting rounds */
    double subsample;         /* knob: row fraction per tree */
    double colsample_bytree;  /* knob: column fraction per tree */
    double min_child_weight;  /* knob: least hessian sum in a leaf */
    bool early_stop;          /* policy: report a held-out score per round */
    bool quick_eval;          /* policy: score fewer held-out rows per round */
    BoosterHandle booster;    /* the trained booster, or NULL */
    rfk_zoo_schema_t *schema; /* features, target, classes; NULL before train */
} s_model_t;

/* Copies XGBoost's last error into err after a failed call. */
static int
s_xgb_fail (const char *what, char *err, size_t errlen)
{
    const char *msg = XGBGetLastError ();
    rfk_zoo_err (err, errlen, "xgboost: %s failed: %s", what, msg ? msg : "unknown error");
    return -1;
}

static void *
s_create (const rafiki_knobs_t *knobs, char *err, size_t errlen)
{
    s_model_t *self = rfk_zoo_new (sizeof *self, err, errlen);
    if (!self)
        return NULL;
    self->max_depth = rafiki_knobs_int (knobs, "max_depth", 6);
    self->eta = rafiki_knobs_float (knobs, "eta", 0.3);
    self->n_estimators = rafiki_knobs_int (knobs, "n_estimators", 100);
    self->subsample = rafiki_knobs_float (knobs, "subsample", 1);
    self->colsample_bytree = rafiki_knobs_float (knobs, "colsample_bytree", 1);
    self->min_child_weight = rafiki_knobs_float (knobs, "min_child_weight", 1);
    self->early_stop = rafiki_knobs_bool (knobs, "early_stop", false);
    self->quick_eval = rafiki_knobs_bool (knobs, "quick_eval", false);
    if (self->max_depth < 1 || self->max_depth > 64 || self->n_estimators < 1 ||
        self->n_estimators > 100000 || !(self->eta > 0) || !(self->subsample > 0) ||
        self->subsample > 1 || !(self->colsample_bytree > 0) || self->colsample_bytree > 1 ||
        !(self->min_child_weight >= 0)) {
        rfk_zoo_err (err, errlen,
                     "%s: a knob is out of range (max_depth %" PRId64
                     ", eta %g, n_estimators %" PRId64 ", subsample %g, "
                     "colsample_bytree %g, min_child_weight %g)",
                     S_NAME, self->max_depth, self->eta, self->n_estimators, self->subsample,
                     self->colsample_bytree, self->min_child_weight);
        free (self);
        return NULL;
    }
    return self;
}

static void
s_destroy (void *model)
{
    s_model_t *self = model;
    if (!self)
        return;
    if (self->booster)
        XGBoosterFree (self->booster);
    rfk_zoo_schema_destroy (&self->schema);
    free (self);
}

/* Rows [from, to) of the data as a float matrix for XGBoost. */
static float *
s_matrix_rows (const rfk_zoo_data_t *data, size_t from, size_t to)
{
    size_t d = data->schema->n_features;
    float *m = malloc ((to - from) * d * sizeof (float) + 1);
    double *row = malloc (d * sizeof (double) + 1);
    if (!m || !row) {
        free (m);
        free (row);
        return NULL;
    }
    for (size_t i = from; i < to; i++) {
        rfk_zoo_data_row (data, i, row);
        for (size_t j = 0; j < d; j++)
            m[(i - from) * d + j] = (float)row[j];
    }
    free (row);
    return m;
}

/* The whole data as a float matrix (n * n_features). */
static float *
s_matrix (const rfk_zoo_data_t *data)
{
    return s_matrix_rows (data, 0, data->n);
}

/* Sets the booster parameters that predictions depend on. */
static int
s_set_common_params (BoosterHandle b, const rfk_zoo_schema_t *schema, char *err, size_t errlen)
{
    if (XGBoosterSetParam (b, "nthread", "1") != 0)
        return s_xgb_fail ("setting nthread", err, errlen);
#ifdef RFK_XGB_REGRESSION
    (void)schema;
    if (XGBoosterSetParam (b, "objective", "reg:squarederror") != 0)
        return s_xgb_fail ("setting the objective", err, errlen);
#else
    char buf[32];
    snprintf (buf, sizeof buf, "%u", schema->n_classes < 2 ? 2 : schema->n_classes);
    if (XGBoosterSetParam (b, "objective", "multi:softprob") != 0 ||
        XGBoosterSetParam (b, "num_class", buf) != 0)
        return s_xgb_fail ("setting the objective", err, errlen);
#endif
    return 0;
}

/* The metrics each round is scored with: the loss, and for the classifier
   the error rate (1 - accuracy) of the held-out rows. */
static int
s_set_metrics (BoosterHandle b, char *err, size_t errlen)
{
    if (XGBoosterSetParam (b, "eval_metric", S_LOSS) != 0)
        return s_xgb_fail ("setting the metrics", err, errlen);
#ifndef RFK_XGB_REGRESSION
    if (XGBoosterSetParam (b, "eval_metric", "merror") != 0)
        return s_xgb_fail ("setting the metrics", err, errlen);
#endif
    return 0;
}

/* The value of metric `name` ("train-mlogloss") in XGBoost's evaluation
   line ("[3]\ttrain-mlogloss:0.12\ttrain-merror:0.05"), NAN without it. */
static double
s_metric (const char *line, const char *name)
{
    size_t len = strlen (name);
    for (const char *at = line ? strstr (line, name) : NULL; at; at = strstr (at + 1, name))
        if ((at == line || at[-1] == '\t') && at[len] == ':')
            return strtod (at + len + 1, NULL);
    return NAN;
}

/* Scores round iter: the training loss, and the held-out score (accuracy,
   or -RMSE) when dval is not NULL (else NAN). */
static void
s_eval_round (BoosterHandle b, DMatrixHandle dtrain, DMatrixHandle dval, int iter,
              double *train_loss, double *val_score)
{
    DMatrixHandle sets[] = {dtrain, dval};
    const char *names[] = {"train", "val"};
    const char *out = NULL;
    *train_loss = *val_score = NAN;
    if (XGBoosterEvalOneIter (b, iter, sets, names, dval ? 2 : 1, &out) != 0 || !out)
        return;
    *train_loss = s_metric (out, "train-" S_LOSS);
#ifdef RFK_XGB_REGRESSION
    *val_score = -s_metric (out, "val-rmse");
#else
    *val_score = 1 - s_metric (out, "val-merror");
#endif
}

/* Rows [from, to) of data as a matrix with their labels (targets), or NULL
   with a message. */
static DMatrixHandle
s_train_matrix (const rfk_zoo_data_t *data, size_t from, size_t to, char *err, size_t errlen)
{
    DMatrixHandle dtrain = NULL;
    float *matrix = s_matrix_rows (data, from, to);
    float *labels = malloc ((to - from) * sizeof (float) + 1);
    if (!matrix || !labels)
        rfk_zoo_err (err, errlen, "out of memory");
    else {
        for (size_t i = from; i < to; i++)
            labels[i - from] = (float)rfk_zoo_data_target (data, i);
        if (XGDMatrixCreateFromMat (matrix, to - from, data->schema->n_features, NAN, &dtrain) != 0)
            s_xgb_fail ("making the training matrix", err, errlen);
        else if (XGDMatrixSetFloatInfo (dtrain, "label", labels, to - from) != 0) {
            s_xgb_fail ("setting labels", err, errlen);
            XGDMatrixFree (dtrain);
            dtrain = NULL;
        }
    }
    free (matrix);
    free (labels);
    return dtrain;
}

/* A booster caching the n_cache matrices, continuing from the booster
   bytes shared (when not NULL), with the knobs' parameters; NULL with a
   message. */
static BoosterHandle
s_booster_new (const s_model_t *self, DMatrixHandle *cache, size_t n_cache,
               const rfk_zoo_schema_t *schema, const char *shared, size_t shared_len, char *err,
               size_t errlen)
{
    BoosterHandle b = NULL;
    if (XGBoosterCreate (cache, n_cache, &b) != 0) {
        s_xgb_fail ("creating the booster", err, errlen);
        return NULL;
    }
    if (shared && XGBoosterLoadModelFromBuffer (b, shared, shared_len) != 0) {
        s_xgb_fail ("loading the shared booster", err, errlen);
        goto fail;
    }
    if (s_set_common_params (b, schema, err, errlen) != 0 || s_set_metrics (b, err, errlen) != 0)
        goto fail;
    struct {
        const char *name;
        double value;
    } params[] = {{"max_depth", (double)self->max_depth},
                  {"eta", self->eta},
                  {"subsample", self->subsample},
                  {"colsample_bytree", self->colsample_bytree},
                  {"min_child_weight", self->min_child_weight},
                  {"seed", 0}};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        char buf[64];
        snprintf (buf, sizeof buf, "%.17g", params[i].value);
        if (XGBoosterSetParam (b, params[i].name, buf) != 0) {
            s_xgb_fail (params[i].name, err, errlen);
            goto fail;
        }
    }
    return b;
fail:
    XGBoosterFree (b);
    return NULL;
}

/* True when two schemas have the same features (names, in order), target
   and classes. */
static bool
s_same_columns (const rfk_zoo_schema_t *a, const rfk_zoo_schema_t *b)
{
    if (a->n_features != b->n_features || a->n_classes != b->n_classes || a->images != b->images ||
        !a->target != !b->target || (a->target && strcmp (a->target, b->target) != 0))
        return false;
    for (size_t j = 0; a->feature_names && b->feature_names && j < a->n_features; j++)
        if (strcmp (a->feature_names[j], b->feature_names[j]) != 0)
            return false;
    return !a->feature_names == !b->feature_names;
}

/* SHARE_PARAMS: the shared booster's bytes (borrowed from shared) when
   shared are this template's parameters for the same columns; NULL, with
   the reason logged, when training must start fresh. */
static const char *
s_shared_booster (const msgpack_object *shared, const rfk_zoo_schema_t *schema, size_t *len,
                  rafiki_context_t *ctx)
{
    char why[256];
    const char *buf = NULL;
    rfk_zoo_schema_t *theirs =
        rfk_zoo_params_open (shared, S_NAME, S_PARAMS_VERSION, false, why, sizeof why);
    if (!theirs)
        rfk_zoo_log (ctx, "%s: starting fresh: the shared parameters cannot be read (%s)", S_NAME,
                     why);
    else if (!s_same_columns (theirs, schema))
        rfk_zoo_log (ctx,
                     "%s: starting fresh: the shared parameters are for %zu features and %u "
                     "classes, not these %zu and %u",
                     S_NAME, theirs->n_features, theirs->n_classes, schema->n_features,
                     schema->n_classes);
    else if (rfk_zoo_get_bin (shared, "booster", &buf, len, why, sizeof why) != 0) {
        rfk_zoo_log (ctx, "%s: starting fresh: %s", S_NAME, why);
        buf = NULL;
    }
    rfk_zoo_schema_destroy (&theirs);
    return buf;
}

/* Runs n_estimators boosting rounds after those b already has, logging
   each round's training loss and, with dval, reporting its held-out score
   (EARLY_STOP) until the trial is pruned. */
static int
s_boost (const s_model_t *self, BoosterHandle b, DMatrixHandle dtrain, DMatrixHandle dval,
         rafiki_context_t *ctx, char *err, size_t errlen)
{
    const char *metric_names[] = {"round", "train_loss", "val_score"};
    rfk_zoo_plot (ctx, "Training loss", 1, &metric_names[1], "round");
    if (dval)
        rfk_zoo_plot (ctx, "Held-out score", 1, &metric_names[2], "round");
    int start = 0;
    if (XGBoosterBoostedRounds (b, &start) != 0)
        start = 0;
    for (int k = 0; k < self->n_estimators; k++) {
        if (rfk_zoo_should_stop (ctx)) {
            rfk_zoo_log (ctx, "%s: stopped after %d rounds", S_NAME, k);
            break;
        }
        if (XGBoosterUpdateOneIter (b, start + k, dtrain) != 0)
            return s_xgb_fail ("a boosting round", err, errlen);
        double values[3] = {k + 1};
        s_eval_round (b, dtrain, dval, start + k, &values[1], &values[2]);
        if (!isnan (values[1]))
            rfk_zoo_metrics (ctx, dval && !isnan (values[2]) ? 3 : 2, metric_names, values);
        if (self->early_stop && dval && rfk_zoo_progress (ctx, k + 1, values[2])) {
            rfk_zoo_log (ctx, "%s: pruned after %d rounds", S_NAME, k + 1);
            break;
        }
    }
    return 0;
}

/* Makes b and schema the model's, freeing what it had. */
static void
s_install (s_model_t *self, BoosterHandle b, rfk_zoo_schema_t *schema)
{
    if (self->booster)
        XGBoosterFree (self->booster);
    self->booster = b;
    rfk_zoo_schema_destroy (&self->schema);
    self->schema = schema;
}

/* The booster of a trial: continuing from the shared one when it fits
   (logged), else fresh. NULL with a message. */
static BoosterHandle
s_trial_booster (const s_model_t *self, DMatrixHandle *cache, size_t n_cache,
                 const rfk_zoo_schema_t *schema, const msgpack_object *shared_params,
                 rafiki_context_t *ctx, char *err, size_t errlen)
{
    size_t len = 0;
    const char *shared = shared_params ? s_shared_booster (shared_params, schema, &len, ctx) : NULL;
    BoosterHandle b = NULL;
    if (shared) {
        b = s_booster_new (self, cache, n_cache, schema, shared, len, err, errlen);
        int rounds = 0;
        if (b && XGBoosterBoostedRounds (b, &rounds) == 0)
            rfk_zoo_log (ctx, "%s: continuing boosting from the shared booster's %d rounds", S_NAME,
                         rounds);
        else if (!b)
            rfk_zoo_log (ctx, "%s: starting fresh: %s", S_NAME, err);
    }
    return b ? b : s_booster_new (self, cache, n_cache, schema, NULL, 0, err, errlen);
}

static int
s_train (void *model, const char *dataset_path, const rafiki_args_t *args,
         const msgpack_object *shared_params, rafiki_context_t *ctx, char *err, size_t errlen)
{
    s_model_t *self = model;
    rfk_zoo_data_t *data = NULL;
    BoosterHandle b = NULL;
    DMatrixHandle dval = NULL;
    int rc = -1;

    if (rfk_zoo_data_load_train (dataset_path, S_TASK, args, 0, false, &data, err, errlen) != 0)
        return -1;
    /* EARLY_STOP holds out the last 10% (at most 5000) to score each round. */
    size_t n = data->n, n_val = self->early_stop && n >= 20 ? n / 10 : 0;
    n_val = n_val > 5000 ? 5000 : n_val;
    size_t n_fit = n - n_val;
    size_t quick = rfk_zoo_quick_rows (args);
    size_t n_score = self->quick_eval && n_val > quick ? quick : n_val;
    DMatrixHandle dtrain = s_train_matrix (data, 0, n_fit, err, errlen);
    if (dtrain && n_val)
        dval = s_train_matrix (data, n_fit, n_fit + n_score, err, errlen);
    DMatrixHandle cache[] = {dtrain, dval};
    if (dtrain && (dval || !n_val))
        b = s_trial_booster (self, cache, dval ? 2 : 1, data->schema, shared_params, ctx, err,
                             errlen);
    if (b) {
        rfk_zoo_log (ctx,
                     "%s: %zu rows (%zu held out, %zu scored per round), %zu features, %" PRId64
                     " rounds",
                     S_NAME, n_fit, n_val, n_score, data->schema->n_features, self->n_estimators);
        rc = s_boost (self, b, dtrain, dval, ctx, err, errlen);
    }
    if (rc == 0) {
        s_install (self, b, data->schema);
        data->owns_schema = false;
    } else if (b)
        XGBoosterFree (b);
    if (dtrain)
        XGDMatrixFree (dtrain);
    if (dval)
        XGDMatrixFree (dval);
    rfk_zoo_data_destroy (&data);
    return rc;
}

/* Predicts n rows of the matrix; out gets n * width values (width: classes,
   or 1 for regression). */
static int
s_predict_rows (s_model_t *self, const float *matrix, size_t n, double *out, char *err,
                size_t errlen)
{
    DMatrixHandle dm = NULL;
    size_t d = self->schema->n_features;
    if (XGDMatrixCreateFromMat (matrix, n, d, NAN, &dm) != 0)
        return s_xgb_fail ("making the query matrix", err, errlen);
    bst_ulong len = 0;
    const float *result = NULL;
    int rc = XGBoosterPredict (self->booster, dm, 0, 0, 0, &len, &result);
    XGDMatrixFree (dm);
    if (rc != 0)
        return s_xgb_fail ("predicting", err, errlen);
#ifdef RFK_XGB_REGRESSION
    size_t width = 1;
#else
    size_t width = self->schema->n_classes < 2 ? 2 : self->schema->n_classes;
#endif
    if (len != n * width) {
        rfk_zoo_err (err, errlen, "xgboost: %llu predictions for %zu rows of %zu values",
                     (unsigned long long)len, n, width);
        return -1;
    }
    for (size_t i = 0; i < n * width; i++)
        out[i] = result[i];
    return 0;
}

static int
s_evaluate (void *model, const char *dataset_path, double *score, char *err, size_t errlen)
{
    s_model_t *self = model;
    if (rfk_zoo_check_trained (self->booster && self->schema, S_NAME, err, errlen) != 0)
        return -1;
    rfk_zoo_data_t *data = NULL;
    if (rfk_zoo_data_load_like (dataset_path, self->schema, 0, &data, err, errlen) != 0)
        return -1;
    if (data->n == 0) {
        rfk_zoo_err (err, errlen, "%s: no rows to evaluate on", dataset_path);
        rfk_zoo_data_destroy (&data);
        return -1;
    }
    size_t width = self->schema->n_classes < 2 ? 2 : self->schema->n_classes;
    float *matrix = s_matrix (data);
    double *pred = malloc (data->n * width * sizeof (double));
    int rc = -1;
    if (!matrix || !pred) {
        rfk_zoo_err (err, errlen, "out of memory");
        goto done;
    }
    if (s_predict_rows (self, matrix, data->n, pred, err, errlen) != 0)
        goto done;
#ifdef RFK_XGB_REGRESSION
    double sq = 0;
    for (size_t i = 0; i < data->n; i++) {
        double e = pred[i] - rfk_zoo_data_target (data, i);
        sq += e * e;
    }
    *score = -sqrt (sq / (double)data->n);
#else
    size_t right = 0;
    for (size_t i = 0; i < data->n; i++)
        right += (int32_t)rfk_zoo_argmax (pred + i * width, width) == rfk_zoo_data_label (data, i);
    *score = (double)right / (double)data->n;
#endif
    rc = 0;
done:
    free (matrix);
    free (pred);
    rfk_zoo_data_destroy (&data);
    return rc;
}

static int
s_predict (void *model, const msgpack_object *queries, msgpack_packer *out, char *err,
           size_t errlen)
{
    s_model_t *self = model;
    if (rfk_zoo_check_trained (self->booster && self->schema, S_NAME, err, errlen) != 0 ||
        rfk_zoo_check_batch (queries, err, errlen))
        return -1;
    size_t n = queries->via.array.size, d = self->schema->n_features;
    size_t width = self->schema->n_classes < 2 ? 2 : self->schema->n_classes;
    float *matrix = malloc (n * d * sizeof (float) + 1);
    double *row = malloc (d * sizeof (double) + 1);
    double *pred = malloc (n * width * sizeof (double) + 1);
    char (*errors)[256] = calloc (n + 1, sizeof *errors);
    bool *bad = calloc (n + 1, sizeof (bool));
    size_t good = 0;
    int rc = -1;
    if (!matrix || !row || !pred || !errors || !bad) {
        rfk_zoo_err (err, errlen, "out of memory");
        goto done;
    }
    /* Parse every query; the good ones go into one matrix, in order. */
    for (size_t i = 0; i < n; i++) {
        if (rfk_zoo_schema_query (self->schema, &queries->via.array.ptr[i], row, errors[i],
                                  sizeof errors[i]) != 0) {
            bad[i] = true;
            continue;
        }
        for (size_t j = 0; j < d; j++)
            matrix[good * d + j] = (float)row[j];
        good++;
    }
    if (good && s_predict_rows (self, matrix, good, pred, err, errlen) != 0)
        goto done;
    if (msgpack_pack_array (out, n) != 0)
        goto pack_fail;
    for (size_t i = 0, k = 0; i < n; i++) {
        if (bad[i]) {
            if (rafiki_pack_query_error (out, errors[i]) != 0)
                goto pack_fail;
            continue;
        }
#ifdef RFK_XGB_REGRESSION
        if (msgpack_pack_double (out, pred[k]) != 0)
            goto pack_fail;
#else
        if (rfk_zoo_pack_probs (out, pred + k * width, self->schema->n_classes) != 0)
            goto pack_fail;
#endif
        k++;
    }
    rc = 0;
    goto done;
pack_fail:
    rfk_zoo_err (err, errlen, "packing predictions failed");
done:
    free (matrix);
    free (row);
    free (pred);
    free (errors);
    free (bad);
    return rc;
}

static int
s_dump (void *model, msgpack_packer *out, char *err, size_t errlen)
{
    s_model_t *self = model;
    if (rfk_zoo_check_trained (self->booster && self->schema, S_NAME, err, errlen) != 0)
        return -1;
    bst_ulong len = 0;
    const char *buf = NULL;
    if (XGBoosterSaveModelToBuffer (self->booster, "{\"format\": \"ubj\"}", &len, &buf) != 0)
        return s_xgb_fail ("saving the booster", err, errlen);
    if (rfk_zoo_params_pack_head (out, 4, S_NAME, S_PARAMS_VERSION, self->schema) != 0 ||
        rfk_zoo_pack_key_bin (out, "booster", buf, len) != 0)
        return rfk_zoo_pack_failed (err, errlen);
    return 0;
}

static int
s_load (void *model, const msgpack_object *params, char *err, size_t errlen)
{
    s_model_t *self = model;
    const char *buf;
    size_t len;
#ifdef RFK_XGB_REGRESSION
    bool need_classes = false;
#else
    bool need_classes = true;
#endif
    rfk_zoo_schema_t *schema =
        rfk_zoo_params_open (params, S_NAME, S_PARAMS_VERSION, need_classes, err, errlen);
    if (!schema)
        return -1;
    BoosterHandle b = NULL;
    if (rfk_zoo_get_bin (params, "booster", &buf, &len, err, errlen) != 0)
        goto fail;
    if (XGBoosterCreate (NULL, 0, &b) != 0) {
        s_xgb_fail ("creating the booster", err, errlen);
        goto fail;
    }
    if (XGBoosterLoadModelFromBuffer (b, buf, len) != 0) {
        s_xgb_fail ("loading the booster", err, errlen);
        goto fail;
    }
    if (s_set_common_params (b, schema, err, errlen) != 0)
        goto fail;
    s_install (self, b, schema);
    return 0;
fail:
    if (b)
        XGBoosterFree (b);
    rfk_zoo_schema_destroy (&schema);
    return -1;
}

RFK_ZOO_TEMPLATE (S_NAME, S_TASK)
