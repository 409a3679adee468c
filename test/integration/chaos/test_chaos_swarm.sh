#!/usr/bin/env bash
# test/integration/chaos/test_chaos_swarm.sh: the chaos test on Docker Swarm (issue 15, item 6;
# suites `swarm` and `chaos`, a TAP script). test_chaos.c is the same test with the local
# launcher; here every part is a swarm service and dies as a container does (docker kill:
# SIGKILL), and swarm's restart policy, not the test, brings it back.
#
# A swarm of its own (deploy/swarm-nodes up 1: a network namespace and a dockerd; the image
# built from this build), Rafiki-C deployed on it with PostgreSQL (deploy/swarm-up). The app
# `serve` (the zoo's Echo, one trial) is deployed with replicas 2 and a client queries its
# predictor without pause, counting every answer by the phase the test is in. Meanwhile the
# train job `chaos` trains two models (the training tests' Sleepy under two names, 5 trials of
# 10 s each) with two trainers each. In turn the test kills:
#
#   1. admin (its container); swarm starts it again; every service that still runs says
#      Hello to the new admin (its log says service-hello for each);
#   2. the trainer of a RUNNING trial;
#   3. one inference worker of the two;
#   4. the predictor, and waits until it answers again;
#   5. admin, a second time;
#   6. PostgreSQL: admin answers 503 with Retry-After meanwhile, then 200 again.
#
# Before the kills, a peer without keys greets admin's command and events ports and the
# predictor's query port asking for the NULL mechanism: each answers CURVE (issue 14, item 5).
# Afterwards: the train job finished (STOPPED) with every trial final and as many trials as
# its budget (a trial ERRORED by a killed trainer keeps its place); the inference job is
# RUNNING; no query failed but while the predictor itself was down (count and window printed);
# the token issued before the kills still works; once the inference job is stopped no Rafiki
# service is left, and the swarm goes down leaving nothing.
#
# Skips (TAP plan 0, with the reason) where deploy/swarm-nodes cannot run (see
# test/lib/rfk_test_swarm.sh). Environment (from meson): RFK_SOURCE_DIR, RFK_BUILD_ROOT,
# ECHO_TEMPLATE, SLEEPY_TEMPLATE, RFK_TEST_DATA.
set -uo pipefail

src=${RFK_SOURCE_DIR:?}
build=${RFK_BUILD_ROOT:?}
echo_tpl=${ECHO_TEMPLATE:?}
sleepy=${SLEEPY_TEMPLATE:?}
data_set=${RFK_TEST_DATA:?}
started=$SECONDS
name=chaos-swarm
# shellcheck source=../../lib/rfk_test_swarm.sh
. "$src/test/lib/rfk_test_swarm.sh"

rfk_swarm_can_run
echo "1..13"
rfk_swarm_nodes_up 1 "$build"
rfk_swarm_deploy

# The container of a Rafiki service's running task (its Docker service name).
container_of () {
    docker ps -q --filter "label=com.docker.swarm.service.name=$1" | head -n1
}
# The Rafiki service ids of every service admin's launcher runs now.
live_services () {
    engine "/services?filters=$(jq -rn '{label:["rafiki.instance=default"]}|@uri')" |
        jq -r '.[].Spec.Labels["rafiki.service-id"] // empty' | sort
}
# The number of running tasks of a role.
running_of_role () {
    placement "$1" | jq length
}
wait_job () { # train_jobs|inference_jobs app status seconds
    local until_s=$((SECONDS + $4)) now=""
    while [ $SECONDS -lt $until_s ]; do
        now=$(call GET "/$1/$2/1" | jq -r '.status // empty')
        [ "$now" = "$3" ] && return 0
        case "$now" in ERRORED) break ;; esac
        sleep 1
    done
    note "$1/$2 is '${now}', not $3"
    return 1
}

# ---- serve, deployed with replicas 2 ---------------------------------------------------------
train=$(upload /datasets dataset "$data_set/iris-train.csv" iris-train | jq -r .id)
val=$(upload /datasets dataset "$data_set/iris-val.csv" iris-val | jq -r .id)
echo_id=$(upload /models model_file_bytes "$echo_tpl" echo access_right PUBLIC | jq -r .id)
sleepy_a=$(upload /models model_file_bytes "$sleepy" sleepy-a access_right PUBLIC | jq -r .id)
sleepy_b=$(upload /models model_file_bytes "$sleepy" sleepy-b access_right PUBLIC | jq -r .id)
call POST /train_jobs "$(jq -cn --arg t "$train" --arg v "$val" --arg e "$echo_id" '{app:"serve",
    task:"TABULAR_CLASSIFICATION", train_dataset_id:$t, val_dataset_id:$v, model_ids:[$e],
    budget:{MODEL_TRIAL_COUNT:1, TRAINER_COUNT:1}, train_args:{target:"class"}}')" >/dev/null
