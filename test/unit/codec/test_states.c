/*  test_states.c: the status enums (proto/rfk_states) against common.proto:
    names and values agree both ways (rfk_states_check walks the generated
    descriptors), unknown names and values have no counterpart, and a
    status travels through a message body under its .proto name.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "rfk_msg.h"
#include "rfk_states.h"

/*  Usage: switch on the enum, put its name in a body, read it back. */
static void
test_usage (void **state)
{
    (void)state;
    rfk_trial_status_t status = rfk_trial_status_from_name ("COMPLETED");
    assert_int_equal (status, RFK_TRIAL_COMPLETED);
    assert_true (rfk_trial_status_is_final (status));
    assert_string_equal (rfk_trial_status_name (status), "COMPLETED");

    rfk_msg_t *msg = rfk_msg_new (&rfk_train_family, "Result", 1);
    json_object_set_new (msg->body, "status", json_string (rfk_trial_status_name (status)));
    json_object_set_new (msg->body, "params_source", json_integer (RFK_PARAMS_LATEST));
    zframe_t *frame = NULL;
    char err[256];
    assert_int_equal (rfk_msg_encode (msg, &frame, err, sizeof err), -1); /* not a Result field */
    json_object_del (msg->body, "params_source");
    assert_int_equal (rfk_msg_encode (msg, &frame, err, sizeof err), 0);
    rfk_msg_t *in = NULL;
    assert_int_equal (rfk_train_family.decode (frame, 1 << 20, &in), 0);
    assert_int_equal (
        rfk_trial_status_from_name (json_string_value (json_object_get (in->body, "status"))),
        RFK_TRIAL_COMPLETED);
    zframe_destroy (&frame);
    rfk_msg_destroy (&in);
    rfk_msg_destroy (&msg);
}

/*  Every table agrees with the generated descriptors, both ways. */
static void
test_tables_match_the_proto (void **state)
{
    (void)state;
    char err[256] = "unset";
    int rc = rfk_states_check (err, sizeof err);
    if (rc)
        fail_msg ("%s", err);
    assert_string_equal (err, "");
}

/*  Each family's values, names and finals, spelled out. */
static void
test_each_family (void **state)
{
    (void)state;
    assert_string_equal (rfk_job_status_name (RFK_JOB_STARTED), "STARTED");
    assert_string_equal (rfk_job_status_name (RFK_JOB_ERRORED), "ERRORED");
    assert_int_equal (rfk_job_status_from_name ("STOPPED"), RFK_JOB_STOPPED);
    assert_true (rfk_job_status_is_final (RFK_JOB_STOPPED));
    assert_false (rfk_job_status_is_final (RFK_JOB_RUNNING));

    assert_string_equal (rfk_service_status_name (RFK_SERVICE_DEPLOYING), "DEPLOYING");
    assert_int_equal (rfk_service_status_from_name ("RUNNING"), RFK_SERVICE_RUNNING);
    assert_true (rfk_service_status_is_final (RFK_SERVICE_ERRORED));
    assert_false (rfk_service_status_is_final (RFK_SERVICE_STARTED));

    assert_string_equal (rfk_trial_status_name (RFK_TRIAL_PENDING), "PENDING");
    assert_int_equal (rfk_trial_status_from_name ("PRUNED"), RFK_TRIAL_PRUNED);
    assert_false (rfk_trial_status_is_final (RFK_TRIAL_RUNNING));

    assert_string_equal (rfk_params_source_name (RFK_PARAMS_BEST), "BEST");
    assert_int_equal (rfk_params_source_from_name ("LATEST"), RFK_PARAMS_LATEST);
}

/*  Names a family does not have, and values out of range, map to nothing. */
static void
test_unknown (void **state)
{
    (void)state;
    assert_int_equal (rfk_job_status_from_name ("PENDING"), RFK_JOB_UNSET);
    assert_int_equal (rfk_job_status_from_name ("running"), RFK_JOB_UNSET);
    assert_int_equal (rfk_service_status_from_name (NULL), RFK_SERVICE_UNSET);
    assert_int_equal (rfk_trial_status_from_name ("STARTED"), RFK_TRIAL_UNSET);
    assert_int_equal (rfk_params_source_from_name (""), RFK_PARAMS_UNSET);
    assert_null (rfk_job_status_name (RFK_JOB_UNSET));
    assert_null (rfk_job_status_name ((rfk_job_status_t)5));
    assert_null (rfk_service_status_name ((rfk_service_status_t)-1));
    assert_null (rfk_trial_status_name ((rfk_trial_status_t)6));
    assert_null (rfk_params_source_name ((rfk_params_source_t)4));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_tables_match_the_proto),
        cmocka_unit_test (test_each_family),
        cmocka_unit_test (test_unknown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
