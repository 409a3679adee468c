/*  models/hmm/hmm.c: a bigram hidden Markov model part-of-speech tagger.

    rafiki-hmm.so (HmmTagger, POS_TAGGING), with no dependency beyond the
    SDK. Training counts tag bigrams (with sentence start and end) and word
    emissions; tagging is Viterbi over the tags each token can take:

    - a known word (or, failing that, its lowercase form) takes the tags it
      was seen with, P(w|t) = (c(t,w) + emission_k) / (c(t) + emission_k (V+1));
    - an unknown word takes the likeliest tags of its suffix, as in TnT
      (Brants 2000): tag distributions of the suffixes (up to suffix_length
      characters) of rare training words (seen at most rare_count times),
      one set per word shape (lowercase, capitalised, with digits, with a
      hyphen), combined from short to long suffixes by successive
      abstraction, turned into emissions by P(t|suffix) / P(t);
    - transitions P(t|t') = (c(t',t) + transition_k) / (c(t') + transition_k T).

    EARLY_STOP: the last 10% of the training sentences (at most 500) are
    held out, the others are counted in eight equal stages, and after each
    stage the model so far tags the held-out sentences: their token accuracy
    is reported through ctx->progress (step 1..8), and counting stops when
    the trial is pruned (the model then holds the stages counted). Counts
    only grow, so the stages cost no more counting than one pass; each
    report costs a suffix recount and a Viterbi pass over the held-out
    sentences. QUICK_EVAL: the reports tag the first RFK_ZOO_QUICK_ROWS
    (1000; train arg quick_eval_rows) held-out sentences only. A model of
    counts has nothing to warm-start from: no SHARE_PARAMS.

    Parameters are the counts (tags, words with their tag counts, bigram
    counts, suffix tag counts) and the smoothing knobs; the probabilities are
    derived from them the same way after train and after load, so a loaded
    model tags exactly as the trained one did.
*/
#include "zoo.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define S_NAME "HmmTagger"
#define S_TASK RAFIKI_TASK_POS_TAGGING
#define S_PARAMS_VERSION 1
#define S_UNKNOWN_CANDIDATES 20
#define S_MAX_SUFFIX 10
#define S_MAX_TOKEN 256
#define S_STAGES 8     /* EARLY_STOP: counting stages, one report each */
#define S_MAX_HELD 500 /* EARLY_STOP: most sentences held out */

static const rafiki_knob_t s_knobs[] = {
    {.name = "emission_k", .type = RAFIKI_KNOB_FLOAT, .min = 1e-6, .max = 1, .log_scale = true},
    {.name = "transition_k", .type = RAFIKI_KNOB_FLOAT, .min = 1e-6, .max = 1, .log_scale = true},
    {.name = "suffix_length", .type = RAFIKI_KNOB_INTEGER, .min = 0, .max = S_MAX_SUFFIX},
    {.name = "rare_count", .type = RAFIKI_KNOB_INTEGER, .min = 1, .max = 20},
    {.name = "early_stop", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_EARLY_STOP},
    {.name = "quick_eval", .type = RAFIKI_KNOB_POLICY, .policy = RAFIKI_POLICY_QUICK_EVAL},
};

/* ---- a string -> index hash map -------------------------------------- */

typedef struct {
    char **keys;    /* cap slots, NULL when empty (keys owned) */
    uint32_t *vals; /* cap values */
    size_t cap, n;  /* slots (a power of two) and keys */
} s_map_t;

static uint64_t
s_hash (const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

static void
s_map_free (s_map_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free (m->keys[i]);
    free (m->keys);
    free (m->vals);
    memset (m, 0, sizeof *m);
}

/* The value of key (len bytes), or -1. */
static int64_t
s_map_find (const s_map_t *m, const char *key, size_t len)
{
    if (m->cap == 0)
        return -1;
    for (size_t i = s_hash (key, len) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return -1;
        if (strncmp (m->keys[i], key, len) == 0 && m->keys[i][len] == '\0')
            return m->vals[i];
    }
}

/* Adds key (len bytes, copied) -> val; key must not be there. */
static int
s_map_add (s_map_t *m, const char *key, size_t len, uint32_t val)
{
    if ((m->n + 1) * 2 > m->cap) {
        s_map_t bigger = {.cap = m->cap ? m->cap * 2 : 1024};
        bigger.keys = calloc (bigger.cap, sizeof (char *));
        bigger.vals = calloc (bigger.cap, sizeof (uint32_t));
        if (!bigger.keys || !bigger.vals) {
            free (bigger.keys);
            free (bigger.vals);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = s_hash (m->keys[i], strlen (m->keys[i])) & (bigger.cap - 1);
                while (bigger.keys[j])
                    j = (j + 1) & (bigger.cap - 1);
                bigger.keys[j] = m->keys[i];
                bigger.vals[j] = m->vals[i];
            }
        bigger.n = m->n;
        free (m->keys);
        free (m->vals);
        *m = bigger;
    }
    size_t i = s_hash (key, len) & (m->cap - 1);
    while (m->keys[i])
        i = (i + 1) & (m->cap - 1);
    if (!(m->keys[i] = strndup (key, len)))
        return -1;
    m->vals[i] = val;
    m->n++;
    return 0;
}

/* ---- sparse tag counts ------------------------------------------------ */

typedef struct {
    uint32_t n, cap; /* distinct tags, slots */
    uint32_t *tag;   /* n tag ids */
    uint32_t *count; /* n counts */
    uint64_t total;  /* sum of counts */
} s_counts_t;

static int
s_counts_add (s_counts_t *c, uint32_t tag, uint32_t count)
{
    c->total += count;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->tag[i] == tag) {
            c->count[i] += count;
            return 0;
        }
    if (c->n == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 2;
        uint32_t *tag_ = realloc (c->tag, cap * sizeof (uint32_t));
        if (!tag_)
            return -1;
        c->tag = tag_;
        uint32_t *count_ = realloc (c->count, cap * sizeof (uint32_t));
        if (!count_)
            return -1;
        c->count = count_;
        c->cap = cap;
    }
    c->tag[c->n] = tag;
    c->count[c->n] = count;
    c->n++;
    return 0;
}

