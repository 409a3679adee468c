/*  rfk_pbjson_to_json.c: protobuf-c message -> jansson, driven by the
    descriptors (rfk_pbjson_to_json, and the body of an envelope being
    decoded). See rfk_pbjson.h for the mapping.
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

//  A float or double as JSON: a number, or a string when not finite.
static json_t *
s_double_to_json (double value)
{
    if (isnan (value))
        return json_string ("NaN");
    if (isinf (value))
        return json_string (value > 0 ? "Infinity" : "-Infinity");
    return json_real (value);
}

//  One value of a field (an element, for repeated fields) as JSON; NULL on
//  error with ctx set.
static json_t *
s_field_value_to_json (const ProtobufCFieldDescriptor *field, const void *value,
                       rfk_pbjson_ctx_t *ctx, int depth)
{
    json_t *json = NULL;
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
            json = json_integer (*(const int32_t *)value);
            break;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            json = json_integer (*(const uint32_t *)value);
            break;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            json = json_integer (*(const int64_t *)value);
            break;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64: {
            uint64_t u = *(const uint64_t *)value;
            if (u <= INT64_MAX)
                json = json_integer ((json_int_t)u);
            else {
                char text[24];
                snprintf (text, sizeof text, "%" PRIu64, u);
                json = json_string (text);
            }
            break;
        }
        case PROTOBUF_C_TYPE_FLOAT:
            json = s_double_to_json (*(const float *)value);
            break;
        case PROTOBUF_C_TYPE_DOUBLE:
            json = s_double_to_json (*(const double *)value);
            break;
        case PROTOBUF_C_TYPE_BOOL:
            json = json_boolean (*(const protobuf_c_boolean *)value);
            break;
        case PROTOBUF_C_TYPE_ENUM: {
            int v = *(const int *)value;
            const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value (
                (const ProtobufCEnumDescriptor *)field->descriptor, v);
            if (!ev) {
                rfk_pbjson_fail (ctx, "field `%s` has unknown value %d", ctx->path, v);
                return NULL;
            }
            json = json_string (ev->name);
            break;
        }
        case PROTOBUF_C_TYPE_STRING: {
            const char *s = *(char *const *)value;
            json = json_string (s ? s : "");
            if (!json) {
                rfk_pbjson_fail (ctx, "field `%s` is not UTF-8", ctx->path);
                return NULL;
            }
            break;
        }
        case PROTOBUF_C_TYPE_BYTES: {
            const ProtobufCBinaryData *bin = value;
            char *text = rfk_pbjson_base64_encode (bin->data, bin->len);
            if (text)
                json = json_string (text);
            free (text);
            break;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)value;
            if (!sub)
                return json_null ();
            return rfk_pbjson_message_to_json (sub, NULL, ctx, depth + 1);
        }
    }
    if (!json)
        rfk_pbjson_fail (ctx, "out of memory converting field `%s`", ctx->path);
    return json;
}

//  rfk.Value as any JSON. A number that is not finite has no JSON form and
//  becomes null.
static json_t *
s_value_to_json (const ProtobufCMessage *message, rfk_pbjson_ctx_t *ctx, int depth)
{
    const ProtobufCMessageDescriptor *desc = message->descriptor;
    if (desc->n_fields == 0)
        return json_null ();
    uint32_t which = *RFK_PBJSON_AT_CONST (message, desc->fields[0].quantifier_offset, uint32_t);
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field (desc, which);
    if (!field)
        return json_null ();
    const void *member = RFK_PBJSON_AT_CONST (message, field->offset, char);
    switch (field->type) {
        case PROTOBUF_C_TYPE_ENUM:
            return json_null ();
        case PROTOBUF_C_TYPE_DOUBLE: {
            double d = *(const double *)member;
            return isfinite (d) ? json_real (d) : json_null ();
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)member;
            if (!sub)
                return json_null ();
            return rfk_pbjson_message_to_json (sub, NULL, ctx, depth + 1);
        }
        default:
            return s_field_value_to_json (field, member, ctx, depth);
    }
}

//  rfk.ListValue as a JSON array.
static json_t *
s_list_to_json (const ProtobufCMessage *message, rfk_pbjson_ctx_t *ctx, int depth)
{
    json_t *array = json_array ();
    const ProtobufCMessageDescriptor *desc = message->descriptor;
    if (!array || desc->n_fields < 1) {
        json_decref (array);
        rfk_pbjson_fail (ctx, "out of memory converting field `%s`", ctx->path);
        return NULL;
    }
    const ProtobufCFieldDescriptor *field = &desc->fields[0];
    size_t n = *RFK_PBJSON_AT_CONST (message, field->quantifier_offset, size_t);
    ProtobufCMessage *const *values =
        *(ProtobufCMessage * *const *)((const char *)message + field->offset);
    for (size_t i = 0; i < n; i++) {
        size_t old = rfk_pbjson_path_index (ctx, i);
        json_t *item =
            values[i] ? rfk_pbjson_message_to_json (values[i], NULL, ctx, depth + 1) : json_null ();
        rfk_pbjson_path_pop (ctx, old);
        if (!item || json_array_append_new (array, item)) {
            json_decref (array);
            return NULL;
        }
    }
    return array;
}

//  rfk.Struct as a JSON object; a repeated key keeps its last value.
static json_t *
s_struct_to_json (const ProtobufCMessage *message, rfk_pbjson_ctx_t *ctx, int depth)
{
    json_t *object = json_object ();
    const ProtobufCMessageDescriptor *desc = message->descriptor;
    if (!object || desc->n_fields < 1) {
        json_decref (object);
        rfk_pbjson_fail (ctx, "out of memory converting field `%s`", ctx->path);
        return NULL;
    }
    rfk_pbjson_struct_t layout = rfk_pbjson_struct_layout (desc);
    const ProtobufCFieldDescriptor *field = layout.entries;
    const ProtobufCFieldDescriptor *key_field = layout.key;
    const ProtobufCFieldDescriptor *value_field = layout.value;
    size_t n = *RFK_PBJSON_AT_CONST (message, field->quantifier_offset, size_t);
    ProtobufCMessage *const *members =
        *(ProtobufCMessage * *const *)((const char *)message + field->offset);
    for (size_t i = 0; i < n; i++) {
        if (!members[i])
            continue;
        const char *key = *RFK_PBJSON_AT_CONST (members[i], key_field->offset, char *);
        const ProtobufCMessage *value =
            *RFK_PBJSON_AT_CONST (members[i], value_field->offset, ProtobufCMessage *);
        if (!key)
            key = "";
        size_t old = rfk_pbjson_path_push (ctx, key);
        json_t *item =
            value ? rfk_pbjson_message_to_json (value, NULL, ctx, depth + 2) : json_null ();
        if (item && json_object_set_new (object, key, item)) {
            rfk_pbjson_fail (ctx, "key `%s` is not UTF-8", ctx->path);
            item = NULL;
        }
        rfk_pbjson_path_pop (ctx, old);
        if (!item) {
            json_decref (object);
            return NULL;
        }
    }
    return object;
}

//  A message as a JSON object (or, for Value, Struct, ListValue, as the JSON
//  they carry). data_p, when not NULL, takes the `bytes data` field.
json_t *
rfk_pbjson_message_to_json (const ProtobufCMessage *message, zchunk_t **data_p,
                            rfk_pbjson_ctx_t *ctx, int depth)
{
    if (depth > RFK_MSG_MAX_DEPTH) {
        rfk_pbjson_fail (ctx, "field `%s` is nested too deeply", ctx->path);
        return NULL;
    }
    const ProtobufCMessageDescriptor *desc = message->descriptor;
    if (rfk_pbjson_is (desc, RFK_PBJSON_VALUE))
        return s_value_to_json (message, ctx, depth);
    if (rfk_pbjson_is (desc, RFK_PBJSON_STRUCT))
        return s_struct_to_json (message, ctx, depth);
    if (rfk_pbjson_is (desc, RFK_PBJSON_LIST))
        return s_list_to_json (message, ctx, depth);

    json_t *object = json_object ();
    if (!object) {
        rfk_pbjson_fail (ctx, "out of memory");
        return NULL;
    }
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[i];
        if (!rfk_pbjson_present (message, field))
            continue;
        const void *member = RFK_PBJSON_AT_CONST (message, field->offset, char);
        if (data_p && rfk_pbjson_is_data_field (field)) {
            const ProtobufCBinaryData *bin = member;
            zchunk_destroy (data_p);
            *data_p = zchunk_new (bin->data, bin->len);
            continue;
        }
        size_t old = rfk_pbjson_path_push (ctx, field->name);
        json_t *json;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *RFK_PBJSON_AT_CONST (message, field->quantifier_offset, size_t);
            const char *items = *(char *const *)member;
            size_t size = rfk_pbjson_sizeof (field->type);
            json = json_array ();
            for (size_t j = 0; json && j < n; j++) {
                size_t at = rfk_pbjson_path_index (ctx, j);
                json_t *item = s_field_value_to_json (field, items + j * size, ctx, depth);
                rfk_pbjson_path_pop (ctx, at);
                if (!item || json_array_append_new (json, item)) {
                    json_decref (json);
                    json = NULL;
                }
            }
        } else
            json = s_field_value_to_json (field, member, ctx, depth);
        rfk_pbjson_path_pop (ctx, old);
        if (!json || json_object_set_new (object, field->name, json)) {
            json_decref (object);
            return NULL;
        }
    }
    return object;
}

int
rfk_pbjson_to_json (const ProtobufCMessage *message, json_t **json_p, zchunk_t **data_p, char *err,
                    size_t errlen)
{
    rfk_pbjson_ctx_t ctx = {.err = err, .errlen = errlen, .top = 1};
    if (!message || !json_p)
        return rfk_pbjson_fail (&ctx, "no message");
    if (data_p)
        *data_p = NULL;
    *json_p = rfk_pbjson_message_to_json (message, data_p, &ctx, 1);
    if (!*json_p) {
        if (data_p)
            zchunk_destroy (data_p);
        return -1;
    }
    return 0;
}
