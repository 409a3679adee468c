/*  models/svm/svm.c: kernel support vector machines with libsvm.

    Built twice: rafiki-svm-classifier.so (SvmClassifier,
    TABULAR_CLASSIFICATION, features standardised with the training set's
    mean and deviation) and, with RFK_ZOO_IMAGES defined,
    rafiki-svm-image-classifier.so (SvmImageClassifier,
    IMAGE_CLASSIFICATION, pixels flattened and scaled to [0, 1]).

    Knobs: kernel (rbf, poly, linear), C and gamma on log scales, degree for
    poly, and max_train, the training rows used: a kernel SVM costs between
    quadratic and cubic time in them, so it is the knob that trades accuracy
    for time. Predictions are libsvm's probability estimates (Platt scaling
    with pairwise coupling), computed with probability = 1 at train time.

    A model just trained by libsvm points into the training problem; the
    template turns it into a self-contained copy at once (the same code that
    loads dumped parameters), so what it predicts with is what it dumps.

    Parameters: a map {template, version, schema, svm_type, kernel_type,
    degree, gamma, coef0, nr_class, l, sv_coef, rho, probA, probB, label,
    nSV, sv_len, sv_index, sv_value} with the numbers as bin arrays.
*/
#include "zoo.h"

#include <libsvm/svm.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef RFK_ZOO_IMAGES
#define S_NAME "SvmImageClassifier"
#define S_TASK RAFIKI_TASK_IMAGE_CLASSIFICATION
#define S_MAX_TRAIN 3000
#else
#define S_NAME "SvmClassifier"
#define S_TASK RAFIKI_TASK_TABULAR_CLASSIFICATION
#define S_MAX_TRAIN 5000
#endif

#define S_PARAMS_VERSION 1

static const rafiki_value_t s_kernels[] = {
    {.type = RAFIKI_VALUE_STRING, .u.s = "rbf"},
    {.type = RAFIKI_VALUE_STRING, .u.s = "poly"},
    {.type = RAFIKI_VALUE_STRING, .u.s = "linear"},
};

static const rafiki_knob_t s_knobs[] = {
    {.name = "kernel", .type = RAFIKI_KNOB_CATEGORICAL, .values = s_kernels, .n_values = 3},
    {.name = "C", .type = RAFIKI_KNOB_FLOAT, .min = 1e-2, .max = 1e3, .log_scale = true},
    {.name = "gamma", .type = RAFIKI_KNOB_FLOAT, .min = 1e-4, .max = 10, .log_scale = true},
    {.name = "degree", .type = RAFIKI_KNOB_INTEGER, .min = 2, .max = 4},
    {.name = "max_train", .type = RAFIKI_KNOB_INTEGER, .min = 100, .max = 20000, .log_scale = true},
    {.name = "early_stop", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_EARLY_STOP},
    {.name = "quick_eval", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_QUICK_EVAL},
};

typedef struct {
    int kernel;               /* knob: libsvm kernel type */
    double C;                 /* knob: penalty */
    double gamma;             /* knob: kernel width (rbf, poly) */
    int degree;               /* knob: poly degree */
    int64_t max_train;        /* knob: training rows used */
    struct svm_model *svm;    /* a self-contained model, or NULL */
    double *scratch;          /* nr_class probability estimates */
    struct svm_node *x;       /* n_features + 1 nodes: one row being scored */
    bool early_stop;          /* policy: fit in stages, report held-out accuracy */
    bool quick_eval;          /* policy: report on fewer held-out rows */
    rfk_zoo_schema_t *schema; /* the data's schema; NULL before train */
} s_model_t;

