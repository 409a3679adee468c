/*  images.c: the IMAGE_CLASSIFICATION loader (a zip of PNG and JPEG images
    listed in images.csv) and the image query reader. Each image is decoded
    (image_decode.c), converted to the channels and resized to the size the
    template asked for, once; complete loads are kept by the per-process
    cache (images_cache.c). */
#include "internal.h"
#include "rafiki/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The growing result while rows are read. */
typedef struct {
    rfk_images_t *images;
    size_t cap; /* images allocated for */
} s_builder_t;

static int
s_grow (s_builder_t *b, size_t image_bytes)
{
    if (b->images->n < b->cap)
        return 0;
    size_t cap = b->cap ? b->cap * 2 : 64;
    if (cap > SIZE_MAX / image_bytes)
        return -1;
    uint8_t *pixels = realloc (b->images->pixels, cap * image_bytes);
    if (!pixels)
        return -1;
    b->images->pixels = pixels;
    int32_t *labels = realloc (b->images->labels, cap * sizeof (int32_t));
    if (!labels)
        return -1;
    b->images->labels = labels;
    b->cap = cap;
    return 0;
}

/* Fixes the dataset's size and channels from the options and its first
   image (decoded with its own channels under KEEP). */
static int
s_first_image (rfk_images_t *images, const rfk_images_options_t *opts, const rfk_image_t *image,
               const char *zip_path, const char *where, const char *name, char *err, size_t errlen)
{
    images->width = opts->width ? opts->width : image->width;
    images->height = opts->height ? opts->height : image->height;
    images->channels = image->channels;
    if ((size_t)images->width * images->height * images->channels > RFK_IMAGE_MAX_BYTES / 16) {
        rfk_model_errf (err, errlen,
                        "%s: %s: %s is %ux%u, too large to keep every image at its size (over "
                        "16 MiB each): ask for a smaller size (the zoo: train argument "
                        "image_size)",
                        zip_path, where, name, images->width, images->height);
        return -1;
    }
    return 0;
}

/* Decodes one image file into the next image slot of b, converted and
   resized. */
static int
s_add_image (s_builder_t *b, const rfk_images_options_t *opts, const char *zip_path,
             const char *where, const char *name, const char *data, size_t size, int32_t label,
             char *err, size_t errlen)
{
    rfk_images_t *images = b->images;
    uint32_t channels = images->n                         ? images->channels
                        : opts->colour == RFK_IMAGES_GREY ? 1
                        : opts->colour == RFK_IMAGES_RGB  ? 3
                                                          : 0;
    rfk_image_t image;
    char why[256];
    if (rfk_image_decode (data, size, channels, &image, why, sizeof why) != 0) {
        rfk_model_errf (err, errlen, "%s: %s: %s %s", zip_path, where, name, why);
        return -1;
    }
    int rc = 0;
    if (images->n == 0)
        rc = s_first_image (images, opts, &image, zip_path, where, name, err, errlen);
    size_t image_bytes = (size_t)images->width * images->height * images->channels;
    if (rc == 0 && (s_grow (b, image_bytes) != 0 ||
                    rfk_image_resize (&image, images->width, images->height,
                                      images->pixels + images->n * image_bytes) != 0)) {
        rfk_model_errf (err, errlen, "%s: out of memory after %zu images", zip_path, images->n);
        rc = -1;
    }
    rfk_image_fini (&image);
    if (rc != 0)
        return -1;
    images->labels[images->n++] = label;
    if ((uint32_t)label + 1 > images->n_classes)
        images->n_classes = (uint32_t)label + 1;
    return 0;
}

/* Finds a column by name in the header record; -1 if absent. */
static int
s_column (const rfk_csv_t *csv, const char *name)
{
    for (size_t i = 0; i < csv->n_fields; i++)
        if (strcmp (csv->fields[i], name) == 0)
            return (int)i;
    return -1;
}

