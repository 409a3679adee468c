/*  test_admin_files.c: what `rafikid up` keeps on disk, and how it reads it.

    Runs the built `rafikid up` as a user would, on free ports, and speaks
    HTTP to it with libcurl:
    - the token signing key is made once under <data_dir>/keys/ (0700,
      0600) and reused: a token from before a restart still works;
    - a damaged, linked or loose key file stops the start with its path;
    - the store file and uploads are 0600, nothing admin writes is readable
      by others (umask 077);
    - a symbolic link in place of a trial's parameters or a model's file
      is refused with 403 and a clear message, and admin keeps serving;
    - with RAFIKI_STORE_URL naming PostgreSQL, `up` uses it, not SQLite
      (argument `postgresql`; RAFIKI_TEST_PG_URL from test/servers/postgres;
      skipped without it, failed without it under test/run).
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <ftw.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rfk_store.h"
#include "rfk_test.h"

#define S_PASSWORD "Files-Integration-Pw-9182"
#define S_EMAIL "superadmin@rafiki"

//  --------------------------------------------------------------------------
//  HTTP: one request at a time against the running `up`

typedef struct {
    long status;  /* HTTP status, 0 if the transfer failed */
    char *body;   /* body, NUL-terminated, or NULL */
    size_t size;  /* its length */
    json_t *json; /* the body parsed, when it is JSON */
} response_t;

static size_t
s_on_body (char *data, size_t size, size_t n, void *arg)
{
    response_t *r = arg;
    size_t length = size * n;
    char *grown = realloc (r->body, r->size + length + 1);
    assert_non_null (grown);
    r->body = grown;
    memcpy (r->body + r->size, data, length);
    r->size += length;
    r->body[r->size] = 0;
    return length;
}

static void
s_free (response_t *r)
{
    free (r->body);
    json_decref (r->json);
    memset (r, 0, sizeof *r);
}

/* method path on port, with a bearer token and a JSON body when given; or
   a multipart upload when fields (NULL-ended "name=value") is given. */
static response_t
s_http (int port, const char *method, const char *path, const char *token, const char *body,
        const char **fields)
{
    response_t r = {0};
    CURL *curl = curl_easy_init ();
    assert_non_null (curl);
    char url[512];
    snprintf (url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *headers = NULL;
    char line[2048];
    if (token) {
        snprintf (line, sizeof line, "Authorization: Bearer %s", token);
        headers = curl_slist_append (headers, line);
    }
    if (body) {
        headers = curl_slist_append (headers, "Content-Type: application/json");
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
    }
    curl_mime *mime = NULL;
    if (fields) {
        mime = curl_mime_init (curl);
        for (size_t i = 0; fields[i]; i++) {
            const char *eq = strchr (fields[i], '=');
            char name[64];
            snprintf (name, sizeof name, "%.*s", (int)(eq - fields[i]), fields[i]);
            curl_mimepart *part = curl_mime_addpart (mime);
            curl_mime_name (part, name);
            if (streq (name, "dataset"))
                curl_mime_filename (part, "data.csv");
            curl_mime_data (part, eq + 1, CURL_ZERO_TERMINATED);
        }
        curl_easy_setopt (curl, CURLOPT_MIMEPOST, mime);
    }
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all (headers);
    curl_mime_free (mime);
    curl_easy_cleanup (curl);
    if (r.body)
        r.json = json_loads (r.body, JSON_DECODE_ANY, NULL);
    return r;
}

static const char *
s_error_message (const response_t *r)
{
    const char *message =
        json_string_value (json_object_get (json_object_get (r->json, "error"), "message"));
    return message ? message : "";
}

/* The superadmin's token (yours), or NULL. */
static char *
s_login (int port)
{
    response_t r = s_http (port, "POST", "/tokens", NULL,
                           "{\"email\":\"" S_EMAIL "\",\"password\":\"" S_PASSWORD "\"}", NULL);
    const char *token = json_string_value (json_object_get (r.json, "token"));
    char *copy = r.status == 200 && token ? strdup (token) : NULL;
    s_free (&r);
    return copy;
}

//  --------------------------------------------------------------------------
//  `rafikid up` on a data directory

typedef struct {
    pid_t pid;              /* the running `up` */
    rfk_test_ports_t ports; /* what it bound */
} up_t;

/* Starts `up` on data_dir with more NAME=value vars; 0 once it listens, -1
   when it ended first (then *status is its exit status). */
static int
s_up_start (const char *data_dir, const char *const *vars, up_t *up, int *status)
{
    rfk_test_up_t how = {.data_dir = data_dir, .password = S_PASSWORD, .vars = vars};
    up->pid = rfk_test_up_spawn (&how);
    assert_true (up->pid > 0);
    if (rfk_test_wait_ports (data_dir, up->pid, 60000, &up->ports) == 0)
        return 0;
    *status = rfk_test_wait_child (up->pid, 60000);
    up->pid = 0;
    return -1;
}

static void
s_up_stop (up_t *up, const char *data_dir)
{
    assert_int_equal (kill (up->pid, SIGTERM), 0);
    assert_int_equal (rfk_test_wait_child (up->pid, 60000), 0);
    up->pid = 0;
    //  The next start writes the file again; a stale one would be read.
    char path[512];
    snprintf (path, sizeof path, "%s/rafikid.ports", data_dir);
    unlink (path);
}

static mode_t
s_mode (const char *data_dir, const char *sub)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", data_dir, sub);
    struct stat info;
    assert_int_equal (lstat (path, &info), 0);
    return info.st_mode & 07777;
}

