/*  rfk_store.c: the metadata store's records over either backend.

    Picks the backend from the URL, applies the migrations, and writes and
    reads every record through the driver interface (rfk_store_driver.h).
    Each record type is described once by a table of its fields (column
    name, type, offset in the struct, whether it is required, its allowed
    values, or for a status its family in rfk_states.h, whose enum the
    struct holds and whose .proto name the row holds); inserts, selects, row loading, copying and
   freeing are written once over those tables. Every statement is a constant SQL text with $N
    parameters: the only SQL assembled at run time is made of those constant
    column and table names, never of a caller's string.
*/
#include "rfk_store.h"
#include "rfk_store_driver.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

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

/* ---- errors ---------------------------------------------------------- */

static void
s_ok (rfk_store_t *self)
{
    self->code = RFK_CODE_OK;
    self->message[0] = '\0';
}

static void
s_fail (rfk_store_t *self, rfk_code_t code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_fail (rfk_store_t *self, rfk_code_t code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->message, sizeof self->message, format, args);
    va_end (args);
    self->code = code;
}

/* Records a backend fault; `duplicate` and `missing` (may be NULL) replace
   the engine's words for a unique and a foreign-key failure. */
static void
s_fault (rfk_store_t *self, const rfk_store_fault_t *fault, const char *duplicate,
         const char *missing)
{
    if (fault->unique && duplicate)
        s_fail (self, RFK_CODE_CONFLICT, "%s", duplicate);
    else if (fault->foreign_key && missing)
        s_fail (self, fault->code, "%s", missing);
    else
        s_fail (self, fault->code, "%s", fault->message);
}

/* ---- ids and times --------------------------------------------------- */

static char *
s_uuid (void)
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
static void
s_now (char *buf, size_t size)
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

static char *
s_now_dup (void)
{
    char buf[40];
    s_now (buf, sizeof buf);
    return strdup (buf);
}

/* ---- record descriptions --------------------------------------------- */

/* S_STATE: a status enum in the struct, its name in the row. */
typedef enum { S_TEXT, S_INT, S_DOUBLE, S_JSON, S_STATE } s_type_t;

/* A state family of rfk_states.h, over int: the one name table, reached
   through its functions. */
typedef struct {
    const char *(*name) (int value); /* NULL for UNSET and unknown values */
    int (*value) (const char *name); /* 0 (UNSET) for NULL and unknown names */
} s_states_t;

enum {
    S_REQUIRED = 1, /* must be set on create */
    S_FIXED = 2,    /* never changed by an update */
    S_STOPPED = 4,  /* the stop time: set once, when the status ends */
    S_TOUCHED = 8   /* set to now by every update */
};

typedef struct {
    const char *name; /* the column, and the struct member */
    s_type_t type;
    size_t offset;
    int flags;
    const char *const *allowed; /* for enumerations: NULL-terminated */
    const s_states_t *states;   /* for S_STATE: the family */
} s_field_t;

typedef struct {
    const char *record; /* for messages: "train job" */
    const char *table;
    size_t size;
    const s_field_t *fields;
    size_t nfields;
    zlistx_destructor_fn *destructor;
} s_kind_t;

static const char *const s_user_types[] = {"SUPERADMIN", "ADMIN", "MODEL_DEVELOPER",
                                           "APP_DEVELOPER", NULL};
static const char *const s_access_rights[] = {"PRIVATE", "PUBLIC", NULL};
static const char *const s_service_types[] = {"ADVISOR", "TRAIN", "PREDICT", "INFERENCE", NULL};

static const char *
s_service_status_name (int value)
{
    return rfk_service_status_name ((rfk_service_status_t)value);
}
static int
s_service_status_value (const char *name)
{
    return (int)rfk_service_status_from_name (name);
}
static const char *
s_job_status_name (int value)
{
    return rfk_job_status_name ((rfk_job_status_t)value);
}
static int
s_job_status_value (const char *name)
{
    return (int)rfk_job_status_from_name (name);
}
static const char *
s_trial_status_name (int value)
{
    return rfk_trial_status_name ((rfk_trial_status_t)value);
}
static int
s_trial_status_value (const char *name)
{
    return (int)rfk_trial_status_from_name (name);
}
static const s_states_t s_service_states = {s_service_status_name, s_service_status_value};
static const s_states_t s_job_states = {s_job_status_name, s_job_status_value};
static const s_states_t s_trial_states = {s_trial_status_name, s_trial_status_value};
static const char *const s_log_types[] = {"MESSAGE", "METRICS", "PLOT", NULL};

#define F(T, member, type, flags, allowed)                                                         \
    {                                                                                              \
#member, type, offsetof(T, member), flags, allowed, NULL                                   \
    }
/* A status field of a family. */
#define FS(T, member, flags, family)                                                               \
    {                                                                                              \
#member, S_STATE, offsetof(T, member), flags, NULL, &s_##family##_states                   \
    }
#define N(array) (sizeof (array) / sizeof ((array)[0]))
#define KIND(name, rec, table, T, fields)                                                          \
    static void s_##name##_destructor (void **item)                                                \
    {                                                                                              \
        rfk_##name##_destroy ((T **)item);                                                         \
    }                                                                                              \
    static const s_kind_t s_##name##_kind = {rec,    table,      sizeof (T),                       \
                                             fields, N (fields), s_##name##_destructor};

static const s_field_t s_user_fields[] = {
    F (rfk_user_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_user_t, email, S_TEXT, S_REQUIRED, NULL),
    F (rfk_user_t, password_hash, S_TEXT, S_REQUIRED, NULL),
    F (rfk_user_t, user_type, S_TEXT, S_REQUIRED, s_user_types),
    F (rfk_user_t, banned_date, S_TEXT, 0, NULL),
    F (rfk_user_t, datetime_created, S_TEXT, S_FIXED, NULL),
};
KIND (user, "user", "users", rfk_user_t, s_user_fields)

static const s_field_t s_dataset_fields[] = {
    F (rfk_dataset_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_dataset_t, name, S_TEXT, S_REQUIRED, NULL),
    F (rfk_dataset_t, task, S_TEXT, S_REQUIRED, NULL),
    F (rfk_dataset_t, owner_id, S_TEXT, S_REQUIRED, NULL),
    F (rfk_dataset_t, store_dataset_id, S_TEXT, S_REQUIRED, NULL),
    F (rfk_dataset_t, size_bytes, S_INT, 0, NULL),
    F (rfk_dataset_t, datetime_created, S_TEXT, S_FIXED, NULL),
};
KIND (dataset, "dataset", "datasets", rfk_dataset_t, s_dataset_fields)

static const s_field_t s_model_fields[] = {
    F (rfk_model_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_model_t, user_id, S_TEXT, S_REQUIRED, NULL),
    F (rfk_model_t, name, S_TEXT, S_REQUIRED, NULL),
    F (rfk_model_t, task, S_TEXT, S_REQUIRED, NULL),
    F (rfk_model_t, model_class, S_TEXT, S_REQUIRED, NULL),
    F (rfk_model_t, model_file, S_TEXT, S_REQUIRED, NULL),
    F (rfk_model_t, docker_image, S_TEXT, 0, NULL),
    F (rfk_model_t, dependencies, S_JSON, 0, NULL),
    F (rfk_model_t, access_right, S_TEXT, S_REQUIRED, s_access_rights),
    F (rfk_model_t, datetime_created, S_TEXT, S_FIXED, NULL),
};
KIND (model, "model", "models", rfk_model_t, s_model_fields)

static const s_field_t s_service_fields[] = {
    F (rfk_service_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_service_t, service_type, S_TEXT, S_REQUIRED, s_service_types),
    FS (rfk_service_t, status, S_REQUIRED, service),
    F (rfk_service_t, docker_image, S_TEXT, 0, NULL),
    F (rfk_service_t, container_manager_type, S_TEXT, 0, NULL),
    F (rfk_service_t, replicas, S_INT, 0, NULL),
    F (rfk_service_t, gpus, S_INT, 0, NULL),
    F (rfk_service_t, hostname, S_TEXT, 0, NULL),
    F (rfk_service_t, port, S_INT, 0, NULL),
    F (rfk_service_t, ext_hostname, S_TEXT, 0, NULL),
    F (rfk_service_t, ext_port, S_INT, 0, NULL),
    F (rfk_service_t, container_service_name, S_TEXT, 0, NULL),
    F (rfk_service_t, container_service_id, S_TEXT, 0, NULL),
    F (rfk_service_t, container_service_info, S_JSON, 0, NULL),
    F (rfk_service_t, service_info, S_JSON, 0, NULL),
    F (rfk_service_t, secret_hash, S_TEXT, 0, NULL),
    F (rfk_service_t, datetime_started, S_TEXT, S_FIXED, NULL),
    F (rfk_service_t, datetime_stopped, S_TEXT, S_STOPPED, NULL),
    F (rfk_service_t, datetime_heartbeat, S_TEXT, 0, NULL),
};
KIND (service, "service", "services", rfk_service_t, s_service_fields)

