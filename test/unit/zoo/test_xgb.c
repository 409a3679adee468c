/*  test_xgb.c: the XGBoost templates (models/xgboost) on iris, wine and
    diabetes, loaded through rfk_template_open as the platform does; the
    policies EARLY_STOP (a held-out score per round), QUICK_EVAL and
    SHARE_PARAMS (boosting continues from the shared booster). */
#include "zt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GOOD_KNOBS                                                                                 \
    "{\"max_depth\": 3, \"eta\": 0.3, \"n_estimators\": 30, \"subsample\": 1.0, "                  \
    "\"colsample_bytree\": 1.0, \"min_child_weight\": 1.0}"
#define WEAK_KNOBS                                                                                 \
    "{\"max_depth\": 1, \"eta\": 0.01, \"n_estimators\": 1, \"subsample\": 0.5, "                  \
    "\"colsample_bytree\": 0.3, \"min_child_weight\": 20}"

static char s_err[1024];

/* Usage: train XgbClassifier on iris, evaluate, predict, dump and load. */
static void
test_xgb_classifier_usage (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (XGB_CLASSIFIER, RAFIKI_TASK_TABULAR_CLASSIFICATION);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    assert_string_equal (api->name, "XgbClassifier");

    void *model = zt_create (api, GOOD_KNOBS);
    zt_context_t ctx;
    zt_context_init (&ctx, 0);
    double accuracy = zt_train_eval (api, model, zt_data ("iris", "train", 0), NULL, &ctx,
                                     zt_data ("iris", "test", 0));
    print_message ("# XgbClassifier iris test accuracy %.3f\n", accuracy);
    assert_true (accuracy > 0.85);
    /* One metrics point per boosting round, and a plot of them. */
    assert_int_equal (ctx.n_metrics, 30);
    assert_string_equal (ctx.metric_names, "round train_loss");
    assert_true (ctx.n_plots >= 1);

    /* Ten queries from the test file: ten probability vectors of 3 classes. */
    msgpack_sbuffer elements, batch, answer;
    msgpack_sbuffer_init (&elements);
    size_t n = zt_tabular_queries (zt_data ("iris", "test", 0), 10, &elements);
    assert_int_equal (n, 10);
    zt_batch (&batch, n, &elements);
    msgpack_unpacked result;
    zt_predict (api, model, &batch, &answer, &result);
    assert_int_equal (result.data.via.array.size, n);
    for (size_t i = 0; i < n; i++)
        zt_assert_probs (&result.data.via.array.ptr[i], 3);

    /* dump -> load into a fresh model: the very same predictions. */
    void *copy = zt_roundtrip (api, model, GOOD_KNOBS);
    msgpack_sbuffer answer2;
    msgpack_unpacked result2;
    zt_predict (api, copy, &batch, &answer2, &result2);
    assert_int_equal (answer2.size, answer.size);
    assert_memory_equal (answer2.data, answer.data, answer.size);
    double copy_accuracy = 0;
    assert_int_equal (
        api->evaluate (copy, zt_data ("iris", "test", 0), &copy_accuracy, s_err, sizeof s_err), 0);
    assert_true (copy_accuracy == accuracy);

    msgpack_unpacked_destroy (&result);
    msgpack_unpacked_destroy (&result2);
    msgpack_sbuffer_destroy (&answer);
    msgpack_sbuffer_destroy (&answer2);
    msgpack_sbuffer_destroy (&batch);
    msgpack_sbuffer_destroy (&elements);
    api->destroy (copy);
    api->destroy (model);
    rfk_template_close (&tpl);
}

