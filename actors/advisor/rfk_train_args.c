/*  rfk_train_args.c: reading a job's train args (see rfk_train_args.h). */
#include "rfk_train_args.h"

#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A number from JSON: an integer, a real or a numeric string. */
bool
rfk_train_arg_number (const json_t *value, double *out)
{
    if (json_is_number (value)) {
        *out = json_number_value (value);
        return isfinite (*out);
    }
    if (json_is_string (value)) {
        char *end = NULL;
        double number = strtod (json_string_value (value), &end);
        if (end && end != json_string_value (value) && *end == 0 && isfinite (number)) {
            *out = number;
            return true;
        }
    }
    return false;
}

/* A train arg by name, in any case ("advisor", "ADVISOR"), or NULL. */
json_t *
rfk_train_arg (const json_t *train_args, const char *key)
{
    if (!json_is_object (train_args))
        return NULL;
    json_t *value = json_object_get (train_args, key);
    if (value)
        return value;
    const char *name;
    json_object_foreach ((json_t *)train_args, name, value)
    {
        if (strcasecmp (name, key) == 0)
            return value;
    }
    return NULL;
}

/* A boolean train arg ("true", "1", true, 1 ...), or dflt when absent or unclear. */
bool
rfk_train_arg_flag (const json_t *value, bool dflt)
{
    if (json_is_boolean (value))
        return json_is_true (value);
    if (json_is_integer (value))
        return json_integer_value (value) != 0;
    if (json_is_string (value)) {
        const char *text = json_string_value (value);
        if (streq (text, "true") || streq (text, "1") || streq (text, "yes") || streq (text, "on"))
            return true;
        if (streq (text, "false") || streq (text, "0") || streq (text, "no") || streq (text, "off"))
            return false;
    }
    return dflt;
}
