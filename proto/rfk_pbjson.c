/*  rfk_pbjson.c: protobuf-c messages <-> jansson, driven by descriptors.

    The converter walks ProtobufCMessageDescriptor tables and writes or
    reads message structs through the offsets the descriptors give, so it
    serves every family without including any generated header. It also
    implements the envelope codec every family module wraps: the size cap,
    a nesting check on the wire bytes (protobuf-c's unpack recurses without
    a limit), unpack, and the body oneof. See rfk_pbjson.h for the mapping.
*/
#include "rfk_pbjson.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The path of the field being converted, for error messages, and where
   errors go. */
typedef struct {
    char *err;      /* caller's buffer, or NULL */
    size_t errlen;  /* its size */
    char path[256]; /* e.g. "sub_train_jobs[0].status" */
    size_t path_len;
    int top; /* the depth of the top message (the envelope is 1) */
} s_ctx_t;

#define S_AT(m, offset, T) ((T *)((char *)(m) + (offset)))
#define S_AT_CONST(m, offset, T) ((const T *)((const char *)(m) + (offset)))

static int
s_fail (s_ctx_t *ctx, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

//  Record an error message; always returns -1.
static int
s_fail (s_ctx_t *ctx, const char *format, ...)
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
static size_t
s_path_push (s_ctx_t *ctx, const char *name)
{
    size_t old = ctx->path_len;
    int n = snprintf (ctx->path + old, sizeof ctx->path - old, "%s%s", old ? "." : "", name);
    if (n > 0)
        ctx->path_len = old + (size_t)n < sizeof ctx->path ? old + (size_t)n : sizeof ctx->path - 1;
    return old;
}

//  Append "[index]" to the path; returns the old length.
static size_t
s_path_index (s_ctx_t *ctx, size_t index)
{
    size_t old = ctx->path_len;
    int n = snprintf (ctx->path + old, sizeof ctx->path - old, "[%zu]", index);
    if (n > 0)
        ctx->path_len = old + (size_t)n < sizeof ctx->path ? old + (size_t)n : sizeof ctx->path - 1;
    return old;
}

static void
s_path_pop (s_ctx_t *ctx, size_t old)
{
    ctx->path_len = old;
    ctx->path[old] = 0;
}

static bool
s_is (const ProtobufCMessageDescriptor *desc, const char *name)
{
    return desc && desc->name && strcmp (desc->name, name) == 0;
}

#define S_VALUE "rfk.Value"
#define S_STRUCT "rfk.Struct"
#define S_LIST "rfk.ListValue"

//  The size of one element of a field of this type in a repeated array.
static size_t
s_sizeof (ProtobufCType type)
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

//  True when a field of a message is set.
static bool
s_present (const ProtobufCMessage *message, const ProtobufCFieldDescriptor *field)
{
    const void *member = S_AT_CONST (message, field->offset, char);
    if (field->label == PROTOBUF_C_LABEL_REPEATED)
        return *S_AT_CONST (message, field->quantifier_offset, size_t) > 0;
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *S_AT_CONST (message, field->quantifier_offset, uint32_t) == field->id;
    if (field->type == PROTOBUF_C_TYPE_STRING) {
        const char *s = *(char *const *)member;
        if (field->label == PROTOBUF_C_LABEL_NONE)
            return s && *s;
        return s != NULL;
    }
    if (field->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(ProtobufCMessage *const *)member != NULL;
    if (field->label == PROTOBUF_C_LABEL_OPTIONAL)
        return *S_AT_CONST (message, field->quantifier_offset, protobuf_c_boolean) != 0;
    if (field->label == PROTOBUF_C_LABEL_REQUIRED)
        return true;
    //  proto3 without presence: set when not the zero value
    if (field->type == PROTOBUF_C_TYPE_BYTES)
        return ((const ProtobufCBinaryData *)member)->len > 0;
    size_t size = s_sizeof (field->type);
    const unsigned char *bytes = member;
    for (size_t i = 0; i < size; i++)
        if (bytes[i])
            return true;
    return false;
}

//  Mark a (non-repeated) field as set after its value was stored.
static void
s_mark_present (ProtobufCMessage *message, const ProtobufCFieldDescriptor *field)
{
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *S_AT (message, field->quantifier_offset, uint32_t) = field->id;
    else if (field->label == PROTOBUF_C_LABEL_OPTIONAL && field->type != PROTOBUF_C_TYPE_STRING &&
             field->type != PROTOBUF_C_TYPE_MESSAGE)
        *S_AT (message, field->quantifier_offset, protobuf_c_boolean) = 1;
}

//  True for the body field that travels as rfk_msg_t.data.
static bool
s_is_data_field (const ProtobufCFieldDescriptor *field)
{
    return field->type == PROTOBUF_C_TYPE_BYTES && field->label != PROTOBUF_C_LABEL_REPEATED &&
           strcmp (field->name, "data") == 0;
}

static ProtobufCMessage *
s_message_new (const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *message = calloc (1, desc->sizeof_message);
    if (message)
        desc->message_init (message);
    return message;
}

// ---- base64, for bytes fields other than the body's data ------------------

static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *
s_base64_encode (const uint8_t *data, size_t len)
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
static int
s_base64_decode (const char *text, ProtobufCBinaryData *bin)
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

// ---- protobuf -> JSON -------------------------------------------------------

static json_t *
s_message_to_json (const ProtobufCMessage *message, zchunk_t **data_p, s_ctx_t *ctx, int depth);

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
s_field_value_to_json (const ProtobufCFieldDescriptor *field, const void *value, s_ctx_t *ctx,
                       int depth)
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
                s_fail (ctx, "field `%s` has unknown value %d", ctx->path, v);
                return NULL;
            }
            json = json_string (ev->name);
            break;
        }
        case PROTOBUF_C_TYPE_STRING: {
            const char *s = *(char *const *)value;
            json = json_string (s ? s : "");
            if (!json) {
                s_fail (ctx, "field `%s` is not UTF-8", ctx->path);
                return NULL;
            }
            break;
        }
        case PROTOBUF_C_TYPE_BYTES: {
            const ProtobufCBinaryData *bin = value;
            char *text = s_base64_encode (bin->data, bin->len);
            if (text)
                json = json_string (text);
            free (text);
            break;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)value;
            if (!sub)
                return json_null ();
            return s_message_to_json (sub, NULL, ctx, depth + 1);
        }
    }
    if (!json)
        s_fail (ctx, "out of memory converting field `%s`", ctx->path);
    return json;
}

