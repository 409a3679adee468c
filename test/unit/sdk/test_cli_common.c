/*  test_cli_common.c: the rafiki command's argument parsing, tables,
    records, progress bar and token file (sdk/cli/rfk_cli_common.c), and
    librafiki's local parts: JSON <-> msgpack, addresses, options.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "rfk_cli_common.h"
#include "rfk_test.h"

/* Output captured from a FILE *. */
typedef struct {
    char *text;
    size_t size;
    FILE *file;
} s_capture_t;

static void
s_capture_open (s_capture_t *c)
{
    c->text = NULL;
    c->size = 0;
    c->file = open_memstream (&c->text, &c->size);
}

static char *
s_capture_close (s_capture_t *c)
{
    fclose (c->file);
    return c->text;
}

/*  How a subcommand reads its arguments: options anywhere, --name=value,
    short options, flags, operands, the common options. */
static void
test_parse_usage (void **state)
{
    (void)state;
    const char *task = NULL, *output = NULL;
    bool public = false;
    const rfk_cli_option_t options[] = {{"task", 't', "TASK", "a task", &task, NULL},
                                        {"output", 'o', "FILE", "a file", &output, NULL},
                                        {"public", 0, NULL, "a flag", NULL, &public},
                                        {NULL, 0, NULL, NULL, NULL, NULL}};
    rfk_cli_command_t cmd = {.usage = "rafiki things make NAME [FILE]",
                             .options = options,
                             .min_operands = 1,
                             .max_operands = 2};
    char *argv[] = {"things make", "--json",    "first",    "--task=IMAGE_CLASSIFICATION",
                    "-o",          "out.bin",   "--public", "--config",
                    "my.yaml",     "--timeout", "2.5",      "--",
                    "--second",    NULL};
    int status = -1;
    assert_int_equal (rfk_cli_parse (&cmd, 13, argv, stdout, stderr, &status), 0);
    assert_int_equal (status, 0);
    assert_string_equal (task, "IMAGE_CLASSIFICATION");
    assert_string_equal (output, "out.bin");
    assert_true (public);
    assert_true (cmd.common.json);
    assert_string_equal (cmd.common.config_path, "my.yaml");
    assert_string_equal (cmd.common.timeout, "2.5");
    assert_int_equal (cmd.n_operands, 2);
    assert_string_equal (cmd.operands[0], "first");
    assert_string_equal (cmd.operands[1], "--second");
}

/*  Mistakes are usage errors (status 2) naming what was wrong; --help
    prints the help (status 0). */
