/*  store_fixture.c: a fresh, empty store for each test, on either backend.
    See store_fixture.h. */
#define _GNU_SOURCE
#include "store_fixture.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
store_fixture_backend (int argc, char **argv, bool *postgres)
{
    const char *name = argc > 1 ? argv[1] : "sqlite";
    if (strcmp (name, "sqlite") == 0)
        *postgres = false;
    else if (strcmp (name, "postgresql") == 0)
        *postgres = true;
    else
        return -1;
    return 0;
}

const char *
store_fixture_pg_url (void)
{
    const char *url = getenv ("RAFIKI_TEST_PG_URL");
    return url && *url ? url : NULL;
}

int
store_fixture_no_server (void)
{
    if (getenv ("RAFIKI_TEST_RUN")) {
        printf ("1..1\nnot ok 1 - RAFIKI_TEST_PG_URL is not set: test/servers/postgres did not "
                "start\n");
        return 1;
    }
    printf ("1..0 # SKIP RAFIKI_TEST_PG_URL is not set (test/run starts a server)\n");
    return 0;
}

/* The server URL with its database replaced by `database`. */
static char *
s_url_with_database (const char *url, const char *database)
{
    const char *scheme = strstr (url, "://");
    if (!scheme)
        return NULL;
    const char *path = strchr (scheme + 3, '/');
    const char *query = strchr (scheme + 3, '?');
    size_t host_len = path ? (size_t)(path - url) : query ? (size_t)(query - url) : strlen (url);
    char *result = NULL;
    if (asprintf (&result, "%.*s/%s%s", (int)host_len, url, database, query ? query : "") < 0)
        return NULL;
    return result;
}

static void
s_quiet (void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "database ... does not exist, skipping" */
}

/* Runs one statement on the server's own database (to create or drop ours). */
static int
s_pg_admin (const char *sql)
{
    PGconn *pg = PQconnectdb (store_fixture_pg_url ());
    if (PQstatus (pg) != CONNECTION_OK) {
        fprintf (stderr, "store_fixture: cannot reach PostgreSQL: %s", PQerrorMessage (pg));
        PQfinish (pg);
        return -1;
    }
    PQsetNoticeProcessor (pg, s_quiet, NULL);
    PGresult *res = PQexec (pg, sql);
    int rc = PQresultStatus (res) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        fprintf (stderr, "store_fixture: %s: %s", sql, PQerrorMessage (pg));
    PQclear (res);
    PQfinish (pg);
    return rc;
}

store_fixture_t *
store_fixture_new (bool postgres)
{
    static int counter = 0;
    store_fixture_t *self = (store_fixture_t *)calloc (1, sizeof (store_fixture_t));
    if (!self)
        return NULL;
    self->postgres = postgres;
    char dir[] = "/tmp/rafiki-store-test.XXXXXX";
    if (!mkdtemp (dir)) {
        perror ("store_fixture: mkdtemp");
        free (self);
        return NULL;
    }
    self->dir = strdup (dir);
    if (postgres) {
        if (!store_fixture_pg_url ()) {
            fprintf (stderr, "store_fixture: RAFIKI_TEST_PG_URL is not set\n");
            store_fixture_destroy (&self);
            return NULL;
        }
        if (asprintf (&self->database, "rfk_test_%d_%d", (int)getpid (), ++counter) < 0) {
            self->database = NULL;
            store_fixture_destroy (&self);
            return NULL;
        }
        char sql[128];
        snprintf (sql, sizeof sql, "CREATE DATABASE %s", self->database);
        self->url = s_url_with_database (store_fixture_pg_url (), self->database);
        if (!self->url || s_pg_admin (sql) != 0) {
            free (self->database);
            self->database = NULL;
            store_fixture_destroy (&self);
            return NULL;
        }
    } else if (asprintf (&self->url, "sqlite://%s/rafiki.db", self->dir) < 0) {
        self->url = NULL;
        store_fixture_destroy (&self);
        return NULL;
    }
    rfk_store_error_t err;
    self->store = rfk_store_open (self->url, self->dir, &err);
    if (!self->store) {
        fprintf (stderr, "store_fixture: cannot open %s: %s\n", self->url, err.message);
        store_fixture_destroy (&self);
        return NULL;
    }
    return self;
}

void
store_fixture_destroy (store_fixture_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_fixture_t *self = *self_p;
    rfk_store_destroy (&self->store);
    if (self->database) {
        char sql[160];
        snprintf (sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", self->database);
        s_pg_admin (sql);
    }
    if (self->dir) {
        const char *names[] = {"rafiki.db", "rafiki.db-wal", "rafiki.db-shm", "rafiki.db-journal"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            char path[512];
            snprintf (path, sizeof path, "%s/%s", self->dir, names[i]);
            unlink (path);
        }
        rmdir (self->dir);
    }
    free (self->dir);
    free (self->database);
    free (self->url);
    free (self);
    *self_p = NULL;
}

/* Runs sql on the fixture's database; returns the first cell of the first
   row as an integer in *value when value is not NULL. */
static int
s_direct (store_fixture_t *self, const char *sql, long long *value)
{
    int rc = -1;
    if (self->postgres) {
        PGconn *pg = PQconnectdb (self->url);
        PGresult *res = PQstatus (pg) == CONNECTION_OK ? PQexec (pg, sql) : NULL;
        ExecStatusType status = res ? PQresultStatus (res) : PGRES_FATAL_ERROR;
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
            rc = 0;
            if (value)
                *value = PQntuples (res) > 0 ? atoll (PQgetvalue (res, 0, 0)) : 0;
        } else
            fprintf (stderr, "store_fixture: %s: %s", sql, PQerrorMessage (pg));
        PQclear (res);
        PQfinish (pg);
        return rc;
    }
    char path[512];
    snprintf (path, sizeof path, "%s/rafiki.db", self->dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_open (path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK) {
        int step = sqlite3_step (stmt);
        if (step == SQLITE_ROW || step == SQLITE_DONE) {
            rc = 0;
            if (value)
                *value = step == SQLITE_ROW ? sqlite3_column_int64 (stmt, 0) : 0;
        }
    }
    if (rc != 0)
        fprintf (stderr, "store_fixture: %s: %s\n", sql, sqlite3_errmsg (db));
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    return rc;
}

int
store_fixture_sql (store_fixture_t *self, const char *sql)
{
    return s_direct (self, sql, NULL);
}

long long
store_fixture_count (store_fixture_t *self, const char *sql)
{
    long long value = -1;
    if (s_direct (self, sql, &value) != 0)
        return -1;
    return value;
}
