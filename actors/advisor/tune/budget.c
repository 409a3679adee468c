/*  budget.c: a sub job's budget, MODEL_TRIAL_COUNT and TIME_HOURS; the
    first one reached ends it. */
#include "tune_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* The number at budget key `key`: a JSON number or a numeric string. 1 when
   present, 0 when absent, -1 when not a number. */
static int
s_number (const json_t *budget, const char *key, double *out, char *err, size_t errlen)
{
    json_t *j = json_object_get (budget, key);
    if (!j || json_is_null (j))
        return 0;
    if (json_is_number (j))
        *out = json_number_value (j);
    else if (json_is_string (j)) {
        const char *s = json_string_value (j);
        char *end = NULL;
        errno = 0;
        *out = strtod (s, &end);
        if (end == s || *end || errno) {
            rfk_tune_errf (err, errlen, "budget %s '%s' is not a number", key, s);
            return -1;
        }
    } else {
        rfk_tune_errf (err, errlen, "budget %s is not a number", key);
        return -1;
    }
    if (!isfinite (*out)) {
        rfk_tune_errf (err, errlen, "budget %s is not a finite number", key);
        return -1;
    }
    return 1;
}

int
rfk_budget_parse (const json_t *budget, rfk_budget_t *out, char *err, size_t errlen)
{
    rfk_budget_t b = {-1, -1};
    if (budget && !json_is_object (budget)) {
        rfk_tune_errf (err, errlen, "a budget is a JSON object");
        return -1;
    }
    double v;
    int rc = s_number (budget, "MODEL_TRIAL_COUNT", &v, err, errlen);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        if (v < 1 || v != floor (v) || v > 1e15) {
            rfk_tune_errf (err, errlen, "budget MODEL_TRIAL_COUNT %g is not a positive integer", v);
            return -1;
        }
        b.max_trials = (int64_t)v;
    }
    rc = s_number (budget, "TIME_HOURS", &v, err, errlen);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        if (!(v > 0)) {
            rfk_tune_errf (err, errlen, "budget TIME_HOURS %g is not positive", v);
            return -1;
        }
        b.time_hours = v;
    }
    if (b.max_trials < 0 && b.time_hours < 0)
        b.time_hours = 0.1;
    *out = b;
    return 0;
}

bool
rfk_budget_spent (const rfk_budget_t *self, int64_t trials, double elapsed_s)
{
    if (self->max_trials >= 0 && trials >= self->max_trials)
        return true;
    return self->time_hours >= 0 && elapsed_s >= self->time_hours * 3600.0;
}

double
rfk_budget_progress (const rfk_budget_t *self, int64_t trials, double elapsed_s)
{
    double p = 0;
    if (self->max_trials > 0)
        p = fmax (p, (double)trials / (double)self->max_trials);
    if (self->time_hours > 0)
        p = fmax (p, elapsed_s / (self->time_hours * 3600.0));
    return p < 0 ? 0 : p > 1 ? 1 : p;
}
