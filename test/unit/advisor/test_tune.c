/*  test_tune.c: the advisor's algorithms without sockets.

    Search spaces (every knob type to the unit cube and back), the tuners
    (random, GP and TPE on known functions with fixed seeds: the model-based
    ones must beat random search on Branin), the automatic choice, ASHA on a
    scripted sequence of progress reports, budgets and parameter sharing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "objectives.h"
#include "rafiki/template.h"
#include "rfk_tune.h"

static const rafiki_value_t colours[] = {
    {.type = RAFIKI_VALUE_STRING, .u.s = "red"},
    {.type = RAFIKI_VALUE_STRING, .u.s = "green"},
    {.type = RAFIKI_VALUE_STRING, .u.s = "blue"},
};
static const rafiki_value_t sizes[] = {
    {.type = RAFIKI_VALUE_INT, .u.i = 16},
    {.type = RAFIKI_VALUE_INT, .u.i = 32},
};

/* A table with every kind of knob. */
static const rafiki_knob_t all_knobs[] = {
    {.name = "lr", .type = RAFIKI_KNOB_FLOAT, .min = 1e-5, .max = 1e-1, .log_scale = true},
    {.name = "momentum", .type = RAFIKI_KNOB_FLOAT, .min = 0.5, .max = 0.99},
    {.name = "depth", .type = RAFIKI_KNOB_INTEGER, .min = 2, .max = 9},
    {.name = "colour", .type = RAFIKI_KNOB_CATEGORICAL, .values = colours, .n_values = 3},
    {.name = "batch", .type = RAFIKI_KNOB_CATEGORICAL, .values = sizes, .n_values = 2},
    {.name = "epochs", .type = RAFIKI_KNOB_FIXED, .value = {.type = RAFIKI_VALUE_INT, .u.i = 3}},
    {.name = "early_stop", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_EARLY_STOP},
    {.name = "share", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_SHARE_PARAMS},
};
#define N_ALL (sizeof all_knobs / sizeof all_knobs[0])

static const rafiki_knob_t fixed_knobs[] = {
    {.name = "epochs", .type = RAFIKI_KNOB_FIXED, .value = {.type = RAFIKI_VALUE_INT, .u.i = 3}},
    {.name = "early_stop", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_EARLY_STOP},
};

/* Usage: a space from a template's knob table, a tuner, and the loop the
   advisor runs: propose, run the trial, observe its score. */
static void
test_usage (void **state)
{
    (void)state;
    char err[256];
    rfk_space_t *space = rfk_space_new (all_knobs, N_ALL, err, sizeof err);
    assert_non_null (space);
    rfk_tuner_t *tuner = rfk_tuner_new (RFK_TUNER_AUTO, space, 42);
    assert_int_equal (rfk_tuner_kind (tuner), RFK_TUNER_GP);
    for (int trial = 0; trial < 12; trial++) {
        json_t *knobs = rfk_tuner_propose (tuner);
        assert_non_null (knobs);
        /* What the trainer will do with it: make the template's values. */
        rafiki_knobs_t values;
        assert_int_equal (
            rfk_knobs_from_json (all_knobs, N_ALL, knobs, true, &values, err, sizeof err), 0);
        assert_int_equal (values.n, N_ALL);
        double score = -fabs (log10 (rafiki_knobs_float (&values, "lr", 0)) + 3) +
                       (strcmp (rafiki_knobs_string (&values, "colour", ""), "green") == 0);
        rfk_knobs_free (&values);
        assert_int_equal (rfk_tuner_observe (tuner, knobs, score, err, sizeof err), 0);
        json_decref (knobs);
    }
    assert_int_equal (rfk_tuner_observed (tuner), 12);
    assert_true (rfk_tuner_best_score (tuner) > -5);
    rfk_tuner_destroy (&tuner);
    rfk_tuner_destroy (&tuner);
    rfk_space_destroy (&space);
    rfk_space_destroy (&space);
}