query='{"query":{"sepal_length":5.1}}'
predictor_host=""
if wait_job train_jobs serve STOPPED 240 &&
    call POST /inference_jobs '{"app":"serve","app_version":-1,"replicas":2}' >/dev/null &&
    wait_job inference_jobs serve RUNNING 240; then
    predictor_host=$(call GET /inference_jobs/serve/1 | jq -r '.predictor_host // ""')
fi
first=""
for _ in $(seq 30); do
    first=$(curl -s --max-time 5 -H 'Content-Type: application/json' --data "$query" \
        "http://$predictor_host/predict" | jq -c '.prediction // empty' 2>/dev/null)
    [ -n "$first" ] && break
    sleep 1
done
if [ -n "$first" ] && [ "$(running_of_role inference)" = 2 ]; then
    ok "serve deployed with 2 workers, answering at $predictor_host: $first ($((SECONDS - started)) s)"
else
    not_ok "serve deployed with 2 workers, answering at '${predictor_host}' (answer: '${first}', workers: $(running_of_role inference))"
    exit 1
fi

# ---- plain peers are refused at the handshake --------------------------------------------------
# A ZMTP 3.0 greeting asking for the NULL mechanism, as any peer without keys would send, to
# admin's published command and events ports and the predictor's query port: each must answer
# CURVE (so the NULL peer's handshake fails) or close. The mechanism it answered, or "closed".
mechanism () { # host port
    python3 - "$1" "$2" <<'PY'
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
    s.sendall(bytes([0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 0]) + b"NULL".ljust(20, b"\0") + bytes(32))
    data = b""
    while len(data) < 64:
        chunk = s.recv(64 - len(data))
        if not chunk:
            break
        data += chunk
    print(data[12:32].rstrip(b"\0").decode("ascii", "replace") if len(data) >= 32 else "closed")
except OSError as e:
    print("unreachable: %s" % e)
PY
}
query_port=$(call GET /inference_jobs/serve/1 | jq -r '.query_endpoint // ""' | sed 's/.*://')
answers=""
plain_ok=1
for target in "command ${api#http://}" "events ${api#http://}" "query $predictor_host"; do
    set -- $target
    host=${2%:*}
    port=$(case $1 in command) echo 3001 ;; events) echo 3003 ;; query) echo "$query_port" ;; esac)
    got=$(mechanism "$host" "$port")
    answers="$answers $1 ($host:$port): $got;"
    [ "$got" = CURVE ] || [ "$got" = closed ] || plain_ok=0
done
if [ $plain_ok = 1 ] && [ -n "$query_port" ]; then
    ok "a peer without keys is refused at the handshake:$answers"
else
    not_ok "plain peers at the handshake:$answers (query port '${query_port}')"
fi

# ---- the load, counted by phase --------------------------------------------------------------
# Each query is a line "TIME PHASE ok|fail": the phase it started in, or the one it ended in
# when that is the predictor's (its failures belong to it).
echo calm >"$state/phase"
load_log=$state/load.log
(
    while [ ! -e "$state/load.stop" ]; do
        phase=$(cat "$state/phase")
        answer=$(curl -s --max-time 5 -w '\n%{http_code} %{time_total}' -H 'Content-Type: application/json' \
            --data "$query" "http://$predictor_host/predict")
        got=$(echo "$answer" | sed '$d' | jq -c '.prediction // empty' 2>/dev/null)
        now=$(cat "$state/phase")
        [ "$now" = predictor ] && phase=$now
        if [ -n "$got" ]; then
            echo "$(date +%s.%N) $phase ok"
        else
            # What failed: the HTTP status (000: no answer) and time, and the body's start.
            echo "$(date +%s.%N) $phase fail $(echo "$answer" | tail -n1) $(echo "$answer" | sed '$d' | tr -d '\n' | head -c 120)"
            sleep 0.05 # a refused connection returns at once
        fi
    done
) >"$load_log" 2>/dev/null &
load_pid=$!
bg_pids+=("$load_pid")
phase () { echo "$1" >"$state/phase"; }

