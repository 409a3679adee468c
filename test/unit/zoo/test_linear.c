/*  test_linear.c: the liblinear templates (models/linear) on iris,
    breast-cancer and a slice of Fashion-MNIST. */
#include "zt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static char s_err[1024];

/* Predicts the batch with model and a dumped-and-loaded copy: the answers
   must be byte for byte the same. Returns the copy's answer in out. */
static void
s_assert_roundtrip (const rafiki_model_api_t *api, void *model, const char *knobs,
                    const msgpack_sbuffer *batch, const msgpack_sbuffer *answer)
{
    void *copy = zt_roundtrip (api, model, knobs);
    msgpack_sbuffer answer2;
    msgpack_unpacked result2;
    zt_predict (api, copy, batch, &answer2, &result2);
    assert_int_equal (answer2.size, answer->size);
    assert_memory_equal (answer2.data, answer->data, answer->size);
    msgpack_unpacked_destroy (&result2);
    msgpack_sbuffer_destroy (&answer2);
    api->destroy (copy);
}

/* Usage: LinearClassifier (logistic regression) on iris. */
static void
test_linear_usage (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (LINEAR_CLASSIFIER, RAFIKI_TASK_TABULAR_CLASSIFICATION);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    assert_string_equal (api->name, "LinearClassifier");
    const char *knobs = "{\"C\": 100, \"solver\": \"l2r_lr\"}";
    void *model = zt_create (api, knobs);
    zt_context_t ctx;
    zt_context_init (&ctx, 0);
    double accuracy = zt_train_eval (api, model, zt_data ("iris", "train", 0), NULL, &ctx,
                                     zt_data ("iris", "test", 0));
    print_message ("# LinearClassifier iris test accuracy %.3f\n", accuracy);
    assert_true (accuracy > 0.85);
    assert_true (ctx.n_logs >= 1);
    assert_string_equal (ctx.metric_names, "train_accuracy");

    msgpack_sbuffer elements, batch, answer;
    msgpack_sbuffer_init (&elements);
    size_t n = zt_tabular_queries (zt_data ("iris", "test", 0), 8, &elements);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &elements, msgpack_sbuffer_write);
    zt_pack_json (&pk, "{\"petal width (cm)\": 1}");
    zt_batch (&batch, n + 1, &elements);
    msgpack_unpacked result;
    zt_predict (api, model, &batch, &answer, &result);
    for (size_t i = 0; i < n; i++)
        zt_assert_probs (&result.data.via.array.ptr[i], 3);
    char msg[256];
    assert_true (zt_is_query_error (&result.data.via.array.ptr[n], msg, sizeof msg));
    assert_non_null (strstr (msg, "sepal length (cm)"));
    s_assert_roundtrip (api, model, knobs, &batch, &answer);

    msgpack_unpacked_destroy (&result);
    msgpack_sbuffer_destroy (&answer);
    msgpack_sbuffer_destroy (&batch);
    msgpack_sbuffer_destroy (&elements);
    api->destroy (model);
    rfk_template_close (&tpl);
}

