/*  bench_store.c: how fast the store writes and lists trials, per backend.

    For SQLite and then PostgreSQL, on a fresh store: insert N trials (10,000
    unless RAFIKI_BENCH_TRIALS says otherwise) over the two sub train jobs of
    one train job, each with three log lines (a message, metrics, a plot),
    then mark it COMPLETED with a score; then list the job's trials best
    first, page after page of 100, until all are read. Prints operations per
    second for each backend and the ratio PostgreSQL/SQLite, as TAP.

    Run it with
        meson test -C build --suite bench --verbose store-bench
    or build/test/bench/store/bench_store directly (a release build gives
    figures without the sanitizers' cost). It uses the server named by
    RAFIKI_TEST_PG_URL; when that is unset it starts test/servers/postgres
    itself and stops it at the end.
    That server runs with fsync off, and SQLite runs with synchronous=NORMAL
    in WAL mode: neither waits for the disk on each commit, so the figures
    compare the engines and the round trips, not the disks.
*/
#define _GNU_SOURCE
#include "store_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE 100

typedef struct {
    double insert_per_s; /* trials inserted (with logs and completion) per second */
    double pages_per_s;  /* best-first pages of PAGE listed per second */
    double rows_per_s;   /* trials read per second while listing */
    bool ok;
} s_result_t;

