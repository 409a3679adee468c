/*  rfk_tune.h: the advisor's algorithms, a library without sockets.

    The advisor actor (one per sub train job) proposes knob values for
    trials and learns from their scores. Everything it decides lives here so
    it can be tested and benchmarked on its own:

    - rfk_space: a template's knob table as a search space. Tuned knobs
      (CATEGORICAL, INTEGER, FLOAT) map to a unit hypercube: FLOAT linearly
      or on a log scale, INTEGER to bins of equal width, CATEGORICAL to an
      index (one-hot for the Gaussian process). FIXED knobs are not tuned;
      POLICY knobs are switched on per proposal by the advisor.
    - rfk_tuner: propose () -> knob values as JSON {"name": value},
      observe (knobs, score) with higher scores better, fail (knobs) for a
      trial that produced no score. Kinds: random search, Gaussian-process
      Bayesian optimisation (Matérn 5/2, expected improvement), TPE, and
      FIXED (one trial, for templates whose knobs are all fixed).
    - rfk_asha: asynchronous successive halving, deciding from a trial's
      progress reports whether it goes on or is pruned.
    - rfk_budget: MODEL_TRIAL_COUNT and TIME_HOURS, the first reached ends
      the sub job.
    - parameter sharing: with a SHARE_PARAMS policy knob, where a trial's
      initial parameters come from (none, the best or the latest trial).

    Functions return 0 / -1 or NULL and, where they take err, write a
    message naming what was wrong (at most errlen bytes, NUL-terminated).
    Nothing here is thread-safe: each object belongs to one actor.
*/
#ifndef RFK_TUNE_H_INCLUDED
#define RFK_TUNE_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rafiki/model.h"
#include "rfk_states.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- space */

typedef struct rfk_space rfk_space_t;

/* The kind of one tuned knob. */
typedef enum {
    RFK_PARAM_FLOAT,       /* a real in [min, max] */
    RFK_PARAM_LOG_FLOAT,   /* a real in [min, max] on a log scale, min > 0 */
    RFK_PARAM_INTEGER,     /* an integer in [min, max] */
    RFK_PARAM_CATEGORICAL, /* one of n_choices values */
    RFK_PARAM_LOG_INTEGER, /* an integer in [min, max] on a log scale, min >= 1 */
} rfk_param_kind_t;

/* A search space from a template's knob table (checked with
   rfk_knob_table_check). The space copies what it needs. NULL on failure. */
rfk_space_t *
rfk_space_new (const rafiki_knob_t *knobs, size_t n_knobs, char *err, size_t errlen);

/* A search space from a knob table described as JSON, the array that
   rfk_knob_table_to_json makes. Every entry is checked. NULL on failure. */
rfk_space_t *
rfk_space_new_json (const json_t *table, char *err, size_t errlen);

/* Destroys the space; safe twice. Destroy tuners that use it first. */
void
rfk_space_destroy (rfk_space_t **self_p);

/* How many knobs are tuned (not FIXED, not POLICY). */
size_t
rfk_space_params (const rfk_space_t *self);

/* The name, kind and, for a categorical knob, the number of choices of
   tuned knob i (in table order). */
const char *
rfk_space_param_name (const rfk_space_t *self, size_t i);
rfk_param_kind_t
rfk_space_param_kind (const rfk_space_t *self, size_t i);
size_t
rfk_space_param_choices (const rfk_space_t *self, size_t i);

/* The number of coordinates of the one-hot encoding: one per numeric knob,
   one per choice of a categorical knob. */
size_t
rfk_space_dims (const rfk_space_t *self);

/* True when no knob is tuned (only FIXED and POLICY knobs). */
bool
rfk_space_only_fixed (const rfk_space_t *self);

/* True when the table has a POLICY knob for this policy. */
bool
rfk_space_has_policy (const rfk_space_t *self, rafiki_policy_t policy);

/* A point holds one double per tuned knob: a numeric knob's position in
   [0, 1], a categorical knob's choice index. rfk_space_to_json turns a
   point into knob values (new reference): every tuned knob, every FIXED
   knob at its value, every POLICY knob false. Positions are clamped to
   [0, 1] and indices to the choices. NULL on allocation failure. */
