/*  rfk_store.c: the store's handle: opening either backend, migrations,
    errors, statements and transactions.

    Picks the backend from the URL, applies the migrations, and runs every
    statement through the driver interface (rfk_store_driver.h). The records
    are written and read by the generic row binding (rfk_store_bind.c) over
    their descriptor tables (rfk_store_records.c), one file per family of
    records; rfk_store_private.h is what those files share.
*/
#include "rfk_store_private.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

/* ---- errors ---------------------------------------------------------- */

void
rfk_store_ok (rfk_store_t *self)
{
    self->code = RFK_CODE_OK;
    self->message[0] = '\0';
}

void
rfk_store_fail (rfk_store_t *self, rfk_code_t code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->message, sizeof self->message, format, args);
    va_end (args);
    self->code = code;
}

/* Records a backend fault; `duplicate` and `missing` (may be NULL) replace
   the engine's words for a unique and a foreign-key failure. */
void
rfk_store_fault (rfk_store_t *self, const rfk_store_fault_t *fault, const char *duplicate,
                 const char *missing)
{
    if (fault->unique && duplicate)
        rfk_store_fail (self, RFK_CODE_CONFLICT, "%s", duplicate);
    else if (fault->foreign_key && missing)
        rfk_store_fail (self, fault->code, "%s", missing);
    else
        rfk_store_fail (self, fault->code, "%s", fault->message);
}

/* ---- ids and times --------------------------------------------------- */

char *
rfk_store_uuid (void)
{
    unsigned char b[16];
    randombytes_buf (b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char *id = (char *)malloc (37);
    if (!id)
        return NULL;
    snprintf (id, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
              b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
              b[14], b[15]);
    return id;
}

/* Now as ISO-8601 UTC with microseconds, into buf (at least 32 bytes). */
void
rfk_store_now (char *buf, size_t size)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    size_t len = strftime (buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    unsigned micros = (unsigned)(ts.tv_nsec / 1000) % 1000000u;
    if (len + 9 <= size) {
        buf[len++] = '.';
        for (int digit = 5; digit >= 0; digit--, micros /= 10)
            buf[len + (size_t)digit] = (char)('0' + micros % 10);
        buf[len + 6] = 'Z';
        buf[len + 7] = '\0';
    }
}

char *
rfk_store_now_dup (void)
{
    char buf[40];
    rfk_store_now (buf, sizeof buf);
    return strdup (buf);
}

/* ---- running statements ---------------------------------------------- */

/* Runs sql; -1 with the failure recorded (duplicate and missing name what a
   unique or foreign key failure means here), else the rows changed. */
int
rfk_store_run (rfk_store_t *self, const char *sql, rfk_args_t *args, rfk_store_rows_t **rows_p,
               const char *duplicate, const char *missing)
{
    if (args && args->broken) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "a JSON field could not be serialised");
        return -1;
    }
    rfk_store_fault_t fault = {0};
    int rc = self->driver->exec (self->conn, sql, args ? args->params : NULL,
                                 args ? args->count : 0, rows_p, &fault);
    if (rc < 0)
        rfk_store_fault (self, &fault, duplicate, missing);
    return rc;
}

/*  Transactions nest: only the outermost begin and commit reach the
    database; a nested rollback dooms the outer transaction, whose commit
    then rolls everything back and fails. */
int
rfk_store_tx_begin (rfk_store_t *self)
{
    if (self->depth > 0) {
        self->depth++;
        return 0;
    }
    rfk_store_fault_t fault = {0};
    if (self->driver->begin (self->conn, &fault) != 0) {
        rfk_store_fault (self, &fault, NULL, NULL);
        return -1;
    }
    self->depth = 1;
    self->doomed = false;
    return 0;
}

void
rfk_store_tx_rollback (rfk_store_t *self)
{
    if (self->depth > 1) {
        self->depth--;
        self->doomed = true;
        return;
    }
    self->driver->rollback (self->conn);
    self->depth = 0;
    self->doomed = false;
}

