#!/usr/bin/env bash
# Builds (or finds cached) the image test's base arm64 rootfs. tests/run
# starts this in the background before compiling, so debootstrap's downloads
# overlap the Rust builds; tests/image/run.sh waits for it through a lock and
# builds the rootfs itself if this failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/deps.sh
. tests/image/build.sh
CACHE=${WAGO_IMAGE_CACHE:-/var/cache/wago-image}
need_list image_prepare
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc"
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64 \
  || die "cannot enable the qemu-aarch64 binfmt"
mkdir -p "$CACHE"
base_rootfs
