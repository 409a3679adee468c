/*  rfk_pbjson.h: protobuf-c messages <-> jansson, driven by descriptors.

    Internal to proto/: the codec modules hand their Envelope descriptor to
    these functions, which never look at generated structs, only at
    ProtobufCMessageDescriptor and ProtobufCFieldDescriptor. The mapping:

    - keys are the .proto field names; absent (unset) fields are left out;
    - enums are their value names (an integer naming a known value is taken
      too); 64-bit integers are JSON integers (a uint64 over INT64_MAX is a
      decimal string); floats that are not finite are "NaN", "Infinity",
      "-Infinity";
    - repeated fields are arrays, nested messages objects;
    - rfk.Value is any JSON, rfk.Struct an object, rfk.ListValue an array;
    - `bytes data` of the body goes to rfk_msg_t.data; other bytes fields are
      base64 strings;
    - from JSON: null means absent; numeric strings are taken for numbers and
      "true"/"false" for booleans (form fields and query strings are text);
      anything else of the wrong type, and unknown fields, are refused with a
      message naming the field.
*/
#ifndef RFK_PBJSON_H_INCLUDED
#define RFK_PBJSON_H_INCLUDED

#include "rfk_msg.h"
#include <protobuf-c/protobuf-c.h>

/* The JSON object of a message. When data_p is not NULL, a `bytes data`
   field goes there (a new chunk, or NULL when unset) instead of into the
   JSON. Returns 0, or -1 (err says why: an unknown enum value, a string that
   is not UTF-8, nesting deeper than RFK_MSG_MAX_DEPTH). */
int
rfk_pbjson_to_json (const ProtobufCMessage *message, json_t **json_p, zchunk_t **data_p, char *err,
                    size_t errlen);

/* A new message of `desc` from a JSON object (NULL is an empty one) and
   optional data for its `bytes data` field. Free it with
   protobuf_c_message_free_unpacked (message, NULL). Returns 0, or -1 with a
   message naming the field in err. */
int
rfk_pbjson_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, const zchunk_t *data,
                      ProtobufCMessage **message_p, char *err, size_t errlen);

/* The codec of a family, given its Envelope descriptor. */
int
rfk_pbjson_decode (const ProtobufCMessageDescriptor *envelope, const rfk_family_t *family,
                   zframe_t *frame, size_t max_size, rfk_msg_t **msg_p);
int
rfk_pbjson_encode (const ProtobufCMessageDescriptor *envelope, const rfk_msg_t *msg,
                   zframe_t **frame_p, char *err, size_t errlen);
int
rfk_pbjson_kind_of (const ProtobufCMessageDescriptor *envelope, const char *type);
const char *
rfk_pbjson_type_of (const ProtobufCMessageDescriptor *envelope, int kind);

#endif
