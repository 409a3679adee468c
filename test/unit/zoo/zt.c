/*  test/unit/zoo/zt.c: the harness of the zoo's tests (see zt.h). */
#include "zt.h"
#include "rfk_test.h"
#include "rfk_test_worker.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_err[1024];

const char *
zt_data (const char *name, const char *split, int limit)
{
    static char paths[16][512];
    static int next;
    char *path = paths[next++ % 16];
    const char *ext = strcmp (name, "fashion-mnist") == 0 || strcmp (name, "brown") == 0 ||
                              strcmp (name, "photos") == 0
                          ? "zip"
                          : "csv";
    char dir[400];
    snprintf (dir, sizeof dir, "%s/zoo-data/%s-%d", BUILD_DIR, name, limit);
    snprintf (path, 512, "%s/%s-%s.%s", dir, name, split, ext);
    struct stat st;
    if (stat (path, &st) == 0)
        return path;

    /* Convert into a private folder, then rename it into place: test binaries
       running in parallel may ask for the same dataset. */
    char tmp[420], cmd[1400];
    snprintf (cmd, sizeof cmd, "%s/zoo-data", BUILD_DIR);
    mkdir (cmd, 0755);
    snprintf (tmp, sizeof tmp, "%s/zoo-data/tmp-XXXXXX", BUILD_DIR);
    if (!mkdtemp (tmp))
        fail_msg ("cannot make a folder under %s/zoo-data", BUILD_DIR);
    snprintf (cmd, sizeof cmd, "'%s/deploy/datasets/convert' '%s' '%s' --limit %d > '%s/log' 2>&1",
              SOURCE_ROOT, name, tmp, limit, tmp);
    int rc = system (cmd);
    if (rc != 0) {
        snprintf (cmd, sizeof cmd, "cat '%s/log' >&2", tmp);
        if (system (cmd) != 0)
            fprintf (stderr, "(no converter log)\n");
        fail_msg ("converting dataset %s failed (exit %d); see the log above", name, rc);
    }
    if (rename (tmp, dir) != 0) {
        if (rfk_test_tree_remove (tmp) != 0)
            fprintf (stderr, "could not remove %s\n", tmp);
    }
    if (stat (path, &st) != 0)
        fail_msg ("the converter made no %s", path);
    return path;
}

rfk_template_t *
zt_open (const char *path, const char *task)
{
    rfk_template_t *tpl = rfk_template_open (path, task, s_err, sizeof s_err);
    if (!tpl)
        fail_msg ("opening %s: %s", path, s_err);
    return tpl;
}

void *
zt_create (const rafiki_model_api_t *api, const char *knobs_json)
{
    json_error_t jerr;
    json_t *json = json_loads (knobs_json, 0, &jerr);
    if (!json)
        fail_msg ("bad knob JSON in the test: %s", jerr.text);
    rafiki_knobs_t knobs;
    if (rfk_knobs_from_json (api->knobs, api->n_knobs, json, true, &knobs, s_err, sizeof s_err) !=
        0)
        fail_msg ("knobs %s: %s", knobs_json, s_err);
    json_decref (json);
    void *model = api->create (&knobs, s_err, sizeof s_err);
    rfk_knobs_free (&knobs);
    if (!model)
        fail_msg ("create (%s): %s", knobs_json, s_err);
    return model;
}

static void
s_log (rafiki_context_t *ctx, const char *message)
{
    zt_context_t *self = ctx->host;
    self->n_logs++;
    size_t len = strlen (self->logs);
    snprintf (self->logs + len, sizeof self->logs - len, "%s\n", message);
    if (getenv ("ZT_VERBOSE"))
        fprintf (stderr, "# log: %s\n", message);
}

static void
s_log_metrics (rafiki_context_t *ctx, size_t n, const char *const *names, const double *values)
{
    zt_context_t *self = ctx->host;
    if (self->n_metrics++ == 0)
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen (self->metric_names);
            snprintf (self->metric_names + len, sizeof self->metric_names - len, "%s%s",
                      i ? " " : "", names[i]);
        }
    if (getenv ("ZT_VERBOSE")) {
        fprintf (stderr, "# metrics:");
        for (size_t i = 0; i < n; i++)
            fprintf (stderr, " %s=%g", names[i], values[i]);
        fprintf (stderr, "\n");
    }
}

static void
s_define_plot (rafiki_context_t *ctx, const char *title, size_t n, const char *const *metrics,
               const char *x_metric)
{
    zt_context_t *self = ctx->host;
    (void)title;
    (void)metrics;
    (void)x_metric;
    assert_true (n > 0);
    self->n_plots++;
}

