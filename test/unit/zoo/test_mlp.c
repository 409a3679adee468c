/*  test_mlp.c: the multilayer perceptron (models/mlp) on a 1000-image slice
    of Fashion-MNIST: scores, per-epoch metrics and plots, early stopping
    through ctx->progress, quick evaluation, warm starts from shared
    parameters (SHARE_PARAMS), predictions and dump -> load. */
#include "zt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KNOBS                                                                                      \
    "{\"hidden_units\": 128, \"hidden_layers\": 1, \"learning_rate\": 0.002, \"epochs\": 8, "      \
    "\"batch_size\": 32, \"early_stop\": false}"

static char s_err[1024];

/* Usage: train, evaluate, predict, dump and load. */
static void
test_mlp_usage (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (MLP, RAFIKI_TASK_IMAGE_CLASSIFICATION);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    assert_string_equal (api->name, "MlpImageClassifier");
    const char *test = zt_data ("fashion-mnist", "test", 1000);
    void *model = zt_create (api, KNOBS);
    zt_context_t ctx;
    zt_context_init (&ctx, 0);
    double accuracy =
        zt_train_eval (api, model, zt_data ("fashion-mnist", "train", 1000), NULL, &ctx, test);
    print_message ("# MlpImageClassifier Fashion-MNIST (1000 images) accuracy %.3f\n", accuracy);
    assert_true (accuracy > 0.7);
    /* A point of metrics per epoch, two plots, no progress reports (the
       EARLY_STOP policy is off). */
    assert_int_equal (ctx.n_metrics, 8);
    assert_string_equal (ctx.metric_names, "epoch loss train_accuracy val_accuracy");
    assert_int_equal (ctx.n_plots, 2);
    assert_int_equal (ctx.n_progress, 0);

    msgpack_sbuffer elements, batch, answer, answer2;
    msgpack_sbuffer_init (&elements);
    size_t n = zt_image_queries (test, 6, &elements);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &elements, msgpack_sbuffer_write);
    zt_pack_json (&pk, "[[1, 2, 3]]");
    zt_pack_json (&pk, "null");
    zt_batch (&batch, n + 2, &elements);
    msgpack_unpacked result, result2;
    zt_predict (api, model, &batch, &answer, &result);
    assert_int_equal (result.data.via.array.size, n + 2);
    for (size_t i = 0; i < n; i++)
        zt_assert_probs (&result.data.via.array.ptr[i], 10);
    char msg[256];
    assert_true (zt_is_query_error (&result.data.via.array.ptr[n], msg, sizeof msg));
    print_message ("# a 1x3 image: %s\n", msg);
    assert_true (zt_is_query_error (&result.data.via.array.ptr[n + 1], NULL, 0));

    void *copy = zt_roundtrip (api, model, KNOBS);
    zt_predict (api, copy, &batch, &answer2, &result2);
    assert_int_equal (answer2.size, answer.size);
    assert_memory_equal (answer2.data, answer.data, answer.size);
    double copy_accuracy;
    assert_int_equal (api->evaluate (copy, test, &copy_accuracy, s_err, sizeof s_err), 0);
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

/* Colour photos of mixed sizes (deploy/datasets/convert photos): the train
   arguments image_size and image_channels make every image 16x16 RGB, the
   validation images are resized to the model's size, and queries have it;
   a bad image_size is refused by name. */
static void
test_mlp_photos (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (MLP, RAFIKI_TASK_IMAGE_CLASSIFICATION);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    const rafiki_arg_t items[] = {{"image_size", "[16,16]"}, {"image_channels", "3"}};
    rafiki_args_t args = {items, 2};
    void *model = zt_create (api, KNOBS);
    zt_context_t ctx;
    zt_context_init (&ctx, 0);
    double accuracy = zt_train_eval (api, model, zt_data ("photos", "train", 200), &args, &ctx,
                                     zt_data ("photos", "val", 200));
    print_message ("# MlpImageClassifier photos (200 images, 16x16 RGB) accuracy %.3f\n", accuracy);
    assert_true (accuracy > 0.7); /* 0.83 measured; two classes */

    msgpack_sbuffer elements, batch, answer;
    msgpack_sbuffer_init (&elements);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &elements, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 16);
    for (int y = 0; y < 16; y++) {
        msgpack_pack_array (&pk, 16);
        for (int x = 0; x < 16; x++) {
            msgpack_pack_array (&pk, 3);
            msgpack_pack_int (&pk, 230);
            msgpack_pack_int (&pk, 150 + x);
            msgpack_pack_int (&pk, 90 + y);
        }
    }
    zt_batch (&batch, 1, &elements);
    msgpack_unpacked result;
    zt_predict (api, model, &batch, &answer, &result);
    zt_assert_probs (&result.data.via.array.ptr[0], 2);
    msgpack_unpacked_destroy (&result);
    msgpack_sbuffer_destroy (&answer);
    msgpack_sbuffer_destroy (&batch);
    msgpack_sbuffer_destroy (&elements);
    api->destroy (model);

    const rafiki_arg_t bad_items[] = {{"image_size", "huge"}};
    rafiki_args_t bad = {bad_items, 1};
    model = zt_create (api, KNOBS);
    assert_int_equal (api->train (model, zt_data ("photos", "train", 200), &bad, NULL, &ctx.ctx,
                                  s_err, sizeof s_err),
                      -1);
    assert_non_null (strstr (s_err, "train argument image_size 'huge'"));
    api->destroy (model);
    rfk_template_close (&tpl);
}

