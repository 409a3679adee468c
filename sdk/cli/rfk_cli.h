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

#endif
