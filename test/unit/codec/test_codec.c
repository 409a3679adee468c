/*  test_codec.c: the message codecs of every family (proto/).

    A round trip for every message type of every family, the errors a user
    sees when JSON does not fit a message, and frames from a hostile peer:
    garbage, every truncation of valid envelopes, oversize frames and
    frames nested too deeply. Bad frames give -1/-2, never a crash.
*/
#include "codec_samples.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define MAX_SIZE (1024 * 1024)

//  The usage example: build a request, encode it into a frame, decode the
//  frame on the other side, answer with an error.
static void
test_usage (void **state)
{
    (void)state;
    char err[256];

    //  From JSON as a user would write it (the HTTP front does the same)...
    json_t *body = json_pack ("{s:s, s:s, s:s, s:s, s:{s:i}, s:[s]}", "app", "fashion", "task",
                              "IMAGE_CLASSIFICATION", "train_dataset_id", "d1", "val_dataset_id",
                              "d2", "budget", "MODEL_TRIAL_COUNT", 5, "model_ids", "m1");
    rfk_msg_t *request =
        rfk_msg_new_from_json (&rfk_admin_family, "CreateTrainJob", 17, body, err, sizeof err);
    assert_non_null (request);
    rfk_msg_set_token (request, "eyJhbGciOi.x.y");

    zframe_t *frame = NULL;
    assert_int_equal (rfk_msg_encode (request, &frame, err, sizeof err), 0);

    rfk_msg_t *received = NULL;
    assert_int_equal (rfk_admin_family.decode (frame, MAX_SIZE, &received), 0);
    assert_true (rfk_msg_is (received, "CreateTrainJob"));
    assert_int_equal (received->kind, rfk_admin_family.kind_of ("CreateTrainJob"));
    assert_int_equal (received->correlation, 17);
    assert_string_equal (received->token, "eyJhbGciOi.x.y");
    assert_string_equal (json_string_value (json_object_get (received->body, "app")), "fashion");
    assert_int_equal (json_integer_value (json_object_get (
                          json_object_get (received->body, "budget"), "MODEL_TRIAL_COUNT")),
                      5);
    assert_true (json_equal (received->body, body));
    assert_null (received->data);

    //  ...and the answer: an Error with the request's correlation id.
    rfk_msg_t *reply = rfk_msg_new_error (&rfk_admin_family, received->correlation,
                                          RFK_CODE_CONFLICT, "app `fashion` has a running job");
    zframe_destroy (&frame);
    assert_int_equal (rfk_msg_encode (reply, &frame, err, sizeof err), 0);
    rfk_msg_t *answer = NULL;
    assert_int_equal (rfk_msg_decode (&rfk_admin_family, frame, MAX_SIZE, &answer), 0);
    assert_true (rfk_msg_is (answer, "Error"));
    assert_int_equal (answer->correlation, 17);
    assert_string_equal (json_string_value (json_object_get (answer->body, "code")), "CONFLICT");
    assert_int_equal (rfk_code_http_status (rfk_code_from_name ("CONFLICT")), 409);

    zframe_destroy (&frame);
    rfk_msg_destroy (&answer);
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&received);
    rfk_msg_destroy (&request);
    rfk_msg_destroy (&request); //  safe twice
    json_decref (body);
}

