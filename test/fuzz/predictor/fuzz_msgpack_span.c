/*  fuzz_msgpack_span.c: the libFuzzer target of the msgpack span walker
    (actors/predictor/rfk_msgpack_span.c).

    Each input is what an HTTP client, an SDK caller or an inference worker
    may send as a msgpack array of queries or predictions. The walker must
    answer without reading past the input (ASan) and, where it accepts the
    bytes, agree with msgpack-c: the object it skipped is the one msgpack-c
    unpacks, ending at the same byte; the element spans of an accepted array
    tile it exactly and each unpacks whole. msgpack-c is only asked about
    bytes the walker accepted (those bound every count by the input's size;
    a forged array32 header would otherwise have it allocate gigabytes),
    and may refuse them only for nesting past its own stack
    (MSGPACK_UNPACK_NOMEM_ERROR). Anything else is a bug: abort.

    Built with fuzz_init.c and -fsanitize=fuzzer in the clang build, with
    standalone.c otherwise (test/fuzz/codec/ holds both drivers).
*/
#include "fuzz_codec.h"
#include "rfk_msgpack_span.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t s_accepted;

static void
s_bug (const char *what)
{
    fprintf (stderr, "fuzz_msgpack_span: %s\n", what);
    abort ();
}

/*  msgpack-c must unpack bytes [0, size) as one object ending at size. */
static void
s_agree (const uint8_t *data, size_t size, const char *what)
{
    msgpack_unpacked object;
    msgpack_unpacked_init (&object);
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack_next (&object, (const char *)data, size, &off);
    msgpack_unpacked_destroy (&object);
    if (rc == MSGPACK_UNPACK_NOMEM_ERROR)
        return; /* deeper than msgpack-c's stack: the walker allows more */
    if (rc != MSGPACK_UNPACK_SUCCESS || off != size)
        s_bug (what);
}

/*  The elements of an accepted array. */
static void
s_check_elements (const uint8_t *data, size_t size, const size_t *offsets, size_t count)
{
    if (offsets[count] != size || (count && offsets[0] == 0))
        s_bug ("the element spans do not end at the end of the array");
    for (size_t i = 0; i < count; i++) {
        if (offsets[i] >= offsets[i + 1])
            s_bug ("an element span is empty or out of order");
        size_t span = offsets[i + 1] - offsets[i];
        size_t off = 0;
        if (rfk_msgpack_span_skip (data + offsets[i], span, &off) != 0 || off != span)
            s_bug ("an element span does not skip as one object");
        s_agree (data + offsets[i], span, "msgpack-c reads an element span otherwise");
        rfk_msgpack_span_is_error (data + offsets[i], span);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    size_t off = 0;
    int skipped = rfk_msgpack_span_skip (data, size, &off);
    if (skipped == 0 && (off == 0 || off > size))
        s_bug ("skip accepted an object with no bytes or past the end");
    if (skipped != 0 && off != 0)
        s_bug ("a refused skip moved the offset");
    if (skipped == 0)
        s_agree (data, off, "msgpack-c reads the skipped object otherwise");
    size_t count = 0;
    size_t *offsets = rfk_msgpack_span_elements (data, size, SIZE_MAX, &count);
    if (offsets) {
        s_accepted++;
        if (skipped != 0 || off != size)
            s_bug ("an accepted array does not skip as one object");
        s_check_elements (data, size, offsets, count);
        size_t *again = rfk_msgpack_span_elements (data, size, count + 1, NULL);
        if (again)
            s_bug ("an array was accepted with another element count");
        free (offsets);
    }
    rfk_msgpack_span_is_error (data, size);
    return 0;
}

const char *
fuzz_codec_family (void)
{
    return "msgpack_span";
}

size_t
fuzz_codec_decoded (void)
{
    return s_accepted;
}

/*  Packs one seed: an array of queries or predictions of every kind. */
static void
s_seed_pack (msgpack_packer *pk, int which)
{
    static const char bytes[] = {0, 1, 2, (char)0xff};
    static const char *tags[] = {"DET", "NOUN", "VERB"};
    switch (which) {
        case 0: /* a query of numbers, a probability vector */
            msgpack_pack_array (pk, 2);
            msgpack_pack_array (pk, 4);
            for (int i = 0; i < 4; i++)
                msgpack_pack_double (pk, 0.25 * i);
            msgpack_pack_array (pk, 3);
            msgpack_pack_float (pk, 0.5f);
            msgpack_pack_uint64 (pk, UINT64_MAX);
            msgpack_pack_int64 (pk, INT64_MIN);
            break;
        case 1: /* maps, strings, nil, booleans, binary */
            msgpack_pack_array (pk, 3);
            msgpack_pack_map (pk, 2);
            msgpack_pack_str_with_body (pk, "text", 4);
            msgpack_pack_str_with_body (pk, "a longer string of forty bytes or so....", 40);
            msgpack_pack_str_with_body (pk, "flags", 5);
            msgpack_pack_array (pk, 3);
            msgpack_pack_nil (pk);
            msgpack_pack_true (pk);
            msgpack_pack_false (pk);
            msgpack_pack_bin_with_body (pk, bytes, sizeof bytes);
            msgpack_pack_int8 (pk, -5);
            break;
        case 2: /* per-query errors (fixext and ext8) and tags */
            msgpack_pack_array (pk, 3);
            msgpack_pack_ext_with_body (pk, "x", 1, RFK_MSGPACK_EXT_ERROR);
            msgpack_pack_ext_with_body (pk, "the model failed", 16, RFK_MSGPACK_EXT_ERROR);
            msgpack_pack_array (pk, 3);
            for (int i = 0; i < 3; i++)
                msgpack_pack_str_with_body (pk, tags[i], strlen (tags[i]));
            break;
        default: /* array16 of small ints, nested arrays */
            msgpack_pack_array (pk, 20);
            for (int i = 0; i < 18; i++)
                msgpack_pack_int (pk, i * 1000);
            for (int d = 0; d < 8; d++)
                msgpack_pack_array (pk, 1);
            msgpack_pack_nil (pk);
            msgpack_pack_array (pk, 0);
            break;
    }
}

size_t
fuzz_codec_seeds (void (*fn) (const uint8_t *data, size_t size, void *arg), void *arg)
{
    size_t count = 0;
    for (int which = 0; which < 4; which++) {
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
        s_seed_pack (&pk, which);
        size_t *offsets = rfk_msgpack_span_elements (buffer.data, buffer.size, SIZE_MAX, NULL);
        if (!offsets)
            s_bug ("a seed is refused");
        free (offsets);
        fn ((const uint8_t *)buffer.data, buffer.size, arg);
        msgpack_sbuffer_destroy (&buffer);
        count++;
    }
    return count;
}
