/*  internal.h: helpers shared by the dataset and template loaders of
    rfk_model (not installed): error messages, whole-file and zip-entry
    reading, and an RFC 4180 CSV record reader. */
#ifndef RFK_MODEL_INTERNAL_H_INCLUDED
#define RFK_MODEL_INTERNAL_H_INCLUDED

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
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

/* ---- one image (image_decode.c) ------------------------------------- */

/* The longest side of an image file that is decoded. */
#define RFK_IMAGE_MAX_SIDE 16384u
/* The most bytes one image file may decode to (and one resized image may
   take). */
#define RFK_IMAGE_MAX_BYTES ((size_t)1 << 28)

/* A decoded image. */
typedef struct {
    uint32_t width, height; /* pixels */
    uint32_t channels;      /* 1 (grey) or 3 (RGB) */
    uint8_t *pixels;        /* height * width * channels bytes, rows top to
                               bottom, channels interleaved; owned */
} rfk_image_t;

/* The grey level of a colour: ITU-R BT.601 luma on the stored values, as
   PIL's convert ('L') computes it. */
uint8_t
rfk_image_luma (uint8_t r, uint8_t g, uint8_t b);

/* Decodes a PNG or JPEG file's bytes into *out with `channels` channels (1,
   3, or 0 for the file's own: 1 for a grey file, 3 for colour). Returns 0,
   or -1 with a message that completes "ENTRY ..." (e.g. "is a corrupt
   JPEG: ...") and *out empty. */
int
rfk_image_decode (const void *data, size_t size, uint32_t channels, rfk_image_t *out, char *err,
                  size_t errlen);

/* Frees the pixels; the image is empty afterwards. */
void
rfk_image_fini (rfk_image_t *image);

/* Resizes src into dst (height * width * src->channels bytes) with a box
   filter: each output pixel is the mean of the source area it covers, a
   source pixel weighted by the part of it inside (area averaging, as PIL's
   Image.BOX and OpenCV's INTER_AREA; when enlarging, nearest neighbour with
   blended edges). The aspect ratio is not kept. Returns -1 when out of
   memory. */
int
rfk_image_resize (const rfk_image_t *src, uint32_t width, uint32_t height, uint8_t *dst);

/* ---- the image dataset cache (images_cache.c) ------------------------ */

/* A copy of the images loaded before from the file at path (st: its stat,
   fingerprint: a hash of its entries) with the same width, height and
   colour options (at most opts->max_count of them), or NULL. */
rfk_images_t *
rfk_images_cache_get (const char *path, const struct stat *st, uint64_t fingerprint,
                      const rfk_images_options_t *opts);

/* Keeps a copy of a complete load, within the budget. */
void
rfk_images_cache_put (const char *path, const struct stat *st, uint64_t fingerprint,
                      const rfk_images_options_t *opts, const rfk_images_t *images);

/* How many loads the cache answered (for tests). */
size_t
rfk_images_cache_hits (void);

/* Empties the cache (for tests). */
void
rfk_images_cache_clear (void);

#endif
