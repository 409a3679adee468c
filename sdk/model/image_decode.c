/*  image_decode.c: one image file (PNG or JPEG, told apart by their first
    bytes) decoded into 8-bit grey or RGB pixels, and the resize filter the
    IMAGE_CLASSIFICATION loader applies.

    Every file is treated as hostile: a side over RFK_IMAGE_MAX_SIDE or a
    decoded size over RFK_IMAGE_MAX_BYTES is refused before any pixel is
    decoded, a JPEG with more than S_JPEG_MAX_SCANS progressive scans (each
    one a full pass over the image: a known denial of service) is refused,
    and any warning of libjpeg (truncated data, a bad Huffman code, which it
    would otherwise paint over in grey) makes the file corrupt.

    PNGs are decoded by libpng's simplified API (any bit depth, palette or
    alpha; transparent pixels composed over black). JPEGs by libjpeg-turbo's
    libjpeg API: grey and YCbCr/RGB JPEGs; CMYK and YCCK ones are refused
    (libjpeg cannot turn them into RGB). Colour is turned grey with ITU-R
    BT.601 luma on the stored values, as PIL's convert ('L') and the image
    query reader do. */
#include "internal.h"

#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Progressive JPEG scans allowed (libjpeg-turbo's TurboJPEG API uses 500). */
#define S_JPEG_MAX_SCANS 500

uint8_t
rfk_image_luma (uint8_t r, uint8_t g, uint8_t b)
{
    return (uint8_t)((r * 299u + g * 587u + b * 114u + 500u) / 1000u);
}

/* Checks a header's dimensions against the caps before decoding. */
static int
s_check_size (const char *what, uint32_t width, uint32_t height, uint32_t channels, char *err,
              size_t errlen)
{
    if (width == 0 || height == 0) {
        rfk_model_errf (err, errlen, "is a %s of %ux%u pixels (zero size)", what, width, height);
        return -1;
    }
    if (width > RFK_IMAGE_MAX_SIDE || height > RFK_IMAGE_MAX_SIDE ||
        (uint64_t)width * height * channels > RFK_IMAGE_MAX_BYTES) {
        rfk_model_errf (err, errlen,
                        "is a %s of %ux%u pixels, too large (at most %u per side and %zu MiB "
                        "decoded)",
                        what, width, height, RFK_IMAGE_MAX_SIDE, RFK_IMAGE_MAX_BYTES >> 20);
        return -1;
    }
    return 0;
}

/* ---- PNG ------------------------------------------------------------- */

static int
s_decode_png (const void *data, size_t size, rfk_image_t *out, char *err, size_t errlen)
{
    png_image png;
    memset (&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory (&png, data, size)) {
        rfk_model_errf (err, errlen, "is not a valid PNG: %s", png.message);
        png_image_free (&png);
        return -1;
    }
    uint32_t channels = (png.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
    if (s_check_size ("PNG", png.width, png.height, channels, err, errlen) != 0) {
        png_image_free (&png);
        return -1;
    }
    uint8_t *pixels = malloc ((size_t)png.width * png.height * channels);
    if (!pixels) {
        rfk_model_errf (err, errlen, "out of memory decoding a %ux%u PNG", png.width, png.height);
        png_image_free (&png);
        return -1;
    }
    png.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    if (!png_image_finish_read (&png, NULL, pixels, 0, NULL)) {
        rfk_model_errf (err, errlen, "is a corrupt PNG: %s", png.message);
        png_image_free (&png);
        free (pixels);
        return -1;
    }
    *out = (rfk_image_t){png.width, png.height, channels, pixels};
    return 0;
}

/* ---- JPEG ------------------------------------------------------------ */

/* libjpeg's error manager, extended with a way out. */
typedef struct {
    struct jpeg_error_mgr pub;         /* libjpeg's own; must come first */
    struct jpeg_progress_mgr progress; /* counts progressive scans */
    jmp_buf jump;                      /* where an error or warning returns to */
    char message[JMSG_LENGTH_MAX];     /* what libjpeg said */
} s_jpeg_errors_t;

static void
s_jpeg_error_exit (j_common_ptr cinfo)
{
    s_jpeg_errors_t *errors = (s_jpeg_errors_t *)cinfo->err;
    (*cinfo->err->format_message) (cinfo, errors->message);
    longjmp (errors->jump, 1);
}

/* A warning (level -1) means damaged data: stop there. Trace messages
   (level >= 0) are ignored. */
static void
s_jpeg_emit_message (j_common_ptr cinfo, int level)
{
    if (level < 0)
        s_jpeg_error_exit (cinfo);
}

static void
s_jpeg_progress (j_common_ptr cinfo)
{
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > S_JPEG_MAX_SCANS) {
        s_jpeg_errors_t *errors = (s_jpeg_errors_t *)cinfo->err;
        snprintf (errors->message, sizeof errors->message,
                  "more than %d progressive scans (refused)", S_JPEG_MAX_SCANS);
        longjmp (errors->jump, 1);
    }
}