//  Every body kind of every family has a sample, and every sample round-trips:
//  same type, kind, correlation, token, body JSON and data.
static void
test_round_trip_every_message (void **state)
{
    (void)state;
    char err[256];
    int types = 0;
    for (int f = 0; codec_families[f]; f++) {
        const rfk_family_t *family = codec_families[f];
        for (int kind = 1; kind < 1000; kind++) {
            const char *type = family->type_of (kind);
            if (!type)
                continue;
            assert_int_equal (family->kind_of (type), kind);
            const codec_sample_t *sample = codec_sample_find (family, type);
            if (!sample)
                fail_msg ("%s.%s has no sample in codec_samples.c", family->name, type);
            types++;

            err[0] = 0;
            rfk_msg_t *msg = codec_sample_msg (sample, 1000 + (uint64_t)kind, err, sizeof err);
            if (!msg)
                fail_msg ("%s.%s: %s", family->name, type, err);
            assert_ptr_equal (msg->family, family);
            if (kind % 2)
                rfk_msg_set_token (msg, "token-é");

            zframe_t *frame = NULL;
            if (rfk_msg_encode (msg, &frame, err, sizeof err))
                fail_msg ("%s.%s: encode: %s", family->name, type, err);
            rfk_msg_t *back = NULL;
            assert_int_equal (family->decode (frame, MAX_SIZE, &back), 0);
            assert_ptr_equal (back->family, family);
            assert_int_equal (back->kind, kind);
            assert_string_equal (back->type, type);
            assert_int_equal (back->correlation, 1000 + (uint64_t)kind);
            if (kind % 2)
                assert_string_equal (back->token, "token-é");
            else
                assert_null (back->token);
            if (!json_equal (back->body, msg->body)) {
                char *want = json_dumps (msg->body, JSON_SORT_KEYS);
                char *got = json_dumps (back->body, JSON_SORT_KEYS);
                fail_msg ("%s.%s: body\n  sent %s\n  got  %s", family->name, type, want, got);
            }
            if (sample->data) {
                assert_non_null (back->data);
                assert_int_equal (zchunk_size (back->data), sample->data_len);
                assert_memory_equal (zchunk_data (back->data), sample->data, sample->data_len);
            } else
                assert_null (back->data);

            //  the same through rfk_msg_dup
            rfk_msg_t *copy = rfk_msg_dup (back);
            assert_true (json_equal (copy->body, back->body));
            assert_string_equal (copy->type, type);
            rfk_msg_destroy (&copy);

            zframe_destroy (&frame);
            rfk_msg_destroy (&back);
            rfk_msg_destroy (&msg);
        }
    }
    //  and every sample names a real type
    int samples = 0;
    for (const codec_sample_t *s = codec_samples; s->family; s++) {
        if (s->family->kind_of (s->type) < 0)
            fail_msg ("sample %s.%s is not a type of the family", s->family->name, s->type);
        samples++;
    }
    assert_int_equal (samples, types);
}

//  Empty bodies, empty data, correlation 0, absent and present fields.
static void
test_round_trip_edges (void **state)
{
    (void)state;
    char err[256];
    //  Heartbeat with correlation 0 and nothing else: the smallest envelope
    rfk_msg_t *msg = rfk_msg_new (&rfk_train_family, "Heartbeat", 0);
    zframe_t *frame = NULL;
    assert_int_equal (rfk_msg_encode (msg, &frame, err, sizeof err), 0);
    rfk_msg_t *back = NULL;
    assert_int_equal (rfk_train_family.decode (frame, MAX_SIZE, &back), 0);
    assert_true (rfk_msg_is (back, "Heartbeat"));
    assert_int_equal (back->correlation, 0);
    assert_int_equal (json_object_size (back->body), 0);
    zframe_destroy (&frame);
    rfk_msg_destroy (&back);
    rfk_msg_destroy (&msg);

    //  empty data is kept as empty, not dropped
    msg = rfk_msg_new (&rfk_infer_family, "PredictRequest", UINT64_MAX);
    rfk_msg_set_data (msg, NULL, 0);
    assert_int_equal (rfk_msg_encode (msg, &frame, err, sizeof err), 0);
    assert_int_equal (rfk_infer_family.decode (frame, MAX_SIZE, &back), 0);
    assert_int_equal (back->correlation, UINT64_MAX);
    assert_non_null (back->data);
    assert_int_equal (zchunk_size (back->data), 0);
    zframe_destroy (&frame);
    rfk_msg_destroy (&back);
    rfk_msg_destroy (&msg);

    //  numbers that JSON integers and reals cannot hold as such
    msg = rfk_msg_new (&rfk_service_family, "TrialFinished", 1);
    json_object_set_new (msg->body, "score", json_string ("NaN"));
    assert_int_equal (rfk_msg_encode (msg, &frame, err, sizeof err), 0);
    assert_int_equal (rfk_service_family.decode (frame, MAX_SIZE, &back), 0);
    assert_string_equal (json_string_value (json_object_get (back->body, "score")), "NaN");
    zframe_destroy (&frame);
    rfk_msg_destroy (&back);
    json_object_set_new (msg->body, "score", json_string ("-Infinity"));
    assert_int_equal (rfk_msg_encode (msg, &frame, err, sizeof err), 0);
    assert_int_equal (rfk_service_family.decode (frame, MAX_SIZE, &back), 0);
    assert_string_equal (json_string_value (json_object_get (back->body, "score")), "-Infinity");
    zframe_destroy (&frame);
    rfk_msg_destroy (&back);
    rfk_msg_destroy (&msg);

    //  text from forms: numeric strings and "true"/"false" are taken
    json_t *body = json_pack ("{s:s, s:s, s:s, s:s}", "app", "a", "app_version", "-1", "limit",
                              "10", "max_count", "3");
    msg = rfk_msg_new_from_json (&rfk_admin_family, "ListTrials", 1, body, err, sizeof err);
    assert_non_null (msg);
    assert_int_equal (rfk_msg_encode (msg, &frame, err, sizeof err), 0);
    assert_int_equal (rfk_admin_family.decode (frame, MAX_SIZE, &back), 0);
    assert_int_equal (json_integer_value (json_object_get (back->body, "app_version")), -1);
    assert_int_equal (json_integer_value (json_object_get (back->body, "limit")), 10);
    json_decref (body);
    zframe_destroy (&frame);
    rfk_msg_destroy (&back);
    rfk_msg_destroy (&msg);

    //  null means absent
    body = json_pack ("{s:s, s:n}", "email", "a@b.c", "password");
    msg = rfk_msg_new_from_json (&rfk_admin_family, "Login", 1, body, err, sizeof err);
    assert_non_null (msg);
    assert_int_equal (rfk_msg_encode (msg, &frame, err, sizeof err), 0);
    assert_int_equal (rfk_admin_family.decode (frame, MAX_SIZE, &back), 0);
    assert_null (json_object_get (back->body, "password"));
    assert_int_equal (json_object_size (back->body), 1);
    json_decref (body);
    zframe_destroy (&frame);
    rfk_msg_destroy (&back);
    rfk_msg_destroy (&msg);
}

