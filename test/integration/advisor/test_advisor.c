/*  test/integration/advisor/test_advisor.c: the advisor actor over real
    sockets, driven by a test that plays its trainers with rfk_client (the
    direct form: no admin). Proposals fit the template's knob table, the
    budget ends the sub job (trial count, time), ASHA prunes with
    EARLY_STOP, a silent trainer's trial ends ERRORED, bad input is answered
    and the advisor keeps serving; with the MLP's table, SHARE_PARAMS names
    a completed trial's parameters on the configured share of trials, and
    QUICK_EVAL comes with EARLY_STOP; an advisor started again with the
    trials of its earlier process resumes the sub job.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "rafiki/template.h"
#include "rfk_advisor.h"
#include "rfk_search.h"
#include "rfk_test_advisor.h"

static rfk_bus_opts_t s_bus;

/* The knob table of the template at path, as admin stores it at upload. */
static json_t *
s_knob_table (const char *path)
{
    char err[512] = "";
    json_t *table = rfk_test_knob_table (path, err, sizeof err);
    if (!table)
        fail_msg ("%s", err);
    return table;
}

/* An advisor on the Echo template with this budget, train args and fixed
   knobs (JSON text), expiring trainers silent for heartbeat_timeout_ms. The
   tests that are not about expiry give a slow machine plenty of time. */
static zactor_t *
s_advisor_of (const char *template_path, const char *budget, const char *train_args,
              const char *fixed, int heartbeat_timeout_ms, char *endpoint, size_t size)
{
    rfk_bus_opts_defaults (&s_bus);
    s_bus.heartbeat_interval_ms = 50;
    s_bus.heartbeat_timeout_ms = heartbeat_timeout_ms;
    s_bus.request_timeout_ms = 5000;
    rfk_test_advisor_t spec = {
        .template_path = template_path,
        .model_name = strcmp (template_path, ECHO_TEMPLATE) == 0 ? "Echo" : "MlpImageClassifier",
        .budget = budget,
        .train_args = train_args,
        .fixed_knobs = fixed,
        .bus = &s_bus};
    char err[512] = "";
    zactor_t *advisor = rfk_test_advisor_new (&spec, endpoint, size, err, sizeof err);
    if (!advisor)
        fail_msg ("%s", err);
    return advisor;
}

static zactor_t *
s_advisor_with (const char *budget, const char *train_args, const char *fixed,
                int heartbeat_timeout_ms, char *endpoint, size_t size)
{
    return s_advisor_of (ECHO_TEMPLATE, budget, train_args, fixed, heartbeat_timeout_ms, endpoint,
                         size);
}

static zactor_t *
s_advisor (const char *budget, const char *train_args, const char *fixed, char *endpoint,
           size_t size)
{
    return s_advisor_with (budget, train_args, fixed, 10000, endpoint, size);
}

static rfk_msg_t *
s_call (rfk_client_t *client, rfk_msg_t **request_p)
{
    rfk_msg_t *reply = rfk_client_call (client, *request_p);
    rfk_msg_destroy (request_p);
    assert_non_null (reply);
    return reply;
}

static rfk_msg_t *
s_ready (rfk_client_t *client)
{
    rfk_msg_t *ready = rfk_msg_new (&rfk_train_family, "Ready", 0);
    json_object_set_new (ready->body, "worker_id", json_string ("test-trainer"));
    return s_call (client, &ready);
}

static rfk_msg_t *
s_result (rfk_client_t *client, const rfk_msg_t *proposal, const char *status, double score)
{
    rfk_msg_t *result = rfk_msg_new (&rfk_train_family, "Result", 0);
    json_object_set (result->body, "trial_no", json_object_get (proposal->body, "trial_no"));
    json_object_set (result->body, "trial_id", json_object_get (proposal->body, "trial_id"));
    json_object_set_new (result->body, "status", json_string (status));
    if (!streq (status, "ERRORED"))
        json_object_set_new (result->body, "score", json_real (score));
    return s_call (client, &result);
}

/* A COMPLETED Result that saved parameters at params_path. */
static rfk_msg_t *
s_result_saved (rfk_client_t *client, const rfk_msg_t *proposal, double score,
                const char *params_path)
{
    rfk_msg_t *result = rfk_msg_new (&rfk_train_family, "Result", 0);
    json_object_set (result->body, "trial_no", json_object_get (proposal->body, "trial_no"));
    json_object_set (result->body, "trial_id", json_object_get (proposal->body, "trial_id"));
    json_object_set_new (result->body, "status", json_string ("COMPLETED"));
    json_object_set_new (result->body, "score", json_real (score));
    json_object_set_new (result->body, "params_path", json_string (params_path));
    return s_call (client, &result);
}

static rfk_msg_t *
s_progress (rfk_client_t *client, const rfk_msg_t *proposal, int step, double score)
{
    rfk_msg_t *progress = rfk_msg_new (&rfk_train_family, "Progress", 0);
    json_object_set (progress->body, "trial_no", json_object_get (proposal->body, "trial_no"));
    json_object_set_new (progress->body, "step", json_integer (step));
    json_object_set_new (progress->body, "score", json_real (score));
    return s_call (client, &progress);
}

/* The advisor's trials (TRIALS on its pipe). */
static json_t *
s_trials (zactor_t *advisor)
{
    zstr_send (advisor, "TRIALS");
    char *text = zstr_recv (advisor);
    assert_non_null (text);
    json_t *trials = json_loads (text, 0, NULL);
    zstr_free (&text);
    assert_true (json_is_array (trials));
    return trials;
}

