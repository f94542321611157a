SUMMARY = "wago appliance image: a minimal systemd image running the gateway"
DESCRIPTION = "A minimal systemd image whose only job is the wago gateway (packagegroup-wago), for Raspberry Pi class boards."
SECTION = "images"
LICENSE = "MIT"

inherit core-image features_check

REQUIRED_DISTRO_FEATURES = "systemd"

IMAGE_INSTALL:append = " packagegroup-wago"
IMAGE_FEATURES:append = " read-only-rootfs-delayed-postinsts"
