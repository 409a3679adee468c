/*  Tests of rfk_random_search: random proposals over a knob table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rfk_random_search.h"

static const rafiki_value_t s_boosters[] = {
    {RAFIKI_VALUE_STRING, {.s = "gbtree"}},
    {RAFIKI_VALUE_STRING, {.s = "dart"}},
};
static const rafiki_value_t s_layers[] = {
    {RAFIKI_VALUE_INT, {.i = 16}},
    {RAFIKI_VALUE_INT, {.i = 32}},
    {RAFIKI_VALUE_INT, {.i = 64}},
};

static const rafiki_knob_t s_table[] = {
    {.name = "booster", .type = RAFIKI_KNOB_CATEGORICAL, .values = s_boosters, .n_values = 2},
    {.name = "max_depth", .type = RAFIKI_KNOB_INTEGER, .min = 2, .max = 8},
    {.name = "eta", .type = RAFIKI_KNOB_FLOAT, .min = 1e-4, .max = 1, .log_scale = true},
    {.name = "subsample", .type = RAFIKI_KNOB_FLOAT, .min = 0.5, .max = 1},
    {.name = "objective", .type = RAFIKI_KNOB_FIXED, .value = {RAFIKI_VALUE_STRING, {.s = "soft"}}},
    {.name = "early_stop", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_EARLY_STOP},
    {.name = "hidden", .type = RAFIKI_KNOB_CATEGORICAL, .values = s_layers, .n_values = 3},
    {.name = "trees", .type = RAFIKI_KNOB_INTEGER, .min = 1, .max = 1000, .log_scale = true},
};
#define N_KNOBS (sizeof s_table / sizeof s_table[0])

/* Usage: propose knob values for a few trials, with one knob fixed. */
static void
test_usage (void **state)
{
    (void)state;
    char err[256];
    rfk_random_search_t *search = rfk_random_search_new (s_table, N_KNOBS, 42, err, sizeof err);
    assert_non_null (search);
    assert_int_equal (rfk_random_search_fix_assignment (search, "max_depth=5", err, sizeof err), 0);
    for (int trial = 0; trial < 100; trial++) {
        const rafiki_knobs_t *knobs = rfk_random_search_next (search);
        assert_int_equal (knobs->n, N_KNOBS);
        const char *booster = rafiki_knobs_string (knobs, "booster", NULL);
        assert_true (strcmp (booster, "gbtree") == 0 || strcmp (booster, "dart") == 0);
        assert_int_equal (rafiki_knobs_int (knobs, "max_depth", 0), 5);
        double eta = rafiki_knobs_float (knobs, "eta", -1);
        assert_true (eta >= 1e-4 && eta <= 1);
        double subsample = rafiki_knobs_float (knobs, "subsample", -1);
        assert_true (subsample >= 0.5 && subsample <= 1);
        assert_string_equal (rafiki_knobs_string (knobs, "objective", ""), "soft");
        const rafiki_value_t *policy = rafiki_knobs_find (knobs, "early_stop");
        assert_int_equal (policy->type, RAFIKI_VALUE_BOOL);
        assert_false (policy->u.b);
        int64_t hidden = rafiki_knobs_int (knobs, "hidden", 0);
        assert_true (hidden == 16 || hidden == 32 || hidden == 64);
        int64_t trees = rafiki_knobs_int (knobs, "trees", 0);
        assert_true (trees >= 1 && trees <= 1000);
    }
    rfk_random_search_destroy (&search);
    assert_null (search);
    rfk_random_search_destroy (&search);
}

static void
test_same_seed_same_proposals (void **state)
{
    (void)state;
    char err[256], a[512], b[512], c[512];
    rfk_random_search_t *one = rfk_random_search_new (s_table, N_KNOBS, 7, err, sizeof err);
    rfk_random_search_t *two = rfk_random_search_new (s_table, N_KNOBS, 7, err, sizeof err);
    rfk_random_search_t *other = rfk_random_search_new (s_table, N_KNOBS, 8, err, sizeof err);
    int differ = 0;
    for (int i = 0; i < 10; i++) {
        rfk_knobs_format (rfk_random_search_next (one), a, sizeof a);
        rfk_knobs_format (rfk_random_search_next (two), b, sizeof b);
        rfk_knobs_format (rfk_random_search_next (other), c, sizeof c);
        assert_string_equal (a, b);
        differ += strcmp (a, c) != 0;
    }
    assert_int_equal (differ, 10);
    rfk_random_search_destroy (&one);
    rfk_random_search_destroy (&two);
    rfk_random_search_destroy (&other);
}

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Log-scale knobs spread over the orders of magnitude: the median of eta in
   [1e-4, 1] is near 1e-2, not near 0.5; uniform knobs have their median in
   the middle; integers reach both bounds. */
