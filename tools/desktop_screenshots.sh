#!/usr/bin/env bash
# The app on a real X server with a window manager (Xvfb + openbox), started from the command line as a user
# would and driven with xdotool; `import -window root` takes each picture at 800x600:
#   docs/app_file_error.png      --input names a file that is not a video
#   docs/app_collapsed.png       the panel hidden with P
#   docs/app_overlay_colour.png  overlay in a colour chosen earlier (saved settings)
# Needs Debian's xvfb, openbox, xdotool, imagemagick and the X11 libraries in the README's install section.
# Usage: tools/desktop_screenshots.sh [OUT_DIR]   (default docs; run from the repository root)
set -euo pipefail

OUT=${1:-docs}
VENV=${VENV:-.venv}
TMP=$(mktemp -d)
export DISPLAY=${SHOT_DISPLAY:-:97}
export XDG_CONFIG_HOME=$TMP/config # the app's saved settings: fresh for each scene
unset QT_QPA_PLATFORM WAYLAND_DISPLAY
APID=""

Xvfb "$DISPLAY" -screen 0 840x680x24 -nolisten tcp >/dev/null 2>&1 &
XPID=$!
cleanup() {
    [ -n "$APID" ] && kill "$APID" 2>/dev/null || true
    kill "${WPID:-}" "$XPID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
sleep 1
openbox >/dev/null 2>&1 &
WPID=$!
sleep 1
kill -0 "$WPID" || { echo "openbox did not start" >&2; exit 1; }
sleep 1

"$VENV/bin/python" - "$TMP/astronaut.mp4" <<'EOF'
import sys
from pathlib import Path

from realtime_seg.io.samples import load_sample
from realtime_seg.io.synth import ken_burns_frames, write_clip

write_clip(Path(sys.argv[1]), ken_burns_frames(load_sample("astronaut"), n_frames=90), fps=30)
EOF
head -c 40000 /dev/urandom >"$TMP/holiday.mp4" # a file that is not a video

# shot NAME SETTINGS KEYS ARGS...: start the app, size it to 800x600, press KEYS, take the screen
shot() {
    local name=$1 settings=$2 keys=$3
    shift 3
    rm -rf "$XDG_CONFIG_HOME"
    mkdir -p "$XDG_CONFIG_HOME/realtime-seg"
    printf '%b' "$settings" >"$XDG_CONFIG_HOME/realtime-seg/realtime-seg.conf"
    "$VENV/bin/realtime-seg" app "$@" --output-dir "$TMP/out" &
    APID=$!
    local wid
    wid=$(xdotool search --sync --onlyvisible --name '^realtime-seg$' | head -1)
    xdotool windowsize "$wid" 800 600 windowmove "$wid" 20 40 windowactivate --sync "$wid"
    sleep "${SETTLE_S:-6}" # the model loads, the rates warm up
    for k in $keys; do
        xdotool key --window "$wid" "$k"
        sleep 1
    done
    import -window root "$TMP/shot.png"
    convert "$TMP/shot.png" -colors 256 "PNG8:$OUT/$name" # small enough for the repository
    xdotool key --window "$wid" q
    wait "$APID" || true
    APID=""
    echo "wrote $OUT/$name"
}

shot app_file_error.png "" "" --input "$TMP/holiday.mp4"
shot app_collapsed.png "" "p" --input "$TMP/astronaut.mp4" --effect blur
shot app_overlay_colour.png "[panel]\ncolor=#3050ff\noverlay_alpha=0.55\n" "" --input "$TMP/astronaut.mp4" --effect overlay
