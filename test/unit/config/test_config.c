/*  Unit tests of rfk_config (key table, YAML file, environment, rules,
    dump) and rfk_log (file and stderr lines). Every bad input must give
    -1 and a message naming the key and the file:line or the variable.
*/
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rfk_config.h"
#include "rfk_log.h"
#include "rfk_test.h"

//  --------------------------------------------------------------------------
//  Helpers: a temporary folder per test, files written into it.

static char *s_dir;

static int
s_setup (void **state)
{
    (void)state;
    s_dir = rfk_test_tmpdir_new ("config-test");
    return s_dir ? 0 : -1;
}

static int
s_teardown (void **state)
{
    (void)state;
    return rfk_test_tmpdir_destroy (&s_dir);
}

//  Write text to <dir>/name; returns the path (static buffer).
static const char *
s_write (const char *name, const char *text)
{
    static char path[512];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
    return path;
}

//  Read a whole file into a fresh string.
static char *
s_read (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    char *text = calloc (1, 1 << 16);
    size_t size = fread (text, 1, (1 << 16) - 1, file);
    text[size] = 0;
    fclose (file);
    return text;
}

//  Load text as a file into a fresh default configuration; returns it and
//  the rc of rfk_config_load_file.
static rfk_config_t *
s_load_text (const char *text, int *rc)
{
    rfk_config_t *config = rfk_config_new ();
    assert_non_null (config);
    *rc = rfk_config_load_file (config, s_write ("test.yaml", text));
    return config;
}

//  The file must be refused with a message holding each of the needles.
static void
s_expect_error (const char *text, ...)
{
    int rc;
    rfk_config_t *config = s_load_text (text, &rc);
    const char *error = rfk_config_error (config);
    if (rc != -1 || !error)
        fail_msg ("accepted:\n%s", text);
    va_list needles;
    va_start (needles, text);
    for (const char *needle = va_arg (needles, const char *); needle;
         needle = va_arg (needles, const char *))
        if (!strstr (error, needle))
            fail_msg ("message \"%s\" lacks \"%s\"", error, needle);
    va_end (needles);
    rfk_config_destroy (&config);
}

//  --------------------------------------------------------------------------
//  Usage example

static void
test_usage (void **state)
{
    (void)state;
    const char *path = s_write ("rafiki.yaml", "data_dir: /srv/rafiki\n"
                                               "bus:\n"
                                               "  sndhwm: 2000\n"
                                               "admin:\n"
                                               "  upload_max_bytes: 512MiB\n");
    char *env[] = {"RAFIKI_BUS_RCVHWM=3000", "HOME=/root", NULL};

    rfk_config_t *config = rfk_config_new ();
    assert_non_null (config);
    assert_int_equal (rfk_config_load_file (config, path), 0);
    assert_int_equal (rfk_config_load_env (config, env), 0);
    assert_int_equal (rfk_config_check (config), 0);
    assert_null (rfk_config_error (config));

    assert_string_equal (rfk_config_string (config, NULL, "data_dir"), "/srv/rafiki");
    assert_int_equal (rfk_config_int (config, "bus", "sndhwm"), 2000);
    assert_int_equal (rfk_config_int (config, "bus", "rcvhwm"), 3000);
    assert_int_equal (rfk_config_int (config, "admin", "http_port"), 3000);
    assert_int_equal (rfk_config_size (config, "admin", "upload_max_bytes"), 512ull << 20);
    assert_true (rfk_config_bool (config, "", "log_stderr"));

    char expected[600];
    snprintf (expected, sizeof expected, "%s:3", path);
    assert_string_equal (rfk_config_origin (config, "bus", "sndhwm"), expected);
    assert_string_equal (rfk_config_origin (config, "bus", "rcvhwm"), "RAFIKI_BUS_RCVHWM");
    assert_string_equal (rfk_config_origin (config, "admin", "http_port"), "default");

    char *logs = rfk_config_data_path (config, "logs");
    assert_string_equal (logs, "/srv/rafiki/logs");
    free (logs);
    rfk_config_destroy (&config);
    rfk_config_destroy (&config);
    assert_null (config);
}

//  --------------------------------------------------------------------------
//  The table and the shipped file

