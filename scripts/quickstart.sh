#!/usr/bin/env bash
# A single-machine cluster in one command: builds, starts `aurora-scheduler --local-agent`, writes a
# clusters.json for it, submits examples/hello_world.aurora, prints the job URL and the first lines
# of its output, and keeps the cluster up until Ctrl-C.
#
# Everything lives under ./quickstart (data, clusters.json); nothing in your home is touched.
# Set PORT to use another port than 8081.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8081}"
ROOT="$PWD/quickstart"
mkdir -p "$ROOT"

command -v cargo >/dev/null || {
  echo "quickstart: cargo is needed: install Rust with rustup (https://rustup.rs: curl https://sh.rustup.rs -sSf | sh), then run this again" >&2
  exit 1
}
# The C compiler, Kerberos headers and libclang the build needs, when missing (apt-get as root,
# sudo otherwise; the same list .ci/run uses).
scripts/install-deps.sh --build

echo "== building"
cargo build --release -q -p aurora -p aurora-scheduler
BIN="$PWD/target/release"

cat > "$ROOT/clusters.json" <<JSON
[{"name": "devcluster", "scheduler_uri": "http://127.0.0.1:$PORT", "auth_mechanism": "UNAUTHENTICATED"}]
JSON
export AURORA_CONFIG_ROOT="$ROOT"

echo "== starting a single-machine cluster 'devcluster' on 127.0.0.1:$PORT (data in $ROOT/data)"
# The example's role is www-data, a system account (uid 33): allowed by name.
USERS=(--allow-task-user www-data)
if [ "$(id -u)" = 0 ]; then
  echo "   (as root: tasks run as their role's user, here www-data, allowed with --allow-task-user)"
else
  # Not as root, the embedded agent can only run tasks as you, who own the store.
  USERS+=(--local-agent-same-user)
  echo "   (not as root: tasks run as you with --local-agent-same-user, and could read and write the"
  echo "    cluster's store: fine for a machine only you use, not for a shared cluster)"
fi
# Its own session: a Ctrl-C meant for this script must not stop it before the job is killed.
setsid "$BIN/aurora-scheduler" --local-agent "${USERS[@]}" --cluster devcluster --listen "127.0.0.1:$PORT" --data-dir "$ROOT/data" \
  > "$ROOT/scheduler.log" 2>&1 &
SCHEDULER=$!
# On the way out (Ctrl-C, kill or the end): kill the job's tasks through the scheduler, then the
# scheduler itself, so that nothing is left running.
stopped=0
stop() {
  [ "$stopped" = 1 ] && return
  stopped=1
  echo; echo "== stopping"
  "$BIN/aurora" job killall devcluster/www-data/prod/hello >/dev/null 2>&1 || true
  kill $SCHEDULER 2>/dev/null || true
}
trap stop EXIT
trap 'stop; exit 130' INT TERM
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  kill -0 $SCHEDULER 2>/dev/null || { cat "$ROOT/scheduler.log"; exit 1; }
  sleep 0.1
done

"$BIN/aurora" job killall devcluster/www-data/prod/hello >/dev/null 2>&1 || true
"$BIN/aurora" job create --wait-until RUNNING devcluster/www-data/prod/hello examples/hello_world.aurora
echo "== first lines of its output (aurora task logs devcluster/www-data/prod/hello/0):"
for _ in $(seq 50); do
  out=$("$BIN/aurora" task logs devcluster/www-data/prod/hello/0 2>/dev/null || true)
  [ -n "$out" ] && break
  sleep 0.1
done
echo "$out" | head -5
echo
echo "The cluster is up. In another shell: export AURORA_CONFIG_ROOT=$ROOT; then try"
echo "  $BIN/aurora job status devcluster/www-data/prod/hello"
echo "  $BIN/aurora task logs --follow devcluster/www-data/prod/hello/0"
echo "Ctrl-C stops it."
wait $SCHEDULER
