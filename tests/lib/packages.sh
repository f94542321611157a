# shellcheck shell=bash
# The Debian packages the suite installs and what it then calls (sourced by
# tests/lib/deps.sh). The one place both are written down: each script
# installs and checks its lists with `need_list NAME`, and tests/clean-root.sh
# runs the same `need_list NAME` in a fresh minbase root of this machine's
# Debian release, so a list that only works because a package happened to be
# on the machine (or came in as a Recommends) fails there.
#
# PKGS_<name>:  the packages (installed with --no-install-recommends).
# NEEDS_<name>: what must work afterwards, one per line, KIND WHAT PACKAGE:
#   cmd NAME      a command on PATH
#   file PATH     a file (ROMs, firmware, libraries, keyrings)
#   py MODULE     a python3 module
#   probe FUNC    a function below that runs the tool (must succeed)
# PACKAGE is the package that provides it (named in the error).
# shellcheck disable=SC2034 # the lists are read by name (need_list)

# Every list, in the order the suite installs them.
PKG_LISTS="run image_prepare clean_root cross deb units yocto image"

# tests/run: the Python venv (standardwebhooks, schemathesis), headless
# Chromium (tests/explorer.rs), ip and unshare (its network namespace), mount
# (the storage tests' tmpfs), Node.js and curl (tests/conformance_wago_go.rs
# replays document 002's curl examples and runs its Node receiver).
PKGS_run=(python3 python3-venv chromium iproute2 util-linux mount nodejs curl)
NEEDS_run="
cmd python3 python3
py venv python3
py ensurepip python3-venv
cmd chromium chromium
probe chromium_headless chromium
cmd ip iproute2
cmd unshare util-linux
cmd mount mount
cmd umount mount
cmd node nodejs
probe node_esm nodejs
cmd curl curl
"

# tests/image/prepare.sh (and run.sh): the arm64 base rootfs by debootstrap,
# second stage under qemu-user through binfmt.
PKGS_image_prepare=(debootstrap debian-archive-keyring gpgv qemu-user-static binfmt-support)
NEEDS_image_prepare="
cmd debootstrap debootstrap
cmd wget wget
cmd gpgv gpgv
file /usr/share/keyrings/debian-archive-keyring.gpg debian-archive-keyring
cmd update-binfmts binfmt-support
file /usr/share/binfmts/qemu-aarch64 qemu-user-static
file /usr/libexec/qemu-binfmt/aarch64-binfmt-P qemu-user-static
cmd flock util-linux
cmd tar tar
"

# tests/clean-root.sh itself: a minbase root by debootstrap, entered with
# chroot in a private mount namespace.
PKGS_clean_root=(debootstrap debian-archive-keyring gpgv util-linux)
NEEDS_clean_root="
cmd debootstrap debootstrap
file /usr/share/keyrings/debian-archive-keyring.gpg debian-archive-keyring
cmd unshare util-linux
cmd flock util-linux
cmd chroot coreutils
cmd tar tar
"

# tests/cross.sh: the cross linkers named in .cargo/config.toml, the
# qemu-user runners (with -L /usr/<triple>) and curl for the smoke test.
PKGS_cross=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf
  libc6-dev-armhf-cross qemu-user-static curl)
NEEDS_cross="
cmd aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
cmd arm-linux-gnueabihf-gcc gcc-arm-linux-gnueabihf
file /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 libc6-arm64-cross
file /usr/arm-linux-gnueabihf/lib/ld-linux-armhf.so.3 libc6-armhf-cross
file /usr/aarch64-linux-gnu/lib/libc.so libc6-dev-arm64-cross
file /usr/arm-linux-gnueabihf/lib/libc.so libc6-dev-armhf-cross
file /usr/aarch64-linux-gnu/lib/libgcc_s.so.1 libgcc-s1-arm64-cross
cmd qemu-aarch64-static qemu-user-static
cmd qemu-arm-static qemu-user-static
probe cross_hello gcc-aarch64-linux-gnu
cmd curl curl
"

