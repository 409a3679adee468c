/*  models/linear/linear.c: linear classifiers with liblinear.

    Built twice: rafiki-linear-classifier.so (LinearClassifier,
    TABULAR_CLASSIFICATION, features standardised with the training set's
    mean and deviation) and, with RFK_ZOO_IMAGES defined,
    rafiki-linear-image-classifier.so (LinearImageClassifier,
    IMAGE_CLASSIFICATION, pixels flattened and scaled to [0, 1]; knob
    max_images caps the training images, since liblinear holds them all as
    sparse rows).

    Predictions are probability vectors: liblinear's own for the logistic
    regression solvers, a softmax of the decision values for the SVM solvers
    (a ranking, not calibrated).

    Parameters: a map {template, version, schema, solver, nr_class,
    nr_feature, bias, label (int32s), w (doubles)}: liblinear's model struct
    itself, so no temporary files are needed.
*/
#include "zoo.h"

#include <linear.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef RFK_ZOO_IMAGES
#define S_NAME "LinearImageClassifier"
#define S_TASK RAFIKI_TASK_IMAGE_CLASSIFICATION
#else
#define S_NAME "LinearClassifier"
#define S_TASK RAFIKI_TASK_TABULAR_CLASSIFICATION
#endif

#define S_PARAMS_VERSION 1

/* The solvers offered, by liblinear's command-line names. */
static const struct {
    const char *name;
    int type;
} s_solvers[] = {
    {"l2r_lr", L2R_LR},
    {"l2r_l2loss_svc_dual", L2R_L2LOSS_SVC_DUAL},
    {"l2r_l2loss_svc", L2R_L2LOSS_SVC},
    {"l2r_l1loss_svc_dual", L2R_L1LOSS_SVC_DUAL},
    {"mcsvm_cs", MCSVM_CS},
    {"l1r_l2loss_svc", L1R_L2LOSS_SVC},
    {"l1r_lr", L1R_LR},
    {"l2r_lr_dual", L2R_LR_DUAL},
};
#define S_N_SOLVERS (sizeof s_solvers / sizeof s_solvers[0])

static const rafiki_value_t s_solver_values[] = {
    {.type = RAFIKI_VALUE_STRING, .u.s = "l2r_lr"},
    {.type = RAFIKI_VALUE_STRING, .u.s = "l2r_l2loss_svc_dual"},
    {.type = RAFIKI_VALUE_STRING, .u.s = "l2r_l2loss_svc"},
    {.type = RAFIKI_VALUE_STRING, .u.s = "l2r_l1loss_svc_dual"},
    {.type = RAFIKI_VALUE_STRING, .u.s = "mcsvm_cs"},
    {.type = RAFIKI_VALUE_STRING, .u.s = "l1r_l2loss_svc"},
    {.type = RAFIKI_VALUE_STRING, .u.s = "l1r_lr"},
    {.type = RAFIKI_VALUE_STRING, .u.s = "l2r_lr_dual"},
};

static const rafiki_knob_t s_knobs[] = {
    {.name = "C", .type = RAFIKI_KNOB_FLOAT, .min = 1e-4, .max = 1e3, .log_scale = true},
    {.name = "solver",
     .type = RAFIKI_KNOB_CATEGORICAL,
     .values = s_solver_values,
     .n_values = S_N_SOLVERS},
#ifdef RFK_ZOO_IMAGES
    {.name = "max_images", .type = RAFIKI_KNOB_INTEGER, .min = 500, .max = 20000},
#endif
    {.name = "early_stop", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_EARLY_STOP},
    {.name = "quick_eval", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_QUICK_EVAL},
};

