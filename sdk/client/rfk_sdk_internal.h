/*  rfk_sdk_internal.h: what librafiki's source files share (not installed).

    The session holds the configuration it was made from, one rfk_client on
    admin's command socket, the token and the last error. Each public call
    clears the error first and sets it on failure.
*/
#ifndef RFK_SDK_INTERNAL_H_INCLUDED
#define RFK_SDK_INTERNAL_H_INCLUDED

#include <rafiki/client.h>

#include "rfk_broker.h"
#include "rfk_config.h"

struct _rfk_sdk_t {
    rfk_config_t *config;          /* what the session was made from */
    rfk_bus_opts_t bus;            /* sizes, heartbeats; timeouts as asked */
    rfk_client_t *client;          /* the DEALER on admin's command socket */
    char *host;                    /* admin's host */
    int command_port;              /* its command port */
    int events_port;               /* its events port */
    char address[300];             /* "host:port" for messages */
    char events[320];              /* "tcp://host:events_port" */
    char *token;                   /* sent with every request, or NULL */
    int timeout_ms;                /* per try */
    int retries;                   /* re-sends after the first try */
    rfk_sdk_error_t error;         /* the last call's */
    rfk_client_t *predictor;       /* a DEALER on a predictor's query socket, or NULL */
    char *predictor_endpoint;      /* where it is connected */
    char bus_key[41];              /* admin's public key, pinned; "": plaintext (bus.curve off) */
    char predictor_key[41];        /* the last predictor's public key admin named, or "" */
    char *predictor_key_for;       /* ... and its query endpoint, or NULL */
    char predictor_client_key[41]; /* the key admin named when `predictor` was made, or "" */
    char *serving_key;             /* sent with every PredictRequest (`auth: token`), or NULL */
};

/* opts: the session's bus options for a socket to a server whose public
   key is server_key (CURVE), or plaintext when it is NULL or "". */
void
rfk_sdk_bus_opts (const rfk_sdk_t *self, rfk_bus_opts_t *opts, const char *server_key);

/* Clears the last error (start of every public call). */
void
rfk_sdk_clear (rfk_sdk_t *self);
/* Sets the last error; returns -1 for convenience. */
int
rfk_sdk_fail (rfk_sdk_t *self, rfk_sdk_code_t code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Checks that something accepts TCP connections at host:port within the
   timeout; what names the peer in the error ("admin", "admin's events"). */
int
rfk_sdk_probe (rfk_sdk_t *self, const char *host, int port, const char *what);

/* Sends a request on client (admin's or a predictor's) and waits: the reply
   if it is not an Error (yours), else NULL with the error set; what and
   address name the peer in messages. */
rfk_msg_t *
rfk_sdk_call_on (rfk_sdk_t *self, rfk_client_t *client, const char *what, const char *address,
                 rfk_msg_t *request, const char *expected);

/* Sends a request (with the token) and waits: the reply if it is not an
   Error (yours), else NULL with the error set. expected, when not NULL, is the
   body type the reply must have. The request stays the caller's. */
rfk_msg_t *
rfk_sdk_call (rfk_sdk_t *self, rfk_msg_t *request, const char *expected);
/* Builds a request of type from body (NULL: empty; borrowed), sends it and
   returns the reply's body (a new reference), or NULL with the error set. */
json_t *
rfk_sdk_call_json (rfk_sdk_t *self, const char *type, json_t *body, const char *expected);

#endif
