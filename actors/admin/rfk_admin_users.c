/*  rfk_admin_users.c: tokens, users and the superadmin.

    Tokens are JWT HS256 from rfk_auth, signed with admin.jwt_secret: an
    empty secret means a key admin makes once and keeps in
    <data_dir>/keys/jwt.key (rfk_admin_keys.c), so tokens survive a restart;
    a configured secret must be at
    least 32 bytes, except with --dev, where a shorter one is stretched with
    BLAKE2b and a warning. Every token is checked against the store on every
    request, so a ban works at once, also for tokens issued before it.

    The superadmin (admin.superadmin_email) is created at the first start
    with the password from admin.superadmin_password (RAFIKI_ADMIN_SUPERADMIN_
    PASSWORD) or else RAFIKI_SUPERADMIN_PASSWORD. Without one, or with a
    well-known default ("rafiki", "password", ...), admin refuses to start
    unless --dev is given; --dev then seeds "rafiki" and says so loudly. On
    later starts the stored password counts; admin still refuses to run with
    the default one stored unless --dev.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

#define S_DEV_PASSWORD "rafiki"

static const char *s_default_passwords[] = {"rafiki",   "password", "superadmin", "admin",
                                            "changeme", "123456",   NULL};

static bool
s_password_is_default (const char *password)
{
    for (int index = 0; s_default_passwords[index]; index++)
        if (streq (password, s_default_passwords[index]))
            return true;
    return false;
}

/* The auth lookup: does the user exist, and since when is it banned. */
static int
s_lookup (void *arg, const char *user_id, int64_t *banned_at)
{
    rfk_admin_t *self = (rfk_admin_t *)arg;
    rfk_user_t *user = rfk_store_get_user (self->store, user_id);
    if (!user)
        return -1;
    *banned_at = 0;
    if (user->banned_date) {
        struct tm tm = {0};
        if (strptime (user->banned_date, "%Y-%m-%dT%H:%M:%S", &tm))
            *banned_at = (int64_t)timegm (&tm);
        if (*banned_at <= 0)
            *banned_at = 1;
    }
    rfk_user_destroy (&user);
    return 0;
}

int
rfk_admin_auth_setup (rfk_admin_t *self, char *err, size_t errlen)
{
    const char *secret = rfk_config_string (self->config, "admin", "jwt_secret");
    unsigned char key[64];
    size_t key_length = 32;
    if (!secret || !*secret) {
        bool created = false;
        if (rfk_admin_key_load (self->data_dir, "jwt.key", key, key_length, &created, err,
                                errlen) != 0)
            return -1;
        rfk_log_notice (RFK_ADMIN_LOG, "jwt-secret file=%s/keys/jwt.key created=%s", self->data_dir,
                        created ? "true" : "false");
    } else if (strlen (secret) >= RFK_AUTH_KEY_MIN) {
        key_length = strlen (secret) < sizeof key ? strlen (secret) : sizeof key;
        if (strlen (secret) > sizeof key) {
            crypto_generichash (key, 32, (const unsigned char *)secret, strlen (secret), NULL, 0);
            key_length = 32;
        } else
            memcpy (key, secret, key_length);
    } else if (self->dev) {
        crypto_generichash (key, 32, (const unsigned char *)secret, strlen (secret), NULL, 0);
        rfk_log_warning (RFK_ADMIN_LOG,
                         "DEV MODE: admin.jwt_secret is shorter than %d bytes; "
                         "accepted only because of --dev",
                         RFK_AUTH_KEY_MIN);
    } else {
        snprintf (err, errlen,
                  "admin.jwt_secret is %zu bytes long; it must be at least %d (or empty for a "
                  "key kept under <data_dir>/keys/)",
                  strlen (secret), RFK_AUTH_KEY_MIN);
        return -1;
    }
    self->auth = rfk_auth_new (key, key_length,
                               (int64_t)rfk_config_int (self->config, "admin", "token_ttl_s"));
    sodium_memzero (key, sizeof key);
    if (!self->auth) {
        snprintf (err, errlen, "cannot set up token signing (libsodium)");
        return -1;
    }
    rfk_auth_set_lookup (self->auth, s_lookup, self);
    return 0;
}

