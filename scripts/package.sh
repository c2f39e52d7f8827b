#!/usr/bin/env bash
# Builds the Debian packages into target/debian/ with cargo-deb:
#
#   aurora-scheduler  the scheduler, its systemd unit, /etc/aurora/scheduler.toml, the aurora user
#   aurora-agent      the agent, its systemd unit, /etc/aurora/agent.toml
#   aurora-client     aurora and aurora_admin, an example /etc/aurora/clusters.json
#
# each with its man pages and bash, zsh and fish completions, made from the binaries' own flags
# (`BINARY --generate-docs DIR`). What goes where is in each crate's [package.metadata.deb]; the
# units, settings files and maintainer scripts are in packaging/. scripts/check-packages.sh
# installs and tries them.
#
#   scripts/package.sh            installs cargo-deb (and the build's Debian packages) if missing
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
CARGO_DEB_VERSION=3.8.0

command -v cargo >/dev/null || { echo "package: cargo is needed (https://rustup.rs)" >&2; exit 1; }
scripts/install-deps.sh --package
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
  echo "== installing cargo-deb $CARGO_DEB_VERSION"
  cargo install --locked --quiet cargo-deb --version "$CARGO_DEB_VERSION"
fi

echo "== building (release)"
cargo build --release --locked -p aurora -p aurora-scheduler -p aurora-agent
target="${CARGO_TARGET_DIR:-target}"
for bin in aurora aurora_admin aurora-scheduler aurora-agent; do
  rm -rf "$target/release/docs/$bin"
  "$target/release/$bin" --generate-docs "$target/release/docs/$bin"
  # Debian ships man pages compressed (cargo-deb compresses only files it did not build).
  gzip -9n "$target/release/docs/$bin"/man/*.1
done

echo "== packaging"
for crate in aurora-scheduler aurora-agent aurora; do
  cargo deb --no-build --locked -p "$crate"
done
ls -l "$target"/debian/*.deb
