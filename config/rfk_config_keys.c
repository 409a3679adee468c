/*  rfk_config_keys: the one table of Rafiki-C's configuration keys.

    Each key is declared here and nowhere else: section ("" for top level),
    key, type, default, min, max, allowed values, flags, one-line doc.
    Defaults and bounds are written as in the YAML file. A new key is one
    line here plus its documented line in config/rafiki.yaml (a unit test
    checks that the shipped file documents every key of this table and
    repeats its defaults). Environment names follow from the table:
    RAFIKI_<SECTION>_<KEY>, RAFIKI_<KEY> for top-level keys.
*/
#include "rfk_config.h"

#define INT RFK_CONFIG_INT
#define FLOAT RFK_CONFIG_FLOAT
#define BOOL RFK_CONFIG_BOOL
#define STRING RFK_CONFIG_STRING
#define SIZE RFK_CONFIG_SIZE
#define SECRET RFK_CONFIG_SECRET

// clang-format off
const rfk_config_key_t rfk_config_keys[] = {
    //  section, key, type, default, min, max, choices, flags, doc
    {"", "data_dir", STRING, "./var", NULL, NULL, NULL, 0,
     "folder of datasets/, models/, params/, logs/ and the SQLite file; shared by every node"},
    {"", "log_level", STRING, "info", NULL, NULL, "debug|info|notice|warning|error", 0,
     "lowest level of rfk_log lines written"},
    {"", "log_stderr", BOOL, "true", NULL, NULL, NULL, 0,
     "also write log lines to standard error (the file under <data_dir>/logs/ is always written)"},
    {"", "stop_timeout_ms", INT, "10000", "1", "3600000", NULL, 0,
     "milliseconds a role's actor has to stop after SIGTERM/SIGINT before rafikid exits 1"},

    {"admin", "host", STRING, "127.0.0.1", NULL, NULL, NULL, 0,
     "address admin binds its HTTP and ZeroMQ ports to (0.0.0.0: every interface)"},
    {"admin", "http_port", INT, "3000", "0", "65535", NULL, 0,
     "port of the REST API and the web admin (0: any free port)"},
    {"admin", "command_port", INT, "3001", "0", "65535", NULL, 0,
     "port of the ROUTER socket the SDK and the CLI talk to (0: any free port)"},
    {"admin", "service_port", INT, "3002", "0", "65535", NULL, 0,
     "port of the ROUTER socket where workers say HELLO and report (0: any free port)"},
    {"admin", "events_port", INT, "3003", "0", "65535", NULL, 0,
     "port of the XPUB socket publishing job, trial and service events (0: any free port)"},
    {"admin", "superadmin_email", STRING, "superadmin@rafiki", NULL, NULL, NULL, 0,
     "e-mail of the superadmin account admin creates on its first start"},
    {"admin", "superadmin_password", STRING, "", NULL, NULL, NULL, SECRET,
     "password of that superadmin account (empty: none configured here, see the admin role)"},
    {"admin", "jwt_secret", STRING, "", NULL, NULL, NULL, SECRET,
     "HS256 key signing the tokens admin issues (empty: a key made once and kept in "
     "<data_dir>/keys/jwt.key)"},
    {"admin", "token_ttl_s", INT, "3600", "60", "2592000", NULL, 0,
     "seconds a token stays valid after POST /tokens"},
    {"admin", "upload_max_bytes", SIZE, "2GiB", "1KiB", "1TiB", NULL, 0,
     "largest dataset or model file accepted by an upload (413 above it)"},
    {"admin", "request_max_bytes", SIZE, "1MiB", "1KiB", "1GiB", NULL, 0,
     "largest JSON or form body of any other request (413 above it)"},
    {"admin", "http_max_connections", INT, "256", "1", "65536", NULL, 0,
     "HTTP connections served at once; more wait in the listen queue"},
    {"admin", "dataset_url_timeout_s", INT, "600", "1", "86400", NULL, 0,
     "seconds admin gives the download of a dataset named by dataset_url"},
    {"admin", "dataset_url_file_root", STRING, "", NULL, NULL, NULL, 0,
     "folder whose files a dataset_url file: URL may name (empty: file URLs are refused)"},
    {"admin", "web_dir", STRING, "", NULL, NULL, NULL, 0,
     "folder of the web admin's files served at / (empty: the build's web/www, else the installed share/rafiki/www)"},
    //  Abuse limits (issue 14).
    {"admin", "hash_workers", INT, "2", "1", "64", NULL, 0,
     "threads (of a child process) hashing and checking passwords (argon2id) off admin's loop"},
    {"admin", "hash_queue", INT, "64", "1", "100000", NULL, 0,
     "logins waiting for a hashing thread; past it a login is answered 503 with Retry-After"},
    {"admin", "login_failures_per_minute", INT, "10", "0", "1000000", NULL, 0,
     "failed logins allowed per client address and per e-mail in a sliding minute; then 429 with Retry-After (0: no limit)"},
    {"admin", "login_limit_keys", INT, "10000", "16", "10000000", NULL, 0,
     "addresses and e-mails whose failed logins are remembered (the least recently failed are forgotten first)"},
    {"admin", "user_max_uploads", INT, "4", "0", "100000", NULL, 0,
     "uploads one user may have open at once, over both fronts (0: no cap; 429 above it)"},
    {"admin", "user_max_event_streams", INT, "8", "0", "100000", NULL, 0,
     "GET /events streams one user may hold open (0: no cap; 429 above it)"},
    {"admin", "user_max_requests", INT, "16", "0", "100000", NULL, 0,
     "HTTP requests with a body one user may have in progress at once (0: no cap; 429 above it)"},
    {"admin", "untrusted_frame_bytes", SIZE, "1MiB", "1KiB", "2GiB", NULL, 0,
     "largest command frame decoded from a peer before a request of it carried a valid token (TOO_LARGE above it)"},
    {"admin", "http_max_per_address", INT, "64", "0", "65536", NULL, 0,
     "HTTP connections admin accepts from one IP address (0: no cap)"},
    {"admin", "http_read_timeout_s", INT, "30", "0", "3600", NULL, 0,
     "seconds an HTTP request's headers may take to arrive (a body then at least 1 KiB/s); slower clients are cut (0: no timeout)"},

    {"bus", "sndhwm", INT, "1000", "1", "10000000", NULL, 0,
     "send high-water mark of every bus socket: messages queued per peer before refusing"},
    {"bus", "rcvhwm", INT, "1000", "1", "10000000", NULL, 0,
     "receive high-water mark of every bus socket"},
    {"bus", "heartbeat_interval_ms", INT, "1000", "10", "3600000", NULL, 0,
     "milliseconds between heartbeats on each long-lived DEALER/ROUTER pair"},
    {"bus", "heartbeat_timeout_ms", INT, "5000", "20", "86400000", NULL, 0,
     "milliseconds of silence after which a peer is dropped (above the interval)"},
    {"bus", "request_timeout_ms", INT, "5000", "1", "3600000", NULL, 0,
     "milliseconds a request waits for its reply before it is retried"},
    {"bus", "request_retries", INT, "3", "0", "100", NULL, 0,
     "times a timed-out request is sent again before it fails"},
    {"bus", "max_frame_bytes", SIZE, "64MiB", "1KiB", "2GiB", NULL, 0,
     "largest frame a bus socket accepts; a peer sending more is disconnected"},
    {"bus", "curve", BOOL, "true", NULL, NULL, NULL, 0,
     "CurveZMQ on every TCP bus socket; false (plaintext, logged at every start) only to debug"},

    {"service", "orphan_timeout_s", INT, "600", "1", "31536000", NULL, 0,
     "seconds a dynamic service goes on without admin before it stops itself"},

    {"store", "url", STRING, "", NULL, NULL, NULL, SECRET,
     "metadata store: sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB "
     "(empty: sqlite:///<data_dir>/rafiki.db)"},

    {"launcher", "backend", STRING, "local", NULL, NULL, "local|swarm", 0,
     "how services run: children of admin (local) or Docker Swarm services (swarm)"},
    {"launcher", "max_restarts", INT, "3", "0", "1000", NULL, 0,
     "times a failed service is restarted before it is marked ERRORED"},
    {"launcher", "sandbox", STRING, "auto", NULL, NULL, "auto|on|off", 0,
     "run template code (trials, local inference workers) inside bubblewrap: auto uses it "
     "where user namespaces work; without it admin refuses jobs unless this is off"},
    {"launcher", "sandbox_uid", INT, "65534", "0", "4294967294", NULL, 0,
     "when admin runs as root: uid (and gid) sandboxed processes run as (0: root, whose "
     "processes RLIMIT_NPROC does not count)"},

    {"swarm", "docker_socket", STRING, "/var/run/docker.sock", NULL, NULL, NULL, 0,
     "unix socket of the Docker engine (a swarm manager) the swarm launcher talks to"},
    {"swarm", "image", STRING, "rafiki-c:latest", NULL, NULL, NULL, 0,
     "image of services whose model names none (deploy/build-image builds it)"},
    {"swarm", "network", STRING, "rafiki", NULL, NULL, NULL, 0,
     "overlay network the services join (endpoint mode dnsrr)"},
    {"swarm", "data_source", STRING, "", NULL, NULL, NULL, 0,
     "data dir as every node mounts it: absolute path (bind) or volume name (empty: data_dir)"},
    {"swarm", "data_target", STRING, "/var/lib/rafiki", NULL, NULL, NULL, 0,
     "where services see the data dir inside their containers"},
    {"swarm", "admin_host", STRING, "rafiki-admin", NULL, NULL, NULL, 0,
     "host name services reach admin's service socket at (admin's swarm service name)"},
    {"swarm", "service_config", STRING, "", NULL, NULL, NULL, 0,
     "--config FILE for services, a path inside their containers (empty: none)"},
    {"swarm", "instance", STRING, "default", NULL, NULL, NULL, 0,
     "label telling this admin's services apart from other Rafiki installations'"},
    {"swarm", "constraints", STRING, "", NULL, NULL, NULL, 0,
     "placement constraints of every service, comma separated (node.labels.rafiki==yes)"},
    {"swarm", "gpu_resource", STRING, "gpu", NULL, NULL, NULL, 0,
     "generic resource kind reserved per GPU a service asks for (empty: none)"},
    {"swarm", "gpu_constraint", STRING, "node.labels.gpu==true", NULL, NULL, NULL, 0,
     "placement constraint added for services asking for GPUs (empty: none)"},
    {"swarm", "poll_ms", INT, "500", "50", "60000", NULL, 0,
     "milliseconds between polls of the services' tasks while services live"},
    {"swarm", "request_timeout_ms", INT, "5000", "100", "600000", NULL, 0,
     "milliseconds each Docker Engine API call may take"},
    {"swarm", "predictor_port_base", INT, "31000", "1024", "65535", NULL, 0,
     "first node port published for predictors' HTTP (each live one takes the lowest free)"},

    {"trainer", "memory_limit_mb", INT, "4096", "0", "16777216", NULL, 0,
     "address space a trial's process, or an inference worker's, may add, in MiB (0: none)"},
    {"trainer", "cpu_limit_s", INT, "3600", "0", "31536000", NULL, 0,
     "CPU seconds a trial's process may use (0: none)"},
    {"trainer", "processes", INT, "256", "0", "1000000", NULL, 0,
     "processes and threads of a sandboxed trial, or of a sandboxed inference worker (0: none)"},
    {"trainer", "file_size_mb", INT, "1024", "0", "16777216", NULL, 0,
     "largest file a sandboxed trial or inference worker may write, in MiB (0: none)"},
    {"trainer", "open_files", INT, "1024", "0", "1048576", NULL, 0,
     "open descriptors of a sandboxed trial or inference worker (0: none)"},
    {"trainer", "disk_mb", INT, "4096", "0", "16777216", NULL, 0,
     "disk space a sandboxed trial's folder may use, in MiB, measured each second (0: none)"},
    {"trainer", "trial_timeout_s", INT, "3600", "1", "31536000", NULL, 0,
     "wall-clock seconds after which a trial is killed and marked ERRORED"},

    {"predictor", "max_batch", INT, "32", "1", "65536", NULL, 0,
     "most queries coalesced into one batch sent to the inference workers"},
    {"predictor", "batch_window_us", INT, "500", "0", "1000000", NULL, 0,
     "microseconds a batch waits for more queries before it is sent"},
    {"predictor", "max_deadline_ms", INT, "60000", "1", "600000", NULL, 0,
     "largest deadline_ms a query may ask for; more is cut to it"},
    {"predictor", "http_max_per_address", INT, "0", "0", "65536", NULL, 0,
     "HTTP connections the predictor accepts from one IP address (0: no cap)"},
    {"predictor", "http_read_timeout_s", INT, "30", "0", "3600", NULL, 0,
     "seconds an HTTP request's headers may take to arrive (a body then at least 1 KiB/s); slower clients are cut (0: no timeout)"},
    {"predictor", "deadline_ms", INT, "1000", "1", "600000", NULL, 0,
     "milliseconds a query waits for the workers' answers; later answers are dropped"},
    {"predictor", "max_inflight", INT, "10000", "1", "10000000", NULL, 0,
     "queries accepted but not yet answered; above it queries get 503 / UNAVAILABLE"},
    {"predictor", "max_body_bytes", SIZE, "16MiB", "1KiB", "1GiB", NULL, 0,
     "largest POST /predict body; above it the answer is 413"},
};
// clang-format on

const size_t rfk_config_keys_count = sizeof (rfk_config_keys) / sizeof (rfk_config_keys[0]);