/* Every knob type maps to the unit cube and back. */
static void
test_space_round_trip (void **state)
{
    (void)state;
    char err[256];
    rfk_space_t *space = rfk_space_new (all_knobs, N_ALL, err, sizeof err);
    assert_non_null (space);
    assert_int_equal (rfk_space_params (space), 5);
    assert_int_equal (rfk_space_dims (space), 1 + 1 + 1 + 3 + 2);
    assert_string_equal (rfk_space_param_name (space, 0), "lr");
    assert_int_equal (rfk_space_param_kind (space, 0), RFK_PARAM_LOG_FLOAT);
    assert_int_equal (rfk_space_param_kind (space, 1), RFK_PARAM_FLOAT);
    assert_int_equal (rfk_space_param_kind (space, 2), RFK_PARAM_INTEGER);
    assert_int_equal (rfk_space_param_kind (space, 3), RFK_PARAM_CATEGORICAL);
    assert_int_equal (rfk_space_param_choices (space, 3), 3);
    assert_false (rfk_space_only_fixed (space));
    assert_true (rfk_space_has_policy (space, RAFIKI_POLICY_EARLY_STOP));
    assert_false (rfk_space_has_policy (space, RAFIKI_POLICY_QUICK_EVAL));

    /* Knob values -> point -> knob values. */
    json_t *knobs =
        json_pack ("{s:f, s:f, s:i, s:s, s:i, s:i, s:b, s:b}", "lr", 1e-3, "momentum", 0.9, "depth",
                   7, "colour", "blue", "batch", 32, "epochs", 3, "early_stop", 1, "share", 0);
    double point[5], again[5];
    assert_int_equal (rfk_space_from_json (space, knobs, point, err, sizeof err), 0);
    assert_true (fabs (point[0] - 0.5) < 1e-12);                 /* 1e-3 is mid-way on log scale */
    assert_true (fabs (point[1] - 0.4 / 0.49) < 1e-12);          /* linear */
    assert_true (fabs (point[2] - (7 - 2 + 0.5) / 8.0) < 1e-12); /* centre of its bin */
    assert_true (point[3] == 2 && point[4] == 1);
    json_t *back = rfk_space_to_json (space, point);
    assert_true (fabs (json_real_value (json_object_get (back, "lr")) - 1e-3) < 1e-15);
    assert_true (fabs (json_real_value (json_object_get (back, "momentum")) - 0.9) < 1e-15);
    assert_int_equal (json_integer_value (json_object_get (back, "depth")), 7);
    assert_string_equal (json_string_value (json_object_get (back, "colour")), "blue");
    assert_int_equal (json_integer_value (json_object_get (back, "batch")), 32);
    assert_int_equal (json_integer_value (json_object_get (back, "epochs")), 3);
    assert_true (json_is_false (json_object_get (back, "early_stop")));
    assert_true (json_is_false (json_object_get (back, "share")));
    assert_int_equal (rfk_space_from_json (space, back, again, err, sizeof err), 0);
    for (int i = 0; i < 5; i++)
        assert_true (fabs (point[i] - again[i]) < 1e-12);

    /* One-hot and back. */
    double unit[8];
    rfk_space_encode (space, point, unit);
    assert_true (unit[3] == 0 && unit[4] == 0 && unit[5] == 1 && unit[6] == 0 && unit[7] == 1);
    rfk_space_decode (space, unit, again);
    for (int i = 0; i < 5; i++)
        assert_true (fabs (point[i] - again[i]) < 1e-12);

    /* Every integer value and every choice survives the trip. */
    for (int depth = 2; depth <= 9; depth++) {
        json_object_set_new (knobs, "depth", json_integer (depth));
        assert_int_equal (rfk_space_from_json (space, knobs, point, err, sizeof err), 0);
        json_t *j = rfk_space_to_json (space, point);
        assert_int_equal (json_integer_value (json_object_get (j, "depth")), depth);
        json_decref (j);
    }
    /* Extremes of the cube stay within bounds, integers round to bins. */
    double lo[5] = {0, 0, 0, 0, 0}, hi[5] = {1, 1, 1, 2, 1};
    json_t *jl = rfk_space_to_json (space, lo), *jh = rfk_space_to_json (space, hi);
    assert_true (json_real_value (json_object_get (jl, "lr")) >= 1e-5);
    assert_true (json_real_value (json_object_get (jh, "lr")) <= 1e-1);
    assert_int_equal (json_integer_value (json_object_get (jl, "depth")), 2);
    assert_int_equal (json_integer_value (json_object_get (jh, "depth")), 9);
    rafiki_knobs_t values;
    assert_int_equal (rfk_knobs_from_json (all_knobs, N_ALL, jl, true, &values, err, sizeof err),
                      0);
    rfk_knobs_free (&values);
    assert_int_equal (rfk_knobs_from_json (all_knobs, N_ALL, jh, true, &values, err, sizeof err),
                      0);
    rfk_knobs_free (&values);

    /* Policies switch on by mask. */
    assert_int_equal (rfk_space_set_policies (space, back, 1u << RAFIKI_POLICY_SHARE_PARAMS), 0);
    assert_true (json_is_false (json_object_get (back, "early_stop")));
    assert_true (json_is_true (json_object_get (back, "share")));

    json_decref (jl);
    json_decref (jh);
    json_decref (back);
    json_decref (knobs);
    rfk_space_destroy (&space);
}

