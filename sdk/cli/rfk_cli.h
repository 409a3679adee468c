/*  rfk_cli: the subcommands of the `rafiki` command.

    Each subcommand is a function taking the arguments after its name
    (argv[0] is the subcommand's full name, e.g. "model test") and returning
    the process's exit status: 0 success, 1 failure, 2 bad usage. rafiki.c
    holds the table that maps names to functions; a new subcommand adds a
    row there and its function here.
*/
#ifndef RFK_CLI_H_INCLUDED
#define RFK_CLI_H_INCLUDED

typedef int (rfk_cli_fn) (int argc, char **argv);

/* rafiki model test TEMPLATE.so --task T --train D --val D ... */
int
rfk_cli_model_test (int argc, char **argv);

/* The commands that talk to admin (rfk_cli_admin.c, rfk_cli_data.c,
   rfk_cli_jobs.c), each with --help. */
rfk_cli_fn rfk_cli_login, rfk_cli_logout, rfk_cli_me, rfk_cli_stop_all;
rfk_cli_fn rfk_cli_users_list, rfk_cli_users_create, rfk_cli_users_ban;
rfk_cli_fn rfk_cli_datasets_list, rfk_cli_datasets_create, rfk_cli_datasets_get,
    rfk_cli_datasets_delete;
rfk_cli_fn rfk_cli_models_list, rfk_cli_models_upload, rfk_cli_models_get, rfk_cli_models_delete,
    rfk_cli_models_download;
rfk_cli_fn rfk_cli_train_create, rfk_cli_train_list, rfk_cli_train_get, rfk_cli_train_stop,
    rfk_cli_train_trials;
rfk_cli_fn rfk_cli_trials_get, rfk_cli_trials_logs, rfk_cli_trials_params;
rfk_cli_fn rfk_cli_infer_create, rfk_cli_infer_list, rfk_cli_infer_get, rfk_cli_infer_stop;
rfk_cli_fn rfk_cli_keys_create, rfk_cli_keys_list, rfk_cli_keys_revoke;
rfk_cli_fn rfk_cli_predict, rfk_cli_watch;

#endif
