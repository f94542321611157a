#!/usr/bin/env bash
# Builds the wago .deb for Debian / Raspberry Pi OS with dpkg-deb.
#
#   packaging/build-deb.sh arm64|armhf [OUT_DIR]
#
# Takes the release binary built by tests/cross.sh (or `cargo build --release
# -p wago --target …`), the systemd units, the default /etc/wago/wago.toml
# (a conffile), the display udev rules and the maintainer scripts (postinst
# creates the `wago` system user). Prints the path of the .deb.
set -euo pipefail
cd "$(dirname "$0")/.."
die() { printf 'build-deb.sh: %s\n' "$*" >&2; exit 1; }

arch=${1:-}
case "$arch" in
  arm64) triple=aarch64-unknown-linux-gnu; objdump=aarch64-linux-gnu-objdump ;;
  armhf) triple=armv7-unknown-linux-gnueabihf; objdump=arm-linux-gnueabihf-objdump ;;
  *) die "usage: $0 arm64|armhf [OUT_DIR]" ;;
esac
target_dir=${CARGO_TARGET_DIR:-target}
out=${2:-$target_dir/deb}
bin="$target_dir/$triple/release/wago"
[ -x "$bin" ] || die "no release binary at $bin: run tests/cross.sh first"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt-get install dpkg)"
command -v "$objdump" >/dev/null || die "$objdump not found (the cross binutils)"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
[ -n "$version" ] || die "no version in Cargo.toml"
# The newest glibc symbol version the binary needs, for Depends.
glibc=$("$objdump" -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
[ -n "$glibc" ] || die "cannot read the glibc symbol versions of $bin"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -Dm755 "$bin" "$root/usr/bin/wago"
install -Dm644 systemd/wago.service "$root/usr/lib/systemd/system/wago.service"
install -Dm644 systemd/wago-display.service "$root/usr/lib/systemd/system/wago-display.service"
install -Dm644 packaging/wago.toml "$root/etc/wago/wago.toml"
install -Dm644 board/common/60-wago-display.rules "$root/usr/lib/udev/rules.d/60-wago-display.rules"
install -Dm644 README.md "$root/usr/share/doc/wago/README.md"
install -Dm644 LICENSE "$root/usr/share/doc/wago/copyright"
install -d "$root/DEBIAN"
install -m644 packaging/debian/conffiles "$root/DEBIAN/conffiles"
for s in postinst prerm postrm; do
  install -m755 "packaging/debian/$s" "$root/DEBIAN/$s"
done
size_kib=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: wago
Version: $version
Architecture: $arch
Maintainer: wago developers <wago@localhost>
Installed-Size: $size_kib
Depends: libc6 (>= $glibc), systemd, passwd
Section: net
Priority: optional
Description: WhatsApp HTTP API gateway for small ARM boxes
 wago serves a WhatsApp HTTP API (the WaGo / wuzapi dialect) on the LAN and
 pushes inbound messages by webhook. One process, one redb file in
 /var/lib/wago, run by systemd with a watchdog.
CONTROL
mkdir -p "$out"
deb="$out/wago_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
printf '%s\n' "$deb"