//  The message a user sees for JSON that does not fit the message.
static void
s_expect_error (const rfk_family_t *family, const char *type, const char *json,
                const char *expected)
{
    char err[256] = "";
    json_error_t jerr;
    json_t *body = json_loads (json, 0, &jerr);
    if (!body)
        fail_msg ("bad test JSON %s: %s", json, jerr.text);
    rfk_msg_t *msg = rfk_msg_new_from_json (family, type, 1, body, err, sizeof err);
    if (msg)
        fail_msg ("%s %s was accepted", type, json);
    if (!strstr (err, expected))
        fail_msg ("%s %s: error \"%s\" does not say \"%s\"", type, json, err, expected);
    json_decref (body);
}

static void
test_json_errors (void **state)
{
    (void)state;
    const rfk_family_t *admin = &rfk_admin_family;
    s_expect_error (admin, "CreateTrainJob", "{\"app\": \"a\", \"bogus\": 1}",
                    "unknown field `bogus` in CreateTrainJob");
    s_expect_error (admin, "CreateTrainJob", "{\"budget\": 3}", "field `budget` must be an object");
    s_expect_error (admin, "CreateTrainJob", "{\"budget\": [1]}",
                    "field `budget` must be an object");
    s_expect_error (admin, "CreateTrainJob", "{\"app\": 3}", "field `app` must be a string");
    s_expect_error (admin, "CreateTrainJob", "{\"model_ids\": \"m1\"}",
                    "field `model_ids` must be an array");
    s_expect_error (admin, "CreateTrainJob", "{\"model_ids\": [\"m1\", 2]}",
                    "field `model_ids[1]` must be a string");
    s_expect_error (admin, "ListTrials", "{\"limit\": \"ten\"}",
                    "field `limit` must be an integer");
    s_expect_error (admin, "ListTrials", "{\"limit\": 1.5}", "field `limit` must be an integer");
    s_expect_error (admin, "ListTrials", "{\"limit\": -1}",
                    "field `limit` must be an integer from 0 to 4294967295");
    s_expect_error (admin, "GetTrainJob", "{\"app_version\": 3000000000}",
                    "field `app_version` must be an integer from -2147483648 to 2147483647");
    s_expect_error (admin, "CreateUser", "{\"user_type\": \"ROOT\"}",
                    "field `user_type` must be one of SUPERADMIN, ADMIN, MODEL_DEVELOPER, "
                    "APP_DEVELOPER");
    s_expect_error (admin, "User", "{\"banned\": \"yes\"}", "field `banned` must be a boolean");
    s_expect_error (admin, "TrainJob", "{\"sub_train_jobs\": [{\"id\": \"s\", \"bogus\": 1}]}",
                    "unknown field `sub_train_jobs[0].bogus` in SubTrainJob");
    s_expect_error (admin, "TrainJob", "{\"sub_train_jobs\": [{\"status\": \"DONE\"}]}",
                    "field `sub_train_jobs[0].status` must be one of");
    s_expect_error (admin, "UploadChunk", "{\"data\": \"AAAA\"}",
                    "field `data` is binary: it travels as the message's data");
    s_expect_error (&rfk_train_family, "Progress", "{\"score\": \"high\"}",
                    "field `score` must be a number");
    s_expect_error (&rfk_train_family, "Proposal", "{\"knobs\": \"lr=0.1\"}",
                    "field `knobs` must be an object");
    s_expect_error (&rfk_infer_family, "QueryBatch", "{\"batch_id\": -5}",
                    "field `batch_id` must be an integer from 0 to 18446744073709551615");
    s_expect_error (admin, "NoSuchMessage", "{}", "unknown message type `NoSuchMessage`");

    //  the body must be an object
    char err[256];
    json_t *array = json_array ();
    assert_null (rfk_msg_new_from_json (admin, "Login", 1, array, err, sizeof err));
    assert_non_null (strstr (err, "must be an object"));
    json_decref (array);

    //  data on a message without a data field
    rfk_msg_t *msg = rfk_msg_new (admin, "Login", 1);
    rfk_msg_set_data (msg, "x", 1);
    zframe_t *frame = NULL;
    assert_int_equal (rfk_msg_encode (msg, &frame, err, sizeof err), -1);
    assert_string_equal (err, "Login has no data field");
    assert_null (frame);
    rfk_msg_destroy (&msg);

    //  a kind the family does not have, and a type that does not match its kind
    msg = rfk_msg_new (admin, "Login", 1);
    msg->kind = 999;
    assert_int_equal (rfk_msg_encode (msg, &frame, err, sizeof err), -1);
    msg->kind = rfk_admin_family.kind_of ("GetMe");
    assert_int_equal (rfk_msg_encode (msg, &frame, err, sizeof err), -1);
    assert_non_null (strstr (err, "is GetMe, not Login"));
    rfk_msg_destroy (&msg);
    assert_null (rfk_msg_new (admin, "Hello", 1)); //  a service message, not admin
    assert_null (rfk_msg_new (admin, NULL, 1));

    //  JSON nested deeper than frames may be is refused; reasonable nesting is fine
    json_t *deep = json_integer (1);
    for (int i = 0; i < 100; i++) {
        json_t *outer = json_object ();
        json_object_set_new (outer, "x", deep);
        deep = outer;
    }
    json_t *body = json_pack ("{s:o}", "train_args", deep);
    assert_null (rfk_msg_new_from_json (admin, "CreateTrainJob", 1, body, err, sizeof err));
    assert_non_null (strstr (err, "nested too deeply"));
    json_decref (body);
    json_t *nested =
        json_loads ("{\"train_args\": {\"a\": [[[{\"b\": [[{\"c\": [1]}]]}]]]}}", 0, NULL);
    msg = rfk_msg_new_from_json (admin, "CreateTrainJob", 1, nested, err, sizeof err);
    assert_non_null (msg);
    rfk_msg_destroy (&msg);
    json_decref (nested);
}

