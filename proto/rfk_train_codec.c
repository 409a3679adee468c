/*  rfk_train_codec.c: the codec of the `train` family (train.proto).

    The only code that includes train.pb-c.h: it hands the family's
    Envelope descriptor to the descriptor-driven codec in rfk_pbjson.c.
*/
#include "rfk_pbjson.h"
#include "train.pb-c.h"

static int
s_decode (zframe_t *frame, size_t max_size, rfk_msg_t **msg_p)
{
    return rfk_pbjson_decode (&rfk__train__envelope__descriptor, &rfk_train_family, frame, max_size,
                              msg_p);
}

static int
s_encode (const rfk_msg_t *msg, zframe_t **frame_p, char *err, size_t errlen)
{
    return rfk_pbjson_encode (&rfk__train__envelope__descriptor, msg, frame_p, err, errlen);
}

static int
s_kind_of (const char *type)
{
    return rfk_pbjson_kind_of (&rfk__train__envelope__descriptor, type);
}

static const char *
s_type_of (int kind)
{
    return rfk_pbjson_type_of (&rfk__train__envelope__descriptor, kind);
}

const rfk_family_t rfk_train_family = {
    .name = "train",
    .decode = s_decode,
    .encode = s_encode,
    .kind_of = s_kind_of,
    .type_of = s_type_of,
};
