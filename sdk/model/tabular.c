/*  tabular.c: the TABULAR_CLASSIFICATION / TABULAR_REGRESSION loader (a CSV
    file with a header row) and the reader of map queries. */
#include "internal.h"
#include "rafiki/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
rfk_tabular_options_from_args (const rafiki_args_t *args, const char *task,
                               rfk_tabular_options_t *opts)
{
    opts->target = rafiki_args_get (args, "target", opts->target);
    opts->features = rafiki_args_get (args, "features", opts->features);
    if (task)
        opts->classification = strcmp (task, RAFIKI_TASK_TABULAR_CLASSIFICATION) == 0;
}

/* Finds column `name` among the header fields; -1 if absent. */
static long
s_find (char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp (names[i], name) == 0)
            return (long)i;
    return -1;
}

/* Lists the header's columns into buf for a message. */
static const char *
s_columns (char *const *names, size_t n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < size; i++) {
        int w = snprintf (buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (used >= size && size > 4)
        strcpy (buf + size - 4, "...");
    return buf;
}

/* Picks the feature columns (indices into the header) from opts. */
static int
s_pick_features (const char *path, char *const *header, size_t n_columns, long target,
                 const char *features, size_t **picked, size_t *n_picked, char *err, size_t errlen)
{
    char list[512];
    size_t *cols = calloc (n_columns ? n_columns : 1, sizeof (size_t));
    size_t n = 0;
    if (!cols) {
        rfk_model_errf (err, errlen, "%s: out of memory", path);
        return -1;
    }
    if (!features) {
        for (size_t i = 0; i < n_columns; i++)
            if ((long)i != target)
                cols[n++] = i;
    } else {
        const char *p = features;
        while (*p) {
            while (*p == ' ')
                p++;
            size_t len = strcspn (p, ",");
            size_t trimmed = len;
            while (trimmed > 0 && p[trimmed - 1] == ' ')
                trimmed--;
            char name[256];
            if (trimmed == 0 || trimmed >= sizeof name) {
                rfk_model_errf (err, errlen, "%s: bad features list '%s'", path, features);
                free (cols);
                return -1;
            }
            memcpy (name, p, trimmed);
            name[trimmed] = '\0';
            long col = s_find (header, n_columns, name);
            if (col < 0 || col == target) {
                rfk_model_errf (err, errlen, "%s: feature '%s' %s (columns: %s)", path, name,
                                col < 0 ? "is not a column" : "is the target",
                                s_columns (header, n_columns, list, sizeof list));
                free (cols);
                return -1;
            }
            for (size_t i = 0; i < n; i++)
                if (cols[i] == (size_t)col) {
                    rfk_model_errf (err, errlen, "%s: feature '%s' is listed twice", path, name);
                    free (cols);
                    return -1;
                }
            if (n == n_columns) {
                free (cols);
                rfk_model_errf (err, errlen, "%s: bad features list '%s'", path, features);
                return -1;
            }
            cols[n++] = (size_t)col;
            p += len;
            if (*p == ',')
                p++;
        }
    }
    if (n == 0) {
        rfk_model_errf (err, errlen, "%s: no feature columns besides the target", path);
        free (cols);
        return -1;
    }
    *picked = cols;
    *n_picked = n;
    return 0;
}

/* A tabular load in progress. */
typedef struct {
    const char *path;                  /* the file, for messages */
    const rfk_tabular_options_t *opts; /* target, features, classification, max_rows */
    rfk_csv_t csv;                     /* the reader */
    char **header;                     /* n_columns column names */
    size_t n_columns;                  /* columns in the header */
    long target;                       /* the target's column */
    size_t *cols;                      /* t->n_features feature columns, in order */
    size_t cap;                        /* rows allocated in t */
    rfk_tabular_t *t;                  /* what is loaded so far */
} s_load_t;

/* Reads the header row: names that are there and distinct, two at least. */
static int
s_read_header (s_load_t *ld, char *err, size_t errlen)
{
    rfk_csv_t *csv = &ld->csv;
    int got = rfk_csv_header (csv, err, errlen);
    if (got <= 0) {
        if (got == 0)
            rfk_model_errf (err, errlen, "%s: empty (want a header row of column names)", ld->path);
        return -1;
    }
    ld->header = calloc (csv->n_fields, sizeof (char *));
    if (!ld->header)
        goto nomem;
    ld->n_columns = csv->n_fields;
    for (size_t i = 0; i < ld->n_columns; i++) {
        if (csv->fields[i][0] == '\0') {
            rfk_model_errf (err, errlen, "%s line %zu: column %zu has no name", ld->path,
                            csv->record_line, i + 1);
            return -1;
        }
        if (s_find (ld->header, i, csv->fields[i]) >= 0) {
            rfk_model_errf (err, errlen, "%s line %zu: column '%s' appears twice", ld->path,
                            csv->record_line, csv->fields[i]);
            return -1;
        }
        if (!(ld->header[i] = strdup (csv->fields[i])))
            goto nomem;
    }
    if (ld->n_columns < 2) {
        rfk_model_errf (err, errlen, "%s: one column only; want features and a target", ld->path);
        return -1;
    }
    return 0;
nomem:
    rfk_model_errf (err, errlen, "%s: out of memory", ld->path);
    return -1;
}

/* Chooses the target and feature columns as the options say, and copies
   their names into the table. */
static int
s_choose_columns (s_load_t *ld, char *err, size_t errlen)
{
    char list[512];
    rfk_tabular_t *t = ld->t;
    ld->target = (long)ld->n_columns - 1;
    if (ld->opts->target) {
        ld->target = s_find (ld->header, ld->n_columns, ld->opts->target);
        if (ld->target < 0) {
            rfk_model_errf (err, errlen, "%s: no target column '%s' (columns: %s)", ld->path,
                            ld->opts->target,
                            s_columns (ld->header, ld->n_columns, list, sizeof list));
            return -1;
        }
    }
    if (s_pick_features (ld->path, ld->header, ld->n_columns, ld->target, ld->opts->features,
                         &ld->cols, &t->n_features, err, errlen))
        return -1;
    t->feature_names = calloc (t->n_features, sizeof (char *));
    if (!t->feature_names || !(t->target_name = strdup (ld->header[ld->target])))
        goto nomem;
    for (size_t j = 0; j < t->n_features; j++)
        if (!(t->feature_names[j] = strdup (ld->header[ld->cols[j]])))
            goto nomem;
    return 0;
nomem:
    rfk_model_errf (err, errlen, "%s: out of memory", ld->path);
    return -1;
}

/* Makes room for one more row. */
static int
s_grow (s_load_t *ld)
{
    rfk_tabular_t *t = ld->t;
    if (t->n_rows < ld->cap)
        return 0;
    size_t cap = ld->cap ? ld->cap * 2 : 256;
    double *f = realloc (t->features, cap * t->n_features * sizeof (double));
    if (!f)
        return -1;
    t->features = f;
    double *y = realloc (t->targets, cap * sizeof (double));
    if (!y)
        return -1;
    t->targets = y;
    if (ld->opts->classification) {
        int32_t *l = realloc (t->labels, cap * sizeof (int32_t));
        if (!l)
            return -1;
        t->labels = l;
    }
    ld->cap = cap;
    return 0;
}

/* Reads the target of the current record into row n_rows of the table. */
static int
s_read_target (s_load_t *ld, char *err, size_t errlen)
{
    rfk_tabular_t *t = ld->t;
    const char *y = ld->csv.fields[ld->target];
    if (!ld->opts->classification) {
        if (rfk_model_parse_double (y, &t->targets[t->n_rows]))
            return 0;
        rfk_model_errf (err, errlen, "%s line %zu: target '%s' is not a number: '%s'", ld->path,
                        ld->csv.record_line, ld->header[ld->target], y);
        return -1;
    }
    int32_t label;
    if (!rfk_model_parse_label (y, &label)) {
        rfk_model_errf (err, errlen, "%s line %zu: target '%s' is '%s', not a class 0, 1, 2, ...",
                        ld->path, ld->csv.record_line, ld->header[ld->target], y);
        return -1;
    }
    t->labels[t->n_rows] = label;
    t->targets[t->n_rows] = label;
    if ((uint32_t)label + 1 > t->n_classes)
        t->n_classes = (uint32_t)label + 1;
    return 0;
}

/* Adds the current record as a row of the table. */
static int
s_add_row (s_load_t *ld, char *err, size_t errlen)
{
    rfk_tabular_t *t = ld->t;
    if (s_grow (ld) != 0) {
        rfk_model_errf (err, errlen, "%s: out of memory", ld->path);
        return -1;
    }
    double *row = t->features + t->n_rows * t->n_features;
    for (size_t j = 0; j < t->n_features; j++) {
        const char *field = ld->csv.fields[ld->cols[j]];
        if (!rfk_model_parse_double (field, &row[j])) {
            rfk_model_errf (err, errlen, "%s line %zu: column '%s' is not a number: '%s'", ld->path,
                            ld->csv.record_line, ld->header[ld->cols[j]], field);
            return -1;
        }
    }
    if (s_read_target (ld, err, errlen) != 0)
        return -1;
    t->n_rows++;
    return 0;
}

/* Reads the file's rows (at most max_rows of them). */
static int
s_read_rows (s_load_t *ld, char *err, size_t errlen)
{
    size_t max_rows = ld->opts->max_rows;
    while (max_rows == 0 || ld->t->n_rows < max_rows) {
        int got = rfk_csv_row (&ld->csv, ld->n_columns, err, errlen);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        if (s_add_row (ld, err, errlen) != 0)
            return -1;
    }
    if (ld->t->n_rows == 0) {
        rfk_model_errf (err, errlen, "%s: no data rows after the header", ld->path);
        return -1;
    }
    return 0;
}

int
rfk_tabular_load (const char *path, const rfk_tabular_options_t *opts, rfk_tabular_t **out,
                  char *err, size_t errlen)
{
    static const rfk_tabular_options_t dflt = {NULL, NULL, false, 0};
    *out = NULL;
    char *text = NULL;
    size_t size = 0;
    if (rfk_model_read_file (path, &text, &size, err, errlen))
        return -1;
    s_load_t ld = {.path = path, .opts = opts ? opts : &dflt};
    rfk_csv_init (&ld.csv, path, text, size, ',');
    ld.t = calloc (1, sizeof *ld.t);
    int rc = -1;
    if (!ld.t)
        rfk_model_errf (err, errlen, "%s: out of memory", path);
    else if (s_read_header (&ld, err, errlen) == 0 && s_choose_columns (&ld, err, errlen) == 0 &&
             s_read_rows (&ld, err, errlen) == 0) {
        *out = ld.t;
        ld.t = NULL;
        rc = 0;
    }
    rfk_tabular_destroy (&ld.t);
    for (size_t i = 0; ld.header && i < ld.n_columns; i++)
        free (ld.header[i]);
    free (ld.header);
    free (ld.cols);
    rfk_csv_fini (&ld.csv);
    free (text);
    return rc;
}

void
rfk_tabular_destroy (rfk_tabular_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_tabular_t *t = *self_p;
    for (size_t j = 0; t->feature_names && j < t->n_features; j++)
        free (t->feature_names[j]);
    free (t->feature_names);
    free (t->target_name);
    free (t->features);
    free (t->targets);
    free (t->labels);
    free (t);
    *self_p = NULL;
}

int
rfk_tabular_query (const msgpack_object *query, const char *const *feature_names, size_t n_features,
                   double *out, char *err, size_t errlen)
{
    if (!query || query->type != MSGPACK_OBJECT_MAP) {
        rfk_model_errf (err, errlen, "a tabular query is a map feature name -> number");
        return -1;
    }
    const msgpack_object_map *map = &query->via.map;
    for (size_t j = 0; j < n_features; j++) {
        const char *name = feature_names[j];
        size_t len = strlen (name);
        const msgpack_object *value = NULL;
        for (uint32_t k = 0; k < map->size && !value; k++) {
            const msgpack_object *key = &map->ptr[k].key;
            if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == len &&
                memcmp (key->via.str.ptr, name, len) == 0)
                value = &map->ptr[k].val;
        }
        if (!value) {
            rfk_model_errf (err, errlen, "the query has no feature '%s'", name);
            return -1;
        }
        switch (value->type) {
            case MSGPACK_OBJECT_POSITIVE_INTEGER:
                out[j] = (double)value->via.u64;
                break;
            case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                out[j] = (double)value->via.i64;
                break;
            case MSGPACK_OBJECT_FLOAT32:
            case MSGPACK_OBJECT_FLOAT64:
                out[j] = value->via.f64;
                break;
            case MSGPACK_OBJECT_BOOLEAN:
                out[j] = value->via.boolean ? 1 : 0;
                break;
            default:
                rfk_model_errf (err, errlen, "feature '%s' of the query is not a number", name);
                return -1;
        }
    }
    return 0;
}
