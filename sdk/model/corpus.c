/*  corpus.c: the POS_TAGGING loader (a zip holding corpus.tsv, one token and
    its tag per row, sentences ended by a `\n` row or an empty line) and the
    check of token-array queries. */
#include "internal.h"
#include "rafiki/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rafiki's sentence delimiter: a row whose token is backslash, n. */
#define RFK_CORPUS_DELIMITER "\\n"

/* The corpus with the storage behind its pointers: every string lives in
   one arena, every sentence's arrays are slices of three big arrays. */
typedef struct {
    rfk_corpus_t pub;  /* what the caller sees; first, so pointers convert */
    char *arena;       /* all tokens and tags, NUL-terminated */
    char **all_tokens; /* n_tokens pointers, sentence after sentence */
    char **all_tags;   /* n_tokens pointers */
    uint32_t *all_ids; /* n_tokens tag ids */
} s_corpus_t;

/* The state while rows are read: offsets, since the arena moves. */
typedef struct {
    char *arena;
    size_t arena_len, arena_cap;
    size_t *token_off, *tag_off; /* per token */
    size_t n_tokens, tokens_cap;
} s_builder_t;

static int
s_arena_add (s_builder_t *b, const char *text, size_t *offset)
{
    size_t len = strlen (text) + 1;
    if (b->arena_len + len > b->arena_cap) {
        size_t cap = b->arena_cap ? b->arena_cap * 2 : 65536;
        while (cap < b->arena_len + len)
            cap *= 2;
        char *bigger = realloc (b->arena, cap);
        if (!bigger)
            return -1;
        b->arena = bigger;
        b->arena_cap = cap;
    }
    memcpy (b->arena + b->arena_len, text, len);
    *offset = b->arena_len;
    b->arena_len += len;
    return 0;
}

static int
s_add_token (s_builder_t *b, const char *token, const char *tag)
{
    if (b->n_tokens == b->tokens_cap) {
        size_t cap = b->tokens_cap ? b->tokens_cap * 2 : 1024;
        size_t *t = realloc (b->token_off, cap * sizeof (size_t));
        if (!t)
            return -1;
        b->token_off = t;
        size_t *g = realloc (b->tag_off, cap * sizeof (size_t));
        if (!g)
            return -1;
        b->tag_off = g;
        b->tokens_cap = cap;
    }
    if (s_arena_add (b, token, &b->token_off[b->n_tokens]) ||
        s_arena_add (b, tag, &b->tag_off[b->n_tokens]))
        return -1;
    b->n_tokens++;
    return 0;
}

static int
s_cmp_str (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

/* Builds the public corpus from the offsets in b. */
static s_corpus_t *
s_finish (s_builder_t *b, size_t *sentence_end, size_t n_sentences)
{
    s_corpus_t *c = calloc (1, sizeof *c);
    if (!c)
        return NULL;
    c->arena = b->arena;
    b->arena = NULL;
    size_t n = b->n_tokens;
    c->all_tokens = calloc (n ? n : 1, sizeof (char *));
    c->all_tags = calloc (n ? n : 1, sizeof (char *));
    c->all_ids = calloc (n ? n : 1, sizeof (uint32_t));
    c->pub.sentences = calloc (n_sentences ? n_sentences : 1, sizeof (rfk_sentence_t));
    char **sorted = calloc (n ? n : 1, sizeof (char *));
    if (!c->all_tokens || !c->all_tags || !c->all_ids || !c->pub.sentences || !sorted) {
        free (sorted);
        rfk_corpus_t *pub = &c->pub;
        rfk_corpus_destroy (&pub);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        c->all_tokens[i] = c->arena + b->token_off[i];
        c->all_tags[i] = c->arena + b->tag_off[i];
        sorted[i] = c->all_tags[i];
    }
    /* The distinct tags, sorted; ids by binary search. */
    qsort (sorted, n, sizeof (char *), s_cmp_str);
    size_t n_tags = 0;
    for (size_t i = 0; i < n; i++)
        if (n_tags == 0 || strcmp (sorted[n_tags - 1], sorted[i]) != 0)
            sorted[n_tags++] = sorted[i];
    c->pub.tag_names = sorted;
    c->pub.n_tags = n_tags;
    for (size_t i = 0; i < n; i++) {
        char **hit = bsearch (&c->all_tags[i], sorted, n_tags, sizeof (char *), s_cmp_str);
        c->all_ids[i] = (uint32_t)(hit - sorted);
    }
    size_t start = 0;
    for (size_t s = 0; s < n_sentences; s++) {
        rfk_sentence_t *sentence = &c->pub.sentences[s];
        sentence->n_tokens = sentence_end[s] - start;
        sentence->tokens = c->all_tokens + start;
        sentence->tags = c->all_tags + start;
        sentence->tag_ids = c->all_ids + start;
        start = sentence_end[s];
    }
    c->pub.n_sentences = n_sentences;
    c->pub.n_tokens = n;
    return c;
}

/* Where the sentences read so far end. */
typedef struct {
    size_t *end;  /* n entries: token index just past each sentence */
    size_t n;     /* sentences */
    size_t cap;   /* entries allocated */
    size_t start; /* the first token of the sentence being read */
} s_sentences_t;

/* Ends the sentence being read at token n_tokens (an empty one is not
   kept). */
static int
s_end_sentence (s_sentences_t *s, size_t n_tokens)
{
    if (n_tokens <= s->start)
        return 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        size_t *bigger = realloc (s->end, s->cap * sizeof (size_t));
        if (!bigger)
            return -1;
        s->end = bigger;
    }
    s->end[s->n++] = n_tokens;
    s->start = n_tokens;
    return 0;
}

