/*  rfk_test_platform.c: a real `rafikid up` a test kills and restarts, with
    every pid it saw killed at the end; and a PostgreSQL server of the
    test's own (see rfk_test_platform.h).
*/
#define _GNU_SOURCE
#include "rfk_test_platform.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rfk_test.h"

/* ---- the platform -------------------------------------------------------- */

/* The platform a crash of the test (an abort, a sanitizer's report) must
   not leave running: cmocka's teardown does not run then. */
static rfk_test_platform_t *s_current;

/* On SIGABRT or SIGSEGV: SIGKILL every pid recorded (async-signal-safe),
   then die of the signal as before. */
static void
s_on_crash (int signum)
{
    rfk_test_platform_t *self = s_current;
    if (self) {
        if (self->pid > 0)
            kill (self->pid, SIGKILL);
        for (size_t index = 0; index < self->pid_count; index++)
            kill (self->pids[index], SIGKILL);
    }
    signal (signum, SIG_DFL);
    raise (signum);
}

int
rfk_test_platform_init (rfk_test_platform_t *self, const char *name)
{
    memset (self, 0, sizeof *self);
    s_current = self;
    signal (SIGABRT, s_on_crash);
    signal (SIGSEGV, s_on_crash);
    self->password = "platform-Secret-pass-42";
    self->dir = rfk_test_tmpdir_new (name);
    if (!self->dir)
        return -1;
    char var[PATH_MAX];
    snprintf (var, sizeof var, "%s/var", self->dir);
    if (mkdir (var, 0700) != 0 || !realpath (var, self->var))
        return -1;
    return 0;
}

void
rfk_test_platform_record (rfk_test_platform_t *self, pid_t pid)
{
    for (size_t index = 0; index < self->pid_count; index++)
        if (self->pids[index] == pid)
            return;
    if (pid > 0 && self->pid_count < RFK_TEST_PLATFORM_PIDS)
        self->pids[self->pid_count++] = pid;
}

/* The ports file is the new admin's (a new inode), or the new admin is gone. */
typedef struct {
    char path[PATH_MAX + 32]; /* <data_dir>/rafikid.ports */
    ino_t old;                /* the killed admin's file, 0 if none */
    pid_t pid;                /* the new admin */
} s_ports_wait_t;

static bool
s_new_ports (void *arg)
{
    s_ports_wait_t *wait = (s_ports_wait_t *)arg;
    struct stat st;
    if (stat (wait->path, &st) == 0 && st.st_ino != wait->old)
        return true;
    return waitpid (wait->pid, NULL, WNOHANG) != 0;
}

/* Log in through the SDK on the command port. */
static int
s_login (rfk_test_platform_t *self, char *err, size_t errlen)
{
    char admin[64];
    snprintf (admin, sizeof admin, "127.0.0.1:%d", self->command_port);
    rfk_sdk_options_t opts;
    rfk_sdk_options_init (&opts);
    opts.admin = admin;
    opts.events_port = self->events_port;
    opts.timeout_ms = 30000;
    opts.retries = 0;
    rfk_sdk_error_t error = {0};
    self->sdk = rfk_sdk_new (&opts, &error);
    if (!self->sdk) {
        snprintf (err, errlen, "no SDK session with %s: %s", admin, error.message);
        return -1;
    }
    json_t *token = rfk_sdk_login (self->sdk, "superadmin@rafiki", self->password);
    if (!token) {
        snprintf (err, errlen, "login: %s", rfk_sdk_error (self->sdk)->message);
        return -1;
    }
    json_decref (token);
    return 0;
}

