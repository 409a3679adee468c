/*  test_template.c: the template loader and the knob value helpers of
    rfk_model (rafiki/template.h), on tiny templates built beside this test
    (tpl.c) and knob tables written here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fixtures.h"
#include "rafiki/template.h"

static char s_err[512];

static void
s_assert_err (const char *fragment1, const char *fragment2)
{
    if (!strstr (s_err, fragment1) || (fragment2 && !strstr (s_err, fragment2)))
        fail_msg ("message '%s' lacks '%s' or '%s'", s_err, fragment1, fragment2 ? fragment2 : "");
}

/* Usage: open a template, make knob values from JSON, create a model,
   train and evaluate it, close. */
static void
test_template_usage (void **state)
{
    (void)state;
    rfk_template_t *tpl = rfk_template_open (
        TPL_DIR "/tpl_good.so", RAFIKI_TASK_TABULAR_CLASSIFICATION, s_err, sizeof s_err);
    assert_non_null (tpl);
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    assert_string_equal (api->name, "Majority");
    assert_string_equal (rfk_template_path (tpl), TPL_DIR "/tpl_good.so");

    json_t *json = json_loads ("{\"max_depth\": 4, \"eta\": 0.1, \"kernel\": \"rbf\", "
                               "\"early_stop\": true}",
                               0, NULL);
    rafiki_knobs_t knobs;
    assert_int_equal (
        rfk_knobs_from_json (api->knobs, api->n_knobs, json, true, &knobs, s_err, sizeof s_err), 0);
    json_decref (json);
    assert_int_equal (knobs.n, 5);
    assert_int_equal (rafiki_knobs_int (&knobs, "max_depth", 0), 4);
    assert_int_equal (rafiki_knobs_int (&knobs, "seed", 0), 42); /* FIXED, filled in */
    assert_true (rafiki_knobs_bool (&knobs, "early_stop", false));

    char csv[] = "/tmp/rfk-test-template-XXXXXX";
    int fd = mkstemp (csv);
    assert_true (fd >= 0);
    close (fd);
    fx_write_text (csv, "a,b,y\n1,2,1\n3,4,1\n5,6,0\n");
    void *model = api->create (&knobs, s_err, sizeof s_err);
    assert_non_null (model);
    assert_int_equal (api->train (model, csv, NULL, NULL, NULL, s_err, sizeof s_err), 0);
    double score = 0;
    assert_int_equal (api->evaluate (model, csv, &score, s_err, sizeof s_err), 0);
    assert_true (score > 0.66 && score < 0.67);
    api->destroy (model);
    unlink (csv);
    rfk_knobs_free (&knobs);
    rfk_knobs_free (&knobs);
    rfk_template_close (&tpl);
    assert_null (tpl);
    rfk_template_close (&tpl);
}

static void
s_open_fail (const char *path, const char *task, const char *fragment1, const char *fragment2)
{
    s_err[0] = '\0';
    rfk_template_t *tpl = rfk_template_open (path, task, s_err, sizeof s_err);
    assert_null (tpl);
    s_assert_err (fragment1, fragment2);
}

static void
test_template_refused (void **state)
{
    (void)state;
    s_open_fail (TPL_DIR "/tpl_abi.so", NULL, "ABI version 99", "version 1");
    s_open_fail (TPL_DIR "/tpl_nosym.so", NULL, "tpl_nosym.so", "exports no rafiki_model");
    s_open_fail (TPL_DIR "/tpl_good.so", RAFIKI_TASK_IMAGE_CLASSIFICATION,
                 "for task TABULAR_CLASSIFICATION", "not IMAGE_CLASSIFICATION");
    s_open_fail (TPL_DIR "/tpl_badknobs.so", NULL, "knob 'eta' is declared twice", NULL);
    s_open_fail (TPL_DIR "/nothing.so", NULL, "nothing.so", "cannot load");
    s_open_fail ("", NULL, "no template path", NULL);

    char text[] = "/tmp/rfk-test-template-XXXXXX";
    int fd = mkstemp (text);
    assert_true (fd >= 0);
    close (fd);
    fx_write_text (text, "this is not a shared object\n");
    s_open_fail (text, NULL, text, "cannot load");
    unlink (text);

    //  A symbolic link in place of a template, even to a good one.
    char link[] = "/tmp/rfk-test-template-link-XXXXXX";
    fd = mkstemp (link);
    assert_true (fd >= 0);
    close (fd);
    unlink (link);
    assert_int_equal (symlink (TPL_DIR "/tpl_good.so", link), 0);
    s_open_fail (link, NULL, link, "it is a symbolic link (refused)");
    unlink (link);
}