/* A table of keys, each with sparse tag counts (words, suffixes). */
typedef struct {
    s_map_t index;      /* key -> entry */
    char **keys;        /* n keys (borrowed from nowhere: owned here) */
    s_counts_t *counts; /* n entries */
    size_t n, cap;
} s_table_t;

static void
s_table_free (s_table_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free (t->keys[i]);
        free (t->counts[i].tag);
        free (t->counts[i].count);
    }
    free (t->keys);
    free (t->counts);
    s_map_free (&t->index);
    memset (t, 0, sizeof *t);
}

/* The entry of key, made when missing; NULL when out of memory. */
static s_counts_t *
s_table_entry (s_table_t *t, const char *key, size_t len)
{
    int64_t at = s_map_find (&t->index, key, len);
    if (at >= 0)
        return &t->counts[at];
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        char **keys = realloc (t->keys, cap * sizeof (char *));
        if (!keys)
            return NULL;
        t->keys = keys;
        s_counts_t *counts = realloc (t->counts, cap * sizeof (s_counts_t));
        if (!counts)
            return NULL;
        t->counts = counts;
        t->cap = cap;
    }
    if (!(t->keys[t->n] = strndup (key, len)))
        return NULL;
    if (s_map_add (&t->index, key, len, (uint32_t)t->n) != 0) {
        free (t->keys[t->n]);
        return NULL;
    }
    memset (&t->counts[t->n], 0, sizeof (s_counts_t));
    return &t->counts[t->n++];
}

static const s_counts_t *
s_table_find (const s_table_t *t, const char *key, size_t len)
{
    int64_t at = s_map_find (&t->index, key, len);
    return at >= 0 ? &t->counts[at] : NULL;
}

/* ---- the model -------------------------------------------------------- */

typedef struct {
    double emission_k;     /* knob: add-k for emissions */
    double transition_k;   /* knob: add-k for transitions */
    int64_t suffix_length; /* knob: longest suffix for unknown words */
    int64_t rare_count;    /* knob: words seen this often feed the suffixes */
    bool early_stop;       /* policy: count in stages, report held-out accuracy */
    bool quick_eval;       /* policy: report on fewer held-out sentences */
    bool trained;          /* counts present (trained or loaded) */
    /* counts */
    size_t n_tags;       /* T */
    char **tags;         /* T tag names */
    uint64_t *tag_count; /* T: tokens per tag */
    uint64_t *bigram;    /* (T+1) x (T+1): [prev][next], T is start/end */
    s_table_t words;     /* word -> tag counts */
    s_table_t suffixes;  /* "<shape><suffix>" -> tag counts of rare words */
    /* derived by s_finalize */
    double *log_trans; /* (T+1) x (T+1) */
    double *tag_prob;  /* T: unigram P(t) */
    double theta;      /* successive abstraction weight */
} s_model_t;

static void *
s_create (const rafiki_knobs_t *knobs, char *err, size_t errlen)
{
    s_model_t *self = rfk_zoo_new (sizeof *self, err, errlen);
    if (!self)
        return NULL;
    self->emission_k = rafiki_knobs_float (knobs, "emission_k", 1e-3);
    self->transition_k = rafiki_knobs_float (knobs, "transition_k", 1e-2);
    self->suffix_length = rafiki_knobs_int (knobs, "suffix_length", 5);
    self->rare_count = rafiki_knobs_int (knobs, "rare_count", 3);
    self->early_stop = rafiki_knobs_bool (knobs, "early_stop", false);
    self->quick_eval = rafiki_knobs_bool (knobs, "quick_eval", false);
    if (!(self->emission_k > 0) || !(self->transition_k > 0) || self->suffix_length < 0 ||
        self->suffix_length > S_MAX_SUFFIX || self->rare_count < 1) {
        rfk_zoo_err (err, errlen,
                     "%s: bad knobs (emission_k %g, transition_k %g, suffix_length %" PRId64
                     ", rare_count %" PRId64 ")",
                     S_NAME, self->emission_k, self->transition_k, self->suffix_length,
                     self->rare_count);
        free (self);
        return NULL;
    }
    return self;
}

