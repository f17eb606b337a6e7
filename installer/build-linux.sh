#!/usr/bin/env bash
# Build wldesk's Linux onedir bundle and prove it works, on a fresh Debian machine.
#
#   installer/build-linux.sh            -> build/linux/dist/wldesk/{wldesk,wldesk-cli}
#
# 1. installs what the build needs (Debian: python3-venv if missing, dcmtk for the check),
# 2. a venv with wldesk's dependencies and PyInstaller from PyPI (`pip install .[build]`),
# 3. the PyInstaller bundle from installer/wldesk.spec,
# 4. runs the FROZEN `wldesk-cli selftest` (offscreen GUI included),
# 5. runs the FROZEN `wldesk-cli serve` on a free port with DCMTK's ten sample worklists and
#    queries it with the real DCMTK `findscu -W` (two of DCMTK's sample queries: 10 and 6 answers),
# printing each verification, the bundle size and the times. Exit code non-zero on any failure.
# Environment: WLDESK_BUILD_DIR (default build/linux), PYTHON (default python3),
#              WLDESK_SKIP_CHECKS=1 builds only.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${WLDESK_BUILD_DIR:-$ROOT/build/linux}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$BUILD"
BUILD="$(cd "$BUILD" && pwd)"
VENV="$BUILD/venv"
DIST="$BUILD/dist/wldesk"
T0=$SECONDS
step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need_apt=()
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
[ -x /usr/bin/findscu ] && [ -x /usr/bin/dump2dcm ] && [ -x /usr/bin/echoscu ] || need_apt+=(dcmtk)
# the libraries Qt's xcb platform plugin needs beyond a minimal X client: bundled with it
XCB_LIBS=(libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xkb1
          libxcb-shape0 libxkbcommon-x11-0)
for pkg in "${XCB_LIBS[@]}"; do
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    step "apt-get install ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

step "venv with wldesk's dependencies and PyInstaller (PyPI)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# wldesk's dependencies and the build extra, read from pyproject.toml; wldesk itself is bundled
# from the source tree (the spec puts it first on the path), nothing is built in the repository
mapfile -t DEPS < <("$VENV/bin/python" - "$ROOT/pyproject.toml" <<'EOF'
import sys, tomllib
p = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(p["dependencies"] + p["optional-dependencies"]["build"]))
EOF
)
"$VENV/bin/python" -m pip install -q "${DEPS[@]}"
"$VENV/bin/python" -c 'import PySide6, pynetdicom, pydicom, PyInstaller; print("PySide6", PySide6.__version__, "| pynetdicom", pynetdicom.__version__, "| pydicom", pydicom.__version__, "| PyInstaller", PyInstaller.__version__)'
T_DEPS=$((SECONDS - T0))

step "PyInstaller bundle"
T1=$SECONDS
rm -rf "$BUILD/dist"
"$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath "$BUILD/dist" --workpath "$BUILD/work" "$ROOT/installer/wldesk.spec"
T_BUNDLE=$((SECONDS - T1))
[ -x "$DIST/wldesk" ] && [ -x "$DIST/wldesk-cli" ] || fail "the bundle lacks wldesk or wldesk-cli"
ok "bundle built in ${T_BUNDLE} s: $DIST"
for f in _internal/resources/wldesk.svg _internal/resources/state-running.svg \
         _internal/PySide6/Qt/plugins/imageformats/libqsvg.so \
         _internal/PySide6/Qt/plugins/iconengines/libqsvgicon.so \
         _internal/PySide6/Qt/plugins/platforms/libqxcb.so \
         _internal/PySide6/Qt/plugins/platforms/libqoffscreen.so; do
    [ -e "$DIST/$f" ] || fail "missing from the bundle: $f"
done
ok "bundle has resources/, the svg imageformat + iconengine plugins, xcb + offscreen platforms"
if [ -n "$(find "$DIST" -path '*translations*' -name '*.qm' -print -quit)" ]; then fail "Qt translations were not dropped"; fi
ok "no Qt translations, $(find "$DIST" -path '*/plugins/*' -type f | wc -l) Qt plugin files"
missing=$(find "$DIST" -name '*.so*' -type f -print0 | LD_LIBRARY_PATH="$DIST/_internal:$DIST/_internal/PySide6/Qt/lib" \
          xargs -0 ldd 2>/dev/null | grep 'not found' | sort -u || true)
[ -z "$missing" ] || fail "libraries of the bundle need what it does not have: $missing"
ok "every shared library of the bundle finds its dependencies (ldd)"
grep -q "wldesk " <<<"$("$DIST/wldesk-cli" --version)" || fail "wldesk-cli --version"
ok "$("$DIST/wldesk-cli" --version)"

