#!/usr/bin/env bash
# Installs the packages scripts/package.sh built (dpkg -i, as root, on this machine) and checks
# them as an operator would: every file where docs/operations.md says, the aurora user and the
# state directories, the units clean under `systemd-analyze verify`, `--version` everywhere, and
# a single-machine cluster from the installed binaries and their /etc settings (the scheduler as
# the aurora user, the agent as root, as their units run them) that runs the hello example and
# shows its log through the client. Purges the packages at the end (also on failure).
#
# For CI and for a disposable machine: it installs system packages and starts services on
# 127.0.0.1:8081.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "check-packages: run as root (it installs packages)" >&2; exit 1; }
deb="${CARGO_TARGET_DIR:-target}/debian"
work=$(mktemp -d)
pids=()
fail() { echo "check-packages: FAILED: $*" >&2; exit 1; }
cleanup() {
  set +e
  if [ -x /usr/bin/aurora ]; then
    AURORA_CONFIG_ROOT="$work" timeout 60 aurora job killall devcluster/www-data/prod/hello >/dev/null 2>&1
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  dpkg --purge aurora-client aurora-agent aurora-scheduler >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "== dpkg -i"
dpkg -i "$deb"/aurora-scheduler_*.deb "$deb"/aurora-agent_*.deb "$deb"/aurora-client_*.deb

echo "== files"
for f in \
  /usr/bin/aurora-scheduler /usr/bin/aurora-agent /usr/bin/aurora /usr/bin/aurora_admin \
  /etc/aurora/scheduler.toml /etc/aurora/agent.toml /etc/aurora/clusters.json \
  /usr/lib/systemd/system/aurora-scheduler.service /usr/lib/systemd/system/aurora-agent.service \
  /usr/share/man/man1/aurora.1.gz /usr/share/man/man1/aurora-job-create.1.gz \
  /usr/share/man/man1/aurora_admin-host_drain.1.gz /usr/share/man/man1/aurora-scheduler.1.gz \
  /usr/share/man/man1/aurora-agent.1.gz \
  /usr/share/bash-completion/completions/aurora /usr/share/zsh/vendor-completions/_aurora \
  /usr/share/fish/vendor_completions.d/aurora.fish \
  /usr/share/bash-completion/completions/aurora-scheduler \
  /usr/share/doc/aurora-scheduler/operations.md \
  /usr/share/doc/aurora-client/examples/hello_world.aurora; do
  [ -e "$f" ] || fail "$f is missing"
done
for pkg in aurora-scheduler:/etc/aurora/scheduler.toml aurora-agent:/etc/aurora/agent.toml \
  aurora-client:/etc/aurora/clusters.json; do
  dpkg-query -W -f='${Conffiles}' "${pkg%%:*}" | grep -q " ${pkg#*:} " ||
    fail "${pkg#*:} is not a conffile of ${pkg%%:*}"
done
getent passwd aurora | grep -q ':/var/lib/aurora:/usr/sbin/nologin$' || fail "no aurora system user"
[ "$(stat -c '%U %a' /var/lib/aurora)" = "aurora 700" ] || fail "/var/lib/aurora: $(stat -c '%U %a' /var/lib/aurora)"
[ "$(stat -c '%U %a' /var/lib/aurora-agent)" = "root 711" ] || fail "/var/lib/aurora-agent: $(stat -c '%U %a' /var/lib/aurora-agent)"
[ -L /etc/systemd/system/multi-user.target.wants/aurora-scheduler.service ] || fail "the scheduler's unit is not enabled"
[ -L /etc/systemd/system/multi-user.target.wants/aurora-agent.service ] || fail "the agent's unit is not enabled"
man -l /usr/share/man/man1/aurora-job-create.1.gz 2>/dev/null | grep -q -- "--wait-until" || fail "aurora-job-create(1) does not render"
bash -c 'source /usr/share/bash-completion/completions/aurora && complete -p aurora' >/dev/null || fail "the bash completion does not load"

echo "== --version"
for b in aurora aurora_admin aurora-scheduler aurora-agent; do
  "/usr/bin/$b" --version | grep -qx "$b [0-9.]*" || fail "$b --version: $("/usr/bin/$b" --version)"
done

echo "== systemd-analyze verify"
for unit in aurora-scheduler aurora-agent; do
  out=$(systemd-analyze verify "/usr/lib/systemd/system/$unit.service" 2>&1) || fail "$unit: $out"
  [ -z "$out" ] || fail "$unit.service: $out"
done

echo "== a single-machine cluster from the installed files"
# As the units start them: the scheduler as aurora, the agent as root. The example's role is
# www-data (a system account), allowed on the command line, which adds to the settings files.
setpriv --reuid=aurora --regid=aurora --clear-groups \
  /usr/bin/aurora-scheduler --config /etc/aurora/scheduler.toml --allow-task-user www-data \
  >"$work/scheduler.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
  curl -fs http://127.0.0.1:8081/health >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$work/scheduler.log"; fail "the scheduler did not start"; }
  sleep 0.1
done
curl -fs http://127.0.0.1:8081/health >/dev/null || fail "the scheduler is not serving"
[ "$(stat -c '%U %a' /var/lib/aurora/cluster-secret)" = "aurora 600" ] || fail "the cluster secret: $(stat -c '%U %a' /var/lib/aurora/cluster-secret)"
/usr/bin/aurora-agent --config /etc/aurora/agent.toml --allow-task-user www-data >"$work/agent.log" 2>&1 &
pids+=($!)
# The first token, made on the scheduler's machine as root (it acts as the store's owner).
/usr/bin/aurora-scheduler --config /etc/aurora/scheduler.toml token issue root >"$work/auth-token"
chmod 600 "$work/auth-token"
[ "$(stat -c %U /var/lib/aurora/scheduler.db)" = aurora ] || fail "token issue changed the store's owner"
export AURORA_CONFIG_ROOT="$work"
# Without the token a write is refused (reads are open, as in Aurora, unless the authorization
# file says otherwise).
if out=$(AURORA_CONFIG_ROOT=/nonexistent HOME=/nonexistent aurora job create devcluster/www-data/prod/hello \
  /usr/share/doc/aurora-client/examples/hello_world.aurora 2>&1); then
  fail "the installed scheduler took a job from a caller without a token"
fi
[[ "$out" == *"401"* || "$out" == *"auth"* ]] || fail "refused, but not for want of a token: $out"
timeout 120 aurora job create --wait-until RUNNING devcluster/www-data/prod/hello \
  /usr/share/doc/aurora-client/examples/hello_world.aurora || {
  cat "$work/scheduler.log" "$work/agent.log"
  fail "the hello example did not run"
}
for _ in $(seq 100); do
  out=$(aurora task logs devcluster/www-data/prod/hello/0 2>/dev/null || true)
  [[ "$out" == *"hello world"* ]] && break
  sleep 0.1
done
[[ "$out" == *"hello world"* ]] || fail "no 'hello world' in the task's log: $out"
aurora job killall devcluster/www-data/prod/hello
echo "== the packages work"
