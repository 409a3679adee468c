/*  rfk_mpjson.c: JSON <-> msgpack (see rfk_mpjson.h).

    Packing walks the jansson value with msgpack-c's packer into an sbuffer
    whose storage is handed to the caller. Unpacking lets msgpack-c's
    unpacker build the object tree (its zone is freed at the end) and walks
    that into jansson values.
*/
#include "rfk_mpjson.h"

#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The msgpack ext type of a per-query error (RAFIKI_MSGPACK_EXT_ERROR). */
#define S_EXT_ERROR 1

/*  Packs one JSON value at depth. 0, or -1 when nested deeper than max. */
static int
s_pack (msgpack_packer *pk, const json_t *value, int depth, int max)
{
    if (depth > max)
        return -1;
    switch (json_typeof (value)) {
        case JSON_NULL:
            return msgpack_pack_nil (pk);
        case JSON_TRUE:
            return msgpack_pack_true (pk);
        case JSON_FALSE:
            return msgpack_pack_false (pk);
        case JSON_INTEGER:
            return msgpack_pack_int64 (pk, (int64_t)json_integer_value (value));
        case JSON_REAL:
            return msgpack_pack_double (pk, json_real_value (value));
        case JSON_STRING: {
            size_t length = json_string_length (value);
            msgpack_pack_str (pk, length);
            return msgpack_pack_str_body (pk, json_string_value (value), length);
        }
        case JSON_ARRAY: {
            msgpack_pack_array (pk, json_array_size (value));
            size_t index;
            json_t *item;
            json_array_foreach (value, index, item)
            {
                if (s_pack (pk, item, depth + 1, max) != 0)
                    return -1;
            }
            return 0;
        }
        case JSON_OBJECT: {
            msgpack_pack_map (pk, json_object_size (value));
            const char *key;
            json_t *item;
            json_object_foreach ((json_t *)value, key, item)
            {
                size_t length = strlen (key);
                msgpack_pack_str (pk, length);
                msgpack_pack_str_body (pk, key, length);
                if (s_pack (pk, item, depth + 1, max) != 0)
                    return -1;
            }
            return 0;
        }
    }
    return -1;
}

void *
rfk_mpjson_pack (const json_t *value, int max_depth, size_t *size_p)
{
    if (!value || !size_p)
        return NULL;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    if (s_pack (&pk, value, 0, max_depth > 0 ? max_depth : RFK_MPJSON_MAX_DEPTH) != 0 ||
        !buffer.data) {
        msgpack_sbuffer_destroy (&buffer);
        return NULL;
    }
    *size_p = buffer.size;
    /*  The sbuffer's storage is malloc'd: hand it over. */
    return msgpack_sbuffer_release (&buffer);
}

static json_t *
s_unpack (const msgpack_object *object, int depth);

/*  A map as a JSON object; keys that are not strings as their JSON text. */
static json_t *
s_unpack_map (const msgpack_object_map *map, int depth)
{
    json_t *object = json_object ();
    for (uint32_t i = 0; object && i < map->size; i++) {
        const msgpack_object *key = &map->ptr[i].key;
        json_t *item = s_unpack (&map->ptr[i].val, depth + 1);
        if (!item) {
            json_decref (object);
            return NULL;
        }
        if (key->type == MSGPACK_OBJECT_STR)
            json_object_setn_new (object, key->via.str.size ? key->via.str.ptr : "",
                                  key->via.str.size, item);
        else {
            json_t *as_json = s_unpack (key, depth + 1);
            char *text = as_json ? json_dumps (as_json, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
            json_object_set_new (object, text ? text : "?", item);
            free (text);
            json_decref (as_json);
        }
    }
    return object;
}

/*  An array as a JSON array. */
static json_t *
s_unpack_array (const msgpack_object_array *array, int depth)
{
    json_t *list = json_array ();
    for (uint32_t i = 0; list && i < array->size; i++) {
        json_t *item = s_unpack (&array->ptr[i], depth + 1);
        if (!item) {
            json_decref (list);
            return NULL;
        }
        json_array_append_new (list, item);
    }
    return list;
}

static json_t *
s_unpack (const msgpack_object *object, int depth)
{
    if (depth > RFK_MPJSON_MAX_DEPTH)
        return NULL;
    switch (object->type) {
        case MSGPACK_OBJECT_NIL:
            return json_null ();
        case MSGPACK_OBJECT_BOOLEAN:
            return json_boolean (object->via.boolean);
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            if (object->via.u64 > (uint64_t)INT64_MAX)
                return json_real ((double)object->via.u64);
            return json_integer ((json_int_t)object->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return json_integer ((json_int_t)object->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return isfinite (object->via.f64) ? json_real (object->via.f64) : json_null ();
        case MSGPACK_OBJECT_STR: {
            /*  Text that is not UTF-8 cannot be JSON text. */
            json_t *text = object->via.str.size
                               ? json_stringn (object->via.str.ptr, object->via.str.size)
                               : json_string ("");
            return text ? text : json_null ();
        }
        case MSGPACK_OBJECT_ARRAY:
            return s_unpack_array (&object->via.array, depth);
        case MSGPACK_OBJECT_MAP:
            return s_unpack_map (&object->via.map, depth);
        case MSGPACK_OBJECT_EXT:
            if (object->via.ext.type == S_EXT_ERROR) {
                json_t *why = json_stringn (object->via.ext.ptr, object->via.ext.size);
                return json_pack ("{s:o}", "error", why ? why : json_string ("error"));
            }
            return json_null ();
        default:
            return json_null (); /* binary: nothing JSON can say */
    }
}

json_t *
rfk_mpjson_unpack (const void *data, size_t size)
{
    if (!data || size == 0)
        return NULL;
    msgpack_unpacked result;
    msgpack_unpacked_init (&result);
    size_t offset = 0;
    json_t *json = NULL;
    msgpack_unpack_return rc = msgpack_unpack_next (&result, (const char *)data, size, &offset);
    if (rc == MSGPACK_UNPACK_SUCCESS && offset == size)
        json = s_unpack (&result.data, 0);
    msgpack_unpacked_destroy (&result);
    return json;
}