/* Frees the counts and derived tables (the knobs stay). */
static void
s_clear (s_model_t *self)
{
    for (size_t t = 0; self->tags && t < self->n_tags; t++)
        free (self->tags[t]);
    free (self->tags);
    free (self->tag_count);
    free (self->bigram);
    free (self->log_trans);
    free (self->tag_prob);
    s_table_free (&self->words);
    s_table_free (&self->suffixes);
    self->tags = NULL;
    self->tag_count = NULL;
    self->bigram = NULL;
    self->log_trans = NULL;
    self->tag_prob = NULL;
    self->n_tags = 0;
    self->trained = false;
}

static void
s_destroy (void *model)
{
    s_model_t *self = model;
    if (!self)
        return;
    s_clear (self);
    free (self);
}

/* A word's shape: 'd' digits, 'C' capitalised, 'h' hyphenated, 'l' other. */
static char
s_shape (const char *w, size_t len)
{
    bool hyphen = false;
    for (size_t i = 0; i < len; i++) {
        if (isdigit ((unsigned char)w[i]))
            return 'd';
        hyphen |= w[i] == '-';
    }
    if (len && isupper ((unsigned char)w[0]))
        return 'C';
    return hyphen ? 'h' : 'l';
}

/* Counts the suffixes (lengths 0..suffix_length) of a rare word under its
   shape and under '*' (every shape). */
static int
s_count_suffixes (s_model_t *self, const char *w, size_t len, uint32_t tag, uint32_t count)
{
    char key[S_MAX_SUFFIX + 2];
    char shapes[2] = {s_shape (w, len), '*'};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i <= (size_t)self->suffix_length && i <= len; i++) {
            key[0] = shapes[s];
            memcpy (key + 1, w + len - i, i);
            s_counts_t *c = s_table_entry (&self->suffixes, key, i + 1);
            if (!c || s_counts_add (c, tag, count) != 0)
                return -1;
        }
    return 0;
}

/* Derives the probability tables from the counts. */
static int
s_finalize (s_model_t *self)
{
    size_t T = self->n_tags, T1 = T + 1;
    free (self->log_trans);
    free (self->tag_prob);
    self->log_trans = malloc (T1 * T1 * sizeof (double));
    self->tag_prob = malloc ((T + 1) * sizeof (double));
    if (!self->log_trans || !self->tag_prob)
        return -1;
    for (size_t p = 0; p < T1; p++) {
        uint64_t row = 0;
        for (size_t n = 0; n < T1; n++)
            row += self->bigram[p * T1 + n];
        for (size_t n = 0; n < T1; n++)
            self->log_trans[p * T1 + n] =
                log (((double)self->bigram[p * T1 + n] + self->transition_k) /
                     ((double)row + self->transition_k * (double)T1));
    }
    uint64_t tokens = 0;
    for (size_t t = 0; t < T; t++)
        tokens += self->tag_count[t];
    double mean = 1.0 / (double)(T ? T : 1), var = 0;
    for (size_t t = 0; t < T; t++) {
        self->tag_prob[t] = tokens ? (double)self->tag_count[t] / (double)tokens : 0;
        var += (self->tag_prob[t] - mean) * (self->tag_prob[t] - mean);
    }
    self->theta = T > 1 ? sqrt (var / (double)(T - 1)) : 1;
    if (self->theta <= 0)
        self->theta = 1e-3;
    self->trained = true;
    return 0;
}

/* Counts sentences [from, to) of the corpus (T tags). -1 with a message
   when out of memory or asked to stop. */
static int
s_count (s_model_t *self, const rfk_corpus_t *corpus, size_t from, size_t to, rafiki_context_t *ctx,
         char *err, size_t errlen)
{
    size_t T = self->n_tags, T1 = T + 1;
    for (size_t s = from; s < to; s++) {
        const rfk_sentence_t *sent = &corpus->sentences[s];
        size_t prev = T;
        for (size_t i = 0; i < sent->n_tokens; i++) {
            uint32_t tag = sent->tag_ids[i];
            const char *w = sent->tokens[i];
            size_t len = strlen (w);
            if (tag >= T || len > S_MAX_TOKEN)
                continue;
            s_counts_t *c = s_table_entry (&self->words, w, len);
            if (!c || s_counts_add (c, tag, 1) != 0)
                goto oom;
            self->tag_count[tag]++;
            self->bigram[prev * T1 + tag]++;
            prev = tag;
        }
        if (sent->n_tokens)
            self->bigram[prev * T1 + T]++;
        if (s % 1000 == 999 && rfk_zoo_should_stop (ctx)) {
            rfk_zoo_err (err, errlen, "%s: stopped while counting", S_NAME);
            return -1;
        }
    }
    return 0;
oom:
    rfk_zoo_err (err, errlen, "out of memory");
    return -1;
}

