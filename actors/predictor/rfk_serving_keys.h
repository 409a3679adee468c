/*  rfk_serving_keys.h: the keys an inference job with `auth: token` is queried with.

    An inference job is open by default (anyone who reaches its predictor may
    query it, as with the original client). Created with `auth: token`, its
    predictor answers only queries that carry one of the job's serving keys:
    `Authorization: Bearer KEY` over HTTP, PredictRequest.key over ZeroMQ.

    Admin issues a key (rfk_serving_key_new: 256 random bits as text), shows
    it once, and keeps only its hash (rfk_serving_key_hash: BLAKE2b-256 with
    libsodium's crypto_generichash, in hex; a fast hash is enough for random
    256-bit keys, which cannot be guessed from a list). It pushes the hashes
    of the job's valid keys to its predictor (ServiceConfig.config
    `serving_keys`, then ServingKeys on every issue or revoke), so the query
    path never asks admin. The predictor keeps them in an rfk_serving_keys_t
    and checks a key by hashing it and comparing with every hash it holds in
    constant time (sodium_memcmp), without stopping at the first match.
*/
#ifndef RFK_SERVING_KEYS_H_INCLUDED
#define RFK_SERVING_KEYS_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Text lengths: a key ("rk_" + 64 hex digits) and its hash (64 hex digits). */
#define RFK_SERVING_KEY_LEN 67
#define RFK_SERVING_KEY_HASH_LEN 64
/* The most keys one job holds (admin refuses more). */
#define RFK_SERVING_KEYS_MAX 256

/* A new random key into key (RFK_SERVING_KEY_LEN + 1 bytes). 0, or -1 when
   libsodium cannot start. */
int
rfk_serving_key_new (char *key);

/* The hash of a key into hash (RFK_SERVING_KEY_HASH_LEN + 1 bytes, hex). 0,
   or -1 when key is NULL. */
int
rfk_serving_key_hash (const char *key, char *hash);

/* True when text is a well-formed hash (64 lowercase hex digits). */
bool
rfk_serving_key_hash_valid (const char *text);

typedef struct _rfk_serving_keys_t rfk_serving_keys_t;

/* An empty, open set: keys are not required. NULL out of memory. */
rfk_serving_keys_t *
rfk_serving_keys_new (void);

void
rfk_serving_keys_destroy (rfk_serving_keys_t **self_p);

/* Makes keys required (or not) from now on. */
void
rfk_serving_keys_require (rfk_serving_keys_t *self, bool required);

/* True when queries need a key. */
bool
rfk_serving_keys_required (const rfk_serving_keys_t *self);

/* Replaces the valid hashes with those of hashes (a JSON array of hash
   strings; NULL: none). 0, or -1 (nothing changed) when it is not an array
   of valid hashes or holds more than RFK_SERVING_KEYS_MAX. */
int
rfk_serving_keys_set (rfk_serving_keys_t *self, const json_t *hashes);

/* How many valid hashes it holds. */
size_t
rfk_serving_keys_count (const rfk_serving_keys_t *self);

/* True when key may query: keys are not required, or key is one of the
   valid keys (constant time in the key and the hashes). */
bool
rfk_serving_keys_allow (const rfk_serving_keys_t *self, const char *key);

/* The key of an HTTP Authorization header value "Bearer KEY" (borrowed,
   inside value), or NULL when it has another form. */
const char *
rfk_serving_key_from_bearer (const char *value);

#ifdef __cplusplus
}
#endif

#endif
