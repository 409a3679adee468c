/*  gp.c: Bayesian optimisation with a Gaussian process.

    The model: scores standardised to mean 0 and variance 1, a Matérn 5/2
    kernel over the one-hot encoding of the space with one length scale per
    coordinate, a signal variance and a noise variance. These D + 2
    hyperparameters are fitted by maximising the log marginal likelihood
    (its analytic gradient, L-BFGS on a box through a logistic map, from the
    last fit and a few random starts). Cholesky factors and solves come from
    LAPACKE (dpotrf, dpotrs, dpotri) and CBLAS (dtrsm, dtrsv).

    The acquisition: expected improvement over the best standardised score,
    computed in log space so that it can still rank candidates where it
    underflows. It is maximised over a thousand random points and a few
    hundred perturbations of the best trials, and the best few are refined
    by a compass search. Proposals still pending (other trainers are
    running them) enter the posterior with the worst score seen (the
    "constant liar"), so parallel trainers get different knobs. Failed
    trials count as the worst score seen. */
#include "tune_internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SQRT5 2.23606797749978969641

/* Hyperparameter boxes, in log space: length scales over the unit cube,
   signal variance of standardised scores, noise variance. A length scale
   of 5 is already nearly flat over the cube; allowing more lets a fit on
   few trials switch a knob off for good (on Hartmann-6, 4 of 10 seeds
   ended in a local optimum after 100 trials with 20, 3 with 5; medians
   over 30 seeds are alike). */
#define LOG_LS_MIN (-4.6)               /* 0.01 */
#define LOG_LS_MAX (1.6094379124341003) /* log 5 */
#define LOG_SF2_MIN (-3.0)              /* 0.05 */
#define LOG_SF2_MAX (3.0)               /* 20 */
#define LOG_SN2_MIN (-16.1)             /* 1e-7 */
#define LOG_SN2_MAX (0.0)               /* 1 */

/* Exploration margin of expected improvement, in standardised units. */
#define EI_XI 0.0

/* Candidates: random ones, and perturbations of the best trials. */
#define N_RANDOM 1000
#define N_LOCAL_TOP 5
#define N_LOCAL_EACH 100
#define N_REFINE 5
#define REFINE_EVALS 300

/* The most trials (and pending proposals) a fit uses: memory grows as n^2
   and time as n^3. Past it, the latest trials and the best one. */
#define MAX_FIT_TRIALS 600
#define MAX_FIT_PENDING 64

struct rfk_gp {
    size_t dims;   /* coordinates of the one-hot encoding */
    double *theta; /* last fitted hyperparameters: log ls[dims], log sf2, log sn2 */
    bool fitted;   /* theta holds a fit */
};

rfk_gp_t *
rfk_gp_new (const rfk_space_t *space)
{
    rfk_gp_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->dims = space->dims;
    if (!(self->theta = calloc (self->dims + 2, sizeof *self->theta))) {
        free (self);
        return NULL;
    }
    return self;
}

void
rfk_gp_destroy (rfk_gp_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->theta);
    free (*self_p);
    *self_p = NULL;
}

/* The data of one fit: encoded inputs (row-major n x d), standardised
   targets, and work space. */
typedef struct {
    size_t n, d;   /* points, coordinates */
    double *x;     /* n x d inputs */
    double *y;     /* n targets */
    double *k;     /* n x n kernel, then its factor */
    double *kinv;  /* n x n inverse */
    double *f;     /* n x n, lower half: the length-scale derivative factor */
    double *kraw;  /* n x n, lower half: the kernel without noise */
    double *alpha; /* n: K^-1 y */
    double *ls;    /* d: length scales */
    double sf2;    /* signal variance */
    double sn2;    /* noise variance */
} s_fit_t;

static double
s_matern (double r)
{
    return (1.0 + SQRT5 * r + 5.0 / 3.0 * r * r) * exp (-SQRT5 * r);
}

/* Squared scaled distance between rows a and b. */
static double
s_dist2 (const double *a, const double *b, const double *ls, size_t d)
{
    double s = 0;
    for (size_t k = 0; k < d; k++) {
        double t = (a[k] - b[k]) / ls[k];
        s += t * t;
    }
    return s;
}

/* Unpacks theta into the fit's length scales and variances. */
static void
s_set_theta (s_fit_t *fit, const double *theta)
{
    for (size_t k = 0; k < fit->d; k++)
        fit->ls[k] = exp (theta[k]);
    fit->sf2 = exp (theta[fit->d]);
    fit->sn2 = exp (theta[fit->d + 1]);
}

