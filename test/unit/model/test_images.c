/*  test_images.c: image datasets as people have them (rafiki/dataset.h,
    sdk/model/images.c, image_decode.c, images_cache.c): PNG and JPEG, grey
    and colour, of mixed sizes, converted and resized to what the template
    asks for, with the box filter's exact values; hostile files refused with
    the entry named; the per-process cache. Files are made at test time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fixtures.h"
#include "internal.h"
#include "rafiki/dataset.h"
#include "rfk_test.h"

static char *s_dir; /* the test's folder (rfk_test_tmpdir_new) */
static char s_err[512];

static const char *
s_path (const char *name)
{
    static char buf[8][256];
    static int next;
    char *p = buf[next++ % 8];
    snprintf (p, 256, "%s/%s", s_dir, name);
    return p;
}

static void
s_assert_err (const char *fragment1, const char *fragment2)
{
    if (!strstr (s_err, fragment1) || (fragment2 && !strstr (s_err, fragment2)))
        fail_msg ("message '%s' lacks '%s' or '%s'", s_err, fragment1, fragment2 ? fragment2 : "");
}

/* A width x height image of one colour (channels 1 or 3). */
static uint8_t *
s_solid (uint32_t width, uint32_t height, int channels, const uint8_t *colour)
{
    uint8_t *px = malloc ((size_t)width * height * channels);
    for (size_t i = 0; i < (size_t)width * height; i++)
        memcpy (px + i * channels, colour, channels);
    return px;
}

/* A solid JPEG (quality 95) in memory. */
static void *
s_solid_jpeg (uint32_t width, uint32_t height, int channels, const uint8_t *colour, size_t *size)
{
    uint8_t *px = s_solid (width, height, channels, colour);
    void *jpeg = fx_jpeg (width, height, channels, px, 95, false, size);
    free (px);
    return jpeg;
}

/* A solid PNG in memory. */
static void *
s_solid_png (uint32_t width, uint32_t height, int channels, const uint8_t *colour, size_t *size)
{
    uint8_t *px = s_solid (width, height, channels, colour);
    void *png = fx_png (width, height, channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB, px, size);
    free (px);
    return png;
}

static void
s_assert_near (int got, int want, int tolerance)
{
    if (got < want - tolerance || got > want + tolerance)
        fail_msg ("pixel %d, want %d +- %d", got, want, tolerance);
}

/* Writes mixed.zip: a red 40x30 JPEG (class 0), a grey 20x20 JPEG of 128
   (class 1, progressive), a blue 10x16 PNG (class 2), a grey 8x8 PNG of 200
   (class 1), under names that do not tell the format. */
static void
s_mixed_zip (const char *path)
{
    static const uint8_t red[3] = {255, 0, 0}, blue[3] = {0, 0, 255}, g128 = 128, g200 = 200;
    size_t s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    void *a = s_solid_jpeg (40, 30, 3, red, &s1);
    uint8_t *grey = s_solid (20, 20, 1, &g128);
    void *b = fx_jpeg (20, 20, 1, grey, 90, true, &s2);
    void *c = s_solid_png (10, 16, 3, blue, &s3);
    void *d = s_solid_png (8, 8, 1, &g200, &s4);
    fx_entry_t entries[] = {
        {"images.csv", "path,class\nphotos/red.jpg,0\ngrey.JPEG,1\nblue.png,2\nimage4,1\n", 0},
        {"photos/red.jpg", a, s1},
        {"grey.JPEG", b, s2},
        {"blue.png", c, s3},
        {"image4", d, s4}};
    assert_int_equal (fx_write_zip (path, entries, 5), 0);
    free (a);
    free (grey);
    free (b);
    free (c);
    free (d);
}

/* The usage example: a template asks for 16x12 RGB images from a zip of
   JPEGs and PNGs of four sizes, grey and colour. */
