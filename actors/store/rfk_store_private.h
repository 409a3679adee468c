/*  rfk_store_private.h: what the store's own files share (private).

    The store is one module in several files: rfk_store.c (the handle,
    errors, transactions, migrations), rfk_store_bind.c (the generic row
    binding over the descriptor tables), rfk_store_records.c (the tables
    themselves and the records' destructors), and one file per family of
    records (users, services, train, inference). Nothing here is for code
    outside actors/store/.
*/
#ifndef RFK_STORE_PRIVATE_H_INCLUDED
#define RFK_STORE_PRIVATE_H_INCLUDED

#include "rfk_store.h"
#include "rfk_store_driver.h"

#include <assert.h>
#include <inttypes.h>

#define MAX_ARGS 48
#define SQL_MAX 4096

struct rfk_store {
    const rfk_store_driver_t *driver; /* sqlite or postgresql */
    void *conn;                       /* the driver's connection */
    rfk_code_t code;                  /* the last failure, or OK */
    char message[512];                /* the last failure in a sentence */
    int schema_version;               /* after migrations */
    rfk_store_hook_fn *hook;          /* test hook, or NULL */
    void *hook_arg;                   /* the hook's argument */
    uint64_t calls;                   /* entries into the store (rfk_store_calls) */
    int depth;                        /* transactions open: outer one plus nested ones */
    bool doomed;                      /* a nested transaction failed: the outer rolls back */
};

/* Every function that reads or writes the store starts here: it counts
   the call (rfk_store_calls). */
#define S_ENTER(self) (assert (self), (self)->calls++)

/* ---- errors, ids, times (rfk_store.c) ---------------------------------- */

