/*  rfk_pbjson.c: what the protobuf <-> JSON converter shares, and the envelope codec.

    The converter walks ProtobufCMessageDescriptor tables and writes or
    reads message structs through the offsets the descriptors give, so it
    serves every family without including any generated header. This file
    holds the helpers both directions use (error paths, field presence,
    base64) and the envelope codec every family module wraps: the size cap,
    a nesting check on the wire bytes (protobuf-c's unpack recurses without
    a limit), unpack, and the body oneof. The directions are
    rfk_pbjson_to_json.c and rfk_pbjson_from_json.c. See rfk_pbjson.h for
    the mapping.
*/
#include "rfk_pbjson_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Record an error message; always returns -1.
int
rfk_pbjson_fail (rfk_pbjson_ctx_t *ctx, const char *format, ...)
{
    if (ctx->err && ctx->errlen > 0) {
        va_list args;
        va_start (args, format);
        vsnprintf (ctx->err, ctx->errlen, format, args);
        va_end (args);
    }
    return -1;
}

//  Append ".name" (or "name" at the top) to the path; returns the old length.
size_t
rfk_pbjson_path_push (rfk_pbjson_ctx_t *ctx, const char *name)
{
    //  Copied, not snprintf'd: every field of every envelope passes here
    //  (the predictor's replies spent 8% of their instructions in it).
    size_t old = ctx->path_len;
    size_t room = sizeof ctx->path - 1 - old; //  what fits before the NUL
    char *at = ctx->path + old;
    if (old && room) {
        *at++ = '.';
        room--;
    }
    size_t length = strlen (name);
    if (length > room)
        length = room;
    memcpy (at, name, length);
    at[length] = 0;
    ctx->path_len = (size_t)(at + length - ctx->path);
    return old;
}

//  Append "[index]" to the path; returns the old length.
size_t
rfk_pbjson_path_index (rfk_pbjson_ctx_t *ctx, size_t index)
{
    size_t old = ctx->path_len;
    int n = snprintf (ctx->path + old, sizeof ctx->path - old, "[%zu]", index);
    if (n > 0)
        ctx->path_len = old + (size_t)n < sizeof ctx->path ? old + (size_t)n : sizeof ctx->path - 1;
    return old;
}

void
rfk_pbjson_path_pop (rfk_pbjson_ctx_t *ctx, size_t old)
{
    ctx->path_len = old;
    ctx->path[old] = 0;
}

bool
rfk_pbjson_is (const ProtobufCMessageDescriptor *desc, const char *name)
{
    return desc && desc->name && strcmp (desc->name, name) == 0;
}

