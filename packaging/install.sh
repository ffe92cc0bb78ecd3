#!/bin/sh
# Install Heirloom for this user from the unpacked download: the app folder goes to
# ~/.local/opt/Heirloom, `heirloom` to ~/.local/bin, and a menu entry with its icon to
# ~/.local/share. Nothing needs root. `./install.sh --uninstall` removes all of it.
set -eu
src=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
target="$HOME/.local/opt/Heirloom"
bin="$HOME/.local/bin"
entry="$data/applications/heirloom.desktop"
icon="$data/icons/hicolor/256x256/apps/heirloom.png"

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$target" "$bin/heirloom" "$entry" "$icon"
    echo "Heirloom removed (your photos, settings and model packs were not touched)"
    exit 0
fi
if [ "$src" != "$target" ]; then
    rm -rf "$target"
    mkdir -p "$(dirname "$target")"
    cp -a "$src" "$target"
fi
mkdir -p "$bin" "$(dirname "$entry")" "$(dirname "$icon")"
ln -sf "$target/Heirloom" "$bin/heirloom"
cp "$target/heirloom.png" "$icon"
sed "s|^Exec=.*|Exec=\"$target/Heirloom\" %f|" "$target/heirloom.desktop" > "$entry"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
echo "Heirloom installed in $target; it is in your applications menu, and 'heirloom' runs the CLI"
echo "check it with: $target/Heirloom --self-test"
