/*  util.c: error messages, file and zip-entry reading and the CSV record
    reader shared by the loaders of rfk_model. */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
rfk_model_errf (char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err, errlen, fmt, ap);
    va_end (ap);
}

int
rfk_model_read_file (const char *path, char **data, size_t *size, char *err, size_t errlen)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        rfk_model_errf (err, errlen, "%s: %s", path, strerror (errno));
        return -1;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc (cap);
    while (buf) {
        if (len + 1 >= cap) {
            if (cap >= RFK_MODEL_MAX_FILE) {
                rfk_model_errf (err, errlen, "%s: larger than %zu bytes", path,
                                (size_t)RFK_MODEL_MAX_FILE);
                free (buf);
                fclose (f);
                return -1;
            }
            char *bigger = realloc (buf, cap * 2);
            if (!bigger) {
                free (buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread (buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    if (!buf) {
        rfk_model_errf (err, errlen, "%s: out of memory", path);
        fclose (f);
        return -1;
    }
    if (ferror (f)) {
        rfk_model_errf (err, errlen, "%s: read error", path);
        free (buf);
        fclose (f);
        return -1;
    }
    fclose (f);
    buf[len] = '\0';
    *data = buf;
    *size = len;
    return 0;
}

zip_t *
rfk_model_zip_open (const char *path, char *err, size_t errlen)
{
    int code = 0;
    zip_t *zip = zip_open (path, ZIP_RDONLY, &code);
    if (zip)
        return zip;
    if (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS)
        rfk_model_errf (err, errlen, "%s: not a zip file", path);
    else {
        zip_error_t ze;
        zip_error_init_with_code (&ze, code);
        rfk_model_errf (err, errlen, "%s: cannot open: %s", path, zip_error_strerror (&ze));
        zip_error_fini (&ze);
    }
    return NULL;
}

int
rfk_model_zip_read (zip_t *zip, const char *zip_path, const char *name, char **data, size_t *size,
                    bool *missing, char *err, size_t errlen)
{
    if (missing)
        *missing = false;
    while (strncmp (name, "./", 2) == 0)
        name += 2;
    zip_stat_t st;
    zip_int64_t index = zip_name_locate (zip, name, 0);
    if (index < 0 || zip_stat_index (zip, (zip_uint64_t)index, 0, &st) != 0) {
        if (missing)
            *missing = true;
        rfk_model_errf (err, errlen, "%s: has no file %s", zip_path, name);
        return -1;
    }
    if (!(st.valid & ZIP_STAT_SIZE) || st.size >= RFK_MODEL_MAX_FILE) {
        rfk_model_errf (err, errlen, "%s: %s is too large", zip_path, name);
        return -1;
    }
    zip_file_t *zf = zip_fopen_index (zip, (zip_uint64_t)index, 0);
    if (!zf) {
        rfk_model_errf (err, errlen, "%s: cannot read %s: %s", zip_path, name, zip_strerror (zip));
        return -1;
    }
    char *buf = malloc ((size_t)st.size + 1);
    if (!buf) {
        zip_fclose (zf);
        rfk_model_errf (err, errlen, "%s: out of memory reading %s", zip_path, name);
        return -1;
    }
    zip_int64_t got = zip_fread (zf, buf, st.size);
    if (got < 0 || (zip_uint64_t)got != st.size) {
        rfk_model_errf (err, errlen, "%s: %s is corrupt: %s", zip_path, name,
                        got < 0 ? zip_file_strerror (zf) : "short read");
        zip_fclose (zf);
        free (buf);
        return -1;
    }
    /* zip_fclose reports a CRC mismatch of a damaged entry. */
    int rc = zip_fclose (zf);
    if (rc != 0) {
        zip_error_t ze;
        zip_error_init_with_code (&ze, rc);
        rfk_model_errf (err, errlen, "%s: %s is corrupt: %s", zip_path, name,
                        zip_error_strerror (&ze));
        zip_error_fini (&ze);
        free (buf);
        return -1;
    }
    buf[st.size] = '\0';
    *data = buf;
    *size = (size_t)st.size;
    return 0;
}

zip_t *
rfk_model_zip_listing (const char *path, const char *name, const char *hint, char **data,
                       size_t *size, char *err, size_t errlen)
{
    zip_t *zip = rfk_model_zip_open (path, err, errlen);
    if (!zip)
        return NULL;
    bool missing = false;
    if (rfk_model_zip_read (zip, path, name, data, size, &missing, err, errlen)) {
        if (missing)
            rfk_model_errf (err, errlen, "%s: has no %s (%s)", path, name, hint);
        zip_discard (zip);
        return NULL;
    }
    return zip;
}

void
rfk_csv_init (rfk_csv_t *self, const char *file, const char *buf, size_t len, char delim)
{
    memset (self, 0, sizeof *self);
    self->file = file;
    self->buf = buf;
    self->len = len;
    self->delim = delim;
    self->line = 1;
    /* A UTF-8 byte order mark is not part of the first column's name. */
    if (len >= 3 && memcmp (buf, "\xEF\xBB\xBF", 3) == 0)
        self->pos = 3;
}

/* Appends one byte to the record text. */
static int
s_put (rfk_csv_t *self, size_t *used, char c)
{
    if (*used + 1 > self->text_cap) {
        size_t cap = self->text_cap ? self->text_cap * 2 : 256;
        char *bigger = realloc (self->text, cap);
        if (!bigger)
            return -1;
        self->text = bigger;
        self->text_cap = cap;
    }
    self->text[(*used)++] = c;
    return 0;
}

/* Makes room for one more field. */
static int
s_grow_fields (rfk_csv_t *self, size_t n)
{
    if (n + 1 <= self->fields_cap)
        return 0;
    size_t cap = self->fields_cap ? self->fields_cap * 2 : 16;
    char **bigger = realloc (self->fields, cap * sizeof (char *));
    if (!bigger)
        return -1;
    self->fields = bigger;
    size_t *more = realloc (self->starts, cap * sizeof (size_t));
    if (!more)
        return -1;
    self->starts = more;
    self->fields_cap = cap;
    return 0;
}

/* -1 after "out of memory" for the record. */
static int
s_nomem (const rfk_csv_t *self, char *err, size_t errlen)
{
    rfk_model_errf (err, errlen, "%s line %zu: out of memory", self->file, self->record_line);
    return -1;
}

/* -1 after "contains a NUL byte". */
static int
s_nul (const rfk_csv_t *self, char *err, size_t errlen)
{
    rfk_model_errf (err, errlen, "%s line %zu: contains a NUL byte (not a text file?)", self->file,
                    self->line);
    return -1;
}

/* Whether buf[pos] ends a field: a delimiter, a newline, or a \r before a
   newline or the end. */
static bool
s_at_field_end (const rfk_csv_t *self, size_t pos)
{
    const char *b = self->buf;
    if (pos >= self->len)
        return true;
    if (b[pos] == self->delim || b[pos] == '\n')
        return true;
    return b[pos] == '\r' && (pos + 1 == self->len || b[pos + 1] == '\n');
}

/* Reads a quoted field (at its opening quote) into the record text. field
   is its number, for messages. */
static int
s_quoted_field (rfk_csv_t *self, size_t *used, size_t field, char *err, size_t errlen)
{
    const char *b = self->buf;
    self->pos++;
    for (;;) {
        if (self->pos >= self->len) {
            rfk_model_errf (err, errlen, "%s line %zu: unterminated quoted field", self->file,
                            self->record_line);
            return -1;
        }
        char c = b[self->pos++];
        if (c == '"' && self->pos < self->len && b[self->pos] == '"')
            self->pos++; /* "" is a quote inside quotes */
        else if (c == '"')
            break;
        else if (c == '\0')
            return s_nul (self, err, errlen);
        else if (c == '\n')
            self->line++;
        if (s_put (self, used, c))
            return s_nomem (self, err, errlen);
    }
    if (!s_at_field_end (self, self->pos)) {
        rfk_model_errf (err, errlen, "%s line %zu: text after the closing quote of field %zu",
                        self->file, self->line, field);
        return -1;
    }
    return 0;
}

/* Reads an unquoted field into the record text; *empty_line is cleared
   when it has any text. */
static int
s_plain_field (rfk_csv_t *self, size_t *used, bool *empty_line, char *err, size_t errlen)
{
    while (!s_at_field_end (self, self->pos)) {
        char c = self->buf[self->pos];
        if (c == '\0')
            return s_nul (self, err, errlen);
        *empty_line = false;
        if (s_put (self, used, c))
            return s_nomem (self, err, errlen);
        self->pos++;
    }
    return 0;
}

/* Steps over what follows a field: true after a delimiter (another field
   follows), false at the end of the record (its newline consumed). */
static bool
s_next_field (rfk_csv_t *self)
{
    const char *b = self->buf;
    if (self->pos < self->len && b[self->pos] == self->delim) {
        self->pos++;
        return true;
    }
    if (self->pos < self->len && b[self->pos] == '\r')
        self->pos++;
    if (self->pos < self->len && b[self->pos] == '\n') {
        self->pos++;
        self->line++;
    }
    return false;
}

int
rfk_csv_next (rfk_csv_t *self, char *err, size_t errlen)
{
    self->n_fields = 0;
    if (self->pos >= self->len)
        return 0;
    self->record_line = self->line;
    size_t used = 0;
    /* Offsets of each field's start in text; turned into pointers at the
       end because text may move while it grows. */
    size_t n = 0;
    bool empty_line = true, more = true;
    while (more) {
        if (s_grow_fields (self, n))
            return s_nomem (self, err, errlen);
        self->starts[n++] = used;
        int rc;
        if (self->pos < self->len && self->buf[self->pos] == '"') {
            empty_line = false;
            rc = s_quoted_field (self, &used, n, err, errlen);
        } else
            rc = s_plain_field (self, &used, &empty_line, err, errlen);
        if (rc != 0)
            return -1;
        if (s_put (self, &used, '\0'))
            return s_nomem (self, err, errlen);
        more = s_next_field (self);
        if (more)
            empty_line = false;
    }
    for (size_t i = 0; i < n; i++)
        self->fields[i] = self->text + self->starts[i];
    self->n_fields = empty_line ? 0 : n;
    return 1;
}

int
rfk_csv_header (rfk_csv_t *self, char *err, size_t errlen)
{
    int got;
    while ((got = rfk_csv_next (self, err, errlen)) == 1 && self->n_fields == 0)
        ;
    return got;
}

int
rfk_csv_row (rfk_csv_t *self, size_t n_columns, char *err, size_t errlen)
{
    int got;
    while ((got = rfk_csv_next (self, err, errlen)) == 1 && self->n_fields == 0)
        ;
    if (got == 1 && self->n_fields != n_columns) {
        rfk_model_errf (err, errlen, "%s line %zu: %zu fields, the header has %zu", self->file,
                        self->record_line, self->n_fields, n_columns);
        return -1;
    }
    return got;
}

void
rfk_csv_fini (rfk_csv_t *self)
{
    free (self->text);
    free (self->fields);
    free (self->starts);
    self->text = NULL;
    self->fields = NULL;
    self->starts = NULL;
    self->text_cap = self->fields_cap = self->n_fields = 0;
}

bool
rfk_model_parse_double (const char *text, double *value)
{
    while (*text == ' ' || *text == '\t')
        text++;
    if (*text == '\0')
        return false;
    char *end = NULL;
    errno = 0;
    double v = strtod (text, &end);
    if (end == text)
        return false;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0' || !isfinite (v))
        return false;
    *value = v;
    return true;
}

bool
rfk_model_parse_label (const char *text, int32_t *value)
{
    double v;
    if (!rfk_model_parse_double (text, &v))
        return false;
    if (v < 0 || v > INT32_MAX || v != floor (v))
        return false;
    *value = (int32_t)v;
    return true;
}
