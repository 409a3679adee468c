/*  rfk_model_check: sample queries from a dataset, and the shape checks on
    a template's predictions that `rafiki model test` runs. */
#include "rfk_model_check.h"
#include "rfk_runner.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <rafiki/dataset.h>

/* The largest |sum - 1| accepted for a probability vector. */
#define RFK_PROBABILITY_SLACK 1e-3

static void
s_pack_string (msgpack_packer *pk, const char *s)
{
    size_t len = strlen (s);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s, len);
}

static int
s_tabular_queries (const char *task, const char *path, const rafiki_args_t *args, size_t max,
                   msgpack_packer *pk, size_t *count, char *err, size_t errlen)
{
    rfk_tabular_options_t opts = {0};
    rfk_tabular_options_from_args (args, task, &opts);
    opts.max_rows = max;
    rfk_tabular_t *table = NULL;
    if (rfk_tabular_load (path, &opts, &table, err, errlen) != 0)
        return -1;
    msgpack_pack_array (pk, table->n_rows);
    for (size_t r = 0; r < table->n_rows; r++) {
        msgpack_pack_map (pk, table->n_features);
        for (size_t c = 0; c < table->n_features; c++) {
            s_pack_string (pk, table->feature_names[c]);
            msgpack_pack_double (pk, table->features[r * table->n_features + c]);
        }
    }
    *count = table->n_rows;
    rfk_tabular_destroy (&table);
    return 0;
}

/* Image queries at the size and channels the train arguments ask for (the
   zoo's image_size and image_channels), else the first image's. */
static int
s_image_queries (const char *path, const rafiki_args_t *args, size_t max, msgpack_packer *pk,
                 size_t *count, char *err, size_t errlen)
{
    rfk_images_options_t opts = {.max_count = max, .colour = RFK_IMAGES_KEEP};
    rfk_images_t *images = NULL;
    if (rfk_images_options_from_args (args, &opts, err, errlen) != 0 ||
        rfk_images_load (path, &opts, &images, err, errlen) != 0)
        return -1;
    size_t w = images->width, h = images->height, c = images->channels;
    msgpack_pack_array (pk, images->n);
    for (size_t i = 0; i < images->n; i++) {
        const uint8_t *px = images->pixels + i * h * w * c;
        msgpack_pack_array (pk, h);
        for (size_t y = 0; y < h; y++) {
            msgpack_pack_array (pk, w);
            for (size_t x = 0; x < w; x++) {
                const uint8_t *p = px + (y * w + x) * c;
                if (c == 1)
                    msgpack_pack_uint8 (pk, p[0]);
                else {
                    msgpack_pack_array (pk, c);
                    for (size_t k = 0; k < c; k++)
                        msgpack_pack_uint8 (pk, p[k]);
                }
            }
        }
    }
    *count = images->n;
    rfk_images_destroy (&images);
    return 0;
}

static int
s_sentence_queries (const char *path, size_t max, msgpack_packer *pk, size_t *count, char *err,
                    size_t errlen)
{
    rfk_corpus_t *corpus = NULL;
    if (rfk_corpus_load (path, max, &corpus, err, errlen) != 0)
        return -1;
    msgpack_pack_array (pk, corpus->n_sentences);
    for (size_t s = 0; s < corpus->n_sentences; s++) {
        const rfk_sentence_t *sentence = &corpus->sentences[s];
        msgpack_pack_array (pk, sentence->n_tokens);
        for (size_t t = 0; t < sentence->n_tokens; t++)
            s_pack_string (pk, sentence->tokens[t]);
    }
    *count = corpus->n_sentences;
    rfk_corpus_destroy (&corpus);
    return 0;
}

int
rfk_model_check_queries (const char *task, const char *path, const rafiki_args_t *args,
                         size_t max_queries, msgpack_sbuffer *out, size_t *count, char *err,
                         size_t errlen)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    *count = 0;
    int rc;
    if (strcmp (task, RAFIKI_TASK_TABULAR_CLASSIFICATION) == 0 ||
        strcmp (task, RAFIKI_TASK_TABULAR_REGRESSION) == 0)
        rc = s_tabular_queries (task, path, args, max_queries, &pk, count, err, errlen);
    else if (strcmp (task, RAFIKI_TASK_IMAGE_CLASSIFICATION) == 0)
        rc = s_image_queries (path, args, max_queries, &pk, count, err, errlen);
    else if (strcmp (task, RAFIKI_TASK_POS_TAGGING) == 0)
        rc = s_sentence_queries (path, max_queries, &pk, count, err, errlen);
    else {
        snprintf (err, errlen, "unknown task %s", task);
        return -1;
    }
    if (rc == 0 && *count == 0) {
        snprintf (err, errlen, "%s holds no queries to sample", path);
        return -1;
    }
    return rc;
}