static const s_field_t s_sub_train_job_fields[] = {
    F (rfk_sub_train_job_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_sub_train_job_t, train_job_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_sub_train_job_t, model_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    FS (rfk_sub_train_job_t, status, S_REQUIRED, job),
    F (rfk_sub_train_job_t, advisor_service_id, S_TEXT, 0, NULL),
    F (rfk_sub_train_job_t, datetime_started, S_TEXT, S_FIXED, NULL),
    F (rfk_sub_train_job_t, datetime_stopped, S_TEXT, S_STOPPED, NULL),
};
KIND (sub_train_job, "sub train job", "sub_train_jobs", rfk_sub_train_job_t, s_sub_train_job_fields)

static const s_field_t s_train_job_fields[] = {
    F (rfk_train_job_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_train_job_t, user_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_train_job_t, app, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_train_job_t, app_version, S_INT, S_FIXED, NULL),
    F (rfk_train_job_t, task, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_train_job_t, budget, S_JSON, S_REQUIRED | S_FIXED, NULL),
    F (rfk_train_job_t, train_dataset_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_train_job_t, val_dataset_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_train_job_t, train_args, S_JSON, S_FIXED, NULL),
    FS (rfk_train_job_t, status, S_REQUIRED, job),
    F (rfk_train_job_t, datetime_started, S_TEXT, S_FIXED, NULL),
    F (rfk_train_job_t, datetime_stopped, S_TEXT, S_STOPPED, NULL),
};
KIND (train_job, "train job", "train_jobs", rfk_train_job_t, s_train_job_fields)

static const s_field_t s_train_job_worker_fields[] = {
    F (rfk_train_job_worker_t, service_id, S_TEXT, S_REQUIRED, NULL),
    F (rfk_train_job_worker_t, sub_train_job_id, S_TEXT, S_REQUIRED, NULL),
};
KIND (train_job_worker, "train job worker", "train_job_workers", rfk_train_job_worker_t,
      s_train_job_worker_fields)

static const s_field_t s_trial_fields[] = {
    F (rfk_trial_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_trial_t, no, S_INT, S_FIXED, NULL),
    F (rfk_trial_t, sub_train_job_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_trial_t, train_job_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_trial_t, model_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_trial_t, worker_id, S_TEXT, 0, NULL),
    FS (rfk_trial_t, status, S_REQUIRED, trial),
    F (rfk_trial_t, knobs, S_JSON, 0, NULL),
    F (rfk_trial_t, proposal, S_JSON, 0, NULL),
    F (rfk_trial_t, policies, S_JSON, 0, NULL),
    F (rfk_trial_t, progress, S_JSON, 0, NULL),
    F (rfk_trial_t, score, S_DOUBLE, 0, NULL),
    F (rfk_trial_t, store_params_id, S_TEXT, 0, NULL),
    F (rfk_trial_t, datetime_started, S_TEXT, S_FIXED, NULL),
    F (rfk_trial_t, datetime_updated, S_TEXT, S_TOUCHED, NULL),
    F (rfk_trial_t, datetime_stopped, S_TEXT, S_STOPPED, NULL),
};
KIND (trial, "trial", "trials", rfk_trial_t, s_trial_fields)

static const s_field_t s_trial_log_fields[] = {
    F (rfk_trial_log_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_trial_log_t, trial_id, S_TEXT, S_REQUIRED, NULL),
    F (rfk_trial_log_t, seq, S_INT, 0, NULL),
    F (rfk_trial_log_t, datetime, S_TEXT, 0, NULL),
    F (rfk_trial_log_t, type, S_TEXT, S_REQUIRED, s_log_types),
    F (rfk_trial_log_t, level, S_TEXT, 0, NULL),
    F (rfk_trial_log_t, message, S_TEXT, 0, NULL),
    F (rfk_trial_log_t, data, S_JSON, 0, NULL),
};
KIND (trial_log, "trial log", "trial_logs", rfk_trial_log_t, s_trial_log_fields)

static const s_field_t s_inference_job_worker_fields[] = {
    F (rfk_inference_job_worker_t, service_id, S_TEXT, S_REQUIRED, NULL),
    F (rfk_inference_job_worker_t, inference_job_id, S_TEXT, S_REQUIRED, NULL),
    F (rfk_inference_job_worker_t, trial_id, S_TEXT, S_REQUIRED, NULL),
};
KIND (inference_job_worker, "inference job worker", "inference_job_workers",
      rfk_inference_job_worker_t, s_inference_job_worker_fields)

static const s_field_t s_inference_job_fields[] = {
    F (rfk_inference_job_t, id, S_TEXT, S_FIXED, NULL),
    F (rfk_inference_job_t, user_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_inference_job_t, train_job_id, S_TEXT, S_REQUIRED | S_FIXED, NULL),
    F (rfk_inference_job_t, budget, S_JSON, S_FIXED, NULL),
    F (rfk_inference_job_t, max_trials, S_INT, S_FIXED, NULL),
    F (rfk_inference_job_t, replicas, S_INT, S_FIXED, NULL),
    FS (rfk_inference_job_t, status, S_REQUIRED, job),
    F (rfk_inference_job_t, predictor_service_id, S_TEXT, 0, NULL),
    F (rfk_inference_job_t, datetime_started, S_TEXT, S_FIXED, NULL),
    F (rfk_inference_job_t, datetime_stopped, S_TEXT, S_STOPPED, NULL),
};
KIND (inference_job, "inference job", "inference_jobs", rfk_inference_job_t, s_inference_job_fields)

#define MEMBER(rec, field, T) ((T *)((char *)(rec) + (field)->offset))

/* Frees what a record's fields own, leaving the struct itself. */
static void
s_clear (const s_kind_t *kind, void *rec)
{
    for (size_t i = 0; i < kind->nfields; i++) {
        const s_field_t *f = &kind->fields[i];
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
s_copy (const s_kind_t *kind, void *dst, const void *src)
{
    for (size_t i = 0; i < kind->nfields; i++) {
        const s_field_t *f = &kind->fields[i];
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
static void *
s_new (const s_kind_t *kind)
{
    void *rec = calloc (1, kind->size);
    if (!rec)
        return NULL;
    for (size_t i = 0; i < kind->nfields; i++)
        if (kind->fields[i].type == S_DOUBLE)
            *MEMBER (rec, &kind->fields[i], double) = NAN;
    return rec;
}

static void
s_destroy (const s_kind_t *kind, void **rec_p)
{
    if (rec_p && *rec_p) {
        s_clear (kind, *rec_p);
        free (*rec_p);
        *rec_p = NULL;
    }
}

/* Fills rec (zeroed) from row r, whose cells are the kind's fields in order. */
static int
s_load (const s_kind_t *kind, void *rec, const rfk_store_rows_t *rows, size_t r)
{
    for (size_t i = 0; i < kind->nfields && i < rows->ncols; i++) {
        const s_field_t *f = &kind->fields[i];
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
s_check_state (rfk_store_t *self, const s_kind_t *kind, const s_field_t *f, const void *rec)
{
    int value = *MEMBER (rec, f, int);
    if (value == 0 && (f->flags & S_REQUIRED)) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "%s: %s is required", kind->record, f->name);
        return -1;
    }
    if (value != 0 && !f->states->name (value)) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "%s: %s %d is not valid", kind->record, f->name, value);
        return -1;
    }
    return 0;
}

/* Checks a record's enumerations, and on create its required fields. */
static int
s_check (rfk_store_t *self, const s_kind_t *kind, const void *rec, bool creating)
{
    if (!rec) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "%s: no record given", kind->record);
        return -1;
    }
    for (size_t i = 0; i < kind->nfields; i++) {
        const s_field_t *f = &kind->fields[i];
        if (f->type == S_TEXT) {
            const char *text = *MEMBER (rec, f, char *);
            if (!text && (f->flags & S_REQUIRED) && (creating || !(f->flags & S_FIXED))) {
                s_fail (self, RFK_CODE_BAD_REQUEST, "%s: %s is required", kind->record, f->name);
                return -1;
            }
            if (text && f->allowed && !s_allowed (text, f->allowed)) {
                char list[128] = "";
                for (const char *const *a = f->allowed; *a; a++)
                    snprintf (list + strlen (list), sizeof list - strlen (list), "%s%s",
                              a == f->allowed ? "" : ", ", *a);
                s_fail (self, RFK_CODE_BAD_REQUEST, "%s: %s '%.64s' is not one of %s", kind->record,
                        f->name, text, list);
                return -1;
            }
        } else if (f->type == S_STATE && s_check_state (self, kind, f, rec) != 0) {
            return -1;
        } else if (f->type == S_JSON && (f->flags & S_REQUIRED) && creating &&
                   !*MEMBER (rec, f, json_t *)) {
            s_fail (self, RFK_CODE_BAD_REQUEST, "%s: %s is required", kind->record, f->name);
            return -1;
        }
    }
    return 0;
}

/* Whether a status field's value is final in its family. */
static bool
s_is_terminal (const s_states_t *states, int value)
{
    if (states == &s_trial_states)
        return rfk_trial_status_is_final ((rfk_trial_status_t)value);
    if (states == &s_service_states)
        return rfk_service_status_is_final ((rfk_service_status_t)value);
    return rfk_job_status_is_final ((rfk_job_status_t)value);
}

/* ---- statement arguments --------------------------------------------- */

typedef struct {
    rfk_store_param_t params[MAX_ARGS];
    char *owned[MAX_ARGS]; /* serialised JSON to free */
    size_t count;
    bool broken; /* an argument could not be made */
} s_args_t;

static void
s_arg_text (s_args_t *args, const char *text)
{
    assert (args->count < MAX_ARGS);
    args->params[args->count++] = (rfk_store_param_t){.type = RFK_PARAM_TEXT, .text = text};
}

static void
s_arg_int (s_args_t *args, int64_t value)
{
    assert (args->count < MAX_ARGS);
    args->params[args->count++] = (rfk_store_param_t){.type = RFK_PARAM_INT, .i = value};
}

static void
s_arg_double (s_args_t *args, double value)
{
    assert (args->count < MAX_ARGS);
    if (isnan (value) || isinf (value))
        args->params[args->count++] = (rfk_store_param_t){.type = RFK_PARAM_TEXT, .text = NULL};
    else
        args->params[args->count++] = (rfk_store_param_t){.type = RFK_PARAM_DOUBLE, .d = value};
}

static void
s_arg_json (s_args_t *args, const json_t *json)
{
    char *text = NULL;
    if (json) {
        text = json_dumps (json, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
            args->broken = true;
    }
    args->owned[args->count] = text;
    s_arg_text (args, text);
}

/* The paging arguments: limit (all when 0) and offset. */
static int
s_arg_page (rfk_store_t *self, s_args_t *args, const rfk_page_t *page)
{
    if (page && (page->limit < 0 || page->offset < 0)) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "page: limit and offset must not be negative");
        return -1;
    }
    s_arg_int (args, page && page->limit > 0 ? page->limit : INT64_MAX);
    s_arg_int (args, page ? page->offset : 0);
    return 0;
}

