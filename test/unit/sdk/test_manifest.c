/*  test_manifest.c: YAML job manifests into API request bodies: the examples under
    config/examples (path in RFK_EXAMPLES_DIR), every form of field, and every kind of bad
    manifest with the exact message a user would read.
*/
#include "rfk_manifest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

//  Parse text as job.yaml and compare with the expected JSON (or fail with the error).
static void
s_expect_json (const char *yaml, rfk_manifest_kind_t kind, const char *expected_json)
{
    char error[RFK_MANIFEST_ERROR_MAX];
    json_t *got =
        rfk_manifest_parse (yaml, strlen (yaml), "job.yaml", "/jobs", kind, error, sizeof error);
    if (!got)
        fail_msg ("parse failed: %s", error);
    json_t *expected = json_loads (expected_json, 0, NULL);
    assert_non_null (expected);
    if (!json_equal (got, expected)) {
        char *text = json_dumps (got, JSON_SORT_KEYS);
        print_error ("got %s\n", text);
        free (text);
        fail_msg ("the result differs from %s", expected_json);
    }
    json_decref (got);
    json_decref (expected);
}

//  Usage example: the CLI loads a train manifest and gets a request body.
static void
test_manifest_usage (void **state)
{
    (void)state;
    char path[512], error[RFK_MANIFEST_ERROR_MAX];
    snprintf (path, sizeof path, "%s/train-iris.yaml", getenv ("RFK_EXAMPLES_DIR"));
    json_t *body = rfk_manifest_load (path, RFK_MANIFEST_TRAIN, error, sizeof error);
    if (!body)
        fail_msg ("%s", error);
    json_t *expected = json_loads ("{\"app\": \"iris\", \"task\": \"TABULAR_CLASSIFICATION\","
                                   " \"train_dataset\": {\"name\": \"iris-train\"},"
                                   " \"val_dataset\": {\"name\": \"iris-val\"},"
                                   " \"budget\": {\"MODEL_TRIAL_COUNT\": 10, \"TIME_HOURS\": 0.25,"
                                   "              \"GPU_COUNT\": 0},"
                                   " \"models\": [\"XgbClassifier\"],"
                                   " \"train_args\": {\"target\": \"target\"}}",
                                   0, NULL);
    assert_true (json_equal (body, expected));
    json_decref (expected);
    json_decref (body);
}

static void
test_manifest_example_fashion_mnist (void **state)
{
    (void)state;
    char path[512], error[RFK_MANIFEST_ERROR_MAX];
    const char *dir = getenv ("RFK_EXAMPLES_DIR");
    snprintf (path, sizeof path, "%s/train-fashion-mnist.yaml", dir);
    json_t *body = rfk_manifest_load (path, RFK_MANIFEST_TRAIN, error, sizeof error);
    if (!body)
        fail_msg ("%s", error);
    assert_string_equal (json_string_value (json_object_get (body, "task")),
                         "IMAGE_CLASSIFICATION");
    //  Dataset files resolved against the manifest's directory.
    const char *file =
        json_string_value (json_object_get (json_object_get (body, "train_dataset"), "file"));
    char expected[600];
    snprintf (expected, sizeof expected, "%s/../../datasets/fashion-mnist-train.zip", dir);
    assert_string_equal (file, expected);
    json_t *args = json_object_get (body, "train_args");
    assert_int_equal (json_integer_value (json_array_get (json_object_get (args, "image_size"), 1)),
                      28);
    assert_true (json_is_true (json_object_get (args, "normalize")));
    assert_int_equal (json_array_size (json_object_get (body, "models")), 2);
    assert_true (json_is_real (json_object_get (json_object_get (body, "budget"), "TIME_HOURS")));
    json_decref (body);
}

