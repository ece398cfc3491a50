#!/bin/sh
# Packs one release archive: bt-gitops-TARGET.tar.gz (holding bt-gitops-TARGET/bt-gitops and the
# README) and its SHA-256 sum, bt-gitops-TARGET.tar.gz.sha256, in OUT_DIR. Used by
# .github/workflows/release.yml and by the installer test, so both pack the same way.
#
#   sh scripts/package.sh TARGET BINARY OUT_DIR
#
# With GNU tar the archive is reproducible: sorted names, owner 0, and mtimes set to
# SOURCE_DATE_EPOCH (default: 0).
set -eu
target="${1:?usage: package.sh TARGET BINARY OUT_DIR}"
binary="${2:?usage: package.sh TARGET BINARY OUT_DIR}"
out="${3:?usage: package.sh TARGET BINARY OUT_DIR}"
root=$(cd "$(dirname "$0")/.." && pwd)
name="bt-gitops-$target"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT INT TERM
mkdir -p "$stage/$name" "$out"
cp "$binary" "$stage/$name/bt-gitops"
chmod 755 "$stage/$name/bt-gitops"
cp "$root/README.md" "$stage/$name/README.md"

if tar --version 2>/dev/null | grep -q 'GNU tar'; then
    tar --sort=name --owner=0 --group=0 --numeric-owner \
        --mtime="@${SOURCE_DATE_EPOCH:-0}" -C "$stage" -cf - "$name" | gzip -n > "$out/$name.tar.gz"
else
    tar -C "$stage" -cf - "$name" | gzip -n > "$out/$name.tar.gz"
fi

cd "$out"
if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$name.tar.gz" > "$name.tar.gz.sha256"
else
    shasum -a 256 "$name.tar.gz" > "$name.tar.gz.sha256"
fi
echo "$out/$name.tar.gz"