/* The suffix counts of the rare words counted so far (made afresh), then
   the probability tables. -1 when out of memory. */
static int
s_derive (s_model_t *self)
{
    s_table_free (&self->suffixes);
    for (size_t i = 0; i < self->words.n; i++) {
        const s_counts_t *c = &self->words.counts[i];
        if (c->total > (uint64_t)self->rare_count)
            continue;
        const char *w = self->words.keys[i];
        for (uint32_t j = 0; j < c->n; j++)
            if (s_count_suffixes (self, w, strlen (w), c->tag[j], c->count[j]) != 0)
                return -1;
    }
    return s_finalize (self);
}

static double
s_accuracy (const s_model_t *self, const rfk_corpus_t *corpus, size_t from, size_t to,
            size_t *total_out);

/* Counts the training sentences [0, n_fit), in S_STAGES stages with a
   progress report on sentences [n_fit, n_fit + n_scored) after each when
   n_scored > 0, else in one. -1 with a message. */
static int
s_count_stages (s_model_t *self, const rfk_corpus_t *corpus, size_t n_fit, size_t n_scored,
                rafiki_context_t *ctx, char *err, size_t errlen)
{
    size_t stages = n_scored ? S_STAGES : 1, done = 0;
    static const char *names[] = {"stage", "val_accuracy"};
    if (n_scored)
        rfk_zoo_plot (ctx, "Held-out accuracy", 1, &names[1], "stage");
    for (size_t k = 1; k <= stages; k++) {
        size_t end = n_fit * k / stages;
        if (s_count (self, corpus, done, end, ctx, err, errlen) != 0)
            return -1;
        done = end;
        if (s_derive (self) != 0) {
            rfk_zoo_err (err, errlen, "out of memory");
            return -1;
        }
        if (!n_scored)
            continue;
        size_t total = 0;
        double values[] = {(double)k, s_accuracy (self, corpus, n_fit, n_fit + n_scored, &total)};
        if (total == 0)
            continue;
        rfk_zoo_metrics (ctx, 2, names, values);
        if (rfk_zoo_progress (ctx, (int64_t)k, values[1])) {
            rfk_zoo_log (ctx, "%s: pruned after stage %zu of %zu (%zu sentences counted)", S_NAME,
                         k, stages, done);
            break;
        }
    }
    return 0;
}

static int
s_train (void *model, const char *dataset_path, const rafiki_args_t *args,
         const msgpack_object *shared_params, rafiki_context_t *ctx, char *err, size_t errlen)
{
    s_model_t *self = model;
    (void)shared_params;
    rfk_corpus_t *corpus = NULL;
    if (rfk_corpus_load (dataset_path, 0, &corpus, err, errlen) != 0)
        return -1;
    if (corpus->n_tokens == 0 || corpus->n_tags == 0) {
        rfk_zoo_err (err, errlen, "%s: the corpus has no tagged tokens", dataset_path);
        rfk_corpus_destroy (&corpus);
        return -1;
    }
    s_clear (self);
    size_t T = corpus->n_tags, T1 = T + 1;
    self->n_tags = T;
    self->tags = calloc (T, sizeof (char *));
    self->tag_count = calloc (T, sizeof (uint64_t));
    self->bigram = calloc (T1 * T1, sizeof (uint64_t));
    if (!self->tags || !self->tag_count || !self->bigram)
        goto oom;
    for (size_t t = 0; t < T; t++)
        if (!(self->tags[t] = strdup (corpus->tag_names[t])))
            goto oom;
    /* EARLY_STOP holds out the last 10% of the sentences (at most 500). */
    size_t n = corpus->n_sentences, n_val = self->early_stop && n >= 20 ? n / 10 : 0;
    n_val = n_val > S_MAX_HELD ? S_MAX_HELD : n_val;
    size_t quick = rfk_zoo_quick_rows (args);
    size_t n_scored = self->quick_eval && n_val > quick ? quick : n_val;
    if (s_count_stages (self, corpus, n - n_val, n_scored, ctx, err, errlen) != 0)
        goto fail;
    self->trained = true;
    rfk_zoo_log (ctx,
                 "%s: %zu sentences (%zu held out, %zu scored per stage), %zu tokens, %zu tags, "
                 "%zu words, %zu suffixes",
                 S_NAME, n - n_val, n_val, n_scored, corpus->n_tokens, T, self->words.n,
                 self->suffixes.n);
    const char *names[] = {"sentences", "tokens", "tags", "vocabulary"};
    double values[] = {(double)corpus->n_sentences, (double)corpus->n_tokens, (double)T,
                       (double)self->words.n};
    rfk_zoo_metrics (ctx, 4, names, values);
    rfk_corpus_destroy (&corpus);
    return 0;
oom:
    rfk_zoo_err (err, errlen, "out of memory");
fail:
    s_clear (self);
    rfk_corpus_destroy (&corpus);
    return -1;
}

/* Candidate tags of one token with their log emission scores. */
typedef struct {
    uint32_t n;
    uint32_t *tag;
    double *score;
} s_cands_t;