//  rfk.Value as any JSON. A number that is not finite has no JSON form and
//  becomes null.
static json_t *
s_value_to_json (const ProtobufCMessage *message, s_ctx_t *ctx, int depth)
{
    const ProtobufCMessageDescriptor *desc = message->descriptor;
    if (desc->n_fields == 0)
        return json_null ();
    uint32_t which = *S_AT_CONST (message, desc->fields[0].quantifier_offset, uint32_t);
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field (desc, which);
    if (!field)
        return json_null ();
    const void *member = S_AT_CONST (message, field->offset, char);
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
            return s_message_to_json (sub, NULL, ctx, depth + 1);
        }
        default:
            return s_field_value_to_json (field, member, ctx, depth);
    }
}

//  rfk.ListValue as a JSON array.
static json_t *
s_list_to_json (const ProtobufCMessage *message, s_ctx_t *ctx, int depth)
{
    json_t *array = json_array ();
    const ProtobufCMessageDescriptor *desc = message->descriptor;
    if (!array || desc->n_fields < 1) {
        json_decref (array);
        s_fail (ctx, "out of memory converting field `%s`", ctx->path);
        return NULL;
    }
    const ProtobufCFieldDescriptor *field = &desc->fields[0];
    size_t n = *S_AT_CONST (message, field->quantifier_offset, size_t);
    ProtobufCMessage *const *values =
        *(ProtobufCMessage * *const *)((const char *)message + field->offset);
    for (size_t i = 0; i < n; i++) {
        size_t old = s_path_index (ctx, i);
        json_t *item =
            values[i] ? s_message_to_json (values[i], NULL, ctx, depth + 1) : json_null ();
        s_path_pop (ctx, old);
        if (!item || json_array_append_new (array, item)) {
            json_decref (array);
            return NULL;
        }
    }
    return array;
}