//  The size of one element of a field of this type in a repeated array.
size_t
rfk_pbjson_sizeof (ProtobufCType type)
{
    switch (type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            return 4;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            return 8;
        case PROTOBUF_C_TYPE_FLOAT:
            return sizeof (float);
        case PROTOBUF_C_TYPE_DOUBLE:
            return sizeof (double);
        case PROTOBUF_C_TYPE_BOOL:
            return sizeof (protobuf_c_boolean);
        case PROTOBUF_C_TYPE_ENUM:
            return sizeof (int);
        case PROTOBUF_C_TYPE_STRING:
            return sizeof (char *);
        case PROTOBUF_C_TYPE_BYTES:
            return sizeof (ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_MESSAGE:
            return sizeof (ProtobufCMessage *);
    }
    return 0;
}

rfk_pbjson_struct_t
rfk_pbjson_struct_layout (const ProtobufCMessageDescriptor *desc)
{
    const ProtobufCFieldDescriptor *entries = &desc->fields[0];
    const ProtobufCMessageDescriptor *entry_desc = entries->descriptor;
    rfk_pbjson_struct_t layout = {
        .entries = entries,
        .key = protobuf_c_message_descriptor_get_field_by_name (entry_desc, "key"),
        .value = protobuf_c_message_descriptor_get_field_by_name (entry_desc, "value"),
    };
    return layout;
}

//  True when a field of a message is set.
bool
rfk_pbjson_present (const ProtobufCMessage *message, const ProtobufCFieldDescriptor *field)
{
    const void *member = RFK_PBJSON_AT_CONST (message, field->offset, char);
    if (field->label == PROTOBUF_C_LABEL_REPEATED)
        return *RFK_PBJSON_AT_CONST (message, field->quantifier_offset, size_t) > 0;
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *RFK_PBJSON_AT_CONST (message, field->quantifier_offset, uint32_t) == field->id;
    if (field->type == PROTOBUF_C_TYPE_STRING) {
        const char *s = *(char *const *)member;
        if (field->label == PROTOBUF_C_LABEL_NONE)
            return s && *s;
        return s != NULL;
    }
    if (field->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(ProtobufCMessage *const *)member != NULL;
    if (field->label == PROTOBUF_C_LABEL_OPTIONAL)
        return *RFK_PBJSON_AT_CONST (message, field->quantifier_offset, protobuf_c_boolean) != 0;
    if (field->label == PROTOBUF_C_LABEL_REQUIRED)
        return true;
    //  proto3 without presence: set when not the zero value
    if (field->type == PROTOBUF_C_TYPE_BYTES)
        return ((const ProtobufCBinaryData *)member)->len > 0;
    size_t size = rfk_pbjson_sizeof (field->type);
    const unsigned char *bytes = member;
    for (size_t i = 0; i < size; i++)
        if (bytes[i])
            return true;
    return false;
}

//  Mark a (non-repeated) field as set after its value was stored.
void
rfk_pbjson_mark_present (ProtobufCMessage *message, const ProtobufCFieldDescriptor *field)
{
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *RFK_PBJSON_AT (message, field->quantifier_offset, uint32_t) = field->id;
    else if (field->label == PROTOBUF_C_LABEL_OPTIONAL && field->type != PROTOBUF_C_TYPE_STRING &&
             field->type != PROTOBUF_C_TYPE_MESSAGE)
        *RFK_PBJSON_AT (message, field->quantifier_offset, protobuf_c_boolean) = 1;
}

//  True for the body field that travels as rfk_msg_t.data.
bool
rfk_pbjson_is_data_field (const ProtobufCFieldDescriptor *field)
{
    return field->type == PROTOBUF_C_TYPE_BYTES && field->label != PROTOBUF_C_LABEL_REPEATED &&
           strcmp (field->name, "data") == 0;
}

ProtobufCMessage *
rfk_pbjson_message_new (const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *message = calloc (1, desc->sizeof_message);
    if (message)
        desc->message_init (message);
    return message;
}

// ---- base64, for bytes fields other than the body's data ------------------

static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
rfk_pbjson_base64_encode (const uint8_t *data, size_t len)
{
    char *out = malloc ((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = s_b64[(v >> 18) & 63];
        out[o++] = s_b64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? s_b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? s_b64[v & 63] : '=';
    }
    out[o] = 0;
    return out;
}

//  Strict base64 with padding; returns 0 or -1.
int
rfk_pbjson_base64_decode (const char *text, ProtobufCBinaryData *bin)
{
    size_t len = strlen (text);
    if (len % 4)
        return -1;
    uint8_t *out = malloc (len / 4 * 3 + 1);
    if (!out)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (size_t j = 0; j < 4; j++) {
            char c = text[i + j];
            const char *hit = c ? strchr (s_b64, c) : NULL;
            if (c == '=' && i + 4 == len && j >= 2 && (j == 3 || text[i + 3] == '=')) {
                pad++;
                v <<= 6;
            } else if (hit && !pad)
                v = (v << 6) | (uint32_t)(hit - s_b64);
            else {
                free (out);
                return -1;
            }
        }
        out[o++] = (uint8_t)(v >> 16);
        if (pad < 2)
            out[o++] = (uint8_t)(v >> 8);
        if (pad < 1)
            out[o++] = (uint8_t)v;
    }
    bin->data = out;
    bin->len = o;
    return 0;
}

//  Read a varint at *at; returns 0 or -1 when truncated or too long.
static int
s_varint (const uint8_t *bytes, size_t len, size_t *at, uint64_t *value)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*at >= len)
            return -1;
        uint8_t b = bytes[(*at)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *value = v;
            return 0;
        }
    }
    return -1;
}

