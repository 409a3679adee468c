/*  test_template_check.c: admin's template check, through the real
    `rafikid up` and its HTTP front (issue 13).

    One `rafikid up` on a temporary data directory, given its secrets in its
    environment (the superadmin password, the JWT key, a PostgreSQL
    password). Model uploads over HTTP: a good template's knob table is
    stored and shown by GET /models/ID; a template whose constructor writes
    out its environment and descriptors saw an empty environment and none of
    admin's sockets or files; names of 10 KiB or with control characters are
    refused saying so, also in a report the template forged itself; a grandchild a template forks
   does not outlive the check, whether the check ended or ran out of time. Last, admin's
    /proc/<pid>/environ holds none of the secret values.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rfk_test.h"

#define S_PASSWORD "Check-Pw-secret-5521"
#define S_JWT "jwt-secret-value-0123456789abcdef0123456789abcdef"
#define S_PG "pg-secret-value-8812"
#define S_WAIT_MS 30000

static char s_dir[64];  /* admin's data directory */
static pid_t s_pid;     /* the rafikid up */
static char s_base[64]; /* http://127.0.0.1:PORT */
static char *s_token;   /* the superadmin's */

/* ---- HTTP ---------------------------------------------------------------- */

typedef struct {
    long status;  /* HTTP status, 0 when the transfer failed */
    char *body;   /* the body, NUL-terminated */
    size_t size;  /* its length */
    json_t *json; /* the body parsed, or NULL */
} response_t;

static size_t
s_on_body (char *data, size_t size, size_t n, void *arg)
{
    response_t *r = arg;
    char *grown = realloc (r->body, r->size + size * n + 1);
    assert_non_null (grown);
    r->body = grown;
    memcpy (r->body + r->size, data, size * n);
    r->size += size * n;
    r->body[r->size] = 0;
    return size * n;
}

/* A request: body JSON (or NULL), or with file_path a model upload named
   name of that file. */
static response_t
s_request (const char *method, const char *path, const char *body, const char *name,
           const char *file_path)
{
    response_t r = {0};
    CURL *curl = curl_easy_init ();
    char url[256], auth[1024];
    snprintf (url, sizeof url, "%s%s", s_base, path);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    if (s_token) {
        snprintf (auth, sizeof auth, "Authorization: Bearer %s", s_token);
        headers = curl_slist_append (headers, auth);
    }
    curl_mime *mime = NULL;
    if (file_path) {
        curl_slist_free_all (headers);
        headers = curl_slist_append (NULL, auth);
        mime = curl_mime_init (curl);
        const char *fields[][2] = {{"name", name}, {"task", "TABULAR_CLASSIFICATION"}};
        for (size_t index = 0; index < 2; index++) {
            curl_mimepart *part = curl_mime_addpart (mime);
            curl_mime_name (part, fields[index][0]);
            curl_mime_data (part, fields[index][1], CURL_ZERO_TERMINATED);
        }
        curl_mimepart *part = curl_mime_addpart (mime);
        curl_mime_name (part, "model_file_bytes");
        assert_int_equal (curl_mime_filedata (part, file_path), CURLE_OK);
        curl_easy_setopt (curl, CURLOPT_MIMEPOST, mime);
    } else if (body)
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &r.status);
    curl_mime_free (mime);
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    if (r.body)
        r.json = json_loads (r.body, 0, NULL);
    return r;
}

static void
s_free (response_t *r)
{
    free (r->body);
    json_decref (r->json);
    *r = (response_t){0};
}

/* Upload the template named by environment variable `variable` as model
   name. */
static response_t
s_upload (const char *variable, const char *name)
{
    const char *path = getenv (variable);
    if (!path)
        fail_msg ("%s is not set", variable);
    return s_request ("POST", "/models", NULL, name, path);
}

/* ---- the admin under test -------------------------------------------------- */

static int
s_remove (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove (path);
}

/* SPY_DIR emptied, writable by the templates. */
static const char *
s_spy_dir (void)
{
    const char *dir = getenv ("SPY_DIR");
    assert_non_null (dir);
    nftw (dir, s_remove, 8, FTW_DEPTH | FTW_PHYS);
    assert_int_equal (mkdir (dir, 0777), 0);
    return dir;
}