/* Waits (with a deadline) for the advisor to say DONE. */
static void
s_expect_done (zactor_t *advisor)
{
    zsock_set_rcvtimeo (advisor, 30000);
    char *word = zstr_recv (advisor);
    assert_non_null (word);
    assert_string_equal (word, "DONE");
    zstr_free (&word);
}

/* Usage: a trainer says Ready, gets proposals, reports results; the third
   result is answered Done and the advisor ends. */
static void
test_budget_of_trials (void **state)
{
    (void)state;
    char endpoint[256];
    zactor_t *advisor =
        s_advisor ("{\"MODEL_TRIAL_COUNT\": 3}", "{\"seed\": 7}", NULL, endpoint, sizeof endpoint);
    rfk_client_t *trainer = rfk_client_new (endpoint, &rfk_train_family, &s_bus);
    rfk_msg_t *proposal = s_ready (trainer);
    for (int no = 1; no <= 3; no++) {
        assert_string_equal (proposal->type, "Proposal");
        json_t *body = proposal->body;
        assert_int_equal (json_integer_value (json_object_get (body, "trial_no")), no);
        assert_true (strlen (json_string_value (json_object_get (body, "trial_id"))) == 36);
        json_t *knobs = json_object_get (body, "knobs");
        double score = json_number_value (json_object_get (knobs, "score"));
        assert_true (score >= 0 && score <= 1);
        json_int_t steps = json_integer_value (json_object_get (knobs, "steps"));
        assert_true (steps >= 0 && steps <= 1000);
        /* Echo declares EARLY_STOP: the advisor switches it on. */
        assert_true (json_is_true (json_object_get (knobs, "early_stop")));
        assert_string_equal (
            json_string_value (json_array_get (json_object_get (body, "policies"), 0)),
            "EARLY_STOP");
        rfk_msg_t *next = s_result (trainer, proposal, "COMPLETED", score);
        rfk_msg_destroy (&proposal);
        proposal = next;
    }
    assert_string_equal (proposal->type, "Done");
    assert_string_equal (json_string_value (json_object_get (proposal->body, "reason")),
                         "MODEL_TRIAL_COUNT reached");
    rfk_msg_destroy (&proposal);
    s_expect_done (advisor);
    json_t *trials = s_trials (advisor);
    assert_int_equal (json_array_size (trials), 3);
    size_t index;
    json_t *trial;
    json_array_foreach (trials, index, trial)
    {
        assert_string_equal (json_string_value (json_object_get (trial, "status")), "COMPLETED");
        assert_true (json_is_real (json_object_get (trial, "score")));
    }
    json_decref (trials);
    rfk_client_destroy (&trainer);
    zactor_destroy (&advisor);
}

/* TIME_HOURS ends the sub job even when trials are cheap. */
static void
test_budget_of_time (void **state)
{
    (void)state;
    char endpoint[256];
    /* The advisor counts its time from its configuration, which comes after
       this: at least the budget passes between start and Done, however slow
       the machine. The budget is long enough for a first proposal even on a
       loaded machine. 0.001 h = 3.6 s. */
    int64_t start = zclock_mono ();
    zactor_t *advisor =
        s_advisor ("{\"TIME_HOURS\": 0.001}", NULL, NULL, endpoint, sizeof endpoint);
    rfk_client_t *trainer = rfk_client_new (endpoint, &rfk_train_family, &s_bus);
    rfk_msg_t *answer = s_ready (trainer);
    int proposals = 0;
    /* A generous cap, in case the budget never ends. */
    while (rfk_msg_is (answer, "Proposal") && zclock_mono () - start < 120000) {
        proposals++;
        rfk_msg_t *next = s_result (trainer, answer, "COMPLETED", 0.5);
        rfk_msg_destroy (&answer);
        answer = next;
    }
    assert_string_equal (answer->type, "Done");
    assert_string_equal (json_string_value (json_object_get (answer->body, "reason")),
                         "TIME_HOURS reached");
    assert_true (zclock_mono () - start >= 3600);
    assert_true (proposals >= 1);
    rfk_msg_destroy (&answer);
    s_expect_done (advisor);
    rfk_client_destroy (&trainer);
    zactor_destroy (&advisor);
}

/* With EARLY_STOP, a trial whose score at a rung is not in the top third of
   what was seen there is pruned. */
static void
test_asha_prunes (void **state)
{
    (void)state;
    char endpoint[256];
    zactor_t *advisor = s_advisor ("{\"MODEL_TRIAL_COUNT\": 4}", "{\"asha_eta\": 3}", NULL,
                                   endpoint, sizeof endpoint);
    rfk_client_t *trainers[4];
    rfk_msg_t *proposals[4];
    for (int index = 0; index < 4; index++) {
        trainers[index] = rfk_client_new (endpoint, &rfk_train_family, &s_bus);
        proposals[index] = s_ready (trainers[index]);
        assert_string_equal (proposals[index]->type, "Proposal");
    }
    /* Step 1 is the first rung. A trial goes on when its score is among the
       best floor(n/3) of the n seen there, or the best while fewer than 3
       were: 0.5 (the only one), 0.9 (the best of two) go on; 0.1 (not the
       best of three) is pruned, 0.95 (the best of four) goes on. */
    const double scores[] = {0.5, 0.9, 0.1, 0.95};
    const char *verdicts[] = {"Continue", "Continue", "Prune", "Continue"};
    for (int index = 0; index < 4; index++) {
        rfk_msg_t *verdict = s_progress (trainers[index], proposals[index], 1, scores[index]);
        assert_string_equal (verdict->type, verdicts[index]);
        rfk_msg_destroy (&verdict);
    }
    /* Step 2 is no rung: go on. */
    rfk_msg_t *verdict = s_progress (trainers[0], proposals[0], 2, 0.01);
    assert_string_equal (verdict->type, "Continue");
    rfk_msg_destroy (&verdict);
    rfk_msg_t *done = s_result (trainers[2], proposals[2], "PRUNED", 0.1);
    assert_string_equal (done->type, "Done");
    rfk_msg_destroy (&done);
    json_t *trials = s_trials (advisor);
    json_t *pruned = json_array_get (trials, 2);
    assert_string_equal (json_string_value (json_object_get (pruned, "status")), "PRUNED");
    assert_true (fabs (json_real_value (json_object_get (pruned, "score")) - 0.1) < 1e-9);
    json_decref (trials);
    for (int index = 0; index < 4; index++) {
        rfk_msg_destroy (&proposals[index]);
        rfk_client_destroy (&trainers[index]);
    }
    zactor_destroy (&advisor);
}

