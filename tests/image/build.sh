# Builds the image-test VM (sourced by tests/image/run.sh, which sets CACHE,
# W (work dir) and DEB): a cached debootstrap arm64 rootfs with the .deb
# installed, Debian's arm64 kernel, a busybox initramfs and an ext4 disk.
# Follows shared/notes/appliance.md: mirror from this machine's apt config,
# no kernel or initramfs-tools inside the chroot (15 min under emulation).

SUITE=bookworm
INCLUDE=systemd,systemd-sysv,udev,dbus,iproute2,curl,ca-certificates,kmod
# Modules the initramfs loads (with their modules.dep dependencies) to mount
# the virtio disk; the rootfs gets virtio_net for the network.
INITRD_MODULES="virtio_pci virtio_blk crc32c_generic ext4"
ROOTFS_MODULES="virtio_net virtio_gpu"

base_rootfs() {
  local mirror key base tmp
  mirror=$(debian_mirror)
  key=$(printf '%s %s %s' "$SUITE" "$INCLUDE" "$mirror" | md5sum | cut -c1-12)
  base="$CACHE/rootfs-$SUITE-arm64-$key.tar"
  # tests/image/prepare.sh may be building it in the background right now.
  exec 9>"$CACHE/rootfs.lock"
  flock 9
  if [ ! -f "$base" ]; then
    printf 'debootstrap %s arm64 from %s (cached afterwards in %s)\n' "$SUITE" "$mirror" "$CACHE" >&2
    mkdir -p "$CACHE/debs"
    tmp=$(mktemp -d "$CACHE/debootstrap.XXXXXX")
    debootstrap --arch=arm64 --variant=minbase --include="$INCLUDE" --cache-dir="$CACHE/debs" \
      "$SUITE" "$tmp/root" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -30 "$CACHE/debootstrap.log" >&2; rm -rf "$tmp"; die "debootstrap failed"; }
    tar -C "$tmp/root" -cf "$base.part" . && mv "$base.part" "$base"
    rm -rf "$tmp"
  fi
  flock -u 9
  printf '%s\n' "$base"
}

# Downloads (once) and unpacks the arm64 kernel and busybox-static into $W.
kernel_and_busybox() {
  local kpkg
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    apt-get -o DPkg::Lock::Timeout=600 update -qq || die "apt-get update (arm64) failed"
  fi
  kpkg=$(apt-cache depends linux-image-arm64:arm64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*\).*/\1/p' | head -1)
  if [ -z "$kpkg" ]; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq || die "apt-get update failed"
    kpkg=$(apt-cache depends linux-image-arm64:arm64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*\).*/\1/p' | head -1)
  fi
  [ -n "$kpkg" ] || die "cannot find the kernel package linux-image-arm64 depends on"
  mkdir -p "$CACHE/pkgs"
  (
    cd "$CACHE/pkgs"
    ls "${kpkg}"_*_arm64.deb >/dev/null 2>&1 || apt-get download -q "$kpkg:arm64" >/dev/null 2>&1 \
      || die "apt-get download $kpkg:arm64 failed"
    ls busybox-static_*_arm64.deb >/dev/null 2>&1 || apt-get download -q busybox-static:arm64 >/dev/null 2>&1 \
      || die "apt-get download busybox-static:arm64 failed"
  )
  dpkg-deb -x "$(ls "$CACHE/pkgs/${kpkg}"_*_arm64.deb | tail -1)" "$W/kernel"
  dpkg-deb -x "$(ls "$CACHE"/pkgs/busybox-static_*_arm64.deb | tail -1)" "$W/busybox"
  KVER=${kpkg#linux-image-}
  KMOD="$W/kernel/lib/modules/$KVER"
  [ -d "$KMOD" ] || KMOD="$W/kernel/usr/lib/modules/$KVER"
  [ -d "$KMOD" ] || die "no modules for $KVER in $kpkg"
  need_file "$W/kernel/boot/vmlinuz-$KVER" "$kpkg:arm64"
  need_file "$W/busybox/bin/busybox" busybox-static:arm64
  cp "$W/kernel/boot/vmlinuz-$KVER" "$W/vmlinuz"
  depmod -b "${KMOD%/lib/modules/$KVER}" "$KVER" || die "depmod on the kernel package failed"
}

# Prints the module files (relative to $KMOD) for the given module names,
# dependencies first.
module_closure() {
  local -A seen=()
  local out=()
  visit() {
    local path=$1 d deps
    [ -n "${seen[$path]:-}" ] && return 0
    seen[$path]=1
    deps=$(awk -F': *' -v m="$path" '$1 == m {print $2}' "$KMOD/modules.dep")
    for d in $deps; do visit "$d"; done
    out+=("$path")
  }
  local name path
  for name in "$@"; do
    path=$(awk -F: '{print $1}' "$KMOD/modules.dep" | grep -E "/${name//_/[_-]}\.ko(\.xz|\.zst)?$" | head -1)
    [ -n "$path" ] || { echo "module $name: built in" >&2; continue; }
    visit "$path"
  done
  printf '%s\n' "${out[@]}"
}

initramfs() {
  local d="$W/initrd" m f
  mkdir -p "$d/bin" "$d/modules" "$d/proc" "$d/sys" "$d/dev" "$d/newroot"
  cp "$W/busybox/bin/busybox" "$d/bin/busybox"
  cp tests/image/guest/init "$d/init"
  : >"$d/modules.order"
  for m in $(module_closure $INITRD_MODULES); do
    f=$(basename "$m")
    case "$f" in
      *.xz) xz -dc "$KMOD/$m" >"$d/modules/${f%.xz}"; f=${f%.xz} ;;
      *.zst) zstd -qdc "$KMOD/$m" >"$d/modules/${f%.zst}"; f=${f%.zst} ;;
      *) cp "$KMOD/$m" "$d/modules/$f" ;;
    esac
    echo "$f" >>"$d/modules.order"
  done
  (cd "$d" && find . | cpio -o -H newc --quiet | gzip -1) >"$W/initrd.img"
}