/* Resets the last failure: the call succeeded. */
void
rfk_store_ok (rfk_store_t *self);
/* Records a failure with its code and sentence. */
void
rfk_store_fail (rfk_store_t *self, rfk_code_t code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
/* Records a backend fault; `duplicate` and `missing` (may be NULL) replace
   the engine's words for a unique and a foreign-key failure. */
void
rfk_store_fault (rfk_store_t *self, const rfk_store_fault_t *fault, const char *duplicate,
                 const char *missing);
/* A new UUID v4 string, or NULL on no memory. */
char *
rfk_store_uuid (void);
/* Now as ISO-8601 UTC with microseconds, into buf (at least 32 bytes). */
void
rfk_store_now (char *buf, size_t size);
/* The same, as a new string (NULL on no memory). */
char *
rfk_store_now_dup (void);

/* ---- statement arguments (rfk_store_bind.c) ---------------------------- */

typedef struct {
    rfk_store_param_t params[MAX_ARGS]; /* the parameters, $1 first */
    char *owned[MAX_ARGS];              /* serialised JSON to free */
    size_t count;                       /* parameters so far */
    bool broken;                        /* an argument could not be made */
} rfk_args_t;

void
rfk_arg_text (rfk_args_t *args, const char *text);
void
rfk_arg_int (rfk_args_t *args, int64_t value);
/* The paging arguments: limit (all when 0) and offset; -1 when negative. */
int
rfk_arg_page (rfk_store_t *self, rfk_args_t *args, const rfk_page_t *page);
void
rfk_args_free (rfk_args_t *args);

/* ---- statements and transactions (rfk_store.c) ------------------------- */

/* Runs sql; -1 with the failure recorded (duplicate and missing name what a
   unique or foreign key failure means here), else the rows changed. */
int
rfk_store_run (rfk_store_t *self, const char *sql, rfk_args_t *args, rfk_store_rows_t **rows_p,
               const char *duplicate, const char *missing);
/* A single value query (e.g. the next number): the first cell as integer. */
int
rfk_store_scalar (rfk_store_t *self, const char *sql, rfk_args_t *args, int64_t *value);
/* Nested transactions: only the outermost begin and commit reach the
   database; a nested rollback dooms the outer transaction. */
int
rfk_store_tx_begin (rfk_store_t *self);
int
rfk_store_tx_commit (rfk_store_t *self);
void
rfk_store_tx_rollback (rfk_store_t *self);
/* Ends a transaction: commits when rc is 0, else rolls back. 0 when committed. */
int
rfk_store_tx_end (rfk_store_t *self, int rc);

/* ---- record descriptions (rfk_store_records.c) ------------------------- */

/* S_STATE: a status enum in the struct, its name in the row. */
typedef enum { S_TEXT, S_INT, S_DOUBLE, S_JSON, S_STATE } rfk_field_type_t;

/* A state family of rfk_states.h, over int: the one name table, reached
   through its functions. */
typedef struct {
    const char *(*name) (int value); /* NULL for UNSET and unknown values */
    int (*value) (const char *name); /* 0 (UNSET) for NULL and unknown names */
    bool (*is_final) (int value);    /* whether the status ends the record */
} rfk_states_t;

enum {
    S_REQUIRED = 1, /* must be set on create */
    S_FIXED = 2,    /* never changed by an update */
    S_STOPPED = 4,  /* the stop time: set once, when the status ends */
    S_TOUCHED = 8   /* set to now by every update */
};

/* One field of a record: a column of its table and a member of its struct. */
typedef struct {
    const char *name;           /* the column, and the struct member */
    rfk_field_type_t type;      /* how the member is held and bound */
    size_t offset;              /* of the member in the struct */
    int flags;                  /* S_REQUIRED, S_FIXED, S_STOPPED, S_TOUCHED */
    const char *const *allowed; /* for enumerations: NULL-terminated */
    const rfk_states_t *states; /* for S_STATE: the family */
} rfk_field_t;

/* One record type: its table and its fields, in column order. */
typedef struct {
    const char *record;               /* for messages: "train job" */
    const char *table;                /* the table's name */
    size_t size;                      /* of the struct */
    const rfk_field_t *fields;        /* the fields, id first where there is one */
    size_t nfields;                   /* how many */
    zlistx_destructor_fn *destructor; /* for lists of records */
} rfk_kind_t;

#define MEMBER(rec, field, T) ((T *)((char *)(rec) + (field)->offset))

extern const rfk_kind_t rfk_user_kind;
extern const rfk_kind_t rfk_dataset_kind;
extern const rfk_kind_t rfk_model_kind;
extern const rfk_kind_t rfk_service_kind;
extern const rfk_kind_t rfk_sub_train_job_kind;
extern const rfk_kind_t rfk_train_job_kind;
extern const rfk_kind_t rfk_train_job_worker_kind;
extern const rfk_kind_t rfk_trial_kind;
extern const rfk_kind_t rfk_trial_log_kind;
extern const rfk_kind_t rfk_inference_job_worker_kind;
extern const rfk_kind_t rfk_inference_job_kind;
extern const rfk_kind_t rfk_job_service_kind;
extern const rfk_kind_t rfk_serving_key_kind;

/* ---- the generic row binding (rfk_store_bind.c) ------------------------ */

/* A new zeroed record of kind (scores start as NAN), or NULL. */
void *
rfk_row_new (const rfk_kind_t *kind);
/* Frees what a record's fields own, leaving the struct itself. */
void
rfk_row_clear (const rfk_kind_t *kind, void *rec);
void
rfk_row_destroy (const rfk_kind_t *kind, void **rec_p);
/* Fills rec (zeroed) from row r, whose cells are the kind's fields in order. */
int
rfk_row_load (const rfk_kind_t *kind, void *rec, const rfk_store_rows_t *rows, size_t r);
/* Checks a record's enumerations, and on create its required fields. */
int
rfk_row_check (rfk_store_t *self, const rfk_kind_t *kind, const void *rec, bool creating);
/* A new copy of rec with a fresh id, its times set to now, and the default
   status when none was given. NULL with the failure set. */
void *
rfk_row_prepare (rfk_store_t *self, const rfk_kind_t *kind, const void *rec, int default_status);
/* Creates a record of a kind that has no children; returns it as stored. */
void *
rfk_row_create (rfk_store_t *self, const rfk_kind_t *kind, const void *rec, int default_status,
                const char *duplicate, const char *missing);
/* Inserts rec (all fields). */
int
rfk_row_insert (rfk_store_t *self, const rfk_kind_t *kind, const void *rec, const char *duplicate,
                const char *missing);
/* Checks rec and writes every field that is not fixed, by its id. */
int
rfk_row_save (rfk_store_t *self, const rfk_kind_t *kind, const void *rec);
/* Runs SELECT <kind's columns> ... tail and returns the records. */
zlistx_t *
rfk_row_select (rfk_store_t *self, const rfk_kind_t *kind, const char *tail, rfk_args_t *args);
/* Loads what a record carries (its children); 0 or -1 with the failure set. */
typedef int (rfk_row_children_fn) (rfk_store_t *self, void *rec);
/* rfk_row_select, then the children of every record it found. */
zlistx_t *
rfk_row_select_with (rfk_store_t *self, const rfk_kind_t *kind, const char *tail, rfk_args_t *args,
                     rfk_row_children_fn *children);
/* The first record of a select, or NULL with NOT_FOUND naming `what`. */
void *
rfk_row_select_one (rfk_store_t *self, const rfk_kind_t *kind, const char *tail, rfk_args_t *args,
                    const char *what);
/* The record of kind with that id. */
void *
rfk_row_get (rfk_store_t *self, const rfk_kind_t *kind, const char *id);
/* The first record whose column (in `where`, as $1) has value; `column`
   names it in the error for a NULL value, `what` the record not found. */
void *
rfk_row_get_by (rfk_store_t *self, const rfk_kind_t *kind, const char *where, const char *value,
                const char *column, const char *what);
/* Runs sql, whose columns are the kind's fields in order, and loads its
   rows into a new array (*count_p counts what is loaded, to free). */
int
rfk_row_load_array (rfk_store_t *self, const rfk_kind_t *kind, const char *sql, rfk_args_t *args,
                    void **array_p, size_t *count_p);
/* Loads the rows of a child select ($1 = parent_id) into an array. */
int
rfk_row_select_array (rfk_store_t *self, const rfk_kind_t *kind, const char *tail,
                      const char *parent_id, void **array_p, size_t *count_p);
/* Sets status (and the stop time once it ended) of the row with id. */
int
rfk_row_set_status (rfk_store_t *self, const rfk_kind_t *kind, const char *id, int value);
/* Runs sql ($1 = id, $2 = now) to set a time of the row with id. */
int
rfk_row_stamp (rfk_store_t *self, const rfk_kind_t *kind, const char *sql, const char *id);
/* Deletes the row with id; a row referring to it is CONFLICT (`used` says by what). */
int
rfk_row_delete (rfk_store_t *self, const rfk_kind_t *kind, const char *id, const char *used);
/* 0 when a row of kind with that id exists, else -1 and NOT_FOUND naming `what`. */
int
rfk_row_exists (rfk_store_t *self, const rfk_kind_t *kind, const char *id, const char *what);

/* ---- shared between the record files ------------------------------------ */

/* Defines rfk_store_get_<name>: the record with that id, from its kind. */
#define RFK_STORE_GETTER(name, T)                                                                  \
    T *rfk_store_get_##name (rfk_store_t *self, const char *id)                                    \
    {                                                                                              \
        S_ENTER (self);                                                                            \
        return (T *)rfk_row_get (self, &rfk_##name##_kind, id);                                    \
    }
/* The same for a record that carries children, loaded by rfk_store_<name>_done. */
#define RFK_STORE_PARENT_GETTER(name, T)                                                           \
    T *rfk_store_get_##name (rfk_store_t *self, const char *id)                                    \
    {                                                                                              \
        S_ENTER (self);                                                                            \
        return rfk_store_##name##_done (self, (T *)rfk_row_get (self, &rfk_##name##_kind, id));    \
    }
/* Defines rfk_store_update_<name>: writes the record's changeable fields. */
#define RFK_STORE_SAVER(name, T)                                                                   \
    int rfk_store_update_##name (rfk_store_t *self, const T *rec)                                  \
    {                                                                                              \
        S_ENTER (self);                                                                            \
        return rfk_row_save (self, &rfk_##name##_kind, rec);                                       \
    }

/* A service copy ready to insert, checked; NULL with the failure set. */
rfk_service_t *
rfk_store_service_prepare (rfk_store_t *self, const rfk_service_t *service);
/* Loads a train job's sub train jobs into it; NULL (job freed) on failure. */
rfk_train_job_t *
rfk_store_train_job_done (rfk_store_t *self, rfk_train_job_t *job);
/* The user's train job of app at version (-1: latest), or NULL. */
rfk_train_job_t *
rfk_store_train_job_by_app (rfk_store_t *self, const char *user_id, const char *app,
                            int64_t version);
/* Loads an inference job's workers into it; NULL (job freed) on failure. */
rfk_inference_job_t *
rfk_store_inference_job_done (rfk_store_t *self, rfk_inference_job_t *job);
/* Sets an inference job's status; CONFLICT names the running one. */
int
rfk_store_inference_job_status (rfk_store_t *self, const char *id, rfk_job_status_t status);

#endif
