/*  rfk_advisor_resume.c: an advisor that starts again takes up its sub
    train job where its earlier process left it (rfk_advisor_internal.h).

    An advisor dies (a crash, SIGKILL) and the local launcher starts it
    again at the endpoint it reported, where its trainers are still
    connected; or swarm moves it to another node when its node is drained.
    Either way the new process knows nothing but its ServiceConfig, whose
    past_trials admin fills from the store: every trial of the sub job so
    far (the latest RFK_PAST_TRIALS_MAX by number, every open one and the
    best COMPLETED one) and the highest trial number in use. From them:

    - the finished trials (COMPLETED, PRUNED, ERRORED) are observed by the
      tuner as rfk_advisor.c observes a Result (a score, a pruned trial's
      last score, or a failure), keep their parameters for SHARE_PARAMS,
      and count against MODEL_TRIAL_COUNT;
    - trial numbers go on after the highest in use, never reused;
    - the open ones stay in flight: a RUNNING trial waits for its trainer,
      whose Progress and Result the actor accepts from whichever peer sends
      them (rfk_advisor_resume_unclaimed / _claim), and counts once; a
      PENDING one (its proposal was lost with the earlier process) goes to
      the next trainer that says Ready (rfk_advisor_resume_unplaced); an
      open trial whose trainer says Ready under its name (it started again)
      or that nobody claims within the claim time (a trial's timeout plus
      the bus's retries) ends ERRORED, as a silent trainer's does.

    TIME_HOURS counts from the sub job's start (the ServiceConfig's
    elapsed_s), not from the new process's. What is not carried over:
    ASHA's rungs (pruning starts from the trials that report from now on)
    and the GP's pending points of the open trials.
*/
#include "rfk_advisor_internal.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rfk_bodies.h"
#include "rfk_log.h"

#define S_LOG "advisor"

void
rfk_advisor_trial_destroy (void **item_p)
{
    rfk_advisor_trial_t *trial = (rfk_advisor_trial_t *)*item_p;
    if (!trial)
        return;
    free (trial->id);
    json_decref (trial->knobs);
    json_decref (trial->policies);
    free (trial->shared_params);
    free (trial->worker);
    free (trial->error);
    free (trial->params_path);
    free (trial);
    *item_p = NULL;
}

static bool
s_open (const rfk_advisor_trial_t *trial)
{
    return trial->status == RFK_TRIAL_PENDING || trial->status == RFK_TRIAL_RUNNING;
}

static int
s_by_number (const void *a, const void *b)
{
    uint32_t left = ((const rfk_past_trial_t *)a)->trial_no;
    uint32_t right = ((const rfk_past_trial_t *)b)->trial_no;
    return left < right ? -1 : left > right;
}

/* A trial from a PastTrial entry, or NULL when out of memory. */
static rfk_advisor_trial_t *
s_trial_from (const rfk_past_trial_t *past, int64_t claim_deadline)
{
    rfk_advisor_trial_t *trial = (rfk_advisor_trial_t *)calloc (1, sizeof *trial);
    if (!trial)
        return NULL;
    trial->no = past->trial_no;
    trial->id = strdup (past->trial_id);
    trial->knobs = past->knobs ? json_deep_copy (past->knobs) : json_object ();
    trial->policies = past->policies ? json_deep_copy (past->policies) : json_array ();
    trial->worker = past->worker_id && *past->worker_id ? strdup (past->worker_id) : NULL;
    trial->status = past->status;
    bool scored = past->status == RFK_TRIAL_COMPLETED || past->status == RFK_TRIAL_PRUNED;
    trial->score = scored ? past->score : NAN;
    trial->last_score = NAN;
    trial->params_path =
        past->status == RFK_TRIAL_COMPLETED && past->params_path && *past->params_path
            ? strdup (past->params_path)
            : NULL;
    trial->params_source = RFK_PARAMS_NONE;
    trial->resumed = true;
    trial->claim_deadline = s_open (trial) ? claim_deadline : 0;
    if (!trial->id || !trial->knobs || !trial->policies) {
        void *item = trial;
        rfk_advisor_trial_destroy (&item);
    }
    return trial;
}

/* Whether a PastTrial entry can be taken up; a warning when not. */
static bool
s_usable (const rfk_past_trial_t *past, size_t index)
{
    const char *why = !past->trial_no                       ? "no trial number"
                      : !past->trial_id || !*past->trial_id ? "no trial id"
                      : !past->status                       ? "no known status"
                                                            : NULL;
    if (why)
        rfk_log_warning (S_LOG, "RFK-MALFORMED past-trial index=%zu reason=\"%s\": skipped", index,
                         why);
    return why == NULL;
}

/* Whether a resumed trial waits for its trainer to report: open, named
   trainer (RUNNING), unclaimed. A PENDING one nobody started waits for the
   next Ready instead, however long that takes. */
static bool
s_waits_for_claim (const rfk_advisor_trial_t *trial)
{
    return trial->resumed && trial->claim_deadline && s_open (trial) && trial->worker;
}

