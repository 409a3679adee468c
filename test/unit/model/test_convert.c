/*  test_convert.c: the dataset converters of deploy/datasets, run with a
    small --limit into a temporary folder; their files must have the right
    counts, headers and classes, and the rfk_model loaders must read them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <sys/wait.h>

#include "rfk_test.h"
#include "fixtures.h"
#include "internal.h"
#include "rafiki/dataset.h"

static char *s_dir; /* the test's folder (rfk_test_tmpdir_new) */
static char s_err[512];

static const char *
s_path (const char *name)
{
    static char buf[8][256];
    static int next;
    char *p = buf[next++ % 8];
    snprintf (p, 256, "%s/%s", s_dir, name);
    return p;
}

/* Runs the converter; returns its exit status. */
static int
s_convert (const char *args)
{
    char cmd[1024];
    snprintf (cmd, sizeof cmd, "'%s/deploy/datasets/convert' %s > '%s/convert.log' 2>&1",
              SOURCE_ROOT, args, s_dir);
    int rc = system (cmd);
    if (rc != 0) {
        snprintf (cmd, sizeof cmd, "cat '%s/convert.log' >&2", s_dir);
        if (system (cmd) != 0)
            return -1;
    }
    return rc == -1 ? -1 : WEXITSTATUS (rc);
}

/* Usage: convert iris with a limit and load its training file. */
static void
test_convert_iris (void **state)
{
    (void)state;
    char args[512];
    snprintf (args, sizeof args, "iris '%s' --limit 12", s_dir);
    assert_int_equal (s_convert (args), 0);
    rfk_tabular_options_t opts = {.classification = true};
    const char *splits[] = {"iris-train.csv", "iris-val.csv", "iris-test.csv"};
    for (int i = 0; i < 3; i++) {
        rfk_tabular_t *t = NULL;
        assert_int_equal (rfk_tabular_load (s_path (splits[i]), &opts, &t, s_err, sizeof s_err), 0);
        assert_int_equal (t->n_rows, 12);
        assert_int_equal (t->n_features, 4);
        assert_string_equal (t->feature_names[0], "sepal length (cm)");
        assert_string_equal (t->target_name, "target");
        assert_true (t->n_classes >= 1 && t->n_classes <= 3);
        rfk_tabular_destroy (&t);
    }
    /* The split is fixed: a second run writes the same file. */
    char *first = NULL, *second = NULL;
    size_t n1 = 0, n2 = 0;
    FILE *f = fopen (s_path ("iris-train.csv"), "rb");
    assert_non_null (f);
    first = calloc (1, 65536);
    n1 = fread (first, 1, 65536, f);
    fclose (f);
    assert_int_equal (s_convert (args), 0);
    f = fopen (s_path ("iris-train.csv"), "rb");
    second = calloc (1, 65536);
    n2 = fread (second, 1, 65536, f);
    fclose (f);
    assert_int_equal (n1, n2);
    assert_memory_equal (first, second, n1);
    free (first);
    free (second);
}

static void
test_convert_tabular (void **state)
{
    (void)state;
    struct {
        const char *name;
        size_t features;
        uint32_t max_classes; /* 0: regression */
        size_t full_rows;     /* train rows without a limit */
    } sets[] = {{"wine", 13, 3, 125},
                {"breast-cancer", 30, 2, 398},
                {"digits", 64, 10, 1258},
                {"diabetes", 10, 0, 309}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        char args[512], file[128];
        /* Without a limit: 70% of the rows train. */
        snprintf (args, sizeof args, "%s '%s'", sets[i].name, s_dir);
        assert_int_equal (s_convert (args), 0);
        snprintf (file, sizeof file, "%s-train.csv", sets[i].name);
        rfk_tabular_options_t opts = {.classification = sets[i].max_classes > 0};
        rfk_tabular_t *t = NULL;
        if (rfk_tabular_load (s_path (file), &opts, &t, s_err, sizeof s_err))
            fail_msg ("%s", s_err);
        assert_int_equal (t->n_rows, sets[i].full_rows);
        assert_int_equal (t->n_features, sets[i].features);
        assert_string_equal (t->target_name, "target");
        if (sets[i].max_classes) {
            assert_int_equal (t->n_classes, sets[i].max_classes);
            for (size_t r = 0; r < t->n_rows; r++)
                assert_true (t->labels[r] >= 0 && (uint32_t)t->labels[r] < t->n_classes);
        }
        rfk_tabular_destroy (&t);
        snprintf (file, sizeof file, "%s-test.csv", sets[i].name);
        assert_int_equal (rfk_tabular_load (s_path (file), &opts, &t, s_err, sizeof s_err), 0);
        assert_true (t->n_rows > 0);
        rfk_tabular_destroy (&t);
    }
}

