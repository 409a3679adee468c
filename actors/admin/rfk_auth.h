/*  rfk_auth.h: who may do what. Admin's authentication and authorisation, apart from the store:

    - passwords: argon2id hashes in libsodium's self-describing string form
      (crypto_pwhash_str, INTERACTIVE limits: 64 MiB, about 0.1 s per hash);
    - tokens: JWT HS256 (libjwt) with the claims user_id, user_type, iat, exp and jti (a random
      token id). Verification accepts HS256 only, checks the signature in constant time, the
      expiry and, through a lookup the owner provides, that the user still exists and is not
      banned -- so a ban takes effect at once, also for tokens issued before it;
    - the role and ownership rules of API.md (functions returning 0 or 403);
    - service secrets: random 256-bit per-service secrets, stored as keyed BLAKE2b hashes.

    Every failure leaves a sentence in rfk_auth_error (one per kind of failure, so admin can
    answer 401 with a message that says what was wrong with the token).
*/
#ifndef RFK_AUTH_H_INCLUDED
#define RFK_AUTH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Size of a password hash string, terminator included (crypto_pwhash_STRBYTES).
#define RFK_AUTH_HASH_MAX 128
//  Longest password accepted, in bytes.
#define RFK_AUTH_PASSWORD_MAX 1024
//  Length of a service secret and of its stored hash (hex digits, terminator excluded).
#define RFK_AUTH_SECRET_LEN 64
#define RFK_AUTH_SECRET_HASH_LEN 64
//  Longest user id carried in a token.
#define RFK_AUTH_USER_ID_MAX 64
//  Shortest HS256 key accepted, in bytes (RFC 7518: at least the hash size).
#define RFK_AUTH_KEY_MIN 32
//  Tolerated clock difference for a token's issue time, in seconds.
#define RFK_AUTH_CLOCK_SKEW 60

//  The user types of API.md.
typedef enum {
    RFK_AUTH_SUPERADMIN = 1,
    RFK_AUTH_ADMIN,
    RFK_AUTH_MODEL_DEVELOPER,
    RFK_AUTH_APP_DEVELOPER
} rfk_auth_user_type_t;

//  What a valid token says.
typedef struct {
    char user_id[RFK_AUTH_USER_ID_MAX + 1]; //  the user's store id
    rfk_auth_user_type_t user_type;         //  the user's type when the token was issued
    char token_id[33];                      //  jti: 128 random bits in hex
    int64_t issued_at;                      //  iat, seconds since the epoch
    int64_t expires_at;                     //  exp, seconds since the epoch
} rfk_auth_claims_t;

//  The owner's store lookup, called for every token verified: returns 0 and sets *banned_at
//  (seconds since the epoch when the user was banned, 0 if not banned) when the user exists,
//  -1 when it does not.
typedef int (rfk_auth_lookup_fn) (void *arg, const char *user_id, int64_t *banned_at);

typedef struct _rfk_auth_t rfk_auth_t;

//  Create the token and secret authority with the HS256 key from the configuration (at least
//  RFK_AUTH_KEY_MIN bytes) and the token lifetime in seconds (API.md: 3600). Returns NULL
//  with a message on stderr when the key is too short, the lifetime not positive, or
//  libsodium cannot start.
rfk_auth_t *
rfk_auth_new (const void *key, size_t key_length, int64_t token_ttl);

//  Destroy the authority, wiping its keys. Safe with NULL and twice.
void
rfk_auth_destroy (rfk_auth_t **self_p);

//  Set the user lookup used by rfk_auth_token_verify. Without one, verification cannot
//  know about bans and rejects every token ("no user lookup configured").
void
rfk_auth_set_lookup (rfk_auth_t *self, rfk_auth_lookup_fn *lookup, void *arg);

//  Why the last call on self failed.
const char *
rfk_auth_error (rfk_auth_t *self);

//  Hash a password for the store into hash (RFK_AUTH_HASH_MAX bytes). Returns 0, or -1 when
//  the password is empty, longer than RFK_AUTH_PASSWORD_MAX, or memory is short. Slow on
//  purpose (argon2id): call it off the predictor's path.
int
rfk_auth_password_hash (const char *password, char *hash);

