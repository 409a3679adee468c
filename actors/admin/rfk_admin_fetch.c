/*  rfk_admin_fetch.c: datasets named by URL (`dataset_url`), fetched with
    libcurl off admin's loop.

    A dataset upload whose UploadStart names `dataset_url` and that carries
    no bytes is finished here instead of checked at once: one thread per
    fetch (at most S_FETCHES_MAX at once) downloads the URL into the
    upload's partial file through rfk_admin_upload_write, so the size cap
    (admin.upload_max_bytes) and the running SHA-256 are the same as for a
    file sent by the client. The thread owns the upload until it ends; then
    it writes to an eventfd in admin's poll set and rfk_admin_fetch_tick,
    in admin's loop, joins it and concludes the upload as any other dataset
    (format check, store record, reply to whoever finished the upload).

    What may be fetched:
    - http and https, redirects only to http and https, at most 5;
    - file, only beneath admin.dataset_url_file_root (off when empty), the
      path resolved first so a link cannot lead out of it;
    - within admin.dataset_url_timeout_s, and never more than the upload cap
      (a Content-Length over it is refused before a byte is read).
    A fetch ends early when its request is dropped (the HTTP client went
    away: rfk_admin_fetch_cancel) or admin stops. Errors name the URL and
    what failed.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define S_FETCHES_MAX 4   /* downloads at once; more are refused (503) */
#define S_URL_MAX 2048    /* longest dataset_url */
#define S_SHOWN_URL 200   /* how much of a URL an error shows */
#define S_MAX_REDIRECTS 5 /* redirects followed */

/* One download in progress. */
typedef struct {
    rfk_upload_t *up;               /* the upload, the thread's until it ends */
    char *url;                      /* what is fetched (a file URL as resolved) */
    char shown[S_SHOWN_URL + 1];    /* the URL as errors name it */
    long timeout_s;                 /* admin.dataset_url_timeout_s */
    int event_fd;                   /* admin's eventfd: written once the thread ends */
    rfk_admin_upload_done_fn *done; /* who hears the reply */
    void *arg;                      /* its argument */
    uint64_t ticket;                /* and ticket */
    pthread_t thread;               /* the download */
    atomic_bool cancel;             /* set by admin: stop as soon as possible */
    atomic_bool ended;              /* set by the thread as it ends */
    int rc;                         /* 0, or -1 with err */
    rfk_code_t code;                /* the error's code */
    char err[768];                  /* why it failed */
} s_fetch_t;

/* ---- the thread ------------------------------------------------------------ */

static size_t
s_on_data (char *data, size_t size, size_t count, void *arg)
{
    s_fetch_t *fetch = (s_fetch_t *)arg;
    rfk_msg_t *error = NULL;
    if (rfk_admin_upload_write (fetch->up, data, size * count, &error) != 0) {
        const char *why =
            error ? json_string_value (json_object_get (error->body, "message")) : NULL;
        fetch->code = error ? (rfk_code_t)json_integer_value (json_object_get (error->body, "code"))
                            : RFK_CODE_UNAVAILABLE;
        snprintf (fetch->err, sizeof fetch->err, "dataset_url %s: %s", fetch->shown,
                  why ? why : "cannot write the download");
        rfk_msg_destroy (&error);
        return 0; //  curl stops with CURLE_WRITE_ERROR
    }
    return size * count;
}

static int
s_on_progress (void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
               curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return atomic_load (&((s_fetch_t *)arg)->cancel) ? 1 : 0;
}

/* The curl handle of a fetch, its options set; NULL when curl has none. */
static CURL *
s_easy (s_fetch_t *fetch, char *curl_err)
{
    CURL *curl = curl_easy_init ();
    if (!curl)
        return NULL;
    curl_easy_setopt (curl, CURLOPT_URL, fetch->url);
    curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt (curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt (curl, CURLOPT_MAXREDIRS, (long)S_MAX_REDIRECTS);
    curl_easy_setopt (curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, fetch->timeout_s);
    curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt (curl, CURLOPT_USERAGENT, "rafiki-c-admin");
    curl_easy_setopt (curl, CURLOPT_MAXFILESIZE_LARGE,
                      (curl_off_t)rfk_admin_upload_cap (fetch->up));
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_on_data);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, fetch);
    curl_easy_setopt (curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt (curl, CURLOPT_XFERINFOFUNCTION, s_on_progress);
    curl_easy_setopt (curl, CURLOPT_XFERINFODATA, fetch);
    curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, curl_err);
    return curl;
}