json_t *
rfk_space_to_json (const rfk_space_t *self, const double *point);

/* The point of knob values json (as rfk_space_to_json makes them, or any
   object with a valid value for every tuned knob; FIXED and POLICY knobs
   are ignored). -1 with a message naming the knob when one is missing, of
   the wrong type, out of range or not one of its choices. */
int
rfk_space_from_json (const rfk_space_t *self, const json_t *knobs, double *point, char *err,
                     size_t errlen);

/* Moves a point onto values knobs can take: integer knobs to the centre of
   their bin, categorical indices to a whole choice, positions into [0, 1]. */
void
rfk_space_snap (const rfk_space_t *self, double *point);

/* The one-hot encoding of a point: rfk_space_dims () coordinates in
   [0, 1]. */
void
rfk_space_encode (const rfk_space_t *self, const double *point, double *unit);

/* The point nearest a one-hot encoding (the largest coordinate of a
   categorical knob chooses it). */
void
rfk_space_decode (const rfk_space_t *self, const double *unit, double *point);

/* Sets each POLICY knob in knobs to whether its policy's bit
   (1u << policy) is in mask. -1 on allocation failure. */
int
rfk_space_set_policies (const rfk_space_t *self, json_t *knobs, unsigned mask);

/* ---------------------------------------------------------------- tuner */

typedef enum {
    RFK_TUNER_AUTO,   /* FIXED for only fixed knobs, else GP */
    RFK_TUNER_FIXED,  /* one trial with the fixed values */
    RFK_TUNER_RANDOM, /* uniform, log-uniform, uniform choices */
    RFK_TUNER_GP,     /* Gaussian-process Bayesian optimisation */
    RFK_TUNER_TPE,    /* tree-structured Parzen estimators */
} rfk_tuner_kind_t;

typedef struct rfk_tuner rfk_tuner_t;

/* Parses an advisor name as given in a job's train args (ADVISOR=...):
   "auto", "fixed", "random", "gp" (or "bayes_opt"), "tpe", in any case.
   -1 for an unknown name, with a message listing the known ones. */
int
rfk_tuner_kind_parse (const char *name, rfk_tuner_kind_t *kind, char *err, size_t errlen);

/* The name of a kind ("random", "gp", ...). */
const char *
rfk_tuner_kind_name (rfk_tuner_kind_t kind);

/* The kind the advisor runs for a space when asked for `asked`, as the
   original Rafiki chooses: a space with only fixed knobs gets FIXED,
   whatever was asked (there is nothing to tune); otherwise AUTO means GP. */
rfk_tuner_kind_t
rfk_tuner_kind_choose (const rfk_space_t *space, rfk_tuner_kind_t asked);

/* A tuner of the given kind over space (borrowed: it must outlive the
   tuner), seeded for reproducible proposals. NULL on failure. */
rfk_tuner_t *
rfk_tuner_new (rfk_tuner_kind_t kind, const rfk_space_t *space, uint64_t seed);

/* Destroys the tuner; safe twice. */
void
rfk_tuner_destroy (rfk_tuner_t **self_p);

/* The kind it runs (AUTO resolved). */
rfk_tuner_kind_t
rfk_tuner_kind (const rfk_tuner_t *self);

/* Knob values for the next trial (new reference; policy knobs false), or
   NULL when the tuner has nothing left to propose (FIXED after its one
   trial) or memory ran out. A proposal stays pending until observed or
   failed: the GP takes pending proposals into account so parallel trainers
   get different knobs. */
json_t *
rfk_tuner_propose (rfk_tuner_t *self);

/* True when propose () would return NULL for lack of anything to try. */
bool
rfk_tuner_exhausted (const rfk_tuner_t *self);

/* The score (higher is better, finite) of a trial with these knob values.
   -1 when the knobs do not fit the space or the score is not finite. */
int
rfk_tuner_observe (rfk_tuner_t *self, const json_t *knobs, double score, char *err, size_t errlen);

/* A trial with these knob values ended without a score (errored). The GP
   counts it as the worst score seen, TPE among the bad trials. */
