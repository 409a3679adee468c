/*  standalone.c: runs a codec fuzz target without libFuzzer (the gcc build).

    Feeds the target its seed corpus (valid envelopes of every message type,
    made at run time), then RAFIKI_FUZZ_RUNS (default 100000) inputs derived
    from them by a seeded PRNG: random bytes, byte changes, truncations,
    insertions, varint bumps and splices. With file arguments, runs those
    files instead (to replay what libFuzzer found). Prints TAP.
*/
#include "fuzz_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEEDS 128
#define MAX_INPUT 65536

typedef struct {
    uint8_t *data[MAX_SEEDS];
    size_t size[MAX_SEEDS];
    size_t count;
} seeds_t;

static uint64_t s_state = 0x9e3779b97f4a7c15ull;

static uint32_t
s_rand (void)
{
    //  xorshift64*
    s_state ^= s_state >> 12;
    s_state ^= s_state << 25;
    s_state ^= s_state >> 27;
    return (uint32_t)((s_state * 2685821657736338717ull) >> 32);
}

static void
s_keep_seed (const uint8_t *data, size_t size, void *arg)
{
    seeds_t *seeds = arg;
    LLVMFuzzerTestOneInput (data, size);
    if (seeds->count < MAX_SEEDS) {
        seeds->data[seeds->count] = malloc (size ? size : 1);
        memcpy (seeds->data[seeds->count], data, size);
        seeds->size[seeds->count++] = size;
    }
}

//  One input derived from the seeds into buf; returns its size.
static size_t
s_mutate (const seeds_t *seeds, uint8_t *buf)
{
    size_t pick = seeds->count ? s_rand () % seeds->count : 0;
    size_t size = seeds->count ? seeds->size[pick] : 0;
    if (size > MAX_INPUT / 2)
        size = MAX_INPUT / 2;
    if (size)
        memcpy (buf, seeds->data[pick], size);
    switch (s_rand () % 6) {
        case 0: //  random bytes
            size = s_rand () % 300;
            for (size_t i = 0; i < size; i++)
                buf[i] = (uint8_t)s_rand ();
            break;
        case 1: //  change a few bytes
            for (int n = 1 + (int)(s_rand () % 4); n > 0 && size; n--)
                buf[s_rand () % size] = (uint8_t)s_rand ();
            break;
        case 2: //  truncate
            size = size ? s_rand () % size : 0;
            break;
        case 3: { //  insert random bytes
            size_t at = size ? s_rand () % (size + 1) : 0;
            size_t n = 1 + s_rand () % 16;
            memmove (buf + at + n, buf + at, size - at);
            for (size_t i = 0; i < n; i++)
                buf[at + i] = (uint8_t)s_rand ();
            size += n;
            break;
        }
        case 4: //  flip bits, often hitting tags and lengths
            for (int n = 1 + (int)(s_rand () % 3); n > 0 && size; n--)
                buf[s_rand () % size] ^= (uint8_t)(1u << (s_rand () % 8));
            break;
        case 5: { //  splice: head of one seed, tail of another
            size_t other = seeds->count ? s_rand () % seeds->count : 0;
            size_t cut = size ? s_rand () % size : 0;
            size_t from = seeds->size[other] ? s_rand () % seeds->size[other] : 0;
            size_t tail = seeds->size[other] - from;
            if (cut + tail > MAX_INPUT)
                tail = MAX_INPUT - cut;
            memcpy (buf + cut, seeds->data[other] + from, tail);
            size = cut + tail;
            break;
        }
    }
    return size;
}

//  Replay files given on the command line.
static int
s_replay (int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *file = fopen (argv[i], "rb");
        if (!file) {
            fprintf (stderr, "cannot open %s\n", argv[i]);
            return 1;
        }
        static uint8_t buf[16 * 1024 * 1024];
        size_t size = fread (buf, 1, sizeof buf, file);
        fclose (file);
        LLVMFuzzerTestOneInput (buf, size);
    }
    printf ("1..1\nok 1 - %s: replayed %d files\n", fuzz_codec_family (), argc - 1);
    return 0;
}

int
main (int argc, char **argv)
{
    if (argc > 1)
        return s_replay (argc, argv);
    const char *runs_env = getenv ("RAFIKI_FUZZ_RUNS");
    const char *seed_env = getenv ("RAFIKI_FUZZ_SEED");
    long runs = runs_env ? atol (runs_env) : 100000;
    if (seed_env)
        s_state ^= strtoull (seed_env, NULL, 0) * 0x2545f4914f6cdd1dull;

    static seeds_t seeds;
    size_t n_seeds = fuzz_codec_seeds (s_keep_seed, &seeds);
    static uint8_t buf[MAX_INPUT + 64];
    for (long i = 0; i < runs; i++) {
        size_t size = s_mutate (&seeds, buf);
        LLVMFuzzerTestOneInput (buf, size);
    }
    for (size_t i = 0; i < seeds.count; i++)
        free (seeds.data[i]);
    printf ("1..1\nok 1 - %s: %zu seeds, %ld inputs, %zu decoded\n", fuzz_codec_family (), n_seeds,
            runs, fuzz_codec_decoded ());
    return 0;
}
