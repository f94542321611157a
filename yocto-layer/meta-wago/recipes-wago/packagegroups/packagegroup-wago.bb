SUMMARY = "wago appliance: the gateway, its display service and what they need"
DESCRIPTION = "Everything a wago box runs on top of a minimal systemd image: the gateway, the optional pairing display service, CA certificates and time zones."
SECTION = "net"
LICENSE = "MIT"

inherit packagegroup

RDEPENDS:${PN} = "\
    ca-certificates \
    tzdata \
    wago \
    wago-display \
"