/* With the EARLY_STOP policy on, every epoch reports its validation
   accuracy, and training stops at once when the trial is pruned. */
static void
test_mlp_early_stop (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (MLP, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    void *model = zt_create (api, "{\"hidden_units\": 64, \"hidden_layers\": 2, "
                                  "\"learning_rate\": 0.002, \"epochs\": 20, \"batch_size\": 64, "
                                  "\"early_stop\": true}");
    zt_context_t ctx;
    zt_context_init (&ctx, 3);
    double accuracy = zt_train_eval (api, model, zt_data ("fashion-mnist", "train", 1000), NULL,
                                     &ctx, zt_data ("fashion-mnist", "val", 1000));
    assert_int_equal (ctx.n_progress, 3);
    assert_int_equal (ctx.last_step, 3);
    assert_true (ctx.last_score > 0.3 && ctx.last_score <= 1);
    assert_int_equal (ctx.n_metrics, 3);
    /* A pruned model is still a model. */
    assert_true (accuracy > 0.3);
    api->destroy (model);
    rfk_template_close (&tpl);
}

/* Knobs matter: one epoch at a tiny learning rate learns little. */
static void
test_mlp_knobs_matter (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (MLP, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    const char *train = zt_data ("fashion-mnist", "train", 1000);
    const char *val = zt_data ("fashion-mnist", "val", 1000);
    void *good = zt_create (api, KNOBS);
    void *weak = zt_create (api, "{\"hidden_units\": 16, \"hidden_layers\": 1, "
                                 "\"learning_rate\": 0.00001, \"epochs\": 1, \"batch_size\": 512, "
                                 "\"early_stop\": false}");
    double good_score = zt_train_eval (api, good, train, NULL, NULL, val);
    double weak_score = zt_train_eval (api, weak, train, NULL, NULL, val);
    print_message ("# MlpImageClassifier: good %.3f, weak %.3f\n", good_score, weak_score);
    assert_true (good_score > weak_score + 0.2);
    api->destroy (good);
    api->destroy (weak);
    rfk_template_close (&tpl);
}

/* Parameters of the wrong shape are refused. */
static void
test_mlp_bad_params (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (MLP, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    void *model = zt_create (api, KNOBS);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    assert_int_equal (api->dump_params (model, &pk, s_err, sizeof s_err), -1);
    zt_pack_json (&pk, "{\"template\": \"MlpImageClassifier\", \"version\": 1, \"schema\": "
                       "{\"kind\": \"images\", \"n_classes\": 10, \"width\": 28, \"height\": 28, "
                       "\"channels\": 1}, \"layers\": []}");
    zt_pack_json (&pk, "{\"template\": \"XgbClassifier\"}");
    zt_pack_json (&pk, "[1, 2]");
    msgpack_unpacked params;
    msgpack_unpacked_init (&params);
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal (msgpack_unpack_next (&params, buf.data, buf.size, &off),
                          MSGPACK_UNPACK_SUCCESS);
        assert_int_equal (api->load_params (model, &params.data, s_err, sizeof s_err), -1);
        print_message ("# %s\n", s_err);
    }
    msgpack_unpacked_destroy (&params);
    msgpack_sbuffer_destroy (&buf);
    api->destroy (model);
    rfk_template_close (&tpl);
}

#define SHARE_KNOBS(units, lr, epochs)                                                             \
    "{\"hidden_units\": " #units ", \"hidden_layers\": 1, \"learning_rate\": " #lr                 \
    ", \"epochs\": " #epochs ", \"batch_size\": 32, \"share_params\": true}"

/* SHARE_PARAMS: a model given another's parameters of its shape starts from
   them (one epoch at a learning rate too small to move it scores as the
   source does, where a fresh one scores far less); given another shape it
   starts fresh and says so. */
static void
test_mlp_share_params (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (MLP, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    const char *train = zt_data ("fashion-mnist", "train", 1000);
    const char *val = zt_data ("fashion-mnist", "val", 1000);
    void *source = zt_create (api, SHARE_KNOBS (64, 0.002, 4));
    double source_score = zt_train_eval (api, source, train, NULL, NULL, val);
    msgpack_sbuffer shared;
    zt_dump (api, source, &shared);

    void *warm = zt_create (api, SHARE_KNOBS (64, 0.00001, 1));
    zt_context_t ctx;
    zt_context_init (&ctx, 0);
    double warm_score = zt_train_eval_shared (api, warm, train, NULL, &shared, &ctx, val);
    assert_non_null (strstr (ctx.logs, "warm start from the shared parameters (layers 784-64-10)"));
    void *fresh = zt_create (api, SHARE_KNOBS (64, 0.00001, 1));
    double fresh_score = zt_train_eval (api, fresh, train, NULL, NULL, val);
    print_message ("# MLP shared: source %.3f, warm start (1 epoch, lr 1e-5) %.3f, fresh %.3f\n",
                   source_score, warm_score, fresh_score);
    assert_true (warm_score >= source_score - 0.02);
    assert_true (warm_score > fresh_score + 0.2);

    /* Another shape: a fresh start, and the log says why. */
    void *other = zt_create (api, SHARE_KNOBS (32, 0.002, 1));
    zt_context_init (&ctx, 0);
    zt_train_eval_shared (api, other, train, NULL, &shared, &ctx, val);
    zt_print_logs (&ctx);
    assert_non_null (strstr (ctx.logs, "starting fresh: the shared parameters have layers "
                                       "784-64-10 (28x28 images), this trial's are 784-32-10"));
    /* Parameters of another template: a fresh start too. */
    msgpack_sbuffer junk;
    msgpack_sbuffer_init (&junk);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &junk, msgpack_sbuffer_write);
    zt_pack_json (&pk, "{\"template\": \"XgbClassifier\"}");
    zt_context_init (&ctx, 0);
    zt_train_eval_shared (api, other, train, NULL, &junk, &ctx, val);
    assert_non_null (strstr (ctx.logs, "starting fresh: the shared parameters cannot be read"));

    msgpack_sbuffer_destroy (&junk);
    msgpack_sbuffer_destroy (&shared);
    api->destroy (source);
    api->destroy (warm);
    api->destroy (fresh);
    api->destroy (other);
    rfk_template_close (&tpl);
}

/* QUICK_EVAL: the per-epoch scores come from the first quick_eval_rows
   held-out images (here 10, so every score is a multiple of 0.1);
   evaluate () still scores the whole file. */
static void
test_mlp_quick_eval (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (MLP, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    void *model = zt_create (api, "{\"hidden_units\": 32, \"hidden_layers\": 1, "
                                  "\"learning_rate\": 0.002, \"epochs\": 3, \"batch_size\": 64, "
                                  "\"early_stop\": true, \"quick_eval\": true}");
    rafiki_arg_t items[] = {{"quick_eval_rows", "10"}};
    rafiki_args_t args = {items, 1};
    zt_context_t ctx;
    zt_context_init (&ctx, 0);
    double accuracy = zt_train_eval (api, model, zt_data ("fashion-mnist", "train", 1000), &args,
                                     &ctx, zt_data ("fashion-mnist", "val", 1000));
    assert_int_equal (ctx.n_progress, 3);
    double tenths = ctx.last_score * 10;
    assert_true (fabs (tenths - round (tenths)) < 1e-9);
    /* 1000 images in the validation file: a finer score than tenths is likely. */
    print_message ("# quick per-epoch score %.3f, full evaluation %.3f\n", ctx.last_score,
                   accuracy);
    assert_true (accuracy > 0.3);
    api->destroy (model);
    rfk_template_close (&tpl);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_mlp_usage),      cmocka_unit_test (test_mlp_photos),
        cmocka_unit_test (test_mlp_early_stop), cmocka_unit_test (test_mlp_knobs_matter),
        cmocka_unit_test (test_mlp_bad_params), cmocka_unit_test (test_mlp_share_params),
        cmocka_unit_test (test_mlp_quick_eval),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
