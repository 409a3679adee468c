/*  rfk_mpjson.h: JSON (jansson) <-> msgpack, for the `data` of the infer
    family: queries and predictions travel as msgpack arrays, and the edges
    that speak JSON (the predictor's HTTP front, librafiki's
    rfk_sdk_predict) convert once on the way in and once on the way out.

    The mapping:
    - JSON to msgpack: null, booleans and strings as themselves; integers
      as msgpack integers (int64 range, the smallest encoding); reals as
      float64; arrays as arrays; objects as maps with string keys. A value
      that nests deeper than the caller's bound is refused.
    - msgpack to JSON: integers up to INT64_MAX stay integers, larger
      unsigned ones become reals; float32/64 become reals (NaN and
      infinities, which JSON lacks, become null); strings that are not UTF-8,
      binary, and ext types other than the per-query error become null; a
      per-query error (ext type 1, RAFIKI_MSGPACK_EXT_ERROR) becomes
      {"error": "message"}; map keys that are not strings are written as
      their JSON text. Exactly one whole object is expected; anything else
      (truncated, trailing bytes, the unused byte 0xc1, deeper than
      RFK_MPJSON_MAX_DEPTH) is refused.
*/
#ifndef RFK_MPJSON_H_INCLUDED
#define RFK_MPJSON_H_INCLUDED

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The deepest nesting either direction takes when the caller gives 0 (an
   array of scalars is depth 1). */
#define RFK_MPJSON_MAX_DEPTH 128

/* A JSON value as msgpack bytes (malloc'd, at least one byte; *size_p set),
   or NULL when value is NULL, nests deeper than max_depth (0:
   RFK_MPJSON_MAX_DEPTH), or memory runs out. */
void *
rfk_mpjson_pack (const json_t *value, int max_depth, size_t *size_p);

/* msgpack bytes (exactly one object) as a new JSON value, or NULL when they
   are malformed or nest deeper than RFK_MPJSON_MAX_DEPTH. */
json_t *
rfk_mpjson_unpack (const void *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif
