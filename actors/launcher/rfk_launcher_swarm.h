/*  rfk_launcher_swarm.h: the swarm launcher backend. Services run as Docker Swarm services,
    created and followed through the Docker Engine API over its unix socket (libcurl), behind
    the launcher interface of rfk_launcher.h.

        rfk_launcher_swarm_config_t config;
        rfk_launcher_swarm_config_defaults (&config);
        config.data_dir = "/srv/rafiki";           //  admin's view of the shared data dir
        config.admin_host = "rafiki-admin";        //  how services reach admin
        rfk_launcher_t *launcher = rfk_launcher_new_swarm (&config, s_on_event, self);
        //  then exactly as with the local backend: start, stop, tick on next_deadline ...

    One Rafiki service is one Docker service named <name_prefix><id> (with '.' and '_' made
    '-', as swarm names are DNS labels), one replica, labelled rafiki.instance=<instance>,
    rafiki.service-id=<id>, rafiki.role=<role>. It runs `<rafikid> <role> --service-id <id>
    [--config <service_config>]` from the spec's image (or the configured one), on the overlay
    network (endpoint mode dnsrr: no VIP, no routing mesh), with the shared data directory
    mounted at data_target (only the parts the spec's sandbox lists, see below), the restart policy
   from max_restarts/backoff, the placement constraints, the resource hints as reservations and
   limits (GPUs as a generic resource and/or a node-label constraint), and, for predictors, both
   published ports in host mode. Every container runs as service_user with a read-only root fs,
   CapDrop ALL, no-new-privileges, Docker's default seccomp and a tmpfs /tmp; of the data dir it
   mounts only the spec's sandbox->ro_paths (read-only) and rw_paths (read-write), paths of data_dir
   bound at the same place under data_target, plus its own log folder <data_dir>/logs/<id>/ at
   data_target/logs (made for it), never the data dir itself (a data_source that is a volume name is
   mounted whole). Role constraints: train_constraints for advisors and trainers, serve_constraints
   for predictors and inference workers, on top of constraints. Its environment: RAFIKI_SERVICE_ID,
   RAFIKI_SERVICE_ROLE, RAFIKI_DATA_DIR (data_target), RAFIKI_ADMIN_HOST / RAFIKI_ADMIN_SERVICE_PORT
   (admin's service socket), RAFIKI_GPU_COUNT, RAFIKI_SECRET_FILE, then the spec's entries. The
   per-service secret is a Docker secret <name_prefix><id> mounted at /run/secrets/rafiki-secret
   (mode 0400), named by RAFIKI_SECRET_FILE: never in the environment, the arguments or the service
   spec. spec->config_path is ignored (it is admin's path, not the container's): service_config is
    passed instead when set.

    States come from the service's tasks, polled every poll_ms (one GET /tasks per tick for
    every live service, easy calls with request_timeout_ms; no threads, no sleeps): RUNNING
    once created (the task may still be pending: its reason says so); a failed or rejected
    task is RESTARTING (swarm starts the next one after the backoff); a task that failed more
    than max_restarts times is ERRORED with the engine's message ("task: non-zero exit (3)",
    "No such image: ..."); a task that completed with exit 0 is STOPPED. stop scales the
    service to 0 replicas (swarm sends SIGTERM, SIGKILL after grace_ms) and is STOPPED once its
    task ended. When a service reaches STOPPED or ERRORED, its Docker logs are saved to
    <data_dir>/logs/<id>.log and the Docker service and secret are removed, so `docker service
    ls` only ever shows live services; logs then reads that file (live ones: GET
    /services/{id}/logs, demultiplexed). destroy removes what is still live.

    Reconcile (admin restarted while its services ran): rfk_launcher_new_swarm lists the
    services labelled with this instance. Those whose id is in config.adopt are adopted
    (reported RUNNING "adopted ..." and followed from then on); the others are removed with
    their secrets (admin does not know them: nothing would ever stop them). Ids of adopt with
    no Docker service are reported ERRORED ("... vanished while admin was down") and kept
    in the table so status answers. Events are reported from inside rfk_launcher_new_swarm.

    Engine errors become launcher errors (start returns -1 with the engine's message and
    HTTP status) or service errors (ERRORED with a reason), never crashes.
*/
#ifndef RFK_LAUNCHER_SWARM_H_INCLUDED
#define RFK_LAUNCHER_SWARM_H_INCLUDED

