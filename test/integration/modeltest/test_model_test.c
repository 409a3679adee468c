/*  Integration tests of `rafiki model test`: the built command run as a
    user would, on the zoo's tabular classifiers with a slice of iris, and on
    the misbehaving test template to see crashes, hangs and bad predictions
    fail their trial or the checks with a reason and the right exit status.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>
#include <rafiki/template.h>

#define IRIS_TRAIN RFK_TEST_DATA "/iris-train.csv"
#define IRIS_VAL RFK_TEST_DATA "/iris-val.csv"

/* Run the rafiki command with these arguments (a shell word list), and
   return its exit status; its stdout goes into out (and stderr too unless
   stdout_only). */
static int
s_rafiki (char *out, size_t outlen, bool stdout_only, const char *fmt, ...)
{
    char args[4096], command[8192];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (args, sizeof args, fmt, ap);
    va_end (ap);
    snprintf (command, sizeof command, "%s %s %s", RFK_RAFIKI, args,
              stdout_only ? "2>/dev/null" : "2>&1");
    FILE *p = popen (command, "r");
    assert_non_null (p);
    size_t n = fread (out, 1, outlen - 1, p);
    out[n] = 0;
    int status = pclose (p);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static char s_out[1 << 20];

/* Prints text (the command's output) as TAP comments: each line after "# ",
   the first after title; stdout is for TAP. */
static void
s_comment (const char *title, const char *text)
{
    print_message ("# %s", title);
    const char *line = text;
    do {
        size_t length = strcspn (line, "\n");
        print_message ("%s%.*s\n", line == text ? "" : "#   ", (int)length, line);
        line += length + (line[length] == '\n');
    } while (*line);
}

/* Usage: test every zoo tabular classifier on a slice of iris. */
static void
test_zoo_classifiers_on_iris (void **state)
{
    (void)state;
    char paths[] = RFK_ZOO_TEMPLATES;
    int tested = 0;
    for (char *path = strtok (paths, ":"); path; path = strtok (NULL, ":")) {
        char err[256];
        rfk_template_t *tpl = rfk_template_open (path, NULL, err, sizeof err);
        assert_non_null (tpl);
        /* Echo answers queries with themselves, for platform tests: it is
           not a classifier and model test rightly fails it. */
        bool tabular =
            strcmp (rfk_template_api (tpl)->task, RAFIKI_TASK_TABULAR_CLASSIFICATION) == 0 &&
            strcmp (rfk_template_api (tpl)->name, "Echo") != 0;
        rfk_template_close (&tpl);
        if (!tabular)
            continue;
        int rc = s_rafiki (s_out, sizeof s_out, false,
                           "model test %s --task TABULAR_CLASSIFICATION --train %s --val %s "
                           "--test %s --trials 3 --arg target=class --timeout 120 --seed 3 "
                           "--quiet",
                           path, IRIS_TRAIN, IRIS_VAL, IRIS_VAL);
        if (rc != 0)
            s_comment ("", s_out);
        assert_int_equal (rc, 0);
        assert_non_null (strstr (s_out, "trial 3/3: "));
        assert_non_null (strstr (s_out, "COMPLETED  score "));
        assert_non_null (strstr (s_out, "ok: dump -> load gives identical predictions"));
        assert_non_null (strstr (s_out, "ok: 10 sample queries from "));
        assert_non_null (strstr (s_out, "best knobs: "));
        const char *test_score = strstr (s_out, "test score: ");
        assert_non_null (test_score);
        assert_true (atof (test_score + 12) >= 0.8);
        assert_non_null (strstr (s_out, "rafiki model test: OK\n"));
        char title[1024];
        snprintf (title, sizeof title, "%s: ", path);
        s_comment (title, test_score);
        tested++;
    }
    assert_true (tested > 0);
}

static void
test_a_good_template_passes (void **state)
{
    (void)state;
    int rc = s_rafiki (s_out, sizeof s_out, false,
                       "model test %s --task TABULAR_CLASSIFICATION --train %s --val %s "
                       "--trials 2 --knob behaviour=complete --knob steps=1",
                       RFK_MISBEHAVING, IRIS_TRAIN, IRIS_VAL);
    assert_int_equal (rc, 0);
    assert_non_null (strstr (s_out, "trial 1/2: behaviour=complete steps=1 "));
    assert_non_null (strstr (s_out, "    | training started\n"));
    assert_non_null (strstr (s_out, "    | step=1 loss=1\n"));
    assert_non_null (strstr (s_out, "ok: 10 sample queries from "));
    assert_non_null (strstr (s_out, "rafiki model test: OK\n"));
}

static void
test_json_output (void **state)
{
    (void)state;
    int rc = s_rafiki (s_out, sizeof s_out, true,
                       "model test %s --task TABULAR_CLASSIFICATION --train %s --val %s "
                       "--test %s --trials 3 --knob behaviour=complete --json --seed 9",
                       RFK_MISBEHAVING, IRIS_TRAIN, IRIS_VAL, IRIS_VAL);
    assert_int_equal (rc, 0);
    json_error_t jerr;
    json_t *doc = json_loads (s_out, 0, &jerr);
    assert_non_null (doc);
    assert_true (json_is_true (json_object_get (doc, "ok")));
    assert_string_equal (json_string_value (json_object_get (doc, "name")), "Misbehaving");
    json_t *trials = json_object_get (doc, "trials");
    assert_int_equal (json_array_size (trials), 3);
    double best_score = -1;
    for (size_t i = 0; i < 3; i++) {
        json_t *t = json_array_get (trials, i);
        assert_string_equal (json_string_value (json_object_get (t, "status")), "COMPLETED");
        double score = json_real_value (json_object_get (t, "score"));
        if (score > best_score)
            best_score = score;
        json_t *knobs = json_object_get (t, "knobs");
        assert_string_equal (json_string_value (json_object_get (knobs, "behaviour")), "complete");
        assert_true (json_is_false (json_object_get (knobs, "early_stop")));
        /* steps is a log-scale INTEGER in [1, 10]: whole values within it */
        json_t *steps = json_object_get (knobs, "steps");
        assert_true (json_is_integer (steps));
        assert_true (json_integer_value (steps) >= 1 && json_integer_value (steps) <= 10);
    }
    json_t *best = json_object_get (doc, "best");
    assert_true (json_real_value (json_object_get (best, "score")) == best_score);
    assert_true (json_real_value (json_object_get (doc, "test_score")) == best_score);
    assert_true (json_is_true (json_object_get (json_object_get (doc, "checks"), "passed")));
    json_decref (doc);
}

static void
test_crashing_and_hanging_templates_fail_their_trials (void **state)
{
    (void)state;
    int rc = s_rafiki (s_out, sizeof s_out, false,
                       "model test %s --task TABULAR_CLASSIFICATION --train %s --val %s "
                       "--trials 1 --knob behaviour=segfault",
                       RFK_MISBEHAVING, IRIS_TRAIN, IRIS_VAL);
    assert_int_equal (rc, 1);
    assert_non_null (strstr (s_out, "  ERRORED  killed by signal 11 (Segmentation fault)"));
    assert_non_null (strstr (s_out, "rafiki model test: FAILED: no trial completed"));

    rc = s_rafiki (s_out, sizeof s_out, false,
                   "model test %s --task TABULAR_CLASSIFICATION --train %s --val %s "
                   "--trials 1 --knob behaviour=sleep --timeout 1",
                   RFK_MISBEHAVING, IRIS_TRAIN, IRIS_VAL);
    assert_int_equal (rc, 1);
    assert_non_null (strstr (s_out, "  ERRORED  timed out after 1 s"));

    rc = s_rafiki (s_out, sizeof s_out, false,
                   "model test %s --task TABULAR_CLASSIFICATION --train %s --val %s "
                   "--trials 1 --knob behaviour=allocate --memory-mb 64",
                   RFK_MISBEHAVING, IRIS_TRAIN, IRIS_VAL);
    assert_int_equal (rc, 1);
    assert_non_null (strstr (s_out, "  ERRORED  memory limit 64 MiB reached"));
}

static void
test_bad_predictions_fail_the_checks (void **state)
{
    (void)state;
    int rc = s_rafiki (s_out, sizeof s_out, false,
                       "model test %s --task TABULAR_CLASSIFICATION --train %s --val %s "
                       "--trials 1 --knob behaviour=badpredict --knob alpha=0.75",
                       RFK_MISBEHAVING, IRIS_TRAIN, IRIS_VAL);
    assert_int_equal (rc, 1);
    assert_non_null (strstr (s_out, "COMPLETED  score 0.75"));
    assert_non_null (strstr (s_out, "FAILED: the best trial's checks failed: predictions are "
                                    "malformed: prediction 0: class probabilities sum to 1.5, "
                                    "not 1"));

    rc = s_rafiki (s_out, sizeof s_out, false,
                   "model test %s --task TABULAR_CLASSIFICATION --train %s --val %s "
                   "--trials 1 --knob behaviour=unstable",
                   RFK_MISBEHAVING, IRIS_TRAIN, IRIS_VAL);
    assert_int_equal (rc, 1);
    assert_non_null (strstr (s_out, "dump -> load changes the predictions"));
}

static void
test_bad_usage (void **state)
{
    (void)state;
    assert_int_equal (s_rafiki (s_out, sizeof s_out, false, "--help"), 0);
    assert_non_null (strstr (s_out, "  model test "));
    assert_int_equal (s_rafiki (s_out, sizeof s_out, false, "model test --help"), 0);
    assert_non_null (strstr (s_out, "usage: rafiki model test TEMPLATE.so --task TASK"));
    assert_int_equal (s_rafiki (s_out, sizeof s_out, false, "frobnicate"), 2);
    assert_non_null (strstr (s_out, "rafiki: unknown command 'frobnicate'"));

    struct {
        const char *args, *message;
        int status;
    } cases[] = {
        {"model test", "name a template file", 2},
        {"model test " RFK_MISBEHAVING " --task TABULAR_CLASSIFICATION",
         "--task, --train and --val are required", 2},
        {"model test " RFK_MISBEHAVING " --task TABULAR_CLASSIFICATION --train /nonexistent.csv "
         "--val " IRIS_VAL,
         "cannot read the --train dataset /nonexistent.csv: No such file or directory", 2},
        {"model test " RFK_MISBEHAVING " --task TABULAR_CLASSIFICATION --train " IRIS_TRAIN
         " --val " IRIS_VAL " --trials 0",
         "--trials wants a whole number from 1, not '0'", 2},
        {"model test " RFK_MISBEHAVING " --task TABULAR_CLASSIFICATION --train " IRIS_TRAIN
         " --val " IRIS_VAL " --frob",
         "unknown option '--frob'", 2},
        {"model test " RFK_MISBEHAVING " --task IMAGE_CLASSIFICATION --train " IRIS_TRAIN
         " --val " IRIS_VAL,
         "is for task TABULAR_CLASSIFICATION, not IMAGE_CLASSIFICATION", 1},
        {"model test " RFK_MISBEHAVING " --task TABULAR_CLASSIFICATION --train " IRIS_TRAIN
         " --val " IRIS_VAL " --knob depth=3",
         "--knob depth=3: the template has no knob named 'depth'", 1},
        {"model test /nonexistent.so --task TABULAR_CLASSIFICATION --train " IRIS_TRAIN
         " --val " IRIS_VAL,
         "/nonexistent.so", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = s_rafiki (s_out, sizeof s_out, false, "%s", cases[i].args);
        if (rc != cases[i].status || !strstr (s_out, cases[i].message)) {
            print_message ("# rafiki %s:\n", cases[i].args);
            s_comment ("  ", s_out);
        }
        assert_int_equal (rc, cases[i].status);
        assert_non_null (strstr (s_out, cases[i].message));
    }
}

int
main (void)
{
    /* The zoo case runs when the zoo has templates (cmocka's skip reads as
       a failure to meson's TAP parser, so it is left out instead). */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_zoo_classifiers_on_iris),
        cmocka_unit_test (test_a_good_template_passes),
        cmocka_unit_test (test_json_output),
        cmocka_unit_test (test_crashing_and_hanging_templates_fail_their_trials),
        cmocka_unit_test (test_bad_predictions_fail_the_checks),
        cmocka_unit_test (test_bad_usage),
    };
    if (strlen (RFK_ZOO_TEMPLATES) == 0)
        return _cmocka_run_group_tests ("tests", tests + 1, sizeof tests / sizeof tests[0] - 1,
                                        NULL, NULL);
    return cmocka_run_group_tests (tests, NULL, NULL);
}
