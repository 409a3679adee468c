/*  fuzz_codec.h: what a fuzz target gives the two drivers, standalone.c
    (the gcc build) and fuzz_init.c (libFuzzer's initialisation). The codec
    targets are fuzz_codec.c built with FUZZ_FAMILY naming one family
    (rfk_admin_family, ...); other targets (test/fuzz/predictor) implement
    the same four functions. */
#ifndef FUZZ_CODEC_H_INCLUDED
#define FUZZ_CODEC_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerInitialize (int *argc, char ***argv);

/* The family's (or target's) name, for reports. */
const char *
fuzz_codec_family (void);
/* The seed corpus, made at run time (for a codec: valid envelopes of every
   message type of the family, from the codec samples). Calls fn for each;
   returns the count. */
size_t
fuzz_codec_seeds (void (*fn) (const uint8_t *data, size_t size, void *arg), void *arg);
/* How many inputs were accepted (decoded into a message) so far. */
size_t
fuzz_codec_decoded (void);

#endif