int
rfk_test_platform_up (rfk_test_platform_t *self, char *err, size_t errlen)
{
    //  A killed admin leaves its ports file: wait for the new one's.
    s_ports_wait_t ports_wait = {.old = 0};
    snprintf (ports_wait.path, sizeof ports_wait.path, "%s/rafikid.ports", self->var);
    struct stat st;
    if (stat (ports_wait.path, &st) == 0)
        ports_wait.old = st.st_ino;
    //  `service` on one port for every admin, as a deployment has (3002):
    //  the kernel picks it; the listener is closed just before admin binds it.
    if (!self->service_port) {
        int fd = rfk_test_listen (&self->service_port);
        if (fd < 0)
            return snprintf (err, errlen, "no free port"), -1;
        close (fd);
    }
    char service_port[64];
    snprintf (service_port, sizeof service_port, "RAFIKI_ADMIN_SERVICE_PORT=%d",
              self->service_port);
    const char *vars[32] = {"RAFIKI_BUS_HEARTBEAT_INTERVAL_MS=200",
                            "RAFIKI_BUS_HEARTBEAT_TIMEOUT_MS=1000", service_port};
    size_t count = 3;
    for (size_t index = 0; self->vars && self->vars[index] && count < 31; index++)
        vars[count++] = self->vars[index];
    vars[count] = NULL;
    char up_log[PATH_MAX + 16];
    snprintf (up_log, sizeof up_log, "%s/logs/up.log", self->var);
    self->up_log_at = stat (up_log, &st) == 0 ? (long)st.st_size : 0;
    rfk_test_up_t up = {.data_dir = self->var, .password = self->password, .vars = vars};
    self->pid = rfk_test_up_spawn (&up);
    if (self->pid <= 0)
        return snprintf (err, errlen, "cannot start rafikid up"), -1;
    rfk_test_platform_record (self, self->pid);
    ports_wait.pid = self->pid;
    rfk_test_ports_t ports;
    if ((ports_wait.old && !rfk_test_wait_until (s_new_ports, &ports_wait, NULL, 120000)) ||
        rfk_test_wait_ports (self->var, self->pid, 120000, &ports) != 0)
        return snprintf (err, errlen, "rafikid up did not get ready (see %s/logs)", self->var), -1;
    if (ports.service != self->service_port)
        return snprintf (err, errlen, "admin's service port moved"), -1;
    snprintf (self->http, sizeof self->http, "http://127.0.0.1:%d", ports.http);
    self->command_port = ports.command;
    self->events_port = ports.events;
    return s_login (self, err, errlen);
}

int
rfk_test_platform_kill (rfk_test_platform_t *self)
{
    rfk_sdk_destroy (&self->sdk);
    if (self->pid <= 0 || kill (self->pid, SIGKILL) != 0)
        return -1;
    int status = rfk_test_wait_child (self->pid, 30000);
    self->pid = 0;
    return status == 128 + SIGKILL ? 0 : -1;
}

int
rfk_test_platform_stop (rfk_test_platform_t *self, int timeout_ms)
{
    rfk_sdk_destroy (&self->sdk);
    if (self->pid <= 0 || kill (self->pid, SIGTERM) != 0)
        return -1;
    int status = rfk_test_wait_child (self->pid, timeout_ms);
    self->pid = 0;
    return status;
}

void
rfk_test_platform_teardown (rfk_test_platform_t *self)
{
    rfk_sdk_destroy (&self->sdk);
    if (self->pid > 0) {
        kill (self->pid, SIGKILL);
        rfk_test_wait_child (self->pid, 10000);
        self->pid = 0;
    }
    if (self->dir) {
        zhashx_t *left = rfk_test_platform_services (self, NULL);
        zhashx_destroy (&left);
    }
    for (size_t index = 0; index < self->pid_count; index++)
        if (kill (self->pids[index], 0) == 0) {
            fprintf (stderr, "# teardown: pid %d still ran; killed\n", (int)self->pids[index]);
            kill (self->pids[index], SIGKILL);
        }
    self->pid_count = 0;
    if (s_current == self)
        s_current = NULL;
    rfk_test_tmpdir_destroy (&self->dir);
}

int
rfk_test_platform_case_setup (void **state)
{
    *state = calloc (1, sizeof (rfk_test_platform_t));
    return *state ? 0 : -1;
}

int
rfk_test_platform_case_teardown (void **state)
{
    rfk_test_platform_teardown ((rfk_test_platform_t *)*state);
    free (*state);
    *state = NULL;
    return 0;
}