#include "rfk_config.h"
#include "rfk_launcher.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Settings of the swarm backend. Fill with rfk_launcher_swarm_config_defaults (or
//  rfk_launcher_swarm_config_from), then set data_dir at least. Strings are copied by
//  rfk_launcher_new_swarm.
typedef struct {
    const char *docker_socket;     //  the engine's unix socket (/var/run/docker.sock)
    const char *image;             //  image of services whose spec names none (rafiki-c:latest)
    const char *rafikid_path;      //  rafikid inside the image (/usr/bin/rafikid)
    const char *service_config;    //  --config FILE for services, a path inside the
                                   //  container; NULL or "": none (defaults + environment)
    const char *network;           //  overlay network the services join (rafiki)
    const char *data_dir;          //  admin's path of the shared data dir; required
    const char *data_source;       //  mount source on the nodes (an absolute path: bind,
                                   //  otherwise a volume name); NULL or "": data_dir
    const char *data_target;       //  where services see it (/var/lib/rafiki)
    const char *admin_host;        //  host name or address services reach admin at
    int admin_service_port;        //  port of admin's service socket (3002)
    const char *name_prefix;       //  prefix of Docker service and secret names (rafiki-)
    const char *instance;          //  value of the rafiki.instance label (default)
    const char *constraints;       //  placement constraints, comma separated, or NULL
    const char *gpu_resource;      //  generic resource kind reserved per GPU ("": none)
    const char *gpu_constraint;    //  constraint added when gpus > 0 ("": none)
    const char *train_constraints; //  more constraints of advisors and trainers, or NULL
    const char *serve_constraints; //  more constraints of predictors and inference workers
    const char *service_user;      //  "uid:gid" every service runs as (10001:10001)
    double cpu_limit_ratio;        //  CPU limit = this x the spec's cpus (4; 0: no limit)
    double memory_limit_ratio;     //  memory limit = this x the spec's memory (2; 0: none)
    int max_restarts;              //  failed tasks restarted before ERRORED (3; 0: never)
    int backoff_ms;                //  swarm's delay before a restart (200)
    int grace_ms;                  //  SIGTERM to SIGKILL on stop (5000)
    int stable_ms;                 //  swarm's restart window (60000)
    int poll_ms;                   //  tasks are polled this often while services live (500)
    int request_timeout_ms;        //  each Engine API call (5000)
    const char *const *adopt;      //  reconcile: ids admin knows as live, NULL-terminated
} rfk_launcher_swarm_config_t;

//  Fill a swarm configuration with the defaults above.
void
rfk_launcher_swarm_config_defaults (rfk_launcher_swarm_config_t *config);

//  Fill a swarm configuration from Rafiki's configuration (data_dir, admin.service_port,
//  launcher.max_restarts and the swarm section). The strings are borrowed from config.
void
rfk_launcher_swarm_config_from (rfk_launcher_swarm_config_t *swarm, const rfk_config_t *config);

//  Create a launcher with the swarm backend: check that the engine answers, is a swarm
//  manager and has the network, then reconcile (see above). Returns NULL when the
//  configuration is invalid or the engine is not usable (a message is printed to stderr
//  and, if error is not NULL, written there).
rfk_launcher_t *
rfk_launcher_new_swarm (const rfk_launcher_swarm_config_t *config, rfk_launcher_event_fn *on_event,
                        void *arg, char *error, size_t error_size);

//  The Docker service name of a Rafiki service id (name_prefix + id, '.' and '_' made '-'):
//  on the overlay network it is also the service's host name, so admin builds the endpoints
//  services connect to from it (tcp://<name>:<port>; they bind tcp://0.0.0.0:<port>).
//  Returns 0, or -1 when the name would be longer than 63 characters or size is too small.
int
rfk_launcher_swarm_service_name (const char *name_prefix, const char *service_id, char *name,
                                 size_t size);

//  The most GPUs one node of the swarm offers: the largest count of the generic resource
//  gpu_resource (discrete value, or named resources counted) a ready, active node advertises
//  (daemon.json "node-generic-resources"). 0 into *gpus, or -1 with the error in error
//  (the engine cannot be asked). launcher must be a swarm launcher.
int
rfk_launcher_swarm_max_gpus (rfk_launcher_t *launcher, int *gpus, char *error, size_t size);

//  The address of the node a service's running task is on (the node's Status.Addr in the
//  Engine API: the address it advertises to the swarm), into addr. 0, or -1 when the service
//  has no running task or the engine cannot be asked.
int
rfk_launcher_swarm_node_addr (rfk_launcher_t *launcher, const char *service_id, char *addr,
                              size_t size);

#ifdef __cplusplus
}
#endif

#endif