static void
test_images_mixed (void **state)
{
    (void)state;
    s_mixed_zip (s_path ("mixed.zip"));
    rfk_images_options_t opts = {.colour = RFK_IMAGES_RGB, .width = 16, .height = 12};
    rfk_images_t *images = NULL;
    if (rfk_images_load (s_path ("mixed.zip"), &opts, &images, s_err, sizeof s_err) != 0)
        fail_msg ("%s", s_err);
    assert_int_equal (images->n, 4);
    assert_int_equal (images->width, 16);
    assert_int_equal (images->height, 12);
    assert_int_equal (images->channels, 3);
    assert_int_equal (images->n_classes, 3);
    assert_int_equal (images->labels[0], 0);
    assert_int_equal (images->labels[3], 1);
    size_t bytes = 16 * 12 * 3;
    const uint8_t *red = images->pixels, *grey = red + bytes, *blue = grey + bytes,
                  *light = blue + bytes;
    for (size_t i = 0; i < 16 * 12; i++) {
        s_assert_near (red[3 * i], 255, 3); /* JPEG is lossy: near, not equal */
        s_assert_near (red[3 * i + 1], 0, 3);
        s_assert_near (grey[3 * i], 128, 2);
        s_assert_near (grey[3 * i + 2], 128, 2);
        assert_int_equal (blue[3 * i], 0); /* PNG is exact */
        assert_int_equal (blue[3 * i + 2], 255);
        assert_int_equal (light[3 * i + 1], 200);
    }
    rfk_images_destroy (&images);

    /* Grey: colour turned to BT.601 luma; the defaults keep the first
       image's size. */
    opts = (rfk_images_options_t){.colour = RFK_IMAGES_GREY};
    assert_int_equal (rfk_images_load (s_path ("mixed.zip"), &opts, &images, s_err, sizeof s_err),
                      0);
    assert_int_equal (images->width, 40);
    assert_int_equal (images->height, 30);
    assert_int_equal (images->channels, 1);
    s_assert_near (images->pixels[0], 76, 3);           /* red */
    s_assert_near (images->pixels[2 * 40 * 30], 29, 1); /* blue: 0.114 * 255 */
    rfk_images_destroy (&images);

    /* NULL options: the first image's size and channels (colour). */
    assert_int_equal (rfk_images_load (s_path ("mixed.zip"), NULL, &images, s_err, sizeof s_err),
                      0);
    assert_int_equal (images->channels, 3);
    assert_int_equal (images->width, 40);
    rfk_images_destroy (&images);
}

/* A grey PNG of the given pixels (lossless, so the filter's values are
   exact). */
static void
s_grey_zip (const char *path, uint32_t width, uint32_t height, const uint8_t *px)
{
    size_t size = 0;
    void *png = fx_png (width, height, PNG_FORMAT_GRAY, px, &size);
    fx_entry_t entries[] = {{"images.csv", "path,class\na.png,0\n", 0}, {"a.png", png, size}};
    assert_int_equal (fx_write_zip (path, entries, 2), 0);
    free (png);
}

static void
s_resized (const char *path, uint32_t width, uint32_t height, const uint8_t *want)
{
    rfk_images_options_t opts = {.width = width, .height = height};
    rfk_images_t *images = NULL;
    if (rfk_images_load (path, &opts, &images, s_err, sizeof s_err) != 0)
        fail_msg ("%s", s_err);
    assert_memory_equal (images->pixels, want, (size_t)width * height);
    rfk_images_destroy (&images);
}

/* The box filter: area averaging when shrinking (also by a fraction),
   nearest neighbour when enlarging by a whole factor. */
static void
test_images_box_filter (void **state)
{
    (void)state;
    const uint8_t px[] = {0, 100, 200, 50, 10, 20, 30, 40};
    s_grey_zip (s_path ("box.zip"), 4, 2, px);
    /* 4x2 -> 2x1: the mean of each 2x2 block (32.5 rounds up). */
    s_resized (s_path ("box.zip"), 2, 1, (const uint8_t[]){33, 80});
    /* 4x2 -> 8x2: every pixel twice. */
    s_resized (s_path ("box.zip"), 8, 2,
               (const uint8_t[]){0, 0, 100, 100, 200, 200, 50, 50, 10, 10, 20, 20, 30, 30, 40, 40});

    /* 3 -> 2: each output covers 1.5 pixels: 2/3 of one, 1/3 of the next. */
    s_grey_zip (s_path ("third.zip"), 3, 1, (const uint8_t[]){0, 90, 180});
    s_resized (s_path ("third.zip"), 2, 1, (const uint8_t[]){30, 150});
}

/* Loads path expecting failure; err must name both fragments. */
static void
s_fails (const char *path, const rfk_images_options_t *opts, const char *fragment1,
         const char *fragment2)
{
    rfk_images_t *images = (rfk_images_t *)1;
    s_err[0] = '\0';
    assert_int_equal (rfk_images_load (path, opts, &images, s_err, sizeof s_err), -1);
    assert_null (images);
    s_assert_err (fragment1, fragment2);
}