static void
test_defaults (void **state)
{
    (void)state;
    rfk_config_t *config = rfk_config_new ();
    assert_non_null (config);
    assert_string_equal (rfk_config_string (config, "", "data_dir"), "./var");
    assert_string_equal (rfk_config_string (config, "", "log_level"), "info");
    assert_string_equal (rfk_config_string (config, "admin", "host"), "127.0.0.1");
    assert_int_equal (rfk_config_int (config, "admin", "command_port"), 3001);
    assert_int_equal (rfk_config_int (config, "admin", "service_port"), 3002);
    assert_int_equal (rfk_config_int (config, "admin", "events_port"), 3003);
    assert_string_equal (rfk_config_string (config, "admin", "superadmin_email"),
                         "superadmin@rafiki");
    assert_string_equal (rfk_config_string (config, "admin", "jwt_secret"), "");
    assert_int_equal (rfk_config_int (config, "admin", "token_ttl_s"), 3600);
    assert_int_equal (rfk_config_size (config, "admin", "upload_max_bytes"), 2ull << 30);
    assert_int_equal (rfk_config_int (config, "bus", "heartbeat_interval_ms"), 1000);
    assert_int_equal (rfk_config_int (config, "bus", "heartbeat_timeout_ms"), 5000);
    assert_int_equal (rfk_config_int (config, "bus", "request_retries"), 3);
    assert_int_equal (rfk_config_size (config, "bus", "max_frame_bytes"), 64ull << 20);
    assert_string_equal (rfk_config_string (config, "store", "url"), "");
    assert_string_equal (rfk_config_string (config, "launcher", "backend"), "local");
    assert_int_equal (rfk_config_int (config, "launcher", "max_restarts"), 3);
    assert_int_equal (rfk_config_int (config, "predictor", "max_batch"), 32);
    assert_int_equal (rfk_config_int (config, "predictor", "batch_window_us"), 500);
    assert_int_equal (rfk_config_int (config, "predictor", "deadline_ms"), 1000);
    assert_int_equal (rfk_config_int (config, "predictor", "max_inflight"), 10000);
    assert_int_equal (rfk_config_check (config), 0);
    rfk_config_destroy (&config);
}