int
rfk_tuner_fail (rfk_tuner_t *self, const json_t *knobs, char *err, size_t errlen);

/* Trials observed so far (scores and failures) and the best score (-inf
   before the first score). */
size_t
rfk_tuner_observed (const rfk_tuner_t *self);
double
rfk_tuner_best_score (const rfk_tuner_t *self);

/* ---------------------------------------------------- parameter sharing */

/* Where the next trial's parameters come from (rfk_params_source_t, in
   proto/rfk_states.h), as the original Rafiki's
   Bayesian optimisation with parameter sharing decides: NONE unless the
   space has a SHARE_PARAMS policy knob and a trial has a score; otherwise
   NONE with probability exp (-4 * progress), else `shared` (BEST or
   LATEST), where progress in [0, 1] is the part of the budget spent
   (rfk_budget_progress). Early trials explore from scratch, later ones
   build more and more on the best trial. (The advisor's search shares on
   a configured share of trials instead: actors/advisor/rfk_search.c.) */
rfk_params_source_t
rfk_tuner_params_source (rfk_tuner_t *self, double progress, rfk_params_source_t shared);

/* The policies to switch on for a proposal, as a mask of (1u << policy)
   bits, each only when the space has its POLICY knob: EARLY_STOP always
   (the advisor prunes by ASHA), SHARE_PARAMS when source is not NONE. */
unsigned
rfk_tuner_policies (const rfk_tuner_t *self, rfk_params_source_t source);

/* ----------------------------------------------------------------- ASHA */

typedef enum {
    RFK_ASHA_CONTINUE,
    RFK_ASHA_PRUNE,
} rfk_asha_decision_t;

typedef struct rfk_asha rfk_asha_t;

/* Asynchronous successive halving (Li et al. 2018) as a pruner: rung k sits
   at step min_resource * eta^k (k = 0, 1, ...); a trial reaching a rung
   records its score there and goes on only when it is among the best
   1/eta of the scores recorded at that rung so far (the first trials at a
   rung, fewer than eta, must be the best yet). max_resource > 0 caps the
   rungs: no rung at or past it (the trial is done by then); 0 for none.
   NULL when min_resource <= 0 or eta < 2. */
rfk_asha_t *
rfk_asha_new (double min_resource, double eta, double max_resource);

/* Destroys the pruner; safe twice. */
void
rfk_asha_destroy (rfk_asha_t **self_p);

/* A progress report: trial (any id) reached step with score (higher is
   better; a non-finite score counts as the worst). Continue or prune. A
   trial told to prune stays pruned for later reports. */
rfk_asha_decision_t
rfk_asha_report (rfk_asha_t *self, int64_t trial, double step, double score);

/* How many rungs have scores, and how many scores rung k holds. */
size_t
rfk_asha_rungs (const rfk_asha_t *self);
size_t
rfk_asha_rung_size (const rfk_asha_t *self, size_t k);

/* --------------------------------------------------------------- budget */

typedef struct {
    int64_t max_trials; /* MODEL_TRIAL_COUNT; -1 when not set */
    double time_hours;  /* TIME_HOURS; < 0 when not set */
} rfk_budget_t;

/* Reads MODEL_TRIAL_COUNT (a positive integer) and TIME_HOURS (a positive
   number) from a job's budget object; values may be numbers or numeric
   strings, other keys (GPU_COUNT...) are ignored. When neither is set,
   TIME_HOURS is 0.1, the original's default. -1 naming the bad value. */
int
rfk_budget_parse (const json_t *budget, rfk_budget_t *out, char *err, size_t errlen);

/* True when the budget is spent: `trials` trials were proposed or the
   sub job has run `elapsed_s` seconds past its time. */
bool
rfk_budget_spent (const rfk_budget_t *self, int64_t trials, double elapsed_s);

/* The part of the budget spent, in [0, 1]: the larger of the trial and
   time fractions. */
double
rfk_budget_progress (const rfk_budget_t *self, int64_t trials, double elapsed_s);

#ifdef __cplusplus
}
#endif

#endif