static void
test_knob_table_check (void **state)
{
    (void)state;
    rafiki_knob_t t[1];
    memset (t, 0, sizeof t);
    t[0] = (rafiki_knob_t){.name = "c", .type = RAFIKI_KNOB_CATEGORICAL};
    assert_int_equal (rfk_knob_table_check (t, 1, s_err, sizeof s_err), -1);
    s_assert_err ("knob 'c'", "no values");
    t[0] = (rafiki_knob_t){.name = "i", .type = RAFIKI_KNOB_INTEGER, .min = 5, .max = 1};
    assert_int_equal (rfk_knob_table_check (t, 1, s_err, sizeof s_err), -1);
    s_assert_err ("knob 'i'", "not a range");
    t[0] = (rafiki_knob_t){.name = "i", .type = RAFIKI_KNOB_INTEGER, .min = 0.5, .max = 1};
    assert_int_equal (rfk_knob_table_check (t, 1, s_err, sizeof s_err), -1);
    s_assert_err ("knob 'i'", "whole numbers");
    t[0] = (rafiki_knob_t){
        .name = "lr", .type = RAFIKI_KNOB_FLOAT, .min = 0, .max = 1, .log_scale = true};
    assert_int_equal (rfk_knob_table_check (t, 1, s_err, sizeof s_err), -1);
    s_assert_err ("knob 'lr'", "log-scale");
    /* A log-scale integer starts at 1: log 0 is not a place to sample. */
    t[0] = (rafiki_knob_t){
        .name = "units", .type = RAFIKI_KNOB_INTEGER, .min = 0, .max = 1024, .log_scale = true};
    assert_int_equal (rfk_knob_table_check (t, 1, s_err, sizeof s_err), -1);
    assert_string_equal (s_err, "knob 'units': a log-scale integer range must start at 1 or "
                                "above, not [0, 1024]");
    t[0].min = 1;
    assert_int_equal (rfk_knob_table_check (t, 1, s_err, sizeof s_err), 0);
    t[0] = (rafiki_knob_t){
        .name = "f", .type = RAFIKI_KNOB_FIXED, .value = {RAFIKI_VALUE_STRING, {.s = NULL}}};
    assert_int_equal (rfk_knob_table_check (t, 1, s_err, sizeof s_err), -1);
    s_assert_err ("knob 'f'", "fixed value");
    t[0] = (rafiki_knob_t){.name = "", .type = RAFIKI_KNOB_POLICY};
    assert_int_equal (rfk_knob_table_check (t, 1, s_err, sizeof s_err), -1);
    s_assert_err ("knob 0 has no name", NULL);
    t[0] = (rafiki_knob_t){.name = "p", .type = RAFIKI_KNOB_POLICY};
    assert_int_equal (rfk_knob_table_check (t, 1, s_err, sizeof s_err), -1);
    s_assert_err ("knob 'p'", "policy");
    t[0].policy = RAFIKI_POLICY_QUICK_EVAL;
    assert_int_equal (rfk_knob_table_check (t, 1, s_err, sizeof s_err), 0);
    assert_int_equal (rfk_knob_table_check (NULL, 0, s_err, sizeof s_err), 0);
}

/* The knob table of tpl.c, opened from the good template. */
static const rafiki_model_api_t *
s_api (rfk_template_t **tpl)
{
    *tpl = rfk_template_open (TPL_DIR "/tpl_good.so", NULL, s_err, sizeof s_err);
    assert_non_null (*tpl);
    return rfk_template_api (*tpl);
}

/* Expects knob values text to be refused with a message. */
static void
s_knobs_fail (const rafiki_model_api_t *api, const char *text, bool require_all,
              const char *fragment1, const char *fragment2)
{
    json_t *json = json_loads (text, JSON_DECODE_ANY, NULL);
    assert_non_null (json);
    rafiki_knobs_t knobs = {(const rafiki_knob_value_t *)1, 7};
    s_err[0] = '\0';
    assert_int_equal (rfk_knobs_from_json (api->knobs, api->n_knobs, json, require_all, &knobs,
                                           s_err, sizeof s_err),
                      -1);
    assert_null (knobs.items);
    assert_int_equal (knobs.n, 0);
    s_assert_err (fragment1, fragment2);
    json_decref (json);
}

