#!/bin/sh
# deb.sh VERSION [BINDIR] [OUTDIR]: builds OUTDIR/lb_VERSION_amd64.deb (default dist/) from
# BINDIR/lb and BINDIR/lbctl (default bin/, as `make build` leaves them) with nfpm.yaml.
# It stages the binaries, packaging/ and the gzipped man pages and changelog in a temporary
# directory and runs nfpm there. nfpm is taken from $NFPM, PATH or $(go env GOPATH)/bin, and
# installed from the Go module proxy when missing.
set -eu

NFPM_MODULE=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

version=${1:?usage: deb.sh VERSION [BINDIR] [OUTDIR]}
repo=$(cd "$(dirname "$0")/.." && pwd)
bindir=$(cd "${2:-$repo/bin}" && pwd)
outdir=${3:-$repo/dist}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
go=${GO:-go}

nfpm=${NFPM:-}
if [ -z "$nfpm" ]; then
	if command -v nfpm >/dev/null 2>&1; then
		nfpm=$(command -v nfpm)
	else
		gobin=$("$go" env GOBIN)
		[ -n "$gobin" ] || gobin=$("$go" env GOPATH)/bin
		nfpm=$gobin/nfpm
		if [ ! -x "$nfpm" ]; then
			echo "deb.sh: installing $NFPM_MODULE" >&2
			"$go" install "$NFPM_MODULE"
		fi
	fi
fi

for b in lb lbctl; do
	[ -x "$bindir/$b" ] || { echo "deb.sh: $bindir/$b missing (make build)" >&2; exit 1; }
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/gen"
cp "$bindir/lb" "$bindir/lbctl" "$stage/bin/"
# A cgo-linked lb carries the C compiler's .comment section, which Debian strips.
if command -v objcopy >/dev/null 2>&1; then
	objcopy -R .comment "$stage/bin/lb"
fi
cp -r "$repo/packaging" "$stage/packaging"
# Debian wants man pages and changelogs compressed with gzip -9, without a timestamp (-n).
for m in lb.8 lb.cfg.5 lbctl.1; do
	gzip -9n <"$repo/packaging/deb/$m" >"$stage/gen/$m.gz"
done
date=$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}")
sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$date/" "$repo/packaging/deb/changelog" |
	gzip -9n >"$stage/gen/changelog.gz"

cd "$stage"
VERSION=$version "$nfpm" pkg -f "$repo/nfpm.yaml" --packager deb --target "$outdir/lb_${version}_amd64.deb"