static void
s_args_free (s_args_t *args)
{
    for (size_t i = 0; i < args->count; i++)
        free (args->owned[i]);
    args->count = 0;
}

static void
s_arg_field (s_args_t *args, const s_field_t *f, const void *rec)
{
    if (f->type == S_TEXT)
        s_arg_text (args, *MEMBER (rec, f, char *));
    else if (f->type == S_INT)
        s_arg_int (args, *MEMBER (rec, f, int64_t));
    else if (f->type == S_DOUBLE)
        s_arg_double (args, *MEMBER (rec, f, double));
    else if (f->type == S_STATE)
        s_arg_text (args, f->states->name (*MEMBER (rec, f, int)));
    else
        s_arg_json (args, *MEMBER (rec, f, json_t *));
}

/* ---- running statements ---------------------------------------------- */

/* Runs sql; -1 with the failure recorded (duplicate and missing name what a
   unique or foreign key failure means here), else the rows changed. */
static int
s_run (rfk_store_t *self, const char *sql, s_args_t *args, rfk_store_rows_t **rows_p,
       const char *duplicate, const char *missing)
{
    if (args && args->broken) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "a JSON field could not be serialised");
        return -1;
    }
    rfk_store_fault_t fault = {0};
    int rc = self->driver->exec (self->conn, sql, args ? args->params : NULL,
                                 args ? args->count : 0, rows_p, &fault);
    if (rc < 0)
        s_fault (self, &fault, duplicate, missing);
    return rc;
}

/*  Transactions nest: only the outermost begin and commit reach the
    database; a nested rollback dooms the outer transaction, whose commit
    then rolls everything back and fails. */
static int
s_begin (rfk_store_t *self)
{
    if (self->depth > 0) {
        self->depth++;
        return 0;
    }
    rfk_store_fault_t fault = {0};
    if (self->driver->begin (self->conn, &fault) != 0) {
        s_fault (self, &fault, NULL, NULL);
        return -1;
    }
    self->depth = 1;
    self->doomed = false;
    return 0;
}

static void
s_rollback (rfk_store_t *self)
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

static int
s_commit (rfk_store_t *self)
{
    if (self->depth > 1) {
        self->depth--;
        return 0;
    }
    if (self->doomed) {
        s_rollback (self);
        s_fail (self, RFK_CODE_INTERNAL, "a part of the transaction failed; nothing was written");
        return -1;
    }
    rfk_store_fault_t fault = {0};
    self->depth = 0;
    if (self->driver->commit (self->conn, &fault) != 0) {
        s_fault (self, &fault, NULL, NULL);
        self->driver->rollback (self->conn);
        return -1;
    }
    return 0;
}

/* "SELECT x.a, x.b ... FROM table x " + tail, into buf. */
static const char *
s_select_sql (const s_kind_t *kind, const char *tail, char *buf, size_t size)
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
static int
s_insert (rfk_store_t *self, const s_kind_t *kind, const void *rec, const char *duplicate,
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
    s_args_t args = {0};
    for (size_t i = 0; i < kind->nfields; i++)
        s_arg_field (&args, &kind->fields[i], rec);
    int rc = s_run (self, sql, &args, NULL, duplicate, missing);
    s_args_free (&args);
    return rc < 0 ? -1 : 0;
}

/* Writes every field of rec that is not fixed, by id: touched fields get
   now, the stop time is set once when the status has ended. -1 and
   NOT_FOUND when no row has that id. */
static int
s_update (rfk_store_t *self, const s_kind_t *kind, const void *rec, const char *id)
{
    char sql[SQL_MAX];
    char now[40];
    s_now (now, sizeof now);
    bool ended = false;
    s_args_t args = {0};
    s_arg_text (&args, id);
    size_t len = (size_t)snprintf (sql, sizeof sql, "UPDATE %s SET ", kind->table);
    for (size_t i = 0; i < kind->nfields; i++) {
        const s_field_t *f = &kind->fields[i];
        if (f->type == S_STATE)
            ended = s_is_terminal (f->states, *MEMBER (rec, f, int));
        if (f->flags & S_FIXED)
            continue;
        if (f->flags & S_STOPPED)
            continue; /* below, once the status is known */
        if (f->flags & S_TOUCHED)
            s_arg_text (&args, now);
        else
            s_arg_field (&args, f, rec);
        len += (size_t)snprintf (sql + len, sizeof sql - len, "%s%s = $%zu",
                                 args.count > 2 ? ", " : "", f->name, args.count);
    }
    for (size_t i = 0; i < kind->nfields; i++) {
        const s_field_t *f = &kind->fields[i];
        if (f->flags & S_STOPPED) {
            s_arg_text (&args, ended ? now : NULL);
            len += (size_t)snprintf (sql + len, sizeof sql - len, ", %s = COALESCE(%s, $%zu)",
                                     f->name, f->name, args.count);
        }
    }
    snprintf (sql + len, sizeof sql - len, " WHERE id = $1");
    int rc = s_run (self, sql, &args, NULL, NULL, NULL);
    s_args_free (&args);
    if (rc == 0)
        s_fail (self, RFK_CODE_NOT_FOUND, "%s '%.64s' not found", kind->record, id);
    return rc <= 0 ? -1 : 0;
}

/* Loads every row into a list of new records. NULL on failure. */
static zlistx_t *
s_list_rows (rfk_store_t *self, const s_kind_t *kind, rfk_store_rows_t *rows)
{
    zlistx_t *list = zlistx_new ();
    if (!list) {
        s_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
        return NULL;
    }
    zlistx_set_destructor (list, kind->destructor);
    for (size_t r = 0; r < rows->nrows; r++) {
        void *rec = s_new (kind);
        if (!rec || s_load (kind, rec, rows, r) != 0 || !zlistx_add_end (list, rec)) {
            s_destroy (kind, &rec);
            zlistx_destroy (&list);
            s_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
            return NULL;
        }
    }
    return list;
}

/* Runs SELECT <kind's columns> ... tail and returns the records. */
static zlistx_t *
s_select (rfk_store_t *self, const s_kind_t *kind, const char *tail, s_args_t *args)
{
    char sql[SQL_MAX];
    rfk_store_rows_t *rows = NULL;
    if (s_run (self, s_select_sql (kind, tail, sql, sizeof sql), args, &rows, NULL, NULL) < 0)
        return NULL;
    zlistx_t *list = s_list_rows (self, kind, rows);
    rfk_store_rows_destroy (&rows);
    return list;
}

/* The first record of a select, or NULL with NOT_FOUND naming `what`. */
static void *
s_select_one (rfk_store_t *self, const s_kind_t *kind, const char *tail, s_args_t *args,
              const char *what)
{
    zlistx_t *list = s_select (self, kind, tail, args);
    if (!list)
        return NULL;
    void *rec = zlistx_first (list);
    if (rec)
        zlistx_detach_cur (list);
    else
        s_fail (self, RFK_CODE_NOT_FOUND, "%s not found", what);
    zlistx_destroy (&list);
    return rec;
}

/* The record of kind with that id. */
static void *
s_get (rfk_store_t *self, const s_kind_t *kind, const char *id)
{
    if (!id || !*id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "%s: id is required", kind->record);
        return NULL;
    }
    char what[128];
    snprintf (what, sizeof what, "%s '%.64s'", kind->record, id);
    s_args_t args = {0};
    s_arg_text (&args, id);
    return s_select_one (self, kind, "WHERE x.id = $1", &args, what);
}

/* A single value query (e.g. the next number): the first cell as integer. */
static int
s_scalar (rfk_store_t *self, const char *sql, s_args_t *args, int64_t *value)
{
    rfk_store_rows_t *rows = NULL;
    if (s_run (self, sql, args, &rows, NULL, NULL) < 0)
        return -1;
    *value = rows->nrows && rows->ncols && rows->cells[0] ? strtoll (rows->cells[0], NULL, 10) : 0;
    rfk_store_rows_destroy (&rows);
    return 0;
}

/* Loads the rows of a child select into an array of records. */
static int
s_select_array (rfk_store_t *self, const s_kind_t *kind, const char *tail, const char *parent_id,
                void **array_p, size_t *count_p)
{
    char sql[SQL_MAX];
    rfk_store_rows_t *rows = NULL;
    s_args_t args = {0};
    s_arg_text (&args, parent_id);
    if (s_run (self, s_select_sql (kind, tail, sql, sizeof sql), &args, &rows, NULL, NULL) < 0)
        return -1;
    char *array = (char *)calloc (rows->nrows ? rows->nrows : 1, kind->size);
    if (!array) {
        rfk_store_rows_destroy (&rows);
        s_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
        return -1;
    }
    *array_p = array;
    for (size_t r = 0; r < rows->nrows; r++) {
        *count_p = r + 1; /* what is loaded so far is freed with the parent */
        if (s_load (kind, array + r * kind->size, rows, r) != 0) {
            rfk_store_rows_destroy (&rows);
            s_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
            return -1;
        }
    }
    *count_p = rows->nrows;
    rfk_store_rows_destroy (&rows);
    return 0;
}