if [ "${WLDESK_SKIP_CHECKS:-0}" = 1 ]; then exit 0; fi
TMP="$(mktemp -d)"
SERVE_PID=""
cleanup() { [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
export XDG_CONFIG_HOME="$TMP/config" XDG_DATA_HOME="$TMP/data" XDG_STATE_HOME="$TMP/state" \
       XDG_CACHE_HOME="$TMP/cache" XDG_RUNTIME_DIR="$TMP/runtime"
mkdir -m 700 "$TMP/runtime"

step "frozen selftest: $DIST/wldesk-cli selftest"
T2=$SECONDS
(unset QT_QPA_PLATFORM DISPLAY WAYLAND_DISPLAY; "$DIST/wldesk-cli" selftest) || fail "the frozen selftest failed"
T_SELFTEST=$((SECONDS - T2))
ok "frozen selftest passed (${T_SELFTEST} s)"

step "frozen wldesk-cli serve + DCMTK findscu -W"
EXAMPLES=/usr/share/doc/dcmtk/examples
mkdir "$TMP/worklists" "$TMP/q10" "$TMP/q5"
for dump in "$EXAMPLES"/wlistdb/OFFIS/wklist*.dump; do
    /usr/bin/dump2dcm -q "$dump" "$TMP/worklists/$(basename "$dump" .dump).wl"
done
/usr/bin/dump2dcm -q "$EXAMPLES/wlistqry/wlistqry10.dump" "$TMP/q10/query.dcm"
/usr/bin/dump2dcm -q "$EXAMPLES/wlistqry/wlistqry5.dump" "$TMP/q5/query.dcm"
PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REST_PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HL7_PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$DIST/wldesk-cli" serve --database "$TMP/worklists" --port "$PORT" --bind 127.0.0.1 --aet WLDESK \
    --rest-port "$REST_PORT" --hl7-port "$HL7_PORT" >"$TMP/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do
    /usr/bin/echoscu -aec WLDESK 127.0.0.1 "$PORT" >/dev/null 2>&1 && break
    kill -0 "$SERVE_PID" 2>/dev/null || { cat "$TMP/serve.log"; fail "wldesk-cli serve exited"; }
    sleep 0.2
done
/usr/bin/echoscu -aec WLDESK 127.0.0.1 "$PORT" || { cat "$TMP/serve.log"; fail "C-ECHO (DCMTK echoscu)"; }
ok "frozen wldesk-cli serve answers DCMTK echoscu on 127.0.0.1:$PORT"
for q in "q10 10" "q5 6"; do
    set -- $q
    (cd "$TMP/$1" && /usr/bin/findscu -v -W -X -aet FINDSCU -aec WLDESK 127.0.0.1 "$PORT" query.dcm \
        >findscu.log 2>&1) || { cat "$TMP/$1/findscu.log" "$TMP/serve.log"; fail "findscu -W ($1)"; }
    grep -q 'Received Final Find Response (Success)' "$TMP/$1/findscu.log" \
        || { cat "$TMP/$1/findscu.log"; fail "findscu -W ($1): no final Success status"; }
    n=$(find "$TMP/$1" -name 'rsp*.dcm' | wc -l)
    [ "$n" = "$2" ] || { cat "$TMP/serve.log"; fail "findscu -W with DCMTK's wlistqry${1#q}: $n answers, expected $2"; }
    ok "DCMTK findscu -W, sample query wlistqry${1#q}.dump: $n answers (expected $2), final status Success"
done
first=$(find "$TMP/q10" -name 'rsp*.dcm' | sort | head -1)
name=$(/usr/bin/dcmdump +P PatientName "$first" | sed 's/ *#.*//')
[ -n "$name" ] || fail "the answers have no PatientName"
ok "answers are DICOM datasets with PatientName ($name)"
# The order channels of the frozen server (their libraries are imported by name at run time):
# the REST API answers /system, an HL7 order over MLLP is acknowledged AA and becomes an entry.
"$VENV/bin/python" - "$REST_PORT" "$HL7_PORT" "$TMP/worklists" <<'EOF' \
    || { cat "$TMP/serve.log"; fail "order channels of the frozen server"; }
import json, socket, sys, time, urllib.request
from pathlib import Path
rest, hl7, folder = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
system = json.load(urllib.request.urlopen(f"http://127.0.0.1:{rest}/system", timeout=10))
message = ("MSH|^~\\&|RIS|CLINIC|WLDESK|RAD|20260301090000||ORM^O01|BUILD1|P|2.3.1||||||UNICODE UTF-8\r"
           "PID|||PAT1^^^HOSP||Frozen^Test||19800102|F\r"
           "ORC|NW|PLC1|FIL1||SC\r"
           "OBR|1|PLC1|FIL1|CTHEAD^CT Head^L||||||||||||||BUILDACC|RP1|SPS1||||CT|||^^^20260301100000\r")
with socket.create_connection(("127.0.0.1", hl7), timeout=10) as sock:
    sock.sendall(b"\x0b" + message.encode() + b"\x1c\r")
    ack = b""
    while not ack.endswith(b"\x1c\r"):
        chunk = sock.recv(4096)
        assert chunk, ack
        ack += chunk
assert b"MSA|AA|BUILD1" in ack, ack
deadline = time.monotonic() + 10
while not list(folder.glob("BUILDACC*.wl")) and time.monotonic() < deadline:
    time.sleep(0.1)
entries = list(folder.glob("BUILDACC*.wl"))
assert entries, sorted(p.name for p in folder.iterdir())
print(f"REST /system: {system}; HL7 ACK AA; entry {entries[0].name}")
EOF
ok "frozen order channels: the REST API answers /system, an HL7 order is acknowledged and written"
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" && rc=0 || rc=$?
SERVE_PID=""
[ "$rc" = 0 ] || fail "wldesk-cli serve exited $rc on SIGTERM"
ok "wldesk-cli serve stopped cleanly on SIGTERM"

step "summary"
echo "Linux onedir bundle: $(du -sh "$DIST" | cut -f1) ($(du -sb "$DIST" | cut -f1) bytes, $(find "$DIST" -type f | wc -l) files) in $DIST"
echo "times: dependencies ${T_DEPS} s, PyInstaller ${T_BUNDLE} s, frozen selftest ${T_SELFTEST} s, total $((SECONDS - T0)) s"
