/*  test_auth.c: admin's authentication module with real libsodium and libjwt: passwords,
    tokens (round trip, expiry, tampering, alg none, bans), service secrets and the role and
    ownership rules of API.md.
*/
#include "rfk_auth.h"

#include <jwt.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define KEY "0123456789abcdef0123456789abcdef-test-key"
#define NOW ((int64_t)1700000000)

//  A tiny user table standing in for the store.
typedef struct {
    const char *id;
    int64_t banned_at;
} user_t;

static user_t s_users[] = {{"u-alice", 0}, {"u-bob", 0}, {NULL, 0}};

static int
s_lookup (void *arg, const char *user_id, int64_t *banned_at)
{
    user_t *users = (user_t *)arg;
    for (int i = 0; users[i].id; i++)
        if (!strcmp (users[i].id, user_id)) {
            *banned_at = users[i].banned_at;
            return 0;
        }
    return -1;
}

static rfk_auth_t *
s_auth (void)
{
    rfk_auth_t *auth = rfk_auth_new (KEY, strlen (KEY), 3600);
    assert_non_null (auth);
    rfk_auth_set_lookup (auth, s_lookup, s_users);
    return auth;
}

//  base64url without padding of a string, into out.
static void
s_b64 (const char *text, char *out, size_t size)
{
    sodium_bin2base64 (out, size, (const unsigned char *)text, strlen (text),
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

//  Usage example: log in, issue a token, verify it on the next request.
static void
test_auth_usage (void **state)
{
    (void)state;
    char hash[RFK_AUTH_HASH_MAX];
    assert_int_equal (rfk_auth_password_hash ("correct horse", hash), 0);
    assert_int_equal (rfk_auth_password_verify (hash, "correct horse"), 0);

    rfk_auth_t *auth = s_auth ();
    char *token = rfk_auth_token_issue (auth, "u-alice", RFK_AUTH_APP_DEVELOPER, NOW);
    assert_non_null (token);
    rfk_auth_claims_t claims;
    assert_int_equal (rfk_auth_token_verify (auth, token, NOW + 10, &claims), 0);
    assert_string_equal (claims.user_id, "u-alice");
    assert_int_equal (claims.user_type, RFK_AUTH_APP_DEVELOPER);
    assert_int_equal (claims.issued_at, NOW);
    assert_int_equal (claims.expires_at, NOW + 3600);
    assert_int_equal (strlen (claims.token_id), 32);
    assert_int_equal (rfk_auth_can_access (claims.user_id, claims.user_type, "u-alice"), 0);
    assert_int_equal (rfk_auth_can_access (claims.user_id, claims.user_type, "u-bob"), 403);
    free (token);
    rfk_auth_destroy (&auth);
    rfk_auth_destroy (&auth);
}

static void
test_auth_passwords (void **state)
{
    (void)state;
    char first[RFK_AUTH_HASH_MAX], second[RFK_AUTH_HASH_MAX];
    assert_int_equal (rfk_auth_password_hash ("s3cret!", first), 0);
    assert_int_equal (strncmp (first, "$argon2id$", 10), 0);
    assert_int_equal (rfk_auth_password_hash ("s3cret!", second), 0);
    assert_string_not_equal (first, second); //  salted
    assert_int_equal (rfk_auth_password_verify (first, "s3cret!"), 0);
    assert_int_equal (rfk_auth_password_verify (second, "s3cret!"), 0);
    assert_int_equal (rfk_auth_password_verify (first, "s3cret"), -1);
    assert_int_equal (rfk_auth_password_verify (first, ""), -1);
    assert_false (rfk_auth_password_needs_rehash (first));
    //  Bad input is refused, never a crash.
    assert_int_equal (rfk_auth_password_hash ("", first), -1);
    assert_int_equal (rfk_auth_password_hash (NULL, first), -1);
    char *long_password = malloc (RFK_AUTH_PASSWORD_MAX + 2);
    memset (long_password, 'p', RFK_AUTH_PASSWORD_MAX + 1);
    long_password[RFK_AUTH_PASSWORD_MAX + 1] = '\0';
    assert_int_equal (rfk_auth_password_hash (long_password, first), -1);
    free (long_password);
    assert_int_equal (rfk_auth_password_verify ("not a hash", "x"), -1);
    assert_int_equal (rfk_auth_password_verify ("$argon2id$v=19$m=65536,t=2,p=1$garbage", "x"), -1);
    assert_int_equal (rfk_auth_password_verify (NULL, "x"), -1);
    assert_true (
        rfk_auth_password_needs_rehash ("$argon2i$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaA"));
}

//  A token past its exp is refused, one second before it is fine.
static void
test_auth_token_expired (void **state)
{
    (void)state;
    rfk_auth_t *auth = s_auth ();
    char *token = rfk_auth_token_issue (auth, "u-alice", RFK_AUTH_ADMIN, NOW);
    assert_int_equal (rfk_auth_token_verify (auth, token, NOW + 3599, NULL), 0);
    assert_int_equal (rfk_auth_token_verify (auth, token, NOW + 3600, NULL), -1);
    assert_string_equal (rfk_auth_error (auth), "token expired at 2023-11-14T23:13:20Z");
    //  Issued in the future (beyond the clock skew).
    assert_int_equal (rfk_auth_token_verify (auth, token, NOW - 61, NULL), -1);
    assert_string_equal (rfk_auth_error (auth), "token was issued in the future");
    free (token);
    rfk_auth_destroy (&auth);
}

//  Changing the payload, or signing with another key, breaks the signature.
static void
test_auth_token_tampered (void **state)
{
    (void)state;
    rfk_auth_t *auth = s_auth ();
    char *token = rfk_auth_token_issue (auth, "u-alice", RFK_AUTH_APP_DEVELOPER, NOW);
    //  Swap the payload for one claiming SUPERADMIN, keep header and signature.
    char payload[512], forged[1024];
    char claims[256];
    snprintf (claims, sizeof claims,
              "{\"user_id\":\"u-alice\",\"user_type\":\"SUPERADMIN\",\"iat\":%lld,\"exp\":%lld,"
              "\"jti\":\"0123456789abcdef0123456789abcdef\"}",
              (long long)NOW, (long long)NOW + 3600);
    s_b64 (claims, payload, sizeof payload);
    const char *dot1 = strchr (token, '.');
    const char *dot2 = strchr (dot1 + 1, '.');
    size_t header_length = (size_t)(dot1 - token);
    memcpy (forged, token, header_length);
    snprintf (forged + header_length, sizeof forged - header_length, ".%s%s", payload, dot2);
    assert_int_equal (rfk_auth_token_verify (auth, forged, NOW, NULL), -1);
    assert_string_equal (rfk_auth_error (auth), "token signature does not match");

    //  One flipped character of the signature.
    char *flipped = strdup (token);
    char *last = flipped + strlen (flipped) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    assert_int_equal (rfk_auth_token_verify (auth, flipped, NOW, NULL), -1);
    assert_string_equal (rfk_auth_error (auth), "token signature does not match");
    free (flipped);

    //  Signed with another key.
    rfk_auth_t *other = rfk_auth_new ("another-key-another-key-another-key", 35, 3600);
    char *foreign = rfk_auth_token_issue (other, "u-alice", RFK_AUTH_APP_DEVELOPER, NOW);
    assert_int_equal (rfk_auth_token_verify (auth, foreign, NOW, NULL), -1);
    assert_string_equal (rfk_auth_error (auth), "token signature does not match");
    free (foreign);
    rfk_auth_destroy (&other);
    free (token);
    rfk_auth_destroy (&auth);
}

//  "alg": "none" (unsigned) and other algorithms are refused, whatever the claims say.
static void
test_auth_token_alg_none (void **state)
{
    (void)state;
    rfk_auth_t *auth = s_auth ();
    char header[128], payload[512], token[1024], claims[256];
    snprintf (claims, sizeof claims,
              "{\"user_id\":\"u-alice\",\"user_type\":\"SUPERADMIN\",\"iat\":%lld,\"exp\":%lld,"
              "\"jti\":\"0123456789abcdef0123456789abcdef\"}",
              (long long)NOW, (long long)NOW + 3600);
    s_b64 (claims, payload, sizeof payload);
    const char *headers[] = {"{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"None\"}",
                             "{\"typ\":\"JWT\"}"};
    const char *messages[] = {"token algorithm 'none' is not accepted (only HS256)",
                              "token algorithm 'None' is not accepted (only HS256)",
                              "token algorithm '' is not accepted (only HS256)"};
    for (int i = 0; i < 3; i++) {
        s_b64 (headers[i], header, sizeof header);
        snprintf (token, sizeof token, "%s.%s.", header, payload);
        assert_int_equal (rfk_auth_token_verify (auth, token, NOW, NULL), -1);
        assert_string_equal (rfk_auth_error (auth), messages[i]);
    }
    //  libjwt itself makes an unsigned token: refused too.
    jwt_t *jwt = NULL;
    assert_int_equal (jwt_new (&jwt), 0);
    jwt_add_grant (jwt, "user_id", "u-alice");
    jwt_add_grant (jwt, "user_type", "SUPERADMIN");
    jwt_add_grant_int (jwt, "iat", NOW);
    jwt_add_grant_int (jwt, "exp", NOW + 3600);
    jwt_add_grant (jwt, "jti", "0123456789abcdef0123456789abcdef");
    char *unsigned_token = jwt_encode_str (jwt);
    assert_int_equal (rfk_auth_token_verify (auth, unsigned_token, NOW, NULL), -1);
    assert_string_equal (rfk_auth_error (auth),
                         "token algorithm 'none' is not accepted (only HS256)");
    free (unsigned_token);
    //  HS512 with the right key: still not HS256.
    assert_int_equal (
        jwt_set_alg (jwt, JWT_ALG_HS512, (const unsigned char *)KEY, (int)strlen (KEY)), 0);
    char *hs512 = jwt_encode_str (jwt);
    assert_int_equal (rfk_auth_token_verify (auth, hs512, NOW, NULL), -1);
    assert_string_equal (rfk_auth_error (auth),
                         "token algorithm 'HS512' is not accepted (only HS256)");
    free (hs512);
    jwt_free (jwt);
    rfk_auth_destroy (&auth);
}

//  Garbage of every shape is refused as malformed, with a reason.
static void
test_auth_token_malformed (void **state)
{
    (void)state;
    rfk_auth_t *auth = s_auth ();
    struct {
        const char *token;
        const char *message;
    } cases[] = {
        {"", "no token given"},
        {"abc", "three parts"},
        {"a.b", "three parts"},
        {"a.b.c.d", "three parts"},
        {"!!!.b.c", "header is not base64url-encoded JSON"},
        {"eyJhbGciOiJIUzI1NiJ9.!!!.c", "payload is not base64url-encoded JSON"},
        {"eyJhbGciOiJIUzI1NiJ9.WzFd.c", "payload is not base64url-encoded JSON"}, //  [1]
        {"eyJhbGciOiJIUzI1NiJ9.e30.", "signature is not 32 bytes"},
        {"eyJhbGciOiJIUzI1NiJ9.e30.c2hvcnQ", "signature is not 32 bytes"},
        {"WyJIUzI1NiJd.e30.c2hvcnQ", "header is not base64url-encoded JSON"}, //  ["HS256"]
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal (rfk_auth_token_verify (auth, cases[i].token, NOW, NULL), -1);
        if (!strstr (rfk_auth_error (auth), cases[i].message))
            fail_msg ("case %zu: '%s' does not say '%s'", i, rfk_auth_error (auth),
                      cases[i].message);
    }
    assert_int_equal (rfk_auth_token_verify (auth, NULL, NOW, NULL), -1);
    assert_string_equal (rfk_auth_error (auth), "no token given");
    char *huge = malloc (8192);
    memset (huge, 'a', 8191);
    huge[8191] = '\0';
    assert_int_equal (rfk_auth_token_verify (auth, huge, NOW, NULL), -1);
    assert_non_null (strstr (rfk_auth_error (auth), "longer than"));
    free (huge);

    //  Correctly signed, but a claim is missing or of the wrong type.
    const char *claim_sets[][2] = {
        {"{\"user_id\":\"u-alice\",\"user_type\":\"ADMIN\",\"iat\":1,\"jti\":"
         "\"0123456789abcdef0123456789abcdef\"}",
         "no integer 'exp' claim"},
        {"{\"user_id\":\"u-alice\",\"user_type\":\"ADMIN\",\"iat\":1,\"exp\":\"soon\",\"jti\":"
         "\"0123456789abcdef0123456789abcdef\"}",
         "no integer 'exp' claim"},
        {"{\"user_id\":\"u-alice\",\"user_type\":\"ROOT\",\"iat\":1,\"exp\":9999999999,\"jti\":"
         "\"0123456789abcdef0123456789abcdef\"}",
         "no valid 'user_type' claim"},
        {"{\"user_type\":\"ADMIN\",\"iat\":1,\"exp\":9999999999,\"jti\":"
         "\"0123456789abcdef0123456789abcdef\"}",
         "no string 'user_id' claim"},
        {"{\"user_id\":\"u-alice\",\"user_type\":\"ADMIN\",\"iat\":1,\"exp\":9999999999,\"jti\":"
         "\"short\"}",
         "no valid 'jti' claim"},
    };
    for (size_t i = 0; i < sizeof claim_sets / sizeof claim_sets[0]; i++) {
        jwt_t *jwt = NULL;
        assert_int_equal (jwt_new (&jwt), 0);
        assert_int_equal (jwt_add_grants_json (jwt, claim_sets[i][0]), 0);
        jwt_set_alg (jwt, JWT_ALG_HS256, (const unsigned char *)KEY, (int)strlen (KEY));
        char *token = jwt_encode_str (jwt);
        assert_int_equal (rfk_auth_token_verify (auth, token, NOW, NULL), -1);
        if (!strstr (rfk_auth_error (auth), claim_sets[i][1]))
            fail_msg ("claims %zu: '%s' does not say '%s'", i, rfk_auth_error (auth),
                      claim_sets[i][1]);
        free (token);
        jwt_free (jwt);
    }
    rfk_auth_destroy (&auth);
}

//  A ban takes effect at once, also for a token issued before it; an unknown user's token
//  is refused; without a lookup nothing is accepted.
static void
test_auth_token_banned_user (void **state)
{
    (void)state;
    rfk_auth_t *auth = s_auth ();
    char *token = rfk_auth_token_issue (auth, "u-bob", RFK_AUTH_MODEL_DEVELOPER, NOW);
    assert_int_equal (rfk_auth_token_verify (auth, token, NOW + 1, NULL), 0);
    s_users[1].banned_at = NOW + 5;
    assert_int_equal (rfk_auth_token_verify (auth, token, NOW + 6, NULL), -1);
    assert_string_equal (rfk_auth_error (auth),
                         "user u-bob is banned (since 2023-11-14T22:13:25Z)");
    s_users[1].banned_at = 0;

    char *ghost = rfk_auth_token_issue (auth, "u-ghost", RFK_AUTH_APP_DEVELOPER, NOW);
    assert_int_equal (rfk_auth_token_verify (auth, ghost, NOW, NULL), -1);
    assert_string_equal (rfk_auth_error (auth), "token user u-ghost does not exist");
    free (ghost);

    rfk_auth_set_lookup (auth, NULL, NULL);
    assert_int_equal (rfk_auth_token_verify (auth, token, NOW, NULL), -1);
    assert_non_null (strstr (rfk_auth_error (auth), "no user lookup"));
    free (token);
    rfk_auth_destroy (&auth);
}

static void
test_auth_new_and_issue_refuse_bad_input (void **state)
{
    (void)state;
    assert_null (rfk_auth_new ("short", 5, 3600));
    assert_null (rfk_auth_new (NULL, 0, 3600));
    assert_null (rfk_auth_new (KEY, strlen (KEY), 0));
    rfk_auth_t *auth = s_auth ();
    assert_null (rfk_auth_token_issue (auth, "", RFK_AUTH_ADMIN, NOW));
    assert_non_null (strstr (rfk_auth_error (auth), "user id"));
    assert_null (rfk_auth_token_issue (auth, "u-alice", (rfk_auth_user_type_t)9, NOW));
    assert_string_equal (rfk_auth_error (auth), "unknown user type 9");
    rfk_auth_destroy (&auth);
}

static void
test_auth_service_secrets (void **state)
{
    (void)state;
    rfk_auth_t *auth = s_auth ();
    char *secret = rfk_auth_secret_new ();
    char *other = rfk_auth_secret_new ();
    assert_int_equal (strlen (secret), RFK_AUTH_SECRET_LEN);
    assert_int_equal (strspn (secret, "0123456789abcdef"), RFK_AUTH_SECRET_LEN);
    assert_string_not_equal (secret, other);
    char hash[RFK_AUTH_SECRET_HASH_LEN + 1];
    assert_int_equal (rfk_auth_secret_hash (auth, secret, hash), 0);
    assert_int_equal (strlen (hash), RFK_AUTH_SECRET_HASH_LEN);
    assert_string_not_equal (hash, secret);
    assert_int_equal (rfk_auth_secret_verify (auth, secret, hash), 0);
    assert_int_equal (rfk_auth_secret_verify (auth, other, hash), -1);
    assert_string_equal (rfk_auth_error (auth), "service secret does not match");
    assert_int_equal (rfk_auth_secret_verify (auth, "", hash), -1);
    assert_int_equal (rfk_auth_secret_verify (auth, NULL, hash), -1);
    assert_int_equal (rfk_auth_secret_verify (auth, secret, "short"), -1);
    assert_int_equal (rfk_auth_secret_verify (auth, secret, NULL), -1);
    //  The hash is keyed: another authority (another key) computes another hash.
    rfk_auth_t *foreign = rfk_auth_new ("another-key-another-key-another-key", 35, 3600);
    char foreign_hash[RFK_AUTH_SECRET_HASH_LEN + 1];
    assert_int_equal (rfk_auth_secret_hash (foreign, secret, foreign_hash), 0);
    assert_string_not_equal (hash, foreign_hash);
    assert_int_equal (rfk_auth_secret_verify (foreign, secret, hash), -1);
    rfk_auth_destroy (&foreign);
    free (secret);
    free (other);
    rfk_auth_destroy (&auth);
}

static void
test_auth_user_type_names (void **state)
{
    (void)state;
    rfk_auth_user_type_t type;
    const char *names[] = {"SUPERADMIN", "ADMIN", "MODEL_DEVELOPER", "APP_DEVELOPER"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal (rfk_auth_user_type_parse (names[i], &type), 0);
        assert_int_equal (type, RFK_AUTH_SUPERADMIN + i);
        assert_string_equal (rfk_auth_user_type_name (type), names[i]);
    }
    assert_int_equal (rfk_auth_user_type_parse ("admin", &type), -1);
    assert_int_equal (rfk_auth_user_type_parse ("", &type), -1);
    assert_int_equal (rfk_auth_user_type_parse (NULL, &type), -1);
    assert_string_equal (rfk_auth_user_type_name ((rfk_auth_user_type_t)0), "");
}

//  The rules of API.md, one row per (rule, actor, target) with the expected answer.
static void
test_auth_role_table (void **state)
{
    (void)state;
    enum {
        SA = RFK_AUTH_SUPERADMIN,
        AD = RFK_AUTH_ADMIN,
        MD = RFK_AUTH_MODEL_DEVELOPER,
        APP = RFK_AUTH_APP_DEVELOPER
    };
    enum { LIST_USERS, MANAGE_USER, UPLOAD_MODEL, MANAGE_MODEL, READ_MODEL, ACCESS, STOP_ALL };
    static const struct {
        int rule;
        int actor_type;
        const char *actor_id;
        int target_type;   //  MANAGE_USER: the user managed
        const char *owner; //  owner of the thing acted on
        bool is_public;    //  READ_MODEL
        int expected;
    } rows[] = {
        {LIST_USERS, SA, "me", 0, NULL, false, 0},
        {LIST_USERS, AD, "me", 0, NULL, false, 0},
        {LIST_USERS, MD, "me", 0, NULL, false, 403},
        {LIST_USERS, APP, "me", 0, NULL, false, 403},
        //  The superadmin manages everyone; an admin only developers.
        {MANAGE_USER, SA, "me", SA, NULL, false, 0},
        {MANAGE_USER, SA, "me", AD, NULL, false, 0},
        {MANAGE_USER, SA, "me", MD, NULL, false, 0},
        {MANAGE_USER, SA, "me", APP, NULL, false, 0},
        {MANAGE_USER, AD, "me", SA, NULL, false, 403},
        {MANAGE_USER, AD, "me", AD, NULL, false, 403},
        {MANAGE_USER, AD, "me", MD, NULL, false, 0},
        {MANAGE_USER, AD, "me", APP, NULL, false, 0},
        {MANAGE_USER, MD, "me", APP, NULL, false, 403},
        {MANAGE_USER, APP, "me", APP, NULL, false, 403},
        {MANAGE_USER, SA, "me", 0, NULL, false, 403},
        {UPLOAD_MODEL, SA, "me", 0, NULL, false, 0},
        {UPLOAD_MODEL, AD, "me", 0, NULL, false, 0},
        {UPLOAD_MODEL, MD, "me", 0, NULL, false, 0},
        {UPLOAD_MODEL, APP, "me", 0, NULL, false, 403},
        //  Download and delete models: own for model developers, any for admins.
        {MANAGE_MODEL, SA, "me", 0, "other", false, 0},
        {MANAGE_MODEL, AD, "me", 0, "other", false, 0},
        {MANAGE_MODEL, MD, "me", 0, "me", false, 0},
        {MANAGE_MODEL, MD, "me", 0, "other", false, 403},
        {MANAGE_MODEL, APP, "me", 0, "me", false, 403},
        {MANAGE_MODEL, MD, "me", 0, NULL, false, 403},
        {READ_MODEL, APP, "me", 0, "other", true, 0},
        {READ_MODEL, APP, "me", 0, "other", false, 403},
        {READ_MODEL, MD, "me", 0, "me", false, 0},
        {READ_MODEL, AD, "me", 0, "other", false, 0},
        //  Datasets, jobs, trials: own, or any for admins.
        {ACCESS, APP, "me", 0, "me", false, 0},
        {ACCESS, APP, "me", 0, "other", false, 403},
        {ACCESS, MD, "me", 0, "me", false, 0},
        {ACCESS, MD, "me", 0, "other", false, 403},
        {ACCESS, AD, "me", 0, "other", false, 0},
        {ACCESS, SA, "me", 0, "other", false, 0},
        {ACCESS, APP, "me", 0, NULL, false, 403},
        {ACCESS, APP, NULL, 0, NULL, false, 403},
        {ACCESS, APP, "", 0, "", false, 403},
        {ACCESS, 0, "me", 0, "me", false, 403},
        {STOP_ALL, SA, "me", 0, NULL, false, 0},
        {STOP_ALL, AD, "me", 0, NULL, false, 403},
        {STOP_ALL, MD, "me", 0, NULL, false, 403},
        {STOP_ALL, APP, "me", 0, NULL, false, 403},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        rfk_auth_user_type_t actor = (rfk_auth_user_type_t)rows[i].actor_type;
        int got = -1;
        switch (rows[i].rule) {
            case LIST_USERS:
                got = rfk_auth_can_list_users (actor);
                break;
            case MANAGE_USER:
                got = rfk_auth_can_manage_user (actor, (rfk_auth_user_type_t)rows[i].target_type);
                break;
            case UPLOAD_MODEL:
                got = rfk_auth_can_upload_model (actor);
                break;
            case MANAGE_MODEL:
                got = rfk_auth_can_manage_model (rows[i].actor_id, actor, rows[i].owner);
                break;
            case READ_MODEL:
                got = rfk_auth_can_read_model (rows[i].actor_id, actor, rows[i].owner,
                                               rows[i].is_public);
                break;
            case ACCESS:
                got = rfk_auth_can_access (rows[i].actor_id, actor, rows[i].owner);
                break;
            case STOP_ALL:
                got = rfk_auth_can_stop_all (actor);
                break;
        }
        if (got != rows[i].expected)
            fail_msg ("row %zu: got %d, expected %d", i, got, rows[i].expected);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_auth_usage),
        cmocka_unit_test (test_auth_passwords),
        cmocka_unit_test (test_auth_token_expired),
        cmocka_unit_test (test_auth_token_tampered),
        cmocka_unit_test (test_auth_token_alg_none),
        cmocka_unit_test (test_auth_token_malformed),
        cmocka_unit_test (test_auth_token_banned_user),
        cmocka_unit_test (test_auth_new_and_issue_refuse_bad_input),
        cmocka_unit_test (test_auth_service_secrets),
        cmocka_unit_test (test_auth_user_type_names),
        cmocka_unit_test (test_auth_role_table),
    };
    return cmocka_run_group_tests_name ("auth", tests, NULL, NULL);
}
