/*  fuzz_codec.h: what the codec fuzz targets share with the standalone
    driver. Each target is fuzz_codec.c built with FUZZ_FAMILY naming one
    family (rfk_admin_family, ...). */
#ifndef FUZZ_CODEC_H_INCLUDED
#define FUZZ_CODEC_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerInitialize (int *argc, char ***argv);

/* The family's name, for reports. */
const char *
fuzz_codec_family (void);
/* The seed corpus: valid envelopes of every message type of the family,
   made at run time from the codec samples. Calls fn for each; returns the
   count. */
size_t
fuzz_codec_seeds (void (*fn) (const uint8_t *data, size_t size, void *arg), void *arg);
/* How many inputs decoded into a message so far. */
size_t
fuzz_codec_decoded (void);

#endif