//  rfk.Struct as a JSON object; a repeated key keeps its last value.
static json_t *
s_struct_to_json (const ProtobufCMessage *message, s_ctx_t *ctx, int depth)
{
    json_t *object = json_object ();
    const ProtobufCMessageDescriptor *desc = message->descriptor;
    if (!object || desc->n_fields < 1) {
        json_decref (object);
        s_fail (ctx, "out of memory converting field `%s`", ctx->path);
        return NULL;
    }
    const ProtobufCFieldDescriptor *field = &desc->fields[0];
    const ProtobufCMessageDescriptor *member_desc = field->descriptor;
    const ProtobufCFieldDescriptor *key_field =
        protobuf_c_message_descriptor_get_field_by_name (member_desc, "key");
    const ProtobufCFieldDescriptor *value_field =
        protobuf_c_message_descriptor_get_field_by_name (member_desc, "value");
    size_t n = *S_AT_CONST (message, field->quantifier_offset, size_t);
    ProtobufCMessage *const *members =
        *(ProtobufCMessage * *const *)((const char *)message + field->offset);
    for (size_t i = 0; i < n; i++) {
        if (!members[i])
            continue;
        const char *key = *S_AT_CONST (members[i], key_field->offset, char *);
        const ProtobufCMessage *value =
            *S_AT_CONST (members[i], value_field->offset, ProtobufCMessage *);
        if (!key)
            key = "";
        size_t old = s_path_push (ctx, key);
        json_t *item = value ? s_message_to_json (value, NULL, ctx, depth + 2) : json_null ();
        if (item && json_object_set_new (object, key, item)) {
            s_fail (ctx, "key `%s` is not UTF-8", ctx->path);
            item = NULL;
        }
        s_path_pop (ctx, old);
        if (!item) {
            json_decref (object);
            return NULL;
        }
    }
    return object;
}

//  A message as a JSON object (or, for Value, Struct, ListValue, as the JSON
//  they carry). data_p, when not NULL, takes the `bytes data` field.
static json_t *
s_message_to_json (const ProtobufCMessage *message, zchunk_t **data_p, s_ctx_t *ctx, int depth)
{
    if (depth > RFK_MSG_MAX_DEPTH) {
        s_fail (ctx, "field `%s` is nested too deeply", ctx->path);
        return NULL;
    }
    const ProtobufCMessageDescriptor *desc = message->descriptor;
    if (s_is (desc, S_VALUE))
        return s_value_to_json (message, ctx, depth);
    if (s_is (desc, S_STRUCT))
        return s_struct_to_json (message, ctx, depth);
    if (s_is (desc, S_LIST))
        return s_list_to_json (message, ctx, depth);

    json_t *object = json_object ();
    if (!object) {
        s_fail (ctx, "out of memory");
        return NULL;
    }
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[i];
        if (!s_present (message, field))
            continue;
        const void *member = S_AT_CONST (message, field->offset, char);
        if (data_p && s_is_data_field (field)) {
            const ProtobufCBinaryData *bin = member;
            zchunk_destroy (data_p);
            *data_p = zchunk_new (bin->data, bin->len);
            continue;
        }
        size_t old = s_path_push (ctx, field->name);
        json_t *json;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *S_AT_CONST (message, field->quantifier_offset, size_t);
            const char *items = *(char *const *)member;
            size_t size = s_sizeof (field->type);
            json = json_array ();
            for (size_t j = 0; json && j < n; j++) {
                size_t at = s_path_index (ctx, j);
                json_t *item = s_field_value_to_json (field, items + j * size, ctx, depth);
                s_path_pop (ctx, at);
                if (!item || json_array_append_new (json, item)) {
                    json_decref (json);
                    json = NULL;
                }
            }
        } else
            json = s_field_value_to_json (field, member, ctx, depth);
        s_path_pop (ctx, old);
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
    s_ctx_t ctx = {.err = err, .errlen = errlen, .top = 1};
    if (!message || !json_p)
        return s_fail (&ctx, "no message");
    if (data_p)
        *data_p = NULL;
    *json_p = s_message_to_json (message, data_p, &ctx, 1);
    if (!*json_p) {
        if (data_p)
            zchunk_destroy (data_p);
        return -1;
    }
    return 0;
}

// ---- JSON -> protobuf -------------------------------------------------------

static int
s_message_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, const zchunk_t *data,
                     ProtobufCMessage **message_p, s_ctx_t *ctx, int depth);

//  A signed integer in [min, max] from a JSON integer or a decimal string.
static int
s_get_int (json_t *json, long long min, long long max, long long *out, s_ctx_t *ctx)
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
            return s_fail (ctx, "field `%s` must be an integer", ctx->path);
    } else
        return s_fail (ctx, "field `%s` must be an integer", ctx->path);
    if (v < min || v > max)
        return s_fail (ctx, "field `%s` must be an integer from %lld to %lld", ctx->path, min, max);
    *out = v;
    return 0;
}

