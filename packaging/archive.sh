#!/bin/sh
# Pack dist/Heirloom/ into the one Linux download of a variant:
#   DIST/Heirloom-VERSION-VARIANT-linux-ARCH.tar.gz, unpacked and installed by ./install.sh
# Usage: archive.sh DIST VARIANT
set -eu
dist=$1
variant=$2
here=$(dirname "$0")
app="$dist/Heirloom"
cp "$here/install.sh" "$here/heirloom.desktop" "$app/"
cp "$here/../resources/icons/heirloom.png" "$app/heirloom.png"
version=$(sed -n 's/.*"version": "\([^"]*\)".*/\1/p' "$app/_internal/engine/build_info.json")
archive="$dist/Heirloom-$version-$variant-linux-$(uname -m).tar.gz"
tar -C "$dist" -czf "$archive" Heirloom
echo "$archive: $(du -h "$archive" | cut -f1) (unpacked: $(du -sh "$app" | cut -f1))"