static void
test_table_is_sound (void **state)
{
    (void)state;
    for (size_t i = 0; i < rfk_config_keys_count; i++) {
        const rfk_config_key_t *key = &rfk_config_keys[i];
        //  Names are lower-case words, so their variable names are unique.
        for (const char *c = key->key; *c; c++)
            assert_true ((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_');
        assert_non_null (key->doc);
        assert_true (strlen (key->doc) > 10);
        if (key->flags & RFK_CONFIG_SECRET)
            assert_int_equal (key->type, RFK_CONFIG_STRING);
        //  Bounds parse (a one-key table with the bound as default).
        rfk_config_key_t probe = *key;
        probe.min = probe.max = NULL;
        const char *bounds[] = {key->min, key->max};
        for (int b = 0; b < 2; b++) {
            if (!bounds[b])
                continue;
            probe.value = bounds[b];
            rfk_config_t *one = rfk_config_new_from (&probe, 1);
            if (!one)
                fail_msg ("bound %s of %s.%s does not parse", bounds[b], key->section, key->key);
            rfk_config_destroy (&one);
        }
        for (size_t j = 0; j < rfk_config_keys_count; j++) {
            const rfk_config_key_t *other = &rfk_config_keys[j];
            if (j != i)
                assert_false (streq (key->section, other->section) && streq (key->key, other->key));
            //  RAFIKI_<KEY> of a top-level key must not read as a section's.
            if (!*key->section && *other->section) {
                size_t length = strlen (other->section);
                assert_false (strncmp (key->key, other->section, length) == 0 &&
                              key->key[length] == '_');
            }
        }
    }
    //  Every default parses and is within its bounds.
    rfk_config_t *config = rfk_config_new ();
    assert_non_null (config);
    rfk_config_destroy (&config);
}

static void
test_shipped_file (void **state)
{
    (void)state;
    const char *path = getenv ("RAFIKI_YAML");
    assert_non_null (path);
    rfk_config_t *shipped = rfk_config_new ();
    rfk_config_t *defaults = rfk_config_new ();
    if (rfk_config_load_file (shipped, path) != 0)
        fail_msg ("%s", rfk_config_error (shipped));
    char *text = s_read (path);
    assert_non_null (text);
    for (size_t i = 0; i < rfk_config_keys_count; i++) {
        const rfk_config_key_t *key = &rfk_config_keys[i];
        const char *origin = rfk_config_origin (shipped, key->section, key->key);
        //  Every key is written in the file...
        if (streq (origin, "default"))
            fail_msg ("%s.%s is missing from %s", key->section, key->key, path);
        //  ...right under a comment documenting it...
        long line = atol (strrchr (origin, ':') + 1);
        const char *cursor = text;
        for (long n = 1; n < line - 1; n++)
            cursor = strchr (cursor, '\n') + 1;
        while (*cursor == ' ')
            cursor++;
        if (*cursor != '#')
            fail_msg ("%s.%s (line %ld) has no comment above it", key->section, key->key, line);
        //  ...with the built-in default as its value.
        switch (key->type) {
            case RFK_CONFIG_INT:
                assert_int_equal (rfk_config_int (shipped, key->section, key->key),
                                  rfk_config_int (defaults, key->section, key->key));
                break;
            case RFK_CONFIG_FLOAT:
                assert_true (rfk_config_float (shipped, key->section, key->key) ==
                             rfk_config_float (defaults, key->section, key->key));
                break;
            case RFK_CONFIG_BOOL:
                assert_int_equal (rfk_config_bool (shipped, key->section, key->key),
                                  rfk_config_bool (defaults, key->section, key->key));
                break;
            case RFK_CONFIG_STRING:
                assert_string_equal (rfk_config_string (shipped, key->section, key->key),
                                     rfk_config_string (defaults, key->section, key->key));
                break;
            case RFK_CONFIG_SIZE:
                assert_int_equal (rfk_config_size (shipped, key->section, key->key),
                                  rfk_config_size (defaults, key->section, key->key));
                break;
        }
    }
    free (text);
    rfk_config_destroy (&shipped);
    rfk_config_destroy (&defaults);
}

//  --------------------------------------------------------------------------
//  Bad files: each message names the key and file:line

static void
test_unknown_keys (void **state)
{
    (void)state;
    s_expect_error ("bus:\n  sndhwm: 5\n  sndhwmm: 5\n", "test.yaml:3: bus.sndhwmm: unknown key",
                    "did you mean \"sndhwm\"", NULL);
    s_expect_error ("data_dir: x\nbuss:\n  sndhwm: 5\n", "test.yaml:2: buss: unknown key",
                    "did you mean \"bus\"", NULL);
    s_expect_error ("colour: blue\n", "test.yaml:1: colour: unknown key", NULL);
    //  A top-level key inside a section is unknown there.
    s_expect_error ("admin:\n  data_dir: x\n", "test.yaml:2: admin.data_dir: unknown key", NULL);
}

static void
test_wrong_types (void **state)
{
    (void)state;
    s_expect_error ("bus:\n  sndhwm: lots\n",
                    "test.yaml:2: bus.sndhwm: expected an integer, got \"lots\"", NULL);
    s_expect_error ("bus:\n  sndhwm: 10.5\n", "test.yaml:2: bus.sndhwm: expected an integer", NULL);
    s_expect_error ("log_stderr: maybe\n", "test.yaml:1: log_stderr: expected true or false", NULL);
    s_expect_error ("admin:\n  upload_max_bytes: 12 parsecs\n",
                    "test.yaml:2: admin.upload_max_bytes: expected a size", NULL);
    s_expect_error ("admin:\n  upload_max_bytes: -1\n",
                    "test.yaml:2: admin.upload_max_bytes: expected a size", NULL);
    s_expect_error ("bus:\n  sndhwm: [1, 2]\n",
                    "test.yaml:2: bus.sndhwm: expected an integer, got a list", NULL);
    s_expect_error ("data_dir:\n  a: b\n",
                    "test.yaml:2: data_dir: expected a string, got a mapping", NULL);
    s_expect_error ("bus: 5\n", "test.yaml:1: bus: is a section", NULL);
    s_expect_error ("bus:\n  sndhwm:\n", "test.yaml:2: bus.sndhwm: has no value", NULL);
    s_expect_error ("launcher:\n  backend: kubernetes\n",
                    "test.yaml:2: launcher.backend: \"kubernetes\" is not one of local|swarm",
                    NULL);
    s_expect_error ("log_level: loud\n", "test.yaml:1: log_level: \"loud\" is not one of", NULL);
}

static void
test_out_of_range (void **state)
{
    (void)state;
    s_expect_error ("bus:\n  sndhwm: 0\n",
                    "test.yaml:2: bus.sndhwm: 0 is out of range [1, 10000000]", NULL);
    s_expect_error ("admin:\n  http_port: 65536\n",
                    "test.yaml:2: admin.http_port: 65536 is out of range [0, 65535]", NULL);
    s_expect_error ("admin:\n  http_port: -1\n", "admin.http_port: -1 is out of range", NULL);
    s_expect_error ("admin:\n  upload_max_bytes: 2TiB\n",
                    "test.yaml:2: admin.upload_max_bytes: 2199023255552 bytes is out of range "
                    "[1KiB, 1TiB]",
                    NULL);
    s_expect_error ("bus:\n  sndhwm: 99999999999999999999\n", "bus.sndhwm:", "is too large", NULL);
    s_expect_error ("admin:\n  upload_max_bytes: 99999999999TiB\n", "is too large", NULL);
}

static void
test_bounds_are_inclusive (void **state)
{
    (void)state;
    int rc;
    rfk_config_t *config = s_load_text ("bus:\n  sndhwm: 1\n  rcvhwm: 10000000\n"
                                        "admin:\n  http_port: 0\n  command_port: 65535\n"
                                        "  upload_max_bytes: 1KiB\n  request_max_bytes: 1 GiB\n",
                                        &rc);
    if (rc != 0)
        fail_msg ("%s", rfk_config_error (config));
    assert_int_equal (rfk_config_int (config, "bus", "sndhwm"), 1);
    assert_int_equal (rfk_config_int (config, "bus", "rcvhwm"), 10000000);
    assert_int_equal (rfk_config_int (config, "admin", "http_port"), 0);
    assert_int_equal (rfk_config_int (config, "admin", "command_port"), 65535);
    assert_int_equal (rfk_config_size (config, "admin", "upload_max_bytes"), 1024);
    assert_int_equal (rfk_config_size (config, "admin", "request_max_bytes"), 1ull << 30);
    rfk_config_destroy (&config);
}

static void
test_strings_and_nulls (void **state)
{
    (void)state;
    int rc;
    rfk_config_t *config = s_load_text ("data_dir: \"~\"\nstore:\n  url:\nadmin:\n"
                                        "  jwt_secret: 12345\n  host: '0.0.0.0'\n"
                                        "launcher:\n",
                                        &rc);
    if (rc != 0)
        fail_msg ("%s", rfk_config_error (config));
    assert_string_equal (rfk_config_string (config, "", "data_dir"), "~");
    assert_string_equal (rfk_config_string (config, "store", "url"), "");
    assert_string_equal (rfk_config_string (config, "admin", "jwt_secret"), "12345");
    assert_string_equal (rfk_config_string (config, "admin", "host"), "0.0.0.0");
    //  Quoted numbers are numbers, comments and blank lines are nothing.
    rfk_config_destroy (&config);
    config = s_load_text ("# nothing\n\nbus:\n  # still nothing\n  sndhwm: \"7\"\n", &rc);
    assert_int_equal (rc, 0);
    assert_int_equal (rfk_config_int (config, "bus", "sndhwm"), 7);
    rfk_config_destroy (&config);
    //  An empty file, or one with only comments, is the defaults.
    config = s_load_text ("", &rc);
    assert_int_equal (rc, 0);
    rfk_config_destroy (&config);
    config = s_load_text ("# only a comment\n", &rc);
    assert_int_equal (rc, 0);
    assert_int_equal (rfk_config_int (config, "bus", "sndhwm"), 1000);
    rfk_config_destroy (&config);
}

static void
test_structure_errors (void **state)
{
    (void)state;
    s_expect_error ("bus:\n  sndhwm: 5\n  sndhwm: 6\n",
                    "test.yaml:3: bus.sndhwm: set twice (first at line 2)", NULL);
    s_expect_error ("bus:\n  sndhwm: 5\nadmin:\n  host: x\nbus:\n  rcvhwm: 6\n",
                    "test.yaml:5: bus: section appears twice (first at line 1)", NULL);
    s_expect_error ("- data_dir\n- bus\n", "test.yaml:1: the file must be a mapping", NULL);
    s_expect_error ("just words\n", "test.yaml:1: the file must be a mapping", NULL);
    s_expect_error ("data_dir: a\n---\ndata_dir: b\n", "test.yaml:2: only one YAML document", NULL);
    s_expect_error ("data_dir: &d ./x\nstore:\n  url: *d\n",
                    "test.yaml:3: store.url: expected a string, got an alias", NULL);
    s_expect_error ("[a]: 1\ndata_dir: x\n", "test.yaml:1: a key must be a name", NULL);
}

static void
test_syntax_errors (void **state)
{
    (void)state;
    s_expect_error ("bus:\n  sndhwm: [1, 2\n", "test.yaml:", "YAML syntax error", NULL);
    s_expect_error ("bus:\n  sndhwm: 5\n rcvhwm: 6\n", "test.yaml:3:", "YAML syntax error", NULL);
    s_expect_error ("data_dir: \"unterminated\n", "test.yaml:", "YAML syntax error", NULL);
    s_expect_error ("data_dir: \xff\xfe\n", "test.yaml: cannot read", NULL);
}

static void
test_missing_file (void **state)
{
    (void)state;
    rfk_config_t *config = rfk_config_new ();
    assert_int_equal (rfk_config_load_file (config, "/nonexistent/rafiki.yaml"), -1);
    assert_non_null (strstr (rfk_config_error (config),
                             "/nonexistent/rafiki.yaml: cannot read the configuration file: No "
                             "such file or directory"));
    rfk_config_destroy (&config);
    config = rfk_config_new ();
    assert_int_equal (rfk_config_load (config, s_dir), -1);
    assert_non_null (strstr (rfk_config_error (config), "not a regular file"));
    rfk_config_destroy (&config);
}

static void
test_every_error_is_reported (void **state)
{
    (void)state;
    int rc;
    rfk_config_t *config = s_load_text ("data_dir: ./x\n"
                                        "bus:\n"
                                        "  sndhwm: lots\n"
                                        "  rcvhwm: 0\n"
                                        "  nonsense: 1\n"
                                        "predictor:\n"
                                        "  max_batch: 64\n",
                                        &rc);
    assert_int_equal (rc, -1);
    const char *error = rfk_config_error (config);
    assert_non_null (strstr (error, ":3: bus.sndhwm"));
    assert_non_null (strstr (error, ":4: bus.rcvhwm"));
    assert_non_null (strstr (error, ":5: bus.nonsense"));
    int lines = 0;
    for (const char *c = error; *c; c++)
        lines += *c == '\n';
    assert_int_equal (lines, 3);
    //  Good values around the bad ones were still read.
    assert_int_equal (rfk_config_int (config, "predictor", "max_batch"), 64);
    rfk_config_destroy (&config);
}

//  --------------------------------------------------------------------------
//  Environment

static void
test_env_overrides (void **state)
{
    (void)state;
    int rc;
    rfk_config_t *config = s_load_text ("data_dir: ./from-file\nbus:\n  sndhwm: 2000\n", &rc);
    assert_int_equal (rc, 0);
    char *env[] = {"RAFIKI_BUS_SNDHWM=5",
                   "RAFIKI_DATA_DIR=/data",
                   "RAFIKI_STORE_URL=postgresql://rafiki@localhost/rafiki",
                   "RAFIKI_ADMIN_UPLOAD_MAX_BYTES=3 GiB",
                   "RAFIKI_LOG_STDERR=off",
                   "rafiki_bus_rcvhwm=7",
                   "RAFIKI_FUZZ_SECONDS=20",
                   "RAFIKI_SERVICE_SECRET=abc",
                   "RAFIKI_=x",
                   "RAFIKI_BUS",
                   NULL};
    assert_int_equal (rfk_config_load_env (config, env), 0);
    assert_int_equal (rfk_config_int (config, "bus", "sndhwm"), 5);
    assert_string_equal (rfk_config_origin (config, "bus", "sndhwm"), "RAFIKI_BUS_SNDHWM");
    assert_string_equal (rfk_config_string (config, "", "data_dir"), "/data");
    assert_string_equal (rfk_config_string (config, "store", "url"),
                         "postgresql://rafiki@localhost/rafiki");
    assert_int_equal (rfk_config_size (config, "admin", "upload_max_bytes"), 3ull << 30);
    assert_false (rfk_config_bool (config, "", "log_stderr"));
    assert_int_equal (rfk_config_int (config, "bus", "rcvhwm"), 1000);
    //  An empty variable sets a string to empty.
    char *empty[] = {"RAFIKI_ADMIN_HOST=", NULL};
    assert_int_equal (rfk_config_load_env (config, empty), 0);
    assert_string_equal (rfk_config_string (config, "admin", "host"), "");
    rfk_config_destroy (&config);
}

static void
test_env_errors (void **state)
{
    (void)state;
    rfk_config_t *config = rfk_config_new ();
    char *env[] = {"RAFIKI_BUS_SNDHWM=lots",
                   "RAFIKI_BUS_SNDHWMM=1",
                   "RAFIKI_PREDICTOR_MAX_BATCH=0",
                   "RAFIKI_LOG_STDERR=maybe",
                   "RAFIKI_BUS_RCVHWM=",
                   "RAFIKI_LAUNCHER_BACKEND=k8s",
                   NULL};
    assert_int_equal (rfk_config_load_env (config, env), -1);
    const char *error = rfk_config_error (config);
    assert_non_null (
        strstr (error, "RAFIKI_BUS_SNDHWM: bus.sndhwm: expected an integer, got \"lots\""));
    assert_non_null (
        strstr (error, "RAFIKI_BUS_SNDHWMM: bus.sndhwmm: unknown key (did you mean \"sndhwm\"?)"));
    assert_non_null (strstr (
        error, "RAFIKI_PREDICTOR_MAX_BATCH: predictor.max_batch: 0 is out of range [1, 65536]"));
    assert_non_null (strstr (error, "RAFIKI_LOG_STDERR: log_stderr: expected true or false"));
    assert_non_null (strstr (error, "RAFIKI_BUS_RCVHWM: bus.rcvhwm: expected an integer"));
    assert_non_null (strstr (error, "RAFIKI_LAUNCHER_BACKEND: launcher.backend: \"k8s\""));
    //  The bad values changed nothing.
    assert_int_equal (rfk_config_int (config, "bus", "sndhwm"), 1000);
    rfk_config_destroy (&config);
}

static void
test_load_reads_process_env (void **state)
{
    (void)state;
    const char *path = s_write ("rafiki.yaml", "predictor:\n  max_batch: 16\n");
    setenv ("RAFIKI_PREDICTOR_MAX_BATCH", "64", 1);
    rfk_config_t *config = rfk_config_new ();
    assert_int_equal (rfk_config_load (config, path), 0);
    assert_int_equal (rfk_config_int (config, "predictor", "max_batch"), 64);
    rfk_config_destroy (&config);

    setenv ("RAFIKI_PREDICTOR_MAX_BATCH", "lots", 1);
    config = rfk_config_new ();
    assert_int_equal (rfk_config_load (config, NULL), -1);
    assert_non_null (strstr (rfk_config_error (config), "RAFIKI_PREDICTOR_MAX_BATCH"));
    rfk_config_destroy (&config);
    unsetenv ("RAFIKI_PREDICTOR_MAX_BATCH");
}

//  --------------------------------------------------------------------------
//  Rules, custom tables, dump

static void
test_rules (void **state)
{
    (void)state;
    int rc;
    rfk_config_t *config = s_load_text ("bus:\n  heartbeat_interval_ms: 5000\n", &rc);
    assert_int_equal (rc, 0);
    assert_int_equal (rfk_config_check (config), -1);
    assert_non_null (strstr (rfk_config_error (config),
                             "default: bus.heartbeat_timeout_ms: 5000 must be above "
                             "bus.heartbeat_interval_ms (5000, from "));
    rfk_config_destroy (&config);

    config = s_load_text ("admin:\n  http_port: 4000\n  events_port: 4000\n", &rc);
    assert_int_equal (rc, 0);
    assert_int_equal (rfk_config_check (config), -1);
    assert_non_null (strstr (rfk_config_error (config),
                             "test.yaml:3: admin.events_port: port 4000 is also "
                             "admin.http_port's"));
    rfk_config_destroy (&config);

    //  Port 0 (any free port) may repeat.
    config = s_load_text ("admin:\n  http_port: 0\n  command_port: 0\n", &rc);
    assert_int_equal (rfk_config_check (config), 0);
    rfk_config_destroy (&config);
}

static const rfk_config_key_t s_custom[] = {
    {"", "ratio", RFK_CONFIG_FLOAT, "0.5", "0", "1", NULL, 0, "a fraction for the test"},
    {"", "flag", RFK_CONFIG_BOOL, "no", NULL, NULL, NULL, 0, "a switch for the test"},
    {"s", "bytes", RFK_CONFIG_SIZE, "1k", NULL, NULL, NULL, 0, "a size for the test"},
    {"s", "count", RFK_CONFIG_INT, "-3", "-10", NULL, NULL, 0, "a count for the test"},
};

static void
test_custom_table (void **state)
{
    (void)state;
    rfk_config_t *config = rfk_config_new_from (s_custom, 4);
    assert_non_null (config);
    assert_true (rfk_config_float (config, "", "ratio") == 0.5);
    assert_false (rfk_config_bool (config, "", "flag"));
    assert_int_equal (rfk_config_size (config, "s", "bytes"), 1024);
    assert_int_equal (rfk_config_int (config, "s", "count"), -3);

    struct {
        const char *section, *key, *text;
        int rc;
    } cases[] = {
        {"", "ratio", "1", 0},      {"", "ratio", "0.25", 0},     {"", "ratio", "1e-3", 0},
        {"", "ratio", "1.5", -1},   {"", "ratio", "nan", -1},     {"", "ratio", "inf", -1},
        {"", "ratio", "", -1},      {"", "ratio", "0.5x", -1},    {"", "flag", "YES", 0},
        {"", "flag", "On", 0},      {"", "flag", "1", 0},         {"", "flag", "2", -1},
        {"s", "bytes", "10", 0},    {"s", "bytes", "10B", 0},     {"s", "bytes", "1kB", 0},
        {"s", "bytes", "1 KiB", 0}, {"s", "bytes", "3t", 0},      {"s", "bytes", "1.5GiB", -1},
        {"s", "bytes", "GiB", -1},  {"s", "bytes", "1 GiBs", -1}, {"s", "count", "+5", 0},
        {"s", "count", "-10", 0},   {"s", "count", "-11", -1},    {"s", "count", "0x10", -1},
        {"s", "count", " 5", -1},   {"s", "nothing", "1", -1},    {"t", "count", "1", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (rfk_config_set (config, cases[i].section, cases[i].key, cases[i].text, "case") !=
            cases[i].rc)
            fail_msg ("%s.%s = \"%s\" should give %d", cases[i].section, cases[i].key,
                      cases[i].text, cases[i].rc);
    assert_int_equal (rfk_config_size (config, "s", "bytes"), 3ull << 40);
    assert_int_equal (rfk_config_int (config, "s", "count"), -10);
    assert_true (rfk_config_bool (config, "", "flag"));
    assert_true (rfk_config_float (config, "", "ratio") == 1e-3);
    rfk_config_set (config, "s", "bytes", "1kB", NULL);
    assert_int_equal (rfk_config_size (config, "s", "bytes"), 1000);

    //  A table whose default is out of bounds makes no configuration.
    rfk_config_key_t bad = s_custom[0];
    bad.value = "2";
    assert_null (rfk_config_new_from (&bad, 1));
    bad.value = "two";
    assert_null (rfk_config_new_from (&bad, 1));
    rfk_config_destroy (&config);
}

static void
test_dump_round_trip (void **state)
{
    (void)state;
    rfk_config_t *config = rfk_config_new ();
    char *env[] = {"RAFIKI_BUS_SNDHWM=42",
                   "RAFIKI_DATA_DIR=/tmp/with \"quotes\" and \\ slash",
                   "RAFIKI_ADMIN_UPLOAD_MAX_BYTES=1000000",
                   "RAFIKI_BUS_MAX_FRAME_BYTES=3MiB",
                   "RAFIKI_ADMIN_JWT_SECRET=hunter2",
                   "RAFIKI_LOG_STDERR=no",
                   NULL};
    assert_int_equal (rfk_config_load_env (config, env), 0);
    char path[512];
    snprintf (path, sizeof path, "%s/dump.yaml", s_dir);
    FILE *out = fopen (path, "w");
    assert_int_equal (rfk_config_dump (config, out), 0);
    fclose (out);
    char *text = s_read (path);
    assert_null (strstr (text, "hunter2"));
    assert_non_null (
        strstr (text, "# jwt_secret: (secret, not shown; from RAFIKI_ADMIN_JWT_SECRET)"));
    assert_non_null (strstr (text, "  sndhwm: 42  # RAFIKI_BUS_SNDHWM\n"));
    assert_non_null (strstr (text, "  max_frame_bytes: 3MiB"));
    free (text);

    rfk_config_t *again = rfk_config_new ();
    if (rfk_config_load_file (again, path) != 0)
        fail_msg ("%s", rfk_config_error (again));
    assert_int_equal (rfk_config_int (again, "bus", "sndhwm"), 42);
    assert_string_equal (rfk_config_string (again, "", "data_dir"),
                         "/tmp/with \"quotes\" and \\ slash");
    assert_int_equal (rfk_config_size (again, "admin", "upload_max_bytes"), 1000000);
    assert_int_equal (rfk_config_size (again, "bus", "max_frame_bytes"), 3ull << 20);
    assert_false (rfk_config_bool (again, "", "log_stderr"));
    assert_string_equal (rfk_config_string (again, "admin", "jwt_secret"), "");
    rfk_config_destroy (&again);
    rfk_config_destroy (&config);
}

static void
test_data_path (void **state)
{
    (void)state;
    rfk_config_t *config = rfk_config_new ();
    char *path = rfk_config_data_path (config, "rafiki.db");
    assert_string_equal (path, "./var/rafiki.db");
    free (path);
    rfk_config_set (config, "", "data_dir", "/srv/", NULL);
    path = rfk_config_data_path (config, "logs");
    assert_string_equal (path, "/srv/logs");
    free (path);
    path = rfk_config_data_path (config, NULL);
    assert_string_equal (path, "/srv/");
    free (path);
    rfk_config_destroy (&config);
}

//  --------------------------------------------------------------------------
//  rfk_log

static void
test_log_file (void **state)
{
    (void)state;
    rfk_config_t *config = rfk_config_new ();
    char data_dir[512];
    snprintf (data_dir, sizeof data_dir, "%s/data", s_dir);
    rfk_config_set (config, "", "data_dir", data_dir, NULL);
    rfk_config_set (config, "", "log_stderr", "false", NULL);
    rfk_config_set (config, "", "log_level", "info", NULL);

    assert_int_equal (rfk_log_open (config, "trainer-42"), 0);
    char expected[600];
    snprintf (expected, sizeof expected, "%s/logs/trainer-42.log", data_dir);
    assert_string_equal (rfk_log_file (), expected);
    rfk_log_info ("trainer", "trial-started trial=%d knobs=%s", 7, "lr=0.1");
    rfk_log_warning ("trainer", "RFK-MALFORMED peer=%s", "abc");
    rfk_log_debug ("trainer", "not-written x=1");
    zsys_info ("straight from czmq");
    rfk_log_close ();
    rfk_log_info ("trainer", "after-close");

    char *text = s_read (expected);
    assert_non_null (text);
    assert_non_null (strstr (text, "I: (trainer-42) "));
    assert_non_null (strstr (text, " trainer: trial-started trial=7 knobs=lr=0.1\n"));
    assert_non_null (strstr (text, "W: (trainer-42) "));
    assert_non_null (strstr (text, " trainer: RFK-MALFORMED peer=abc\n"));
    assert_non_null (strstr (text, "straight from czmq"));
    assert_null (strstr (text, "not-written"));
    assert_null (strstr (text, "after-close"));
    free (text);

    //  Reopening appends; log_level debug lets debug lines through.
    rfk_config_set (config, "", "log_level", "debug", NULL);
    assert_int_equal (rfk_log_open (config, "trainer-42"), 0);
    rfk_log_debug ("trainer", "now-written");
    rfk_log_close ();
    text = s_read (expected);
    assert_non_null (strstr (text, "trial-started"));
    assert_non_null (strstr (text, "D: (trainer-42) "));
    assert_non_null (strstr (text, "now-written"));
    free (text);
    rfk_log_set_level (RFK_LOG_INFO);
    rfk_config_destroy (&config);
}

static void
test_log_stderr (void **state)
{
    (void)state;
    rfk_config_t *config = rfk_config_new ();
    rfk_config_set (config, "", "data_dir", s_dir, NULL);
    char captured[512];
    snprintf (captured, sizeof captured, "%s/stderr.txt", s_dir);
    int saved = dup (STDERR_FILENO);
    int fd = open (captured, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true (fd >= 0 && saved >= 0);
    dup2 (fd, STDERR_FILENO);
    close (fd);
    assert_int_equal (rfk_log_open (config, "admin"), 0);
    rfk_log_notice ("admin", "listening port=%d", 3000);
    rfk_log_close ();
    dup2 (saved, STDERR_FILENO);
    close (saved);
    char *text = s_read (captured);
    assert_non_null (strstr (text, "N: (admin) "));
    assert_non_null (strstr (text, "admin: listening port=3000\n"));
    free (text);
    rfk_config_destroy (&config);
}

static void
test_log_errors (void **state)
{
    (void)state;
    rfk_config_t *config = rfk_config_new ();
    rfk_config_set (config, "", "data_dir", s_dir, NULL);
    assert_int_equal (rfk_log_open (config, "../escape"), -1);
    assert_int_equal (errno, EINVAL);
    assert_int_equal (rfk_log_open (config, ""), -1);
    assert_int_equal (rfk_log_open (config, "a/b"), -1);

    //  data_dir under a regular file cannot be made.
    char data_dir[512];
    snprintf (data_dir, sizeof data_dir, "%s/plain/data", s_dir);
    s_write ("plain", "not a folder\n");
    rfk_config_set (config, "", "data_dir", data_dir, NULL);
    assert_int_equal (rfk_log_open (config, "admin"), -1);
    assert_int_equal (errno, ENOTDIR);
    assert_non_null (strstr (rfk_log_file (), "/plain/data/logs/admin.log"));

    rfk_log_level_t level;
    assert_int_equal (rfk_log_level_parse ("warning", &level), 0);
    assert_int_equal (level, RFK_LOG_WARNING);
    assert_int_equal (rfk_log_level_parse ("loud", &level), -1);
    assert_int_equal (rfk_log_level_parse (NULL, &level), -1);
    rfk_config_destroy (&config);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_usage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_defaults, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_table_is_sound, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_shipped_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unknown_keys, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wrong_types, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_out_of_range, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bounds_are_inclusive, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_strings_and_nulls, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_structure_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_syntax_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_missing_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_every_error_is_reported, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_env_overrides, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_env_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_load_reads_process_env, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rules, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_custom_table, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_dump_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_data_path, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_log_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_log_stderr, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_log_errors, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
