#!/usr/bin/env bash
# Lints yocto-layer/meta-wago (called by tests/run; bitbake itself cannot run
# here). oelint-adv from PyPI in the venv at .venv, offline: release wrynose,
# oelint.vars.homepageping suppressed (it would make an HTTP request). Any
# warning or error fails. Then what oelint-adv does not check: the licence
# checksum, the generated crates include not being committed, the release-
# profile overrides and the Rust version wrynose can build.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib/deps.sh
layer=yocto-layer/meta-wago
OELINT_VERSION=9.11.2

step "oelint-adv $OELINT_VERSION in .venv"
need_list yocto
[ -x .venv/bin/python ] || python3 -m venv .venv || die "cannot create .venv"
if ! .venv/bin/oelint-adv --version 2>/dev/null | grep -qx "oelint-adv $OELINT_VERSION"; then
  .venv/bin/pip install -q "oelint-adv==$OELINT_VERSION" || die "pip install oelint-adv failed"
fi

step "lint $layer (release wrynose)"
mapfile -t files < <(find "$layer" -name '*.bb' -o -name '*.bbappend' -o -name '*.bbclass' | sort)
[ ${#files[@]} -ge 3 ] || die "expected the wago, packagegroup and image recipes, found: ${files[*]}"
out=$(.venv/bin/oelint-adv --release wrynose --suppress oelint.vars.homepageping --quiet "${files[@]}" 2>&1 || true)
printf '%s\n' "$out" | grep -E ':(info):' || true
if printf '%s\n' "$out" | grep -E ':(warning|error):'; then
  die "oelint-adv found warnings or errors (above)"
fi
# A broken linter prints no findings either: it must flag a recipe without LICENSE.
probe=$(mktemp -d)
printf 'SUMMARY = "probe"\nSRC_URI = "file://x"\n' > "$probe/probe_1.0.bb"
probe_out=$(.venv/bin/oelint-adv --release wrynose --suppress oelint.vars.homepageping --quiet "$probe/probe_1.0.bb" 2>&1 || true)
rm -rf "$probe"
grep -q 'oelint.var.mandatoryvar.LICENSE' <<<"$probe_out" || die "oelint-adv did not flag a recipe without LICENSE: $probe_out"

step "LIC_FILES_CHKSUM matches LICENSE"
recipe="$layer/recipes-wago/wago/wago_git.bb"
want=$(sed -n 's/^LIC_FILES_CHKSUM = "file:\/\/LICENSE;md5=\([0-9a-f]*\)"$/\1/p' "$recipe")
have=$(md5sum LICENSE | cut -d' ' -f1)
[ -n "$want" ] || die "no LIC_FILES_CHKSUM = \"file://LICENSE;md5=…\" in $recipe"
[ "$want" = "$have" ] || die "LIC_FILES_CHKSUM md5 $want != md5 of LICENSE $have"
grep -q '^license = "Apache-2.0"$' Cargo.toml || die "Cargo.toml licence is not Apache-2.0"
grep -q '^LICENSE = "Apache-2.0"$' "$recipe" || die "recipe LICENSE is not Apache-2.0"
grep -q 'Version 2.0, January 2004' LICENSE || die "LICENSE is not the Apache-2.0 text"
echo "md5 $have OK"

step "layer rules"
grep -q '^LAYERSERIES_COMPAT_wago = "wrynose"$' "$layer/conf/layer.conf" || die "layer not marked wrynose"
if git ls-files --error-unmatch "$layer"/recipes-wago/wago/*crates.inc >/dev/null 2>&1; then
  die "a generated *-crates.inc is committed: it comes from bitbake -c update_crates"
fi
grep -q '^include ${BPN}-crates.inc$' "$recipe" || die "the crates include must be optional (include, not require)"
grep -q '^export CARGO_PROFILE_RELEASE_PANIC = "unwind"$' "$recipe" || die "missing panic=unwind override"
grep -q '^export CARGO_PROFILE_RELEASE_STRIP = "false"$' "$recipe" || die "missing strip=false override"
grep -q -- '-p wago' "$recipe" || die "the recipe must build -p wago only"
rv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)
printf '%s\n1.94\n' "$rv" | sort -V -C || die "rust-version $rv is newer than wrynose's Rust 1.94"
for f in systemd/wago.service systemd/wago-display.service packaging/wago.toml board/common/60-wago-display.rules; do
  grep -q "\${S}/$f" "$recipe" || die "the recipe does not install $f"
done
echo "yocto: OK"
