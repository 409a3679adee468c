/*  rfk_store_bind.c: the generic row binding of the store.

    Every record type is described once by a table of its fields
    (rfk_store_records.c): column name, type, offset in the struct, whether
    it is required or fixed, its allowed values, or for a status its family
    in rfk_states.h, whose enum the struct holds and whose .proto name the
    row holds. Inserting, updating, selecting, loading rows, checking,
    copying and freeing are written here once over those tables. The only
    SQL assembled at run time is made of their constant column and table
    names, never of a caller's string.
*/
#include "rfk_store_private.h"

#include <math.h>

/* ---- records in memory ------------------------------------------------ */

/* Frees what a record's fields own, leaving the struct itself. */
void
rfk_row_clear (const rfk_kind_t *kind, void *rec)
{
    for (size_t i = 0; i < kind->nfields; i++) {
        const rfk_field_t *f = &kind->fields[i];
        if (f->type == S_TEXT) {
            free (*MEMBER (rec, f, char *));
            *MEMBER (rec, f, char *) = NULL;
        } else if (f->type == S_JSON) {
            json_decref (*MEMBER (rec, f, json_t *));
            *MEMBER (rec, f, json_t *) = NULL;
        }
    }
}

/* Deep-copies src's fields into dst (zeroed). -1 on no memory. */
static int
s_copy (const rfk_kind_t *kind, void *dst, const void *src)
{
    for (size_t i = 0; i < kind->nfields; i++) {
        const rfk_field_t *f = &kind->fields[i];
        if (f->type == S_TEXT) {
            const char *text = *MEMBER (src, f, char *);
            if (text && !(*MEMBER (dst, f, char *) = strdup (text)))
                return -1;
        } else if (f->type == S_JSON) {
            json_t *json = *MEMBER (src, f, json_t *);
            if (json && !(*MEMBER (dst, f, json_t *) = json_deep_copy (json)))
                return -1;
        } else if (f->type == S_INT)
            *MEMBER (dst, f, int64_t) = *MEMBER (src, f, int64_t);
        else if (f->type == S_STATE)
            *MEMBER (dst, f, int) = *MEMBER (src, f, int);
        else
            *MEMBER (dst, f, double) = *MEMBER (src, f, double);
    }
    return 0;
}

/* A new zeroed record of kind (scores start as NAN). */
void *
rfk_row_new (const rfk_kind_t *kind)
{
    void *rec = calloc (1, kind->size);
    if (!rec)
        return NULL;
    for (size_t i = 0; i < kind->nfields; i++)
        if (kind->fields[i].type == S_DOUBLE)
            *MEMBER (rec, &kind->fields[i], double) = NAN;
    return rec;
}

void
rfk_row_destroy (const rfk_kind_t *kind, void **rec_p)
{
    if (rec_p && *rec_p) {
        rfk_row_clear (kind, *rec_p);
        free (*rec_p);
        *rec_p = NULL;
    }
}

/* Fills rec (zeroed) from row r, whose cells are the kind's fields in order. */
int
rfk_row_load (const rfk_kind_t *kind, void *rec, const rfk_store_rows_t *rows, size_t r)
{
    for (size_t i = 0; i < kind->nfields && i < rows->ncols; i++) {
        const rfk_field_t *f = &kind->fields[i];
        const char *cell = rows->cells[r * rows->ncols + i];
        if (f->type == S_TEXT) {
            if (cell && !(*MEMBER (rec, f, char *) = strdup (cell)))
                return -1;
        } else if (f->type == S_INT)
            *MEMBER (rec, f, int64_t) = cell ? strtoll (cell, NULL, 10) : 0;
        else if (f->type == S_STATE)
            *MEMBER (rec, f, int) = f->states->value (cell);
        else if (f->type == S_DOUBLE)
            *MEMBER (rec, f, double) = cell ? strtod (cell, NULL) : NAN;
        else if (cell) {
            /* The store wrote it; text that no longer parses reads as NULL. */
            *MEMBER (rec, f, json_t *) = json_loads (cell, JSON_DECODE_ANY, NULL);
        }
    }
    return 0;
}