/* A zip of a good first image and `name` holding data. */
static void
s_second (const char *path, const char *name, const void *data, size_t size)
{
    static const uint8_t green[3] = {0, 255, 0};
    size_t s1;
    void *good = s_solid_jpeg (8, 8, 3, green, &s1);
    char csv[256];
    snprintf (csv, sizeof csv, "path,class\ngood.jpg,0\n%s,1\n", name);
    fx_entry_t entries[] = {{"images.csv", csv, 0}, {"good.jpg", good, s1}, {name, data, size}};
    /* fx_write_zip takes size 0 as strlen: an empty entry is "" */
    if (size == 0)
        entries[2].data = "";
    assert_int_equal (fx_write_zip (path, entries, 3), 0);
    free (good);
}

/* Returns the offset of the JPEG SOF0 marker's height field. */
static size_t
s_sof_dims (const uint8_t *jpeg, size_t size)
{
    for (size_t i = 2; i + 9 < size; i++)
        if (jpeg[i] == 0xff && jpeg[i + 1] == 0xc0)
            return i + 5;
    fail_msg ("no SOF0 marker");
    return 0;
}

/* Every file is hostile: each bad one is refused, naming the entry and its
   line of images.csv. */
static void
test_images_hostile (void **state)
{
    (void)state;
    const char *p = s_path ("hostile.zip");
    static const uint8_t colour[3] = {10, 200, 30};
    size_t size = 0;
    uint8_t *jpeg = s_solid_jpeg (64, 48, 3, colour, &size);

    /* truncated: libjpeg would paint the rest grey; it is corrupt here */
    s_second (p, "cut.jpg", jpeg, size / 2);
    s_fails (p, NULL, "images.csv line 3: cut.jpg is a corrupt JPEG", NULL);

    /* an end-of-image marker in the middle of the coded data of a noisy
       image (libjpeg warns, and would paint the rest grey) */
    uint8_t noise_px[64 * 48 * 3];
    for (size_t i = 0; i < sizeof noise_px; i++)
        noise_px[i] = (uint8_t)((i * 7919u) >> 3 ^ i);
    size_t noisy_size;
    uint8_t *noisy = fx_jpeg (64, 48, 3, noise_px, 90, false, &noisy_size);
    noisy[noisy_size / 2] = 0xff;
    noisy[noisy_size / 2 + 1] = 0xd9;
    s_second (p, "noise.jpg", noisy, noisy_size);
    s_fails (p, NULL, "noise.jpg is a corrupt JPEG", "line 3");
    free (noisy);
    uint8_t *bad = malloc (size);

    /* dimensions too large, and zero */
    memcpy (bad, jpeg, size);
    size_t at = s_sof_dims (bad, size);
    bad[at] = bad[at + 2] = 0x4e; /* 20000 x 20000 */
    bad[at + 1] = bad[at + 3] = 0x20;
    s_second (p, "huge.jpg", bad, size);
    s_fails (p, NULL, "huge.jpg is a JPEG of 20000x20000 pixels, too large", NULL);
    bad[at] = bad[at + 1] = 0; /* height 0 */
    s_second (p, "flat.jpg", bad, size);
    s_fails (p, NULL, "flat.jpg", "line 3");
    free (bad);

    /* CMYK: refused by name */
    uint8_t *cmyk = calloc (8 * 8, 4);
    size_t scmyk;
    void *cmyk_jpeg = fx_jpeg (8, 8, 4, cmyk, 90, false, &scmyk);
    s_second (p, "print.jpg", cmyk_jpeg, scmyk);
    s_fails (p, NULL, "print.jpg is a CMYK JPEG", NULL);
    free (cmyk);
    free (cmyk_jpeg);

    /* empty, another format, a PNG signature with garbage after it */
    s_second (p, "empty.jpg", "", 0);
    s_fails (p, NULL, "empty.jpg is empty (0 bytes)", "line 3");
    s_second (p, "anim.gif", "GIF89a\x01\x00\x01\x00", 10);
    s_fails (p, NULL, "anim.gif is neither a PNG nor a JPEG", NULL);
    s_second (p, "fake.png", "\x89PNG\r\n\x1a\nrubbish-rubbish", 23);
    s_fails (p, NULL, "fake.png is not a valid PNG", NULL);

    /* options out of range */
    s_second (p, "ok.jpg", jpeg, size);
    s_fails (p, &(rfk_images_options_t){.width = 20000, .height = 20000}, "hostile.zip",
             "asks for 20000x20000");
    s_fails (p, &(rfk_images_options_t){.width = 32}, "asks for 32x0", NULL);
    rfk_images_t *images = NULL;
    assert_int_equal (rfk_images_load (p, NULL, &images, s_err, sizeof s_err), 0);
    assert_int_equal (images->n, 2);
    rfk_images_destroy (&images);
    free (jpeg);

    /* A photo too large to keep at its own size (3000x2000 RGB, 18 MB an
       image) loads when the template asks for a size. */
    size_t sbig = 0;
    void *big = s_solid_png (3000, 2000, 3, colour, &sbig);
    fx_entry_t entries[] = {{"images.csv", "path,class\nbig.png,0\n", 0}, {"big.png", big, sbig}};
    assert_int_equal (fx_write_zip (p, entries, 2), 0);
    free (big);
    s_fails (p, NULL, "big.png is 3000x2000, too large to keep", "image_size");
    rfk_images_options_t small = {.width = 30, .height = 20};
    assert_int_equal (rfk_images_load (p, &small, &images, s_err, sizeof s_err), 0);
    assert_int_equal (images->pixels[3 * 599 + 1], 200);
    rfk_images_destroy (&images);
}