/* A bad query gets its own error; the others in the batch are answered. */
static void
test_xgb_bad_queries (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (XGB_CLASSIFIER, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    void *model = zt_create (api, GOOD_KNOBS);
    zt_train_eval (api, model, zt_data ("iris", "train", 0), NULL, NULL,
                   zt_data ("iris", "val", 0));

    msgpack_sbuffer elements, batch, answer;
    msgpack_sbuffer_init (&elements);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &elements, msgpack_sbuffer_write);
    const char *good = "{\"sepal length (cm)\": 6.3, \"sepal width (cm)\": 3.3, "
                       "\"petal length (cm)\": 6.0, \"petal width (cm)\": 2.5, \"extra\": 1}";
    zt_pack_json (&pk, good);
    zt_pack_json (&pk, "{\"sepal length (cm)\": 6.3}");
    zt_pack_json (&pk, "\"not a map\"");
    zt_pack_json (&pk, "{\"sepal length (cm)\": \"x\", \"sepal width (cm)\": 3.3, "
                       "\"petal length (cm)\": 6.0, \"petal width (cm)\": 2.5}");
    zt_pack_json (&pk, good);
    zt_batch (&batch, 5, &elements);
    msgpack_unpacked result;
    zt_predict (api, model, &batch, &answer, &result);
    msgpack_object *p = result.data.via.array.ptr;
    assert_int_equal (result.data.via.array.size, 5);
    zt_assert_probs (&p[0], 3);
    zt_assert_probs (&p[4], 3);
    /* Iris virginica (class 2), with confidence. */
    assert_true (p[0].via.array.ptr[2].via.f64 > 0.5);
    char msg[256];
    assert_true (zt_is_query_error (&p[1], msg, sizeof msg));
    assert_non_null (strstr (msg, "sepal width (cm)"));
    assert_true (zt_is_query_error (&p[2], msg, sizeof msg));
    assert_true (zt_is_query_error (&p[3], msg, sizeof msg));
    assert_non_null (strstr (msg, "sepal length (cm)"));

    /* A batch that is not an array is refused as a whole. */
    msgpack_unpacked_destroy (&result);
    msgpack_sbuffer_destroy (&answer);
    msgpack_object not_array = {.type = MSGPACK_OBJECT_NIL};
    msgpack_sbuffer_init (&answer);
    msgpack_packer_init (&pk, &answer, msgpack_sbuffer_write);
    assert_int_equal (api->predict (model, &not_array, &pk, s_err, sizeof s_err), -1);
    assert_non_null (strstr (s_err, "array"));

    msgpack_sbuffer_destroy (&answer);
    msgpack_sbuffer_destroy (&batch);
    msgpack_sbuffer_destroy (&elements);
    api->destroy (model);
    rfk_template_close (&tpl);
}

/* Knob values change the score: one shallow, shrunk tree is much worse. */
static void
test_xgb_knobs_matter (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (XGB_CLASSIFIER, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    const char *train = zt_data ("wine", "train", 0), *val = zt_data ("wine", "val", 0);
    void *good = zt_create (api, GOOD_KNOBS);
    void *weak = zt_create (api, WEAK_KNOBS);
    double good_score = zt_train_eval (api, good, train, NULL, NULL, val);
    double weak_score = zt_train_eval (api, weak, train, NULL, NULL, val);
    print_message ("# XgbClassifier wine: good %.3f, weak %.3f\n", good_score, weak_score);
    assert_true (good_score > 0.85);
    assert_true (good_score > weak_score + 0.15);
    api->destroy (good);
    api->destroy (weak);
    rfk_template_close (&tpl);
}

/* XgbRegressor: numbers out, negative RMSE as the score. */
static void
test_xgb_regressor (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (XGB_REGRESSOR, RAFIKI_TASK_TABULAR_REGRESSION);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    assert_string_equal (api->name, "XgbRegressor");
    const char *train = zt_data ("diabetes", "train", 0), *test = zt_data ("diabetes", "test", 0);
    const char *knobs = "{\"max_depth\": 2, \"eta\": 0.1, \"n_estimators\": 60, \"subsample\": "
                        "0.8, \"colsample_bytree\": 1.0, \"min_child_weight\": 1.0}";
    void *model = zt_create (api, knobs);
    void *weak = zt_create (api, WEAK_KNOBS);
    double score = zt_train_eval (api, model, train, NULL, NULL, test);
    double weak_score = zt_train_eval (api, weak, train, NULL, NULL, test);
    print_message ("# XgbRegressor diabetes: -RMSE %.1f (weak %.1f)\n", score, weak_score);
    assert_true (score < 0 && score > -70); /* the target's stddev is ~77 */
    assert_true (score > weak_score + 30);

    msgpack_sbuffer elements, batch, answer, answer2;
    msgpack_sbuffer_init (&elements);
    size_t n = zt_tabular_queries (test, 5, &elements);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &elements, msgpack_sbuffer_write);
    zt_pack_json (&pk, "{\"age\": 1}");
    zt_batch (&batch, n + 1, &elements);
    msgpack_unpacked result, result2;
    zt_predict (api, model, &batch, &answer, &result);
    assert_int_equal (result.data.via.array.size, n + 1);
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *p = &result.data.via.array.ptr[i];
        assert_int_equal (p->type, MSGPACK_OBJECT_FLOAT64);
        assert_true (p->via.f64 > 0 && p->via.f64 < 400);
    }
    assert_true (zt_is_query_error (&result.data.via.array.ptr[n], NULL, 0));

    void *copy = zt_roundtrip (api, model, knobs);
    zt_predict (api, copy, &batch, &answer2, &result2);
    assert_int_equal (answer2.size, answer.size);
    assert_memory_equal (answer2.data, answer.data, answer.size);

    msgpack_unpacked_destroy (&result);
    msgpack_unpacked_destroy (&result2);
    msgpack_sbuffer_destroy (&answer);
    msgpack_sbuffer_destroy (&answer2);
    msgpack_sbuffer_destroy (&batch);
    msgpack_sbuffer_destroy (&elements);
    api->destroy (copy);
    api->destroy (model);
    api->destroy (weak);
    rfk_template_close (&tpl);
}