static char *
s_file_text (const char *data_dir, const char *sub)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", data_dir, sub);
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    char *text = NULL;
    size_t size = 0;
    ssize_t got = getdelim (&text, &size, 0, file);
    fclose (file);
    if (got < 0)
        free (text);
    return got < 0 ? NULL : text;
}

static void
s_write (const char *data_dir, const char *sub, const char *text, mode_t mode)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", data_dir, sub);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
    assert_int_equal (chmod (path, mode), 0);
}

/* Files (not folders) under data_dir that others may read or write. */
static int s_loose;
static int
s_count_loose (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_F && (st->st_mode & 077)) {
        fprintf (stderr, "# loose file %s mode %04o\n", path, (unsigned)(st->st_mode & 07777));
        s_loose++;
    }
    return 0;
}

static int
s_loose_files (const char *data_dir)
{
    s_loose = 0;
    nftw (data_dir, s_count_loose, 16, FTW_PHYS);
    return s_loose;
}

//  --------------------------------------------------------------------------
//  Tokens survive a restart

/* The usage: log in, restart, the token still works; the key is private. */
static void
test_tokens_survive_restart (void **state)
{
    (void)state;
    char *data_dir = rfk_test_tmpdir_new ("admin-files");
    up_t up = {0};
    int status = 0;
    assert_int_equal (s_up_start (data_dir, NULL, &up, &status), 0);
    char *token = s_login (up.ports.http);
    assert_non_null (token);
    response_t r = s_http (up.ports.http, "GET", "/users", token, NULL, NULL);
    assert_int_equal (r.status, 200);
    s_free (&r);
    s_up_stop (&up, data_dir);

    assert_int_equal (s_mode (data_dir, "keys"), 0700);
    assert_int_equal (s_mode (data_dir, "keys/jwt.key"), 0600);
    assert_int_equal (s_mode (data_dir, "rafiki.db"), 0600);
    char *key = s_file_text (data_dir, "keys/jwt.key");
    assert_non_null (key);
    assert_int_equal (strlen (key), 65);

    assert_int_equal (s_up_start (data_dir, NULL, &up, &status), 0);
    r = s_http (up.ports.http, "GET", "/users", token, NULL, NULL);
    assert_int_equal (r.status, 200);
    s_free (&r);
    s_up_stop (&up, data_dir);
    char *again = s_file_text (data_dir, "keys/jwt.key");
    assert_string_equal (again, key);
    assert_int_equal (s_loose_files (data_dir), 0);
    free (again);
    free (key);
    free (token);
    rfk_test_tmpdir_destroy (&data_dir);
}

/* `up` fails to start; its log names the reason. */
static void
s_assert_start_fails (const char *data_dir, const char *reason)
{
    up_t up = {0};
    int status = 0;
    assert_int_equal (s_up_start (data_dir, NULL, &up, &status), -1);
    assert_int_not_equal (status, 0);
    char *log = s_file_text (data_dir, "logs/up.log");
    assert_non_null (log);
    if (!strstr (log, reason))
        fail_msg ("the log does not say \"%s\":\n%s", reason, log);
    free (log);
}

