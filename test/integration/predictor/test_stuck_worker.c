/*  test_stuck_worker.c: an inference worker stuck in its template's predict
    ends, even with no admin to stop it (issue 15: nothing runs forever
    unowned; actors/inference/rfk_watchdog.h).

    A predictor (the direct actor) and one `rafikid inference` process that
    serves tpl_spin.so, whose predict never returns. The worker runs
    standalone, with no admin at all, as an orphan whose admin never came
    back would: service.orphan_timeout_s is 2 s, inference.predict_timeout_s
    an hour. A query makes it spin; the query gets an error (the worker was
    lost), and the worker's watchdog ends the process after 2 s, naming the
    orphan timeout in its log.

    Environment (meson): RAFIKID, TPL_SPIN.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <czmq.h>
#include <jansson.h>

#include "rfk_predictor.h"
#include "rfk_test.h"

static const char *
s_env (const char *name)
{
    const char *value = getenv (name);
    if (!value || !*value)
        fail_msg ("%s is not set (meson sets it)", name);
    return value;
}

/* The predictor's count of ready workers. */
static bool
s_one_worker (void *arg)
{
    zstr_send ((zactor_t *)arg, "STATS");
    char *text = zstr_recv ((zactor_t *)arg);
    json_t *stats = text ? json_loads (text, 0, NULL) : NULL;
    zstr_free (&text);
    bool ready = json_integer_value (json_object_get (stats, "workers")) == 1;
    json_decref (stats);
    return ready;
}

static size_t
s_on_body (char *data, size_t size, size_t n, void *arg)
{
    zchunk_extend ((zchunk_t *)arg, data, size * n);
    return size * n;
}

/* POST body to url; the HTTP status, the body into answer. */
static long
s_post (const char *url, const char *body, zchunk_t *answer)
{
    CURL *easy = curl_easy_init ();
    assert_non_null (easy);
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, 30000L); /* a hang fails the test */
    long status = 0;
    if (curl_easy_perform (easy) == CURLE_OK)
        curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all (headers);
    curl_easy_cleanup (easy);
    return status;
}

/* True when the file at path holds text. */
static bool
s_file_says (const char *path, const char *text)
{
    zfile_t *file = zfile_new (NULL, path);
    bool said = false;
    if (file && zfile_input (file) == 0) {
        zchunk_t *bytes = zfile_read (file, (size_t)zfile_cursize (file), 0);
        if (bytes) {
            zchunk_extend (bytes, "", 1);
            said = strstr ((const char *)zchunk_data (bytes), text) != NULL;
        }
        zchunk_destroy (&bytes);
    }
    zfile_destroy (&file);
    return said;
}

/* The orphaned worker stuck in predict ends after the orphan timeout; its
   query gets an error, not a hang. */
static void
test_orphan_stuck_in_predict_ends (void **state)
{
    (void)state;
    rfk_predictor_args_t args = {.http = "127.0.0.1:0",
                                 .query_endpoint = "tcp://127.0.0.1:*",
                                 .workers_endpoint = "tcp://127.0.0.1:*"};
    rfk_scatter_opts_defaults (&args.scatter);
    args.scatter.bus.heartbeat_interval_ms = 200;
    args.scatter.bus.heartbeat_timeout_ms = 1000;
    args.scatter.deadline_ms = 20000;
    zactor_t *predictor = zactor_new (rfk_predictor_direct_actor, &args);
    assert_non_null (predictor);
    char *http = NULL, *query = NULL, *workers = NULL;
    zstr_send (predictor, "ENDPOINTS");
    zstr_recvx (predictor, &http, &query, &workers, NULL);
    assert_non_null (workers);

    char *dir = rfk_test_tmpdir_new ("stuck-worker");
    assert_non_null (dir);
    char data_dir[600], predictor_arg[300], template_arg[1200];
    snprintf (data_dir, sizeof data_dir, "RAFIKI_DATA_DIR=%s", dir);
    snprintf (predictor_arg, sizeof predictor_arg, "predictor=%s", workers);
    snprintf (template_arg, sizeof template_arg, "template=%s", s_env ("TPL_SPIN"));
    const char *worker_args[] = {"inference", predictor_arg, template_arg, "trial=t", NULL};
    const char *vars[] = {data_dir,
                          "RAFIKI_LOG_STDERR=false",
                          "RAFIKI_BUS_HEARTBEAT_INTERVAL_MS=200",
                          "RAFIKI_BUS_HEARTBEAT_TIMEOUT_MS=1000",
                          "RAFIKI_SERVICE_ORPHAN_TIMEOUT_S=2",
                          "RAFIKI_INFERENCE_PREDICT_TIMEOUT_S=3600",
                          NULL};
    pid_t worker = rfk_test_rafikid_spawn (worker_args, vars, true);
    assert_true (worker > 0);
    assert_true (rfk_test_wait_until (s_one_worker, predictor, NULL, 15000));

    char url[300];
    snprintf (url, sizeof url, "%s/predict", http);
    zchunk_t *answer = zchunk_new (NULL, 0);
    int64_t started = zclock_mono ();
    long status = s_post (url, "{\"query\": [1, 2]}", answer);
    int64_t took = zclock_mono () - started;
    zchunk_extend (answer, "", 1);
    print_message ("# HTTP %ld after %lld ms: %s\n", status, (long long)took,
                   (const char *)zchunk_data (answer));
    assert_true (status >= 500);
    assert_non_null (strstr ((const char *)zchunk_data (answer), "was lost"));
    assert_true (took < 15000); /* the error, not the query's deadline */
    zchunk_destroy (&answer);

    //  Ended by its watchdog (exit 1) after the orphan timeout, not an hour.
    int exit_status = rfk_test_wait_child (worker, 15000);
    print_message ("# the worker ended %lld ms after the query, status %d\n",
                   (long long)(zclock_mono () - started), exit_status);
    assert_int_equal (exit_status, 1);
    char log[700];
    snprintf (log, sizeof log, "%s/logs/inference.log", dir);
    assert_true (s_file_says (log, "RFK-STUCK the template's predict did not return within 2000 "
                                   "ms (service.orphan_timeout_s)"));

    zstr_free (&http);
    zstr_free (&query);
    zstr_free (&workers);
    zactor_destroy (&predictor);
    rfk_test_tmpdir_destroy (&dir);
}

int
main (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_orphan_stuck_in_predict_ends),
    };
    int rc = cmocka_run_group_tests_name ("stuck_worker", tests, NULL, NULL);
    curl_global_cleanup ();
    return rc;
}
