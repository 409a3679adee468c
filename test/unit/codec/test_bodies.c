/*  test_bodies.c: the typed views of ServiceConfig, Proposal and Result
    (proto/rfk_bodies): what the advisor writes the trainer reads, field by
    field, through a real frame; a ServiceConfig's fields and trials, and
    an advisor's past trials;
    messages of another type, or with too many bind endpoints, refused.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "rfk_bodies.h"

/*  A message through a frame and back, as a peer receives it. */
static rfk_msg_t *
s_wire (const rfk_msg_t *msg)
{
    zframe_t *frame = NULL;
    char err[256];
    if (rfk_msg_encode (msg, &frame, err, sizeof err) != 0)
        fail_msg ("encode: %s", err);
    rfk_msg_t *in = NULL;
    assert_int_equal (rfk_msg_decode (msg->family, frame, 1 << 20, &in), 0);
    zframe_destroy (&frame);
    return in;
}

/*  Usage: the advisor writes a Proposal, the trainer reads it. */
static void
test_proposal (void **state)
{
    (void)state;
    json_t *knobs = json_pack ("{s:f, s:i}", "learning_rate", 0.01, "depth", 3);
    json_t *policies = json_pack ("[s]", "SHARE_PARAMS");
    rfk_msg_t *out = rfk_proposal_new (&(rfk_proposal_t){.trial_no = 7,
                                                         .trial_id = "t-7",
                                                         .knobs = knobs,
                                                         .policies = policies,
                                                         .params_source = RFK_PARAMS_LATEST,
                                                         .params_path = "/p/t-3.msgpack"},
                                       42);
    assert_non_null (out);
    assert_string_equal (json_string_value (json_object_get (out->body, "params_source")),
                         "LATEST");
    rfk_msg_t *in = s_wire (out);
    rfk_proposal_t view;
    assert_int_equal (rfk_proposal_read (in, &view), 0);
    assert_int_equal (in->correlation, 42);
    assert_int_equal (view.trial_no, 7);
    assert_string_equal (view.trial_id, "t-7");
    assert_true (json_equal (view.knobs, knobs));
    assert_true (json_equal (view.policies, policies));
    assert_int_equal (view.params_source, RFK_PARAMS_LATEST);
    assert_string_equal (view.params_path, "/p/t-3.msgpack");
    rfk_msg_destroy (&in);
    rfk_msg_destroy (&out);

    //  Unset fields stay out of the body and read back as unset.
    out = rfk_proposal_new (&(rfk_proposal_t){.trial_no = 1}, 0);
    assert_int_equal (json_object_size (out->body), 1);
    in = s_wire (out);
    assert_int_equal (rfk_proposal_read (in, &view), 0);
    assert_null (view.trial_id);
    assert_null (view.knobs);
    assert_int_equal (view.params_source, RFK_PARAMS_UNSET);
    rfk_msg_destroy (&in);
    rfk_msg_destroy (&out);
    json_decref (knobs);
    json_decref (policies);
}

/*  The trainer writes a Result, the advisor reads it. */
static void
test_result (void **state)
{
    (void)state;
    rfk_msg_t *out = rfk_result_new (&(rfk_result_t){.trial_no = 2,
                                                     .trial_id = "t-2",
                                                     .status = RFK_TRIAL_PRUNED,
                                                     .score = 0.25,
                                                     .error = "pruned at step 3"},
                                     0);
    rfk_msg_t *in = s_wire (out);
    rfk_result_t view;
    assert_int_equal (rfk_result_read (in, &view), 0);
    assert_int_equal (view.trial_no, 2);
    assert_string_equal (view.trial_id, "t-2");
    assert_int_equal (view.status, RFK_TRIAL_PRUNED);
    assert_float_equal (view.score, 0.25, 1e-12);
    assert_string_equal (view.error, "pruned at step 3");
    assert_null (view.params_path);
    rfk_msg_destroy (&in);
    rfk_msg_destroy (&out);

    out = rfk_result_new (&(rfk_result_t){.trial_no = 3, .status = RFK_TRIAL_ERRORED, .score = NAN},
                          0);
    assert_null (json_object_get (out->body, "score"));
    assert_int_equal (rfk_result_read (out, &view), 0);
    assert_true (isnan (view.score));
    assert_int_equal (view.status, RFK_TRIAL_ERRORED);
    rfk_msg_destroy (&out);
}

