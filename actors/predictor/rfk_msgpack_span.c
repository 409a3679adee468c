/*  rfk_msgpack_span.c: the msgpack span walker (see rfk_msgpack_span.h).

    One object is a header (its first byte, maybe followed by a big-endian
    length) then either payload bytes (numbers, strings, binary, ext) or
    nested objects (array elements, map keys and values). The walker reads
    the header, checks that the payload fits in what is left, and recurses
    into nested objects up to RFK_MSGPACK_SPAN_MAX_DEPTH. A count of nested
    objects larger than the bytes left is refused at once (every object is at
    least one byte), so a forged array32 header costs nothing.
*/
#include "rfk_msgpack_span.h"

#include <stdlib.h>

/* What follows the length of a header byte from 0xc4 to 0xdf. */
typedef enum {
    S_FIXED, /* a fixed payload: numbers, fixext (type byte included) */
    S_BYTES, /* length payload bytes: bin, str */
    S_EXT,   /* a type byte then length bytes */
    S_ITEMS, /* length nested objects: array */
    S_PAIRS  /* 2 x length nested objects: map */
} s_kind_t;

typedef struct {
    unsigned char length_bytes; /* bytes of the big-endian length after the header byte */
    unsigned char fixed;        /* S_FIXED: payload bytes */
    unsigned char kind;         /* s_kind_t */
} s_header_t;

/* 0xc4 .. 0xdf; 0xc1 (never used) is refused before this is read. */
static const s_header_t s_headers[] = {
    {1, 0, S_BYTES},  {2, 0, S_BYTES}, {4, 0, S_BYTES},                  /* c4..c6 bin8/16/32 */
    {1, 0, S_EXT},    {2, 0, S_EXT},   {4, 0, S_EXT},                    /* c7..c9 ext8/16/32 */
    {0, 4, S_FIXED},  {0, 8, S_FIXED},                                   /* ca cb float32/64 */
    {0, 1, S_FIXED},  {0, 2, S_FIXED}, {0, 4, S_FIXED}, {0, 8, S_FIXED}, /* cc..cf uint */
    {0, 1, S_FIXED},  {0, 2, S_FIXED}, {0, 4, S_FIXED}, {0, 8, S_FIXED}, /* d0..d3 int */
    {0, 2, S_FIXED},  {0, 3, S_FIXED}, {0, 5, S_FIXED}, {0, 9, S_FIXED},
    {0, 17, S_FIXED},                                   /* d4..d8 fixext 1..16 */
    {1, 0, S_BYTES},  {2, 0, S_BYTES}, {4, 0, S_BYTES}, /* d9..db str8/16/32 */
    {2, 0, S_ITEMS},  {4, 0, S_ITEMS},                  /* dc dd array16/32 */
    {2, 0, S_PAIRS},  {4, 0, S_PAIRS}};                 /* de df map16/32 */

static uint64_t
s_be (const unsigned char *p, size_t bytes)
{
    uint64_t value = 0;
    for (size_t i = 0; i < bytes; i++)
        value = (value << 8) | p[i];
    return value;
}

/*  Reads the header at data[*at]: *at past it, *items nested objects and
    *bytes payload bytes to follow. 0, or -1 when the header is cut short or
    is 0xc1. */
static int
s_header (const unsigned char *data, size_t size, size_t *at, uint64_t *items, uint64_t *bytes)
{
    unsigned char b = data[(*at)++];
    *items = 0;
    *bytes = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 0; /* fixint, nil, false, true */
    if (b <= 0x8f)
        *items = 2u * (b & 0x0f); /* fixmap */
    else if (b <= 0x9f)
        *items = b & 0x0f; /* fixarray */
    else if (b <= 0xbf)
        *bytes = b & 0x1f; /* fixstr */
    else if (b == 0xc1)
        return -1;
    else {
        const s_header_t *header = &s_headers[b - 0xc4];
        if (header->length_bytes > size - *at)
            return -1;
        uint64_t length = s_be (data + *at, header->length_bytes);
        *at += header->length_bytes;
        switch ((s_kind_t)header->kind) {
            case S_FIXED:
                *bytes = header->fixed;
                break;
            case S_BYTES:
                *bytes = length;
                break;
            case S_EXT:
                *bytes = length + 1;
                break;
            case S_ITEMS:
                *items = length;
                break;
            case S_PAIRS:
                *items = 2 * length;
                break;
        }
    }
    return 0;
}

/*  Skips one object at *off, nested depth deep. */
static int
s_skip (const unsigned char *data, size_t size, size_t *off, int depth)
{
    if (depth > RFK_MSGPACK_SPAN_MAX_DEPTH || *off >= size)
        return -1;
    size_t at = *off;
    uint64_t items, bytes;
    if (s_header (data, size, &at, &items, &bytes) != 0)
        return -1;
    if (bytes > size - at)
        return -1;
    at += bytes;
    if (items > size - at) /* every object is at least a byte */
        return -1;
    for (uint64_t i = 0; i < items; i++)
        if (s_skip (data, size, &at, depth + 1) != 0)
            return -1;
    *off = at;
    return 0;
}

int
rfk_msgpack_span_skip (const void *data, size_t size, size_t *off)
{
    if (!data || !off)
        return -1;
    return s_skip ((const unsigned char *)data, size, off, 1);
}

/*  Reads an array header: 0 with the element count and header length. */
static int
s_array_header (const unsigned char *data, size_t size, size_t *count, size_t *header)
{
    if (size < 1)
        return -1;
    unsigned char b = data[0];
    if (b >= 0x90 && b <= 0x9f) {
        *count = b & 0x0f;
        *header = 1;
    } else if (b == 0xdc && size >= 3) {
        *count = (size_t)s_be (data + 1, 2);
        *header = 3;
    } else if (b == 0xdd && size >= 5) {
        *count = (size_t)s_be (data + 1, 4);
        *header = 5;
    } else
        return -1;
    return 0;
}

size_t *
rfk_msgpack_span_elements (const void *data, size_t size, size_t expect, size_t *count_p)
{
    const unsigned char *bytes = (const unsigned char *)data;
    size_t count, header;
    if (!data || s_array_header (bytes, size, &count, &header) != 0)
        return NULL;
    if ((expect != SIZE_MAX && count != expect) || count > size - header)
        return NULL;
    size_t *offsets = (size_t *)malloc ((count + 1) * sizeof (size_t));
    if (!offsets)
        return NULL;
    size_t off = header;
    for (size_t i = 0; i < count; i++) {
        offsets[i] = off;
        if (s_skip (bytes, size, &off, 2) != 0) {
            free (offsets);
            return NULL;
        }
    }
    if (off != size) {
        free (offsets);
        return NULL;
    }
    offsets[count] = off;
    if (count_p)
        *count_p = count;
    return offsets;
}

bool
rfk_msgpack_span_is_error (const void *span, size_t size)
{
    const unsigned char *bytes = (const unsigned char *)span;
    if (!span || size < 2)
        return false;
    unsigned char b = bytes[0];
    size_t type_at;
    if (b >= 0xd4 && b <= 0xd8)
        type_at = 1;
    else if (b == 0xc7)
        type_at = 2;
    else if (b == 0xc8)
        type_at = 3;
    else if (b == 0xc9)
        type_at = 5;
    else
        return false;
    return type_at < size && (signed char)bytes[type_at] == RFK_MSGPACK_EXT_ERROR;
}
