#!/bin/sh
# Installs a prebuilt bt-gitops release: detects the target, downloads the archive and its
# SHA-256 sum, verifies the sum, and installs the binary. No compiler needed.
#
#   curl -fsSL https://raw.githubusercontent.com/bt-gitops/bt-gitops/main/scripts/install.sh | sh
#   sh install.sh --version v0.1.0 --to ~/.local/bin
#
# Options (or environment variables):
#   --version TAG    release tag, e.g. v0.1.0 (BT_GITOPS_VERSION; default: the latest release)
#   --to DIR         where the binary goes (BT_GITOPS_INSTALL_DIR; default: ~/.local/bin)
#   --base-url URL   where the archives are: an http(s) URL or a local directory
#                    (BT_GITOPS_BASE_URL; default: the GitHub release of --version)
#   --target TRIPLE  skip detection (BT_GITOPS_TARGET)
#
# Exit codes: 0 installed; 1 failed (download or checksum error, bad option);
# 3 no prebuilt binary fits this machine or version (the GitHub action then compiles).
set -eu

REPO_URL="https://github.com/bt-gitops/bt-gitops"
# The targets every release ships, as named in .github/workflows/release.yml (a test checks both).
TARGETS="x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-apple-darwin aarch64-apple-darwin"

version="${BT_GITOPS_VERSION:-}"
dest="${BT_GITOPS_INSTALL_DIR:-${HOME:-.}/.local/bin}"
base="${BT_GITOPS_BASE_URL:-}"
target="${BT_GITOPS_TARGET:-}"

say() { printf 'bt-gitops install: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }
no_fit() { say "$*"; exit 3; }

while [ $# -gt 0 ]; do
    case "$1" in
        --version) version="${2:?--version needs a tag}"; shift 2 ;;
        --to) dest="${2:?--to needs a directory}"; shift 2 ;;
        --base-url) base="${2:?--base-url needs a URL or directory}"; shift 2 ;;
        --target) target="${2:?--target needs a target triple}"; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) fail "unknown option \`$1\` (see --help)" ;;
    esac
done

detect_target() {
    os=$(uname -s)
    arch=$(uname -m)
    case "$arch" in
        x86_64|amd64) arch=x86_64 ;;
        aarch64|arm64) arch=aarch64 ;;
        *) no_fit "no prebuilt binary for the $arch architecture; build from source with \`cargo install --locked --git $REPO_URL\`" ;;
    esac
    case "$os" in
        Linux) echo "$arch-unknown-linux-musl" ;;
        Darwin) echo "$arch-apple-darwin" ;;
        *) no_fit "no prebuilt binary for $os; build from source with \`cargo install --locked --git $REPO_URL\`" ;;
    esac
}

case "$version" in
    ""|v*) ;;
    *) version="v$version" ;;
esac
[ -n "$target" ] || target=$(detect_target)
case " $TARGETS " in
    *" $target "*) ;;
    *) no_fit "no prebuilt binary for $target (releases ship: $TARGETS)" ;;
esac

if [ -z "$base" ]; then
    if [ -n "$version" ]; then
        base="$REPO_URL/releases/download/$version"
    else
        base="$REPO_URL/releases/latest/download"
    fi
fi

archive="bt-gitops-$target.tar.gz"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# fetch NAME: copies $base/NAME into $work (a local directory, or http(s) with curl or wget).
fetch() {
    case "$base" in
        http://*|https://*)
            if command -v curl >/dev/null 2>&1; then
                curl --proto '=https,http' -fsSL --retry 3 -o "$work/$1" "$base/$1"
            elif command -v wget >/dev/null 2>&1; then
                wget -q -O "$work/$1" "$base/$1"
            else
                fail "neither curl nor wget is installed"
            fi ;;
        file://*) cp "${base#file://}/$1" "$work/$1" ;;
        *) cp "$base/$1" "$work/$1" ;;
    esac
}

say "release ${version:-latest} for $target: downloading $archive from $base"
fetch "$archive" 2>/dev/null || no_fit "no release archive $base/$archive"
fetch "$archive.sha256" 2>/dev/null || fail "the release has no checksum file $archive.sha256"

expected=$(cut -d ' ' -f 1 < "$work/$archive.sha256")
if command -v sha256sum >/dev/null 2>&1; then
    actual=$(sha256sum "$work/$archive" | cut -d ' ' -f 1)
elif command -v shasum >/dev/null 2>&1; then
    actual=$(shasum -a 256 "$work/$archive" | cut -d ' ' -f 1)
else
    fail "neither sha256sum nor shasum is installed; cannot verify the download"
fi
[ -n "$expected" ] && [ "$expected" = "$actual" ] \
    || fail "checksum mismatch for $archive: expected ${expected:-nothing}, got $actual; nothing was installed"

tar -xzf "$work/$archive" -C "$work"
binary="$work/bt-gitops-$target/bt-gitops"
[ -f "$binary" ] || fail "$archive does not contain bt-gitops-$target/bt-gitops"
mkdir -p "$dest"
# Install atomically: a half-copied binary is never on PATH.
cp "$binary" "$dest/.bt-gitops.tmp.$$"
chmod 755 "$dest/.bt-gitops.tmp.$$"
mv -f "$dest/.bt-gitops.tmp.$$" "$dest/bt-gitops"
say "installed $("$dest/bt-gitops" --version 2>/dev/null || echo bt-gitops) to $dest/bt-gitops"
case ":${PATH:-}:" in
    *":$dest:"*) ;;
    *) say "add $dest to your PATH" ;;
esac