/* Fills fit->k with the kernel matrix plus noise, and fit->f with the
   factor of its length-scale derivatives when f is wanted, then factors
   it (lower Cholesky, column-major), adding jitter if it must. */
static int
s_factor (s_fit_t *fit, bool want_f)
{
    size_t n = fit->n;
    for (size_t i = 0; i < n; i++) {
        fit->k[i + i * n] = fit->sf2;
        for (size_t j = 0; j < i; j++) {
            double r = sqrt (s_dist2 (&fit->x[i * fit->d], &fit->x[j * fit->d], fit->ls, fit->d));
            double e = exp (-SQRT5 * r);
            double kij = fit->sf2 * (1.0 + SQRT5 * r + 5.0 / 3.0 * r * r) * e;
            fit->k[i + j * n] = fit->k[j + i * n] = kij;
            if (want_f) {
                fit->f[i + j * n] = fit->sf2 * 5.0 / 3.0 * (1.0 + SQRT5 * r) * e;
                fit->kraw[i + j * n] = kij;
            }
        }
    }
    double jitter = 1e-10 * fit->sf2;
    for (int attempt = 0; attempt < 5; attempt++, jitter *= 100) {
        /* Factor a copy in kinv's buffer (scratch here), then swap. */
        double *a = fit->kinv;
        memcpy (a, fit->k, n * n * sizeof *a);
        for (size_t i = 0; i < n; i++)
            a[i + i * n] += fit->sn2 + jitter;
        if (LAPACKE_dpotrf (LAPACK_COL_MAJOR, 'L', (lapack_int)n, a, (lapack_int)n) == 0) {
            double *t = fit->k;
            fit->k = a;
            fit->kinv = t;
            return 0;
        }
    }
    return -1;
}

/* Negative log marginal likelihood at theta, and its gradient (if grad). */
static double
s_nlml (s_fit_t *fit, const double *theta, double *grad)
{
    size_t n = fit->n, d = fit->d;
    s_set_theta (fit, theta);
    if (s_factor (fit, grad != NULL))
        return 1e30;
    memcpy (fit->alpha, fit->y, n * sizeof *fit->alpha);
    LAPACKE_dpotrs (LAPACK_COL_MAJOR, 'L', (lapack_int)n, 1, fit->k, (lapack_int)n, fit->alpha,
                    (lapack_int)n);
    double nlml = 0.5 * (double)n * log (2.0 * M_PI);
    for (size_t i = 0; i < n; i++)
        nlml += 0.5 * fit->y[i] * fit->alpha[i] + log (fit->k[i + i * n]);
    if (!grad)
        return nlml;
    /* W = K^-1 - alpha alpha^T; dnlml/dtheta = 0.5 tr (W dK/dtheta). The
       kernel without noise is rebuilt from f's partner below. */
    memcpy (fit->kinv, fit->k, n * n * sizeof *fit->kinv);
    if (LAPACKE_dpotri (LAPACK_COL_MAJOR, 'L', (lapack_int)n, fit->kinv, (lapack_int)n) != 0)
        return 1e30;
    for (size_t k = 0; k < d + 2; k++)
        grad[k] = 0;
    double trace = 0;
    for (size_t j = 0; j < n; j++) {
        double wjj = fit->kinv[j + j * n] - fit->alpha[j] * fit->alpha[j];
        trace += wjj;
        grad[d] += 0.5 * wjj * fit->sf2;
        for (size_t i = j + 1; i < n; i++) {
            double w = fit->kinv[i + j * n] - fit->alpha[i] * fit->alpha[j];
            const double *xi = &fit->x[i * d], *xj = &fit->x[j * d];
            grad[d] += w * fit->kraw[i + j * n]; /* 2 x 0.5, for (i, j) and (j, i) */
            double wf = w * fit->f[i + j * n];
            if (wf == 0)
                continue;
            for (size_t k = 0; k < d; k++) {
                double t = (xi[k] - xj[k]) / fit->ls[k];
                grad[k] += wf * t * t;
            }
        }
    }
    grad[d + 1] = 0.5 * fit->sn2 * trace;
    return nlml;
}

/* The box of hyperparameter k. */
static void
s_box (size_t d, size_t k, double *lo, double *hi)
{
    if (k < d) {
        *lo = LOG_LS_MIN;
        *hi = LOG_LS_MAX;
    } else if (k == d) {
        *lo = LOG_SF2_MIN;
        *hi = LOG_SF2_MAX;
    } else {
        *lo = LOG_SN2_MIN;
        *hi = LOG_SN2_MAX;
    }
}

