/*  models/mlp/mlp.c: a multilayer perceptron for IMAGE_CLASSIFICATION.

    rafiki-mlp.so (MlpImageClassifier): pixels flattened and scaled to
    [0, 1], hidden_layers fully connected ReLU layers of hidden_units each,
    a softmax output, cross-entropy loss, trained with Adam on minibatches.
    The matrix products are OpenBLAS's cblas_sgemm (FANN, with no BLAS and
    one example at a time, was about four times slower per epoch on
    Fashion-MNIST on this machine; see README.md).

    Each epoch it scores a held-out slice of the training set (the last
    10%, at most 5000 images), logs {epoch, loss, train_accuracy,
    val_accuracy}, and, when the EARLY_STOP policy is on, reports the
    validation accuracy through ctx->progress and stops when the trial is
    pruned. With QUICK_EVAL on, that per-epoch score is taken on the first
    RFK_ZOO_QUICK_ROWS (1000; train arg quick_eval_rows) held-out images only; evaluate () always
   scores the whole validation set. Training is deterministic: a fixed seed for the initial weights
   and the shuffles.

    SHARE_PARAMS: given shared parameters (another trial's dump) with the
    same image size, classes and layer sizes, training starts from their
    weights instead of random ones (Adam's moments start at zero); with any
    other shape it starts fresh and logs why.

    Parameters: a map {template, version, schema, sizes (int32s: input,
    hidden..., classes), layers: [{W, b} as float bins]}.
*/
#include "zoo.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define S_NAME "MlpImageClassifier"
#define S_TASK RAFIKI_TASK_IMAGE_CLASSIFICATION
#define S_PARAMS_VERSION 1
#define S_MAX_LAYERS 8
#define S_SEED 42

static const rafiki_knob_t s_knobs[] = {
    {.name = "hidden_units",
     .type = RAFIKI_KNOB_INTEGER,
     .min = 16,
     .max = 1024,
     .log_scale = true},
    {.name = "hidden_layers", .type = RAFIKI_KNOB_INTEGER, .min = 1, .max = 3},
    {.name = "learning_rate",
     .type = RAFIKI_KNOB_FLOAT,
     .min = 1e-5,
     .max = 1e-1,
     .log_scale = true},
    {.name = "epochs", .type = RAFIKI_KNOB_INTEGER, .min = 1, .max = 50},
    {.name = "batch_size", .type = RAFIKI_KNOB_INTEGER, .min = 16, .max = 512},
    {.name = "early_stop", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_EARLY_STOP},
    {.name = "share_params", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_SHARE_PARAMS},
    {.name = "quick_eval", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_QUICK_EVAL},
};

typedef struct {
    int64_t hidden_units;           /* knob: units per hidden layer */
    int64_t hidden_layers;          /* knob: hidden layers */
    double learning_rate;           /* knob: Adam's step size */
    int64_t epochs;                 /* knob: passes over the training set */
    int64_t batch_size;             /* knob: images per step */
    bool early_stop;                /* policy: report progress, may be pruned */
    bool quick_eval;                /* policy: per-epoch scores on fewer images */
    size_t quick_rows;              /* QUICK_EVAL: held-out images scored per epoch */
    size_t n_layers;                /* weight layers (hidden_layers + 1); 0: untrained */
    size_t sizes[S_MAX_LAYERS + 1]; /* units of each layer, input first */
    float *W[S_MAX_LAYERS];         /* W[l]: sizes[l] x sizes[l+1], row-major */
    float *b[S_MAX_LAYERS];         /* b[l]: sizes[l+1] */
    rfk_zoo_schema_t *schema;       /* the images' size and classes */
} s_model_t;

/* Activations of one forward pass over a batch of up to `rows` rows. */
typedef struct {
    size_t rows;
    float *A[S_MAX_LAYERS + 1]; /* A[0] input, A[l] after layer l (softmax last) */
} s_pass_t;

