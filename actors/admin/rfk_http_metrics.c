/*  rfk_http_metrics.c: request counters and latency histograms of an HTTP
    front, in the Prometheus text format (see rfk_http_metrics.h).
*/
#include "rfk_http_metrics.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Histogram bucket bounds in seconds (le="..."); +Inf is implicit. */
static const double s_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                  0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define S_NBOUNDS (sizeof s_bounds / sizeof s_bounds[0])
#define S_MAX_STATUSES 24

typedef struct {
    int status;     /* HTTP status, 0 for none */
    uint64_t count; /* requests answered with it */
} s_status_t;

typedef struct {
    char *endpoint;                      /* "GET /datasets/{id}" */
    s_status_t statuses[S_MAX_STATUSES]; /* counts by status */
    size_t nstatuses;                    /* used entries of statuses */
    uint64_t buckets[S_NBOUNDS];         /* latency counts per bucket (not cumulative) */
    uint64_t count;                      /* requests */
    double sum;                          /* seconds, summed */
} s_endpoint_t;

struct _rfk_http_metrics_t {
    char *prefix;            /* series name prefix */
    s_endpoint_t *endpoints; /* in order of first use */
    size_t nendpoints;       /* used */
    size_t capacity;         /* allocated */
    uint64_t upload_bytes;   /* uploaded file bytes received */
    uint64_t uploads[2];     /* uploads begun: [0] streamed, [1] spooled */
    long in_flight;          /* requests being served */
};

rfk_http_metrics_t *
rfk_http_metrics_new (const char *prefix)
{
    rfk_http_metrics_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->prefix = strdup (prefix ? prefix : "rfk_http");
    if (!self->prefix)
        rfk_http_metrics_destroy (&self);
    return self;
}

void
rfk_http_metrics_destroy (rfk_http_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_http_metrics_t *self = *self_p;
    for (size_t i = 0; i < self->nendpoints; i++)
        free (self->endpoints[i].endpoint);
    free (self->endpoints);
    free (self->prefix);
    free (self);
    *self_p = NULL;
}

static s_endpoint_t *
s_endpoint (rfk_http_metrics_t *self, const char *endpoint, bool create)
{
    for (size_t i = 0; i < self->nendpoints; i++)
        if (strcmp (self->endpoints[i].endpoint, endpoint) == 0)
            return &self->endpoints[i];
    if (!create)
        return NULL;
    if (self->nendpoints == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 16;
        s_endpoint_t *grown = realloc (self->endpoints, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        self->endpoints = grown;
        self->capacity = capacity;
    }
    s_endpoint_t *e = &self->endpoints[self->nendpoints];
    memset (e, 0, sizeof *e);
    e->endpoint = strdup (endpoint);
    if (!e->endpoint)
        return NULL;
    self->nendpoints++;
    return e;
}

void
rfk_http_metrics_record (rfk_http_metrics_t *self, const char *endpoint, int status, double seconds)
{
    if (!self || !endpoint)
        return;
    s_endpoint_t *e = s_endpoint (self, endpoint, true);
    if (!e)
        return;
    size_t i;
    for (i = 0; i < e->nstatuses; i++)
        if (e->statuses[i].status == status)
            break;
    if (i == e->nstatuses) {
        if (e->nstatuses == S_MAX_STATUSES)
            i = S_MAX_STATUSES - 1; //  more statuses than any front answers: lump them
        else
            e->statuses[e->nstatuses++].status = status;
    }
    e->statuses[i].count++;
    if (seconds < 0)
        seconds = 0;
    e->count++;
    e->sum += seconds;
    for (size_t b = 0; b < S_NBOUNDS; b++)
        if (seconds <= s_bounds[b]) {
            e->buckets[b]++;
            break;
        }
}

void
rfk_http_metrics_add_upload_bytes (rfk_http_metrics_t *self, uint64_t bytes)
{
    if (self)
        self->upload_bytes += bytes;
}

void
rfk_http_metrics_add_upload (rfk_http_metrics_t *self, bool spooled)
{
    if (self)
        self->uploads[spooled ? 1 : 0]++;
}

uint64_t
rfk_http_metrics_uploads (rfk_http_metrics_t *self, bool spooled)
{
    return self ? self->uploads[spooled ? 1 : 0] : 0;
}

void
rfk_http_metrics_set_in_flight (rfk_http_metrics_t *self, long in_flight)
{
    if (self)
        self->in_flight = in_flight;
}

/* Print a label value with the escapes of the text format. */
static void
s_label (FILE *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            fprintf (out, "\\%c", *p);
        else if (*p == '\n')
            fputs ("\\n", out);
        else
            fputc (*p, out);
    }
}

