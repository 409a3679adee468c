/*  models/common/zoo_rows.c: train, evaluate and predict for the templates
    whose library classifies sparse rows one at a time (liblinear, libsvm),
    over what rfk_zoo_sparse_classifier_t says of the library (see zoo.h).
    Each template keeps only its library's own work: how a row becomes
    nodes, how a model is fitted, and a row's probabilities. */
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

int
rfk_zoo_sparse_train (const rfk_zoo_sparse_classifier_t *c, void *model, const char *path,
                      const rafiki_args_t *args, size_t max_rows, rafiki_context_t *ctx, char *err,
                      size_t errlen)
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