static void *
s_create (const rafiki_knobs_t *knobs, char *err, size_t errlen)
{
    s_model_t *self = rfk_zoo_new (sizeof *self, err, errlen);
    if (!self)
        return NULL;
    self->hidden_units = rafiki_knobs_int (knobs, "hidden_units", 256);
    self->hidden_layers = rafiki_knobs_int (knobs, "hidden_layers", 1);
    self->learning_rate = rafiki_knobs_float (knobs, "learning_rate", 1e-3);
    self->epochs = rafiki_knobs_int (knobs, "epochs", 10);
    self->batch_size = rafiki_knobs_int (knobs, "batch_size", 64);
    self->early_stop = rafiki_knobs_bool (knobs, "early_stop", false);
    self->quick_eval = rafiki_knobs_bool (knobs, "quick_eval", false);
    if (self->hidden_units < 1 || self->hidden_units > 65536 || self->hidden_layers < 1 ||
        self->hidden_layers > S_MAX_LAYERS - 1 || !(self->learning_rate > 0) || self->epochs < 1 ||
        self->epochs > 10000 || self->batch_size < 1 || self->batch_size > 65536) {
        rfk_zoo_err (err, errlen,
                     "%s: bad knobs (hidden_units %" PRId64 ", hidden_layers %" PRId64
                     ", learning_rate %g, epochs %" PRId64 ", batch_size %" PRId64 ")",
                     S_NAME, self->hidden_units, self->hidden_layers, self->learning_rate,
                     self->epochs, self->batch_size);
        free (self);
        return NULL;
    }
    return self;
}

static void
s_free_weights (s_model_t *self)
{
    for (size_t l = 0; l < S_MAX_LAYERS; l++) {
        free (self->W[l]);
        free (self->b[l]);
        self->W[l] = self->b[l] = NULL;
    }
    self->n_layers = 0;
}

static void
s_destroy (void *model)
{
    s_model_t *self = model;
    if (!self)
        return;
    s_free_weights (self);
    rfk_zoo_schema_destroy (&self->schema);
    free (self);
}

/* Allocates zeroed weights for the layer sizes in self->sizes. */
static int
s_alloc_weights (s_model_t *self, size_t n_layers)
{
    s_free_weights (self);
    self->n_layers = n_layers;
    for (size_t l = 0; l < n_layers; l++) {
        self->W[l] = calloc (self->sizes[l] * self->sizes[l + 1], sizeof (float));
        self->b[l] = calloc (self->sizes[l + 1], sizeof (float));
        if (!self->W[l] || !self->b[l]) {
            s_free_weights (self);
            return -1;
        }
    }
    return 0;
}

static void
s_pass_free (s_pass_t *pass)
{
    for (size_t l = 0; l <= S_MAX_LAYERS; l++) {
        free (pass->A[l]);
        pass->A[l] = NULL;
    }
}

static int
s_pass_alloc (const s_model_t *self, s_pass_t *pass, size_t rows)
{
    memset (pass, 0, sizeof *pass);
    pass->rows = rows;
    for (size_t l = 0; l <= self->n_layers; l++)
        if (!(pass->A[l] = malloc (rows * self->sizes[l] * sizeof (float)))) {
            s_pass_free (pass);
            return -1;
        }
    return 0;
}

/* Forward pass over the first `rows` rows of pass->A[0]; the last layer ends
   as softmax probabilities. */
static void
s_forward (const s_model_t *self, s_pass_t *pass, size_t rows)
{
    for (size_t l = 0; l < self->n_layers; l++) {
        size_t in = self->sizes[l], out = self->sizes[l + 1];
        float *Z = pass->A[l + 1];
        for (size_t i = 0; i < rows; i++)
            memcpy (Z + i * out, self->b[l], out * sizeof (float));
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)out, (int)in, 1.0f,
                     pass->A[l], (int)in, self->W[l], (int)out, 1.0f, Z, (int)out);
        if (l + 1 < self->n_layers) {
            for (size_t i = 0; i < rows * out; i++)
                Z[i] = Z[i] > 0 ? Z[i] : 0;
        } else {
            for (size_t i = 0; i < rows; i++) {
                float *z = Z + i * out, max = z[0], sum = 0;
                for (size_t j = 1; j < out; j++)
                    max = z[j] > max ? z[j] : max;
                for (size_t j = 0; j < out; j++)
                    sum += (z[j] = expf (z[j] - max));
                for (size_t j = 0; j < out; j++)
                    z[j] /= sum;
            }
        }
    }
}

/* Copies image `index` of data, scaled to [0, 1], into dst. */
static void
s_image_row (const rfk_zoo_data_t *data, size_t index, float *dst)
{
    size_t d = data->schema->n_features;
    const uint8_t *px = data->images->pixels + index * d;
    for (size_t j = 0; j < d; j++)
        dst[j] = px[j] * (1.0f / 255.0f);
}