/* A key file that is not what admin wrote stops the start, with its path. */
static void
test_damaged_key_refused (void **state)
{
    (void)state;
    char *data_dir = rfk_test_tmpdir_new ("admin-files");
    char path[512];
    snprintf (path, sizeof path, "%s/keys", data_dir);
    assert_int_equal (mkdir (path, 0700), 0);
    s_write (data_dir, "keys/jwt.key", "not a key\n", 0600);
    snprintf (path, sizeof path, "the key file %s/keys/jwt.key is 10 bytes, not 65", data_dir);
    s_assert_start_fails (data_dir, path);

    //  The right size but not hex.
    char text[66];
    memset (text, 'z', 64);
    text[64] = '\n';
    text[65] = 0;
    s_write (data_dir, "keys/jwt.key", text, 0600);
    s_assert_start_fails (data_dir, "is not 32 bytes in hex");

    //  Readable by others.
    memset (text, 'a', 64);
    s_write (data_dir, "keys/jwt.key", text, 0644);
    s_assert_start_fails (data_dir, "has mode 0644; it must be 0600");

    //  A symbolic link.
    snprintf (path, sizeof path, "%s/keys/jwt.key", data_dir);
    assert_int_equal (unlink (path), 0);
    s_write (data_dir, "elsewhere.key", text, 0600);
    assert_int_equal (symlink ("../elsewhere.key", path), 0);
    s_assert_start_fails (data_dir, "jwt.key: it is a symbolic link");
    rfk_test_tmpdir_destroy (&data_dir);
}

//  --------------------------------------------------------------------------
//  File modes and links

/* An uploaded dataset is 0600, as is everything else admin wrote. */
static void
test_upload_modes (void **state)
{
    (void)state;
    char *data_dir = rfk_test_tmpdir_new ("admin-files");
    up_t up = {0};
    int status = 0;
    assert_int_equal (s_up_start (data_dir, NULL, &up, &status), 0);
    char *token = s_login (up.ports.http);
    assert_non_null (token);
    const char *fields[] = {"name=iris", "task=TABULAR_CLASSIFICATION",
                            "dataset=a,b,label\n1,2,0\n3,4,1\n", NULL};
    response_t r = s_http (up.ports.http, "POST", "/datasets", token, NULL, fields);
    assert_int_equal (r.status, 200);
    s_free (&r);
    assert_int_equal (s_mode (data_dir, "rafiki.db"), 0600);
    assert_int_equal (s_loose_files (data_dir), 0);
    s_up_stop (&up, data_dir);
    assert_int_equal (s_loose_files (data_dir), 0);
    free (token);
    rfk_test_tmpdir_destroy (&data_dir);
}

/* Records of a model and a trial with files, written into the stopped
   admin's store: the trial's id and the model's id (yours). */