//  An unsigned integer up to max from a JSON integer or a decimal string.
static int
s_get_uint (json_t *json, unsigned long long max, unsigned long long *out, s_ctx_t *ctx)
{
    unsigned long long v;
    if (json_is_integer (json)) {
        if (json_integer_value (json) < 0)
            return s_fail (ctx, "field `%s` must be an integer from 0 to %llu", ctx->path, max);
        v = (unsigned long long)json_integer_value (json);
    } else if (json_is_string (json)) {
        const char *text = json_string_value (json);
        char *end;
        errno = 0;
        v = strtoull (text, &end, 10);
        if (*text < '0' || *text > '9' || *end || errno)
            return s_fail (ctx, "field `%s` must be an integer", ctx->path);
    } else
        return s_fail (ctx, "field `%s` must be an integer", ctx->path);
    if (v > max)
        return s_fail (ctx, "field `%s` must be an integer from 0 to %llu", ctx->path, max);
    *out = v;
    return 0;
}

//  A number from a JSON number, a decimal string, "NaN", "Infinity" or
//  "-Infinity".
static int
s_get_double (json_t *json, double *out, s_ctx_t *ctx)
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
    return s_fail (ctx, "field `%s` must be a number", ctx->path);
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

//  Store one value (one element, for repeated fields) of a field from JSON.
static int
s_field_value_from_json (const ProtobufCFieldDescriptor *field, json_t *json, void *dst,
                         s_ctx_t *ctx, int depth)
{
    long long i;
    unsigned long long u;
    double d;
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
            if (s_get_int (json, INT32_MIN, INT32_MAX, &i, ctx))
                return -1;
            *(int32_t *)dst = (int32_t)i;
            return 0;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            if (s_get_uint (json, UINT32_MAX, &u, ctx))
                return -1;
            *(uint32_t *)dst = (uint32_t)u;
            return 0;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            if (s_get_int (json, INT64_MIN, INT64_MAX, &i, ctx))
                return -1;
            *(int64_t *)dst = (int64_t)i;
            return 0;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            if (s_get_uint (json, UINT64_MAX, &u, ctx))
                return -1;
            *(uint64_t *)dst = (uint64_t)u;
            return 0;
        case PROTOBUF_C_TYPE_FLOAT:
            if (s_get_double (json, &d, ctx))
                return -1;
            if (isfinite (d) && (d > FLT_MAX || d < -FLT_MAX))
                return s_fail (ctx, "field `%s` is out of range", ctx->path);
            *(float *)dst = (float)d;
            return 0;
        case PROTOBUF_C_TYPE_DOUBLE:
            if (s_get_double (json, &d, ctx))
                return -1;
            *(double *)dst = d;
            return 0;
        case PROTOBUF_C_TYPE_BOOL:
            if (json_is_boolean (json))
                *(protobuf_c_boolean *)dst = json_is_true (json);
            else if (json_is_string (json) && streq (json_string_value (json), "true"))
                *(protobuf_c_boolean *)dst = 1;
            else if (json_is_string (json) && streq (json_string_value (json), "false"))
                *(protobuf_c_boolean *)dst = 0;
            else
                return s_fail (ctx, "field `%s` must be a boolean", ctx->path);
            return 0;
        case PROTOBUF_C_TYPE_ENUM: {
            const ProtobufCEnumDescriptor *desc = field->descriptor;
            const ProtobufCEnumValue *ev = NULL;
            if (json_is_string (json))
                ev = protobuf_c_enum_descriptor_get_value_by_name (desc, json_string_value (json));
            else if (json_is_integer (json) && json_integer_value (json) >= INT32_MIN &&
                     json_integer_value (json) <= INT32_MAX)
                ev = protobuf_c_enum_descriptor_get_value (desc, (int)json_integer_value (json));
            if (!ev) {
                char names[200];
                s_enum_names (desc, names, sizeof names);
                return s_fail (ctx, "field `%s` must be one of %s", ctx->path, names);
            }
            *(int *)dst = ev->value;
            return 0;
        }
        case PROTOBUF_C_TYPE_STRING: {
            if (!json_is_string (json))
                return s_fail (ctx, "field `%s` must be a string", ctx->path);
            char *copy = strdup (json_string_value (json));
            if (!copy)
                return s_fail (ctx, "out of memory");
            *(char **)dst = copy;
            return 0;
        }
        case PROTOBUF_C_TYPE_BYTES:
            if (!json_is_string (json) ||
                s_base64_decode (json_string_value (json), (ProtobufCBinaryData *)dst))
                return s_fail (ctx, "field `%s` must be a base64 string", ctx->path);
            return 0;
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessageDescriptor *desc = field->descriptor;
            if (s_is (desc, S_LIST)) {
                if (!json_is_array (json))
                    return s_fail (ctx, "field `%s` must be an array", ctx->path);
            } else if (!s_is (desc, S_VALUE) && !json_is_object (json))
                return s_fail (ctx, "field `%s` must be an object", ctx->path);
            return s_message_from_json (desc, json, NULL, (ProtobufCMessage **)dst, ctx, depth + 1);
        }
    }
    return s_fail (ctx, "field `%s` has an unsupported type", ctx->path);
}

