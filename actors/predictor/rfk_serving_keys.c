/*  rfk_serving_keys.c: serving keys, their hashes and the predictor's check
    (see rfk_serving_keys.h).
*/
#include "rfk_serving_keys.h"

#include <assert.h>
#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_KEY_BYTES 32
#define S_HASH_BYTES 32
#define S_PREFIX "rk_"

struct _rfk_serving_keys_t {
    bool required;                         /* queries need a key (`auth: token`) */
    size_t count;                          /* valid hashes in hashes */
    unsigned char (*hashes)[S_HASH_BYTES]; /* the valid keys' hashes, binary */
};

int
rfk_serving_key_new (char *key)
{
    if (sodium_init () < 0)
        return -1;
    unsigned char bytes[S_KEY_BYTES];
    randombytes_buf (bytes, sizeof bytes);
    memcpy (key, S_PREFIX, strlen (S_PREFIX));
    sodium_bin2hex (key + strlen (S_PREFIX), 2 * S_KEY_BYTES + 1, bytes, sizeof bytes);
    sodium_memzero (bytes, sizeof bytes);
    return 0;
}

/* The binary hash of a key. */
static void
s_hash (const char *key, unsigned char *out)
{
    crypto_generichash (out, S_HASH_BYTES, (const unsigned char *)key, strlen (key), NULL, 0);
}

int
rfk_serving_key_hash (const char *key, char *hash)
{
    if (!key)
        return -1;
    if (sodium_init () < 0)
        return -1;
    unsigned char bytes[S_HASH_BYTES];
    s_hash (key, bytes);
    sodium_bin2hex (hash, RFK_SERVING_KEY_HASH_LEN + 1, bytes, sizeof bytes);
    return 0;
}

bool
rfk_serving_key_hash_valid (const char *text)
{
    if (!text || strlen (text) != RFK_SERVING_KEY_HASH_LEN)
        return false;
    for (const char *c = text; *c; c++)
        if (!isxdigit ((unsigned char)*c) || isupper ((unsigned char)*c))
            return false;
    return true;
}

rfk_serving_keys_t *
rfk_serving_keys_new (void)
{
    if (sodium_init () < 0)
        return NULL;
    return (rfk_serving_keys_t *)calloc (1, sizeof (rfk_serving_keys_t));
}

void
rfk_serving_keys_destroy (rfk_serving_keys_t **self_p)
{
    assert (self_p);
    rfk_serving_keys_t *self = *self_p;
    if (self) {
        free (self->hashes);
        free (self);
        *self_p = NULL;
    }
}

void
rfk_serving_keys_require (rfk_serving_keys_t *self, bool required)
{
    assert (self);
    self->required = required;
}

bool
rfk_serving_keys_required (const rfk_serving_keys_t *self)
{
    assert (self);
    return self->required;
}

int
rfk_serving_keys_set (rfk_serving_keys_t *self, const json_t *hashes)
{
    assert (self);
    size_t count = hashes ? json_array_size (hashes) : 0;
    if ((hashes && !json_is_array (hashes)) || count > RFK_SERVING_KEYS_MAX)
        return -1;
    unsigned char (*binary)[S_HASH_BYTES] = NULL;
    if (count > 0 && !(binary = calloc (count, S_HASH_BYTES)))
        return -1;
    for (size_t index = 0; index < count; index++) {
        const char *text = json_string_value (json_array_get (hashes, index));
        size_t length = 0;
        if (!rfk_serving_key_hash_valid (text) ||
            sodium_hex2bin (binary[index], S_HASH_BYTES, text, strlen (text), NULL, &length,
                            NULL) != 0 ||
            length != S_HASH_BYTES) {
            free (binary);
            return -1;
        }
    }
    free (self->hashes);
    self->hashes = binary;
    self->count = count;
    return 0;
}

size_t
rfk_serving_keys_count (const rfk_serving_keys_t *self)
{
    assert (self);
    return self->count;
}

bool
rfk_serving_keys_allow (const rfk_serving_keys_t *self, const char *key)
{
    assert (self);
    if (!self->required)
        return true;
    if (!key || !*key)
        return false;
    unsigned char hash[S_HASH_BYTES];
    s_hash (key, hash);
    /*  Every hash is compared, so the time says nothing of which matched. */
    int found = 0;
    for (size_t index = 0; index < self->count; index++)
        found |= sodium_memcmp (hash, self->hashes[index], S_HASH_BYTES) == 0;
    return found != 0;
}

const char *
rfk_serving_key_from_bearer (const char *value)
{
    if (!value || strncasecmp (value, "Bearer ", 7) != 0)
        return NULL;
    value += 7;
    while (*value == ' ')
        value++;
    return *value ? value : NULL;
}
