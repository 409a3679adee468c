/*  rfk_search.c: the search of one sub train job (see rfk_search.h). */
#include "rfk_search.h"

#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rfk_log.h"
#include "rfk_train_args.h"
#include "rfk_tune.h"

#define S_LOG "advisor"

struct _rfk_search_t {
    char *name;                        /* the model's name, for the log */
    rfk_space_t *space;                /* the knob table as a search space */
    rfk_tuner_t *tuner;                /* proposes knobs, learns from scores */
    rfk_asha_t *asha;                  /* prunes by progress, with EARLY_STOP */
    rfk_budget_t budget;               /* MODEL_TRIAL_COUNT, TIME_HOURS */
    int64_t started_ms;                /* when the search began (zclock_mono) */
    int64_t time_deadline;             /* when TIME_HOURS runs out, -1: never */
    bool early_stop;                   /* the template has EARLY_STOP and the job wants it */
    bool share_params;                 /* the template has SHARE_PARAMS and the job wants it */
    double share_ratio;                /* share of trials that start from shared parameters */
    int64_t could_share;               /* proposals made while a trial had parameters to give */
    bool quick_eval;                   /* the template has QUICK_EVAL and the job wants it */
    int64_t asha_min_step;             /* the first rung's step */
    int64_t asha_eta;                  /* reduction factor */
    rfk_params_source_t params_source; /* the source named when sharing: BEST or LATEST */
};

/* ---- OpenBLAS's threads and rafikid's signals --------------------------- */

/* OpenBLAS (the GP's linear algebra, linked into every rafikid) starts its
   thread pool when it is loaded, before main, with every signal unblocked.
   rafikid blocks SIGTERM and SIGINT in main before it starts a thread and
   reads them from a signalfd: a stop signal landing on one of OpenBLAS's
   threads would kill the process instead. So the pool is shut down here,
   still before main; OpenBLAS starts it again the first time it needs it,
   from that thread (an actor's, with the stop signals blocked). Weak: a
   BLAS without the call is left alone. */
extern int
blas_thread_shutdown_ (void) __attribute__ ((weak));

__attribute__ ((constructor)) static void
s_blas_pool_off (void)
{
    if (blas_thread_shutdown_)
        blas_thread_shutdown_ ();
}

/* ---- setting up --------------------------------------------------------- */

/* True when two JSON values are the same knob value (numbers by value). */
static bool
s_same_value (const json_t *a, const json_t *b)
{
    if (json_is_number (a) && json_is_number (b))
        return json_number_value (a) == json_number_value (b);
    return json_equal ((json_t *)a, (json_t *)b);
}

/* Checks the value a job fixes knob `entry` (a row of the table) at. */
static int
s_fixed_value_check (const json_t *entry, const json_t *value, char *err, size_t errlen)
{
    const char *name = json_string_value (json_object_get (entry, "name"));
    const char *type = json_string_value (json_object_get (entry, "type"));
    double number = json_number_value (value);
    double min = json_number_value (json_object_get (entry, "min"));
    double max = json_number_value (json_object_get (entry, "max"));
    if (streq (type, "FIXED") && !s_same_value (json_object_get (entry, "value"), value))
        snprintf (err, errlen, "knob '%s' is fixed by the template to another value", name);
    else if (streq (type, "CATEGORICAL")) {
        const json_t *values = json_object_get (entry, "values");
        size_t index = 0;
        while (index < json_array_size (values) &&
               !s_same_value (json_array_get (values, index), value))
            index++;
        if (index < json_array_size (values))
            return 0;
        snprintf (err, errlen, "knob '%s': the value is not one of its %zu values", name,
                  json_array_size (values));
    } else if (streq (type, "INTEGER") && (!json_is_number (value) || number != floor (number)))
        snprintf (err, errlen, "knob '%s' wants an integer", name);
    else if (streq (type, "FLOAT") && !json_is_number (value))
        snprintf (err, errlen, "knob '%s' wants a number", name);
    else if ((streq (type, "INTEGER") || streq (type, "FLOAT")) &&
             !(number >= min && number <= max))
        snprintf (err, errlen, "knob '%s': %g is out of its range [%g, %g]", name, number, min,
                  max);
    else
        return 0;
    return -1;
}

