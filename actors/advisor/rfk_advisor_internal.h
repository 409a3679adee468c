/*  rfk_advisor_internal.h: what the advisor actor (rfk_advisor.c) shares
    with its resume module (rfk_advisor_resume.c): a trial as the advisor
    keeps it, and how an advisor that starts again takes up its sub train
    job. Not for other modules.
*/
#ifndef RFK_ADVISOR_INTERNAL_H_INCLUDED
#define RFK_ADVISOR_INTERNAL_H_INCLUDED

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "rfk_search.h"
#include "rfk_states.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One trial of the sub job: proposed by this advisor, or by an earlier
   process of it (resumed). */
typedef struct {
    uint32_t no;            /* trial number in the sub job, from 1 */
    char *id;               /* trial id (admin's, or made here); NULL while being created */
    json_t *knobs;          /* the knob values proposed */
    json_t *policies;       /* the policies switched on, an array of names */
    char *shared_params;    /* params file the trial starts from, or NULL */
    char *worker;           /* key or name of the trainer holding it, or NULL */
    double score;           /* COMPLETED: its score; PRUNED: the last score */
    char *error;            /* why it ERRORED or was PRUNED */
    char *params_path;      /* the parameters the trainer saved, or NULL */
    int64_t steps;          /* progress reports received */
    int64_t last_step;      /* the last progress report's step */
    double last_score;      /* and its score */
    bool observed;          /* the tuner heard how it ended */
    uint64_t progress_corr; /* correlation of the last Progress answered */
    bool progress_pruned;   /* what it was answered */
    bool resumed;           /* from the ServiceConfig: an earlier process proposed it */
    int64_t claim_deadline; /* resumed and open: given up at (zclock_mono ms) unless its
                               trainer reports first; 0 when claimed or not resumed */
    /* where the trial is */
    rfk_trial_status_t status;
    /* where its parameters come from */
    rfk_params_source_t params_source;
} rfk_advisor_trial_t;

/* Frees a trial (a zlistx destructor); safe twice. */
void
rfk_advisor_trial_destroy (void **item_p);

/* Takes up the sub job where an earlier process of this advisor left it:
   past_trials (ServiceConfig's, an array of PastTrial objects, or NULL)
   become trials of the list (which must be empty), in number order. The
   finished ones are observed by the search (a score, or a failure) and
   count against the budget; the open ones (PENDING, RUNNING) stay in
   flight until their trainer reports on them, or claim_ms from now. *next_no
   becomes the number after the highest in use (last_trial_no included);
   the search's TIME_HOURS clock goes on from elapsed_s (the sub job's age;
   not finite: it starts now). Malformed entries are skipped with a
   warning. Returns how many trials were resumed. */
size_t
rfk_advisor_resume (zlistx_t *trials, rfk_search_t *search, const json_t *past_trials,
                    uint32_t last_trial_no, double elapsed_s, int64_t claim_ms, uint32_t *next_no);

/* The resumed trial numbered no that is still open and that no trainer
   claimed yet, or NULL. */
rfk_advisor_trial_t *
rfk_advisor_resume_unclaimed (zlistx_t *trials, uint32_t no);
/* A trainer reports on a resumed trial: it is its own from now on. */
void
rfk_advisor_resume_claim (rfk_advisor_trial_t *trial, const char *worker);
/* A resumed PENDING trial that no trainer started (its proposal went
   unanswered when the earlier process died): the next Ready gets it. NULL
   when there is none. */
rfk_advisor_trial_t *
rfk_advisor_resume_unplaced (zlistx_t *trials);
/* The resumed open trial of trainer worker that no trainer claimed, or
   NULL: a trainer that says Ready with that name no longer holds it (it
   started again). */
rfk_advisor_trial_t *
rfk_advisor_resume_of_worker (zlistx_t *trials, const char *worker);
/* The nearest claim deadline of the resumed open trials, -1 when none. */
int64_t
rfk_advisor_resume_deadline (zlistx_t *trials);
/* A resumed open trial whose claim deadline passed at now, or NULL. */
rfk_advisor_trial_t *
rfk_advisor_resume_expired (zlistx_t *trials, int64_t now);

#ifdef __cplusplus
}
#endif

#endif
