/*  rfk_pbjson_internal.h: what the converter's files share (internal to
    proto/: rfk_pbjson.c, rfk_pbjson_to_json.c, rfk_pbjson_from_json.c).
*/
#ifndef RFK_PBJSON_INTERNAL_H_INCLUDED
#define RFK_PBJSON_INTERNAL_H_INCLUDED

#include "rfk_pbjson.h"

#include <stdbool.h>

/* The path of the field being converted, for error messages, and where
   errors go. */
typedef struct {
    char *err;      /* caller's buffer, or NULL */
    size_t errlen;  /* its size */
    char path[256]; /* e.g. "sub_train_jobs[0].status" */
    size_t path_len;
    int top; /* the depth of the top message (the envelope is 1) */
} rfk_pbjson_ctx_t;

#define RFK_PBJSON_AT(m, offset, T) ((T *)((char *)(m) + (offset)))
#define RFK_PBJSON_AT_CONST(m, offset, T) ((const T *)((const char *)(m) + (offset)))

//  The well-known messages that map to any JSON, an object and an array.
#define RFK_PBJSON_VALUE "rfk.Value"
#define RFK_PBJSON_STRUCT "rfk.Struct"
#define RFK_PBJSON_LIST "rfk.ListValue"

//  Record an error message (prefixed by nothing: callers name the path); always returns -1.
int
rfk_pbjson_fail (rfk_pbjson_ctx_t *ctx, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Append ".name" (or "name" at the top) to the path; returns the old length.
size_t
rfk_pbjson_path_push (rfk_pbjson_ctx_t *ctx, const char *name);

//  Append "[index]" to the path; returns the old length.
size_t
rfk_pbjson_path_index (rfk_pbjson_ctx_t *ctx, size_t index);

//  Cut the path back to a length push or index returned.
void
rfk_pbjson_path_pop (rfk_pbjson_ctx_t *ctx, size_t old);

//  True if desc is the message called name ("rfk.Value").
bool
rfk_pbjson_is (const ProtobufCMessageDescriptor *desc, const char *name);

//  The size of one element of a field of this type in a repeated array.
size_t
rfk_pbjson_sizeof (ProtobufCType type);

//  Where an rfk.Struct keeps its members: the repeated entries field, and each entry's key
//  and value fields.
typedef struct {
    const ProtobufCFieldDescriptor *entries; //  the repeated field of entry messages
    const ProtobufCFieldDescriptor *key;     //  an entry's string key
    const ProtobufCFieldDescriptor *value;   //  an entry's rfk.Value
} rfk_pbjson_struct_t;

//  The layout of an rfk.Struct descriptor (which has at least one field).
rfk_pbjson_struct_t
rfk_pbjson_struct_layout (const ProtobufCMessageDescriptor *desc);

//  True when a field of a message is set.
bool
rfk_pbjson_present (const ProtobufCMessage *message, const ProtobufCFieldDescriptor *field);

//  Mark a (non-repeated) field as set after its value was stored.
void
rfk_pbjson_mark_present (ProtobufCMessage *message, const ProtobufCFieldDescriptor *field);

//  True for the body field that travels as rfk_msg_t.data.
bool
rfk_pbjson_is_data_field (const ProtobufCFieldDescriptor *field);

//  A new, initialised message of desc; NULL when out of memory.
ProtobufCMessage *
rfk_pbjson_message_new (const ProtobufCMessageDescriptor *desc);

//  Standard base64 of len bytes (a new string), or NULL when out of memory.
char *
rfk_pbjson_base64_encode (const uint8_t *data, size_t len);

//  Strict base64 with padding into bin (new bytes); returns 0 or -1.
int
rfk_pbjson_base64_decode (const char *text, ProtobufCBinaryData *bin);

//  The JSON object of a message at depth (the envelope is 1); see rfk_pbjson_to_json.
json_t *
rfk_pbjson_message_to_json (const ProtobufCMessage *message, zchunk_t **data_p,
                            rfk_pbjson_ctx_t *ctx, int depth);

//  rfk_pbjson_from_json with the depth of the message given: a body is at
//  depth 2, inside its envelope.
int
rfk_pbjson_from_json_at (const ProtobufCMessageDescriptor *desc, json_t *json, const zchunk_t *data,
                         ProtobufCMessage **message_p, char *err, size_t errlen, int depth);

#endif