/* A trainer that goes silent during a trial: its trial ends ERRORED, and
   another trainer finishes the budget. */
static void
test_silent_trainer (void **state)
{
    (void)state;
    char endpoint[256];
    /* Expiry is what this test is about: a short heartbeat timeout. */
    zactor_t *advisor =
        s_advisor_with ("{\"MODEL_TRIAL_COUNT\": 2}", NULL, NULL, 1000, endpoint, sizeof endpoint);
    rfk_client_t *lost = rfk_client_new (endpoint, &rfk_train_family, &s_bus);
    rfk_msg_t *proposal = s_ready (lost);
    assert_string_equal (proposal->type, "Proposal");
    rfk_msg_destroy (&proposal);
    rfk_client_destroy (&lost);
    rfk_client_t *trainer = rfk_client_new (endpoint, &rfk_train_family, &s_bus);
    proposal = s_ready (trainer);
    assert_string_equal (proposal->type, "Proposal");
    rfk_msg_t *done = s_result (trainer, proposal, "COMPLETED", 0.7);
    assert_string_equal (done->type, "Done");
    rfk_msg_destroy (&done);
    rfk_msg_destroy (&proposal);
    /* The advisor ends once the lost trainer's trial is settled. */
    s_expect_done (advisor);
    json_t *trials = s_trials (advisor);
    json_t *first = json_array_get (trials, 0);
    assert_string_equal (json_string_value (json_object_get (first, "status")), "ERRORED");
    assert_non_null (strstr (json_string_value (json_object_get (first, "error")), "silent"));
    json_decref (trials);
    rfk_client_destroy (&trainer);
    zactor_destroy (&advisor);
}

/* A trainer that was only slow: expired as silent during its trial (which
   ends ERRORED), it reports in later and is taken back: Progress for the
   settled trial is answered Prune, its Result gets the next Proposal. */
static void
test_slow_trainer_comes_back (void **state)
{
    (void)state;
    char endpoint[256];
    zactor_t *advisor = s_advisor_with ("{\"MODEL_TRIAL_COUNT\": 2}", "{\"early_stop\": true}",
                                        NULL, 1000, endpoint, sizeof endpoint);
    rfk_client_t *slow = rfk_client_new (endpoint, &rfk_train_family, &s_bus);
    rfk_msg_t *first = s_ready (slow);
    assert_string_equal (first->type, "Proposal");
    /* The client is not ticked meanwhile: no heartbeats. Wait (with a
       deadline) until the advisor has settled the trial. */
    int64_t until = zclock_mono () + 60000;
    bool settled = false;
    zpoller_t *poller = zpoller_new (zactor_sock (advisor), NULL);
    while (!settled && zclock_mono () < until) {
        json_t *trials = s_trials (advisor);
        const char *status =
            json_string_value (json_object_get (json_array_get (trials, 0), "status"));
        settled = status && streq (status, "ERRORED");
        json_decref (trials);
        if (!settled)
            zpoller_wait (poller, 50); /* the pipe says nothing unasked: a paced retry */
    }
    zpoller_destroy (&poller);
    assert_true (settled);

    rfk_msg_t *verdict = s_progress (slow, first, 1, 0.5);
    assert_string_equal (verdict->type, "Prune");
    rfk_msg_destroy (&verdict);
    rfk_msg_t *second = s_result (slow, first, "COMPLETED", 0.5);
    assert_string_equal (second->type, "Proposal");
    assert_int_equal (json_integer_value (json_object_get (second->body, "trial_no")), 2);
    rfk_msg_t *done = s_result (slow, second, "COMPLETED", 0.75);
    assert_string_equal (done->type, "Done");
    rfk_msg_destroy (&done);
    s_expect_done (advisor);

    json_t *trials = s_trials (advisor);
    assert_int_equal (json_array_size (trials), 2);
    json_t *one = json_array_get (trials, 0);
    assert_string_equal (json_string_value (json_object_get (one, "status")), "ERRORED");
    assert_non_null (strstr (json_string_value (json_object_get (one, "error")), "silent"));
    json_t *two = json_array_get (trials, 1);
    assert_string_equal (json_string_value (json_object_get (two, "status")), "COMPLETED");
    json_decref (trials);
    rfk_msg_destroy (&first);
    rfk_msg_destroy (&second);
    rfk_client_destroy (&slow);
    zactor_destroy (&advisor);
}

/* The tuner the advisor runs: "auto" (the default) is the GP; the job's
   train arg `advisor` names another; a template whose knobs are all fixed
   (here by the job) gets one trial; an unknown name fails the advisor with
   a message naming it. */
