/*  rfk_log: log lines in czmq's zsys style, to standard error and to
    <data_dir>/logs/<service>.log.

    A line reads "I: (service) 26-11-27 02:26:18 module: event key=value":
    level letter (E, W, N, I, D), the service in brackets, local time, then
    the module, an event word (or a stable id such as RFK-MALFORMED) and
    key=value pairs. rfk_log_open () points czmq's own log stream at both
    destinations, so zsys_info () and friends land there too (they ignore
    log_level, which filters rfk_log lines only). Before rfk_log_open () and
    after rfk_log_close (), lines go to standard error only.

    Call rfk_log_open () and rfk_log_close () from the main thread while no
    actor runs; the rfk_log_* calls are safe from any thread.
*/
#ifndef RFK_LOG_H_INCLUDED
#define RFK_LOG_H_INCLUDED

#include "rfk_config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RFK_LOG_DEBUG,
    RFK_LOG_INFO,
    RFK_LOG_NOTICE,
    RFK_LOG_WARNING,
    RFK_LOG_ERROR,
} rfk_log_level_t;

//  Log as service ([A-Za-z0-9._-], not starting with '.'): make
//  <data_dir>/logs/, append to <service>.log there, also copy to stderr if
//  log_stderr, keep lines at or above log_level. 0, or -1 with errno set
//  (EINVAL for a bad service name); rfk_log_file () names the file either way.
int
rfk_log_open (const rfk_config_t *config, const char *service);

//  Stop writing the log file; lines go to standard error again.
void
rfk_log_close (void);

//  Path of the log file opened (or tried) last, "" if none. Borrowed.
const char *
rfk_log_file (void);

//  Lowest level written by the rfk_log_* calls (default info).
void
rfk_log_set_level (rfk_log_level_t level);

//  "debug", "info", "notice", "warning", "error" to a level. 0 or -1.
int
rfk_log_level_parse (const char *name, rfk_log_level_t *level);

//  One line: "module: " followed by the formatted "event key=value ...".
void
rfk_log (rfk_log_level_t level, const char *module, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Records why a module cannot go on: the first call sets *failure_p (a
//  string the caller frees) to the formatted reason and logs it as an error
//  ("failed reason=\"...\""); later calls change nothing, so the first
//  reason wins.
void
rfk_log_failure (char **failure_p, const char *module, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

#define rfk_log_error(module, ...) rfk_log (RFK_LOG_ERROR, (module), __VA_ARGS__)
#define rfk_log_warning(module, ...) rfk_log (RFK_LOG_WARNING, (module), __VA_ARGS__)
#define rfk_log_notice(module, ...) rfk_log (RFK_LOG_NOTICE, (module), __VA_ARGS__)
#define rfk_log_info(module, ...) rfk_log (RFK_LOG_INFO, (module), __VA_ARGS__)
#define rfk_log_debug(module, ...) rfk_log (RFK_LOG_DEBUG, (module), __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif
