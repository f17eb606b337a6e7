#!/usr/bin/env bash
# Build wldesk's setup.exe (NSIS) and MSI (wixl) from one onedir bundle.
#
#   installer/build-installers.sh BUNDLE_DIR VERSION OUT_DIR [ICON.ico]
#
# BUNDLE_DIR holds wldesk.exe, wldesk-cli.exe and _internal/ (PyInstaller's dist/wldesk; CI uses a
# small dummy payload to check that both scripts compile). Writes OUT_DIR/wldesk-VERSION-setup.exe
# and OUT_DIR/wldesk-VERSION.msi. Installs Debian nsis, wixl and msitools when missing.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BUNDLE="$(cd "$1" && pwd)"; VERSION="$2"; mkdir -p "$3"; OUT="$(cd "$3" && pwd)"
ICON="${4:-}"
[ -f "$BUNDLE/wldesk.exe" ] && [ -f "$BUNDLE/wldesk-cli.exe" ] || { echo "no wldesk.exe/wldesk-cli.exe in $BUNDLE" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v makensis >/dev/null || ! command -v wixl >/dev/null || ! command -v msiinfo >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends nsis wixl msitools >/dev/null
fi
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
if [ -z "$ICON" ]; then ICON="$WORK/default.ico"; cp /usr/share/nsis/Contrib/Graphics/Icons/modern-install.ico "$ICON"; fi
# four numbers for version resources and MSI's ProductVersion (0.1.0rc1 -> 0.1.0.0)
NUMS=$(echo "$VERSION" | grep -oE '[0-9]+' | head -4 | tr '\n' ' ')
read -r -a N <<<"$NUMS"; while [ ${#N[@]} -lt 4 ]; do N+=(0); done
NUMVERSION="${N[0]}.${N[1]}.${N[2]}.${N[3]}"; MSIVERSION="${N[0]}.${N[1]}.${N[2]}"

t0=$SECONDS
makensis -V2 -XTarget\ amd64-unicode -DVERSION="$VERSION" -DNUMVERSION="$NUMVERSION" \
    -DBUNDLE="$BUNDLE" -DICON="$ICON" -DOUTFILE="$OUT/wldesk-$VERSION-setup.exe" "$HERE/wldesk.nsi"
echo "setup.exe: $OUT/wldesk-$VERSION-setup.exe ($(du -h "$OUT/wldesk-$VERSION-setup.exe" | cut -f1), $((SECONDS - t0)) s)"

t0=$SECONDS
# wixl wants source paths relative to its working folder
ln -s "$BUNDLE" "$WORK/bundle"; cp "$ICON" "$WORK/wldesk.ico"; cp "$HERE/wldesk.wxs" "$WORK/"
(cd "$BUNDLE" && find . -type f | sed 's|^\./|bundle/|' | LC_ALL=C sort) \
    | wixl-heat -p bundle/ --win64 --component-group BundleFiles --directory-ref INSTALLDIR \
        --var var.BundleDir > "$WORK/bundle-files.wxs"
# a stable File Id for the custom actions (FileKey)
sed -i -E 's|<File Id="[^"]+"( KeyPath="yes" Source="\$\(var\.BundleDir\)/wldesk-cli\.exe")|<File Id="WldeskCliExe"\1|' \
    "$WORK/bundle-files.wxs"
grep -q 'File Id="WldeskCliExe"' "$WORK/bundle-files.wxs" || { echo "wldesk-cli.exe not in the heat file list" >&2; exit 1; }
(cd "$WORK" && wixl -a x64 -D Version="$MSIVERSION" -D BundleDir=bundle -D Icon=wldesk.ico -D Win64=yes \
    -o "$OUT/wldesk-$VERSION.msi" wldesk.wxs bundle-files.wxs)
seq=$(msiinfo export "$OUT/wldesk-$VERSION.msi" InstallExecuteSequence)
for action in "MachineCleanup.*3400" "MachineSetup.*6500" "RemoveExistingProducts.*1510" "InstallFiles.*4000"; do
    grep -qE "^$action" <<<"$seq" || { echo "MSI sequence lacks $action:" >&2; echo "$seq" >&2; exit 1; }
done
echo "MSI: $OUT/wldesk-$VERSION.msi ($(du -h "$OUT/wldesk-$VERSION.msi" | cut -f1), $((SECONDS - t0)) s, sequence checked)"
