/*  rfk_ensemble.c: combining the members' answers (see rfk_ensemble.h).

    Only real ensembles unpack (msgpack-c's unpacker, on spans the walker
    already checked); everything else copies bytes.
*/
#include "rfk_ensemble.h"
#include "rfk_msgpack_span.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rfk_ensemble_t
rfk_ensemble_of_task (const char *task)
{
    if (!task)
        return RFK_ENSEMBLE_FIRST;
    if (strcmp (task, "IMAGE_CLASSIFICATION") == 0 || strcmp (task, "TABULAR_CLASSIFICATION") == 0)
        return RFK_ENSEMBLE_MEAN_VEC;
    if (strcmp (task, "TABULAR_REGRESSION") == 0)
        return RFK_ENSEMBLE_MEAN;
    if (strcmp (task, "POS_TAGGING") == 0)
        return RFK_ENSEMBLE_MAJORITY;
    return RFK_ENSEMBLE_FIRST;
}

char *
rfk_ensemble_error_new (const char *message, size_t *size_p)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    size_t length = strlen (message);
    msgpack_pack_ext (&packer, length, RFK_MSGPACK_EXT_ERROR);
    msgpack_pack_ext_body (&packer, message, length);
    *size_p = buffer.size;
    return msgpack_sbuffer_release (&buffer);
}

static bool
s_is_number (const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
           o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || o->type == MSGPACK_OBJECT_FLOAT32 ||
           o->type == MSGPACK_OBJECT_FLOAT64;
}

static double
s_number (const msgpack_object *o)
{
    switch (o->type) {
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            return (double)o->via.u64;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return (double)o->via.i64;
        default:
            return o->via.f64;
    }
}

/*  The mean of k numbers; -1 when one is not a number. */
static int
s_mean (const msgpack_unpacked *objects, size_t k, msgpack_packer *packer)
{
    double sum = 0;
    for (size_t i = 0; i < k; i++) {
        if (!s_is_number (&objects[i].data))
            return -1;
        sum += s_number (&objects[i].data);
    }
    return msgpack_pack_double (packer, sum / (double)k);
}

/*  The element-wise mean of k vectors of numbers; -1 when one is not such a
    vector. A member that knows fewer classes gives the others 0. */
static int
s_mean_vec (const msgpack_unpacked *objects, size_t k, msgpack_packer *packer)
{
    size_t length = 0;
    for (size_t i = 0; i < k; i++) {
        const msgpack_object *o = &objects[i].data;
        if (o->type != MSGPACK_OBJECT_ARRAY)
            return -1;
        for (uint32_t j = 0; j < o->via.array.size; j++)
            if (!s_is_number (&o->via.array.ptr[j]))
                return -1;
        if (o->via.array.size > length)
            length = o->via.array.size;
    }
    msgpack_pack_array (packer, length);
    for (size_t j = 0; j < length; j++) {
        double sum = 0;
        for (size_t i = 0; i < k; i++) {
            const msgpack_object *o = &objects[i].data;
            if (j < o->via.array.size)
                sum += s_number (&o->via.array.ptr[j]);
        }
        msgpack_pack_double (packer, sum / (double)k);
    }
    return 0;
}

/*  The tag most members gave at position j; a tie goes to the earliest. */
static const msgpack_object_str *
s_vote (const msgpack_unpacked *objects, size_t k, size_t j)
{
    size_t best = 0, best_votes = 0;
    for (size_t i = 0; i < k; i++) {
        const msgpack_object_str *tag = &objects[i].data.via.array.ptr[j].via.str;
        size_t votes = 0;
        for (size_t m = 0; m < k; m++) {
            const msgpack_object_str *other = &objects[m].data.via.array.ptr[j].via.str;
            if (other->size == tag->size && memcmp (other->ptr, tag->ptr, tag->size) == 0)
                votes++;
        }
        if (votes > best_votes) {
            best = i;
            best_votes = votes;
        }
    }
    return &objects[best].data.via.array.ptr[j].via.str;
}

/*  The per-position majority of k arrays of strings of one length; -1 when
    they are not. */
static int
s_majority (const msgpack_unpacked *objects, size_t k, msgpack_packer *packer)
{
    const msgpack_object *first = &objects[0].data;
    size_t length = first->type == MSGPACK_OBJECT_ARRAY ? first->via.array.size : 0;
    for (size_t i = 0; i < k; i++) {
        const msgpack_object *o = &objects[i].data;
        if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != length)
            return -1;
        for (uint32_t j = 0; j < length; j++)
            if (o->via.array.ptr[j].type != MSGPACK_OBJECT_STR)
                return -1;
    }
    msgpack_pack_array (packer, length);
    for (size_t j = 0; j < length; j++) {
        const msgpack_object_str *tag = s_vote (objects, k, j);
        msgpack_pack_str (packer, tag->size);
        msgpack_pack_str_body (packer, tag->ptr, tag->size);
    }
    return 0;
}

/*  Combines k >= 2 answers into buffer; -1 when they are not of the shape
    the ensemble wants (the caller takes the first then). */
static int
s_combine (rfk_ensemble_t mode, const rfk_ensemble_span_t *spans, size_t k, msgpack_sbuffer *buffer)
{
    msgpack_unpacked *objects = (msgpack_unpacked *)calloc (k, sizeof (msgpack_unpacked));
    if (!objects)
        return -1;
    int rc = 0;
    size_t unpacked = 0;
    for (; unpacked < k && rc == 0; unpacked++) {
        size_t off = 0;
        msgpack_unpacked_init (&objects[unpacked]);
        if (msgpack_unpack_next (&objects[unpacked], (const char *)spans[unpacked].data,
                                 spans[unpacked].size, &off) != MSGPACK_UNPACK_SUCCESS)
            rc = -1;
    }
    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    if (rc == 0 && mode == RFK_ENSEMBLE_MEAN)
        rc = s_mean (objects, k, &packer);
    else if (rc == 0 && mode == RFK_ENSEMBLE_MEAN_VEC)
        rc = s_mean_vec (objects, k, &packer);
    else if (rc == 0 && mode == RFK_ENSEMBLE_MAJORITY)
        rc = s_majority (objects, k, &packer);
    else
        rc = -1;
    for (size_t i = 0; i < unpacked; i++)
        msgpack_unpacked_destroy (&objects[i]);
    free (objects);
    return rc;
}

/*  A copy of a span. */
static char *
s_copy (const rfk_ensemble_span_t *span, size_t *size_p)
{
    char *copy = (char *)malloc (span->size ? span->size : 1);
    if (copy) {
        memcpy (copy, span->data, span->size);
        *size_p = span->size;
    }
    return copy;
}

char *
rfk_ensemble_answer (rfk_ensemble_t mode, const rfk_ensemble_span_t *spans, size_t k,
                     const rfk_ensemble_span_t *error_span, const char *error, size_t *size_p)
{
    *size_p = 0;
    if (k >= 2 && mode != RFK_ENSEMBLE_FIRST) {
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        if (s_combine (mode, spans, k, &buffer) == 0) {
            *size_p = buffer.size;
            return msgpack_sbuffer_release (&buffer);
        }
        msgpack_sbuffer_destroy (&buffer);
    }
    if (k >= 1)
        return s_copy (&spans[0], size_p);
    if (error_span) /* every member that answered refused this query: pass its error on */
        return s_copy (error_span, size_p);
    char text[600];
    snprintf (text, sizeof text, "%s",
              error ? error : "no inference worker answered before the deadline");
    return rfk_ensemble_error_new (text, size_p);
}