static void
test_distributions (void **state)
{
    (void)state;
    char err[256];
    rfk_random_search_t *search = rfk_random_search_new (s_table, N_KNOBS, 1, err, sizeof err);
    enum { N = 2001 };
    static double eta[N], subsample[N];
    bool depth_seen[9] = {false};
    int dart = 0;
    for (int i = 0; i < N; i++) {
        const rafiki_knobs_t *knobs = rfk_random_search_next (search);
        eta[i] = rafiki_knobs_float (knobs, "eta", 0);
        subsample[i] = rafiki_knobs_float (knobs, "subsample", 0);
        depth_seen[rafiki_knobs_int (knobs, "max_depth", 0)] = true;
        dart += strcmp (rafiki_knobs_string (knobs, "booster", ""), "dart") == 0;
    }
    qsort (eta, N, sizeof eta[0], s_cmp_double);
    qsort (subsample, N, sizeof subsample[0], s_cmp_double);
    assert_true (eta[N / 2] > 3e-3 && eta[N / 2] < 3e-2);
    assert_true (subsample[N / 2] > 0.7 && subsample[N / 2] < 0.8);
    for (int d = 2; d <= 8; d++)
        assert_true (depth_seen[d]);
    assert_false (depth_seen[1]);
    assert_true (dart > N / 3 && dart < 2 * N / 3);
    rfk_random_search_destroy (&search);
}

/* A log-scale INTEGER in [8, 1024] (hidden units, trees) is below its
   geometric middle (about 90) half the time, where a linear one would be
   there one time in twelve; every value is a whole number within bounds,
   the lower bound is drawn and the top decile of sizes too. */
static void
test_log_integer (void **state)
{
    (void)state;
    char err[256];
    const rafiki_knob_t table[] = {
        {.name = "units", .type = RAFIKI_KNOB_INTEGER, .min = 8, .max = 1024, .log_scale = true},
        {.name = "linear", .type = RAFIKI_KNOB_INTEGER, .min = 8, .max = 1024},
    };
    rfk_random_search_t *search = rfk_random_search_new (table, 2, 5, err, sizeof err);
    assert_non_null (search);
    enum { N = 4000 };
    int below = 0, linear_below = 0, at_min = 0, high = 0;
    for (int i = 0; i < N; i++) {
        const rafiki_knobs_t *knobs = rfk_random_search_next (search);
        const rafiki_value_t *v = rafiki_knobs_find (knobs, "units");
        assert_int_equal (v->type, RAFIKI_VALUE_INT);
        assert_true (v->u.i >= 8 && v->u.i <= 1024);
        below += v->u.i < 90;
        at_min += v->u.i == 8;
        high += v->u.i >= 900;
        linear_below += rafiki_knobs_int (knobs, "linear", 0) < 90;
    }
    print_message ("# units below 90: log %d, linear %d of %d\n", below, linear_below, N);
    assert_true (abs (below - N / 2) < N / 20);
    assert_true (linear_below < N / 8);
    assert_true (at_min > 0 && high > 0);
    rfk_random_search_destroy (&search);

    /* min < 1 has no logarithm to sample from: refused, naming the knob. */
    rafiki_knob_t zero = {
        .name = "units", .type = RAFIKI_KNOB_INTEGER, .min = 0, .max = 1024, .log_scale = true};
    assert_null (rfk_random_search_new (&zero, 1, 0, err, sizeof err));
    assert_string_equal (err, "log-scale knob units needs min >= 1, not [0, 1024]");
    rafiki_knob_t negative = {
        .name = "lr", .type = RAFIKI_KNOB_FLOAT, .min = -1, .max = 1, .log_scale = true};
    assert_null (rfk_random_search_new (&negative, 1, 0, err, sizeof err));
    assert_string_equal (err, "log-scale knob lr needs min > 0, not [-1, 1]");
}