/* Bad knob values are refused, naming the knob. */
static void
test_space_bad_values (void **state)
{
    (void)state;
    char err[256];
    rfk_space_t *space = rfk_space_new (all_knobs, N_ALL, err, sizeof err);
    double point[5];
    struct {
        const char *json, *says;
    } cases[] = {
        {"[1]", "JSON object"},
        {"{\"momentum\":0.9,\"depth\":3,\"colour\":\"red\",\"batch\":16}", "'lr' has no value"},
        {"{\"lr\":1,\"momentum\":0.9,\"depth\":3,\"colour\":\"red\",\"batch\":16}", "'lr'"},
        {"{\"lr\":0.01,\"momentum\":\"x\",\"depth\":3,\"colour\":\"red\",\"batch\":16}",
         "'momentum' wants a number"},
        {"{\"lr\":0.01,\"momentum\":0.9,\"depth\":3.5,\"colour\":\"red\",\"batch\":16}",
         "'depth' wants an integer"},
        {"{\"lr\":0.01,\"momentum\":0.9,\"depth\":10,\"colour\":\"red\",\"batch\":16}",
         "'depth': 10 is out of its range"},
        {"{\"lr\":0.01,\"momentum\":0.9,\"depth\":3,\"colour\":\"pink\",\"batch\":16}",
         "'colour': the value is not one of its 3 choices"},
        {"{\"lr\":0.01,\"momentum\":0.9,\"depth\":3,\"colour\":\"red\",\"batch\":\"16\"}",
         "'batch'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = json_loads (cases[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null (j);
        err[0] = 0;
        assert_int_equal (rfk_space_from_json (space, j, point, err, sizeof err), -1);
        if (!strstr (err, cases[i].says))
            fail_msg ("case %zu: '%s' does not say '%s'", i, err, cases[i].says);
        json_decref (j);
    }
    /* Integer-valued reals and 16.0 for the choice 16 are fine. */
    json_t *j = json_loads ("{\"lr\":0.01,\"momentum\":0.9,\"depth\":3.0,\"colour\":\"red\","
                            "\"batch\":16.0}",
                            0, NULL);
    assert_int_equal (rfk_space_from_json (space, j, point, err, sizeof err), 0);
    json_decref (j);
    rfk_space_destroy (&space);
}

/* A space from the JSON description of a table, and broken tables. */
static void
test_space_json (void **state)
{
    (void)state;
    char err[256];
    json_t *table = rfk_knob_table_to_json (all_knobs, N_ALL);
    rfk_space_t *space = rfk_space_new_json (table, err, sizeof err);
    assert_non_null (space);
    assert_int_equal (rfk_space_dims (space), 8);
    rfk_space_destroy (&space);
    json_decref (table);

    struct {
        const char *json, *says;
    } cases[] = {
        {"{}", "JSON array"},
        {"[3]", "entry 0 is not an object"},
        {"[{\"type\":\"FLOAT\",\"min\":0,\"max\":1}]", "entry 0 has no name"},
        {"[{\"name\":\"a\",\"type\":\"FLOAT\",\"min\":1,\"max\":0}]", "'a' has min 1 above max 0"},
        {"[{\"name\":\"a\",\"type\":\"FLOAT\",\"min\":0,\"max\":1,\"log_scale\":true}]",
         "log-scale knob 'a' needs min > 0"},
        {"[{\"name\":\"a\",\"type\":\"INTEGER\",\"min\":0.5,\"max\":1}]", "not a whole number"},
        {"[{\"name\":\"a\",\"type\":\"CATEGORICAL\",\"values\":[]}]", "'a' has no values"},
        {"[{\"name\":\"a\",\"type\":\"POLICY\",\"policy\":\"NAP\"}]", "unknown policy"},
        {"[{\"name\":\"a\",\"type\":\"WHAT\"}]", "unknown type 'WHAT'"},
        {"[{\"name\":\"a\",\"type\":\"FIXED\",\"value\":1},{\"name\":\"a\",\"type\":\"FIXED\","
         "\"value\":2}]",
         "'a' appears twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = json_loads (cases[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null (j);
        err[0] = 0;
        assert_null (rfk_space_new_json (j, err, sizeof err));
        if (!strstr (err, cases[i].says))
            fail_msg ("case %zu: '%s' does not say '%s'", i, err, cases[i].says);
        json_decref (j);
    }
    /* A broken template table is refused by the template's own check. */
    rafiki_knob_t bad = {.name = "x", .type = RAFIKI_KNOB_FLOAT, .min = 2, .max = 1};
    assert_null (rfk_space_new (&bad, 1, err, sizeof err));
    assert_non_null (strstr (err, "x"));
}

/* Random search: uniform, log-uniform, uniform choices, within bounds. */
static void
test_random (void **state)
{
    (void)state;
    char err[256];
    rfk_space_t *space = rfk_space_new (all_knobs, N_ALL, err, sizeof err);
    rfk_tuner_t *tuner = rfk_tuner_new (RFK_TUNER_RANDOM, space, 1);
    int below_1e3 = 0, high_momentum = 0, reds = 0, depths[10] = {0};
    const int n = 3000;
    for (int i = 0; i < n; i++) {
        json_t *k = rfk_tuner_propose (tuner);
        double lr = json_real_value (json_object_get (k, "lr"));
        double m = json_real_value (json_object_get (k, "momentum"));
        json_int_t depth = json_integer_value (json_object_get (k, "depth"));
        assert_true (lr >= 1e-5 && lr <= 1e-1);
        assert_true (m >= 0.5 && m <= 0.99);
        assert_true (depth >= 2 && depth <= 9);
        below_1e3 += lr < 1e-3;
        high_momentum += m > 0.745;
        reds += strcmp (json_string_value (json_object_get (k, "colour")), "red") == 0;
        depths[depth]++;
        rfk_tuner_observe (tuner, k, 0, err, sizeof err);
        json_decref (k);
    }
    /* log-uniform: half below the geometric mean; uniform: half above the
       middle; a third red; every depth about an eighth. */
    assert_true (abs (below_1e3 - n / 2) < n / 20);
    assert_true (abs (high_momentum - n / 2) < n / 20);
    assert_true (abs (reds - n / 3) < n / 20);
    for (int d = 2; d <= 9; d++)
        assert_true (abs (depths[d] - n / 8) < n / 25);
    rfk_tuner_destroy (&tuner);
    rfk_space_destroy (&space);
}

/* A log-scale INTEGER knob: sizes in [8, 1024]; and the same, linear. */
static const rafiki_knob_t size_knobs[] = {
    {.name = "units", .type = RAFIKI_KNOB_INTEGER, .min = 8, .max = 1024, .log_scale = true},
    {.name = "units", .type = RAFIKI_KNOB_INTEGER, .min = 8, .max = 1024},
};

/* How many proposals put units below 90 (the geometric middle of [8,
   1024]), of `runs` tuners seeded 1.. making n proposals each; every value is
   checked to be a whole number within bounds. The score is flat, so only
   the scale shapes the spread. */
static int
units_below_90 (rfk_tuner_kind_t kind, bool log_scale, int runs, int n)
{
    char err[256];
    rfk_space_t *space = rfk_space_new (&size_knobs[log_scale ? 0 : 1], 1, err, sizeof err);
    assert_non_null (space);
    int below = 0;
    for (int run = 1; run <= runs; run++) {
        rfk_tuner_t *tuner = rfk_tuner_new (kind, space, (uint64_t)run);
        for (int i = 0; i < n; i++) {
            json_t *k = rfk_tuner_propose (tuner);
            assert_non_null (k);
            json_t *units = json_object_get (k, "units");
            assert_true (json_is_integer (units));
            json_int_t v = json_integer_value (units);
            if (v < 8 || v > 1024)
                fail_msg ("units %lld is out of [8, 1024]", (long long)v);
            below += v < 90;
            assert_int_equal (rfk_tuner_observe (tuner, k, 0, err, sizeof err), 0);
            json_decref (k);
        }
        rfk_tuner_destroy (&tuner);
    }
    rfk_space_destroy (&space);
    return below;
}

/* The best score of a tuner after 20 trials on a log-scale INTEGER whose
   best value is 16: minus the distance to 16 in natural log units. */
static double
units_best (rfk_tuner_kind_t kind, uint64_t seed)
{
    char err[256];
    rfk_space_t *space = rfk_space_new (size_knobs, 1, err, sizeof err);
    rfk_tuner_t *tuner = rfk_tuner_new (kind, space, seed);
    for (int i = 0; i < 20; i++) {
        json_t *k = rfk_tuner_propose (tuner);
        double v = (double)json_integer_value (json_object_get (k, "units"));
        assert_int_equal (rfk_tuner_observe (tuner, k, -fabs (log (v / 16)), err, sizeof err), 0);
        json_decref (k);
    }
    double best = rfk_tuner_best_score (tuner);
    rfk_tuner_destroy (&tuner);
    rfk_space_destroy (&space);
    return best;
}

/* Log-scale integers: the space maps them through their logarithm, random
   search and TPE put about half their proposals below the geometric middle
   (a linear knob would put one in twelve there), the GP keeps to whole
   values in bounds, and min < 1 is refused naming the knob. */
static void
test_log_integer (void **state)
{
    (void)state;
    char err[256];
    rfk_space_t *space = rfk_space_new (size_knobs, 1, err, sizeof err);
    assert_non_null (space);
    assert_int_equal (rfk_space_param_kind (space, 0), RFK_PARAM_LOG_INTEGER);
    assert_int_equal (rfk_space_dims (space), 1);
    /* Every value survives knob value -> point -> knob value. */
    for (json_int_t v = 8; v <= 1024; v++) {
        json_t *k = json_pack ("{s:I}", "units", v);
        double point[1];
        assert_int_equal (rfk_space_from_json (space, k, point, err, sizeof err), 0);
        json_t *back = rfk_space_to_json (space, point);
        assert_int_equal (json_integer_value (json_object_get (back, "units")), v);
        json_decref (back);
        json_decref (k);
    }
    /* The middle of the interval is the geometric middle; the ends are the bounds. */
    double mid[1] = {0.5}, lo[1] = {0}, hi[1] = {1};
    json_t *jm = rfk_space_to_json (space, mid), *jl = rfk_space_to_json (space, lo),
           *jh = rfk_space_to_json (space, hi);
    json_int_t middle = json_integer_value (json_object_get (jm, "units"));
    assert_true (middle >= 85 && middle <= 92);
    assert_int_equal (json_integer_value (json_object_get (jl, "units")), 8);
    assert_int_equal (json_integer_value (json_object_get (jh, "units")), 1024);
    json_decref (jm);
    json_decref (jl);
    json_decref (jh);
    /* 1023.5 is no integer; 7 is out of range. */
    json_t *bad = json_pack ("{s:f}", "units", 1023.5);
    double point[1];
    assert_int_equal (rfk_space_from_json (space, bad, point, err, sizeof err), -1);
    assert_non_null (strstr (err, "'units' wants an integer"));
    json_decref (bad);
    bad = json_pack ("{s:i}", "units", 7);
    assert_int_equal (rfk_space_from_json (space, bad, point, err, sizeof err), -1);
    assert_non_null (strstr (err, "'units': 7 is out of its range"));
    json_decref (bad);
    rfk_space_destroy (&space);

    int random = units_below_90 (RFK_TUNER_RANDOM, true, 1, 2000);
    int random_linear = units_below_90 (RFK_TUNER_RANDOM, false, 1, 2000);
    int tpe = units_below_90 (RFK_TUNER_TPE, true, 40, 10);
    int tpe_linear = units_below_90 (RFK_TUNER_TPE, false, 40, 10);
    int gp = units_below_90 (RFK_TUNER_GP, true, 2, 12);
    print_message ("# units below 90, log (linear): random %d (%d) of 2000, tpe %d (%d) of 400, "
                   "gp %d of 24\n",
                   random, random_linear, tpe, tpe_linear, gp);
    assert_true (abs (random - 1000) < 100);
    assert_true (random_linear < 2000 / 8);
    assert_true (abs (tpe - 200) < 60);
    assert_true (tpe_linear < 400 / 5);
    /* Both model-based tuners find the small best size on the log scale. */
    double best_gp = units_best (RFK_TUNER_GP, 1), best_tpe = units_best (RFK_TUNER_TPE, 1);
    print_message ("# best of 20 for units = 16: gp %.3f, tpe %.3f\n", best_gp, best_tpe);
    assert_true (best_gp > -0.15 && best_tpe > -0.15);

    /* min < 1, from a template's table or from its JSON description. */
    rafiki_knob_t zero = size_knobs[0];
    zero.min = 0;
    assert_null (rfk_space_new (&zero, 1, err, sizeof err));
    assert_non_null (strstr (err, "'units'"));
    json_t *table = json_loads ("[{\"name\":\"units\",\"type\":\"INTEGER\",\"min\":0,"
                                "\"max\":1024,\"log_scale\":true}]",
                                0, NULL);
    assert_null (rfk_space_new_json (table, err, sizeof err));
    assert_string_equal (err, "log-scale integer knob 'units' needs min >= 1, has 0");
    json_decref (table);
}

/* The regret after `evals` evaluations of Branin. */
static double
branin_regret (rfk_tuner_kind_t kind, uint64_t seed, int evals)
{
    char err[256];
    rfk_space_t *space = rfk_space_new (branin_knobs, 2, err, sizeof err);
    rfk_tuner_t *tuner = rfk_tuner_new (kind, space, seed);
    double best = INFINITY;
    for (int i = 0; i < evals; i++) {
        json_t *k = rfk_tuner_propose (tuner);
        assert_non_null (k);
        double f = branin (k);
        best = fmin (best, f);
        assert_int_equal (rfk_tuner_observe (tuner, k, -f, err, sizeof err), 0);
        json_decref (k);
    }
    rfk_tuner_destroy (&tuner);
    rfk_space_destroy (&space);
    return best - BRANIN_MIN;
}

static double
median3 (double a, double b, double c)
{
    return fmax (fmin (a, b), fmin (fmax (a, b), c));
}

/* The median regret over three seeds. */
static double
branin_median (rfk_tuner_kind_t kind, int evals)
{
    return median3 (branin_regret (kind, 1, evals), branin_regret (kind, 2, evals),
                    branin_regret (kind, 3, evals));
}

/* GP and TPE beat random search on Branin in 30 evaluations. */
static void
test_beat_random (void **state)
{
    (void)state;
    double random = branin_median (RFK_TUNER_RANDOM, 30);
    double gp = branin_median (RFK_TUNER_GP, 30);
    double tpe = branin_median (RFK_TUNER_TPE, 30);
    print_message ("# Branin regret after 30: random %.4g, gp %.4g, tpe %.4g\n", random, gp, tpe);
    assert_true (gp < random);
    assert_true (tpe < random);
    assert_true (gp < 0.05); /* and the GP gets close */
}

/* The same seed gives the same proposals; another seed others. */
static void
test_deterministic (void **state)
{
    (void)state;
    rfk_tuner_kind_t kinds[] = {RFK_TUNER_RANDOM, RFK_TUNER_GP, RFK_TUNER_TPE};
    for (size_t k = 0; k < 3; k++) {
        double a = branin_regret (kinds[k], 5, 15), b = branin_regret (kinds[k], 5, 15);
        double c = branin_regret (kinds[k], 6, 15);
        assert_true (a == b);
        assert_true (a != c);
    }
}

/* The best score of a tuner after 30 trials on a mixed space (log float,
   integer, categoricals); the best possible is 1.5. */
static double
mixed_best (const rfk_space_t *space, rfk_tuner_kind_t kind, uint64_t seed)
{
    char err[256];
    rfk_tuner_t *tuner = rfk_tuner_new (kind, space, seed);
    for (int i = 0; i < 30; i++) {
        json_t *j = rfk_tuner_propose (tuner);
        assert_non_null (j);
        rafiki_knobs_t v;
        assert_int_equal (rfk_knobs_from_json (all_knobs, N_ALL, j, true, &v, err, sizeof err), 0);
        double lr = rafiki_knobs_float (&v, "lr", 0);
        double depth = (double)rafiki_knobs_int (&v, "depth", 0);
        double score = -fabs (log10 (lr) + 2) - 0.3 * fabs (depth - 6) +
                       (strcmp (rafiki_knobs_string (&v, "colour", ""), "green") == 0) +
                       0.5 * (rafiki_knobs_int (&v, "batch", 0) == 32);
        rfk_knobs_free (&v);
        assert_int_equal (rfk_tuner_observe (tuner, j, score, err, sizeof err), 0);
        json_decref (j);
    }
    double best = rfk_tuner_best_score (tuner);
    rfk_tuner_destroy (&tuner);
    return best;
}

/* On a mixed space the GP and TPE beat random search too (median of 3). */
static void
test_mixed (void **state)
{
    (void)state;
    char err[256];
    rfk_space_t *space = rfk_space_new (all_knobs, N_ALL, err, sizeof err);
    double best[3];
    rfk_tuner_kind_t kinds[] = {RFK_TUNER_RANDOM, RFK_TUNER_GP, RFK_TUNER_TPE};
    for (size_t k = 0; k < 3; k++)
        best[k] = median3 (mixed_best (space, kinds[k], 1), mixed_best (space, kinds[k], 2),
                           mixed_best (space, kinds[k], 4));
    print_message ("# mixed space, best of 30: random %.3f, gp %.3f, tpe %.3f\n", best[0], best[1],
                   best[2]);
    assert_true (best[1] > best[0]);
    assert_true (best[2] > best[0]);
    assert_true (best[1] > 1.3);
    rfk_space_destroy (&space);
}

/* Parallel trainers: pending proposals are not proposed again, failures
   are taken, bad observations refused. */
static void
test_pending_and_failures (void **state)
{
    (void)state;
    char err[256];
    rfk_space_t *space = rfk_space_new (branin_knobs, 2, err, sizeof err);
    rfk_tuner_t *tuner = rfk_tuner_new (RFK_TUNER_GP, space, 9);
    for (int i = 0; i < 10; i++) {
        json_t *k = rfk_tuner_propose (tuner);
        if (i % 4 == 3)
            assert_int_equal (rfk_tuner_fail (tuner, k, err, sizeof err), 0);
        else
            assert_int_equal (rfk_tuner_observe (tuner, k, -branin (k), err, sizeof err), 0);
        json_decref (k);
    }
    json_t *a = rfk_tuner_propose (tuner), *b = rfk_tuner_propose (tuner);
    json_t *c = rfk_tuner_propose (tuner);
    assert_false (json_equal (a, b));
    assert_false (json_equal (b, c));
    assert_false (json_equal (a, c));
    assert_int_equal (rfk_tuner_observe (tuner, b, -branin (b), err, sizeof err), 0);
    assert_int_equal (rfk_tuner_observe (tuner, a, NAN, err, sizeof err), -1);
    assert_non_null (strstr (err, "finite"));
    json_t *bad = json_pack ("{s:f}", "x1", 0.0);
    assert_int_equal (rfk_tuner_observe (tuner, bad, 1, err, sizeof err), -1);
    assert_non_null (strstr (err, "'x2' has no value"));
    assert_int_equal (rfk_tuner_observed (tuner), 11);
    json_decref (bad);
    json_decref (a);
    json_decref (b);
    json_decref (c);
    rfk_tuner_destroy (&tuner);
    rfk_space_destroy (&space);
}

/* Auto: only fixed knobs -> exactly one trial; otherwise the GP, or what
   the job's ADVISOR train arg asks for. */
static void
test_auto (void **state)
{
    (void)state;
    char err[256];
    rfk_space_t *fixed = rfk_space_new (fixed_knobs, 2, err, sizeof err);
    assert_true (rfk_space_only_fixed (fixed));
    rfk_tuner_t *tuner = rfk_tuner_new (RFK_TUNER_AUTO, fixed, 1);
    assert_int_equal (rfk_tuner_kind (tuner), RFK_TUNER_FIXED);
    assert_false (rfk_tuner_exhausted (tuner));
    json_t *k = rfk_tuner_propose (tuner);
    assert_non_null (k);
    assert_int_equal (json_integer_value (json_object_get (k, "epochs")), 3);
    assert_true (json_is_false (json_object_get (k, "early_stop")));
    assert_true (rfk_tuner_exhausted (tuner));
    assert_null (rfk_tuner_propose (tuner));
    assert_int_equal (rfk_tuner_observe (tuner, k, 0.5, err, sizeof err), 0);
    assert_null (rfk_tuner_propose (tuner));
    json_decref (k);
    rfk_tuner_destroy (&tuner);
    /* Even asked for TPE, a space of fixed knobs gets one trial. */
    assert_int_equal (rfk_tuner_kind_choose (fixed, RFK_TUNER_TPE), RFK_TUNER_FIXED);
    rfk_space_destroy (&fixed);

    rfk_space_t *space = rfk_space_new (all_knobs, N_ALL, err, sizeof err);
    rfk_tuner_kind_t kind;
    assert_int_equal (rfk_tuner_kind_choose (space, RFK_TUNER_AUTO), RFK_TUNER_GP);
    assert_int_equal (rfk_tuner_kind_parse ("TPE", &kind, err, sizeof err), 0);
    assert_int_equal (rfk_tuner_kind_choose (space, kind), RFK_TUNER_TPE);
    assert_int_equal (rfk_tuner_kind_parse ("random", &kind, err, sizeof err), 0);
    assert_int_equal (kind, RFK_TUNER_RANDOM);
    assert_int_equal (rfk_tuner_kind_parse ("gp", &kind, err, sizeof err), 0);
    assert_int_equal (kind, RFK_TUNER_GP);
    assert_int_equal (rfk_tuner_kind_parse ("auto", &kind, err, sizeof err), 0);
    assert_int_equal (kind, RFK_TUNER_AUTO);
    assert_int_equal (rfk_tuner_kind_parse ("hyperband", &kind, err, sizeof err), -1);
    assert_non_null (strstr (err, "unknown advisor 'hyperband'"));
    assert_int_equal (rfk_tuner_kind_parse (NULL, &kind, err, sizeof err), -1);
    assert_string_equal (rfk_tuner_kind_name (RFK_TUNER_TPE), "tpe");
    rfk_space_destroy (&space);
}

/* ASHA with eta 3 and rungs at steps 1, 3, 9 on a scripted sequence. */
static void
test_asha (void **state)
{
    (void)state;
    assert_null (rfk_asha_new (0, 3, 0));
    assert_null (rfk_asha_new (1, 1, 0));
    rfk_asha_t *asha = rfk_asha_new (1, 3, 27);
    assert_non_null (asha);
    /* Rung 0 (step 1): the first trials must each be the best yet. */
    assert_int_equal (rfk_asha_report (asha, 1, 1, 0.50), RFK_ASHA_CONTINUE);
    assert_int_equal (rfk_asha_report (asha, 2, 1, 0.60), RFK_ASHA_CONTINUE);
    assert_int_equal (rfk_asha_report (asha, 3, 1, 0.40), RFK_ASHA_PRUNE);
    /* A pruned trial stays pruned. */
    assert_int_equal (rfk_asha_report (asha, 3, 2, 0.99), RFK_ASHA_PRUNE);
    /* Below the first rung nothing is decided. */
    assert_int_equal (rfk_asha_report (asha, 4, 0.5, 0.01), RFK_ASHA_CONTINUE);
    /* Rung 0 fills up: from six scores on, the best two go on. */
    assert_int_equal (rfk_asha_report (asha, 4, 1, 0.65), RFK_ASHA_CONTINUE); /* best of 4 */
    assert_int_equal (rfk_asha_report (asha, 5, 1, 0.45), RFK_ASHA_PRUNE);    /* 4th of 5 */
    assert_int_equal (rfk_asha_report (asha, 6, 1, 0.62), RFK_ASHA_CONTINUE); /* 2nd of 6 */
    assert_int_equal (rfk_asha_report (asha, 7, 1, 0.61), RFK_ASHA_PRUNE);    /* 3rd of 7 */
    assert_int_equal (rfk_asha_rung_size (asha, 0), 7);
    /* Between rungs, no decision; at step 3 rung 1. */
    assert_int_equal (rfk_asha_report (asha, 2, 2, 0.10), RFK_ASHA_CONTINUE);
    assert_int_equal (rfk_asha_report (asha, 2, 3, 0.70), RFK_ASHA_CONTINUE);
    assert_int_equal (rfk_asha_report (asha, 1, 3, 0.65), RFK_ASHA_PRUNE);
    assert_int_equal (rfk_asha_rungs (asha), 2);
    /* A report that jumps rungs records each one on its way. */
    assert_int_equal (rfk_asha_report (asha, 6, 9, 0.90), RFK_ASHA_CONTINUE);
    assert_int_equal (rfk_asha_rung_size (asha, 1), 3);
    assert_int_equal (rfk_asha_rung_size (asha, 2), 1);
    /* No rung at max_resource: the last step is never pruned. */
    assert_int_equal (rfk_asha_report (asha, 6, 27, 0.0), RFK_ASHA_CONTINUE);
    assert_int_equal (rfk_asha_rungs (asha), 3);
    /* A non-finite score is the worst. */
    assert_int_equal (rfk_asha_report (asha, 8, 1, NAN), RFK_ASHA_PRUNE);
    rfk_asha_destroy (&asha);
    rfk_asha_destroy (&asha);
}

/* Budgets: trials and time, the first reached ends. */
static void
test_budget (void **state)
{
    (void)state;
    char err[256];
    rfk_budget_t b;
    json_t *j =
        json_pack ("{s:i, s:s, s:i}", "MODEL_TRIAL_COUNT", 20, "TIME_HOURS", "0.5", "GPU_COUNT", 0);
    assert_int_equal (rfk_budget_parse (j, &b, err, sizeof err), 0);
    assert_int_equal (b.max_trials, 20);
    assert_true (b.time_hours == 0.5);
    assert_false (rfk_budget_spent (&b, 19, 1799));
    assert_true (rfk_budget_spent (&b, 20, 0));
    assert_true (rfk_budget_spent (&b, 1, 1800));
    assert_true (fabs (rfk_budget_progress (&b, 5, 900) - 0.5) < 1e-12);
    assert_true (fabs (rfk_budget_progress (&b, 15, 900) - 0.75) < 1e-12);
    json_decref (j);

    j = json_pack ("{s:s}", "MODEL_TRIAL_COUNT", "5");
    assert_int_equal (rfk_budget_parse (j, &b, err, sizeof err), 0);
    assert_true (b.max_trials == 5 && b.time_hours < 0);
    assert_false (rfk_budget_spent (&b, 4, 1e9));
    json_decref (j);

    assert_int_equal (rfk_budget_parse (NULL, &b, err, sizeof err), 0);
    assert_true (b.max_trials < 0 && b.time_hours == 0.1);

    const char *bad[][2] = {
        {"{\"MODEL_TRIAL_COUNT\": 0}", "MODEL_TRIAL_COUNT 0 is not a positive integer"},
        {"{\"MODEL_TRIAL_COUNT\": 2.5}", "MODEL_TRIAL_COUNT"},
        {"{\"MODEL_TRIAL_COUNT\": \"ten\"}", "MODEL_TRIAL_COUNT 'ten' is not a number"},
        {"{\"TIME_HOURS\": -1}", "TIME_HOURS -1 is not positive"},
        {"{\"TIME_HOURS\": [1]}", "TIME_HOURS is not a number"},
        {"[]", "a budget is a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = json_loads (bad[i][0], 0, NULL);
        assert_int_equal (rfk_budget_parse (j, &b, err, sizeof err), -1);
        if (!strstr (err, bad[i][1]))
            fail_msg ("case %zu: '%s' does not say '%s'", i, err, bad[i][1]);
        json_decref (j);
    }
}

/* Parameter sharing: from scratch early, from the best trial later. */
static void
test_share_params (void **state)
{
    (void)state;
    char err[256];
    rfk_space_t *space = rfk_space_new (all_knobs, N_ALL, err, sizeof err);
    rfk_tuner_t *tuner = rfk_tuner_new (RFK_TUNER_TPE, space, 4);
    /* Nothing to share before a trial has a score. */
    assert_int_equal (rfk_tuner_params_source (tuner, 1.0, RFK_PARAMS_BEST), RFK_PARAMS_NONE);
    json_t *k = rfk_tuner_propose (tuner);
    rfk_tuner_observe (tuner, k, 0.3, err, sizeof err);
    json_decref (k);
    /* At the start always from scratch; at the end mostly shared. */
    int shared_late = 0, latest = 0;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal (rfk_tuner_params_source (tuner, 0.0, RFK_PARAMS_BEST), RFK_PARAMS_NONE);
        shared_late += rfk_tuner_params_source (tuner, 1.0, RFK_PARAMS_BEST) == RFK_PARAMS_BEST;
        latest += rfk_tuner_params_source (tuner, 0.5, RFK_PARAMS_LATEST) == RFK_PARAMS_LATEST;
    }
    assert_true (shared_late > 960);            /* 1 - e^-4 = 0.98 */
    assert_true (latest > 800 && latest < 900); /* 1 - e^-2 = 0.86 */
    assert_string_equal (rfk_params_source_name (RFK_PARAMS_BEST), "BEST");
    /* Policies: early stop always (the template declares it), sharing when
       parameters are shared. */
    unsigned mask = rfk_tuner_policies (tuner, RFK_PARAMS_BEST);
    assert_int_equal (mask, (1u << RAFIKI_POLICY_EARLY_STOP) | (1u << RAFIKI_POLICY_SHARE_PARAMS));
    assert_int_equal (rfk_tuner_policies (tuner, RFK_PARAMS_NONE), 1u << RAFIKI_POLICY_EARLY_STOP);
    rfk_tuner_destroy (&tuner);
    rfk_space_destroy (&space);

    /* Without a SHARE_PARAMS knob, never. */
    space = rfk_space_new (branin_knobs, 2, err, sizeof err);
    tuner = rfk_tuner_new (RFK_TUNER_RANDOM, space, 4);
    k = rfk_tuner_propose (tuner);
    rfk_tuner_observe (tuner, k, 0.3, err, sizeof err);
    json_decref (k);
    assert_int_equal (rfk_tuner_params_source (tuner, 1.0, RFK_PARAMS_BEST), RFK_PARAMS_NONE);
    assert_int_equal (rfk_tuner_policies (tuner, RFK_PARAMS_BEST), 0);
    rfk_tuner_destroy (&tuner);
    rfk_space_destroy (&space);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_space_round_trip),
        cmocka_unit_test (test_space_bad_values),
        cmocka_unit_test (test_space_json),
        cmocka_unit_test (test_random),
        cmocka_unit_test (test_log_integer),
        cmocka_unit_test (test_beat_random),
        cmocka_unit_test (test_deterministic),
        cmocka_unit_test (test_mixed),
        cmocka_unit_test (test_pending_and_failures),
        cmocka_unit_test (test_auto),
        cmocka_unit_test (test_asha),
        cmocka_unit_test (test_budget),
        cmocka_unit_test (test_share_params),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
