/*  models/common/zoo.h: what the zoo's templates share.

    Every template in models/ is a shared object built against rafiki/model.h.
    This small static library (linked into each of them) holds the parts they
    would otherwise each write again:

    - error and log helpers (printf-style, NULL-safe on the context);
    - msgpack helpers for the parameter maps the templates dump: look up a key,
      read numbers, strings, and arrays of numbers stored as bin (raw
      little-endian IEEE floats/doubles, compact and exact);
    - the data schema of a trained model (tabular: feature names, target,
      standardisation; images: width, height, channels; classes), which is
      dumped with the parameters so predict can read queries and evaluate can
      load a validation file with the same columns;
    - one loader over tabular CSVs and image zips giving rows of features as
      doubles, scaled as the schema says;
    - a template's own plumbing: its API table (RFK_ZOO_TEMPLATE), the head
      of its parameter map and its check on load (zoo_params.c);
    - train, evaluate and predict for the templates whose library classifies
      sparse rows one at a time, liblinear and libsvm (zoo_rows.c).
*/
#ifndef RFK_ZOO_H_INCLUDED
#define RFK_ZOO_H_INCLUDED

#include <rafiki/dataset.h>
#include <rafiki/model.h>

#include <inttypes.h>
#include <stdarg.h>

/* Marks the one symbol a template exports (everything else is hidden). */
#define RFK_ZOO_EXPORT __attribute__ ((visibility ("default")))

/* ---- errors and the train context ----------------------------------- */

/* Writes a printf-style message into err (NULL-safe, always terminated):
   the dataset loaders' own, rfk_model_errf (rafiki/dataset.h). */
#define rfk_zoo_err rfk_model_errf

/* size zeroed bytes (a template's model), or NULL after "out of memory". */
void *
rfk_zoo_new (size_t size, char *err, size_t errlen);

/* Drops a library's progress output (liblinear's and libsvm's print
   function). */
void
rfk_zoo_quiet (const char *text);