static void
test_fixed_values_are_checked (void **state)
{
    (void)state;
    char err[256];
    rfk_random_search_t *search = rfk_random_search_new (s_table, N_KNOBS, 3, err, sizeof err);
    assert_int_equal (rfk_random_search_fix (search, "booster", "dart", err, sizeof err), 0);
    assert_int_equal (rfk_random_search_fix (search, "eta", "0.05", err, sizeof err), 0);
    assert_int_equal (rfk_random_search_fix (search, "early_stop", "on", err, sizeof err), 0);
    assert_int_equal (rfk_random_search_fix (search, "hidden", "32", err, sizeof err), 0);
    assert_int_equal (rfk_random_search_fix (search, "objective", "soft", err, sizeof err), 0);
    assert_int_equal (rfk_random_search_fix (search, "max_depth", "6.0", err, sizeof err), 0);
    const rafiki_knobs_t *knobs = rfk_random_search_next (search);
    assert_string_equal (rafiki_knobs_string (knobs, "booster", ""), "dart");
    assert_true (rafiki_knobs_float (knobs, "eta", 0) == 0.05);
    assert_true (rafiki_knobs_bool (knobs, "early_stop", false));
    assert_int_equal (rafiki_knobs_int (knobs, "hidden", 0), 32);
    assert_int_equal (rafiki_knobs_int (knobs, "max_depth", 0), 6);
    char text[512];
    rfk_knobs_format (knobs, text, sizeof text);
    assert_non_null (strstr (text, "booster=dart max_depth=6 eta=0.05 "));
    assert_non_null (strstr (text, "objective=soft early_stop=true hidden=32"));

    struct {
        const char *assignment, *error;
    } bad[] = {
        {"depth=3", "the template has no knob named 'depth'"},
        {"max_depth=9", "knob max_depth wants a whole number in [2, 8], not '9'"},
        {"max_depth=2.5", "knob max_depth wants a whole number in [2, 8], not '2.5'"},
        {"eta=fast", "knob eta wants a number in [0.0001, 1], not 'fast'"},
        {"eta=", "knob eta wants a number in [0.0001, 1], not ''"},
        {"eta=nan", "knob eta wants a number in [0.0001, 1], not 'nan'"},
        {"booster=linear", "knob booster: 'linear' is not one of its 2 values"},
        {"early_stop=maybe", "policy knob early_stop wants true or false, not 'maybe'"},
        {"objective=hard", "knob objective is fixed by the template; 'hard' is not its value"},
        {"eta", "'eta' is not name=value"},
        {"=3", "'=3' is not name=value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal (
            rfk_random_search_fix_assignment (search, bad[i].assignment, err, sizeof err), -1);
        assert_string_equal (err, bad[i].error);
    }
    /* A refused value leaves the earlier one in place. */
    knobs = rfk_random_search_next (search);
    assert_string_equal (rafiki_knobs_string (knobs, "booster", ""), "dart");
    rfk_random_search_destroy (&search);
}

static void
test_broken_tables_are_refused (void **state)
{
    (void)state;
    char err[256];
    rafiki_knob_t empty_categorical = {.name = "c", .type = RAFIKI_KNOB_CATEGORICAL};
    assert_null (rfk_random_search_new (&empty_categorical, 1, 0, err, sizeof err));
    assert_string_equal (err, "categorical knob c has no values");

    rafiki_knob_t inverted = {.name = "x", .type = RAFIKI_KNOB_FLOAT, .min = 2, .max = 1};
    assert_null (rfk_random_search_new (&inverted, 1, 0, err, sizeof err));
    assert_string_equal (err, "knob x has bounds [2, 1] that cannot be sampled");

    rafiki_knob_t no_whole = {.name = "n", .type = RAFIKI_KNOB_INTEGER, .min = 1.2, .max = 1.8};
    assert_null (rfk_random_search_new (&no_whole, 1, 0, err, sizeof err));
    assert_string_equal (err, "integer knob n has no whole number in [1.2, 1.8]");

    rafiki_knob_t unnamed = {.name = NULL, .type = RAFIKI_KNOB_POLICY};
    assert_null (rfk_random_search_new (&unnamed, 1, 0, err, sizeof err));
    assert_string_equal (err, "knob 0 has no name");

    /* No knobs at all is fine: every proposal is empty. */
    rfk_random_search_t *search = rfk_random_search_new (NULL, 0, 0, err, sizeof err);
    assert_non_null (search);
    assert_int_equal (rfk_random_search_next (search)->n, 0);
    rfk_random_search_destroy (&search);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_same_seed_same_proposals),
        cmocka_unit_test (test_distributions),
        cmocka_unit_test (test_log_integer),
        cmocka_unit_test (test_fixed_values_are_checked),
        cmocka_unit_test (test_broken_tables_are_refused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