/* Accuracy on rows [from, to) of data. */
static double
s_accuracy (const s_model_t *self, const rfk_zoo_data_t *data, size_t from, size_t to,
            s_pass_t *pass)
{
    size_t right = 0, d = self->sizes[0], k = self->sizes[self->n_layers];
    for (size_t start = from; start < to; start += pass->rows) {
        size_t rows = to - start < pass->rows ? to - start : pass->rows;
        for (size_t i = 0; i < rows; i++)
            s_image_row (data, start + i, pass->A[0] + i * d);
        s_forward (self, pass, rows);
        for (size_t i = 0; i < rows; i++) {
            const float *p = pass->A[self->n_layers] + i * k;
            size_t best = 0;
            for (size_t j = 1; j < k; j++)
                best = p[j] > p[best] ? j : best;
            right += (int32_t)best == data->images->labels[start + i];
        }
    }
    return to > from ? (double)right / (double)(to - from) : 0;
}

/* One standard normal deviate (Box-Muller). */
static double
s_gauss (uint64_t *rng)
{
    double u = rfk_zoo_rand_unit (rng), v = rfk_zoo_rand_unit (rng);
    return sqrt (-2 * log (u + 1e-300)) * cos (2 * M_PI * v);
}

/* What training keeps besides the weights: gradients, Adam's moments and
   the back-propagated deltas of one batch. */
typedef struct {
    size_t batch;                /* images per step */
    float *grad_W[S_MAX_LAYERS]; /* gradient of W[l] */
    float *grad_b[S_MAX_LAYERS]; /* gradient of b[l] */
    float *m_W[S_MAX_LAYERS];    /* Adam's first moment of W[l] */
    float *v_W[S_MAX_LAYERS];    /* Adam's second moment of W[l] */
    float *m_b[S_MAX_LAYERS];    /* Adam's first moment of b[l] */
    float *v_b[S_MAX_LAYERS];    /* Adam's second moment of b[l] */
    float *delta, *delta_prev;   /* batch x widest layer: deltas of a layer and the one below */
    float beta1_t, beta2_t;      /* beta1^t and beta2^t after t steps */
    s_pass_t pass;               /* activations of the batch */
} s_trainer_t;

static void
s_trainer_free (s_trainer_t *t)
{
    for (size_t l = 0; l < S_MAX_LAYERS; l++) {
        free (t->grad_W[l]);
        free (t->grad_b[l]);
        free (t->m_W[l]);
        free (t->v_W[l]);
        free (t->m_b[l]);
        free (t->v_b[l]);
    }
    free (t->delta);
    free (t->delta_prev);
    s_pass_free (&t->pass);
    memset (t, 0, sizeof *t);
}

/* Allocates the trainer for the model's layers and batches of `batch`. */
static int
s_trainer_alloc (const s_model_t *self, s_trainer_t *t, size_t batch)
{
    memset (t, 0, sizeof *t);
    t->batch = batch;
    t->beta1_t = t->beta2_t = 1;
    size_t widest = self->sizes[0];
    for (size_t l = 0; l < self->n_layers; l++) {
        size_t in = self->sizes[l], out = self->sizes[l + 1];
        widest = out > widest ? out : widest;
        t->grad_W[l] = malloc (in * out * sizeof (float));
        t->grad_b[l] = malloc (out * sizeof (float));
        t->m_W[l] = calloc (in * out, sizeof (float));
        t->v_W[l] = calloc (in * out, sizeof (float));
        t->m_b[l] = calloc (out, sizeof (float));
        t->v_b[l] = calloc (out, sizeof (float));
        if (!t->grad_W[l] || !t->grad_b[l] || !t->m_W[l] || !t->v_W[l] || !t->m_b[l] || !t->v_b[l])
            goto fail;
    }
    t->delta = malloc (batch * widest * sizeof (float));
    t->delta_prev = malloc (batch * widest * sizeof (float));
    if (!t->delta || !t->delta_prev || s_pass_alloc (self, &t->pass, batch) != 0)
        goto fail;
    return 0;
fail:
    s_trainer_free (t);
    return -1;
}