/* Sets status (and the stop time once it ended) of the row with id. */
static int
s_set_status (rfk_store_t *self, const s_kind_t *kind, const char *sql, const char *id, int value,
              const s_states_t *states)
{
    const char *status = states->name (value);
    if (!id || !status) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "%s: id and a valid status are required (not %d)",
                kind->record, value);
        return -1;
    }
    char now[40];
    s_now (now, sizeof now);
    s_args_t args = {0};
    s_arg_text (&args, id);
    s_arg_text (&args, status);
    s_arg_text (&args, s_is_terminal (states, value) ? now : NULL);
    int rc = s_run (self, sql, &args, NULL, NULL, NULL);
    if (rc == 0)
        s_fail (self, RFK_CODE_NOT_FOUND, "%s '%.64s' not found", kind->record, id);
    return rc <= 0 ? -1 : 0;
}

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
        s_fault (self, &fault, NULL, NULL);
        return -1;
    }
    int64_t current;
    if (s_scalar (self, "SELECT COALESCE(MAX(version), 0) FROM schema_version", NULL, &current) !=
        0)
        return -1;
    int64_t latest = (int64_t)rfk_store_migration_count;
    if (current > latest) {
        s_fail (self, RFK_CODE_CONFLICT,
                "the store's schema is version %" PRId64 ", newer than this binary knows (%" PRId64
                "): run a newer rafikid, or restore a store of version %" PRId64 " or older",
                current, latest, latest);
        return -1;
    }
    for (int64_t v = current + 1; v <= latest; v++) {
        if (s_begin (self) != 0)
            return -1;
        char now[40];
        s_now (now, sizeof now);
        s_args_t args = {0};
        s_arg_int (&args, v);
        s_arg_text (&args, now);
        for (const char *const *step = rfk_store_migrations[v - 1]; *step; step++)
            if (self->driver->script (self->conn, *step, &fault) != 0) {
                s_fail (self, fault.code, "migration to schema version %" PRId64 " failed: %s", v,
                        fault.message);
                s_rollback (self);
                return -1;
            }
        if (s_run (self, "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)", &args,
                   NULL, "another process migrated the store at the same time", NULL) < 0 ||
            s_commit (self) != 0) {
            s_rollback (self);
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
    s_ok (self);
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
    if (s_begin (self) != 0)
        return -1;
    s_ok (self);
    return 0;
}

int
rfk_store_commit (rfk_store_t *self)
{
    S_ENTER (self);
    if (self->depth == 0) {
        s_fail (self, RFK_CODE_INTERNAL, "commit without a transaction");
        return -1;
    }
    if (s_commit (self) != 0)
        return -1;
    s_ok (self);
    return 0;
}

void
rfk_store_rollback (rfk_store_t *self)
{
    S_ENTER (self);
    if (self->depth > 0)
        s_rollback (self);
}

/* ---- the records' destructors ---------------------------------------- */

#define DESTROY(name, T)                                                                           \
    void rfk_##name##_destroy (T **self_p)                                                         \
    {                                                                                              \
        s_destroy (&s_##name##_kind, (void **)self_p);                                             \
    }

DESTROY (user, rfk_user_t)
DESTROY (dataset, rfk_dataset_t)
DESTROY (model, rfk_model_t)
DESTROY (service, rfk_service_t)
DESTROY (sub_train_job, rfk_sub_train_job_t)
DESTROY (train_job_worker, rfk_train_job_worker_t)
DESTROY (trial, rfk_trial_t)
DESTROY (trial_log, rfk_trial_log_t)
DESTROY (inference_job_worker, rfk_inference_job_worker_t)

void
rfk_train_job_destroy (rfk_train_job_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_train_job_t *self = *self_p;
    for (size_t i = 0; i < self->sub_train_job_count; i++)
        s_clear (&s_sub_train_job_kind, &self->sub_train_jobs[i]);
    free (self->sub_train_jobs);
    s_destroy (&s_train_job_kind, (void **)self_p);
}

void
rfk_inference_job_destroy (rfk_inference_job_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_inference_job_t *self = *self_p;
    for (size_t i = 0; i < self->worker_count; i++)
        s_clear (&s_inference_job_worker_kind, &self->workers[i]);
    free (self->workers);
    s_destroy (&s_inference_job_kind, (void **)self_p);
}

/* A new copy of rec with a fresh id and `time_field` set to now, and the
   default status when none was given. NULL on no memory. */
static void *
s_prepare (rfk_store_t *self, const s_kind_t *kind, const void *rec, int default_status)
{
    if (!rec) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "%s: no record given", kind->record);
        return NULL;
    }
    void *copy = s_new (kind);
    if (!copy || s_copy (kind, copy, rec) != 0) {
        s_destroy (kind, &copy);
        s_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
        return NULL;
    }
    char now[40];
    s_now (now, sizeof now);
    for (size_t i = 0; i < kind->nfields; i++) {
        const s_field_t *f = &kind->fields[i];
        char **text = MEMBER (copy, f, char *);
        if (f->type == S_STATE && *MEMBER (copy, f, int) == 0)
            *MEMBER (copy, f, int) = default_status;
        if (f->type != S_TEXT)
            continue;
        if (strcmp (f->name, "id") == 0) {
            free (*text);
            *text = s_uuid ();
        } else if (strncmp (f->name, "datetime_", 9) == 0 && (f->flags & (S_FIXED | S_TOUCHED))) {
            free (*text);
            *text = strdup (now);
        } else if (strcmp (f->name, "datetime") == 0 && !*text)
            *text = strdup (now);
        if ((strcmp (f->name, "id") == 0 || strncmp (f->name, "datetime", 8) == 0) && !*text &&
            !(f->flags & S_STOPPED) && strcmp (f->name, "datetime_heartbeat") != 0) {
            s_destroy (kind, &copy);
            s_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
            return NULL;
        }
    }
    return copy;
}

/* Creates a record of a kind that has no children; returns it as stored. */
static void *
s_create (rfk_store_t *self, const s_kind_t *kind, const void *rec, int default_status,
          const char *duplicate, const char *missing)
{
    void *copy = s_prepare (self, kind, rec, default_status);
    if (!copy)
        return NULL;
    if (s_check (self, kind, copy, true) != 0 ||
        s_insert (self, kind, copy, duplicate, missing) != 0) {
        s_destroy (kind, &copy);
        return NULL;
    }
    s_ok (self);
    return copy;
}

/* ---- users ----------------------------------------------------------- */

rfk_user_t *
rfk_store_create_user (rfk_store_t *self, const rfk_user_t *user)
{
    S_ENTER (self);
    char duplicate[160];
    snprintf (duplicate, sizeof duplicate, "a user with email '%.64s' exists",
              user && user->email ? user->email : "");
    return (rfk_user_t *)s_create (self, &s_user_kind, user, 0, duplicate, NULL);
}

rfk_user_t *
rfk_store_get_user (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    rfk_user_t *user = (rfk_user_t *)s_get (self, &s_user_kind, id);
    if (user)
        s_ok (self);
    return user;
}

rfk_user_t *
rfk_store_get_user_by_email (rfk_store_t *self, const char *email)
{
    S_ENTER (self);
    if (!email) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "user: email is required");
        return NULL;
    }
    char what[128];
    snprintf (what, sizeof what, "user with email '%.64s'", email);
    s_args_t args = {0};
    s_arg_text (&args, email);
    rfk_user_t *user =
        (rfk_user_t *)s_select_one (self, &s_user_kind, "WHERE x.email = $1", &args, what);
    if (user)
        s_ok (self);
    return user;
}

static zlistx_t *
s_list_done (rfk_store_t *self, zlistx_t *list)
{
    if (list)
        s_ok (self);
    return list;
}

zlistx_t *
rfk_store_list_users (rfk_store_t *self, const rfk_page_t *page)
{
    S_ENTER (self);
    s_args_t args = {0};
    if (s_arg_page (self, &args, page) != 0)
        return NULL;
    return s_list_done (self,
                        s_select (self, &s_user_kind,
                                  "ORDER BY x.datetime_created, x.id LIMIT $1 OFFSET $2", &args));
}

int
rfk_store_ban_user (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    if (!id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "user: id is required");
        return -1;
    }
    char now[40];
    s_now (now, sizeof now);
    s_args_t args = {0};
    s_arg_text (&args, id);
    s_arg_text (&args, now);
    int rc = s_run (self, "UPDATE users SET banned_date = COALESCE(banned_date, $2) WHERE id = $1",
                    &args, NULL, NULL, NULL);
    if (rc == 0)
        s_fail (self, RFK_CODE_NOT_FOUND, "user '%.64s' not found", id);
    if (rc <= 0)
        return -1;
    s_ok (self);
    return 0;
}

/* ---- datasets -------------------------------------------------------- */

rfk_dataset_t *
rfk_store_create_dataset (rfk_store_t *self, const rfk_dataset_t *dataset)
{
    S_ENTER (self);
    char missing[160];
    snprintf (missing, sizeof missing, "dataset: owner '%.64s' not found",
              dataset && dataset->owner_id ? dataset->owner_id : "");
    return (rfk_dataset_t *)s_create (self, &s_dataset_kind, dataset, 0, NULL, missing);
}

rfk_dataset_t *
rfk_store_get_dataset (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    rfk_dataset_t *dataset = (rfk_dataset_t *)s_get (self, &s_dataset_kind, id);
    if (dataset)
        s_ok (self);
    return dataset;
}

zlistx_t *
rfk_store_list_datasets (rfk_store_t *self, const char *owner_id, const char *task,
                         const rfk_page_t *page)
{
    S_ENTER (self);
    if (!owner_id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "dataset: owner_id is required");
        return NULL;
    }
    s_args_t args = {0};
    if (s_arg_page (self, &args, page) != 0)
        return NULL;
    s_arg_text (&args, owner_id);
    s_arg_text (&args, task);
    return s_list_done (self, s_select (self, &s_dataset_kind,
                                        "WHERE x.owner_id = $3"
                                        " AND (CAST($4 AS TEXT) IS NULL OR x.task = $4)"
                                        " ORDER BY x.datetime_created, x.id LIMIT $1 OFFSET $2",
                                        &args));
}

/* Deletes the row with id from table; a row referring to it is CONFLICT. */
static int
s_delete (rfk_store_t *self, const s_kind_t *kind, const char *sql, const char *id,
          const char *used)
{
    if (!id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "%s: id is required", kind->record);
        return -1;
    }
    s_args_t args = {0};
    s_arg_text (&args, id);
    char in_use[160];
    snprintf (in_use, sizeof in_use, "%s '%.64s' is used by %s", kind->record, id, used);
    int rc = s_run (self, sql, &args, NULL, NULL, in_use);
    if (rc < 0 && self->code == RFK_CODE_NOT_FOUND)
        self->code = RFK_CODE_CONFLICT; /* a foreign key still points here */
    if (rc == 0)
        s_fail (self, RFK_CODE_NOT_FOUND, "%s '%.64s' not found", kind->record, id);
    if (rc <= 0)
        return -1;
    s_ok (self);
    return 0;
}

