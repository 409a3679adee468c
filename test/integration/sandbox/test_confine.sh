#!/usr/bin/env bash
# test/integration/sandbox/test_confine.sh: the upload check confined without bubblewrap
# (`rafikid check-template --confine`: Landlock and seccomp, sdk/sandbox/rfk_sandbox_confine.c),
# as admin runs it under swarm, in its own container next to its secrets and the Docker socket
# (issue 13; suites integration and sandbox, a TAP script).
#
# The hostile template (tpl_escape.c) attacks from its constructor while the check loads it,
# once per escape, with targets this script makes: a store, a key, a dataset and another
# user's template (files in a folder of this run), a job folder, a listening unix socket
# (standing in for the Docker socket) and a TCP port. Each case is contained when the check
# refuses the copy (no report, or ok false) and its output says no ESCAPED. Then:
#   - control: the same read of the key without --confine escapes (the attack is real);
#   - the good copy and every zoo template pass the confined check with the report they get
#     unconfined (confinement breaks no real template);
#   - the targets have their sha256, nothing was planted, no process of the attack is left.
# Skips (TAP plan 0) where the kernel has no Landlock. Environment (from meson): RAFIKID,
# TPL_ESCAPE, ZOO_TEMPLATES (paths, space-separated).
set -uo pipefail

rafikid=${RAFIKID:?}
tpl=${TPL_ESCAPE:?}
zoo=${ZOO_TEMPLATES:?}

n_test=0
failed=0
ok () { n_test=$((n_test + 1)); echo "ok $n_test - $*"; }
not_ok () { n_test=$((n_test + 1)); failed=1; echo "not ok $n_test - $*"; }

dir=$(mktemp -d /tmp/rafiki-confine.XXXXXX)
tag=cnf$(($$ % 100000))
listener=""
cleanup () {
    [ -n "$listener" ] && kill "$listener" 2>/dev/null
    # Only this run's attack processes (named by its own tag), by pid.
    for pid in $(pgrep -x "$tag"); do kill -KILL "$pid" 2>/dev/null; done
    rm -rf "$dir"
}
trap cleanup EXIT

# The probe: a confined check of the good copy says whether Landlock works here.
cp "$tpl" "$dir/good.so"
printf '\nRFK-ESCAPE where=none attack=none tag=%s\n' "$tag" >>"$dir/good.so"
probe=$("$rafikid" check-template --confine "$dir/good.so" TABULAR_CLASSIFICATION 2>&1)
case "$probe" in
    *"has no Landlock"*) echo "1..0 # SKIP ${probe}"; exit 0 ;;
esac

mkdir -p "$dir/data" "$dir/job"
head -c 4096 /dev/urandom >"$dir/data/rafiki.db"
head -c 64 /dev/urandom >"$dir/data/jwt.key"
head -c 4096 /dev/urandom >"$dir/data/victim.csv"
cp "$tpl" "$dir/data/victim.so"
chmod 600 "$dir/data/"*
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8); time.sleep(600)' \
    "$dir/data/docker.sock" &
listener=$!
for _ in $(seq 50); do [ -S "$dir/data/docker.sock" ] && break; sleep 0.1; done
sums=$(cd "$dir/data" && sha256sum rafiki.db jwt.key victim.csv victim.so)
targets="store=$dir/data/rafiki.db environ=/proc/$$/environ key=$dir/data/jwt.key"
targets="$targets dataset=$dir/data/victim.csv template=$dir/data/victim.so jobdir=$dir/job"
targets="$targets port=1 socket=$dir/data/docker.sock"

attacks="read-store read-environ read-key read-dataset read-template write-job connect-admin connect-unix
    signal-parent ptrace grandchild forkbomb allocate write-10g spin"
echo "1..$(($(echo $attacks | wc -w) + 4))"

# A copy that attacks with $1; the check's output and exit status (in $out, $rc).
check () { # attack [--confine]
    cp "$tpl" "$dir/c-$1.so"
    printf '\nRFK-ESCAPE where=check attack=%s tag=%s %s\n' "$1" "$tag" "$targets" >>"$dir/c-$1.so"
    out=$(cd "$dir/job" && timeout 60 "$rafikid" check-template ${2:-} "$dir/c-$1.so" \
        TABULAR_CLASSIFICATION 2>&1)
    rc=$?
}
for attack in $attacks; do
    check "$attack" --confine
    if [ $rc != 0 ] && [[ "$out" != *ESCAPED* ]] && [[ "$out" != *'"ok":true'* ]]; then
        ok "check/$attack: contained (exit $rc${out:+: $out})"
    else
        not_ok "check/$attack: exit $rc, report: $out"
    fi
done

check read-key
if [[ "$out" == *"ESCAPED read-key"* ]]; then
    ok "control: unconfined, the same check reads the key (the attack is real)"
else
    not_ok "control: unconfined, read-key did not escape (exit $rc: $out): the cases prove nothing"
fi

bad=""
for t in "$dir/good.so" $zoo; do
    # Its task, from the refusal of a wrong one ("... is for task T, not NOPE").
    task=$("$rafikid" check-template "$t" NOPE 2>&1 | sed -n 's/.* is for task \([A-Z_]*\), not NOPE.*/\1/p')
    [ -n "$task" ] || task=TABULAR_CLASSIFICATION
    plain=$("$rafikid" check-template "$t" "$task" 2>&1)
    confined=$("$rafikid" check-template --confine "$t" "$task" 2>&1)
    if [[ "$plain" != *'"ok":true'* ]] || [ "$confined" != "$plain" ]; then
        bad="$bad $(basename "$t") (unconfined: ${plain:0:120}; confined: ${confined:0:160})"
    fi
done
if [ -z "$bad" ]; then
    ok "the good copy and $(echo $zoo | wc -w) zoo templates pass the confined check with their unconfined report"
else
    not_ok "confined checks that differ:$bad"
fi

now=$(cd "$dir/data" && sha256sum rafiki.db jwt.key victim.csv victim.so)
planted=$(ls -A "$dir/job")
if [ "$now" = "$sums" ] && [ -z "$planted" ]; then
    ok "the targets kept their sha256; nothing was planted in the job folder"
else
    not_ok "targets changed or planted: $(diff <(echo "$sums") <(echo "$now") | tr '\n' ' ') planted: $planted"
fi

left=""
for _ in $(seq 20); do
    left=$(pgrep -x "$tag" | tr '\n' ' ')
    [ -z "$left" ] && break
    sleep 0.5
done
if [ -z "$left" ]; then
    ok "no process of the attacks is left"
else
    not_ok "processes of the attacks left: $left"
fi
exit $failed