static bool
s_progress (rafiki_context_t *ctx, int64_t step, double score)
{
    zt_context_t *self = ctx->host;
    self->n_progress++;
    self->last_step = step;
    self->last_score = score;
    return self->prune_at > 0 && step >= self->prune_at;
}

static bool
s_should_stop (rafiki_context_t *ctx)
{
    (void)ctx;
    return false;
}

void
zt_context_init (zt_context_t *self, int64_t prune_at)
{
    memset (self, 0, sizeof *self);
    self->ctx.host = self;
    self->ctx.log = s_log;
    self->ctx.log_metrics = s_log_metrics;
    self->ctx.define_plot = s_define_plot;
    self->ctx.progress = s_progress;
    self->ctx.should_stop = s_should_stop;
    self->prune_at = prune_at;
}

double
zt_train_eval (const rafiki_model_api_t *api, void *model, const char *train_path,
               const rafiki_args_t *args, zt_context_t *ctx, const char *eval_path)
{
    if (api->train (model, train_path, args, NULL, ctx ? &ctx->ctx : NULL, s_err, sizeof s_err) !=
        0)
        fail_msg ("train on %s: %s", train_path, s_err);
    double score = NAN;
    if (api->evaluate (model, eval_path, &score, s_err, sizeof s_err) != 0)
        fail_msg ("evaluate on %s: %s", eval_path, s_err);
    return score;
}

double
zt_train_eval_shared (const rafiki_model_api_t *api, void *model, const char *train_path,
                      const rafiki_args_t *args, const msgpack_sbuffer *shared, zt_context_t *ctx,
                      const char *eval_path)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t off = 0;
    if (shared &&
        msgpack_unpack_next (&unpacked, shared->data, shared->size, &off) != MSGPACK_UNPACK_SUCCESS)
        fail_msg ("the shared parameters do not unpack");
    int rc = api->train (model, train_path, args, shared ? &unpacked.data : NULL,
                         ctx ? &ctx->ctx : NULL, s_err, sizeof s_err);
    msgpack_unpacked_destroy (&unpacked);
    if (rc != 0)
        fail_msg ("train on %s: %s", train_path, s_err);
    double score = NAN;
    if (api->evaluate (model, eval_path, &score, s_err, sizeof s_err) != 0)
        fail_msg ("evaluate on %s: %s", eval_path, s_err);
    return score;
}

void
zt_print_logs (const zt_context_t *ctx)
{
    for (const char *line = ctx->logs; *line;) {
        const char *end = strchr (line, '\n');
        int len = end ? (int)(end - line) : (int)strlen (line);
        print_message ("# %.*s\n", len, line);
        line += len + (end != NULL);
    }
}

