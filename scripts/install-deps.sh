#!/usr/bin/env bash
# Installs the Debian packages that building (and, with --test, testing) this repository needs,
# when they are missing: one list for scripts/quickstart.sh and .ci/run.
#
#   scripts/install-deps.sh [--build | --test | --package] [--print]
#
#   --build  (the default) what `cargo build` needs: C and C++ compilers (SQLite and libFuzzer are
#            built from source), pkg-config, the MIT Kerberos headers and libclang (the GSSAPI
#            bindings of libgssapi, made by bindgen), protoc with protobuf's own .proto files
#            (etcd's gRPC API, compiled by etcd-client).
#   --test   also what `cargo test --workspace` runs: Chromium and its WebDriver (the web UI's
#            browser tests), `script` (a pseudo-terminal for the update progress bar test), `ip`
#            (network namespaces for the partition tests), an MIT Kerberos KDC and etcd (the
#            high-availability tests start a three-member etcd cluster).
#   --package  what `--build` needs, and what scripts/package.sh and scripts/check-packages.sh
#            use: dpkg-dev (dpkg-shlibdeps, for the packages' dependencies), systemd
#            (systemd-analyze, to verify the units) and curl.
#   --print  print the missing packages on one line and install nothing.
#
# Installs with apt-get as root, through sudo otherwise; on a system without apt-get it says what
# to install and stops. AURORA_DEPS_ROOT prefixes the file checks (for the script's own tests).
set -euo pipefail

mode=build
print=0
for arg in "$@"; do
  case "$arg" in
    --build) mode=build ;;
    --test) mode=test ;;
    --package) mode=package ;;
    --print) print=1 ;;
    -h | --help)
      sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "install-deps: unknown option '$arg' (see --help)" >&2
      exit 2
      ;;
  esac
done
root="${AURORA_DEPS_ROOT:-}"

have() { command -v "$1" >/dev/null 2>&1; }

need=()
{ have cc && have c++; } || need+=(build-essential)
have pkg-config || need+=(pkg-config)
have krb5-config || need+=(libkrb5-dev)
compgen -G "$root/usr/lib/llvm-*/lib/libclang*.so*" >/dev/null || need+=(libclang-dev)
have protoc || need+=(protobuf-compiler)
[ -e "$root/usr/include/google/protobuf/descriptor.proto" ] || need+=(libprotobuf-dev)
if [ "$mode" = test ]; then
  have chromium || need+=(chromium)
  have chromedriver || need+=(chromium-driver)
  have script || need+=(bsdutils)
  have ip || need+=(iproute2)
  { have krb5kdc || [ -x "$root/usr/sbin/krb5kdc" ]; } || need+=(krb5-kdc krb5-admin-server krb5-user)
  have etcd || need+=(etcd-server)
fi
if [ "$mode" = package ]; then
  have dpkg-shlibdeps || need+=(dpkg-dev)
  have systemd-analyze || need+=(systemd)
  have curl || need+=(curl)
fi

if [ "$print" = 1 ]; then
  echo "${need[*]}"
  exit 0
fi
[ ${#need[@]} -eq 0 ] && exit 0

if ! have apt-get; then
  echo "install-deps: no apt-get here (not Debian or Ubuntu): install the equivalents of these Debian packages, then run this again: ${need[*]}" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  have sudo || {
    echo "install-deps: installing ${need[*]} needs root, or sudo" >&2
    exit 1
  }
  sudo=sudo
fi
echo "== installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y --no-install-recommends "${need[@]}"
