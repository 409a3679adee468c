#!/usr/bin/env bash
# test/integration/sandbox/test_hostile_swarm.sh: the hostile-template suite on Docker Swarm
# (issue 13.5; suites `swarm` and `sandbox`, a TAP script). test_hostile.c is the suite under
# the local launcher; here the same template (tpl_escape.c) attacks where template code runs
# under swarm: admin's upload check (in admin's own container, beside its config secret, its
# keys, the whole data dir and the Docker socket; the check confines itself there) and a
# trial (in a trainer's container, which mounts its own job's files only; the trial confines
# itself too).
#
# A swarm of its own (deploy/swarm-nodes up 1), Rafiki-C deployed with PostgreSQL. The
# superadmin (the victim) uploads a dataset and a template; mallory, a model developer,
# uploads the hostile copies, their targets named as admin's container sees them. Then:
#   - check/ATTACK, one per escape: the upload is refused, and its reason says no ESCAPED;
#   - trial/quiet: one trial tries every escape that returns (reads of the config secret,
#     the keys, admin's environ, the victim's dataset and template; writing params/ beside
#     its own job's folder; admin's command port; the Docker socket; signalling and ptrace of
#     its trainer; a grandchild): it ends ERRORED, every attempt blocked, and a good
#     template's trial in the same job COMPLETED;
#   - afterwards: admin answers, the victim's files and admin's keys keep their sha256,
#     nothing was planted under params/, and no container of the job is left once it ends.
#
# Skips (TAP plan 0, with the reason) where deploy/swarm-nodes cannot run (see
# test/lib/rfk_test_swarm.sh). Environment (from meson): RFK_SOURCE_DIR, RFK_BUILD_ROOT,
# TPL_ESCAPE, RFK_TEST_DATA.
set -uo pipefail

src=${RFK_SOURCE_DIR:?}
build=${RFK_BUILD_ROOT:?}
tpl=${TPL_ESCAPE:?}
data_set=${RFK_TEST_DATA:?}
started=$SECONDS
name=hostile-swarm
# shellcheck source=../../lib/rfk_test_swarm.sh
. "$src/test/lib/rfk_test_swarm.sh"

attacks="read-secret read-key read-environ read-dataset read-template write-job connect-admin
    connect-unix signal-parent ptrace grandchild forkbomb allocate write-10g spin"
rfk_swarm_can_run
echo "1..$(($(echo $attacks | wc -w) + 9))"
rfk_swarm_nodes_up 1 "$build"
rfk_swarm_deploy

data=$state/shared/rafiki # the data dir on the host; /var/lib/rafiki in the containers
inside=/var/lib/rafiki
tag=esw$(($$ % 100000))
copy () { # name where attack: a copy of the template with its trailer, at $state/NAME.so
    cp "$tpl" "$state/$1.so"
    printf '\nRFK-ESCAPE where=%s attack=%s tag=%s %s\n' "$2" "$3" "$tag" "$targets" >>"$state/$1.so"
}

# ---- the victim's files, mallory ---------------------------------------------------------------
targets=""
copy victim-model none none
victim_data=$(upload /datasets dataset "$data_set/iris-val.csv" victim-data | jq -r '.id // empty')
victim_model=$(upload /models model_file_bytes "$state/victim-model.so" victim-model | jq -r '.id // empty')
call POST /users '{"email":"mallory@example.com","password":"Mallory-pass-1234","user_type":"MODEL_DEVELOPER"}' >/dev/null
mallory=$(curl -s -H 'Content-Type: application/json' \
    --data '{"email":"mallory@example.com","password":"Mallory-pass-1234"}' "$api/tokens" |
    jq -r '.token // empty')
first_file () { find "$1" -maxdepth 1 -type f ! -name '*.sha256' | sort | head -n1; }
key=$(first_file "$data/keys")
dataset=$(first_file "$data/datasets")
template=$(first_file "$data/models")
if [ -n "$victim_data" ] && [ -n "$victim_model" ] && [ -n "$mallory" ] && [ -n "$key" ] &&
    [ -n "$dataset" ] && [ -n "$template" ]; then
    ok "the victim's dataset and template, and mallory (a model developer)"
else
    not_ok "the victim's files (dataset '$victim_data', template '$victim_model'), mallory's token, the targets (key '$key', dataset '$dataset', template '$template')"
    exit 1
fi
targets="secret=/run/secrets/rafiki-admin-config key=$inside/${key#"$data"/}"
targets="$targets environ=/proc/1/environ dataset=$inside/${dataset#"$data"/}"
targets="$targets template=$inside/${template#"$data"/} jobdir=$inside/params port=3001"
targets="$targets socket=/var/run/docker.sock store=$inside/rafiki.db"
note "targets: $targets"
sums=$(cd "$data" && find keys datasets models -type f | sort | xargs sha256sum)

as_mallory () { # curl arguments...
    curl -s -H "Authorization: Bearer $mallory" "$@"
}