/* Unconstrained z -> theta in its box (logistic), and back. */
static void
s_z_to_theta (size_t d, const double *z, double *theta, double *dtheta)
{
    for (size_t k = 0; k < d + 2; k++) {
        double lo, hi;
        s_box (d, k, &lo, &hi);
        double s = 1.0 / (1.0 + exp (-z[k]));
        theta[k] = lo + (hi - lo) * s;
        if (dtheta)
            dtheta[k] = (hi - lo) * s * (1.0 - s);
    }
}

static void
s_theta_to_z (size_t d, const double *theta, double *z)
{
    for (size_t k = 0; k < d + 2; k++) {
        double lo, hi;
        s_box (d, k, &lo, &hi);
        double s = (theta[k] - lo) / (hi - lo);
        s = s < 1e-6 ? 1e-6 : s > 1 - 1e-6 ? 1 - 1e-6 : s;
        z[k] = log (s / (1.0 - s));
    }
}

/* The objective in z: nlml and its gradient. */
static double
s_objective (s_fit_t *fit, const double *z, double *g, double *theta, double *dtheta)
{
    size_t m = fit->d + 2;
    s_z_to_theta (fit->d, z, theta, dtheta);
    double v = s_nlml (fit, theta, g);
    if (g)
        for (size_t k = 0; k < m; k++)
            g[k] *= dtheta[k];
    return v;
}

/* How many past steps L-BFGS remembers. */
enum { S_LBFGS_MEM = 6 };

/* L-BFGS's memory of its last steps, and its scratch. */
typedef struct {
    size_t m;      /* variables */
    double *s;     /* the last S_LBFGS_MEM steps, m each */
    double *y;     /* the gradient changes over them, m each */
    double *rho;   /* 1 / (s . y) of each */
    double *alpha; /* scratch of the two-loop recursion */
    double *q;     /* scratch: the direction being built */
    int stored;    /* steps remembered */
    int head;      /* where the next one goes */
} s_lbfgs_memory_t;

/* The search direction from the gradient g (two-loop recursion over the memory, steepest
   descent when that is no descent direction) into dir; returns its slope (dir . g), not
   negative when there is no descent direction at all. */
static double
s_lbfgs_direction (s_lbfgs_memory_t *mem, const double *g, double *dir)
{
    size_t m = mem->m;
    double *s = mem->s, *yv = mem->y, *rho = mem->rho, *al = mem->alpha, *q = mem->q;
    for (size_t k = 0; k < m; k++)
        q[k] = g[k];
    for (int h = 0; h < mem->stored; h++) {
        int i = (mem->head - 1 - h + S_LBFGS_MEM) % S_LBFGS_MEM;
        double dot = 0;
        for (size_t k = 0; k < m; k++)
            dot += s[i * m + k] * q[k];
        al[i] = rho[i] * dot;
        for (size_t k = 0; k < m; k++)
            q[k] -= al[i] * yv[i * m + k];
    }
    double gamma = 1.0;
    if (mem->stored > 0) {
        int i = (mem->head - 1 + S_LBFGS_MEM) % S_LBFGS_MEM;
        double sy = 0, yy = 0;
        for (size_t k = 0; k < m; k++) {
            sy += s[i * m + k] * yv[i * m + k];
            yy += yv[i * m + k] * yv[i * m + k];
        }
        gamma = yy > 0 ? sy / yy : 1.0;
    } else {
        double gn2 = 0;
        for (size_t k = 0; k < m; k++)
            gn2 += g[k] * g[k];
        gamma = gn2 > 0 ? 1.0 / sqrt (gn2) : 1.0;
    }
    for (size_t k = 0; k < m; k++)
        q[k] *= gamma;
    for (int h = mem->stored - 1; h >= 0; h--) {
        int i = (mem->head - 1 - h + S_LBFGS_MEM) % S_LBFGS_MEM;
        double dot = 0;
        for (size_t k = 0; k < m; k++)
            dot += yv[i * m + k] * q[k];
        double b = rho[i] * dot;
        for (size_t k = 0; k < m; k++)
            q[k] += s[i * m + k] * (al[i] - b);
    }
    double slope = 0;
    for (size_t k = 0; k < m; k++) {
        dir[k] = -q[k];
        slope += dir[k] * g[k];
    }
    if (!(slope < 0)) { /* not a descent direction: restart from steepest descent */
        mem->stored = 0;
        slope = 0;
        double gn2 = 0;
        for (size_t k = 0; k < m; k++)
            gn2 += g[k] * g[k];
        for (size_t k = 0; k < m; k++) {
            dir[k] = -g[k] / (sqrt (gn2) + 1e-300);
            slope += dir[k] * g[k];
        }
    }
    return slope;
}

