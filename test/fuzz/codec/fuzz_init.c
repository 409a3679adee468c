/*  fuzz_init.c: LLVMFuzzerInitialize for every fuzz target that implements
    fuzz_codec.h (the codec families, the msgpack span walker): under
    libFuzzer, writes the target's seed corpus into the corpus directory and
    bounds the run by RAFIKI_FUZZ_SECONDS.
*/
#include "fuzz_codec.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

//  Write one seed file into the corpus directory.
static void
s_write_seed (const uint8_t *data, size_t size, void *arg)
{
    const char *dir = arg;
    static int n;
    char path[4096];
    snprintf (path, sizeof path, "%s/seed-%03d", dir, n++);
    FILE *file = fopen (path, "wb");
    if (file) {
        if (fwrite (data, 1, size, file) != size)
            fprintf (stderr, "fuzz: cannot write %s\n", path);
        fclose (file);
    }
}

//  Under libFuzzer, before flags are parsed: write the seed corpus into the
//  first corpus directory, bound the run by RAFIKI_FUZZ_SECONDS (default
//  20) unless -max_total_time is given, and make a crash exit 1 unless
//  -error_exitcode is given (libFuzzer's default, 77, is what meson reads as
//  a skipped test: a crash would pass unnoticed).
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    bool has_time = false, has_exit = false;
    const char *dir = NULL;
    for (int i = 1; i < *argc; i++) {
        if (strncmp ((*argv)[i], "-max_total_time=", 16) == 0)
            has_time = true;
        else if (strncmp ((*argv)[i], "-error_exitcode=", 16) == 0)
            has_exit = true;
        else if ((*argv)[i][0] != '-' && !dir)
            dir = (*argv)[i];
    }
    if (dir) {
        mkdir (dir, 0755);
        fuzz_codec_seeds (s_write_seed, (void *)dir);
    }
    static char time_flag[64];
    static char *args[256];
    const char *seconds = getenv ("RAFIKI_FUZZ_SECONDS");
    snprintf (time_flag, sizeof time_flag, "-max_total_time=%d", seconds ? atoi (seconds) : 20);
    int n = *argc < 253 ? *argc : 253;
    for (int i = 0; i < n; i++)
        args[i] = (*argv)[i];
    if (!has_time)
        args[n++] = time_flag;
    if (!has_exit)
        args[n++] = (char *)"-error_exitcode=1";
    args[n] = NULL;
    *argc = n;
    *argv = args;
    return 0;
}
