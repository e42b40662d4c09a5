#!/usr/bin/env bash
# Installs the redeliver release binary for this runner into $RUNNER_TEMP,
# after checking it against the release's checksums.txt. Which release: the
# `version` input if given, else the action's own ref when it is a release
# tag (v1.2.3), or the newest release of a moving tag (v1, v1.2). A branch
# or commit ref, a tag with no release, or a runner no release is built for
# writes build=true to $GITHUB_OUTPUT so the action builds from source. A
# checksum that does not match is an error: nothing is installed.
#
# Environment: RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP, GITHUB_OUTPUT (the
# runner's); ACTION_REF, ACTION_REPOSITORY, INPUT_VERSION (the action's);
# API_TOKEN (optional, for the releases API on github.com);
# REDELIVER_DOWNLOAD_BASE and REDELIVER_API_BASE (default github.com's).
set -euo pipefail

repo="${ACTION_REPOSITORY:-redeliver/redeliver}"
download_base="${REDELIVER_DOWNLOAD_BASE:-https://github.com}"
api_base="${REDELIVER_API_BASE:-https://api.github.com}"
dest_dir="${RUNNER_TEMP:?RUNNER_TEMP is not set}"

say() { echo "redeliver install: $*" >&2; }
fail() { echo "::error title=redeliver install::$*"; exit 1; }
build_from_source() {
  say "$1; building from source instead"
  echo "build=true" >> "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
  exit 0
}

case "${RUNNER_OS:-}" in
  Linux) os=linux ;;
  macOS) os=darwin ;;
  Windows) os=windows ;;
  *) build_from_source "no release is built for RUNNER_OS=${RUNNER_OS:-}" ;;
esac
case "${RUNNER_ARCH:-}" in
  X64) arch=amd64 ;;
  ARM64) arch=arm64 ;;
  *) build_from_source "no release is built for RUNNER_ARCH=${RUNNER_ARCH:-}" ;;
esac

# fetch URL FILE: downloads URL into FILE and prints the HTTP status
# (000 when nothing answered).
fetch() {
  local auth=()
  if [ -n "${API_TOKEN:-}" ] && [[ "$1" == "$api_base"/* ]]; then
    auth=(-H "Authorization: Bearer $API_TOKEN")
  fi
  curl -sSL --retry 3 --retry-delay 2 --connect-timeout 20 --max-time 300 \
    ${auth[@]+"${auth[@]}"} -o "$2" -w '%{http_code}' "$1" || true
}

work="$(mktemp -d "${dest_dir%/}/redeliver-install.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# newest_release PREFIX: the newest release tag vX.Y.Z starting with
# PREFIX (v1, v1.2, or v for any), pre-releases left out.
newest_release() {
  local prefix="$1" status
  status="$(fetch "$api_base/repos/$repo/releases?per_page=100" "$work/releases.json")"
  [ "$status" = 200 ] || return 0
  { grep -o '"tag_name" *: *"[^"]*"' "$work/releases.json" || true; } |
    sed 's/.*"\([^"]*\)"$/\1/' |
    { grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$' || true; } |
    { if [ "$prefix" = v ]; then cat; else grep -E "^${prefix//./\\.}\." || true; fi; } |
    sed 's/^v//' | sort -t. -k1,1n -k2,2n -k3,3n | tail -n 1 | sed 's/^/v/'
}

# A release tag (v1.2.3, v1.3.0-rc.1), or a moving one (v1, v1.2).
exact='^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'
moving='^v[0-9]+(\.[0-9]+)?$'
explicit=false
want="${INPUT_VERSION:-}"
want="${want#"${want%%[![:space:]]*}"}"; want="${want%"${want##*[![:space:]]}"}"
if [ -n "$want" ]; then
  explicit=true
  from="the version input ($want)"
  case "$want" in
    latest) ref=v ;;
    v*) ref="$want" ;;
    *) ref="v$want" ;;
  esac
  [[ "$ref" =~ $exact || "$ref" =~ $moving || "$ref" = v ]] ||
    fail "version input '$want' is not a release version: want 1.2.3, v1.2.3, 1.3.0-rc.1, v1, v1.2 or latest"
else
  ref="${ACTION_REF:-}"
  from="the action's ref ($ref)"
  [ -n "$ref" ] || build_from_source "the action has no ref (a local path)"
  [[ "$ref" =~ $exact || "$ref" =~ $moving ]] ||
    build_from_source "$from is a branch or commit, not a release tag"
fi

if [[ "$ref" =~ $exact ]]; then
  tag="$ref"
else
  tag="$(newest_release "$ref")"
  if [ -z "$tag" ]; then
    $explicit && fail "no release of $repo matches $from"
    build_from_source "no release of $repo matches $from"
  fi
fi
version="${tag#v}"

ext=tar.gz
[ "$os" = windows ] && ext=zip
asset="redeliver_${version}_${os}_${arch}.${ext}"
url="$download_base/$repo/releases/download/$tag"

status="$(fetch "$url/checksums.txt" "$work/checksums.txt")"
if [ "$status" != 200 ]; then
  $explicit && fail "release $tag of $repo has no checksums.txt (HTTP $status)"
  build_from_source "no release $tag of $repo (checksums.txt: HTTP $status)"
fi
want_sum="$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1 }' "$work/checksums.txt")"
if [ -z "$want_sum" ]; then
  $explicit && fail "release $tag of $repo has no $asset"
  build_from_source "release $tag of $repo has no $asset"
fi
[[ "$want_sum" =~ ^[0-9a-f]{64}$ ]] || fail "checksums.txt of $tag: the line for $asset is not a SHA-256"

status="$(fetch "$url/$asset" "$work/$asset")"
[ "$status" = 200 ] || fail "downloading $url/$asset: HTTP $status"

if command -v sha256sum >/dev/null 2>&1; then
  got_sum="$(sha256sum "$work/$asset" | awk '{ print $1 }')"
else
  got_sum="$(shasum -a 256 "$work/$asset" | awk '{ print $1 }')"
fi
if [ "$got_sum" != "$want_sum" ]; then
  fail "checksum mismatch for $asset of release $tag: checksums.txt says $want_sum, the download is $got_sum; refusing to install it"
fi

mkdir "$work/x"
if [ "$ext" = zip ]; then
  unzip -q "$work/$asset" -d "$work/x"
else
  tar -xzf "$work/$asset" -C "$work/x"
fi
bin=redeliver
[ "$os" = windows ] && bin=redeliver.exe
[ -f "$work/x/$bin" ] || fail "$asset holds no $bin"
chmod +x "$work/x/$bin"
mv -f "$work/x/$bin" "$dest_dir/$bin"
say "installed redeliver $version ($os/$arch) from release $tag, checksum verified"
echo "build=false" >> "$GITHUB_OUTPUT"
echo "version=$version" >> "$GITHUB_OUTPUT"
