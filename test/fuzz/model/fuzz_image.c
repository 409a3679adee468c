/*  fuzz_image.c: the libFuzzer target of the image decoder
    (sdk/model/image_decode.c).

    Each input is one file inside an uploaded image dataset: a PNG, a JPEG,
    or anything else. The decoder must answer 0 or -1 with a message,
    without reading past the input (ASan) or leaking; an image it accepts
    must have a size within the caps and 1 or 3 channels, and must resize
    (box filter) to a small and a larger size. Every input is decoded three
    ways: with its own channels, as grey, as RGB.

    Seeds (made at run time): small grey and colour JPEGs, baseline and
    progressive, and grey, RGB, grey+alpha and RGBA PNGs.

    Built with fuzz_init.c and -fsanitize=fuzzer in the clang build, with
    standalone.c otherwise (test/fuzz/codec/ holds both drivers).
*/
#include "fuzz_codec.h"
#include "internal.h"

#include "../../unit/model/fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t s_decoded;

static void
s_bug (const char *what)
{
    fprintf (stderr, "fuzz_image: %s\n", what);
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    for (uint32_t channels = 0; channels <= 3; channels += channels ? 2 : 1) {
        rfk_image_t image;
        char err[256];
        err[0] = '\0';
        if (rfk_image_decode (data, size, channels, &image, err, sizeof err) != 0) {
            if (!err[0] || image.pixels)
                s_bug ("refused without a message, or kept pixels");
            continue;
        }
        s_decoded++;
        if (image.width == 0 || image.height == 0 || image.width > RFK_IMAGE_MAX_SIDE ||
            image.height > RFK_IMAGE_MAX_SIDE || (channels && image.channels != channels) ||
            (image.channels != 1 && image.channels != 3))
            s_bug ("accepted an image out of bounds");
        uint8_t small[7 * 5 * 3], large[33 * 17 * 3];
        if (rfk_image_resize (&image, 7, 5, small) != 0 ||
            rfk_image_resize (&image, 33, 17, large) != 0)
            s_bug ("resize failed");
        rfk_image_fini (&image);
    }
    return 0;
}

const char *
fuzz_codec_family (void)
{
    return "image decoder";
}

size_t
fuzz_codec_seeds (void (*fn) (const uint8_t *data, size_t size, void *arg), void *arg)
{
    uint8_t px[16 * 12 * 4];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 37 + (i >> 4));
    size_t count = 0, size;
    for (int components = 1; components <= 3; components += 2)
        for (int progressive = 0; progressive <= 1; progressive++) {
            void *jpeg = fx_jpeg (16, 12, components, px, 75, progressive, &size);
            fn (jpeg, size, arg);
            free (jpeg);
            count++;
        }
    const uint32_t formats[] = {PNG_FORMAT_GRAY, PNG_FORMAT_RGB, PNG_FORMAT_GA, PNG_FORMAT_RGBA};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        void *png = fx_png (16, 12, formats[i], px, &size);
        fn (png, size, arg);
        free (png);
        count++;
    }
    return count;
}

size_t
fuzz_codec_decoded (void)
{
    return s_decoded;
}
