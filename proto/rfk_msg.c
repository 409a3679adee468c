/*  rfk_msg.c: rfk_msg_t, the decoded envelope of any family, and the error
    codes every family shares.

    A message is built here and encoded or decoded by its family's codec
    (rfk_<family>_codec.c); see rfk_msg.h.
*/
#include "rfk_msg.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int http_status;
} s_codes[] = {
    [RFK_CODE_OK] = {"OK", 200},
    [RFK_CODE_BAD_REQUEST] = {"BAD_REQUEST", 400},
    [RFK_CODE_UNAUTHORIZED] = {"UNAUTHORIZED", 401},
    [RFK_CODE_FORBIDDEN] = {"FORBIDDEN", 403},
    [RFK_CODE_NOT_FOUND] = {"NOT_FOUND", 404},
    [RFK_CODE_CONFLICT] = {"CONFLICT", 409},
    [RFK_CODE_TOO_LARGE] = {"TOO_LARGE", 413},
    [RFK_CODE_UNAVAILABLE] = {"UNAVAILABLE", 503},
    [RFK_CODE_MALFORMED] = {"MALFORMED", 400},
    [RFK_CODE_UNKNOWN_MESSAGE] = {"UNKNOWN_MESSAGE", 400},
    [RFK_CODE_TIMEOUT] = {"TIMEOUT", 504},
    [RFK_CODE_INTERNAL] = {"INTERNAL", 500},
    [RFK_CODE_RATE_LIMITED] = {"RATE_LIMITED", 429},
};
#define S_NCODES (sizeof s_codes / sizeof s_codes[0])

const char *
rfk_code_name (rfk_code_t code)
{
    if ((unsigned)code >= S_NCODES)
        return "INTERNAL";
    return s_codes[code].name;
}

int
rfk_code_from_name (const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < S_NCODES; i++)
        if (streq (s_codes[i].name, name))
            return (int)i;
    return -1;
}

int
rfk_code_http_status (rfk_code_t code)
{
    if ((unsigned)code >= S_NCODES)
        return 500;
    return s_codes[code].http_status;
}

rfk_msg_t *
rfk_msg_new (const rfk_family_t *family, const char *type, uint64_t correlation)
{
    if (!family || !type)
        return NULL;
    int kind = family->kind_of (type);
    if (kind < 0)
        return NULL;
    rfk_msg_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->family = family;
    self->kind = kind;
    self->type = family->type_of (kind);
    self->correlation = correlation;
    self->body = json_object ();
    if (!self->body)
        rfk_msg_destroy (&self);
    return self;
}

rfk_msg_t *
rfk_msg_new_error (const rfk_family_t *family, uint64_t correlation, rfk_code_t code,
                   const char *message)
{
    rfk_msg_t *self = rfk_msg_new (family, "Error", correlation);
    if (!self)
        return NULL;
    json_t *text = json_string (message ? message : "");
    if (!text) //  not UTF-8: keep the code, drop the text
        text = json_string ("");
    if (json_object_set_new (self->body, "code", json_string (rfk_code_name (code))) ||
        json_object_set_new (self->body, "message", text))
        rfk_msg_destroy (&self);
    return self;
}

rfk_msg_t *
rfk_msg_new_from_json (const rfk_family_t *family, const char *type, uint64_t correlation,
                       json_t *body, char *err, size_t errlen)
{
    rfk_msg_t *self = rfk_msg_new (family, type, correlation);
    if (!self) {
        if (err && errlen)
            snprintf (err, errlen, "unknown message type `%s`", type ? type : "(null)");
        return NULL;
    }
    if (body) {
        if (!json_is_object (body)) {
            if (err && errlen)
                snprintf (err, errlen, "the body of %s must be an object", self->type);
            rfk_msg_destroy (&self);
            return NULL;
        }
        json_decref (self->body);
        self->body = json_deep_copy (body);
    }
    if (!self->body || rfk_msg_check (self, err, errlen))
        rfk_msg_destroy (&self);
    return self;
}

int
rfk_msg_check (const rfk_msg_t *self, char *err, size_t errlen)
{
    zframe_t *frame = NULL;
    if (rfk_msg_encode (self, &frame, err, errlen))
        return -1;
    zframe_destroy (&frame);
    return 0;
}

rfk_msg_t *
rfk_msg_dup (const rfk_msg_t *self)
{
    if (!self)
        return NULL;
    rfk_msg_t *copy = calloc (1, sizeof *copy);
    if (!copy)
        return NULL;
    copy->family = self->family;
    copy->kind = self->kind;
    copy->type = self->type;
    copy->correlation = self->correlation;
    copy->token = self->token ? strdup (self->token) : NULL;
    copy->body = self->body ? json_deep_copy (self->body) : json_object ();
    copy->data = self->data ? zchunk_dup (self->data) : NULL;
    if ((self->token && !copy->token) || !copy->body || (self->data && !copy->data))
        rfk_msg_destroy (&copy);
    return copy;
}

void
rfk_msg_set_token (rfk_msg_t *self, const char *token)
{
    if (!self)
        return;
    free (self->token);
    self->token = token ? strdup (token) : NULL;
}

void
rfk_msg_set_data (rfk_msg_t *self, const void *data, size_t size)
{
    if (!self)
        return;
    zchunk_destroy (&self->data);
    self->data = zchunk_new (data, size);
}

void
rfk_msg_destroy (rfk_msg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_msg_t *self = *self_p;
    free (self->token);
    json_decref (self->body);
    zchunk_destroy (&self->data);
    free (self);
    *self_p = NULL;
}

bool
rfk_msg_is (const rfk_msg_t *self, const char *type)
{
    return self && self->type && type && streq (self->type, type);
}

int
rfk_msg_encode (const rfk_msg_t *self, zframe_t **frame_p, char *err, size_t errlen)
{
    if (!self || !self->family) {
        if (err && errlen)
            snprintf (err, errlen, "no message");
        return -1;
    }
    return self->family->encode (self, frame_p, err, errlen);
}

int
rfk_msg_decode (const rfk_family_t *family, zframe_t *frame, size_t max_size, rfk_msg_t **msg_p)
{
    if (!family) {
        if (msg_p)
            *msg_p = NULL;
        return -1;
    }
    return family->decode (frame, max_size, msg_p);
}