/* He initialisation (for ReLU) of every weight. */
static void
s_init_weights (s_model_t *self, uint64_t *rng)
{
    for (size_t l = 0; l < self->n_layers; l++) {
        size_t in = self->sizes[l], out = self->sizes[l + 1];
        double scale = sqrt (2.0 / (double)in);
        for (size_t i = 0; i < in * out; i++)
            self->W[l][i] = (float)(s_gauss (rng) * scale);
    }
}

/* The output delta of the batch just forwarded, (softmax - one hot) /
   batch, into t->delta; adds its loss and right answers to the sums. */
static void
s_output_delta (const s_model_t *self, s_trainer_t *t, const int32_t *labels, const size_t *rows,
                double *loss_sum, size_t *right)
{
    size_t k = self->sizes[self->n_layers], batch = t->batch;
    const float *P = t->pass.A[self->n_layers];
    for (size_t i = 0; i < batch; i++) {
        int32_t y = labels[rows[i]];
        const float *p = P + i * k;
        size_t best = 0;
        for (size_t j = 0; j < k; j++) {
            t->delta[i * k + j] = (p[j] - ((int32_t)j == y)) / (float)batch;
            best = p[j] > p[best] ? j : best;
        }
        *loss_sum += -log ((double)p[y] + 1e-12);
        *right += (int32_t)best == y;
    }
}

/* Back-propagates t->delta: the gradients of every layer, last first. */
static void
s_backward (const s_model_t *self, s_trainer_t *t)
{
    int batch = (int)t->batch;
    for (size_t l = self->n_layers; l-- > 0;) {
        size_t in = self->sizes[l], out = self->sizes[l + 1];
        cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, (int)in, (int)out, batch, 1.0f,
                     t->pass.A[l], (int)in, t->delta, (int)out, 0.0f, t->grad_W[l], (int)out);
        memset (t->grad_b[l], 0, out * sizeof (float));
        for (size_t i = 0; i < t->batch; i++)
            for (size_t j = 0; j < out; j++)
                t->grad_b[l][j] += t->delta[i * out + j];
        if (l == 0)
            break;
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, batch, (int)in, (int)out, 1.0f,
                     t->delta, (int)out, self->W[l], (int)out, 0.0f, t->delta_prev, (int)in);
        const float *A = t->pass.A[l];
        for (size_t i = 0; i < t->batch * in; i++)
            t->delta_prev[i] = A[i] > 0 ? t->delta_prev[i] : 0;
        float *swap = t->delta;
        t->delta = t->delta_prev;
        t->delta_prev = swap;
    }
}

/* One Adam step of every weight along the gradients. */
static void
s_adam_step (s_model_t *self, s_trainer_t *t)
{
    const float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, lr = (float)self->learning_rate;
    t->beta1_t *= beta1;
    t->beta2_t *= beta2;
    float step = lr * sqrtf (1 - t->beta2_t) / (1 - t->beta1_t);
    for (size_t l = 0; l < self->n_layers; l++) {
        size_t in = self->sizes[l], out = self->sizes[l + 1];
        struct {
            float *w, *g, *m, *v;
            size_t n;
        } groups[] = {{self->W[l], t->grad_W[l], t->m_W[l], t->v_W[l], in * out},
                      {self->b[l], t->grad_b[l], t->m_b[l], t->v_b[l], out}};
        for (size_t g = 0; g < 2; g++)
            for (size_t i = 0; i < groups[g].n; i++) {
                float gi = groups[g].g[i];
                float mi = groups[g].m[i] = beta1 * groups[g].m[i] + (1 - beta1) * gi;
                float vi = groups[g].v[i] = beta2 * groups[g].v[i] + (1 - beta2) * gi * gi;
                groups[g].w[i] -= step * mi / (sqrtf (vi) + eps);
            }
    }
}

/* What one epoch gave. */
typedef struct {
    size_t steps;    /* batches trained on */
    double loss_sum; /* summed cross-entropy of their images */
    size_t right;    /* their images classified right before the step */
    bool stopped;    /* the platform asked the trial to stop */
} s_epoch_t;

