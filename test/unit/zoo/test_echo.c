/*  test_echo.c: the Echo template (models/echo) and the misbehaving test
    templates (misbehave.c: Crash, Hang), run in child processes the way a
    trial runner would. */
#include "zt.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char s_err[1024];

/* Usage: Echo answers each query with itself; evaluate returns the knob. */
static void
test_echo_usage (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (ECHO, RAFIKI_TASK_TABULAR_CLASSIFICATION);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    assert_string_equal (api->name, "Echo");
    const char *knobs = "{\"score\": 0.75, \"steps\": 4, \"early_stop\": false}";
    void *model = zt_create (api, knobs);
    zt_context_t ctx;
    zt_context_init (&ctx, 0);
    const char *data = zt_data ("iris", "train", 0);
    assert_true (zt_train_eval (api, model, data, NULL, &ctx, data) == 0.75);
    assert_int_equal (ctx.n_metrics, 4);
    assert_int_equal (ctx.n_progress, 0);

    msgpack_sbuffer elements, batch, answer;
    msgpack_sbuffer_init (&elements);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &elements, msgpack_sbuffer_write);
    zt_pack_json (&pk, "{\"a\": 1, \"b\": [1, 2, \"x\"]}");
    zt_pack_json (&pk, "\"anything\"");
    zt_pack_json (&pk, "null");
    zt_batch (&batch, 3, &elements);
    msgpack_unpacked result;
    zt_predict (api, model, &batch, &answer, &result);
    assert_int_equal (answer.size, batch.size);
    assert_memory_equal (answer.data, batch.data, batch.size); /* the very same bytes */

    void *copy = zt_roundtrip (api, model, "{\"score\": 0.1, \"steps\": 0, \"early_stop\": false}");
    double score;
    assert_int_equal (api->evaluate (copy, data, &score, s_err, sizeof s_err), 0);
    assert_true (score == 0.75);
    assert_int_equal (api->train (model, "/nonexistent", NULL, NULL, NULL, s_err, sizeof s_err),
                      -1);
    assert_non_null (strstr (s_err, "/nonexistent"));

    msgpack_unpacked_destroy (&result);
    msgpack_sbuffer_destroy (&answer);
    msgpack_sbuffer_destroy (&batch);
    msgpack_sbuffer_destroy (&elements);
    api->destroy (copy);
    api->destroy (model);
    rfk_template_close (&tpl);
}

/* With EARLY_STOP on, Echo reports each step and stops when pruned. */
static void
test_echo_early_stop (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (ECHO, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    void *model = zt_create (api, "{\"score\": 0.8, \"steps\": 10, \"early_stop\": true}");
    zt_context_t ctx;
    zt_context_init (&ctx, 4);
    const char *data = zt_data ("iris", "train", 0);
    zt_train_eval (api, model, data, NULL, &ctx, data);
    assert_int_equal (ctx.n_progress, 4);
    assert_int_equal (ctx.last_step, 4);
    assert_true (ctx.last_score > 0.31 && ctx.last_score < 0.33);
    api->destroy (model);
    rfk_template_close (&tpl);
}

/* Runs train of the template at path in a child; returns its wait status.
   The child gives up after `seconds` through SIGALRM. */
static int
s_train_in_child (const char *path, unsigned seconds)
{
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        alarm (seconds);
        signal (SIGALRM, SIG_DFL);
        rfk_template_t *tpl = rfk_template_open (path, NULL, s_err, sizeof s_err);
        if (!tpl)
            _exit (3);
        const rafiki_model_api_t *api = rfk_template_api (tpl);
        rafiki_knob_value_t x = {.name = "x", .value = {.type = RAFIKI_VALUE_INT, .u.i = 1}};
        rafiki_knobs_t knobs = {.items = &x, .n = 1};
        void *model = api->create (&knobs, s_err, sizeof s_err);
        int rc = api->train (model, "/nonexistent", NULL, NULL, NULL, s_err, sizeof s_err);
        _exit (rc == 0 ? 0 : 4);
    }
    int status = 0;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    return status;
}

/* Crash dies of SIGSEGV in train; Hang never returns from train. Both
   behave everywhere else. */
static void
test_misbehaving_templates (void **state)
{
    (void)state;
    int status = s_train_in_child (TEST_CRASH, 30);
    assert_true (WIFSIGNALED (status));
    assert_int_equal (WTERMSIG (status), SIGSEGV);
    status = s_train_in_child (TEST_HANG, 1);
    assert_true (WIFSIGNALED (status));
    assert_int_equal (WTERMSIG (status), SIGALRM);

    const char *paths[] = {TEST_CRASH, TEST_HANG};
    const char *names[] = {"Crash", "Hang"};
    for (int i = 0; i < 2; i++) {
        rfk_template_t *tpl = zt_open (paths[i], RAFIKI_TASK_TABULAR_CLASSIFICATION);
        const rafiki_model_api_t *api = rfk_template_api (tpl);
        assert_string_equal (api->name, names[i]);
        void *model = zt_create (api, "{\"x\": 3}");
        double score;
        assert_int_equal (api->evaluate (model, "/nonexistent", &score, s_err, sizeof s_err), 0);
        assert_true (score == 0.5);
        void *copy = zt_roundtrip (api, model, "{\"x\": 3}");
        api->destroy (copy);
        api->destroy (model);
        rfk_template_close (&tpl);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_echo_usage),
        cmocka_unit_test (test_echo_early_stop),
        cmocka_unit_test (test_misbehaving_templates),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
