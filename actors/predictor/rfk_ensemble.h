/*  rfk_ensemble.h: how the predictor combines the answers of several
    members (trials) to one query.

    The ensemble comes from the task: the mean of probability vectors
    (IMAGE_CLASSIFICATION, TABULAR_CLASSIFICATION; a member that knows fewer
    classes counts 0 for the others), the mean (TABULAR_REGRESSION), the
    per-token majority (POS_TAGGING; a tie goes to the earliest member), the
    first answer otherwise, or when the answers do not have the task's shape.
    Answers are msgpack spans as the members sent them; a lone answer is
    passed through byte for byte. A query no member could answer gets a
    per-query error (msgpack ext RFK_MSGPACK_EXT_ERROR) in its place.
*/
#ifndef RFK_ENSEMBLE_H_INCLUDED
#define RFK_ENSEMBLE_H_INCLUDED

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How answers of several members are combined. */
typedef enum {
    RFK_ENSEMBLE_FIRST,    /* the first member's answer */
    RFK_ENSEMBLE_MEAN_VEC, /* element-wise mean of probability vectors */
    RFK_ENSEMBLE_MEAN,     /* mean of numbers */
    RFK_ENSEMBLE_MAJORITY  /* per-position majority of arrays of strings */
} rfk_ensemble_t;

/* One member's answer to one query: a msgpack object, borrowed. */
typedef struct {
    const unsigned char *data; /* its bytes */
    size_t size;               /* how many */
} rfk_ensemble_span_t;

/* The ensemble a task calls for (RAFIKI_TASK_* names); FIRST for NULL or
   an unknown task. */
rfk_ensemble_t
rfk_ensemble_of_task (const char *task);

/* The answer to one query (malloc'd msgpack, *size_p its bytes; NULL only
   out of memory), from the k answers that are not errors (spans), the first
   per-query error a member answered instead (error_span, or NULL), and why
   a member failed (error, or NULL): the ensemble of the answers when k >= 2
   and they have its shape, else the first answer, else the member's error
   span, else a per-query error saying error (or that nobody answered). */
char *
rfk_ensemble_answer (rfk_ensemble_t mode, const rfk_ensemble_span_t *spans, size_t k,
                     const rfk_ensemble_span_t *error_span, const char *error, size_t *size_p);

/* A per-query error (msgpack ext RFK_MSGPACK_EXT_ERROR with message as its
   body), malloc'd, *size_p its bytes; NULL out of memory. */
char *
rfk_ensemble_error_new (const char *message, size_t *size_p);

#ifdef __cplusplus
}
#endif

#endif