/* One pass over the training images in order[0 .. n_train). */
static s_epoch_t
s_epoch (s_model_t *self, s_trainer_t *t, const rfk_zoo_data_t *data, const size_t *order,
         size_t n_train, rafiki_context_t *ctx)
{
    s_epoch_t e = {0};
    size_t d = self->sizes[0], batch = t->batch;
    for (size_t start = 0; start + batch <= n_train; start += batch, e.steps++) {
        if (e.steps % 64 == 0 && rfk_zoo_should_stop (ctx)) {
            e.stopped = true;
            break;
        }
        for (size_t i = 0; i < batch; i++)
            s_image_row (data, order[start + i], t->pass.A[0] + i * d);
        s_forward (self, &t->pass, batch);
        s_output_delta (self, t, data->images->labels, order + start, &e.loss_sum, &e.right);
        s_backward (self, t);
        s_adam_step (self, t);
    }
    return e;
}

/* Sets the layer sizes for a schema and allocates initial weights. */
static int
s_build_layers (s_model_t *self, const rfk_zoo_schema_t *schema, uint64_t *rng)
{
    size_t n_layers = (size_t)self->hidden_layers + 1;
    self->sizes[0] = schema->n_features;
    for (size_t l = 1; l < n_layers; l++)
        self->sizes[l] = (size_t)self->hidden_units;
    self->sizes[n_layers] = schema->n_classes < 2 ? 2 : schema->n_classes;
    if (s_alloc_weights (self, n_layers) != 0)
        return -1;
    s_init_weights (self, rng);
    return 0;
}

/* Logs an epoch's metrics; true when training should end after it (the
   loss diverged, or the trial was pruned). */
static bool
s_report_epoch (const s_model_t *self, int64_t epoch, const s_epoch_t *e, size_t batch,
                double val_accuracy, bool has_val, rafiki_context_t *ctx)
{
    static const char *names[] = {"epoch", "loss", "train_accuracy", "val_accuracy"};
    double loss = e->loss_sum / (double)(e->steps * batch);
    double train_accuracy = (double)e->right / (double)(e->steps * batch);
    if (!has_val)
        val_accuracy = train_accuracy;
    double values[] = {(double)epoch, loss, train_accuracy, val_accuracy};
    rfk_zoo_metrics (ctx, has_val ? 4 : 3, names, values);
    rfk_zoo_log (ctx, "epoch %" PRId64 ": loss %.4f, train accuracy %.4f, val accuracy %.4f", epoch,
                 loss, train_accuracy, val_accuracy);
    if (!isfinite (loss)) {
        rfk_zoo_log (ctx, "%s: the loss diverged; stopping", S_NAME);
        return true;
    }
    if (self->early_stop && rfk_zoo_progress (ctx, epoch, val_accuracy)) {
        rfk_zoo_log (ctx, "%s: pruned after epoch %" PRId64, S_NAME, epoch);
        return true;
    }
    return false;
}

/* ---- parameters: reading a dump, sharing it ---------------------------- */

/* Reads parameters packed by s_dump into tmp's sizes and weights (yours to
   free with s_free_weights) and *schema_out (yours). -1 with a message. */
static int
s_params_read (const msgpack_object *params, s_model_t *tmp, rfk_zoo_schema_t **schema_out,
               char *err, size_t errlen)
{
    rfk_zoo_schema_t *schema =
        rfk_zoo_params_open (params, S_NAME, S_PARAMS_VERSION, false, err, errlen);
    if (!schema)
        return -1;
    const msgpack_object *layers = rfk_zoo_map_get (params, "layers");
    const char *ptr;
    size_t len;
    memset (tmp, 0, sizeof *tmp);
    if (!schema->images || schema->n_classes == 0) {
        rfk_zoo_err (err, errlen, "%s: parameters are not an image classifier's", S_NAME);
        goto fail;
    }
    if (rfk_zoo_get_bin (params, "sizes", &ptr, &len, err, errlen) != 0)
        goto fail;
    size_t n_layers = len / sizeof (int32_t) - 1;
    if (len % sizeof (int32_t) || len < 2 * sizeof (int32_t) || n_layers > S_MAX_LAYERS ||
        !layers || layers->type != MSGPACK_OBJECT_ARRAY || layers->via.array.size != n_layers) {
        rfk_zoo_err (err, errlen, "%s: parameters: malformed layer sizes", S_NAME);
        goto fail;
    }
    for (size_t l = 0; l <= n_layers; l++) {
        int32_t size;
        memcpy (&size, ptr + l * sizeof size, sizeof size);
        if (size < 1 || size > 1 << 24) {
            rfk_zoo_err (err, errlen, "%s: parameters: layer %zu has %d units", S_NAME, l, size);
            goto fail;
        }
        tmp->sizes[l] = (size_t)size;
    }
    size_t k = schema->n_classes < 2 ? 2 : schema->n_classes;
    if (tmp->sizes[0] != schema->n_features || tmp->sizes[n_layers] != k) {
        rfk_zoo_err (err, errlen, "%s: parameters: layer sizes do not match the schema", S_NAME);
        goto fail;
    }
    if (s_alloc_weights (tmp, n_layers) != 0) {
        rfk_zoo_err (err, errlen, "out of memory");
        goto fail;
    }
    for (size_t l = 0; l < n_layers; l++) {
        const msgpack_object *layer = &layers->via.array.ptr[l];
        if (rfk_zoo_get_floats (layer, "W", tmp->W[l], tmp->sizes[l] * tmp->sizes[l + 1], err,
                                errlen) != 0 ||
            rfk_zoo_get_floats (layer, "b", tmp->b[l], tmp->sizes[l + 1], err, errlen) != 0)
            goto fail;
    }
    *schema_out = schema;
    return 0;
fail:
    s_free_weights (tmp);
    rfk_zoo_schema_destroy (&schema);
    return -1;
}