/* The search space: the model's knob table (as admin stored it, never read
   from the template), with the job's fixed knobs made FIXED at their
   (checked) values. NULL with err. */
static rfk_space_t *
s_space_new (const char *model, const json_t *knobs, const json_t *fixed_knobs, char *err,
             size_t errlen)
{
    json_t *table = json_deep_copy (knobs);
    if (!table) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    const char *name;
    json_t *value;
    json_object_foreach ((json_t *)fixed_knobs, name, value)
    {
        size_t index = 0;
        json_t *entry = NULL;
        while ((entry = json_array_get (table, index)) &&
               !streq (json_string_value (json_object_get (entry, "name")), name))
            index++;
        const char *type = json_string_value (json_object_get (entry, "type"));
        if (!entry || streq (type, "POLICY")) {
            snprintf (err, errlen, "fixed knob %s: the template %s has no such %s", name, model,
                      entry ? "tunable knob" : "knob");
            json_decref (table);
            return NULL;
        }
        if (s_fixed_value_check (entry, value, err, errlen) != 0) {
            json_decref (table);
            return NULL;
        }
        json_array_set_new (
            table, index,
            json_pack ("{s:s, s:s, s:O}", "name", name, "type", "FIXED", "value", value));
    }
    rfk_space_t *space = rfk_space_new_json (table, err, errlen);
    json_decref (table);
    return space;
}

/* The tuner the job asks for (train arg `advisor`: auto, random, gp, tpe),
   as the original chooses: only fixed knobs -> one trial, else the GP. */
static int
s_tuner_new (rfk_search_t *self, const json_t *train_args, char *err, size_t errlen)
{
    rfk_tuner_kind_t asked = RFK_TUNER_AUTO;
    const char *advisor = json_string_value (rfk_train_arg (train_args, "advisor"));
    if (advisor && rfk_tuner_kind_parse (advisor, &asked, err, errlen) != 0)
        return -1;
    uint64_t seed = (uint64_t)zclock_time () ^ ((uint64_t)getpid () << 20);
    double number;
    if (rfk_train_arg_number (rfk_train_arg (train_args, "seed"), &number))
        seed = (uint64_t)number;
    self->tuner = rfk_tuner_new (rfk_tuner_kind_choose (self->space, asked), self->space, seed);
    if (!self->tuner) {
        snprintf (err, errlen, "cannot make a %s tuner", rfk_tuner_kind_name (asked));
        return -1;
    }
    return 0;
}

/* The budget. A count or time of zero or less means "not set", as the
   original's -1. */
static int
s_budget_read (rfk_search_t *self, const json_t *budget, char *err, size_t errlen)
{
    json_t *limits = json_object ();
    const char *keys[] = {"MODEL_TRIAL_COUNT", "TIME_HOURS"};
    double number;
    for (size_t index = 0; index < 2; index++) {
        json_t *value = json_is_object (budget) ? json_object_get (budget, keys[index]) : NULL;
        if (value && !(rfk_train_arg_number (value, &number) && number <= 0))
            json_object_set (limits, keys[index], value);
    }
    int rc = rfk_budget_parse (limits, &self->budget, err, errlen);
    json_decref (limits);
    if (rc != 0)
        return -1;
    self->started_ms = zclock_mono ();
    self->time_deadline = self->budget.time_hours > 0
                              ? self->started_ms + (int64_t)(self->budget.time_hours * 3600000.0)
                              : -1;
    return 0;
}

/* EARLY_STOP (with ASHA's settings), QUICK_EVAL and SHARE_PARAMS (with the
   share of trials), where the template has them and the train args do not
   turn them off. */
