# test/lib/rfk_test_swarm.sh: what the TAP scripts that run Rafiki-C on a swarm of their own
# share (sourced by bash; test_swarm_nodes.sh, test_chaos_swarm.sh).
#
# Before sourcing, set `name` (the TAP notes' prefix) and `src` (the source tree). Then:
#   rfk_swarm_can_run           skips (TAP plan 0, with the reason) without root, the commands
#                               deploy/swarm-nodes needs, the machine-wide swarm lock
#                               (RAFIKI_TEST_SWARM_LOCK, default /tmp/rafiki-test-swarm.lock),
#                               a bridge, a network namespace or a free subnet; sets prefix,
#                               state, subnet, sock, DOCKER_HOST and api
#   rfk_swarm_nodes_up N BUILD  deploy/swarm-nodes up N with the image built from BUILD; one
#                               TAP line
#   rfk_swarm_deploy [ARG...]   deploy/swarm-up onto node 1 (ARGs go to swarm-up) and a login
#                               as the superadmin; sets password, token; one TAP line
#   rfk_swarm_teardown          every Rafiki service gone (after the jobs were stopped),
#                               swarm-down --purge, swarm-nodes down, nothing left; one TAP line
# and the helpers below (ok, not_ok, note, engine, call, upload, placement, ...). An EXIT trap
# ends the script's background loops (their pids in bg_pids), prints admin's last lines and
# takes the swarm down on every exit path.

skip () {
    echo "1..0 # SKIP $*"
    exit 0
}
note () { echo "# $name: $*"; }
n_test=0
failed=0
ok () {
    n_test=$((n_test + 1))
    echo "ok $n_test - $*"
}
not_ok () {
    n_test=$((n_test + 1))
    failed=1
    echo "not ok $n_test - $*"
}

rfk_swarm_can_run () {
    [ "$(id -u)" = 0 ] || skip "not root: network namespaces, a bridge and dockerd need root"
    local c probe
    for c in ip nsenter unshare iptables dockerd docker jq curl flock; do
        command -v "$c" >/dev/null || skip "the $c command is missing (deploy/swarm-nodes needs it)"
    done
    local lock=${RAFIKI_TEST_SWARM_LOCK:-/tmp/rafiki-test-swarm.lock}
    exec 9>"$lock"
    flock -w 240 9 || skip "another test process held $lock for 240 s"
    probe=rfkprobe$$
    probe=${probe:0:15}
    ip link add "$probe" type bridge 2>/dev/null || skip "cannot make a bridge here (no CAP_NET_ADMIN?)"
    ip link del "$probe"
    ip netns add "$probe" 2>/dev/null || skip "cannot make a network namespace here"
    ip netns del "$probe"
    rfk_swarm_settings
}

# The settings of a swarm of this script's own; a free 192.168.231-250.0/24 for its bridge.
prefix=rt$((($$ % 99999)))
state=""
subnet=""
sock=""
api=""
token=""
password=""
deployed=0
bg_pids=() # background loops of the script (a load client): ended on every exit path
rfk_swarm_settings () {
    state=$(mktemp -d /tmp/rafiki-swarm-nodes.XXXXXX)
    # From a place of this pid's own, so that two scripts starting together (their own
    # locks, a developer's) rarely pick the same one.
    local i third
    for i in $(seq 0 19); do
        third=$((231 + ($$ + i) % 20))
        ip route | grep -q "^192.168.$third\.0/" || { subnet=192.168.$third; break; }
    done
    [ -n "$subnet" ] || skip "no free 192.168.231-250.0/24 subnet for the bridge"
    sock=$state/n1/docker.sock
    export DOCKER_HOST=unix://$sock
    api=http://$subnet.11:3000
    trap rfk_swarm_cleanup EXIT
    trap 'exit 143' TERM INT
}

rfk_swarm_cleanup () {
    local pid
    for pid in ${bg_pids[@]+"${bg_pids[@]}"}; do kill "$pid" 2>/dev/null; done
    if [ -S "$sock" ] && [ "$deployed" = 1 ]; then
        note "admin's last lines:"
        docker service logs --tail 30 rafiki-admin 2>&1 | sed 's/^/# /'
    fi
    "$src/deploy/swarm-nodes" down --prefix "$prefix" --state "$state" 2>&1 | sed 's/^/# /'
    rm -rf "$state"
}