/* Errors a user can cause: untrained models, foreign or broken parameters,
   a missing dataset, a validation file without the model's columns. */
static void
test_xgb_errors (void **state)
{
    (void)state;
    rfk_template_t *cls_tpl = zt_open (XGB_CLASSIFIER, NULL);
    rfk_template_t *reg_tpl = zt_open (XGB_REGRESSOR, NULL);
    const rafiki_model_api_t *cls = rfk_template_api (cls_tpl);
    const rafiki_model_api_t *reg = rfk_template_api (reg_tpl);
    void *model = zt_create (cls, GOOD_KNOBS);
    double score;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);

    assert_int_equal (cls->dump_params (model, &pk, s_err, sizeof s_err), -1);
    assert_non_null (strstr (s_err, "not trained"));
    assert_int_equal (
        cls->evaluate (model, zt_data ("iris", "val", 0), &score, s_err, sizeof s_err), -1);
    assert_int_equal (cls->train (model, "/nonexistent.csv", NULL, NULL, NULL, s_err, sizeof s_err),
                      -1);
    assert_non_null (strstr (s_err, "/nonexistent.csv"));

    /* A regressor's parameters are refused by the classifier. */
    void *r = zt_create (reg, GOOD_KNOBS);
    zt_train_eval (reg, r, zt_data ("diabetes", "train", 0), NULL, NULL,
                   zt_data ("diabetes", "val", 0));
    assert_int_equal (reg->dump_params (r, &pk, s_err, sizeof s_err), 0);
    msgpack_unpacked params;
    msgpack_unpacked_init (&params);
    assert_int_equal (msgpack_unpack_next (&params, buf.data, buf.size, NULL),
                      MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (cls->load_params (model, &params.data, s_err, sizeof s_err), -1);
    assert_non_null (strstr (s_err, "XgbRegressor"));
    /* Broken parameters: not a map, a truncated booster. */
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    assert_int_equal (reg->load_params (r, &nil, s_err, sizeof s_err), -1);
    for (uint32_t i = 0; i < params.data.via.map.size; i++) {
        msgpack_object_kv *kv = &params.data.via.map.ptr[i];
        if (kv->key.via.str.size == 7 && memcmp (kv->key.via.str.ptr, "booster", 7) == 0)
            kv->val.via.bin.size /= 2;
    }
    assert_int_equal (reg->load_params (r, &params.data, s_err, sizeof s_err), -1);
    assert_non_null (strstr (s_err, "xgboost"));
    /* The model still works after the failed loads. */
    assert_int_equal (
        reg->evaluate (r, zt_data ("diabetes", "val", 0), &score, s_err, sizeof s_err), 0);
    /* Evaluating the iris classifier on wine: the columns are not there. */
    zt_train_eval (cls, model, zt_data ("iris", "train", 0), NULL, NULL,
                   zt_data ("iris", "val", 0));
    assert_int_equal (
        cls->evaluate (model, zt_data ("wine", "val", 0), &score, s_err, sizeof s_err), -1);
    assert_non_null (strstr (s_err, "sepal"));

    msgpack_unpacked_destroy (&params);
    msgpack_sbuffer_destroy (&buf);
    reg->destroy (r);
    cls->destroy (model);
    cls->destroy (NULL);
    rfk_template_close (&cls_tpl);
    rfk_template_close (&reg_tpl);
}

/* EARLY_STOP: a held-out score per boosting round through ctx->progress,
   boosting stops when the trial is pruned; QUICK_EVAL scores fewer rows. */
