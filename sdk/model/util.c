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
    bool empty_line = true;
    for (;;) {
        if (n + 1 > self->fields_cap) {
            size_t cap = self->fields_cap ? self->fields_cap * 2 : 16;
            char **bigger = realloc (self->fields, cap * sizeof (char *));
            if (!bigger)
                goto nomem;
            self->fields = bigger;
            size_t *more = realloc (self->starts, cap * sizeof (size_t));
            if (!more)
                goto nomem;
            self->starts = more;
            self->fields_cap = cap;
        }
        self->starts[n++] = used;
        /* One field. */
        const char *b = self->buf;
        if (self->pos < self->len && b[self->pos] == '"') {
            empty_line = false;
            self->pos++;
            for (;;) {
                if (self->pos >= self->len) {
                    rfk_model_errf (err, errlen, "%s line %zu: unterminated quoted field",
                                    self->file, self->record_line);
                    return -1;
                }
                char c = b[self->pos++];
                if (c == '"') {
                    if (self->pos < self->len && b[self->pos] == '"') {
                        self->pos++;
                        if (s_put (self, &used, '"'))
                            goto nomem;
                        continue;
                    }
                    break;
                }
                if (c == '\0')
                    goto nul;
                if (c == '\n')
                    self->line++;
                if (s_put (self, &used, c))
                    goto nomem;
            }
            if (self->pos < self->len && b[self->pos] != self->delim && b[self->pos] != '\n' &&
                !(b[self->pos] == '\r' && self->pos + 1 < self->len && b[self->pos + 1] == '\n') &&
                !(b[self->pos] == '\r' && self->pos + 1 == self->len)) {
                rfk_model_errf (err, errlen,
                                "%s line %zu: text after the closing quote of field %zu",
                                self->file, self->line, n);
                return -1;
            }
        } else {
            while (self->pos < self->len) {
                char c = b[self->pos];
                if (c == self->delim || c == '\n')
                    break;
                if (c == '\r' && (self->pos + 1 == self->len || b[self->pos + 1] == '\n'))
                    break;
                if (c == '\0')
                    goto nul;
                empty_line = false;
                if (s_put (self, &used, c))
                    goto nomem;
                self->pos++;
            }
        }
        if (s_put (self, &used, '\0'))
            goto nomem;
        /* After the field: a delimiter, the end of the record or of the text. */
        if (self->pos < self->len && b[self->pos] == self->delim) {
            empty_line = false;
            self->pos++;
            continue;
        }
        if (self->pos < self->len && b[self->pos] == '\r')
            self->pos++;
        if (self->pos < self->len && b[self->pos] == '\n') {
            self->pos++;
            self->line++;
        }
        break;
    }
    for (size_t i = 0; i < n; i++)
        self->fields[i] = self->text + self->starts[i];
    self->n_fields = empty_line ? 0 : n;
    return 1;
nul:
    rfk_model_errf (err, errlen, "%s line %zu: contains a NUL byte (not a text file?)", self->file,
                    self->line);
    return -1;
nomem:
    rfk_model_errf (err, errlen, "%s line %zu: out of memory", self->file, self->record_line);
    return -1;
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
