# Shared helpers for the appliance scripts (sourced, not run).
# Installs Debian packages and rustup targets on demand; fails loudly.

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
