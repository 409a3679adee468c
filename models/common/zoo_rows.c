/*  models/common/zoo_rows.c: train, evaluate and predict for the templates
    whose library classifies sparse rows one at a time (liblinear, libsvm),
    over what rfk_zoo_sparse_classifier_t says of the library (see zoo.h).
    Each template keeps only its library's own work: how a row becomes
    nodes, how a model is fitted, and a row's probabilities.

    EARLY_STOP: neither liblinear (2.3: train () runs its solver to the
    tolerance, with no callback and no iteration cap) nor libsvm (3.24:
    svm_train () likewise) can report progress from inside a solve, so the
    progress is over data instead: every tenth row (at most 5000) is held
    out, and the model is fitted on 1/8, 1/4, 1/2 and all of the other rows
    in turn (every 8th, 4th, 2nd row), each fit reporting its held-out
    accuracy (steps 1..4) until the trial is pruned. The stages cost about
    0.9 of a full fit more for liblinear (linear in rows) and about 0.3 for
    libsvm (quadratic or worse). QUICK_EVAL: the reports score the first
    RFK_ZOO_QUICK_ROWS (1000; train arg quick_eval_rows) held-out rows. */
#include "zoo.h"

#include <stdlib.h>
#include <string.h>

/* Frees what s_sparse_build made (safe on a zeroed struct). */
static void
s_sparse_free (rfk_zoo_sparse_t *self)
{
    free (self->space);
    free (self->start);
    free (self->labels);
    memset (self, 0, sizeof *self);
}

/* Builds the sparse rows of data as the library lays them out. -1 when out
   of memory. */
static int
s_sparse_build (const rfk_zoo_sparse_classifier_t *c, const rfk_zoo_data_t *data,
                rfk_zoo_sparse_t *out)
{
    size_t d = data->schema->n_features, n = data->n;
    memset (out, 0, sizeof *out);
    double *row = malloc ((d + 1) * sizeof (double));
    out->start = malloc ((n + 1) * sizeof (size_t));
    out->labels = malloc ((n + 1) * sizeof (double));
    if (!row || !out->start || !out->labels)
        goto oom;
    /* Count the non-zero values first to size one block of nodes. */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        rfk_zoo_data_row (data, i, row);
        for (size_t j = 0; j < d; j++)
            total += row[j] != 0;
        total += c->extra_nodes;
    }
    out->space = malloc ((total + 1) * c->node_size);
    if (!out->space)
        goto oom;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        rfk_zoo_data_row (data, i, row);
        out->start[i] = used;
        used += c->nodes (row, d, (char *)out->space + used * c->node_size);
        out->labels[i] = rfk_zoo_data_label (data, i);
    }
    out->n = n;
    free (row);
    return 0;
oom:
    free (row);
    s_sparse_free (out);
    return -1;
}

/* ---- EARLY_STOP: fits on growing shares of the rows --------------------- */

#define S_STAGE_STRIDES 4 /* fits on every 8th, 4th, 2nd and every row */
#define S_MAX_HELD 5000   /* most rows held out */

/* A copy of schema (through its packed form), or NULL. */
static rfk_zoo_schema_t *
s_schema_copy (const rfk_zoo_schema_t *schema)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    rfk_zoo_schema_t *copy = NULL;
    if (rfk_zoo_schema_pack (schema, &pk) == 0) {
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        size_t off = 0;
        char err[64];
        if (msgpack_unpack_next (&unpacked, buf.data, buf.size, &off) == MSGPACK_UNPACK_SUCCESS)
            copy = rfk_zoo_schema_unpack (&unpacked.data, err, sizeof err);
        msgpack_unpacked_destroy (&unpacked);
    }
    msgpack_sbuffer_destroy (&buf);
    return copy;
}

/* A view of rows idx[0], idx[stride], idx[2 stride]... of all, sharing its
   nodes (free with s_view_free). -1 when out of memory. */
static int
s_view (const rfk_zoo_sparse_t *all, const size_t *idx, size_t n, size_t stride,
        rfk_zoo_sparse_t *view)
{
    size_t m = (n + stride - 1) / stride;
    *view = (rfk_zoo_sparse_t){.space = all->space,
                               .start = malloc ((m + 1) * sizeof (size_t)),
                               .labels = malloc ((m + 1) * sizeof (double))};
    if (!view->start || !view->labels)
        return -1;
    for (size_t k = 0; k < m; k++) {
        view->start[k] = all->start[idx[k * stride]];
        view->labels[k] = all->labels[idx[k * stride]];
    }
    view->n = m;
    return 0;
}

