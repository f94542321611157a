#!/usr/bin/env bash
# Checks a built wago .deb: architecture, files, conffiles, maintainer
# scripts and the binary's ELF machine. Called by tests/run.
#
#   packaging/check-deb.sh DEB arm64|armhf
set -euo pipefail
deb=$1 arch=$2
die() { printf 'check-deb.sh: %s: %s\n' "$deb" "$*" >&2; exit 1; }
[ -f "$deb" ] || die "missing"
[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || die "Architecture is not $arch"
[ "$(dpkg-deb -f "$deb" Package)" = wago ] || die "Package is not wago"
dpkg-deb -f "$deb" Depends | grep -q 'libc6 (>= 2\.' || die "Depends lacks a libc6 version"
listing=$(dpkg-deb -c "$deb")
files=$(awk '{print $6}' <<<"$listing")
for f in ./usr/bin/wago ./usr/lib/systemd/system/wago.service \
  ./usr/lib/systemd/system/wago-display.service ./etc/wago/wago.toml \
  ./usr/lib/udev/rules.d/60-wago-display.rules ./usr/share/doc/wago/copyright; do
  grep -qx "$f" <<<"$files" || die "lacks $f"
done
grep -q '^-rwxr-xr-x root/root .* ./usr/bin/wago$' <<<"$listing" || die "wago not root-owned 0755"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -e "$deb" "$tmp/ctl"
grep -qx /etc/wago/wago.toml "$tmp/ctl/conffiles" || die "wago.toml is not a conffile"
grep -q 'useradd --system' "$tmp/ctl/postinst" || die "postinst does not create the wago user"
sh -n "$tmp/ctl/postinst" && sh -n "$tmp/ctl/prerm" && sh -n "$tmp/ctl/postrm" || die "maintainer script syntax"
dpkg-deb -x "$deb" "$tmp/root"
case "$arch" in
  arm64) want="ARM aarch64" ;;
  armhf) want="ARM, EABI5" ;;
esac
file -b "$tmp/root/usr/bin/wago" | grep -q "$want" || die "binary is not $want: $(file -b "$tmp/root/usr/bin/wago")"
printf 'deb OK: %s (%s, %s KiB installed)\n' "$deb" "$arch" "$(dpkg-deb -f "$deb" Installed-Size)"
