/*  rfk_store_pg.c: the PostgreSQL backend of the metadata store (libpq).

    The production store. Statements are prepared once per connection and
    kept per SQL text; parameters go as text and PostgreSQL infers their
    types from where they stand. When a statement fails because the
    connection is gone (the server restarted, an idle connection was cut)
    and no transaction is open, the connection is reset and the statement
    retried once; a connection lost inside a transaction fails that
    transaction with UNAVAILABLE and the next one reconnects. SQLSTATE
    classes map to rfk_code_t: 23505 unique -> CONFLICT, 23503 foreign key
    -> NOT_FOUND, other 23xxx -> BAD_REQUEST, 08xxx, 53xxx, 57Pxx and
    serialization failures -> UNAVAILABLE.
*/
#include "rfk_store_driver.h"

#include <inttypes.h>
#include <libpq-fe.h>

typedef struct {
    PGconn *pg;           /* the connection */
    zhashx_t *statements; /* SQL text -> prepared statement name */
    unsigned next_name;   /* to name the next prepared statement */
    bool in_transaction;  /* between begin and commit/rollback */
} s_conn_t;

static void
s_quiet (void *arg, const char *message)
{
    (void)arg;
    (void)message; /* NOTICEs (e.g. "relation exists, skipping") are not errors */
}

/* Copies libpq's message without its trailing newline. */
static void
s_message (rfk_store_fault_t *fault, const char *what, const char *detail)
{
    snprintf (fault->message, sizeof fault->message, "postgresql: %s%s", what,
              detail ? detail : "");
    size_t len = strlen (fault->message);
    while (len > 0 && (fault->message[len - 1] == '\n' || fault->message[len - 1] == ' '))
        fault->message[--len] = '\0';
}

/* Maps a failed result (or a dead connection) to a fault. */
static void
s_fault (s_conn_t *self, const PGresult *res, rfk_store_fault_t *fault)
{
    const char *state = res ? PQresultErrorField (res, PG_DIAG_SQLSTATE) : NULL;
    const char *text = res ? PQresultErrorMessage (res) : NULL;
    if (!text || !*text)
        text = PQerrorMessage (self->pg);
    fault->unique = false;
    fault->foreign_key = false;
    if (PQstatus (self->pg) == CONNECTION_BAD || !state)
        fault->code = RFK_CODE_UNAVAILABLE;
    else if (strcmp (state, "23505") == 0) {
        fault->code = RFK_CODE_CONFLICT;
        fault->unique = true;
    } else if (strcmp (state, "23503") == 0) {
        fault->code = RFK_CODE_NOT_FOUND;
        fault->foreign_key = true;
    } else if (strncmp (state, "23", 2) == 0)
        fault->code = RFK_CODE_BAD_REQUEST;
    else if (strncmp (state, "08", 2) == 0 || strncmp (state, "53", 2) == 0 ||
             strncmp (state, "57P", 3) == 0 || strcmp (state, "40001") == 0 ||
             strcmp (state, "40P01") == 0)
        fault->code = RFK_CODE_UNAVAILABLE;
    else
        fault->code = RFK_CODE_INTERNAL;
    s_message (fault, "", text);
}

static void
s_name_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

static void
s_close (void **conn_p)
{
    if (!conn_p || !*conn_p)
        return;
    s_conn_t *self = (s_conn_t *)*conn_p;
    if (self->pg)
        PQfinish (self->pg); /* the connection first, then what this side kept of it */
    zhashx_destroy (&self->statements);
    free (self);
    *conn_p = NULL;
}

static void *
s_open (const char *url, rfk_store_fault_t *fault)
{
    s_conn_t *self = (s_conn_t *)calloc (1, sizeof (s_conn_t));
    if (self)
        self->statements = zhashx_new ();
    if (!self || !self->statements) {
        fault->code = RFK_CODE_UNAVAILABLE;
        s_message (fault, "out of memory", NULL);
        void *conn = self;
        s_close (&conn);
        return NULL;
    }
    zhashx_set_destructor (self->statements, s_name_destroy);
    char *bad = NULL;
    PQconninfoOption *options = PQconninfoParse (url, &bad);
    if (!options) {
        fault->code = bad ? RFK_CODE_BAD_REQUEST : RFK_CODE_UNAVAILABLE;
        fault->unique = fault->foreign_key = false;
        s_message (fault, "store.url is not a valid URL: ", bad ? bad : "out of memory");
        PQfreemem (bad);
        void *conn = self;
        s_close (&conn);
        return NULL;
    }
    PQconninfoFree (options);
    self->pg = PQconnectdb (url);
    if (!self->pg || PQstatus (self->pg) != CONNECTION_OK) {
        fault->code = RFK_CODE_UNAVAILABLE;
        fault->unique = fault->foreign_key = false;
        s_message (fault, "cannot connect: ", self->pg ? PQerrorMessage (self->pg) : "no memory");
        void *conn = self;
        s_close (&conn);
        return NULL;
    }
    PQsetNoticeProcessor (self->pg, s_quiet, NULL);
    return self;
}

/* After the connection was lost: reconnects; prepared statements are gone. */
static int
s_reconnect (s_conn_t *self)
{
    zhashx_purge (self->statements);
    PQreset (self->pg);
    return PQstatus (self->pg) == CONNECTION_OK ? 0 : -1;
}

