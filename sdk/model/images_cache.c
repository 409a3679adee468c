/*  images_cache.c: the per-process cache of loaded image datasets.

    rfk_images_load tells the cache of every dataset it read completely,
    keyed by the file (path, device, inode, size, modification time, and a
    fingerprint of its entries' names, sizes and CRCs) and by what was asked
    (size, colour). The first time, the cache only notes the key: a trial
    reads each of its datasets once, and a copy would only double its
    memory. From the second time on it keeps a copy, and later loads are a
    copy instead of a decode and resize. At most RAFIKI_IMAGES_CACHE_MB
    (default 512, 0: off) are kept; the least recently used goes first.
    Process-wide, guarded by a mutex (templates may load from threads). */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define S_ENTRIES 8
#define S_DEFAULT_MB 512

typedef struct {
    char *path;                 /* the dataset's path; NULL: a free slot */
    dev_t dev;                  /* the file's device ... */
    ino_t ino;                  /* ... inode */
    off_t size;                 /* ... size in bytes */
    struct timespec mtime;      /* ... modification time */
    uint64_t fingerprint;       /* ... and its entries (images.c) */
    uint32_t width, height;     /* the size asked for (0, 0: the first image's) */
    rfk_images_colour_t colour; /* the colour asked for */
    rfk_images_t *images;       /* the images, owned; NULL: seen once, not kept */
    size_t bytes;               /* pixel and label bytes they take */
    uint64_t used;              /* when last used (a counter) */
} s_entry_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static s_entry_t s_entries[S_ENTRIES]; /* the cache */
static uint64_t s_clock;               /* the use counter */
static size_t s_hits;                  /* loads answered from the cache */

/* The budget in bytes, from the environment. */
static size_t
s_budget (void)
{
    const char *mb = getenv ("RAFIKI_IMAGES_CACHE_MB");
    char *end;
    unsigned long long v = mb && *mb ? strtoull (mb, &end, 10) : S_DEFAULT_MB;
    if (mb && *mb && *end != '\0')
        v = S_DEFAULT_MB;
    return v > (SIZE_MAX >> 20) ? SIZE_MAX : (size_t)v << 20;
}

static bool
s_matches (const s_entry_t *e, const char *path, const struct stat *st, uint64_t fingerprint,
           const rfk_images_options_t *opts)
{
    return e->path && e->fingerprint == fingerprint && strcmp (e->path, path) == 0 &&
           e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
           e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec &&
           e->width == opts->width && e->height == opts->height && e->colour == opts->colour;
}

static void
s_drop (s_entry_t *e)
{
    free (e->path);
    rfk_images_destroy (&e->images);
    memset (e, 0, sizeof *e);
}

/* A copy of the first n images of src; NULL when out of memory. */
static rfk_images_t *
s_copy (const rfk_images_t *src, size_t n)
{
    rfk_images_t *copy = calloc (1, sizeof *copy);
    size_t image_bytes = (size_t)src->width * src->height * src->channels;
    if (!copy)
        return NULL;
    *copy = *src;
    copy->n = n;
    copy->pixels = malloc (n * image_bytes);
    copy->labels = malloc (n * sizeof (int32_t));
    if (!copy->pixels || !copy->labels) {
        rfk_images_destroy (&copy);
        return NULL;
    }
    memcpy (copy->pixels, src->pixels, n * image_bytes);
    memcpy (copy->labels, src->labels, n * sizeof (int32_t));
    copy->n_classes = 0;
    for (size_t i = 0; i < n; i++)
        if ((uint32_t)copy->labels[i] + 1 > copy->n_classes)
            copy->n_classes = (uint32_t)copy->labels[i] + 1;
    return copy;
}

rfk_images_t *
rfk_images_cache_get (const char *path, const struct stat *st, uint64_t fingerprint,
                      const rfk_images_options_t *opts)
{
    rfk_images_t *copy = NULL;
    pthread_mutex_lock (&s_lock);
    for (int i = 0; i < S_ENTRIES; i++) {
        s_entry_t *e = &s_entries[i];
        if (!e->images || !s_matches (e, path, st, fingerprint, opts))
            continue;
        size_t n =
            opts->max_count && opts->max_count < e->images->n ? opts->max_count : e->images->n;
        copy = s_copy (e->images, n);
        e->used = ++s_clock;
        if (copy)
            s_hits++;
        break;
    }
    pthread_mutex_unlock (&s_lock);
    return copy;
}

/* A free slot, after dropping least recently used entries until `bytes`
   more fit in the budget; -1 when they cannot. Called with the lock held. */
static int
s_make_room (size_t bytes, size_t budget)
{
    size_t total = bytes;
    for (int i = 0; i < S_ENTRIES; i++)
        total += s_entries[i].bytes;
    for (;;) {
        int lru = -1, free_slot = -1;
        for (int i = 0; i < S_ENTRIES; i++)
            if (!s_entries[i].path)
                free_slot = i;
            else if (lru < 0 || s_entries[i].used < s_entries[lru].used)
                lru = i;
        if (free_slot >= 0 && total <= budget)
            return free_slot;
        if (lru < 0)
            return -1;
        total -= s_entries[lru].bytes;
        s_drop (&s_entries[lru]);
    }
}

void
rfk_images_cache_put (const char *path, const struct stat *st, uint64_t fingerprint,
                      const rfk_images_options_t *opts, const rfk_images_t *images)
{
    size_t budget = s_budget ();
    size_t bytes =
        images->n * ((size_t)images->width * images->height * images->channels + sizeof (int32_t));
    if (bytes > budget)
        return;
    pthread_mutex_lock (&s_lock);
    /* Seen before: keep the images this time. */
    bool seen = false;
    for (int i = 0; i < S_ENTRIES; i++)
        if (s_matches (&s_entries[i], path, st, fingerprint, opts)) {
            seen = !s_entries[i].images;
            s_drop (&s_entries[i]);
        }
    int slot = s_make_room (seen ? bytes : 0, budget);
    s_entry_t *e = slot >= 0 ? &s_entries[slot] : NULL;
    if (e && (e->path = strdup (path)) && (!seen || (e->images = s_copy (images, images->n)))) {
        e->dev = st->st_dev;
        e->ino = st->st_ino;
        e->size = st->st_size;
        e->mtime = st->st_mtim;
        e->fingerprint = fingerprint;
        e->width = opts->width;
        e->height = opts->height;
        e->colour = opts->colour;
        e->bytes = seen ? bytes : 0;
        e->used = ++s_clock;
    } else if (e)
        s_drop (e);
    pthread_mutex_unlock (&s_lock);
}

size_t
rfk_images_cache_hits (void)
{
    pthread_mutex_lock (&s_lock);
    size_t hits = s_hits;
    pthread_mutex_unlock (&s_lock);
    return hits;
}

void
rfk_images_cache_clear (void)
{
    pthread_mutex_lock (&s_lock);
    for (int i = 0; i < S_ENTRIES; i++)
        s_drop (&s_entries[i]);
    pthread_mutex_unlock (&s_lock);
}

/* Every template links its own copy of this cache: empty it when the
   template is unloaded (dlclose) or the program exits, so that nothing it
   held is left behind unreachable. */
__attribute__ ((destructor)) static void
s_cache_fini (void)
{
    rfk_images_cache_clear ();
}