static void
test_manifest_example_infer (void **state)
{
    (void)state;
    char path[512], error[RFK_MANIFEST_ERROR_MAX];
    snprintf (path, sizeof path, "%s/infer.yaml", getenv ("RFK_EXAMPLES_DIR"));
    json_t *body = rfk_manifest_load (path, RFK_MANIFEST_INFERENCE, error, sizeof error);
    if (!body)
        fail_msg ("%s", error);
    json_t *expected = json_loads ("{\"app\": \"iris\", \"app_version\": -1, \"max_trials\": 2,"
                                   " \"replicas\": 1, \"budget\": {\"GPU_COUNT\": 0}}",
                                   0, NULL);
    assert_true (json_equal (body, expected));
    json_decref (expected);
    json_decref (body);
    //  The wrong kind is said plainly.
    body = rfk_manifest_load (path, RFK_MANIFEST_TRAIN, error, sizeof error);
    assert_null (body);
    assert_non_null (strstr (error, "infer.yaml:"));
    assert_non_null (strstr (error, "kind: this manifest says kind inference, but a train"));
}

//  Every accepted form of the fields.
static void
test_manifest_good_forms (void **state)
{
    (void)state;
    //  Ids, relative and absolute files, flow style, default train_args.
    s_expect_json ("app: a1\n"
                   "task: POS_TAGGING\n"
                   "train_dataset_id: 1B4E28BA-2FA1-11D2-883F-0016D3CCA427\n"
                   "val_dataset: {file: data/val.zip}\n"
                   "budget: {TIME_HOURS: 1}\n"
                   "model_ids: [1b4e28ba-2fa1-11d2-883f-0016d3cca427,\n"
                   "            2b4e28ba-2fa1-11d2-883f-0016d3cca427]\n",
                   RFK_MANIFEST_TRAIN,
                   "{\"app\": \"a1\", \"task\": \"POS_TAGGING\","
                   " \"train_dataset_id\": \"1B4E28BA-2FA1-11D2-883F-0016D3CCA427\","
                   " \"val_dataset\": {\"file\": \"/jobs/data/val.zip\"},"
                   " \"budget\": {\"TIME_HOURS\": 1.0},"
                   " \"model_ids\": [\"1b4e28ba-2fa1-11d2-883f-0016d3cca427\","
                   "                \"2b4e28ba-2fa1-11d2-883f-0016d3cca427\"],"
                   " \"train_args\": {}}");
    //  train_args: YAML 1.2 core scalars, quoted strings stay strings, nesting.
    s_expect_json ("app: x.y-z_1\n"
                   "task: TABULAR_REGRESSION\n"
                   "train_dataset: {name: d1}\n"
                   "val_dataset: {file: /abs/v.csv}\n"
                   "budget:\n"
                   "  MODEL_TRIAL_COUNT: 0x10\n"
                   "models: [m]\n"
                   "train_args:\n"
                   "  target: price\n"
                   "  quoted: \"42\"\n"
                   "  int: -7\n"
                   "  float: 1.5e3\n"
                   "  flag: false\n"
                   "  nothing: ~\n"
                   "  list: [1, two, {three: 3}]\n"
                   "  octal: 0o17\n"
                   "  text: 1.2.3\n",
                   RFK_MANIFEST_TRAIN,
                   "{\"app\": \"x.y-z_1\", \"task\": \"TABULAR_REGRESSION\","
                   " \"train_dataset\": {\"name\": \"d1\"}, \"val_dataset\": {\"file\": "
                   "\"/abs/v.csv\"},"
                   " \"budget\": {\"MODEL_TRIAL_COUNT\": 16}, \"models\": [\"m\"],"
                   " \"train_args\": {\"target\": \"price\", \"quoted\": \"42\", \"int\": -7,"
                   "   \"float\": 1500.0, \"flag\": false, \"nothing\": null,"
                   "   \"list\": [1, \"two\", {\"three\": 3}], \"octal\": 15, \"text\": "
                   "\"1.2.3\"}}");
    //  Inference: only app is required; app_version defaults to -1.
    s_expect_json ("app: iris\n", RFK_MANIFEST_INFERENCE,
                   "{\"app\": \"iris\", \"app_version\": -1}");
    s_expect_json ("kind: inference\napp: iris\napp_version: 3\nreplicas: 2\n",
                   RFK_MANIFEST_INFERENCE,
                   "{\"app\": \"iris\", \"app_version\": 3, \"replicas\": 2}");
}