static void *
s_create (const rafiki_knobs_t *knobs, char *err, size_t errlen)
{
    s_model_t *self = rfk_zoo_new (sizeof *self, err, errlen);
    if (!self)
        return NULL;
    const char *kernel = rafiki_knobs_string (knobs, "kernel", "rbf");
    self->kernel = strcmp (kernel, "rbf") == 0      ? RBF
                   : strcmp (kernel, "poly") == 0   ? POLY
                   : strcmp (kernel, "linear") == 0 ? LINEAR
                                                    : -1;
    self->C = rafiki_knobs_float (knobs, "C", 1);
    self->early_stop = rafiki_knobs_bool (knobs, "early_stop", false);
    self->quick_eval = rafiki_knobs_bool (knobs, "quick_eval", false);
    self->gamma = rafiki_knobs_float (knobs, "gamma", 0.1);
    self->degree = (int)rafiki_knobs_int (knobs, "degree", 3);
    self->max_train = rafiki_knobs_int (knobs, "max_train", S_MAX_TRAIN);
    if (self->kernel < 0 || !(self->C > 0) || !(self->gamma > 0) || self->degree < 1 ||
        self->degree > 10 || self->max_train < 1) {
        rfk_zoo_err (err, errlen,
                     "%s: bad knobs (kernel '%s', C %g, gamma %g, degree %d, max_train %" PRId64
                     ")",
                     S_NAME, kernel, self->C, self->gamma, self->degree, self->max_train);
        free (self);
        return NULL;
    }
    svm_set_print_string_function (rfk_zoo_quiet);
    return self;
}

static void
s_destroy (void *model)
{
    s_model_t *self = model;
    if (!self)
        return;
    svm_free_and_destroy_model (&self->svm);
    free (self->scratch);
    free (self->x);
    rfk_zoo_schema_destroy (&self->schema);
    free (self);
}

/* Writes the non-zero features of row as libsvm nodes ending with index -1;
   returns the nodes written. */
static size_t
s_nodes (const double *row, size_t n, void *nodes)
{
    struct svm_node *out = nodes;
    size_t k = 0;
    for (size_t j = 0; j < n; j++)
        if (row[j] != 0) {
            out[k].index = (int)j + 1;
            out[k].value = row[j];
            k++;
        }
    out[k].index = -1;
    return k + 1;
}

/* Packs the libsvm model's fields (without the map header). */
static int
s_pack_svm (const struct svm_model *m, msgpack_packer *pk)
{
    int k = m->nr_class, l = m->l, pairs = k * (k - 1) / 2;
    if (rfk_zoo_pack_key_int (pk, "svm_type", m->param.svm_type) != 0 ||
        rfk_zoo_pack_key_int (pk, "kernel_type", m->param.kernel_type) != 0 ||
        rfk_zoo_pack_key_int (pk, "degree", m->param.degree) != 0 ||
        rfk_zoo_pack_key_double (pk, "gamma", m->param.gamma) != 0 ||
        rfk_zoo_pack_key_double (pk, "coef0", m->param.coef0) != 0 ||
        rfk_zoo_pack_key_int (pk, "nr_class", k) != 0 || rfk_zoo_pack_key_int (pk, "l", l) != 0)
        return -1;
    /* sv_coef row after row. */
    if (rfk_zoo_pack_str (pk, "sv_coef") != 0 ||
        msgpack_pack_bin (pk, (size_t)(k - 1) * (size_t)l * sizeof (double)) != 0)
        return -1;
    for (int i = 0; i < k - 1; i++)
        if (l && msgpack_pack_bin_body (pk, m->sv_coef[i], (size_t)l * sizeof (double)) != 0)
            return -1;
    bool probs = m->probA && m->probB;
    if (rfk_zoo_pack_key_doubles (pk, "rho", m->rho, (size_t)pairs) != 0 ||
        rfk_zoo_pack_key_doubles (pk, "probA", probs ? m->probA : NULL,
                                  probs ? (size_t)pairs : 0) != 0 ||
        rfk_zoo_pack_key_doubles (pk, "probB", probs ? m->probB : NULL,
                                  probs ? (size_t)pairs : 0) != 0 ||
        rfk_zoo_pack_key_bin (pk, "label", m->label, (size_t)k * sizeof (int)) != 0 ||
        rfk_zoo_pack_key_bin (pk, "nSV", m->nSV, (size_t)k * sizeof (int)) != 0)
        return -1;
    /* Support vectors: nodes per vector, then every index and value. */
    size_t total = 0;
    int32_t *len = malloc ((size_t)l * sizeof (int32_t) + 1);
    if (!len)
        return -1;
    for (int i = 0; i < l; i++) {
        int n = 0;
        while (m->SV[i][n].index != -1)
            n++;
        len[i] = n;
        total += (size_t)n;
    }
    int rc = rfk_zoo_pack_key_int32s (pk, "sv_len", len, (size_t)l);
    free (len);
    if (rc != 0 || rfk_zoo_pack_str (pk, "sv_index") != 0 ||
        msgpack_pack_bin (pk, total * sizeof (int32_t)) != 0)
        return -1;
    for (int i = 0; i < l; i++)
        for (const struct svm_node *x = m->SV[i]; x->index != -1; x++) {
            int32_t index = x->index;
            if (msgpack_pack_bin_body (pk, &index, sizeof index) != 0)
                return -1;
        }
    if (rfk_zoo_pack_str (pk, "sv_value") != 0 ||
        msgpack_pack_bin (pk, total * sizeof (double)) != 0)
        return -1;
    for (int i = 0; i < l; i++)
        for (const struct svm_node *x = m->SV[i]; x->index != -1; x++)
            if (msgpack_pack_bin_body (pk, &x->value, sizeof x->value) != 0)
                return -1;
    return 0;
}

