/*  tuner.c: the common face of the tuning algorithms.

    A tuner keeps the history of a sub job's trials (points and scores, or
    failures) and the proposals still pending, and asks its algorithm for
    the next point: random search here, the Gaussian process in gp.c, TPE
    in tpe.c, or the one trial of a template whose knobs are all fixed.
    It also decides, as the original Rafiki's advisor does, where a trial's
    shared parameters come from and which policies a proposal switches on. */
#include "tune_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    rfk_tuner_kind_t kind;
} s_kinds[] = {
    {"auto", RFK_TUNER_AUTO}, {"fixed", RFK_TUNER_FIXED},  {"random", RFK_TUNER_RANDOM},
    {"gp", RFK_TUNER_GP},     {"bayes_opt", RFK_TUNER_GP}, {"tpe", RFK_TUNER_TPE},
};

int
rfk_tuner_kind_parse (const char *name, rfk_tuner_kind_t *kind, char *err, size_t errlen)
{
    for (size_t i = 0; name && i < sizeof s_kinds / sizeof s_kinds[0]; i++)
        if (strcasecmp (name, s_kinds[i].name) == 0) {
            *kind = s_kinds[i].kind;
            return 0;
        }
    rfk_tune_errf (err, errlen, "unknown advisor '%s': use auto, random, gp or tpe",
                   name ? name : "");
    return -1;
}

const char *
rfk_tuner_kind_name (rfk_tuner_kind_t kind)
{
    switch (kind) {
        case RFK_TUNER_AUTO:
            return "auto";
        case RFK_TUNER_FIXED:
            return "fixed";
        case RFK_TUNER_RANDOM:
            return "random";
        case RFK_TUNER_GP:
            return "gp";
        case RFK_TUNER_TPE:
            return "tpe";
    }
    return "unknown";
}

rfk_tuner_kind_t
rfk_tuner_kind_choose (const rfk_space_t *space, rfk_tuner_kind_t asked)
{
    if (rfk_space_only_fixed (space))
        return RFK_TUNER_FIXED;
    if (asked == RFK_TUNER_AUTO || asked == RFK_TUNER_FIXED)
        return RFK_TUNER_GP;
    return asked;
}

/* The size of the random initial design of the model-based tuners: a
   handful of trials, more for more knobs. */
static size_t
s_init_size (const rfk_space_t *space)
{
    size_t n = space->n_params + 3;
    return n < 5 ? 5 : n > 10 ? 10 : n;
}

/* A Latin hypercube of n points: each numeric knob takes each of n strata
   once; categorical knobs cycle through their choices in random order. */
static double *
s_latin_hypercube (const rfk_space_t *space, rfk_rng_t *rng, size_t n)
{
    size_t d = space->n_params;
    double *points = calloc (n * d + 1, sizeof *points);
    size_t *perm = calloc (n + 1, sizeof *perm);
    if (!points || !perm) {
        free (points);
        free (perm);
        return NULL;
    }
    for (size_t j = 0; j < d; j++) {
        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        for (size_t i = n; i > 1; i--) {
            size_t k = rfk_rng_below (rng, i);
            size_t t = perm[i - 1];
            perm[i - 1] = perm[k];
            perm[k] = t;
        }
        const rfk_param_t *p = &space->params[j];
        for (size_t i = 0; i < n; i++) {
            if (p->kind == RFK_PARAM_CATEGORICAL)
                points[i * d + j] = (double)(perm[i] % p->n_choices);
            else
                points[i * d + j] = ((double)perm[i] + rfk_rng_uniform (rng)) / (double)n;
        }
    }
    for (size_t i = 0; i < n; i++)
        rfk_space_snap (space, &points[i * d]);
    free (perm);
    return points;
}

rfk_tuner_t *
rfk_tuner_new (rfk_tuner_kind_t kind, const rfk_space_t *space, uint64_t seed)
{
    if (!space)
        return NULL;
    rfk_tuner_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->kind = rfk_tuner_kind_choose (space, kind);
    self->space = space;
    self->best = -INFINITY;
    rfk_rng_seed (&self->rng, seed);
    if (self->kind == RFK_TUNER_GP || self->kind == RFK_TUNER_TPE) {
        self->n_init = s_init_size (space);
        if (!(self->init = s_latin_hypercube (space, &self->rng, self->n_init)))
            goto fail;
    }
    if (self->kind == RFK_TUNER_GP && !(self->gp = rfk_gp_new (space)))
        goto fail;
    if (self->kind == RFK_TUNER_TPE && !(self->tpe = rfk_tpe_new (space)))
        goto fail;
    return self;
fail:
    rfk_tuner_destroy (&self);
    return NULL;
}

void
rfk_tuner_destroy (rfk_tuner_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_tuner_t *self = *self_p;
    for (size_t i = 0; i < self->n_trials; i++)
        free (self->trials[i].point);
    free (self->trials);
    free (self->pending);
    free (self->init);
    rfk_gp_destroy (&self->gp);
    rfk_tpe_destroy (&self->tpe);
    free (self);
    *self_p = NULL;
}

rfk_tuner_kind_t
rfk_tuner_kind (const rfk_tuner_t *self)
{
    return self->kind;
}

bool
rfk_tuner_exhausted (const rfk_tuner_t *self)
{
    return self->kind == RFK_TUNER_FIXED && self->n_proposed >= 1;
}