/* Reads images.csv's header: its path and class columns. */
static int
s_read_header (rfk_csv_t *csv, const char *path, int *col_path, int *col_class, char *err,
               size_t errlen)
{
    /* Blank lines before the header are skipped. */
    int got = rfk_csv_header (csv, err, errlen);
    if (got <= 0) {
        if (got == 0)
            rfk_model_errf (err, errlen, "%s: images.csv is empty (want a header path,class)",
                            path);
        return -1;
    }
    *col_path = s_column (csv, "path");
    *col_class = s_column (csv, "class");
    if (*col_path < 0 || *col_class < 0) {
        rfk_model_errf (err, errlen,
                        "%s: images.csv line %zu: the header has no %s column (want path,class)",
                        path, csv->record_line, *col_path < 0 ? "path" : "class");
        return -1;
    }
    return 0;
}

/* Adds the image the current record of images.csv names. */
static int
s_read_image_row (s_builder_t *b, zip_t *zip, const rfk_csv_t *csv, const char *path,
                  const rfk_images_options_t *opts, int col_path, int col_class, char *err,
                  size_t errlen)
{
    char where[64];
    snprintf (where, sizeof where, "images.csv line %zu", csv->record_line);
    const char *name = csv->fields[col_path];
    int32_t label;
    if (!rfk_model_parse_label (csv->fields[col_class], &label)) {
        rfk_model_errf (err, errlen, "%s: %s: class '%s' of %s is not an integer 0, 1, 2, ...",
                        path, where, csv->fields[col_class], name);
        return -1;
    }
    char *data = NULL;
    size_t size = 0;
    bool missing = false;
    if (rfk_model_zip_read (zip, path, name, &data, &size, &missing, err, errlen)) {
        if (missing)
            rfk_model_errf (err, errlen, "%s: %s: image %s is not in the zip", path, where, name);
        return -1;
    }
    int added = s_add_image (b, opts, path, where, name, data, size, label, err, errlen);
    free (data);
    return added;
}

/* Reads images.csv (csv) and the images it lists from zip into b. */
static int
s_read_images (s_builder_t *b, zip_t *zip, rfk_csv_t *csv, const char *path,
               const rfk_images_options_t *opts, bool *complete, char *err, size_t errlen)
{
    int col_path, col_class;
    if (s_read_header (csv, path, &col_path, &col_class, err, errlen) != 0)
        return -1;
    size_t n_columns = csv->n_fields;
    while (opts->max_count == 0 || b->images->n < opts->max_count) {
        int got = rfk_csv_row (csv, n_columns, err, errlen);
        if (got < 0)
            return -1;
        if (got == 0) {
            *complete = true;
            break;
        }
        if (s_read_image_row (b, zip, csv, path, opts, col_path, col_class, err, errlen) != 0)
            return -1;
    }
    if (b->images->n == 0) {
        rfk_model_errf (err, errlen, "%s: images.csv lists no images", path);
        return -1;
    }
    return 0;
}

/* Refuses options out of range. */
static int
s_check_options (const char *path, const rfk_images_options_t *opts, char *err, size_t errlen)
{
    if ((opts->width == 0) != (opts->height == 0) || opts->width > RFK_IMAGE_MAX_SIDE ||
        opts->height > RFK_IMAGE_MAX_SIDE ||
        (size_t)opts->width * opts->height * 3 > RFK_IMAGE_MAX_BYTES / 16) {
        rfk_model_errf (err, errlen,
                        "%s: the template asks for %ux%u images (want both 0, or a size of at "
                        "most 16384 a side and 16 MiB of pixels)",
                        path, opts->width, opts->height);
        return -1;
    }
    if (opts->colour != RFK_IMAGES_KEEP && opts->colour != RFK_IMAGES_GREY &&
        opts->colour != RFK_IMAGES_RGB) {
        rfk_model_errf (err, errlen, "%s: the template asks for colour %d (want KEEP, GREY, RGB)",
                        path, (int)opts->colour);
        return -1;
    }
    return 0;
}

