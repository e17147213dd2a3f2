#!/usr/bin/env bash
# tools/gpu-check.sh — the one prepared script for a session that is lent a GPU (an H200 here).
#
# The device machine has no .NET and takes at most 64 MiB of working tree (the repo's tracked files are ~29 MB),
# so the checks travel as ONE self-contained, trimmed, compressed linux-x64 executable built here:
#
#   here:    tools/gpu-check.sh publish [--with-nvrtc]   → .devcarry/gpu-check/gpu-check (+ size budget check)
#            tools/gpu-check.sh local [args]             → run the published checker on the simulator (what runs here)
#   device:  run(command="bash tools/gpu-check.sh device", carry=[".devcarry"], timeout_s=360)
#            (gpu-check itself is stopped after 330 s so report.md/tests.log still come back; on an H200 the whole
#            run should take 1–3 minutes, leaving device time for one rerun)
#            → finds NVRTC, links the test fixtures, runs the CUDA tests on the GPU and the 7B-shaped speed
#              benchmark; report.md and tests.log land in $OUT.
#
# NVRTC on the device: the image carries CUDA 13 (nvcc, PyTorch's nvidia-cuda-nvrtc wheel), so libnvrtc is
# looked for there first (ldconfig, /usr/local/cuda*, the Python wheels). Only if none is found is the
# Debian libnvrtc 11.8 (supports sm_90) used, when `publish --with-nvrtc` packed it (xz, ~+20 MB).
# Extra arguments after `device`/`local` go to gpu-check (e.g. --no-bench, --tests SpecEE.Tests.Cuda.Model).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CARRY=.devcarry/gpu-check
BUDGET=$((64 * 1024 * 1024))

publish() {
  local with_nvrtc=0
  [[ "${1:-}" == "--with-nvrtc" ]] && with_nvrtc=1
  rm -rf "$CARRY" && mkdir -p "$CARRY"
  dotnet publish tools/SpecEE.GpuCheck -c Release -r linux-x64 --self-contained -o build/gpu-check-publish \
    -p:TreatWarningsAsErrors=true 2>&1 | grep -E "error|warn|->" || true
  cp build/gpu-check-publish/SpecEE.Tests "$CARRY/gpu-check"
  if (( with_nvrtc )); then
    for f in /usr/lib/x86_64-linux-gnu/libnvrtc.so.11.2 /usr/lib/x86_64-linux-gnu/libnvrtc-builtins.so.11.8; do
      [[ -f $f ]] || { echo "gpu-check.sh: $f not found (apt-get install libnvrtc11.2)"; exit 1; }
      xz -T0 -6 -c "$f" > "$CARRY/$(basename "$f").xz"
    done
  fi
  local tracked carried total
  # One du over the whole NUL-separated list (xargs could split it and print several totals).
  tracked=$(git ls-files -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  untracked=$(git ls-files -z --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  carried=$(du -cb "$CARRY" | tail -1 | cut -f1)
  total=$((tracked + ${untracked:-0} + carried))
  printf 'gpu-check.sh: carried %s (%.1f MB); tracked %.1f MB, untracked %.1f MB; total %.1f MB of %.1f MB\n' \
    "$CARRY" "$(bc -l <<< "$carried/1048576")" "$(bc -l <<< "$tracked/1048576")" "$(bc -l <<< "${untracked:-0}/1048576")" \
    "$(bc -l <<< "$total/1048576")" "$(bc -l <<< "$BUDGET/1048576")"
  if (( total > BUDGET )); then echo "gpu-check.sh: over the 64 MiB the device call takes"; exit 1; fi
}

link_fixtures() {
  # Tests find fixtures beside the executable (TestPaths.Fixture) and the repo above it (TestPaths.RepoRoot).
  ln -sfn ../../tests/fixtures "$CARRY/fixtures" # relative: valid here and in the device's copy
}

find_nvrtc() {
  [[ -n "${SPECEE_NVRTC:-}" ]] && return
  local f
  f=$(ldconfig -p 2>/dev/null | awk '/libnvrtc\.so\.[0-9]+ /{print $NF; exit}')
  if [[ -z "$f" ]]; then
    f=$(find /usr/local/cuda*/lib64 /usr/local/cuda*/targets/*/lib /opt /usr/lib -name 'libnvrtc.so.[0-9]*' \
          ! -name '*builtins*' 2>/dev/null | sort -V | tail -1 || true)
  fi
  if [[ -z "$f" && -f "$CARRY/libnvrtc.so.11.2.xz" ]]; then
    mkdir -p /tmp/specee-nvrtc
    xz -dc "$CARRY/libnvrtc.so.11.2.xz" > /tmp/specee-nvrtc/libnvrtc.so.11.2
    xz -dc "$CARRY/libnvrtc-builtins.so.11.8.xz" > /tmp/specee-nvrtc/libnvrtc-builtins.so.11.8
    export LD_LIBRARY_PATH=/tmp/specee-nvrtc${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    f=/tmp/specee-nvrtc/libnvrtc.so.11.2
  fi
  if [[ -n "$f" ]]; then
    export SPECEE_NVRTC=$f
    # NVRTC loads libnvrtc-builtins from its own folder or the loader path.
    export LD_LIBRARY_PATH=$(dirname "$f")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  fi
  echo "gpu-check.sh: NVRTC = ${SPECEE_NVRTC:-not found}"
}

find_libcuda() {
  # The driver's folder is a mount (/usr/local/nvidia); dlopen("libcuda.so.1") needs it on the loader path.
  ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 ' && return
  local f
  f=$(find /usr/local/nvidia /usr/lib /usr/lib64 /usr/local/cuda*/compat -name 'libcuda.so.1' 2>/dev/null | head -1 || true)
  [[ -n "$f" ]] && export LD_LIBRARY_PATH=$(dirname "$f")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  echo "gpu-check.sh: libcuda = ${f:-not found}"
}

case "${1:-}" in
  publish) shift; publish "$@" ;;
  local)
    shift
    [[ -x "$CARRY/gpu-check" ]] || publish
    link_fixtures
    export SPECEE_KERNEL_CACHE=${SPECEE_KERNEL_CACHE:-/tmp/specee-kernel-cache}
    mkdir -p build/gpu-check-out
    "$CARRY/gpu-check" --device sim --out build/gpu-check-out "$@"
    ;;
  device)
    shift
    [[ -x "$CARRY/gpu-check" ]] || { echo "gpu-check.sh: $CARRY/gpu-check missing: run 'tools/gpu-check.sh publish' here and carry .devcarry"; exit 1; }
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv 2>&1 | tee "${OUT:-.}/nvidia-smi.txt" || true
    find_libcuda
    find_nvrtc
    link_fixtures
    export SPECEE_KERNEL_CACHE=/tmp/specee-kernel-cache
    export DOTNET_BUNDLE_EXTRACT_BASE_DIR=/tmp/specee-bundle
    timeout 330 "$CARRY/gpu-check" --device cuda --out "${OUT:-.}" "$@"
    ;;
  *) echo "usage: tools/gpu-check.sh publish [--with-nvrtc] | local [args] | device [args]"; exit 2 ;;
esac