/* The scalar fields of a packed libsvm model. */
typedef struct {
    int64_t kernel_type, degree, nr_class, l;
    double gamma, coef0;
} s_svm_head_t;

/* Reads and checks the scalar fields of a packed model. */
static int
s_unpack_head (const msgpack_object *p, s_svm_head_t *h, char *err, size_t errlen)
{
    int64_t svm_type;
    if (rfk_zoo_get_int (p, "svm_type", &svm_type, err, errlen) != 0 ||
        rfk_zoo_get_int (p, "kernel_type", &h->kernel_type, err, errlen) != 0 ||
        rfk_zoo_get_int (p, "degree", &h->degree, err, errlen) != 0 ||
        rfk_zoo_get_double (p, "gamma", &h->gamma, err, errlen) != 0 ||
        rfk_zoo_get_double (p, "coef0", &h->coef0, err, errlen) != 0 ||
        rfk_zoo_get_int (p, "nr_class", &h->nr_class, err, errlen) != 0 ||
        rfk_zoo_get_int (p, "l", &h->l, err, errlen) != 0)
        return -1;
    int64_t kernel = h->kernel_type;
    if (svm_type != C_SVC || (kernel != RBF && kernel != POLY && kernel != LINEAR) ||
        h->degree < 0 || h->degree > 100 || h->nr_class < 1 || h->nr_class > 10000 || h->l < 0 ||
        h->l > INT32_MAX / 2) {
        rfk_zoo_err (err, errlen,
                     "%s: bad parameters (svm_type %" PRId64 ", kernel %" PRId64
                     ", nr_class %" PRId64 ", l %" PRId64 ")",
                     S_NAME, svm_type, kernel, h->nr_class, h->l);
        return -1;
    }
    return 0;
}

/* A model with the head's fields and room for its arrays (total support
   vector nodes), or NULL when out of memory. Everything is allocated up
   front, so svm_free_and_destroy_model can free a partly filled model. */
static struct svm_model *
s_svm_alloc (const s_svm_head_t *h, size_t total)
{
    size_t k = (size_t)h->nr_class, pairs = k * (k - 1) / 2, nl = (size_t)h->l;
    struct svm_model *m = calloc (1, sizeof *m);
    if (!m)
        return NULL;
    m->param = (struct svm_parameter){.svm_type = C_SVC,
                                      .kernel_type = (int)h->kernel_type,
                                      .degree = (int)h->degree,
                                      .gamma = h->gamma,
                                      .coef0 = h->coef0,
                                      .probability = 1};
    m->nr_class = (int)k;
    m->l = (int)nl;
    m->free_sv = 1;
    m->sv_coef = calloc (k, sizeof (double *));
    m->rho = malloc (pairs * sizeof (double) + 1);
    m->label = malloc (k * sizeof (int));
    m->nSV = malloc (k * sizeof (int));
    m->SV = malloc (nl * sizeof (struct svm_node *) + 1);
    struct svm_node *space = malloc ((total + nl + 1) * sizeof (struct svm_node));
    if (m->SV)
        m->SV[0] = space; /* freed through SV[0] when free_sv */
    bool ok = m->sv_coef && m->rho && m->label && m->nSV && m->SV && space;
    for (size_t i = 0; ok && i + 1 < k; i++)
        ok = (m->sv_coef[i] = malloc (nl * sizeof (double) + 1)) != NULL;
    if (!ok) {
        if (m->SV && m->l == 0)
            free (m->SV[0]);
        svm_free_and_destroy_model (&m);
    }
    return m;
}