//  A complete, valid train manifest to break one line at a time.
#define GOOD_TRAIN                                                                                 \
    "app: iris\n"                    /* 1 */                                                       \
    "task: TABULAR_CLASSIFICATION\n" /* 2 */                                                       \
    "train_dataset: iris-train\n"    /* 3 */                                                       \
    "val_dataset: iris-val\n"        /* 4 */                                                       \
    "budget:\n"                      /* 5 */                                                       \
    "  MODEL_TRIAL_COUNT: 10\n"      /* 6 */                                                       \
    "models: [XgbClassifier]\n"      /* 7 */

//  Each kind of bad manifest, with the exact message: file, line, field, problem.
static void
test_manifest_bad (void **state)
{
    (void)state;
    static const struct {
        rfk_manifest_kind_t kind;
        const char *yaml;
        const char *message;
    } cases[] = {
        //  Missing fields.
        {RFK_MANIFEST_TRAIN, "app: iris\n", "job.yaml:1: missing field 'task'"},
        {RFK_MANIFEST_INFERENCE, "replicas: 1\n", "job.yaml:1: missing field 'app'"},
        {RFK_MANIFEST_TRAIN, "app: iris\ntask: T\nval_dataset: v\n",
         "job.yaml:1: missing field 'train_dataset' (or 'train_dataset_id')"},
        {RFK_MANIFEST_TRAIN, "app: iris\ntask: T\ntrain_dataset: t\nval_dataset: v\n",
         "job.yaml:1: missing field 'budget'"},
        {RFK_MANIFEST_TRAIN,
         "app: iris\ntask: T\ntrain_dataset: t\nval_dataset: v\nbudget: {GPU_COUNT: 1}\n",
         "job.yaml:5: budget: needs MODEL_TRIAL_COUNT or TIME_HOURS (or both)"},
        {RFK_MANIFEST_TRAIN,
         "app: iris\ntask: T\ntrain_dataset: t\nval_dataset: v\nbudget: {TIME_HOURS: 1}\n",
         "job.yaml:1: missing field 'models' (or 'model_ids')"},
        {RFK_MANIFEST_TRAIN, "app:\ntask: T\n",
         "job.yaml:1: app: expected an app name, got nothing"},
        //  Unknown fields.
        {RFK_MANIFEST_TRAIN, GOOD_TRAIN "modles: [x]\n",
         "job.yaml:8: unknown field 'modles' (did you mean 'models'?)"},
        {RFK_MANIFEST_TRAIN, GOOD_TRAIN "colour: red\n",
         "job.yaml:8: unknown field 'colour' (known: kind, app, task, train_dataset, "
         "train_dataset_id, val_dataset, val_dataset_id, budget, models, model_ids, train_args)"},
        {RFK_MANIFEST_TRAIN,
         "app: iris\ntask: T\ntrain_dataset: t\nval_dataset: v\nbudget:\n  GPU_COUNTS: 1\n",
         "job.yaml:6: budget: unknown field 'GPU_COUNTS' (did you mean 'GPU_COUNT'?)"},
        {RFK_MANIFEST_INFERENCE, "app: iris\nmax_trial: 2\n",
         "job.yaml:2: unknown field 'max_trial' (did you mean 'max_trials'?)"},
        {RFK_MANIFEST_INFERENCE, "app: iris\nbudget: {MODEL_TRIAL_COUNT: 2}\n",
         "job.yaml:2: budget: unknown field 'MODEL_TRIAL_COUNT' (known: GPU_COUNT)"},
        {RFK_MANIFEST_TRAIN, "app: a\ntask: T\ntrain_dataset: {path: x}\n",
         "job.yaml:3: train_dataset: unknown field 'path' (known: name, file)"},
        //  Wrong types and values.
        {RFK_MANIFEST_TRAIN,
         "app: iris\ntask: T\ntrain_dataset: t\nbudget:\n  MODEL_TRIAL_COUNT: ten\n",
         "job.yaml:5: budget.MODEL_TRIAL_COUNT: expected an integer, got 'ten'"},
        {RFK_MANIFEST_TRAIN, "budget:\n  MODEL_TRIAL_COUNT: \"10\"\n",
         "job.yaml:2: budget.MODEL_TRIAL_COUNT: expected an integer, got the quoted string '10'"},
        {RFK_MANIFEST_TRAIN, "budget:\n  MODEL_TRIAL_COUNT: 0\n",
         "job.yaml:2: budget.MODEL_TRIAL_COUNT: must be at least 1, or -1 for no limit, got 0"},
        {RFK_MANIFEST_TRAIN, "budget:\n  MODEL_TRIAL_COUNT: -2\n",
         "job.yaml:2: budget.MODEL_TRIAL_COUNT: must be at least 1, or -1 for no limit, got -2"},
        {RFK_MANIFEST_TRAIN, "budget:\n  MODEL_TRIAL_COUNT: -1\n",
         "job.yaml:2: budget: MODEL_TRIAL_COUNT: -1 (no limit) needs TIME_HOURS"},
        {RFK_MANIFEST_TRAIN, "budget:\n  MODEL_TRIAL_COUNT: 99999999999999999999\n",
         "job.yaml:2: budget.MODEL_TRIAL_COUNT: integer out of range"},
        {RFK_MANIFEST_TRAIN, "budget: {TIME_HOURS: -1}\n",
         "job.yaml:1: budget.TIME_HOURS: must be more than 0, got -1"},
        {RFK_MANIFEST_TRAIN, "budget: {TIME_HOURS: soon}\n",
         "job.yaml:1: budget.TIME_HOURS: expected a number of hours, got 'soon'"},
        {RFK_MANIFEST_TRAIN, "budget: {TIME_HOURS: .inf}\n",
         "job.yaml:1: budget.TIME_HOURS: expected a number of hours, got '.inf'"},
        {RFK_MANIFEST_TRAIN, "budget: {GPU_COUNT: -1, TIME_HOURS: 1}\n",
         "job.yaml:1: budget.GPU_COUNT: must be at least 0, got -1"},
        {RFK_MANIFEST_TRAIN, "budget: 5\n",
         "job.yaml:1: budget: expected a mapping like {MODEL_TRIAL_COUNT: 20, GPU_COUNT: 0}, got "
         "'5'"},
        {RFK_MANIFEST_TRAIN, "models: XgbClassifier\n",
         "job.yaml:1: models: expected a list of model names, got 'XgbClassifier'"},
        {RFK_MANIFEST_TRAIN, "models: []\n",
         "job.yaml:1: models: the list is empty: name at least one model"},
        {RFK_MANIFEST_TRAIN, "models:\n  - a\n  - [b]\n",
         "job.yaml:3: models[1]: expected a model name, got a list"},
        {RFK_MANIFEST_TRAIN, "models:\n  - a\n  - a\n",
         "job.yaml:3: models[1]: 'a' is listed twice"},
        {RFK_MANIFEST_TRAIN, "model_ids: [nope]\n",
         "job.yaml:1: model_ids[0]: expected a UUID like 1b4e28ba-2fa1-11d2-883f-0016d3cca427, got "
         "'nope'"},
        {RFK_MANIFEST_TRAIN, "train_dataset_id: 1234\n",
         "job.yaml:1: train_dataset_id: expected a UUID like 1b4e28ba-2fa1-11d2-883f-0016d3cca427, "
         "got '1234'"},
        {RFK_MANIFEST_TRAIN, "app: my app\n",
         "job.yaml:1: app: 'my app' is not an app name: letters, digits, '_', '.' and '-', "
         "starting with a letter or digit, at most 64"},
        {RFK_MANIFEST_TRAIN, "app: \"a\\0b\"\n", "job.yaml:1: app: holds a NUL character"},
        {RFK_MANIFEST_TRAIN, "app: [iris]\n", "job.yaml:1: app: expected an app name, got a list"},
        {RFK_MANIFEST_TRAIN, "task: tabular\n",
         "job.yaml:1: task: 'tabular' is not a task name (like TABULAR_CLASSIFICATION or "
         "IMAGE_CLASSIFICATION)"},
        {RFK_MANIFEST_TRAIN, "train_dataset: {file: x, name: y}\n",
         "job.yaml:1: train_dataset: give exactly one of 'name' or 'file'"},
        {RFK_MANIFEST_TRAIN, "train_dataset: [x]\n",
         "job.yaml:1: train_dataset: expected a dataset name or {file: PATH} or {name: NAME}, got "
         "a list"},
        {RFK_MANIFEST_TRAIN, "train_dataset:\n  file:\n",
         "job.yaml:2: train_dataset.file: expected a file path, got nothing"},
        {RFK_MANIFEST_TRAIN, "train_args: [1]\n",
         "job.yaml:1: train_args: expected a mapping of arguments, got a list"},
        {RFK_MANIFEST_TRAIN, "train_args:\n  a: 1\n  a: 2\n",
         "job.yaml:3: train_args.a: given twice (first on line 2)"},
        {RFK_MANIFEST_TRAIN, "train_args:\n  x: .nan\n",
         "job.yaml:2: train_args.x: JSON has no infinity or NaN"},
        {RFK_MANIFEST_TRAIN, "train_args:\n  ? [a]\n  : 1\n",
         "job.yaml:2: train_args: keys must be plain names, not lists or mappings"},
        {RFK_MANIFEST_TRAIN, GOOD_TRAIN "train_dataset_id: 1b4e28ba-2fa1-11d2-883f-0016d3cca427\n",
         "job.yaml:8: give either 'train_dataset' or 'train_dataset_id', not both"},
        {RFK_MANIFEST_TRAIN, "app: a\napp: b\n", "job.yaml:2: app: given twice (first on line 1)"},
        {RFK_MANIFEST_TRAIN, "kind: training\n",
         "job.yaml:1: kind: expected train or inference, got 'training'"},
        {RFK_MANIFEST_INFERENCE, "app: a\napp_version: 0\n",
         "job.yaml:2: app_version: versions start at 1 (-1 means the latest)"},
        {RFK_MANIFEST_INFERENCE, "app: a\napp_version: -2\n",
         "job.yaml:2: app_version: must be at least -1, got -2"},
        {RFK_MANIFEST_INFERENCE, "app: a\nmax_trials: 0\n",
         "job.yaml:2: max_trials: must be at least 1, got 0"},
        {RFK_MANIFEST_INFERENCE, "app: a\nreplicas: two\n",
         "job.yaml:2: replicas: expected an integer, got 'two'"},
        {RFK_MANIFEST_INFERENCE, "app: a\nreplicas: 1.5\n",
         "job.yaml:2: replicas: expected an integer, got '1.5'"},
        //  Not a manifest at all.
        {RFK_MANIFEST_TRAIN, "", "job.yaml:1: the manifest is empty"},
        {RFK_MANIFEST_TRAIN, "# only a comment\n", "job.yaml:1: the manifest is empty"},
        {RFK_MANIFEST_TRAIN, "- a\n- b\n",
         "job.yaml:1: a manifest is a mapping of fields (app: ..., ...), not a list"},
        {RFK_MANIFEST_TRAIN, "just words\n",
         "job.yaml:1: a manifest is a mapping of fields (app: ..., ...), not 'just words'"},
        {RFK_MANIFEST_TRAIN, "app: a\n---\napp: b\n",
         "job.yaml:3: a manifest is one YAML document; this is a second one"},
        //  YAML syntax.
        {RFK_MANIFEST_TRAIN, "app: iris\ntask: [unclosed\n",
         "job.yaml:3: YAML syntax error: did not find expected ',' or ']' while parsing a flow "
         "sequence"},
        {RFK_MANIFEST_TRAIN, "app: iris\n\ttask: T\n",
         "job.yaml:2: YAML syntax error: found a tab character that violates indentation "
         "while scanning a plain scalar"},
        {RFK_MANIFEST_TRAIN, "app: iris\n  task: T\n",
         "job.yaml:2: YAML syntax error: mapping values are not allowed in this context"},
        {RFK_MANIFEST_TRAIN, "app: *nothing\n",
         "job.yaml:1: YAML syntax error: found undefined alias"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char error[RFK_MANIFEST_ERROR_MAX];
        json_t *got = rfk_manifest_parse (cases[i].yaml, strlen (cases[i].yaml), "job.yaml",
                                          "/jobs", cases[i].kind, error, sizeof error);
        if (got) {
            json_decref (got);
            fail_msg ("case %zu was accepted: %s", i, cases[i].yaml);
        }
        if (strcmp (error, cases[i].message))
            fail_msg ("case %zu:\n   got '%s'\n  want '%s'", i, error, cases[i].message);
    }
}

//  Aliases cannot blow a small file up, nor loop.
static void
test_manifest_alias_bombs (void **state)
{
    (void)state;
    char error[RFK_MANIFEST_ERROR_MAX];
    const char *bomb = "train_args:\n"
                       "  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n";
    assert_null (rfk_manifest_parse (bomb, strlen (bomb), "job.yaml", NULL, RFK_MANIFEST_TRAIN,
                                     error, sizeof error));
    assert_non_null (strstr (error, "more than 10000 values (aliases expanding?)"));
    const char *deep =
        "train_args:\n  x: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]\n";
    assert_null (rfk_manifest_parse (deep, strlen (deep), "job.yaml", NULL, RFK_MANIFEST_TRAIN,
                                     error, sizeof error));
    assert_non_null (strstr (error, "nested deeper than 32 levels"));
    const char *cycle = "train_args:\n  x: &a [*a]\n";
    json_t *got = rfk_manifest_parse (cycle, strlen (cycle), "job.yaml", NULL, RFK_MANIFEST_TRAIN,
                                      error, sizeof error);
    assert_null (got);
}

//  Files: missing, too large; NULL and odd arguments.
static void
test_manifest_files_and_arguments (void **state)
{
    (void)state;
    char error[RFK_MANIFEST_ERROR_MAX];
    assert_null (
        rfk_manifest_load ("/nonexistent/job.yaml", RFK_MANIFEST_TRAIN, error, sizeof error));
    assert_string_equal (error, "/nonexistent/job.yaml: cannot open: No such file or directory");
    assert_null (rfk_manifest_load (NULL, RFK_MANIFEST_TRAIN, error, sizeof error));
    assert_string_equal (error, "no manifest file given");
    assert_null (
        rfk_manifest_parse (NULL, 0, "job.yaml", NULL, RFK_MANIFEST_TRAIN, error, sizeof error));
    assert_null (rfk_manifest_parse ("app: a\n", 7, "job.yaml", NULL, (rfk_manifest_kind_t)7, error,
                                     sizeof error));
    assert_string_equal (error, "job.yaml:1: unknown manifest kind 7");
    //  No error buffer: still refused, still no crash.
    assert_null (rfk_manifest_parse ("- 1\n", 4, NULL, NULL, RFK_MANIFEST_TRAIN, NULL, 0));

    char path[] = "/tmp/rfk-manifest-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    FILE *file = fdopen (fd, "w");
    for (int i = 0; i < 120000; i++)
        fputs ("# padding\n", file);
    fclose (file);
    assert_null (rfk_manifest_load (path, RFK_MANIFEST_TRAIN, error, sizeof error));
    assert_non_null (strstr (error, "larger than 1 MiB"));
    //  A relative manifest path resolves files against its own directory.
    file = fopen (path, "w");
    fputs ("app: a\ntask: T\ntrain_dataset: {file: t.csv}\nval_dataset: v\nbudget: {TIME_HOURS: "
           "1}\nmodels: [m]\n",
           file);
    fclose (file);
    assert_int_equal (chdir ("/tmp"), 0);
    json_t *body = rfk_manifest_load (path + 5, RFK_MANIFEST_TRAIN, error, sizeof error);
    if (!body)
        fail_msg ("%s", error);
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (body, "train_dataset"), "file")),
        "/tmp/t.csv");
    json_decref (body);
    unlink (path);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_manifest_usage),
        cmocka_unit_test (test_manifest_example_fashion_mnist),
        cmocka_unit_test (test_manifest_example_infer),
        cmocka_unit_test (test_manifest_good_forms),
        cmocka_unit_test (test_manifest_bad),
        cmocka_unit_test (test_manifest_alias_bombs),
        cmocka_unit_test (test_manifest_files_and_arguments),
    };
    return cmocka_run_group_tests_name ("manifest", tests, NULL, NULL);
}