int
rfk_admin_seed_superadmin (rfk_admin_t *self, char *err, size_t errlen)
{
    const char *email = rfk_config_string (self->config, "admin", "superadmin_email");
    if (!email || !*email) {
        snprintf (err, errlen, "admin.superadmin_email is empty");
        return -1;
    }
    const char *password = rfk_config_string (self->config, "admin", "superadmin_password");
    if (!password || !*password)
        password = self->env_password; //  taken from the environment at start
    rfk_user_t *user = rfk_store_get_user_by_email (self->store, email);
    if (user) {
        //  Seeded before: the stored password counts.
        bool is_default = rfk_auth_password_verify (user->password_hash, S_DEV_PASSWORD) == 0;
        rfk_user_destroy (&user);
        if (is_default && !self->dev) {
            snprintf (err, errlen,
                      "the superadmin %s still has the default password; start once with --dev "
                      "and change it, or use a new data directory",
                      email);
            return -1;
        }
        if (is_default)
            rfk_log_warning (RFK_ADMIN_LOG,
                             "DEV MODE: superadmin %s has the default password \"%s\"", email,
                             S_DEV_PASSWORD);
        return 0;
    }
    if (rfk_store_code (self->store) != RFK_CODE_NOT_FOUND &&
        rfk_store_code (self->store) != RFK_CODE_OK) {
        snprintf (err, errlen, "cannot read the users table: %s", rfk_store_message (self->store));
        return -1;
    }
    if (!password || !*password || s_password_is_default (password)) {
        if (!self->dev) {
            snprintf (err, errlen,
                      "no superadmin password configured%s: set RAFIKI_SUPERADMIN_PASSWORD (or "
                      "admin.superadmin_password), or start with --dev for a development "
                      "password",
                      password && *password ? " (the one given is a well-known default)" : "");
            return -1;
        }
        password = password && *password ? password : S_DEV_PASSWORD;
        rfk_log_warning (RFK_ADMIN_LOG,
                         "DEV MODE: superadmin %s gets the well-known password "
                         "\"%s\"; never run like this on a shared machine",
                         email, password);
    }
    char hash[RFK_AUTH_HASH_MAX];
    if (rfk_auth_password_hash (password, hash) != 0) {
        snprintf (err, errlen, "cannot hash the superadmin password (too long or out of memory)");
        return -1;
    }
    rfk_user_t seed = {.email = (char *)email, .password_hash = hash, .user_type = "SUPERADMIN"};
    rfk_user_t *created = rfk_store_create_user (self->store, &seed);
    if (!created) {
        snprintf (err, errlen, "cannot create the superadmin: %s", rfk_store_message (self->store));
        return -1;
    }
    rfk_log_notice (RFK_ADMIN_LOG, "superadmin-created email=%s id=%s", email, created->id);
    rfk_user_destroy (&created);
    return 0;
}

int
rfk_admin_authenticate (rfk_admin_t *self, const rfk_msg_t *request, const char *token,
                        rfk_auth_claims_t *claims, rfk_msg_t **error)
{
    if (!token || !*token) {
        *error = rfk_admin_error (request, RFK_CODE_UNAUTHORIZED,
                                  "no token given: log in first (POST /tokens)");
        return -1;
    }
    if (rfk_auth_token_verify (self->auth, token, (int64_t)time (NULL), claims) != 0) {
        *error =
            rfk_admin_error (request, RFK_CODE_UNAUTHORIZED, "%s", rfk_auth_error (self->auth));
        return -1;
    }
    return 0;
}

rfk_msg_t *
rfk_admin_on_login (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller)
{
    (void)caller;
    rfk_msg_t *error = NULL;
    const char *email = rfk_admin_require (req, "email", &error);
    const char *password = email ? rfk_admin_require (req, "password", &error) : NULL;
    if (!password)
        return error;
    rfk_user_t *user = rfk_store_get_user_by_email (self->store, email);
    if (!user) {
        if (rfk_store_code (self->store) == RFK_CODE_UNAVAILABLE)
            return rfk_admin_store_error (self, req, "reading the user");
        //  Hash anyway, so a wrong email costs the same time as a wrong password.
        char hash[RFK_AUTH_HASH_MAX];
        rfk_auth_password_hash ("not a password", hash);
        return rfk_admin_error (req, RFK_CODE_UNAUTHORIZED, "wrong email or password");
    }
    rfk_msg_t *reply = rfk_admin_login_reply (
        self, req, user, rfk_auth_password_verify (user->password_hash, password) == 0);
    rfk_user_destroy (&user);
    return reply;
}