/* Reads the header and chooses the output colour space; -1 with a message. */
static int
s_jpeg_header (struct jpeg_decompress_struct *cinfo, uint32_t *channels, char *err, size_t errlen)
{
    jpeg_read_header (cinfo, TRUE);
    if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK) {
        rfk_model_errf (err, errlen, "is a CMYK JPEG, not supported (save it as RGB or grey)");
        return -1;
    }
    *channels = cinfo->num_components == 1 ? 1 : 3;
    cinfo->out_color_space = *channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    return s_check_size ("JPEG", cinfo->image_width, cinfo->image_height, *channels, err, errlen);
}

static int
s_decode_jpeg (const void *data, size_t size, rfk_image_t *out, char *err, size_t errlen)
{
    struct jpeg_decompress_struct cinfo;
    s_jpeg_errors_t errors;
    memset (&errors, 0, sizeof errors);
    cinfo.err = jpeg_std_error (&errors.pub);
    errors.pub.error_exit = s_jpeg_error_exit;
    errors.pub.emit_message = s_jpeg_emit_message;
    errors.progress.progress_monitor = s_jpeg_progress;
    /* Changed between setjmp and longjmp, so volatile. */
    uint8_t *volatile pixels = NULL;
    if (setjmp (errors.jump)) {
        rfk_model_errf (err, errlen, "is a corrupt JPEG: %s", errors.message);
        jpeg_destroy_decompress (&cinfo);
        free (pixels);
        return -1;
    }
    jpeg_create_decompress (&cinfo);
    cinfo.progress = &errors.progress;
    jpeg_mem_src (&cinfo, (const unsigned char *)data, (unsigned long)size);
    uint32_t channels;
    if (s_jpeg_header (&cinfo, &channels, err, errlen) != 0) {
        jpeg_destroy_decompress (&cinfo);
        return -1;
    }
    size_t stride = (size_t)cinfo.image_width * channels;
    pixels = malloc (stride * cinfo.image_height);
    if (!pixels) {
        rfk_model_errf (err, errlen, "out of memory decoding a %ux%u JPEG", cinfo.image_width,
                        cinfo.image_height);
        jpeg_destroy_decompress (&cinfo);
        return -1;
    }
    jpeg_start_decompress (&cinfo);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines (&cinfo, &row, 1);
    }
    jpeg_finish_decompress (&cinfo);
    *out = (rfk_image_t){cinfo.output_width, cinfo.output_height, channels, pixels};
    jpeg_destroy_decompress (&cinfo);
    return 0;
}

/* ---- the format, and conversions ------------------------------------- */

/* Turns image's pixels into `channels` channels (1 or 3), in place. */
static int
s_convert_channels (rfk_image_t *image, uint32_t channels, char *err, size_t errlen)
{
    if (channels == 0 || channels == image->channels)
        return 0;
    size_t n = (size_t)image->width * image->height;
    uint8_t *px = malloc (n * channels);
    if (!px) {
        rfk_model_errf (err, errlen, "out of memory converting a %ux%u image", image->width,
                        image->height);
        return -1;
    }
    const uint8_t *src = image->pixels;
    for (size_t i = 0; i < n; i++)
        if (channels == 1)
            px[i] = rfk_image_luma (src[3 * i], src[3 * i + 1], src[3 * i + 2]);
        else
            px[3 * i] = px[3 * i + 1] = px[3 * i + 2] = src[i];
    free (image->pixels);
    image->pixels = px;
    image->channels = channels;
    return 0;
}

