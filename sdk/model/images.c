/*  images.c: the IMAGE_CLASSIFICATION loader (a zip of PNG images listed in
    images.csv) and the image query reader. PNGs are decoded by libpng's
    simplified API, which converts any PNG to 8-bit grey or RGB. */
#include "internal.h"
#include "rafiki/dataset.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* No single image may decode to more than this many bytes. */
#define RFK_IMAGES_MAX_IMAGE_BYTES ((size_t)1 << 28)

/* The grey level of a colour: ITU-R BT.601 luma on the stored values, as
   PIL's convert ('L') computes it. */
static uint8_t
s_luma (uint8_t r, uint8_t g, uint8_t b)
{
    return (uint8_t)((r * 299u + g * 587u + b * 114u + 500u) / 1000u);
}

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

/* Decodes one PNG into the next image slot of b. */
static int
s_add_image (s_builder_t *b, const rfk_images_options_t *opts, const char *zip_path,
             const char *csv_where, const char *name, const char *data, size_t size, int32_t label,
             char *err, size_t errlen)
{
    rfk_images_t *images = b->images;
    png_image png;
    memset (&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory (&png, data, size)) {
        rfk_model_errf (err, errlen, "%s: %s: %s is not a valid PNG: %s", zip_path, csv_where, name,
                        png.message);
        png_image_free (&png);
        return -1;
    }
    if (images->n == 0) {
        uint32_t channels = opts->colour == RFK_IMAGES_GREY        ? 1
                            : opts->colour == RFK_IMAGES_RGB       ? 3
                            : (png.format & PNG_FORMAT_FLAG_COLOR) ? 3
                                                                   : 1;
        if (png.width == 0 || png.height == 0 ||
            (size_t)png.width * png.height * channels > RFK_IMAGES_MAX_IMAGE_BYTES) {
            rfk_model_errf (err, errlen, "%s: %s: %s is %ux%u, too large", zip_path, csv_where,
                            name, png.width, png.height);
            png_image_free (&png);
            return -1;
        }
        images->width = png.width;
        images->height = png.height;
        images->channels = channels;
    } else if (png.width != images->width || png.height != images->height) {
        rfk_model_errf (err, errlen, "%s: %s: %s is %ux%u but the images before it are %ux%u",
                        zip_path, csv_where, name, png.width, png.height, images->width,
                        images->height);
        png_image_free (&png);
        return -1;
    }
    size_t image_bytes = (size_t)images->width * images->height * images->channels;
    if (s_grow (b, image_bytes)) {
        rfk_model_errf (err, errlen, "%s: out of memory after %zu images", zip_path, images->n);
        png_image_free (&png);
        return -1;
    }
    /* A colour image for a grey dataset is read as RGB and turned grey here,
       with the same formula as image queries (libpng's own conversion works
       in linear light and would disagree with them). */
    bool to_grey = images->channels == 1 && (png.format & PNG_FORMAT_FLAG_COLOR);
    uint8_t *dst = images->pixels + images->n * image_bytes;
    uint8_t *rgb = to_grey ? malloc (image_bytes * 3) : NULL;
    if (to_grey && !rgb) {
        rfk_model_errf (err, errlen, "%s: out of memory after %zu images", zip_path, images->n);
        png_image_free (&png);
        return -1;
    }
    png.format = images->channels == 3 || to_grey ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    /* Transparent pixels are composed over black (no background given). */
    if (!png_image_finish_read (&png, NULL, to_grey ? rgb : dst, 0, NULL)) {
        rfk_model_errf (err, errlen, "%s: %s: %s is a corrupt PNG: %s", zip_path, csv_where, name,
                        png.message);
        png_image_free (&png);
        free (rgb);
        return -1;
    }
    for (size_t i = 0; to_grey && i < image_bytes; i++)
        dst[i] = s_luma (rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
    free (rgb);
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
    char *png_data = NULL;
    size_t png_size = 0;
    bool missing = false;
    if (rfk_model_zip_read (zip, path, name, &png_data, &png_size, &missing, err, errlen)) {
        if (missing)
            rfk_model_errf (err, errlen, "%s: %s: image %s is not in the zip", path, where, name);
        return -1;
    }
    int added = s_add_image (b, opts, path, where, name, png_data, png_size, label, err, errlen);
    free (png_data);
    return added;
}

/* Reads images.csv (csv) and the images it lists from zip into b. */
static int
s_read_images (s_builder_t *b, zip_t *zip, rfk_csv_t *csv, const char *path,
               const rfk_images_options_t *opts, char *err, size_t errlen)
{
    int col_path, col_class;
    if (s_read_header (csv, path, &col_path, &col_class, err, errlen) != 0)
        return -1;
    size_t n_columns = csv->n_fields;
    while (opts->max_count == 0 || b->images->n < opts->max_count) {
        int got = rfk_csv_row (csv, n_columns, err, errlen);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        if (s_read_image_row (b, zip, csv, path, opts, col_path, col_class, err, errlen) != 0)
            return -1;
    }
    if (b->images->n == 0) {
        rfk_model_errf (err, errlen, "%s: images.csv lists no images", path);
        return -1;
    }
    return 0;
}

int
rfk_images_load (const char *path, const rfk_images_options_t *opts, rfk_images_t **out, char *err,
                 size_t errlen)
{
    static const rfk_images_options_t dflt = {0, RFK_IMAGES_KEEP};
    if (!opts)
        opts = &dflt;
    *out = NULL;
    char *csv_text = NULL;
    size_t csv_size = 0;
    zip_t *zip = rfk_model_zip_listing (path, "images.csv",
                                        "an image dataset is a zip with images.csv listing "
                                        "path,class and the image files",
                                        &csv_text, &csv_size, err, errlen);
    if (!zip)
        return -1;
    s_builder_t b = {calloc (1, sizeof (rfk_images_t)), 0};
    char csv_name[1024];
    snprintf (csv_name, sizeof csv_name, "%s: images.csv", path);
    rfk_csv_t csv;
    rfk_csv_init (&csv, csv_name, csv_text, csv_size, ',');
    int rc = -1;
    if (!b.images)
        rfk_model_errf (err, errlen, "%s: out of memory", path);
    else if (s_read_images (&b, zip, &csv, path, opts, err, errlen) == 0) {
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
                dst[0] = s_luma (rgb[0], rgb[1], rgb[2]);
            else
                dst[0] = rgb[0];
        }
    }
    return 0;
}