rfk_msg_t *
rfk_admin_login_reply (rfk_admin_t *self, const rfk_msg_t *req, const rfk_user_t *user,
                       bool verified)
{
    rfk_msg_t *reply = NULL;
    rfk_auth_user_type_t type;
    if (!verified)
        reply = rfk_admin_error (req, RFK_CODE_UNAUTHORIZED, "wrong email or password");
    else if (user->banned_date)
        reply = rfk_admin_error (req, RFK_CODE_UNAUTHORIZED, "user %s is banned (since %s)",
                                 user->email, user->banned_date);
    else if (rfk_auth_user_type_parse (user->user_type, &type) != 0)
        reply = rfk_admin_error (req, RFK_CODE_INTERNAL, "user %s has an unknown type %s",
                                 user->email, user->user_type);
    else {
        char *token = rfk_auth_token_issue (self->auth, user->id, type, (int64_t)time (NULL));
        if (!token)
            reply = rfk_admin_error (req, RFK_CODE_INTERNAL, "cannot issue a token: %s",
                                     rfk_auth_error (self->auth));
        else {
            reply = rfk_admin_reply (req, "Token");
            json_object_set_new (reply->body, "user_id", json_string (user->id));
            json_object_set_new (reply->body, "user_type", json_string (user->user_type));
            json_object_set_new (reply->body, "token", json_string (token));
            rfk_log_info (RFK_ADMIN_LOG, "login user=%s", user->id);
            free (token);
        }
    }
    return reply;
}

rfk_msg_t *
rfk_admin_on_list_users (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller)
{
    if (rfk_auth_can_list_users (caller->user_type) != 0)
        return rfk_admin_error (req, RFK_CODE_FORBIDDEN, "only admins may list users");
    zlistx_t *users = rfk_store_list_users (self->store, NULL);
    if (!users)
        return rfk_admin_store_error (self, req, "listing users");
    rfk_msg_t *reply = rfk_admin_reply (req, "UserList");
    json_t *array = json_array ();
    for (rfk_user_t *user = (rfk_user_t *)zlistx_first (users); user;
         user = (rfk_user_t *)zlistx_next (users))
        json_array_append_new (array, rfk_admin_user_json (user));
    json_object_set_new (reply->body, "users", array);
    zlistx_destroy (&users);
    return reply;
}

/* A plausible e-mail address: something@something, no spaces, not too long. */
static bool
s_email_ok (const char *email)
{
    const char *at = strchr (email, '@');
    if (!at || at == email || !at[1] || strchr (at + 1, '@') || strlen (email) > 254)
        return false;
    for (const char *c = email; *c; c++)
        if ((unsigned char)*c <= ' ')
            return false;
    return true;
}

rfk_msg_t *
rfk_admin_create_user_check (rfk_admin_t *self, const rfk_msg_t *req,
                             const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    const char *email = rfk_admin_require (req, "email", &error);
    const char *password = email ? rfk_admin_require (req, "password", &error) : NULL;
    const char *type_name = password ? rfk_admin_require (req, "user_type", &error) : NULL;
    if (!type_name)
        return error;
    rfk_auth_user_type_t type;
    if (rfk_auth_user_type_parse (type_name, &type) != 0)
        return rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                "field `user_type`: %s is not one of SUPERADMIN, ADMIN, "
                                "MODEL_DEVELOPER, APP_DEVELOPER",
                                type_name);
    if (rfk_auth_can_manage_user (caller->user_type, type) != 0)
        return rfk_admin_error (req, RFK_CODE_FORBIDDEN, "a %s may not create a %s",
                                rfk_auth_user_type_name (caller->user_type), type_name);
    if (!s_email_ok (email))
        return rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                "field `email`: \"%s\" is not an e-mail address", email);
    if (strlen (password) < 8 || strlen (password) > RFK_AUTH_PASSWORD_MAX)
        return rfk_admin_error (req, RFK_CODE_BAD_REQUEST,
                                "field `password`: use 8 to %d characters", RFK_AUTH_PASSWORD_MAX);
    rfk_user_t *existing = rfk_store_get_user_by_email (self->store, email);
    if (existing) {
        rfk_user_destroy (&existing);
        return rfk_admin_error (req, RFK_CODE_CONFLICT, "a user with email %s exists already",
                                email);
    }
    return NULL;
}

