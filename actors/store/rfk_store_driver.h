/*  rfk_store_driver.h: what a store backend implements (private).

    rfk_store.c writes every record through this small interface: run one
    parameterised statement and get its rows back as text, run a script (the
    migrations), and frame transactions. SQL uses $1, $2 ... placeholders in
    both backends (SQLite binds them by name). Values travel as text; a NULL
    cell or parameter is SQL NULL. A backend maps its errors to rfk_code_t and
    says whether a unique or foreign-key constraint was hit, so the store can
    name what was duplicated or missing.
*/
#ifndef RFK_STORE_DRIVER_H_INCLUDED
#define RFK_STORE_DRIVER_H_INCLUDED

#include "rfk_store.h"

/* What went wrong in a backend call. */
typedef struct {
    rfk_code_t code;
    bool unique;      /* a unique or primary key constraint failed */
    bool foreign_key; /* a foreign key constraint failed */
    char message[256];
} rfk_store_fault_t;

/* A parameter: text (NULL text is SQL NULL), integer or double. */
typedef enum { RFK_PARAM_TEXT, RFK_PARAM_INT, RFK_PARAM_DOUBLE } rfk_param_type_t;
typedef struct {
    rfk_param_type_t type;
    const char *text;
    int64_t i;
    double d;
} rfk_store_param_t;

/* The rows a statement returned: cells[row * ncols + col], NULL for SQL NULL. */
typedef struct {
    size_t nrows;
    size_t ncols;
    char **cells;
} rfk_store_rows_t;

void
rfk_store_rows_destroy (rfk_store_rows_t **self_p);
/* Appends a row of ncols cells (copied; NULL stays NULL). -1 on no memory. */
int
rfk_store_rows_append (rfk_store_rows_t *self, const char *const *cells);

typedef struct {
    const char *name;
    /* Opens a connection to target (a file path, or a libpq URL). */
    void *(*open) (const char *target, rfk_store_fault_t *fault);
    void (*close) (void **conn_p);
    /* Runs one statement; rows_p may be NULL when no rows are wanted.
       Returns the number of rows changed (>= 0) or -1. */
    int (*exec) (void *conn, const char *sql, const rfk_store_param_t *params, size_t nparams,
                 rfk_store_rows_t **rows_p, rfk_store_fault_t *fault);
    /* Runs statements without parameters, separated by semicolons. */
    int (*script) (void *conn, const char *sql, rfk_store_fault_t *fault);
    int (*begin) (void *conn, rfk_store_fault_t *fault);
    int (*commit) (void *conn, rfk_store_fault_t *fault);
    void (*rollback) (void *conn);
} rfk_store_driver_t;

/* A backend's driver table, made of the functions its file names s_open,
   s_close, s_exec, s_script, s_begin, s_commit and s_rollback. */
#define RFK_STORE_DRIVER(backend)                                                                  \
    {                                                                                              \
        .name = backend, .open = s_open, .close = s_close, .exec = s_exec, .script = s_script,     \
        .begin = s_begin, .commit = s_commit, .rollback = s_rollback,                              \
    }

extern const rfk_store_driver_t rfk_store_sqlite_driver;
extern const rfk_store_driver_t rfk_store_pg_driver;

/* The migrations, oldest first: migration i brings the schema to version
   i + 1. Each is a NULL-terminated list of statements written once in SQL
   both engines take. */
extern const char *const *const rfk_store_migrations[];
extern const size_t rfk_store_migration_count;

#endif