int
rfk_store_delete_dataset (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    return s_delete (self, &s_dataset_kind, "DELETE FROM datasets WHERE id = $1", id,
                     "a train job");
}

/* ---- models ---------------------------------------------------------- */

rfk_model_t *
rfk_store_create_model (rfk_store_t *self, const rfk_model_t *model)
{
    S_ENTER (self);
    char duplicate[160], missing[160];
    snprintf (duplicate, sizeof duplicate, "the user already has a model named '%.64s'",
              model && model->name ? model->name : "");
    snprintf (missing, sizeof missing, "model: user '%.64s' not found",
              model && model->user_id ? model->user_id : "");
    return (rfk_model_t *)s_create (self, &s_model_kind, model, 0, duplicate, missing);
}

rfk_model_t *
rfk_store_get_model (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    rfk_model_t *model = (rfk_model_t *)s_get (self, &s_model_kind, id);
    if (model)
        s_ok (self);
    return model;
}

rfk_model_t *
rfk_store_get_model_by_name (rfk_store_t *self, const char *user_id, const char *name)
{
    S_ENTER (self);
    if (!user_id || !name) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "model: user_id and name are required");
        return NULL;
    }
    char what[160];
    snprintf (what, sizeof what, "model '%.64s'", name);
    s_args_t args = {0};
    s_arg_text (&args, user_id);
    s_arg_text (&args, name);
    rfk_model_t *model = (rfk_model_t *)s_select_one (
        self, &s_model_kind, "WHERE x.user_id = $1 AND x.name = $2", &args, what);
    if (model)
        s_ok (self);
    return model;
}

zlistx_t *
rfk_store_list_models (rfk_store_t *self, const char *user_id, const char *task,
                       const rfk_page_t *page)
{
    S_ENTER (self);
    s_args_t args = {0};
    if (s_arg_page (self, &args, page) != 0)
        return NULL;
    s_arg_text (&args, user_id);
    s_arg_text (&args, task);
    return s_list_done (self, s_select (self, &s_model_kind,
                                        "WHERE (CAST($3 AS TEXT) IS NULL OR x.user_id = $3)"
                                        " AND (CAST($4 AS TEXT) IS NULL OR x.task = $4)"
                                        " ORDER BY x.datetime_created, x.id LIMIT $1 OFFSET $2",
                                        &args));
}

zlistx_t *
rfk_store_list_available_models (rfk_store_t *self, const char *user_id, const char *task,
                                 const rfk_page_t *page)
{
    S_ENTER (self);
    if (!user_id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "model: user_id is required");
        return NULL;
    }
    s_args_t args = {0};
    if (s_arg_page (self, &args, page) != 0)
        return NULL;
    s_arg_text (&args, user_id);
    s_arg_text (&args, task);
    return s_list_done (self, s_select (self, &s_model_kind,
                                        "WHERE (x.user_id = $3 OR x.access_right = 'PUBLIC')"
                                        " AND (CAST($4 AS TEXT) IS NULL OR x.task = $4)"
                                        " ORDER BY x.datetime_created, x.id LIMIT $1 OFFSET $2",
                                        &args));
}

int
rfk_store_delete_model (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    return s_delete (self, &s_model_kind, "DELETE FROM models WHERE id = $1", id, "a train job");
}

/* ---- services -------------------------------------------------------- */

/* A service copy ready to insert, checked; NULL with the failure set. */
static rfk_service_t *
s_service_prepare (rfk_store_t *self, const rfk_service_t *service)
{
    rfk_service_t *copy =
        (rfk_service_t *)s_prepare (self, &s_service_kind, service, RFK_SERVICE_STARTED);
    if (copy && s_check (self, &s_service_kind, copy, true) != 0)
        rfk_service_destroy (&copy);
    if (copy && rfk_service_status_is_final (copy->status) && !copy->datetime_stopped)
        copy->datetime_stopped = strdup (copy->datetime_started);
    return copy;
}

rfk_service_t *
rfk_store_create_service (rfk_store_t *self, const rfk_service_t *service)
{
    S_ENTER (self);
    rfk_service_t *copy = s_service_prepare (self, service);
    if (!copy)
        return NULL;
    if (s_insert (self, &s_service_kind, copy, NULL, NULL) != 0) {
        rfk_service_destroy (&copy);
        return NULL;
    }
    s_ok (self);
    return copy;
}

rfk_service_t *
rfk_store_get_service (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    rfk_service_t *service = (rfk_service_t *)s_get (self, &s_service_kind, id);
    if (service)
        s_ok (self);
    return service;
}

int
rfk_store_update_service (rfk_store_t *self, const rfk_service_t *service)
{
    S_ENTER (self);
    if (s_check (self, &s_service_kind, service, false) != 0)
        return -1;
    if (!service->id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "service: id is required");
        return -1;
    }
    if (s_update (self, &s_service_kind, service, service->id) != 0)
        return -1;
    s_ok (self);
    return 0;
}

static int
s_service_status (rfk_store_t *self, const char *id, rfk_service_status_t status)
{
    if (s_set_status (self, &s_service_kind,
                      "UPDATE services SET status = $2,"
                      " datetime_stopped = COALESCE(datetime_stopped, $3) WHERE id = $1",
                      id, (int)status, &s_service_states) != 0)
        return -1;
    s_ok (self);
    return 0;
}

int
rfk_store_update_service_status (rfk_store_t *self, const char *id, rfk_service_status_t status)
{
    S_ENTER (self);
    return s_service_status (self, id, status);
}

int
rfk_store_touch_service (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    if (!id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "service: id is required");
        return -1;
    }
    char now[40];
    s_now (now, sizeof now);
    s_args_t args = {0};
    s_arg_text (&args, id);
    s_arg_text (&args, now);
    int rc = s_run (self, "UPDATE services SET datetime_heartbeat = $2 WHERE id = $1", &args, NULL,
                    NULL, NULL);
    if (rc == 0)
        s_fail (self, RFK_CODE_NOT_FOUND, "service '%.64s' not found", id);
    if (rc <= 0)
        return -1;
    s_ok (self);
    return 0;
}

zlistx_t *
rfk_store_list_services (rfk_store_t *self, bool active_only, const rfk_page_t *page)
{
    S_ENTER (self);
    s_args_t args = {0};
    if (s_arg_page (self, &args, page) != 0)
        return NULL;
    s_arg_int (&args, active_only ? 1 : 0);
    return s_list_done (
        self, s_select (self, &s_service_kind,
                        "WHERE ($3 = 0 OR x.status IN ('STARTED', 'DEPLOYING', 'RUNNING'))"
                        " ORDER BY x.datetime_started, x.id LIMIT $1 OFFSET $2",
                        &args));
}

/* ---- train jobs ------------------------------------------------------ */

static int
s_exists (rfk_store_t *self, const char *sql, const char *id, const char *what)
{
    s_args_t args = {0};
    s_arg_text (&args, id);
    int64_t count = 0;
    if (s_scalar (self, sql, &args, &count) != 0)
        return -1;
    if (count == 0) {
        s_fail (self, RFK_CODE_NOT_FOUND, "%s '%.64s' not found", what, id);
        return -1;
    }
    return 0;
}

/* Loads a train job's sub train jobs into it. */
static int
s_load_sub_train_jobs (rfk_store_t *self, rfk_train_job_t *job)
{
    return s_select_array (self, &s_sub_train_job_kind,
                           "WHERE x.train_job_id = $1 ORDER BY x.datetime_started, x.id", job->id,
                           (void **)&job->sub_train_jobs, &job->sub_train_job_count);
}

static rfk_train_job_t *
s_train_job_done (rfk_store_t *self, rfk_train_job_t *job)
{
    if (job && s_load_sub_train_jobs (self, job) != 0)
        rfk_train_job_destroy (&job);
    if (job)
        s_ok (self);
    return job;
}

rfk_train_job_t *
rfk_store_create_train_job (rfk_store_t *self, const rfk_train_job_t *job)
{
    S_ENTER (self);
    if (!job) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "train job: no record given");
        return NULL;
    }
    if (job->sub_train_job_count == 0 || !job->sub_train_jobs) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "train job: at least one model is required");
        return NULL;
    }
    for (size_t i = 0; i < job->sub_train_job_count; i++)
        if (!job->sub_train_jobs[i].model_id) {
            s_fail (self, RFK_CODE_BAD_REQUEST, "train job: model %zu has no model_id", i + 1);
            return NULL;
        }
    rfk_train_job_t *copy =
        (rfk_train_job_t *)s_prepare (self, &s_train_job_kind, job, RFK_JOB_STARTED);
    if (!copy)
        return NULL;
    copy->sub_train_jobs =
        (rfk_sub_train_job_t *)calloc (job->sub_train_job_count, sizeof (rfk_sub_train_job_t));
    if (!copy->sub_train_jobs) {
        s_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
        rfk_train_job_destroy (&copy);
        return NULL;
    }
    if (s_check (self, &s_train_job_kind, copy, true) != 0 || s_begin (self) != 0) {
        rfk_train_job_destroy (&copy);
        return NULL;
    }
    const char *dataset_sql = "SELECT COUNT(*) FROM datasets WHERE id = $1";
    const char *model_sql = "SELECT COUNT(*) FROM models WHERE id = $1";
    s_args_t args = {0};
    s_arg_text (&args, copy->user_id);
    s_arg_text (&args, copy->app);
    char duplicate[160];
    if (s_exists (self, "SELECT COUNT(*) FROM users WHERE id = $1", copy->user_id, "user") != 0 ||
        s_exists (self, dataset_sql, copy->train_dataset_id, "train dataset") != 0 ||
        s_exists (self, dataset_sql, copy->val_dataset_id, "validation dataset") != 0 ||
        s_scalar (self,
                  "SELECT COALESCE(MAX(app_version), 0) + 1 FROM train_jobs"
                  " WHERE user_id = $1 AND app = $2",
                  &args, &copy->app_version) != 0)
        goto failed;
    snprintf (duplicate, sizeof duplicate, "app '%.64s' version %" PRId64 " exists", copy->app,
              copy->app_version);
    if (s_insert (self, &s_train_job_kind, copy, duplicate, NULL) != 0)
        goto failed;
    for (size_t i = 0; i < job->sub_train_job_count; i++) {
        rfk_sub_train_job_t *sub = &copy->sub_train_jobs[i];
        copy->sub_train_job_count = i + 1;
        sub->status = RFK_JOB_STARTED;
        if (!(sub->id = s_uuid ()) || !(sub->train_job_id = strdup (copy->id)) ||
            !(sub->model_id = strdup (job->sub_train_jobs[i].model_id)) ||
            !(sub->datetime_started = s_now_dup ())) {
            s_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
            goto failed;
        }
        if (s_exists (self, model_sql, sub->model_id, "model") != 0 ||
            s_insert (self, &s_sub_train_job_kind, sub, NULL, NULL) != 0)
            goto failed;
        if (self->hook)
            self->hook ("sub_train_job", self->hook_arg);
    }
    if (s_commit (self) != 0)
        goto failed_committing;
    s_ok (self);
    return copy;