static void
s_seed_records (const char *data_dir, char **trial_ids, char **model_id)
{
    rfk_store_error_t error = {0};
    rfk_store_t *store = rfk_store_open ("", data_dir, &error);
    assert_non_null (store);
    rfk_user_t *user = rfk_store_get_user_by_email (store, S_EMAIL);
    assert_non_null (user);
    rfk_dataset_t dataset_in = {.name = "d",
                                .task = "TABULAR_CLASSIFICATION",
                                .owner_id = user->id,
                                .store_dataset_id = "d.csv"};
    rfk_dataset_t *dataset = rfk_store_create_dataset (store, &dataset_in);
    assert_non_null (dataset);
    rfk_model_t model_in = {.user_id = user->id,
                            .name = "linked",
                            .task = "TABULAR_CLASSIFICATION",
                            .model_class = "Linked",
                            .model_file = "linked.so",
                            .access_right = "PRIVATE"};
    rfk_model_t *model = rfk_store_create_model (store, &model_in);
    assert_non_null (model);
    rfk_sub_train_job_t sub_in = {.model_id = model->id};
    json_t *budget = json_pack ("{s:i}", "MODEL_TRIAL_COUNT", 2);
    rfk_train_job_t job_in = {.user_id = user->id,
                              .app = "files",
                              .task = "TABULAR_CLASSIFICATION",
                              .budget = budget,
                              .train_dataset_id = dataset->id,
                              .val_dataset_id = dataset->id,
                              .sub_train_job_count = 1,
                              .sub_train_jobs = &sub_in};
    rfk_train_job_t *job = rfk_store_create_train_job (store, &job_in);
    json_decref (budget);
    assert_non_null (job);
    const char *params[] = {"good.params", "linked.params"};
    for (int i = 0; i < 2; i++) {
        rfk_trial_t trial_in = {
            .sub_train_job_id = job->sub_train_jobs[0].id, .model_id = model->id, .score = 0.5};
        rfk_trial_t *trial = rfk_store_create_trial (store, &trial_in);
        assert_non_null (trial);
        trial->status = RFK_TRIAL_COMPLETED;
        trial->store_params_id = strdup (params[i]);
        assert_int_equal (rfk_store_update_trial (store, trial), 0);
        trial_ids[i] = strdup (trial->id);
        rfk_trial_destroy (&trial);
    }
    *model_id = strdup (model->id);
    rfk_train_job_destroy (&job);
    rfk_model_destroy (&model);
    rfk_dataset_destroy (&dataset);
    rfk_user_destroy (&user);
    rfk_store_destroy (&store);
}

/* A link in place of parameters or a template: 403, said plainly, and
   admin keeps serving. */
static void
test_linked_files_refused (void **state)
{
    (void)state;
    char *data_dir = rfk_test_tmpdir_new ("admin-files");
    up_t up = {0};
    int status = 0;
    assert_int_equal (s_up_start (data_dir, NULL, &up, &status), 0);
    s_up_stop (&up, data_dir);
    char *trials[2] = {NULL, NULL}, *model = NULL;
    s_seed_records (data_dir, trials, &model);
    s_write (data_dir, "params/good.params", "parameters", 0600);
    char path[512];
    snprintf (path, sizeof path, "%s/params/linked.params", data_dir);
    assert_int_equal (symlink ("../rafiki.db", path), 0);
    snprintf (path, sizeof path, "%s/models/linked.so", data_dir);
    assert_int_equal (symlink ("/etc/hostname", path), 0);

    assert_int_equal (s_up_start (data_dir, NULL, &up, &status), 0);
    char *token = s_login (up.ports.http);
    assert_non_null (token);
    char url[256];
    snprintf (url, sizeof url, "/trials/%s/parameters", trials[0]);
    response_t r = s_http (up.ports.http, "GET", url, token, NULL, NULL);
    assert_int_equal (r.status, 200);
    assert_string_equal (r.body, "parameters");
    s_free (&r);
    snprintf (url, sizeof url, "/trials/%s/parameters", trials[1]);
    r = s_http (up.ports.http, "GET", url, token, NULL, NULL);
    assert_int_equal (r.status, 403);
    assert_non_null (strstr (s_error_message (&r), "is a symbolic link"));
    s_free (&r);
    snprintf (url, sizeof url, "/models/%s/model_file", model);
    r = s_http (up.ports.http, "GET", url, token, NULL, NULL);
    assert_int_equal (r.status, 403);
    assert_non_null (strstr (s_error_message (&r), "linked.so is a symbolic link"));
    s_free (&r);
    r = s_http (up.ports.http, "GET", "/healthz", NULL, NULL, NULL);
    assert_int_equal (r.status, 200);
    s_free (&r);
    s_up_stop (&up, data_dir);
    free (token);
    free (trials[0]);
    free (trials[1]);
    free (model);
    rfk_test_tmpdir_destroy (&data_dir);
}

//  --------------------------------------------------------------------------
//  RAFIKI_STORE_URL

