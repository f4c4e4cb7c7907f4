#!/bin/sh
# make deb: midsops_VERSION_ARCH.deb from `make install DESTDIR=staging PREFIX=/usr`, with
# dpkg-deb. The binary is compiled in a build directory of its own with PREFIX=/usr (so it
# looks for themes and runbooks in /usr/share/midsops), never in the tree's build/.
# Environment: DEB_BUILD (build directory, default build-deb), DEB_OUTDIR (where the .deb
# goes, default the top directory), DEB_MAINTAINER ("Name <mail>", default git's user),
# DEB_LINTIAN=no to skip lintian (run when it is installed; it is not a dependency).
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
umask 022
MAKE=${MAKE:-make}
BUILD=${DEB_BUILD:-build-deb}
OUTDIR=${DEB_OUTDIR:-$TOP}

die() { echo "mkdeb: $*" >&2; exit 1; }
command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb not found (package dpkg)"

version=$(sed -n 's/^#define MIDSOPS_VERSION "\([^"]*\)".*/\1/p' include/version.h)
[ -n "$version" ] || die "no MIDSOPS_VERSION in include/version.h"
arch=$(dpkg --print-architecture)
maint=${DEB_MAINTAINER:-}
if [ -z "$maint" ]; then
	name=$(git config user.name 2>/dev/null || true)
	mail=$(git config user.email 2>/dev/null || true)
	maint="${name:-midsops maintainers} <${mail:-root@localhost}>"
fi

# Debian's hardening flags when dpkg-dev is there. _FORTIFY_SOURCE marks chown and fread
# warn_unused_result, and the few calls that ignore them do so on purpose.
if command -v dpkg-buildflags >/dev/null 2>&1; then
	export DEB_BUILD_MAINT_OPTIONS=hardening=+all
	cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS) -Wno-unused-result"
	ldflags=$(dpkg-buildflags --get LDFLAGS)
else
	cflags="-O2 -g"
	ldflags=""
fi
# make does not track flags: in a build directory last built with others (or by something
# else) everything is built again.
stamp=$BUILD/.mkdeb-flags
want="PREFIX=/usr CFLAGS=$cflags LDFLAGS=$ldflags"
again=
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] || again=-B
mkdir -p "$BUILD"
rm -f "$stamp"

jobs=
case " ${MAKEFLAGS:-} " in
*jobserver* | *" -j"*) ;;
*) jobs=-j$(nproc 2>/dev/null || echo 1) ;;
esac
set -- BUILD="$BUILD" BIN="$BUILD/midsops" PREFIX=/usr CFLAGS="$cflags" LDFLAGS="$ldflags"
$MAKE --no-print-directory $jobs $again "$@" "$BUILD/midsops"
printf '%s\n' "$want" >"$stamp"

stage=$(mktemp -d "${TMPDIR:-/tmp}/midsops-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/root
$MAKE --no-print-directory -s "$@" DESTDIR="$root" install >/dev/null

# What debhelper would do: strip the binary, compress the man page, copyright and changelog.
doc=$root/usr/share/doc/midsops
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/bin/midsops"
gzip -9n "$root/usr/share/man/man1/midsops.1"
desc=$(git describe --always --dirty 2>/dev/null || echo "no git")
when=$(git log -1 --format=%aD 2>/dev/null || date -R)
first=$(git log --reverse --format=%ad --date=format:%Y 2>/dev/null | head -n 1)
last=$(git log -1 --format=%ad --date=format:%Y 2>/dev/null || date +%Y)
years=${first:-$last}
[ "$years" = "$last" ] || years="$years-$last"
install -d "$doc"
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: midsops
Comment: Built from the midsops source tree ($desc) by tools/mkdeb.sh.

Files: *
Copyright: $years the midsops authors
License: none
 The midsops source tree declares no licence. Ask its maintainers before
 redistributing this package.
EOF
# A native package (no Debian revision) keeps its changelog as changelog.gz.
printf 'midsops (%s) unstable; urgency=medium\n\n  * Built from the source tree (%s) by make deb.\n\n -- %s  %s\n' \
	"$version" "$desc" "$maint" "$when" | gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/copyright" "$doc/changelog.gz"

mkdir -p "$root/DEBIAN"
size=$(du -sk "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: midsops
Version: $version
Architecture: $arch
Maintainer: $maint
Installed-Size: $size
Depends: libc6, libcjson1, libpq5, libncursesw6, libreadline8, libtinfo6, libzstd1, postgresql-client-15
Recommends: postgresql-15
Section: admin
Priority: optional
Description: operations console for the Mids Hero Web data import
 midsops loads game-data exports (thousands of JSON files) into PostgreSQL for
 a web build planner, checks the health of the database, keeps backups and
 walks on-call operators through the procedures of the operations runbook: as
 an ncurses console with live panes, or one command at a time from the shell.
 .
 Includes systemd units and timers (installed, not enabled) and cron examples.
EOF
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
	xargs -r md5sum) >"$root/DEBIAN/md5sums"
if [ -d "$root/etc" ]; then
	(cd "$root" && find etc -type f | LC_ALL=C sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
fi
chmod 0644 "$root"/DEBIAN/*

mkdir -p "$OUTDIR"
deb=$OUTDIR/midsops_${version}_${arch}.deb
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "mkdeb: $deb"
if [ "${DEB_LINTIAN:-yes}" != no ] && command -v lintian >/dev/null 2>&1; then
	lintian "$deb" || echo "mkdeb: lintian reported problems (above)"
fi
