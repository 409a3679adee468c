/*  models/common/zoo.c: helpers shared by the zoo's templates (see zoo.h). */
#include "zoo.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the zoo packs arrays of numbers as little-endian bytes"
#endif

void *
rfk_zoo_new (size_t size, char *err, size_t errlen)
{
    void *self = calloc (1, size);
    if (!self)
        rfk_zoo_err (err, errlen, "out of memory");
    return self;
}

void
rfk_zoo_quiet (const char *text)
{
    (void)text;
}

void
rfk_zoo_log (rafiki_context_t *ctx, const char *fmt, ...)
{
    if (!ctx || !ctx->log)
        return;
    char line[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (line, sizeof line, fmt, ap);
    va_end (ap);
    ctx->log (ctx, line);
}

void
rfk_zoo_metrics (rafiki_context_t *ctx, size_t n, const char *const *names, const double *values)
{
    if (ctx && ctx->log_metrics)
        ctx->log_metrics (ctx, n, names, values);
}

void
rfk_zoo_plot (rafiki_context_t *ctx, const char *title, size_t n, const char *const *metrics,
              const char *x_metric)
{
    if (ctx && ctx->define_plot)
        ctx->define_plot (ctx, title, n, metrics, x_metric);
}

bool
rfk_zoo_progress (rafiki_context_t *ctx, int64_t step, double score)
{
    return ctx && ctx->progress && ctx->progress (ctx, step, score);
}

bool
rfk_zoo_should_stop (rafiki_context_t *ctx)
{
    return ctx && ctx->should_stop && ctx->should_stop (ctx);
}

size_t
rfk_zoo_quick_rows (const rafiki_args_t *args)
{
    const char *text = rafiki_args_get (args, "quick_eval_rows", NULL);
    char *end = NULL;
    long long rows = text ? strtoll (text, &end, 10) : 0;
    return text && end != text && *end == '\0' && rows >= 1 ? (size_t)rows : RFK_ZOO_QUICK_ROWS;
}

/* ---- msgpack -------------------------------------------------------- */

const msgpack_object *
rfk_zoo_map_get (const msgpack_object *obj, const char *key)
{
    if (!obj || obj->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t len = strlen (key);
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object *k = &obj->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
            memcmp (k->via.str.ptr, key, len) == 0)
            return &obj->via.map.ptr[i].val;
    }
    return NULL;
}

int
rfk_zoo_get_int (const msgpack_object *map, const char *key, int64_t *out, char *err, size_t errlen)
{
    const msgpack_object *v = rfk_zoo_map_get (map, key);
    if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX) {
        *out = (int64_t)v->via.u64;
        return 0;
    }
    if (v && v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = v->via.i64;
        return 0;
    }
    rfk_zoo_err (err, errlen, "parameters: '%s' is %s, expected an integer", key,
                 v ? "not an integer" : "missing");
    return -1;
}

int
rfk_zoo_get_double (const msgpack_object *map, const char *key, double *out, char *err,
                    size_t errlen)
{
    const msgpack_object *v = rfk_zoo_map_get (map, key);
    if (v) {
        switch (v->type) {
            case MSGPACK_OBJECT_FLOAT32:
            case MSGPACK_OBJECT_FLOAT64:
                *out = v->via.f64;
                return 0;
            case MSGPACK_OBJECT_POSITIVE_INTEGER:
                *out = (double)v->via.u64;
                return 0;
            case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                *out = (double)v->via.i64;
                return 0;
            default:
                break;
        }
    }
    rfk_zoo_err (err, errlen, "parameters: '%s' is %s, expected a number", key,
                 v ? "not a number" : "missing");
    return -1;
}

