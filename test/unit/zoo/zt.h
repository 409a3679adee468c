/*  test/unit/zoo/zt.h: the harness of the zoo's tests.

    Each test binary exercises one template the way the platform does: open
    it with rfk_template_open (dlopen), make knob values from JSON, train on a
    small slice of a real dataset (converted on first use by
    deploy/datasets/convert into the build directory), evaluate, predict
    batches of msgpack queries, and dump -> load the parameters into a fresh
    model. The context given to train records what the template logged.
*/
#ifndef RFK_ZT_H_INCLUDED
#define RFK_ZT_H_INCLUDED

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <jansson.h>

#include <rafiki/dataset.h>
#include <rafiki/model.h>
#include <rafiki/template.h>

/* Where a converted dataset file is: "<dir>/<name>-<split>.<ext>", made by
   running the converter once per (name, limit) into the build directory.
   Fails the test with the converter's complaint when that does not work. */
const char *
zt_data (const char *name, const char *split, int limit);

/* Opens the template at path (asserting), for the expected task. */
rfk_template_t *
zt_open (const char *path, const char *task);

/* Creates a model from knob values in JSON (asserting). */
void *
zt_create (const rafiki_model_api_t *api, const char *knobs_json);

/* What a template did through its train context. */
typedef struct {
    rafiki_context_t ctx;   /* handed to train */
    size_t n_logs;          /* log lines */
    size_t n_metrics;       /* log_metrics points */
    size_t n_plots;         /* define_plot calls */
    size_t n_progress;      /* progress reports */
    int64_t last_step;      /* the last progress step */
    double last_score;      /* the last progress score */
    int64_t prune_at;       /* progress returns true at this step (0: never) */
    char metric_names[256]; /* names of the first metrics point, space-separated */
    char logs[4096];        /* the log lines, one per line (cut when full) */
} zt_context_t;

/* A fresh context; prune_at 0 never prunes. */
void
zt_context_init (zt_context_t *self, int64_t prune_at);

/* Trains (asserting success) and returns the score on eval_path. */
double
zt_train_eval (const rafiki_model_api_t *api, void *model, const char *train_path,
               const rafiki_args_t *args, zt_context_t *ctx, const char *eval_path);

/* zt_train_eval starting from shared parameters: the msgpack bytes of
   another model's dump_params (NULL: none). */
double
zt_train_eval_shared (const rafiki_model_api_t *api, void *model, const char *train_path,
                      const rafiki_args_t *args, const msgpack_sbuffer *shared, zt_context_t *ctx,
                      const char *eval_path);

/* Prints what the template logged as TAP comments, a "# " per line. */
void
zt_print_logs (const zt_context_t *ctx);

/* model's dump_params into out (initialised here; caller destroys). */
void
zt_dump (const rafiki_model_api_t *api, void *model, msgpack_sbuffer *out);

/* A batch of queries under construction. */
typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
    size_t n;
} zt_batch_t;

/* Packs up to n rows of the tabular CSV at path as queries (maps feature
   name -> number; target left out). Returns how many. */
size_t
zt_tabular_queries (const char *path, size_t n, msgpack_sbuffer *out);

/* Packs up to n images of the zip at path as queries (arrays of rows of grey
   values). Returns how many. */
size_t
zt_image_queries (const char *path, size_t n, msgpack_sbuffer *out);

/* Packs up to n sentences of the corpus zip at path as queries (arrays of
   tokens); gold tags into *tags (NULL-terminated array per sentence, caller
   frees with zt_free_tags) when tags is not NULL. Returns how many. */
size_t
zt_corpus_queries (const char *path, size_t n, msgpack_sbuffer *out, char ****tags);
void
zt_free_tags (char ***tags, size_t n);

/* Packs a JSON text as msgpack (numbers, strings, arrays, maps, bools). */
void
zt_pack_json (msgpack_packer *pk, const char *json_text);

/* Makes a batch: the array header must be known up front, so callers pack
   the elements into a raw buffer and wrap them here. */
void
zt_batch (msgpack_sbuffer *out, size_t n, const msgpack_sbuffer *elements);

/* Runs predict on the packed batch (asserting success); the packed answer
   goes into out (caller destroys), returning an unpacked view in result. */
void
zt_predict (const rafiki_model_api_t *api, void *model, const msgpack_sbuffer *batch,
            msgpack_sbuffer *out, msgpack_unpacked *result);

/* Dumps model, loads the parameters into a fresh model made from knobs_json
   and returns it (asserting success). */
void *
zt_roundtrip (const rafiki_model_api_t *api, void *model, const char *knobs_json);

/* True when obj is a per-query error; its message into msg (may be NULL). */
bool
zt_is_query_error (const msgpack_object *obj, char *msg, size_t msglen);

/* Asserts obj is a probability vector of n_classes values summing to ~1. */
void
zt_assert_probs (const msgpack_object *obj, size_t n_classes);

#endif