//  The field of a message whose type is `type` (and, for messages, whose
//  message type is named `name`).
static const ProtobufCFieldDescriptor *
s_field_of_type (const ProtobufCMessageDescriptor *desc, ProtobufCType type, const char *name)
{
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (desc->fields[i].type == type && (!name || s_is (desc->fields[i].descriptor, name)))
            return &desc->fields[i];
    return NULL;
}

//  rfk.Value from any JSON.
static int
s_value_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, ProtobufCMessage *message,
                   s_ctx_t *ctx, int depth)
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
            field = s_field_of_type (desc, PROTOBUF_C_TYPE_MESSAGE, S_LIST);
            break;
        case JSON_OBJECT:
            field = s_field_of_type (desc, PROTOBUF_C_TYPE_MESSAGE, S_STRUCT);
            break;
    }
    if (!field)
        return s_fail (ctx, "field `%s` has a value of an unsupported type", ctx->path);
    void *member = S_AT (message, field->offset, char);
    if (json_is_null (json))
        *(int *)member = 0;
    else if (s_field_value_from_json (field, json, member, ctx, depth))
        return -1;
    s_mark_present (message, field);
    return 0;
}

//  rfk.ListValue from a JSON array.
static int
s_list_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, ProtobufCMessage *message,
                  s_ctx_t *ctx, int depth)
{
    const ProtobufCFieldDescriptor *field = &desc->fields[0];
    size_t n = json_array_size (json);
    if (n == 0)
        return 0;
    ProtobufCMessage **values = calloc (n, sizeof *values);
    if (!values)
        return s_fail (ctx, "out of memory");
    *S_AT (message, field->offset, ProtobufCMessage **) = values;
    for (size_t i = 0; i < n; i++) {
        size_t old = s_path_index (ctx, i);
        int rc = s_message_from_json (field->descriptor, json_array_get (json, i), NULL, &values[i],
                                      ctx, depth + 1);
        s_path_pop (ctx, old);
        if (rc)
            return -1;
        *S_AT (message, field->quantifier_offset, size_t) = i + 1;
    }
    return 0;
}

//  rfk.Struct from a JSON object, keeping the member order.
static int
s_struct_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, ProtobufCMessage *message,
                    s_ctx_t *ctx, int depth)
{
    const ProtobufCFieldDescriptor *field = &desc->fields[0];
    const ProtobufCMessageDescriptor *member_desc = field->descriptor;
    const ProtobufCFieldDescriptor *key_field =
        protobuf_c_message_descriptor_get_field_by_name (member_desc, "key");
    const ProtobufCFieldDescriptor *value_field =
        protobuf_c_message_descriptor_get_field_by_name (member_desc, "value");
    size_t n = json_object_size (json);
    if (n == 0)
        return 0;
    if (depth + 1 > RFK_MSG_MAX_DEPTH)
        return s_fail (ctx, "field `%s` is nested too deeply", ctx->path);
    ProtobufCMessage **members = calloc (n, sizeof *members);
    if (!members)
        return s_fail (ctx, "out of memory");
    *S_AT (message, field->offset, ProtobufCMessage **) = members;
    const char *key;
    json_t *value;
    size_t i = 0;
    json_object_foreach (json, key, value)
    {
        ProtobufCMessage *member = s_message_new (member_desc);
        if (!member)
            return s_fail (ctx, "out of memory");
        members[i] = member;
        *S_AT (message, field->quantifier_offset, size_t) = ++i;
        char *copy = strdup (key);
        if (!copy)
            return s_fail (ctx, "out of memory");
        *S_AT (member, key_field->offset, char *) = copy;
        size_t old = s_path_push (ctx, key);
        int rc = s_message_from_json (value_field->descriptor, value, NULL,
                                      S_AT (member, value_field->offset, ProtobufCMessage *), ctx,
                                      depth + 2);
        s_path_pop (ctx, old);
        if (rc)
            return -1;
    }
    return 0;
}

