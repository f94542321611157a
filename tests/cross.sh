#!/usr/bin/env bash
# The ARM part of the test suite (called by tests/run):
#  1. cross-builds release binaries of the `wago` package only (-p wago, so
#     the test-only simulator never reaches them) for aarch64 (primary) and
#     armv7 (secondary), and checks the stripped aarch64 size (< 10 MB);
#  2. runs the library's unit tests for aarch64 under qemu-user (the runner
#     in .cargo/config.toml);
#  3. smoke test: the aarch64 `wago serve` under qemu-user answers /health on
#     loopback.
# Installs the Debian cross toolchains, qemu-user and the rustup targets it
# needs; fails loudly when it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib/deps.sh

TARGET_DIR=${CARGO_TARGET_DIR:-target}
MAX_SIZE=$((10 * 1000 * 1000))

step "cross toolchains (Debian) and rustup targets"
need_list cross
need_targets aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf

for t in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
  step "release build for $t (-p wago)"
  start=$(date +%s)
  cargo build --release --locked -p wago --target "$t"
  bin="$TARGET_DIR/$t/release/wago"
  [ -x "$bin" ] || die "no binary at $bin"
  size=$(stat -c %s "$bin")
  printf '%s: %s bytes (stripped), built in %ss\n' "$t" "$size" "$(($(date +%s) - start))"
  if [ "$t" = aarch64-unknown-linux-gnu ] && [ "$size" -ge "$MAX_SIZE" ]; then
    die "stripped aarch64 binary is $size bytes, over the 10 MB budget"
  fi
done

step "aarch64 library unit tests under qemu-user"
cargo test --locked -p wago --lib --target aarch64-unknown-linux-gnu

step "smoke: aarch64 wago serve under qemu-user answers /health"
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
WAGO_DATA_DIR="$work/data" WAGO_LISTEN=127.0.0.1:0 \
  qemu-aarch64-static -L /usr/aarch64-linux-gnu \
  "$TARGET_DIR/aarch64-unknown-linux-gnu/release/wago" serve 2>"$work/log" &
pid=$!
addr=""
for _ in $(seq 1 300); do
  addr=$(sed -n 's/.*listening addr=\([0-9.:]*\).*/\1/p' "$work/log" | head -1)
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; die "wago under qemu-aarch64 exited"; }
  sleep 0.1
done
[ -n "$addr" ] || { cat "$work/log" >&2; die "wago under qemu-aarch64 did not listen within 30 s"; }
body=$(curl -fsS --noproxy '*' --max-time 10 "http://$addr/health") || die "/health failed"
[ "$body" = '{"ok":true}' ] || die "/health answered $body"
printf 'aarch64 /health on %s: %s\n' "$addr" "$body"
kill -TERM "$pid"
wait "$pid" || die "wago under qemu-aarch64 did not exit cleanly on SIGTERM"
pid=""
echo "cross: OK"