static int
s_setup (void **state)
{
    (void)state;
    snprintf (s_dir, sizeof s_dir, "/tmp/rfk-check-XXXXXX");
    assert_non_null (mkdtemp (s_dir));
    char data_dir[128];
    snprintf (data_dir, sizeof data_dir, "RAFIKI_DATA_DIR=%s", s_dir);
    const char *vars[] = {data_dir, "RAFIKI_ADMIN_COMMAND_PORT=0", "RAFIKI_ADMIN_SERVICE_PORT=0",
                          "RAFIKI_ADMIN_EVENTS_PORT=0", "RAFIKI_ADMIN_HTTP_PORT=0",
                          "RAFIKI_LOG_STDERR=false", "RAFIKI_SUPERADMIN_PASSWORD=" S_PASSWORD,
                          "RAFIKI_ADMIN_JWT_SECRET=" S_JWT, "PGPASSWORD=" S_PG,
                          //  The check program's own containment (environment,
                          //  descriptors, process group) is what this suite shows:
                          //  its spies write what they saw to SPY_DIR, which the
                          //  sandbox around the check would (rightly) hide.
                          "RAFIKI_LAUNCHER_SANDBOX=off", NULL};
    const char *args[] = {"up", NULL};
    s_pid = rfk_test_rafikid_spawn (args, vars, true);
    assert_true (s_pid > 0);
    rfk_test_ports_t ports;
    if (rfk_test_wait_ports (s_dir, s_pid, S_WAIT_MS, &ports) != 0 || ports.http <= 0)
        fail_msg ("rafikid up wrote no ports file in %s", s_dir);
    snprintf (s_base, sizeof s_base, "http://127.0.0.1:%d", ports.http);
    response_t r = s_request (
        "POST", "/tokens", "{\"email\": \"superadmin@rafiki\", \"password\": \"" S_PASSWORD "\"}",
        NULL, NULL);
    assert_int_equal (r.status, 200);
    s_token = strdup (json_string_value (json_object_get (r.json, "token")));
    s_free (&r);
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    kill (s_pid, SIGTERM);
    assert_int_equal (rfk_test_wait_child (s_pid, S_WAIT_MS), 0);
    free (s_token);
    s_token = NULL;
    nftw (s_dir, s_remove, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* The whole of a file, NUL-terminated (NULL when it cannot be read); its
   length in *size_p when not NULL. */
static char *
s_slurp (const char *path, size_t *size_p)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    char *text = NULL;
    size_t size = 0, got;
    char buffer[4096];
    while ((got = fread (buffer, 1, sizeof buffer, file)) > 0) {
        text = realloc (text, size + got + 1);
        memcpy (text + size, buffer, got);
        size += got;
    }
    fclose (file);
    if (!text)
        text = calloc (1, 1);
    text[size] = 0;
    if (size_p)
        *size_p = size;
    return text;
}

/* True once process pid is gone (or a zombie nobody reaps), within 5 s. */
static bool
s_gone (pid_t pid)
{
    for (int tries = 0; tries < 500; tries++) {
        char path[64];
        snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
        char *stat = s_slurp (path, NULL);
        const char *state = stat ? strrchr (stat, ')') : NULL;
        bool zombie = state && (state[2] == 'Z' || state[2] == 'X');
        free (stat);
        if (!state || zombie)
            return true;
        usleep (10000);
    }
    return false;
}

/* ---- the tests ------------------------------------------------------------- */

/* Usage: a good template is accepted and its knob table kept with the
   model (shown by the upload's answer and GET /models/ID). */
static void
test_good_upload_stores_knobs (void **state)
{
    (void)state;
    response_t r = s_upload ("TPL_GOOD", "good");
    if (r.status != 200)
        fail_msg ("%ld %s", r.status, r.body);
    const char *expected = "[{\"name\": \"depth\", \"type\": \"INTEGER\", \"min\": 1, \"max\": 8}]";
    json_t *table = json_loads (expected, 0, NULL);
    assert_true (json_equal (json_object_get (r.json, "knobs"), table));
    assert_string_equal (json_string_value (json_object_get (r.json, "model_class")), "TestGood");
    char path[128];
    snprintf (path, sizeof path, "/models/%s", json_string_value (json_object_get (r.json, "id")));
    s_free (&r);
    r = s_request ("GET", path, NULL, NULL, NULL);
    assert_int_equal (r.status, 200);
    assert_true (json_equal (json_object_get (r.json, "knobs"), table));
    json_decref (table);
    s_free (&r);
}

/* A constructor that writes out what it sees: no environment at all, and
   of descriptors only /dev/null, the pipe and what it opened itself. */
static void
test_spy_sees_nothing (void **state)
{
    (void)state;
    const char *spy_dir = s_spy_dir ();
    response_t r = s_upload ("TPL_SPY", "spy");
    if (r.status != 200)
        fail_msg ("%ld %s", r.status, r.body);
    s_free (&r);
    char path[512];
    snprintf (path, sizeof path, "%s/spy", spy_dir);
    char *seen = s_slurp (path, NULL);
    assert_non_null (seen);
    for (char *line = seen; *line;) {
        char *end = strchrnul (line, '\n');
        print_message ("# the template saw: %.*s\n", (int)(end - line), line);
        line = *end ? end + 1 : end;
    }
    assert_null (strstr (seen, "env "));
    assert_null (strstr (seen, "socket:"));
    assert_null (strstr (seen, s_dir));
    assert_null (strstr (seen, S_PASSWORD));
    assert_null (strstr (seen, S_JWT));
    //  Every descriptor is one of: stdin/stderr on /dev/null, the report
    //  pipe (and its private copy), the folder listing, the spy file.
    for (char *line = strtok (seen, "\n"); line; line = strtok (NULL, "\n")) {
        const char *target = strstr (line, "-> ");
        assert_non_null (target);
        target += 3;
        bool known = streq (target, "/dev/null") || strncmp (target, "pipe:", 5) == 0 ||
                     strncmp (target, "/proc/", 6) == 0 || strstr (target, "/spy");
        if (!known)
            fail_msg ("the template could see %s", line);
    }
    free (seen);
}

/* Names of 10 KiB or with a control character are refused, saying so; the
   refusal carries none of the name's bytes that are not printable. */
static void
test_names_refused (void **state)
{
    (void)state;
    const char *cases[][3] = {
        {"TPL_LONG_NAME", "long", "longer than 128 bytes"},
        {"TPL_CONTROL_NAME", "control", "control character"},
        //  A report the template forged itself: admin checks what it reads.
        {"TPL_FORGE", "forge", "control character"},
    };
    for (size_t index = 0; index < 3; index++) {
        response_t r = s_upload (cases[index][0], cases[index][1]);
        print_message ("# %s: %ld %s\n", cases[index][1], r.status, r.body);
        assert_int_equal (r.status, 400);
        assert_non_null (strstr (r.body, cases[index][2]));
        assert_null (strchr (r.body, '\x1b'));
        assert_true (r.size < 4096);
        s_free (&r);
    }
    response_t r = s_request ("GET", "/models/available", NULL, NULL, NULL);
    assert_null (strstr (r.body, "\"long\""));
    assert_null (strstr (r.body, "\"control\""));
    assert_null (strstr (r.body, "\"forge\""));
    s_free (&r);
}

/* The pid a grandchild wrote into SPY_DIR/grandchild-KIND.pid. */
static pid_t
s_grandchild (const char *spy_dir, const char *kind)
{
    char path[512];
    snprintf (path, sizeof path, "%s/grandchild-%s.pid", spy_dir, kind);
    char *text = s_slurp (path, NULL);
    if (!text)
        fail_msg ("no %s: the grandchild did not start", path);
    pid_t pid = (pid_t)atoi (text);
    free (text);
    assert_true (pid > 1);
    return pid;
}

/* A grandchild left sleeping dies with its check's process group: when
   the check ended (the template is good), and when it ran out of time. */
static void
test_grandchild_killed (void **state)
{
    (void)state;
    const char *spy_dir = s_spy_dir ();
    response_t r = s_upload ("TPL_GRANDCHILD_QUICK", "quick");
    if (r.status != 200)
        fail_msg ("%ld %s", r.status, r.body);
    s_free (&r);
    pid_t quick = s_grandchild (spy_dir, "quick");
    assert_true (s_gone (quick));
    r = s_upload ("TPL_GRANDCHILD_HANG", "hang");
    print_message ("# hang: %ld %s\n", r.status, r.body);
    assert_int_equal (r.status, 400);
    assert_non_null (strstr (r.body, "did not finish loading"));
    s_free (&r);
    pid_t hang = s_grandchild (spy_dir, "hang");
    assert_true (s_gone (hang));
}

/* Admin took its secrets out of its environment: /proc/<pid>/environ (the
   block it was started with) holds none of their values. */
static void
test_admin_environ_clean (void **state)
{
    (void)state;
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/environ", (int)s_pid);
    size_t size = 0;
    char *block = s_slurp (path, &size);
    if (!block) {
        //  Not dumpable: only a privileged reader may look; that is the point.
        print_message ("# %s cannot be read: %s\n", path, strerror (errno));
        return;
    }
    const char *secrets[] = {S_PASSWORD, S_JWT, S_PG};
    for (size_t index = 0; index < 3; index++)
        if (memmem (block, size, secrets[index], strlen (secrets[index])))
            fail_msg ("%s still shows %s", path, secrets[index]);
    assert_non_null (memmem (block, size, "RAFIKI_DATA_DIR=", 16)); //  it was read
    free (block);
}

int
main (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_good_upload_stores_knobs),
        cmocka_unit_test (test_spy_sees_nothing),
        cmocka_unit_test (test_names_refused),
        cmocka_unit_test (test_grandchild_killed),
        cmocka_unit_test (test_admin_environ_clean),
    };
    int failed = cmocka_run_group_tests (tests, s_setup, s_teardown);
    curl_global_cleanup ();
    return failed;
}