static void
s_view_free (rfk_zoo_sparse_t *view)
{
    free (view->start);
    free (view->labels);
    memset (view, 0, sizeof *view);
}

/* Accuracy of the model on rows idx[0 .. n) of data. */
static double
s_accuracy_of (const rfk_zoo_sparse_classifier_t *c, void *model, const rfk_zoo_data_t *data,
               const size_t *idx, size_t n)
{
    size_t d = data->schema->n_features, k = data->schema->n_classes, right = 0;
    double *row = malloc ((d + 1) * sizeof (double));
    double *probs = malloc ((k + 1) * sizeof (double));
    for (size_t i = 0; row && probs && i < n; i++) {
        rfk_zoo_data_row (data, idx[i], row);
        c->probs (model, row, probs);
        right += (int32_t)rfk_zoo_argmax (probs, k) == rfk_zoo_data_label (data, idx[i]);
    }
    free (row);
    free (probs);
    return n ? (double)right / (double)n : 0;
}

/* One stage: fits on every stride-th of the n_fit rows fit[], and reports
   the accuracy on held[0 .. n_scored) as step. 1 when the trial is pruned,
   0 to go on, -1 with a message. */
static int
s_stage (const rfk_zoo_sparse_classifier_t *c, void *model, const rfk_zoo_data_t *data,
         const rfk_zoo_sparse_t *rows, const size_t *fit, size_t n_fit, size_t stride,
         const size_t *held, size_t n_scored, int64_t step, rafiki_context_t *ctx, char *err,
         size_t errlen)
{
    rfk_zoo_sparse_t view;
    rfk_zoo_schema_t *schema = s_schema_copy (data->schema);
    if (!schema || s_view (rows, fit, n_fit, stride, &view) != 0) {
        rfk_zoo_schema_destroy (&schema);
        s_view_free (&view);
        rfk_zoo_err (err, errlen, "out of memory");
        return -1;
    }
    int rc = c->fit (model, &view, schema, ctx, err, errlen);
    if (rc != 0)
        rfk_zoo_schema_destroy (&schema);
    else {
        static const char *names[] = {"stage", "rows", "val_accuracy"};
        double values[] = {(double)step, (double)view.n,
                           s_accuracy_of (c, model, data, held, n_scored)};
        rfk_zoo_metrics (ctx, 3, names, values);
        if (rfk_zoo_progress (ctx, step, values[2])) {
            rfk_zoo_log (ctx, "%s: pruned after stage %" PRId64 " (%zu rows)", c->name, step,
                         view.n);
            rc = 1;
        }
    }
    s_view_free (&view);
    return rc;
}

/* EARLY_STOP's training: every tenth row (at most S_MAX_HELD) held out,
   fits on growing shares of the others. -1 with a message. */
