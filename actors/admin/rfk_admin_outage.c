/*  rfk_admin_outage.c: admin while its store is down (issue 15, item 5).

    A PostgreSQL store that restarts (an upgrade, a failover) is gone for a
    few seconds. The store itself reconnects once per call (rfk_store_pg.c);
    here admin remembers that the store was found down and, until the next
    try, answers every request at once with UNAVAILABLE and retry_after_s
    (HTTP 503 with Retry-After) instead of waiting on the database or
    answering 500. The tries back off from 250 ms to 5 s; the first request
    after a try is due goes to the store again, and the first that succeeds
    ends the outage. Nothing is written while the store is down, so nothing
    is half written: a client retries its request, a service keeps its
    report (rfk_session_send_kept) and sends it again.
*/
#include "rfk_admin_internal.h"

#include <inttypes.h>

#define S_BACKOFF_MIN_MS 250  /* the first wait after the store was found down */
#define S_BACKOFF_MAX_MS 5000 /* the longest wait between two tries */

/* Seconds (at least 1) until the next try, for retry_after_s. */
static int64_t
s_retry_after_s (const rfk_admin_t *self)
{
    int64_t left = self->store_retry_at - zclock_mono ();
    return left <= 1000 ? 1 : (left + 999) / 1000;
}

/* An UNAVAILABLE Error for request, saying the store is down. */
static rfk_msg_t *
s_unavailable (rfk_admin_t *self, const rfk_msg_t *request, const char *why)
{
    rfk_msg_t *error =
        rfk_admin_error (request, RFK_CODE_UNAVAILABLE,
                         "the metadata store is not reachable (%s): try again shortly", why);
    json_object_set_new (error->body, "retry_after_s", json_integer (s_retry_after_s (self)));
    return error;
}

rfk_msg_t *
rfk_admin_outage_gate (rfk_admin_t *self, const rfk_msg_t *request)
{
    if (!self->store_down_since || zclock_mono () >= self->store_retry_at)
        return NULL;
    return s_unavailable (self, request, "it went away and admin is reconnecting");
}

void
rfk_admin_outage_note (rfk_admin_t *self, uint64_t calls_before)
{
    if (rfk_store_calls (self->store) == calls_before)
        return; //  the store was not asked: nothing learnt
    int64_t now = zclock_mono ();
    if (rfk_store_code (self->store) != RFK_CODE_UNAVAILABLE) {
        if (self->store_down_since)
            rfk_log_info (RFK_ADMIN_LOG, "store-reconnected down_ms=%" PRId64,
                          now - self->store_down_since);
        self->store_down_since = 0;
        self->store_backoff_ms = 0;
        return;
    }
    if (!self->store_down_since) {
        self->store_down_since = now;
        rfk_log_warning (RFK_ADMIN_LOG, "RFK-STORE-DOWN message=\"%s\"",
                         rfk_store_message (self->store));
    }
    self->store_backoff_ms = self->store_backoff_ms ? self->store_backoff_ms * 2 : S_BACKOFF_MIN_MS;
    if (self->store_backoff_ms > S_BACKOFF_MAX_MS)
        self->store_backoff_ms = S_BACKOFF_MAX_MS;
    self->store_retry_at = now + self->store_backoff_ms;
}

void
rfk_admin_outage_answer (rfk_admin_t *self, uint64_t calls_before, rfk_msg_t **reply_p)
{
    rfk_admin_outage_note (self, calls_before);
    rfk_msg_t *reply = *reply_p;
    //  An answer that failed because the store went away (whatever code its
    //  handler chose: a NOT_FOUND or INTERNAL would be wrong) is a 503.
    if (!self->store_down_since || rfk_store_calls (self->store) == calls_before ||
        rfk_store_code (self->store) != RFK_CODE_UNAVAILABLE || !rfk_msg_is (reply, "Error"))
        return;
    rfk_msg_t *error = s_unavailable (self, reply, rfk_store_message (self->store));
    rfk_msg_destroy (reply_p);
    *reply_p = error;
}
