/*  rfk_admin_limits.c: failed logins per address and per e-mail, and
    per-user counters (see rfk_admin_limits.h).

    Failed logins: each address and each e-mail keeps the times of its last
    N failures (N = admin.login_failures_per_minute) in a ring. When the
    ring is full and its oldest failure is less than a minute old, the next
    try waits until that failure is a minute old: a sliding window, with no
    burst allowed past it. Memory is bounded: at most max_keys rings, the
    least recently failed forgotten first (an LRU list), so a flood of
    made-up e-mails costs a fixed amount.

    A counter is "<kind>/<user id>" -> count, removed at zero.
*/
#define _GNU_SOURCE
#include "rfk_admin_limits.h"

#include <czmq.h>

#define S_WINDOW_MS 60000

/* The recent failures of one address or e-mail. */
typedef struct {
    char *key;      /* "a:<address>" or "e:<email>" */
    void *handle;   /* its place in the LRU list */
    int64_t *times; /* failure times (ms), a ring of `per_minute` */
    size_t count;   /* failures in the ring */
    size_t next;    /* where the next one goes */
} s_window_t;

struct rfk_admin_limits {
    int per_minute;     /* failures allowed in a minute, 0: no limit */
    size_t max_keys;    /* windows kept at most */
    zhashx_t *windows;  /* key -> s_window_t */
    zlistx_t *lru;      /* s_window_t, least recently failed first (not owned) */
    zhashx_t *counters; /* "<kind>/<user>" -> size_t * */
};

static void
s_window_destroy (void **item)
{
    s_window_t *window = (s_window_t *)*item;
    if (!window)
        return;
    free (window->key);
    free (window->times);
    free (window);
    *item = NULL;
}

rfk_admin_limits_t *
rfk_admin_limits_new (int failures_per_minute, size_t max_keys)
{
    rfk_admin_limits_t *self = (rfk_admin_limits_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->per_minute = failures_per_minute > 0 ? failures_per_minute : 0;
    self->max_keys = max_keys ? max_keys : 1;
    self->windows = zhashx_new ();
    self->lru = zlistx_new ();
    self->counters = zhashx_new ();
    if (!self->windows || !self->lru || !self->counters) {
        rfk_admin_limits_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->windows, s_window_destroy);
    zhashx_set_destructor (self->counters, (czmq_destructor *)zstr_free);
    return self;
}

void
rfk_admin_limits_destroy (rfk_admin_limits_t **self_p)
{
    rfk_admin_limits_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    zlistx_destroy (&self->lru);
    zhashx_destroy (&self->windows);
    zhashx_destroy (&self->counters);
    free (self);
    *self_p = NULL;
}

/* Milliseconds until key may fail again without going over, 0 now. */
static int64_t
s_window_wait (rfk_admin_limits_t *self, const char *prefix, const char *value, int64_t now)
{
    if (!value || !*value)
        return 0;
    char key[600];
    snprintf (key, sizeof key, "%s%s", prefix, value);
    s_window_t *window = (s_window_t *)zhashx_lookup (self->windows, key);
    if (!window || window->count < (size_t)self->per_minute)
        return 0;
    int64_t oldest = window->times[window->next]; //  the ring is full: next is the oldest
    return oldest + S_WINDOW_MS > now ? oldest + S_WINDOW_MS - now : 0;
}

int64_t
rfk_admin_limits_login_wait (rfk_admin_limits_t *self, const char *address, const char *email,
                             int64_t now_ms)
{
    if (!self || self->per_minute == 0)
        return 0;
    int64_t by_address = s_window_wait (self, "a:", address, now_ms);
    int64_t by_email = s_window_wait (self, "e:", email, now_ms);
    int64_t wait = by_address > by_email ? by_address : by_email;
    return wait > 0 ? (wait + 999) / 1000 : 0;
}

/* Record one failure of key, making its window (and forgetting the least
   recently failed one past max_keys) when needed. */
static void
s_window_fail (rfk_admin_limits_t *self, const char *prefix, const char *value, int64_t now)
{
    if (!value || !*value)
        return;
    char key[600];
    snprintf (key, sizeof key, "%s%s", prefix, value);
    s_window_t *window = (s_window_t *)zhashx_lookup (self->windows, key);
    if (!window) {
        window = (s_window_t *)calloc (1, sizeof *window);
        if (!window)
            return;
        window->key = strdup (key);
        window->times = (int64_t *)calloc ((size_t)self->per_minute, sizeof (int64_t));
        window->handle = zlistx_add_end (self->lru, window);
        if (!window->key || !window->times || !window->handle) {
            if (window->handle)
                zlistx_delete (self->lru, window->handle);
            void *item = window;
            s_window_destroy (&item);
            return;
        }
        zhashx_insert (self->windows, key, window);
        while (zlistx_size (self->lru) > self->max_keys) {
            s_window_t *oldest = (s_window_t *)zlistx_first (self->lru);
            zlistx_delete (self->lru, oldest->handle);
            zhashx_delete (self->windows, oldest->key);
        }
    } else
        zlistx_move_end (self->lru, window->handle);
    window->times[window->next] = now;
    window->next = (window->next + 1) % (size_t)self->per_minute;
    if (window->count < (size_t)self->per_minute)
        window->count++;
}

void
rfk_admin_limits_login_failed (rfk_admin_limits_t *self, const char *address, const char *email,
                               int64_t now_ms)
{
    if (!self || self->per_minute == 0)
        return;
    s_window_fail (self, "a:", address, now_ms);
    s_window_fail (self, "e:", email, now_ms);
}

size_t
rfk_admin_limits_held (rfk_admin_limits_t *self, const char *kind, const char *user_id)
{
    if (!self || !kind || !user_id)
        return 0;
    char key[300];
    snprintf (key, sizeof key, "%s/%s", kind, user_id);
    const char *count = (const char *)zhashx_lookup (self->counters, key);
    return count ? (size_t)strtoull (count, NULL, 10) : 0;
}

/* Set a counter (removed at 0). */
static void
s_counter_set (rfk_admin_limits_t *self, const char *kind, const char *user_id, size_t value)
{
    char key[300];
    snprintf (key, sizeof key, "%s/%s", kind, user_id);
    if (value == 0) {
        zhashx_delete (self->counters, key);
        return;
    }
    char *text = zsys_sprintf ("%zu", value);
    if (text)
        zhashx_update (self->counters, key, text);
}

int
rfk_admin_limits_take (rfk_admin_limits_t *self, const char *kind, const char *user_id, size_t cap)
{
    if (!self || !kind || !user_id)
        return 0;
    size_t held = rfk_admin_limits_held (self, kind, user_id);
    if (cap && held >= cap)
        return -1;
    s_counter_set (self, kind, user_id, held + 1);
    return 0;
}

void
rfk_admin_limits_give (rfk_admin_limits_t *self, const char *kind, const char *user_id)
{
    size_t held = rfk_admin_limits_held (self, kind, user_id);
    if (held)
        s_counter_set (self, kind, user_id, held - 1);
}
