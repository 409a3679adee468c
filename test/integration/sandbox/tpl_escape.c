/*  tpl_escape.c: the hostile template of the sandbox suite (issue 13.5).

    One build; what a copy does is written after its last ELF byte (the
    loader ignores what follows the sections), so one file serves every
    case. The trailer is one line

        RFK-ESCAPE where=check|trial|worker|service|none attack=NAME tag=TAG
                   store=P environ=P key=P dataset=P template=P jobdir=P port=N
                   [socket=P]

    and names where the copy attacks (the upload check, a trial, an
    inference worker; none: a good template), which escape, the tag its
    processes take as their name (so the test finds any left behind), and
    the targets, which the test only knows once admin runs.

    The attacks (s_attack): read-store, read-environ, read-key,
    read-dataset, read-template (open and read a byte), write-job (create a
    file in another job's folder), connect-admin (TCP to admin's command
    port, then a ZMTP greeting asking for the NULL mechanism), connect-unix
    (to the socket file socket=P, e.g. the Docker socket), signal-parent
    (kill with signal 0: may it signal the process that started it), ptrace
    (PTRACE_ATTACH to the process that started it, then to pid 1),
    grandchild (a detached grandchild that sleeps for an hour), forkbomb
    (every process forks until refused, then sleeps), allocate (8 GiB
    mapped and touched), write-10g (one file of 10 GiB), spin (forever);
    quiet, in a trial's train only: every attack that returns, plus
    read-secret (secret=P), each "NAME:blocked" or "NAME:ESCAPED" on one
    line (one trial tries them all: the swarm suite).

    Where it attacks:
    - check: the constructor attacks while admin's check loads the file;
      a blocked attempt ends the check (exit 3: the upload is refused), an
      escape keeps going with the model named "ESCAPED <attack>".
    - trial: the constructor attacks, and train attacks again; train
      fails with "ctor: RESULT; train: RESULT" (the trial's reason).
    - worker: the constructor tries every attack that returns (reads,
      write, connect, ptrace, grandchild) and keeps the results; each
      query {"attack": NAME, "from": "ctor"|"predict"} is answered with the
      constructor's result or a new attempt (any attack) in predict.
    - service: the constructor attacks in a service that is not an
      inference worker yet opens the template (the trainer does, to read
      its knob table): it must never run template code.
    A result is "NAME: blocked: WHAT" or "NAME: ESCAPED: WHAT".
*/
#define _GNU_SOURCE
#include <rafiki/model.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rfk_test_template.h"

#define S_RESULT_MAX 300 /* one attack's result */

static char s_trailer[4096];           /* the copy's trailer line, "" when none */
static char s_where[16];               /* check, trial, worker or none */
static char s_place[16];               /* where this process is: check, trial or worker */
static char s_ctor[S_RESULT_MAX * 2];  /* trial: the constructor's result */
static char s_name[64] = "TestEscape"; /* the model's name */

/* The attacks a worker's constructor tries (those that return). */
static const char *const s_quiet[] = {"read-store",    "read-environ",  "read-key",
                                      "read-dataset",  "read-template", "write-job",
                                      "connect-admin", "ptrace",        "grandchild"};
#define S_N_QUIET (sizeof s_quiet / sizeof s_quiet[0])
static char s_quiet_result[S_N_QUIET][S_RESULT_MAX]; /* worker: the constructor's results */

/* The value of name=VALUE in the trailer, copied into out ("" if none). */
static const char *
s_get (const char *name, char *out, size_t size)
{
    out[0] = 0;
    size_t len = strlen (name);
    for (const char *at = s_trailer; (at = strstr (at, name)); at += len)
        if ((at == s_trailer || at[-1] == ' ') && at[len] == '=') {
            snprintf (out, size, "%.*s", (int)strcspn (at + len + 1, " \n"), at + len + 1);
            break;
        }
    return out;
}