static bool
s_allowed (const char *value, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp (value, *allowed) == 0)
            return true;
    return false;
}

/* A status field: required ones must be set, and a set one must have a
   name in its family. */
static int
s_check_state (rfk_store_t *self, const rfk_kind_t *kind, const rfk_field_t *f, const void *rec)
{
    int value = *MEMBER (rec, f, int);
    if (value == 0 && (f->flags & S_REQUIRED)) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "%s: %s is required", kind->record, f->name);
        return -1;
    }
    if (value != 0 && !f->states->name (value)) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "%s: %s %d is not valid", kind->record, f->name,
                        value);
        return -1;
    }
    return 0;
}

/* Checks a record's enumerations, and on create its required fields. */
int
rfk_row_check (rfk_store_t *self, const rfk_kind_t *kind, const void *rec, bool creating)
{
    if (!rec) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "%s: no record given", kind->record);
        return -1;
    }
    for (size_t i = 0; i < kind->nfields; i++) {
        const rfk_field_t *f = &kind->fields[i];
        if (f->type == S_TEXT) {
            const char *text = *MEMBER (rec, f, char *);
            if (!text && (f->flags & S_REQUIRED) && (creating || !(f->flags & S_FIXED))) {
                rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "%s: %s is required", kind->record,
                                f->name);
                return -1;
            }
            if (text && f->allowed && !s_allowed (text, f->allowed)) {
                char list[128] = "";
                for (const char *const *a = f->allowed; *a; a++)
                    snprintf (list + strlen (list), sizeof list - strlen (list), "%s%s",
                              a == f->allowed ? "" : ", ", *a);
                rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "%s: %s '%.64s' is not one of %s",
                                kind->record, f->name, text, list);
                return -1;
            }
        } else if (f->type == S_STATE && s_check_state (self, kind, f, rec) != 0) {
            return -1;
        } else if (f->type == S_JSON && (f->flags & S_REQUIRED) && creating &&
                   !*MEMBER (rec, f, json_t *)) {
            rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "%s: %s is required", kind->record,
                            f->name);
            return -1;
        }
    }
    return 0;
}

/* ---- statement arguments --------------------------------------------- */

void
rfk_arg_text (rfk_args_t *args, const char *text)
{
    assert (args->count < MAX_ARGS);
    args->params[args->count++] = (rfk_store_param_t){.type = RFK_PARAM_TEXT, .text = text};
}

void
rfk_arg_int (rfk_args_t *args, int64_t value)
{
    assert (args->count < MAX_ARGS);
    args->params[args->count++] = (rfk_store_param_t){.type = RFK_PARAM_INT, .i = value};
}

static void
s_arg_double (rfk_args_t *args, double value)
{
    assert (args->count < MAX_ARGS);
    if (isnan (value) || isinf (value))
        args->params[args->count++] = (rfk_store_param_t){.type = RFK_PARAM_TEXT, .text = NULL};
    else
        args->params[args->count++] = (rfk_store_param_t){.type = RFK_PARAM_DOUBLE, .d = value};
}

static void
s_arg_json (rfk_args_t *args, const json_t *json)
{
    char *text = NULL;
    if (json) {
        text = json_dumps (json, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
            args->broken = true;
    }
    args->owned[args->count] = text;
    rfk_arg_text (args, text);
}

int
rfk_arg_page (rfk_store_t *self, rfk_args_t *args, const rfk_page_t *page)
{
    if (page && (page->limit < 0 || page->offset < 0)) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "page: limit and offset must not be negative");
        return -1;
    }
    rfk_arg_int (args, page && page->limit > 0 ? page->limit : INT64_MAX);
    rfk_arg_int (args, page ? page->offset : 0);
    return 0;
}

void
rfk_args_free (rfk_args_t *args)
{
    for (size_t i = 0; i < args->count; i++)
        free (args->owned[i]);
    args->count = 0;
}

