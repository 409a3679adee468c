/*  rfk_admin_bus_events.c: admin's `events` socket, where each subscriber
    receives the events of its own jobs only.

    An XPUB (CURVE, any client key) in manual mode: a subscription applies
    only when admin applies it. A subscriber subscribes to
    "auth <token> <topic>" (rfk_sdk_watch_new does); admin checks the token
    as on the command socket and opens a channel for that connection: a
    random id C, subscribed with "c.<C>." for it alone. Each event admin
    publishes goes to every channel whose user may see it, under
    "c.<C>.<topic>": rfk_events_visible (rfk_http_front.h) decides, the very
    rule of GET /events, with the event's owner found the same way
    (rfk_admin_event_owner). Any other subscription, with no token or a bad
    one, is never applied: a plain SUB socket gets nothing. A channel ends
    with its connection (XPUB hands admin the unsubscription).
*/
#include "rfk_admin_internal.h"

#include <sodium.h>

#define S_CHANNELS_MAX 4096 /* channels open at once */

/* One authenticated subscription. */
typedef struct {
    char id[17];                            /* C, 16 hex digits */
    char user_id[RFK_AUTH_USER_ID_MAX + 1]; /* who subscribed */
    bool sees_all;                          /* SUPERADMIN or ADMIN */
    char *topic;                            /* the topic prefix asked for ("": all) */
} s_channel_t;

static void
s_channel_destroy (void **item)
{
    s_channel_t *channel = (s_channel_t *)*item;
    if (channel) {
        free (channel->topic);
        free (channel);
        *item = NULL;
    }
}

int
rfk_admin_bus_events_new (rfk_admin_t *self, const char *endpoint, char *err, size_t errlen)
{
    rfk_bus_opts_t opts;
    rfk_admin_curve_opts (self, &opts, true);
    self->channels = zhashx_new ();
    self->events = rfk_bus_socket_new (ZMQ_XPUB, NULL, true, &opts);
    if (!self->channels || !self->events) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    zhashx_set_destructor (self->channels, s_channel_destroy);
    zsock_set_xpub_manual (self->events, 1);
    if (zsock_bind (self->events, "%s", endpoint) < 0) {
        snprintf (err, errlen, "cannot bind the events socket on %s: %s", endpoint,
                  zmq_strerror (zmq_errno ()));
        return -1;
    }
    self->events_endpoint = zsock_last_endpoint (self->events);
    return self->events_endpoint ? 0 : -1;
}

void
rfk_admin_bus_events_destroy (rfk_admin_t *self)
{
    zsock_destroy (&self->events);
    zhashx_destroy (&self->channels);
}

/* "auth <token> <topic>": opens a channel for the connection that sent it. */
static void
s_open (rfk_admin_t *self, const char *text)
{
    const char *token = text + 5;
    const char *space = strchr (token, ' ');
    char *copy = strndup (token, space ? (size_t)(space - token) : strlen (token));
    rfk_msg_t *request = rfk_msg_new (&rfk_admin_family, "GetMe", 0);
    rfk_msg_t *error = NULL;
    rfk_auth_claims_t claims;
    s_channel_t *channel = NULL;
    if (!copy || !request || zhashx_size (self->channels) >= S_CHANNELS_MAX)
        rfk_log_warning (RFK_ADMIN_LOG, "RFK-EVENTS-REFUSED reason=\"too many subscriptions\"");
    else if (rfk_admin_authenticate (self, request, copy, &claims, &error) != 0)
        rfk_log_warning (RFK_ADMIN_LOG, "RFK-EVENTS-REFUSED reason=\"%s\"",
                         error ? json_string_value (json_object_get (error->body, "message"))
                               : "bad token");
    else if ((channel = (s_channel_t *)calloc (1, sizeof *channel))) {
        uint8_t raw[8];
        randombytes_buf (raw, sizeof raw);
        sodium_bin2hex (channel->id, sizeof channel->id, raw, sizeof raw);
        snprintf (channel->user_id, sizeof channel->user_id, "%s", claims.user_id);
        channel->sees_all = rfk_events_sees_all (rfk_auth_user_type_name (claims.user_type));
        channel->topic = strdup (space ? space + 1 : "");
        char subscription[32];
        snprintf (subscription, sizeof subscription, "c.%s.", channel->id);
        //  Manual mode: this applies to the connection whose message we read.
        zmq_setsockopt (zsock_resolve (self->events), ZMQ_SUBSCRIBE, subscription,
                        strlen (subscription));
        zhashx_update (self->channels, channel->id, channel);
        rfk_log_debug (RFK_ADMIN_LOG, "events-subscribed user=%s channel=%s topic=%s",
                       channel->user_id, channel->id, channel->topic);
    }
    rfk_msg_destroy (&error);
    rfk_msg_destroy (&request);
    if (copy)
        sodium_memzero (copy, strlen (copy));
    free (copy);
}

void
rfk_admin_bus_events_read (rfk_admin_t *self)
{
    zframe_t *frame = zframe_recv (self->events);
    size_t size = frame ? zframe_size (frame) : 0;
    char *text = size > 0 ? strndup ((const char *)zframe_data (frame) + 1, size - 1) : NULL;
    if (text && zframe_data (frame)[0] == 1 && strncmp (text, "auth ", 5) == 0)
        s_open (self, text);
    else if (text && zframe_data (frame)[0] == 1)
        rfk_log_debug (RFK_ADMIN_LOG, "RFK-EVENTS-UNAUTHENTICATED subscription ignored");
    else if (text && zframe_data (frame)[0] == 0 && strncmp (text, "c.", 2) == 0 &&
             strlen (text) == 19) {
        //  The connection ended (or dropped its channel): forget it.
        text[18] = 0;
        zhashx_delete (self->channels, text + 2);
    }
    if (text)
        sodium_memzero (text, strlen (text));
    free (text);
    zframe_destroy (&frame);
}

size_t
rfk_admin_bus_events_channels (rfk_admin_t *self)
{
    return self->channels ? zhashx_size (self->channels) : 0;
}

void
rfk_admin_bus_events_publish (rfk_admin_t *self, const char *owner, const char *topic,
                              const rfk_msg_t *event)
{
    if (!self->events || !self->channels)
        return;
    for (s_channel_t *channel = (s_channel_t *)zhashx_first (self->channels); channel;
         channel = (s_channel_t *)zhashx_next (self->channels)) {
        if (!rfk_events_visible (owner, channel->user_id, channel->sees_all) ||
            strncmp (topic, channel->topic, strlen (channel->topic)) != 0)
            continue;
        char full[320];
        snprintf (full, sizeof full, "c.%s.%s", channel->id, topic);
        if (rfk_envelope_publish (self->events, full, event, self->bus.max_frame_bytes) != 0)
            rfk_log_debug (RFK_ADMIN_LOG, "event-dropped topic=%s", full);
    }
}
