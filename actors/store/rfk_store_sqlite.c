/*  rfk_store_sqlite.c: the SQLite backend of the metadata store.

    The embedded default: one database file, opened with the WAL journal (one
    writer and many readers, a crash loses no committed transaction),
    synchronous=NORMAL, a busy timeout so a second process waits for the
    write lock instead of failing at once, and foreign keys on. Write
    transactions begin IMMEDIATE so the write lock is taken up front and a
    transaction never fails half way for lack of it. Statements are prepared
    once and kept per SQL text; $N placeholders are bound by name.
*/
#include "rfk_store_driver.h"

#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 5000

typedef struct {
    sqlite3 *db;          /* the connection */
    zhashx_t *statements; /* SQL text -> prepared sqlite3_stmt */
} s_conn_t;

static void
s_statement_destroy (void **item)
{
    sqlite3_finalize ((sqlite3_stmt *)*item);
    *item = NULL;
}

/* Maps the connection's last error to a fault. */
static void
s_fault (s_conn_t *self, int rc, rfk_store_fault_t *fault)
{
    int extended = self && self->db ? sqlite3_extended_errcode (self->db) : rc;
    const char *what = self && self->db ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc);
    fault->unique = false;
    fault->foreign_key = false;
    switch (rc & 0xff) {
        case SQLITE_CONSTRAINT:
            if (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY) {
                fault->code = RFK_CODE_CONFLICT;
                fault->unique = true;
            } else if (extended == SQLITE_CONSTRAINT_FOREIGNKEY) {
                fault->code = RFK_CODE_NOT_FOUND;
                fault->foreign_key = true;
            } else {
                fault->code = RFK_CODE_BAD_REQUEST;
            }
            break;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_FULL:
        case SQLITE_IOERR:
        case SQLITE_CANTOPEN:
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_NOMEM:
            fault->code = RFK_CODE_UNAVAILABLE;
            break;
        default:
            fault->code = RFK_CODE_INTERNAL;
    }
    snprintf (fault->message, sizeof fault->message, "sqlite: %s", what);
}

static void
s_close (void **conn_p)
{
    if (!conn_p || !*conn_p)
        return;
    s_conn_t *self = (s_conn_t *)*conn_p;
    zhashx_destroy (&self->statements);
    sqlite3_close (self->db);
    free (self);
    *conn_p = NULL;
}

static void *
s_open (const char *path, rfk_store_fault_t *fault)
{
    s_conn_t *self = (s_conn_t *)calloc (1, sizeof (s_conn_t));
    if (!self) {
        fault->code = RFK_CODE_UNAVAILABLE;
        snprintf (fault->message, sizeof fault->message, "sqlite: out of memory");
        return NULL;
    }
    int rc = sqlite3_open_v2 (
        path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        s_fault (self, rc, fault);
        fault->code = RFK_CODE_UNAVAILABLE;
        snprintf (fault->message, sizeof fault->message, "sqlite: cannot open %s: %s", path,
                  self->db ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc));
        void *conn = self;
        s_close (&conn);
        return NULL;
    }
    sqlite3_extended_result_codes (self->db, 1);
    sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);
    char *errmsg = NULL;
    rc = sqlite3_exec (self->db,
                       "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                       "PRAGMA foreign_keys = ON;",
                       NULL, NULL, &errmsg);
    if (rc != SQLITE_OK) {
        s_fault (self, rc, fault);
        fault->code = RFK_CODE_UNAVAILABLE;
        snprintf (fault->message, sizeof fault->message, "sqlite: cannot set up %s: %s", path,
                  errmsg ? errmsg : sqlite3_errstr (rc));
        sqlite3_free (errmsg);
        void *conn = self;
        s_close (&conn);
        return NULL;
    }
    self->statements = zhashx_new ();
    if (!self->statements) {
        fault->code = RFK_CODE_UNAVAILABLE;
        snprintf (fault->message, sizeof fault->message, "sqlite: out of memory");
        void *conn = self;
        s_close (&conn);
        return NULL;
    }
    zhashx_set_destructor (self->statements, s_statement_destroy);
    return self;
}

/* The prepared statement for sql, prepared on first use. */
static sqlite3_stmt *
s_prepare (s_conn_t *self, const char *sql, rfk_store_fault_t *fault)
{
    sqlite3_stmt *stmt = (sqlite3_stmt *)zhashx_lookup (self->statements, sql);
    if (stmt)
        return stmt;
    int rc = sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        s_fault (self, rc, fault);
        return NULL;
    }
    if (zhashx_insert (self->statements, sql, stmt) != 0) {
        sqlite3_finalize (stmt);
        fault->code = RFK_CODE_INTERNAL;
        snprintf (fault->message, sizeof fault->message, "sqlite: cannot cache a statement");
        return NULL;
    }
    return stmt;
}

