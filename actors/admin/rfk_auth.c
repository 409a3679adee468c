/*  rfk_auth.c: passwords (argon2id), JWT HS256 tokens (libjwt), role and ownership rules, and
    service secrets (keyed BLAKE2b). See rfk_auth.h for the contracts.

    Token verification does its own checks before handing the token to libjwt: it decodes the
    header to refuse any algorithm but HS256 (libjwt 1.10 refuses "alg":"none" when given a key,
    but with the same EINVAL as a bad signature or garbage, and the refusal should not depend
    on the library's version), tells a malformed token from a forged one, and checks the HMAC
    with libsodium, whose comparison takes the same time whatever the bytes. libjwt then
    decodes (verifying the signature once more) and the claims are read from it.
*/
#include "rfk_auth.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  Longest token verified; a real one is about 300 bytes.
#define S_TOKEN_MAX 4096

struct _rfk_auth_t {
    unsigned char *key;           //  the HS256 key
    size_t key_length;            //  its length
    unsigned char secret_key[32]; //  BLAKE2b key for service secrets
    int64_t token_ttl;            //  token lifetime, seconds
    rfk_auth_lookup_fn *lookup;   //  the owner's user lookup
    void *lookup_arg;             //  its argument
    char error[256];              //  why the last call failed
};

static const char *s_type_names[] = {NULL, "SUPERADMIN", "ADMIN", "MODEL_DEVELOPER",
                                     "APP_DEVELOPER"};