static void *
s_fetch_thread (void *arg)
{
    s_fetch_t *fetch = (s_fetch_t *)arg;
    char curl_err[CURL_ERROR_SIZE] = "";
    CURL *curl = s_easy (fetch, curl_err);
    CURLcode code = curl ? curl_easy_perform (curl) : CURLE_FAILED_INIT;
    fetch->rc = code == CURLE_OK ? 0 : -1;
    if (code == CURLE_WRITE_ERROR && fetch->err[0])
        ; //  s_on_data said why
    else if (code == CURLE_ABORTED_BY_CALLBACK) {
        fetch->code = RFK_CODE_UNAVAILABLE;
        snprintf (fetch->err, sizeof fetch->err, "dataset_url %s: the download was cancelled",
                  fetch->shown);
    } else if (code == CURLE_FILESIZE_EXCEEDED) {
        fetch->code = RFK_CODE_TOO_LARGE;
        snprintf (fetch->err, sizeof fetch->err,
                  "dataset_url %s: the file is over the upload limit of %llu bytes", fetch->shown,
                  (unsigned long long)rfk_admin_upload_cap (fetch->up));
    } else if (code != CURLE_OK) {
        fetch->code = RFK_CODE_BAD_REQUEST;
        snprintf (fetch->err, sizeof fetch->err, "dataset_url %s: %s", fetch->shown,
                  curl_err[0] ? curl_err : curl_easy_strerror (code));
    }
    curl_easy_cleanup (curl);
    atomic_store (&fetch->ended, true);
    uint64_t one = 1;
    ssize_t written = write (fetch->event_fd, &one, sizeof one);
    (void)written; //  the counter cannot overflow with S_FETCHES_MAX writers
    return NULL;
}

/* ---- admin's side ------------------------------------------------------------ */

int
rfk_admin_fetch_setup (rfk_admin_t *self)
{
    self->fetch_fd = -1;
    self->fetches = zlistx_new ();
    self->fetch_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!self->fetches || self->fetch_fd < 0)
        return -1;
    return curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int
rfk_admin_fetch_fd (rfk_admin_t *self)
{
    return self->fetch_fd;
}

/* "file:" URLs: the resolved path, beneath the configured root, as a file
   URL (to free); NULL with err when refused. */
static char *
s_file_url (rfk_admin_t *self, const char *url, const char *shown, char *err, size_t errlen)
{
    const char *root = rfk_config_string (self->config, "admin", "dataset_url_file_root");
    if (!root || !*root) {
        snprintf (err, errlen,
                  "dataset_url %s: file URLs are off (admin.dataset_url_file_root names the "
                  "folder they may read)",
                  shown);
        return NULL;
    }
    CURLU *parsed = curl_url ();
    char *path = NULL;
    char resolved[PATH_MAX], root_resolved[PATH_MAX];
    char *file_url = NULL;
    if (parsed && curl_url_set (parsed, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get (parsed, CURLUPART_PATH, &path, CURLU_URLDECODE) == CURLUE_OK &&
        realpath (root, root_resolved) && realpath (path, resolved)) {
        size_t n = strlen (root_resolved);
        bool beneath = strncmp (resolved, root_resolved, n) == 0 &&
                       (resolved[n] == '/' || streq (root_resolved, "/"));
        if (beneath)
            file_url = zsys_sprintf ("file://%s", resolved);
        else
            snprintf (err, errlen, "dataset_url %s: not beneath admin.dataset_url_file_root",
                      shown);
    } else
        snprintf (err, errlen, "dataset_url %s: no such file (%s)", shown, strerror (errno));
    curl_free (path);
    curl_url_cleanup (parsed);
    return file_url;
}

/* The URL to fetch (to free), or NULL with err: http, https or file. */
static char *
s_checked_url (rfk_admin_t *self, const char *url, const char *shown, char *err, size_t errlen)
{
    if (strlen (url) > S_URL_MAX) {
        snprintf (err, errlen, "dataset_url is longer than %d characters", S_URL_MAX);
        return NULL;
    }
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            snprintf (err, errlen, "dataset_url %s: has spaces or control characters", shown);
            return NULL;
        }
    if (strncasecmp (url, "http://", 7) == 0 || strncasecmp (url, "https://", 8) == 0)
        return strdup (url);
    if (strncasecmp (url, "file:", 5) == 0)
        return s_file_url (self, url, shown, err, errlen);
    snprintf (err, errlen, "dataset_url %s: only http, https and file URLs are fetched", shown);
    return NULL;
}

static void
s_fetch_free (s_fetch_t **fetch_p)
{
    s_fetch_t *fetch = *fetch_p;
    if (!fetch)
        return;
    rfk_admin_upload_abort (NULL, &fetch->up);
    free (fetch->url);
    free (fetch);
    *fetch_p = NULL;
}

