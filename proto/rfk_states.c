/*  rfk_states.c: the name tables of the status enums (rfk_states.h).

    One table per family, indexed by the value the .proto gives it; index 0
    (UNSET) has no name. rfk_states_check.c holds them against the
    generated descriptors.
*/
#include "rfk_states.h"

#include <string.h>

#define S_COUNT(table) (sizeof (table) / sizeof (table)[0])

static const char *const s_job_names[] = {NULL, "STARTED", "RUNNING", "STOPPED", "ERRORED"};
static const char *const s_service_names[] = {NULL,      "STARTED", "DEPLOYING",
                                              "RUNNING", "STOPPED", "ERRORED"};
static const char *const s_trial_names[] = {NULL,        "PENDING", "RUNNING",
                                            "COMPLETED", "ERRORED", "PRUNED"};
static const char *const s_params_names[] = {NULL, "NONE", "BEST", "LATEST"};

/* The name at `value` of a table, NULL outside it. */
static const char *
s_name (const char *const *names, size_t count, int value)
{
    return value > 0 && (size_t)value < count ? names[value] : NULL;
}

/* The index of `name` in a table, 0 when it is not there. */
static int
s_value (const char *const *names, size_t count, const char *name)
{
    if (name)
        for (size_t value = 1; value < count; value++)
            if (strcmp (names[value], name) == 0)
                return (int)value;
    return 0;
}

const char *
rfk_job_status_name (rfk_job_status_t status)
{
    return s_name (s_job_names, S_COUNT (s_job_names), (int)status);
}

const char *
rfk_service_status_name (rfk_service_status_t status)
{
    return s_name (s_service_names, S_COUNT (s_service_names), (int)status);
}

const char *
rfk_trial_status_name (rfk_trial_status_t status)
{
    return s_name (s_trial_names, S_COUNT (s_trial_names), (int)status);
}

const char *
rfk_params_source_name (rfk_params_source_t source)
{
    return s_name (s_params_names, S_COUNT (s_params_names), (int)source);
}

rfk_job_status_t
rfk_job_status_from_name (const char *name)
{
    return (rfk_job_status_t)s_value (s_job_names, S_COUNT (s_job_names), name);
}

rfk_service_status_t
rfk_service_status_from_name (const char *name)
{
    return (rfk_service_status_t)s_value (s_service_names, S_COUNT (s_service_names), name);
}

rfk_trial_status_t
rfk_trial_status_from_name (const char *name)
{
    return (rfk_trial_status_t)s_value (s_trial_names, S_COUNT (s_trial_names), name);
}

rfk_params_source_t
rfk_params_source_from_name (const char *name)
{
    return (rfk_params_source_t)s_value (s_params_names, S_COUNT (s_params_names), name);
}

int
rfk_job_status_is_final (rfk_job_status_t status)
{
    return status == RFK_JOB_STOPPED || status == RFK_JOB_ERRORED;
}

int
rfk_service_status_is_final (rfk_service_status_t status)
{
    return status == RFK_SERVICE_STOPPED || status == RFK_SERVICE_ERRORED;
}

int
rfk_trial_status_is_final (rfk_trial_status_t status)
{
    return status == RFK_TRIAL_COMPLETED || status == RFK_TRIAL_ERRORED ||
           status == RFK_TRIAL_PRUNED;
}