static void
s_arg_field (rfk_args_t *args, const rfk_field_t *f, const void *rec)
{
    if (f->type == S_TEXT)
        rfk_arg_text (args, *MEMBER (rec, f, char *));
    else if (f->type == S_INT)
        rfk_arg_int (args, *MEMBER (rec, f, int64_t));
    else if (f->type == S_DOUBLE)
        s_arg_double (args, *MEMBER (rec, f, double));
    else if (f->type == S_STATE)
        rfk_arg_text (args, f->states->name (*MEMBER (rec, f, int)));
    else
        s_arg_json (args, *MEMBER (rec, f, json_t *));
}

/* ---- statements over a kind's fields ---------------------------------- */

/* "SELECT x.a, x.b ... FROM table x " + tail, into buf. */
static const char *
s_select_sql (const rfk_kind_t *kind, const char *tail, char *buf, size_t size)
{
    size_t len = (size_t)snprintf (buf, size, "SELECT ");
    for (size_t i = 0; i < kind->nfields && len < size; i++)
        len +=
            (size_t)snprintf (buf + len, size - len, "%sx.%s", i ? ", " : "", kind->fields[i].name);
    if (len < size)
        snprintf (buf + len, size - len, " FROM %s x %s", kind->table, tail);
    return buf;
}

/* Inserts rec (all fields). */
int
rfk_row_insert (rfk_store_t *self, const rfk_kind_t *kind, const void *rec, const char *duplicate,
                const char *missing)
{
    char sql[SQL_MAX];
    size_t len = (size_t)snprintf (sql, sizeof sql, "INSERT INTO %s (", kind->table);
    for (size_t i = 0; i < kind->nfields; i++)
        len += (size_t)snprintf (sql + len, sizeof sql - len, "%s%s", i ? ", " : "",
                                 kind->fields[i].name);
    len += (size_t)snprintf (sql + len, sizeof sql - len, ") VALUES (");
    for (size_t i = 0; i < kind->nfields; i++)
        len += (size_t)snprintf (sql + len, sizeof sql - len, "%s$%zu", i ? ", " : "", i + 1);
    snprintf (sql + len, sizeof sql - len, ")");
    rfk_args_t args = {0};
    for (size_t i = 0; i < kind->nfields; i++)
        s_arg_field (&args, &kind->fields[i], rec);
    int rc = rfk_store_run (self, sql, &args, NULL, duplicate, missing);
    rfk_args_free (&args);
    return rc < 0 ? -1 : 0;
}

/* Writes every field of rec that is not fixed, by id: touched fields get
   now, the stop time is set once when the status has ended. The rows
   changed, or -1. */
static int
s_update (rfk_store_t *self, const rfk_kind_t *kind, const void *rec, const char *id)
{
    char sql[SQL_MAX];
    char now[40];
    rfk_store_now (now, sizeof now);
    bool ended = false;
    rfk_args_t args = {0};
    rfk_arg_text (&args, id);
    size_t len = (size_t)snprintf (sql, sizeof sql, "UPDATE %s SET ", kind->table);
    for (size_t i = 0; i < kind->nfields; i++) {
        const rfk_field_t *f = &kind->fields[i];
        if (f->type == S_STATE)
            ended = f->states->is_final (*MEMBER (rec, f, int));
        if (f->flags & S_FIXED)
            continue;
        if (f->flags & S_STOPPED)
            continue; /* below, once the status is known */
        if (f->flags & S_TOUCHED)
            rfk_arg_text (&args, now);
        else
            s_arg_field (&args, f, rec);
        len += (size_t)snprintf (sql + len, sizeof sql - len, "%s%s = $%zu",
                                 args.count > 2 ? ", " : "", f->name, args.count);
    }
    for (size_t i = 0; i < kind->nfields; i++) {
        const rfk_field_t *f = &kind->fields[i];
        if (f->flags & S_STOPPED) {
            rfk_arg_text (&args, ended ? now : NULL);
            len += (size_t)snprintf (sql + len, sizeof sql - len, ", %s = COALESCE(%s, $%zu)",
                                     f->name, f->name, args.count);
        }
    }
    snprintf (sql + len, sizeof sql - len, " WHERE id = $1");
    int rc = rfk_store_run (self, sql, &args, NULL, NULL, NULL);
    rfk_args_free (&args);
    return rc;
}