/* Remember the step from z to zn and the gradient change from g to gn (skipped when their
   product is not clearly positive, which would break the curvature estimate). */
static void
s_lbfgs_remember (s_lbfgs_memory_t *mem, const double *z, const double *zn, const double *g,
                  const double *gn)
{
    size_t m = mem->m;
    double sy = 0;
    int i = mem->head;
    for (size_t k = 0; k < m; k++) {
        mem->s[i * m + k] = zn[k] - z[k];
        mem->y[i * m + k] = gn[k] - g[k];
        sy += mem->s[i * m + k] * mem->y[i * m + k];
    }
    if (sy > 1e-12) {
        mem->rho[i] = 1.0 / sy;
        mem->head = (mem->head + 1) % S_LBFGS_MEM;
        if (mem->stored < S_LBFGS_MEM)
            mem->stored++;
    }
}

/* Backtracking (Armijo) line search from z (value f) along dir: the point in zn, its value in
 *fn and gradient in gn; false when no step of the 20 tried decreases enough. */
static bool
s_line_search (s_fit_t *fit, const double *z, const double *dir, double f, double slope, double *zn,
               double *gn, double *fn, double *theta, double *dtheta)
{
    size_t m = fit->d + 2;
    double step = 1.0;
    for (int ls = 0; ls < 20; ls++, step *= 0.5) {
        for (size_t k = 0; k < m; k++)
            zn[k] = z[k] + step * dir[k];
        *fn = s_objective (fit, zn, gn, theta, dtheta);
        if (*fn <= f + 1e-4 * step * slope)
            return true;
    }
    return false;
}

/* Minimises the nlml from z (in place) by L-BFGS with a backtracking line
   search; returns the value reached. */
static double
s_lbfgs (s_fit_t *fit, double *z, int max_iter)
{
    size_t m = fit->d + 2;
    size_t words = m * (2 * S_LBFGS_MEM + 7) + 2 * S_LBFGS_MEM;
    double *buf = calloc (words, sizeof *buf);
    if (!buf)
        return 1e30;
    s_lbfgs_memory_t mem = {.m = m, .s = buf, .y = buf + S_LBFGS_MEM * m};
    double *g = mem.y + S_LBFGS_MEM * m, *gn = g + m, *dir = gn + m;
    double *zn = dir + m, *theta = zn + m, *dtheta = theta + m;
    mem.q = dtheta + m;
    mem.rho = mem.q + m;
    mem.alpha = mem.rho + S_LBFGS_MEM;
    double f = s_objective (fit, z, g, theta, dtheta);
    for (int it = 0; it < max_iter && f < 1e29; it++) {
        double slope = s_lbfgs_direction (&mem, g, dir);
        if (!(slope < 0))
            break;
        double fn = 0;
        if (!s_line_search (fit, z, dir, f, slope, zn, gn, &fn, theta, dtheta))
            break;
        s_lbfgs_remember (&mem, z, zn, g, gn);
        double gmax = 0;
        for (size_t k = 0; k < m; k++)
            gmax = fmax (gmax, fabs (gn[k]));
        bool small = f - fn < 1e-9 * (1.0 + fabs (f));
        memcpy (z, zn, m * sizeof *z);
        memcpy (g, gn, m * sizeof *g);
        f = fn;
        if (gmax < 1e-6 || small)
            break;
    }
    free (buf);
    return f;
}

/* Fits the hyperparameters of self to fit's data. */
static void
s_fit_hyper (rfk_gp_t *self, s_fit_t *fit, rfk_rng_t *rng)
{
    size_t d = fit->d, m = d + 2;
    double *z = calloc (3 * m, sizeof *z);
    if (!z)
        return;
    double *best = z + m, *theta = best + m;
    double best_f = INFINITY;
    /* Starts: the last fit, a default, and random ones. Fewer and shorter
       searches as the data grow, for each step costs n^3; with many
       trials the last fit moves little from one trial to the next. */
    int n_random = fit->n <= 100 ? 2 : fit->n <= 250 ? 1 : 0;
    bool use_default = !self->fitted || fit->n <= 250;
    int iters = fit->n <= 250 ? 60 : 25;
    for (int r = 0; r < 2 + n_random; r++) {
        if (r == 0) {
            if (!self->fitted)
                continue;
            memcpy (theta, self->theta, m * sizeof *theta);
        } else if (r == 1) {
            if (!use_default)
                continue;
            for (size_t k = 0; k < d; k++)
                theta[k] = log (0.3);
            theta[d] = 0;
            theta[d + 1] = log (1e-4);
        } else {
            for (size_t k = 0; k < d; k++)
                theta[k] = log (0.05) + rfk_rng_uniform (rng) * (log (2.0) - log (0.05));
            theta[d] = log (0.3) + rfk_rng_uniform (rng) * (log (3.0) - log (0.3));
            theta[d + 1] = log (1e-6) + rfk_rng_uniform (rng) * (log (1e-1) - log (1e-6));
        }
        s_theta_to_z (d, theta, z);
        double f = s_lbfgs (fit, z, iters);
        if (f < best_f) {
            best_f = f;
            memcpy (best, z, m * sizeof *z);
        }
    }
    if (best_f < 1e29) {
        s_z_to_theta (d, best, self->theta, NULL);
        self->fitted = true;
    } else if (!self->fitted) {
        for (size_t k = 0; k < d; k++)
            self->theta[k] = log (0.3);
        self->theta[d] = 0;
        self->theta[d + 1] = log (1e-4);
    }
    free (z);
}