/* Read the trailer from this file's own end. */
static void
s_read_trailer (void)
{
    Dl_info info;
    if (!dladdr (s_trailer, &info) || !info.dli_fname)
        return;
    FILE *self = fopen (info.dli_fname, "rb");
    if (!self)
        return;
    static char tail[8192];
    fseek (self, 0, SEEK_END);
    long size = ftell (self);
    fseek (self, size > (long)sizeof tail - 1 ? size - (long)sizeof tail + 1 : 0, SEEK_SET);
    size_t got = fread (tail, 1, sizeof tail - 1, self);
    fclose (self);
    tail[got] = 0;
    const char *mark = NULL;
    for (size_t i = 0; i + 11 < got; i++)
        if (memcmp (tail + i, "RFK-ESCAPE ", 11) == 0)
            mark = tail + i;
    if (mark)
        snprintf (s_trailer, sizeof s_trailer, "%.*s", (int)strcspn (mark, "\n"), mark);
}

/* Where this process is: the check (rafikid check-template), an inference
   worker (a service's environment), else a trial. */
static void
s_find_place (void)
{
    char cmdline[512] = "";
    FILE *f = fopen ("/proc/self/cmdline", "rb");
    size_t n = f ? fread (cmdline, 1, sizeof cmdline - 1, f) : 0;
    if (f)
        fclose (f);
    cmdline[n] = 0;
    const char *arg1 = cmdline + strlen (cmdline) + 1;
    if (arg1 < cmdline + n && strcmp (arg1, "check-template") == 0)
        snprintf (s_place, sizeof s_place, "check");
    else if (getenv ("RAFIKI_SERVICE_ROLE") &&
             strcmp (getenv ("RAFIKI_SERVICE_ROLE"), "inference") == 0)
        snprintf (s_place, sizeof s_place, "worker");
    else if (getenv ("RAFIKI_SERVICE_ROLE")) /* a trainer (or advisor) that opened the file */
        snprintf (s_place, sizeof s_place, "service");
    else
        snprintf (s_place, sizeof s_place, "trial");
}

/* This process takes the tag as its name (what the test looks for). */
static void
s_take_tag (void)
{
    char tag[32];
    s_get ("tag", tag, sizeof tag);
    if (*tag)
        prctl (PR_SET_NAME, tag, 0, 0, 0);
}

static void
s_sleep (int seconds)
{
    struct timespec pause = {seconds, 0};
    while (nanosleep (&pause, &pause) != 0)
        ;
}

/* "attack: blocked: <strerror (e)>" (e != 0) or "attack: ESCAPED: what". */
static bool
s_result (char *out, const char *attack, int e, const char *what)
{
    if (e)
        snprintf (out, S_RESULT_MAX, "%.40s: blocked: %.60s%s%.160s", attack, strerror (e),
                  what ? " " : "", what ? what : "");
    else
        snprintf (out, S_RESULT_MAX, "%.40s: ESCAPED: %.160s", attack, what ? what : "it worked");
    return e == 0;
}

/* Open a file for reading and read one byte. */
static bool
s_read (const char *attack, const char *target, char *out)
{
    int fd = open (target, O_RDONLY);
    char byte;
    int e = fd < 0 ? errno : read (fd, &byte, 1) < 0 ? errno : 0;
    if (fd >= 0)
        close (fd);
    return s_result (out, attack, e, target);
}

/* Create a file in another job's folder. */
static bool
s_write_job (const char *dir, char *out)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/planted-by-escape", dir);
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    int e = fd < 0 ? errno : 0;
    if (fd >= 0)
        close (fd);
    return s_result (out, "write-job", e, path);
}

/* TCP to admin's command port, then a ZMTP 3.0 greeting for NULL: admin
   answers CURVE, or closes. */
static bool
s_connect_admin (int port, char *out)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons ((uint16_t)port)};
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (fd < 0 || connect (fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        if (fd >= 0)
            close (fd);
        return s_result (out, "connect-admin", e, "(TCP)");
    }
    unsigned char greeting[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'N', 'U', 'L', 'L'};
    unsigned char answer[64] = {0};
    size_t got = 0;
    if (write (fd, greeting, sizeof greeting) == (ssize_t)sizeof greeting) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t n = 1;
        while (got < sizeof answer && n > 0 && poll (&p, 1, 3000) == 1)
            if ((n = read (fd, answer + got, sizeof answer - got)) > 0)
                got += (size_t)n;
    }
    close (fd);
    char mechanism[24] = "";
    if (got >= 32)
        snprintf (mechanism, sizeof mechanism, "%.20s", (const char *)answer + 12);
    char what[96];
    snprintf (what, sizeof what, "(admin answered mechanism '%s' to NULL)", mechanism);
    if (strcmp (mechanism, "NULL") == 0)
        return s_result (out, "connect-admin", 0, what);
    return s_result (out, "connect-admin", EACCES, what);
}

