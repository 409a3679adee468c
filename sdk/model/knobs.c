/*  knobs.c: knob values as JSON objects <-> rafiki_knobs_t, checked against
    a template's knob table, and the knob table described as JSON. */
#include "internal.h"
#include "rafiki/template.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *
s_type_name (rafiki_knob_type_t type)
{
    switch (type) {
        case RAFIKI_KNOB_FIXED:
            return "FIXED";
        case RAFIKI_KNOB_CATEGORICAL:
            return "CATEGORICAL";
        case RAFIKI_KNOB_INTEGER:
            return "INTEGER";
        case RAFIKI_KNOB_FLOAT:
            return "FLOAT";
        case RAFIKI_KNOB_POLICY:
            return "POLICY";
    }
    return "UNKNOWN";
}

static const char *
s_policy_name (rafiki_policy_t policy)
{
    switch (policy) {
        case RAFIKI_POLICY_EARLY_STOP:
            return "EARLY_STOP";
        case RAFIKI_POLICY_SHARE_PARAMS:
            return "SHARE_PARAMS";
        case RAFIKI_POLICY_SKIP_TRAIN:
            return "SKIP_TRAIN";
        case RAFIKI_POLICY_QUICK_EVAL:
            return "QUICK_EVAL";
        case RAFIKI_POLICY_DOWNSCALE:
            return "DOWNSCALE";
        case RAFIKI_POLICY_NONE:
            break;
    }
    return "NONE";
}

/* A knob value as JSON (new reference). */
static json_t *
s_value_to_json (const rafiki_value_t *v)
{
    switch (v->type) {
        case RAFIKI_VALUE_INT:
            return json_integer ((json_int_t)v->u.i);
        case RAFIKI_VALUE_FLOAT:
            return json_real (v->u.f);
        case RAFIKI_VALUE_STRING:
            return json_string (v->u.s ? v->u.s : "");
        case RAFIKI_VALUE_BOOL:
            return json_boolean (v->u.b);
    }
    return json_null ();
}

json_t *
rfk_knob_table_to_json (const rafiki_knob_t *knobs, size_t n_knobs)
{
    json_t *array = json_array ();
    for (size_t i = 0; array && i < n_knobs; i++) {
        const rafiki_knob_t *k = &knobs[i];
        json_t *o = json_pack ("{s:s, s:s}", "name", k->name, "type", s_type_name (k->type));
        if (!o) {
            json_decref (array);
            return NULL;
        }
        int rc = 0;
        switch (k->type) {
            case RAFIKI_KNOB_FIXED:
                rc = json_object_set_new (o, "value", s_value_to_json (&k->value));
                break;
            case RAFIKI_KNOB_CATEGORICAL: {
                json_t *values = json_array ();
                for (size_t v = 0; values && v < k->n_values; v++)
                    rc |= json_array_append_new (values, s_value_to_json (&k->values[v]));
                rc |= json_object_set_new (o, "values", values);
                break;
            }
            case RAFIKI_KNOB_INTEGER:
                rc = json_object_set_new (o, "min", json_integer ((json_int_t)k->min)) |
                     json_object_set_new (o, "max", json_integer ((json_int_t)k->max));
                /* only when set, so linear integer knobs read as they always have */
                if (k->log_scale)
                    rc |= json_object_set_new (o, "log_scale", json_true ());
                break;
            case RAFIKI_KNOB_FLOAT:
                rc = json_object_set_new (o, "min", json_real (k->min)) |
                     json_object_set_new (o, "max", json_real (k->max)) |
                     json_object_set_new (o, "log_scale", json_boolean (k->log_scale));
                break;
            case RAFIKI_KNOB_POLICY:
                rc = json_object_set_new (o, "policy", json_string (s_policy_name (k->policy)));
                break;
        }
        if (rc || json_array_append_new (array, o)) {
            json_decref (array);
            return NULL;
        }
    }
    return array;
}

