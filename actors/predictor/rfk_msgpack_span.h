/*  rfk_msgpack_span.h: a msgpack walker that finds the byte spans of
    objects without decoding them and without allocating.

    The scatter-gather engine never re-encodes a query or a prediction: it
    splits a request's msgpack array into the spans of its elements, copies
    spans into batches, and keeps each member's answer as received with the
    offsets of its predictions. This walker checks that the bytes are whole
    objects (every length within the buffer, nesting bounded) on the way.
    Input comes from HTTP clients, SDK callers and inference workers: every
    byte sequence is answered with 0 or -1, never a read past the end
    (test/fuzz/predictor fuzzes it against msgpack-c).
*/
#ifndef RFK_MSGPACK_SPAN_H_INCLUDED
#define RFK_MSGPACK_SPAN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The msgpack ext type of a per-query error (RAFIKI_MSGPACK_EXT_ERROR, as
   templates write them): its body is the message. */
#define RFK_MSGPACK_EXT_ERROR 1
/* How many levels an object may hold: a scalar is 1, an array of scalars
   2. An array accepted by rfk_msgpack_span_elements is one object within
   this bound, as rfk_msgpack_span_skip sees it. */
#define RFK_MSGPACK_SPAN_MAX_DEPTH 64

/* Skips the one object that starts at *off. 0 with *off just past it, or -1
   (*off unchanged) when the bytes from *off are not one complete object or
   nest deeper than RFK_MSGPACK_SPAN_MAX_DEPTH. */
int
rfk_msgpack_span_skip (const void *data, size_t size, size_t *off);

/* The spans of the elements of an array that fills data exactly: count + 1
   offsets in a new array (element i is [offsets[i], offsets[i + 1]); the
   last offset is size), yours to free, with *count_p (may be NULL) set.
   NULL when data is not exactly one array, when its element count is not
   expect (unless expect is SIZE_MAX), or out of memory. */
size_t *
rfk_msgpack_span_elements (const void *data, size_t size, size_t expect, size_t *count_p);

/* True when the span is a per-query error (an ext of type
   RFK_MSGPACK_EXT_ERROR). */
bool
rfk_msgpack_span_is_error (const void *span, size_t size);

#ifdef __cplusplus
}
#endif

#endif
