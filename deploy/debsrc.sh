# Fetching a Debian source package pinned to an installed binary package.
# Sourced by deploy/build-openssl and deploy/build-cjson; not run on its own.
#
# debsrc_version BINPKG        prints the installed version of BINPKG
# debsrc_fetch SRCPKG VERSION DIR
#     unpacks SRCPKG at exactly VERSION, Debian's patches applied, into
#     DIR/<srcpkg>-<upstream version>/ (apt-get source runs dpkg-source -x,
#     which applies debian/patches/series); prints that directory. Enables
#     Debian's deb-src lines for the build when apt has none. Returns 1 when
#     apt cannot provide the source (the caller then falls back).

debsrc_version() {
  dpkg-query -W -f='${Version}' "$1" 2>/dev/null
}

# Runs a command as root (directly, or through sudo when available).
debsrc_as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "debsrc: need root (or sudo) for: $*" >&2
    return 1
  fi
}

# Adds deb-src entries mirroring the Debian deb entries (bookworm and its
# security suite) in a file of their own, so the machine's sources stay as
# they were; apt-get update then fetches the Sources indexes.
debsrc_enable() {
  local f=/etc/apt/sources.list.d/streamer-deb-src.sources
  [[ -f $f ]] && return 0
  local codename
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  echo "debsrc: enabling deb-src for $codename in $f" >&2
  debsrc_as_root tee "$f" >/dev/null <<EOF || return 1
# Added by Streamer's deploy/ scripts: Debian source packages for the
# packaged build (openssl, cjson). Safe to remove.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $codename-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  debsrc_as_root apt-get update -qq >&2 || true
}

# True when apt knows source package $1 at version $2.
debsrc_has() {
  local versions
  versions=$(apt-cache showsrc "$1" 2>/dev/null || true)
  grep -qx "Version: $2" <<<"$versions"
}

debsrc_fetch() {
  local src=$1 version=$2 dir=$3
  local upstream=${version#*:}
  upstream=${upstream%-*}
  local out=$dir/$src-$upstream
  command -v dpkg-source >/dev/null 2>&1 || {
    echo "debsrc: dpkg-source missing (Debian package dpkg-dev)" >&2
    return 1
  }
  # (No `apt-cache | grep -q` pipe: under pipefail, grep's early exit
  # would fail the pipe.)
  if ! debsrc_has "$src" "$version"; then
    debsrc_enable || return 1
    debsrc_has "$src" "$version" || {
      echo "debsrc: apt has no source for $src $version" >&2
      return 1
    }
  fi
  rm -rf "$out"
  mkdir -p "$dir"
  (cd "$dir" && apt-get source -q "$src=$version" > "$src-source.log" 2>&1) ||
    { tail -20 "$dir/$src-source.log" >&2; return 1; }
  [[ -d $out ]] || return 1
  echo "$out"
}