/* Knobs matter: an L1 penalty with a tiny C zeroes every weight. */
static void
test_linear_knobs_matter (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (LINEAR_CLASSIFIER, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    const char *train = zt_data ("wine", "train", 0), *val = zt_data ("wine", "val", 0);
    void *good = zt_create (api, "{\"C\": 1, \"solver\": \"l2r_lr\"}");
    void *weak = zt_create (api, "{\"C\": 0.0001, \"solver\": \"l1r_lr\"}");
    double good_score = zt_train_eval (api, good, train, NULL, NULL, val);
    double weak_score = zt_train_eval (api, weak, train, NULL, NULL, val);
    print_message ("# LinearClassifier wine: good %.3f, weak %.3f\n", good_score, weak_score);
    assert_true (good_score > 0.9);
    assert_true (good_score > weak_score + 0.3);
    api->destroy (good);
    api->destroy (weak);
    rfk_template_close (&tpl);
}

/* The SVM solvers give softmax scores; two classes keep one weight vector. */
static void
test_linear_svm_solvers (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (LINEAR_CLASSIFIER, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    const char *solvers[] = {"l2r_l2loss_svc_dual", "mcsvm_cs", "l1r_l2loss_svc", "l2r_lr_dual"};
    msgpack_sbuffer elements;
    msgpack_sbuffer_init (&elements);
    size_t n = zt_tabular_queries (zt_data ("breast-cancer", "test", 0), 6, &elements);
    for (size_t s = 0; s < sizeof solvers / sizeof solvers[0]; s++) {
        char knobs[128];
        snprintf (knobs, sizeof knobs, "{\"C\": 1, \"solver\": \"%s\"}", solvers[s]);
        void *model = zt_create (api, knobs);
        double accuracy = zt_train_eval (api, model, zt_data ("breast-cancer", "train", 0), NULL,
                                         NULL, zt_data ("breast-cancer", "test", 0));
        print_message ("# LinearClassifier breast-cancer %s: %.3f\n", solvers[s], accuracy);
        assert_true (accuracy > 0.9);
        msgpack_sbuffer batch, answer;
        msgpack_unpacked result;
        zt_batch (&batch, n, &elements);
        zt_predict (api, model, &batch, &answer, &result);
        for (size_t i = 0; i < n; i++)
            zt_assert_probs (&result.data.via.array.ptr[i], 2);
        s_assert_roundtrip (api, model, knobs, &batch, &answer);
        msgpack_unpacked_destroy (&result);
        msgpack_sbuffer_destroy (&answer);
        msgpack_sbuffer_destroy (&batch);
        api->destroy (model);
    }
    msgpack_sbuffer_destroy (&elements);
    rfk_template_close (&tpl);
}

/* LinearImageClassifier on 500 Fashion-MNIST images; image queries. */
static void
test_linear_images (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (LINEAR_IMAGE_CLASSIFIER, RAFIKI_TASK_IMAGE_CLASSIFICATION);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    assert_string_equal (api->name, "LinearImageClassifier");
    const char *knobs = "{\"C\": 0.1, \"solver\": \"l2r_lr\", \"max_images\": 500}";
    void *model = zt_create (api, knobs);
    const char *test = zt_data ("fashion-mnist", "test", 500);
    double accuracy =
        zt_train_eval (api, model, zt_data ("fashion-mnist", "train", 500), NULL, NULL, test);
    print_message ("# LinearImageClassifier Fashion-MNIST (500 images) accuracy %.3f\n", accuracy);
    assert_true (accuracy > 0.65);

    msgpack_sbuffer elements, batch, answer;
    msgpack_sbuffer_init (&elements);
    size_t n = zt_image_queries (test, 4, &elements);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &elements, msgpack_sbuffer_write);
    zt_pack_json (&pk, "[[0, 1], [2, 3]]"); /* 2x2, not 28x28 */
    zt_pack_json (&pk, "{\"pixels\": 1}");
    zt_batch (&batch, n + 2, &elements);
    msgpack_unpacked result;
    zt_predict (api, model, &batch, &answer, &result);
    assert_int_equal (result.data.via.array.size, n + 2);
    for (size_t i = 0; i < n; i++)
        zt_assert_probs (&result.data.via.array.ptr[i], 10);
    assert_true (zt_is_query_error (&result.data.via.array.ptr[n], NULL, 0));
    assert_true (zt_is_query_error (&result.data.via.array.ptr[n + 1], NULL, 0));
    s_assert_roundtrip (api, model, knobs, &batch, &answer);

    /* Loading a tabular model's parameters into the image template fails. */
    rfk_template_t *tab_tpl = zt_open (LINEAR_CLASSIFIER, NULL);
    const rafiki_model_api_t *tab = rfk_template_api (tab_tpl);
    void *tab_model = zt_create (tab, "{\"C\": 1, \"solver\": \"l2r_lr\"}");
    zt_train_eval (tab, tab_model, zt_data ("iris", "train", 0), NULL, NULL,
                   zt_data ("iris", "val", 0));
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    assert_int_equal (tab->dump_params (tab_model, &pk, s_err, sizeof s_err), 0);
    msgpack_unpacked params;
    msgpack_unpacked_init (&params);
    assert_int_equal (msgpack_unpack_next (&params, buf.data, buf.size, NULL),
                      MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (api->load_params (model, &params.data, s_err, sizeof s_err), -1);
    assert_non_null (strstr (s_err, "LinearClassifier"));
    /* Evaluating the image model on a CSV names the problem. */
    double score;
    assert_int_equal (
        api->evaluate (model, zt_data ("iris", "val", 0), &score, s_err, sizeof s_err), -1);

    msgpack_unpacked_destroy (&params);
    msgpack_sbuffer_destroy (&buf);
    tab->destroy (tab_model);
    rfk_template_close (&tab_tpl);
    msgpack_unpacked_destroy (&result);
    msgpack_sbuffer_destroy (&answer);
    msgpack_sbuffer_destroy (&batch);
    msgpack_sbuffer_destroy (&elements);
    api->destroy (model);
    rfk_template_close (&tpl);
}

/* EARLY_STOP: liblinear (2.3) cannot report from inside a solve, so the template
   fits on 1/8, 1/4, 1/2 and all of the rows not held out (every tenth),
   reporting the held-out accuracy after each fit; a prune keeps the model
   of the last fit; QUICK_EVAL scores fewer held-out rows. */
static void
test_linear_early_stop (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (LINEAR_IMAGE_CLASSIFIER, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    const char *train = zt_data ("fashion-mnist", "train", 500);
    const char *test = zt_data ("fashion-mnist", "test", 500);
    void *model = zt_create (
        api, "{\"C\": 0.1, \"solver\": \"l2r_lr\", \"max_images\": 500, \"early_stop\": true}");
    zt_context_t ctx;
    zt_context_init (&ctx, 0);
    double accuracy = zt_train_eval (api, model, train, NULL, &ctx, test);
    /* 500 images: 50 held out, 450 fitted as 57, 113, 225 and 450 rows. */
    assert_non_null (strstr (ctx.logs, "50 rows held out (50 scored per stage), 450 to fit"));
    assert_int_equal (ctx.n_progress, 4);
    assert_int_equal (ctx.last_step, 4);
    assert_true (ctx.last_score > 0.5 && ctx.last_score <= 1);
    assert_true (accuracy > 0.6);
    api->destroy (model);

    model = zt_create (
        api, "{\"C\": 0.1, \"solver\": \"l2r_lr\", \"max_images\": 500, \"early_stop\": true}");
    zt_context_init (&ctx, 2);
    double pruned = zt_train_eval (api, model, train, NULL, &ctx, test);
    print_message (
        "# LinearImageClassifier staged: all %.3f, pruned after stage 2 (113 rows) %.3f\n",
        accuracy, pruned);
    assert_int_equal (ctx.n_progress, 2);
    assert_non_null (strstr (ctx.logs, "pruned after stage 2 (113 rows)"));
    assert_true (pruned > 0.3);
    api->destroy (model);

    model = zt_create (
        api, "{\"C\": 0.1, \"solver\": \"l2r_lr\", \"max_images\": 500, \"early_stop\": true, "
             "\"quick_eval\": true}");
    rafiki_arg_t items[] = {{"quick_eval_rows", "8"}};
    rafiki_args_t args = {items, 1};
    zt_context_init (&ctx, 0);
    zt_train_eval (api, model, train, &args, &ctx, test);
    assert_non_null (strstr (ctx.logs, "50 rows held out (8 scored per stage)"));
    double eighths = ctx.last_score * 8;
    assert_true (fabs (eighths - round (eighths)) < 1e-9);
    api->destroy (model);
    rfk_template_close (&tpl);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_linear_usage),       cmocka_unit_test (test_linear_knobs_matter),
        cmocka_unit_test (test_linear_svm_solvers), cmocka_unit_test (test_linear_images),
        cmocka_unit_test (test_linear_early_stop),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
