/*  test_mpjson.c: JSON <-> msgpack (proto/rfk_mpjson), as the predictor's
    HTTP front and librafiki's rfk_sdk_predict use it: round trips, nesting
    bounds, big integers, what JSON cannot say (binary, ext, NaN, non-UTF-8
    text, non-string keys), and input that is not one msgpack object.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rfk_mpjson.h"

/*  The bytes a packer callback wrote, as a JSON value (asserts they convert). */
static json_t *
s_unpack_buffer (const msgpack_sbuffer *buffer)
{
    json_t *json = rfk_mpjson_unpack (buffer->data, buffer->size);
    assert_non_null (json);
    return json;
}

static void
s_assert_json (const json_t *value, const char *expect)
{
    json_t *want = json_loads (expect, JSON_DECODE_ANY, NULL);
    assert_non_null (want);
    if (!json_equal (want, value)) {
        char *got = json_dumps (value, JSON_ENCODE_ANY | JSON_COMPACT);
        fail_msg ("got %s, expected %s", got, expect);
        free (got);
    }
    json_decref (want);
}

/*  Usage: queries as JSON to msgpack and back, unchanged. */
static void
test_round_trips (void **state)
{
    (void)state;
    const char *samples[] = {
        "[[5.1, 3.5, 1.4, 0.2]]",
        "[{\"a\": [1, -2, 3000000000], \"b\": null, \"c\": true, \"d\": \"text\"}]",
        "[[], {}, \"\", 0, -9223372036854775807, 9223372036854775807, 1.5e300, false]",
        "{\"nested\": {\"deeper\": [[[{\"x\": \"\\u00e9t\\u00e9\"}]]]}}",
        "\"a lone string\"",
        "42",
        "null",
    };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        json_t *value = json_loads (samples[i], JSON_DECODE_ANY, NULL);
        assert_non_null (value);
        size_t size = 0;
        void *packed = rfk_mpjson_pack (value, 0, &size);
        assert_non_null (packed);
        assert_true (size > 0);
        json_t *back = rfk_mpjson_unpack (packed, size);
        s_assert_json (back, samples[i]);
        json_decref (back);
        free (packed);
        json_decref (value);
    }
    /*  Integers take their smallest encoding; reals are float64. */
    json_t *small = json_integer (5);
    size_t size = 0;
    void *packed = rfk_mpjson_pack (small, 0, &size);
    assert_int_equal (size, 1);
    assert_int_equal (((unsigned char *)packed)[0], 5);
    free (packed);
    json_decref (small);
    json_t *real = json_real (0.5);
    packed = rfk_mpjson_pack (real, 0, &size);
    assert_int_equal (size, 9);
    assert_int_equal (((unsigned char *)packed)[0], 0xcb);
    free (packed);
    json_decref (real);
}

/*  json nested n levels: [[[...[1]...]]]. */
static json_t *
s_nested (int n)
{
    json_t *value = json_integer (1);
    for (int i = 0; i < n; i++) {
        json_t *array = json_array ();
        json_array_append_new (array, value);
        value = array;
    }
    return value;
}

/*  A value deeper than the caller's bound (or the default) is refused. */
static void
test_nesting (void **state)
{
    (void)state;
    size_t size = 0;
    json_t *within = s_nested (32);
    void *packed = rfk_mpjson_pack (within, 32, &size);
    assert_non_null (packed);
    free (packed);
    json_t *deeper = s_nested (33);
    assert_null (rfk_mpjson_pack (deeper, 32, &size));
    packed = rfk_mpjson_pack (deeper, 0, &size); /* the default bound is 128 */
    assert_non_null (packed);
    free (packed);
    json_t *too_deep = s_nested (RFK_MPJSON_MAX_DEPTH + 1);
    assert_null (rfk_mpjson_pack (too_deep, 0, &size));
    json_decref (within);
    json_decref (deeper);
    json_decref (too_deep);
    /*  Unpacking a deep array never crashes: msgpack-c's own bound or ours. */
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    for (int i = 0; i < 200; i++)
        msgpack_sbuffer_write (&buffer, "\x91", 1);
    msgpack_sbuffer_write (&buffer, "\x01", 1);
    assert_null (rfk_mpjson_unpack (buffer.data, buffer.size));
    msgpack_sbuffer_destroy (&buffer);
}

/*  Integers beyond int64 become reals; int64's ends stay integers. */
static void
test_big_ints (void **state)
{
    (void)state;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 4);
    msgpack_pack_uint64 (&pk, UINT64_MAX);
    msgpack_pack_uint64 (&pk, (uint64_t)INT64_MAX);
    msgpack_pack_int64 (&pk, INT64_MIN);
    msgpack_pack_uint32 (&pk, 4000000000u);
    json_t *json = s_unpack_buffer (&buffer);
    assert_true (json_is_real (json_array_get (json, 0)));
    assert_true (json_real_value (json_array_get (json, 0)) > 1.8e19);
    assert_int_equal (json_integer_value (json_array_get (json, 1)), INT64_MAX);
    assert_int_equal (json_integer_value (json_array_get (json, 2)), INT64_MIN);
    assert_int_equal (json_integer_value (json_array_get (json, 3)), 4000000000LL);
    json_decref (json);
    msgpack_sbuffer_destroy (&buffer);
}

/*  What JSON cannot say: binary, other ext, NaN, non-UTF-8 text become
    null; a per-query error becomes {"error": why}; a key that is not a
    string becomes its JSON text. */
static void
test_binary_and_ext (void **state)
{
    (void)state;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 7);
    msgpack_pack_bin_with_body (&pk, "\x00\x01\xff", 3);
    msgpack_pack_ext_with_body (&pk, "the model failed", 16, 1);
    msgpack_pack_ext_with_body (&pk, "xy", 2, 7);
    msgpack_pack_double (&pk, 0.0 / 0.0);
    msgpack_pack_str_with_body (&pk, "\xff\xfe", 2);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_int (&pk, 3);
    msgpack_pack_str_with_body (&pk, "three", 5);
    msgpack_pack_str_with_body (&pk, "", 0);
    msgpack_pack_true (&pk);
    msgpack_pack_float (&pk, 0.25f);
    json_t *json = s_unpack_buffer (&buffer);
    s_assert_json (json, "[null, {\"error\": \"the model failed\"}, null, null, null, "
                         "{\"3\": \"three\", \"\": true}, 0.25]");
    json_decref (json);
    msgpack_sbuffer_destroy (&buffer);
}

/*  Bytes that are not exactly one msgpack object are refused. */
static void
test_invalid_input (void **state)
{
    (void)state;
    json_t *value = json_loads ("[1, \"two\", {\"three\": [3.0]}]", 0, NULL);
    size_t size = 0;
    void *packed = rfk_mpjson_pack (value, 0, &size);
    assert_non_null (packed);
    for (size_t cut = 0; cut < size; cut++)
        assert_null (rfk_mpjson_unpack (packed, cut));
    free (packed);
    json_decref (value);
    assert_null (rfk_mpjson_unpack (NULL, 4));
    assert_null (rfk_mpjson_unpack ("\x01\x02", 2));     /* trailing bytes */
    assert_null (rfk_mpjson_unpack ("\xc1", 1));         /* never used */
    assert_null (rfk_mpjson_unpack ("\xdd\xff\xff", 3)); /* a cut array32 header */
    assert_null (rfk_mpjson_pack (NULL, 0, &size));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_round_trips),   cmocka_unit_test (test_nesting),
        cmocka_unit_test (test_big_ints),      cmocka_unit_test (test_binary_and_ext),
        cmocka_unit_test (test_invalid_input),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
