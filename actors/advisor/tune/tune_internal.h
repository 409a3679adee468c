/*  tune_internal.h: what the tuning library's files share and nobody else
    sees: the random number generator, the space's layout, the tuner's
    history of trials, and the entry points of the GP and TPE algorithms. */
#ifndef RFK_TUNE_INTERNAL_H_INCLUDED
#define RFK_TUNE_INTERNAL_H_INCLUDED

#include "rfk_tune.h"

#include <rafiki/dataset.h>
#include <stdarg.h>

/* xoshiro256** seeded through splitmix64: fast, small, and the same
   sequence on every machine, so seeded runs repeat exactly. */
typedef struct {
    uint64_t s[4];
} rfk_rng_t;

void
rfk_rng_seed (rfk_rng_t *rng, uint64_t seed);
uint64_t
rfk_rng_next (rfk_rng_t *rng);
/* Uniform in [0, 1). */
double
rfk_rng_uniform (rfk_rng_t *rng);
/* Uniform integer in [0, n). n > 0. */
size_t
rfk_rng_below (rfk_rng_t *rng, size_t n);
/* Standard normal. */
double
rfk_rng_normal (rfk_rng_t *rng);

/* Writes a printf-style message into err (if any): rfk_model_errf of
   rafiki/dataset.h, which the tuning library links. */
#define rfk_tune_errf rfk_model_errf

/* One tuned knob. */
typedef struct {
    char *name;            /* the knob's name */
    rfk_param_kind_t kind; /* how it is tuned */
    double min, max;       /* FLOAT, INTEGER: bounds; LOG_FLOAT: their logs;
                              LOG_INTEGER: log (min - 0.5), log (max + 0.5) */
    double vmin, vmax;     /* the bounds as declared (for clamping values) */
    json_t *choices;       /* CATEGORICAL: the values (borrowed from table) */
    size_t n_choices;      /* CATEGORICAL: how many; INTEGER: max - min + 1 */
    size_t offset;         /* first coordinate in the one-hot encoding */
} rfk_param_t;

/* A FIXED knob and its value, or a POLICY knob and its policy. */
typedef struct {
    char *name;             /* the knob's name */
    json_t *value;          /* FIXED: the value (borrowed from table) */
    rafiki_policy_t policy; /* POLICY: which */
} rfk_extra_knob_t;

struct rfk_space {
    json_t *table;              /* the knob table as JSON (our own copy) */
    rfk_param_t *params;        /* tuned knobs, table order */
    size_t n_params;            /* how many */
    size_t dims;                /* coordinates of the one-hot encoding */
    rfk_extra_knob_t *fixed;    /* FIXED knobs */
    size_t n_fixed;             /* how many */
    rfk_extra_knob_t *policies; /* POLICY knobs */
    size_t n_policies;          /* how many */
};

/* The edges [*lo, *hi] of the bin of the INTEGER or LOG_INTEGER value at
   snapped position x of knob p: every position inside rounds to it. */
void
rfk_space_int_bin_edges (const rfk_param_t *p, double x, double *lo, double *hi);

/* True when p takes whole values (INTEGER or LOG_INTEGER). */
bool
rfk_param_is_integer (const rfk_param_t *p);

/* A uniformly random point. */
void
rfk_space_random (const rfk_space_t *space, rfk_rng_t *rng, double *point);

/* One observation the tuner learns from: a trial's point and outcome (not
   the store's trial record, nor the runner's running trial). */
typedef struct {
    double *point; /* snapped point, space->n_params values */
    double score;  /* its score; unused when failed */
    bool failed;   /* ended without a score */
} rfk_tune_observation_t;

typedef struct rfk_gp rfk_gp_t;
typedef struct rfk_tpe rfk_tpe_t;

struct rfk_tuner {
    rfk_tuner_kind_t kind;          /* resolved: never AUTO */
    const rfk_space_t *space;       /* borrowed */
    rfk_rng_t rng;                  /* all randomness of the tuner */
    rfk_tune_observation_t *trials; /* observed trials, in order of observation */
    size_t n_trials;                /* how many */
    size_t cap_trials;              /* allocated */
    double *pending;                /* points proposed and not yet observed */
    size_t n_pending;               /* how many */
    size_t cap_pending;             /* allocated (points) */
    size_t n_proposed;              /* proposals made */
    size_t n_scored;                /* observed trials with a score */
    double best;                    /* best score, -inf before the first */
    double *init;                   /* initial design (Latin hypercube), n_init points */
    size_t n_init;                  /* its size */
    rfk_gp_t *gp;                   /* GP state (kind GP) */
    rfk_tpe_t *tpe;                 /* TPE state (kind TPE) */
};

/* GP: state, a proposal into point (n_params values), destruction. */
rfk_gp_t *
rfk_gp_new (const rfk_space_t *space);
int
rfk_gp_propose (rfk_tuner_t *tuner, double *point);
void
rfk_gp_destroy (rfk_gp_t **self_p);

/* TPE likewise. */
rfk_tpe_t *
rfk_tpe_new (const rfk_space_t *space);
int
rfk_tpe_propose (rfk_tuner_t *tuner, double *point);
void
rfk_tpe_destroy (rfk_tpe_t **self_p);

/* Standard normal density, distribution and its log. */
double
rfk_norm_pdf (double z);
double
rfk_norm_cdf (double z);
double
rfk_norm_logcdf (double z);

#endif
