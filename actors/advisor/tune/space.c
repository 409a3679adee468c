/*  space.c: a template's knob table as a search space.

    Tuned knobs map to the unit interval: a FLOAT linearly, a log-scale
    FLOAT through its logarithm, an INTEGER in [min, max] to max - min + 1
    bins of equal width (a value sits at the centre of its bin, so that a
    position rounds to the nearest value), a log-scale INTEGER (min >= 1)
    linearly in [log (min - 0.5), log (max + 0.5)], so that value v owns the
    bin [log (v - 0.5), log (v + 0.5)] and sits at log v (sizes from 8 to
    1024 get half the interval below about 90), a CATEGORICAL to the index
    of its choice (one coordinate per choice in the one-hot encoding the
    Gaussian process uses). FIXED knobs keep their value; POLICY knobs are set per
    proposal. The space works from the JSON description of the table
    (rfk_knob_table_to_json), so an advisor can build it without opening
    the template. */
#include "rafiki/template.h"
#include "tune_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    rafiki_policy_t policy;
} s_policies[] = {
    {"EARLY_STOP", RAFIKI_POLICY_EARLY_STOP}, {"SHARE_PARAMS", RAFIKI_POLICY_SHARE_PARAMS},
    {"SKIP_TRAIN", RAFIKI_POLICY_SKIP_TRAIN}, {"QUICK_EVAL", RAFIKI_POLICY_QUICK_EVAL},
    {"DOWNSCALE", RAFIKI_POLICY_DOWNSCALE},
};

/* A bound of knob `name` from entry `o`: a finite number, and a whole one
   when `whole`. */
static int
s_bound (const json_t *o, const char *key, const char *name, bool whole, double *out, char *err,
         size_t errlen)
{
    json_t *j = json_object_get (o, key);
    if (!json_is_number (j) || !isfinite (json_number_value (j))) {
        rfk_tune_errf (err, errlen, "knob '%s' has no finite number '%s'", name, key);
        return -1;
    }
    *out = json_number_value (j);
    if (whole && *out != floor (*out)) {
        rfk_tune_errf (err, errlen, "knob '%s': '%s' %g is not a whole number", name, key, *out);
        return -1;
    }
    return 0;
}

/* True if a knob of this name is in the space already. */
static bool
s_name_taken (const rfk_space_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_params; i++)
        if (strcmp (self->params[i].name, name) == 0)
            return true;
    for (size_t i = 0; i < self->n_fixed; i++)
        if (strcmp (self->fixed[i].name, name) == 0)
            return true;
    for (size_t i = 0; i < self->n_policies; i++)
        if (strcmp (self->policies[i].name, name) == 0)
            return true;
    return false;
}

/* A CATEGORICAL knob's choices: one coordinate each. */
static int
s_param_categorical (const json_t *o, rfk_param_t *p, char *err, size_t errlen)
{
    p->kind = RFK_PARAM_CATEGORICAL;
    p->choices = json_object_get (o, "values");
    p->n_choices = json_array_size (p->choices);
    if (!json_is_array (p->choices) || p->n_choices == 0) {
        rfk_tune_errf (err, errlen, "categorical knob '%s' has no values", p->name);
        return -1;
    }
    return 0;
}

/* An INTEGER knob's whole bounds, on a log scale when log_scale is true. */
static int
s_param_integer (const json_t *o, rfk_param_t *p, char *err, size_t errlen)
{
    p->kind = RFK_PARAM_INTEGER;
    if (s_bound (o, "min", p->name, true, &p->min, err, errlen) ||
        s_bound (o, "max", p->name, true, &p->max, err, errlen))
        return -1;
    if (p->min > p->max || p->max - p->min > 9e15) {
        rfk_tune_errf (err, errlen, "integer knob '%s' has a bad range [%g, %g]", p->name, p->min,
                       p->max);
        return -1;
    }
    p->vmin = p->min;
    p->vmax = p->max;
    p->n_choices = (size_t)(p->max - p->min) + 1;
    if (!json_is_true (json_object_get (o, "log_scale")))
        return 0;
    if (!(p->vmin >= 1)) {
        rfk_tune_errf (err, errlen, "log-scale integer knob '%s' needs min >= 1, has %g", p->name,
                       p->vmin);
        return -1;
    }
    p->kind = RFK_PARAM_LOG_INTEGER;
    p->min = log (p->vmin - 0.5);
    p->max = log (p->vmax + 0.5);
    return 0;
}

