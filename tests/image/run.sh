#!/usr/bin/env bash
# Whole-image test (called by tests/run): an arm64 Debian rootfs made with
# debootstrap, the wago .deb installed, booted in qemu-system-aarch64. From
# the host, through loopback port forwards, it checks that
#   - wago.service reaches READY (Type=notify) and /health answers;
#   - a session created before a VM reboot is still there after it;
#   - a stalled daemon (SIGSTOP) is killed by the systemd watchdog and serves again;
# and prints boot-to-READY, the watchdog recovery time and the unit's
# `systemd-analyze security` rating. Downloads are cached in
# /var/cache/wago-image (WAGO_IMAGE_CACHE), so a rerun is fast.
#
#   tests/image/run.sh path/to/wago_VERSION_arm64.deb
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/deps.sh
. tests/image/build.sh

DEB=$(realpath "${1:?usage: tests/image/run.sh WAGO_ARM64_DEB}")
[ "$(dpkg-deb -f "$DEB" Architecture)" = arm64 ] || die "$DEB is not an arm64 package"
CACHE=${WAGO_IMAGE_CACHE:-/var/cache/wago-image}
ADMIN=wago-image-test-admin-0123456789
BOOT_TIMEOUT=300

step "host packages and arm64 binfmt"
need_list image_prepare
need_list image
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc"
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64 \
  || die "cannot enable the qemu-aarch64 binfmt"
grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 || die "qemu-aarch64 binfmt not enabled"

mkdir -p "$CACHE"
W=$(mktemp -d /var/tmp/wago-image.XXXXXX)
QEMU_PID=""
cleanup() {
  local rc=$?
  if [ -n "$QEMU_PID" ]; then kill "$QEMU_PID" 2>/dev/null || true; wait "$QEMU_PID" 2>/dev/null || true; fi
  if [ $rc -ne 0 ] && [ -f "$W/serial.log" ]; then
    echo "--- guest serial console (last 40 lines) ---" >&2
    tail -40 "$W/serial.log" >&2
  fi
  rm -rf "$W"
}
trap cleanup EXIT

step "base rootfs, kernel, initramfs, disk"
t=$(date +%s)
base=$(base_rootfs)
kernel_and_busybox
initramfs
rootfs "$base"
printf 'image built in %ss (kernel %s)\n' "$(($(date +%s) - t))" "$KVER"

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
HTTP_PORT=$(free_port)
AGENT_PORT=$(free_port)
[ "$HTTP_PORT" != "$AGENT_PORT" ] || AGENT_PORT=$((HTTP_PORT + 1))
URL="http://127.0.0.1:$HTTP_PORT"

# restrict=on: the guest reaches nothing but the forwarded ports (the rule:
# tests never send traffic beyond loopback); DHCP still comes from slirp.
# The VM's hardware is QEMU_VM (tests/lib/packages.sh; the qemu_vm probe of
# need_list image created it already); no firmware, so no ROMs: -kernel.
boot() {
  "${QEMU_VM[@]}" \
    -kernel "$W/vmlinuz" -initrd "$W/initrd.img" \
    -append "root=/dev/vda rw console=ttyAMA0 quiet vt.global_cursor_default=0" \
    -drive "file=$W/rootfs.img,if=none,format=raw,id=hd0" \
    -netdev "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$HTTP_PORT-:1337,hostfwd=tcp:127.0.0.1:$AGENT_PORT-:7000" \
    -monitor "unix:$W/monitor.sock,server,nowait" -serial "file:$W/serial.log" &
  QEMU_PID=$!
}

# agent CMD: one command to the guest's test agent; empty output if unreachable.
agent() {
  { exec 3<>"/dev/tcp/127.0.0.1/$AGENT_PORT" && printf '%s\n' "$1" >&3 && timeout 20 cat <&3; exec 3<&-; } 2>/dev/null || true
}
prop() { agent show | sed -n "s/^$1=//p"; }
health_ok() { [ "$(curl -fsS --noproxy '*' --max-time 3 "$URL/health" 2>/dev/null)" = '{"ok":true}' ]; }
wait_until_quiet() { # SECONDS CMD...: like wait_until, but returns 1 on timeout
  local end=$(($(date +%s) + $1))
  shift
  until "$@"; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 1
  done
}
wait_until() { # SECONDS WHAT CMD...
  local limit=$1 what=$2 end
  shift 2
  end=$(($(date +%s) + limit))
  until "$@"; do
    kill -0 "$QEMU_PID" 2>/dev/null || die "qemu exited while waiting for $what"
    [ "$(date +%s)" -lt "$end" ] || die "timed out after ${limit}s waiting for $what"
    sleep 0.5
  done
}
api() { curl -sS --noproxy '*' --max-time 10 -H "Authorization: Bearer $1" "${@:2}"; }