rootfs() {
  local base=$1 r="$W/root" m
  mkdir -p "$r"
  tar -C "$r" -xf "$base"
  cp "$DEB" "$r/tmp/wago.deb"
  chroot "$r" dpkg -i /tmp/wago.deb >"$W/dpkg.log" 2>&1 || { cat "$W/dpkg.log" >&2; die "dpkg -i wago.deb failed in the arm64 rootfs"; }
  rm "$r/tmp/wago.deb"
  # The admin token, as an operator would set it (top-level keys go first).
  printf 'admin_token = "%s"\n' "$ADMIN" | cat - "$r/etc/wago/wago.toml" >"$W/wago.toml"
  # The screen: the VM's virtio GPU framebuffer. No pairing by itself: the
  # guest has no WhatsApp to reach, and must not try.
  printf '\n[display]\ndriver = "fb"\ndevice = "/dev/fb0"\nauto_pair = false\n' >>"$W/wago.toml"
  cp "$W/wago.toml" "$r/etc/wago/wago.toml"
  install -m755 tests/image/guest/wago-test-agent "$r/usr/local/sbin/wago-test-agent"
  cp tests/image/guest/wago-test-agent.socket tests/image/guest/wago-test-agent@.service "$r/etc/systemd/system/"
  cp tests/image/guest/20-wired.network "$r/etc/systemd/network/"
  echo wago-test >"$r/etc/hostname"
  chroot "$r" systemctl enable --quiet wago-test-agent.socket systemd-networkd.service wago-display.service
  chroot "$r" systemctl mask --quiet serial-getty@ttyAMA0.service getty@tty1.service
  chroot "$r" systemctl is-enabled wago.service | grep -qx enabled || die "the .deb did not enable wago.service"
  for m in $(module_closure $ROOTFS_MODULES); do
    install -D -m644 "$KMOD/$m" "$r/lib/modules/$KVER/$m"
  done
  for m in modules.order modules.builtin modules.builtin.modinfo; do
    cp "$KMOD/$m" "$r/lib/modules/$KVER/$m"
  done
  depmod -b "$r" "$KVER" || die "depmod in the rootfs failed"
  mkfs.ext4 -q -F -L wago-root -d "$r" "$W/rootfs.img" 1G || die "mkfs.ext4 -d failed"
  rm -rf "$r"
}
