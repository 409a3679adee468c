/*  codec_samples.h: one sample body for every message type of every family,
    shared by the codec unit tests and the fuzz targets' seed corpus. */
#ifndef CODEC_SAMPLES_H_INCLUDED
#define CODEC_SAMPLES_H_INCLUDED

#include "rfk_msg.h"

typedef struct {
    const rfk_family_t *family;
    const char *type; /* body message name */
    const char *json; /* the body */
    const char *data; /* the body's `bytes data`, or NULL */
    size_t data_len;  /* its size */
} codec_sample_t;

/* The samples, ended by an entry with a NULL family. */
extern const codec_sample_t codec_samples[];
/* The five families, ended by NULL. */
extern const rfk_family_t *const codec_families[];
/* The sample of a type, or NULL. */
const codec_sample_t *
codec_sample_find (const rfk_family_t *family, const char *type);
/* The sample as a message; NULL if it does not fit its schema (err says why). */
rfk_msg_t *
codec_sample_msg (const codec_sample_t *sample, uint64_t correlation, char *err, size_t errlen);

#endif
