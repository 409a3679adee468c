/*  internal.h: helpers shared by the dataset and template loaders of
    rfk_model (not installed): error messages, whole-file and zip-entry
    reading, and an RFC 4180 CSV record reader. */
#ifndef RFK_MODEL_INTERNAL_H_INCLUDED
#define RFK_MODEL_INTERNAL_H_INCLUDED

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zip.h>

#include <rafiki/dataset.h> /* rfk_model_errf */

/* The largest file or zip entry a loader reads into memory. */
#define RFK_MODEL_MAX_FILE ((size_t)1 << 31)

/* Reads the whole file at path into a NUL-terminated buffer. */
int
rfk_model_read_file (const char *path, char **data, size_t *size, char *err, size_t errlen);

/* Opens the zip at path read-only; NULL with a message when it is missing
   or not a zip. */
zip_t *
rfk_model_zip_open (const char *path, char *err, size_t errlen);

/* Reads entry `name` (a leading "./" is ignored) of the zip at zip_path into
   a NUL-terminated buffer. Returns 0, -1 on error; *missing tells a missing
   entry apart from a broken one (missing may be NULL). */
int
rfk_model_zip_read (zip_t *zip, const char *zip_path, const char *name, char **data, size_t *size,
                    bool *missing, char *err, size_t errlen);

/* Opens the zip dataset at path and reads its listing, entry `name`
   (images.csv, corpus.tsv) like rfk_model_zip_read. The zip stays open for
   the caller (zip_discard). NULL with a message; a missing listing is
   reported as "PATH: has no NAME (HINT)". */
zip_t *
rfk_model_zip_listing (const char *path, const char *name, const char *hint, char **data,
                       size_t *size, char *err, size_t errlen);

/* An RFC 4180 record reader over a buffer: fields separated by delim,
   optionally quoted with '"' ("" is a quote inside quotes), records ended by
   \n or \r\n (a newline inside quotes belongs to the field). */
typedef struct {
    const char *file;   /* the file name for messages */
    const char *buf;    /* the text; not owned */
    size_t len;         /* its length */
    size_t pos;         /* the next byte to read */
    char delim;         /* ',' or '\t' */
    size_t line;        /* the physical line of buf[pos], from 1 */
    size_t record_line; /* the line where the last record started */
    char *text;         /* the fields of the last record, NUL-separated */
    size_t text_cap;    /* bytes allocated for text */
    char **fields;      /* n_fields pointers into text */
    size_t *starts;     /* field offsets in text while a record is read */
    size_t n_fields;    /* fields of the last record; 0 for an empty line */
    size_t fields_cap;  /* pointers allocated for fields */
} rfk_csv_t;

void
rfk_csv_init (rfk_csv_t *self, const char *file, const char *buf, size_t len, char delim);

/* Reads the next record: 1 when there is one, 0 at the end, -1 on a
   malformed record (unterminated quote, text after a closing quote, a NUL
   byte) with a message naming the file and line. */
int
rfk_csv_next (rfk_csv_t *self, char *err, size_t errlen);

/* Reads the header: the first record that is not a blank line. 1, 0 when
   the text has no record (empty), -1 on a malformed record. */
int
rfk_csv_header (rfk_csv_t *self, char *err, size_t errlen);

/* Reads the next record that is not a blank line and checks that it has
   n_columns fields. 1, 0 at the end, -1 on a malformed record or a wrong
   number of fields ("FILE line N: F fields, the header has n_columns"). */
int
rfk_csv_row (rfk_csv_t *self, size_t n_columns, char *err, size_t errlen);

void
rfk_csv_fini (rfk_csv_t *self);

/* Parses a whole double (surrounding blanks allowed); false if it is not
   one or is not finite. */
bool
rfk_model_parse_double (const char *text, double *value);

/* Parses a class label: an integer 0..INT32_MAX, written 3 or 3.0. */
bool
rfk_model_parse_label (const char *text, int32_t *value);

#endif