# ---- the train job the kills fall on ---------------------------------------------------------
call POST /train_jobs "$(jq -cn --arg t "$train" --arg v "$val" --arg a "$sleepy_a" --arg b "$sleepy_b" \
    '{app:"chaos", task:"TABULAR_CLASSIFICATION", train_dataset_id:$t, val_dataset_id:$v,
    model_ids:[$a,$b], budget:{MODEL_TRIAL_COUNT:5, TRAINER_COUNT:2},
    train_args:{target:"class", sleepy_ms:"10000", sleepy_steps:"1", early_stop:"false"}}')" >/dev/null
# The worker (trainer service id) of a RUNNING trial of chaos, waiting up to $1 s for one.
running_trainer () {
    local until_s=$((SECONDS + $1)) worker
    while [ $SECONDS -lt $until_s ]; do
        worker=$(call GET /train_jobs/chaos/1/trials |
            jq -r '[.[] | select(.status=="RUNNING" and .worker_id) | .worker_id] | first // empty' 2>/dev/null)
        [ -n "$worker" ] && { echo "$worker"; return 0; }
        sleep 0.5
    done
    return 1
}
running_trainer 240 >/dev/null || note "no trial of chaos ran within 240 s"

# ---- admin killed, twice ---------------------------------------------------------------------
# SIGKILL to admin's container; swarm starts a new one. Waits until admin answers and every
# service that still runs said Hello to it; one TAP line.
kill_admin () {
    phase admin
    local before since killed answered_after="" back_after="" missing="" id
    before=$(live_services)
    since=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
    killed=$SECONDS
    docker kill "$(container_of rafiki-admin)" >/dev/null
    for _ in $(seq 240); do
        # (GET /datasets: an answer that does not hang on a job's state.)
        [ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
            "$api/datasets")" = 200 ] && { answered_after=$((SECONDS - killed)); break; }
        sleep 0.5
    done
    for _ in $(seq 240); do
        # A service that ended meanwhile (its trials done) says no Hello.
        missing=""
        heard=$(docker service logs --raw --since "$since" rafiki-admin 2>&1 | grep -o 'service-hello id=[^ ]*')
        for id in $(comm -12 <(echo "$before") <(live_services)); do
            echo "$heard" | grep -q "service-hello id=$id\$" || missing="$missing $id"
        done
        [ -z "$missing" ] && { back_after=$((SECONDS - killed)); break; }
        sleep 0.5
    done
    phase calm
    if [ -n "$answered_after" ] && [ -n "$back_after" ]; then
        ok "admin killed ($1): swarm started it again; it answered after $answered_after s, and every service still running ($(echo "$before" | grep -c .) before the kill) said Hello again after $back_after s"
    else
        not_ok "admin killed ($1): answered after '${answered_after}' s; no Hello again from:${missing}"
    fi
}
kill_admin "first time"

# ---- a trainer mid-trial, an inference worker, the predictor ---------------------------------
phase trainer
trainer=$(running_trainer 120)
if [ -n "$trainer" ] && docker kill "$(container_of "rafiki-$trainer")" >/dev/null; then
    ok "killed trainer $trainer mid-trial"
else
    not_ok "killed the trainer of a running trial ('${trainer}')"
fi
phase calm

# SIGKILL to a container of a role; waits until $2 tasks of it run again, the killed one not
# among them; sets back_after.
kill_role () {
    local victim container killed=$SECONDS
    victim=$(placement "$1" | jq -r 'keys | first // empty')
    container=$(container_of "rafiki-$victim")
    back_after=""
    [ -n "$container" ] || return 1
    docker kill "$container" >/dev/null
    for _ in $(seq 240); do
        if [ "$(running_of_role "$1")" -ge "$2" ] && [ -n "$(container_of "rafiki-$victim")" ] &&
            [ "$(container_of "rafiki-$victim")" != "$container" ]; then
            back_after=$((SECONDS - killed))
            return 0
        fi
        sleep 0.5
    done
    return 1
}
phase worker
if kill_role inference 2; then
    ok "killed one inference worker of two; swarm started it again after $back_after s"
else
    not_ok "killed one inference worker of two; it did not run again"
fi
phase calm

phase predictor
answered_before=$(grep -c ' predictor ok$' "$load_log")
back=""
if kill_role predictor 1; then
    for _ in $(seq 240); do
        [ "$(grep -c ' predictor ok$' "$load_log")" -ge $((answered_before + 3)) ] &&
            [ "$(running_of_role inference)" = 2 ] && { back=yes; break; }
        sleep 0.5
    done
