/*  rfk_admin_limits.h: admin's abuse limits (rfk_admin_limits.c): failed
    logins per client address and per e-mail in a sliding minute, and
    per-user counters (open uploads) with caps. Loop thread only.

        rfk_admin_limits_t *limits = rfk_admin_limits_new (10, 10000);
        int64_t wait = rfk_admin_limits_login_wait (limits, "127.0.0.1", "a@b", now_ms);
        if (wait > 0) ... answer 429 with Retry-After: wait
        ... on a wrong password:
        rfk_admin_limits_login_failed (limits, "127.0.0.1", "a@b", now_ms);
        if (rfk_admin_limits_take (limits, "uploads", user_id, 4) != 0) ... 429
        rfk_admin_limits_give (limits, "uploads", user_id);
*/
#ifndef RFK_ADMIN_LIMITS_H_INCLUDED
#define RFK_ADMIN_LIMITS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct rfk_admin_limits rfk_admin_limits_t;

/* Limits allowing failures_per_minute failed logins per address and per
   e-mail (0: no limit), remembering at most max_keys addresses and e-mails
   (the least recently failed are forgotten first). NULL without memory. */
rfk_admin_limits_t *
rfk_admin_limits_new (int failures_per_minute, size_t max_keys);
void
rfk_admin_limits_destroy (rfk_admin_limits_t **self_p);
/* Seconds (>= 1) until a login from address (NULL or "": unknown) for
   email may be tried again, or 0 when it may be tried now. */
int64_t
rfk_admin_limits_login_wait (rfk_admin_limits_t *self, const char *address, const char *email,
                             int64_t now_ms);
/* Count a failed login against address and email. */
void
rfk_admin_limits_login_failed (rfk_admin_limits_t *self, const char *address, const char *email,
                               int64_t now_ms);
/* Take one of user's `kind` (a counter name): 0, or -1 when the user holds
   cap already (cap 0: no cap). */
int
rfk_admin_limits_take (rfk_admin_limits_t *self, const char *kind, const char *user_id, size_t cap);
/* Give one back. */
void
rfk_admin_limits_give (rfk_admin_limits_t *self, const char *kind, const char *user_id);
/* How many of `kind` user holds. */
size_t
rfk_admin_limits_held (rfk_admin_limits_t *self, const char *kind, const char *user_id);

#endif