//  Codes, their names and HTTP statuses.
static void
test_codes (void **state)
{
    (void)state;
    const char *names[] = {"OK",        "BAD_REQUEST",     "UNAUTHORIZED", "FORBIDDEN",
                           "NOT_FOUND", "CONFLICT",        "TOO_LARGE",    "UNAVAILABLE",
                           "MALFORMED", "UNKNOWN_MESSAGE", "TIMEOUT",      "INTERNAL"};
    int statuses[] = {200, 400, 401, 403, 404, 409, 413, 503, 400, 400, 504, 500};
    for (int code = 0; code <= RFK_CODE_INTERNAL; code++) {
        assert_string_equal (rfk_code_name ((rfk_code_t)code), names[code]);
        assert_int_equal (rfk_code_from_name (names[code]), code);
        assert_int_equal (rfk_code_http_status ((rfk_code_t)code), statuses[code]);

        //  the .proto enum has the same names and numbers
        rfk_msg_t *msg = rfk_msg_new_error (&rfk_event_family, 1, (rfk_code_t)code, "m");
        json_object_set_new (msg->body, "code", json_integer (code));
        zframe_t *frame = NULL;
        assert_int_equal (rfk_msg_encode (msg, &frame, NULL, 0), 0);
        rfk_msg_t *back = NULL;
        assert_int_equal (rfk_event_family.decode (frame, MAX_SIZE, &back), 0);
        assert_string_equal (json_string_value (json_object_get (back->body, "code")), names[code]);
        zframe_destroy (&frame);
        rfk_msg_destroy (&back);
        rfk_msg_destroy (&msg);
    }
    assert_int_equal (rfk_code_from_name ("NOPE"), -1);
    assert_int_equal (rfk_code_from_name (NULL), -1);
    assert_int_equal (rfk_code_http_status ((rfk_code_t)99), 500);
}