/* Reads the coefficients, rho, labels, nSV and probability pairs. */
static int
s_unpack_coefs (const msgpack_object *p, struct svm_model *m, char *err, size_t errlen)
{
    size_t k = (size_t)m->nr_class, pairs = k * (k - 1) / 2, nl = (size_t)m->l;
    const char *ptr;
    size_t len;
    if (rfk_zoo_get_bin (p, "sv_coef", &ptr, &len, err, errlen) != 0)
        return -1;
    if (len != (k - 1) * nl * sizeof (double)) {
        rfk_zoo_err (err, errlen, "%s: parameters: sv_coef has the wrong size", S_NAME);
        return -1;
    }
    for (size_t i = 0; i + 1 < k; i++)
        if (nl)
            memcpy (m->sv_coef[i], ptr + i * nl * sizeof (double), nl * sizeof (double));
    if (rfk_zoo_get_doubles (p, "rho", m->rho, pairs, err, errlen) != 0 ||
        rfk_zoo_get_int32s (p, "label", m->label, k, err, errlen) != 0 ||
        rfk_zoo_get_int32s (p, "nSV", m->nSV, k, err, errlen) != 0 ||
        rfk_zoo_get_bin (p, "probA", &ptr, &len, err, errlen) != 0)
        return -1;
    if (len == 0)
        return 0;
    m->probA = malloc (pairs * sizeof (double) + 1);
    m->probB = malloc (pairs * sizeof (double) + 1);
    if (!m->probA || !m->probB) {
        rfk_zoo_err (err, errlen, "out of memory");
        return -1;
    }
    if (rfk_zoo_get_doubles (p, "probA", m->probA, pairs, err, errlen) != 0 ||
        rfk_zoo_get_doubles (p, "probB", m->probB, pairs, err, errlen) != 0)
        return -1;
    return 0;
}

/* Fills m->SV from sv_len (nodes per vector), index_bytes and value_bytes
   (total nodes). False when a vector is malformed: its length runs past
   total, or its indices do not ascend within 1..n_features. */
static bool
s_fill_vectors (struct svm_model *m, const int32_t *sv_len, const char *index_bytes,
                const char *value_bytes, size_t total, size_t n_features)
{
    struct svm_node *space = m->SV[0];
    size_t used = 0, at = 0;
    for (size_t i = 0; i < (size_t)m->l; i++) {
        m->SV[i] = space + at;
        int32_t prev = 0;
        if (sv_len[i] < 0 || (size_t)sv_len[i] > total - used)
            return false;
        for (int32_t j = 0; j < sv_len[i]; j++, used++) {
            int32_t index;
            memcpy (&index, index_bytes + used * sizeof index, sizeof index);
            if (index <= prev || (size_t)index > n_features)
                return false;
            prev = index;
            space[at].index = index;
            memcpy (&space[at].value, value_bytes + used * sizeof (double), sizeof (double));
            at++;
        }
        space[at++].index = -1;
    }
    return used == total;
}

/* Reads the support vectors (total nodes), checked. */
static int
s_unpack_vectors (const msgpack_object *p, struct svm_model *m, size_t total, size_t n_features,
                  char *err, size_t errlen)
{
    size_t nl = (size_t)m->l;
    const char *index_bytes, *value_bytes;
    size_t index_len, value_len;
    int32_t *sv_len = malloc (nl * sizeof (int32_t) + 1);
    if (!sv_len) {
        rfk_zoo_err (err, errlen, "out of memory");
        return -1;
    }
    int rc = -1;
    if (rfk_zoo_get_int32s (p, "sv_len", sv_len, nl, err, errlen) != 0)
        goto done;
    if (rfk_zoo_get_bin (p, "sv_index", &index_bytes, &index_len, err, errlen) != 0 ||
        rfk_zoo_get_bin (p, "sv_value", &value_bytes, &value_len, err, errlen) != 0 ||
        value_len != total * sizeof (double) || index_len != total * sizeof (int32_t)) {
        rfk_zoo_err (err, errlen, "%s: parameters: support vectors have the wrong size", S_NAME);
        goto done;
    }
    bool good = s_fill_vectors (m, sv_len, index_bytes, value_bytes, total, n_features);
    int64_t n_sv = 0;
    for (int i = 0; i < m->nr_class; i++)
        n_sv += m->nSV[i] >= 0 ? m->nSV[i] : m->l + 1;
    if (!good || n_sv != m->l)
        rfk_zoo_err (err, errlen, "%s: parameters: malformed support vectors", S_NAME);
    else
        rc = 0;
done:
    free (sv_len);
    return rc;
}

