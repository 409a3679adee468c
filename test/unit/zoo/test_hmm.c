/*  test_hmm.c: the bigram HMM tagger (models/hmm) on 2000 Brown sentences:
    token accuracy, tags for unknown words, per-query errors, dump -> load. */
#include "zt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KNOBS                                                                                      \
    "{\"emission_k\": 0.001, \"transition_k\": 0.01, \"suffix_length\": 5, \"rare_count\": 3}"
#define WEAK_KNOBS                                                                                 \
    "{\"emission_k\": 1, \"transition_k\": 1, \"suffix_length\": 0, \"rare_count\": 1}"

static char s_err[1024];

/* The tag string of element i of an array of tags. */
static void
s_tag (const msgpack_object *tags, size_t i, char *out, size_t outlen)
{
    assert_int_equal (tags->type, MSGPACK_OBJECT_ARRAY);
    assert_true (i < tags->via.array.size);
    const msgpack_object *t = &tags->via.array.ptr[i];
    assert_int_equal (t->type, MSGPACK_OBJECT_STR);
    snprintf (out, outlen, "%.*s", (int)t->via.str.size, t->via.str.ptr);
}

/* Usage: train on Brown sentences, evaluate, tag sentences, dump and load. */
static void
test_hmm_usage (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (HMM, RAFIKI_TASK_POS_TAGGING);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    assert_string_equal (api->name, "HmmTagger");
    const char *test = zt_data ("brown", "test", 2000);
    void *model = zt_create (api, KNOBS);
    zt_context_t ctx;
    zt_context_init (&ctx, 0);
    double accuracy =
        zt_train_eval (api, model, zt_data ("brown", "train", 2000), NULL, &ctx, test);
    print_message ("# HmmTagger Brown (2000 sentences) token accuracy %.4f\n", accuracy);
    assert_true (accuracy >= 0.9);
    assert_string_equal (ctx.metric_names, "sentences tokens tags vocabulary");

    /* Sentences of the test file, then bad queries and an empty sentence. */
    msgpack_sbuffer elements, batch, answer, answer2;
    msgpack_sbuffer_init (&elements);
    char ***gold = NULL;
    size_t n = zt_corpus_queries (test, 20, &elements, &gold);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &elements, msgpack_sbuffer_write);
    zt_pack_json (&pk, "\"a sentence as one string\"");
    zt_pack_json (&pk, "[\"ok\", 3]");
    zt_pack_json (&pk, "[]");
    zt_batch (&batch, n + 3, &elements);
    msgpack_unpacked result, result2;
    zt_predict (api, model, &batch, &answer, &result);
    const msgpack_object *p = result.data.via.array.ptr;
    assert_int_equal (result.data.via.array.size, n + 3);
    size_t right = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        for (; gold[i][j]; j++, total++) {
            char tag[64];
            s_tag (&p[i], j, tag, sizeof tag);
            right += strcmp (tag, gold[i][j]) == 0;
        }
        assert_int_equal (p[i].via.array.size, j); /* one tag per token */
    }
    print_message ("# %zu of %zu tokens right in the batch\n", right, total);
    assert_true (right >= 0.85 * (double)total);
    char msg[256];
    assert_true (zt_is_query_error (&p[n], msg, sizeof msg));
    assert_true (zt_is_query_error (&p[n + 1], msg, sizeof msg));
    assert_int_equal (p[n + 2].type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal (p[n + 2].via.array.size, 0);

    void *copy = zt_roundtrip (api, model, WEAK_KNOBS); /* the parameters carry the knobs */
    zt_predict (api, copy, &batch, &answer2, &result2);
    assert_int_equal (answer2.size, answer.size);
    assert_memory_equal (answer2.data, answer.data, answer.size);
    double copy_accuracy;
    assert_int_equal (api->evaluate (copy, test, &copy_accuracy, s_err, sizeof s_err), 0);
    assert_true (copy_accuracy == accuracy);

    zt_free_tags (gold, n);
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

/* Unknown words are tagged by their suffix and shape. */
static void
test_hmm_unknown_words (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (HMM, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    void *model = zt_create (api, KNOBS);
    zt_train_eval (api, model, zt_data ("brown", "train", 2000), NULL, NULL,
                   zt_data ("brown", "val", 2000));
    msgpack_sbuffer elements, batch, answer;
    msgpack_sbuffer_init (&elements);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &elements, msgpack_sbuffer_write);
    zt_pack_json (&pk, "[\"The\", \"Zorblatt\", \"committee\", \"quorbingly\", \"approved\", "
                       "\"the\", \"1987\", \"flimbertations\", \".\"]");
    zt_batch (&batch, 1, &elements);
    msgpack_unpacked result;
    zt_predict (api, model, &batch, &answer, &result);
    const msgpack_object *tags = &result.data.via.array.ptr[0];
    assert_int_equal (tags->via.array.size, 9);
    /* The made-up words, a number, and the words around them (the verb may
       be vbd or vbn, so it is not checked). */
    const char *expect[] = {"at", "np", "nn", "rb", NULL, "at", "cd", "nns", "."};
    for (size_t i = 0; i < 9; i++) {
        char tag[64];
        if (!expect[i])
            continue;
        s_tag (tags, i, tag, sizeof tag);
        if (strcmp (tag, expect[i]) != 0)
            fail_msg ("token %zu tagged %s, expected %s", i, tag, expect[i]);
    }
    msgpack_unpacked_destroy (&result);
    msgpack_sbuffer_destroy (&answer);
    msgpack_sbuffer_destroy (&batch);
    msgpack_sbuffer_destroy (&elements);
    api->destroy (model);
    rfk_template_close (&tpl);
}

/* Knobs matter: heavy smoothing and no suffixes tag worse. */
static void
test_hmm_knobs_matter (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (HMM, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    const char *train = zt_data ("brown", "train", 2000), *val = zt_data ("brown", "val", 2000);
    void *good = zt_create (api, KNOBS);
    void *weak = zt_create (api, WEAK_KNOBS);
    double good_score = zt_train_eval (api, good, train, NULL, NULL, val);
    double weak_score = zt_train_eval (api, weak, train, NULL, NULL, val);
    print_message ("# HmmTagger: good %.4f, weak %.4f\n", good_score, weak_score);
    assert_true (good_score > weak_score + 0.02);
    api->destroy (good);
    api->destroy (weak);
    rfk_template_close (&tpl);
}

/* Malformed parameters are refused; the model keeps working. */
static void
test_hmm_bad_params (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (HMM, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    void *model = zt_create (api, KNOBS);
    double score;
    assert_int_equal (
        api->evaluate (model, zt_data ("brown", "val", 2000), &score, s_err, sizeof s_err), -1);
    assert_non_null (strstr (s_err, "not trained"));
    zt_train_eval (api, model, zt_data ("brown", "train", 2000), NULL, NULL,
                   zt_data ("brown", "val", 2000));
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    assert_int_equal (api->dump_params (model, &pk, s_err, sizeof s_err), 0);
    const char *fields[] = {"bigram", "tag_count", "word_ntags", "word_pairs", "suffix_pairs"};
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        msgpack_unpacked params;
        msgpack_unpacked_init (&params);
        assert_int_equal (msgpack_unpack_next (&params, buf.data, buf.size, NULL),
                          MSGPACK_UNPACK_SUCCESS);
        for (uint32_t i = 0; i < params.data.via.map.size; i++) {
            msgpack_object_kv *kv = &params.data.via.map.ptr[i];
            if (kv->key.via.str.size == strlen (fields[f]) &&
                memcmp (kv->key.via.str.ptr, fields[f], kv->key.via.str.size) == 0)
                kv->val.via.bin.size -= 8;
        }
        assert_int_equal (api->load_params (model, &params.data, s_err, sizeof s_err), -1);
        print_message ("# truncated %s: %s\n", fields[f], s_err);
        msgpack_unpacked_destroy (&params);
    }
    /* A tag id out of range in the word pairs. */
    msgpack_unpacked params;
    msgpack_unpacked_init (&params);
    assert_int_equal (msgpack_unpack_next (&params, buf.data, buf.size, NULL),
                      MSGPACK_UNPACK_SUCCESS);
    for (uint32_t i = 0; i < params.data.via.map.size; i++) {
        msgpack_object_kv *kv = &params.data.via.map.ptr[i];
        if (kv->key.via.str.size == 10 && memcmp (kv->key.via.str.ptr, "word_pairs", 10) == 0)
            memset ((char *)kv->val.via.bin.ptr, 0x7f, 4);
    }
    assert_int_equal (api->load_params (model, &params.data, s_err, sizeof s_err), -1);
    assert_non_null (strstr (s_err, "tag"));
    msgpack_unpacked_destroy (&params);
    assert_int_equal (
        api->evaluate (model, zt_data ("brown", "val", 2000), &score, s_err, sizeof s_err), 0);
    assert_true (score > 0.85);
    msgpack_sbuffer_destroy (&buf);
    api->destroy (model);
    rfk_template_close (&tpl);
}

/* EARLY_STOP: counting in eight stages, each reporting the held-out token
   accuracy (rising as more is counted); a prune stops counting with a
   usable model; QUICK_EVAL tags fewer held-out sentences. */
static void
test_hmm_early_stop (void **state)
{
    (void)state;
    rfk_template_t *tpl = zt_open (HMM, NULL);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    const char *train = zt_data ("brown", "train", 2000), *val = zt_data ("brown", "val", 2000);
    const char *knobs = "{\"emission_k\": 0.001, \"transition_k\": 0.01, \"suffix_length\": 5, "
                        "\"rare_count\": 3, \"early_stop\": true}";
    void *model = zt_create (api, knobs);
    zt_context_t ctx;
    zt_context_init (&ctx, 0);
    double full = zt_train_eval (api, model, train, NULL, &ctx, val);
    assert_int_equal (ctx.n_progress, 8);
    assert_int_equal (ctx.last_step, 8);
    assert_true (ctx.last_score > 0.7 && ctx.last_score <= 1);
    assert_non_null (strstr (ctx.logs, "held out, 200 scored per stage"));
    api->destroy (model);

    model = zt_create (api, knobs);
    zt_context_init (&ctx, 2);
    double pruned = zt_train_eval (api, model, train, NULL, &ctx, val);
    print_message ("# HMM: all 8 stages %.3f, pruned after 2 %.3f\n", full, pruned);
    assert_int_equal (ctx.n_progress, 2);
    assert_non_null (strstr (ctx.logs, "pruned after stage 2 of 8"));
    assert_true (pruned > 0.5 && pruned < full);
    api->destroy (model);

    model = zt_create (api, "{\"emission_k\": 0.001, \"transition_k\": 0.01, "
                            "\"suffix_length\": 5, \"rare_count\": 3, \"early_stop\": true, "
                            "\"quick_eval\": true}");
    rafiki_arg_t items[] = {{"quick_eval_rows", "20"}};
    rafiki_args_t args = {items, 1};
    zt_context_init (&ctx, 0);
    zt_train_eval (api, model, train, &args, &ctx, val);
    assert_non_null (strstr (ctx.logs, "held out, 20 scored per stage"));
    api->destroy (model);
    rfk_template_close (&tpl);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_hmm_usage),        cmocka_unit_test (test_hmm_unknown_words),
        cmocka_unit_test (test_hmm_knobs_matter), cmocka_unit_test (test_hmm_bad_params),
        cmocka_unit_test (test_hmm_early_stop),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