//  Check the nesting of wire bytes against the message types before
//  protobuf-c, which recurses without a limit, unpacks them: 0 when every
//  nested message is within RFK_MSG_MAX_DEPTH, -1 otherwise or when the
//  bytes are not protobuf.
static int
s_check_wire (const ProtobufCMessageDescriptor *desc, const uint8_t *bytes, size_t len, int depth)
{
    if (depth > RFK_MSG_MAX_DEPTH)
        return -1;
    size_t at = 0;
    while (at < len) {
        uint64_t key, value;
        if (s_varint (bytes, len, &at, &key))
            return -1;
        switch (key & 7) {
            case 0:
                if (s_varint (bytes, len, &at, &value))
                    return -1;
                break;
            case 1:
                if (len - at < 8)
                    return -1;
                at += 8;
                break;
            case 5:
                if (len - at < 4)
                    return -1;
                at += 4;
                break;
            case 2: {
                if (s_varint (bytes, len, &at, &value) || value > len - at)
                    return -1;
                uint64_t number = key >> 3;
                const ProtobufCFieldDescriptor *field =
                    number <= UINT32_MAX
                        ? protobuf_c_message_descriptor_get_field (desc, (unsigned)number)
                        : NULL;
                if (field && field->type == PROTOBUF_C_TYPE_MESSAGE &&
                    s_check_wire (field->descriptor, bytes + at, (size_t)value, depth + 1))
                    return -1;
                at += (size_t)value;
                break;
            }
            default:
                return -1;
        }
    }
    return 0;
}