engine () { curl -s --unix-socket "$sock" "http://docker$1"; }
call () { # method path [json body]
    curl -s -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} "$api$2"
}
upload () { # path file-field file name [extra-name extra-value]
    curl -s -H "Authorization: Bearer $token" -F "$2=@$3" -F "name=$4" \
        -F task=TABULAR_CLASSIFICATION ${5:+-F "$5=$6"} "$api$1"
}
# The Engine API's filter argument for services with a Rafiki role.
role_filter () { jq -rn --arg r "rafiki.role=$1" '{label:[$r]}|@uri'; }
# The nodes the running tasks of services with a role run on: hostname per line.
nodes_of_role () {
    local ids
    ids=$(engine "/services?filters=$(role_filter "$1")" | jq -c '[.[].ID]')
    engine /tasks | jq -r --argjson ids "$ids" \
        '.[] | select(.Status.State=="running" and (.ServiceID as $s | $ids | index($s))) | .NodeID' |
        sort -u | while read -r node; do
        engine "/nodes/$node" | jq -r .Description.Hostname
    done
}
# Where the services with a role run now: {Rafiki service id: node host name}, from three
# Engine API calls (a loop under load must decide fast).
placement () {
    local services tasks nodes
    services=$(engine "/services?filters=$(role_filter "$1")")
    tasks=$(engine "/tasks?filters=$(jq -rn '{"desired-state":["running"]}|@uri')")
    nodes=$(engine /nodes)
    jq -n --argjson s "${services:-[]}" --argjson t "${tasks:-[]}" --argjson n "${nodes:-[]}" '
        ($n | map({(.ID): .Description.Hostname}) | add // {}) as $host
        | ($s | map({(.ID): .Spec.Labels["rafiki.service-id"]}) | add // {}) as $sid
        | [$t[] | select(.Status.State == "running" and $sid[.ServiceID] != null)
           | {key: $sid[.ServiceID], value: $host[.NodeID]}] | from_entries' 2>/dev/null ||
        echo '{}'
}
# The node (hostname) a service (Rafiki service id) runs its task on now.
node_of_service () {
    local service
    service=$(engine "/services/rafiki-$1" | jq -r .ID)
    engine "/tasks?filters=$(jq -rn --arg s "$service" '{service:[$s],"desired-state":["running"]}|@uri')" |
        jq -r '.[] | select(.Status.State=="running") | .NodeID' | head -n1 | while read -r node; do
        engine "/nodes/$node" | jq -r .Description.Hostname
    done
}

rfk_swarm_nodes_up () { # N BUILD
    local count=$1 build=$2 started=$SECONDS
    # (9>&-: the dockerds must not hold the lock should this script die.)
    if "$src/deploy/swarm-nodes" up "$count" --prefix "$prefix" --state "$state" --subnet "$subnet" \
        --build "$build" 9>&- 2>&1 | sed 's/^/# /' && [ -S "$sock" ] &&
        [ "$(docker node ls --format '{{.Status}}' | grep -c Ready)" = "$count" ] &&
        [ "$(docker node ls --filter role=manager -q | wc -l)" = 1 ]; then
        ok "a swarm of $count nodes on this machine, 1 manager, all Ready ($((SECONDS - started)) s)"
    else
        not_ok "a swarm of $count nodes on this machine"
        exit 1
    fi
}

rfk_swarm_deploy () { # [swarm-up argument...]
    local started=$SECONDS
    deployed=1
    mkdir -p "$state/shared/rafiki"
    # The superadmin password goes in as a file (swarm-up keeps it only as a Docker secret).
    password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
    printf '%s\n' "$password" >"$state/superadmin-password"
    chmod 600 "$state/superadmin-password"
    if "$src/deploy/swarm-up" --data-dir "$state/shared/rafiki" --image rafiki-c:latest --wait 150 \
        --password-file "$state/superadmin-password" "$@" 2>&1 | sed 's/^/# /'; then
        for _ in $(seq 60); do
            token=$(curl -s -H 'Content-Type: application/json' \
                --data "{\"email\":\"superadmin@rafiki\",\"password\":\"$password\"}" "$api/tokens" |
                jq -r '.token // empty' 2>/dev/null)
            [ -n "$token" ] && break
            sleep 1
        done
    fi
    if [ -n "$token" ]; then
        ok "Rafiki-C deployed on node 1, admin answering at $api ($((SECONDS - started)) s)"
    else
        not_ok "Rafiki-C deployed on node 1 (no login at $api)"
        exit 1
    fi
}

rfk_swarm_teardown () {
    local left=1 ours remains=""
    for _ in $(seq 240); do
        ours=$(engine "/services?filters=$(jq -rn '{label:["rafiki.instance=default"]}|@uri')")
        left=$(echo "$ours" | jq length)
        [ "$left" = 0 ] && break
        sleep 1
    done
    [ "$left" = 0 ] || note "left: $(echo "$ours" | jq -r '[.[] | "\(.Spec.Name) (\(.Spec.Labels["rafiki.role"]))"] | join(", ")')"
    "$src/deploy/swarm-down" --purge 2>&1 | sed 's/^/# /'
    deployed=0
    "$src/deploy/swarm-nodes" down --prefix "$prefix" --state "$state" 2>&1 | sed 's/^/# /'
    ip netns list | grep -q "^${prefix}[0-9]" && remains="$remains namespaces"
    ip link show "${prefix}br" >/dev/null 2>&1 && remains="$remains bridge"
    iptables -S DOCKER-USER 2>/dev/null | grep -q "${prefix}br" && remains="$remains iptables-rule"
    pgrep -f "dockerd --data-root $state/" >/dev/null && remains="$remains dockerd"
    [ -e "$state/settings" ] && remains="$remains state"
    if [ "$left" = 0 ] && [ -z "$remains" ]; then
        ok "teardown: no Rafiki service was left, then no namespace, dockerd, bridge or rule"
    else
        not_ok "teardown: $left Rafiki services left; left behind:$remains"
    fi
}