int
rfk_store_tx_commit (rfk_store_t *self)
{
    if (self->depth > 1) {
        self->depth--;
        return 0;
    }
    if (self->doomed) {
        rfk_store_tx_rollback (self);
        rfk_store_fail (self, RFK_CODE_INTERNAL,
                        "a part of the transaction failed; nothing was written");
        return -1;
    }
    rfk_store_fault_t fault = {0};
    self->depth = 0;
    if (self->driver->commit (self->conn, &fault) != 0) {
        rfk_store_fault (self, &fault, NULL, NULL);
        self->driver->rollback (self->conn);
        return -1;
    }
    return 0;
}

/* "SELECT x.a, x.b ... FROM table x " + tail, into buf. */
int
rfk_store_tx_end (rfk_store_t *self, int rc)
{
    if (rc == 0)
        return rfk_store_tx_commit (self);
    rfk_store_tx_rollback (self);
    return -1;
}

/* A single value query (e.g. the next number): the first cell as integer. */
int
rfk_store_scalar (rfk_store_t *self, const char *sql, rfk_args_t *args, int64_t *value)
{
    rfk_store_rows_t *rows = NULL;
    if (rfk_store_run (self, sql, args, &rows, NULL, NULL) < 0)
        return -1;
    *value = rows->nrows && rows->ncols && rows->cells[0] ? strtoll (rows->cells[0], NULL, 10) : 0;
    rfk_store_rows_destroy (&rows);
    return 0;
}

/* Loads the rows of a child select into an array of records. */
/* ---- rows ------------------------------------------------------------ */

void
rfk_store_rows_destroy (rfk_store_rows_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_store_rows_t *self = *self_p;
    for (size_t i = 0; i < self->nrows * self->ncols; i++)
        free (self->cells[i]);
    free (self->cells);
    free (self);
    *self_p = NULL;
}

int
rfk_store_rows_append (rfk_store_rows_t *self, const char *const *cells)
{
    size_t n = self->ncols;
    char **grown =
        (char **)realloc (self->cells, (self->nrows + 1) * (n ? n : 1) * sizeof (char *));
    if (!grown)
        return -1;
    self->cells = grown;
    char **row = self->cells + self->nrows * n;
    for (size_t c = 0; c < n; c++) {
        row[c] = NULL;
        if (cells[c] && !(row[c] = strdup (cells[c]))) {
            for (size_t k = 0; k < c; k++)
                free (row[k]);
            return -1;
        }
    }
    self->nrows++;
    return 0;
}

/* ---- open, migrate, close -------------------------------------------- */

/* Brings the schema up to date; refuses a schema newer than this binary. */
static int
s_migrate (rfk_store_t *self)
{
    rfk_store_fault_t fault = {0};
    if (self->driver->script (self->conn,
                              "CREATE TABLE IF NOT EXISTS schema_version ("
                              "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
                              &fault) != 0) {
        rfk_store_fault (self, &fault, NULL, NULL);
        return -1;
    }
    int64_t current;
    if (rfk_store_scalar (self, "SELECT COALESCE(MAX(version), 0) FROM schema_version", NULL,
                          &current) != 0)
        return -1;
    int64_t latest = (int64_t)rfk_store_migration_count;
    if (current > latest) {
        rfk_store_fail (
            self, RFK_CODE_CONFLICT,
            "the store's schema is version %" PRId64 ", newer than this binary knows (%" PRId64
            "): run a newer rafikid, or restore a store of version %" PRId64 " or older",
            current, latest, latest);
        return -1;
    }
    for (int64_t v = current + 1; v <= latest; v++) {
        if (rfk_store_tx_begin (self) != 0)
            return -1;
        rfk_args_t args = {0};
        rfk_arg_int (&args, v);
        char now[40];
        rfk_store_now (now, sizeof now);
        rfk_arg_text (&args, now);
        for (const char *const *step = rfk_store_migrations[v - 1]; *step; step++)
            if (self->driver->script (self->conn, *step, &fault) != 0) {
                rfk_store_fail (self, fault.code,
                                "migration to schema version %" PRId64 " failed: %s", v,
                                fault.message);
                rfk_store_tx_rollback (self);
                return -1;
            }
        if (rfk_store_run (self, "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
                           &args, NULL, "another process migrated the store at the same time",
                           NULL) < 0 ||
            rfk_store_tx_commit (self) != 0) {
            rfk_store_tx_rollback (self);
            return -1;
        }
    }
    self->schema_version = (int)latest;
    return 0;
}

