#!/usr/bin/env bash
# The GPU speed table (issue 25) in one command, on a machine with an NVIDIA GPU and torch but no network:
#
#   bash benchmarks/gpu.sh OUT [STEPS] [extra gpu_speed.py options, e.g. --targets 8]
#
# Needs the repository and .device-data/bandai-namco.tar.xz (made by scripts/pack_mocap_for_device.sh).
# Unpacks the mocap to a temporary folder, then runs benchmarks/gpu_speed.py: OUT/gpu_speed.json holds the
# figures, OUT/train the training run and its weights. `bash benchmarks/gpu.sh OUT 6 --smoke --device cpu`
# checks the whole chain on any CPU in about a minute.
set -euo pipefail
out=${1:?usage: bash benchmarks/gpu.sh OUT [STEPS] [gpu_speed.py options]}
steps=${2:-300}
shift $(( $# >= 2 ? 2 : 1 ))
repo=$(cd "$(dirname "$0")/.." && pwd)
archive=${POSELIFT_MOCAP_ARCHIVE:-$repo/.device-data/bandai-namco.tar.xz}
[ -f "$archive" ] || { echo "gpu.sh: $archive: no such file (run scripts/pack_mocap_for_device.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xJf "$archive" -C "$work"
mkdir -p "$out"
PYTHONPATH="$repo/src${PYTHONPATH:+:$PYTHONPATH}" python "$repo/benchmarks/gpu_speed.py" \
    --mocap "$work/bandai-namco" --out "$out" --steps "$steps" "$@"