size_t
rfk_advisor_resume (zlistx_t *trials, rfk_search_t *search, const json_t *past_trials,
                    uint32_t last_trial_no, double elapsed_s, int64_t claim_ms, uint32_t *next_no)
{
    assert (zlistx_size (trials) == 0);
    size_t count = json_array_size (past_trials);
    rfk_past_trial_t *pasts = count ? (rfk_past_trial_t *)calloc (count, sizeof *pasts) : NULL;
    size_t usable = 0;
    rfk_service_config_t view = {.past_trials = (json_t *)past_trials};
    for (size_t index = 0; pasts && index < count; index++)
        if (rfk_past_trial_read (&view, index, &pasts[usable]) == 0 &&
            s_usable (&pasts[usable], index))
            usable++;
    if (usable > 1)
        qsort (pasts, usable, sizeof *pasts, s_by_number);
    uint32_t highest = last_trial_no;
    size_t resumed = 0, open = 0, finished = 0;
    int64_t deadline = zclock_mono () + claim_ms;
    for (size_t index = 0; index < usable; index++) {
        const rfk_past_trial_t *past = &pasts[index];
        if (index > 0 && past->trial_no == pasts[index - 1].trial_no)
            continue; /* one trial per number */
        rfk_advisor_trial_t *trial = s_trial_from (past, deadline);
        if (!trial)
            break;
        if (rfk_trial_status_is_final (trial->status)) {
            /* As rfk_advisor.c's s_search_observe: once, a pruned trial's
               last score as a score, an ERRORED one as a failure. */
            trial->observed = true;
            if (past->knobs)
                rfk_search_observe (search, trial->no, trial->knobs,
                                    trial->status == RFK_TRIAL_ERRORED ? NAN : trial->score);
            finished++;
        } else
            open++;
        zlistx_add_end (trials, trial);
        if (trial->no > highest)
            highest = trial->no;
        resumed++;
    }
    free (pasts);
    if (highest > 0) {
        *next_no = highest + 1;
        bool aged = isfinite (elapsed_s) && elapsed_s > 0 && elapsed_s < 1e9;
        rfk_search_resumed (search, (int64_t)highest, aged ? (int64_t)(elapsed_s * 1000) : 0);
        rfk_log_notice (S_LOG,
                        "resumed trials=%zu finished=%zu open=%zu last-trial-no=%u elapsed-s=%.0f "
                        "(an earlier process of this advisor ran them)",
                        resumed, finished, open, highest, aged ? elapsed_s : 0);
    }
    return resumed;
}

rfk_advisor_trial_t *
rfk_advisor_resume_unclaimed (zlistx_t *trials, uint32_t no)
{
    for (rfk_advisor_trial_t *trial = (rfk_advisor_trial_t *)zlistx_first (trials); trial;
         trial = (rfk_advisor_trial_t *)zlistx_next (trials))
        if (trial->no == no)
            return trial->resumed && s_open (trial) && trial->claim_deadline ? trial : NULL;
    return NULL;
}

void
rfk_advisor_resume_claim (rfk_advisor_trial_t *trial, const char *worker)
{
    trial->claim_deadline = 0;
    if (worker && (!trial->worker || strcmp (trial->worker, worker) != 0)) {
        free (trial->worker);
        trial->worker = strdup (worker);
    }
    rfk_log_info (S_LOG, "trial-resumed trial=%u id=%s worker=%s: a trainer holds it again",
                  trial->no, trial->id, trial->worker ? trial->worker : "-");
}

rfk_advisor_trial_t *
rfk_advisor_resume_unplaced (zlistx_t *trials)
{
    for (rfk_advisor_trial_t *trial = (rfk_advisor_trial_t *)zlistx_first (trials); trial;
         trial = (rfk_advisor_trial_t *)zlistx_next (trials))
        if (trial->resumed && trial->claim_deadline && trial->status == RFK_TRIAL_PENDING &&
            !trial->worker)
            return trial;
    return NULL;
}

rfk_advisor_trial_t *
rfk_advisor_resume_of_worker (zlistx_t *trials, const char *worker)
{
    if (!worker)
        return NULL;
    for (rfk_advisor_trial_t *trial = (rfk_advisor_trial_t *)zlistx_first (trials); trial;
         trial = (rfk_advisor_trial_t *)zlistx_next (trials))
        if (s_waits_for_claim (trial) && strcmp (trial->worker, worker) == 0)
            return trial;
    return NULL;
}

int64_t
rfk_advisor_resume_deadline (zlistx_t *trials)
{
    int64_t nearest = -1;
    for (rfk_advisor_trial_t *trial = (rfk_advisor_trial_t *)zlistx_first (trials); trial;
         trial = (rfk_advisor_trial_t *)zlistx_next (trials))
        if (s_waits_for_claim (trial) && (nearest < 0 || trial->claim_deadline < nearest))
            nearest = trial->claim_deadline;
    return nearest;
}

rfk_advisor_trial_t *
rfk_advisor_resume_expired (zlistx_t *trials, int64_t now)
{
    for (rfk_advisor_trial_t *trial = (rfk_advisor_trial_t *)zlistx_first (trials); trial;
         trial = (rfk_advisor_trial_t *)zlistx_next (trials))
        if (s_waits_for_claim (trial) && trial->claim_deadline <= now)
            return trial;
    return NULL;
}