static void
test_convert_fashion_mnist (void **state)
{
    (void)state;
    char args[512];
    snprintf (args, sizeof args, "fashion-mnist '%s' --limit 40", s_dir);
    assert_int_equal (s_convert (args), 0);
    const char *splits[] = {"fashion-mnist-train.zip", "fashion-mnist-val.zip",
                            "fashion-mnist-test.zip"};
    for (int i = 0; i < 3; i++) {
        rfk_images_t *images = NULL;
        if (rfk_images_load (s_path (splits[i]), NULL, &images, s_err, sizeof s_err))
            fail_msg ("%s", s_err);
        assert_int_equal (images->n, 40);
        assert_int_equal (images->width, 28);
        assert_int_equal (images->height, 28);
        assert_int_equal (images->channels, 1);
        assert_true (images->n_classes >= 2 && images->n_classes <= 10);
        /* Clothes on a black background: some dark, some bright pixels. */
        int dark = 0, bright = 0;
        for (size_t p = 0; p < 28 * 28; p++) {
            dark += images->pixels[p] < 10;
            bright += images->pixels[p] > 100;
        }
        assert_true (dark > 50 && bright > 50);
        rfk_images_destroy (&images);
    }
}

/* photos: JPEG and PNG crops of mixed sizes, colour and grey, that the
   loader resizes to what a template asks for. */
static void
test_convert_photos (void **state)
{
    (void)state;
    char args[512];
    snprintf (args, sizeof args, "photos '%s' --limit 30", s_dir);
    assert_int_equal (s_convert (args), 0);
    const char *splits[] = {"photos-train.zip", "photos-val.zip", "photos-test.zip"};
    rfk_images_options_t opts = {.colour = RFK_IMAGES_RGB, .width = 32, .height = 32};
    for (int i = 0; i < 3; i++) {
        rfk_images_t *images = NULL;
        if (rfk_images_load (s_path (splits[i]), &opts, &images, s_err, sizeof s_err))
            fail_msg ("%s", s_err);
        assert_int_equal (images->n, 30);
        assert_int_equal (images->width, 32);
        assert_int_equal (images->channels, 3);
        assert_int_equal (images->n_classes, 2);
        /* Photographs in colour: the channels differ somewhere. */
        size_t differ = 0;
        for (size_t p = 0; p < 30 * 32 * 32; p++)
            differ += images->pixels[3 * p] != images->pixels[3 * p + 2];
        assert_true (differ > 1000);
        rfk_images_destroy (&images);
    }
    /* As people have them: mostly JPEGs, of mixed sizes, some grey. */
    int err_code;
    zip_t *zip = zip_open (s_path ("photos-train.zip"), ZIP_RDONLY, &err_code);
    assert_non_null (zip);
    size_t jpegs = 0, greys = 0, widths[97] = {0};
    for (zip_int64_t i = 0; i < zip_get_num_entries (zip, 0); i++) {
        const char *name = zip_get_name (zip, (zip_uint64_t)i, 0);
        char *data = NULL;
        size_t size = 0;
        if (strcmp (name, "images.csv") == 0)
            continue;
        assert_int_equal (
            rfk_model_zip_read (zip, "photos", name, &data, &size, NULL, s_err, sizeof s_err), 0);
        rfk_image_t image;
        if (rfk_image_decode (data, size, 0, &image, s_err, sizeof s_err) != 0)
            fail_msg ("%s %s", name, s_err);
        jpegs += (uint8_t)data[0] == 0xff;
        greys += image.channels == 1;
        assert_true (image.width >= 24 && image.width <= 96);
        widths[image.width]++;
        rfk_image_fini (&image);
        free (data);
    }
    zip_discard (zip);
    size_t distinct = 0;
    for (int w = 0; w < 97; w++)
        distinct += widths[w] > 0;
    print_message ("# photos-train: %zu JPEGs, %zu grey, %zu distinct widths of 30\n", jpegs, greys,
                   distinct);
    assert_true (jpegs >= 20 && greys >= 1 && distinct >= 10);
}

static void
test_convert_brown (void **state)
{
    (void)state;
    char args[512];
    snprintf (args, sizeof args, "brown '%s' --limit 25", s_dir);
    assert_int_equal (s_convert (args), 0);
    const char *splits[] = {"brown-train.zip", "brown-val.zip", "brown-test.zip"};
    for (int i = 0; i < 3; i++) {
        rfk_corpus_t *c = NULL;
        if (rfk_corpus_load (s_path (splits[i]), 0, &c, s_err, sizeof s_err))
            fail_msg ("%s", s_err);
        assert_int_equal (c->n_sentences, 25);
        assert_true (c->n_tokens > 25 * 5);
        assert_true (c->n_tags > 10);
        for (size_t s = 0; s < c->n_sentences; s++)
            for (size_t t = 0; t < c->sentences[s].n_tokens; t++)
                assert_null (strstr (c->sentences[s].tags[t], "-tl"));
        rfk_corpus_destroy (&c);
    }
}

static void
test_convert_usage_errors (void **state)
{
    (void)state;
    char args[512];
    snprintf (args, sizeof args, "mnist '%s'", s_dir);
    assert_int_equal (s_convert (args), 2);
    snprintf (args, sizeof args, "iris '%s' --limit many", s_dir);
    assert_int_equal (s_convert (args), 2);
    assert_int_equal (s_convert ("iris"), 2);
}

static int
s_setup (void **state)
{
    (void)state;
    s_dir = rfk_test_tmpdir_new ("test-convert");
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
        cmocka_unit_test (test_convert_iris),          cmocka_unit_test (test_convert_tabular),
        cmocka_unit_test (test_convert_fashion_mnist), cmocka_unit_test (test_convert_photos),
        cmocka_unit_test (test_convert_brown),         cmocka_unit_test (test_convert_usage_errors),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
