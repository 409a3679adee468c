/*  rfk_model_check: what `rafiki model test` checks on a trained template.

    Sample queries are drawn from a dataset file (its first rows, images or
    sentences) and packed as the msgpack array a template's predict () takes;
    the predictions it packs are then checked for shape: one per query, and
    per task a probability vector summing to ~1 (classification), a finite
    number (regression), or one tag string per token (POS tagging).
*/
#ifndef RFK_MODEL_CHECK_H_INCLUDED
#define RFK_MODEL_CHECK_H_INCLUDED

#include <rafiki/model.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Pack up to max_queries queries read from the dataset at path (of the
   task's format; args give the tabular target and features columns) as one
   msgpack array into out, and their number into *count. -1 with a message
   naming the file when it cannot be read or the task is unknown. */
int
rfk_model_check_queries (const char *task, const char *path, const rafiki_args_t *args,
                         size_t max_queries, msgpack_sbuffer *out, size_t *count, char *err,
                         size_t errlen);

/* Check that predictions (what predict packed, size bytes) answer queries
   (a msgpack array) well for the task. -1 with a message saying which
   prediction is wrong and why. */
int
rfk_model_check_predictions (const char *task, const msgpack_object *queries,
                             const char *predictions, size_t size, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