/*  admin's ServiceConfig, as a predictor and an inference worker read it. */
static void
test_service_config (void **state)
{
    (void)state;
    rfk_msg_t *out = rfk_msg_new (&rfk_service_family, "ServiceConfig", 5);
    json_object_set_new (out->body, "service_id", json_string ("svc-1"));
    json_object_set_new (out->body, "service_type", json_string ("PREDICT"));
    json_object_set_new (out->body, "task", json_string ("IMAGE_CLASSIFICATION"));
    json_object_set_new (
        out->body, "bind_endpoints",
        json_pack ("[s, s, s]", "http://127.0.0.1:0", "tcp://127.0.0.1:0", "tcp://127.0.0.1:0"));
    json_object_set_new (out->body, "trials",
                         json_pack ("[{s:s, s:s, s:s, s:i}]", "trial_id", "t-1", "model_path",
                                    "/m/a.so", "params_path", "/p/t-1.msgpack", "replicas", 2));
    json_object_set_new (out->body, "config", json_pack ("{s:{s:i}}", "knobs", "depth", 3));
    rfk_msg_t *in = s_wire (out);
    rfk_service_config_t view;
    assert_int_equal (rfk_service_config_read (in, &view), 0);
    assert_string_equal (view.service_id, "svc-1");
    assert_string_equal (view.service_type, "PREDICT");
    assert_string_equal (view.task, "IMAGE_CLASSIFICATION");
    assert_null (view.model_path);
    assert_null (view.train_args);
    assert_int_equal (view.bind_endpoint_count, 3);
    assert_string_equal (view.bind_endpoints[0], "http://127.0.0.1:0");
    assert_string_equal (view.bind_endpoints[2], "tcp://127.0.0.1:0");
    assert_int_equal (
        json_integer_value (json_object_get (json_object_get (view.config, "knobs"), "depth")), 3);
    rfk_trial_to_load_t trial;
    assert_int_equal (rfk_trial_to_load_read (&view, 0, &trial), 0);
    assert_string_equal (trial.trial_id, "t-1");
    assert_string_equal (trial.model_path, "/m/a.so");
    assert_string_equal (trial.params_path, "/p/t-1.msgpack");
    assert_int_equal (trial.replicas, 2);
    assert_null (trial.model_name);
    assert_int_equal (rfk_trial_to_load_read (&view, 1, &trial), -1);
    rfk_msg_destroy (&in);

    //  More bind endpoints than a service has: refused, not truncated.
    json_object_set_new (out->body, "bind_endpoints",
                         json_pack ("[s, s, s, s, s]", "a", "b", "c", "d", "e"));
    assert_int_equal (rfk_service_config_read (out, &view), -1);
    rfk_msg_destroy (&out);
}

/*  An advisor's ServiceConfig with the trials of its sub job, through a
    real frame: every PastTrial field, a trial without score or worker, and
    an entry past the end. */
static void
test_past_trials (void **state)
{
    (void)state;
    rfk_msg_t *out = rfk_msg_new (&rfk_service_family, "ServiceConfig", 6);
    json_object_set_new (out->body, "service_type", json_string ("ADVISOR"));
    json_object_set_new (
        out->body, "past_trials",
        json_pack ("[{s:i, s:s, s:s, s:{s:f}, s:[s], s:f, s:s, s:s}, {s:i, s:s, s:s}]", "trial_no",
                   1, "trial_id", "t-1", "status", "COMPLETED", "knobs", "lr", 0.01, "policies",
                   "EARLY_STOP", "score", 0.75, "worker_id", "trainer-1", "params_path",
                   "/p/t-1.msgpack", "trial_no", 2, "trial_id", "t-2", "status", "PENDING"));
    json_object_set_new (out->body, "last_trial_no", json_integer (2));
    json_object_set_new (out->body, "elapsed_s", json_real (12.5));
    rfk_msg_t *in = s_wire (out);
    rfk_service_config_t view;
    assert_int_equal (rfk_service_config_read (in, &view), 0);
    assert_int_equal (view.last_trial_no, 2);
    assert_true (fabs (view.elapsed_s - 12.5) < 1e-9);
    rfk_past_trial_t past;
    assert_int_equal (rfk_past_trial_read (&view, 0, &past), 0);
    assert_int_equal (past.trial_no, 1);
    assert_string_equal (past.trial_id, "t-1");
    assert_int_equal (past.status, RFK_TRIAL_COMPLETED);
    assert_true (fabs (json_number_value (json_object_get (past.knobs, "lr")) - 0.01) < 1e-12);
    assert_string_equal (json_string_value (json_array_get (past.policies, 0)), "EARLY_STOP");
    assert_true (fabs (past.score - 0.75) < 1e-12);
    assert_string_equal (past.worker_id, "trainer-1");
    assert_string_equal (past.params_path, "/p/t-1.msgpack");
    assert_int_equal (rfk_past_trial_read (&view, 1, &past), 0);
    assert_int_equal (past.status, RFK_TRIAL_PENDING);
    assert_true (isnan (past.score));
    assert_null (past.knobs);
    assert_null (past.worker_id);
    assert_int_equal (rfk_past_trial_read (&view, 2, &past), -1);
    rfk_msg_destroy (&in);
    rfk_msg_destroy (&out);
}

/*  A message of another type, or none, is no view. */
static void
test_wrong_type (void **state)
{
    (void)state;
    rfk_msg_t *ready = rfk_msg_new (&rfk_train_family, "Ready", 0);
    rfk_proposal_t proposal;
    rfk_result_t result;
    rfk_service_config_t config;
    assert_int_equal (rfk_proposal_read (ready, &proposal), -1);
    assert_int_equal (rfk_result_read (ready, &result), -1);
    assert_int_equal (rfk_service_config_read (ready, &config), -1);
    assert_int_equal (rfk_service_config_read (NULL, &config), -1);
    rfk_msg_destroy (&ready);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_proposal),       cmocka_unit_test (test_result),
        cmocka_unit_test (test_service_config), cmocka_unit_test (test_past_trials),
        cmocka_unit_test (test_wrong_type),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