/* Logs a printf-style message through ctx->log, when there is one. */
void
rfk_zoo_log (rafiki_context_t *ctx, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

/* Logs one point of metrics, when the context can. */
void
rfk_zoo_metrics (rafiki_context_t *ctx, size_t n, const char *const *names, const double *values);

/* Defines a plot, when the context can. */
void
rfk_zoo_plot (rafiki_context_t *ctx, const char *title, size_t n, const char *const *metrics,
              const char *x_metric);

/* Reports progress; true when the trial is pruned and should stop. */
bool
rfk_zoo_progress (rafiki_context_t *ctx, int64_t step, double score);

/* True when the platform asks the trial to stop. */
bool
rfk_zoo_should_stop (rafiki_context_t *ctx);

/* QUICK_EVAL: how many held-out rows a template scores for each progress
   report: train arg quick_eval_rows (a whole number >= 1), else
   RFK_ZOO_QUICK_ROWS. */
#define RFK_ZOO_QUICK_ROWS 1000
size_t
rfk_zoo_quick_rows (const rafiki_args_t *args);

/* ---- msgpack -------------------------------------------------------- */

/* The value of string key `key` in map obj, or NULL (also when obj is not a
   map). */
const msgpack_object *
rfk_zoo_map_get (const msgpack_object *obj, const char *key);

/* Reads key as an integer / a number / a bool / a string (copied, yours to
   free) / raw bytes (borrowed). -1 with a message naming the key when it is
   missing or of the wrong type. */
int
rfk_zoo_get_int (const msgpack_object *map, const char *key, int64_t *out, char *err,
                 size_t errlen);
int
rfk_zoo_get_double (const msgpack_object *map, const char *key, double *out, char *err,
                    size_t errlen);
int
rfk_zoo_get_str (const msgpack_object *map, const char *key, char **out, char *err, size_t errlen);
int
rfk_zoo_get_bin (const msgpack_object *map, const char *key, const char **ptr, size_t *len,
                 char *err, size_t errlen);

/* Reads key as n doubles (or floats, or int32s) packed by
   rfk_zoo_pack_doubles (floats, int32s) into out. -1 when the key is missing
   or its length is not n. */
int
rfk_zoo_get_doubles (const msgpack_object *map, const char *key, double *out, size_t n, char *err,
                     size_t errlen);
int
rfk_zoo_get_floats (const msgpack_object *map, const char *key, float *out, size_t n, char *err,
                    size_t errlen);
int
rfk_zoo_get_int32s (const msgpack_object *map, const char *key, int32_t *out, size_t n, char *err,
                    size_t errlen);

/* Pack helpers: a string, and a key followed by a value. */
int
rfk_zoo_pack_str (msgpack_packer *pk, const char *s);
int
rfk_zoo_pack_key_int (msgpack_packer *pk, const char *key, int64_t value);
int
rfk_zoo_pack_key_double (msgpack_packer *pk, const char *key, double value);
int
rfk_zoo_pack_key_str (msgpack_packer *pk, const char *key, const char *value);
/* Arrays of numbers as bin (little-endian). */
int
rfk_zoo_pack_key_doubles (msgpack_packer *pk, const char *key, const double *v, size_t n);
int
rfk_zoo_pack_key_floats (msgpack_packer *pk, const char *key, const float *v, size_t n);
int
rfk_zoo_pack_key_int32s (msgpack_packer *pk, const char *key, const int32_t *v, size_t n);
int
rfk_zoo_pack_key_bin (msgpack_packer *pk, const char *key, const void *bytes, size_t n);

/* -1 after "packing parameters failed" (dump_params' failure). */
int
rfk_zoo_pack_failed (char *err, size_t errlen);

/* Packs an array of n probabilities. */
int
rfk_zoo_pack_probs (msgpack_packer *pk, const double *probs, size_t n);

/* Checks that queries is an array; -1 with a message when it is not. */
int
rfk_zoo_check_batch (const msgpack_object *queries, char *err, size_t errlen);

/* ---- the data schema of a model ------------------------------------- */

typedef struct {
    bool images;        /* image pixels (true) or tabular features */
    uint32_t n_classes; /* classification: classes; regression: 0 */
    size_t n_features;  /* values per row (images: w * h * c) */
    /* tabular */
    char **feature_names; /* n_features names, in training column order */
    char *target;         /* the target column's name */
    double *mean;         /* n_features means, or NULL: no standardisation */
    double *inv_std;      /* n_features 1/stddev (1 for constant columns) */
    /* images: pixels are scaled to [0, 1] */
    uint32_t width, height, channels;
} rfk_zoo_schema_t;

/* Frees the schema; NULL is a no-op. */
void
rfk_zoo_schema_destroy (rfk_zoo_schema_t **self_p);

/* Packs the schema as one map / reads it back (NULL with a message on a
   malformed map). */
int
rfk_zoo_schema_pack (const rfk_zoo_schema_t *self, msgpack_packer *pk);
rfk_zoo_schema_t *
rfk_zoo_schema_unpack (const msgpack_object *obj, char *err, size_t errlen);

/* Reads one prediction query into out (n_features doubles, scaled as the
   schema says). -1 with a message for the user when the query has the wrong
   shape (a missing feature, a wrong image size, not a map or array). */
int
rfk_zoo_schema_query (const rfk_zoo_schema_t *self, const msgpack_object *query, double *out,
                      char *err, size_t errlen);

/* ---- data ----------------------------------------------------------- */

typedef struct {
    size_t n;                 /* rows */
    rfk_zoo_schema_t *schema; /* the schema (borrowed or owned, see below) */
    bool owns_schema;         /* true when made by rfk_zoo_data_load_train */
    rfk_tabular_t *table;     /* tabular data, or NULL */
    rfk_images_t *images;     /* image data, or NULL */
} rfk_zoo_data_t;

/* Loads a training dataset for task (one of RAFIKI_TASK_*), reading at most
   max_rows rows (0: all), and makes a schema from it (standardising tabular
   features when standardise). */
int
rfk_zoo_data_load_train (const char *path, const char *task, const rafiki_args_t *args,
                         size_t max_rows, bool standardise, rfk_zoo_data_t **out, char *err,
                         size_t errlen);

/* Loads a dataset with the columns / image size of an existing schema
   (evaluate). The data borrows the schema. */
int
rfk_zoo_data_load_like (const char *path, rfk_zoo_schema_t *schema, size_t max_rows,
                        rfk_zoo_data_t **out, char *err, size_t errlen);

void
rfk_zoo_data_destroy (rfk_zoo_data_t **self_p);

/* Row i's features scaled as the schema says, into out (n_features). */
void
rfk_zoo_data_row (const rfk_zoo_data_t *self, size_t i, double *out);

/* Row i's class label / regression target. */
int32_t
rfk_zoo_data_label (const rfk_zoo_data_t *self, size_t i);
double
rfk_zoo_data_target (const rfk_zoo_data_t *self, size_t i);

/* Index of the largest of n values (the first on ties). */
size_t
rfk_zoo_argmax (const double *v, size_t n);

/* ---- the template's own plumbing ------------------------------------ */

/* Defines the template's API table and rafiki_model (), the one symbol a
   template exports. The template names its functions s_create, s_train,
   s_evaluate, s_predict, s_dump, s_load and s_destroy, and its knobs
   s_knobs. */
#define RFK_ZOO_TEMPLATE(name_, task_)                                                             \
    static const rafiki_model_api_t s_api = {                                                      \
        .abi_version = RAFIKI_MODEL_ABI_VERSION,                                                   \
        .name = (name_),                                                                           \
        .task = (task_),                                                                           \
        .knobs = s_knobs,                                                                          \
        .n_knobs = sizeof s_knobs / sizeof s_knobs[0],                                             \
        .create = s_create,                                                                        \
        .train = s_train,                                                                          \
        .evaluate = s_evaluate,                                                                    \
        .predict = s_predict,                                                                      \
        .dump_params = s_dump,                                                                     \
        .load_params = s_load,                                                                     \
        .destroy = s_destroy,                                                                      \
    };                                                                                             \
    RFK_ZOO_EXPORT const rafiki_model_api_t *rafiki_model (void)                                   \
    {                                                                                              \
        return &s_api;                                                                             \
    }

/* -1 with "<name>: the model is not trained or loaded" unless trained. */
int
rfk_zoo_check_trained (bool trained, const char *name, char *err, size_t errlen);

/* Packs the head of a parameter map of n_keys keys in all: template (name),
   then version unless it is negative, then schema unless it is NULL. The
   template packs its own keys after it. */
int
rfk_zoo_params_pack_head (msgpack_packer *pk, size_t n_keys, const char *name, int64_t version,
                          const rfk_zoo_schema_t *schema);

/* Checks that params are name's (their template key) and, unless version
   is negative, of that version. -1 with a message naming whose they are. */
int
rfk_zoo_params_check (const msgpack_object *params, const char *name, int64_t version, char *err,
                      size_t errlen);

/* rfk_zoo_params_check, then reads the schema (yours to destroy). With
   need_classes, a schema without classes is refused. NULL with a message. */
rfk_zoo_schema_t *
rfk_zoo_params_open (const msgpack_object *params, const char *name, int64_t version,
                     bool need_classes, char *err, size_t errlen);

/* ---- classifiers over sparse rows (liblinear, libsvm) --------------- */

/* Writes the non-zero values of row (n values) as a library's sparse nodes
   into out, with what the library adds (a bias node, the end marker), and
   returns the nodes written. */
typedef size_t (*rfk_zoo_nodes_fn) (const double *row, size_t n, void *out);

/* A dataset as sparse rows, the way liblinear and libsvm take it. */
typedef struct {
    size_t n;       /* rows */
    void *space;    /* every row's nodes, row after row */
    size_t *start;  /* n: the index in space of each row's first node */
    double *labels; /* n: each row's class label */
} rfk_zoo_sparse_t;

/* What the shared train, evaluate and predict need to know of a template
   whose library classifies sparse rows one at a time. */
typedef struct {
    const char *name;       /* the template's name, for messages */
    const char *task;       /* the task it trains for */
    const char *library;    /* "liblinear", for messages */
    size_t max_features;    /* most features the library takes */
    size_t max_rows;        /* most rows it takes */
    size_t node_size;       /* bytes of one node */
    size_t extra_nodes;     /* nodes per row beside its non-zero values */
    rfk_zoo_nodes_fn nodes; /* writes one row's nodes */
    /* Trains on rows and makes the result the model's, with schema (which
       it takes on success). */
    int (*fit) (void *model, const rfk_zoo_sparse_t *rows, rfk_zoo_schema_t *schema,
                rafiki_context_t *ctx, char *err, size_t errlen);
    /* The trained model's schema; NULL before it is trained or loaded. */
    rfk_zoo_schema_t *(*schema) (void *model);
    /* Writes the class probabilities of one row of scaled values (schema
       n_features) into probs (n_classes values, indexed by class). */
    void (*probs) (void *model, const double *row, double *probs);
} rfk_zoo_sparse_classifier_t;

/* train, evaluate (accuracy) and predict (probability vectors, a query
   error for a query that cannot be read) for such a template. train reads
   at most max_rows training rows (0: all); with early_stop it fits in
   stages on growing shares of the rows, reporting held-out accuracy (on
   fewer rows with quick_eval; see zoo_rows.c). */
int
rfk_zoo_sparse_train (const rfk_zoo_sparse_classifier_t *c, void *model, const char *path,
                      const rafiki_args_t *args, size_t max_rows, bool early_stop, bool quick_eval,
                      rafiki_context_t *ctx, char *err, size_t errlen);
int
rfk_zoo_sparse_evaluate (const rfk_zoo_sparse_classifier_t *c, void *model, const char *path,
                         double *score, char *err, size_t errlen);
int
rfk_zoo_sparse_predict (const rfk_zoo_sparse_classifier_t *c, void *model,
                        const msgpack_object *queries, msgpack_packer *out, char *err,
                        size_t errlen);

/* RFK_ZOO_TEMPLATE for such a template: its s_train, s_evaluate and
   s_predict are the shared ones over `classifier_`; training reads as many
   rows as the model's field `rows_knob_` says (0: all), with the policies
   of its fields early_stop and quick_eval. */
#define RFK_ZOO_SPARSE_TEMPLATE(name_, task_, classifier_, rows_knob_)                             \
    static int s_train (void *model, const char *path, const rafiki_args_t *args,                  \
                        const msgpack_object *shared_params, rafiki_context_t *ctx, char *err,     \
                        size_t errlen)                                                             \
    {                                                                                              \
        (void)shared_params;                                                                       \
        const s_model_t *self_ = model;                                                            \
        return rfk_zoo_sparse_train (&(classifier_), model, path, args, (size_t)self_->rows_knob_, \
                                     self_->early_stop, self_->quick_eval, ctx, err, errlen);      \
    }                                                                                              \
    static int s_evaluate (void *model, const char *path, double *score, char *err, size_t errlen) \
    {                                                                                              \
        return rfk_zoo_sparse_evaluate (&(classifier_), model, path, score, err, errlen);          \
    }                                                                                              \
    static int s_predict (void *model, const msgpack_object *queries, msgpack_packer *out,         \
                          char *err, size_t errlen)                                                \
    {                                                                                              \
        return rfk_zoo_sparse_predict (&(classifier_), model, queries, out, err, errlen);          \
    }                                                                                              \
    RFK_ZOO_TEMPLATE (name_, task_)

/* ---- a tiny deterministic PRNG (splitmix64) ------------------------- */

uint64_t
rfk_zoo_rand (uint64_t *state);
/* Uniform in [0, 1). */
double
rfk_zoo_rand_unit (uint64_t *state);
/* Fisher-Yates shuffle of n indices. */
void
rfk_zoo_shuffle (size_t *idx, size_t n, uint64_t *state);

#endif
