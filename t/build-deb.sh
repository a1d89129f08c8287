#!/bin/sh
# build-deb.sh: builds the Debian package postgresql-15-pgconduit (one
# package per version of debian/pgversions that this machine has) with
# dpkg-buildpackage -us -uc -b, in a scratch copy of the tree, and leaves
# the .deb files in $PGCONDUIT_DEB_DIR (default /var/cache/pgconduit/deb).
#
# Usage: build-deb.sh [install]
#   install  also installs the packages (apt-get install), replacing what
#            "make install" may have put there, and checks that dpkg now
#            owns pgconduit.so and pgconduit_output.so
#
# As root it installs the build dependencies when missing (debhelper,
# postgresql-server-dev-all, dpkg-dev, libpq-dev).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
out=${PGCONDUIT_DEB_DIR:-/var/cache/pgconduit/deb}
log() { echo "build-deb: $*"; }

need=""
command -v dpkg-buildpackage >/dev/null 2>&1 || need="$need dpkg-dev"
command -v dh >/dev/null 2>&1 || need="$need debhelper"
[ -x /usr/bin/pg_buildext ] || need="$need postgresql-server-dev-all"
[ -f /usr/share/perl5/Debian/Debhelper/Sequence/pgxs_loop.pm ] || need="$need postgresql-server-dev-all"
[ -f /usr/include/postgresql/libpq-fe.h ] || need="$need libpq-dev"
command -v rsync >/dev/null 2>&1 || need="$need rsync"
if [ -n "$need" ]; then
	if [ "$(id -u)" != 0 ]; then
		log "missing:$need; run as root to install them"
		exit 1
	fi
	log "installing:$need"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq $need >/dev/null
fi

work=$(mktemp -d /tmp/pgconduit-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
rsync -a --exclude .git --exclude tmp_test --exclude tmp_check --exclude results \
	--exclude output_iso --exclude log --exclude '*.o' --exclude '*.so' --exclude '*.bc' \
	--exclude '*.zip' "$top/" "$work/pgconduit/"
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
log "dpkg-buildpackage -us -uc -b of pgconduit $version"
if ! (cd "$work/pgconduit" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	tail -n 40 "$work/build.log"
	log "the package did not build"
	exit 1
fi
mkdir -p "$out"
debs=""
for f in "$work"/*.deb; do
	cp "$f" "$out/"
	debs="$debs $out/$(basename "$f")"
	log "built $out/$(basename "$f")"
done
[ -n "$debs" ] || { log "dpkg-buildpackage made no .deb"; exit 1; }

if [ "${1:-}" = install ]; then
	[ "$(id -u)" = 0 ] || { log "installing the package needs root"; exit 1; }
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --reinstall --allow-downgrades $debs >/dev/null
	for deb in $debs; do
		pkg=$(dpkg-deb -f "$deb" Package)
		v=$(echo "$pkg" | sed -n 's/^postgresql-\([0-9]*\)-pgconduit$/\1/p')
		[ -n "$v" ] || continue		# the -dbgsym package
		for lib in pgconduit.so pgconduit_output.so; do
			owner=$(dpkg -S "/usr/lib/postgresql/$v/lib/$lib" 2>/dev/null | cut -d: -f1)
			if [ "$owner" != "$pkg" ]; then
				log "/usr/lib/postgresql/$v/lib/$lib is not from $pkg after installing it"
				exit 1
			fi
		done
		log "installed $pkg $(dpkg-query -W -f '${Version}' "$pkg")"
	done
fi
