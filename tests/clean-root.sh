#!/usr/bin/env bash
# The suite's install steps in a clean machine (called by tests/run): every
# list of tests/lib/packages.sh, each in its own fresh minbase root of this
# machine's Debian release and architecture (debootstrap --variant=minbase,
# cached in /var/cache/wago-image like the image test's rootfs), with this
# machine's apt sources. In the root it runs the suite's own `need_list NAME`
# (tests/lib/deps.sh): install with --no-install-recommends, then check each
# command, file, module and probe the list names. A package the suite only
# gets because this machine already had it, or because another package
# recommends it, fails here with the list and the package.
#
# Package resolution and install only, not the suite. A list whose install
# plan (`apt-get -s`: the same packages in the same versions) and definition
# are unchanged since its last pass is not installed again.
#
#   tests/clean-root.sh [LIST...]     (default: every list, $PKG_LISTS)
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib/deps.sh
CACHE=${WAGO_IMAGE_CACHE:-/var/cache/wago-image}
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot, mount)"
read -r -a lists <<<"${*:-$PKG_LISTS}"
# The definitions this run checks (as sourced above; copied into the roots
# below) and how it checks them.
defs=$(cat tests/lib/deps.sh tests/lib/packages.sh tests/clean-root.sh | sha256sum)

step "clean-root check: host tools"
need_list clean_root

# shellcheck source=/dev/null
. /etc/os-release
suite=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
arch=$(dpkg --print-architecture)
mirror=$(debian_mirror)

step "clean-root check: minbase $suite $arch root"
mkdir -p "$CACHE/clean-root-debs" "$CACHE/clean-root-archives/partial" "$CACHE/clean-root-ok"
key=$(printf 'minbase %s %s %s' "$suite" "$arch" "$mirror" | md5sum | cut -c1-12)
base="$CACHE/clean-root-$suite-$arch-$key.tar"
exec 9>"$CACHE/clean-root.lock"
flock 9
if [ ! -f "$base" ]; then
  printf 'debootstrap --variant=minbase %s %s from %s (cached afterwards in %s)\n' "$suite" "$arch" "$mirror" "$CACHE"
  tmp=$(mktemp -d "$CACHE/clean-root.XXXXXX")
  debootstrap --arch="$arch" --variant=minbase --cache-dir="$CACHE/clean-root-debs" \
    "$suite" "$tmp/root" "$mirror" >"$CACHE/clean-root-debootstrap.log" 2>&1 \
    || { tail -30 "$CACHE/clean-root-debootstrap.log" >&2; rm -rf "$tmp"; die "debootstrap failed"; }
  tar -C "$tmp/root" -cf "$base.part" . && mv "$base.part" "$base"
  rm -rf "$tmp"
fi
printf 'root: %s\n' "$base"

work=$(mktemp -d /var/tmp/wago-clean-root.XXXXXX)
# The roots are only ever mounted inside the private mount namespaces of
# `unshare --mount` below, so removing them can never reach the host's /dev.
trap 'rm -rf "$work"' EXIT

# A root of the cached tar with this machine's apt sources (the files apt
# reads, and the keyrings they name), resolv.conf, no service starts.
new_root() {
  local r=$1 f k
  mkdir -p "$r"
  tar -C "$r" -xf "$base"
  rm -f "$r"/etc/apt/sources.list "$r"/etc/apt/sources.list.d/*
  [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$r/etc/apt/"
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && cp "$f" "$r/etc/apt/sources.list.d/"
  done
  for f in /etc/apt/trusted.gpg /etc/apt/trusted.gpg.d /etc/apt/keyrings; do
    [ -e "$f" ] && cp -a "$f" "$r/etc/apt/"
  done
  while read -r k; do
    [ -f "$k" ] && [ ! -e "$r$k" ] && install -D -m644 "$k" "$r$k"
  done < <(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -Eo '(Signed-By:|signed-by=) *[^] ]+' | sed -E 's/^(Signed-By:|signed-by=) *//' | sort -u)
  cp -L /etc/resolv.conf "$r/etc/resolv.conf"
  # A throwaway root: no fsync per file, no docs (the install's cost is I/O).
  printf 'force-unsafe-io\npath-exclude=/usr/share/doc/*\npath-exclude=/usr/share/man/*\npath-exclude=/usr/share/locale/*\n' \
    >"$r/etc/dpkg/dpkg.cfg.d/wago-clean-root"
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
  chmod 755 "$r/usr/sbin/policy-rc.d"
  mkdir -p "$r/wago-check/tests"
  cp -a tests/lib "$r/wago-check/tests/"
}

# in_root ROOT CMD: runs CMD (bash) in ROOT, in a private mount namespace with
# /proc, /dev, a fresh /dev/shm and the shared .deb cache.
in_root() {
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  unshare --mount --propagation private --fork bash -c '
    set -e
    r=$1
    mount -t proc proc "$r/proc"
    mount --rbind /dev "$r/dev"
    mount -t tmpfs tmpfs "$r/dev/shm"
    mount --bind "$2" "$r/var/cache/apt/archives"
    exec chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/root LANG=C.UTF-8 ${http_proxy:+http_proxy=$http_proxy} ${https_proxy:+https_proxy=$https_proxy} \
      bash -c "$3" clean-root
  ' in_root "$1" "$CACHE/clean-root-archives" "$2"
}

step "clean-root check: apt sources and package lists"
new_root "$work/updated"
in_root "$work/updated" 'apt-get -o DPkg::Lock::Timeout=600 update -qq' || die "apt-get update failed in the clean root"

failed=()
for name in "${lists[@]}"; do
  declare -n pkgs="PKGS_$name" needs="NEEDS_$name"
  [ -n "${pkgs+x}" ] || die "no list $name in tests/lib/packages.sh"
  step "clean-root check: list $name: ${pkgs[*]}"
  plan=$(in_root "$work/updated" "apt-get -s -qq --no-install-recommends install ${pkgs[*]} | grep '^Inst' || true")
  stamp=$(printf '%s\n' "$name" "$defs" "$plan" | sha256sum | cut -c1-24)
  n=$(grep -c '^Inst' <<<"$plan" || true)
  if [ -f "$CACHE/clean-root-ok/$stamp" ]; then
    printf 'OK (unchanged since its last pass: the same %s packages in the same versions)\n' "$n"
    unset -n pkgs needs
    continue
  fi
  t=$(date +%s)
  [ -f "$work/updated.tar" ] || tar -C "$work/updated" -cf "$work/updated.tar" .
  rm -rf "$work/root"
  mkdir -p "$work/root"
  tar -C "$work/root" -xf "$work/updated.tar"
  if in_root "$work/root" "cd /wago-check && . tests/lib/deps.sh && APT_UPDATED=1 need_list $name"; then
    printf 'OK: %s packages installed, every need of the list there (%ss)\n' "$n" "$(($(date +%s) - t))"
    : >"$CACHE/clean-root-ok/$stamp"
  else
    printf 'FAILED: list %s (%ss)\n' "$name" "$(($(date +%s) - t))"
    failed+=("$name")
  fi
  unset -n pkgs needs
done
rm -rf "$work/root"
in_root "$work/updated" 'apt-get -qq autoclean' >/dev/null 2>&1 || true

[ ${#failed[@]} -eq 0 ] || die "in a clean $suite root, these lists do not provide what the suite calls: ${failed[*]} (tests/lib/packages.sh)"
echo "clean-root: OK (${lists[*]})"