rfk_msg_t *
rfk_admin_fetch_start (rfk_admin_t *self, rfk_upload_t **up_p, const char *url,
                       rfk_admin_upload_done_fn *done, void *arg, uint64_t ticket)
{
    char shown[S_SHOWN_URL + 1], err[768];
    snprintf (shown, sizeof shown, "%s", url);
    if (zlistx_size (self->fetches) >= S_FETCHES_MAX) {
        rfk_admin_upload_abort (self, up_p);
        return rfk_admin_error (NULL, RFK_CODE_UNAVAILABLE,
                                "%d datasets are being downloaded already; try again soon",
                                S_FETCHES_MAX);
    }
    char *checked = s_checked_url (self, url, shown, err, sizeof err);
    s_fetch_t *fetch = checked ? (s_fetch_t *)calloc (1, sizeof *fetch) : NULL;
    if (!fetch) {
        free (checked);
        rfk_admin_upload_abort (self, up_p);
        return rfk_admin_error (NULL, RFK_CODE_BAD_REQUEST, "%s", err);
    }
    *fetch = (s_fetch_t){.up = *up_p,
                         .url = checked,
                         .event_fd = self->fetch_fd,
                         .timeout_s =
                             (long)rfk_config_int (self->config, "admin", "dataset_url_timeout_s"),
                         .done = done,
                         .arg = arg,
                         .ticket = ticket};
    *up_p = NULL;
    rfk_admin_upload_fetching (fetch->up);
    snprintf (fetch->shown, sizeof fetch->shown, "%s", shown);
    if (pthread_create (&fetch->thread, NULL, s_fetch_thread, fetch) != 0) {
        s_fetch_free (&fetch);
        return rfk_admin_error (NULL, RFK_CODE_UNAVAILABLE, "cannot start the download");
    }
    zlistx_add_end (self->fetches, fetch);
    rfk_log_info (RFK_ADMIN_LOG, "dataset-fetch-start url=%s ticket=%llu", fetch->shown,
                  (unsigned long long)ticket);
    return NULL;
}

void
rfk_admin_fetch_cancel (rfk_admin_t *self, uint64_t ticket)
{
    for (s_fetch_t *fetch = (s_fetch_t *)zlistx_first (self->fetches); fetch;
         fetch = (s_fetch_t *)zlistx_next (self->fetches))
        if (ticket && fetch->ticket == ticket) {
            atomic_store (&fetch->cancel, true);
            rfk_log_info (RFK_ADMIN_LOG, "dataset-fetch-cancel url=%s (the request was dropped)",
                          fetch->shown);
        }
}

/* A fetch that ended, joined: conclude its upload and answer. */
static void
s_conclude (rfk_admin_t *self, s_fetch_t *fetch)
{
    pthread_join (fetch->thread, NULL);
    rfk_msg_t *reply;
    rfk_upload_t *up = fetch->up;
    fetch->up = NULL;
    if (fetch->rc != 0) {
        rfk_log_info (RFK_ADMIN_LOG, "dataset-fetch-failed %s", fetch->err);
        reply = rfk_admin_error (NULL, fetch->code ? fetch->code : RFK_CODE_BAD_REQUEST, "%s",
                                 fetch->err);
        rfk_admin_upload_abort (self, &up);
    } else if (rfk_admin_upload_received (up) == 0) {
        reply = rfk_admin_error (NULL, RFK_CODE_BAD_REQUEST, "dataset_url %s: the file is empty",
                                 fetch->shown);
        rfk_admin_upload_abort (self, &up);
    } else
        //  Checked and stored as a dataset sent by the client (never a model: no fetch).
        reply = rfk_admin_upload_finish_async (self, &up, fetch->done, fetch->arg, fetch->ticket);
    if (reply)
        fetch->done (fetch->arg, fetch->ticket, reply);
    s_fetch_free (&fetch);
}

void
rfk_admin_fetch_tick (rfk_admin_t *self)
{
    uint64_t count;
    if (read (self->fetch_fd, &count, sizeof count) < 0 && errno != EAGAIN)
        return;
    void *handle = zlistx_first (self->fetches) ? zlistx_cursor (self->fetches) : NULL;
    while (handle) {
        s_fetch_t *fetch = (s_fetch_t *)zlistx_handle_item (handle);
        void *next = zlistx_next (self->fetches) ? zlistx_cursor (self->fetches) : NULL;
        if (atomic_load (&fetch->ended)) {
            zlistx_detach (self->fetches, handle);
            s_conclude (self, fetch);
        }
        handle = next;
    }
}

void
rfk_admin_fetch_destroy (rfk_admin_t *self)
{
    s_fetch_t *fetch;
    while (self->fetches && (fetch = (s_fetch_t *)zlistx_detach (self->fetches, NULL))) {
        atomic_store (&fetch->cancel, true);
        pthread_join (fetch->thread, NULL);
        fetch->done (fetch->arg, fetch->ticket, NULL); //  admin stopped: answer nobody
        s_fetch_free (&fetch);
    }
    zlistx_destroy (&self->fetches);
    if (self->fetch_fd >= 0)
        close (self->fetch_fd);
    self->fetch_fd = -1;
    curl_global_cleanup ();
}
