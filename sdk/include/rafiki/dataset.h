/*  rafiki/dataset.h: loaders for the dataset formats of Rafiki's tasks.

    A template's train () and evaluate () get a dataset file path; these
    loaders read it into memory. Formats (as in the original Rafiki):

    - IMAGE_CLASSIFICATION: a zip holding `images.csv` (header `path,class`,
      one row per image: the image's path inside the zip and its class, an
      integer 0..K-1) and the images: PNG or JPEG (told apart by their first
      bytes, whatever their names), grey or colour, of any sizes. The
      template asks for a size and channels (rfk_images_options_t); every
      image is converted and resized to them once, when loaded (see
      rfk_images_load for the filter and the cache). A file that cannot be
      read (corrupt, empty, another format, over 16384 pixels a side or
      256 MiB decoded) is an error naming the file inside the zip and its
      line of images.csv.
    - TABULAR_CLASSIFICATION / TABULAR_REGRESSION: a CSV file (RFC 4180:
      fields may be quoted, "" inside quotes is a quote) with a header row of
      column names. The target column is named by the caller (train argument
      `target`), by default the last column; the features are the other
      columns (or those named in train argument `features`), all numeric.
      Classification targets are integers 0..K-1 (written as 2 or 2.0); K is
      the largest label + 1. Values are NOT mapped to indices, so that train
      and validation files agree on what class 3 is.
    - POS_TAGGING: a zip holding `corpus.tsv`: tab-separated, header
      `token<TAB>tag`, one token per row; a sentence ends at a row whose token
      is the two characters `\n` (backslash, n: Rafiki's delimiter) or at an
      empty line. Tags are strings (Rafiki's converters wrote tag indices,
      which load as the strings "0", "1", ...).

    Every loader returns 0, or -1 after writing into err a message naming the
    file (and the line, for a bad row) and what is wrong with it. What a
    loader returns in *out is yours: free it with the matching _destroy.

    The query helpers turn one prediction query (a msgpack_object, see
    rafiki/model.h) into the numbers a model works on, with a clear error for
    a query of the wrong shape.
*/
#ifndef RAFIKI_DATASET_H_INCLUDED
#define RAFIKI_DATASET_H_INCLUDED

#include "rafiki/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes a printf-style message into err, as the loaders do (nothing when
   err is NULL or errlen 0; always terminated). For templates and tools that
   report errors the same err/errlen way. */