/* Fills cands for token w (len bytes); scratch holds T doubles. */
static int
s_candidates (const s_model_t *self, const char *w, size_t len, s_cands_t *cands, double *scratch)
{
    size_t T = self->n_tags;
    const s_counts_t *c = len <= S_MAX_TOKEN ? s_table_find (&self->words, w, len) : NULL;
    if (!c && len <= S_MAX_TOKEN) {
        char lower[S_MAX_TOKEN + 1];
        for (size_t i = 0; i < len; i++)
            lower[i] = (char)tolower ((unsigned char)w[i]);
        c = s_table_find (&self->words, lower, len);
    }
    if (c) {
        double V1 = (double)self->words.n + 1;
        cands->n = c->n;
        for (uint32_t i = 0; i < c->n; i++) {
            uint32_t t = c->tag[i];
            cands->tag[i] = t;
            cands->score[i] = log (((double)c->count[i] + self->emission_k) /
                                   ((double)self->tag_count[t] + self->emission_k * V1));
        }
        return 0;
    }
    /* Unknown: P(t | suffix) by successive abstraction, shortest first. */
    char key[S_MAX_SUFFIX + 2];
    key[0] = s_shape (w, len);
    const s_counts_t *level = s_table_find (&self->suffixes, key, 1);
    if (!level) {
        key[0] = '*';
        level = s_table_find (&self->suffixes, key, 1);
    }
    double *P = scratch;
    for (size_t t = 0; t < T; t++)
        P[t] = level ? 0 : self->tag_prob[t];
    if (level)
        for (uint32_t i = 0; i < level->n; i++)
            P[level->tag[i]] = (double)level->count[i] / (double)level->total;
    for (size_t i = 1; i <= (size_t)self->suffix_length && i <= len; i++) {
        memcpy (key + 1, w + len - i, i);
        const s_counts_t *s = s_table_find (&self->suffixes, key, i + 1);
        if (!s)
            break;
        for (size_t t = 0; t < T; t++)
            P[t] *= self->theta;
        for (uint32_t j = 0; j < s->n; j++)
            P[s->tag[j]] += (double)s->count[j] / (double)s->total;
        for (size_t t = 0; t < T; t++)
            P[t] /= 1 + self->theta;
    }
    /* The likeliest tags, emitting P(t | suffix) / P(t). */
    cands->n = 0;
    for (size_t t = 0; t < T; t++) {
        if (!(P[t] > 0) || !(self->tag_prob[t] > 0))
            continue;
        double score = log (P[t]) - log (self->tag_prob[t]);
        uint32_t at = cands->n;
        if (at == S_UNKNOWN_CANDIDATES) {
            /* Replace the least likely candidate when this one beats it. */
            uint32_t worst = 0;
            for (uint32_t j = 1; j < at; j++)
                if (P[cands->tag[j]] < P[cands->tag[worst]])
                    worst = j;
            if (P[t] <= P[cands->tag[worst]])
                continue;
            at = worst;
        } else
            cands->n++;
        cands->tag[at] = (uint32_t)t;
        cands->score[at] = score;
    }
    if (cands->n == 0) {
        /* Nothing known at all: every tag, equally. */
        for (size_t t = 0; t < T && t < S_UNKNOWN_CANDIDATES; t++) {
            cands->tag[t] = (uint32_t)t;
            cands->score[t] = 0;
        }
        cands->n = T < S_UNKNOWN_CANDIDATES ? (uint32_t)T : S_UNKNOWN_CANDIDATES;
    }
    return 0;
}