/* Runs sql on the server's own database; 0 on success. */
static int
s_pg_exec (const char *url, const char *sql, char *value, size_t size)
{
    PGconn *pg = PQconnectdb (url);
    int rc = -1;
    if (PQstatus (pg) == CONNECTION_OK) {
        PGresult *res = PQexec (pg, sql);
        ExecStatusType got = PQresultStatus (res);
        rc = got == PGRES_COMMAND_OK || got == PGRES_TUPLES_OK ? 0 : -1;
        if (rc == 0 && value && PQntuples (res) > 0)
            snprintf (value, size, "%s", PQgetvalue (res, 0, 0));
        if (rc != 0)
            fprintf (stderr, "# %s: %s", sql, PQerrorMessage (pg));
        PQclear (res);
    } else
        fprintf (stderr, "# cannot reach PostgreSQL: %s", PQerrorMessage (pg));
    PQfinish (pg);
    return rc;
}

/* `up` with RAFIKI_STORE_URL=postgresql://... keeps its users there. */
static void
test_store_url_postgres (void **state)
{
    (void)state;
    const char *server = getenv ("RAFIKI_TEST_PG_URL");
    assert_non_null (server);
    char database[64], sql[128];
    snprintf (database, sizeof database, "rfk_admin_files_%d", (int)getpid ());
    snprintf (sql, sizeof sql, "CREATE DATABASE %s", database);
    assert_int_equal (s_pg_exec (server, sql, NULL, 0), 0);
    //  The server's URL with our database in place of its own.
    const char *slash = strchr (strstr (server, "://") + 3, '/');
    const char *query = strchr (server, '?');
    size_t host = slash   ? (size_t)(slash - server)
                  : query ? (size_t)(query - server)
                          : strlen (server);
    char url[1024], var[1100];
    snprintf (url, sizeof url, "%.*s/%s%s", (int)host, server, database, query ? query : "");
    snprintf (var, sizeof var, "RAFIKI_STORE_URL=%s", url);

    char *data_dir = rfk_test_tmpdir_new ("admin-files");
    const char *vars[] = {var, NULL};
    up_t up = {0};
    int status = 0;
    assert_int_equal (s_up_start (data_dir, vars, &up, &status), 0);
    char *token = s_login (up.ports.http);
    assert_non_null (token);
    s_up_stop (&up, data_dir);
    char path[512];
    snprintf (path, sizeof path, "%s/rafiki.db", data_dir);
    assert_int_not_equal (access (path, F_OK), 0);
    char count[32] = "";
    assert_int_equal (s_pg_exec (url, "SELECT count(*) FROM users WHERE email = '" S_EMAIL "'",
                                 count, sizeof count),
                      0);
    assert_string_equal (count, "1");
    char *log = s_file_text (data_dir, "logs/up.log");
    assert_non_null (log);
    assert_null (strstr (log, "store-url-ignored"));
    assert_non_null (strstr (log, "store=postgresql"));
    free (log);
    free (token);
    snprintf (sql, sizeof sql, "DROP DATABASE %s", database);
    assert_int_equal (s_pg_exec (server, sql, NULL, 0), 0);
    rfk_test_tmpdir_destroy (&data_dir);
}

/* `test_admin_files` runs the SQLite cases; `test_admin_files postgresql`
   the PostgreSQL one, which skips without RAFIKI_TEST_PG_URL (and fails
   without it under test/run, which starts the server). */
int
main (int argc, char **argv)
{
    bool postgres = argc > 1 && streq (argv[1], "postgresql");
    const char *server = getenv ("RAFIKI_TEST_PG_URL");
    if (postgres && (!server || !*server)) {
        if (getenv ("RAFIKI_TEST_RUN")) {
            printf ("1..1\nnot ok 1 - RAFIKI_TEST_PG_URL is not set: test/servers/postgres did "
                    "not start\n");
            return 1;
        }
        printf ("1..0 # SKIP RAFIKI_TEST_PG_URL is not set (test/servers/postgres start)\n");
        return 0;
    }
    curl_global_init (CURL_GLOBAL_ALL);
    const struct CMUnitTest sqlite[] = {
        cmocka_unit_test (test_tokens_survive_restart),
        cmocka_unit_test (test_damaged_key_refused),
        cmocka_unit_test (test_upload_modes),
        cmocka_unit_test (test_linked_files_refused),
    };
    const struct CMUnitTest postgresql[] = {
        cmocka_unit_test (test_store_url_postgres),
    };
    int failed = postgres ? cmocka_run_group_tests (postgresql, NULL, NULL)
                          : cmocka_run_group_tests (sqlite, NULL, NULL);
    curl_global_cleanup ();
    return failed;
}
