/*  bench_tune.c: how well and how fast the tuners tune.

    Quality: simple regret (best value found minus the known minimum) after
    50 and 100 evaluations, median over 10 seeds, on Branin and Hartmann-6,
    for random search, the GP and TPE, printed next to the reference
    figures of issue 6 (random 0.88 / 1.74, TPE 0.18 / 0.58, GP-EI 0.0003 /
    0.27, Branin / Hartmann-6 at 50 evaluations). Our GP must reach the GP
    figures and our TPE the TPE figures: each goal is a TAP line, "ok" when
    met. Speed: the GP's proposal latency with 100, 500 and 1000 observations.

    Usage: bench_tune [seeds]   (default 10) */
#include "objectives.h"
#include "rfk_tune.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef double (objective_fn) (const json_t *knobs);

typedef struct {
    const char *name;
    const rafiki_knob_t *knobs;
    size_t n_knobs;
    objective_fn *fn;
    double minimum;
} problem_t;

static const problem_t problems[] = {
    {"Branin", branin_knobs, 2, branin, BRANIN_MIN},
    {"Hartmann-6", hartmann6_knobs, 6, hartmann6, HARTMANN6_MIN},
};

static const rfk_tuner_kind_t kinds[] = {RFK_TUNER_RANDOM, RFK_TUNER_TPE, RFK_TUNER_GP};

/* Reference regrets at 50 evaluations: [kind][problem]. */
static const double reference[3][2] = {{0.88, 1.74}, {0.18, 0.58}, {0.0003, 0.27}};

static double
now_s (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int
cmp_double (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
median (double *v, size_t n)
{
    qsort (v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* One tuning run: regrets after 50 and 100 evaluations. */
static int
run (const problem_t *pb, rfk_tuner_kind_t kind, uint64_t seed, double *r50, double *r100)
{
    char err[256];
    rfk_space_t *space = rfk_space_new (pb->knobs, pb->n_knobs, err, sizeof err);
    rfk_tuner_t *tuner = space ? rfk_tuner_new (kind, space, seed) : NULL;
    if (!tuner) {
        fprintf (stderr, "bench: %s\n", space ? "no tuner" : err);
        rfk_space_destroy (&space);
        return -1;
    }
    double best = INFINITY;
    for (int i = 1; i <= 100; i++) {
        json_t *knobs = rfk_tuner_propose (tuner);
        if (!knobs)
            return -1;
        double f = pb->fn (knobs);
        best = fmin (best, f);
        rfk_tuner_observe (tuner, knobs, -f, err, sizeof err);
        json_decref (knobs);
        if (i == 50)
            *r50 = best - pb->minimum;
    }
    *r100 = best - pb->minimum;
    rfk_tuner_destroy (&tuner);
    rfk_space_destroy (&space);
    return 0;
}

/* Median time of a GP proposal after n random observations on Hartmann-6. */
static double
gp_latency (size_t n)
{
    char err[256];
    rfk_space_t *space = rfk_space_new (hartmann6_knobs, 6, err, sizeof err);
    rfk_tuner_t *tuner = rfk_tuner_new (RFK_TUNER_GP, space, 7);
    rfk_tuner_t *random = rfk_tuner_new (RFK_TUNER_RANDOM, space, 8);
    for (size_t i = 0; i < n; i++) {
        json_t *knobs = rfk_tuner_propose (random);
        rfk_tuner_observe (tuner, knobs, -hartmann6 (knobs), err, sizeof err);
        json_decref (knobs);
    }
    double times[5];
    for (int r = 0; r < 5; r++) {
        double t0 = now_s ();
        json_t *knobs = rfk_tuner_propose (tuner);
        times[r] = now_s () - t0;
        /* Observing it keeps the history at about n and the fit warm. */
        rfk_tuner_observe (tuner, knobs, -hartmann6 (knobs), err, sizeof err);
        json_decref (knobs);
    }
    rfk_tuner_destroy (&random);
    rfk_tuner_destroy (&tuner);
    rfk_space_destroy (&space);
    return median (times, 5);
}

int
main (int argc, char **argv)
{
    int seeds = argc > 1 ? atoi (argv[1]) : 10;
    if (seeds < 1 || seeds > 1000)
        seeds = 10;
    const char *only = getenv ("BENCH_TUNE_ONLY"); /* e.g. "gp" while tuning */
    printf ("1..%d\n", 4 + 3);
    printf ("# simple regret, median over %d seeds (reference at 50 evaluations)\n", seeds);
    printf ("# %-8s %-11s %12s %12s %12s\n", "tuner", "problem", "at 50", "at 100", "reference");
    int test = 0;
    for (size_t k = 0; k < 3; k++) {
        for (size_t p = 0; p < 2; p++) {
            double r50[1000], r100[1000];
            double t0 = now_s ();
            bool skip = only && strcmp (only, rfk_tuner_kind_name (kinds[k])) != 0;
            for (int s = 0; !skip && s < seeds; s++)
                if (run (&problems[p], kinds[k], (uint64_t)s + 1, &r50[s], &r100[s])) {
                    printf ("Bail out! run failed\n");
                    return 1;
                }
            if (getenv ("BENCH_TUNE_VERBOSE"))
                for (int s = 0; !skip && s < seeds; s++)
                    printf ("#   seed %d: %.4g %.4g\n", s + 1, r50[s], r100[s]);
            double m50 = skip ? NAN : median (r50, (size_t)seeds);
            double m100 = skip ? NAN : median (r100, (size_t)seeds);
            printf ("# %-8s %-11s %12.5g %12.5g %12.5g   (%.1f s)\n",
                    rfk_tuner_kind_name (kinds[k]), problems[p].name, m50, m100, reference[k][p],
                    now_s () - t0);
            if (kinds[k] == RFK_TUNER_RANDOM)
                continue;
            bool met = m50 <= reference[k][p];
            printf ("%s %d - %s on %s at 50 evaluations: %.5g, goal %.5g%s\n",
                    met || skip ? "ok" : "not ok", ++test, rfk_tuner_kind_name (kinds[k]),
                    problems[p].name, m50, reference[k][p], skip ? " # SKIP" : "");
        }
    }
    static const size_t sizes[] = {100, 500, 1000}; /* a fit uses at most 600 */
    for (size_t i = 0; i < 3; i++) {
        size_t n = sizes[i];
        double t = gp_latency (n);
        printf ("ok %d - gp proposal latency with %zu observations: %.3f s\n", ++test, n, t);
    }
    return 0;
}
