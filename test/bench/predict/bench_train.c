/*  bench_train: trains a zoo template once, for the benchmark's real model.

    bench_train TEMPLATE TRAIN_CSV PARAMS_OUT KNOBS_JSON

    Opens the template, creates a model with the knobs, trains it on the
    dataset, writes its parameters (msgpack) to PARAMS_OUT.
*/
#include <msgpack.h>
#include <rafiki/template.h>
#include <stdio.h>

int
main (int argc, char **argv)
{
    if (argc != 5) {
        fprintf (stderr, "usage: bench_train TEMPLATE TRAIN_CSV PARAMS_OUT KNOBS_JSON\n");
        return 2;
    }
    char err[512] = "";
    rfk_template_t *template_ = rfk_template_open (argv[1], NULL, err, sizeof err);
    json_t *json = json_loads (argv[4], 0, NULL);
    if (!template_ || !json) {
        fprintf (stderr, "bench_train: %s\n", template_ ? "the knobs are not JSON" : err);
        return 1;
    }
    const rafiki_model_api_t *api = rfk_template_api (template_);
    rafiki_knobs_t knobs;
    void *model = NULL;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    int rc = 1;
    if (rfk_knobs_from_json (api->knobs, api->n_knobs, json, true, &knobs, err, sizeof err) == 0) {
        model = api->create (&knobs, err, sizeof err);
        if (model && api->train (model, argv[2], NULL, NULL, NULL, err, sizeof err) == 0 &&
            api->dump_params (model, &pk, err, sizeof err) == 0) {
            FILE *file = fopen (argv[3], "wb");
            if (file && fwrite (buffer.data, 1, buffer.size, file) == buffer.size)
                rc = 0;
            else
                snprintf (err, sizeof err, "cannot write %s", argv[3]);
            if (file)
                fclose (file);
        }
        rfk_knobs_free (&knobs);
    }
    if (rc)
        fprintf (stderr, "bench_train: %s\n", err);
    if (model)
        api->destroy (model);
    msgpack_sbuffer_destroy (&buffer);
    json_decref (json);
    rfk_template_close (&template_);
    return rc;
}