/* A process's environment (NUL-separated) into env; its length. */
static size_t
s_environ (const char *pid, char *env, size_t size)
{
    char path[300];
    snprintf (path, sizeof path, "/proc/%s/environ", pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    size_t n = fread (env, 1, size - 1, file);
    fclose (file);
    env[n] = 0;
    return n;
}

zhashx_t *
rfk_test_platform_services (rfk_test_platform_t *self, const char *role)
{
    zhashx_t *services = zhashx_new ();
    zhashx_set_destructor (services, (czmq_destructor *)zstr_free);
    char want[PATH_MAX + 32];
    snprintf (want, sizeof want, "RAFIKI_DATA_DIR=%s", self->var);
    DIR *proc = opendir ("/proc");
    struct dirent *entry;
    static char env[65536];
    while (proc && (entry = readdir (proc))) {
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
            continue;
        size_t n = s_environ (entry->d_name, env, sizeof env);
        bool ours = false;
        const char *id = NULL, *its_role = "";
        for (size_t at = 0; at < n; at += strlen (env + at) + 1) {
            ours = ours || streq (env + at, want);
            if (strncmp (env + at, "RAFIKI_SERVICE_ID=", 18) == 0)
                id = env + at + 18;
            if (strncmp (env + at, "RAFIKI_SERVICE_ROLE=", 20) == 0)
                its_role = env + at + 20;
        }
        //  A zombie has an empty environment; a trial's child has no service id.
        if (!ours || !id)
            continue;
        rfk_test_platform_record (self, atoi (entry->d_name));
        if (!role || streq (role, its_role))
            zhashx_update (services, id, strdup (entry->d_name));
    }
    if (proc)
        closedir (proc);
    return services;
}

int
rfk_test_platform_signal_service (rfk_test_platform_t *self, const char *service_id, int signum)
{
    char want_dir[PATH_MAX + 32], want_id[128];
    snprintf (want_dir, sizeof want_dir, "RAFIKI_DATA_DIR=%s", self->var);
    snprintf (want_id, sizeof want_id, "RAFIKI_SERVICE_ID=%s", service_id);
    DIR *proc = opendir ("/proc");
    struct dirent *entry;
    static char env[65536];
    int count = 0;
    while (proc && (entry = readdir (proc))) {
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
            continue;
        size_t n = s_environ (entry->d_name, env, sizeof env);
        bool dir = false, id = false;
        for (size_t at = 0; at < n; at += strlen (env + at) + 1) {
            dir = dir || streq (env + at, want_dir);
            id = id || streq (env + at, want_id);
        }
        if (dir && id && (signum == 0 || kill (atoi (entry->d_name), signum) == 0))
            count++;
    }
    if (proc)
        closedir (proc);
    return count;
}

bool
rfk_test_pids_gone (void *arg)
{
    zhashx_t *services = (zhashx_t *)arg;
    for (const char *pid = (const char *)zhashx_first (services); pid;
         pid = (const char *)zhashx_next (services))
        if (kill (atoi (pid), 0) == 0)
            return false;
    return true;
}

/* Whether the file at path has a line holding each of what[0..count). */
static bool
s_file_says (const char *path, const char *const *what, size_t count)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    bool found[8] = {false};
    char line[4096];
    while (fgets (line, sizeof line, file))
        for (size_t index = 0; index < count && index < 8; index++)
            found[index] = found[index] || strstr (line, what[index]) != NULL;
    fclose (file);
    for (size_t index = 0; index < count && index < 8; index++)
        if (!found[index])
            return false;
    return true;
}

bool
rfk_test_platform_rehelloed (rfk_test_platform_t *self, zhashx_t *services)
{
    const char *what[] = {"admin-rehello-accepted", "rafiki-launcher: adopted pid"};
    for (const char *pid = (const char *)zhashx_first (services); pid;
         pid = (const char *)zhashx_next (services)) {
        char path[PATH_MAX + 200];
        snprintf (path, sizeof path, "%s/logs/%s.log", self->var,
                  (const char *)zhashx_cursor (services));
        if (!s_file_says (path, what, 2))
            return false;
    }
    return true;
}