int
rfk_image_decode (const void *data, size_t size, uint32_t channels, rfk_image_t *out, char *err,
                  size_t errlen)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const uint8_t jpeg_magic[3] = {0xff, 0xd8, 0xff};
    memset (out, 0, sizeof *out);
    int rc;
    if (size == 0) {
        rfk_model_errf (err, errlen, "is empty (0 bytes)");
        return -1;
    } else if (size >= sizeof png_magic && memcmp (data, png_magic, sizeof png_magic) == 0)
        rc = s_decode_png (data, size, out, err, errlen);
    else if (size >= sizeof jpeg_magic && memcmp (data, jpeg_magic, sizeof jpeg_magic) == 0)
        rc = s_decode_jpeg (data, size, out, err, errlen);
    else {
        rfk_model_errf (err, errlen, "is neither a PNG nor a JPEG (unsupported format)");
        return -1;
    }
    if (rc == 0 && s_convert_channels (out, channels, err, errlen) != 0)
        rc = -1;
    if (rc != 0)
        rfk_image_fini (out);
    return rc;
}

void
rfk_image_fini (rfk_image_t *image)
{
    free (image->pixels);
    memset (image, 0, sizeof *image);
}

/* ---- resizing -------------------------------------------------------- */

/* One output pixel's source span along an axis: pixels first .. first+n-1
   with weights w[0..n-1] (summing to 1). */
typedef struct {
    uint32_t first; /* the first source pixel */
    uint32_t n;     /* how many source pixels */
    float *w;       /* their weights */
} s_span_t;

/* The box filter's spans for an axis from src to dst pixels: output pixel i
   covers [i * src / dst, (i + 1) * src / dst) of the source; each source
   pixel weighs as much of it as lies inside. */
static s_span_t *
s_spans (uint32_t src, uint32_t dst, float **weights)
{
    double scale = (double)src / dst;
    uint32_t max_n = (uint32_t)scale + 2;
    s_span_t *spans = calloc (dst, sizeof *spans);
    *weights = calloc ((size_t)dst * max_n, sizeof (float));
    if (!spans || !*weights) {
        free (spans);
        free (*weights);
        return NULL;
    }
    for (uint32_t i = 0; i < dst; i++) {
        double lo = i * scale, hi = (i + 1) * scale;
        uint32_t first = (uint32_t)lo;
        s_span_t *s = &spans[i];
        s->first = first;
        s->w = *weights + (size_t)i * max_n;
        for (uint32_t j = first; j < src && j < hi && s->n < max_n; j++) {
            double a = j > lo ? j : lo, b = j + 1 < hi ? j + 1 : hi;
            s->w[s->n++] = (float)((b - a) / scale);
        }
    }
    return spans;
}

/* Resamples source row y horizontally into acc (width * c), adding it with
   weight w. */
static void
s_add_row (const rfk_image_t *src, uint32_t y, const s_span_t *sx, uint32_t width, float w,
           float *acc)
{
    uint32_t c = src->channels;
    const uint8_t *row = src->pixels + (size_t)y * src->width * c;
    for (uint32_t x = 0; x < width; x++)
        for (uint32_t k = 0; k < c; k++) {
            const uint8_t *p = row + (size_t)sx[x].first * c + k;
            float sum = 0;
            for (uint32_t j = 0; j < sx[x].n; j++)
                sum += sx[x].w[j] * p[(size_t)j * c];
            acc[(size_t)x * c + k] += w * sum;
        }
}

int
rfk_image_resize (const rfk_image_t *src, uint32_t width, uint32_t height, uint8_t *dst)
{
    uint32_t c = src->channels;
    if (width == src->width && height == src->height) {
        memcpy (dst, src->pixels, (size_t)width * height * c);
        return 0;
    }
    float *wx_mem = NULL, *wy_mem = NULL;
    s_span_t *sx = s_spans (src->width, width, &wx_mem);
    s_span_t *sy = s_spans (src->height, height, &wy_mem);
    /* One output row at a time (memory: one row of floats): the source rows
       it covers, each resampled across, weighted down. */
    float *acc = malloc ((size_t)width * c * sizeof (float));
    int rc = sx && sy && acc ? 0 : -1;
    for (uint32_t y = 0; rc == 0 && y < height; y++) {
        memset (acc, 0, (size_t)width * c * sizeof (float));
        for (uint32_t j = 0; j < sy[y].n; j++)
            s_add_row (src, sy[y].first + j, sx, width, sy[y].w[j], acc);
        uint8_t *out = dst + (size_t)y * width * c;
        for (size_t i = 0; i < (size_t)width * c; i++)
            out[i] = (uint8_t)(acc[i] < 0 ? 0 : acc[i] > 255 ? 255 : acc[i] + 0.5f);
    }
    free (acc);
    free (sx);
    free (sy);
    free (wx_mem);
    free (wy_mem);
    return rc;
}
