/*  rfk_http_metrics.h: counters of an HTTP front, written in the Prometheus
    text format (version 0.0.4).

    Requests are counted by endpoint (the route's "METHOD /pattern", so the
    label set stays small whatever the paths) and status, and their latency
    (first byte of the request to the last of the response) goes into one
    histogram per endpoint. Single-threaded: the front's thread only.
*/
#ifndef RFK_HTTP_METRICS_H_INCLUDED
#define RFK_HTTP_METRICS_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _rfk_http_metrics_t rfk_http_metrics_t;

/* Empty counters, or NULL when out of memory. prefix names the series
   ("rfk_http" gives rfk_http_requests_total, ...). */
rfk_http_metrics_t *
rfk_http_metrics_new (const char *prefix);
void
rfk_http_metrics_destroy (rfk_http_metrics_t **self_p);

/* Count one answered request. endpoint is copied; status 0 means the
   connection closed before a response was queued. */
void
rfk_http_metrics_record (rfk_http_metrics_t *self, const char *endpoint, int status,
                         double seconds);
/* Count bytes of uploaded files received. */
void
rfk_http_metrics_add_upload_bytes (rfk_http_metrics_t *self, uint64_t bytes);
/* Count one upload begun, streamed straight into admin or spooled first
   (its file came before the fields). */
void
rfk_http_metrics_add_upload (rfk_http_metrics_t *self, bool spooled);
/* Requests being served now (set by the front). */
void
rfk_http_metrics_set_in_flight (rfk_http_metrics_t *self, long in_flight);

/* Write every series with its HELP and TYPE lines. */
void
rfk_http_metrics_write (rfk_http_metrics_t *self, FILE *out);

/* How many requests of endpoint were answered with status (tests). */
uint64_t
rfk_http_metrics_count (rfk_http_metrics_t *self, const char *endpoint, int status);
/* How many uploads were streamed or spooled (tests). */
uint64_t
rfk_http_metrics_uploads (rfk_http_metrics_t *self, bool spooled);

#ifdef __cplusplus
}
#endif

#endif