void
rfk_http_metrics_write (rfk_http_metrics_t *self, FILE *out)
{
    if (!self || !out)
        return;
    const char *p = self->prefix;
    fprintf (out, "# HELP %s_requests_total HTTP requests answered, by endpoint and status.\n", p);
    fprintf (out, "# TYPE %s_requests_total counter\n", p);
    for (size_t i = 0; i < self->nendpoints; i++) {
        s_endpoint_t *e = &self->endpoints[i];
        for (size_t s = 0; s < e->nstatuses; s++) {
            fprintf (out, "%s_requests_total{endpoint=\"", p);
            s_label (out, e->endpoint);
            fprintf (out, "\",status=\"%d\"} %llu\n", e->statuses[s].status,
                     (unsigned long long)e->statuses[s].count);
        }
    }
    fprintf (out,
             "# HELP %s_request_duration_seconds Time from a request's arrival to its "
             "response, by endpoint.\n",
             p);
    fprintf (out, "# TYPE %s_request_duration_seconds histogram\n", p);
    for (size_t i = 0; i < self->nendpoints; i++) {
        s_endpoint_t *e = &self->endpoints[i];
        uint64_t cumulative = 0;
        for (size_t b = 0; b < S_NBOUNDS; b++) {
            cumulative += e->buckets[b];
            fprintf (out, "%s_request_duration_seconds_bucket{endpoint=\"", p);
            s_label (out, e->endpoint);
            fprintf (out, "\",le=\"%g\"} %llu\n", s_bounds[b], (unsigned long long)cumulative);
        }
        fprintf (out, "%s_request_duration_seconds_bucket{endpoint=\"", p);
        s_label (out, e->endpoint);
        fprintf (out, "\",le=\"+Inf\"} %llu\n", (unsigned long long)e->count);
        fprintf (out, "%s_request_duration_seconds_sum{endpoint=\"", p);
        s_label (out, e->endpoint);
        fprintf (out, "\"} %.6f\n", e->sum);
        fprintf (out, "%s_request_duration_seconds_count{endpoint=\"", p);
        s_label (out, e->endpoint);
        fprintf (out, "\"} %llu\n", (unsigned long long)e->count);
    }
    fprintf (out, "# HELP %s_upload_bytes_total Bytes of uploaded files received.\n", p);
    fprintf (out, "# TYPE %s_upload_bytes_total counter\n", p);
    fprintf (out, "%s_upload_bytes_total %llu\n", p, (unsigned long long)self->upload_bytes);
    fprintf (out,
             "# HELP %s_uploads_total Uploads begun, by whether the file went straight to "
             "admin or was spooled first (it came before the fields).\n",
             p);
    fprintf (out, "# TYPE %s_uploads_total counter\n", p);
    fprintf (out, "%s_uploads_total{mode=\"streamed\"} %llu\n", p,
             (unsigned long long)self->uploads[0]);
    fprintf (out, "%s_uploads_total{mode=\"spooled\"} %llu\n", p,
             (unsigned long long)self->uploads[1]);
    fprintf (out, "# HELP %s_requests_in_flight Requests being received or answered now.\n", p);
    fprintf (out, "# TYPE %s_requests_in_flight gauge\n", p);
    fprintf (out, "%s_requests_in_flight %ld\n", p, self->in_flight);
}

uint64_t
rfk_http_metrics_count (rfk_http_metrics_t *self, const char *endpoint, int status)
{
    if (!self || !endpoint)
        return 0;
    s_endpoint_t *e = s_endpoint (self, endpoint, false);
    if (!e)
        return 0;
    for (size_t i = 0; i < e->nstatuses; i++)
        if (e->statuses[i].status == status)
            return e->statuses[i].count;
    return 0;
}