/* What the zip holds, in 64 bits: FNV-1a over every entry's name, size and
   CRC-32 (the central directory's, so nothing is decompressed). */
static uint64_t
s_fingerprint (zip_t *zip)
{
    uint64_t h = 1469598103934665603ull;
    zip_int64_t n = zip_get_num_entries (zip, 0);
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        if (zip_stat_index (zip, (zip_uint64_t)i, 0, &st) != 0)
            continue;
        uint64_t fields[2] = {st.size, st.crc};
        const uint8_t *bytes = (const uint8_t *)fields;
        for (size_t j = 0; j < sizeof fields; j++)
            h = (h ^ bytes[j]) * 1099511628211ull;
        for (const char *c = st.name ? st.name : ""; *c; c++)
            h = (h ^ (uint8_t)*c) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
    }
    return h;
}

/* Reads the zip at path into *out, or takes it from the cache; a complete
   read goes into the cache. */
static int
s_load (const char *path, const rfk_images_options_t *opts, rfk_images_t **out, char *err,
        size_t errlen)
{
    char *csv_text = NULL;
    size_t csv_size = 0;
    zip_t *zip = rfk_model_zip_listing (path, "images.csv",
                                        "an image dataset is a zip with images.csv listing "
                                        "path,class and the image files",
                                        &csv_text, &csv_size, err, errlen);
    if (!zip)
        return -1;
    struct stat st;
    bool cacheable = stat (path, &st) == 0 && S_ISREG (st.st_mode);
    uint64_t fingerprint = cacheable ? s_fingerprint (zip) : 0;
    if (cacheable && (*out = rfk_images_cache_get (path, &st, fingerprint, opts))) {
        free (csv_text);
        zip_discard (zip);
        return 0;
    }
    s_builder_t b = {calloc (1, sizeof (rfk_images_t)), 0};
    char csv_name[1024];
    snprintf (csv_name, sizeof csv_name, "%s: images.csv", path);
    rfk_csv_t csv;
    rfk_csv_init (&csv, csv_name, csv_text, csv_size, ',');
    int rc = -1;
    bool complete = false;
    if (!b.images)
        rfk_model_errf (err, errlen, "%s: out of memory", path);
    else if (s_read_images (&b, zip, &csv, path, opts, &complete, err, errlen) == 0) {
        if (cacheable && complete)
            rfk_images_cache_put (path, &st, fingerprint, opts, b.images);
        *out = b.images;
        b.images = NULL;
        rc = 0;
    }
    rfk_images_destroy (&b.images);
    rfk_csv_fini (&csv);
    free (csv_text);
    zip_discard (zip);
    return rc;
}

int
rfk_images_load (const char *path, const rfk_images_options_t *opts, rfk_images_t **out, char *err,
                 size_t errlen)
{
    static const rfk_images_options_t dflt = {0, RFK_IMAGES_KEEP, 0, 0};
    if (!opts)
        opts = &dflt;
    *out = NULL;
    if (s_check_options (path, opts, err, errlen) != 0)
        return -1;
    return s_load (path, opts, out, err, errlen);
}

/* Parses an image size: "32" (32x32), "32x24" (width x height), or the
   JSON list a manifest's `image_size: [32, 24]` arrives as ("[32,24]",
   "[32]"). Each side 1..4096. */
static bool
s_parse_image_size (const char *text, unsigned *w, unsigned *h)
{
    const char *p = text;
    while (*p == ' ')
        p++;
    bool list = *p == '[';
    p += list;
    char *end;
    unsigned long sides[2] = {0, 0};
    int n = 0;
    while (n < 2) {
        while (*p == ' ')
            p++;
        if (*p < '0' || *p > '9')
            return false;
        sides[n++] = strtoul (p, &end, 10);
        p = end;
        while (*p == ' ')
            p++;
        if (!(*p == ',' || (!list && (*p == 'x' || *p == 'X'))))
            break;
        p++;
    }
    if (list && *p++ != ']')
        return false;
    while (*p == ' ')
        p++;
    if (*p != '\0')
        return false;
    if (n == 1)
        sides[1] = sides[0];
    *w = (unsigned)sides[0];
    *h = (unsigned)sides[1];
    return sides[0] >= 1 && sides[0] <= 4096 && sides[1] >= 1 && sides[1] <= 4096;
}

