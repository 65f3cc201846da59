#!/usr/bin/env bash
# Pack the Bandai-Namco mocap the GPU benchmark needs into .device-data/bandai-namco.tar.xz (git-ignored),
# so that a machine without ../shared can run benchmarks/gpu.sh: `bash scripts/pack_mocap_for_device.sh [SRC]`.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-$repo/../shared/data/mocap/bandai-namco}
[ -d "$src" ] || { echo "pack_mocap_for_device.sh: $src: no such folder" >&2; exit 1; }
mkdir -p "$repo/.device-data"
target="$repo/.device-data/bandai-namco.tar.xz"
XZ_OPT="-9 -T0" tar -cJf "$target.tmp" -C "$(dirname "$src")" --exclude='*.npz' "$(basename "$src")"
mv "$target.tmp" "$target"
ls -l "$target"