bool
rfk_test_platform_hellos (rfk_test_platform_t *self, zhashx_t *services)
{
    char path[PATH_MAX + 16];
    snprintf (path, sizeof path, "%s/logs/up.log", self->var);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    zhashx_t *heard = zhashx_new ();
    char line[4096];
    fseek (file, self->up_log_at, SEEK_SET);
    while (fgets (line, sizeof line, file)) {
        const char *at = strstr (line, "service-hello id=");
        if (!at)
            continue;
        char id[64];
        if (sscanf (at + 17, "%63s", id) == 1)
            zhashx_update (heard, id, (void *)"yes");
    }
    fclose (file);
    bool all = true;
    for (const char *pid = (const char *)zhashx_first (services); pid && all;
         pid = (const char *)zhashx_next (services))
        all = zhashx_lookup (heard, zhashx_cursor (services)) != NULL;
    zhashx_destroy (&heard);
    return all;
}

bool
rfk_test_platform_log_says (rfk_test_platform_t *self, const char *what)
{
    char dir_path[PATH_MAX + 8];
    snprintf (dir_path, sizeof dir_path, "%s/logs", self->var);
    DIR *dir = opendir (dir_path);
    struct dirent *entry;
    bool found = false;
    while (dir && !found && (entry = readdir (dir))) {
        char path[PATH_MAX * 2];
        snprintf (path, sizeof path, "%s/%s", dir_path, entry->d_name);
        found = s_file_says (path, &what, 1);
    }
    if (dir)
        closedir (dir);
    return found;
}

/* ---- jobs ---------------------------------------------------------------- */

json_t *
rfk_test_platform_job (rfk_test_platform_t *self, const char *app, bool inference)
{
    if (!inference)
        return rfk_sdk_train_job_get (self->sdk, app, -1);
    //  GET of an app's inference job finds only a deployed one: list them all.
    json_t *list = rfk_sdk_inference_jobs_of_app (self->sdk, app);
    json_t *jobs = json_object_get (list, "inference_jobs");
    size_t n = json_array_size (jobs);
    json_t *newest = n ? json_incref (json_array_get (jobs, n - 1)) : NULL;
    json_decref (list);
    return newest;
}

typedef struct {
    rfk_test_platform_t *platform; /* the platform */
    const char *app;               /* the app */
    bool inference;                /* which kind of job */
    const char *wanted;            /* the status waited for */
    json_t *job;                   /* the job as last read */
} s_job_wait_t;

static bool
s_job_in (void *arg)
{
    s_job_wait_t *wait = (s_job_wait_t *)arg;
    json_decref (wait->job);
    wait->job = rfk_test_platform_job (wait->platform, wait->app, wait->inference);
    const char *status = json_string_value (json_object_get (wait->job, "status"));
    return status && (streq (status, wait->wanted) || streq (status, "ERRORED"));
}

json_t *
rfk_test_platform_wait_job (rfk_test_platform_t *self, const char *app, bool inference,
                            const char *wanted, int timeout_ms)
{
    s_job_wait_t wait = {self, app, inference, wanted, NULL};
    rfk_test_wait_until (s_job_in, &wait, NULL, timeout_ms);
    const char *status = json_string_value (json_object_get (wait.job, "status"));
    if (!status || !streq (status, wanted)) {
        fprintf (stderr, "# the %s job of %s is %s, not %s (logs in %s/logs)\n",
                 inference ? "inference" : "train", app, status ? status : "(unknown)", wanted,
                 self->var);
        json_decref (wait.job);
        return NULL;
    }
    return wait.job;
}

/* The SDK's last error as "doing: CODE: message" in err; -1. */
static int
s_sdk_err (rfk_test_platform_t *self, const char *doing, char *err, size_t errlen)
{
    snprintf (err, errlen, "%s: %s: %s", doing, rfk_sdk_code_name (rfk_sdk_error (self->sdk)->code),
              rfk_sdk_error (self->sdk)->message);
    return -1;
}