/* log (phi (z) + z Phi (z)), the shape of expected improvement. */
static double
s_log_h (double z)
{
    if (z > -5.0)
        return log (rfk_norm_pdf (z) + z * rfk_norm_cdf (z));
    double z2 = z * z;
    return -0.5 * z2 - 0.5 * log (2.0 * M_PI) - 2.0 * log (-z) +
           log1p (-3.0 / z2 + 15.0 / (z2 * z2));
}

/* The posterior of a fit, ready for predictions. */
typedef struct {
    s_fit_t *fit;  /* data, factor and alpha */
    double y_best; /* best standardised target */
    double *kstar; /* n x batch kernel column block */
    size_t batch;  /* its width */
} s_post_t;

/* log EI at `count` encoded candidates (row-major count x d) into out. */
static void
s_log_ei (s_post_t *post, const double *cand, size_t count, double *out)
{
    s_fit_t *fit = post->fit;
    size_t n = fit->n, d = fit->d;
    for (size_t start = 0; start < count; start += post->batch) {
        size_t b = count - start < post->batch ? count - start : post->batch;
        for (size_t c = 0; c < b; c++)
            for (size_t i = 0; i < n; i++)
                post->kstar[i + c * n] =
                    fit->sf2 *
                    s_matern (sqrt (s_dist2 (&fit->x[i * d], &cand[(start + c) * d], fit->ls, d)));
        for (size_t c = 0; c < b; c++) {
            double mu = 0;
            for (size_t i = 0; i < n; i++)
                mu += post->kstar[i + c * n] * fit->alpha[i];
            out[start + c] = mu; /* mean for now */
        }
        cblas_dtrsm (CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (blasint)n,
                     (blasint)b, 1.0, fit->k, (blasint)n, post->kstar, (blasint)n);
        for (size_t c = 0; c < b; c++) {
            double vv = 0;
            for (size_t i = 0; i < n; i++)
                vv += post->kstar[i + c * n] * post->kstar[i + c * n];
            double var = fit->sf2 - vv;
            double sd = sqrt (var > 1e-12 * fit->sf2 ? var : 1e-12 * fit->sf2);
            double z = (out[start + c] - post->y_best - EI_XI) / sd;
            out[start + c] = log (sd) + s_log_h (z);
        }
    }
}

/* True when point (snapped) equals a trial's or a pending proposal's. */
static bool
s_seen (const rfk_tuner_t *tuner, const double *point)
{
    size_t d = tuner->space->n_params;
    for (size_t i = 0; i < tuner->n_trials + tuner->n_pending; i++) {
        const double *q = i < tuner->n_trials ? tuner->trials[i].point
                                              : &tuner->pending[(i - tuner->n_trials) * d];
        double dist = 0;
        for (size_t j = 0; j < d; j++)
            dist += fabs (q[j] - point[j]);
        if (dist < 1e-9)
            return true;
    }
    return false;
}

/* Score trial by log EI (counting the evaluation); when it beats *value it becomes point and
 *value, and true is returned. */
static bool
s_try (s_post_t *post, const rfk_space_t *space, const double *trial, double *unit, double *point,
       double *value, int *evals)
{
    rfk_space_encode (space, trial, unit);
    double v;
    s_log_ei (post, unit, 1, &v);
    (*evals)++;
    if (!(v > *value))
        return false;
    *value = v;
    memcpy (point, trial, space->n_params * sizeof *trial);
    return true;
}

/* Compass search on the numeric knobs of point, maximising log EI, after
   trying every choice of each categorical knob. Returns the value. */
