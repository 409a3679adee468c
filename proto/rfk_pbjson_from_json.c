/*  rfk_pbjson_from_json.c: jansson -> protobuf-c message, driven by the
    descriptors (rfk_pbjson_from_json, and the body of an envelope being
    encoded): type checks, ranges, enum names, numeric strings from forms,
    and a message naming the field for anything refused. See rfk_pbjson.h
    for the mapping.
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

static int
s_message_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, const zchunk_t *data,
                     ProtobufCMessage **message_p, rfk_pbjson_ctx_t *ctx, int depth);

//  A signed integer in [min, max] from a JSON integer or a decimal string.
static int
s_get_int (json_t *json, long long min, long long max, long long *out, rfk_pbjson_ctx_t *ctx)
{
    long long v;
    if (json_is_integer (json))
        v = json_integer_value (json);
    else if (json_is_string (json)) {
        const char *text = json_string_value (json);
        char *end;
        errno = 0;
        v = strtoll (text, &end, 10);
        if (!*text || *end || errno || (*text != '-' && (*text < '0' || *text > '9')))
            return rfk_pbjson_fail (ctx, "field `%s` must be an integer", ctx->path);
    } else
        return rfk_pbjson_fail (ctx, "field `%s` must be an integer", ctx->path);
    if (v < min || v > max)
        return rfk_pbjson_fail (ctx, "field `%s` must be an integer from %lld to %lld", ctx->path,
                                min, max);
    *out = v;
    return 0;
}

//  An unsigned integer up to max from a JSON integer or a decimal string.
static int
s_get_uint (json_t *json, unsigned long long max, unsigned long long *out, rfk_pbjson_ctx_t *ctx)
{
    unsigned long long v;
    if (json_is_integer (json)) {
        if (json_integer_value (json) < 0)
            return rfk_pbjson_fail (ctx, "field `%s` must be an integer from 0 to %llu", ctx->path,
                                    max);
        v = (unsigned long long)json_integer_value (json);
    } else if (json_is_string (json)) {
        const char *text = json_string_value (json);
        char *end;
        errno = 0;
        v = strtoull (text, &end, 10);
        if (*text < '0' || *text > '9' || *end || errno)
            return rfk_pbjson_fail (ctx, "field `%s` must be an integer", ctx->path);
    } else
        return rfk_pbjson_fail (ctx, "field `%s` must be an integer", ctx->path);
    if (v > max)
        return rfk_pbjson_fail (ctx, "field `%s` must be an integer from 0 to %llu", ctx->path,
                                max);
    *out = v;
    return 0;
}

//  A number from a JSON number, a decimal string, "NaN", "Infinity" or
//  "-Infinity".
static int
s_get_double (json_t *json, double *out, rfk_pbjson_ctx_t *ctx)
{
    if (json_is_number (json)) {
        *out = json_number_value (json);
        return 0;
    }
    if (json_is_string (json)) {
        const char *text = json_string_value (json);
        if (streq (text, "NaN")) {
            *out = NAN;
            return 0;
        }
        if (streq (text, "Infinity") || streq (text, "-Infinity")) {
            *out = *text == '-' ? -INFINITY : INFINITY;
            return 0;
        }
        char *end;
        errno = 0;
        double v = strtod (text, &end);
        if (*text && !*end && !errno && isfinite (v) &&
            (*text == '-' || *text == '.' || (*text >= '0' && *text <= '9'))) {
            *out = v;
            return 0;
        }
    }
    return rfk_pbjson_fail (ctx, "field `%s` must be a number", ctx->path);
}

//  "one of A, B, C" for an enum's error message.
static void
s_enum_names (const ProtobufCEnumDescriptor *desc, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < desc->n_values && len < size; i++) {
        int n = snprintf (buf + len, size - len, "%s%s", i ? ", " : "", desc->values[i].name);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

//  A field of one of the integer types, range-checked for its width.
static int
s_integer_from_json (ProtobufCType type, json_t *json, void *dst, rfk_pbjson_ctx_t *ctx)
{
    bool is_signed = type == PROTOBUF_C_TYPE_INT32 || type == PROTOBUF_C_TYPE_SINT32 ||
                     type == PROTOBUF_C_TYPE_SFIXED32 || type == PROTOBUF_C_TYPE_INT64 ||
                     type == PROTOBUF_C_TYPE_SINT64 || type == PROTOBUF_C_TYPE_SFIXED64;
    bool wide = rfk_pbjson_sizeof (type) == 8;
    if (is_signed) {
        long long i = 0;
        if (s_get_int (json, wide ? INT64_MIN : INT32_MIN, wide ? INT64_MAX : INT32_MAX, &i, ctx))
            return -1;
        if (wide)
            *(int64_t *)dst = (int64_t)i;
        else
            *(int32_t *)dst = (int32_t)i;
        return 0;
    }
    unsigned long long u = 0;
    if (s_get_uint (json, wide ? UINT64_MAX : UINT32_MAX, &u, ctx))
        return -1;
    if (wide)
        *(uint64_t *)dst = (uint64_t)u;
    else
        *(uint32_t *)dst = (uint32_t)u;
    return 0;
}

//  A float or double field; a finite value beyond a float's range is refused for a float.
static int
s_real_from_json (ProtobufCType type, json_t *json, void *dst, rfk_pbjson_ctx_t *ctx)
{
    double d;
    if (s_get_double (json, &d, ctx))
        return -1;
    if (type == PROTOBUF_C_TYPE_DOUBLE) {
        *(double *)dst = d;
        return 0;
    }
    if (isfinite (d) && (d > FLT_MAX || d < -FLT_MAX))
        return rfk_pbjson_fail (ctx, "field `%s` is out of range", ctx->path);
    *(float *)dst = (float)d;
    return 0;
}

//  A bool field: a JSON boolean, or the text "true" / "false" (form fields).
static int
s_bool_from_json (json_t *json, void *dst, rfk_pbjson_ctx_t *ctx)
{
    if (json_is_boolean (json))
        *(protobuf_c_boolean *)dst = json_is_true (json);
    else if (json_is_string (json) && streq (json_string_value (json), "true"))
        *(protobuf_c_boolean *)dst = 1;
    else if (json_is_string (json) && streq (json_string_value (json), "false"))
        *(protobuf_c_boolean *)dst = 0;
    else
        return rfk_pbjson_fail (ctx, "field `%s` must be a boolean", ctx->path);
    return 0;
}

//  An enum field: a value's name, or an integer naming a known value.
static int
s_enum_from_json (const ProtobufCEnumDescriptor *desc, json_t *json, void *dst,
                  rfk_pbjson_ctx_t *ctx)
{
    const ProtobufCEnumValue *ev = NULL;
    if (json_is_string (json))
        ev = protobuf_c_enum_descriptor_get_value_by_name (desc, json_string_value (json));
    else if (json_is_integer (json) && json_integer_value (json) >= INT32_MIN &&
             json_integer_value (json) <= INT32_MAX)
        ev = protobuf_c_enum_descriptor_get_value (desc, (int)json_integer_value (json));
    if (!ev) {
        char names[200];
        s_enum_names (desc, names, sizeof names);
        return rfk_pbjson_fail (ctx, "field `%s` must be one of %s", ctx->path, names);
    }
    *(int *)dst = ev->value;
    return 0;
}

//  A nested message field: an array for rfk.ListValue, anything for rfk.Value, else an object.
static int
s_submessage_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, void *dst,
                        rfk_pbjson_ctx_t *ctx, int depth)
{
    if (rfk_pbjson_is (desc, RFK_PBJSON_LIST)) {
        if (!json_is_array (json))
            return rfk_pbjson_fail (ctx, "field `%s` must be an array", ctx->path);
    } else if (!rfk_pbjson_is (desc, RFK_PBJSON_VALUE) && !json_is_object (json))
        return rfk_pbjson_fail (ctx, "field `%s` must be an object", ctx->path);
    return s_message_from_json (desc, json, NULL, (ProtobufCMessage **)dst, ctx, depth + 1);
}

//  One value of a field (an element, for a repeated one) into dst.
static int
s_field_value_from_json (const ProtobufCFieldDescriptor *field, json_t *json, void *dst,
                         rfk_pbjson_ctx_t *ctx, int depth)
{
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            return s_integer_from_json (field->type, json, dst, ctx);
        case PROTOBUF_C_TYPE_FLOAT:
        case PROTOBUF_C_TYPE_DOUBLE:
            return s_real_from_json (field->type, json, dst, ctx);
        case PROTOBUF_C_TYPE_BOOL:
            return s_bool_from_json (json, dst, ctx);
        case PROTOBUF_C_TYPE_ENUM:
            return s_enum_from_json (field->descriptor, json, dst, ctx);
        case PROTOBUF_C_TYPE_STRING: {
            if (!json_is_string (json))
                return rfk_pbjson_fail (ctx, "field `%s` must be a string", ctx->path);
            char *copy = strdup (json_string_value (json));
            if (!copy)
                return rfk_pbjson_fail (ctx, "out of memory");
            *(char **)dst = copy;
            return 0;
        }
        case PROTOBUF_C_TYPE_BYTES:
            if (!json_is_string (json) ||
                rfk_pbjson_base64_decode (json_string_value (json), (ProtobufCBinaryData *)dst))
                return rfk_pbjson_fail (ctx, "field `%s` must be a base64 string", ctx->path);
            return 0;
        case PROTOBUF_C_TYPE_MESSAGE:
            return s_submessage_from_json (field->descriptor, json, dst, ctx, depth);
    }
    return rfk_pbjson_fail (ctx, "field `%s` has an unsupported type", ctx->path);
}

//  The field of a message whose type is `type` (and, for messages, whose
//  message type is named `name`).
static const ProtobufCFieldDescriptor *
s_field_of_type (const ProtobufCMessageDescriptor *desc, ProtobufCType type, const char *name)
{
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (desc->fields[i].type == type &&
            (!name || rfk_pbjson_is (desc->fields[i].descriptor, name)))
            return &desc->fields[i];
    return NULL;
}

//  rfk.Value from any JSON.
static int
s_value_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, ProtobufCMessage *message,
                   rfk_pbjson_ctx_t *ctx, int depth)
{
    const ProtobufCFieldDescriptor *field = NULL;
    switch (json_typeof (json)) {
        case JSON_NULL:
            field = s_field_of_type (desc, PROTOBUF_C_TYPE_ENUM, NULL);
            break;
        case JSON_INTEGER:
            field = s_field_of_type (desc, PROTOBUF_C_TYPE_INT64, NULL);
            break;
        case JSON_REAL:
            field = s_field_of_type (desc, PROTOBUF_C_TYPE_DOUBLE, NULL);
            break;
        case JSON_STRING:
            field = s_field_of_type (desc, PROTOBUF_C_TYPE_STRING, NULL);
            break;
        case JSON_TRUE:
        case JSON_FALSE:
            field = s_field_of_type (desc, PROTOBUF_C_TYPE_BOOL, NULL);
            break;
        case JSON_ARRAY:
            field = s_field_of_type (desc, PROTOBUF_C_TYPE_MESSAGE, RFK_PBJSON_LIST);
            break;
        case JSON_OBJECT:
            field = s_field_of_type (desc, PROTOBUF_C_TYPE_MESSAGE, RFK_PBJSON_STRUCT);
            break;
    }
    if (!field)
        return rfk_pbjson_fail (ctx, "field `%s` has a value of an unsupported type", ctx->path);
    void *member = RFK_PBJSON_AT (message, field->offset, char);
    if (json_is_null (json))
        *(int *)member = 0;
    else if (s_field_value_from_json (field, json, member, ctx, depth))
        return -1;
    rfk_pbjson_mark_present (message, field);
    return 0;
}

//  rfk.ListValue from a JSON array.
static int
s_list_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, ProtobufCMessage *message,
                  rfk_pbjson_ctx_t *ctx, int depth)
{
    const ProtobufCFieldDescriptor *field = &desc->fields[0];
    size_t n = json_array_size (json);
    if (n == 0)
        return 0;
    ProtobufCMessage **values = calloc (n, sizeof *values);
    if (!values)
        return rfk_pbjson_fail (ctx, "out of memory");
    *RFK_PBJSON_AT (message, field->offset, ProtobufCMessage **) = values;
    for (size_t i = 0; i < n; i++) {
        size_t old = rfk_pbjson_path_index (ctx, i);
        int rc = s_message_from_json (field->descriptor, json_array_get (json, i), NULL, &values[i],
                                      ctx, depth + 1);
        rfk_pbjson_path_pop (ctx, old);
        if (rc)
            return -1;
        *RFK_PBJSON_AT (message, field->quantifier_offset, size_t) = i + 1;
    }
    return 0;
}

//  rfk.Struct from a JSON object, keeping the member order.
static int
s_struct_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, ProtobufCMessage *message,
                    rfk_pbjson_ctx_t *ctx, int depth)
{
    rfk_pbjson_struct_t layout = rfk_pbjson_struct_layout (desc);
    const ProtobufCFieldDescriptor *field = layout.entries;
    const ProtobufCFieldDescriptor *key_field = layout.key;
    const ProtobufCFieldDescriptor *value_field = layout.value;
    size_t n = json_object_size (json);
    if (n == 0)
        return 0;
    if (depth + 1 > RFK_MSG_MAX_DEPTH)
        return rfk_pbjson_fail (ctx, "field `%s` is nested too deeply", ctx->path);
    ProtobufCMessage **members = calloc (n, sizeof *members);
    if (!members)
        return rfk_pbjson_fail (ctx, "out of memory");
    *RFK_PBJSON_AT (message, field->offset, ProtobufCMessage **) = members;
    const char *key;
    json_t *value;
    size_t i = 0;
    json_object_foreach (json, key, value)
    {
        ProtobufCMessage *member = rfk_pbjson_message_new (field->descriptor);
        if (!member)
            return rfk_pbjson_fail (ctx, "out of memory");
        members[i] = member;
        *RFK_PBJSON_AT (message, field->quantifier_offset, size_t) = ++i;
        char *copy = strdup (key);
        if (!copy)
            return rfk_pbjson_fail (ctx, "out of memory");
        *RFK_PBJSON_AT (member, key_field->offset, char *) = copy;
        size_t old = rfk_pbjson_path_push (ctx, key);
        int rc = s_message_from_json (
            value_field->descriptor, value, NULL,
            RFK_PBJSON_AT (member, value_field->offset, ProtobufCMessage *), ctx, depth + 2);
        rfk_pbjson_path_pop (ctx, old);
        if (rc)
            return -1;
    }
    return 0;
}

//  Set every field of an ordinary message from a JSON object.
static int
s_fields_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, const zchunk_t *data,
                    ProtobufCMessage *message, rfk_pbjson_ctx_t *ctx, int depth)
{
    const char *key;
    json_t *value;
    json_object_foreach (json, key, value)
    {
        const ProtobufCFieldDescriptor *field =
            protobuf_c_message_descriptor_get_field_by_name (desc, key);
        size_t old = rfk_pbjson_path_push (ctx, key);
        if (!field) {
            rfk_pbjson_fail (ctx, "unknown field `%s` in %s", ctx->path, desc->short_name);
            return -1;
        }
        if (depth == ctx->top && rfk_pbjson_is_data_field (field)) {
            rfk_pbjson_fail (ctx,
                             "field `%s` is binary: it travels as the message's data, not in JSON",
                             ctx->path);
            return -1;
        }
        if (json_is_null (value)) {
            rfk_pbjson_path_pop (ctx, old);
            continue;
        }
        if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *RFK_PBJSON_AT (message, field->quantifier_offset, uint32_t);
            const ProtobufCFieldDescriptor *other =
                which ? protobuf_c_message_descriptor_get_field (desc, which) : NULL;
            if (other && other != field)
                return rfk_pbjson_fail (ctx, "fields `%s` and `%s` cannot both be set", other->name,
                                        field->name);
        }
        void *member = RFK_PBJSON_AT (message, field->offset, char);
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            if (!json_is_array (value))
                return rfk_pbjson_fail (ctx, "field `%s` must be an array", ctx->path);
            size_t n = json_array_size (value);
            size_t size = rfk_pbjson_sizeof (field->type);
            if (n > 0) {
                char *items = calloc (n, size);
                if (!items)
                    return rfk_pbjson_fail (ctx, "out of memory");
                *(char **)member = items;
                for (size_t i = 0; i < n; i++) {
                    size_t at = rfk_pbjson_path_index (ctx, i);
                    if (s_field_value_from_json (field, json_array_get (value, i), items + i * size,
                                                 ctx, depth))
                        return -1;
                    rfk_pbjson_path_pop (ctx, at);
                    *RFK_PBJSON_AT (message, field->quantifier_offset, size_t) = i + 1;
                }
            }
        } else {
            if (s_field_value_from_json (field, value, member, ctx, depth))
                return -1;
            rfk_pbjson_mark_present (message, field);
        }
        rfk_pbjson_path_pop (ctx, old);
    }
    if (data) {
        const ProtobufCFieldDescriptor *field =
            protobuf_c_message_descriptor_get_field_by_name (desc, "data");
        if (!field || !rfk_pbjson_is_data_field (field))
            return rfk_pbjson_fail (ctx, "%s has no data field", desc->short_name);
        ProtobufCBinaryData *bin = RFK_PBJSON_AT (message, field->offset, ProtobufCBinaryData);
        size_t size = zchunk_size ((zchunk_t *)data);
        bin->len = size;
        bin->data = malloc (size ? size : 1);
        if (!bin->data)
            return rfk_pbjson_fail (ctx, "out of memory");
        if (size)
            memcpy (bin->data, zchunk_data ((zchunk_t *)data), size);
        rfk_pbjson_mark_present (message, field);
    }
    return 0;
}

//  A new message of desc from JSON (what JSON depends on the type: an object
//  for ordinary messages and Struct, an array for ListValue, anything for
//  Value). On error the partial message is freed.
static int
s_message_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, const zchunk_t *data,
                     ProtobufCMessage **message_p, rfk_pbjson_ctx_t *ctx, int depth)
{
    if (depth > RFK_MSG_MAX_DEPTH)
        return rfk_pbjson_fail (ctx, "field `%s` is nested too deeply", ctx->path);
    ProtobufCMessage *message = rfk_pbjson_message_new (desc);
    if (!message)
        return rfk_pbjson_fail (ctx, "out of memory");
    int rc;
    if (rfk_pbjson_is (desc, RFK_PBJSON_VALUE))
        rc = s_value_from_json (desc, json, message, ctx, depth);
    else if (rfk_pbjson_is (desc, RFK_PBJSON_STRUCT))
        rc = s_struct_from_json (desc, json, message, ctx, depth);
    else if (rfk_pbjson_is (desc, RFK_PBJSON_LIST))
        rc = s_list_from_json (desc, json, message, ctx, depth);
    else
        rc = s_fields_from_json (desc, json, data, message, ctx, depth);
    if (rc) {
        protobuf_c_message_free_unpacked (message, NULL);
        return -1;
    }
    *message_p = message;
    return 0;
}

//  rfk_pbjson_from_json with the depth of the message given: a body is at
//  depth 2, inside its envelope.
int
rfk_pbjson_from_json_at (const ProtobufCMessageDescriptor *desc, json_t *json, const zchunk_t *data,
                         ProtobufCMessage **message_p, char *err, size_t errlen, int depth)
{
    rfk_pbjson_ctx_t ctx = {.err = err, .errlen = errlen, .top = depth};
    if (!desc || !message_p)
        return rfk_pbjson_fail (&ctx, "no message type");
    json_t *empty = NULL;
    if (!json)
        json = empty = json_object ();
    int rc;
    if (!json_is_object (json))
        rc = rfk_pbjson_fail (&ctx, "the body of %s must be an object", desc->short_name);
    else
        rc = s_message_from_json (desc, json, data, message_p, &ctx, depth);
    json_decref (empty);
    return rc;
}

int
rfk_pbjson_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, const zchunk_t *data,
                      ProtobufCMessage **message_p, char *err, size_t errlen)
{
    return rfk_pbjson_from_json_at (desc, json, data, message_p, err, errlen, 1);
}
