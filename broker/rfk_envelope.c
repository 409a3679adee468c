/*  rfk_envelope.c: envelopes on DEALER, ROUTER and PUB/SUB sockets.

    The only place that knows the frame layout of each socket type. Codecs
    stay the only code that knows the bytes of an envelope.
*/
#include "rfk_envelope.h"

int
rfk_envelope_encode (const rfk_msg_t *msg, size_t max_size, zframe_t **frame_p, rfk_code_t *code_p,
                     char *err, size_t errlen)
{
    assert (msg);
    assert (frame_p);
    char own_err[256] = "";
    if (!err || errlen == 0) {
        err = own_err;
        errlen = sizeof (own_err);
    }
    rfk_code_t own_code;
    if (!code_p)
        code_p = &own_code;
    *frame_p = NULL;
    if (!msg->family || !msg->family->encode) {
        snprintf (err, errlen, "message %s has no family", msg->type ? msg->type : "(none)");
        *code_p = RFK_CODE_INTERNAL;
        return -1;
    }
    err[0] = 0;
    zframe_t *frame = NULL;
    if (msg->family->encode (msg, &frame, err, errlen) != 0 || !frame) {
        if (!err[0])
            snprintf (err, errlen, "%s %s cannot be encoded", msg->family->name,
                      msg->type ? msg->type : "(none)");
        zframe_destroy (&frame);
        *code_p = RFK_CODE_BAD_REQUEST;
        return -1;
    }
    if (zframe_size (frame) > max_size) {
        snprintf (err, errlen, "%s %s is %zu bytes, over the limit of %zu", msg->family->name,
                  msg->type ? msg->type : "(none)", zframe_size (frame), max_size);
        zframe_destroy (&frame);
        *code_p = RFK_CODE_TOO_LARGE;
        return -1;
    }
    *frame_p = frame;
    return 0;
}

int
rfk_envelope_decode (const rfk_family_t *family, zframe_t *frame, size_t max_size,
                     rfk_msg_t **msg_p, rfk_code_t *code_p)
{
    assert (family);
    assert (msg_p);
    rfk_code_t own_code;
    if (!code_p)
        code_p = &own_code;
    *msg_p = NULL;
    if (!frame) {
        *code_p = RFK_CODE_MALFORMED;
        return -2;
    }
    /*  The cap is checked here rather than left to the codec, whose -1 does
        not tell an oversize frame from a missing one. */
    if (zframe_size (frame) > max_size) {
        *code_p = RFK_CODE_TOO_LARGE;
        return -2;
    }
    rfk_msg_t *msg = NULL;
    int rc = family->decode (frame, max_size, &msg);
    if (rc != 0 || !msg) {
        rfk_msg_destroy (&msg);
        *code_p = RFK_CODE_MALFORMED;
        return -2;
    }
    *msg_p = msg;
    *code_p = RFK_CODE_OK;
    return 0;
}

int
rfk_envelope_send_frame (zsock_t *sock, zframe_t *routing_id, zframe_t **frame_p)
{
    assert (sock);
    assert (frame_p && *frame_p);
    if (routing_id) {
        /*  A ROUTER takes the whole message or drops it, so the routing id
            part cannot be left half-sent. */
        zframe_t *id = zframe_dup (routing_id);
        if (!id || zframe_send (&id, sock, ZFRAME_MORE | ZFRAME_DONTWAIT) != 0) {
            zframe_destroy (&id);
            return -1;
        }
    }
    return zframe_send (frame_p, sock, ZFRAME_DONTWAIT) == 0 ? 0 : -1;
}

/*  Encodes and sends, logging why when it cannot. */
static int
s_send (zsock_t *sock, zframe_t *routing_id, const char *topic, const rfk_msg_t *msg,
        size_t max_size)
{
    assert (sock);
    assert (msg);
    char err[256];
    zframe_t *frame = NULL;
    if (rfk_envelope_encode (msg, max_size, &frame, NULL, err, sizeof (err)) != 0) {
        zsys_warning ("RFK-SEND: %s", err);
        return -1;
    }
    if (topic && zstr_sendm (sock, topic) != 0) {
        zframe_destroy (&frame);
        return -1;
    }
    if (rfk_envelope_send_frame (sock, routing_id, &frame) != 0) {
        zframe_destroy (&frame);
        return -1;
    }
    return 0;
}

int
rfk_envelope_send (zsock_t *sock, const rfk_msg_t *msg, size_t max_size)
{
    return s_send (sock, NULL, NULL, msg, max_size);
}

