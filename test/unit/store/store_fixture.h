/*  store_fixture.h: a fresh, empty store for each test, on either backend.

    The store tests, the crash test and the benchmark run the same code
    against SQLite and PostgreSQL. A fixture is a store in a new temporary
    folder (SQLite) or a new database on the server RAFIKI_TEST_PG_URL names
    (PostgreSQL), removed again by store_fixture_destroy. test/run starts that
    server (test/servers/postgres); without it the PostgreSQL half reports
    SKIP.
*/
#ifndef STORE_FIXTURE_H_INCLUDED
#define STORE_FIXTURE_H_INCLUDED

#include "rfk_store.h"

typedef struct {
    bool postgres;      /* which backend */
    char *dir;          /* a temporary folder (both backends: the data dir) */
    char *database;     /* PostgreSQL: the database made for this fixture */
    char *url;          /* the store URL to open */
    rfk_store_t *store; /* opened by store_fixture_new */
} store_fixture_t;

/* "sqlite" or "postgresql" from argv[1] (default sqlite); sets *postgres.
   Returns -1 for an unknown name. */
int
store_fixture_backend (int argc, char **argv, bool *postgres);
/* The PostgreSQL server's URL, or NULL when RAFIKI_TEST_PG_URL is unset. */
const char *
store_fixture_pg_url (void);
/* When the PostgreSQL run has no server: TAP that says SKIP when run by hand,
   or a failure under test/run (RAFIKI_TEST_RUN is set), which always starts
   one. Returns the exit status for main. */
int
store_fixture_no_server (void);
/* A fresh store; NULL (with a message on stderr) when it cannot be made. */
store_fixture_t *
store_fixture_new (bool postgres);
/* Closes the store if open and removes the database or folder. */
void
store_fixture_destroy (store_fixture_t **self_p);
/* Runs SQL directly on the fixture's database, outside the store. 0 or -1. */
int
store_fixture_sql (store_fixture_t *self, const char *sql);
/* The first cell of a query run directly on the database, as an integer. */
long long
store_fixture_count (store_fixture_t *self, const char *sql);

#endif