/* Remembers a proposal as pending. */
static int
s_add_pending (rfk_tuner_t *self, const double *point)
{
    size_t d = self->space->n_params;
    if (self->n_pending == self->cap_pending) {
        size_t cap = self->cap_pending ? 2 * self->cap_pending : 8;
        double *p = realloc (self->pending, (cap * d + 1) * sizeof *p);
        if (!p)
            return -1;
        self->pending = p;
        self->cap_pending = cap;
    }
    memcpy (&self->pending[self->n_pending * d], point, d * sizeof *point);
    self->n_pending++;
    return 0;
}

/* Forgets the pending proposal at point, if there is one. */
static void
s_drop_pending (rfk_tuner_t *self, const double *point)
{
    size_t d = self->space->n_params;
    for (size_t i = 0; i < self->n_pending; i++) {
        double dist = 0;
        for (size_t j = 0; j < d; j++)
            dist += fabs (self->pending[i * d + j] - point[j]);
        if (dist < 1e-9) {
            memmove (&self->pending[i * d], &self->pending[(i + 1) * d],
                     (self->n_pending - i - 1) * d * sizeof *point);
            self->n_pending--;
            return;
        }
    }
}

json_t *
rfk_tuner_propose (rfk_tuner_t *self)
{
    if (rfk_tuner_exhausted (self))
        return NULL;
    size_t d = self->space->n_params;
    double *point = calloc (d + 1, sizeof *point);
    if (!point)
        return NULL;
    size_t n_seen = self->n_trials + self->n_pending;
    int rc = 0;
    if (self->kind == RFK_TUNER_RANDOM)
        rfk_space_random (self->space, &self->rng, point);
    else if (self->kind != RFK_TUNER_FIXED && n_seen < self->n_init)
        memcpy (point, &self->init[n_seen * d], d * sizeof *point);
    else if (self->kind == RFK_TUNER_GP)
        rc = rfk_gp_propose (self, point);
    else if (self->kind == RFK_TUNER_TPE)
        rc = rfk_tpe_propose (self, point);
    if (rc != 0) /* the model could not be fitted: a random point is a fine trial */
        rfk_space_random (self->space, &self->rng, point);
    rfk_space_snap (self->space, point);
    json_t *knobs = rfk_space_to_json (self->space, point);
    if (knobs && d > 0 && s_add_pending (self, point)) {
        json_decref (knobs);
        knobs = NULL;
    }
    free (point);
    if (knobs)
        self->n_proposed++;
    return knobs;
}

/* Records a trial: a score, or a failure. */
static int
s_record (rfk_tuner_t *self, const json_t *knobs, double score, bool failed, char *err,
          size_t errlen)
{
    size_t d = self->space->n_params;
    double *point = calloc (d + 1, sizeof *point);
    if (!point) {
        rfk_tune_errf (err, errlen, "out of memory");
        return -1;
    }
    if (rfk_space_from_json (self->space, knobs, point, err, errlen)) {
        free (point);
        return -1;
    }
    rfk_space_snap (self->space, point);
    if (self->n_trials == self->cap_trials) {
        size_t cap = self->cap_trials ? 2 * self->cap_trials : 16;
        rfk_tune_observation_t *t = realloc (self->trials, cap * sizeof *t);
        if (!t) {
            free (point);
            rfk_tune_errf (err, errlen, "out of memory");
            return -1;
        }
        self->trials = t;
        self->cap_trials = cap;
    }
    s_drop_pending (self, point);
    self->trials[self->n_trials++] = (rfk_tune_observation_t){point, failed ? 0 : score, failed};
    if (!failed) {
        self->n_scored++;
        if (score > self->best)
            self->best = score;
    }
    return 0;
}

int
rfk_tuner_observe (rfk_tuner_t *self, const json_t *knobs, double score, char *err, size_t errlen)
{
    if (!isfinite (score)) {
        rfk_tune_errf (err, errlen, "a score must be a finite number");
        return -1;
    }
    return s_record (self, knobs, score, false, err, errlen);
}

int
rfk_tuner_fail (rfk_tuner_t *self, const json_t *knobs, char *err, size_t errlen)
{
    return s_record (self, knobs, 0, true, err, errlen);
}

size_t
rfk_tuner_observed (const rfk_tuner_t *self)
{
    return self->n_trials;
}

double
rfk_tuner_best_score (const rfk_tuner_t *self)
{
    return self->best;
}

rfk_params_source_t
rfk_tuner_params_source (rfk_tuner_t *self, double progress, rfk_params_source_t shared)
{
    if (!rfk_space_has_policy (self->space, RAFIKI_POLICY_SHARE_PARAMS) || self->n_scored == 0 ||
        (shared != RFK_PARAMS_BEST && shared != RFK_PARAMS_LATEST))
        return RFK_PARAMS_NONE;
    if (!(progress >= 0))
        progress = 0;
    if (progress > 1)
        progress = 1;
    /* The original's exponentially decaying chance of starting afresh. */
    if (rfk_rng_uniform (&self->rng) < exp (-4.0 * progress))
        return RFK_PARAMS_NONE;
    return shared;
}

unsigned
rfk_tuner_policies (const rfk_tuner_t *self, rfk_params_source_t source)
{
    unsigned mask = 0;
    if (rfk_space_has_policy (self->space, RAFIKI_POLICY_EARLY_STOP))
        mask |= 1u << RAFIKI_POLICY_EARLY_STOP;
    if ((source == RFK_PARAMS_BEST || source == RFK_PARAMS_LATEST) &&
        rfk_space_has_policy (self->space, RAFIKI_POLICY_SHARE_PARAMS))
        mask |= 1u << RAFIKI_POLICY_SHARE_PARAMS;
    return mask;
}