/* Makes tmp's weights the model's, freeing what it had; tmp is emptied. */
static void
s_adopt_weights (s_model_t *self, s_model_t *tmp)
{
    s_free_weights (self);
    memcpy (self->sizes, tmp->sizes, sizeof self->sizes);
    memcpy (self->W, tmp->W, sizeof self->W);
    memcpy (self->b, tmp->b, sizeof self->b);
    self->n_layers = tmp->n_layers;
    memset (tmp, 0, sizeof *tmp);
}

/* The layer sizes as "784-128-10" into buf. */
static const char *
s_sizes_text (const size_t *sizes, size_t n_layers, char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t l = 0, len = 0; l <= n_layers && len < size; l++, len = strlen (buf))
        snprintf (buf + len, size - len, "%s%zu", l ? "-" : "", sizes[l]);
    return buf;
}

/* SHARE_PARAMS: the model's fresh weights (layers built for schema) are
   replaced by the shared ones when those have the same image size, classes
   and layer sizes; otherwise training starts fresh, and the log says why. */
static void
s_warm_start (s_model_t *self, const msgpack_object *shared, const rfk_zoo_schema_t *schema,
              rafiki_context_t *ctx)
{
    s_model_t tmp = {0};
    rfk_zoo_schema_t *theirs = NULL;
    char why[256], mine[128], their_sizes[128];
    s_sizes_text (self->sizes, self->n_layers, mine, sizeof mine);
    if (s_params_read (shared, &tmp, &theirs, why, sizeof why) != 0) {
        rfk_zoo_log (ctx, "%s: starting fresh: the shared parameters cannot be read (%s)", S_NAME,
                     why);
        return;
    }
    s_sizes_text (tmp.sizes, tmp.n_layers, their_sizes, sizeof their_sizes);
    bool same = tmp.n_layers == self->n_layers && theirs->width == schema->width &&
                theirs->height == schema->height && theirs->channels == schema->channels &&
                theirs->n_classes == schema->n_classes;
    for (size_t l = 0; same && l <= self->n_layers; l++)
        same = tmp.sizes[l] == self->sizes[l];
    if (same) {
        s_adopt_weights (self, &tmp);
        rfk_zoo_log (ctx, "%s: warm start from the shared parameters (layers %s)", S_NAME, mine);
    } else
        rfk_zoo_log (ctx,
                     "%s: starting fresh: the shared parameters have layers %s (%ux%u images), "
                     "this trial's are %s (%ux%u)",
                     S_NAME, their_sizes, theirs->width, theirs->height, mine, schema->width,
                     schema->height);
    s_free_weights (&tmp);
    rfk_zoo_schema_destroy (&theirs);
}

/* Trains for the knobs' epochs on the first n_train images, scoring the
   rest after each epoch. */
