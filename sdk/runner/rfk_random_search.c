/*  rfk_random_search: proposes knob values for trials at random.

    A splitmix64 generator seeded by the caller drives every draw, so a seed
    replays the same proposals on any machine.
*/
#include "rfk_random_search.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct rfk_random_search {
    const rafiki_knob_t *knobs;  /* the template's table, borrowed */
    size_t n_knobs;              /* rows in it */
    uint64_t state;              /* the generator's state */
    bool *fixed;                 /* n_knobs: the user fixed this knob */
    rafiki_value_t *fixed_value; /* n_knobs: the value the user fixed */
    char **fixed_text;           /* n_knobs: owned copies of fixed strings */
    rafiki_knob_value_t *items;  /* n_knobs: the last proposal */
    rafiki_knobs_t proposal;     /* items and n_knobs */
};

static uint64_t
s_next_u64 (rfk_random_search_t *self)
{
    uint64_t z = (self->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double
s_uniform (rfk_random_search_t *self)
{
    return (double)(s_next_u64 (self) >> 11) * 0x1.0p-53;
}

rfk_random_search_t *
rfk_random_search_new (const rafiki_knob_t *knobs, size_t n_knobs, uint64_t seed, char *err,
                       size_t errlen)
{
    if (n_knobs > 0 && !knobs) {
        snprintf (err, errlen, "the knob table is missing");
        return NULL;
    }
    for (size_t i = 0; i < n_knobs; i++) {
        const rafiki_knob_t *k = &knobs[i];
        const char *name = k->name ? k->name : "(unnamed)";
        if (!k->name || !*k->name) {
            snprintf (err, errlen, "knob %zu has no name", i);
            return NULL;
        }
        if (k->type == RAFIKI_KNOB_CATEGORICAL && (k->n_values == 0 || !k->values)) {
            snprintf (err, errlen, "categorical knob %s has no values", name);
            return NULL;
        }
        if ((k->type == RAFIKI_KNOB_INTEGER || k->type == RAFIKI_KNOB_FLOAT) &&
            (!isfinite (k->min) || !isfinite (k->max) || k->min > k->max)) {
            snprintf (err, errlen, "knob %s has bounds [%g, %g] that cannot be sampled", name,
                      k->min, k->max);
            return NULL;
        }
        if (k->type == RAFIKI_KNOB_INTEGER && ceil (k->min) > floor (k->max)) {
            snprintf (err, errlen, "integer knob %s has no whole number in [%g, %g]", name, k->min,
                      k->max);
            return NULL;
        }
        if (k->log_scale && ((k->type == RAFIKI_KNOB_INTEGER && k->min < 1) ||
                             (k->type == RAFIKI_KNOB_FLOAT && !(k->min > 0)))) {
            snprintf (err, errlen, "log-scale knob %s needs min %s, not [%g, %g]", name,
                      k->type == RAFIKI_KNOB_INTEGER ? ">= 1" : "> 0", k->min, k->max);
            return NULL;
        }
        if (k->type > RAFIKI_KNOB_POLICY) {
            snprintf (err, errlen, "knob %s has an unknown type %d", name, (int)k->type);
            return NULL;
        }
    }
    rfk_random_search_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->knobs = knobs;
    self->n_knobs = n_knobs;
    self->state = seed;
    size_t n = n_knobs ? n_knobs : 1;
    self->fixed = calloc (n, sizeof *self->fixed);
    self->fixed_value = calloc (n, sizeof *self->fixed_value);
    self->fixed_text = calloc (n, sizeof *self->fixed_text);
    self->items = calloc (n, sizeof *self->items);
    if (!self->fixed || !self->fixed_value || !self->fixed_text || !self->items) {
        rfk_random_search_destroy (&self);
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    return self;
}

void
rfk_random_search_destroy (rfk_random_search_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_random_search_t *self = *self_p;
    for (size_t i = 0; self->fixed_text && i < self->n_knobs; i++)
        free (self->fixed_text[i]);
    free (self->fixed_text);
    free (self->fixed);
    free (self->fixed_value);
    free (self->items);
    free (self);
    *self_p = NULL;
}

/* A boolean written as text; -1 when it is not one. */
static int
s_parse_bool (const char *text)
{
    static const char *yes[] = {"true", "on", "1", "yes"};
    static const char *no[] = {"false", "off", "0", "no"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp (text, yes[i]) == 0)
            return 1;
        if (strcasecmp (text, no[i]) == 0)
            return 0;
    }
    return -1;
}

/* A whole number written as text (e.g. "4" or "4.0"). */
static bool
s_parse_int (const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll (text, &end, 10);
    if (*text && !*end && errno == 0) {
        *out = v;
        return true;
    }
    double d = strtod (text, &end);
    if (*text && !*end && isfinite (d) && d == floor (d) && fabs (d) < 9e15) {
        *out = (int64_t)d;
        return true;
    }
    return false;
}

static bool
s_parse_float (const char *text, double *out)
{
    char *end;
    errno = 0;
    double d = strtod (text, &end);
    if (!*text || *end || errno != 0 || !isfinite (d))
        return false;
    *out = d;
    return true;
}

/* Does text name value v (of any value type)? */
static bool
s_text_matches (const char *text, const rafiki_value_t *v)
{
    int64_t i;
    double f;
    switch (v->type) {
        case RAFIKI_VALUE_STRING:
            return v->u.s && strcmp (text, v->u.s) == 0;
        case RAFIKI_VALUE_INT:
            return s_parse_int (text, &i) && i == v->u.i;
        case RAFIKI_VALUE_FLOAT:
            return s_parse_float (text, &f) && f == v->u.f;
        case RAFIKI_VALUE_BOOL:
            return s_parse_bool (text) == (int)v->u.b;
    }
    return false;
}

int
rfk_random_search_fix (rfk_random_search_t *self, const char *name, const char *value, char *err,
                       size_t errlen)
{
    size_t i = 0;
    while (i < self->n_knobs && strcmp (self->knobs[i].name, name) != 0)
        i++;
    if (i == self->n_knobs) {
        snprintf (err, errlen, "the template has no knob named '%s'", name);
        return -1;
    }
    const rafiki_knob_t *k = &self->knobs[i];
    rafiki_value_t v;
    memset (&v, 0, sizeof v);
    switch (k->type) {
        case RAFIKI_KNOB_FIXED:
            if (!s_text_matches (value, &k->value)) {
                snprintf (err, errlen, "knob %s is fixed by the template; '%s' is not its value",
                          name, value);
                return -1;
            }
            v = k->value;
            break;
        case RAFIKI_KNOB_CATEGORICAL: {
            size_t j = 0;
            while (j < k->n_values && !s_text_matches (value, &k->values[j]))
                j++;
            if (j == k->n_values) {
                snprintf (err, errlen, "knob %s: '%s' is not one of its %zu values", name, value,
                          k->n_values);
                return -1;
            }
            v = k->values[j];
            break;
        }
        case RAFIKI_KNOB_INTEGER:
            v.type = RAFIKI_VALUE_INT;
            if (!s_parse_int (value, &v.u.i) || (double)v.u.i < k->min || (double)v.u.i > k->max) {
                snprintf (err, errlen, "knob %s wants a whole number in [%g, %g], not '%s'", name,
                          k->min, k->max, value);
                return -1;
            }
            break;
        case RAFIKI_KNOB_FLOAT:
            v.type = RAFIKI_VALUE_FLOAT;
            if (!s_parse_float (value, &v.u.f) || v.u.f < k->min || v.u.f > k->max) {
                snprintf (err, errlen, "knob %s wants a number in [%g, %g], not '%s'", name, k->min,
                          k->max, value);
                return -1;
            }
            break;
        case RAFIKI_KNOB_POLICY: {
            int b = s_parse_bool (value);
            if (b < 0) {
                snprintf (err, errlen, "policy knob %s wants true or false, not '%s'", name, value);
                return -1;
            }
            v.type = RAFIKI_VALUE_BOOL;
            v.u.b = b == 1;
            break;
        }
    }
    if (v.type == RAFIKI_VALUE_STRING) {
        char *copy = strdup (v.u.s);
        if (!copy) {
            snprintf (err, errlen, "out of memory");
            return -1;
        }
        free (self->fixed_text[i]);
        self->fixed_text[i] = copy;
        v.u.s = copy;
    }
    self->fixed[i] = true;
    self->fixed_value[i] = v;
    return 0;
}

int
rfk_random_search_fix_assignment (rfk_random_search_t *self, const char *assignment, char *err,
                                  size_t errlen)
{
    const char *eq = strchr (assignment, '=');
    if (!eq || eq == assignment) {
        snprintf (err, errlen, "'%s' is not name=value", assignment);
        return -1;
    }
    size_t len = (size_t)(eq - assignment);
    char *name = strndup (assignment, len);
    if (!name) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    int rc = rfk_random_search_fix (self, name, eq + 1, err, errlen);
    free (name);
    return rc;
}

/* One random value for knob k. */
static rafiki_value_t
s_sample (rfk_random_search_t *self, const rafiki_knob_t *k)
{
    rafiki_value_t v;
    memset (&v, 0, sizeof v);
    switch (k->type) {
        case RAFIKI_KNOB_FIXED:
            return k->value;
        case RAFIKI_KNOB_CATEGORICAL: {
            size_t j = (size_t)(s_uniform (self) * (double)k->n_values);
            return k->values[j < k->n_values ? j : k->n_values - 1];
        }
        case RAFIKI_KNOB_INTEGER: {
            double lo = ceil (k->min), hi = floor (k->max);
            double x;
            if (k->log_scale)
                x = floor (exp (log (lo) + s_uniform (self) * (log (hi + 1) - log (lo))));
            else
                x = lo + floor (s_uniform (self) * (hi - lo + 1));
            v.type = RAFIKI_VALUE_INT;
            v.u.i = (int64_t)(x < lo ? lo : x > hi ? hi : x);
            return v;
        }
        case RAFIKI_KNOB_FLOAT: {
            double x;
            if (k->log_scale)
                x = exp (log (k->min) + s_uniform (self) * (log (k->max) - log (k->min)));
            else
                x = k->min + s_uniform (self) * (k->max - k->min);
            v.type = RAFIKI_VALUE_FLOAT;
            v.u.f = x < k->min ? k->min : x > k->max ? k->max : x;
            return v;
        }
        case RAFIKI_KNOB_POLICY:
            v.type = RAFIKI_VALUE_BOOL;
            v.u.b = false;
            return v;
    }
    return v;
}

const rafiki_knobs_t *
rfk_random_search_next (rfk_random_search_t *self)
{
    for (size_t i = 0; i < self->n_knobs; i++) {
        self->items[i].name = self->knobs[i].name;
        /* Draw even for fixed knobs, so fixing one leaves the others' draws
           as they were. */
        rafiki_value_t v = s_sample (self, &self->knobs[i]);
        self->items[i].value = self->fixed[i] ? self->fixed_value[i] : v;
    }
    self->proposal.items = self->items;
    self->proposal.n = self->n_knobs;
    return &self->proposal;
}

char *
rfk_knobs_format (const rafiki_knobs_t *knobs, char *buf, size_t buflen)
{
    if (!buf || buflen == 0)
        return buf;
    buf[0] = 0;
    size_t used = 0;
    for (size_t i = 0; knobs && i < knobs->n && used < buflen; i++) {
        const rafiki_knob_value_t *kv = &knobs->items[i];
        const char *sep = i ? " " : "";
        int n = 0;
        switch (kv->value.type) {
            case RAFIKI_VALUE_INT:
                n = snprintf (buf + used, buflen - used, "%s%s=%lld", sep, kv->name,
                              (long long)kv->value.u.i);
                break;
            case RAFIKI_VALUE_FLOAT:
                n = snprintf (buf + used, buflen - used, "%s%s=%.6g", sep, kv->name, kv->value.u.f);
                break;
            case RAFIKI_VALUE_STRING:
                n = snprintf (buf + used, buflen - used, "%s%s=%s", sep, kv->name,
                              kv->value.u.s ? kv->value.u.s : "");
                break;
            case RAFIKI_VALUE_BOOL:
                n = snprintf (buf + used, buflen - used, "%s%s=%s", sep, kv->name,
                              kv->value.u.b ? "true" : "false");
                break;
        }
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}