static void
test_parse_errors (void **state)
{
    (void)state;
    const char *task = NULL;
    bool flag = false;
    const rfk_cli_option_t options[] = {{"task", 't', "TASK", "a task", &task, NULL},
                                        {"flag", 0, NULL, "a flag", NULL, &flag},
                                        {NULL, 0, NULL, NULL, NULL, NULL}};
    rfk_cli_command_t cmd = {
        .usage = "rafiki x y ID", .options = options, .min_operands = 1, .max_operands = 1};
    struct {
        int argc;
        char *argv[5];
        const char *message;
    } cases[] = {
        {1, {"x y"}, "missing an argument"},
        {3, {"x y", "a", "b"}, "unexpected argument 'b'"},
        {3, {"x y", "a", "--bogus"}, "unknown option '--bogus'"},
        {3, {"x y", "a", "-z"}, "unknown option '-z'"},
        {3, {"x y", "a", "-task"}, "long options take two dashes"},
        {3, {"x y", "a", "--task"}, "--task needs a value (TASK)"},
        {3, {"x y", "a", "--flag=yes"}, "--flag takes no value"},
        {4, {"x y", "a", "--timeout", "soon"}, "--timeout: 'soon' is not a number"},
        {4, {"x y", "a", "--timeout", "-1"}, "is not a number of seconds"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_capture_t out, err;
        s_capture_open (&out);
        s_capture_open (&err);
        int status = -1;
        int rc = rfk_cli_parse (&cmd, cases[i].argc, cases[i].argv, out.file, err.file, &status);
        char *out_text = s_capture_close (&out);
        char *err_text = s_capture_close (&err);
        assert_int_not_equal (rc, 0);
        assert_int_equal (status, RFK_CLI_USAGE);
        if (!strstr (err_text, cases[i].message))
            print_error ("case %zu: expected '%s' in '%s'\n", i, cases[i].message, err_text);
        assert_non_null (strstr (err_text, cases[i].message));
        assert_non_null (strstr (err_text, "usage: rafiki x y ID"));
        assert_string_equal (out_text, "");
        free (out_text);
        free (err_text);
    }
    s_capture_t out, err;
    s_capture_open (&out);
    s_capture_open (&err);
    char *help[] = {"x y", "--help", NULL};
    int status = -1;
    assert_int_not_equal (rfk_cli_parse (&cmd, 2, help, out.file, err.file, &status), 0);
    char *out_text = s_capture_close (&out);
    char *err_text = s_capture_close (&err);
    assert_int_equal (status, 0);
    assert_non_null (strstr (out_text, "usage: rafiki x y ID"));
    assert_non_null (strstr (out_text, "-t, --task TASK"));
    assert_non_null (strstr (out_text, "--json"));
    assert_string_equal (err_text, "");
    free (out_text);
    free (err_text);

    long value = 0;
    assert_int_equal (rfk_cli_int ("N", "12", 1, 100, &value), 0);
    assert_int_equal (value, 12);
    assert_int_equal (rfk_cli_int ("N", "0", 1, 100, &value), -1);
    assert_int_equal (rfk_cli_int ("N", "12x", 1, 100, &value), -1);
}

/*  Tables: a header, aligned columns, values as people read them, long
    values cut, nested keys reached. */
static void
test_table (void **state)
{
    (void)state;
    json_t *rows =
        json_loads ("[{\"name\": \"iris\", \"size\": 1234, \"score\": 0.91234567, \"ok\": true,"
                    "  \"budget\": {\"MODEL_TRIAL_COUNT\": 5}},"
                    " {\"name\": \"a-very-long-dataset-name-indeed\", \"size\": 7, \"ok\": false,"
                    "  \"knobs\": [1, 2]}]",
                    0, NULL);
    assert_non_null (rows);
    rfk_cli_column_t columns[] = {{"NAME", "name", 12},
                                  {"SIZE", "size", 0},
                                  {"SCORE", "score", 0},
                                  {"OK", "ok", 0},
                                  {"TRIALS", "budget.MODEL_TRIAL_COUNT", 0}};
    s_capture_t out;
    s_capture_open (&out);
    rfk_cli_table (out.file, rows, columns, 5);
    char *text = s_capture_close (&out);
    assert_string_equal (text, "NAME          SIZE  SCORE     OK   TRIALS\n"
                               "iris          1234  0.912346  yes  5\n"
                               "a-very-lo...  7     -         no   -\n");
    free (text);

    s_capture_open (&out);
    json_t *empty = json_array ();
    rfk_cli_table (out.file, empty, columns, 5);
    text = s_capture_close (&out);
    assert_string_equal (text, "(none)\n");
    free (text);
    json_decref (empty);
    json_decref (rows);
}

/*  A record: aligned fields, then arrays of objects as tables. */
static void
test_record (void **state)
{
    (void)state;
    json_t *job = json_loads ("{\"app\": \"iris\", \"app_version\": 2, \"budget\": "
                              "{\"MODEL_TRIAL_COUNT\": 5}, \"sub_train_jobs\": [{\"model_name\": "
                              "\"Xgb\", \"status\": \"RUNNING\"}]}",
                              0, NULL);
    s_capture_t out;
    s_capture_open (&out);
    rfk_cli_record (out.file, job);
    char *text = s_capture_close (&out);
    assert_string_equal (text, "app          iris\n"
                               "app_version  2\n"
                               "budget       {\"MODEL_TRIAL_COUNT\":5}\n"
                               "\n"
                               "sub_train_jobs:\n"
                               "model_name  status\n"
                               "Xgb         RUNNING\n");
    free (text);

    /*  --json prints the document as is. */
    s_capture_open (&out);
    rfk_cli_json (out.file, job);
    text = s_capture_close (&out);
    json_t *back = json_loads (text, 0, NULL);
    assert_true (json_equal (back, job));
    json_decref (back);
    free (text);
    json_decref (job);

    char *cell = rfk_cli_cell (NULL);
    assert_string_equal (cell, "-");
    free (cell);
    json_t *real = json_real (5.1);
    cell = rfk_cli_cell (real);
    assert_string_equal (cell, "5.1");
    free (cell);
    json_decref (real);
}

static void
test_progress_text (void **state)
{
    (void)state;
    char line[200];
    rfk_cli_progress_text (line, sizeof line, 512, 2048, 8);
    assert_string_equal (line, "[##......]  25%  512 B / 2.0 KiB");
    rfk_cli_progress_text (line, sizeof line, 3 << 20, 3 << 20, 4);
    assert_string_equal (line, "[####] 100%  3.0 MiB / 3.0 MiB");
    rfk_cli_progress_text (line, sizeof line, 0, 0, 4);
    assert_string_equal (line, "[####] 100%  0 B / 0 B");
}

/*  The token file: saved 0600 (in a new 0700 folder), read back without
    its newline, removed by logout. */
static void
test_token_file (void **state)
{
    (void)state;
    char *dir = rfk_test_tmpdir_new ("token");
    assert_non_null (dir);
    char path[256];
    snprintf (path, sizeof path, "%s/deep/er/token", dir);
    setenv ("RAFIKI_TOKEN_FILE", path, 1);
    char *none = rfk_cli_token_load ();
    assert_null (none);
    char err[256] = "";
    assert_int_equal (rfk_cli_token_save ("abc.def.ghi", err, sizeof err), 0);
    struct stat info;
    assert_int_equal (stat (path, &info), 0);
    assert_int_equal (info.st_mode & 0777, 0600);
    snprintf (path, sizeof path, "%s/deep/er", dir);
    assert_int_equal (stat (path, &info), 0);
    assert_int_equal (info.st_mode & 0777, 0700);
    char *token = rfk_cli_token_load ();
    assert_string_equal (token, "abc.def.ghi");
    free (token);
    assert_int_equal (rfk_cli_token_remove (err, sizeof err), 1);
    assert_int_equal (rfk_cli_token_remove (err, sizeof err), 0);

    unsetenv ("RAFIKI_TOKEN_FILE");
    setenv ("HOME", "/home/someone", 1);
    unsetenv ("XDG_CONFIG_HOME");
    char *where = rfk_cli_token_path ();
    assert_string_equal (where, "/home/someone/.config/rafiki/token");
    free (where);
    assert_int_equal (rfk_test_tmpdir_destroy (&dir), 0);
}

/*  Queries and predictions travel as msgpack: JSON survives the round
    trip; garbage is refused, never a crash. */
static void
test_msgpack (void **state)
{
    (void)state;
    const char *samples[] = {
        "[[5.1, 3.5, 1.4, 0.2]]",
        "[{\"a\": [1, -2, 3000000000], \"b\": null, \"c\": true, \"d\": \"text\"}]",
        "[[], {}, \"\", 0, -9223372036854775807, 1.5e300]",
    };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        json_t *value = json_loads (samples[i], 0, NULL);
        assert_non_null (value);
        size_t size = 0;
        void *packed = rfk_sdk_json_to_msgpack (value, &size);
        assert_non_null (packed);
        json_t *back = rfk_sdk_msgpack_to_json (packed, size);
        assert_true (json_equal (back, value));
        json_decref (back);
        /*  Every truncation is refused. */
        for (size_t cut = 0; cut < size; cut++)
            assert_null (rfk_sdk_msgpack_to_json (packed, cut));
        free (packed);
        json_decref (value);
    }
    /*  Two objects where one is expected, and bytes that are no msgpack. */
    assert_null (rfk_sdk_msgpack_to_json ("\x01\x02", 2));
    assert_null (rfk_sdk_msgpack_to_json ("\xc1", 1));
    /*  Non-UTF-8 text and binary come out as null, not as broken JSON. */
    json_t *odd = rfk_sdk_msgpack_to_json ("\x92\xa1\xff\xc4\x01\x00", 6);
    assert_non_null (odd);
    assert_true (json_is_null (json_array_get (odd, 0)));
    assert_true (json_is_null (json_array_get (odd, 1)));
    json_decref (odd);
}