# tests/appliance.sh, .deb step: packaging/build-deb.sh and check-deb.sh.
PKGS_deb=(dpkg file binutils-aarch64-linux-gnu binutils-arm-linux-gnueabihf)
NEEDS_deb="
cmd dpkg-deb dpkg
cmd file file
file /usr/share/misc/magic.mgc libmagic-mgc
cmd aarch64-linux-gnu-objdump binutils-aarch64-linux-gnu
cmd arm-linux-gnueabihf-objdump binutils-arm-linux-gnueabihf
"

# tests/appliance.sh, units step: systemd-analyze security --offline.
PKGS_units=(systemd)
NEEDS_units="
cmd systemd-analyze systemd
"

# tests/yocto-lint.sh: oelint-adv in the venv, git ls-files, md5sum.
PKGS_yocto=(python3 python3-venv git)
NEEDS_yocto="
cmd python3 python3
py ensurepip python3-venv
cmd git git
cmd md5sum coreutils
"

# tests/image/run.sh (after image_prepare): the VM under qemu-system, its
# initramfs (cpio, gzip, the kernel's xz/zstd modules), the ext4 disk, depmod,
# curl and bc on the host side, python3 for the screendump. No ROM and no
# firmware: the VM boots its kernel with -kernel and its virtio-net device
# has romfile= (the PXE ROM would come from ipxe-qemu, a Recommends only);
# the qemu_vm probe creates the VM's devices, so a missing ROM fails here.
PKGS_image=(qemu-system-arm cpio gzip e2fsprogs kmod xz-utils zstd curl bc python3)
NEEDS_image="
cmd qemu-system-aarch64 qemu-system-arm
probe qemu_vm qemu-system-arm
cmd cpio cpio
cmd gzip gzip
cmd mkfs.ext4 e2fsprogs
cmd depmod kmod
cmd xz xz-utils
cmd zstd zstd
cmd curl curl
cmd bc bc
cmd python3 python3
cmd chroot coreutils
cmd dpkg-deb dpkg
cmd apt-get apt
"

# The image test's VM without disk, network backend, kernel or console: the
# hardware, one definition for tests/image/run.sh and the qemu_vm probe.
# shellcheck disable=SC2054 # commas inside qemu options
QEMU_VM=(qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 2 -m 1024
  -device virtio-blk-pci,drive=hd0 -device virtio-net-pci,netdev=net0,romfile=
  -device virtio-gpu-pci -display none)

# Probes: each runs its tool once, quietly; a failure prints why.
qemu_vm() { # creates the VM (every device, ROMs and all) and quits at once
  local out
  if ! out=$(echo quit | timeout 60 "${QEMU_VM[@]}" -S -monitor stdio -serial none \
    -blockdev driver=null-co,node-name=hd0 -netdev user,id=net0,restrict=on 2>&1); then
    printf '%s\n' "$out" >&2
    if grep -q romfile <<<"$out"; then
      echo "(QEMU's option ROMs come from ipxe-qemu, which qemu-system-arm only recommends)" >&2
    fi
    return 1
  fi
}
cross_hello() { # links a C program for aarch64 and runs it under qemu-user
  local d rc=0
  d=$(mktemp -d)
  printf 'int main(void) { return 0; }\n' >"$d/hello.c"
  aarch64-linux-gnu-gcc -o "$d/hello" "$d/hello.c" && qemu-aarch64-static -L /usr/aarch64-linux-gnu "$d/hello" || rc=1
  rm -rf "$d"
  return "$rc"
}
node_esm() { # runs an ES module importing node:crypto, as the WAGO-Go receiver does
  local out
  out=$(node --input-type=module -e 'import crypto from "node:crypto"; console.log(crypto.createHmac("sha256", "k").update("b").digest("hex"))') || return 1
  [ ${#out} = 64 ] || { echo "node printed: $out" >&2; return 1; }
}
chromium_headless() { # runs a page's script in headless Chromium, as tests/explorer.rs does
  local d out rc=0
  d=$(mktemp -d)
  out=$(HOME=$d timeout 90 chromium --headless --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$d/profile" --dump-dom \
    'data:text/html,<p id="p">no script</p><script>p.textContent = "script" + " ran"</script>' 2>"$d/log") || rc=1
  grep -q 'script ran' <<<"$out" || { tail -5 "$d/log" >&2; rc=1; }
  rm -rf "$d"
  return "$rc"
}