static int
s_bind (s_conn_t *self, sqlite3_stmt *stmt, const rfk_store_param_t *params, size_t nparams,
        rfk_store_fault_t *fault)
{
    for (size_t i = 0; i < nparams; i++) {
        char name[24];
        snprintf (name, sizeof name, "$%zu", i + 1);
        int index = sqlite3_bind_parameter_index (stmt, name);
        if (index == 0)
            continue; /* the statement does not use this parameter */
        int rc;
        const rfk_store_param_t *p = &params[i];
        if (p->type == RFK_PARAM_INT)
            rc = sqlite3_bind_int64 (stmt, index, p->i);
        else if (p->type == RFK_PARAM_DOUBLE)
            rc = sqlite3_bind_double (stmt, index, p->d);
        else if (p->text)
            rc = sqlite3_bind_text (stmt, index, p->text, -1, SQLITE_TRANSIENT);
        else
            rc = sqlite3_bind_null (stmt, index);
        if (rc != SQLITE_OK) {
            s_fault (self, rc, fault);
            return -1;
        }
    }
    return 0;
}

static int
s_exec (void *conn, const char *sql, const rfk_store_param_t *params, size_t nparams,
        rfk_store_rows_t **rows_p, rfk_store_fault_t *fault)
{
    s_conn_t *self = (s_conn_t *)conn;
    sqlite3_stmt *stmt = s_prepare (self, sql, fault);
    if (!stmt)
        return -1;
    int result = -1;
    rfk_store_rows_t *rows = NULL;
    if (s_bind (self, stmt, params, nparams, fault) != 0)
        goto done;
    if (rows_p) {
        rows = (rfk_store_rows_t *)calloc (1, sizeof (rfk_store_rows_t));
        if (!rows)
            goto nomem;
        rows->ncols = (size_t)sqlite3_column_count (stmt);
    }
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        if (!rows)
            continue;
        const char *cells[rows->ncols ? rows->ncols : 1];
        char numbers[rows->ncols ? rows->ncols : 1][32];
        for (size_t c = 0; c < rows->ncols; c++) {
            int type = sqlite3_column_type (stmt, (int)c);
            if (type == SQLITE_NULL)
                cells[c] = NULL;
            else if (type == SQLITE_FLOAT) {
                /* %.17g keeps every bit of a double; the text form would not. */
                snprintf (numbers[c], sizeof numbers[c], "%.17g",
                          sqlite3_column_double (stmt, (int)c));
                cells[c] = numbers[c];
            } else
                cells[c] = (const char *)sqlite3_column_text (stmt, (int)c);
        }
        if (rfk_store_rows_append (rows, cells) != 0)
            goto nomem;
    }
    if (rc != SQLITE_DONE) {
        s_fault (self, rc, fault);
        goto done;
    }
    result = sqlite3_changes (self->db);
    if (rows_p) {
        *rows_p = rows;
        rows = NULL;
    }
    goto done;
nomem:
    fault->code = RFK_CODE_UNAVAILABLE;
    snprintf (fault->message, sizeof fault->message, "sqlite: out of memory");
done:
    rfk_store_rows_destroy (&rows);
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return result;
}

static int
s_script (void *conn, const char *sql, rfk_store_fault_t *fault)
{
    s_conn_t *self = (s_conn_t *)conn;
    char *errmsg = NULL;
    int rc = sqlite3_exec (self->db, sql, NULL, NULL, &errmsg);
    if (rc != SQLITE_OK) {
        s_fault (self, rc, fault);
        if (errmsg)
            snprintf (fault->message, sizeof fault->message, "sqlite: %s", errmsg);
        sqlite3_free (errmsg);
        return -1;
    }
    return 0;
}

static int
s_begin (void *conn, rfk_store_fault_t *fault)
{
    return s_exec (conn, "BEGIN IMMEDIATE", NULL, 0, NULL, fault) < 0 ? -1 : 0;
}

static int
s_commit (void *conn, rfk_store_fault_t *fault)
{
    return s_exec (conn, "COMMIT", NULL, 0, NULL, fault) < 0 ? -1 : 0;
}

static void
s_rollback (void *conn)
{
    s_conn_t *self = (s_conn_t *)conn;
    /* After some errors SQLite has already rolled back; that is fine. */
    if (!sqlite3_get_autocommit (self->db))
        sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
}

const rfk_store_driver_t rfk_store_sqlite_driver = RFK_STORE_DRIVER ("sqlite");