static void
s_open_error (rfk_store_error_t *err, rfk_code_t code, const char *message)
{
    if (err) {
        err->code = code;
        snprintf (err->message, sizeof err->message, "%s", message);
    }
}

rfk_store_t *
rfk_store_open (const char *url, const char *data_dir, rfk_store_error_t *err)
{
    s_open_error (err, RFK_CODE_OK, "");
    if (sodium_init () < 0) {
        s_open_error (err, RFK_CODE_INTERNAL, "store: libsodium could not start");
        return NULL;
    }
    const rfk_store_driver_t *driver = NULL;
    char target[4096];
    if (!url || !*url) {
        if (!data_dir || !*data_dir) {
            s_open_error (err, RFK_CODE_BAD_REQUEST,
                          "store.url: neither a store URL nor a data directory was given");
            return NULL;
        }
        if (mkdir (data_dir, 0755) != 0 && errno != EEXIST) {
            char message[512];
            snprintf (message, sizeof message, "store: cannot create data directory %s: %s",
                      data_dir, strerror (errno));
            s_open_error (err, RFK_CODE_UNAVAILABLE, message);
            return NULL;
        }
        snprintf (target, sizeof target, "%s/rafiki.db", data_dir);
        driver = &rfk_store_sqlite_driver;
    } else if (strncmp (url, "sqlite://", 9) == 0 && url[9]) {
        snprintf (target, sizeof target, "%s", url + 9);
        driver = &rfk_store_sqlite_driver;
    } else if (strncmp (url, "postgresql://", 13) == 0 || strncmp (url, "postgres://", 11) == 0) {
        snprintf (target, sizeof target, "%s", url);
        driver = &rfk_store_pg_driver;
    } else {
        s_open_error (err, RFK_CODE_BAD_REQUEST,
                      "store.url: expected sqlite:///path/to/rafiki.db or postgresql://...");
        return NULL;
    }
    rfk_store_t *self = (rfk_store_t *)calloc (1, sizeof (rfk_store_t));
    if (!self) {
        s_open_error (err, RFK_CODE_UNAVAILABLE, "store: out of memory");
        return NULL;
    }
    self->driver = driver;
    rfk_store_fault_t fault = {0};
    self->conn = driver->open (target, &fault);
    if (!self->conn) {
        s_open_error (err, fault.code, fault.message);
        free (self);
        return NULL;
    }
    if (s_migrate (self) != 0) {
        s_open_error (err, self->code, self->message);
        rfk_store_destroy (&self);
        return NULL;
    }
    rfk_store_ok (self);
    return self;
}

void
rfk_store_destroy (rfk_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_store_t *self = *self_p;
    self->driver->close (&self->conn);
    free (self);
    *self_p = NULL;
}

rfk_code_t
rfk_store_code (rfk_store_t *self)
{
    assert (self);
    return self->code;
}

const char *
rfk_store_message (rfk_store_t *self)
{
    assert (self);
    return self->message;
}

const char *
rfk_store_backend (rfk_store_t *self)
{
    assert (self);
    return self->driver->name;
}

int
rfk_store_schema_version (rfk_store_t *self)
{
    assert (self);
    return self->schema_version;
}

int
rfk_store_latest_schema_version (void)
{
    return (int)rfk_store_migration_count;
}

void
rfk_store_set_hook (rfk_store_t *self, rfk_store_hook_fn *hook, void *arg)
{
    assert (self);
    self->hook = hook;
    self->hook_arg = arg;
}

uint64_t
rfk_store_calls (rfk_store_t *self)
{
    assert (self);
    return self->calls;
}

int
rfk_store_begin (rfk_store_t *self)
{
    S_ENTER (self);
    if (rfk_store_tx_begin (self) != 0)
        return -1;
    rfk_store_ok (self);
    return 0;
}

int
rfk_store_commit (rfk_store_t *self)
{
    S_ENTER (self);
    if (self->depth == 0) {
        rfk_store_fail (self, RFK_CODE_INTERNAL, "commit without a transaction");
        return -1;
    }
    if (rfk_store_tx_commit (self) != 0)
        return -1;
    rfk_store_ok (self);
    return 0;
}

void
rfk_store_rollback (rfk_store_t *self)
{
    S_ENTER (self);
    if (self->depth > 0)
        rfk_store_tx_rollback (self);
}
