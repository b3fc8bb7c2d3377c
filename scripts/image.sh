#!/usr/bin/env bash
# Builds the mirrorgate image (mirrorgate:0.1.0) from the Dockerfile without Docker: Debian's buildah, as root,
# with the vfs storage driver and chroot isolation (no overlay mounts, no user namespaces needed). The base
# images debian:12 and debian:12-slim are made from Debian's archive with debootstrap, since no container
# registry is reachable. Everything lives in a cache dir (MG_IMAGE_CACHE, default ~/.cache/mirrorgate/image):
# the base root filesystems keyed by the archive's bookworm release and this script's recipe, buildah's
# storage, and the exported OCI archive keyed by the base images and the build context, so that a second run
# with nothing changed does no work. Prints the archive's path on stdout; progress goes to stderr.
# tests/e2e/test_image.py (MG_TEST_IMAGE=1) runs the image; docs/kubernetes.md, "The image".
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${MG_IMAGE_CACHE:-$HOME/.cache/mirrorgate/image}
mirror=${MG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
tag=mirrorgate:0.1.0
log() { echo "image: $*" >&2; }

for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null || { log "$tool missing: run scripts/deps.sh --image"; exit 1; }
done
[[ $(id -u) -eq 0 ]] || { log "needs root (debootstrap, and buildah's chroot isolation)"; exit 1; }
mkdir -p "$cache"
# One run at a time per cache: two would build into the same storage and replace each other's archive.
exec 9>"$cache/lock"
flock -n 9 || { log "waiting for another scripts/image.sh on $cache"; flock 9; }
rm -rf "$cache"/rootfs.* # a debootstrap that an earlier run did not finish

# buildah's own storage, separate from any system storage: vfs copies layers instead of mounting overlays.
storage=(--root "$cache/storage" --runroot "$cache/run" --storage-driver vfs)
buildah_() { buildah "${storage[@]}" "$@"; }

# The archive's bookworm release (point version and date) names the base images: a new point release or a
# change of the recipe below makes new ones. Offline, the newest cached key is reused.
recipe_version=1 # bump when base_rootfs changes
release_key() {
  local release version date
  if release=$(curl -fsS --max-time 20 "$mirror/dists/bookworm/Release" 2>/dev/null); then
    version=$(sed -n 's/^Version: //p' <<<"$release")
    date=$(date -u -d "$(sed -n 's/^Date: //p' <<<"$release")" +%Y%m%dT%H%M%SZ)
    echo "bookworm-$version-$date-r$recipe_version"
  else
    # shellcheck disable=SC2012 # names we made, no odd characters
    ls -1t "$cache" 2>/dev/null | sed -n "s/^\(bookworm-.*-r$recipe_version\)-debian-12.tar$/\1/p" | head -1
  fi
}

# A root filesystem as Debian's own images are made (debuerreotype): the minbase variant, the archive's
# bookworm, -updates and -security suites, apt lists removed. The slim one also keeps dpkg from installing
# documentation, man pages and locales, and removes those already installed, as debian:12-slim does.
base_rootfs() { # name slim(0|1) -> $cache/$key-$name.tar
  local name=$1 slim=$2 out root
  out="$cache/$key-$name.tar"
  [[ -s $out ]] && return
  root=$(mktemp -d "$cache/rootfs.XXXXXX")
  log "debootstrap bookworm ($name) into $root"
  nice debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 ||
    { log "debootstrap failed; see $root.log"; exit 1; }
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  if ((slim)); then
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# as in debian:12-slim: no documentation, man pages or locales
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$root"/usr/share/{man,groff,info,lintian,linda,locale}/*
  fi
  # Security updates now, as an image of the day would carry them; then no apt state in the image.
  chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq' \
    >>"$root.log" 2>&1 || { log "apt-get upgrade in $name failed; see $root.log"; exit 1; }
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/var/log/*.log "$root"/var/log/apt/*
  tar --numeric-owner --xattrs --xattrs-include='*' -C "$root" -cf "$out.tmp" .
  mv "$out.tmp" "$out"
  rm -rf "$root" "$root.log"
}

# Imports a root filesystem as an image under the exact name a Dockerfile's FROM resolves to.
import_base() { # name image
  local name=$1 image=$2 ctr
  if [[ $(buildah_ inspect --type image --format '{{index .ImageAnnotations "io.mirrorgate.base"}}' "$image" \
    2>/dev/null) == "$key" ]]; then
    return
  fi
  log "importing $name as $image"
  ctr=$(buildah_ from --pull=never scratch)
  buildah_ add "$ctr" "$cache/$key-$name.tar" / >/dev/null
  buildah_ config --cmd bash --annotation "io.mirrorgate.base=$key" "$ctr"
  buildah_ commit --quiet --rm "$ctr" "$image" >/dev/null
}

key=$(release_key)
[[ -n $key ]] || { log "cannot reach $mirror and nothing cached"; exit 1; }
base_rootfs debian-12 0
base_rootfs debian-12-slim 1
import_base debian-12 docker.io/library/debian:12
import_base debian-12-slim docker.io/library/debian:12-slim

# The build context as the Dockerfile sees it (files git knows, minus what .dockerignore leaves out), hashed
# with the Dockerfile and the base key: the same hash means the same image, and nothing is built or exported.
context_hash() {
  local pattern ignored='^$'
  while read -r pattern; do
    [[ -z $pattern || $pattern == \#* || $pattern == Dockerfile ]] && continue
    # .dockerignore's globs as a regex: **/ any folders, * within one path element
    pattern=$(sed 's/[.]/\\./g; s|\*\*/|@@|g; s|\*|[^/]*|g; s|@@|(.*/)?|g' <<<"$pattern")
    ignored+="|^$pattern(/|\$)"
  done <"$repo/.dockerignore"
  cd "$repo"
  {
    echo "$key"
    git ls-files -z --cached --others --exclude-standard | grep -zvE "$ignored" | sort -z |
      xargs -0 sha256sum 2>/dev/null
  } | sha256sum | cut -c1-16
}
archive="$cache/mirrorgate-0.1.0-$(context_hash).oci.tar"
image_id() { buildah_ images --noheading --no-trunc --format '{{.ID}}' "$tag" 2>/dev/null || true; }
# Up to date when the archive of this context exists and the tag in storage is still the image it holds
# (a build of another checkout retags it).
if [[ -s $archive && -s $archive.id && $(image_id) == "$(cat "$archive.id")" ]]; then
  log "up to date: $archive"
else
  log "building $tag (compiles mirrorgate: minutes)"
  nice buildah "${storage[@]}" bud --pull=never --layers --isolation chroot -t "$tag" -f "$repo/Dockerfile" "$repo" >&2
  rm -f "$cache"/mirrorgate-0.1.0-*.oci.tar "$cache"/mirrorgate-0.1.0-*.oci.tar.id
  buildah_ push --quiet "$tag" "oci-archive:$archive.tmp:$tag" >&2
  mv "$archive.tmp" "$archive"
  image_id >"$archive.id"
fi
log "$archive ($(du -h "$archive" | cut -f1))"
echo "$archive"