static char *
s_tuner (zactor_t *advisor)
{
    zstr_send (advisor, "TUNER");
    char *name = zstr_recv (advisor);
    assert_non_null (name);
    return name;
}

static void
test_tuner_choice (void **state)
{
    (void)state;
    char endpoint[256];
    const char *cases[][2] = {
        {NULL, "gp"},
        {"{\"advisor\": \"auto\"}", "gp"},
        {"{\"advisor\": \"TPE\"}", "tpe"},
        {"{\"ADVISOR\": \"random\"}", "random"},
        {"{\"advisor\": \"gp\", \"seed\": 3}", "gp"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        zactor_t *advisor = s_advisor ("{\"MODEL_TRIAL_COUNT\": 3}", cases[index][0], NULL,
                                       endpoint, sizeof endpoint);
        char *name = s_tuner (advisor);
        assert_string_equal (name, cases[index][1]);
        zstr_free (&name);
        /* Its proposals fit the table. */
        rfk_client_t *trainer = rfk_client_new (endpoint, &rfk_train_family, &s_bus);
        rfk_msg_t *proposal = s_ready (trainer);
        assert_string_equal (proposal->type, "Proposal");
        double score = json_number_value (
            json_object_get (json_object_get (proposal->body, "knobs"), "score"));
        assert_true (score >= 0 && score <= 1);
        rfk_msg_destroy (&proposal);
        rfk_client_destroy (&trainer);
        zactor_destroy (&advisor);
    }

    /* Every tuned knob fixed by the job: one trial, then Done. */
    zactor_t *advisor = s_advisor ("{\"MODEL_TRIAL_COUNT\": 5}", "{\"advisor\": \"tpe\"}",
                                   "{\"steps\": 3, \"score\": 0.5}", endpoint, sizeof endpoint);
    char *name = s_tuner (advisor);
    assert_string_equal (name, "fixed");
    zstr_free (&name);
    rfk_client_t *trainer = rfk_client_new (endpoint, &rfk_train_family, &s_bus);
    rfk_msg_t *proposal = s_ready (trainer);
    assert_string_equal (proposal->type, "Proposal");
    rfk_msg_t *done = s_result (trainer, proposal, "COMPLETED", 0.5);
    assert_string_equal (done->type, "Done");
    assert_non_null (strstr (json_string_value (json_object_get (done->body, "reason")), "fixed"));
    rfk_msg_destroy (&done);
    rfk_msg_destroy (&proposal);
    s_expect_done (advisor);
    rfk_client_destroy (&trainer);
    zactor_destroy (&advisor);

    /* Unknown tuners, bad budgets and fixed knobs the template lacks fail
       the advisor with a reason. */
    const char *bad[][3] = {
        {"{\"MODEL_TRIAL_COUNT\": 2}", "{\"advisor\": \"nope\"}", "nope"},
        {"{\"MODEL_TRIAL_COUNT\": \"many\"}", NULL, "MODEL_TRIAL_COUNT"},
        {"{\"MODEL_TRIAL_COUNT\": 2.5}", NULL, "MODEL_TRIAL_COUNT"},
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad[0]; index++) {
        json_t *budget = json_loads (bad[index][0], 0, NULL);
        json_t *args = bad[index][1] ? json_loads (bad[index][1], 0, NULL) : NULL;
        json_t *knobs = s_knob_table (ECHO_TEMPLATE);
        rfk_advisor_args_t direct = {
            .knobs = knobs, .budget = budget, .train_args = args, .bus = &s_bus};
        advisor = zactor_new (rfk_advisor_direct_actor, &direct);
        zsock_set_rcvtimeo (advisor, 30000);
        char *word = zstr_recv (advisor);
        assert_non_null (word);
        assert_string_equal (word, "FAILED");
        char *reason = zstr_recv (advisor);
        assert_non_null (reason);
        assert_non_null (strstr (reason, bad[index][2]));
        zstr_free (&word);
        zstr_free (&reason);
        zactor_destroy (&advisor);
        json_decref (budget);
        json_decref (args);
        json_decref (knobs);
    }
    json_t *fixed = json_loads ("{\"depth\": 3}", 0, NULL);
    json_t *knobs = s_knob_table (ECHO_TEMPLATE);
    rfk_advisor_args_t direct = {.knobs = knobs, .fixed_knobs = fixed, .bus = &s_bus};
    advisor = zactor_new (rfk_advisor_direct_actor, &direct);
    zsock_set_rcvtimeo (advisor, 30000);
    char *word = zstr_recv (advisor);
    assert_string_equal (word, "FAILED");
    char *reason = zstr_recv (advisor);
    assert_non_null (strstr (reason, "depth"));
    zstr_free (&word);
    zstr_free (&reason);
    zactor_destroy (&advisor);
    json_decref (fixed);
    json_decref (knobs);
}

/* Garbage, unknown messages and results for trials nobody holds are
   answered with Error; the advisor keeps serving. */
static void
test_bad_input (void **state)
{
    (void)state;
    char endpoint[256];
    zactor_t *advisor =
        s_advisor ("{\"MODEL_TRIAL_COUNT\": 1}", NULL, NULL, endpoint, sizeof endpoint);
    zsock_t *raw = zsock_new_dealer (endpoint);
    zsock_set_rcvtimeo (raw, 30000);
    zstr_send (raw, "not an envelope");
    zframe_t *frame = zframe_recv (raw);
    assert_non_null (frame);
    rfk_msg_t *error = NULL;
    assert_int_equal (rfk_train_family.decode (frame, 1 << 20, &error), 0);
    assert_string_equal (error->type, "Error");
    assert_string_equal (json_string_value (json_object_get (error->body, "code")), "MALFORMED");
    rfk_msg_destroy (&error);
    zframe_destroy (&frame);
    zsock_destroy (&raw);

    rfk_client_t *trainer = rfk_client_new (endpoint, &rfk_train_family, &s_bus);
    rfk_msg_t *wrong = rfk_msg_new (&rfk_train_family, "Result", 0);
    json_object_set_new (wrong->body, "trial_no", json_integer (42));
    json_object_set_new (wrong->body, "status", json_string ("COMPLETED"));
    rfk_msg_t *reply = s_call (trainer, &wrong);
    assert_string_equal (reply->type, "Error");
    assert_string_equal (json_string_value (json_object_get (reply->body, "code")), "BAD_REQUEST");
    rfk_msg_destroy (&reply);
    rfk_msg_t *proposal_as_request = rfk_msg_new (&rfk_train_family, "Proposal", 0);
    reply = s_call (trainer, &proposal_as_request);
    assert_string_equal (json_string_value (json_object_get (reply->body, "code")),
                         "UNKNOWN_MESSAGE");
    rfk_msg_destroy (&reply);
    /* Still serving. */
    rfk_msg_t *proposal = s_ready (trainer);
    assert_string_equal (proposal->type, "Proposal");
    rfk_msg_destroy (&proposal);
    rfk_client_destroy (&trainer);
    zactor_destroy (&advisor);
}

/* Fixed knobs stay in every proposal; a template that cannot be opened
   makes the advisor say FAILED with the reason. */
static void
test_fixed_knobs_and_failure (void **state)
{
    (void)state;
    char endpoint[256];
    zactor_t *advisor = s_advisor ("{\"MODEL_TRIAL_COUNT\": 2}", "{\"early_stop\": false}",
                                   "{\"steps\": 5, \"score\": 0.25}", endpoint, sizeof endpoint);
    rfk_client_t *trainer = rfk_client_new (endpoint, &rfk_train_family, &s_bus);
    rfk_msg_t *proposal = s_ready (trainer);
    json_t *knobs = json_object_get (proposal->body, "knobs");
    assert_int_equal (json_integer_value (json_object_get (knobs, "steps")), 5);
    assert_true (json_number_value (json_object_get (knobs, "score")) == 0.25);
    assert_true (json_is_false (json_object_get (knobs, "early_stop")));
    assert_int_equal (json_array_size (json_object_get (proposal->body, "policies")), 0);
    rfk_msg_destroy (&proposal);
    rfk_client_destroy (&trainer);
    zactor_destroy (&advisor);

    //  No knob table, or a broken one: FAILED with the reason (the advisor
    //  has no template to fall back on).
    const char *tables[][2] = {
        {NULL, "no knob table"},
        {"[{\"name\": \"depth\", \"type\": \"WHAT\"}]", "depth"},
        {"[{\"name\": \"depth\", \"type\": \"INTEGER\", \"min\": 9, \"max\": 1}]", "depth"},
    };
    for (size_t index = 0; index < sizeof tables / sizeof tables[0]; index++) {
        json_t *table = tables[index][0] ? json_loads (tables[index][0], 0, NULL) : NULL;
        rfk_advisor_args_t args = {.knobs = table, .bus = &s_bus};
        advisor = zactor_new (rfk_advisor_direct_actor, &args);
        zsock_set_rcvtimeo (advisor, 30000);
        char *word = zstr_recv (advisor);
        assert_non_null (word);
        assert_string_equal (word, "FAILED");
        char *reason = zstr_recv (advisor);
        assert_non_null (reason);
        if (!strstr (reason, tables[index][1]))
            fail_msg ("table %zu: %s", index, reason);
        zstr_free (&word);
        zstr_free (&reason);
        zactor_destroy (&advisor);
        json_decref (table);
    }
}

/* The policies of a proposal, space-separated ("EARLY_STOP QUICK_EVAL"). */
static const char *
s_policies (const rfk_msg_t *proposal, char *buf, size_t size)
{
    buf[0] = '\0';
    size_t index;
    json_t *name;
    json_array_foreach (json_object_get (proposal->body, "policies"), index, name)
    {
        size_t len = strlen (buf);
        snprintf (buf + len, size - len, "%s%s", index ? " " : "", json_string_value (name));
    }
    return buf;
}

/* SHARE_PARAMS, QUICK_EVAL on the MLP's table: no trial shares before one
   COMPLETED with saved parameters; after that the share of trials the
   ratio says (0.5: every second one) starts from the best trial's
   parameters, named in the proposal; every trial gets EARLY_STOP and
   QUICK_EVAL (ASHA reads its progress scores). */
static void
test_share_params (void **state)
{
    (void)state;
    char endpoint[256], policies[128];
    zactor_t *advisor = s_advisor_of (MLP_TEMPLATE, "{\"MODEL_TRIAL_COUNT\": 7}",
                                      "{\"seed\": 3, \"share_params_ratio\": 0.5}", NULL, 10000,
                                      endpoint, sizeof endpoint);
    rfk_client_t *trainer = rfk_client_new (endpoint, &rfk_train_family, &s_bus);
    /* Trial 1 ends ERRORED (no parameters): trial 2 cannot share. */
    rfk_msg_t *proposal = s_ready (trainer);
    assert_string_equal (s_policies (proposal, policies, sizeof policies), "EARLY_STOP QUICK_EVAL");
    json_t *knobs = json_object_get (proposal->body, "knobs");
    assert_true (json_is_true (json_object_get (knobs, "quick_eval")));
    assert_true (json_is_false (json_object_get (knobs, "share_params")));
    rfk_msg_t *next = s_result (trainer, proposal, "ERRORED", 0);
    rfk_msg_destroy (&proposal);
    proposal = next;
    assert_string_equal (s_policies (proposal, policies, sizeof policies), "EARLY_STOP QUICK_EVAL");
    /* Trial 2 completes with parameters, scoring 0.8; trial 3 scores 0.6. */
    next = s_result_saved (trainer, proposal, 0.8, "/var/params/trial-2.msgpack");
    rfk_msg_destroy (&proposal);
    proposal = next;
    int shared = 0;
    for (int no = 3; no <= 7; no++) {
        assert_int_equal (json_integer_value (json_object_get (proposal->body, "trial_no")), no);
        knobs = json_object_get (proposal->body, "knobs");
        const char *source = json_string_value (json_object_get (proposal->body, "params_source"));
        const char *path = json_string_value (json_object_get (proposal->body, "params_path"));
        s_policies (proposal, policies, sizeof policies);
        print_message ("# trial %d: policies %s, source %s, path %s\n", no, policies,
                       source ? source : "-", path ? path : "-");
        /* Of trials 3..7 (5 proposals that could share), 4 and 6 do. */
        bool sharing = no == 4 || no == 6;
        assert_int_equal (json_is_true (json_object_get (knobs, "share_params")), sharing);
        if (sharing) {
            shared++;
            assert_string_equal (policies, "EARLY_STOP SHARE_PARAMS QUICK_EVAL");
            assert_string_equal (source, "BEST");
            assert_string_equal (path, "/var/params/trial-2.msgpack");
        } else {
            assert_string_equal (policies, "EARLY_STOP QUICK_EVAL");
            assert_true (!path || !*path);
        }
        next = s_result_saved (trainer, proposal, no == 3 ? 0.6 : 0.5, "/var/params/later.msgpack");
        rfk_msg_destroy (&proposal);
        proposal = next;
    }
    assert_int_equal (shared, 2);
    assert_string_equal (proposal->type, "Done");
    rfk_msg_destroy (&proposal);
    s_expect_done (advisor);
    rfk_client_destroy (&trainer);
    zactor_destroy (&advisor);

    /* share_params_ratio out of [0, 1] is refused; 0 turns sharing off. */
    rfk_bus_opts_defaults (&s_bus);
    json_t *table = s_knob_table (MLP_TEMPLATE);
    json_t *budget = json_pack ("{s:i}", "MODEL_TRIAL_COUNT", 2);
    json_t *args = json_pack ("{s:f}", "share_params_ratio", 1.5);
    char err[256] = "";
    rfk_search_t *search = rfk_search_new ("MLP", table, budget, args, NULL, 0.5, err, sizeof err);
    assert_null (search);
    assert_string_equal (err, "train arg share_params_ratio must be a number in [0, 1]");
    json_decref (args);
    args = json_pack ("{s:i}", "share_params_ratio", 0);
    search = rfk_search_new ("MLP", table, budget, args, NULL, 0.5, err, sizeof err);
    assert_non_null (search);
    char line[300];
    assert_non_null (strstr (rfk_search_describe (search, line, sizeof line), "share-params=off"));
    rfk_search_destroy (&search);
    json_decref (args);
    json_decref (budget);
    json_decref (table);
}

/* ---- an advisor that starts again resumes its sub job ------------------ */

/* A Ready from a trainer named name. */
static rfk_msg_t *
s_ready_as (rfk_client_t *client, const char *name)
{
    rfk_msg_t *ready = rfk_msg_new (&rfk_train_family, "Ready", 0);
    json_object_set_new (ready->body, "worker_id", json_string (name));
    return s_call (client, &ready);
}

/* A PastTrial (what admin's ServiceConfig carries) from an entry of an
   advisor's TRIALS, with the status and worker admin would have stored. */
static json_t *
s_past (const json_t *trial, const char *status, const char *worker)
{
    json_t *past = json_pack (
        "{s:O, s:O, s:s, s:O, s:O}", "trial_no", json_object_get (trial, "no"), "trial_id",
        json_object_get (trial, "id"), "status", status, "knobs", json_object_get (trial, "knobs"),
        "policies", json_object_get (trial, "policies"));
    assert_non_null (past);
    if (json_is_number (json_object_get (trial, "score")))
        json_object_set (past, "score", json_object_get (trial, "score"));
    if (worker)
        json_object_set_new (past, "worker_id", json_string (worker));
    return past;
}

/* An advisor started again on endpoint (bound again: its trainers are
   connected there) with the trials of its earlier process. The earlier
   actor's socket leaves the port from ZeroMQ's I/O thread, after the actor
   ended: a bind that finds it still taken is tried again, paced, with a
   deadline. */
static zactor_t *
s_advisor_resumed_at (const char *budget, const char *bind, const json_t *past, uint32_t last_no,
                      int64_t claim_ms, double elapsed_s)
{
    json_t *budget_json = json_loads (budget, 0, NULL);
    json_t *args_json = json_loads ("{\"seed\": 3, \"early_stop\": false}", 0, NULL);
    json_t *knobs = s_knob_table (ECHO_TEMPLATE);
    rfk_advisor_args_t args = {.bind = bind,
                               .model_name = "Echo",
                               .knobs = knobs,
                               .budget = budget_json,
                               .train_args = args_json,
                               .bus = &s_bus,
                               .past_trials = past,
                               .last_trial_no = last_no,
                               .elapsed_s = elapsed_s,
                               .claim_ms = claim_ms};
    zactor_t *advisor = NULL;
    for (int64_t until = zclock_mono () + 30000; !advisor && zclock_mono () < until;) {
        advisor = zactor_new (rfk_advisor_direct_actor, &args);
        assert_non_null (advisor);
        zstr_send (advisor, "ENDPOINT");
        char *word = zstr_recv (advisor);
        assert_non_null (word);
        if (streq (word, "FAILED")) { /* the port is not free yet */
            char *reason = zstr_recv (advisor);
            assert_non_null (strstr (reason, "cannot bind"));
            zstr_free (&reason);
            zstr_free (&word);
            zactor_destroy (&advisor);
            zclock_sleep (100);
            continue;
        }
        assert_string_equal (word, bind);
        zstr_free (&word);
    }
    assert_non_null (advisor);
    json_decref (budget_json);
    json_decref (args_json);
    json_decref (knobs);
    return advisor;
}

static zactor_t *
s_advisor_resumed (const char *budget, const char *bind, const json_t *past, uint32_t last_no,
                   int64_t claim_ms)
{
    return s_advisor_resumed_at (budget, bind, past, last_no, claim_ms, 0);
}

/* The advisor dies mid-job and starts again at the same endpoint with the
   trials admin recorded: it proposes within the budget, numbers on after
   the highest, hands the trial whose proposal was lost to the next Ready
   (same id), accepts Progress and Result on the trial a trainer still runs
   (counted once) and ends when the budget is spent. */
static void
test_resume_after_restart (void **state)
{
    (void)state;
    char endpoint[256];
    zactor_t *first =
        s_advisor ("{\"MODEL_TRIAL_COUNT\": 5}", "{\"seed\": 3}", NULL, endpoint, sizeof endpoint);
    rfk_client_t *one = rfk_client_new (endpoint, &rfk_train_family, &s_bus);
    rfk_client_t *two = rfk_client_new (endpoint, &rfk_train_family, &s_bus);
    rfk_msg_t *p1 = s_ready_as (one, "t1");
    rfk_msg_t *p2 = s_result (one, p1, "COMPLETED", 0.6);
    rfk_msg_t *p3 = s_ready_as (two, "t2");
    rfk_msg_t *p4 = s_result (one, p2, "ERRORED", 0);
    assert_int_equal (json_integer_value (json_object_get (p4->body, "trial_no")), 4);
    json_t *before = s_trials (first);
    assert_int_equal (json_array_size (before), 4);
    zactor_destroy (&first); /* the advisor dies */

    /* What admin hands the new process: trial 3 RUNNING on t2, trial 4
       PENDING (the proposal to t1 was lost: it never started it). */
    json_t *past = json_array ();
    json_array_append_new (past, s_past (json_array_get (before, 0), "COMPLETED", "t1"));
    json_array_append_new (past, s_past (json_array_get (before, 1), "ERRORED", "t1"));
    json_array_append_new (past, s_past (json_array_get (before, 2), "RUNNING", "t2"));
    json_array_append_new (past, s_past (json_array_get (before, 3), "PENDING", NULL));
    zactor_t *second = s_advisor_resumed ("{\"MODEL_TRIAL_COUNT\": 5}", endpoint, past, 4, 0);

    /* t2 still runs trial 3: its Progress and Result are taken. */
    rfk_msg_t *verdict = s_progress (two, p3, 1, 0.4);
    assert_string_equal (verdict->type, "Continue");
    rfk_msg_destroy (&verdict);
    /* t1 asks again: the lost proposal, as it was. */
    rfk_msg_t *again = s_ready_as (one, "t1");
    assert_string_equal (again->type, "Proposal");
    assert_int_equal (json_integer_value (json_object_get (again->body, "trial_no")), 4);
    assert_string_equal (json_string_value (json_object_get (again->body, "trial_id")),
                         json_string_value (json_object_get (p4->body, "trial_id")));
    assert_true (
        json_equal (json_object_get (again->body, "knobs"), json_object_get (p4->body, "knobs")));
    rfk_msg_t *p5 = s_result (two, p3, "COMPLETED", 0.8);
    assert_string_equal (p5->type, "Proposal");
    assert_int_equal (json_integer_value (json_object_get (p5->body, "trial_no")), 5);
    /* A Result for a trial nobody proposed is still refused. */
    rfk_msg_t *wrong = rfk_msg_new (&rfk_train_family, "Result", 0);
    json_object_set_new (wrong->body, "trial_no", json_integer (42));
    json_object_set_new (wrong->body, "status", json_string ("COMPLETED"));
    rfk_msg_t *refused = s_call (one, &wrong);
    assert_string_equal (json_string_value (json_object_get (refused->body, "code")),
                         "BAD_REQUEST");
    rfk_msg_destroy (&refused);
    rfk_msg_t *done = s_result (one, again, "COMPLETED", 0.7);
    assert_string_equal (done->type, "Done");
    rfk_msg_destroy (&done);
    done = s_result (two, p5, "COMPLETED", 0.9);
    assert_string_equal (done->type, "Done");
    assert_string_equal (json_string_value (json_object_get (done->body, "reason")),
                         "MODEL_TRIAL_COUNT reached");
    rfk_msg_destroy (&done);
    s_expect_done (second);

    json_t *after = s_trials (second);
    assert_int_equal (json_array_size (after), 5);
    const char *statuses[] = {"COMPLETED", "ERRORED", "COMPLETED", "COMPLETED", "COMPLETED"};
    for (size_t index = 0; index < 5; index++) {
        json_t *trial = json_array_get (after, index);
        assert_int_equal (json_integer_value (json_object_get (trial, "no")), index + 1);
        assert_string_equal (json_string_value (json_object_get (trial, "status")),
                             statuses[index]);
        if (index < 4)
            assert_string_equal (
                json_string_value (json_object_get (trial, "id")),
                json_string_value (json_object_get (json_array_get (before, index), "id")));
    }
    json_decref (after);
    json_decref (before);
    json_decref (past);
    rfk_msg_t *messages[] = {p1, p2, p3, p4, again, p5};
    for (size_t index = 0; index < 6; index++)
        rfk_msg_destroy (&messages[index]);
    rfk_client_destroy (&one);
    rfk_client_destroy (&two);
    zactor_destroy (&second);
}

/* Resumed trials whose trainers are gone: one that says Ready under the
   trial's trainer's name started again (its trial ends ERRORED at once);
   one that never reports loses its trial when the claim time runs out.
   Either way the budget is then spent and the advisor ends. */
static void
test_resume_lost_trainers (void **state)
{
    (void)state;
    char endpoint[256];
    zactor_t *first =
        s_advisor ("{\"MODEL_TRIAL_COUNT\": 3}", "{\"seed\": 5}", NULL, endpoint, sizeof endpoint);
    rfk_client_t *trainer = rfk_client_new (endpoint, &rfk_train_family, &s_bus);
    rfk_msg_t *p1 = s_ready_as (trainer, "w1");
    rfk_msg_t *p2 = s_ready_as (trainer, "w1"); /* trial 1 ends ERRORED: said Ready again */
    json_t *before = s_trials (first);
    zactor_destroy (&first);
    json_t *past = json_array ();
    json_array_append_new (past, s_past (json_array_get (before, 0), "RUNNING", "w-restarted"));
    json_array_append_new (past, s_past (json_array_get (before, 1), "RUNNING", "w-gone"));
    /* A malformed entry is skipped. */
    json_array_append_new (past, json_pack ("{s:s}", "status", "COMPLETED"));
    zactor_t *second = s_advisor_resumed ("{\"MODEL_TRIAL_COUNT\": 3}", endpoint, past, 2, 1500);

    rfk_msg_t *p3 = s_ready_as (trainer, "w-restarted");
    assert_string_equal (p3->type, "Proposal");
    assert_int_equal (json_integer_value (json_object_get (p3->body, "trial_no")), 3);
    json_t *trials = s_trials (second);
    json_t *lost = json_array_get (trials, 0);
    assert_string_equal (json_string_value (json_object_get (lost, "status")), "ERRORED");
    assert_non_null (strstr (json_string_value (json_object_get (lost, "error")), "started again"));
    json_decref (trials);
    rfk_msg_t *done = s_result (trainer, p3, "COMPLETED", 0.5);
    assert_string_equal (done->type, "Done");
    rfk_msg_destroy (&done);
    /* Trial 2 is given up once nobody claimed it for 1.5 s; then DONE. */
    s_expect_done (second);
    trials = s_trials (second);
    assert_int_equal (json_array_size (trials), 3);
    json_t *gone = json_array_get (trials, 1);
    assert_string_equal (json_string_value (json_object_get (gone, "status")), "ERRORED");
    assert_non_null (
        strstr (json_string_value (json_object_get (gone, "error")), "did not report"));
    json_decref (trials);
    json_decref (before);
    json_decref (past);
    rfk_msg_destroy (&p1);
    rfk_msg_destroy (&p2);
    rfk_msg_destroy (&p3);
    rfk_client_destroy (&trainer);
    zactor_destroy (&second);
}

/* TIME_HOURS counts from the sub job's start, not the new process's: a
   job 10 s old with a budget of 3.6 s is over at the first Ready. */
static void
test_resume_time_budget (void **state)
{
    (void)state;
    char endpoint[256];
    zactor_t *first =
        s_advisor ("{\"TIME_HOURS\": 0.001}", "{\"seed\": 9}", NULL, endpoint, sizeof endpoint);
    rfk_client_t *trainer = rfk_client_new (endpoint, &rfk_train_family, &s_bus);
    rfk_msg_t *p1 = s_ready_as (trainer, "t1");
    assert_string_equal (p1->type, "Proposal");
    json_t *before = s_trials (first);
    zactor_destroy (&first);
    json_t *past = json_array ();
    json_array_append_new (past, s_past (json_array_get (before, 0), "RUNNING", "t1"));
    zactor_t *second = s_advisor_resumed_at ("{\"TIME_HOURS\": 0.001}", endpoint, past, 1, 0, 10);
    rfk_msg_t *done = s_result (trainer, p1, "COMPLETED", 0.5);
    assert_string_equal (done->type, "Done");
    assert_string_equal (json_string_value (json_object_get (done->body, "reason")),
                         "TIME_HOURS reached");
    rfk_msg_destroy (&done);
    s_expect_done (second);
    json_decref (before);
    json_decref (past);
    rfk_msg_destroy (&p1);
    rfk_client_destroy (&trainer);
    zactor_destroy (&second);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_budget_of_trials),
        cmocka_unit_test (test_budget_of_time),
        cmocka_unit_test (test_asha_prunes),
        cmocka_unit_test (test_silent_trainer),
        cmocka_unit_test (test_slow_trainer_comes_back),
        cmocka_unit_test (test_tuner_choice),
        cmocka_unit_test (test_bad_input),
        cmocka_unit_test (test_fixed_knobs_and_failure),
        cmocka_unit_test (test_share_params),
        cmocka_unit_test (test_resume_after_restart),
        cmocka_unit_test (test_resume_lost_trainers),
        cmocka_unit_test (test_resume_time_budget),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
