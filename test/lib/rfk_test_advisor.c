/*  rfk_test_advisor.c: a direct advisor for tests, and a template's knob
    table (see rfk_test_advisor.h).
*/
#include "rfk_test_advisor.h"

#include <stdio.h>
#include <string.h>

#include "rafiki/template.h"
#include "rfk_advisor.h"

json_t *
rfk_test_knob_table (const char *path, char *err, size_t errlen)
{
    rfk_template_t *tpl = rfk_template_open (path, NULL, err, errlen);
    if (!tpl)
        return NULL;
    const rafiki_model_api_t *api = rfk_template_api (tpl);
    json_t *table = rfk_knob_table_to_json (api->knobs, api->n_knobs);
    rfk_template_close (&tpl);
    if (!table)
        snprintf (err, errlen, "%s: no knob table", path);
    return table;
}

/* A JSON text (NULL: none) into *value_p; 0, or -1 with why in err. */
static int
s_json (const char *what, const char *text, json_t **value_p, char *err, size_t errlen)
{
    *value_p = text ? json_loads (text, 0, NULL) : NULL;
    if (text && !*value_p)
        return snprintf (err, errlen, "%s is not JSON: %s", what, text), -1;
    return 0;
}

zactor_t *
rfk_test_advisor_new (const rfk_test_advisor_t *spec, char *endpoint, size_t size, char *err,
                      size_t errlen)
{
    json_t *budget = NULL, *train_args = NULL, *fixed = NULL;
    json_t *knobs = rfk_test_knob_table (spec->template_path, err, errlen);
    zactor_t *advisor = NULL;
    if (knobs && s_json ("budget", spec->budget, &budget, err, errlen) == 0 &&
        s_json ("train args", spec->train_args, &train_args, err, errlen) == 0 &&
        s_json ("fixed knobs", spec->fixed_knobs, &fixed, err, errlen) == 0) {
        //  The advisor copies what it needs before it signals.
        rfk_advisor_args_t args = {.model_name = spec->model_name,
                                   .knobs = knobs,
                                   .budget = budget,
                                   .train_args = train_args,
                                   .fixed_knobs = fixed,
                                   .bus = spec->bus};
        advisor = zactor_new (rfk_advisor_direct_actor, &args);
    }
    char *reply = NULL;
    if (advisor) {
        zsock_set_rcvtimeo (advisor, 30000);
        zstr_send (advisor, "ENDPOINT");
        reply = zstr_recv (advisor);
    }
    if (advisor && (!reply || strncmp (reply, "tcp://", 6) != 0)) {
        snprintf (err, errlen, "the advisor did not bind: %s", reply ? reply : "(no answer)");
        zactor_destroy (&advisor);
    } else if (advisor) {
        snprintf (endpoint, size, "%s", reply);
        zsock_set_rcvtimeo (advisor, -1); //  the test's own waits from here
    }
    zstr_free (&reply);
    json_decref (budget);
    json_decref (train_args);
    json_decref (fixed);
    json_decref (knobs);
    return advisor;
}