failed:
    s_rollback (self);
failed_committing:
    rfk_train_job_destroy (&copy);
    return NULL;
}

rfk_train_job_t *
rfk_store_get_train_job (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    return s_train_job_done (self, (rfk_train_job_t *)s_get (self, &s_train_job_kind, id));
}

/* The user's train job of app at version (-1: latest), or NULL. */
static rfk_train_job_t *
s_train_job_by_app (rfk_store_t *self, const char *user_id, const char *app, int64_t version)
{
    if (!user_id || !app) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "train job: user_id and app are required");
        return NULL;
    }
    char what[160];
    if (version < 0)
        snprintf (what, sizeof what, "train job of app '%.64s'", app);
    else
        snprintf (what, sizeof what, "train job of app '%.64s' version %" PRId64, app, version);
    s_args_t args = {0};
    s_arg_text (&args, user_id);
    s_arg_text (&args, app);
    s_arg_int (&args, version);
    return (rfk_train_job_t *)s_select_one (
        self, &s_train_job_kind,
        "WHERE x.user_id = $1 AND x.app = $2 AND ($3 < 0 OR x.app_version = $3)"
        " ORDER BY x.app_version DESC LIMIT 1",
        &args, what);
}

rfk_train_job_t *
rfk_store_get_train_job_by_app (rfk_store_t *self, const char *user_id, const char *app,
                                int64_t app_version)
{
    S_ENTER (self);
    return s_train_job_done (self, s_train_job_by_app (self, user_id, app, app_version));
}

zlistx_t *
rfk_store_list_train_jobs (rfk_store_t *self, const char *user_id, const char *app,
                           bool active_only, const rfk_page_t *page)
{
    S_ENTER (self);
    s_args_t args = {0};
    if (s_arg_page (self, &args, page) != 0)
        return NULL;
    s_arg_text (&args, user_id);
    s_arg_text (&args, app);
    s_arg_int (&args, active_only ? 1 : 0);
    zlistx_t *list = s_select (self, &s_train_job_kind,
                               "WHERE (CAST($3 AS TEXT) IS NULL OR x.user_id = $3)"
                               " AND (CAST($4 AS TEXT) IS NULL OR x.app = $4)"
                               " AND ($5 = 0 OR x.status IN ('STARTED', 'RUNNING'))"
                               " ORDER BY x.app, x.app_version, x.id LIMIT $1 OFFSET $2",
                               &args);
    if (!list)
        return NULL;
    for (rfk_train_job_t *job = (rfk_train_job_t *)zlistx_first (list); job;
         job = (rfk_train_job_t *)zlistx_next (list))
        if (s_load_sub_train_jobs (self, job) != 0) {
            zlistx_destroy (&list);
            return NULL;
        }
    s_ok (self);
    return list;
}

static int
s_train_job_status (rfk_store_t *self, const char *id, rfk_job_status_t status)
{
    if (s_set_status (self, &s_train_job_kind,
                      "UPDATE train_jobs SET status = $2,"
                      " datetime_stopped = COALESCE(datetime_stopped, $3) WHERE id = $1",
                      id, (int)status, &s_job_states) != 0)
        return -1;
    s_ok (self);
    return 0;
}

int
rfk_store_update_train_job_status (rfk_store_t *self, const char *id, rfk_job_status_t status)
{
    S_ENTER (self);
    return s_train_job_status (self, id, status);
}

rfk_sub_train_job_t *
rfk_store_get_sub_train_job (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    rfk_sub_train_job_t *sub = (rfk_sub_train_job_t *)s_get (self, &s_sub_train_job_kind, id);
    if (sub)
        s_ok (self);
    return sub;
}

rfk_sub_train_job_t *
rfk_store_get_sub_train_job_by_advisor (rfk_store_t *self, const char *service_id)
{
    S_ENTER (self);
    if (!service_id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "sub train job: advisor service id is required");
        return NULL;
    }
    char what[160];
    snprintf (what, sizeof what, "sub train job of advisor '%.64s'", service_id);
    s_args_t args = {0};
    s_arg_text (&args, service_id);
    rfk_sub_train_job_t *sub = (rfk_sub_train_job_t *)s_select_one (
        self, &s_sub_train_job_kind, "WHERE x.advisor_service_id = $1", &args, what);
    if (sub)
        s_ok (self);
    return sub;
}

static int
s_sub_train_job_status (rfk_store_t *self, const char *id, rfk_job_status_t status)
{
    if (s_set_status (self, &s_sub_train_job_kind,
                      "UPDATE sub_train_jobs SET status = $2,"
                      " datetime_stopped = COALESCE(datetime_stopped, $3) WHERE id = $1",
                      id, (int)status, &s_job_states) != 0)
        return -1;
    s_ok (self);
    return 0;
}

int
rfk_store_update_sub_train_job_status (rfk_store_t *self, const char *id, rfk_job_status_t status)
{
    S_ENTER (self);
    return s_sub_train_job_status (self, id, status);
}

/* Inserts a service and then runs link_sql ($1 = sub train job id, $2 = the
   service id), in one transaction. */
static rfk_service_t *
s_create_linked_service (rfk_store_t *self, const char *sub_train_job_id,
                         const rfk_service_t *service, const char *link_sql)
{
    if (!sub_train_job_id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "service: sub train job id is required");
        return NULL;
    }
    rfk_service_t *copy = s_service_prepare (self, service);
    if (!copy)
        return NULL;
    if (s_begin (self) != 0) {
        rfk_service_destroy (&copy);
        return NULL;
    }
    char missing[160];
    snprintf (missing, sizeof missing, "sub train job '%.64s' not found", sub_train_job_id);
    s_args_t args = {0};
    s_arg_text (&args, sub_train_job_id);
    s_arg_text (&args, copy->id);
    int rc = -1;
    if (s_insert (self, &s_service_kind, copy, NULL, NULL) == 0)
        rc = s_run (self, link_sql, &args, NULL, NULL, missing);
    if (rc == 0)
        s_fail (self, RFK_CODE_NOT_FOUND, "%s", missing);
    if (rc <= 0 || s_commit (self) != 0) {
        s_rollback (self);
        rfk_service_destroy (&copy);
        return NULL;
    }
    s_ok (self);
    return copy;
}

rfk_service_t *
rfk_store_create_advisor (rfk_store_t *self, const char *sub_train_job_id,
                          const rfk_service_t *service)
{
    S_ENTER (self);
    return s_create_linked_service (
        self, sub_train_job_id, service,
        "UPDATE sub_train_jobs SET advisor_service_id = $2 WHERE id = $1");
}

rfk_service_t *
rfk_store_create_train_job_worker (rfk_store_t *self, const char *sub_train_job_id,
                                   const rfk_service_t *service)
{
    S_ENTER (self);
    return s_create_linked_service (
        self, sub_train_job_id, service,
        "INSERT INTO train_job_workers (sub_train_job_id, service_id) VALUES ($1, $2)");
}

rfk_train_job_worker_t *
rfk_store_get_train_job_worker (rfk_store_t *self, const char *service_id)
{
    S_ENTER (self);
    if (!service_id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "train job worker: service id is required");
        return NULL;
    }
    char what[160];
    snprintf (what, sizeof what, "train job worker '%.64s'", service_id);
    s_args_t args = {0};
    s_arg_text (&args, service_id);
    rfk_train_job_worker_t *worker = (rfk_train_job_worker_t *)s_select_one (
        self, &s_train_job_worker_kind, "WHERE x.service_id = $1", &args, what);
    if (worker)
        s_ok (self);
    return worker;
}

zlistx_t *
rfk_store_list_train_job_workers (rfk_store_t *self, const char *sub_train_job_id)
{
    S_ENTER (self);
    if (!sub_train_job_id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "train job worker: sub train job id is required");
        return NULL;
    }
    s_args_t args = {0};
    s_arg_text (&args, sub_train_job_id);
    return s_list_done (self, s_select (self, &s_service_kind,
                                        "JOIN train_job_workers w ON w.service_id = x.id"
                                        " WHERE w.sub_train_job_id = $1"
                                        " ORDER BY x.datetime_started, x.id",
                                        &args));
}

/* ---- trials ---------------------------------------------------------- */