/* Viterbi over n tokens (tokens[i] of lens[i] bytes); out gets n tag ids. */
static int
s_viterbi (const s_model_t *self, const char *const *tokens, const size_t *lens, size_t n,
           uint32_t *out)
{
    if (n == 0)
        return 0;
    size_t T = self->n_tags, T1 = T + 1;
    size_t width = T > S_UNKNOWN_CANDIDATES ? T : S_UNKNOWN_CANDIDATES;
    s_cands_t *cands = calloc (n, sizeof (s_cands_t));
    double *scratch = malloc (T * sizeof (double) + 1);
    double **delta = calloc (n, sizeof (double *));
    uint32_t **back = calloc (n, sizeof (uint32_t *));
    int rc = -1;
    if (!cands || !scratch || !delta || !back)
        goto done;
    for (size_t i = 0; i < n; i++) {
        cands[i].tag = malloc (width * sizeof (uint32_t));
        cands[i].score = malloc (width * sizeof (double));
        if (!cands[i].tag || !cands[i].score)
            goto done;
        s_candidates (self, tokens[i], lens[i], &cands[i], scratch);
        delta[i] = malloc (cands[i].n * sizeof (double) + 1);
        back[i] = malloc (cands[i].n * sizeof (uint32_t) + 1);
        if (!delta[i] || !back[i])
            goto done;
    }
    for (uint32_t j = 0; j < cands[0].n; j++)
        delta[0][j] = self->log_trans[T * T1 + cands[0].tag[j]] + cands[0].score[j];
    for (size_t i = 1; i < n; i++)
        for (uint32_t j = 0; j < cands[i].n; j++) {
            uint32_t t = cands[i].tag[j], best = 0;
            double best_score = -INFINITY;
            for (uint32_t p = 0; p < cands[i - 1].n; p++) {
                double s = delta[i - 1][p] + self->log_trans[cands[i - 1].tag[p] * T1 + t];
                if (s > best_score) {
                    best_score = s;
                    best = p;
                }
            }
            delta[i][j] = best_score + cands[i].score[j];
            back[i][j] = best;
        }
    uint32_t best = 0;
    double best_score = -INFINITY;
    for (uint32_t j = 0; j < cands[n - 1].n; j++) {
        double s = delta[n - 1][j] + self->log_trans[cands[n - 1].tag[j] * T1 + T];
        if (s > best_score) {
            best_score = s;
            best = j;
        }
    }
    for (size_t i = n; i-- > 0;) {
        out[i] = cands[i].tag[best];
        if (i > 0)
            best = back[i][best];
    }
    rc = 0;
done:
    for (size_t i = 0; cands && i < n; i++) {
        free (cands[i].tag);
        free (cands[i].score);
    }
    for (size_t i = 0; delta && i < n; i++)
        free (delta[i]);
    for (size_t i = 0; back && i < n; i++)
        free (back[i]);
    free (cands);
    free (scratch);
    free (delta);
    free (back);
    return rc;
}

/* Token accuracy of the model on sentences [from, to) of corpus; their
   token count into *total_out (0: nothing to score, or out of memory). */
static double
s_accuracy (const s_model_t *self, const rfk_corpus_t *corpus, size_t from, size_t to,
            size_t *total_out)
{
    size_t longest = 0, right = 0, total = 0;
    for (size_t s = from; s < to; s++)
        longest = corpus->sentences[s].n_tokens > longest ? corpus->sentences[s].n_tokens : longest;
    size_t *lens = malloc ((longest + 1) * sizeof (size_t));
    uint32_t *tags = malloc ((longest + 1) * sizeof (uint32_t));
    for (size_t s = from; lens && tags && s < to; s++) {
        const rfk_sentence_t *sent = &corpus->sentences[s];
        for (size_t i = 0; i < sent->n_tokens; i++)
            lens[i] = strlen (sent->tokens[i]);
        if (s_viterbi (self, (const char *const *)sent->tokens, lens, sent->n_tokens, tags) != 0) {
            total = 0;
            break;
        }
        for (size_t i = 0; i < sent->n_tokens; i++)
            right += strcmp (self->tags[tags[i]], sent->tags[i]) == 0;
        total += sent->n_tokens;
    }
    if (!lens || !tags)
        total = 0;
    free (lens);
    free (tags);
    *total_out = total;
    return total ? (double)right / (double)total : 0;
}

static int
s_evaluate (void *model, const char *dataset_path, double *score, char *err, size_t errlen)
{
    s_model_t *self = model;
    if (rfk_zoo_check_trained (self->trained, S_NAME, err, errlen) != 0)
        return -1;
    rfk_corpus_t *corpus = NULL;
    if (rfk_corpus_load (dataset_path, 0, &corpus, err, errlen) != 0)
        return -1;
    size_t total = 0;
    *score = s_accuracy (self, corpus, 0, corpus->n_sentences, &total);
    int rc = total ? 0 : -1;
    if (total == 0)
        rfk_zoo_err (err, errlen, "%s: no tokens to evaluate on (or out of memory)", dataset_path);
    rfk_corpus_destroy (&corpus);
    return rc;
}

