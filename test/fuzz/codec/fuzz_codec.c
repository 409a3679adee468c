/*  fuzz_codec.c: the libFuzzer target of one message family's codec.

    Each input is a frame from a hostile peer: decode it (capped at 1 MB) and,
    when it decodes, encode the message again and decode that: it must
    re-encode, and the second decode must give the same message. Anything
    else (a crash, a sanitizer report, an abort here) is a bug.

    Built with FUZZ_FAMILY set to the family (e.g. rfk_admin_family): with
    -fsanitize=fuzzer in the clang build (fuzz_init.c's LLVMFuzzerInitialize
    then writes the seed corpus into the corpus directory and adds
    -max_total_time from RAFIKI_FUZZ_SECONDS), or with standalone.c
    otherwise.
*/
#include "fuzz_codec.h"
#include "codec_samples.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_FAMILY
#error "FUZZ_FAMILY must name a family, e.g. -DFUZZ_FAMILY=rfk_admin_family"
#endif

#define FUZZ_MAX_SIZE (1024 * 1024)

static size_t s_decoded;

//  Stop here on a broken property, so that the fuzzer reports the input.
static void
s_bug (const char *what, const rfk_msg_t *msg, const char *detail)
{
    fprintf (stderr, "fuzz_codec %s: %s (%s) %s\n", FUZZ_FAMILY.name, what,
             msg && msg->type ? msg->type : "-", detail ? detail : "");
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const rfk_family_t *family = &FUZZ_FAMILY;
    zframe_t *frame = zframe_new (data, size);
    rfk_msg_t *msg = NULL;
    int rc = family->decode (frame, FUZZ_MAX_SIZE, &msg);
    zframe_destroy (&frame);
    if (rc != 0) {
        if ((rc != -1 && rc != -2) || msg)
            s_bug ("decode failed without -1/-2 or left a message", NULL, NULL);
        return 0;
    }
    s_decoded++;
    if (!msg || !msg->body || !msg->type || msg->family != family)
        s_bug ("decoded message is incomplete", msg, NULL);

    char err[256] = "";
    zframe_t *again = NULL;
    if (rfk_msg_encode (msg, &again, err, sizeof err))
        s_bug ("a decoded message does not re-encode", msg, err);
    rfk_msg_t *back = NULL;
    if (family->decode (again, SIZE_MAX, &back))
        s_bug ("a re-encoded message does not decode", msg, NULL);
    if (back->kind != msg->kind || !streq (back->type, msg->type) ||
        back->correlation != msg->correlation)
        s_bug ("the second decode has another type or correlation", msg, NULL);
    if ((back->token == NULL) != (msg->token == NULL) ||
        (back->token && !streq (back->token, msg->token)))
        s_bug ("the second decode has another token", msg, NULL);
    if (!json_equal (back->body, msg->body)) {
        char *a = json_dumps (msg->body, JSON_SORT_KEYS);
        char *b = json_dumps (back->body, JSON_SORT_KEYS);
        fprintf (stderr, "first:  %s\nsecond: %s\n", a, b);
        s_bug ("the second decode has another body", msg, NULL);
    }
    if ((back->data == NULL) != (msg->data == NULL) ||
        (back->data &&
         (zchunk_size (back->data) != zchunk_size (msg->data) ||
          memcmp (zchunk_data (back->data), zchunk_data (msg->data), zchunk_size (msg->data)))))
        s_bug ("the second decode has other data", msg, NULL);
    zframe_destroy (&again);
    rfk_msg_destroy (&back);
    rfk_msg_destroy (&msg);
    return 0;
}

const char *
fuzz_codec_family (void)
{
    return FUZZ_FAMILY.name;
}

size_t
fuzz_codec_decoded (void)
{
    return s_decoded;
}

size_t
fuzz_codec_seeds (void (*fn) (const uint8_t *data, size_t size, void *arg), void *arg)
{
    size_t count = 0;
    char err[256];
    for (const codec_sample_t *s = codec_samples; s->family; s++) {
        if (s->family != &FUZZ_FAMILY)
            continue;
        rfk_msg_t *msg = codec_sample_msg (s, 1 + count, err, sizeof err);
        if (!msg)
            s_bug ("a sample does not fit its message", NULL, err);
        if (count % 2)
            rfk_msg_set_token (msg, "eyJhbGciOiJIUzI1NiJ9.e30.x");
        zframe_t *frame = NULL;
        if (rfk_msg_encode (msg, &frame, err, sizeof err))
            s_bug ("a sample does not encode", msg, err);
        fn (zframe_data (frame), zframe_size (frame), arg);
        zframe_destroy (&frame);
        rfk_msg_destroy (&msg);
        count++;
    }
    return count;
}
