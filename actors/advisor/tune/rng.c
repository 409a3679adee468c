/*  rng.c: the tuning library's random numbers (xoshiro256**, seeded by
    splitmix64), the normal distribution's functions, and error messages. */
#include "tune_internal.h"

#include <math.h>

static uint64_t
s_splitmix64 (uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
s_rotl (uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void
rfk_rng_seed (rfk_rng_t *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = s_splitmix64 (&x);
}

uint64_t
rfk_rng_next (rfk_rng_t *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = s_rotl (s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl (s[3], 45);
    return result;
}

double
rfk_rng_uniform (rfk_rng_t *rng)
{
    return (double)(rfk_rng_next (rng) >> 11) * 0x1.0p-53;
}

size_t
rfk_rng_below (rfk_rng_t *rng, size_t n)
{
    /* The modulo bias is below 2^-40 for the sizes used here. */
    return (size_t)(rfk_rng_next (rng) % (uint64_t)n);
}

double
rfk_rng_normal (rfk_rng_t *rng)
{
    /* Box-Muller; one of the pair is thrown away to keep no state. */
    double u = rfk_rng_uniform (rng);
    double v = rfk_rng_uniform (rng);
    return sqrt (-2.0 * log (1.0 - u)) * cos (2.0 * M_PI * v);
}

double
rfk_norm_pdf (double z)
{
    return exp (-0.5 * z * z) / sqrt (2.0 * M_PI);
}

double
rfk_norm_cdf (double z)
{
    return 0.5 * erfc (-z / M_SQRT2);
}

double
rfk_norm_logcdf (double z)
{
    if (z > -5.0)
        return log (rfk_norm_cdf (z));
    /* The asymptotic series of Mills' ratio, where the cdf underflows. */
    double z2 = z * z;
    return -0.5 * z2 - log (-z) - 0.5 * log (2.0 * M_PI) +
           log1p (-1.0 / z2 + 3.0 / (z2 * z2) - 15.0 / (z2 * z2 * z2));
}