static int
s_predict (void *model, const msgpack_object *queries, msgpack_packer *out, char *err,
           size_t errlen)
{
    s_model_t *self = model;
    if (rfk_zoo_check_trained (self->trained, S_NAME, err, errlen) != 0 ||
        rfk_zoo_check_batch (queries, err, errlen))
        return -1;
    if (msgpack_pack_array (out, queries->via.array.size) != 0)
        goto pack_fail;
    for (uint32_t q = 0; q < queries->via.array.size; q++) {
        const msgpack_object *query = &queries->via.array.ptr[q];
        char why[256];
        size_t n;
        if (rfk_corpus_query (query, &n, why, sizeof why) != 0) {
            if (rafiki_pack_query_error (out, why) != 0)
                goto pack_fail;
            continue;
        }
        const char **tokens = malloc ((n + 1) * sizeof (char *));
        size_t *lens = malloc ((n + 1) * sizeof (size_t));
        uint32_t *tags = malloc ((n + 1) * sizeof (uint32_t));
        int rc = tokens && lens && tags ? 0 : -1;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            tokens[i] = query->via.array.ptr[i].via.str.ptr;
            lens[i] = query->via.array.ptr[i].via.str.size;
        }
        if (rc == 0)
            rc = s_viterbi (self, tokens, lens, n, tags);
        if (rc == 0 && msgpack_pack_array (out, n) != 0)
            rc = -2;
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (rfk_zoo_pack_str (out, self->tags[tags[i]]) != 0)
                rc = -2;
        free (tokens);
        free (lens);
        free (tags);
        if (rc == -2)
            goto pack_fail;
        if (rc != 0) {
            rfk_zoo_err (err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
pack_fail:
    rfk_zoo_err (err, errlen, "packing predictions failed");
    return -1;
}

/* Packs a table: keys, then per key its tag count and the (tag, count)
   pairs as int32 bins. */
static int
s_pack_table (msgpack_packer *pk, const char *prefix, const s_table_t *t)
{
    char key[64];
    size_t pairs = 0;
    for (size_t i = 0; i < t->n; i++)
        pairs += t->counts[i].n;
    snprintf (key, sizeof key, "%s_keys", prefix);
    if (rfk_zoo_pack_str (pk, key) != 0 || msgpack_pack_array (pk, t->n) != 0)
        return -1;
    for (size_t i = 0; i < t->n; i++)
        if (rfk_zoo_pack_str (pk, t->keys[i]) != 0)
            return -1;
    snprintf (key, sizeof key, "%s_ntags", prefix);
    if (rfk_zoo_pack_str (pk, key) != 0 || msgpack_pack_bin (pk, t->n * 4) != 0)
        return -1;
    for (size_t i = 0; i < t->n; i++)
        if (msgpack_pack_bin_body (pk, &t->counts[i].n, 4) != 0)
            return -1;
    snprintf (key, sizeof key, "%s_pairs", prefix);
    if (rfk_zoo_pack_str (pk, key) != 0 || msgpack_pack_bin (pk, pairs * 8) != 0)
        return -1;
    for (size_t i = 0; i < t->n; i++)
        for (uint32_t j = 0; j < t->counts[i].n; j++)
            if (msgpack_pack_bin_body (pk, &t->counts[i].tag[j], 4) != 0 ||
                msgpack_pack_bin_body (pk, &t->counts[i].count[j], 4) != 0)
                return -1;
    return 0;
}

/* Reads a table packed by s_pack_table; tags must be < n_tags. */
static int
s_unpack_table (const msgpack_object *p, const char *prefix, size_t n_tags, s_table_t *t, char *err,
                size_t errlen)
{
    char key[64];
    snprintf (key, sizeof key, "%s_keys", prefix);
    const msgpack_object *keys = rfk_zoo_map_get (p, key);
    const char *ntags, *pairs;
    size_t ntags_len, pairs_len;
    snprintf (key, sizeof key, "%s_ntags", prefix);
    if (!keys || keys->type != MSGPACK_OBJECT_ARRAY) {
        rfk_zoo_err (err, errlen, "parameters: '%s_keys' is not an array", prefix);
        return -1;
    }
    if (rfk_zoo_get_bin (p, key, &ntags, &ntags_len, err, errlen) != 0)
        return -1;
    snprintf (key, sizeof key, "%s_pairs", prefix);
    if (rfk_zoo_get_bin (p, key, &pairs, &pairs_len, err, errlen) != 0)
        return -1;
    if (ntags_len != (size_t)keys->via.array.size * 4 || pairs_len % 8) {
        rfk_zoo_err (err, errlen, "parameters: '%s' counts have the wrong size", prefix);
        return -1;
    }
    size_t at = 0, n_pairs = pairs_len / 8;
    for (uint32_t i = 0; i < keys->via.array.size; i++) {
        const msgpack_object *k = &keys->via.array.ptr[i];
        uint32_t n;
        memcpy (&n, ntags + (size_t)i * 4, 4);
        if (k->type != MSGPACK_OBJECT_STR || n > n_pairs - at ||
            s_table_find (t, k->via.str.ptr, k->via.str.size)) {
            rfk_zoo_err (err, errlen, "parameters: '%s' entry %u is malformed", prefix, i);
            return -1;
        }
        s_counts_t *c = s_table_entry (t, k->via.str.ptr, k->via.str.size);
        if (!c) {
            rfk_zoo_err (err, errlen, "out of memory");
            return -1;
        }
        for (uint32_t j = 0; j < n; j++, at++) {
            uint32_t tag, count;
            memcpy (&tag, pairs + at * 8, 4);
            memcpy (&count, pairs + at * 8 + 4, 4);
            if (tag >= n_tags) {
                rfk_zoo_err (err, errlen, "parameters: '%s' entry %u has tag %u of %zu", prefix, i,
                             tag, n_tags);
                return -1;
            }
            if (s_counts_add (c, tag, count) != 0) {
                rfk_zoo_err (err, errlen, "out of memory");
                return -1;
            }
        }
    }
    if (at != n_pairs) {
        rfk_zoo_err (err, errlen, "parameters: '%s' has %zu pairs too many", prefix, n_pairs - at);
        return -1;
    }
    return 0;
}

static int
s_dump (void *model, msgpack_packer *out, char *err, size_t errlen)
{
    s_model_t *self = model;
    if (rfk_zoo_check_trained (self->trained, S_NAME, err, errlen) != 0)
        return -1;
    size_t T = self->n_tags, T1 = T + 1;
    if (rfk_zoo_params_pack_head (out, 15, S_NAME, S_PARAMS_VERSION, NULL) != 0 ||
        rfk_zoo_pack_key_double (out, "emission_k", self->emission_k) != 0 ||
        rfk_zoo_pack_key_double (out, "transition_k", self->transition_k) != 0 ||
        rfk_zoo_pack_key_int (out, "suffix_length", self->suffix_length) != 0 ||
        rfk_zoo_pack_key_int (out, "rare_count", self->rare_count) != 0 ||
        rfk_zoo_pack_str (out, "tags") != 0 || msgpack_pack_array (out, T) != 0)
        goto fail;
    for (size_t t = 0; t < T; t++)
        if (rfk_zoo_pack_str (out, self->tags[t]) != 0)
            goto fail;
    if (rfk_zoo_pack_key_bin (out, "tag_count", self->tag_count, T * sizeof (uint64_t)) != 0 ||
        rfk_zoo_pack_key_bin (out, "bigram", self->bigram, T1 * T1 * sizeof (uint64_t)) != 0 ||
        s_pack_table (out, "word", &self->words) != 0 ||
        s_pack_table (out, "suffix", &self->suffixes) != 0)
        goto fail;
    return 0;
fail:
    return rfk_zoo_pack_failed (err, errlen);
}

static int
s_load (void *model, const msgpack_object *params, char *err, size_t errlen)
{
    s_model_t *self = model;
    int64_t suffix_length, rare_count;
    double emission_k, transition_k;
    if (rfk_zoo_params_check (params, S_NAME, S_PARAMS_VERSION, err, errlen) != 0 ||
        rfk_zoo_get_double (params, "emission_k", &emission_k, err, errlen) != 0 ||
        rfk_zoo_get_double (params, "transition_k", &transition_k, err, errlen) != 0 ||
        rfk_zoo_get_int (params, "suffix_length", &suffix_length, err, errlen) != 0 ||
        rfk_zoo_get_int (params, "rare_count", &rare_count, err, errlen) != 0)
        return -1;
    const msgpack_object *tags = rfk_zoo_map_get (params, "tags");
    if (!(emission_k > 0) || !(transition_k > 0) || suffix_length < 0 ||
        suffix_length > S_MAX_SUFFIX || rare_count < 1 || !tags ||
        tags->type != MSGPACK_OBJECT_ARRAY || tags->via.array.size == 0 ||
        tags->via.array.size > 100000) {
        rfk_zoo_err (err, errlen, "%s: malformed parameters", S_NAME);
        return -1;
    }
    /* Build into a scratch model; it becomes ours only when complete. */
    s_model_t tmp = {.emission_k = emission_k,
                     .transition_k = transition_k,
                     .suffix_length = suffix_length,
                     .rare_count = rare_count};
    size_t T = tags->via.array.size, T1 = T + 1;
    tmp.n_tags = T;
    tmp.tags = calloc (T, sizeof (char *));
    tmp.tag_count = malloc (T * sizeof (uint64_t));
    tmp.bigram = malloc (T1 * T1 * sizeof (uint64_t));
    if (!tmp.tags || !tmp.tag_count || !tmp.bigram)
        goto oom;
    for (size_t t = 0; t < T; t++) {
        const msgpack_object *tag = &tags->via.array.ptr[t];
        if (tag->type != MSGPACK_OBJECT_STR) {
            rfk_zoo_err (err, errlen, "parameters: tag %zu is not a string", t);
            goto fail;
        }
        if (!(tmp.tags[t] = strndup (tag->via.str.ptr, tag->via.str.size)))
            goto oom;
    }
    const char *bytes;
    size_t len;
    if (rfk_zoo_get_bin (params, "tag_count", &bytes, &len, err, errlen) != 0)
        goto fail;
    if (len != T * sizeof (uint64_t)) {
        rfk_zoo_err (err, errlen, "parameters: 'tag_count' has the wrong size");
        goto fail;
    }
    memcpy (tmp.tag_count, bytes, len);
    if (rfk_zoo_get_bin (params, "bigram", &bytes, &len, err, errlen) != 0)
        goto fail;
    if (len != T1 * T1 * sizeof (uint64_t)) {
        rfk_zoo_err (err, errlen, "parameters: 'bigram' has the wrong size");
        goto fail;
    }
    memcpy (tmp.bigram, bytes, len);
    if (s_unpack_table (params, "word", T, &tmp.words, err, errlen) != 0 ||
        s_unpack_table (params, "suffix", T, &tmp.suffixes, err, errlen) != 0)
        goto fail;
    if (s_finalize (&tmp) != 0)
        goto oom;
    s_clear (self);
    *self = tmp;
    return 0;
oom:
    rfk_zoo_err (err, errlen, "out of memory");
fail:
    s_clear (&tmp);
    return -1;
}

RFK_ZOO_TEMPLATE (S_NAME, S_TASK)
