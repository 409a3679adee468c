/*  tpl_hostile.c: templates that misbehave while admin's check loads them
    (issue 13), each built from this file with one -D flag and otherwise
    tpl_good.c:

    - HOSTILE_SPY: a constructor writes what it can see into SPY_DIR/spy:
      each environment entry ("env NAME=value") and each open descriptor
      ("fd N -> target"). Otherwise a good template.
    - HOSTILE_LONG_NAME: the model's name is 10 KiB long.
    - HOSTILE_CONTROL_NAME: the model's name holds an escape sequence.
    - HOSTILE_GRANDCHILD=quick|hang: a constructor forks a grandchild that
      writes its pid to SPY_DIR/grandchild-<kind>.pid and sleeps ten
      minutes; with quick the check then goes on (the template is good),
      with hang it sleeps too, past the check's deadline.

    - HOSTILE_FORGE: a constructor writes a report of its own into every
      descriptor that may be the report pipe (an accepting one, whose
      model name has an escape sequence and whose knob name is 4 KiB) and
      ends the process: admin must check what it reads.

    SPY_DIR is a path built in: the check runs with an empty environment.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined HOSTILE_LONG_NAME
static char s_long_name[10 * 1024 + 1];

__attribute__ ((constructor)) static void
s_fill_name (void)
{
    memset (s_long_name, 'A', sizeof s_long_name - 1);
}
#define TPL_NAME s_long_name
#elif defined HOSTILE_CONTROL_NAME
#define TPL_NAME "Evil\x1b[2JName"
#else
#define TPL_NAME "TestHostile"
#endif

static void __attribute__ ((unused)) s_sleep (int seconds)
{
    struct timespec pause = {seconds, 0};
    while (nanosleep (&pause, &pause) != 0)
        ;
}

#if defined HOSTILE_SPY
extern char **environ;

__attribute__ ((constructor)) static void
s_spy (void)
{
    FILE *out = fopen (SPY_DIR "/spy", "w");
    if (!out)
        return;
    for (char **entry = environ; entry && *entry; entry++)
        fprintf (out, "env %s\n", *entry);
    DIR *fds = opendir ("/proc/self/fd");
    struct dirent *item;
    while (fds && (item = readdir (fds))) {
        if (item->d_name[0] == '.')
            continue;
        char path[300], target[512] = "";
        snprintf (path, sizeof path, "/proc/self/fd/%s", item->d_name);
        ssize_t got = readlink (path, target, sizeof target - 1);
        target[got > 0 ? got : 0] = 0;
        fprintf (out, "fd %s -> %s\n", item->d_name, target);
    }
    if (fds)
        closedir (fds);
    fclose (out);
}
#endif

#if defined HOSTILE_GRANDCHILD
__attribute__ ((constructor)) static void
s_grandchild (void)
{
    pid_t pid = fork ();
    if (pid == 0) {
        FILE *out = fopen (SPY_DIR "/grandchild-" HOSTILE_GRANDCHILD ".pid.part", "w");
        if (out) {
            fprintf (out, "%d\n", (int)getpid ());
            fclose (out);
            rename (SPY_DIR "/grandchild-" HOSTILE_GRANDCHILD ".pid.part",
                    SPY_DIR "/grandchild-" HOSTILE_GRANDCHILD ".pid");
        }
        s_sleep (600);
        _exit (0);
    }
    //  Until the grandchild said who it is, so the test can look for it.
    for (int tries = 0;
         tries < 500 && access (SPY_DIR "/grandchild-" HOSTILE_GRANDCHILD ".pid", F_OK) != 0;
         tries++)
        usleep (10000);
    if (strcmp (HOSTILE_GRANDCHILD, "hang") == 0)
        s_sleep (600);
}
#endif

#if defined HOSTILE_FORGE
__attribute__ ((constructor)) static void
s_forge (void)
{
    static char report[8192];
    int at = snprintf (report, sizeof report,
                       "{\"ok\": true, \"abi_version\": 1, \"task\": "
                       "\"TABULAR_CLASSIFICATION\", \"name\": \"Forged\\u001b[2J\", "
                       "\"policies\": [], \"knobs\": [{\"type\": \"INTEGER\", \"min\": 1, "
                       "\"max\": 2, \"name\": \"");
    memset (report + at, 'K', 4096);
    snprintf (report + at + 4096, sizeof report - (size_t)at - 4096, "\"}]}");
    for (int fd = 1; fd < 16; fd++)
        if (write (fd, report, strlen (report)) < 0)
            continue;
    _exit (0);
}
#endif

#include "tpl_good.c"