//  Set every field of an ordinary message from a JSON object.
static int
s_fields_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, const zchunk_t *data,
                    ProtobufCMessage *message, s_ctx_t *ctx, int depth)
{
    const char *key;
    json_t *value;
    json_object_foreach (json, key, value)
    {
        const ProtobufCFieldDescriptor *field =
            protobuf_c_message_descriptor_get_field_by_name (desc, key);
        size_t old = s_path_push (ctx, key);
        if (!field) {
            s_fail (ctx, "unknown field `%s` in %s", ctx->path, desc->short_name);
            return -1;
        }
        if (depth == ctx->top && s_is_data_field (field)) {
            s_fail (ctx, "field `%s` is binary: it travels as the message's data, not in JSON",
                    ctx->path);
            return -1;
        }
        if (json_is_null (value)) {
            s_path_pop (ctx, old);
            continue;
        }
        if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *S_AT (message, field->quantifier_offset, uint32_t);
            const ProtobufCFieldDescriptor *other =
                which ? protobuf_c_message_descriptor_get_field (desc, which) : NULL;
            if (other && other != field)
                return s_fail (ctx, "fields `%s` and `%s` cannot both be set", other->name,
                               field->name);
        }
        void *member = S_AT (message, field->offset, char);
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            if (!json_is_array (value))
                return s_fail (ctx, "field `%s` must be an array", ctx->path);
            size_t n = json_array_size (value);
            size_t size = s_sizeof (field->type);
            if (n > 0) {
                char *items = calloc (n, size);
                if (!items)
                    return s_fail (ctx, "out of memory");
                *(char **)member = items;
                for (size_t i = 0; i < n; i++) {
                    size_t at = s_path_index (ctx, i);
                    if (s_field_value_from_json (field, json_array_get (value, i), items + i * size,
                                                 ctx, depth))
                        return -1;
                    s_path_pop (ctx, at);
                    *S_AT (message, field->quantifier_offset, size_t) = i + 1;
                }
            }
        } else {
            if (s_field_value_from_json (field, value, member, ctx, depth))
                return -1;
            s_mark_present (message, field);
        }
        s_path_pop (ctx, old);
    }
    if (data) {
        const ProtobufCFieldDescriptor *field =
            protobuf_c_message_descriptor_get_field_by_name (desc, "data");
        if (!field || !s_is_data_field (field))
            return s_fail (ctx, "%s has no data field", desc->short_name);
        ProtobufCBinaryData *bin = S_AT (message, field->offset, ProtobufCBinaryData);
        size_t size = zchunk_size ((zchunk_t *)data);
        bin->len = size;
        bin->data = malloc (size ? size : 1);
        if (!bin->data)
            return s_fail (ctx, "out of memory");
        if (size)
            memcpy (bin->data, zchunk_data ((zchunk_t *)data), size);
        s_mark_present (message, field);
    }
    return 0;
}

