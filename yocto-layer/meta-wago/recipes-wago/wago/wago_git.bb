SUMMARY = "WhatsApp HTTP API gateway for small ARM boxes"
SUMMARY:${PN}-display = "wago pairing display service"
DESCRIPTION = "wago serves a WhatsApp HTTP API (the WaGo / wuzapi dialect) on the LAN and pushes inbound messages by webhook: one process, one redb file, run by systemd with a watchdog."
HOMEPAGE = "https://crates.io/crates/wago"
SECTION = "net"
CVE_PRODUCT = "wago"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=3b83ef96387f14655fc854ddc3c6bd57"

# The repository this layer ships in; override WAGO_REPO_DIR (a path) or
# SRC_URI/SRCREV in local.conf to build another checkout or a pinned commit.
PV = "0.1.0+git"
SRC_URI = "git://${WAGO_REPO_DIR};protocol=file;branch=main"
# The checkout the layer ships in is the source of truth; pin a commit in
# local.conf (SRCREV:pn-wago) for a reproducible release image.
# nooelint: oelint.vars.autorev
SRCREV = "${AUTOREV}"

inherit cargo cargo-update-recipe-crates systemd useradd

# One crate:// entry per crate in Cargo.lock, written by
# `bitbake -c update_crates wago` (class cargo-update-recipe-crates). It is
# generated, not committed (it goes stale with every Cargo.lock change), so
# it is included optionally: run update_crates before the first build.
# nooelint: oelint.file.includenotfound,oelint.file.requireinclude
include ${BPN}-crates.inc

# Only the product package: never the test-only simulator crate.
CARGO_BUILD_FLAGS:append = " -p wago"

# Yocto's Rust sysroot has no abort-built panic_abort, and a stripped binary
# trips the already-stripped QA check: override the crate's release profile.
export CARGO_PROFILE_RELEASE_PANIC = "unwind"
export CARGO_PROFILE_RELEASE_STRIP = "false"

do_install:append() {
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${S}/systemd/wago.service ${D}${systemd_system_unitdir}/wago.service
    install -m 0644 ${S}/systemd/wago-display.service ${D}${systemd_system_unitdir}/wago-display.service
    install -d ${D}${sysconfdir}/wago
    install -m 0644 ${S}/packaging/wago.toml ${D}${sysconfdir}/wago/wago.toml
    install -d ${D}${nonarch_base_libdir}/udev/rules.d
    install -m 0644 ${S}/board/common/60-wago-display.rules ${D}${nonarch_base_libdir}/udev/rules.d/60-wago-display.rules
}

PACKAGES =+ "${PN}-display"
# nooelint: oelint.var.filesoverride
FILES:${PN}-display = "${systemd_system_unitdir}/wago-display.service ${nonarch_base_libdir}/udev/rules.d/60-wago-display.rules"
RDEPENDS:${PN}-display = "${PN}"
CONFFILES:${PN} = "${sysconfdir}/wago/wago.toml"

SYSTEMD_PACKAGES = "${PN} ${PN}-display"
SYSTEMD_SERVICE:${PN} = "wago.service"
SYSTEMD_SERVICE:${PN}-display = "wago-display.service"
# Enabled by hand on a box with a screen (see board/README.md).
SYSTEMD_AUTO_ENABLE:${PN}-display = "disable"

USERADD_PACKAGES = "${PN} ${PN}-display"
USERADD_PARAM:${PN} = "--system --user-group --home-dir ${localstatedir}/lib/wago --no-create-home --shell /sbin/nologin wago"
GROUPADD_PARAM:${PN}-display = "--system spi; --system i2c; --system gpio"