void
rfk_model_errf (char *err, size_t errlen, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* ---- IMAGE_CLASSIFICATION ------------------------------------------- */

/* How colours are handled. */
typedef enum {
    RFK_IMAGES_KEEP = 0, /* channels of the first image: 1 (grey) or 3 (RGB);
                            later images are converted to match */
    RFK_IMAGES_GREY,     /* every image converted to 1 channel */
    RFK_IMAGES_RGB       /* every image converted to 3 channels */
} rfk_images_colour_t;

/* What a template asks of the loader. Zeroed fields keep the defaults, so
   {0} (or NULL) reads every image at the first image's size and channels. */
typedef struct {
    size_t max_count;           /* read at most this many images; 0: all */
    rfk_images_colour_t colour; /* see above */
    uint32_t width, height;     /* resize every image to width x height
                                   pixels; both 0: to the first image's size.
                                   At most 16384 each. */
} rfk_images_options_t;

typedef struct {
    size_t n;               /* number of images */
    uint32_t width, height; /* pixels, the same for every image */
    uint32_t channels;      /* 1 (grey) or 3 (RGB) */
    uint8_t *pixels;        /* n * height * width * channels bytes: image
                               i starts at i * height * width * channels,
                               rows top to bottom, channels interleaved */
    int32_t *labels;        /* n labels, each in 0 .. n_classes-1 */
    uint32_t n_classes;     /* largest label + 1 */
} rfk_images_t;

/* Loads the images zip at path. opts may be NULL (all images, KEEP, the
   first image's size).

   Each image is decoded, converted to the channels asked for (colour to
   grey with BT.601 luma; grey to RGB by repeating it) and resized to the
   size asked for with a box filter: an output pixel is the mean of the
   source area it covers, each source pixel weighted by the part of it
   inside (area averaging, as PIL's Image.BOX and OpenCV's INTER_AREA; when
   enlarging it is nearest neighbour with blended edges). The aspect ratio
   is not kept (as the original Rafiki's loaders).

   Complete loads are cached in this process (keyed by path, the file's
   device, inode, size and modification time, the names, sizes and CRCs of
   its entries, and the size and colour asked for): the first load of a
   key is only noted (a trial reads each dataset once, and a copy would
   double its memory), the second is kept, and later ones cost a copy, not
   a decode. The cache holds at most RAFIKI_IMAGES_CACHE_MB (environment,
   default 512; 0 turns it off) and drops the least recently used. It is
   not kept on disk: a sandboxed trial sees its datasets read-only and can
   write only its own folder, and a cache shared between trials could be
   poisoned by one template for the others. */
int
rfk_images_load (const char *path, const rfk_images_options_t *opts, rfk_images_t **out, char *err,
                 size_t errlen);

/* Fills the size and colour of opts from a job's train arguments, the
   convention of the zoo's templates: `image_size` ("32": 32x32, "32x24":
   width x height, or the JSON list a manifest's `image_size: [32, 24]`
   arrives as; 1 to 4096 a side) and `image_channels` ("1": GREY, "3":
   RGB). Absent arguments leave opts alone. -1 with a message naming the
   argument when one is malformed. */
int
rfk_images_options_from_args (const rafiki_args_t *args, rfk_images_options_t *opts, char *err,
                              size_t errlen);

/* Frees the images; NULL or *self_p NULL is a no-op. */
void
rfk_images_destroy (rfk_images_t **self_p);

/* Reads one image query (an array of `height` rows, each an array of `width`
   pixels; a pixel is a number 0-255 for grey or an array [r,g,b]) into out
   (height * width * channels bytes, laid out as in rfk_images_t). Grey
   pixels given to a 3-channel model are repeated, colour pixels given to a
   1-channel model are turned grey. Real numbers are rounded. */
int
rfk_images_query (const msgpack_object *query, uint32_t width, uint32_t height, uint32_t channels,
                  uint8_t *out, char *err, size_t errlen);

/* ---- TABULAR_CLASSIFICATION / TABULAR_REGRESSION -------------------- */

typedef struct {
    const char *target;   /* target column name; NULL: the last column */
    const char *features; /* comma-separated feature columns to keep, in
                             this order; NULL: every column but the target */
    bool classification;  /* targets must be integers 0..K-1 */
    size_t max_rows;      /* read at most this many rows; 0: all */
} rfk_tabular_options_t;

typedef struct {
    size_t n_rows;        /* data rows */
    size_t n_features;    /* feature columns */
    char **feature_names; /* n_features names, in column order */
    char *target_name;    /* the target column's name */
    double *features;     /* n_rows * n_features values, row after row */
    double *targets;      /* n_rows target values */
    int32_t *labels;      /* classification: n_rows labels 0..n_classes-1;
                             NULL for regression */
    uint32_t n_classes;   /* classification: largest label + 1; else 0 */
} rfk_tabular_t;

/* Fills opts from a job's train arguments `target` and `features` (other
   arguments are left alone) and sets classification from the task name
   (RAFIKI_TASK_TABULAR_CLASSIFICATION or _REGRESSION). The strings stay
   borrowed from args. */
void
rfk_tabular_options_from_args (const rafiki_args_t *args, const char *task,
                               rfk_tabular_options_t *opts);

/* Loads the CSV file at path. opts may be NULL (last column is the target,
   regression). */
int
rfk_tabular_load (const char *path, const rfk_tabular_options_t *opts, rfk_tabular_t **out,
                  char *err, size_t errlen);

/* Frees the table; NULL or *self_p NULL is a no-op. */
void
rfk_tabular_destroy (rfk_tabular_t **self_p);

/* Reads one tabular query, a msgpack map feature name -> number, into out
   (n_features doubles in the order of feature_names). Keys not among the
   feature names are ignored; a missing feature or a value that is not a
   number (booleans count as 0/1) is an error naming the feature. */
int
rfk_tabular_query (const msgpack_object *query, const char *const *feature_names, size_t n_features,
                   double *out, char *err, size_t errlen);

/* ---- POS_TAGGING ---------------------------------------------------- */

typedef struct {
    size_t n_tokens;
    char **tokens;     /* n_tokens tokens */
    char **tags;       /* n_tokens tags (the corpus's strings) */
    uint32_t *tag_ids; /* n_tokens indices into rfk_corpus_t.tag_names */
} rfk_sentence_t;

typedef struct {
    size_t n_sentences;
    rfk_sentence_t *sentences;
    size_t n_tokens;  /* tokens in all sentences */
    size_t n_tags;    /* distinct tags */
    char **tag_names; /* n_tags distinct tags, sorted (strcmp) */
} rfk_corpus_t;

/* Loads the corpus zip at path; max_sentences 0 reads all. */
int
rfk_corpus_load (const char *path, size_t max_sentences, rfk_corpus_t **out, char *err,
                 size_t errlen);

/* Frees the corpus; NULL or *self_p NULL is a no-op. */
void
rfk_corpus_destroy (rfk_corpus_t **self_p);

/* Checks that query is an array of strings and returns how many (the
   tokens are query->via.array.ptr[i].via.str, not NUL-terminated). */
int
rfk_corpus_query (const msgpack_object *query, size_t *n_tokens, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