# ---- the upload check, in admin's container ----------------------------------------------------
for attack in $attacks; do
    copy "check-$attack" check "$attack"
    answer=$(as_mallory -w '\n%{http_code}' -F "model_file_bytes=@$state/check-$attack.so" \
        -F "name=check-$attack" -F task=TABULAR_CLASSIFICATION "$api/models")
    code=$(echo "$answer" | tail -n1)
    body=$(echo "$answer" | sed '$d' | head -c 300)
    if [ "$code" != 200 ] && [ "${code:0:1}" = 4 ] && [[ "$body" != *ESCAPED* ]]; then
        ok "check/$attack: refused ($code: $body)"
    else
        not_ok "check/$attack: HTTP $code: $body"
    fi
done

# ---- a trial, in a trainer's container ---------------------------------------------------------
copy trial-quiet trial quiet
copy trial-good none none
quiet_id=$(as_mallory -F "model_file_bytes=@$state/trial-quiet.so" -F name=trial-quiet \
    -F task=TABULAR_CLASSIFICATION -F access_right=PUBLIC "$api/models" | jq -r '.id // empty')
good_id=$(as_mallory -F "model_file_bytes=@$state/trial-good.so" -F name=trial-good \
    -F task=TABULAR_CLASSIFICATION -F access_right=PUBLIC "$api/models" | jq -r '.id // empty')
train=$(upload /datasets dataset "$data_set/iris-train.csv" job-train | jq -r '.id // empty')
val=$(upload /datasets dataset "$data_set/iris-val.csv" job-val | jq -r '.id // empty')
call POST /train_jobs "$(jq -cn --arg t "$train" --arg v "$val" --arg q "$quiet_id" --arg g "$good_id" \
    '{app:"hostile", task:"TABULAR_CLASSIFICATION", train_dataset_id:$t, val_dataset_id:$v,
    model_ids:[$q,$g], budget:{MODEL_TRIAL_COUNT:1, TRAINER_COUNT:1}}')" >/dev/null
status=""
until_s=$((SECONDS + 300))
while [ $SECONDS -lt $until_s ]; do
    status=$(call GET /train_jobs/hostile/1 | jq -r '.status // empty')
    case "$status" in STOPPED | ERRORED) break ;; esac
    sleep 1
done
trials=$(call GET /train_jobs/hostile/1/trials)
echo "$trials" | jq -r '.[] | "# hostile-swarm: trial of \(.model_name // .model_id) \(.status): \(.error // "" | tostring)"'
quiet=$(echo "$trials" | jq -c --arg m "$quiet_id" '[.[] | select(.model_id == $m)][0] // {}')
reason=$(echo "$quiet" | jq -r '.error // ""')
blocked=$(echo "$reason" | grep -o ':blocked' | wc -l)
if [ "$(echo "$quiet" | jq -r .status)" = ERRORED ] && [[ "$reason" != *ESCAPED* ]] &&
    [ "$blocked" -ge 12 ]; then
    ok "trial/quiet: ERRORED, all $blocked escapes blocked: $reason"
else
    not_ok "trial/quiet: $(echo "$quiet" | jq -r '.status // "none"'): $reason"
fi
good=$(echo "$trials" | jq -r --arg m "$good_id" '[.[] | select(.model_id == $m)][0].status // "none"')
if [ "$good" = COMPLETED ] && [ "$status" = STOPPED ]; then
    ok "trial/others-completed: the good template's trial COMPLETED, the job STOPPED"
else
    not_ok "trial/others-completed: the good template's trial is $good, the job $status"
fi

# ---- afterwards ----------------------------------------------------------------------------------
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$api/datasets")
if [ "$code" = 200 ]; then
    ok "after/admin-answers: GET /datasets 200"
else
    not_ok "after/admin-answers: GET /datasets answered $code"
fi
now=$(cd "$data" && find keys datasets models -type f | sort | xargs sha256sum)
# Files that were there before keep their sha256 (later uploads add files: not compared).
changed=$(join -j 2 <(echo "$sums" | sort -k2) <(echo "$now" | sort -k2) | awk '$2 != $3 {print $1}')
planted=$(find "$data/params" -name 'planted-by-escape' 2>/dev/null)
if [ -z "$changed" ] && [ -z "$planted" ]; then
    ok "after/files-unchanged: the victim's files and admin's keys keep their sha256; nothing planted under params/"
else
    not_ok "after/files-unchanged: changed: $changed; planted: $planted"
fi
left=""
for _ in $(seq 120); do
    left=$(docker ps -q --filter "label=rafiki.instance=default" | wc -l)
    [ "$left" = 0 ] && break
    sleep 1
done
if [ "$left" = 0 ]; then
    ok "after/no-container-left: the job's advisor and trainer containers are gone"
else
    not_ok "after/no-container-left: $left containers of admin's launcher still run"
fi

rfk_swarm_teardown
note "$((SECONDS - started)) s in all"
exit $failed