//  The body field of an envelope for a kind, or NULL.
static const ProtobufCFieldDescriptor *
s_body_field (const ProtobufCMessageDescriptor *envelope, int kind)
{
    if (kind <= 0)
        return NULL;
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field (envelope, (unsigned)kind);
    if (!field || !(field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
        field->type != PROTOBUF_C_TYPE_MESSAGE)
        return NULL;
    return field;
}

int
rfk_pbjson_decode (const ProtobufCMessageDescriptor *envelope, const rfk_family_t *family,
                   zframe_t *frame, size_t max_size, rfk_msg_t **msg_p)
{
    if (!msg_p)
        return -1;
    *msg_p = NULL;
    if (!frame || zframe_size (frame) > max_size)
        return -1;
    const uint8_t *bytes = zframe_data (frame);
    size_t size = zframe_size (frame);
    if (s_check_wire (envelope, bytes, size, 1))
        return -2;
    ProtobufCMessage *env = protobuf_c_message_unpack (envelope, NULL, size, bytes);
    if (!env)
        return -2;

    //  Every body is a member of the one oneof; any member's case offset
    //  tells which one is set.
    const ProtobufCFieldDescriptor *body_field = NULL;
    for (unsigned i = 0; i < envelope->n_fields && !body_field; i++)
        if (envelope->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *RFK_PBJSON_AT (env, envelope->fields[i].quantifier_offset, uint32_t);
            body_field = s_body_field (envelope, (int)which);
            if (!body_field)
                break;
        }
    ProtobufCMessage *body =
        body_field ? *RFK_PBJSON_AT (env, body_field->offset, ProtobufCMessage *) : NULL;
    if (!body) {
        protobuf_c_message_free_unpacked (env, NULL);
        return -2;
    }
    rfk_msg_t *msg = calloc (1, sizeof *msg);
    if (!msg) {
        protobuf_c_message_free_unpacked (env, NULL);
        return -1;
    }
    msg->family = family;
    msg->kind = (int)body_field->id;
    msg->type = ((const ProtobufCMessageDescriptor *)body_field->descriptor)->short_name;

    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name (envelope, "correlation");
    if (field && field->type == PROTOBUF_C_TYPE_UINT64 && rfk_pbjson_present (env, field))
        msg->correlation = *RFK_PBJSON_AT (env, field->offset, uint64_t);
    field = protobuf_c_message_descriptor_get_field_by_name (envelope, "token");
    int rc = 0;
    if (field && field->type == PROTOBUF_C_TYPE_STRING && rfk_pbjson_present (env, field)) {
        msg->token = strdup (*RFK_PBJSON_AT (env, field->offset, char *));
        if (!msg->token)
            rc = -1;
    }
    rfk_pbjson_ctx_t ctx = {.top = 2};
    if (rc == 0) {
        msg->body = rfk_pbjson_message_to_json (body, &msg->data, &ctx, 2);
        if (!msg->body)
            rc = -2;
    }
    protobuf_c_message_free_unpacked (env, NULL);
    if (rc) {
        rfk_msg_destroy (&msg);
        return rc;
    }
    *msg_p = msg;
    return 0;
}

int
rfk_pbjson_encode (const ProtobufCMessageDescriptor *envelope, const rfk_msg_t *msg,
                   zframe_t **frame_p, char *err, size_t errlen)
{
    rfk_pbjson_ctx_t ctx = {.err = err, .errlen = errlen};
    if (!msg || !frame_p)
        return rfk_pbjson_fail (&ctx, "no message");
    const ProtobufCFieldDescriptor *body_field = s_body_field (envelope, msg->kind);
    if (!body_field)
        return rfk_pbjson_fail (&ctx, "%s messages have no body of kind %d", envelope->package_name,
                                msg->kind);
    const ProtobufCMessageDescriptor *body_desc = body_field->descriptor;
    if (msg->type && strcmp (msg->type, body_desc->short_name) != 0)
        return rfk_pbjson_fail (&ctx, "message kind %d is %s, not %s", msg->kind,
                                body_desc->short_name, msg->type);
    ProtobufCMessage *body = NULL;
    if (rfk_pbjson_from_json_at (body_desc, msg->body, msg->data, &body, err, errlen, 2))
        return -1;
    ProtobufCMessage *env = rfk_pbjson_message_new (envelope);
    if (!env) {
        protobuf_c_message_free_unpacked (body, NULL);
        return rfk_pbjson_fail (&ctx, "out of memory");
    }
    *RFK_PBJSON_AT (env, body_field->offset, ProtobufCMessage *) = body;
    rfk_pbjson_mark_present (env, body_field);
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name (envelope, "correlation");
    if (field && field->type == PROTOBUF_C_TYPE_UINT64 && msg->correlation) {
        *RFK_PBJSON_AT (env, field->offset, uint64_t) = msg->correlation;
        rfk_pbjson_mark_present (env, field);
    }
    //  The token is lent to the envelope for packing, and taken back before
    //  the envelope is freed.
    const ProtobufCFieldDescriptor *token_field =
        protobuf_c_message_descriptor_get_field_by_name (envelope, "token");
    if (token_field && token_field->type == PROTOBUF_C_TYPE_STRING && msg->token)
        *RFK_PBJSON_AT (env, token_field->offset, char *) = msg->token;

    size_t size = protobuf_c_message_get_packed_size (env);
    zframe_t *frame = zframe_new (NULL, size);
    if (frame)
        protobuf_c_message_pack (env, zframe_data (frame));
    if (token_field && token_field->type == PROTOBUF_C_TYPE_STRING)
        *RFK_PBJSON_AT (env, token_field->offset, char *) = NULL;
    protobuf_c_message_free_unpacked (env, NULL);
    if (!frame)
        return rfk_pbjson_fail (&ctx, "out of memory");
    *frame_p = frame;
    return 0;
}

int
rfk_pbjson_kind_of (const ProtobufCMessageDescriptor *envelope, const char *type)
{
    if (!type)
        return -1;
    for (unsigned i = 0; i < envelope->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &envelope->fields[i];
        if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            field->type == PROTOBUF_C_TYPE_MESSAGE &&
            streq (((const ProtobufCMessageDescriptor *)field->descriptor)->short_name, type))
            return (int)field->id;
    }
    return -1;
}

const char *
rfk_pbjson_type_of (const ProtobufCMessageDescriptor *envelope, int kind)
{
    const ProtobufCFieldDescriptor *field = s_body_field (envelope, kind);
    return field ? ((const ProtobufCMessageDescriptor *)field->descriptor)->short_name : NULL;
}
