/*  test_dataset.c: the dataset loaders of rfk_model (rafiki/dataset.h) on
    good and broken files made at test time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "rfk_test.h"
#include "fixtures.h"
#include "rafiki/dataset.h"

static char *s_dir; /* the test's folder (rfk_test_tmpdir_new) */
static char s_err[512];

/* A path inside the test's temporary folder. */
static const char *
s_path (const char *name)
{
    static char buf[8][256];
    static int next;
    char *p = buf[next++ % 8];
    snprintf (p, 256, "%s/%s", s_dir, name);
    return p;
}

/* Asserts that err mentions every given fragment. */
static void
s_assert_err (const char *fragment1, const char *fragment2)
{
    if (!strstr (s_err, fragment1) || (fragment2 && !strstr (s_err, fragment2)))
        fail_msg ("message '%s' lacks '%s' or '%s'", s_err, fragment1, fragment2 ? fragment2 : "");
}

/* A 4x3 grey image whose pixels are base, base+1, ... */
static void *
s_grey_png (uint8_t base, uint32_t width, uint32_t height, size_t *size)
{
    uint8_t pixels[64 * 64];
    for (uint32_t i = 0; i < width * height; i++)
        pixels[i] = (uint8_t)(base + i);
    return fx_png (width, height, PNG_FORMAT_GRAY, pixels, size);
}

/* Writes an images zip: images.csv text plus grey 4x3 images a.png,
   b.png, c.png (bases 0, 100, 200). */
static void
s_images_zip (const char *path, const char *csv)
{
    size_t sa, sb, sc;
    void *a = s_grey_png (0, 4, 3, &sa), *b = s_grey_png (100, 4, 3, &sb),
         *c = s_grey_png (200, 4, 3, &sc);
    fx_entry_t entries[] = {
        {"images.csv", csv, 0}, {"a.png", a, sa}, {"img/b.png", b, sb}, {"c.png", c, sc}};
    assert_int_equal (fx_write_zip (path, entries, 4), 0);
    free (a);
    free (b);
    free (c);
}

/* Usage: load an image dataset and read its pixels and labels. */
static void
test_images_usage (void **state)
{
    (void)state;
    s_images_zip (s_path ("train.zip"), "path,class\na.png,0\nimg/b.png,2\n./c.png,1\n");
    rfk_images_t *images = NULL;
    assert_int_equal (rfk_images_load (s_path ("train.zip"), NULL, &images, s_err, sizeof s_err),
                      0);
    assert_int_equal (images->n, 3);
    assert_int_equal (images->width, 4);
    assert_int_equal (images->height, 3);
    assert_int_equal (images->channels, 1);
    assert_int_equal (images->n_classes, 3);
    assert_int_equal (images->labels[0], 0);
    assert_int_equal (images->labels[1], 2);
    assert_int_equal (images->labels[2], 1);
    /* Image 1, row 2, column 3 is pixel 11 of b.png: 100 + 11. */
    assert_int_equal (images->pixels[1 * 12 + 2 * 4 + 3], 111);
    assert_int_equal (images->pixels[2 * 12], 200);
    rfk_images_destroy (&images);
    assert_null (images);
    rfk_images_destroy (&images);
}

