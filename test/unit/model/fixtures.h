/*  fixtures.h: small dataset files made at test time for the rfk_model
    tests: PNGs written with libpng, JPEGs with libjpeg, zips with libzip,
    text files. */
#ifndef RFK_TEST_MODEL_FIXTURES_H_INCLUDED
#define RFK_TEST_MODEL_FIXTURES_H_INCLUDED

#include <png.h>
#include <jpeglib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

/* One file of a zip to write. */
typedef struct {
    const char *name;
    const void *data;
    size_t size; /* 0: strlen (data) */
} fx_entry_t;

/* Writes a zip holding the entries; 0 or -1. */
static inline int
fx_write_zip (const char *path, const fx_entry_t *entries, size_t n)
{
    int code;
    unlink (path);
    zip_t *zip = zip_open (path, ZIP_CREATE | ZIP_TRUNCATE, &code);
    if (!zip)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t size = entries[i].size ? entries[i].size : strlen (entries[i].data);
        void *copy = size ? malloc (size) : NULL;
        if (copy)
            memcpy (copy, entries[i].data, size);
        zip_source_t *src = zip_source_buffer (zip, copy, size, 1);
        if (!src || zip_file_add (zip, entries[i].name, src, ZIP_FL_OVERWRITE) < 0) {
            zip_source_free (src);
            zip_discard (zip);
            return -1;
        }
    }
    return zip_close (zip) == 0 ? 0 : -1;
}

/* Encodes a PNG (format PNG_FORMAT_GRAY, _RGB, _RGBA, ...) into memory;
   returns a malloc'd buffer and its size. */
static inline void *
fx_png (uint32_t width, uint32_t height, uint32_t format, const uint8_t *pixels, size_t *size)
{
    png_image png;
    memset (&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    png.width = width;
    png.height = height;
    png.format = format;
    png_alloc_size_t len = 0;
    if (!png_image_write_to_memory (&png, NULL, &len, 0, pixels, 0, NULL))
        return NULL;
    void *buf = malloc (len);
    if (!png_image_write_to_memory (&png, buf, &len, 0, pixels, 0, NULL)) {
        free (buf);
        return NULL;
    }
    *size = len;
    return buf;
}

/* Encodes a JPEG (components 1: grey, 3: RGB, 4: CMYK) of the given quality
   into memory, progressive if asked; returns a malloc'd buffer and its
   size. */
static inline void *
fx_jpeg (uint32_t width, uint32_t height, int components, const uint8_t *pixels, int quality,
         bool progressive, size_t *size)
{
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error (&jerr);
    jpeg_create_compress (&cinfo);
    unsigned char *buf = NULL;
    unsigned long len = 0;
    jpeg_mem_dest (&cinfo, &buf, &len);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = components;
    cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults (&cinfo);
    jpeg_set_quality (&cinfo, quality, TRUE);
    if (progressive)
        jpeg_simple_progression (&cinfo);
    jpeg_start_compress (&cinfo, TRUE);
    while (cinfo.next_scanline < height) {
        JSAMPROW row = (JSAMPROW)pixels + (size_t)cinfo.next_scanline * width * components;
        jpeg_write_scanlines (&cinfo, &row, 1);
    }
    jpeg_finish_compress (&cinfo);
    jpeg_destroy_compress (&cinfo);
    *size = len;
    return buf;
}

/* Writes text to a file; 0 or -1. */
static inline int
fx_write_text (const char *path, const char *text)
{
    FILE *f = fopen (path, "wb");
    if (!f)
        return -1;
    size_t len = strlen (text);
    int rc = fwrite (text, 1, len, f) == len ? 0 : -1;
    return fclose (f) == 0 ? rc : -1;
}

#endif
