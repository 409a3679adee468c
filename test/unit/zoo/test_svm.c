/*  test_svm.c: the libsvm templates (models/svm) on iris, wine and a slice
    of Fashion-MNIST. */
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

/* Usage: SvmClassifier (RBF kernel) on iris. */
static void
test_svm_usage (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (SVM_CLASSIFIER, RAFIKI_TASK_TABULAR_CLASSIFICATION);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    assert_string_equal (api->name, "SvmClassifier");
    const char *knobs =
        "{\"kernel\": \"rbf\", \"C\": 10, \"gamma\": 0.1, \"degree\": 3, \"max_train\": 5000}";
    void *model = zt_create (api, knobs);
    zt_context_t ctx;
    zt_context_init (&ctx, 0);
    double accuracy = zt_train_eval (api, model, zt_data ("iris", "train", 0), NULL, &ctx,
                                     zt_data ("iris", "test", 0));
    print_message ("# SvmClassifier iris test accuracy %.3f\n", accuracy);
    assert_true (accuracy > 0.85);
    assert_string_equal (ctx.metric_names, "support_vectors");

    msgpack_sbuffer elements, batch, answer;
    msgpack_sbuffer_init (&elements);
    size_t n = zt_tabular_queries (zt_data ("iris", "test", 0), 8, &elements);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &elements, msgpack_sbuffer_write);
    zt_pack_json (&pk, "[1, 2, 3, 4]");
    zt_batch (&batch, n + 1, &elements);
    msgpack_unpacked result;
    zt_predict (api, model, &batch, &answer, &result);
    for (size_t i = 0; i < n; i++)
        zt_assert_probs (&result.data.via.array.ptr[i], 3);
    assert_true (zt_is_query_error (&result.data.via.array.ptr[n], NULL, 0));
    s_assert_roundtrip (api, model, knobs, &batch, &answer);

    msgpack_unpacked_destroy (&result);
    msgpack_sbuffer_destroy (&answer);
    msgpack_sbuffer_destroy (&batch);
    msgpack_sbuffer_destroy (&elements);
    api->destroy (model);
    rfk_template_close (&tpl);
}

/* Knobs matter: a huge gamma with a tiny C learns nothing; every kernel
   works with sensible values. */
static void
test_svm_knobs_matter (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (SVM_CLASSIFIER, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    const char *train = zt_data ("wine", "train", 0), *val = zt_data ("wine", "val", 0);
    const char *good_knobs[] = {
        "{\"kernel\": \"rbf\", \"C\": 10, \"gamma\": 0.05, \"degree\": 3, \"max_train\": 5000}",
        "{\"kernel\": \"poly\", \"C\": 1, \"gamma\": 0.1, \"degree\": 2, \"max_train\": 5000}",
        "{\"kernel\": \"linear\", \"C\": 1, \"gamma\": 1, \"degree\": 3, \"max_train\": 5000}",
    };
    for (size_t i = 0; i < 3; i++) {
        void *good = zt_create (api, good_knobs[i]);
        double score = zt_train_eval (api, good, train, NULL, NULL, val);
        print_message ("# SvmClassifier wine %s: %.3f\n", good_knobs[i], score);
        assert_true (score > 0.85);
        api->destroy (good);
    }
    void *weak = zt_create (
        api,
        "{\"kernel\": \"rbf\", \"C\": 0.01, \"gamma\": 10, \"degree\": 3, \"max_train\": 5000}");
    double weak_score = zt_train_eval (api, weak, train, NULL, NULL, val);
    print_message ("# SvmClassifier wine weak: %.3f\n", weak_score);
    assert_true (weak_score < 0.7);
    api->destroy (weak);
    rfk_template_close (&tpl);
}

/* SvmImageClassifier on Fashion-MNIST slices; max_train trades accuracy. */
static void
test_svm_images (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (SVM_IMAGE_CLASSIFIER, RAFIKI_TASK_IMAGE_CLASSIFICATION);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    assert_string_equal (api->name, "SvmImageClassifier");
    const char *knobs =
        "{\"kernel\": \"rbf\", \"C\": 10, \"gamma\": 0.02, \"degree\": 3, \"max_train\": 500}";
    const char *train = zt_data ("fashion-mnist", "train", 500);
    const char *test = zt_data ("fashion-mnist", "test", 500);
    void *model = zt_create (api, knobs);
    double accuracy = zt_train_eval (api, model, train, NULL, NULL, test);
    void *small = zt_create (
        api,
        "{\"kernel\": \"rbf\", \"C\": 10, \"gamma\": 0.02, \"degree\": 3, \"max_train\": 100}");
    double small_accuracy = zt_train_eval (api, small, train, NULL, NULL, test);
    print_message ("# SvmImageClassifier Fashion-MNIST: 500 images %.3f, 100 images %.3f\n",
                   accuracy, small_accuracy);
    assert_true (accuracy > 0.7);
    assert_true (accuracy > small_accuracy + 0.03);

    msgpack_sbuffer elements, batch, answer;
    msgpack_sbuffer_init (&elements);
    size_t n = zt_image_queries (test, 4, &elements);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &elements, msgpack_sbuffer_write);
    zt_pack_json (&pk, "[]");
    zt_batch (&batch, n + 1, &elements);
    msgpack_unpacked result;
    zt_predict (api, model, &batch, &answer, &result);
    for (size_t i = 0; i < n; i++)
        zt_assert_probs (&result.data.via.array.ptr[i], 10);
    assert_true (zt_is_query_error (&result.data.via.array.ptr[n], NULL, 0));
    s_assert_roundtrip (api, model, knobs, &batch, &answer);

    msgpack_unpacked_destroy (&result);
    msgpack_sbuffer_destroy (&answer);
    msgpack_sbuffer_destroy (&batch);
    msgpack_sbuffer_destroy (&elements);
    api->destroy (small);
    api->destroy (model);
    rfk_template_close (&tpl);
}