//  Check a password against a stored hash. Returns 0 if it matches, -1 otherwise (also for
//  a malformed hash).
int
rfk_auth_password_verify (const char *hash, const char *password);

//  True when a stored hash was made with other limits than today's (rehash it at next login).
bool
rfk_auth_password_needs_rehash (const char *hash);

//  Issue a token for a user at time now (seconds since the epoch), valid for the lifetime
//  given to rfk_auth_new. Returns a new string (the caller frees it) or NULL with the error set.
char *
rfk_auth_token_issue (rfk_auth_t *self, const char *user_id, rfk_auth_user_type_t user_type,
                      int64_t now);

//  Verify a token at time now: structure, algorithm (HS256 only), signature, claims,
//  expiry, and the user's existence and ban state from the lookup. Returns 0 and fills
//  claims (if not NULL), or -1 with the reason in rfk_auth_error, one of:
//  "no token given", "token is malformed: ...", "token algorithm '...' is not accepted
//  (only HS256)", "token signature does not match", "token expired at ...", "token was
//  issued in the future", "token user ... does not exist", "user ... is banned".
int
rfk_auth_token_verify (rfk_auth_t *self, const char *token, int64_t now, rfk_auth_claims_t *claims);

//  A new random service secret: RFK_AUTH_SECRET_LEN hex digits (256 bits). The caller
//  frees it (ideally after sodium_memzero); NULL when memory is short.
char *
rfk_auth_secret_new (void);

//  The hash of a service secret to keep in the store: keyed BLAKE2b-256 in hex, into hash
//  (RFK_AUTH_SECRET_HASH_LEN + 1 bytes). A fast hash suffices because the secrets are 256
//  random bits: there is no dictionary to try, so argon2's cost would buy nothing and would
//  slow every HELLO. The key, derived from the token key, means a copy of the store alone
//  does not even let one check a guess. Returns 0 or -1 for an empty or oversized secret.
int
rfk_auth_secret_hash (rfk_auth_t *self, const char *secret, char *hash);

//  Check a secret presented in HELLO against its stored hash, in constant time. Returns 0 if
//  it matches, -1 otherwise.
int
rfk_auth_secret_verify (rfk_auth_t *self, const char *secret, const char *hash);

//  "SUPERADMIN", "ADMIN", "MODEL_DEVELOPER", "APP_DEVELOPER"; "" for a value out of range.
const char *
rfk_auth_user_type_name (rfk_auth_user_type_t type);

//  Parse a user type name (exact, upper case). Returns 0 or -1.
int
rfk_auth_user_type_parse (const char *name, rfk_auth_user_type_t *type);

//  The rules of API.md. Each returns 0 when allowed and 403 when not.
//  May actor list users (GET /users)? Admins and the superadmin.
int
rfk_auth_can_list_users (rfk_auth_user_type_t actor_type);

//  May actor create, or ban, a user of target_type? The superadmin any user; an admin users
//  other than admins (model and app developers); nobody else.
int
rfk_auth_can_manage_user (rfk_auth_user_type_t actor_type, rfk_auth_user_type_t target_type);

//  May actor upload a model? Admins, the superadmin and model developers.
int
rfk_auth_can_upload_model (rfk_auth_user_type_t actor_type);

//  May actor download or delete a model owned by owner_id? Admins and the superadmin any;
//  a model developer their own; app developers none.
int
rfk_auth_can_manage_model (const char *actor_id, rfk_auth_user_type_t actor_type,
                           const char *owner_id);

//  May actor read a model's record (and use it in a train job)? Admins and the superadmin any;
//  others their own and public ones.
int
rfk_auth_can_read_model (const char *actor_id, rfk_auth_user_type_t actor_type,
                         const char *owner_id, bool is_public);

//  May actor see or change a dataset, train job, trial or inference job owned by owner_id?
//  Admins and the superadmin any; everyone else their own.
int
rfk_auth_can_access (const char *actor_id, rfk_auth_user_type_t actor_type, const char *owner_id);

//  May actor stop every job (POST /actions/stop_all_jobs)? The superadmin only.
int
rfk_auth_can_stop_all (rfk_auth_user_type_t actor_type);

#ifdef __cplusplus
}
#endif

#endif
