/*  bus_test_server.h: a small service-family server actor for the bus tests.

    It runs an rfk_server in its own thread, as a real actor would, and
    answers:
    - Hello {service_id, secret} with ServiceConfig {service_id} (same
      correlation); secret "stop-me" also sends the peer a Stop afterwards;
    - StatusReport {message} with Ack, where message says how:
      "ignore-first" ignores the first try of each correlation id, "never"
      never answers, "late" answers each try 150 ms after it came;
    - anything else with UNKNOWN_MESSAGE (the server's own answer).
    Pipe commands: "TRIES" <correlation> -> how many tries of that id came;
    "$TERM". A peer that expires is reported on the pipe as "EXPIRED" <hex
    routing id>.
*/
#ifndef BUS_TEST_SERVER_H_INCLUDED
#define BUS_TEST_SERVER_H_INCLUDED

#include "rfk_broker.h"

/* Starts the server on endpoint (e.g. "tcp://127.0.0.1:*"); *endpoint_p gets
   the endpoint as bound (yours to free). NULL if it did not start. */
zactor_t *
bus_test_server_new (const char *endpoint, const rfk_bus_opts_t *opts, char **endpoint_p);
/* How many tries of a correlation id the server saw. */
int
bus_test_server_tries (zactor_t *server, uint64_t correlation);

/* Options with short heartbeats (50 ms, timeout 300 ms), a 4096-byte frame
   cap and a malformed limit of 50, so the tests run fast. */
void
bus_test_opts (rfk_bus_opts_t *opts);
/* A fresh endpoint to bind for "inproc" or "tcp" (yours to free). */
char *
bus_test_endpoint (const char *transport);
/* A raw DEALER connected to endpoint, with 5 s send and receive timeouts and
   the given routing id (or NULL for one the server picks). */
zsock_t *
bus_test_dealer (const char *endpoint, const rfk_bus_opts_t *opts, const char *identity);

#endif