int
rfk_zoo_get_str (const msgpack_object *map, const char *key, char **out, char *err, size_t errlen)
{
    const msgpack_object *v = rfk_zoo_map_get (map, key);
    if (!v || v->type != MSGPACK_OBJECT_STR) {
        rfk_zoo_err (err, errlen, "parameters: '%s' is %s, expected a string", key,
                     v ? "not a string" : "missing");
        return -1;
    }
    *out = strndup (v->via.str.ptr, v->via.str.size);
    if (!*out) {
        rfk_zoo_err (err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int
rfk_zoo_get_bin (const msgpack_object *map, const char *key, const char **ptr, size_t *len,
                 char *err, size_t errlen)
{
    const msgpack_object *v = rfk_zoo_map_get (map, key);
    if (!v || v->type != MSGPACK_OBJECT_BIN) {
        rfk_zoo_err (err, errlen, "parameters: '%s' is %s, expected bytes", key,
                     v ? "not bytes" : "missing");
        return -1;
    }
    *ptr = v->via.bin.ptr;
    *len = v->via.bin.size;
    return 0;
}

/* Reads key as exactly n elements of size bytes into out. */
static int
s_get_array (const msgpack_object *map, const char *key, void *out, size_t n, size_t size,
             char *err, size_t errlen)
{
    const char *ptr;
    size_t len;
    if (rfk_zoo_get_bin (map, key, &ptr, &len, err, errlen) != 0)
        return -1;
    if (len != n * size) {
        rfk_zoo_err (err, errlen, "parameters: '%s' holds %zu bytes, expected %zu", key, len,
                     n * size);
        return -1;
    }
    if (len)
        memcpy (out, ptr, len);
    return 0;
}

int
rfk_zoo_get_doubles (const msgpack_object *map, const char *key, double *out, size_t n, char *err,
                     size_t errlen)
{
    return s_get_array (map, key, out, n, sizeof (double), err, errlen);
}

int
rfk_zoo_get_floats (const msgpack_object *map, const char *key, float *out, size_t n, char *err,
                    size_t errlen)
{
    return s_get_array (map, key, out, n, sizeof (float), err, errlen);
}

int
rfk_zoo_get_int32s (const msgpack_object *map, const char *key, int32_t *out, size_t n, char *err,
                    size_t errlen)
{
    return s_get_array (map, key, out, n, sizeof (int32_t), err, errlen);
}

int
rfk_zoo_pack_str (msgpack_packer *pk, const char *s)
{
    size_t len = strlen (s);
    if (msgpack_pack_str (pk, len) != 0)
        return -1;
    return msgpack_pack_str_body (pk, s, len);
}

int
rfk_zoo_pack_key_int (msgpack_packer *pk, const char *key, int64_t value)
{
    if (rfk_zoo_pack_str (pk, key) != 0)
        return -1;
    return msgpack_pack_int64 (pk, value);
}

int
rfk_zoo_pack_key_double (msgpack_packer *pk, const char *key, double value)
{
    if (rfk_zoo_pack_str (pk, key) != 0)
        return -1;
    return msgpack_pack_double (pk, value);
}

int
rfk_zoo_pack_key_str (msgpack_packer *pk, const char *key, const char *value)
{
    if (rfk_zoo_pack_str (pk, key) != 0)
        return -1;
    return rfk_zoo_pack_str (pk, value);
}

int
rfk_zoo_pack_key_bin (msgpack_packer *pk, const char *key, const void *bytes, size_t n)
{
    if (rfk_zoo_pack_str (pk, key) != 0 || msgpack_pack_bin (pk, n) != 0)
        return -1;
    return n ? msgpack_pack_bin_body (pk, bytes, n) : 0;
}

int
rfk_zoo_pack_key_doubles (msgpack_packer *pk, const char *key, const double *v, size_t n)
{
    return rfk_zoo_pack_key_bin (pk, key, v, n * sizeof *v);
}

int
rfk_zoo_pack_key_floats (msgpack_packer *pk, const char *key, const float *v, size_t n)
{
    return rfk_zoo_pack_key_bin (pk, key, v, n * sizeof *v);
}

int
rfk_zoo_pack_key_int32s (msgpack_packer *pk, const char *key, const int32_t *v, size_t n)
{
    return rfk_zoo_pack_key_bin (pk, key, v, n * sizeof *v);
}

int
rfk_zoo_pack_probs (msgpack_packer *pk, const double *probs, size_t n)
{
    if (msgpack_pack_array (pk, n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (msgpack_pack_double (pk, probs[i]) != 0)
            return -1;
    return 0;
}

int
rfk_zoo_check_batch (const msgpack_object *queries, char *err, size_t errlen)
{
    if (!queries || queries->type != MSGPACK_OBJECT_ARRAY) {
        rfk_zoo_err (err, errlen, "queries must be an array of queries");
        return -1;
    }
    return 0;
}

/* ---- schema --------------------------------------------------------- */

void
rfk_zoo_schema_destroy (rfk_zoo_schema_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_zoo_schema_t *self = *self_p;
    if (self->feature_names)
        for (size_t i = 0; i < self->n_features; i++)
            free (self->feature_names[i]);
    free (self->feature_names);
    free (self->target);
    free (self->mean);
    free (self->inv_std);
    free (self);
    *self_p = NULL;
}

int
rfk_zoo_schema_pack (const rfk_zoo_schema_t *self, msgpack_packer *pk)
{
    if (self->images) {
        if (msgpack_pack_map (pk, 5) != 0 || rfk_zoo_pack_key_str (pk, "kind", "images") != 0 ||
            rfk_zoo_pack_key_int (pk, "n_classes", self->n_classes) != 0 ||
            rfk_zoo_pack_key_int (pk, "width", self->width) != 0 ||
            rfk_zoo_pack_key_int (pk, "height", self->height) != 0 ||
            rfk_zoo_pack_key_int (pk, "channels", self->channels) != 0)
            return -1;
        return 0;
    }
    bool scaled = self->mean != NULL;
    if (msgpack_pack_map (pk, scaled ? 6 : 4) != 0 ||
        rfk_zoo_pack_key_str (pk, "kind", "tabular") != 0 ||
        rfk_zoo_pack_key_int (pk, "n_classes", self->n_classes) != 0 ||
        rfk_zoo_pack_key_str (pk, "target", self->target) != 0 ||
        rfk_zoo_pack_str (pk, "features") != 0 || msgpack_pack_array (pk, self->n_features) != 0)
        return -1;
    for (size_t i = 0; i < self->n_features; i++)
        if (rfk_zoo_pack_str (pk, self->feature_names[i]) != 0)
            return -1;
    if (scaled && (rfk_zoo_pack_key_doubles (pk, "mean", self->mean, self->n_features) != 0 ||
                   rfk_zoo_pack_key_doubles (pk, "inv_std", self->inv_std, self->n_features) != 0))
        return -1;
    return 0;
}

/* Reads an image schema's size into self. */
static int
s_unpack_image_size (rfk_zoo_schema_t *self, const msgpack_object *obj, char *err, size_t errlen)
{
    int64_t w, h, c;
    if (rfk_zoo_get_int (obj, "width", &w, err, errlen) != 0 ||
        rfk_zoo_get_int (obj, "height", &h, err, errlen) != 0 ||
        rfk_zoo_get_int (obj, "channels", &c, err, errlen) != 0)
        return -1;
    if (w < 1 || h < 1 || w > 100000 || h > 100000 || (c != 1 && c != 3)) {
        rfk_zoo_err (err, errlen,
                     "parameters: image size %" PRId64 "x%" PRId64 "x%" PRId64 " is invalid", w, h,
                     c);
        return -1;
    }
    self->images = true;
    self->width = (uint32_t)w;
    self->height = (uint32_t)h;
    self->channels = (uint32_t)c;
    self->n_features = (size_t)w * (size_t)h * (size_t)c;
    return 0;
}

/* Reads a tabular schema's target, feature names and standardisation into
   self. */
static int
s_unpack_tabular (rfk_zoo_schema_t *self, const msgpack_object *obj, char *err, size_t errlen)
{
    const msgpack_object *f = rfk_zoo_map_get (obj, "features");
    if (!f || f->type != MSGPACK_OBJECT_ARRAY) {
        rfk_zoo_err (err, errlen, "parameters: 'features' is not an array of names");
        return -1;
    }
    if (rfk_zoo_get_str (obj, "target", &self->target, err, errlen) != 0)
        return -1;
    self->feature_names = calloc (f->via.array.size + 1, sizeof (char *));
    if (!self->feature_names)
        goto oom;
    for (uint32_t i = 0; i < f->via.array.size; i++) {
        const msgpack_object *name = &f->via.array.ptr[i];
        if (name->type != MSGPACK_OBJECT_STR) {
            rfk_zoo_err (err, errlen, "parameters: feature %u is not a string", i);
            return -1;
        }
        self->feature_names[i] = strndup (name->via.str.ptr, name->via.str.size);
        self->n_features = i + 1;
        if (!self->feature_names[i])
            goto oom;
    }
    if (!rfk_zoo_map_get (obj, "mean"))
        return 0;
    self->mean = calloc (self->n_features + 1, sizeof (double));
    self->inv_std = calloc (self->n_features + 1, sizeof (double));
    if (!self->mean || !self->inv_std)
        goto oom;
    if (rfk_zoo_get_doubles (obj, "mean", self->mean, self->n_features, err, errlen) != 0 ||
        rfk_zoo_get_doubles (obj, "inv_std", self->inv_std, self->n_features, err, errlen) != 0)
        return -1;
    return 0;
oom:
    rfk_zoo_err (err, errlen, "out of memory");
    return -1;
}

rfk_zoo_schema_t *
rfk_zoo_schema_unpack (const msgpack_object *obj, char *err, size_t errlen)
{
    rfk_zoo_schema_t *self = calloc (1, sizeof *self);
    char *kind = NULL;
    int64_t n_classes;
    if (!self) {
        rfk_zoo_err (err, errlen, "out of memory");
        return NULL;
    }
    if (!obj || obj->type != MSGPACK_OBJECT_MAP) {
        rfk_zoo_err (err, errlen, "parameters: 'schema' is not a map");
        goto fail;
    }
    if (rfk_zoo_get_str (obj, "kind", &kind, err, errlen) != 0 ||
        rfk_zoo_get_int (obj, "n_classes", &n_classes, err, errlen) != 0)
        goto fail;
    if (n_classes < 0 || n_classes > 100000) {
        rfk_zoo_err (err, errlen, "parameters: n_classes %" PRId64 " is out of range", n_classes);
        goto fail;
    }
    self->n_classes = (uint32_t)n_classes;
    int rc = -1;
    if (strcmp (kind, "images") == 0)
        rc = s_unpack_image_size (self, obj, err, errlen);
    else if (strcmp (kind, "tabular") == 0)
        rc = s_unpack_tabular (self, obj, err, errlen);
    else
        rfk_zoo_err (err, errlen, "parameters: unknown schema kind '%s'", kind);
    if (rc != 0)
        goto fail;
    free (kind);
    return self;
fail:
    free (kind);
    rfk_zoo_schema_destroy (&self);
    return NULL;
}

int
rfk_zoo_schema_query (const rfk_zoo_schema_t *self, const msgpack_object *query, double *out,
                      char *err, size_t errlen)
{
    if (self->images) {
        uint8_t *pixels = malloc (self->n_features);
        if (!pixels) {
            rfk_zoo_err (err, errlen, "out of memory");
            return -1;
        }
        int rc = rfk_images_query (query, self->width, self->height, self->channels, pixels, err,
                                   errlen);
        if (rc == 0)
            for (size_t i = 0; i < self->n_features; i++)
                out[i] = pixels[i] / 255.0;
        free (pixels);
        return rc;
    }
    if (rfk_tabular_query (query, (const char *const *)self->feature_names, self->n_features, out,
                           err, errlen) != 0)
        return -1;
    if (self->mean)
        for (size_t i = 0; i < self->n_features; i++)
            out[i] = (out[i] - self->mean[i]) * self->inv_std[i];
    return 0;
}

/* ---- data ----------------------------------------------------------- */

void
rfk_zoo_data_destroy (rfk_zoo_data_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_zoo_data_t *self = *self_p;
    rfk_tabular_destroy (&self->table);
    rfk_images_destroy (&self->images);
    if (self->owns_schema)
        rfk_zoo_schema_destroy (&self->schema);
    free (self);
    *self_p = NULL;
}

/* Fills mean and 1/stddev of every feature column of the table. */
static int
s_standardise (rfk_zoo_schema_t *schema, const rfk_tabular_t *t)
{
    size_t d = t->n_features;
    schema->mean = calloc (d + 1, sizeof (double));
    schema->inv_std = calloc (d + 1, sizeof (double));
    if (!schema->mean || !schema->inv_std)
        return -1;
    for (size_t j = 0; j < d; j++) {
        double sum = 0, sq = 0;
        for (size_t i = 0; i < t->n_rows; i++)
            sum += t->features[i * d + j];
        double mean = t->n_rows ? sum / (double)t->n_rows : 0;
        for (size_t i = 0; i < t->n_rows; i++) {
            double x = t->features[i * d + j] - mean;
            sq += x * x;
        }
        double sd = t->n_rows ? sqrt (sq / (double)t->n_rows) : 0;
        schema->mean[j] = mean;
        schema->inv_std[j] = sd > 1e-12 ? 1.0 / sd : 1.0;
    }
    return 0;
}

int
rfk_zoo_data_load_train (const char *path, const char *task, const rafiki_args_t *args,
                         size_t max_rows, bool standardise, rfk_zoo_data_t **out, char *err,
                         size_t errlen)
{
    *out = NULL;
    rfk_zoo_data_t *self = calloc (1, sizeof *self);
    rfk_zoo_schema_t *schema = calloc (1, sizeof *schema);
    if (!self || !schema) {
        free (self);
        free (schema);
        rfk_zoo_err (err, errlen, "out of memory");
        return -1;
    }
    self->schema = schema;
    self->owns_schema = true;
    if (strcmp (task, RAFIKI_TASK_IMAGE_CLASSIFICATION) == 0) {
        rfk_images_options_t opts = {.max_count = max_rows, .colour = RFK_IMAGES_KEEP};
        if (rfk_images_options_from_args (args, &opts, err, errlen) != 0 ||
            rfk_images_load (path, &opts, &self->images, err, errlen) != 0)
            goto fail;
        rfk_images_t *im = self->images;
        if (im->n == 0) {
            rfk_zoo_err (err, errlen, "%s: the dataset has no images", path);
            goto fail;
        }
        schema->images = true;
        schema->width = im->width;
        schema->height = im->height;
        schema->channels = im->channels;
        schema->n_classes = im->n_classes;
        schema->n_features = (size_t)im->width * im->height * im->channels;
        self->n = im->n;
    } else {
        rfk_tabular_options_t opts = {0};
        rfk_tabular_options_from_args (args, task, &opts);
        opts.max_rows = max_rows;
        if (rfk_tabular_load (path, &opts, &self->table, err, errlen) != 0)
            goto fail;
        rfk_tabular_t *t = self->table;
        if (t->n_rows == 0 || t->n_features == 0) {
            rfk_zoo_err (err, errlen, "%s: the dataset has no %s", path,
                         t->n_rows == 0 ? "rows" : "feature columns");
            goto fail;
        }
        schema->n_classes = t->n_classes;
        schema->n_features = t->n_features;
        schema->target = strdup (t->target_name);
        schema->feature_names = calloc (t->n_features + 1, sizeof (char *));
        if (!schema->target || !schema->feature_names)
            goto oom;
        for (size_t j = 0; j < t->n_features; j++)
            if (!(schema->feature_names[j] = strdup (t->feature_names[j])))
                goto oom;
        if (standardise && s_standardise (schema, t) != 0)
            goto oom;
        self->n = t->n_rows;
    }
    *out = self;
    return 0;
oom:
    rfk_zoo_err (err, errlen, "out of memory");
fail:
    rfk_zoo_data_destroy (&self);
    return -1;
}

int
rfk_zoo_data_load_like (const char *path, rfk_zoo_schema_t *schema, size_t max_rows,
                        rfk_zoo_data_t **out, char *err, size_t errlen)
{
    *out = NULL;
    rfk_zoo_data_t *self = calloc (1, sizeof *self);
    if (!self) {
        rfk_zoo_err (err, errlen, "out of memory");
        return -1;
    }
    self->schema = schema;
    if (schema->images) {
        /* Resized to the model's own size and channels. */
        rfk_images_options_t opts = {.max_count = max_rows,
                                     .colour =
                                         schema->channels == 1 ? RFK_IMAGES_GREY : RFK_IMAGES_RGB,
                                     .width = schema->width,
                                     .height = schema->height};
        if (rfk_images_load (path, &opts, &self->images, err, errlen) != 0)
            goto fail;
        self->n = self->images->n;
    } else {
        /* Ask for the model's columns by name, in the model's order. */
        size_t len = 1;
        for (size_t j = 0; j < schema->n_features; j++)
            len += strlen (schema->feature_names[j]) + 1;
        char *features = malloc (len);
        if (!features) {
            rfk_zoo_err (err, errlen, "out of memory");
            goto fail;
        }
        char *p = features;
        for (size_t j = 0; j < schema->n_features; j++) {
            size_t n = strlen (schema->feature_names[j]);
            memcpy (p, schema->feature_names[j], n);
            p += n;
            *p++ = j + 1 < schema->n_features ? ',' : '\0';
        }
        if (schema->n_features == 0)
            *p = '\0';
        rfk_tabular_options_t opts = {.target = schema->target,
                                      .features = features,
                                      .classification = schema->n_classes > 0,
                                      .max_rows = max_rows};
        int rc = rfk_tabular_load (path, &opts, &self->table, err, errlen);
        free (features);
        if (rc != 0)
            goto fail;
        if (self->table->n_features != schema->n_features) {
            rfk_zoo_err (err, errlen, "%s: %zu feature columns, the model was trained on %zu", path,
                         self->table->n_features, schema->n_features);
            goto fail;
        }
        self->n = self->table->n_rows;
    }
    *out = self;
    return 0;
fail:
    rfk_zoo_data_destroy (&self);
    return -1;
}

void
rfk_zoo_data_row (const rfk_zoo_data_t *self, size_t i, double *out)
{
    const rfk_zoo_schema_t *s = self->schema;
    size_t d = s->n_features;
    if (self->images) {
        const uint8_t *px = self->images->pixels + i * d;
        for (size_t j = 0; j < d; j++)
            out[j] = px[j] / 255.0;
        return;
    }
    const double *x = self->table->features + i * d;
    for (size_t j = 0; j < d; j++)
        out[j] = s->mean ? (x[j] - s->mean[j]) * s->inv_std[j] : x[j];
}

int32_t
rfk_zoo_data_label (const rfk_zoo_data_t *self, size_t i)
{
    if (self->images)
        return self->images->labels[i];
    return self->table->labels ? self->table->labels[i] : (int32_t)self->table->targets[i];
}

double
rfk_zoo_data_target (const rfk_zoo_data_t *self, size_t i)
{
    if (self->images)
        return self->images->labels[i];
    return self->table->targets[i];
}

size_t
rfk_zoo_argmax (const double *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

uint64_t
rfk_zoo_rand (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double
rfk_zoo_rand_unit (uint64_t *state)
{
    return (double)(rfk_zoo_rand (state) >> 11) * 0x1.0p-53;
}

void
rfk_zoo_shuffle (size_t *idx, size_t n, uint64_t *state)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rfk_zoo_rand (state) % i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