int
rfk_envelope_send_to (zsock_t *sock, zframe_t *routing_id, const rfk_msg_t *msg, size_t max_size)
{
    assert (routing_id);
    return s_send (sock, routing_id, NULL, msg, max_size);
}

int
rfk_envelope_publish (zsock_t *sock, const char *topic, const rfk_msg_t *msg, size_t max_size)
{
    assert (topic);
    return s_send (sock, NULL, topic, msg, max_size);
}

/* Decodes the one envelope frame left in *zmsg_p, which it destroys: 0,
   or -2 with *code_p when the message is not one good envelope. */
static int
s_decode_one (zmsg_t **zmsg_p, const rfk_family_t *family, size_t max_size, rfk_msg_t **msg_p,
              rfk_code_t *code_p)
{
    int rc;
    if (zmsg_size (*zmsg_p) != 1) {
        if (code_p)
            *code_p = RFK_CODE_MALFORMED;
        rc = -2;
    } else
        rc = rfk_envelope_decode (family, zmsg_first (*zmsg_p), max_size, msg_p, code_p);
    zmsg_destroy (zmsg_p);
    return rc;
}

/* The next message on sock, with *msg_p NULL first; NULL when interrupted. */
static zmsg_t *
s_recv (zsock_t *sock, rfk_msg_t **msg_p)
{
    assert (sock);
    assert (msg_p);
    *msg_p = NULL;
    return zmsg_recv (sock);
}

int
rfk_envelope_recv (zsock_t *sock, const rfk_family_t *family, size_t max_size, rfk_msg_t **msg_p,
                   rfk_code_t *code_p)
{
    zmsg_t *zmsg = s_recv (sock, msg_p);
    if (!zmsg)
        return -1;
    return s_decode_one (&zmsg, family, max_size, msg_p, code_p);
}

int
rfk_envelope_recv_from (zsock_t *sock, const rfk_family_t *family, size_t max_size,
                        zframe_t **routing_id_p, rfk_msg_t **msg_p, rfk_code_t *code_p)
{
    assert (routing_id_p);
    *routing_id_p = NULL;
    zmsg_t *zmsg = s_recv (sock, msg_p);
    if (!zmsg)
        return -1;
    zframe_t *routing_id = zmsg_pop (zmsg);
    if (!routing_id || zframe_size (routing_id) == 0 || zmsg_size (zmsg) == 0) {
        /*  Nobody to answer: drop it without a word. */
        zframe_destroy (&routing_id);
        zmsg_destroy (&zmsg);
        return -1;
    }
    int rc = s_decode_one (&zmsg, family, max_size, msg_p, code_p);
    *routing_id_p = routing_id;
    return rc;
}

int
rfk_envelope_recv_topic (zsock_t *sock, const rfk_family_t *family, size_t max_size, char **topic_p,
                         rfk_msg_t **msg_p, rfk_code_t *code_p)
{
    assert (topic_p);
    *topic_p = NULL;
    zmsg_t *zmsg = s_recv (sock, msg_p);
    if (!zmsg)
        return -1;
    int rc;
    if (zmsg_size (zmsg) != 2) {
        if (code_p)
            *code_p = RFK_CODE_MALFORMED;
        rc = -2;
    } else {
        *topic_p = zframe_strdup (zmsg_first (zmsg));
        rc = rfk_envelope_decode (family, zmsg_next (zmsg), max_size, msg_p, code_p);
    }
    zmsg_destroy (&zmsg);
    return rc;
}

static char *
s_topic (const char *prefix, const char *id)
{
    if (!id || !*id)
        return NULL;
    return zsys_sprintf ("%s.%s", prefix, id);
}

char *
rfk_topic_job (const char *id)
{
    return s_topic ("job", id);
}

char *
rfk_topic_trial (const char *id)
{
    return s_topic ("trial", id);
}

rfk_code_t
rfk_envelope_error_code (const rfk_msg_t *msg)
{
    if (!msg || !rfk_msg_is (msg, "Error"))
        return RFK_CODE_OK;
    json_t *code = msg->body ? json_object_get (msg->body, "code") : NULL;
    int value = -1;
    if (json_is_string (code))
        value = rfk_code_from_name (json_string_value (code));
    else if (json_is_integer (code))
        value = (int)json_integer_value (code);
    if (value <= RFK_CODE_OK || value > RFK_CODE_RATE_LIMITED)
        return RFK_CODE_INTERNAL;
    return (rfk_code_t)value;
}