/* Connect to a unix socket file (socket=P: the Docker socket, say, which
   is root on its node), then ask it for its version. */
static bool
s_connect_unix (const char *path, char *out)
{
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf (sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fd < 0 || connect (fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        if (fd >= 0)
            close (fd);
        return s_result (out, "connect-unix", e, path);
    }
    const char ask[] = "GET /version HTTP/1.0\r\n\r\n";
    ssize_t sent = write (fd, ask, sizeof ask - 1);
    close (fd);
    char what[300];
    snprintf (what, sizeof what, "connected to %.200s%s", path, sent > 0 ? " and wrote" : "");
    return s_result (out, "connect-unix", 0, what);
}

/* Whether it may signal its parent (admin, in the upload check): signal 0
   asks the kernel without sending anything. */
static bool
s_signal_parent (char *out)
{
    char what[64];
    snprintf (what, sizeof what, "(pid %d)", (int)getppid ());
    int e = kill (getppid (), 0) == 0 ? 0 : errno;
    return s_result (out, "signal-parent", e, what);
}

/* PTRACE_ATTACH to the parent (in a trial, what runs the trainer's side),
   then to pid 1 of whatever pid namespace this is in. */
static bool
s_ptrace (char *out)
{
    pid_t targets[] = {getppid (), 1};
    for (size_t i = 0; i < 2; i++)
        if (targets[i] > 0 && targets[i] != getpid () &&
            ptrace (PTRACE_ATTACH, targets[i], 0, 0) == 0) {
            char what[64];
            snprintf (what, sizeof what, "attached to pid %d", (int)targets[i]);
            ptrace (PTRACE_DETACH, targets[i], 0, 0);
            return s_result (out, "ptrace", 0, what);
        }
    return s_result (out, "ptrace", errno ? errno : EPERM, "(parent, pid 1)");
}

/* A grandchild in a session of its own, sleeping for an hour: whatever
   ends the template must end it too (the test looks for the tag). */
static bool
s_grandchild (char *out)
{
    pid_t child = fork ();
    if (child == 0) {
        setsid ();
        if (fork () == 0) {
            s_take_tag ();
            s_sleep (3600);
        }
        _exit (0);
    }
    if (child > 0)
        while (waitpid (child, NULL, 0) < 0 && errno == EINTR)
            ;
    snprintf (out, S_RESULT_MAX, "grandchild: left running (the test checks it was ended)");
    return false;
}

/* Every process forks until refused, then sleeps; the first one reports
   how many it made. ESCAPED past 5,000 (no limit held). */
static bool
s_forkbomb (char *out)
{
    int made = 0, e = 0;
    for (; made < 5000; made++) {
        pid_t pid = fork ();
        if (pid < 0) {
            e = errno;
            break;
        }
        if (pid == 0) {
            s_take_tag ();
            while (fork () >= 0)
                ;
            s_sleep (3600);
            _exit (0);
        }
    }
    char what[64];
    snprintf (what, sizeof what, "(after %d forks)", made);
    return s_result (out, "forkbomb", e, what);
}

/* Map and touch 8 GiB, 64 MiB at a time. */
static bool
s_allocate (char *out)
{
    size_t chunk = (size_t)64 << 20, done = 0;
    for (; done < ((size_t)8 << 30); done += chunk) {
        char *p = mmap (NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            char what[64];
            snprintf (what, sizeof what, "(after %zu MiB)", done >> 20);
            return s_result (out, "allocate", errno, what);
        }
        for (size_t i = 0; i < chunk; i += 4096)
            p[i] = 1;
    }
    return s_result (out, "allocate", 0, "8 GiB touched");
}

/* One file of 10 GiB, in the working folder or else /tmp. */
static bool
s_write_10g (char *out)
{
    static char block[1 << 20];
    memset (block, 'x', sizeof block);
    int fd = open ("escape-10g", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        fd = open ("/tmp/escape-10g", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 && strcmp (s_place, "worker") == 0) /* its log: the one file it may write */
        fd = dup (1);
    if (fd < 0)
        return s_result (out, "write-10g", errno, "(open)");
    for (int mb = 0; mb < 10 * 1024; mb++)
        if (write (fd, block, sizeof block) != (ssize_t)sizeof block) {
            int e = errno ? errno : ENOSPC;
            close (fd);
            char what[64];
            snprintf (what, sizeof what, "(after %d MiB)", mb);
            return s_result (out, "write-10g", e, what);
        }
    close (fd);
    return s_result (out, "write-10g", 0, "10 GiB written");
}

static bool
s_attack (const char *attack, char *out);

/* The attacks of attack=quiet (a trial's train, once each): "NAME:blocked"
   or "NAME:ESCAPED", space-separated, into out. True when one escaped. */
static bool
s_quiet_all (char *out)
{
    static const char *const all[] = {"read-store",   "read-environ",  "read-key",  "read-secret",
                                      "read-dataset", "read-template", "write-job", "connect-admin",
                                      "connect-unix", "signal-parent", "ptrace",    "grandchild"};
    bool escaped = false;
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        char one[S_RESULT_MAX];
        bool this_one = s_attack (all[i], one);
        escaped = escaped || this_one;
        int n = snprintf (out + used, S_RESULT_MAX - used, "%s%s:%s", used ? " " : "", all[i],
                          this_one ? "ESCAPED" : "blocked");
        if (n < 0 || (size_t)n >= S_RESULT_MAX - used)
            break;
        used += (size_t)n;
    }
    return escaped;
}

/* Run attack; the result into out (S_RESULT_MAX). True when it escaped. */
static bool
s_attack (const char *attack, char *out)
{
    char target[1024];
    errno = 0;
    if (strcmp (attack, "quiet") == 0)
        return s_quiet_all (out);
    if (strncmp (attack, "read-", 5) == 0)
        return s_read (attack, s_get (attack + 5, target, sizeof target), out);
    if (strcmp (attack, "write-job") == 0)
        return s_write_job (s_get ("jobdir", target, sizeof target), out);
    if (strcmp (attack, "connect-admin") == 0)
        return s_connect_admin (atoi (s_get ("port", target, sizeof target)), out);
    if (strcmp (attack, "connect-unix") == 0)
        return s_connect_unix (s_get ("socket", target, sizeof target), out);
    if (strcmp (attack, "signal-parent") == 0)
        return s_signal_parent (out);
    if (strcmp (attack, "ptrace") == 0)
        return s_ptrace (out);
    if (strcmp (attack, "grandchild") == 0)
        return s_grandchild (out);
    if (strcmp (attack, "forkbomb") == 0)
        return s_forkbomb (out);
    if (strcmp (attack, "allocate") == 0)
        return s_allocate (out);
    if (strcmp (attack, "write-10g") == 0)
        return s_write_10g (out);
    if (strcmp (attack, "spin") == 0)
        for (volatile unsigned long i = 0;; i++)
            ;
    snprintf (out, S_RESULT_MAX, "%s: unknown attack", attack);
    return false;
}

/* The copy's attack where it runs. */
__attribute__ ((constructor)) static void
s_on_load (void)
{
    s_read_trailer ();
    s_get ("where", s_where, sizeof s_where);
    s_find_place ();
    if (!*s_where || strcmp (s_where, s_place) != 0)
        return;
    s_take_tag ();
    char attack[64], result[S_RESULT_MAX];
    s_get ("attack", attack, sizeof attack);
    if (strcmp (s_place, "check") == 0) {
        if (s_attack (attack, result))
            snprintf (s_name, sizeof s_name, "ESCAPED %.40s", attack);
        else
            _exit (3);
    } else if (strcmp (s_place, "service") == 0) {
        s_attack (attack, result); /* where=service: write-job only (it runs unsandboxed) */
    } else if (strcmp (s_place, "trial") == 0) {
        if (strcmp (attack, "quiet") == 0) /* in train alone: one line of results */
            snprintf (result, sizeof result, "quiet in train");
        else
            s_attack (attack, result);
        snprintf (s_ctor, sizeof s_ctor, "ctor: %s", result);
    } else
        for (size_t i = 0; i < S_N_QUIET; i++)
            s_attack (s_quiet[i], s_quiet_result[i]);
}

static const rafiki_knob_t s_knobs[] = {
    {.name = "fixed", .type = RAFIKI_KNOB_FIXED, .value = {RAFIKI_VALUE_INT, {.i = 1}}},
};

static void *
s_create (const rafiki_knobs_t *knobs, char *err, size_t errlen)
{
    (void)knobs, (void)err, (void)errlen;
    static int model;
    return &model;
}

static int
s_train (void *model, const char *path, const rafiki_args_t *args, const msgpack_object *shared,
         rafiki_context_t *ctx, char *err, size_t errlen)
{
    (void)model, (void)path, (void)args, (void)shared, (void)ctx;
    if (strcmp (s_where, "trial") != 0)
        return 0;
    char attack[64], result[S_RESULT_MAX];
    s_get ("attack", attack, sizeof attack);
    s_attack (attack, result);
    snprintf (err, errlen, "%s; train: %s", s_ctor, result);
    return -1;
}

static int
s_evaluate (void *model, const char *path, double *score, char *err, size_t errlen)
{
    (void)model, (void)path, (void)err, (void)errlen;
    *score = 0.5;
    return 0;
}

/* The string value of key in a msgpack map, copied into out ("" if none). */
static void
s_query_field (const msgpack_object *query, const char *key, char *out, size_t size)
{
    out[0] = 0;
    if (query->type != MSGPACK_OBJECT_MAP)
        return;
    for (uint32_t i = 0; i < query->via.map.size; i++) {
        const msgpack_object_kv *kv = &query->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen (key) &&
            memcmp (kv->key.via.str.ptr, key, strlen (key)) == 0 &&
            kv->val.type == MSGPACK_OBJECT_STR)
            snprintf (out, size, "%.*s", (int)kv->val.via.str.size, kv->val.via.str.ptr);
    }
}

