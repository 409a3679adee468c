/*  rfk_admin_login.c: the requests that hash a password, answered off the
    loop (issue 14).

    Login and CreateUser run argon2id (about 0.1 s each). On admin's one
    loop thread a flood of wrong passwords stalled every other request and
    the workers' heartbeats, so both fronts call rfk_admin_handle_async:
    the checks that need the store run on the loop, the hash goes to the
    hashing child process (rfk_admin_hash.c), and the answer is built on the loop
    when the hash comes back and handed to the front through its done
    function and ticket, as a model check's is (rfk_admin_checks.c).

    Before a login is hashed, its client address and its e-mail are looked
    up in the failed-login windows (rfk_admin_limits.c): past
    admin.login_failures_per_minute the answer is RATE_LIMITED (429) with
    retry_after_s, costing no hash. A full queue (admin.hash_queue) is
    answered UNAVAILABLE (503) with retry_after_s 1. An unknown e-mail is
    hashed anyway, so it costs the same time as a wrong password.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <string.h>

/* A request waiting for its hash. */
typedef struct {
    rfk_admin_t *self;              /* the admin */
    rfk_msg_t *request;             /* a copy of the request */
    char *address;                  /* the client's address, or NULL */
    rfk_user_t *user;               /* Login: the user of the e-mail, NULL when unknown */
    char *caller_id;                /* CreateUser: who creates */
    rfk_admin_upload_done_fn *done; /* who hears the reply */
    void *arg;                      /* its argument */
    uint64_t ticket;                /* and ticket */
} s_pending_t;

static void
s_pending_destroy (s_pending_t **self_p)
{
    s_pending_t *self = *self_p;
    if (!self)
        return;
    rfk_msg_destroy (&self->request);
    free (self->address);
    rfk_user_destroy (&self->user);
    free (self->caller_id);
    free (self);
    *self_p = NULL;
}

static s_pending_t *
s_pending_new (rfk_admin_t *self, const rfk_msg_t *request, const char *address,
               rfk_admin_upload_done_fn *done, void *arg, uint64_t ticket)
{
    s_pending_t *pending = (s_pending_t *)calloc (1, sizeof *pending);
    if (!pending)
        return NULL;
    pending->self = self;
    pending->request = rfk_msg_dup (request);
    pending->address = address && *address ? strdup (address) : NULL;
    pending->done = done;
    pending->arg = arg;
    pending->ticket = ticket;
    if (!pending->request || (address && *address && !pending->address))
        s_pending_destroy (&pending);
    return pending;
}

/* Hand the reply to the front and forget the request (reply NULL: admin
   is stopping). */
static void
s_pending_answer (s_pending_t **pending_p, rfk_msg_t *reply)
{
    s_pending_t *pending = *pending_p;
    if (reply) {
        reply->correlation = pending->request->correlation;
        pending->self->requests++;
    }
    pending->done (pending->arg, pending->ticket, reply);
    s_pending_destroy (pending_p);
}

/* An Error with retry_after_s. */
static rfk_msg_t *
s_retry_later (const rfk_msg_t *request, rfk_code_t code, int64_t seconds, const char *message)
{
    rfk_msg_t *error = rfk_admin_error (request, code, "%s", message);
    json_object_set_new (error->body, "retry_after_s", json_integer ((json_int_t)seconds));
    return error;
}

/* A login's password was checked (or its unknown e-mail hashed). */
static void
s_login_done (void *arg, int rc, const char *hash)
{
    (void)hash;
    s_pending_t *pending = (s_pending_t *)arg;
    rfk_admin_t *self = pending->self;
    if (rc == RFK_ADMIN_HASH_CANCELLED) {
        s_pending_answer (&pending, NULL);
        return;
    }
    if (rc == RFK_ADMIN_HASH_FAILED) {
        s_pending_answer (&pending, s_retry_later (pending->request, RFK_CODE_UNAVAILABLE, 1,
                                                   "the password could not be checked (its "
                                                   "process ended); try again in a second"));
        return;
    }
    bool verified = pending->user && rc == 0;
    const rfk_msg_t *req = pending->request;
    const char *email = rfk_admin_field (req, "email");
    if (!verified) {
        rfk_admin_limits_login_failed (self->limits, pending->address, email, zclock_mono ());
        rfk_log_info (RFK_ADMIN_LOG, "login-failed email=%s address=%s", email,
                      pending->address ? pending->address : "-");
    }
    rfk_msg_t *reply =
        pending->user ? rfk_admin_login_reply (self, req, pending->user, verified)
                      : rfk_admin_error (req, RFK_CODE_UNAUTHORIZED, "wrong email or password");
    s_pending_answer (&pending, reply);
}

/* Hand a pending request's hash over; NULL when it went, else the 503. */
static rfk_msg_t *
s_submit (rfk_admin_t *self, s_pending_t **pending_p, const char *password, const char *hash,
          rfk_admin_hash_done_fn *fn)
{
    s_pending_t *pending = *pending_p;
    if (rfk_admin_hash_submit (self->hash, password, hash, fn, pending) == 0) {
        *pending_p = NULL;
        return NULL;
    }
    self->logins_busy++;
    rfk_log_warning (RFK_ADMIN_LOG, "RFK-HASH-BUSY type=%s queue=%zu", pending->request->type,
                     rfk_admin_hash_pending (self->hash));
    rfk_msg_t *error = s_retry_later (pending->request, RFK_CODE_UNAVAILABLE, 1,
                                      "admin is busy checking passwords (admin.hash_queue is "
                                      "full); try again in a second");
    s_pending_destroy (pending_p);
    return error;
}