static void
test_xgb_early_stop (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (XGB_CLASSIFIER, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    const char *knobs = "{\"max_depth\": 3, \"eta\": 0.3, \"n_estimators\": 20, \"subsample\": 1, "
                        "\"colsample_bytree\": 1, \"min_child_weight\": 1, \"early_stop\": true}";
    void *model = zt_create (api, knobs);
    zt_context_t ctx;
    zt_context_init (&ctx, 0);
    double accuracy = zt_train_eval (api, model, zt_data ("iris", "train", 0), NULL, &ctx,
                                     zt_data ("iris", "test", 0));
    assert_int_equal (ctx.n_progress, 20);
    assert_int_equal (ctx.last_step, 20);
    assert_true (ctx.last_score > 0.5 && ctx.last_score <= 1);
    assert_string_equal (ctx.metric_names, "round train_loss val_score");
    assert_true (accuracy > 0.85);
    zt_print_logs (&ctx);
    api->destroy (model);

    /* Pruned at round 4: four reports, and still a model. */
    model = zt_create (api, knobs);
    zt_context_init (&ctx, 4);
    accuracy = zt_train_eval (api, model, zt_data ("iris", "train", 0), NULL, &ctx,
                              zt_data ("iris", "test", 0));
    assert_int_equal (ctx.n_progress, 4);
    assert_non_null (strstr (ctx.logs, "pruned after 4 rounds"));
    assert_true (accuracy > 0.5);
    api->destroy (model);

    /* QUICK_EVAL with quick_eval_rows 5: five held-out rows per round. */
    model = zt_create (api, "{\"max_depth\": 3, \"eta\": 0.3, \"n_estimators\": 5, "
                            "\"subsample\": 1, \"colsample_bytree\": 1, \"min_child_weight\": 1, "
                            "\"early_stop\": true, \"quick_eval\": true}");
    rafiki_arg_t items[] = {{"quick_eval_rows", "5"}};
    rafiki_args_t args = {items, 1};
    zt_context_init (&ctx, 0);
    zt_train_eval (api, model, zt_data ("iris", "train", 0), &args, &ctx,
                   zt_data ("iris", "test", 0));
    assert_non_null (strstr (ctx.logs, "held out, 5 scored per round"));
    double fifths = ctx.last_score * 5;
    assert_true (fabs (fifths - round (fifths)) < 1e-6);
    api->destroy (model);
    rfk_template_close (&tpl);
}

/* SHARE_PARAMS: boosting continues from the shared booster (one more weak
   round keeps the source's accuracy, where a weak fresh model has less);
   parameters for other columns or of another template start fresh. */
static void
test_xgb_share_params (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (XGB_CLASSIFIER, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    const char *train = zt_data ("iris", "train", 0), *test = zt_data ("iris", "test", 0);
    void *source = zt_create (api, GOOD_KNOBS);
    double source_score = zt_train_eval (api, source, train, NULL, NULL, test);
    msgpack_sbuffer shared;
    zt_dump (api, source, &shared);

    void *warm = zt_create (api, WEAK_KNOBS);
    zt_context_t ctx;
    zt_context_init (&ctx, 0);
    double warm_score = zt_train_eval_shared (api, warm, train, NULL, &shared, &ctx, test);
    assert_non_null (strstr (ctx.logs, "continuing boosting from the shared booster's 30 rounds"));
    void *fresh = zt_create (api, WEAK_KNOBS);
    double fresh_score = zt_train_eval (api, fresh, train, NULL, NULL, test);
    print_message ("# XGB shared: source %.3f, 1 weak round more %.3f, weak fresh %.3f\n",
                   source_score, warm_score, fresh_score);
    assert_true (warm_score >= source_score - 0.02);
    assert_true (warm_score > fresh_score);
    /* The continued booster has 31 trees: its dump loads and predicts. */
    void *copy = zt_roundtrip (api, warm, WEAK_KNOBS);
    double copy_score = 0;
    assert_int_equal (api->evaluate (copy, test, &copy_score, s_err, sizeof s_err), 0);
    assert_true (copy_score == warm_score);

    /* A wine booster (13 features) for iris (4): a fresh start. */
    void *wine = zt_create (api, GOOD_KNOBS);
    zt_train_eval (api, wine, zt_data ("wine", "train", 0), NULL, NULL,
                   zt_data ("wine", "test", 0));
    msgpack_sbuffer wine_params;
    zt_dump (api, wine, &wine_params);
    void *other = zt_create (api, WEAK_KNOBS);
    zt_context_init (&ctx, 0);
    zt_train_eval_shared (api, other, train, NULL, &wine_params, &ctx, test);
    zt_print_logs (&ctx);
    assert_non_null (
        strstr (ctx.logs, "starting fresh: the shared parameters are for 13 features"));

    msgpack_sbuffer_destroy (&wine_params);
    msgpack_sbuffer_destroy (&shared);
    api->destroy (source);
    api->destroy (warm);
    api->destroy (fresh);
    api->destroy (copy);
    api->destroy (wine);
    api->destroy (other);
    rfk_template_close (&tpl);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_xgb_classifier_usage), cmocka_unit_test (test_xgb_bad_queries),
        cmocka_unit_test (test_xgb_knobs_matter),     cmocka_unit_test (test_xgb_regressor),
        cmocka_unit_test (test_xgb_errors),           cmocka_unit_test (test_xgb_early_stop),
        cmocka_unit_test (test_xgb_share_params),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