/* Loads every row into a list of new records. NULL on failure. */
static zlistx_t *
s_list_rows (rfk_store_t *self, const rfk_kind_t *kind, rfk_store_rows_t *rows)
{
    zlistx_t *list = zlistx_new ();
    if (!list) {
        rfk_store_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
        return NULL;
    }
    zlistx_set_destructor (list, kind->destructor);
    for (size_t r = 0; r < rows->nrows; r++) {
        void *rec = rfk_row_new (kind);
        if (!rec || rfk_row_load (kind, rec, rows, r) != 0 || !zlistx_add_end (list, rec)) {
            rfk_row_destroy (kind, &rec);
            zlistx_destroy (&list);
            rfk_store_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
            return NULL;
        }
    }
    return list;
}

/* Runs SELECT <kind's columns> ... tail and returns the records. */
zlistx_t *
rfk_row_select (rfk_store_t *self, const rfk_kind_t *kind, const char *tail, rfk_args_t *args)
{
    char sql[SQL_MAX];
    rfk_store_rows_t *rows = NULL;
    if (rfk_store_run (self, s_select_sql (kind, tail, sql, sizeof sql), args, &rows, NULL, NULL) <
        0)
        return NULL;
    zlistx_t *list = s_list_rows (self, kind, rows);
    rfk_store_rows_destroy (&rows);
    if (list)
        rfk_store_ok (self);
    return list;
}

zlistx_t *
rfk_row_select_with (rfk_store_t *self, const rfk_kind_t *kind, const char *tail, rfk_args_t *args,
                     rfk_row_children_fn *children)
{
    zlistx_t *list = rfk_row_select (self, kind, tail, args);
    for (void *rec = list ? zlistx_first (list) : NULL; rec; rec = zlistx_next (list))
        if (children (self, rec) != 0) {
            zlistx_destroy (&list);
            return NULL;
        }
    return list;
}

/* The first record of a select, or NULL with NOT_FOUND naming `what`. */
void *
rfk_row_select_one (rfk_store_t *self, const rfk_kind_t *kind, const char *tail, rfk_args_t *args,
                    const char *what)
{
    zlistx_t *list = rfk_row_select (self, kind, tail, args);
    if (!list)
        return NULL;
    void *rec = zlistx_first (list);
    if (rec) {
        zlistx_detach_cur (list);
        rfk_store_ok (self);
    } else
        rfk_store_fail (self, RFK_CODE_NOT_FOUND, "%s not found", what);
    zlistx_destroy (&list);
    return rec;
}

/* The record of kind with that id. */
void *
rfk_row_get (rfk_store_t *self, const rfk_kind_t *kind, const char *id)
{
    if (!id || !*id) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "%s: id is required", kind->record);
        return NULL;
    }
    char what[128];
    snprintf (what, sizeof what, "%s '%.64s'", kind->record, id);
    rfk_args_t args = {0};
    rfk_arg_text (&args, id);
    return rfk_row_select_one (self, kind, "WHERE x.id = $1", &args, what);
}

void *
rfk_row_get_by (rfk_store_t *self, const rfk_kind_t *kind, const char *where, const char *value,
                const char *column, const char *what)
{
    if (!value) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "%s: %s is required", kind->record, column);
        return NULL;
    }
    char found[160];
    snprintf (found, sizeof found, "%s '%.64s'", what, value);
    rfk_args_t args = {0};
    rfk_arg_text (&args, value);
    return rfk_row_select_one (self, kind, where, &args, found);
}