/* Login: limits, the user, then the hash off the loop. */
static rfk_msg_t *
s_login (rfk_admin_t *self, const rfk_msg_t *req, const char *address,
         rfk_admin_upload_done_fn *done, void *arg, uint64_t ticket)
{
    rfk_msg_t *error = NULL;
    const char *email = rfk_admin_require (req, "email", &error);
    const char *password = email ? rfk_admin_require (req, "password", &error) : NULL;
    if (!password)
        return error;
    int64_t wait = rfk_admin_limits_login_wait (self->limits, address, email, zclock_mono ());
    if (wait > 0) {
        self->logins_limited++;
        rfk_log_info (RFK_ADMIN_LOG, "RFK-LOGIN-LIMITED email=%s address=%s retry_after_s=%lld",
                      email, address && *address ? address : "-", (long long)wait);
        char message[256];
        snprintf (message, sizeof message,
                  "too many failed logins from this address or for this e-mail "
                  "(admin.login_failures_per_minute); try again in %lld s",
                  (long long)wait);
        return s_retry_later (req, RFK_CODE_RATE_LIMITED, wait, message);
    }
    if (strlen (password) > RFK_AUTH_PASSWORD_MAX) { //  no stored password is that long
        rfk_admin_limits_login_failed (self->limits, address, email, zclock_mono ());
        return rfk_admin_error (req, RFK_CODE_UNAUTHORIZED, "wrong email or password");
    }
    s_pending_t *pending = s_pending_new (self, req, address, done, arg, ticket);
    if (!pending)
        return rfk_admin_error (req, RFK_CODE_INTERNAL, "out of memory");
    pending->user = rfk_store_get_user_by_email (self->store, email);
    if (!pending->user && rfk_store_code (self->store) == RFK_CODE_UNAVAILABLE) {
        s_pending_destroy (&pending);
        return rfk_admin_store_error (self, req, "reading the user");
    }
    //  An unknown e-mail is hashed anyway: it costs what a wrong password does.
    return s_submit (self, &pending, password, pending->user ? pending->user->password_hash : NULL,
                     s_login_done);
}

/* A new user's password was hashed: store the user. */
static void
s_create_user_done (void *arg, int rc, const char *hash)
{
    s_pending_t *pending = (s_pending_t *)arg;
    if (rc == RFK_ADMIN_HASH_CANCELLED) {
        s_pending_answer (&pending, NULL);
        return;
    }
    rfk_msg_t *reply =
        rc == RFK_ADMIN_HASH_FAILED
            ? s_retry_later (pending->request, RFK_CODE_UNAVAILABLE, 1,
                             "the password could not be hashed (its process ended); try again")
        : rc == 0 && hash
            ? rfk_admin_create_user_store (pending->self, pending->request, pending->caller_id,
                                           hash)
            : rfk_admin_error (pending->request, RFK_CODE_INTERNAL, "cannot hash the password");
    s_pending_answer (&pending, reply);
}

/* CreateUser: the token and the checks, then the hash off the loop. */
static rfk_msg_t *
s_create_user (rfk_admin_t *self, const rfk_msg_t *req, rfk_admin_upload_done_fn *done, void *arg,
               uint64_t ticket)
{
    rfk_auth_claims_t caller;
    rfk_msg_t *error = NULL;
    if (rfk_admin_authenticate (self, req, req->token, &caller, &error) != 0)
        return error;
    error = rfk_admin_create_user_check (self, req, &caller);
    if (error)
        return error;
    s_pending_t *pending = s_pending_new (self, req, NULL, done, arg, ticket);
    if (pending && !(pending->caller_id = strdup (caller.user_id)))
        s_pending_destroy (&pending);
    if (!pending)
        return rfk_admin_error (req, RFK_CODE_INTERNAL, "out of memory");
    return s_submit (self, &pending, rfk_admin_field (req, "password"), NULL, s_create_user_done);
}

rfk_msg_t *
rfk_admin_handle_async (rfk_admin_t *self, const rfk_msg_t *request, const char *address,
                        rfk_admin_upload_done_fn *done, void *arg, uint64_t ticket)
{
    assert (self);
    bool admin_request = request && request->family == &rfk_admin_family && request->type &&
                         json_is_object (request->body) && done && self->hash;
    rfk_msg_t *reply = NULL;
    if (admin_request && streq (request->type, "Login"))
        reply = s_login (self, request, address, done, arg, ticket);
    else if (admin_request && streq (request->type, "CreateUser"))
        reply = s_create_user (self, request, done, arg, ticket);
    else
        return rfk_admin_handle (self, request);
    if (reply) {
        reply->correlation = request->correlation;
        self->requests++;
    }
    return reply;
}

int
rfk_admin_login_setup (rfk_admin_t *self, char *err, size_t errlen)
{
    size_t workers = (size_t)rfk_config_int (self->config, "admin", "hash_workers");
    size_t queue = (size_t)rfk_config_int (self->config, "admin", "hash_queue");
    self->hash = rfk_admin_hash_new (workers, queue);
    self->limits = rfk_admin_limits_new (
        (int)rfk_config_int (self->config, "admin", "login_failures_per_minute"),
        (size_t)rfk_config_int (self->config, "admin", "login_limit_keys"));
    self->user_max_uploads = (size_t)rfk_config_int (self->config, "admin", "user_max_uploads");
    if (!self->hash || !self->limits) {
        snprintf (err, errlen, "cannot start %zu password hashing threads", workers);
        return -1;
    }
    return 0;
}