static int
s_policies_read (rfk_search_t *self, const json_t *train_args, char *err, size_t errlen)
{
    self->quick_eval = rfk_space_has_policy (self->space, RAFIKI_POLICY_QUICK_EVAL) &&
                       rfk_train_arg_flag (rfk_train_arg (train_args, "quick_eval"), true);
    const json_t *ratio = rfk_train_arg (train_args, "share_params_ratio");
    double number;
    if (ratio && !(rfk_train_arg_number (ratio, &number) && number >= 0 && number <= 1)) {
        snprintf (err, errlen, "train arg share_params_ratio must be a number in [0, 1]");
        return -1;
    }
    if (ratio)
        self->share_ratio = number;
    self->early_stop = rfk_space_has_policy (self->space, RAFIKI_POLICY_EARLY_STOP) &&
                       rfk_train_arg_flag (rfk_train_arg (train_args, "early_stop"), true);
    self->share_params = rfk_space_has_policy (self->space, RAFIKI_POLICY_SHARE_PARAMS) &&
                         rfk_train_arg_flag (rfk_train_arg (train_args, "share_params"), true);
    const char *source = json_string_value (rfk_train_arg (train_args, "params_source"));
    self->params_source =
        source && strcasecmp (source, "LATEST") == 0 ? RFK_PARAMS_LATEST : RFK_PARAMS_BEST;
    if ((source && strcasecmp (source, "NONE") == 0) || self->share_ratio <= 0)
        self->share_params = false;
    if (rfk_train_arg_number (rfk_train_arg (train_args, "asha_min_step"), &number) && number >= 1)
        self->asha_min_step = (int64_t)number;
    if (rfk_train_arg_number (rfk_train_arg (train_args, "asha_eta"), &number) && number >= 2)
        self->asha_eta = (int64_t)number;
    if (self->early_stop) {
        self->asha = rfk_asha_new ((double)self->asha_min_step, (double)self->asha_eta, 0);
        if (!self->asha) {
            snprintf (err, errlen, "cannot make the ASHA pruner");
            return -1;
        }
    }
    return 0;
}

rfk_search_t *
rfk_search_new (const char *model, const json_t *knobs, const json_t *budget,
                const json_t *train_args, const json_t *fixed_knobs, double share_params_ratio,
                char *err, size_t errlen)
{
    if (!json_is_array (knobs)) {
        snprintf (err, errlen, "no knob table: admin sends the model's in the ServiceConfig");
        return NULL;
    }
    if (fixed_knobs && !json_is_object (fixed_knobs) && !json_is_null (fixed_knobs)) {
        snprintf (err, errlen, "fixed_knobs must be an object {knob: value}");
        return NULL;
    }
    rfk_search_t *self = (rfk_search_t *)calloc (1, sizeof (rfk_search_t));
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    *self = (rfk_search_t){.time_deadline = -1,
                           .params_source = RFK_PARAMS_BEST,
                           .asha_min_step = 1,
                           .asha_eta = 3,
                           .share_ratio = share_params_ratio >= 0 && share_params_ratio <= 1
                                              ? share_params_ratio
                                              : 0.5};
    self->name = strdup (model && *model ? model : "(unnamed)");
    if (self->name)
        self->space = s_space_new (self->name, knobs, fixed_knobs, err, errlen);
    if (!self->space || s_tuner_new (self, train_args, err, errlen) != 0 ||
        s_budget_read (self, budget, err, errlen) != 0 ||
        s_policies_read (self, train_args, err, errlen) != 0)
        rfk_search_destroy (&self);
    return self;
}

void
rfk_search_destroy (rfk_search_t **self_p)
{
    rfk_search_t *self = *self_p;
    if (!self)
        return;
    rfk_asha_destroy (&self->asha);
    rfk_tuner_destroy (&self->tuner);
    rfk_space_destroy (&self->space);
    free (self->name);
    free (self);
    *self_p = NULL;
}

/* ---- proposals, observations, pruning ----------------------------------- */

/* True when the next proposal that could share should: of the proposals
   made while a trial had parameters to give, the share share_ratio, spread
   evenly (0.5: every second one, 0.25: every fourth), so that runs with the
   same seed share on the same trials. */
static bool
s_share_turn (rfk_search_t *self)
{
    int64_t m = self->could_share++;
    return floor ((double)(m + 1) * self->share_ratio + 1e-9) >
           floor ((double)m * self->share_ratio + 1e-9);
}

