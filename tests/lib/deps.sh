# shellcheck shell=bash
# Shared helpers for the appliance scripts (sourced, not run).
# Installs Debian packages and rustup targets on demand; fails loudly.
# The package lists and what each must provide: tests/lib/packages.sh.

step() { printf '\n==> %s\n' "$*"; }
die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

APT_UPDATED=${APT_UPDATED:-}
# need_pkgs PKG...: installs the Debian packages that are not installed yet.
need_pkgs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${missing[*]}"
  if [ -z "$APT_UPDATED" ]; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq || die "apt-get update failed"
    APT_UPDATED=1
    export APT_UPDATED
  fi
  printf 'installing: %s\n' "${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# shellcheck source=tests/lib/packages.sh
. "$(dirname "${BASH_SOURCE[0]}")/packages.sh"

# need_list NAME: installs the packages of list NAME (PKGS_NAME in
# tests/lib/packages.sh), then checks every command, file, python module and
# probe of NEEDS_NAME: the preflight of each script, so a missing package fails
# here, with its name, and not deep inside a run.
need_list() {
  local -n pkgs="PKGS_$1"
  need_pkgs "${pkgs[@]}"
  check_list "$1"
}

# check_list NAME: checks NEEDS_NAME (see need_list); prints each missing item
# with the package that provides it, and dies if there was one.
check_list() {
  local -n needs="NEEDS_$1"
  local kind what pkg ok nbad=0
  while read -r kind what pkg; do
    [ -n "$kind" ] || continue
    case $kind in
      cmd) command -v "$what" >/dev/null && ok=1 || ok="" ;;
      file) [ -e "$what" ] && ok=1 || ok="" ;;
      py) python3 -c "import $what" >/dev/null 2>&1 && ok=1 || ok="" ;;
      probe) "$what" && ok=1 || ok="" ;;
      *) die "list $1: unknown kind '$kind' in NEEDS_$1" ;;
    esac
    if [ -z "$ok" ]; then
      printf '%s: list %s: %s %s is missing or fails (package %s)\n' "${0##*/}" "$1" "$kind" "$what" "$pkg" >&2
      nbad=$((nbad + 1))
    fi
  done <<<"$needs"
  [ "$nbad" -eq 0 ] || die "list $1: $nbad of its needs missing after installing it (above); add the package to PKGS_$1 in tests/lib/packages.sh"
}

# need_file PATH PACKAGE: a file the run needs that is not on a list (it
# comes from a downloaded package); dies at once naming the package.
need_file() {
  [ -e "$1" ] || die "$1 is missing (it comes from the package $2)"
}

# need_targets TRIPLE...: adds rustup targets that are missing.
need_targets() {
  local t
  for t in "$@"; do
    rustup target list --installed | grep -qx "$t" || rustup target add "$t" || die "rustup target add $t failed"
  done
}

# The Debian mirror this machine's apt uses (never written into the repo).
debian_mirror() {
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  [ -n "$m" ] || die "cannot find the Debian mirror in the apt configuration"
  printf '%s\n' "$m"
}