/* The second load of a dataset comes from the cache; a changed file or
   other options do not. */
static void
test_images_cache (void **state)
{
    (void)state;
    rfk_images_cache_clear ();
    const char *p = s_path ("cached.zip");
    s_grey_zip (p, 4, 2, (const uint8_t[]){1, 2, 3, 4, 5, 6, 7, 8});
    rfk_images_t *first = NULL, *second = NULL;
    size_t hits = rfk_images_cache_hits ();
    /* The first load is only noted (a trial reads each dataset once), the
       second is kept, the third is a hit. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal (rfk_images_load (p, NULL, &first, s_err, sizeof s_err), 0);
        if (i == 0)
            rfk_images_destroy (&first);
    }
    assert_int_equal (rfk_images_cache_hits (), hits);
    assert_int_equal (rfk_images_load (p, NULL, &second, s_err, sizeof s_err), 0);
    assert_int_equal (rfk_images_cache_hits (), hits + 1);
    assert_int_equal (second->width, 4);
    assert_memory_equal (first->pixels, second->pixels, 8);
    assert_ptr_not_equal (first->pixels, second->pixels); /* a copy, the caller's own */
    rfk_images_destroy (&second);

    /* other options: decoded again */
    rfk_images_options_t half = {.width = 2, .height = 1};
    assert_int_equal (rfk_images_load (p, &half, &second, s_err, sizeof s_err), 0);
    assert_int_equal (rfk_images_cache_hits (), hits + 1);
    rfk_images_destroy (&second);

    /* the same path, same size, other pixels: not the cached ones */
    s_grey_zip (p, 4, 2, (const uint8_t[]){9, 2, 3, 4, 5, 6, 7, 8});
    assert_int_equal (rfk_images_load (p, NULL, &second, s_err, sizeof s_err), 0);
    assert_int_equal (second->pixels[0], 9);
    rfk_images_destroy (&second);
    rfk_images_destroy (&first);

    /* RAFIKI_IMAGES_CACHE_MB=0 turns it off */
    rfk_images_cache_clear ();
    setenv ("RAFIKI_IMAGES_CACHE_MB", "0", 1);
    hits = rfk_images_cache_hits ();
    for (int i = 0; i < 3; i++) {
        assert_int_equal (rfk_images_load (p, NULL, &first, s_err, sizeof s_err), 0);
        rfk_images_destroy (&first);
    }
    assert_int_equal (rfk_images_cache_hits (), hits);
    unsetenv ("RAFIKI_IMAGES_CACHE_MB");
    rfk_images_cache_clear ();
}

static int
s_setup (void **state)
{
    (void)state;
    s_dir = rfk_test_tmpdir_new ("rfk-images");
    return s_dir ? 0 : -1;
}

static int
s_teardown (void **state)
{
    (void)state;
    return rfk_test_tmpdir_destroy (&s_dir);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_images_mixed),
        cmocka_unit_test (test_images_box_filter),
        cmocka_unit_test (test_images_hostile),
        cmocka_unit_test (test_images_cache),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