/* One answer per query: a worker's results; "ok" from a good template. */
static int
s_predict (void *model, const msgpack_object *queries, msgpack_packer *out, char *err,
           size_t errlen)
{
    (void)model, (void)err, (void)errlen;
    uint32_t n = queries->type == MSGPACK_OBJECT_ARRAY ? queries->via.array.size : 0;
    msgpack_pack_array (out, n);
    for (uint32_t q = 0; q < n; q++) {
        char attack[64], from[16], result[S_RESULT_MAX] = "ok";
        s_query_field (&queries->via.array.ptr[q], "attack", attack, sizeof attack);
        s_query_field (&queries->via.array.ptr[q], "from", from, sizeof from);
        if (strcmp (s_where, "worker") == 0 && strcmp (from, "ctor") == 0) {
            snprintf (result, sizeof result, "%s: not tried", attack);
            for (size_t i = 0; i < S_N_QUIET; i++)
                if (strcmp (s_quiet[i], attack) == 0)
                    memcpy (result, s_quiet_result[i], sizeof result);
        } else if (strcmp (s_where, "worker") == 0 && *attack)
            s_attack (attack, result);
        msgpack_pack_str (out, strlen (result));
        msgpack_pack_str_body (out, result, strlen (result));
    }
    return 0;
}

static rafiki_model_api_t s_api = {
    .abi_version = RAFIKI_MODEL_ABI_VERSION,
    .task = RAFIKI_TASK_TABULAR_CLASSIFICATION,
    .knobs = s_knobs,
    .n_knobs = 1,
    .create = s_create,
    .train = s_train,
    .evaluate = s_evaluate,
    .predict = s_predict,
    .dump_params = rfk_test_tpl_dump_nil,
    .load_params = rfk_test_tpl_load_nothing,
    .destroy = rfk_test_tpl_keep,
};

const rafiki_model_api_t *
rafiki_model (void)
{
    s_api.name = s_name;
    return &s_api;
}