static int
s_train_stages (const rfk_zoo_sparse_classifier_t *c, void *model, const rfk_zoo_data_t *data,
                const rfk_zoo_sparse_t *rows, size_t quick_rows, rafiki_context_t *ctx, char *err,
                size_t errlen)
{
    size_t n = rows->n, n_fit = 0, n_held = 0;
    size_t *fit = malloc ((n + 1) * sizeof (size_t)),
           *held = malloc ((n / 10 + 1) * sizeof (size_t));
    if (!fit || !held) {
        free (fit);
        free (held);
        rfk_zoo_err (err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (i % 10 == 9 && n_held < S_MAX_HELD)
            held[n_held++] = i;
        else
            fit[n_fit++] = i;
    size_t n_scored = n_held < quick_rows ? n_held : quick_rows;
    rfk_zoo_log (ctx, "%s: %zu rows held out (%zu scored per stage), %zu to fit in stages", c->name,
                 n_held, n_scored, n_fit);
    rfk_zoo_plot (ctx, "Held-out accuracy", 1, (const char *const[]){"val_accuracy"}, "stage");
    int rc = 0;
    int64_t step = 0;
    for (size_t s = S_STAGE_STRIDES; s-- > 0 && rc == 0;) {
        size_t stride = (size_t)1 << s;
        /* Stages too small to learn from are skipped (never the last). */
        if (stride > 1 && n_fit / stride < 20)
            continue;
        rc = s_stage (c, model, data, rows, fit, n_fit, stride, held, n_scored, ++step, ctx, err,
                      errlen);
    }
    free (fit);
    free (held);
    return rc < 0 ? -1 : 0;
}

int
rfk_zoo_sparse_train (const rfk_zoo_sparse_classifier_t *c, void *model, const char *path,
                      const rafiki_args_t *args, size_t max_rows, bool early_stop, bool quick_eval,
                      rafiki_context_t *ctx, char *err, size_t errlen)
{
    rfk_zoo_data_t *data = NULL;
    rfk_zoo_sparse_t rows = {0};
    if (rfk_zoo_data_load_train (path, c->task, args, max_rows, true, &data, err, errlen) != 0)
        return -1;
    int rc = -1;
    if (data->schema->n_features > c->max_features || data->n > c->max_rows)
        rfk_zoo_err (err, errlen, "%s: the dataset is too large for %s", path, c->library);
    else if (s_sparse_build (c, data, &rows) != 0)
        rfk_zoo_err (err, errlen, "out of memory");
    else if (early_stop && rows.n >= 20)
        rc = s_train_stages (c, model, data, &rows,
                             quick_eval ? rfk_zoo_quick_rows (args) : S_MAX_HELD, ctx, err, errlen);
    else if (c->fit (model, &rows, data->schema, ctx, err, errlen) == 0) {
        data->owns_schema = false;
        rc = 0;
    }
    s_sparse_free (&rows);
    rfk_zoo_data_destroy (&data);
    return rc;
}

int
rfk_zoo_sparse_evaluate (const rfk_zoo_sparse_classifier_t *c, void *model, const char *path,
                         double *score, char *err, size_t errlen)
{
    rfk_zoo_schema_t *schema = c->schema (model);
    rfk_zoo_data_t *data = NULL;
    if (rfk_zoo_check_trained (schema != NULL, c->name, err, errlen) != 0 ||
        rfk_zoo_data_load_like (path, schema, 0, &data, err, errlen) != 0)
        return -1;
    size_t d = schema->n_features, k = schema->n_classes;
    double *row = malloc ((d + 1) * sizeof (double));
    double *probs = malloc ((k + 1) * sizeof (double));
    int rc = -1;
    if (!row || !probs)
        rfk_zoo_err (err, errlen, "out of memory");
    else if (data->n == 0)
        rfk_zoo_err (err, errlen, "%s: no rows to evaluate on", path);
    else {
        size_t right = 0;
        for (size_t i = 0; i < data->n; i++) {
            rfk_zoo_data_row (data, i, row);
            c->probs (model, row, probs);
            right += (int32_t)rfk_zoo_argmax (probs, k) == rfk_zoo_data_label (data, i);
        }
        *score = (double)right / (double)data->n;
        rc = 0;
    }
    free (row);
    free (probs);
    rfk_zoo_data_destroy (&data);
    return rc;
}

/* Packs the answer to each query of the batch into out. */
static int
s_pack_answers (const rfk_zoo_sparse_classifier_t *c, void *model, const rfk_zoo_schema_t *schema,
                const msgpack_object *queries, double *row, double *probs, msgpack_packer *out)
{
    if (msgpack_pack_array (out, queries->via.array.size) != 0)
        return -1;
    for (uint32_t i = 0; i < queries->via.array.size; i++) {
        char why[256];
        if (rfk_zoo_schema_query (schema, &queries->via.array.ptr[i], row, why, sizeof why) != 0) {
            if (rafiki_pack_query_error (out, why) != 0)
                return -1;
            continue;
        }
        c->probs (model, row, probs);
        if (rfk_zoo_pack_probs (out, probs, schema->n_classes) != 0)
            return -1;
    }
    return 0;
}

int
rfk_zoo_sparse_predict (const rfk_zoo_sparse_classifier_t *c, void *model,
                        const msgpack_object *queries, msgpack_packer *out, char *err,
                        size_t errlen)
{
    const rfk_zoo_schema_t *schema = c->schema (model);
    if (rfk_zoo_check_trained (schema != NULL, c->name, err, errlen) != 0 ||
        rfk_zoo_check_batch (queries, err, errlen) != 0)
        return -1;
    double *row = malloc ((schema->n_features + 1) * sizeof (double));
    double *probs = malloc ((schema->n_classes + 1) * sizeof (double));
    int rc = -1;
    if (!row || !probs)
        rfk_zoo_err (err, errlen, "out of memory");
    else if (s_pack_answers (c, model, schema, queries, row, probs, out) != 0)
        rfk_zoo_err (err, errlen, "packing predictions failed");
    else
        rc = 0;
    free (row);
    free (probs);
    return rc;
}