/*  A session refuses a bad address or configuration at once, saying why. */
static void
test_session_options (void **state)
{
    (void)state;
    rfk_sdk_options_t opts;
    rfk_sdk_options_init (&opts);
    rfk_sdk_error_t error;
    opts.admin = "127.0.0.1:99999";
    assert_null (rfk_sdk_new (&opts, &error));
    assert_int_equal (error.code, RFK_SDK_BAD_REQUEST);
    assert_non_null (strstr (error.message, "'127.0.0.1:99999' is not an admin address"));

    opts.admin = NULL;
    opts.config_path = "/no/such/rafiki.yaml";
    assert_null (rfk_sdk_new (&opts, &error));
    assert_int_equal (error.code, RFK_SDK_BAD_REQUEST);
    assert_non_null (strstr (error.message, "/no/such/rafiki.yaml"));

    assert_string_equal (rfk_sdk_code_name (RFK_SDK_NOT_FOUND), "NOT_FOUND");
    assert_string_equal (rfk_sdk_code_name (RFK_SDK_IO), "IO");
    assert_int_equal (rfk_sdk_error (NULL)->code, RFK_SDK_BAD_REQUEST);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_parse_usage),   cmocka_unit_test (test_parse_errors),
        cmocka_unit_test (test_table),         cmocka_unit_test (test_record),
        cmocka_unit_test (test_progress_text), cmocka_unit_test (test_token_file),
        cmocka_unit_test (test_msgpack),       cmocka_unit_test (test_session_options),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