/* A FLOAT knob's bounds, on a log scale when log_scale is true. */
static int
s_param_float (const json_t *o, rfk_param_t *p, char *err, size_t errlen)
{
    if (s_bound (o, "min", p->name, false, &p->vmin, err, errlen) ||
        s_bound (o, "max", p->name, false, &p->vmax, err, errlen))
        return -1;
    if (p->vmin > p->vmax) {
        rfk_tune_errf (err, errlen, "float knob '%s' has min %g above max %g", p->name, p->vmin,
                       p->vmax);
        return -1;
    }
    p->kind =
        json_is_true (json_object_get (o, "log_scale")) ? RFK_PARAM_LOG_FLOAT : RFK_PARAM_FLOAT;
    if (p->kind == RFK_PARAM_LOG_FLOAT && !(p->vmin > 0)) {
        rfk_tune_errf (err, errlen, "log-scale knob '%s' needs min > 0, has %g", p->name, p->vmin);
        return -1;
    }
    p->min = p->kind == RFK_PARAM_LOG_FLOAT ? log (p->vmin) : p->vmin;
    p->max = p->kind == RFK_PARAM_LOG_FLOAT ? log (p->vmax) : p->vmax;
    return 0;
}

/* A FIXED or POLICY knob (named by copy, which the space takes on success). 0 or -1. */
static int
s_add_extra (rfk_space_t *self, const json_t *o, const char *type, char *copy, char *err,
             size_t errlen)
{
    if (strcmp (type, "FIXED") == 0) {
        json_t *value = json_object_get (o, "value");
        if (!value) {
            rfk_tune_errf (err, errlen, "fixed knob '%s' has no value", copy);
            return -1;
        }
        self->fixed[self->n_fixed++] = (rfk_extra_knob_t){copy, value, RAFIKI_POLICY_NONE};
        return 0;
    }
    const char *policy = json_string_value (json_object_get (o, "policy"));
    for (size_t i = 0; policy && i < sizeof s_policies / sizeof s_policies[0]; i++)
        if (strcmp (policy, s_policies[i].name) == 0) {
            self->policies[self->n_policies++] =
                (rfk_extra_knob_t){copy, NULL, s_policies[i].policy};
            return 0;
        }
    rfk_tune_errf (err, errlen, "policy knob '%s' has an unknown policy", copy);
    return -1;
}

/* A tuned knob (named by copy, which the space takes on success). 0 or -1. */
static int
s_add_param (rfk_space_t *self, const json_t *o, const char *type, char *copy, char *err,
             size_t errlen)
{
    rfk_param_t p = {.name = copy, .offset = self->dims};
    int rc;
    if (strcmp (type, "CATEGORICAL") == 0)
        rc = s_param_categorical (o, &p, err, errlen);
    else if (strcmp (type, "INTEGER") == 0)
        rc = s_param_integer (o, &p, err, errlen);
    else if (strcmp (type, "FLOAT") == 0)
        rc = s_param_float (o, &p, err, errlen);
    else {
        rfk_tune_errf (err, errlen, "knob '%s' has an unknown type '%s'", copy, type);
        rc = -1;
    }
    if (rc)
        return -1;
    self->dims += p.kind == RFK_PARAM_CATEGORICAL ? p.n_choices : 1;
    self->params[self->n_params++] = p;
    return 0;
}