/* Check one prediction p for query q. */
static int
s_check_one (const char *task, const msgpack_object *q, const msgpack_object *p, size_t i,
             char *err, size_t errlen)
{
    if (p->type == MSGPACK_OBJECT_EXT && p->via.ext.type == RAFIKI_MSGPACK_EXT_ERROR) {
        snprintf (err, errlen, "prediction %zu is an error: %.*s", i, (int)p->via.ext.size,
                  p->via.ext.ptr);
        return -1;
    }
    if (strcmp (task, RAFIKI_TASK_TABULAR_REGRESSION) == 0) {
        double v;
        if (!rfk_runner_obj_number (p, &v) || !isfinite (v)) {
            snprintf (err, errlen, "prediction %zu is not a finite number", i);
            return -1;
        }
        return 0;
    }
    if (strcmp (task, RAFIKI_TASK_POS_TAGGING) == 0) {
        if (p->type != MSGPACK_OBJECT_ARRAY) {
            snprintf (err, errlen, "prediction %zu is not an array of tags", i);
            return -1;
        }
        if (q->type == MSGPACK_OBJECT_ARRAY && p->via.array.size != q->via.array.size) {
            snprintf (err, errlen, "prediction %zu has %u tags for %u tokens", i, p->via.array.size,
                      q->via.array.size);
            return -1;
        }
        for (uint32_t t = 0; t < p->via.array.size; t++)
            if (p->via.array.ptr[t].type != MSGPACK_OBJECT_STR) {
                snprintf (err, errlen, "prediction %zu: tag %u is not a string", i, t);
                return -1;
            }
        return 0;
    }
    /* Classification: a probability vector. */
    if (p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size == 0) {
        snprintf (err, errlen, "prediction %zu is not an array of class probabilities", i);
        return -1;
    }
    double sum = 0;
    for (uint32_t c = 0; c < p->via.array.size; c++) {
        double v;
        if (!rfk_runner_obj_number (&p->via.array.ptr[c], &v) || !isfinite (v) || v < -1e-9 ||
            v > 1 + 1e-9) {
            snprintf (err, errlen, "prediction %zu: probability of class %u is not in [0, 1]", i,
                      c);
            return -1;
        }
        sum += v;
    }
    if (fabs (sum - 1) > RFK_PROBABILITY_SLACK) {
        snprintf (err, errlen, "prediction %zu: class probabilities sum to %g, not 1", i, sum);
        return -1;
    }
    return 0;
}

int
rfk_model_check_predictions (const char *task, const msgpack_object *queries,
                             const char *predictions, size_t size, char *err, size_t errlen)
{
    if (queries->type != MSGPACK_OBJECT_ARRAY) {
        snprintf (err, errlen, "the queries are not an array");
        return -1;
    }
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    int rc = -1;
    if (size == 0 || msgpack_unpack_next (&u, predictions, size, &off) != MSGPACK_UNPACK_SUCCESS) {
        snprintf (err, errlen, "predict packed no valid msgpack");
        goto done;
    }
    if (off != size) {
        snprintf (err, errlen, "predict packed %zu bytes after its answer", size - off);
        goto done;
    }
    if (u.data.type != MSGPACK_OBJECT_ARRAY) {
        snprintf (err, errlen, "predict packed no array of predictions");
        goto done;
    }
    if (u.data.via.array.size != queries->via.array.size) {
        snprintf (err, errlen, "predict answered %u predictions for %u queries",
                  u.data.via.array.size, queries->via.array.size);
        goto done;
    }
    for (uint32_t i = 0; i < u.data.via.array.size; i++)
        if (s_check_one (task, &queries->via.array.ptr[i], &u.data.via.array.ptr[i], i, err,
                         errlen) != 0)
            goto done;
    rc = 0;
done:
    msgpack_unpacked_destroy (&u);
    return rc;
}