static double
s_refine (rfk_tuner_t *tuner, s_post_t *post, double *point, double value, double *unit)
{
    const rfk_space_t *space = tuner->space;
    size_t p = space->n_params;
    double *trial = calloc (p + 1, sizeof *trial);
    if (!trial)
        return value;
    int evals = 0;
    for (size_t j = 0; j < p; j++) {
        if (space->params[j].kind != RFK_PARAM_CATEGORICAL)
            continue;
        for (size_t c = 0; c < space->params[j].n_choices; c++) {
            memcpy (trial, point, p * sizeof *trial);
            trial[j] = (double)c;
            s_try (post, space, trial, unit, point, &value, &evals);
        }
    }
    for (double step = 0.05; step > 1e-6 && evals < REFINE_EVALS;) {
        bool improved = false;
        for (size_t j = 0; j < p && evals < REFINE_EVALS; j++) {
            const rfk_param_t *pj = &space->params[j];
            if (pj->kind == RFK_PARAM_CATEGORICAL)
                continue;
            double h = step, lo = 0, hi = 0;
            if (pj->kind == RFK_PARAM_INTEGER) {
                double bin = 1.0 / (double)pj->n_choices;
                if (h < bin)
                    h = bin;
            } else if (pj->kind == RFK_PARAM_LOG_INTEGER)
                rfk_space_int_bin_edges (pj, point[j], &lo, &hi);
            for (int sign = -1; sign <= 1; sign += 2) {
                memcpy (trial, point, p * sizeof *trial);
                /* a log-scale integer's bins differ in width: step at least
                   past the edge of the current one */
                double edge = sign < 0 ? point[j] - lo : hi - point[j];
                trial[j] += sign * (pj->kind == RFK_PARAM_LOG_INTEGER ? fmax (h, edge + 1e-9) : h);
                rfk_space_snap (space, trial);
                if (trial[j] == point[j])
                    continue;
                if (s_try (post, space, trial, unit, point, &value, &evals)) {
                    improved = true;
                    break;
                }
            }
        }
        if (!improved)
            step *= 0.5;
    }
    free (trial);
    return value;
}

/* What one proposal works on: the fit, its posterior, the candidates. */
typedef struct {
    size_t *use;         /* n_real: the trials the fit uses (the best one kept) */
    s_fit_t fit;         /* the Gaussian process fitted to them */
    s_post_t post;       /* its posterior */
    double *cand_points; /* candidates, p each (the search space's values) */
    double *cand_units;  /* the same encoded, d each */
    double *values;      /* their log expected improvement */
    size_t *order;       /* candidates ranked (and scratch for ranking trials) */
    size_t n_cand;       /* candidates made */
} s_propose_t;

/* Allocate a proposal's buffers for n points (n_real trials) in d coordinates of p params. */
static int
s_propose_alloc (s_propose_t *work, size_t n_real, size_t n, size_t d, size_t p)
{
    size_t n_cand = N_RANDOM + N_LOCAL_TOP * N_LOCAL_EACH;
    s_fit_t *fit = &work->fit;
    work->use = calloc (n_real + 1, sizeof *work->use);
    fit->x = calloc (n * d + 1, sizeof *fit->x);
    fit->y = calloc (n + 1, sizeof *fit->y);
    fit->k = calloc (n * n + 1, sizeof *fit->k);
    fit->kinv = calloc (n * n + 1, sizeof *fit->kinv);
    fit->f = calloc (n * n + 1, sizeof *fit->f);
    fit->kraw = calloc (n * n + 1, sizeof *fit->kraw);
    fit->alpha = calloc (n + 1, sizeof *fit->alpha);
    fit->ls = calloc (d + 1, sizeof *fit->ls);
    work->post.kstar = calloc (n * work->post.batch + 1, sizeof *work->post.kstar);
    work->cand_points = calloc (n_cand * p + 1, sizeof *work->cand_points);
    work->cand_units = calloc (n_cand * d + 1, sizeof *work->cand_units);
    work->values = calloc (n_cand + 1, sizeof *work->values);
    work->order = calloc (n_cand + 1, sizeof *work->order);
    if (!work->use || !fit->x || !fit->y || !fit->k || !fit->kinv || !fit->f || !fit->kraw ||
        !fit->alpha || !fit->ls || !work->post.kstar || !work->cand_points || !work->cand_units ||
        !work->values || !work->order)
        return -1;
    return 0;
}

static void
s_propose_free (s_propose_t *work)
{
    free (work->use);
    free (work->fit.x);
    free (work->fit.y);
    free (work->fit.k);
    free (work->fit.kinv);
    free (work->fit.f);
    free (work->fit.kraw);
    free (work->fit.alpha);
    free (work->fit.ls);
    free (work->post.kstar);
    free (work->cand_points);
    free (work->cand_units);
    free (work->values);
    free (work->order);
}