/* Uploads <$RAFIKI_TEST_IRIS>/<name>.csv as dataset name; its id in id. */
static int
s_dataset (rfk_test_platform_t *self, const char *name, char *id, size_t size, char *err,
           size_t errlen)
{
    const char *folder = getenv ("RAFIKI_TEST_IRIS");
    if (!folder || !*folder)
        return snprintf (err, errlen, "RAFIKI_TEST_IRIS is not set (meson sets it)"), -1;
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%s.csv", folder, name);
    json_t *dataset =
        rfk_sdk_dataset_upload (self->sdk, path, name, "TABULAR_CLASSIFICATION", NULL, NULL);
    if (!dataset)
        return s_sdk_err (self, "dataset upload", err, errlen);
    snprintf (id, size, "%s", json_string_value (json_object_get (dataset, "id")));
    json_decref (dataset);
    return 0;
}

int
rfk_test_platform_iris (rfk_test_platform_t *self, char *err, size_t errlen)
{
    if (*self->train_id)
        return 0;
    if (s_dataset (self, "iris-train", self->train_id, sizeof self->train_id, err, errlen) != 0 ||
        s_dataset (self, "iris-val", self->val_id, sizeof self->val_id, err, errlen) != 0) {
        *self->train_id = 0;
        return -1;
    }
    return 0;
}

char *
rfk_test_platform_model (rfk_test_platform_t *self, const char *path, const char *name, char *err,
                         size_t errlen)
{
    rfk_sdk_model_info_t info = {
        .name = name, .task = "TABULAR_CLASSIFICATION", .access_right = "PUBLIC"};
    json_t *model = rfk_sdk_model_upload (self->sdk, path, &info, NULL, NULL);
    if (!model)
        return s_sdk_err (self, "model upload", err, errlen), NULL;
    char *id = strdup (json_string_value (json_object_get (model, "id")));
    json_decref (model);
    return id;
}

int
rfk_test_platform_train (rfk_test_platform_t *self, const rfk_test_train_t *train, char *err,
                         size_t errlen)
{
    if (rfk_test_platform_iris (self, err, errlen) != 0)
        return -1;
    char *model = rfk_test_platform_model (self, train->model_path, train->model_name, err, errlen);
    if (!model)
        return -1;
    json_t *body =
        json_pack ("{s:s, s:s, s:s, s:s, s:[s], s:{s:i}}", "app", train->app, "task",
                   "TABULAR_CLASSIFICATION", "train_dataset_id", self->train_id, "val_dataset_id",
                   self->val_id, "model_ids", model, "budget", "MODEL_TRIAL_COUNT", train->trials);
    if (train->sleepy_ms)
        json_object_set_new (
            body, "train_args",
            json_pack ("{s:s, s:s}", "sleepy_ms", train->sleepy_ms, "sleepy_steps", "1"));
    json_t *job = rfk_sdk_train_job_create (self->sdk, body);
    json_decref (body);
    free (model);
    if (!job)
        return s_sdk_err (self, "train job create", err, errlen);
    json_decref (job);
    return 0;
}

/* ---- HTTP ---------------------------------------------------------------- */

static size_t
s_on_body (char *data, size_t size, size_t count, void *arg)
{
    zchunk_extend ((zchunk_t *)arg, data, size * count);
    return size * count;
}

/* Takes the Retry-After header's seconds. */
static size_t
s_on_header (char *data, size_t size, size_t count, void *arg)
{
    size_t length = size * count;
    if (length > 12 && strncasecmp (data, "Retry-After:", 12) == 0)
        *(long *)arg = strtol (data + 12, NULL, 10);
    return length;
}

long
rfk_test_http (const char *method, const char *url, const char *token, const char *body,
               json_t **json_p, long *retry_after_p)
{
    CURL *curl = curl_easy_init ();
    zchunk_t *answer = zchunk_new (NULL, 0);
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    char bearer[2048];
    if (token) {
        snprintf (bearer, sizeof bearer, "Authorization: Bearer %s", token);
        headers = curl_slist_append (headers, bearer);
    }
    long retry_after = 0;
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    if (body)
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt (curl, CURLOPT_HEADERDATA, &retry_after);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    if (json_p)
        *json_p = zchunk_size (answer) ? json_loadb ((const char *)zchunk_data (answer),
                                                     zchunk_size (answer), 0, NULL)
                                       : NULL;
    if (retry_after_p)
        *retry_after_p = retry_after;
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    zchunk_destroy (&answer);
    return status;
}