fi
phase calm
if [ -n "$back" ]; then
    ok "killed the predictor; swarm started it again after $back_after s and it answers again at $predictor_host"
else
    not_ok "killed the predictor; it did not answer again at $predictor_host"
fi

kill_admin "second time"

# ---- PostgreSQL ------------------------------------------------------------------------------
phase store
killed=$SECONDS
docker kill "$(container_of rafiki-postgres)" >/dev/null
saw_503=""
back_after=""
for _ in $(seq 240); do
    headers=$(curl -s --max-time 5 -D - -o /dev/null -H "Authorization: Bearer $token" "$api/datasets")
    code=$(echo "$headers" | head -n1 | awk '{print $2}')
    if [ "$code" = 503 ] && [ -z "$saw_503" ]; then
        saw_503=$(echo "$headers" | tr -d '\r' | awk -F': ' 'tolower($1) == "retry-after" {print $2}')
        saw_503=${saw_503:-none}
    fi
    [ "$code" = 200 ] && [ -n "$saw_503" ] && { back_after=$((SECONDS - killed)); break; }
    sleep 0.25
done
phase calm
if [ -n "$saw_503" ] && [ "$saw_503" != none ] && [ -n "$back_after" ]; then
    ok "PostgreSQL killed: admin answered 503 with Retry-After $saw_503, then 200 again after $back_after s"
else
    not_ok "PostgreSQL killed: a 503 with Retry-After '${saw_503}', 200 again after '${back_after}' s"
fi

# ---- afterwards ------------------------------------------------------------------------------
wait_job train_jobs chaos STOPPED 300
status=$(call GET /train_jobs/chaos/1 | jq -r .status)
trials=$(call GET /train_jobs/chaos/1/trials)
echo "$trials" | jq -r '.[] | "# chaos-swarm: trial \(.trial_no) \(.status) on \(.worker_id) \(.error // "" | tostring)"'
total=$(echo "$trials" | jq length)
unfinal=$(echo "$trials" | jq '[.[] | select(.status != "COMPLETED" and .status != "PRUNED" and .status != "ERRORED")] | length')
ended=$(echo "$trials" | jq '[.[] | select(.status == "COMPLETED" or .status == "PRUNED")] | length')
# An ERRORED trial keeps its place in the budget (2 models x 5): none is proposed twice.
if [ "$status" = STOPPED ] && [ "$total" = 10 ] && [ "$unfinal" = 0 ] && [ "$ended" -ge 1 ]; then
    ok "the train job ended STOPPED: $total trials (the budget), $ended completed or pruned, every one final"
else
    not_ok "the train job: $status, $total trials (budget 10), $ended completed or pruned, $unfinal not final"
fi

touch "$state/load.stop"
wait "$load_pid" 2>/dev/null
serving=$(call GET /inference_jobs/serve/1 | jq -r .status)
counts=""
bad=""
for p in calm admin trainer worker predictor store; do
    a=$(grep -c " $p ok\$" "$load_log")
    f=$(grep -c " $p fail" "$load_log")
    counts="$counts $p $a/$f;"
    [ "$p" != predictor ] && [ "$f" != 0 ] && bad="$bad $p"
done
window=$(awk '$2 == "predictor" && $3 == "fail" { if (!first) first = $1; last = $1 } END {
    if (first) printf "%.1f s", last - first; else printf "none" }' "$load_log")
# The first failures outside the predictor's restart, as the client saw them.
grep ' fail' "$load_log" | grep -v ' predictor fail' | head -n 5 | sed 's/^/# chaos-swarm: failed: /'
note "queries answered/failed by phase:$counts the predictor's failures over $window"
if [ "$serving" = RUNNING ] && [ -z "$bad" ] && [ "$(grep -c ' admin ok$' "$load_log")" -gt 0 ]; then
    ok "serve stayed RUNNING; no query failed but while the predictor restarted ($(grep -c ' predictor fail' "$load_log") over $window); the token from before the kills still works"
else
    not_ok "serve is $serving; queries failed while:${bad:- (none)}; answered while admin was down: $(grep -c ' admin ok$' "$load_log")"
fi

# ---- teardown --------------------------------------------------------------------------------
call POST /inference_jobs/serve/1/stop >/dev/null
rfk_swarm_teardown
note "$((SECONDS - started)) s in all"
exit $failed