int
rfk_images_options_from_args (const rafiki_args_t *args, rfk_images_options_t *opts, char *err,
                              size_t errlen)
{
    const char *size = rafiki_args_get (args, "image_size", NULL);
    const char *channels = rafiki_args_get (args, "image_channels", NULL);
    if (size && *size) {
        unsigned w, h;
        if (!s_parse_image_size (size, &w, &h)) {
            rfk_model_errf (
                err, errlen,
                "train argument image_size '%s': want a size like 32, 32x24 or [32, 24] "
                "(width, height: 1 to 4096 pixels)",
                size);
            return -1;
        }
        opts->width = w;
        opts->height = h;
    }
    if (channels && *channels) {
        if (strcmp (channels, "1") != 0 && strcmp (channels, "3") != 0) {
            rfk_model_errf (err, errlen, "train argument image_channels '%s': want 1 or 3",
                            channels);
            return -1;
        }
        opts->colour = channels[0] == '1' ? RFK_IMAGES_GREY : RFK_IMAGES_RGB;
    }
    return 0;
}

void
rfk_images_destroy (rfk_images_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->pixels);
    free ((*self_p)->labels);
    free (*self_p);
    *self_p = NULL;
}

/* Reads one number 0..255 (rounded) from a msgpack object. */
static bool
s_pixel_value (const msgpack_object *o, uint8_t *value)
{
    double v;
    switch (o->type) {
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            if (o->via.u64 > 255)
                return false;
            *value = (uint8_t)o->via.u64;
            return true;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            v = o->via.f64;
            if (!(v >= 0 && v <= 255))
                return false;
            *value = (uint8_t)lround (v);
            return true;
        default:
            return false;
    }
}

int
rfk_images_query (const msgpack_object *query, uint32_t width, uint32_t height, uint32_t channels,
                  uint8_t *out, char *err, size_t errlen)
{
    if (channels != 1 && channels != 3) {
        rfk_model_errf (err, errlen, "a model's images have 1 or 3 channels, not %u", channels);
        return -1;
    }
    if (!query || query->type != MSGPACK_OBJECT_ARRAY || query->via.array.size != height) {
        rfk_model_errf (err, errlen, "an image query is an array of %u rows of %u pixels", height,
                        width);
        return -1;
    }
    for (uint32_t y = 0; y < height; y++) {
        const msgpack_object *row = &query->via.array.ptr[y];
        if (row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size != width) {
            rfk_model_errf (err, errlen, "image row %u: want an array of %u pixels", y, width);
            return -1;
        }
        for (uint32_t x = 0; x < width; x++) {
            const msgpack_object *px = &row->via.array.ptr[x];
            uint8_t *dst = out + ((size_t)y * width + x) * channels;
            uint8_t rgb[3];
            bool ok = true;
            bool colour = px->type == MSGPACK_OBJECT_ARRAY;
            if (colour) {
                ok = px->via.array.size == 3;
                for (uint32_t c = 0; ok && c < 3; c++)
                    ok = s_pixel_value (&px->via.array.ptr[c], &rgb[c]);
            } else {
                ok = s_pixel_value (px, &rgb[0]);
                rgb[1] = rgb[2] = rgb[0];
            }
            if (!ok) {
                rfk_model_errf (err, errlen,
                                "image pixel (row %u, column %u): want a number 0-255 or [r,g,b]",
                                y, x);
                return -1;
            }
            if (channels == 3)
                memcpy (dst, rgb, 3);
            else if (colour)
                dst[0] = rfk_image_luma (rgb[0], rgb[1], rgb[2]);
            else
                dst[0] = rgb[0];
        }
    }
    return 0;
}
