/*  fake_rafikid.c: a stand-in for rafikid in the launcher tests. It is started as
    `fake_rafikid <role> --service-id <id> [--config FILE]`, reads its secret the way rafikid
    does (rfk_launcher_read_secret), writes a line to stdout and one to stderr, reports what
    it saw on the FIFO named by FAKE_REPORT (if set), and then behaves as FAKE_MODE says:

        run       wait for SIGTERM, then exit 0 (the default)
        exit      exit at once with code FAKE_EXIT_CODE (default 0)
        kill      die by SIGKILL
        stubborn  ignore SIGTERM and wait to be killed
        flaky     exit 3 while the counter in file FAKE_COUNTER is at most FAKE_CRASHES,
                  then run

    The report line is "pid=<pid> role=<role> id=<id> config=<file|-> secret=<secret>
    extra_fds=<descriptors open beyond 0-2> error=<secret error|->".
*/
#define _GNU_SOURCE
#include "rfk_launcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Count descriptors open beyond stdin, stdout and stderr (the directory's own excepted).
static int
s_extra_fds (void)
{
    DIR *dir = opendir ("/proc/self/fd");
    if (!dir)
        return -1;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)))
        if (entry->d_name[0] != '.' && atoi (entry->d_name) > 2 &&
            atoi (entry->d_name) != dirfd (dir))
            count++;
    closedir (dir);
    return count;
}

//  The flaky mode's counter: read, increment, write back; returns the new value.
static int
s_bump_counter (const char *path)
{
    int value = 0;
    FILE *file = fopen (path, "r");
    if (file) {
        if (fscanf (file, "%d", &value) != 1)
            value = 0;
        fclose (file);
    }
    value++;
    file = fopen (path, "w");
    if (file) {
        fprintf (file, "%d\n", value);
        fclose (file);
    }
    return value;
}

int
main (int argc, char *argv[])
{
    //  Block SIGTERM before anything, so run mode can sigwait for it.
    sigset_t term;
    sigemptyset (&term);
    sigaddset (&term, SIGTERM);
    sigprocmask (SIG_BLOCK, &term, NULL);

    if (argc < 4 || strcmp (argv[2], "--service-id")) {
        fprintf (stderr, "usage: fake_rafikid ROLE --service-id ID [--config FILE]\n");
        return 2;
    }
    const char *role = argv[1];
    const char *id = argv[3];
    const char *config = argc >= 6 && !strcmp (argv[4], "--config") ? argv[5] : "-";

    char error[256] = "-";
    char *secret = rfk_launcher_read_secret (error, sizeof error);
    for (char *c = error; *c; c++)
        if (*c == ' ')
            *c = '_';
    int extra_fds = s_extra_fds ();

    printf ("hello from stdout of %s\n", id);
    fflush (stdout);
    fprintf (stderr, "hello from stderr of %s\n", id);

    const char *report = getenv ("FAKE_REPORT");
    if (report) {
        FILE *fifo = fopen (report, "w");
        if (fifo) {
            fprintf (fifo, "pid=%d role=%s id=%s config=%s secret=%s extra_fds=%d error=%s\n",
                     (int)getpid (), role, id, config, secret ? secret : "-", extra_fds, error);
            fclose (fifo);
        }
    }
    free (secret);

    const char *mode = getenv ("FAKE_MODE") ? getenv ("FAKE_MODE") : "run";
    if (!strcmp (mode, "flaky")) {
        const char *counter = getenv ("FAKE_COUNTER");
        int crashes = getenv ("FAKE_CRASHES") ? atoi (getenv ("FAKE_CRASHES")) : 1;
        if (counter && s_bump_counter (counter) <= crashes) {
            fprintf (stderr, "flaky: crashing\n");
            return 3;
        }
        mode = "run";
    }
    if (!strcmp (mode, "exit"))
        return getenv ("FAKE_EXIT_CODE") ? atoi (getenv ("FAKE_EXIT_CODE")) : 0;
    if (!strcmp (mode, "kill")) {
        fprintf (stderr, "killing myself\n");
        raise (SIGKILL);
    }
    if (!strcmp (mode, "stubborn")) {
        signal (SIGTERM, SIG_IGN);
        sigprocmask (SIG_UNBLOCK, &term, NULL);
        for (;;)
            pause ();
    }
    int sig = 0;
    sigwait (&term, &sig);
    printf ("got SIGTERM, exiting\n");
    return 0;
}