/* The trials the fit uses: the latest n_real, the best of all kept in place of the oldest. */
static void
s_trials_used (const rfk_tuner_t *tuner, size_t n_real, size_t *use)
{
    size_t first = tuner->n_trials - n_real, best_trial = first;
    for (size_t i = 0; i < tuner->n_trials; i++)
        if (!tuner->trials[i].failed && (tuner->trials[best_trial].failed ||
                                         tuner->trials[i].score > tuner->trials[best_trial].score))
            best_trial = i;
    for (size_t i = 0; i < n_real; i++)
        use[i] = first + i;
    if (best_trial < first)
        use[0] = best_trial;
}

/* The fit's data: the trials used, encoded, with standardised scores (failures count as the
   worst); the best and worst standardised score in *y_best, *y_worst. -1 when no trial used
   has a score: nothing to learn. */
static int
s_standardise (const rfk_tuner_t *tuner, const size_t *use, size_t n_real, s_fit_t *fit,
               double *y_best, double *y_worst)
{
    size_t d = fit->d;
    double worst = INFINITY, mean = 0, var = 0;
    for (size_t i = 0; i < n_real; i++)
        if (!tuner->trials[use[i]].failed && tuner->trials[use[i]].score < worst)
            worst = tuner->trials[use[i]].score;
    if (worst == INFINITY)
        return -1;
    for (size_t i = 0; i < n_real; i++) {
        const rfk_tune_observation_t *t = &tuner->trials[use[i]];
        fit->y[i] = t->failed ? worst : t->score;
        mean += fit->y[i];
        rfk_space_encode (tuner->space, t->point, &fit->x[i * d]);
    }
    mean /= (double)n_real;
    for (size_t i = 0; i < n_real; i++)
        var += (fit->y[i] - mean) * (fit->y[i] - mean);
    double sd = sqrt (var / (double)n_real);
    if (!(sd > 1e-12 * (1.0 + fabs (mean))))
        sd = 1.0;
    *y_best = -INFINITY;
    *y_worst = INFINITY;
    for (size_t i = 0; i < n_real; i++) {
        fit->y[i] = (fit->y[i] - mean) / sd;
        *y_best = fmax (*y_best, fit->y[i]);
        *y_worst = fmin (*y_worst, fit->y[i]);
    }
    return 0;
}

/* The posterior at the fitted hyperparameters, with the latest n_pending proposals added at
   the worst score (so the next proposal looks elsewhere). 0, or -1 when it cannot be
   factored. */
static int
s_posterior (rfk_gp_t *self, const rfk_tuner_t *tuner, s_fit_t *fit, size_t n_pending,
             double y_worst)
{
    size_t p = tuner->space->n_params, d = fit->d, n_real = fit->n;
    for (size_t i = 0; i < n_pending; i++) {
        size_t k = tuner->n_pending - n_pending + i; /* the latest */
        rfk_space_encode (tuner->space, &tuner->pending[k * p], &fit->x[(n_real + i) * d]);
        fit->y[n_real + i] = y_worst;
    }
    fit->n = n_real + n_pending;
    size_t n = fit->n;
    s_set_theta (fit, self->theta);
    if (s_factor (fit, false))
        return -1;
    memcpy (fit->alpha, fit->y, n * sizeof *fit->alpha);
    LAPACKE_dpotrs (LAPACK_COL_MAJOR, 'L', (lapack_int)n, 1, fit->k, (lapack_int)n, fit->alpha,
                    (lapack_int)n);
    return 0;
}

/* Rank the first n_real trials by score into top (at most N_LOCAL_TOP); returns how many. */
static size_t
s_top_trials (const rfk_tuner_t *tuner, size_t n_real, size_t *top)
{
    size_t n_top = 0;
    for (size_t i = 0; i < n_real; i++) {
        if (tuner->trials[i].failed)
            continue;
        size_t pos = n_top < N_LOCAL_TOP ? n_top++ : N_LOCAL_TOP;
        while (pos > 0 && tuner->trials[top[pos - 1]].score < tuner->trials[i].score) {
            if (pos < N_LOCAL_TOP)
                top[pos] = top[pos - 1];
            pos--;
        }
        if (pos < N_LOCAL_TOP)
            top[pos] = i;
    }
    return n_top;
}

/* Candidates: random points, then perturbations of the best trials, encoded and scored by
   log expected improvement. */