step "boot: wago reaches READY and /health answers"
t0=$(date +%s.%N)
boot
wait_until "$BOOT_TIMEOUT" "/health after boot" health_ok
host_boot=$(echo "$(date +%s.%N) - $t0" | bc)
[ "$(prop ActiveState)" = active ] || die "wago.service is not active: $(agent show)"
status=$(prop StatusText)
case "$status" in "Serving on 0.0.0.0:1337; 1 task checking in") ;; *) die "unexpected STATUS= '$status'" ;; esac
ready_us=$(prop ActiveEnterTimestampMonotonic)
guest_ready=$(echo "scale=2; $ready_us / 1000000" | bc)
echo "systemctl status: $status"
agent boot

step "display: wago-display draws on the VM's framebuffer what the gateway renders"
# The guest cannot reach WhatsApp (and must not try), so no pairing QR exists
# here: the screen is the "not linked yet" one. It must be exactly the screen
# the gateway renders for the same status (GET /display/screen.png).
created=$(api "$ADMIN" -X POST -H 'Content-Type: application/json' -d '{"Name":"till"}' "$URL/session/init")
token=$(sed -n 's/.*"Token":"\([^"]*\)".*/\1/p' <<<"$created")
[ -n "$token" ] || die "session/init answered: $created"
display_active() { agent display | grep -qx 'ActiveState=active'; }
wait_until 60 "wago-display.service active" display_active
screen_matches() {
  python3 tests/image/screendump.py "$W/monitor.sock" "$W/screen.ppm" >/dev/null || return 1
  local size w h
  size=$(head -c 20 "$W/screen.ppm" | sed -n 2p)
  w=${size% *}; h=${size#* }
  api "$ADMIN" -o "$W/screen.png" "$URL/display/screen.png?width=$w&height=$h" || return 1
  python3 tests/image/compare.py "$W/screen.ppm" "$W/screen.png" >"$W/compare.txt" 2>&1
}
if ! wait_until_quiet 60 screen_matches; then
  cat "$W/compare.txt" >&2
  agent display-journal >&2
  die "the framebuffer does not show the gateway's screen"
fi
echo "framebuffer $(head -c 20 "$W/screen.ppm" | sed -n 2p): $(cat "$W/compare.txt")"

step "a session survives a VM reboot"
[ "$(curl -sS --noproxy '*' -o /dev/null -w '%{http_code}' -H "token: $token" "$URL/session/status")" = 200 ] \
  || die "new session's status is not 200"
boot_id=$(agent bootid)
[ -n "$boot_id" ] || die "test agent unreachable"
agent reboot >/dev/null
new_boot() { local b; b=$(agent bootid); [ -n "$b" ] && [ "$b" != "$boot_id" ]; }
wait_until "$BOOT_TIMEOUT" "the guest to reboot" new_boot
wait_until "$BOOT_TIMEOUT" "/health after the reboot" health_ok
[ "$(curl -sS --noproxy '*' -o /dev/null -w '%{http_code}' -H "token: $token" "$URL/session/status")" = 200 ] \
  || die "the session's token is refused after the reboot"
api "$ADMIN" "$URL/admin/sessions" | grep -q '"Name":"till"' || die "the session is missing after the reboot"
echo "session 'till' and its token are there after the reboot"

step "watchdog: a stalled daemon is killed and serves again"
restarts=$(prop NRestarts)
old_pid=$(prop MainPID)
agent stall
t1=$(date +%s.%N)
recovered() { health_ok && [ "$(prop NRestarts)" -gt "$restarts" ] && [ "$(prop MainPID)" != "$old_pid" ]; }
wait_until 180 "the watchdog restart" recovered
recovery=$(echo "$(date +%s.%N) - $t1" | bc)
agent journal | grep -E 'Watchdog timeout|watchdog' | head -3
agent journal | grep -q 'Watchdog timeout' || die "the journal does not show a watchdog timeout"

step "hardening rating in the guest"
rating=$(agent security | grep 'Overall exposure level' || true)
[ -n "$rating" ] || die "systemd-analyze security gave no rating"
echo "$rating"

printf '\nimage: boot-to-READY %s s in the guest (%s s from qemu start to /health on the host); watchdog recovery %s s\n' \
  "$guest_ready" "$(printf '%.1f' "$host_boot")" "$(printf '%.1f' "$recovery")"
echo "image: OK"