static void
s_fit (s_model_t *self, s_trainer_t *t, s_pass_t *eval, const rfk_zoo_data_t *data, size_t *order,
       size_t n_train, uint64_t *rng, rafiki_context_t *ctx)
{
    size_t n = data->n, n_val = n - n_train;
    /* QUICK_EVAL: the scores ASHA compares come from a subset. */
    size_t val_end = self->quick_eval && n_val > self->quick_rows ? n_train + self->quick_rows : n;
    static const char *names[] = {"epoch", "loss", "train_accuracy", "val_accuracy"};
    rfk_zoo_plot (ctx, "Loss", 1, &names[1], "epoch");
    rfk_zoo_plot (ctx, "Accuracy", n_val ? 2 : 1, &names[2], "epoch");
    for (int64_t epoch = 1; epoch <= self->epochs; epoch++) {
        rfk_zoo_shuffle (order, n_train, rng);
        s_epoch_t e = s_epoch (self, t, data, order, n_train, ctx);
        if (e.steps == 0)
            break;
        /* An epoch cut short by a stop request is still reported. */
        double val_accuracy = n_val ? s_accuracy (self, data, n_train, val_end, eval) : 0;
        if (s_report_epoch (self, epoch, &e, t->batch, val_accuracy, n_val > 0, ctx) || e.stopped)
            break;
    }
}

static int
s_train (void *model, const char *dataset_path, const rafiki_args_t *args,
         const msgpack_object *shared_params, rafiki_context_t *ctx, char *err, size_t errlen)
{
    s_model_t *self = model;
    rfk_zoo_data_t *data = NULL;
    s_trainer_t trainer = {0};
    s_pass_t eval = {0};
    size_t *order = NULL;
    uint64_t rng = S_SEED;

    if (rfk_zoo_data_load_train (dataset_path, S_TASK, args, 0, false, &data, err, errlen) != 0)
        return -1;
    rfk_zoo_schema_t *schema = data->schema;
    /* Hold out the last 10% (at most 5000) to score each epoch. */
    size_t n = data->n, n_val = n >= 20 ? n / 10 : 0;
    n_val = n_val > 5000 ? 5000 : n_val;
    size_t n_train = n - n_val;
    size_t batch = (size_t)self->batch_size < n_train ? (size_t)self->batch_size : n_train;
    order = malloc ((n_train + 1) * sizeof (size_t));
    if (!order || s_build_layers (self, schema, &rng) != 0 ||
        s_trainer_alloc (self, &trainer, batch) != 0 || s_pass_alloc (self, &eval, 256) != 0) {
        rfk_zoo_err (err, errlen, "out of memory");
        s_free_weights (self);
        free (order);
        s_trainer_free (&trainer);
        rfk_zoo_data_destroy (&data);
        return -1;
    }
    for (size_t i = 0; i < n_train; i++)
        order[i] = i;
    if (shared_params)
        s_warm_start (self, shared_params, schema, ctx);
    self->quick_rows = rfk_zoo_quick_rows (args);
    rfk_zoo_log (
        ctx,
        "%s: %zu training images (%zu held out), %zux%zu, %zu classes, layers %zu of %" PRId64
        " units",
        S_NAME, n_train, n_val, (size_t)schema->width, (size_t)schema->height,
        self->sizes[self->n_layers], (size_t)self->hidden_layers, self->hidden_units);
    s_fit (self, &trainer, &eval, data, order, n_train, &rng, ctx);
    rfk_zoo_schema_destroy (&self->schema);
    self->schema = schema;
    data->owns_schema = false;
    free (order);
    s_trainer_free (&trainer);
    s_pass_free (&eval);
    rfk_zoo_data_destroy (&data);
    return 0;
}

static int
s_evaluate (void *model, const char *dataset_path, double *score, char *err, size_t errlen)
{
    s_model_t *self = model;
    if (rfk_zoo_check_trained (self->n_layers > 0 && self->schema, S_NAME, err, errlen) != 0)
        return -1;
    rfk_zoo_data_t *data = NULL;
    if (rfk_zoo_data_load_like (dataset_path, self->schema, 0, &data, err, errlen) != 0)
        return -1;
    s_pass_t pass;
    int rc = -1;
    if (data->n == 0)
        rfk_zoo_err (err, errlen, "%s: no images to evaluate on", dataset_path);
    else if (s_pass_alloc (self, &pass, 256) != 0)
        rfk_zoo_err (err, errlen, "out of memory");
    else {
        *score = s_accuracy (self, data, 0, data->n, &pass);
        s_pass_free (&pass);
        rc = 0;
    }
    rfk_zoo_data_destroy (&data);
    return rc;
}