/* Builds a self-contained libsvm model from packed fields; NULL with a
   message on malformed parameters. */
static struct svm_model *
s_unpack_svm (const msgpack_object *p, size_t n_features, char *err, size_t errlen)
{
    s_svm_head_t head;
    const char *ptr;
    size_t len;
    if (s_unpack_head (p, &head, err, errlen) != 0 ||
        rfk_zoo_get_bin (p, "sv_index", &ptr, &len, err, errlen) != 0)
        return NULL;
    size_t total = len / sizeof (int32_t);
    struct svm_model *m = s_svm_alloc (&head, total);
    if (!m) {
        rfk_zoo_err (err, errlen, "out of memory");
        return NULL;
    }
    if (s_unpack_coefs (p, m, err, errlen) != 0 ||
        s_unpack_vectors (p, m, total, n_features, err, errlen) != 0) {
        if (m->l == 0)
            free (m->SV[0]);
        svm_free_and_destroy_model (&m);
        return NULL;
    }
    if (m->l == 0) {
        /* libsvm frees SV[0] only when l > 0. */
        free (m->SV[0]);
        m->SV[0] = NULL;
    }
    return m;
}

/* Makes m (and schema) the model's, freeing what it had. */
static int
s_install (s_model_t *self, struct svm_model *m, rfk_zoo_schema_t *schema)
{
    double *scratch = malloc ((size_t)m->nr_class * sizeof (double) + 1);
    struct svm_node *x = malloc ((schema->n_features + 1) * sizeof (struct svm_node));
    if (!scratch || !x) {
        free (scratch);
        free (x);
        return -1;
    }
    svm_free_and_destroy_model (&self->svm);
    free (self->scratch);
    free (self->x);
    rfk_zoo_schema_destroy (&self->schema);
    self->svm = m;
    self->scratch = scratch;
    self->x = x;
    self->schema = schema;
    return 0;
}

/* Class probabilities of one row (n_classes values, indexed by class). */
static void
s_probs (const s_model_t *self, const struct svm_node *x, double *probs)
{
    const struct svm_model *m = self->svm;
    uint32_t k = self->schema->n_classes;
    memset (probs, 0, k * sizeof (double));
    if (m->nr_class == 1 || !svm_check_probability_model (m)) {
        int label = (int)svm_predict (m, x);
        if (label >= 0 && (uint32_t)label < k)
            probs[label] = 1;
        return;
    }
    svm_predict_probability (m, x, self->scratch);
    for (int i = 0; i < m->nr_class; i++)
        if (m->label[i] >= 0 && (uint32_t)m->label[i] < k)
            probs[m->label[i]] = self->scratch[i];
}

/* Class probabilities of one row of scaled values (rfk_zoo_row_probs_fn). */
static void
s_row_probs (void *model, const double *row, double *probs)
{
    s_model_t *self = model;
    s_nodes (row, self->schema->n_features, self->x);
    s_probs (self, self->x, probs);
}

/* The training problem over sparse rows: prob.x points into rows. */
static int
s_problem (const rfk_zoo_sparse_t *rows, struct svm_problem *prob)
{
    prob->x = malloc ((rows->n + 1) * sizeof (struct svm_node *));
    if (!prob->x)
        return -1;
    for (size_t i = 0; i < rows->n; i++)
        prob->x[i] = (struct svm_node *)rows->space + rows->start[i];
    prob->y = rows->labels;
    prob->l = (int)rows->n;
    return 0;
}

/* A self-contained copy of a freshly trained model (which points into the
   training problem), made through the parameter format. */
static struct svm_model *
s_svm_copy (const struct svm_model *trained, size_t n_features, char *err, size_t errlen)
{
    struct svm_model *copy = NULL;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    if (msgpack_pack_map (&pk, 16) != 0 || s_pack_svm (trained, &pk) != 0 ||
        msgpack_unpack_next (&up, buf.data, buf.size, NULL) != MSGPACK_UNPACK_SUCCESS)
        rfk_zoo_err (err, errlen, "%s: copying the trained model failed", S_NAME);
    else
        copy = s_unpack_svm (&up.data, n_features, err, errlen);
    msgpack_unpacked_destroy (&up);
    msgpack_sbuffer_destroy (&buf);
    return copy;
}