int
rfk_row_load_array (rfk_store_t *self, const rfk_kind_t *kind, const char *sql, rfk_args_t *args,
                    void **array_p, size_t *count_p)
{
    rfk_store_rows_t *rows = NULL;
    if (rfk_store_run (self, sql, args, &rows, NULL, NULL) < 0)
        return -1;
    char *array = (char *)calloc (rows->nrows ? rows->nrows : 1, kind->size);
    int rc = array ? 0 : -1;
    *array_p = array;
    for (size_t r = 0; rc == 0 && r < rows->nrows; r++) {
        *count_p = r + 1; /* what is loaded so far is freed with the parent */
        rc = rfk_row_load (kind, array + r * kind->size, rows, r);
    }
    rfk_store_rows_destroy (&rows);
    if (rc != 0)
        rfk_store_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
    return rc;
}

int
rfk_row_select_array (rfk_store_t *self, const rfk_kind_t *kind, const char *tail,
                      const char *parent_id, void **array_p, size_t *count_p)
{
    char sql[SQL_MAX];
    rfk_args_t args = {0};
    rfk_arg_text (&args, parent_id);
    return rfk_row_load_array (self, kind, s_select_sql (kind, tail, sql, sizeof sql), &args,
                               array_p, count_p);
}

/* ---- creating, saving and deleting records ---------------------------- */

/* -1 with BAD_REQUEST when a call that names a row by id has none. */
static int
s_need_id (rfk_store_t *self, const rfk_kind_t *kind, const char *id)
{
    if (id)
        return 0;
    rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "%s: id is required", kind->record);
    return -1;
}

/* The end of a change to the row with id that ran with result rc: -1 when
   it failed or (NOT_FOUND) changed no row, else 0 and OK. */
static int
s_changed (rfk_store_t *self, const rfk_kind_t *kind, const char *id, int rc)
{
    if (rc == 0)
        rfk_store_fail (self, RFK_CODE_NOT_FOUND, "%s '%.64s' not found", kind->record, id);
    if (rc <= 0)
        return -1;
    rfk_store_ok (self);
    return 0;
}

/* A new copy of rec with a fresh id, its times set to now, and the default
   status when none was given. NULL on no memory. */
void *
rfk_row_prepare (rfk_store_t *self, const rfk_kind_t *kind, const void *rec, int default_status)
{
    if (!rec) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "%s: no record given", kind->record);
        return NULL;
    }
    void *copy = rfk_row_new (kind);
    if (!copy || s_copy (kind, copy, rec) != 0) {
        rfk_row_destroy (kind, &copy);
        rfk_store_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
        return NULL;
    }
    char now[40];
    rfk_store_now (now, sizeof now);
    for (size_t i = 0; i < kind->nfields; i++) {
        const rfk_field_t *f = &kind->fields[i];
        char **text = MEMBER (copy, f, char *);
        if (f->type == S_STATE && *MEMBER (copy, f, int) == 0)
            *MEMBER (copy, f, int) = default_status;
        if (f->type != S_TEXT)
            continue;
        if (strcmp (f->name, "id") == 0) {
            free (*text);
            *text = rfk_store_uuid ();
        } else if (strncmp (f->name, "datetime_", 9) == 0 && (f->flags & (S_FIXED | S_TOUCHED))) {
            free (*text);
            *text = strdup (now);
        } else if (strcmp (f->name, "datetime") == 0 && !*text)
            *text = strdup (now);
        if ((strcmp (f->name, "id") == 0 || strncmp (f->name, "datetime", 8) == 0) && !*text &&
            !(f->flags & S_STOPPED) && strcmp (f->name, "datetime_heartbeat") != 0) {
            rfk_row_destroy (kind, &copy);
            rfk_store_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
            return NULL;
        }
    }
    return copy;
}