static int
s_predict (void *model, const msgpack_object *queries, msgpack_packer *out, char *err,
           size_t errlen)
{
    s_model_t *self = model;
    if (rfk_zoo_check_trained (self->n_layers > 0 && self->schema, S_NAME, err, errlen) != 0 ||
        rfk_zoo_check_batch (queries, err, errlen))
        return -1;
    size_t n = queries->via.array.size, d = self->sizes[0], k = self->sizes[self->n_layers];
    size_t classes = self->schema->n_classes;
    double *row = malloc ((d + 1) * sizeof (double));
    double *probs = malloc ((k + 1) * sizeof (double));
    char (*errors)[256] = calloc (n + 1, sizeof *errors);
    s_pass_t pass = {0};
    int rc = -1;
    if (!row || !probs || !errors || s_pass_alloc (self, &pass, n ? n : 1) != 0) {
        rfk_zoo_err (err, errlen, "out of memory");
        goto done;
    }
    /* The good queries go through the network as one batch, in order. */
    size_t good = 0;
    for (size_t i = 0; i < n; i++) {
        if (rfk_zoo_schema_query (self->schema, &queries->via.array.ptr[i], row, errors[i],
                                  sizeof errors[i]) != 0) {
            if (!errors[i][0])
                snprintf (errors[i], sizeof errors[i], "invalid query");
            continue;
        }
        errors[i][0] = '\0';
        for (size_t j = 0; j < d; j++)
            pass.A[0][good * d + j] = (float)row[j];
        good++;
    }
    if (good)
        s_forward (self, &pass, good);
    if (msgpack_pack_array (out, n) != 0)
        goto pack_fail;
    for (size_t i = 0, g = 0; i < n; i++) {
        if (errors[i][0]) {
            if (rafiki_pack_query_error (out, errors[i]) != 0)
                goto pack_fail;
            continue;
        }
        for (size_t j = 0; j < k; j++)
            probs[j] = pass.A[self->n_layers][g * k + j];
        g++;
        if (rfk_zoo_pack_probs (out, probs, classes) != 0)
            goto pack_fail;
    }
    rc = 0;
    goto done;
pack_fail:
    rfk_zoo_err (err, errlen, "packing predictions failed");
done:
    free (row);
    free (probs);
    free (errors);
    s_pass_free (&pass);
    return rc;
}

static int
s_dump (void *model, msgpack_packer *out, char *err, size_t errlen)
{
    s_model_t *self = model;
    if (rfk_zoo_check_trained (self->n_layers > 0 && self->schema, S_NAME, err, errlen) != 0)
        return -1;
    int32_t sizes[S_MAX_LAYERS + 1];
    for (size_t l = 0; l <= self->n_layers; l++)
        sizes[l] = (int32_t)self->sizes[l];
    if (rfk_zoo_params_pack_head (out, 5, S_NAME, S_PARAMS_VERSION, self->schema) != 0 ||
        rfk_zoo_pack_key_int32s (out, "sizes", sizes, self->n_layers + 1) != 0 ||
        rfk_zoo_pack_str (out, "layers") != 0 || msgpack_pack_array (out, self->n_layers) != 0)
        goto fail;
    for (size_t l = 0; l < self->n_layers; l++) {
        size_t in = self->sizes[l], o = self->sizes[l + 1];
        if (msgpack_pack_map (out, 2) != 0 ||
            rfk_zoo_pack_key_floats (out, "W", self->W[l], in * o) != 0 ||
            rfk_zoo_pack_key_floats (out, "b", self->b[l], o) != 0)
            goto fail;
    }
    return 0;
fail:
    return rfk_zoo_pack_failed (err, errlen);
}

static int
s_load (void *model, const msgpack_object *params, char *err, size_t errlen)
{
    s_model_t *self = model;
    s_model_t tmp = {0};
    rfk_zoo_schema_t *schema = NULL;
    if (s_params_read (params, &tmp, &schema, err, errlen) != 0)
        return -1;
    s_adopt_weights (self, &tmp);
    rfk_zoo_schema_destroy (&self->schema);
    self->schema = schema;
    return 0;
}

RFK_ZOO_TEMPLATE (S_NAME, S_TASK)
