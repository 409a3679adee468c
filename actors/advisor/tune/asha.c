/*  asha.c: asynchronous successive halving (Li et al. 2018) as a pruner.

    Rung k sits at step min_resource * eta^k. A trial that reaches a rung
    records its score there and goes on only if the score is among the best
    1/eta of the scores recorded at that rung so far; while a rung holds
    fewer than eta scores, only a new best goes on (Optuna's rule for
    trials that cannot be paused and resumed). Rungs fill asynchronously as
    trials report, so no trial waits for another. */
#include "tune_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The scores recorded at one rung. */
typedef struct {
    double *scores; /* recorded scores */
    size_t n;       /* how many */
    size_t cap;     /* allocated */
} s_rung_t;

/* What the pruner knows of one trial. */
typedef struct {
    int64_t id;  /* the trial */
    size_t next; /* the next rung it has not reached */
    bool pruned; /* told to stop */
} s_trial_t;

struct rfk_asha {
    double min_resource; /* step of rung 0 */
    double eta;          /* reduction factor */
    double max_resource; /* no rung at or past it; 0 for none */
    s_rung_t *rungs;     /* rungs with scores */
    size_t n_rungs;      /* how many */
    s_trial_t *trials;   /* trials seen */
    size_t n_trials;     /* how many */
    size_t cap_trials;   /* allocated */
};

rfk_asha_t *
rfk_asha_new (double min_resource, double eta, double max_resource)
{
    if (!(min_resource > 0) || !isfinite (min_resource) || !(eta >= 2) || !isfinite (eta) ||
        !(max_resource >= 0))
        return NULL;
    rfk_asha_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->min_resource = min_resource;
    self->eta = eta;
    self->max_resource = max_resource;
    return self;
}

void
rfk_asha_destroy (rfk_asha_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_asha_t *self = *self_p;
    for (size_t k = 0; k < self->n_rungs; k++)
        free (self->rungs[k].scores);
    free (self->rungs);
    free (self->trials);
    free (self);
    *self_p = NULL;
}

/* The trial's record, made on first sight; NULL when out of memory. */
static s_trial_t *
s_trial (rfk_asha_t *self, int64_t id)
{
    for (size_t i = 0; i < self->n_trials; i++)
        if (self->trials[i].id == id)
            return &self->trials[i];
    if (self->n_trials == self->cap_trials) {
        size_t cap = self->cap_trials ? 2 * self->cap_trials : 16;
        s_trial_t *t = realloc (self->trials, cap * sizeof *t);
        if (!t)
            return NULL;
        self->trials = t;
        self->cap_trials = cap;
    }
    self->trials[self->n_trials] = (s_trial_t){id, 0, false};
    return &self->trials[self->n_trials++];
}

/* Records score at rung k, making the rung if needed. */
static int
s_record (rfk_asha_t *self, size_t k, double score)
{
    if (k >= self->n_rungs) {
        s_rung_t *r = realloc (self->rungs, (k + 1) * sizeof *r);
        if (!r)
            return -1;
        memset (&r[self->n_rungs], 0, (k + 1 - self->n_rungs) * sizeof *r);
        self->rungs = r;
        self->n_rungs = k + 1;
    }
    s_rung_t *rung = &self->rungs[k];
    if (rung->n == rung->cap) {
        size_t cap = rung->cap ? 2 * rung->cap : 16;
        double *s = realloc (rung->scores, cap * sizeof *s);
        if (!s)
            return -1;
        rung->scores = s;
        rung->cap = cap;
    }
    rung->scores[rung->n++] = score;
    return 0;
}

/* True when score is among the best n / eta of rung k (at least the best). */
static bool
s_promotable (const rfk_asha_t *self, size_t k, double score)
{
    const s_rung_t *rung = &self->rungs[k];
    size_t keep = (size_t)floor ((double)rung->n / self->eta);
    if (keep == 0)
        keep = 1;
    size_t better = 0;
    for (size_t i = 0; i < rung->n; i++)
        if (rung->scores[i] > score)
            better++;
    return better < keep;
}

rfk_asha_decision_t
rfk_asha_report (rfk_asha_t *self, int64_t trial, double step, double score)
{
    s_trial_t *t = s_trial (self, trial);
    if (!t)
        return RFK_ASHA_CONTINUE; /* out of memory: never prune by accident */
    if (t->pruned)
        return RFK_ASHA_PRUNE;
    if (!isfinite (score))
        score = -INFINITY;
    for (;;) {
        double at = self->min_resource * pow (self->eta, (double)t->next);
        if (!(step >= at) || (self->max_resource > 0 && at >= self->max_resource))
            break;
        size_t k = t->next++;
        if (s_record (self, k, score))
            return RFK_ASHA_CONTINUE;
        if (!s_promotable (self, k, score)) {
            t->pruned = true;
            return RFK_ASHA_PRUNE;
        }
    }
    return RFK_ASHA_CONTINUE;
}

size_t
rfk_asha_rungs (const rfk_asha_t *self)
{
    return self->n_rungs;
}

size_t
rfk_asha_rung_size (const rfk_asha_t *self, size_t k)
{
    return k < self->n_rungs ? self->rungs[k].n : 0;
}