/* Creates a record of a kind that has no children; returns it as stored. */
void *
rfk_row_create (rfk_store_t *self, const rfk_kind_t *kind, const void *rec, int default_status,
                const char *duplicate, const char *missing)
{
    void *copy = rfk_row_prepare (self, kind, rec, default_status);
    if (!copy)
        return NULL;
    if (rfk_row_check (self, kind, copy, true) != 0 ||
        rfk_row_insert (self, kind, copy, duplicate, missing) != 0) {
        rfk_row_destroy (kind, &copy);
        return NULL;
    }
    rfk_store_ok (self);
    return copy;
}

int
rfk_row_save (rfk_store_t *self, const rfk_kind_t *kind, const void *rec)
{
    if (rfk_row_check (self, kind, rec, false) != 0)
        return -1;
    assert (strcmp (kind->fields[0].name, "id") == 0);
    const char *id = *MEMBER (rec, &kind->fields[0], char *);
    if (s_need_id (self, kind, id) != 0)
        return -1;
    return s_changed (self, kind, id, s_update (self, kind, rec, id));
}

int
rfk_row_set_status (rfk_store_t *self, const rfk_kind_t *kind, const char *id, int value)
{
    const rfk_states_t *states = NULL;
    for (size_t i = 0; i < kind->nfields && !states; i++)
        states = kind->fields[i].states;
    assert (states);
    const char *status = states->name (value);
    if (!id || !status) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST,
                        "%s: id and a valid status are required (not %d)", kind->record, value);
        return -1;
    }
    char sql[SQL_MAX], now[40];
    snprintf (sql, sizeof sql,
              "UPDATE %s SET status = $2,"
              " datetime_stopped = COALESCE(datetime_stopped, $3) WHERE id = $1",
              kind->table);
    rfk_store_now (now, sizeof now);
    rfk_args_t args = {0};
    rfk_arg_text (&args, id);
    rfk_arg_text (&args, status);
    rfk_arg_text (&args, states->is_final (value) ? now : NULL);
    return s_changed (self, kind, id, rfk_store_run (self, sql, &args, NULL, NULL, NULL));
}

int
rfk_row_stamp (rfk_store_t *self, const rfk_kind_t *kind, const char *sql, const char *id)
{
    if (s_need_id (self, kind, id) != 0)
        return -1;
    char now[40];
    rfk_store_now (now, sizeof now);
    rfk_args_t args = {0};
    rfk_arg_text (&args, id);
    rfk_arg_text (&args, now);
    return s_changed (self, kind, id, rfk_store_run (self, sql, &args, NULL, NULL, NULL));
}

/* Deletes the row with id; a row referring to it is CONFLICT. */
int
rfk_row_delete (rfk_store_t *self, const rfk_kind_t *kind, const char *id, const char *used)
{
    if (s_need_id (self, kind, id) != 0)
        return -1;
    char sql[SQL_MAX], in_use[160];
    snprintf (sql, sizeof sql, "DELETE FROM %s WHERE id = $1", kind->table);
    snprintf (in_use, sizeof in_use, "%s '%.64s' is used by %s", kind->record, id, used);
    rfk_args_t args = {0};
    rfk_arg_text (&args, id);
    int rc = rfk_store_run (self, sql, &args, NULL, NULL, in_use);
    if (rc < 0 && self->code == RFK_CODE_NOT_FOUND)
        self->code = RFK_CODE_CONFLICT; /* a foreign key still points here */
    return s_changed (self, kind, id, rc);
}

int
rfk_row_exists (rfk_store_t *self, const rfk_kind_t *kind, const char *id, const char *what)
{
    char sql[SQL_MAX];
    snprintf (sql, sizeof sql, "SELECT COUNT(*) FROM %s WHERE id = $1", kind->table);
    rfk_args_t args = {0};
    rfk_arg_text (&args, id);
    int64_t count = 0;
    if (rfk_store_scalar (self, sql, &args, &count) != 0)
        return -1;
    if (count == 0) {
        rfk_store_fail (self, RFK_CODE_NOT_FOUND, "%s '%.64s' not found", what, id);
        return -1;
    }
    return 0;
}
