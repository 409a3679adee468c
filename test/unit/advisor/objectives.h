/*  objectives.h: the known test functions the tuners are judged on, to be
    minimised: Branin (2-d) and Hartmann-6, with their search spaces as
    knob tables and their known minima. Shared by the unit tests and the
    benchmarks; each function takes knob values as the tuner proposes them. */
#ifndef RFK_TEST_OBJECTIVES_H_INCLUDED
#define RFK_TEST_OBJECTIVES_H_INCLUDED

#include <jansson.h>
#include <math.h>
#include <stdio.h>

#include "rafiki/model.h"

#define BRANIN_MIN 0.397887357729738
#define HARTMANN6_MIN (-3.32236801141551)

static const rafiki_knob_t branin_knobs[] = {
    {.name = "x1", .type = RAFIKI_KNOB_FLOAT, .min = -5, .max = 10},
    {.name = "x2", .type = RAFIKI_KNOB_FLOAT, .min = 0, .max = 15},
};

static const rafiki_knob_t hartmann6_knobs[] = {
    {.name = "x1", .type = RAFIKI_KNOB_FLOAT, .min = 0, .max = 1},
    {.name = "x2", .type = RAFIKI_KNOB_FLOAT, .min = 0, .max = 1},
    {.name = "x3", .type = RAFIKI_KNOB_FLOAT, .min = 0, .max = 1},
    {.name = "x4", .type = RAFIKI_KNOB_FLOAT, .min = 0, .max = 1},
    {.name = "x5", .type = RAFIKI_KNOB_FLOAT, .min = 0, .max = 1},
    {.name = "x6", .type = RAFIKI_KNOB_FLOAT, .min = 0, .max = 1},
};

/* Reads knob xi (1-based) from knob values. */
static inline double
objective_x (const json_t *knobs, int i)
{
    char name[8];
    snprintf (name, sizeof name, "x%d", i);
    return json_number_value (json_object_get (knobs, name));
}

static inline double
branin (const json_t *knobs)
{
    double x1 = objective_x (knobs, 1), x2 = objective_x (knobs, 2);
    double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, t = 1 / (8 * M_PI);
    double u = x2 - b * x1 * x1 + c * x1 - 6;
    return u * u + 10 * (1 - t) * cos (x1) + 10;
}

static inline double
hartmann6 (const json_t *knobs)
{
    static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
    static const double a[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                   {0.05, 10, 17, 0.1, 8, 14},
                                   {3, 3.5, 1.7, 10, 17, 8},
                                   {17, 8, 0.05, 10, 0.1, 14}};
    static const double p[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                   {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                   {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                   {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
    double f = 0;
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int j = 0; j < 6; j++) {
            double d = objective_x (knobs, j + 1) - p[i][j];
            s += a[i][j] * d * d;
        }
        f -= alpha[i] * exp (-s);
    }
    return f;
}

#endif
