/*  rfk_states_check.c: holds rfk_states.h's name tables against the enum
    descriptors protoc-c generated from common.proto (rfk_states_check).

    It walks each descriptor (every .proto value must have the same name in
    C and parse back to itself) and each C table (every named C value must
    be in the .proto under that name), so neither side can gain, lose or
    rename a value alone.
*/
#include "rfk_states.h"

#include "common.pb-c.h"

#include <stdio.h>
#include <string.h>

/* The largest value a C table is searched up to. */
#define S_MAX_VALUE 64

/* One family: its descriptor and its C functions, over int. */
typedef struct {
    const ProtobufCEnumDescriptor *descriptor;
    const char *(*name) (int value);
    int (*from_name) (const char *name);
} s_family_t;

static const char *
s_job_name (int value)
{
    return rfk_job_status_name ((rfk_job_status_t)value);
}
static int
s_job_value (const char *name)
{
    return (int)rfk_job_status_from_name (name);
}
static const char *
s_service_name (int value)
{
    return rfk_service_status_name ((rfk_service_status_t)value);
}
static int
s_service_value (const char *name)
{
    return (int)rfk_service_status_from_name (name);
}
static const char *
s_trial_name (int value)
{
    return rfk_trial_status_name ((rfk_trial_status_t)value);
}
static int
s_trial_value (const char *name)
{
    return (int)rfk_trial_status_from_name (name);
}
static const char *
s_params_name (int value)
{
    return rfk_params_source_name ((rfk_params_source_t)value);
}
static int
s_params_value (const char *name)
{
    return (int)rfk_params_source_from_name (name);
}

static const s_family_t s_families[] = {
    {&rfk__job_state__status__descriptor, s_job_name, s_job_value},
    {&rfk__service_state__status__descriptor, s_service_name, s_service_value},
    {&rfk__trial_state__status__descriptor, s_trial_name, s_trial_value},
    {&rfk__params_source__source__descriptor, s_params_name, s_params_value},
};

/* The .proto side: each value named alike in C, and parsed back. */
static int
s_check_proto_side (const s_family_t *family, char *err, size_t errlen)
{
    const ProtobufCEnumDescriptor *desc = family->descriptor;
    for (unsigned i = 0; i < desc->n_values; i++) {
        const ProtobufCEnumValue *value = &desc->values[i];
        const char *name = family->name (value->value);
        if (!name || strcmp (name, value->name) != 0) {
            snprintf (err, errlen, "%s: %s = %d is %s in C", desc->name, value->name, value->value,
                      name ? name : "missing");
            return -1;
        }
        if (family->from_name (value->name) != value->value) {
            snprintf (err, errlen, "%s: %s parses to %d in C, not %d", desc->name, value->name,
                      family->from_name (value->name), value->value);
            return -1;
        }
    }
    return 0;
}

/* The C side: each named value in the .proto under the same name, and
   nothing named at 0. */
static int
s_check_c_side (const s_family_t *family, char *err, size_t errlen)
{
    const ProtobufCEnumDescriptor *desc = family->descriptor;
    if (family->name (0) || family->from_name ("") || family->from_name (NULL)) {
        snprintf (err, errlen, "%s: value 0 has a name in C", desc->name);
        return -1;
    }
    for (int value = 1; value <= S_MAX_VALUE; value++) {
        const char *name = family->name (value);
        if (!name)
            continue;
        const ProtobufCEnumValue *proto = protobuf_c_enum_descriptor_get_value (desc, value);
        if (!proto || strcmp (proto->name, name) != 0) {
            snprintf (err, errlen, "%s: C names %d %s, the .proto %s", desc->name, value, name,
                      proto ? proto->name : "nothing");
            return -1;
        }
    }
    return 0;
}

int
rfk_states_check (char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof s_families / sizeof s_families[0]; i++)
        if (s_check_proto_side (&s_families[i], err, errlen) ||
            s_check_c_side (&s_families[i], err, errlen))
            return -1;
    if (errlen)
        err[0] = '\0';
    return 0;
}