/* ---- a PostgreSQL server of the test's own -------------------------------- */

bool
rfk_test_pg_wanted (void)
{
    const char *url = getenv ("RAFIKI_TEST_PG_URL");
    glob_t found;
    bool installed = glob ("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &found) == 0;
    if (installed)
        globfree (&found);
    return url && *url && installed;
}

/* Runs a PostgreSQL program line as the server's owner; its exit status. */
static int
s_pg_run (rfk_test_pg_t *self, const char *line)
{
    char command[4096];
    snprintf (command, sizeof command, "%s%s/%s >>%s/pg.log 2>&1",
              geteuid () == 0 ? "runuser -u postgres -- " : "", self->bin, line, self->dir);
    int status = system (command);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/* pg_ctl start on self->port. */
static int
s_pg_start (rfk_test_pg_t *self)
{
    char line[2048];
    snprintf (line, sizeof line,
              "pg_ctl -D %s/data -l %s/server.log -w -t 60 -o \"-c listen_addresses=127.0.0.1 "
              "-c port=%d -c unix_socket_directories='%s' -c fsync=off -c "
              "synchronous_commit=off -c full_page_writes=off\" start",
              self->dir, self->dir, self->port, self->dir);
    self->running = s_pg_run (self, line) == 0;
    return self->running ? 0 : -1;
}

int
rfk_test_pg_start (rfk_test_pg_t *self, char *err, size_t errlen)
{
    memset (self, 0, sizeof *self);
    glob_t found;
    if (glob ("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &found) != 0)
        return snprintf (err, errlen, "no initdb"), -1;
    snprintf (self->bin, sizeof self->bin, "%s", found.gl_pathv[found.gl_pathc - 1]);
    globfree (&found);
    *strrchr (self->bin, '/') = 0;
    self->dir = rfk_test_tmpdir_new ("pg");
    if (!self->dir || chmod (self->dir, 0777) != 0)
        return snprintf (err, errlen, "no folder"), -1;
    char line[2048];
    snprintf (line, sizeof line, "initdb -D %s/data -U rafiki -A trust -E UTF8 --locale=C.UTF-8",
              self->dir);
    if (s_pg_run (self, line) != 0)
        return snprintf (err, errlen, "initdb failed (see %s/pg.log)", self->dir), -1;
    for (int attempt = 0; attempt < 10 && !self->running; attempt++) {
        int fd = rfk_test_listen (&self->port);
        if (fd >= 0)
            close (fd);
        s_pg_start (self);
    }
    if (!self->running)
        return snprintf (err, errlen, "the server did not start (see %s)", self->dir), -1;
    snprintf (line, sizeof line, "createdb -h 127.0.0.1 -p %d -U rafiki rafiki", self->port);
    if (s_pg_run (self, line) != 0)
        return snprintf (err, errlen, "createdb failed (see %s/pg.log)", self->dir), -1;
    snprintf (self->url, sizeof self->url, "postgresql://rafiki@127.0.0.1:%d/rafiki", self->port);
    return 0;
}

int
rfk_test_pg_halt (rfk_test_pg_t *self)
{
    char line[1024];
    snprintf (line, sizeof line, "pg_ctl -D %s/data -m fast -w stop", self->dir);
    if (s_pg_run (self, line) != 0)
        return -1;
    self->running = false;
    return 0;
}

int
rfk_test_pg_resume (rfk_test_pg_t *self)
{
    return s_pg_start (self);
}

void
rfk_test_pg_destroy (rfk_test_pg_t *self)
{
    if (!self->dir)
        return;
    if (self->running) {
        char line[1024];
        snprintf (line, sizeof line, "pg_ctl -D %s/data -m immediate -w stop", self->dir);
        s_pg_run (self, line);
        self->running = false;
    }
    rfk_test_tmpdir_destroy (&self->dir);
}