/* Reads corpus.tsv's header: its token and tag columns. */
static int
s_read_header (rfk_csv_t *csv, const char *path, long *col_token, long *col_tag, char *err,
               size_t errlen)
{
    int got = rfk_csv_header (csv, err, errlen);
    if (got <= 0) {
        if (got == 0)
            rfk_model_errf (err, errlen, "%s: corpus.tsv is empty (want a header token<TAB>tag)",
                            path);
        return -1;
    }
    *col_token = *col_tag = -1;
    for (size_t i = 0; i < csv->n_fields; i++) {
        if (strcmp (csv->fields[i], "token") == 0 && *col_token < 0)
            *col_token = (long)i;
        if (strcmp (csv->fields[i], "tag") == 0 && *col_tag < 0)
            *col_tag = (long)i;
    }
    if (*col_token < 0 || *col_tag < 0) {
        rfk_model_errf (err, errlen,
                        "%s: corpus.tsv line %zu: the header has no %s column (want "
                        "token<TAB>tag)",
                        path, csv->record_line, *col_token < 0 ? "token" : "tag");
        return -1;
    }
    return 0;
}

/* Reads the rows after the header into b and s, up to max_sentences
   sentences (0: all). */
static int
s_read_sentences (rfk_csv_t *csv, const char *path, size_t max_sentences, s_builder_t *b,
                  s_sentences_t *s, char *err, size_t errlen)
{
    long col_token, col_tag;
    if (s_read_header (csv, path, &col_token, &col_tag, err, errlen) != 0)
        return -1;
    size_t n_columns = csv->n_fields;
    for (;;) {
        int got = rfk_csv_next (csv, err, errlen);
        if (got < 0)
            return -1;
        if (got == 1 && csv->n_fields != 0 && csv->n_fields != n_columns) {
            rfk_model_errf (err, errlen, "%s: corpus.tsv line %zu: %zu fields, the header has %zu",
                            path, csv->record_line, csv->n_fields, n_columns);
            return -1;
        }
        if (got == 0 || csv->n_fields == 0 ||
            strcmp (csv->fields[col_token], RFK_CORPUS_DELIMITER) == 0) {
            if (s_end_sentence (s, b->n_tokens) != 0)
                goto nomem;
            if (got == 0 || (max_sentences && s->n >= max_sentences))
                break;
            continue;
        }
        const char *token = csv->fields[col_token], *tag = csv->fields[col_tag];
        if (token[0] == '\0' || tag[0] == '\0') {
            rfk_model_errf (err, errlen, "%s: corpus.tsv line %zu: %s", path, csv->record_line,
                            token[0] == '\0' ? "empty token" : "the token has no tag");
            return -1;
        }
        if (s_add_token (b, token, tag))
            goto nomem;
    }
    if (s->n == 0) {
        rfk_model_errf (err, errlen, "%s: corpus.tsv has no sentences", path);
        return -1;
    }
    return 0;
nomem:
    rfk_model_errf (err, errlen, "%s: out of memory", path);
    return -1;
}

int
rfk_corpus_load (const char *path, size_t max_sentences, rfk_corpus_t **out, char *err,
                 size_t errlen)
{
    *out = NULL;
    char *text = NULL;
    size_t size = 0;
    zip_t *zip = rfk_model_zip_listing (
        path, "corpus.tsv", "a POS tagging dataset is a zip with corpus.tsv of token<TAB>tag rows",
        &text, &size, err, errlen);
    if (!zip)
        return -1;
    zip_discard (zip);
    char csv_name[1024];
    snprintf (csv_name, sizeof csv_name, "%s: corpus.tsv", path);
    rfk_csv_t csv;
    rfk_csv_init (&csv, csv_name, text, size, '\t');
    s_builder_t b = {0};
    s_sentences_t sentences = {0};
    int rc = -1;
    if (s_read_sentences (&csv, path, max_sentences, &b, &sentences, err, errlen) == 0) {
        s_corpus_t *c = s_finish (&b, sentences.end, sentences.n);
        if (!c)
            rfk_model_errf (err, errlen, "%s: out of memory", path);
        else {
            *out = &c->pub;
            rc = 0;
        }
    }
    free (b.arena);
    free (b.token_off);
    free (b.tag_off);
    free (sentences.end);
    rfk_csv_fini (&csv);
    free (text);
    return rc;
}

void
rfk_corpus_destroy (rfk_corpus_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_corpus_t *c = (s_corpus_t *)*self_p;
    free (c->arena);
    free (c->all_tokens);
    free (c->all_tags);
    free (c->all_ids);
    free (c->pub.sentences);
    free (c->pub.tag_names);
    free (c);
    *self_p = NULL;
}

int
rfk_corpus_query (const msgpack_object *query, size_t *n_tokens, char *err, size_t errlen)
{
    if (!query || query->type != MSGPACK_OBJECT_ARRAY) {
        rfk_model_errf (err, errlen, "a POS tagging query is an array of token strings");
        return -1;
    }
    for (uint32_t i = 0; i < query->via.array.size; i++)
        if (query->via.array.ptr[i].type != MSGPACK_OBJECT_STR) {
            rfk_model_errf (err, errlen, "token %u of the query is not a string", i);
            return -1;
        }
    *n_tokens = query->via.array.size;
    return 0;
}