/* Broken parameters are refused with a message, never a crash. */
static void
test_svm_broken_params (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (SVM_CLASSIFIER, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    const char *knobs =
        "{\"kernel\": \"poly\", \"C\": 1, \"gamma\": 0.1, \"degree\": 3, \"max_train\": 5000}";
    void *model = zt_create (api, knobs);
    zt_train_eval (api, model, zt_data ("iris", "train", 0), NULL, NULL,
                   zt_data ("iris", "val", 0));
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    assert_int_equal (api->dump_params (model, &pk, s_err, sizeof s_err), 0);
    const char *fields[] = {"sv_index", "sv_value", "sv_len", "sv_coef", "rho", "nSV", "probA"};
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        msgpack_unpacked params;
        msgpack_unpacked_init (&params);
        assert_int_equal (msgpack_unpack_next (&params, buf.data, buf.size, NULL),
                          MSGPACK_UNPACK_SUCCESS);
        for (uint32_t i = 0; i < params.data.via.map.size; i++) {
            msgpack_object_kv *kv = &params.data.via.map.ptr[i];
            if (kv->key.via.str.size == strlen (fields[f]) &&
                memcmp (kv->key.via.str.ptr, fields[f], kv->key.via.str.size) == 0) {
                assert_int_equal (kv->val.type, MSGPACK_OBJECT_BIN);
                kv->val.via.bin.size -= 4;
            }
        }
        void *fresh = zt_create (api, knobs);
        assert_int_equal (api->load_params (fresh, &params.data, s_err, sizeof s_err), -1);
        print_message ("# truncated %s: %s\n", fields[f], s_err);
        api->destroy (fresh);
        msgpack_unpacked_destroy (&params);
    }
    /* Support vector indices out of range. */
    msgpack_unpacked params;
    msgpack_unpacked_init (&params);
    assert_int_equal (msgpack_unpack_next (&params, buf.data, buf.size, NULL),
                      MSGPACK_UNPACK_SUCCESS);
    for (uint32_t i = 0; i < params.data.via.map.size; i++) {
        msgpack_object_kv *kv = &params.data.via.map.ptr[i];
        if (kv->key.via.str.size == 8 && memcmp (kv->key.via.str.ptr, "sv_index", 8) == 0)
            memset ((char *)kv->val.via.bin.ptr, 0x7f, 4);
    }
    assert_int_equal (api->load_params (model, &params.data, s_err, sizeof s_err), -1);
    assert_non_null (strstr (s_err, "support vectors"));
    msgpack_unpacked_destroy (&params);
    /* The model survived every failed load. */
    double score;
    assert_int_equal (
        api->evaluate (model, zt_data ("iris", "val", 0), &score, s_err, sizeof s_err), 0);
    assert_true (score > 0.8);
    msgpack_sbuffer_destroy (&buf);
    api->destroy (model);
    rfk_template_close (&tpl);
}

/* EARLY_STOP: libsvm (3.24) cannot report from inside a solve, so the template
   fits on 1/8, 1/4, 1/2 and all of the rows not held out (every tenth),
   reporting the held-out accuracy after each fit; a prune keeps the model
   of the last fit; QUICK_EVAL scores fewer held-out rows. */
static void
test_svm_early_stop (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (SVM_IMAGE_CLASSIFIER, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    const char *train = zt_data ("fashion-mnist", "train", 500);
    const char *test = zt_data ("fashion-mnist", "test", 500);
    void *model = zt_create (
        api, "{\"kernel\": \"rbf\", \"C\": 10, \"gamma\": 0.02, \"degree\": 3, \"max_train\": 500, "
             "\"early_stop\": true}");
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
        api, "{\"kernel\": \"rbf\", \"C\": 10, \"gamma\": 0.02, \"degree\": 3, \"max_train\": 500, "
             "\"early_stop\": true}");
    zt_context_init (&ctx, 2);
    double pruned = zt_train_eval (api, model, train, NULL, &ctx, test);
    print_message ("# SvmImageClassifier staged: all %.3f, pruned after stage 2 (113 rows) %.3f\n",
                   accuracy, pruned);
    assert_int_equal (ctx.n_progress, 2);
    assert_non_null (strstr (ctx.logs, "pruned after stage 2 (113 rows)"));
    assert_true (pruned > 0.3);
    api->destroy (model);

    model = zt_create (api, "{\"kernel\": \"rbf\", \"C\": 10, \"gamma\": 0.02, \"degree\": 3, "
                            "\"max_train\": 500, \"early_stop\": true, \"quick_eval\": true}");
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
        cmocka_unit_test (test_svm_usage),         cmocka_unit_test (test_svm_knobs_matter),
        cmocka_unit_test (test_svm_images),        cmocka_unit_test (test_svm_early_stop),
        cmocka_unit_test (test_svm_broken_params),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