/* True when JSON value j equals table value v (numbers compared by value,
   so 1 and 1.0 match a FLOAT 1.0). */
static bool
s_json_equals (const json_t *j, const rafiki_value_t *v)
{
    switch (v->type) {
        case RAFIKI_VALUE_INT:
            if (json_is_integer (j))
                return json_integer_value (j) == v->u.i;
            return json_is_real (j) && json_real_value (j) == (double)v->u.i;
        case RAFIKI_VALUE_FLOAT:
            return json_is_number (j) && json_number_value (j) == v->u.f;
        case RAFIKI_VALUE_STRING:
            return json_is_string (j) && v->u.s && strcmp (json_string_value (j), v->u.s) == 0;
        case RAFIKI_VALUE_BOOL:
            return json_is_boolean (j) && json_is_true (j) == v->u.b;
    }
    return false;
}

/* Describes a JSON value's type for messages. */
static const char *
s_json_kind (const json_t *j)
{
    switch (json_typeof (j)) {
        case JSON_OBJECT:
            return "an object";
        case JSON_ARRAY:
            return "an array";
        case JSON_STRING:
            return "a string";
        case JSON_INTEGER:
            return "an integer";
        case JSON_REAL:
            return "a real number";
        case JSON_TRUE:
        case JSON_FALSE:
            return "a boolean";
        case JSON_NULL:
            return "null";
    }
    return "something else";
}

/* Copies a table value, duplicating its string. */
static int
s_copy_value (const rafiki_value_t *from, rafiki_value_t *to)
{
    *to = *from;
    if (from->type == RAFIKI_VALUE_STRING && !(to->u.s = strdup (from->u.s ? from->u.s : "")))
        return -1;
    return 0;
}

/* Turns the JSON value of knob k into a rafiki_value_t. */
static int
s_value_from_json (const rafiki_knob_t *k, const json_t *j, rafiki_value_t *out, char *err,
                   size_t errlen)
{
    switch (k->type) {
        case RAFIKI_KNOB_FIXED:
            if (!s_json_equals (j, &k->value)) {
                char *text = json_dumps (j, JSON_ENCODE_ANY);
                rfk_model_errf (err, errlen, "knob '%s' is fixed; %s is not its value", k->name,
                                text ? text : "the value given");
                free (text);
                return -1;
            }
            return s_copy_value (&k->value, out);
        case RAFIKI_KNOB_CATEGORICAL:
            for (size_t v = 0; v < k->n_values; v++)
                if (s_json_equals (j, &k->values[v]))
                    return s_copy_value (&k->values[v], out);
            {
                char *text = json_dumps (j, JSON_ENCODE_ANY);
                rfk_model_errf (err, errlen, "knob '%s': %s is not one of its %zu values", k->name,
                                text ? text : "the value given", k->n_values);
                free (text);
            }
            return -1;
        case RAFIKI_KNOB_INTEGER: {
            double v;
            if (json_is_integer (j))
                v = (double)json_integer_value (j);
            else if (json_is_real (j) && json_real_value (j) == floor (json_real_value (j)))
                v = json_real_value (j);
            else {
                rfk_model_errf (err, errlen, "knob '%s' wants an integer, got %s", k->name,
                                s_json_kind (j));
                return -1;
            }
            if (v < k->min || v > k->max) {
                rfk_model_errf (err, errlen, "knob '%s': %.17g is out of its range [%.17g, %.17g]",
                                k->name, v, k->min, k->max);
                return -1;
            }
            out->type = RAFIKI_VALUE_INT;
            out->u.i = json_is_integer (j) ? (int64_t)json_integer_value (j) : (int64_t)v;
            return 0;
        }
        case RAFIKI_KNOB_FLOAT: {
            if (!json_is_number (j)) {
                rfk_model_errf (err, errlen, "knob '%s' wants a number, got %s", k->name,
                                s_json_kind (j));
                return -1;
            }
            double v = json_number_value (j);
            if (!(v >= k->min && v <= k->max)) {
                rfk_model_errf (err, errlen, "knob '%s': %g is out of its range [%g, %g]", k->name,
                                v, k->min, k->max);
                return -1;
            }
            out->type = RAFIKI_VALUE_FLOAT;
            out->u.f = v;
            return 0;
        }
        case RAFIKI_KNOB_POLICY:
            if (!json_is_boolean (j)) {
                rfk_model_errf (err, errlen,
                                "knob '%s' is a policy and wants true or false, "
                                "got %s",
                                k->name, s_json_kind (j));
                return -1;
            }
            out->type = RAFIKI_VALUE_BOOL;
            out->u.b = json_is_true (j);
            return 0;
    }
    rfk_model_errf (err, errlen, "knob '%s' has an unknown type", k->name);
    return -1;
}