static void
test_knobs_json (void **state)
{
    (void)state;
    rfk_template_t *tpl;
    const rafiki_model_api_t *api = s_api (&tpl);
    s_knobs_fail (api, "{\"depth\": 3}", false, "unknown knob 'depth'", NULL);
    s_knobs_fail (api, "{\"max_depth\": \"3\"}", false, "knob 'max_depth'", "a string");
    s_knobs_fail (api, "{\"max_depth\": 3.5}", false, "knob 'max_depth'", "integer");
    s_knobs_fail (api, "{\"max_depth\": 11}", false, "knob 'max_depth'", "out of its range");
    s_knobs_fail (api, "{\"eta\": 0}", false, "knob 'eta'", "out of its range");
    s_knobs_fail (api, "{\"eta\": true}", false, "knob 'eta'", "a boolean");
    s_knobs_fail (api, "{\"kernel\": \"poly\"}", false, "knob 'kernel'", "\"poly\"");
    s_knobs_fail (api, "{\"seed\": 7}", false, "knob 'seed' is fixed", NULL);
    s_knobs_fail (api, "{\"early_stop\": 1}", false, "knob 'early_stop'", "true or false");
    s_knobs_fail (api, "{\"max_depth\": 3}", true, "knob 'eta' has no value", NULL);
    s_knobs_fail (api, "[1, 2]", false, "JSON object", "an array");

    /* A partial set: missing tunable knobs are left out. */
    json_t *json = json_loads ("{\"max_depth\": 3.0, \"seed\": 42}", 0, NULL);
    rafiki_knobs_t knobs;
    assert_int_equal (
        rfk_knobs_from_json (api->knobs, api->n_knobs, json, false, &knobs, s_err, sizeof s_err),
        0);
    json_decref (json);
    assert_int_equal (knobs.n, 3); /* max_depth, seed, early_stop */
    assert_int_equal (knobs.items[0].value.type, RAFIKI_VALUE_INT);
    assert_int_equal (knobs.items[0].value.u.i, 3);
    assert_false (rafiki_knobs_bool (&knobs, "early_stop", true));
    json_t *back = rfk_knobs_to_json (&knobs);
    char *text = json_dumps (back, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal (text, "{\"early_stop\":false,\"max_depth\":3,\"seed\":42}");
    free (text);
    json_decref (back);
    rfk_knobs_free (&knobs);

    /* A full round trip keeps every value and type. */
    json = json_loads ("{\"max_depth\": 10, \"eta\": 0.001, \"kernel\": \"linear\", "
                       "\"early_stop\": true}",
                       0, NULL);
    assert_int_equal (
        rfk_knobs_from_json (api->knobs, api->n_knobs, json, true, &knobs, s_err, sizeof s_err), 0);
    back = rfk_knobs_to_json (&knobs);
    assert_int_equal (json_object_set_new (json, "seed", json_integer (42)), 0);
    assert_true (json_equal (json, back));
    json_decref (back);
    json_decref (json);
    rfk_knobs_free (&knobs);

    /* The table as JSON. */
    json_t *table = rfk_knob_table_to_json (api->knobs, api->n_knobs);
    assert_int_equal (json_array_size (table), 5);
    text = json_dumps (json_array_get (table, 1), JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal (text, "{\"log_scale\":true,\"max\":1.0,\"min\":0.001,\"name\":\"eta\","
                               "\"type\":\"FLOAT\"}");
    free (text);
    text = json_dumps (json_array_get (table, 4), JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal (text, "{\"name\":\"early_stop\",\"policy\":\"EARLY_STOP\","
                               "\"type\":\"POLICY\"}");
    free (text);
    /* A linear INTEGER has no log_scale; a log-scale one says so. */
    text = json_dumps (json_array_get (table, 0), JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal (text,
                         "{\"max\":10,\"min\":1,\"name\":\"max_depth\",\"type\":\"INTEGER\"}");
    free (text);
    json_decref (table);
    rafiki_knob_t units = {
        .name = "units", .type = RAFIKI_KNOB_INTEGER, .min = 8, .max = 1024, .log_scale = true};
    table = rfk_knob_table_to_json (&units, 1);
    text = json_dumps (json_array_get (table, 0), JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal (text, "{\"log_scale\":true,\"max\":1024,\"min\":8,\"name\":\"units\","
                               "\"type\":\"INTEGER\"}");
    free (text);
    json_decref (table);
    rfk_template_close (&tpl);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_template_usage),
        cmocka_unit_test (test_template_refused),
        cmocka_unit_test (test_knob_table_check),
        cmocka_unit_test (test_knobs_json),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
