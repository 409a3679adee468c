/*  rfk_random_search: proposes knob values for trials at random.

    Samples every knob of a template's knob table independently: FLOAT
    uniformly in [min, max], or log-uniformly when log_scale (min > 0);
    INTEGER uniformly among the whole numbers in [min, max], or when
    log_scale (min >= 1) value v with the weight of [log v, log (v + 1)),
    so that half the draws fall below the geometric middle; a log-scale
    range below those minimums is refused. CATEGORICAL one of its values; FIXED its
    value; POLICY off. Knobs fixed by the user (rafiki model test --knob
    name=value) keep their value in every proposal. The same seed gives the
    same proposals. The advisor's model-based searches live elsewhere; this is
    the baseline they are measured against and what `rafiki model test` uses.
*/
#ifndef RFK_RANDOM_SEARCH_H_INCLUDED
#define RFK_RANDOM_SEARCH_H_INCLUDED

#include <rafiki/model.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rfk_random_search rfk_random_search_t;

/* A search over the knob table (borrowed: it must outlive the search).
   NULL with a message in err when the table cannot be sampled (a
   CATEGORICAL knob without values, bounds with min > max or not finite). */
rfk_random_search_t *
rfk_random_search_new (const rafiki_knob_t *knobs, size_t n_knobs, uint64_t seed, char *err,
                       size_t errlen);

/* Free the search; safe with NULL and twice. */
void
rfk_random_search_destroy (rfk_random_search_t **self_p);

/* Fix knob `name` to `value`, written as text: a number for INTEGER and
   FLOAT (within the bounds), one of the values for CATEGORICAL, true/false
   (on/off, 1/0, yes/no) for POLICY, the knob's own value for FIXED. -1 with
   a message naming the knob when it is unknown or the value does not fit. */
int
rfk_random_search_fix (rfk_random_search_t *self, const char *name, const char *value, char *err,
                       size_t errlen);

/* Parse "name=value" and fix it (see rfk_random_search_fix). */
int
rfk_random_search_fix_assignment (rfk_random_search_t *self, const char *assignment, char *err,
                                  size_t errlen);

/* The next proposal: one value per knob, in table order. Borrowed: valid
   until the next call or the search's end. */
const rafiki_knobs_t *
rfk_random_search_next (rfk_random_search_t *self);

/* Write knob values as "name=value name=value ..." into buf (truncated to
   buflen). Returns buf. */
char *
rfk_knobs_format (const rafiki_knobs_t *knobs, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif

#endif