static void
test_images_colour_and_slices (void **state)
{
    (void)state;
    uint8_t rgb[2 * 2 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
    size_t sc = 0, sg = 0;
    void *colour = fx_png (2, 2, PNG_FORMAT_RGB, rgb, &sc);
    void *grey = s_grey_png (50, 2, 2, &sg);
    fx_entry_t entries[] = {{"images.csv", "path,class\nc.png,1\ng.png,0\n", 0},
                            {"c.png", colour, sc},
                            {"g.png", grey, sg}};
    assert_int_equal (fx_write_zip (s_path ("mixed.zip"), entries, 3), 0);
    free (colour);
    free (grey);

    /* KEEP: the first image is colour, so every image is RGB. */
    rfk_images_t *images = NULL;
    assert_int_equal (rfk_images_load (s_path ("mixed.zip"), NULL, &images, s_err, sizeof s_err),
                      0);
    assert_int_equal (images->channels, 3);
    assert_memory_equal (images->pixels, rgb, sizeof rgb);
    assert_int_equal (images->pixels[12], 50); /* grey 50 repeated */
    assert_int_equal (images->pixels[13], 50);
    rfk_images_destroy (&images);

    /* GREY, and only the first image. */
    rfk_images_options_t opts = {.max_count = 1, .colour = RFK_IMAGES_GREY};
    assert_int_equal (rfk_images_load (s_path ("mixed.zip"), &opts, &images, s_err, sizeof s_err),
                      0);
    assert_int_equal (images->n, 1);
    assert_int_equal (images->channels, 1);
    assert_int_equal (images->n_classes, 2);
    assert_int_equal (images->pixels[0], 76); /* red turned grey: 0.299 * 255 */
    rfk_images_destroy (&images);

    /* RGB on grey images. */
    s_images_zip (s_path ("grey.zip"), "path,class\na.png,0\n");
    opts = (rfk_images_options_t){.colour = RFK_IMAGES_RGB};
    assert_int_equal (rfk_images_load (s_path ("grey.zip"), &opts, &images, s_err, sizeof s_err),
                      0);
    assert_int_equal (images->channels, 3);
    assert_int_equal (images->pixels[3 * 5 + 2], 5);
    rfk_images_destroy (&images);
}

/* Loads path expecting failure; checks the message. */
static void
s_images_fail (const char *path, const char *fragment1, const char *fragment2)
{
    rfk_images_t *images = (rfk_images_t *)1;
    s_err[0] = '\0';
    assert_int_equal (rfk_images_load (path, NULL, &images, s_err, sizeof s_err), -1);
    assert_null (images);
    s_assert_err (fragment1, fragment2);
}

static void
test_images_broken (void **state)
{
    (void)state;
    const char *p = s_path ("broken.zip");
    s_images_fail (s_path ("nothing.zip"), "nothing.zip", NULL);

    fx_write_text (p, "path,class\na.png,0\n");
    s_images_fail (p, "broken.zip", "not a zip");

    fx_entry_t no_csv[] = {{"readme.txt", "hello", 0}};
    fx_write_zip (p, no_csv, 1);
    s_images_fail (p, "broken.zip", "no images.csv");

    s_images_zip (p, "path,class\na.png,0\nmissing.png,1\n");
    s_images_fail (p, "line 3", "missing.png");

    s_images_zip (p, "path,class\na.png,0\nimg/b.png,cat\n");
    s_images_fail (p, "line 3", "'cat'");

    s_images_zip (p, "path,class\na.png,0\nimg/b.png\n");
    s_images_fail (p, "line 3", "1 fields");

    s_images_zip (p, "path,label\na.png,0\n");
    s_images_fail (p, "images.csv", "no class column");

    s_images_zip (p, "path,class\n\"a.png,0\n");
    s_images_fail (p, "images.csv line 2", "unterminated");

    s_images_zip (p, "path,class\n");
    s_images_fail (p, "lists no images", NULL);

    /* Not a PNG, a truncated PNG; a PNG of another size is resized to the
       first one's (test_images.c tests resizing). */
    size_t sa, sbig;
    void *a = s_grey_png (0, 4, 3, &sa), *big = s_grey_png (0, 5, 3, &sbig);
    fx_entry_t bad[] = {{"images.csv", "path,class\na.png,0\nbad.png,1\n", 0},
                        {"a.png", a, sa},
                        {"bad.png", "this is not a png", 0}};
    fx_write_zip (p, bad, 3);
    s_images_fail (p, "bad.png", "line 3");
    bad[2].data = a;
    bad[2].size = sa - 20;
    fx_write_zip (p, bad, 3);
    s_images_fail (p, "bad.png", "corrupt");
    bad[2].data = big;
    bad[2].size = sbig;
    fx_write_zip (p, bad, 3);
    rfk_images_t *images = NULL;
    assert_int_equal (rfk_images_load (p, NULL, &images, s_err, sizeof s_err), 0);
    assert_int_equal (images->n, 2);
    assert_int_equal (images->width, 4);
    assert_int_equal (images->height, 3);
    rfk_images_destroy (&images);
    free (a);
    free (big);
}

static void
test_images_query (void **state)
{
    (void)state;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    /* 2 rows of 2 pixels: grey numbers in row 0, [r,g,b] in row 1. */
    msgpack_pack_array (&pk, 2);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_uint8 (&pk, 7);
    msgpack_pack_double (&pk, 8.4);
    msgpack_pack_array (&pk, 2);
    for (int i = 0; i < 2; i++) {
        msgpack_pack_array (&pk, 3);
        msgpack_pack_uint8 (&pk, 100);
        msgpack_pack_uint8 (&pk, 100);
        msgpack_pack_uint8 (&pk, 100);
    }
    msgpack_unpacked up;
    msgpack_unpacked_init (&up);
    assert_int_equal (msgpack_unpack_next (&up, sbuf.data, sbuf.size, NULL),
                      MSGPACK_UNPACK_SUCCESS);
    uint8_t grey[4], rgb[12];
    assert_int_equal (rfk_images_query (&up.data, 2, 2, 1, grey, s_err, sizeof s_err), 0);
    assert_int_equal (grey[0], 7);
    assert_int_equal (grey[1], 8);
    assert_int_equal (grey[2], 100);
    assert_int_equal (rfk_images_query (&up.data, 2, 2, 3, rgb, s_err, sizeof s_err), 0);
    assert_int_equal (rgb[3], 8);
    assert_int_equal (rgb[5], 8);
    assert_int_equal (rgb[11], 100);
    assert_int_equal (rfk_images_query (&up.data, 3, 2, 1, grey, s_err, sizeof s_err), -1);
    s_assert_err ("row 0", "3 pixels");
    assert_int_equal (rfk_images_query (&up.data, 2, 3, 1, grey, s_err, sizeof s_err), -1);
    s_assert_err ("3 rows", NULL);
    msgpack_unpacked_destroy (&up);

    /* A pixel out of range. */
    msgpack_sbuffer_clear (&sbuf);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_int (&pk, 300);
    msgpack_unpacked_init (&up);
    msgpack_unpack_next (&up, sbuf.data, sbuf.size, NULL);
    assert_int_equal (rfk_images_query (&up.data, 1, 1, 1, grey, s_err, sizeof s_err), -1);
    s_assert_err ("row 0, column 0", "0-255");
    msgpack_unpacked_destroy (&up);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_tabular_load (void **state)
{
    (void)state;
    const char *p = s_path ("table.csv");
    fx_write_text (p, "\xEF\xBB\xBF"
                      "\"sepal, length\",width,\"the \"\"kind\"\"\",class\r\n"
                      "5.1, 3.5 ,1,0\r\n"
                      "\r\n"
                      "4.9,3.0,2,2\r\n"
                      "\"6\",1e1,3,1.0");
    rfk_tabular_t *t = NULL;
    rfk_tabular_options_t opts = {NULL, NULL, true, 0};
    assert_int_equal (rfk_tabular_load (p, &opts, &t, s_err, sizeof s_err), 0);
    assert_int_equal (t->n_rows, 3);
    assert_int_equal (t->n_features, 3);
    assert_string_equal (t->feature_names[0], "sepal, length");
    assert_string_equal (t->feature_names[2], "the \"kind\"");
    assert_string_equal (t->target_name, "class");
    assert_true (t->features[1] == 3.5);
    assert_true (t->features[2 * 3 + 1] == 10.0);
    assert_int_equal (t->labels[1], 2);
    assert_int_equal (t->labels[2], 1);
    assert_int_equal (t->n_classes, 3);
    rfk_tabular_destroy (&t);

    /* A named target, a subset of features from train args, two rows. */
    rafiki_arg_t items[] = {{"target", "width"}, {"features", "class, sepal, length"}};
    rafiki_args_t args = {items, 2};
    opts = (rfk_tabular_options_t){0};
    rfk_tabular_options_from_args (&args, RAFIKI_TASK_TABULAR_REGRESSION, &opts);
    assert_false (opts.classification);
    assert_int_equal (rfk_tabular_load (p, &opts, &t, s_err, sizeof s_err), -1);
    s_assert_err ("feature 'sepal'", "not a column");
    items[1].value = "class,the \"kind\"";
    opts.max_rows = 2;
    rfk_tabular_options_from_args (&args, RAFIKI_TASK_TABULAR_REGRESSION, &opts);
    assert_int_equal (rfk_tabular_load (p, &opts, &t, s_err, sizeof s_err), 0);
    assert_int_equal (t->n_rows, 2);
    assert_int_equal (t->n_features, 2);
    assert_string_equal (t->feature_names[0], "class");
    assert_null (t->labels);
    assert_true (t->targets[0] == 3.5);
    assert_true (t->features[2] == 2.0 && t->features[3] == 2.0);
    rfk_tabular_destroy (&t);
}

/* Writes text to table.csv and expects the load to fail. */
static void
s_tabular_fail (const char *text, bool classification, const char *fragment1, const char *fragment2)
{
    const char *p = s_path ("bad.csv");
    fx_write_text (p, text);
    rfk_tabular_options_t opts = {NULL, NULL, classification, 0};
    rfk_tabular_t *t = NULL;
    s_err[0] = '\0';
    assert_int_equal (rfk_tabular_load (p, &opts, &t, s_err, sizeof s_err), -1);
    assert_null (t);
    s_assert_err ("bad.csv", fragment1);
    if (fragment2)
        s_assert_err (fragment2, NULL);
}

static void
test_tabular_broken (void **state)
{
    (void)state;
    s_tabular_fail ("a,b,y\n1,2,0\n1,2\n", false, "line 3", "2 fields, the header has 3");
    s_tabular_fail ("a,b,y\n1,2,0\n1,x,0\n", false, "line 3", "column 'b' is not a number: 'x'");
    s_tabular_fail ("a,b,y\n1,2,0\n1,,0\n", false, "line 3", "column 'b'");
    s_tabular_fail ("a,b,y\n1,2,1.5\n", true, "line 2", "not a class");
    s_tabular_fail ("a,b,y\n1,2,-1\n", true, "line 2", "not a class");
    s_tabular_fail ("a,b,y\n1,2,nan\n", false, "line 2", "target 'y'");
    s_tabular_fail ("a,b,y\n\"1,2,0\n", false, "line 2", "unterminated");
    s_tabular_fail ("a,b,y\n\"1\"x,2,0\n", false, "line 2", "closing quote");
    s_tabular_fail ("", false, "empty", NULL);
    s_tabular_fail ("a,b,y\n", false, "no data rows", NULL);
    s_tabular_fail ("a,a,y\n1,2,3\n", false, "'a' appears twice", NULL);
    s_tabular_fail ("y\n1\n", false, "one column", NULL);

    rfk_tabular_options_t opts = {"price", NULL, false, 0};
    rfk_tabular_t *t = NULL;
    fx_write_text (s_path ("bad.csv"), "a,b,y\n1,2,3\n");
    assert_int_equal (rfk_tabular_load (s_path ("bad.csv"), &opts, &t, s_err, sizeof s_err), -1);
    s_assert_err ("no target column 'price'", "columns: a, b, y");
    assert_int_equal (rfk_tabular_load (s_path ("nothing.csv"), NULL, &t, s_err, sizeof s_err), -1);
    s_assert_err ("nothing.csv", "No such file");
}

/* Unpacks one msgpack object from sbuf into up. */
static const msgpack_object *
s_unpack (msgpack_sbuffer *sbuf, msgpack_unpacked *up)
{
    msgpack_unpacked_init (up);
    assert_int_equal (msgpack_unpack_next (up, sbuf->data, sbuf->size, NULL),
                      MSGPACK_UNPACK_SUCCESS);
    return &up->data;
}

static void
s_pack_str (msgpack_packer *pk, const char *s)
{
    msgpack_pack_str (pk, strlen (s));
    msgpack_pack_str_body (pk, s, strlen (s));
}

static void
test_tabular_query (void **state)
{
    (void)state;
    const char *names[] = {"age", "height", "smoker"};
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    s_pack_str (&pk, "smoker");
    msgpack_pack_true (&pk);
    s_pack_str (&pk, "extra");
    s_pack_str (&pk, "ignored");
    s_pack_str (&pk, "height");
    msgpack_pack_double (&pk, 1.75);
    s_pack_str (&pk, "age");
    msgpack_pack_int (&pk, -3);
    msgpack_unpacked up;
    const msgpack_object *q = s_unpack (&sbuf, &up);
    double x[3];
    assert_int_equal (rfk_tabular_query (q, names, 3, x, s_err, sizeof s_err), 0);
    assert_true (x[0] == -3 && x[1] == 1.75 && x[2] == 1);
    const char *more[] = {"age", "weight"};
    assert_int_equal (rfk_tabular_query (q, more, 2, x, s_err, sizeof s_err), -1);
    s_assert_err ("no feature 'weight'", NULL);
    const char *text[] = {"extra"};
    assert_int_equal (rfk_tabular_query (q, text, 1, x, s_err, sizeof s_err), -1);
    s_assert_err ("feature 'extra'", "not a number");
    assert_int_equal (rfk_tabular_query (&q->via.map.ptr[0].key, names, 3, x, s_err, sizeof s_err),
                      -1);
    s_assert_err ("a map", NULL);
    msgpack_unpacked_destroy (&up);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_corpus_load (void **state)
{
    (void)state;
    fx_entry_t entries[] = {{"corpus.tsv",
                             "token\ttag\n"
                             "The\tDT\ncat\tNN\nsat\tVBD\n\\n\t\n"
                             "\\n\t\n"
                             "\"\"\"\"\t\"\"\"\"\nDogs\tNNS\n\n"
                             "Run\tVB",
                             0}};
    assert_int_equal (fx_write_zip (s_path ("corpus.zip"), entries, 1), 0);
    rfk_corpus_t *c = NULL;
    assert_int_equal (rfk_corpus_load (s_path ("corpus.zip"), 0, &c, s_err, sizeof s_err), 0);
    assert_int_equal (c->n_sentences, 3);
    assert_int_equal (c->n_tokens, 6);
    assert_int_equal (c->sentences[0].n_tokens, 3);
    assert_string_equal (c->sentences[0].tokens[1], "cat");
    assert_string_equal (c->sentences[0].tags[2], "VBD");
    assert_string_equal (c->sentences[1].tokens[0], "\"");
    assert_string_equal (c->sentences[2].tokens[0], "Run");
    /* Sorted tags: " DT NN NNS VB VBD */
    assert_int_equal (c->n_tags, 6);
    assert_string_equal (c->tag_names[0], "\"");
    assert_string_equal (c->tag_names[5], "VBD");
    assert_int_equal (c->sentences[0].tag_ids[1], 2);
    assert_int_equal (c->sentences[2].tag_ids[0], 4);
    rfk_corpus_destroy (&c);
    assert_int_equal (rfk_corpus_load (s_path ("corpus.zip"), 2, &c, s_err, sizeof s_err), 0);
    assert_int_equal (c->n_sentences, 2);
    rfk_corpus_destroy (&c);
    rfk_corpus_destroy (&c);
}

static void
s_corpus_fail (const char *tsv, const char *fragment1, const char *fragment2)
{
    fx_entry_t entries[] = {{tsv ? "corpus.tsv" : "other.txt", tsv ? tsv : "x", 0}};
    assert_int_equal (fx_write_zip (s_path ("bad-corpus.zip"), entries, 1), 0);
    rfk_corpus_t *c = NULL;
    s_err[0] = '\0';
    assert_int_equal (rfk_corpus_load (s_path ("bad-corpus.zip"), 0, &c, s_err, sizeof s_err), -1);
    assert_null (c);
    s_assert_err ("bad-corpus.zip", fragment1);
    if (fragment2)
        s_assert_err (fragment2, NULL);
}

static void
test_corpus_broken (void **state)
{
    (void)state;
    s_corpus_fail (NULL, "no corpus.tsv", NULL);
    s_corpus_fail ("token\ttag\na\tDT\nb\tNN\tX\n", "line 3", "3 fields");
    s_corpus_fail ("token\ttag\na\tDT\nb\t\n", "line 3", "no tag");
    s_corpus_fail ("word\ttag\na\tDT\n", "no token column", NULL);
    s_corpus_fail ("token\ttag\n\\n\t\n", "no sentences", NULL);
    s_corpus_fail ("", "empty", NULL);
    rfk_corpus_t *c = NULL;
    fx_write_text (s_path ("notzip.zip"), "token\ttag\n");
    assert_int_equal (rfk_corpus_load (s_path ("notzip.zip"), 0, &c, s_err, sizeof s_err), -1);
    s_assert_err ("notzip.zip", "not a zip");

    /* A damaged zip: flip bytes inside the compressed entry. */
    char tsv[4096] = "token\ttag\n";
    for (int i = 0; i < 200; i++)
        strcat (tsv, "word\tNN\n");
    fx_entry_t entries[] = {{"corpus.tsv", tsv, 0}};
    fx_write_zip (s_path ("damaged.zip"), entries, 1);
    FILE *f = fopen (s_path ("damaged.zip"), "r+b");
    fseek (f, 45, SEEK_SET);
    fwrite ("XXXXXXXX", 1, 8, f);
    fclose (f);
    assert_int_equal (rfk_corpus_load (s_path ("damaged.zip"), 0, &c, s_err, sizeof s_err), -1);
    s_assert_err ("damaged.zip", "corpus.tsv");
}

static void
test_corpus_query (void **state)
{
    (void)state;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 2);
    s_pack_str (&pk, "The");
    s_pack_str (&pk, "cat");
    msgpack_unpacked up;
    const msgpack_object *q = s_unpack (&sbuf, &up);
    size_t n = 0;
    assert_int_equal (rfk_corpus_query (q, &n, s_err, sizeof s_err), 0);
    assert_int_equal (n, 2);
    assert_int_equal (rfk_corpus_query (&q->via.array.ptr[0], &n, s_err, sizeof s_err), -1);
    s_assert_err ("array of token strings", NULL);
    msgpack_unpacked_destroy (&up);
    msgpack_sbuffer_clear (&sbuf);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_int (&pk, 1);
    q = s_unpack (&sbuf, &up);
    assert_int_equal (rfk_corpus_query (q, &n, s_err, sizeof s_err), -1);
    s_assert_err ("token 0", NULL);
    msgpack_unpacked_destroy (&up);
    msgpack_sbuffer_destroy (&sbuf);
}

/* Reads a whole file into a malloc'd buffer. */
static char *
s_slurp (const char *path, size_t *size)
{
    FILE *f = fopen (path, "rb");
    assert_non_null (f);
    fseek (f, 0, SEEK_END);
    *size = (size_t)ftell (f);
    fseek (f, 0, SEEK_SET);
    char *buf = malloc (*size);
    assert_int_equal (fread (buf, 1, *size, f), *size);
    fclose (f);
    return buf;
}

/* Damaged files never crash a loader: every truncation and some byte flips
   of good files load or fail with a message. */
static void
test_garbage (void **state)
{
    (void)state;
    s_images_zip (s_path ("good.zip"), "path,class\na.png,0\nimg/b.png,2\n");
    fx_entry_t entries[] = {{"corpus.tsv", "token\ttag\nThe\tDT\ncat\tNN\n\\n\t\n", 0}};
    assert_int_equal (fx_write_zip (s_path ("good-corpus.zip"), entries, 1), 0);
    fx_write_text (s_path ("good.csv"), "a,\"b\",y\n1,2,0\n\"3\",4,1\n");
    const char *goods[] = {"good.zip", "good-corpus.zip", "good.csv"};
    srand (7);
    for (int g = 0; g < 3; g++) {
        size_t size;
        char *data = s_slurp (s_path (goods[g]), &size);
        for (size_t cut = 0; cut <= size + 40; cut++) {
            FILE *f = fopen (s_path ("damaged"), "wb");
            char *copy = malloc (size);
            memcpy (copy, data, size);
            if (cut < size)
                fwrite (copy, 1, cut, f); /* truncated */
            else {
                for (int flips = 0; flips < 3; flips++)
                    copy[rand () % size] = (char)rand ();
                fwrite (copy, 1, size, f);
            }
            fclose (f);
            free (copy);
            s_err[0] = '\0';
            int rc;
            if (g == 0) {
                rfk_images_t *images = NULL;
                rc = rfk_images_load (s_path ("damaged"), NULL, &images, s_err, sizeof s_err);
                rfk_images_destroy (&images);
            } else if (g == 1) {
                rfk_corpus_t *c = NULL;
                rc = rfk_corpus_load (s_path ("damaged"), 0, &c, s_err, sizeof s_err);
                rfk_corpus_destroy (&c);
            } else {
                rfk_tabular_options_t opts = {.classification = true};
                rfk_tabular_t *t = NULL;
                rc = rfk_tabular_load (s_path ("damaged"), &opts, &t, s_err, sizeof s_err);
                rfk_tabular_destroy (&t);
            }
            assert_true (rc == 0 || (rc == -1 && strstr (s_err, "damaged")));
        }
        free (data);
    }
}

static int
s_setup (void **state)
{
    (void)state;
    s_dir = rfk_test_tmpdir_new ("test-dataset");
    return s_dir ? 0 : -1;
}

static int
s_teardown (void **state)
{
    (void)state;
    return rfk_test_tmpdir_destroy (&s_dir);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_images_usage),  cmocka_unit_test (test_images_colour_and_slices),
        cmocka_unit_test (test_images_broken), cmocka_unit_test (test_images_query),
        cmocka_unit_test (test_tabular_load),  cmocka_unit_test (test_tabular_broken),
        cmocka_unit_test (test_tabular_query), cmocka_unit_test (test_corpus_load),
        cmocka_unit_test (test_corpus_broken), cmocka_unit_test (test_corpus_query),
        cmocka_unit_test (test_garbage),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
