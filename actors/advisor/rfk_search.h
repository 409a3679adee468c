/*  rfk_search.h: the search of one sub train job, as the advisor runs it.

    The tuning library (tune/, rfk_tune.h) behind what the advisor asks:
    rfk_search_new reads the job (the model's knob table, as admin stored
    it at upload and sent in the ServiceConfig, with the job's fixed knobs
    made FIXED; the advisor never loads a template, the tuner of train arg `advisor`, the budget,
    EARLY_STOP, QUICK_EVAL and SHARE_PARAMS as the template and the train
    args allow);
    rfk_search_next proposes (a tuner's knobs, where the parameters come
    from, the policies switched on), rfk_search_observe learns how a trial
    ended and rfk_search_prune runs ASHA over progress reports.

    The advisor keeps the trials; the search sees only their numbers, knobs
    and scores.
*/
#ifndef RFK_SEARCH_H_INCLUDED
#define RFK_SEARCH_H_INCLUDED

#include <jansson.h>
#include <rafiki/model.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rfk_states.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _rfk_search_t rfk_search_t;

/* The search a sub job asks for: model's (its name, for messages) knob
   table knobs (the array rfk_knob_table_to_json makes; every entry is
   checked) with fixed_knobs ({knob: value}, or NULL) made FIXED, the
   tuner, budget and policies of budget and train_args. share_params_ratio
   (config advisor.share_params_ratio, in [0, 1]) is the share of trials
   started from shared parameters once a trial has some, unless train arg
   share_params_ratio says otherwise. The clock of TIME_HOURS starts now.
   NULL with the reason in err. */
rfk_search_t *
rfk_search_new (const char *model, const json_t *knobs, const json_t *budget,
                const json_t *train_args, const json_t *fixed_knobs, double share_params_ratio,
                char *err, size_t errlen);
/* Safe twice. */
void
rfk_search_destroy (rfk_search_t **self_p);

/* The next trial's knob values as JSON (every knob of the table, the
   policies switched on, their names appended to policies) and where its
   parameters come from (*source: NONE, BEST or LATEST; never NONE ->
   something when can_share is false: no trial has parameters to give).
   Policies: EARLY_STOP whenever the template and job have it; QUICK_EVAL
   with it (the progress scores ASHA's rungs compare are taken on a subset);
   SHARE_PARAMS on the share of the proposals that could share that the
   ratio says, spread evenly.
   proposed: how many trials were proposed before (unused since sharing
   goes by the share of trials, not the budget spent). NULL when the tuner has
   nothing left to propose. The caller owns the result. */
json_t *
rfk_search_next (rfk_search_t *self, int64_t proposed, bool can_share, json_t *policies,
                 rfk_params_source_t *source);
/* Trial no (with those knobs) ended with score (not finite: it gave none):
   the tuner learns it. Call once per trial. */
void
rfk_search_observe (rfk_search_t *self, uint32_t no, const json_t *knobs, double score);
/* A progress report of trial no: true to prune it (ASHA, only with
   EARLY_STOP), with the reason in reason. */
bool
rfk_search_prune (rfk_search_t *self, uint32_t no, int64_t step, double score, char *reason,
                  size_t reason_size);

/* An earlier process of the advisor proposed `proposed` trials of this
   search (their outcomes come through rfk_search_observe) and the search
   began elapsed_ms ago (<= 0: unknown, the clock starts now): the fixed
   tuner, which proposes once, has nothing left to propose after one, and
   TIME_HOURS counts from the search's real beginning. */
void
rfk_search_resumed (rfk_search_t *self, int64_t proposed, int64_t elapsed_ms);

/* Why no more trials may be proposed after proposed, or NULL while the
   budget lasts. */
const char *
rfk_search_spent (rfk_search_t *self, int64_t proposed);
/* When TIME_HOURS runs out (zclock_mono ms), -1: never. */
int64_t
rfk_search_deadline (rfk_search_t *self);
/* The trial whose parameters are shared: BEST or LATEST. */
rfk_params_source_t
rfk_search_params_source (rfk_search_t *self);
/* The tuner's name ("gp", "random", ...). */
const char *
rfk_search_tuner_name (rfk_search_t *self);
/* The model's name. */
const char *
rfk_search_model (rfk_search_t *self);
/* One line for the log: tuner, budget, policies. Written into buf. */
const char *
rfk_search_describe (rfk_search_t *self, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