typedef struct {
    double C;                 /* knob: inverse regularisation */
    int solver;               /* knob: liblinear solver type */
    int64_t max_images;       /* knob (images): training images used; 0 all */
    struct model *linear;     /* the trained model, or NULL */
    double *scratch;          /* nr_class values for s_probs */
    struct feature_node *x;   /* n_features + 2 nodes: one row being scored */
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
    self->C = rafiki_knobs_float (knobs, "C", 1);
    self->early_stop = rafiki_knobs_bool (knobs, "early_stop", false);
    self->quick_eval = rafiki_knobs_bool (knobs, "quick_eval", false);
    const char *solver = rafiki_knobs_string (knobs, "solver", "l2r_lr");
    self->solver = -1;
    for (size_t i = 0; i < S_N_SOLVERS; i++)
        if (strcmp (solver, s_solvers[i].name) == 0)
            self->solver = s_solvers[i].type;
#ifdef RFK_ZOO_IMAGES
    self->max_images = rafiki_knobs_int (knobs, "max_images", 10000);
#endif
    if (self->solver < 0 || !(self->C > 0) || self->max_images < 0) {
        rfk_zoo_err (err, errlen, "%s: bad knobs (C %g, solver '%s', max_images %" PRId64 ")",
                     S_NAME, self->C, solver, self->max_images);
        free (self);
        return NULL;
    }
    set_print_string_function (rfk_zoo_quiet);
    return self;
}

static void
s_destroy (void *model)
{
    s_model_t *self = model;
    if (!self)
        return;
    if (self->linear)
        free_and_destroy_model (&self->linear);
    rfk_zoo_schema_destroy (&self->schema);
    free (self->scratch);
    free (self->x);
    free (self);
}

/* Writes the non-zero features of row (n values) and the bias term as
   liblinear nodes ending with index -1; returns the nodes written. */
static size_t
s_nodes (const double *row, size_t n, void *nodes)
{
    struct feature_node *out = nodes;
    size_t k = 0;
    for (size_t j = 0; j < n; j++)
        if (row[j] != 0) {
            out[k].index = (int)j + 1;
            out[k].value = row[j];
            k++;
        }
    out[k].index = (int)n + 1; /* the bias feature */
    out[k].value = 1;
    out[k + 1].index = -1;
    return k + 2;
}

/* Makes m (and schema) the model's, freeing what it had. */
static int
s_install (s_model_t *self, struct model *m, rfk_zoo_schema_t *schema)
{
    double *scratch = malloc ((size_t)(m->nr_class > 2 ? m->nr_class : 2) * sizeof (double));
    struct feature_node *x = malloc ((schema->n_features + 2) * sizeof (struct feature_node));
    if (!scratch || !x) {
        free (scratch);
        free (x);
        return -1;
    }
    if (self->linear)
        free_and_destroy_model (&self->linear);
    free (self->scratch);
    free (self->x);
    rfk_zoo_schema_destroy (&self->schema);
    self->linear = m;
    self->scratch = scratch;
    self->x = x;
    self->schema = schema;
    return 0;
}

static bool
s_has_probabilities (int solver)
{
    return solver == L2R_LR || solver == L1R_LR || solver == L2R_LR_DUAL;
}