/* Runs the statement once. Returns the result (caller clears it) or NULL
   with the fault set. */
static PGresult *
s_run (s_conn_t *self, const char *sql, const rfk_store_param_t *params, size_t nparams,
       rfk_store_fault_t *fault)
{
    const char *name = (const char *)zhashx_lookup (self->statements, sql);
    if (!name) {
        char fresh[32];
        snprintf (fresh, sizeof fresh, "rfk_%u", ++self->next_name);
        PGresult *res = PQprepare (self->pg, fresh, sql, (int)nparams, NULL);
        if (!res || PQresultStatus (res) != PGRES_COMMAND_OK) {
            s_fault (self, res, fault);
            PQclear (res);
            return NULL;
        }
        PQclear (res);
        char *copy = strdup (fresh);
        if (!copy || zhashx_insert (self->statements, sql, copy) != 0) {
            free (copy);
            fault->code = RFK_CODE_INTERNAL;
            s_message (fault, "cannot cache a statement", NULL);
            return NULL;
        }
        name = copy;
    }
    const char *values[nparams ? nparams : 1];
    char numbers[nparams ? nparams : 1][32];
    for (size_t i = 0; i < nparams; i++) {
        const rfk_store_param_t *p = &params[i];
        if (p->type == RFK_PARAM_INT) {
            snprintf (numbers[i], sizeof numbers[i], "%" PRId64, p->i);
            values[i] = numbers[i];
        } else if (p->type == RFK_PARAM_DOUBLE) {
            snprintf (numbers[i], sizeof numbers[i], "%.17g", p->d);
            values[i] = numbers[i];
        } else
            values[i] = p->text;
    }
    PGresult *res = PQexecPrepared (self->pg, name, (int)nparams, values, NULL, NULL, 0);
    ExecStatusType status = res ? PQresultStatus (res) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        s_fault (self, res, fault);
        PQclear (res);
        return NULL;
    }
    return res;
}

static int
s_exec (void *conn, const char *sql, const rfk_store_param_t *params, size_t nparams,
        rfk_store_rows_t **rows_p, rfk_store_fault_t *fault)
{
    s_conn_t *self = (s_conn_t *)conn;
    PGresult *res = s_run (self, sql, params, nparams, fault);
    if (!res && PQstatus (self->pg) == CONNECTION_BAD && !self->in_transaction) {
        if (s_reconnect (self) != 0) {
            fault->code = RFK_CODE_UNAVAILABLE;
            s_message (fault, "connection lost: ", PQerrorMessage (self->pg));
            return -1;
        }
        res = s_run (self, sql, params, nparams, fault);
    }
    if (!res)
        return -1;
    int changed = atoi (PQcmdTuples (res));
    if (rows_p) {
        rfk_store_rows_t *rows = (rfk_store_rows_t *)calloc (1, sizeof (rfk_store_rows_t));
        if (!rows)
            goto nomem;
        rows->ncols = (size_t)PQnfields (res);
        int nrows = PQntuples (res);
        for (int r = 0; r < nrows; r++) {
            const char *cells[rows->ncols ? rows->ncols : 1];
            for (size_t c = 0; c < rows->ncols; c++)
                cells[c] = PQgetisnull (res, r, (int)c) ? NULL : PQgetvalue (res, r, (int)c);
            if (rfk_store_rows_append (rows, cells) != 0) {
                rfk_store_rows_destroy (&rows);
                goto nomem;
            }
        }
        *rows_p = rows;
    }
    PQclear (res);
    return changed;
nomem:
    PQclear (res);
    fault->code = RFK_CODE_UNAVAILABLE;
    s_message (fault, "out of memory", NULL);
    return -1;
}

static int
s_script (void *conn, const char *sql, rfk_store_fault_t *fault)
{
    s_conn_t *self = (s_conn_t *)conn;
    PGresult *res = PQexec (self->pg, sql);
    if (!res && PQstatus (self->pg) == CONNECTION_BAD && !self->in_transaction &&
        s_reconnect (self) == 0)
        res = PQexec (self->pg, sql);
    if (!res || PQresultStatus (res) != PGRES_COMMAND_OK) {
        s_fault (self, res, fault);
        PQclear (res);
        return -1;
    }
    PQclear (res);
    return 0;
}

static int
s_begin (void *conn, rfk_store_fault_t *fault)
{
    s_conn_t *self = (s_conn_t *)conn;
    self->in_transaction = false; /* so a lost connection is retried here */
    if (s_exec (conn, "BEGIN", NULL, 0, NULL, fault) < 0)
        return -1;
    self->in_transaction = true;
    return 0;
}

static int
s_commit (void *conn, rfk_store_fault_t *fault)
{
    s_conn_t *self = (s_conn_t *)conn;
    int rc = s_exec (conn, "COMMIT", NULL, 0, NULL, fault);
    self->in_transaction = false;
    return rc < 0 ? -1 : 0;
}

static void
s_rollback (void *conn)
{
    s_conn_t *self = (s_conn_t *)conn;
    if (PQstatus (self->pg) == CONNECTION_OK && PQtransactionStatus (self->pg) != PQTRANS_IDLE) {
        PGresult *res = PQexec (self->pg, "ROLLBACK");
        PQclear (res);
    }
    self->in_transaction = false;
}

const rfk_store_driver_t rfk_store_pg_driver = RFK_STORE_DRIVER ("postgresql");