int
rfk_knobs_from_json (const rafiki_knob_t *knobs, size_t n_knobs, const json_t *json,
                     bool require_all, rafiki_knobs_t *out, char *err, size_t errlen)
{
    out->items = NULL;
    out->n = 0;
    if (!json_is_object (json)) {
        rfk_model_errf (err, errlen, "knob values are a JSON object name -> value, not %s",
                        json ? s_json_kind (json) : "nothing");
        return -1;
    }
    const char *name;
    json_t *value;
    json_object_foreach ((json_t *)json, name, value)
    {
        bool known = false;
        for (size_t i = 0; i < n_knobs && !known; i++)
            known = strcmp (knobs[i].name, name) == 0;
        if (!known) {
            rfk_model_errf (err, errlen, "unknown knob '%s'", name);
            return -1;
        }
    }
    rafiki_knob_value_t *items = calloc (n_knobs ? n_knobs : 1, sizeof *items);
    if (!items) {
        rfk_model_errf (err, errlen, "out of memory");
        return -1;
    }
    rafiki_knobs_t result = {items, 0};
    for (size_t i = 0; i < n_knobs; i++) {
        const rafiki_knob_t *k = &knobs[i];
        json_t *j = json_object_get (json, k->name);
        rafiki_value_t v;
        if (j) {
            if (s_value_from_json (k, j, &v, err, errlen))
                goto fail;
        } else if (k->type == RAFIKI_KNOB_FIXED) {
            if (s_copy_value (&k->value, &v))
                goto nomem;
        } else if (k->type == RAFIKI_KNOB_POLICY) {
            v.type = RAFIKI_VALUE_BOOL;
            v.u.b = false;
        } else if (require_all) {
            rfk_model_errf (err, errlen, "knob '%s' has no value", k->name);
            goto fail;
        } else
            continue;
        items[result.n].value = v;
        if (!(items[result.n].name = strdup (k->name))) {
            if (v.type == RAFIKI_VALUE_STRING)
                free ((char *)v.u.s);
            goto nomem;
        }
        result.n++;
    }
    *out = result;
    return 0;
nomem:
    rfk_model_errf (err, errlen, "out of memory");
fail:
    rfk_knobs_free (&result);
    return -1;
}

json_t *
rfk_knobs_to_json (const rafiki_knobs_t *values)
{
    json_t *o = json_object ();
    for (size_t i = 0; o && values && i < values->n; i++)
        if (json_object_set_new (o, values->items[i].name,
                                 s_value_to_json (&values->items[i].value))) {
            json_decref (o);
            return NULL;
        }
    return o;
}

void
rfk_knobs_free (rafiki_knobs_t *knobs)
{
    if (!knobs)
        return;
    rafiki_knob_value_t *items = (rafiki_knob_value_t *)knobs->items;
    for (size_t i = 0; items && i < knobs->n; i++) {
        free ((char *)items[i].name);
        if (items[i].value.type == RAFIKI_VALUE_STRING)
            free ((char *)items[i].value.u.s);
    }
    free (items);
    knobs->items = NULL;
    knobs->n = 0;
}