//  A decode that failed leaves no message behind.
static void
s_expect_decode (const rfk_family_t *family, const void *bytes, size_t size, size_t max_size,
                 int expected)
{
    zframe_t *frame = zframe_new (bytes, size);
    rfk_msg_t *msg = (rfk_msg_t *)&msg; //  not NULL: decode must clear it
    int rc = family->decode (frame, max_size, &msg);
    if (rc != expected)
        fail_msg ("%s: decode of %zu bytes gave %d, not %d", family->name, size, rc, expected);
    if (rc == 0)
        rfk_msg_destroy (&msg);
    assert_null (msg);
    zframe_destroy (&frame);
}

static void
test_garbage_frames (void **state)
{
    (void)state;
    for (int f = 0; codec_families[f]; f++) {
        const rfk_family_t *family = codec_families[f];
        s_expect_decode (family, "", 0, MAX_SIZE, -2);                 //  empty: no body
        s_expect_decode (family, "hello world", 11, MAX_SIZE, -2);     //  text
        s_expect_decode (family, "\x08\x05", 2, MAX_SIZE, -2);         //  correlation, no body
        s_expect_decode (family, "\xba\x3e\x00", 3, MAX_SIZE, -2);     //  field 999: unknown body
        s_expect_decode (family, "\x52\x02\x08\x63", 4, MAX_SIZE, -2); //  Error code 99
        s_expect_decode (family, "\x52\x03\x12\x01\xff", 5, MAX_SIZE, -2); //  message not UTF-8
        s_expect_decode (family, "\x0b\x0c", 2, MAX_SIZE, -2);             //  a group
        s_expect_decode (family, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11, MAX_SIZE,
                         -2);                                 //  a varint that never ends
        s_expect_decode (family, "\x52\x00", 2, MAX_SIZE, 0); //  an empty Error is an Error
        s_expect_decode (family, "\x5a\x00", 2, MAX_SIZE, 0); //  Heartbeat

        //  random frames: never a crash, and what decodes re-encodes
        uint32_t seed = 12345 + (uint32_t)f;
        for (int i = 0; i < 20000; i++) {
            uint8_t bytes[64];
            size_t size = (size_t)(i % 64);
            for (size_t j = 0; j < size; j++) {
                seed = seed * 1103515245 + 12345;
                bytes[j] = (uint8_t)(seed >> 16);
            }
            zframe_t *frame = zframe_new (bytes, size);
            rfk_msg_t *msg = NULL;
            int rc = family->decode (frame, MAX_SIZE, &msg);
            assert_true (rc == 0 || rc == -2);
            if (rc == 0) {
                zframe_t *again = NULL;
                char err[256];
                if (rfk_msg_encode (msg, &again, err, sizeof err))
                    fail_msg ("%s: a decoded %s does not re-encode: %s", family->name, msg->type,
                              err);
                zframe_destroy (&again);
            }
            rfk_msg_destroy (&msg);
            zframe_destroy (&frame);
        }
    }
    //  a NULL frame and a NULL msg_p
    rfk_msg_t *msg = NULL;
    assert_int_equal (rfk_admin_family.decode (NULL, MAX_SIZE, &msg), -1);
    zframe_t *frame = zframe_new ("\x5a\x00", 2);
    assert_int_equal (rfk_admin_family.decode (frame, MAX_SIZE, NULL), -1);
    zframe_destroy (&frame);
}

//  Every strict prefix of every sample envelope is malformed, in every family.
static void
test_truncated_frames (void **state)
{
    (void)state;
    char err[256];
    for (const codec_sample_t *s = codec_samples; s->family; s++) {
        rfk_msg_t *msg = codec_sample_msg (s, 77, err, sizeof err);
        assert_non_null (msg);
        rfk_msg_set_token (msg, "tok");
        zframe_t *frame = NULL;
        assert_int_equal (rfk_msg_encode (msg, &frame, err, sizeof err), 0);
        size_t size = zframe_size (frame);
        for (size_t len = 0; len < size; len++)
            s_expect_decode (s->family, zframe_data (frame), len, MAX_SIZE, -2);
        s_expect_decode (s->family, zframe_data (frame), size, MAX_SIZE, 0);
        zframe_destroy (&frame);
        rfk_msg_destroy (&msg);
    }
}