json_t *
rfk_search_next (rfk_search_t *self, int64_t proposed, bool can_share, json_t *policies,
                 rfk_params_source_t *source)
{
    (void)proposed;
    json_t *knobs = rfk_tuner_propose (self->tuner);
    if (!knobs)
        return NULL;
    rfk_params_source_t from = RFK_PARAMS_NONE;
    if (self->share_params && can_share && s_share_turn (self))
        from = self->params_source;
    *source = from;
    unsigned mask = rfk_tuner_policies (self->tuner, from);
    if (!self->early_stop)
        mask &= ~(1u << RAFIKI_POLICY_EARLY_STOP);
    /* The scores ASHA's rungs compare are measured on a subset. */
    if (self->quick_eval && (mask & (1u << RAFIKI_POLICY_EARLY_STOP)))
        mask |= 1u << RAFIKI_POLICY_QUICK_EVAL;
    if (rfk_space_set_policies (self->space, knobs, mask) != 0) {
        json_decref (knobs);
        return NULL;
    }
    static const struct {
        rafiki_policy_t policy;
        const char *name;
    } names[] = {{RAFIKI_POLICY_EARLY_STOP, "EARLY_STOP"},
                 {RAFIKI_POLICY_SHARE_PARAMS, "SHARE_PARAMS"},
                 {RAFIKI_POLICY_QUICK_EVAL, "QUICK_EVAL"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (mask & (1u << names[i].policy))
            json_array_append_new (policies, json_string (names[i].name));
    return knobs;
}

void
rfk_search_observe (rfk_search_t *self, uint32_t no, const json_t *knobs, double score)
{
    char err[256] = "";
    int rc = isfinite (score) ? rfk_tuner_observe (self->tuner, knobs, score, err, sizeof err)
                              : rfk_tuner_fail (self->tuner, knobs, err, sizeof err);
    if (rc != 0)
        rfk_log_warning (S_LOG, "tuner-refused trial=%u reason=\"%s\"", no, err);
}

bool
rfk_search_prune (rfk_search_t *self, uint32_t no, int64_t step, double score, char *reason,
                  size_t reason_size)
{
    if (!self->asha ||
        rfk_asha_report (self->asha, (int64_t)no, (double)step, score) != RFK_ASHA_PRUNE)
        return false;
    snprintf (reason, reason_size,
              "ASHA: score %g at step %" PRId64 " is not among the best 1/%" PRId64
              " of the trials at its rung",
              score, step, self->asha_eta);
    return true;
}

void
rfk_search_resumed (rfk_search_t *self, int64_t proposed, int64_t elapsed_ms)
{
    if (proposed > 0 && rfk_tuner_kind (self->tuner) == RFK_TUNER_FIXED &&
        !rfk_tuner_exhausted (self->tuner))
        json_decref (rfk_tuner_propose (self->tuner)); /* its one proposal was made */
    if (elapsed_ms > 0) {
        self->started_ms -= elapsed_ms;
        /* 0, not negative (-1 is "never"), when it ran out long ago. */
        if (self->time_deadline >= 0)
            self->time_deadline =
                self->time_deadline > elapsed_ms ? self->time_deadline - elapsed_ms : 0;
    }
}

/* ---- the budget and what the advisor shows ------------------------------ */

const char *
rfk_search_spent (rfk_search_t *self, int64_t proposed)
{
    if (self->budget.max_trials >= 0 && proposed >= self->budget.max_trials)
        return "MODEL_TRIAL_COUNT reached";
    if (self->time_deadline >= 0 && zclock_mono () >= self->time_deadline)
        return "TIME_HOURS reached";
    if (rfk_tuner_exhausted (self->tuner))
        return "nothing left to tune (the template's knobs are all fixed: one trial)";
    return NULL;
}

int64_t
rfk_search_deadline (rfk_search_t *self)
{
    return self->time_deadline;
}

rfk_params_source_t
rfk_search_params_source (rfk_search_t *self)
{
    return self->params_source;
}

const char *
rfk_search_tuner_name (rfk_search_t *self)
{
    return rfk_tuner_kind_name (rfk_tuner_kind (self->tuner));
}

const char *
rfk_search_model (rfk_search_t *self)
{
    return self->name;
}

const char *
rfk_search_describe (rfk_search_t *self, char *buf, size_t size)
{
    snprintf (buf, size,
              "tuner=%s trials=%" PRId64 " hours=%g early-stop=%s quick-eval=%s share-params=%s"
              " share-ratio=%g",
              rfk_search_tuner_name (self), self->budget.max_trials, self->budget.time_hours,
              self->early_stop ? "on" : "off", self->early_stop && self->quick_eval ? "on" : "off",
              self->share_params ? "on" : "off", self->share_params ? self->share_ratio : 0.0);
    return buf;
}
