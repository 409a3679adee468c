/*  rfk_test_advisor (test/lib): an advisor for the tests that play its
    trainers or run real trainers against it (test_advisor, test_trainer,
    bench_dispatch), in the test's process without admin
    (rfk_advisor_direct_actor), and the knob table it is given.
*/
#ifndef RFK_TEST_ADVISOR_H_INCLUDED
#define RFK_TEST_ADVISOR_H_INCLUDED

#include <czmq.h>
#include <jansson.h>
#include <stddef.h>

#include "rfk_broker.h"

/* The knob table of the template at path, as admin stores it at upload (the
   test opens the template; an advisor never does); NULL with why in err. */
json_t *
rfk_test_knob_table (const char *path, char *err, size_t errlen);

/* What the advisor runs (rfk_test_advisor_new). */
typedef struct {
    const char *template_path; /* the template whose knob table it tunes */
    const char *model_name;    /* for its log lines, or NULL */
    const char *budget;        /* JSON text, or NULL */
    const char *train_args;    /* JSON text, or NULL */
    const char *fixed_knobs;   /* JSON text, or NULL */
    const rfk_bus_opts_t *bus; /* NULL: the defaults */
} rfk_test_advisor_t;

/* Starts a direct advisor and asks for its endpoint (tcp://…), written to
   endpoint. The actor (destroy it with zactor_destroy), or NULL with why in
   err (the knob table, a JSON text, or an advisor that failed or bound
   nothing). */
zactor_t *
rfk_test_advisor_new (const rfk_test_advisor_t *spec, char *endpoint, size_t size, char *err,
                      size_t errlen);

#endif