rfk_trial_t *
rfk_store_create_trial (rfk_store_t *self, const rfk_trial_t *trial)
{
    S_ENTER (self);
    if (trial && trial->no < 0) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "trial: no must not be negative");
        return NULL;
    }
    if (trial && !trial->sub_train_job_id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "trial: sub_train_job_id is required");
        return NULL;
    }
    rfk_trial_t *copy = (rfk_trial_t *)s_prepare (self, &s_trial_kind, trial, RFK_TRIAL_PENDING);
    if (!copy)
        return NULL;
    /* The trial's job and model are its sub train job's. */
    rfk_sub_train_job_t *sub =
        (rfk_sub_train_job_t *)s_get (self, &s_sub_train_job_kind, copy->sub_train_job_id);
    if (sub) {
        free (copy->train_job_id);
        copy->train_job_id = sub->train_job_id;
        sub->train_job_id = NULL;
        if (!copy->model_id) {
            copy->model_id = sub->model_id;
            sub->model_id = NULL;
        }
        rfk_sub_train_job_destroy (&sub);
    }
    if (!copy->train_job_id || s_check (self, &s_trial_kind, copy, true) != 0) {
        rfk_trial_destroy (&copy);
        return NULL;
    }
    if (rfk_trial_status_is_final (copy->status))
        copy->datetime_stopped = strdup (copy->datetime_started);
    bool numbered = copy->no == 0;
    if (numbered && s_begin (self) != 0) {
        rfk_trial_destroy (&copy);
        return NULL;
    }
    s_args_t args = {0};
    s_arg_text (&args, copy->sub_train_job_id);
    char duplicate[160], missing[256];
    snprintf (missing, sizeof missing, "trial: model '%.64s' not found", copy->model_id);
    int rc = 0;
    if (numbered)
        rc = s_scalar (self,
                       "SELECT COALESCE(MAX(no), 0) + 1 FROM trials WHERE sub_train_job_id = $1",
                       &args, &copy->no);
    snprintf (duplicate, sizeof duplicate, "the sub train job already has trial %" PRId64,
              copy->no);
    if (rc == 0)
        rc = s_insert (self, &s_trial_kind, copy, duplicate, missing);
    if (rc == 0 && numbered)
        rc = s_commit (self);
    if (rc != 0) {
        if (numbered)
            s_rollback (self);
        rfk_trial_destroy (&copy);
        return NULL;
    }
    s_ok (self);
    return copy;
}

rfk_trial_t *
rfk_store_get_trial (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    rfk_trial_t *trial = (rfk_trial_t *)s_get (self, &s_trial_kind, id);
    if (trial)
        s_ok (self);
    return trial;
}

int
rfk_store_update_trial (rfk_store_t *self, const rfk_trial_t *trial)
{
    S_ENTER (self);
    if (s_check (self, &s_trial_kind, trial, false) != 0)
        return -1;
    if (!trial->id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "trial: id is required");
        return -1;
    }
    if (s_update (self, &s_trial_kind, trial, trial->id) != 0)
        return -1;
    s_ok (self);
    return 0;
}

zlistx_t *
rfk_store_list_trials (rfk_store_t *self, const char *train_job_id, const char *sub_train_job_id,
                       rfk_trial_order_t order, const rfk_page_t *page)
{
    S_ENTER (self);
    if (!train_job_id && !sub_train_job_id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "trial: a train job or sub train job id is required");
        return NULL;
    }
    if (order != RFK_TRIALS_BY_NO && order != RFK_TRIALS_BEST) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "trial: unknown order %d", (int)order);
        return NULL;
    }
    s_args_t args = {0};
    if (s_arg_page (self, &args, page) != 0)
        return NULL;
    const char *tail;
    if (sub_train_job_id) {
        s_arg_text (&args, sub_train_job_id);
        tail = order == RFK_TRIALS_BEST
                   ? "WHERE x.sub_train_job_id = $3 AND x.status = 'COMPLETED'"
                     " AND x.score IS NOT NULL"
                     " ORDER BY x.score DESC, x.no, x.id LIMIT $1 OFFSET $2"
                   : "WHERE x.sub_train_job_id = $3 ORDER BY x.no, x.id LIMIT $1 OFFSET $2";
    } else {
        s_arg_text (&args, train_job_id);
        tail = order == RFK_TRIALS_BEST
                   ? "WHERE x.train_job_id = $3 AND x.status = 'COMPLETED'"
                     " AND x.score IS NOT NULL"
                     " ORDER BY x.score DESC, x.datetime_started, x.id LIMIT $1 OFFSET $2"
                   : "WHERE x.train_job_id = $3"
                     " ORDER BY x.datetime_started, x.no, x.id LIMIT $1 OFFSET $2";
    }
    return s_list_done (self, s_select (self, &s_trial_kind, tail, &args));
}

/* Inserts one log line with the trial's next seq; inside a transaction. */
static int
s_insert_trial_log (rfk_store_t *self, rfk_trial_log_t *copy)
{
    if (s_check (self, &s_trial_log_kind, copy, true) != 0)
        return -1;
    s_args_t args = {0};
    s_arg_text (&args, copy->trial_id);
    char missing[160];
    snprintf (missing, sizeof missing, "trial '%.64s' not found", copy->trial_id);
    if (s_scalar (self, "SELECT COALESCE(MAX(seq), 0) + 1 FROM trial_logs WHERE trial_id = $1",
                  &args, &copy->seq) != 0)
        return -1;
    return s_insert (self, &s_trial_log_kind, copy, NULL, missing);
}

rfk_trial_log_t *
rfk_store_add_trial_log (rfk_store_t *self, const rfk_trial_log_t *log)
{
    S_ENTER (self);
    rfk_trial_log_t *copy = (rfk_trial_log_t *)s_prepare (self, &s_trial_log_kind, log, 0);
    if (!copy)
        return NULL;
    if (s_begin (self) != 0) {
        rfk_trial_log_destroy (&copy);
        return NULL;
    }
    if (s_insert_trial_log (self, copy) != 0 || s_commit (self) != 0) {
        s_rollback (self);
        rfk_trial_log_destroy (&copy);
        return NULL;
    }
    s_ok (self);
    return copy;
}

int
rfk_store_add_trial_logs (rfk_store_t *self, const rfk_trial_log_t *logs, size_t count)
{
    S_ENTER (self);
    if (count == 0) {
        s_ok (self);
        return 0;
    }
    if (!logs) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "trial log: no lines given");
        return -1;
    }
    if (s_begin (self) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        rfk_trial_log_t *copy = (rfk_trial_log_t *)s_prepare (self, &s_trial_log_kind, &logs[i], 0);
        int rc = copy ? s_insert_trial_log (self, copy) : -1;
        rfk_trial_log_destroy (&copy);
        if (rc != 0) {
            s_rollback (self);
            return -1;
        }
    }
    if (s_commit (self) != 0)
        return -1;
    s_ok (self);
    return 0;
}

zlistx_t *
rfk_store_list_trial_logs (rfk_store_t *self, const char *trial_id, const rfk_page_t *page)
{
    S_ENTER (self);
    if (!trial_id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "trial log: trial id is required");
        return NULL;
    }
    s_args_t args = {0};
    if (s_arg_page (self, &args, page) != 0)
        return NULL;
    s_arg_text (&args, trial_id);
    return s_list_done (self, s_select (self, &s_trial_log_kind,
                                        "WHERE x.trial_id = $3 ORDER BY x.seq LIMIT $1 OFFSET $2",
                                        &args));
}

/* ---- inference jobs -------------------------------------------------- */

static int
s_load_inference_workers (rfk_store_t *self, rfk_inference_job_t *job)
{
    return s_select_array (
        self, &s_inference_job_worker_kind,
        "JOIN services s ON s.id = x.service_id"
        " WHERE x.inference_job_id = $1 ORDER BY s.datetime_started, x.service_id",
        job->id, (void **)&job->workers, &job->worker_count);
}

static rfk_inference_job_t *
s_inference_job_done (rfk_store_t *self, rfk_inference_job_t *job)
{
    if (job && s_load_inference_workers (self, job) != 0)
        rfk_inference_job_destroy (&job);
    if (job)
        s_ok (self);
    return job;
}

rfk_inference_job_t *
rfk_store_create_inference_job (rfk_store_t *self, const rfk_inference_job_t *job,
                                const rfk_service_t *predictor,
                                const rfk_service_t *const *worker_services)
{
    S_ENTER (self);
    if (!job) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "inference job: no record given");
        return NULL;
    }
    if (!predictor) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "inference job: the predictor service is required");
        return NULL;
    }
    if (job->worker_count == 0 || !job->workers || !worker_services) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "inference job: at least one worker is required");
        return NULL;
    }
    for (size_t i = 0; i < job->worker_count; i++)
        if (!job->workers[i].trial_id || !worker_services[i]) {
            s_fail (self, RFK_CODE_BAD_REQUEST,
                    "inference job: worker %zu needs a trial_id and a service", i + 1);
            return NULL;
        }
    rfk_inference_job_t *copy =
        (rfk_inference_job_t *)s_prepare (self, &s_inference_job_kind, job, RFK_JOB_STARTED);
    rfk_service_t *service = NULL;
    if (!copy)
        return NULL;
    copy->workers = (rfk_inference_job_worker_t *)calloc (job->worker_count,
                                                          sizeof (rfk_inference_job_worker_t));
    if (!copy->workers) {
        s_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
        goto failed_early;
    }
    if (s_check (self, &s_inference_job_kind, copy, true) != 0)
        goto failed_early;
    service = s_service_prepare (self, predictor);
    if (!service)
        goto failed_early;
    free (copy->predictor_service_id);
    copy->predictor_service_id = strdup (service->id);
    if (!copy->predictor_service_id) {
        s_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
        goto failed_early;
    }
    if (s_begin (self) != 0)
        goto failed_early;
    char duplicate[160];
    snprintf (duplicate, sizeof duplicate, "train job '%.64s' already has a running inference job",
              copy->train_job_id);
    if (s_exists (self, "SELECT COUNT(*) FROM users WHERE id = $1", copy->user_id, "user") != 0 ||
        s_exists (self, "SELECT COUNT(*) FROM train_jobs WHERE id = $1", copy->train_job_id,
                  "train job") != 0 ||
        s_insert (self, &s_service_kind, service, NULL, NULL) != 0 ||
        s_insert (self, &s_inference_job_kind, copy, duplicate, NULL) != 0)
        goto failed;
    rfk_service_destroy (&service);
    for (size_t i = 0; i < job->worker_count; i++) {
        rfk_inference_job_worker_t *worker = &copy->workers[i];
        copy->worker_count = i + 1;
        service = s_service_prepare (self, worker_services[i]);
        if (!service)
            goto failed;
        if (!(worker->service_id = strdup (service->id)) ||
            !(worker->inference_job_id = strdup (copy->id)) ||
            !(worker->trial_id = strdup (job->workers[i].trial_id))) {
            s_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
            goto failed;
        }
        if (s_exists (self, "SELECT COUNT(*) FROM trials WHERE id = $1", worker->trial_id,
                      "trial") != 0 ||
            s_insert (self, &s_service_kind, service, NULL, NULL) != 0 ||
            s_insert (self, &s_inference_job_worker_kind, worker, NULL, NULL) != 0)
            goto failed;
        rfk_service_destroy (&service);
        if (self->hook)
            self->hook ("inference_job_worker", self->hook_arg);
    }
    if (s_commit (self) != 0)
        goto failed_early;
    s_ok (self);
    return copy;