/* Reads one entry of the table into the space. */
static int
s_add_entry (rfk_space_t *self, const json_t *o, size_t index, char *err, size_t errlen)
{
    if (!json_is_object (o)) {
        rfk_tune_errf (err, errlen, "knob table entry %zu is not an object", index);
        return -1;
    }
    const char *name = json_string_value (json_object_get (o, "name"));
    const char *type = json_string_value (json_object_get (o, "type"));
    if (!name || !*name) {
        rfk_tune_errf (err, errlen, "knob table entry %zu has no name", index);
        return -1;
    }
    if (s_name_taken (self, name)) {
        rfk_tune_errf (err, errlen, "knob '%s' appears twice", name);
        return -1;
    }
    if (!type) {
        rfk_tune_errf (err, errlen, "knob '%s' has no type", name);
        return -1;
    }
    char *copy = strdup (name);
    if (!copy) {
        rfk_tune_errf (err, errlen, "out of memory");
        return -1;
    }
    bool extra = strcmp (type, "FIXED") == 0 || strcmp (type, "POLICY") == 0;
    int rc = extra ? s_add_extra (self, o, type, copy, err, errlen)
                   : s_add_param (self, o, type, copy, err, errlen);
    if (rc)
        free (copy);
    return rc;
}

rfk_space_t *
rfk_space_new_json (const json_t *table, char *err, size_t errlen)
{
    if (!json_is_array (table)) {
        rfk_tune_errf (err, errlen, "a knob table is a JSON array of knobs");
        return NULL;
    }
    size_t n = json_array_size (table);
    rfk_space_t *self = calloc (1, sizeof *self);
    if (!self || !(self->table = json_deep_copy (table)) ||
        !(self->params = calloc (n + 1, sizeof *self->params)) ||
        !(self->fixed = calloc (n + 1, sizeof *self->fixed)) ||
        !(self->policies = calloc (n + 1, sizeof *self->policies))) {
        rfk_tune_errf (err, errlen, "out of memory");
        rfk_space_destroy (&self);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (s_add_entry (self, json_array_get (self->table, i), i, err, errlen)) {
            rfk_space_destroy (&self);
            return NULL;
        }
    return self;
}

rfk_space_t *
rfk_space_new (const rafiki_knob_t *knobs, size_t n_knobs, char *err, size_t errlen)
{
    if (rfk_knob_table_check (knobs, n_knobs, err, errlen))
        return NULL;
    json_t *table = rfk_knob_table_to_json (knobs, n_knobs);
    if (!table) {
        rfk_tune_errf (err, errlen, "out of memory");
        return NULL;
    }
    rfk_space_t *self = rfk_space_new_json (table, err, errlen);
    json_decref (table);
    return self;
}

void
rfk_space_destroy (rfk_space_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_space_t *self = *self_p;
    for (size_t i = 0; i < self->n_params; i++)
        free (self->params[i].name);
    for (size_t i = 0; i < self->n_fixed; i++)
        free (self->fixed[i].name);
    for (size_t i = 0; i < self->n_policies; i++)
        free (self->policies[i].name);
    free (self->params);
    free (self->fixed);
    free (self->policies);
    json_decref (self->table);
    free (self);
    *self_p = NULL;
}

size_t
rfk_space_params (const rfk_space_t *self)
{
    return self->n_params;
}

const char *
rfk_space_param_name (const rfk_space_t *self, size_t i)
{
    return i < self->n_params ? self->params[i].name : NULL;
}

rfk_param_kind_t
rfk_space_param_kind (const rfk_space_t *self, size_t i)
{
    return i < self->n_params ? self->params[i].kind : RFK_PARAM_FLOAT;
}

size_t
rfk_space_param_choices (const rfk_space_t *self, size_t i)
{
    return i < self->n_params && self->params[i].kind == RFK_PARAM_CATEGORICAL
               ? self->params[i].n_choices
               : 0;
}

size_t
rfk_space_dims (const rfk_space_t *self)
{
    return self->dims;
}

bool
rfk_space_only_fixed (const rfk_space_t *self)
{
    return self->n_params == 0;
}

bool
rfk_space_has_policy (const rfk_space_t *self, rafiki_policy_t policy)
{
    for (size_t i = 0; i < self->n_policies; i++)
        if (self->policies[i].policy == policy)
            return true;
    return false;
}

static double
s_clamp (double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* The bin of an integer position. */
static double
s_int_bin (const rfk_param_t *p, double u)
{
    double bins = (double)p->n_choices;
    return s_clamp (floor (s_clamp (u, 0, 1) * bins), 0, bins - 1);
}

/* The value of a log-scale integer position. */
static double
s_log_int_value (const rfk_param_t *p, double u)
{
    double v = floor (exp (p->min + s_clamp (u, 0, 1) * (p->max - p->min)) + 0.5);
    return s_clamp (v, p->vmin, p->vmax);
}

/* The position of log-scale integer value v. */
static double
s_log_int_position (const rfk_param_t *p, double v)
{
    return s_clamp ((log (v) - p->min) / (p->max - p->min), 0, 1);
}

bool
rfk_param_is_integer (const rfk_param_t *p)
{
    return p->kind == RFK_PARAM_INTEGER || p->kind == RFK_PARAM_LOG_INTEGER;
}

void
rfk_space_int_bin_edges (const rfk_param_t *p, double x, double *lo, double *hi)
{
    if (p->kind == RFK_PARAM_LOG_INTEGER) {
        double v = s_log_int_value (p, x);
        *lo = s_log_int_position (p, v - 0.5);
        *hi = s_log_int_position (p, v + 0.5);
        return;
    }
    double bin = 1.0 / (double)p->n_choices;
    *lo = x - 0.5 * bin;
    *hi = x + 0.5 * bin;
}

/* The choice index of a categorical coordinate. */
static size_t
s_choice (const rfk_param_t *p, double x)
{
    double i = isfinite (x) ? floor (x + 0.5) : 0;
    return (size_t)s_clamp (i, 0, (double)p->n_choices - 1);
}

void
rfk_space_snap (const rfk_space_t *self, double *point)
{
    for (size_t i = 0; i < self->n_params; i++) {
        const rfk_param_t *p = &self->params[i];
        double x = isfinite (point[i]) ? point[i] : 0.5;
        if (p->kind == RFK_PARAM_INTEGER)
            point[i] = (s_int_bin (p, x) + 0.5) / (double)p->n_choices;
        else if (p->kind == RFK_PARAM_LOG_INTEGER)
            point[i] = s_log_int_position (p, s_log_int_value (p, x));
        else if (p->kind == RFK_PARAM_CATEGORICAL)
            point[i] = (double)s_choice (p, point[i]);
        else
            point[i] = s_clamp (x, 0, 1);
    }
}

/* The JSON value of tuned knob p at coordinate x (new reference). */
static json_t *
s_param_value (const rfk_param_t *p, double x)
{
    double u = isfinite (x) ? s_clamp (x, 0, 1) : 0.5;
    switch (p->kind) {
        case RFK_PARAM_FLOAT:
            return json_real (s_clamp (p->min + u * (p->max - p->min), p->vmin, p->vmax));
        case RFK_PARAM_LOG_FLOAT:
            return json_real (s_clamp (exp (p->min + u * (p->max - p->min)), p->vmin, p->vmax));
        case RFK_PARAM_INTEGER:
            return json_integer ((json_int_t)(p->min + s_int_bin (p, u)));
        case RFK_PARAM_LOG_INTEGER:
            return json_integer ((json_int_t)s_log_int_value (p, u));
        case RFK_PARAM_CATEGORICAL:
            return json_deep_copy (json_array_get (p->choices, s_choice (p, x)));
    }
    return NULL;
}

json_t *
rfk_space_to_json (const rfk_space_t *self, const double *point)
{
    json_t *o = json_object ();
    for (size_t i = 0; o && i < self->n_params; i++)
        if (json_object_set_new (o, self->params[i].name,
                                 s_param_value (&self->params[i], point[i])))
            goto fail;
    for (size_t i = 0; o && i < self->n_fixed; i++)
        if (json_object_set_new (o, self->fixed[i].name, json_deep_copy (self->fixed[i].value)))
            goto fail;
    for (size_t i = 0; o && i < self->n_policies; i++)
        if (json_object_set_new (o, self->policies[i].name, json_false ()))
            goto fail;
    return o;
fail:
    json_decref (o);
    return NULL;
}

/* True when two JSON values are the same knob value (numbers by value). */
static bool
s_same_value (const json_t *a, const json_t *b)
{
    if (json_is_number (a) && json_is_number (b))
        return json_number_value (a) == json_number_value (b);
    return json_equal ((json_t *)a, (json_t *)b);
}

int
rfk_space_from_json (const rfk_space_t *self, const json_t *knobs, double *point, char *err,
                     size_t errlen)
{
    if (!json_is_object (knobs)) {
        rfk_tune_errf (err, errlen, "knob values are a JSON object name -> value");
        return -1;
    }
    for (size_t i = 0; i < self->n_params; i++) {
        const rfk_param_t *p = &self->params[i];
        json_t *j = json_object_get (knobs, p->name);
        if (!j) {
            rfk_tune_errf (err, errlen, "knob '%s' has no value", p->name);
            return -1;
        }
        if (p->kind == RFK_PARAM_CATEGORICAL) {
            size_t c = 0;
            while (c < p->n_choices && !s_same_value (j, json_array_get (p->choices, c)))
                c++;
            if (c == p->n_choices) {
                rfk_tune_errf (err, errlen, "knob '%s': the value is not one of its %zu choices",
                               p->name, p->n_choices);
                return -1;
            }
            point[i] = (double)c;
            continue;
        }
        double v = json_number_value (j);
        if (!json_is_number (j) || !isfinite (v)) {
            rfk_tune_errf (err, errlen, "knob '%s' wants a number", p->name);
            return -1;
        }
        if (v < p->vmin || v > p->vmax) {
            rfk_tune_errf (err, errlen, "knob '%s': %g is out of its range [%g, %g]", p->name, v,
                           p->vmin, p->vmax);
            return -1;
        }
        if (rfk_param_is_integer (p) && v != floor (v)) {
            rfk_tune_errf (err, errlen, "knob '%s' wants an integer, got %g", p->name, v);
            return -1;
        }
        if (p->kind == RFK_PARAM_INTEGER)
            point[i] = (v - p->min + 0.5) / (double)p->n_choices;
        else if (p->kind == RFK_PARAM_LOG_INTEGER)
            point[i] = s_log_int_position (p, v);
        else {
            double x = p->kind == RFK_PARAM_LOG_FLOAT ? log (v) : v;
            point[i] = p->max > p->min ? s_clamp ((x - p->min) / (p->max - p->min), 0, 1) : 0.5;
        }
    }
    return 0;
}

void
rfk_space_encode (const rfk_space_t *self, const double *point, double *unit)
{
    for (size_t i = 0; i < self->n_params; i++) {
        const rfk_param_t *p = &self->params[i];
        if (p->kind == RFK_PARAM_CATEGORICAL) {
            size_t c = s_choice (p, point[i]);
            for (size_t k = 0; k < p->n_choices; k++)
                unit[p->offset + k] = k == c ? 1.0 : 0.0;
        } else
            unit[p->offset] = isfinite (point[i]) ? s_clamp (point[i], 0, 1) : 0.5;
    }
}

void
rfk_space_decode (const rfk_space_t *self, const double *unit, double *point)
{
    for (size_t i = 0; i < self->n_params; i++) {
        const rfk_param_t *p = &self->params[i];
        if (p->kind == RFK_PARAM_CATEGORICAL) {
            size_t best = 0;
            for (size_t k = 1; k < p->n_choices; k++)
                if (unit[p->offset + k] > unit[p->offset + best])
                    best = k;
            point[i] = (double)best;
        } else
            point[i] = unit[p->offset];
    }
    rfk_space_snap (self, point);
}

void
rfk_space_random (const rfk_space_t *self, rfk_rng_t *rng, double *point)
{
    for (size_t i = 0; i < self->n_params; i++) {
        const rfk_param_t *p = &self->params[i];
        if (p->kind == RFK_PARAM_CATEGORICAL)
            point[i] = (double)rfk_rng_below (rng, p->n_choices);
        else
            point[i] = rfk_rng_uniform (rng);
    }
    rfk_space_snap (self, point);
}

int
rfk_space_set_policies (const rfk_space_t *self, json_t *knobs, unsigned mask)
{
    if (!json_is_object (knobs))
        return -1;
    for (size_t i = 0; i < self->n_policies; i++) {
        bool on = self->policies[i].policy < 32 && (mask & (1u << self->policies[i].policy));
        if (json_object_set_new (knobs, self->policies[i].name, json_boolean (on)))
            return -1;
    }
    return 0;
}