/* Class probabilities of one row (n_classes values, indexed by class). */
static void
s_probs (const s_model_t *self, const struct feature_node *x, double *probs)
{
    const struct model *m = self->linear;
    uint32_t k = self->schema->n_classes;
    int nr = m->nr_class;
    double *est = self->scratch;
    memset (probs, 0, k * sizeof (double));
    if (nr == 1) {
        if (m->label[0] >= 0 && (uint32_t)m->label[0] < k)
            probs[m->label[0]] = 1;
        return;
    }
    if (s_has_probabilities (m->param.solver_type))
        predict_probability (m, x, est);
    else {
        /* A softmax of the decision values; two classes have one value. */
        predict_values (m, x, est);
        if (nr == 2 && m->param.solver_type != MCSVM_CS) {
            est[0] = 1 / (1 + exp (-est[0]));
            est[1] = 1 - est[0];
        } else {
            double max = est[0], sum = 0;
            for (int i = 1; i < nr; i++)
                max = est[i] > max ? est[i] : max;
            for (int i = 0; i < nr; i++)
                sum += (est[i] = exp (est[i] - max));
            for (int i = 0; i < nr; i++)
                est[i] /= sum;
        }
    }
    for (int i = 0; i < nr; i++)
        if (m->label[i] >= 0 && (uint32_t)m->label[i] < k)
            probs[m->label[i]] = est[i];
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
s_problem (const rfk_zoo_sparse_t *rows, size_t d, struct problem *prob)
{
    prob->x = malloc ((rows->n + 1) * sizeof (struct feature_node *));
    if (!prob->x)
        return -1;
    for (size_t i = 0; i < rows->n; i++)
        prob->x[i] = (struct feature_node *)rows->space + rows->start[i];
    prob->y = rows->labels;
    prob->l = (int)rows->n;
    prob->n = (int)d + 1;
    prob->bias = 1;
    return 0;
}

/* The solver's parameters, with liblinear's default tolerance for it. */
static struct parameter
s_parameter (const s_model_t *self)
{
    struct parameter param = {.solver_type = self->solver, .C = self->C, .p = 0.1};
    switch (self->solver) {
        case L2R_LR:
        case L2R_L2LOSS_SVC:
        case L1R_L2LOSS_SVC:
        case L1R_LR:
            param.eps = 0.01;
            break;
        default:
            param.eps = 0.1;
    }
    return param;
}

/* Logs the accuracy on the training problem, for the trial's logs. */
static void
s_log_train_accuracy (const s_model_t *self, const struct problem *prob, rafiki_context_t *ctx)
{
    double *probs = malloc ((self->schema->n_classes + 1) * sizeof (double));
    if (!probs)
        return;
    size_t right = 0;
    for (int i = 0; i < prob->l; i++) {
        s_probs (self, prob->x[i], probs);
        right += (int32_t)rfk_zoo_argmax (probs, self->schema->n_classes) == (int32_t)prob->y[i];
    }
    const char *names[] = {"train_accuracy"};
    double values[] = {(double)right / (double)prob->l};
    rfk_zoo_metrics (ctx, 1, names, values);
    free (probs);
}

/* Trains on prob and installs the model with schema. */
static int
s_fit_problem (s_model_t *self, const struct problem *prob, rfk_zoo_schema_t *schema,
               rafiki_context_t *ctx, char *err, size_t errlen)
{
    struct parameter param = s_parameter (self);
    const char *why = check_parameter (prob, &param);
    if (why) {
        rfk_zoo_err (err, errlen, "liblinear: %s", why);
        return -1;
    }
    rfk_zoo_log (ctx, "%s: %d rows, %d features, %u classes, C %g", S_NAME, prob->l, prob->n - 1,
                 schema->n_classes, self->C);
    struct model *trained = train (prob, &param);
    if (!trained) {
        rfk_zoo_err (err, errlen, "liblinear: training failed");
        return -1;
    }
    /* The trained model owns its weights; the problem can go. */
    trained->param.weight_label = NULL;
    trained->param.weight = NULL;
    trained->param.init_sol = NULL;
    if (s_install (self, trained, schema) != 0) {
        free_and_destroy_model (&trained);
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
    struct problem prob = {0};
    if (s_problem (rows, schema->n_features, &prob) != 0) {
        rfk_zoo_err (err, errlen, "out of memory");
        return -1;
    }
    int rc = s_fit_problem (self, &prob, schema, ctx, err, errlen);
    if (rc == 0)
        s_log_train_accuracy (self, &prob, ctx);
    free (prob.x);
    return rc;
}

/* The trained model's schema, or NULL. */
static rfk_zoo_schema_t *
s_schema (void *model)
{
    s_model_t *self = model;
    return self->linear ? self->schema : NULL;
}

static const rfk_zoo_sparse_classifier_t s_classifier = {
    .name = S_NAME,
    .task = S_TASK,
    .library = "liblinear",
    .max_features = INT32_MAX - 2,
    .max_rows = INT32_MAX,
    .node_size = sizeof (struct feature_node),
    .extra_nodes = 2,
    .nodes = s_nodes,
    .fit = s_fit,
    .schema = s_schema,
    .probs = s_row_probs,
};

/* Number of weights of a liblinear model (see liblinear's save_model). */
static size_t
s_n_weights (int nr_class, int nr_feature, double bias, int solver)
{
    size_t n = (size_t)nr_feature + (bias >= 0 ? 1 : 0);
    size_t nr_w = nr_class == 2 && solver != MCSVM_CS ? 1 : (size_t)nr_class;
    return n * nr_w;
}

static int
s_dump (void *model, msgpack_packer *out, char *err, size_t errlen)
{
    s_model_t *self = model;
    if (rfk_zoo_check_trained (self->linear && self->schema, S_NAME, err, errlen) != 0)
        return -1;
    const struct model *m = self->linear;
    size_t nw = s_n_weights (m->nr_class, m->nr_feature, m->bias, m->param.solver_type);
    if (rfk_zoo_params_pack_head (out, 9, S_NAME, S_PARAMS_VERSION, self->schema) != 0 ||
        rfk_zoo_pack_key_int (out, "solver", m->param.solver_type) != 0 ||
        rfk_zoo_pack_key_int (out, "nr_class", m->nr_class) != 0 ||
        rfk_zoo_pack_key_int (out, "nr_feature", m->nr_feature) != 0 ||
        rfk_zoo_pack_key_double (out, "bias", m->bias) != 0 ||
        rfk_zoo_pack_key_bin (out, "label", m->label, (size_t)m->nr_class * sizeof (int)) != 0 ||
        rfk_zoo_pack_key_doubles (out, "w", m->w, nw) != 0)
        return rfk_zoo_pack_failed (err, errlen);
    return 0;
}

/* Reads liblinear's model struct from params, checked against schema; NULL
   with a message. */
static struct model *
s_unpack_linear (const msgpack_object *params, const rfk_zoo_schema_t *schema, char *err,
                 size_t errlen)
{
    int64_t solver, nr_class, nr_feature;
    double bias;
    if (rfk_zoo_get_int (params, "solver", &solver, err, errlen) != 0 ||
        rfk_zoo_get_int (params, "nr_class", &nr_class, err, errlen) != 0 ||
        rfk_zoo_get_int (params, "nr_feature", &nr_feature, err, errlen) != 0 ||
        rfk_zoo_get_double (params, "bias", &bias, err, errlen) != 0)
        return NULL;
    bool known = false;
    for (size_t i = 0; i < S_N_SOLVERS; i++)
        known |= s_solvers[i].type == solver;
    if (!known || nr_class < 1 || nr_class > 100000 || nr_feature < 0 ||
        nr_feature > INT32_MAX - 2 || schema->n_features != (size_t)nr_feature) {
        rfk_zoo_err (err, errlen,
                     "%s: bad parameters (solver %" PRId64 ", nr_class %" PRId64
                     ", nr_feature %" PRId64 ", schema features %zu)",
                     S_NAME, solver, nr_class, nr_feature, schema->n_features);
        return NULL;
    }
    struct model *m = calloc (1, sizeof *m);
    size_t nw = s_n_weights ((int)nr_class, (int)nr_feature, bias, (int)solver);
    if (!m || !(m->w = malloc (nw * sizeof (double) + 1)) ||
        !(m->label = malloc ((size_t)nr_class * sizeof (int)))) {
        rfk_zoo_err (err, errlen, "out of memory");
        goto fail;
    }
    m->param.solver_type = (int)solver;
    m->nr_class = (int)nr_class;
    m->nr_feature = (int)nr_feature;
    m->bias = bias;
    if (rfk_zoo_get_int32s (params, "label", m->label, (size_t)nr_class, err, errlen) != 0 ||
        rfk_zoo_get_doubles (params, "w", m->w, nw, err, errlen) != 0)
        goto fail;
    return m;
fail:
    if (m)
        free_and_destroy_model (&m);
    return NULL;
}

static int
s_load (void *model, const msgpack_object *params, char *err, size_t errlen)
{
    s_model_t *self = model;
    rfk_zoo_schema_t *schema =
        rfk_zoo_params_open (params, S_NAME, S_PARAMS_VERSION, true, err, errlen);
    if (!schema)
        return -1;
    struct model *m = s_unpack_linear (params, schema, err, errlen);
    if (!m || s_install (self, m, schema) != 0) {
        if (m) {
            rfk_zoo_err (err, errlen, "out of memory");
            free_and_destroy_model (&m);
        }
        rfk_zoo_schema_destroy (&schema);
        return -1;
    }
    return 0;
}

RFK_ZOO_SPARSE_TEMPLATE (S_NAME, S_TASK, s_classifier, max_images)