static void
s_error (rfk_auth_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
static void
s_error (rfk_auth_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
}

rfk_auth_t *
rfk_auth_new (const void *key, size_t key_length, int64_t token_ttl)
{
    if (sodium_init () < 0) {
        fprintf (stderr, "RFK-AUTH: libsodium cannot start\n");
        return NULL;
    }
    if (!key || key_length < RFK_AUTH_KEY_MIN) {
        fprintf (stderr, "RFK-AUTH: the token key has %zu bytes; HS256 needs at least %d\n",
                 key ? key_length : 0, RFK_AUTH_KEY_MIN);
        return NULL;
    }
    if (token_ttl <= 0) {
        fprintf (stderr, "RFK-AUTH: the token lifetime must be positive\n");
        return NULL;
    }
    rfk_auth_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->key = malloc (key_length);
    if (!self->key) {
        free (self);
        return NULL;
    }
    memcpy (self->key, key, key_length);
    self->key_length = key_length;
    self->token_ttl = token_ttl;
    //  A separate key for service secrets, so the two uses never share a key.
    crypto_generichash_state state;
    static const char context[] = "rafiki service secret hash v1";
    crypto_generichash_init (&state, NULL, 0, sizeof self->secret_key);
    crypto_generichash_update (&state, (const unsigned char *)context, sizeof context);
    crypto_generichash_update (&state, self->key, self->key_length);
    crypto_generichash_final (&state, self->secret_key, sizeof self->secret_key);
    sodium_memzero (&state, sizeof state);
    return self;
}

void
rfk_auth_destroy (rfk_auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_auth_t *self = *self_p;
    sodium_memzero (self->key, self->key_length);
    free (self->key);
    sodium_memzero (self->secret_key, sizeof self->secret_key);
    free (self);
    *self_p = NULL;
}

void
rfk_auth_set_lookup (rfk_auth_t *self, rfk_auth_lookup_fn *lookup, void *arg)
{
    assert (self);
    self->lookup = lookup;
    self->lookup_arg = arg;
}

const char *
rfk_auth_error (rfk_auth_t *self)
{
    assert (self);
    return self->error;
}

//  ---------------------------------------------------------------------------------------
//  Passwords

int
rfk_auth_password_hash (const char *password, char *hash)
{
    assert (hash);
    if (sodium_init () < 0 || !password || !*password)
        return -1;
    size_t length = strlen (password);
    if (length > RFK_AUTH_PASSWORD_MAX)
        return -1;
    _Static_assert(RFK_AUTH_HASH_MAX == crypto_pwhash_STRBYTES, "hash size");
    return crypto_pwhash_str (hash, password, length, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0
               ? 0
               : -1;
}

int
rfk_auth_password_verify (const char *hash, const char *password)
{
    if (sodium_init () < 0 || !hash || !password)
        return -1;
    size_t length = strlen (password);
    if (length > RFK_AUTH_PASSWORD_MAX || strnlen (hash, RFK_AUTH_HASH_MAX) == RFK_AUTH_HASH_MAX)
        return -1;
    return crypto_pwhash_str_verify (hash, password, length) == 0 ? 0 : -1;
}

bool
rfk_auth_password_needs_rehash (const char *hash)
{
    if (sodium_init () < 0 || !hash || strnlen (hash, RFK_AUTH_HASH_MAX) == RFK_AUTH_HASH_MAX)
        return true;
    return crypto_pwhash_str_needs_rehash (hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                           crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
}

//  ---------------------------------------------------------------------------------------
//  Tokens

const char *
rfk_auth_user_type_name (rfk_auth_user_type_t type)
{
    if (type < RFK_AUTH_SUPERADMIN || type > RFK_AUTH_APP_DEVELOPER)
        return "";
    return s_type_names[type];
}

int
rfk_auth_user_type_parse (const char *name, rfk_auth_user_type_t *type)
{
    assert (type);
    for (int i = RFK_AUTH_SUPERADMIN; name && i <= RFK_AUTH_APP_DEVELOPER; i++)
        if (!strcmp (name, s_type_names[i])) {
            *type = (rfk_auth_user_type_t)i;
            return 0;
        }
    return -1;
}

//  Random bytes as lower-case hex into out (2 * size + 1 bytes).
static void
s_random_hex (char *out, size_t size)
{
    unsigned char bytes[64];
    assert (size <= sizeof bytes);
    randombytes_buf (bytes, size);
    sodium_bin2hex (out, 2 * size + 1, bytes, size);
    sodium_memzero (bytes, sizeof bytes);
}

char *
rfk_auth_token_issue (rfk_auth_t *self, const char *user_id, rfk_auth_user_type_t user_type,
                      int64_t now)
{
    assert (self);
    self->error[0] = '\0';
    if (!user_id || !*user_id || strlen (user_id) > RFK_AUTH_USER_ID_MAX) {
        s_error (self, "user id must have 1 to %d characters", RFK_AUTH_USER_ID_MAX);
        return NULL;
    }
    if (!*rfk_auth_user_type_name (user_type)) {
        s_error (self, "unknown user type %d", (int)user_type);
        return NULL;
    }
    char token_id[33];
    s_random_hex (token_id, 16);
    jwt_t *jwt = NULL;
    char *token = NULL;
    if (jwt_new (&jwt) == 0 && jwt_add_grant (jwt, "user_id", user_id) == 0 &&
        jwt_add_grant (jwt, "user_type", rfk_auth_user_type_name (user_type)) == 0 &&
        jwt_add_grant_int (jwt, "iat", (long)now) == 0 &&
        jwt_add_grant_int (jwt, "exp", (long)(now + self->token_ttl)) == 0 &&
        jwt_add_grant (jwt, "jti", token_id) == 0 &&
        jwt_set_alg (jwt, JWT_ALG_HS256, self->key, (int)self->key_length) == 0)
        token = jwt_encode_str (jwt);
    if (!token)
        s_error (self, "cannot encode a token: %s", strerror (errno ? errno : ENOMEM));
    jwt_free (jwt);
    return token;
}

//  Decode one base64url segment (no padding) into a new NUL-terminated buffer; NULL if it
//  is not base64url.
static unsigned char *
s_base64url_decode (const char *segment, size_t length, size_t *decoded_length)
{
    unsigned char *buffer = malloc (length + 1);
    if (!buffer)
        return NULL;
    const char *end = NULL;
    if (sodium_base642bin (buffer, length, segment, length, NULL, decoded_length, &end,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
        end != segment + length) {
        free (buffer);
        return NULL;
    }
    buffer[*decoded_length] = '\0';
    return buffer;
}

//  Decode a segment holding a JSON object; NULL if it does not.
static json_t *
s_segment_json (const char *segment, size_t length)
{
    size_t decoded_length = 0;
    unsigned char *decoded = s_base64url_decode (segment, length, &decoded_length);
    if (!decoded)
        return NULL;
    json_t *object =
        json_loadb ((const char *)decoded, decoded_length, JSON_REJECT_DUPLICATES, NULL);
    free (decoded);
    if (object && !json_is_object (object)) {
        json_decref (object);
        object = NULL;
    }
    return object;
}

//  Format a time for a message, ISO-8601 UTC.
static void
s_iso_time (int64_t seconds, char *out, size_t size)
{
    time_t time = (time_t)seconds;
    struct tm tm;
    if (!gmtime_r (&time, &tm) || !strftime (out, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf (out, size, "%" PRId64, seconds);
}

//  Check the token's structure, algorithm and signature, before libjwt sees it.
static int
s_check_signed (rfk_auth_t *self, const char *token)
{
    size_t length = strnlen (token, S_TOKEN_MAX + 1);
    if (length > S_TOKEN_MAX) {
        s_error (self, "token is malformed: longer than %d bytes", S_TOKEN_MAX);
        return -1;
    }
    const char *dot1 = strchr (token, '.');
    const char *dot2 = dot1 ? strchr (dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strchr (dot2 + 1, '.')) {
        s_error (self, "token is malformed: it must have three parts separated by '.'");
        return -1;
    }
    json_t *header = s_segment_json (token, (size_t)(dot1 - token));
    if (!header) {
        s_error (self, "token is malformed: its header is not base64url-encoded JSON");
        return -1;
    }
    const char *alg = json_string_value (json_object_get (header, "alg"));
    if (!alg || strcmp (alg, "HS256")) {
        s_error (self, "token algorithm '%.32s' is not accepted (only HS256)", alg ? alg : "");
        json_decref (header);
        return -1;
    }
    json_decref (header);
    json_t *payload = s_segment_json (dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!payload) {
        s_error (self, "token is malformed: its payload is not base64url-encoded JSON");
        return -1;
    }
    size_t signature_length = 0;
    unsigned char *signature = s_base64url_decode (dot2 + 1, strlen (dot2 + 1), &signature_length);
    if (!signature || signature_length != crypto_auth_hmacsha256_BYTES) {
        free (signature);
        json_decref (payload);
        s_error (self, "token is malformed: its signature is not 32 bytes of base64url");
        return -1;
    }
    unsigned char expected[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init (&state, self->key, self->key_length);
    crypto_auth_hmacsha256_update (&state, (const unsigned char *)token,
                                   (unsigned long long)(dot2 - token));
    crypto_auth_hmacsha256_final (&state, expected);
    int match = sodium_memcmp (expected, signature, sizeof expected);
    free (signature);
    sodium_memzero (&state, sizeof state);
    if (match != 0) {
        json_decref (payload);
        s_error (self, "token signature does not match");
        return -1;
    }
    //  libjwt reads a claim of the wrong JSON type as 0 or NULL: tell the caller instead.
    const char *strings[] = {"user_id", "user_type", "jti"};
    const char *integers[] = {"iat", "exp"};
    for (int i = 0; i < 3; i++)
        if (!json_is_string (json_object_get (payload, strings[i]))) {
            s_error (self, "token is malformed: no string '%s' claim", strings[i]);
            json_decref (payload);
            return -1;
        }
    for (int i = 0; i < 2; i++)
        if (!json_is_integer (json_object_get (payload, integers[i]))) {
            s_error (self, "token is malformed: no integer '%s' claim", integers[i]);
            json_decref (payload);
            return -1;
        }
    json_decref (payload);
    return 0;
}

//  Read the claims from a decoded token into claims; -1 with the error set if one is
//  missing or wrong.
static int
s_read_claims (rfk_auth_t *self, jwt_t *jwt, rfk_auth_claims_t *claims)
{
    const char *user_id = jwt_get_grant (jwt, "user_id");
    if (!user_id || !*user_id || strlen (user_id) > RFK_AUTH_USER_ID_MAX) {
        s_error (self, "token is malformed: no valid 'user_id' claim");
        return -1;
    }
    snprintf (claims->user_id, sizeof claims->user_id, "%s", user_id);
    if (rfk_auth_user_type_parse (jwt_get_grant (jwt, "user_type"), &claims->user_type)) {
        s_error (self, "token is malformed: no valid 'user_type' claim");
        return -1;
    }
    const char *token_id = jwt_get_grant (jwt, "jti");
    if (!token_id || strlen (token_id) != 32) {
        s_error (self, "token is malformed: no valid 'jti' claim");
        return -1;
    }
    snprintf (claims->token_id, sizeof claims->token_id, "%s", token_id);
    const char *names[] = {"iat", "exp"};
    int64_t *values[] = {&claims->issued_at, &claims->expires_at};
    for (int i = 0; i < 2; i++) {
        errno = 0;
        long value = jwt_get_grant_int (jwt, names[i]);
        if (errno) {
            s_error (self, "token is malformed: no integer '%s' claim", names[i]);
            return -1;
        }
        *values[i] = value;
    }
    return 0;
}

int
rfk_auth_token_verify (rfk_auth_t *self, const char *token, int64_t now, rfk_auth_claims_t *claims)
{
    assert (self);
    self->error[0] = '\0';
    if (!token || !*token) {
        s_error (self, "no token given");
        return -1;
    }
    if (s_check_signed (self, token))
        return -1;
    jwt_t *jwt = NULL;
    int rc = jwt_decode (&jwt, token, self->key, (int)self->key_length);
    if (rc || !jwt || jwt_get_alg (jwt) != JWT_ALG_HS256) {
        s_error (self, "token is malformed: %s", rc ? strerror (rc) : "not HS256");
        jwt_free (jwt);
        return -1;
    }
    rfk_auth_claims_t read;
    memset (&read, 0, sizeof read);
    rc = s_read_claims (self, jwt, &read);
    jwt_free (jwt);
    if (rc)
        return -1;
    char when[32];
    if (read.expires_at <= now) {
        s_iso_time (read.expires_at, when, sizeof when);
        s_error (self, "token expired at %s", when);
        return -1;
    }
    if (read.issued_at > now + RFK_AUTH_CLOCK_SKEW) {
        s_error (self, "token was issued in the future");
        return -1;
    }
    if (!self->lookup) {
        s_error (self, "no user lookup configured: cannot check bans");
        return -1;
    }
    int64_t banned_at = 0;
    if (self->lookup (self->lookup_arg, read.user_id, &banned_at)) {
        s_error (self, "token user %s does not exist", read.user_id);
        return -1;
    }
    if (banned_at) {
        s_iso_time (banned_at, when, sizeof when);
        s_error (self, "user %s is banned (since %s)", read.user_id, when);
        return -1;
    }
    if (claims)
        *claims = read;
    return 0;
}

//  ---------------------------------------------------------------------------------------
//  Service secrets

char *
rfk_auth_secret_new (void)
{
    if (sodium_init () < 0)
        return NULL;
    char *secret = malloc (RFK_AUTH_SECRET_LEN + 1);
    if (secret)
        s_random_hex (secret, RFK_AUTH_SECRET_LEN / 2);
    return secret;
}

int
rfk_auth_secret_hash (rfk_auth_t *self, const char *secret, char *hash)
{
    assert (self);
    assert (hash);
    self->error[0] = '\0';
    size_t length = secret ? strnlen (secret, 1025) : 0;
    if (length == 0 || length > 1024) {
        s_error (self, "a service secret must have 1 to 1024 bytes");
        return -1;
    }
    unsigned char digest[RFK_AUTH_SECRET_HASH_LEN / 2];
    crypto_generichash (digest, sizeof digest, (const unsigned char *)secret, length,
                        self->secret_key, sizeof self->secret_key);
    sodium_bin2hex (hash, RFK_AUTH_SECRET_HASH_LEN + 1, digest, sizeof digest);
    return 0;
}

int
rfk_auth_secret_verify (rfk_auth_t *self, const char *secret, const char *hash)
{
    assert (self);
    char expected[RFK_AUTH_SECRET_HASH_LEN + 1];
    if (!hash || strnlen (hash, RFK_AUTH_SECRET_HASH_LEN + 1) != RFK_AUTH_SECRET_HASH_LEN ||
        rfk_auth_secret_hash (self, secret, expected)) {
        s_error (self, "service secret does not match");
        return -1;
    }
    if (sodium_memcmp (expected, hash, RFK_AUTH_SECRET_HASH_LEN) != 0) {
        s_error (self, "service secret does not match");
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------------------------
//  Roles and ownership

static bool
s_is_admin (rfk_auth_user_type_t type)
{
    return type == RFK_AUTH_SUPERADMIN || type == RFK_AUTH_ADMIN;
}

//  Owner ids compared as the store gives them; a missing id never matches.
static bool
s_owns (const char *actor_id, const char *owner_id)
{
    return actor_id && owner_id && *actor_id && !strcmp (actor_id, owner_id);
}

int
rfk_auth_can_list_users (rfk_auth_user_type_t actor_type)
{
    return s_is_admin (actor_type) ? 0 : 403;
}

int
rfk_auth_can_manage_user (rfk_auth_user_type_t actor_type, rfk_auth_user_type_t target_type)
{
    if (!*rfk_auth_user_type_name (target_type))
        return 403;
    if (actor_type == RFK_AUTH_SUPERADMIN)
        return 0;
    if (actor_type == RFK_AUTH_ADMIN && !s_is_admin (target_type))
        return 0;
    return 403;
}

int
rfk_auth_can_upload_model (rfk_auth_user_type_t actor_type)
{
    return s_is_admin (actor_type) || actor_type == RFK_AUTH_MODEL_DEVELOPER ? 0 : 403;
}

int
rfk_auth_can_manage_model (const char *actor_id, rfk_auth_user_type_t actor_type,
                           const char *owner_id)
{
    if (s_is_admin (actor_type))
        return 0;
    if (actor_type == RFK_AUTH_MODEL_DEVELOPER && s_owns (actor_id, owner_id))
        return 0;
    return 403;
}

int
rfk_auth_can_read_model (const char *actor_id, rfk_auth_user_type_t actor_type,
                         const char *owner_id, bool is_public)
{
    if (s_is_admin (actor_type))
        return 0;
    if (!*rfk_auth_user_type_name (actor_type))
        return 403;
    return is_public || s_owns (actor_id, owner_id) ? 0 : 403;
}

int
rfk_auth_can_access (const char *actor_id, rfk_auth_user_type_t actor_type, const char *owner_id)
{
    if (s_is_admin (actor_type))
        return 0;
    if (!*rfk_auth_user_type_name (actor_type))
        return 403;
    return s_owns (actor_id, owner_id) ? 0 : 403;
}

int
rfk_auth_can_stop_all (rfk_auth_user_type_t actor_type)
{
    return actor_type == RFK_AUTH_SUPERADMIN ? 0 : 403;
}