static double
s_seconds (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define CHECK(store, expr)                                                                         \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            printf ("# %s failed: %s\n", #expr, rfk_store_message (store));                        \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

static s_result_t
s_bench (bool postgres, int trials)
{
    s_result_t result = {0};
    store_fixture_t *fixture = store_fixture_new (postgres);
    if (!fixture)
        return result;
    rfk_store_t *store = fixture->store;
    rfk_user_t *user = NULL;
    rfk_dataset_t *dataset = NULL;
    rfk_model_t *models[2] = {NULL, NULL};
    rfk_train_job_t *job = NULL;

    rfk_user_t user_in = {.email = "bench@rafiki", .password_hash = "x", .user_type = "ADMIN"};
    CHECK (store, user = rfk_store_create_user (store, &user_in));
    rfk_dataset_t dataset_in = {
        .name = "d", .task = "T", .owner_id = user->id, .store_dataset_id = "d.zip"};
    CHECK (store, dataset = rfk_store_create_dataset (store, &dataset_in));
    for (int i = 0; i < 2; i++) {
        rfk_model_t model_in = {.user_id = user->id,
                                .name = i ? "B" : "A",
                                .task = "T",
                                .model_class = "C",
                                .model_file = "m.so",
                                .access_right = "PRIVATE"};
        CHECK (store, models[i] = rfk_store_create_model (store, &model_in));
    }
    rfk_sub_train_job_t subs[2] = {{.model_id = models[0]->id}, {.model_id = models[1]->id}};
    json_t *budget = json_pack ("{s:i}", "MODEL_TRIAL_COUNT", trials);
    rfk_train_job_t job_in = {.user_id = user->id,
                              .app = "bench",
                              .task = "T",
                              .budget = budget,
                              .train_dataset_id = dataset->id,
                              .val_dataset_id = dataset->id,
                              .sub_train_job_count = 2,
                              .sub_train_jobs = subs};
    job = rfk_store_create_train_job (store, &job_in);
    json_decref (budget);
    CHECK (store, job);

    srand (42);
    double start = s_seconds ();
    for (int i = 0; i < trials; i++) {
        const rfk_sub_train_job_t *sub = &job->sub_train_jobs[i % 2];
        rfk_trial_t trial_in = {
            .no = i / 2 + 1,
            .sub_train_job_id = sub->id,
            .model_id = sub->model_id,
            .worker_id = "worker",
            .knobs = json_pack ("{s:i,s:f}", "max_depth", i % 10, "lr", 0.001 * (i % 100)),
            .score = NAN};
        rfk_trial_t *trial = rfk_store_create_trial (store, &trial_in);
        json_decref (trial_in.knobs);
        CHECK (store, trial);
        double score = (double)rand () / RAND_MAX;
        rfk_trial_log_t logs[3] = {
            {.trial_id = trial->id, .type = "MESSAGE", .level = "INFO", .message = "training"},
            {.trial_id = trial->id,
             .type = "METRICS",
             .data = json_pack ("{s:i,s:f}", "epoch", 1, "accuracy", score)},
            {.trial_id = trial->id,
             .type = "PLOT",
             .data = json_pack ("{s:s,s:[s]}", "title", "Accuracy", "metrics", "accuracy")},
        };
        int rc = rfk_store_add_trial_logs (store, logs, 3);
        json_decref (logs[1].data);
        json_decref (logs[2].data);
        if (rc == 0) {
            trial->status = RFK_TRIAL_COMPLETED;
            trial->score = score;
            rc = rfk_store_update_trial (store, trial);
        }
        rfk_trial_destroy (&trial);
        CHECK (store, rc == 0);
    }
    double inserted = s_seconds () - start;

    start = s_seconds ();
    int pages = 0, rows = 0;
    double last = INFINITY;
    for (int64_t offset = 0;; offset += PAGE) {
        rfk_page_t page = {.limit = PAGE, .offset = offset};
        zlistx_t *list = rfk_store_list_trials (store, job->id, NULL, RFK_TRIALS_BEST, &page);
        CHECK (store, list);
        size_t size = zlistx_size (list);
        for (rfk_trial_t *t = (rfk_trial_t *)zlistx_first (list); t;
             t = (rfk_trial_t *)zlistx_next (list)) {
            if (t->score > last) {
                printf ("# not best first at row %d\n", rows);
                zlistx_destroy (&list);
                goto done;
            }
            last = t->score;
            rows++;
        }
        zlistx_destroy (&list);
        pages++;
        if (size < PAGE)
            break;
    }
    double listed = s_seconds () - start;
    if (rows != trials) {
        printf ("# listed %d trials of %d\n", rows, trials);
        goto done;
    }
    result.insert_per_s = trials / inserted;
    result.pages_per_s = pages / listed;
    result.rows_per_s = rows / listed;
    result.ok = true;
    const char *name = postgres ? "postgresql" : "sqlite";
    printf ("# %s: inserted %d trials (create + 3 log lines + complete) in %.2f s: %.0f trials/s\n",
            name, trials, inserted, result.insert_per_s);
    printf ("# %s: listed them best first in %d pages of %d in %.2f s: %.1f pages/s, %.0f "
            "trials/s\n",
            name, pages, PAGE, listed, result.pages_per_s, result.rows_per_s);
done:
    rfk_train_job_destroy (&job);
    rfk_model_destroy (&models[0]);
    rfk_model_destroy (&models[1]);
    rfk_dataset_destroy (&dataset);
    rfk_user_destroy (&user);
    store_fixture_destroy (&fixture);
    return result;
}

/* test/servers/postgres: from the environment, or where meson built us. */
static const char *
s_server_script (void)
{
    const char *script = getenv ("RAFIKI_PG_SERVER");
#ifdef RAFIKI_PG_SERVER_DEFAULT
    if (!script)
        script = RAFIKI_PG_SERVER_DEFAULT;
#endif
    return script;
}

/* Starts the throwaway server when no URL is given. true if we started it. */
static bool
s_start_server (void)
{
    const char *script = s_server_script ();
    if (store_fixture_pg_url () || !script)
        return false;
    char *command = NULL;
    if (asprintf (&command, "'%s' start", script) < 0)
        return false;
    FILE *out = popen (command, "r");
    free (command);
    if (!out)
        return false;
    char line[512];
    bool started = false;
    while (fgets (line, sizeof line, out)) {
        line[strcspn (line, "\n")] = '\0';
        if (strncmp (line, "RAFIKI_TEST_PG_URL=", 19) == 0) {
            setenv ("RAFIKI_TEST_PG_URL", line + 19, 1);
            started = true;
        }
    }
    if (pclose (out) != 0)
        started = false;
    return started;
}

static void
s_stop_server (void)
{
    char *command = NULL;
    if (asprintf (&command, "'%s' stop", s_server_script ()) < 0)
        return;
    if (system (command) != 0)
        printf ("# stopping the PostgreSQL server failed\n");
    free (command);
}

int
main (void)
{
    int trials = 10000;
    const char *env = getenv ("RAFIKI_BENCH_TRIALS");
    if (env && atoi (env) > 0)
        trials = atoi (env);
    setvbuf (stdout, NULL, _IOLBF, 0);
    printf ("1..3\n");
    s_result_t sqlite = s_bench (false, trials);
    printf ("%s 1 - sqlite\n", sqlite.ok ? "ok" : "not ok");

    bool started = s_start_server ();
    if (!store_fixture_pg_url ()) {
        printf ("ok 2 - postgresql # SKIP no RAFIKI_TEST_PG_URL and no server script\n");
        printf ("ok 3 - ratio # SKIP no PostgreSQL figures\n");
        return 0;
    }
    s_result_t pg = s_bench (true, trials);
    if (started)
        s_stop_server ();
    printf ("%s 2 - postgresql\n", pg.ok ? "ok" : "not ok");
    if (sqlite.ok && pg.ok) {
        printf ("# ratio postgresql/sqlite: insert %.2f, list %.2f\n",
                pg.insert_per_s / sqlite.insert_per_s, pg.pages_per_s / sqlite.pages_per_s);
        printf ("ok 3 - ratio\n");
    } else
        printf ("not ok 3 - ratio # a backend failed\n");
    return sqlite.ok && pg.ok ? 0 : 1;
}