static void
s_candidates (rfk_tuner_t *tuner, s_propose_t *work, size_t n_real)
{
    const rfk_space_t *space = tuner->space;
    size_t p = space->n_params, d = space->dims;
    size_t c = 0;
    for (; c < N_RANDOM; c++)
        rfk_space_random (space, &tuner->rng, &work->cand_points[c * p]);
    size_t *top = work->order; /* borrow order for the ranking of trials */
    size_t n_top = s_top_trials (tuner, n_real, top);
    static const double scales[] = {0.2, 0.05, 0.01, 0.002};
    for (size_t t = 0; t < n_top; t++)
        for (size_t e = 0; e < N_LOCAL_EACH; e++, c++) {
            double *q = &work->cand_points[c * p];
            memcpy (q, tuner->trials[top[t]].point, p * sizeof *q);
            double scale = scales[rfk_rng_below (&tuner->rng, 4)];
            for (size_t j = 0; j < p; j++) {
                const rfk_param_t *pj = &space->params[j];
                if (pj->kind == RFK_PARAM_CATEGORICAL) {
                    if (rfk_rng_uniform (&tuner->rng) < 1.0 / (double)(p + 1))
                        q[j] = (double)rfk_rng_below (&tuner->rng, pj->n_choices);
                } else
                    q[j] += scale * rfk_rng_normal (&tuner->rng);
            }
            rfk_space_snap (space, q);
        }
    work->n_cand = c;
    for (size_t i = 0; i < work->n_cand; i++)
        rfk_space_encode (space, &work->cand_points[i * p], &work->cand_units[i * d]);
    s_log_ei (&work->post, work->cand_units, work->n_cand, work->values);
}

/* The best few candidates, refined; the best of them not tried yet goes to point (else any
   new candidate). 0, or -1 when every candidate was tried. */
static int
s_pick (rfk_tuner_t *tuner, s_propose_t *work, double *point)
{
    size_t p = tuner->space->n_params, n_cand = work->n_cand;
    size_t *order = work->order;
    const double *values = work->values;
    for (size_t i = 0; i < n_cand; i++)
        order[i] = i;
    size_t n_ref = n_cand < N_REFINE ? n_cand : N_REFINE;
    for (size_t r = 0; r < n_ref; r++) /* partial selection sort */
        for (size_t i = r + 1; i < n_cand; i++)
            if (values[order[i]] > values[order[r]]) {
                size_t t = order[r];
                order[r] = order[i];
                order[i] = t;
            }
    double best_value = -INFINITY;
    for (size_t r = 0; r < n_ref; r++) {
        double *q = &work->cand_points[order[r] * p];
        double v = s_refine (tuner, &work->post, q, values[order[r]], work->cand_units);
        if (v > best_value && !s_seen (tuner, q)) {
            best_value = v;
            memcpy (point, q, p * sizeof *point);
        }
    }
    if (best_value == -INFINITY) { /* every refined candidate was tried: take any new one */
        for (size_t i = n_ref; i < n_cand; i++) {
            double *q = &work->cand_points[order[i] * p];
            if (values[order[i]] > best_value && !s_seen (tuner, q)) {
                best_value = values[order[i]];
                memcpy (point, q, p * sizeof *point);
            }
        }
    }
    return best_value > -INFINITY ? 0 : -1;
}

int
rfk_gp_propose (rfk_tuner_t *tuner, double *point)
{
    const rfk_space_t *space = tuner->space;
    if (tuner->n_scored < 2)
        return -1;
    size_t n_real = tuner->n_trials < MAX_FIT_TRIALS ? tuner->n_trials : MAX_FIT_TRIALS;
    size_t n_pending = tuner->n_pending < MAX_FIT_PENDING ? tuner->n_pending : MAX_FIT_PENDING;
    s_propose_t work = {.fit = {.n = n_real, .d = space->dims}, .post = {.batch = 256}};
    work.post.fit = &work.fit;
    int rc = -1;
    double y_best, y_worst;
    if (s_propose_alloc (&work, n_real, n_real + n_pending, space->dims, space->n_params))
        goto done;
    s_trials_used (tuner, n_real, work.use);
    if (s_standardise (tuner, work.use, n_real, &work.fit, &y_best, &y_worst))
        goto done;
    s_fit_hyper (tuner->gp, &work.fit, &tuner->rng);
    if (s_posterior (tuner->gp, tuner, &work.fit, n_pending, y_worst))
        goto done;
    work.post.y_best = y_best;
    s_candidates (tuner, &work, n_real);
    rc = s_pick (tuner, &work, point);
done:
    s_propose_free (&work);
    return rc;
}