failed:
    s_rollback (self);
failed_early:
    rfk_service_destroy (&service);
    rfk_inference_job_destroy (&copy);
    return NULL;
}

rfk_inference_job_t *
rfk_store_get_inference_job (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    return s_inference_job_done (self,
                                 (rfk_inference_job_t *)s_get (self, &s_inference_job_kind, id));
}

rfk_inference_job_t *
rfk_store_get_inference_job_by_app (rfk_store_t *self, const char *user_id, const char *app,
                                    int64_t app_version)
{
    S_ENTER (self);
    rfk_train_job_t *train_job = s_train_job_by_app (self, user_id, app, app_version);
    if (!train_job)
        return NULL;
    char what[200];
    snprintf (what, sizeof what, "inference job of app '%.64s' version %" PRId64, app,
              train_job->app_version);
    s_args_t args = {0};
    s_arg_text (&args, train_job->id);
    rfk_inference_job_t *job = (rfk_inference_job_t *)s_select_one (
        self, &s_inference_job_kind,
        "WHERE x.train_job_id = $1 ORDER BY x.datetime_started DESC, x.id DESC LIMIT 1", &args,
        what);
    rfk_train_job_destroy (&train_job);
    return s_inference_job_done (self, job);
}

zlistx_t *
rfk_store_list_inference_jobs (rfk_store_t *self, const char *user_id, bool active_only,
                               const rfk_page_t *page)
{
    S_ENTER (self);
    s_args_t args = {0};
    if (s_arg_page (self, &args, page) != 0)
        return NULL;
    s_arg_text (&args, user_id);
    s_arg_int (&args, active_only ? 1 : 0);
    zlistx_t *list = s_select (self, &s_inference_job_kind,
                               "WHERE (CAST($3 AS TEXT) IS NULL OR x.user_id = $3)"
                               " AND ($4 = 0 OR x.status IN ('STARTED', 'RUNNING'))"
                               " ORDER BY x.datetime_started, x.id LIMIT $1 OFFSET $2",
                               &args);
    if (!list)
        return NULL;
    for (rfk_inference_job_t *job = (rfk_inference_job_t *)zlistx_first (list); job;
         job = (rfk_inference_job_t *)zlistx_next (list))
        if (s_load_inference_workers (self, job) != 0) {
            zlistx_destroy (&list);
            return NULL;
        }
    s_ok (self);
    return list;
}

static int
s_inference_job_status (rfk_store_t *self, const char *id, rfk_job_status_t status)
{
    if (!rfk_job_status_name (status)) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "inference job: status %d is not valid", (int)status);
        return -1;
    }
    char duplicate[160];
    snprintf (duplicate, sizeof duplicate,
              "inference job '%.64s': its train job already has a running inference job",
              id ? id : "");
    if (s_set_status (self, &s_inference_job_kind,
                      "UPDATE inference_jobs SET status = $2,"
                      " datetime_stopped = COALESCE(datetime_stopped, $3) WHERE id = $1",
                      id, (int)status, &s_job_states) != 0) {
        if (self->code == RFK_CODE_CONFLICT)
            s_fail (self, RFK_CODE_CONFLICT, "%s", duplicate);
        return -1;
    }
    s_ok (self);
    return 0;
}

int
rfk_store_update_inference_job_status (rfk_store_t *self, const char *id, rfk_job_status_t status)
{
    S_ENTER (self);
    return s_inference_job_status (self, id, status);
}

rfk_inference_job_worker_t *
rfk_store_get_inference_job_worker (rfk_store_t *self, const char *service_id)
{
    S_ENTER (self);
    if (!service_id) {
        s_fail (self, RFK_CODE_BAD_REQUEST, "inference job worker: service id is required");
        return NULL;
    }
    char what[160];
    snprintf (what, sizeof what, "inference job worker '%.64s'", service_id);
    s_args_t args = {0};
    s_arg_text (&args, service_id);
    rfk_inference_job_worker_t *worker = (rfk_inference_job_worker_t *)s_select_one (
        self, &s_inference_job_worker_kind, "WHERE x.service_id = $1", &args, what);
    if (worker)
        s_ok (self);
    return worker;
}

/* ---- roll-ups -------------------------------------------------------- */

static const s_field_t s_job_service_fields[] = {
    F (rfk_job_service_t, id, S_TEXT, 0, NULL),
    F (rfk_job_service_t, service_type, S_TEXT, 0, NULL),
    FS (rfk_job_service_t, status, 0, service),
    F (rfk_job_service_t, sub_train_job_id, S_TEXT, 0, NULL),
};
static const s_kind_t s_job_service_kind = {"job service",
                                            "services",
                                            sizeof (rfk_job_service_t),
                                            s_job_service_fields,
                                            N (s_job_service_fields),
                                            NULL};

/* The services of a train job (by sub train job) or an inference job. */
static int
s_load_job_services (rfk_store_t *self, rfk_job_state_t *state, const char *job_id, bool train)
{
    const char *sql =
        train ? "SELECT s.id, s.service_type, s.status, j.id FROM services s"
                " JOIN sub_train_jobs j ON j.advisor_service_id = s.id WHERE j.train_job_id = $1"
                " UNION ALL SELECT s.id, s.service_type, s.status, w.sub_train_job_id"
                " FROM services s JOIN train_job_workers w ON w.service_id = s.id"
                " JOIN sub_train_jobs j ON j.id = w.sub_train_job_id WHERE j.train_job_id = $1"
              : "SELECT s.id, s.service_type, s.status, CAST(NULL AS TEXT) FROM services s"
                " JOIN inference_jobs j ON j.predictor_service_id = s.id WHERE j.id = $1"
                " UNION ALL SELECT s.id, s.service_type, s.status, CAST(NULL AS TEXT)"
                " FROM services s JOIN inference_job_workers w ON w.service_id = s.id"
                " WHERE w.inference_job_id = $1";
    rfk_store_rows_t *rows = NULL;
    s_args_t args = {0};
    s_arg_text (&args, job_id);
    if (s_run (self, sql, &args, &rows, NULL, NULL) < 0)
        return -1;
    state->services =
        (rfk_job_service_t *)calloc (rows->nrows ? rows->nrows : 1, sizeof (rfk_job_service_t));
    int rc = state->services ? 0 : -1;
    for (size_t r = 0; rc == 0 && r < rows->nrows; r++) {
        state->service_count = r + 1; /* what is loaded so far is freed with the state */
        rc = s_load (&s_job_service_kind, &state->services[r], rows, r);
    }
    rfk_store_rows_destroy (&rows);
    if (rc != 0)
        s_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
    return rc;
}

rfk_job_state_t *
rfk_store_get_job_state (rfk_store_t *self, const char *train_job_id, const char *inference_job_id)
{
    S_ENTER (self);
    rfk_job_state_t *state = (rfk_job_state_t *)calloc (1, sizeof *state);
    if (!state) {
        s_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
        return NULL;
    }
    if (train_job_id)
        state->train_job = s_train_job_done (
            self, (rfk_train_job_t *)s_get (self, &s_train_job_kind, train_job_id));
    else
        state->inference_job = s_inference_job_done (
            self, (rfk_inference_job_t *)s_get (self, &s_inference_job_kind, inference_job_id));
    if ((!state->train_job && !state->inference_job) ||
        s_load_job_services (self, state, train_job_id ? train_job_id : inference_job_id,
                             train_job_id != NULL) != 0) {
        rfk_job_state_destroy (&state);
        return NULL;
    }
    s_ok (self);
    return state;
}

void
rfk_job_state_destroy (rfk_job_state_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_job_state_t *self = *self_p;
    rfk_train_job_destroy (&self->train_job);
    rfk_inference_job_destroy (&self->inference_job);
    for (size_t index = 0; index < self->service_count; index++)
        s_clear (&s_job_service_kind, &self->services[index]);
    free (self->services);
    free (self);
    *self_p = NULL;
}

/* One status change of rfk_store_set_statuses. */
static int
s_status_change (rfk_store_t *self, const rfk_status_change_t *change)
{
    switch (change->of) {
        case RFK_STATUS_OF_SERVICE:
            return s_service_status (self, change->id, change->status.service);
        case RFK_STATUS_OF_SUB_TRAIN_JOB:
            return s_sub_train_job_status (self, change->id, change->status.job);
        case RFK_STATUS_OF_TRAIN_JOB:
            return s_train_job_status (self, change->id, change->status.job);
        case RFK_STATUS_OF_INFERENCE_JOB:
            return s_inference_job_status (self, change->id, change->status.job);
    }
    s_fail (self, RFK_CODE_BAD_REQUEST, "status change: unknown record");
    return -1;
}

int
rfk_store_set_statuses (rfk_store_t *self, const rfk_status_change_t *changes, size_t count)
{
    S_ENTER (self);
    if (count == 0) {
        s_ok (self);
        return 0;
    }
    assert (changes);
    if (count > 1 && s_begin (self) != 0)
        return -1;
    for (size_t index = 0; index < count; index++)
        if (s_status_change (self, &changes[index]) != 0) {
            if (count > 1)
                s_rollback (self);
            return -1;
        }
    if (count > 1 && s_commit (self) != 0)
        return -1;
    s_ok (self);
    return 0;
}