rfk_msg_t *
rfk_admin_create_user_store (rfk_admin_t *self, const rfk_msg_t *req, const char *caller_id,
                             const char *hash)
{
    const char *email = rfk_admin_field (req, "email");
    const char *type_name = rfk_admin_field (req, "user_type");
    rfk_user_t record = {
        .email = (char *)email, .password_hash = (char *)hash, .user_type = (char *)type_name};
    rfk_user_t *user = rfk_store_create_user (self->store, &record);
    if (!user)
        return rfk_admin_store_error (self, req, "creating the user");
    rfk_msg_t *reply = rfk_admin_reply_with (req, "User", rfk_admin_user_json (user));
    rfk_log_info (RFK_ADMIN_LOG, "user-created id=%s type=%s by=%s", user->id, type_name,
                  caller_id);
    rfk_user_destroy (&user);
    return reply;
}

rfk_msg_t *
rfk_admin_on_create_user (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = rfk_admin_create_user_check (self, req, caller);
    if (error)
        return error;
    char hash[RFK_AUTH_HASH_MAX];
    if (rfk_auth_password_hash (rfk_admin_field (req, "password"), hash) != 0)
        return rfk_admin_error (req, RFK_CODE_INTERNAL, "cannot hash the password");
    return rfk_admin_create_user_store (self, req, caller->user_id, hash);
}

rfk_msg_t *
rfk_admin_on_ban_user (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    const char *email = rfk_admin_require (req, "email", &error);
    if (!email)
        return error;
    if (rfk_auth_can_list_users (caller->user_type) != 0)
        return rfk_admin_error (req, RFK_CODE_FORBIDDEN, "only admins may ban users");
    rfk_user_t *user = rfk_store_get_user_by_email (self->store, email);
    if (!user)
        return rfk_admin_error (req, RFK_CODE_NOT_FOUND, "no user with email %s", email);
    rfk_msg_t *reply = NULL;
    rfk_auth_user_type_t type;
    if (rfk_auth_user_type_parse (user->user_type, &type) != 0)
        type = RFK_AUTH_SUPERADMIN;
    if (streq (user->id, caller->user_id))
        reply = rfk_admin_error (req, RFK_CODE_BAD_REQUEST, "you cannot ban yourself");
    else if (rfk_auth_can_manage_user (caller->user_type, type) != 0)
        reply = rfk_admin_error (req, RFK_CODE_FORBIDDEN, "a %s may not ban a %s",
                                 rfk_auth_user_type_name (caller->user_type), user->user_type);
    else if (rfk_store_ban_user (self->store, user->id) != 0)
        reply = rfk_admin_store_error (self, req, "banning the user");
    else {
        rfk_user_t *banned = rfk_store_get_user (self->store, user->id);
        reply = rfk_admin_reply_with (req, "User", rfk_admin_user_json (banned ? banned : user));
        json_object_set_new (reply->body, "banned", json_true ());
        rfk_user_destroy (&banned);
        rfk_log_notice (RFK_ADMIN_LOG, "user-banned id=%s by=%s", user->id, caller->user_id);
    }
    rfk_user_destroy (&user);
    return reply;
}

rfk_msg_t *
rfk_admin_on_get_me (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller)
{
    rfk_user_t *user = rfk_store_get_user (self->store, caller->user_id);
    if (!user)
        return rfk_admin_store_error (self, req, "reading the user");
    rfk_msg_t *reply = rfk_admin_reply_with (req, "User", rfk_admin_user_json (user));
    rfk_user_destroy (&user);
    return reply;
}