/* Trains on prob and installs a self-contained copy with schema. */
static int
s_fit_problem (s_model_t *self, const struct svm_problem *prob, rfk_zoo_schema_t *schema,
               rafiki_context_t *ctx, char *err, size_t errlen)
{
    struct svm_parameter param = {.svm_type = C_SVC,
                                  .kernel_type = self->kernel,
                                  .degree = self->degree,
                                  .gamma = self->gamma,
                                  .coef0 = self->kernel == POLY ? 1 : 0,
                                  .cache_size = 200,
                                  .eps = 1e-3,
                                  .C = self->C,
                                  .shrinking = 1,
                                  .probability = 1};
    const char *why = svm_check_parameter (prob, &param);
    if (why) {
        rfk_zoo_err (err, errlen, "libsvm: %s", why);
        return -1;
    }
    rfk_zoo_log (ctx, "%s: %d rows, %zu features, %u classes", S_NAME, prob->l, schema->n_features,
                 schema->n_classes);
    /* libsvm's probability cross-validation shuffles with rand (). */
    srand (1);
    struct svm_model *trained = svm_train (prob, &param);
    if (!trained) {
        rfk_zoo_err (err, errlen, "libsvm: training failed");
        return -1;
    }
    struct svm_model *copy = s_svm_copy (trained, schema->n_features, err, errlen);
    svm_free_and_destroy_model (&trained);
    if (!copy)
        return -1;
    if (s_install (self, copy, schema) != 0) {
        svm_free_and_destroy_model (&copy);
        rfk_zoo_err (err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Trains on the sparse rows (rfk_zoo_sparse_classifier_t's fit). */
static int
s_fit (void *model, const rfk_zoo_sparse_t *rows, rfk_zoo_schema_t *schema, rafiki_context_t *ctx,
       char *err, size_t errlen)
{
    s_model_t *self = model;
    struct svm_problem prob = {0};
    if (s_problem (rows, &prob) != 0) {
        rfk_zoo_err (err, errlen, "out of memory");
        return -1;
    }
    int rc = s_fit_problem (self, &prob, schema, ctx, err, errlen);
    free (prob.x);
    if (rc == 0) {
        const char *names[] = {"support_vectors"};
        double values[] = {self->svm->l};
        rfk_zoo_metrics (ctx, 1, names, values);
    }
    return rc;
}

/* The trained model's schema, or NULL. */
static rfk_zoo_schema_t *
s_schema (void *model)
{
    s_model_t *self = model;
    return self->svm ? self->schema : NULL;
}

static const rfk_zoo_sparse_classifier_t s_classifier = {
    .name = S_NAME,
    .task = S_TASK,
    .library = "libsvm",
    .max_features = INT32_MAX - 1,
    .max_rows = INT32_MAX / 2,
    .node_size = sizeof (struct svm_node),
    .extra_nodes = 1,
    .nodes = s_nodes,
    .fit = s_fit,
    .schema = s_schema,
    .probs = s_row_probs,
};

static int
s_dump (void *model, msgpack_packer *out, char *err, size_t errlen)
{
    s_model_t *self = model;
    if (rfk_zoo_check_trained (self->svm && self->schema, S_NAME, err, errlen) != 0)
        return -1;
    if (rfk_zoo_params_pack_head (out, 19, S_NAME, S_PARAMS_VERSION, self->schema) != 0 ||
        s_pack_svm (self->svm, out) != 0)
        return rfk_zoo_pack_failed (err, errlen);
    return 0;
}

static int
s_load (void *model, const msgpack_object *params, char *err, size_t errlen)
{
    s_model_t *self = model;
    rfk_zoo_schema_t *schema =
        rfk_zoo_params_open (params, S_NAME, S_PARAMS_VERSION, true, err, errlen);
    if (!schema)
        return -1;
    struct svm_model *m = s_unpack_svm (params, schema->n_features, err, errlen);
    if (!m || s_install (self, m, schema) != 0) {
        if (m)
            rfk_zoo_err (err, errlen, "out of memory");
        svm_free_and_destroy_model (&m);
        rfk_zoo_schema_destroy (&schema);
        return -1;
    }
    return 0;
}

RFK_ZOO_SPARSE_TEMPLATE (S_NAME, S_TASK, s_classifier, max_train)