void
zt_dump (const rafiki_model_api_t *api, void *model, msgpack_sbuffer *out)
{
    msgpack_sbuffer_init (out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    if (api->dump_params (model, &pk, s_err, sizeof s_err) != 0)
        fail_msg ("dump_params: %s", s_err);
}

size_t
zt_tabular_queries (const char *path, size_t n, msgpack_sbuffer *out)
{
    rfk_tabular_t *t = NULL;
    rfk_tabular_options_t opts = {.max_rows = n};
    if (rfk_tabular_load (path, &opts, &t, s_err, sizeof s_err) != 0)
        fail_msg ("%s", s_err);
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    for (size_t i = 0; i < t->n_rows; i++) {
        msgpack_pack_map (&pk, t->n_features);
        for (size_t j = 0; j < t->n_features; j++) {
            size_t len = strlen (t->feature_names[j]);
            msgpack_pack_str (&pk, len);
            msgpack_pack_str_body (&pk, t->feature_names[j], len);
            msgpack_pack_double (&pk, t->features[i * t->n_features + j]);
        }
    }
    size_t rows = t->n_rows;
    rfk_tabular_destroy (&t);
    return rows;
}

size_t
zt_image_queries (const char *path, size_t n, msgpack_sbuffer *out)
{
    rfk_images_t *im = NULL;
    rfk_images_options_t opts = {.max_count = n, .colour = RFK_IMAGES_GREY};
    if (rfk_images_load (path, &opts, &im, s_err, sizeof s_err) != 0)
        fail_msg ("%s", s_err);
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    for (size_t i = 0; i < im->n; i++) {
        const uint8_t *px = im->pixels + i * im->width * im->height;
        msgpack_pack_array (&pk, im->height);
        for (uint32_t y = 0; y < im->height; y++) {
            msgpack_pack_array (&pk, im->width);
            for (uint32_t x = 0; x < im->width; x++)
                msgpack_pack_uint8 (&pk, px[y * im->width + x]);
        }
    }
    size_t count = im->n;
    rfk_images_destroy (&im);
    return count;
}

size_t
zt_corpus_queries (const char *path, size_t n, msgpack_sbuffer *out, char ****tags)
{
    rfk_corpus_t *c = NULL;
    if (rfk_corpus_load (path, n, &c, s_err, sizeof s_err) != 0)
        fail_msg ("%s", s_err);
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    if (tags)
        *tags = calloc (c->n_sentences + 1, sizeof (char **));
    for (size_t i = 0; i < c->n_sentences; i++) {
        const rfk_sentence_t *s = &c->sentences[i];
        msgpack_pack_array (&pk, s->n_tokens);
        if (tags)
            (*tags)[i] = calloc (s->n_tokens + 1, sizeof (char *));
        for (size_t j = 0; j < s->n_tokens; j++) {
            size_t len = strlen (s->tokens[j]);
            msgpack_pack_str (&pk, len);
            msgpack_pack_str_body (&pk, s->tokens[j], len);
            if (tags)
                (*tags)[i][j] = strdup (s->tags[j]);
        }
    }
    size_t count = c->n_sentences;
    rfk_corpus_destroy (&c);
    return count;
}

void
zt_free_tags (char ***tags, size_t n)
{
    for (size_t i = 0; tags && i < n; i++) {
        for (size_t j = 0; tags[i] && tags[i][j]; j++)
            free (tags[i][j]);
        free (tags[i]);
    }
    free (tags);
}

void
zt_pack_json (msgpack_packer *pk, const char *json_text)
{
    json_error_t jerr;
    json_t *v = json_loads (json_text, JSON_DECODE_ANY, &jerr);
    if (!v)
        fail_msg ("bad JSON in the test: %s", jerr.text);
    rfk_test_msgpack_pack_json (pk, v);
    json_decref (v);
}

void
zt_batch (msgpack_sbuffer *out, size_t n, const msgpack_sbuffer *elements)
{
    msgpack_sbuffer_init (out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, n);
    msgpack_sbuffer_write (out, elements->data, elements->size);
}

void
zt_predict (const rafiki_model_api_t *api, void *model, const msgpack_sbuffer *batch,
            msgpack_sbuffer *out, msgpack_unpacked *result)
{
    msgpack_unpacked in;
    msgpack_unpacked_init (&in);
    assert_int_equal (msgpack_unpack_next (&in, batch->data, batch->size, NULL),
                      MSGPACK_UNPACK_SUCCESS);
    msgpack_sbuffer_init (out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    if (api->predict (model, &in.data, &pk, s_err, sizeof s_err) != 0)
        fail_msg ("predict: %s", s_err);
    msgpack_unpacked_destroy (&in);
    msgpack_unpacked_init (result);
    assert_int_equal (msgpack_unpack_next (result, out->data, out->size, NULL),
                      MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (result->data.type, MSGPACK_OBJECT_ARRAY);
}

void *
zt_roundtrip (const rafiki_model_api_t *api, void *model, const char *knobs_json)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    if (api->dump_params (model, &pk, s_err, sizeof s_err) != 0)
        fail_msg ("dump_params: %s", s_err);
    msgpack_unpacked params;
    msgpack_unpacked_init (&params);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&params, buf.data, buf.size, &off),
                      MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (off, buf.size); /* exactly one object */
    void *fresh = zt_create (api, knobs_json);
    if (api->load_params (fresh, &params.data, s_err, sizeof s_err) != 0)
        fail_msg ("load_params: %s", s_err);
    msgpack_unpacked_destroy (&params);
    msgpack_sbuffer_destroy (&buf);
    return fresh;
}

bool
zt_is_query_error (const msgpack_object *obj, char *msg, size_t msglen)
{
    if (obj->type != MSGPACK_OBJECT_EXT || obj->via.ext.type != RAFIKI_MSGPACK_EXT_ERROR)
        return false;
    if (msg && msglen)
        snprintf (msg, msglen, "%.*s", (int)obj->via.ext.size, obj->via.ext.ptr);
    return true;
}

void
zt_assert_probs (const msgpack_object *obj, size_t n_classes)
{
    char msg[256];
    if (zt_is_query_error (obj, msg, sizeof msg))
        fail_msg ("a per-query error where probabilities were expected: %s", msg);
    assert_int_equal (obj->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal (obj->via.array.size, n_classes);
    double sum = 0;
    for (size_t i = 0; i < n_classes; i++) {
        const msgpack_object *p = &obj->via.array.ptr[i];
        assert_true (p->type == MSGPACK_OBJECT_FLOAT64 || p->type == MSGPACK_OBJECT_FLOAT32);
        assert_true (p->via.f64 >= -1e-9 && p->via.f64 <= 1 + 1e-9);
        sum += p->via.f64;
    }
    assert_true (fabs (sum - 1) < 1e-3);
}