//  Frames over the cap are refused before they are parsed.
static void
test_oversize_frames (void **state)
{
    (void)state;
    char err[256];
    for (int f = 0; codec_families[f]; f++) {
        const rfk_family_t *family = codec_families[f];
        rfk_msg_t *msg = rfk_msg_new_error (family, 5, RFK_CODE_TOO_LARGE, "big");
        zframe_t *frame = NULL;
        assert_int_equal (rfk_msg_encode (msg, &frame, err, sizeof err), 0);
        size_t size = zframe_size (frame);
        s_expect_decode (family, zframe_data (frame), size, size, 0);
        s_expect_decode (family, zframe_data (frame), size, size - 1, -1);
        s_expect_decode (family, zframe_data (frame), size, 0, -1);
        zframe_destroy (&frame);
        rfk_msg_destroy (&msg);

        //  4 MB of garbage against a 1 MB cap
        size_t big = 4 * 1024 * 1024;
        uint8_t *bytes = malloc (big);
        memset (bytes, 0xab, big);
        s_expect_decode (family, bytes, big, MAX_SIZE, -1);
        free (bytes);
    }
    //  a large but legal payload goes through
    rfk_msg_t *msg = rfk_msg_new (&rfk_infer_family, "QueryBatch", 1);
    size_t big = 3 * 1024 * 1024;
    uint8_t *bytes = calloc (1, big);
    rfk_msg_set_data (msg, bytes, big);
    free (bytes);
    zframe_t *frame = NULL;
    assert_int_equal (rfk_msg_encode (msg, &frame, err, sizeof err), 0);
    rfk_msg_t *back = NULL;
    assert_int_equal (rfk_infer_family.decode (frame, 4 * 1024 * 1024, &back), 0);
    assert_int_equal (zchunk_size (back->data), big);
    rfk_msg_destroy (&back);
    assert_int_equal (rfk_infer_family.decode (frame, 1024 * 1024, &back), -1);
    zframe_destroy (&frame);
    rfk_msg_destroy (&msg);
}

//  Wrap `inner` (a serialized message) as field `field` of a new message.
static size_t
s_wrap (uint8_t *buf, size_t cap, size_t len, unsigned field)
{
    uint8_t head[16];
    size_t h = 0;
    head[h++] = (uint8_t)(field << 3 | 2);
    size_t v = len;
    do {
        head[h] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            head[h] |= 0x80;
        h++;
    } while (v);
    assert_true (h + len <= cap);
    memmove (buf + h, buf, len);
    memcpy (buf, head, h);
    return h + len;
}

//  A frame nesting Values far deeper than allowed is malformed (protobuf-c's
//  unpack would recurse without a limit).
static void
test_deep_frames (void **state)
{
    (void)state;
    size_t cap = 1024 * 1024;
    uint8_t *buf = calloc (1, cap);
    //  Value{int_value 1}, then [Value{list_value{values [ ... ]}}] 2000 times,
    //  in a Proposal's knobs Struct member
    buf[0] = 0x18; //  field 3 varint
    buf[1] = 0x01;
    size_t len = 2;
    for (int i = 0; i < 2000; i++) {
        len = s_wrap (buf, cap, len, 1); //  ListValue.values
        len = s_wrap (buf, cap, len, 6); //  Value.list_value
    }
    len = s_wrap (buf, cap, len, 2);  //  Member.value
    len = s_wrap (buf, cap, len, 1);  //  Struct.members
    len = s_wrap (buf, cap, len, 3);  //  Proposal.knobs
    len = s_wrap (buf, cap, len, 25); //  Envelope.proposal
    s_expect_decode (&rfk_train_family, buf, len, cap, -2);
    free (buf);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_round_trip_every_message),
        cmocka_unit_test (test_round_trip_edges),
        cmocka_unit_test (test_json_errors),
        cmocka_unit_test (test_codes),
        cmocka_unit_test (test_garbage_frames),
        cmocka_unit_test (test_truncated_frames),
        cmocka_unit_test (test_oversize_frames),
        cmocka_unit_test (test_deep_frames),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