//  A new message of desc from JSON (what JSON depends on the type: an object
//  for ordinary messages and Struct, an array for ListValue, anything for
//  Value). On error the partial message is freed.
static int
s_message_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, const zchunk_t *data,
                     ProtobufCMessage **message_p, s_ctx_t *ctx, int depth)
{
    if (depth > RFK_MSG_MAX_DEPTH)
        return s_fail (ctx, "field `%s` is nested too deeply", ctx->path);
    ProtobufCMessage *message = s_message_new (desc);
    if (!message)
        return s_fail (ctx, "out of memory");
    int rc;
    if (s_is (desc, S_VALUE))
        rc = s_value_from_json (desc, json, message, ctx, depth);
    else if (s_is (desc, S_STRUCT))
        rc = s_struct_from_json (desc, json, message, ctx, depth);
    else if (s_is (desc, S_LIST))
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
static int
s_from_json_at (const ProtobufCMessageDescriptor *desc, json_t *json, const zchunk_t *data,
                ProtobufCMessage **message_p, char *err, size_t errlen, int depth)
{
    s_ctx_t ctx = {.err = err, .errlen = errlen, .top = depth};
    if (!desc || !message_p)
        return s_fail (&ctx, "no message type");
    json_t *empty = NULL;
    if (!json)
        json = empty = json_object ();
    int rc;
    if (!json_is_object (json))
        rc = s_fail (&ctx, "the body of %s must be an object", desc->short_name);
    else
        rc = s_message_from_json (desc, json, data, message_p, &ctx, depth);
    json_decref (empty);
    return rc;
}

int
rfk_pbjson_from_json (const ProtobufCMessageDescriptor *desc, json_t *json, const zchunk_t *data,
                      ProtobufCMessage **message_p, char *err, size_t errlen)
{
    return s_from_json_at (desc, json, data, message_p, err, errlen, 1);
}

// ---- envelopes --------------------------------------------------------------

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
            uint32_t which = *S_AT (env, envelope->fields[i].quantifier_offset, uint32_t);
            body_field = s_body_field (envelope, (int)which);
            if (!body_field)
                break;
        }
    ProtobufCMessage *body =
        body_field ? *S_AT (env, body_field->offset, ProtobufCMessage *) : NULL;
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
    if (field && field->type == PROTOBUF_C_TYPE_UINT64 && s_present (env, field))
        msg->correlation = *S_AT (env, field->offset, uint64_t);
    field = protobuf_c_message_descriptor_get_field_by_name (envelope, "token");
    int rc = 0;
    if (field && field->type == PROTOBUF_C_TYPE_STRING && s_present (env, field)) {
        msg->token = strdup (*S_AT (env, field->offset, char *));
        if (!msg->token)
            rc = -1;
    }
    s_ctx_t ctx = {.top = 2};
    if (rc == 0) {
        msg->body = s_message_to_json (body, &msg->data, &ctx, 2);
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
    s_ctx_t ctx = {.err = err, .errlen = errlen};
    if (!msg || !frame_p)
        return s_fail (&ctx, "no message");
    const ProtobufCFieldDescriptor *body_field = s_body_field (envelope, msg->kind);
    if (!body_field)
        return s_fail (&ctx, "%s messages have no body of kind %d", envelope->package_name,
                       msg->kind);
    const ProtobufCMessageDescriptor *body_desc = body_field->descriptor;
    if (msg->type && strcmp (msg->type, body_desc->short_name) != 0)
        return s_fail (&ctx, "message kind %d is %s, not %s", msg->kind, body_desc->short_name,
                       msg->type);
    ProtobufCMessage *body = NULL;
    if (s_from_json_at (body_desc, msg->body, msg->data, &body, err, errlen, 2))
        return -1;
    ProtobufCMessage *env = s_message_new (envelope);
    if (!env) {
        protobuf_c_message_free_unpacked (body, NULL);
        return s_fail (&ctx, "out of memory");
    }
    *S_AT (env, body_field->offset, ProtobufCMessage *) = body;
    s_mark_present (env, body_field);
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name (envelope, "correlation");
    if (field && field->type == PROTOBUF_C_TYPE_UINT64 && msg->correlation) {
        *S_AT (env, field->offset, uint64_t) = msg->correlation;
        s_mark_present (env, field);
    }
    //  The token is lent to the envelope for packing, and taken back before
    //  the envelope is freed.
    const ProtobufCFieldDescriptor *token_field =
        protobuf_c_message_descriptor_get_field_by_name (envelope, "token");
    if (token_field && token_field->type == PROTOBUF_C_TYPE_STRING && msg->token)
        *S_AT (env, token_field->offset, char *) = msg->token;

    size_t size = protobuf_c_message_get_packed_size (env);
    zframe_t *frame = zframe_new (NULL, size);
    if (frame)
        protobuf_c_message_pack (env, zframe_data (frame));
    if (token_field && token_field->type == PROTOBUF_C_TYPE_STRING)
        *S_AT (env, token_field->offset, char *) = NULL;
    protobuf_c_message_free_unpacked (env, NULL);
    if (!frame)
        return s_fail (&ctx, "out of memory");
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
