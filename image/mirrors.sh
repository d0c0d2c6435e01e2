# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by image/build and image/package-test: the Debian archive and security mirrors this
# machine's apt already uses (so the image builds wherever apt works, a local mirror
# included), else deb.debian.org. Sets DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR unless set.
host_mirror() {  # host_mirror SUFFIX: the first apt source URI ending in SUFFIX
  local suffix=$1 uri
  for uri in $( (cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs:[[:space:]]*//p'
                 cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
                   awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break } }') |
                tr ' ' '\n'); do
    uri=${uri%/}
    [[ "$uri" == *"$suffix" ]] && { echo "$uri"; return; }
  done
}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-$(host_mirror /debian)}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-$(host_mirror /debian-security)}
DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
