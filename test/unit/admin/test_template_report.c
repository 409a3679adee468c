/*  test_template_report.c: the caps on a template check's report
    (actors/template_check/rfk_template_report.h), as admin applies them to what the
    check program wrote: printable UTF-8, lengths, counts, the knob table's
    form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rfk_template_report.h"

/* Usage: a report as the program writes it passes (a log-scale INTEGER
   among its knobs); err stays empty. */
static void
test_good_report (void **state)
{
    (void)state;
    json_t *report = json_loads (
        "{\"ok\": true, \"abi_version\": 1, \"task\": \"TABULAR_CLASSIFICATION\", \"name\": "
        "\"Modèle\", \"policies\": [\"EARLY_STOP\"], \"knobs\": [{\"name\": \"depth\", \"type\": "
        "\"INTEGER\", \"min\": 1, \"max\": 8}, {\"name\": \"units\", \"type\": \"INTEGER\", "
        "\"min\": 8, \"max\": 1024, \"log_scale\": true}, {\"name\": \"kernel\", \"type\": "
        "\"CATEGORICAL\", "
        "\"values\": [\"rbf\", 2, true]}, {\"name\": \"early_stop\", \"type\": \"POLICY\", "
        "\"policy\": \"EARLY_STOP\"}]}",
        0, NULL);
    assert_non_null (report);
    char err[512] = "";
    assert_int_equal (rfk_template_report_check (report, "TABULAR_CLASSIFICATION", err, sizeof err),
                      0);
    assert_string_equal (err, "");
    assert_int_equal (rfk_template_report_check (report, "POS_TAGGING", err, sizeof err), -1);
    assert_non_null (strstr (err, "POS_TAGGING"));
    json_decref (report);
}

/* Text: printable UTF-8 only. */
static void
test_text (void **state)
{
    (void)state;
    const char *good[] = {"depth", "Modèle", "模型", "emoji \xf0\x9f\x98\x80"};
    for (size_t index = 0; index < 4; index++)
        assert_true (rfk_template_text_ok (good[index], strlen (good[index])));
    const char *bad[] = {"a\nb",         "tab\t",
                         "esc\x1b[2J",   "del\x7f",
                         "c1 \xc2\x85",  "overlong \xc0\xaf",
                         "cut \xe6\xa8", "surrogate \xed\xa0\x80"};
    for (size_t index = 0; index < 8; index++)
        assert_false (rfk_template_text_ok (bad[index], strlen (bad[index])));
    char scrub[] = "bad\x1b[2Jname\xff";
    rfk_template_text_scrub (scrub);
    assert_string_equal (scrub, "bad?[2Jname?");
}

/* What is wrong in a report is named. */
static void
test_bad_reports (void **state)
{
    (void)state;
    const char *head = "{\"ok\": true, \"abi_version\": 1, \"task\": \"TABULAR_REGRESSION\", "
                       "\"policies\": [], ";
    const char *cases[][2] = {
        {"\"name\": 3, \"knobs\": []}", "name"},
        {"\"name\": \"\", \"knobs\": []}", "empty"},
        {"\"name\": \"a\\u0007\", \"knobs\": []}", "control character"},
        {"\"name\": \"m\", \"knobs\": {}}", "knob table"},
        {"\"name\": \"m\", \"knobs\": [{\"name\": \"x\", \"type\": \"WHAT\"}]}", "type"},
        {"\"name\": \"m\", \"knobs\": [{\"name\": \"x\", \"type\": \"FLOAT\"}]}", "min and max"},
        {"\"name\": \"m\", \"knobs\": [{\"name\": \"x\", \"type\": \"CATEGORICAL\", \"values\": "
         "[]}]}",
         "values"},
        {"\"name\": \"m\", \"knobs\": [{\"name\": \"x\", \"type\": \"FIXED\", \"value\": {}}]}",
         "value"},
        {"\"name\": \"m\", \"knobs\": [{\"name\": \"x\", \"type\": \"POLICY\", \"policy\": "
         "\"ROOT\"}]}",
         "policy"},
        {"\"name\": \"m\", \"knobs\": [{\"name\": \"x\", \"type\": \"FIXED\", \"value\": 1}, "
         "{\"name\": \"x\", \"type\": \"FIXED\", \"value\": 2}]}",
         "twice"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        char text[1024], err[512] = "";
        snprintf (text, sizeof text, "%s%s", head, cases[index][0]);
        json_t *report = json_loads (text, 0, NULL);
        assert_non_null (report);
        assert_int_equal (rfk_template_report_check (report, NULL, err, sizeof err), -1);
        if (!strstr (err, cases[index][1]))
            fail_msg ("case %zu: \"%s\" does not say %s", index, err, cases[index][1]);
        json_decref (report);
    }
    //  Caps: a 129-byte name, 129 knobs.
    char name[130];
    memset (name, 'n', 129);
    name[129] = 0;
    json_t *knobs = json_array ();
    for (int index = 0; index < 129; index++) {
        char knob[16];
        snprintf (knob, sizeof knob, "k%d", index);
        json_array_append_new (
            knobs, json_pack ("{s:s, s:s, s:i}", "name", knob, "type", "FIXED", "value", index));
    }
    json_t *long_name = json_pack ("{s:b, s:i, s:s, s:s, s:[], s:[]}", "ok", 1, "abi_version", 1,
                                   "task", "TABULAR_REGRESSION", "name", name, "policies", "knobs");
    char err[512] = "";
    assert_int_equal (rfk_template_report_check (long_name, NULL, err, sizeof err), -1);
    assert_non_null (strstr (err, "longer than 128 bytes"));
    json_object_set_new (long_name, "name", json_string ("m"));
    json_object_set_new (long_name, "knobs", knobs);
    assert_int_equal (rfk_template_report_check (long_name, NULL, err, sizeof err), -1);
    assert_non_null (strstr (err, "at most 128 knobs"));
    json_decref (long_name);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_good_report),
        cmocka_unit_test (test_text),
        cmocka_unit_test (test_bad_reports),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
