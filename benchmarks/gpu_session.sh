#!/usr/bin/env bash
# One GPU session for issue 21 in ONE call of the device machine (README, "GPU").
#
#   bash benchmarks/gpu_session.sh prepare     # on a machine with PyPI, once: the wheels the GPU image lacks
#   bash benchmarks/gpu_session.sh run [DIR [tests|check|all]]
#       on the GPU machine, with build/gpu-wheels carried along; writes into DIR (default: $OUT, the
#       device tool's folder); `tests` or `check` reruns one stage only (default: all)
#
# The GPU image (an H200 with driver 580 / CUDA 13 when this was written) has Python 3.12 with
# cupy-cuda13x, numpy, scipy, pyarrow, numba, pytest, hypothesis, NVRTC and the other
# dependencies, but no simpy or pydantic, and it reaches no package index. `prepare` downloads
# those few wheels (about 3 MiB) into build/gpu-wheels/ (ignored by git); the device call carries
# that folder. CuPy itself cannot travel (a wheel is about 70 MiB, over the 64 MiB that a call
# carries), so `run` uses the image's CuPy and stops, saying so, if its CUDA is newer than the
# driver's.
#
# `run` writes into DIR: session.md (device, driver, CUDA, CuPy, the stages
# with exit codes and durations), pytest-gpu.log (tests/gpu and tests/rtrl/test_kernels_twins.py),
# gpu_check.log, and RESULTS_GPU.md (copy it to benchmarks/ and commit). Each stage has its own
# time limit (tests 200 s, gpu_check 330 s; gpu_check rewrites its report after each n_hidden, so
# a stage stopped at its limit still leaves what it measured): the run ends within 9.5 minutes.
set -u
cd "$(dirname "$0")/.."
WHEELS=build/gpu-wheels
# Exact versions, one of each (the image has typing-extensions, maybe too old for pydantic).
PINS=(simpy==4.1.2 pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
      typing-extensions==4.16.0)

prepare() {
    mkdir -p "$WHEELS"
    local pip=python3
    [ -x .venv/bin/python ] && pip=.venv/bin/python
    "$pip" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$WHEELS" "${PINS[@]}" || { echo "gpu_session: wheel download failed" >&2; exit 2; }
    ls -l "$WHEELS"
    du -sh "$WHEELS"
}

log() { echo "$*" | tee -a "$OUT/session.md"; }

stage() {  # stage NAME SECONDS LOG COMMAND...: a time limit, output to $OUT/LOG, exit code and wall logged
    local name=$1 limit=$2 out=$OUT/$3 start rc
    shift 3
    start=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" > "$out" 2>&1
    rc=$?
    tail -25 "$out"
    log "| $name | $rc$([ $rc -eq 124 ] && echo ' (time limit)') | $(( $(date +%s) - start )) s |"
}

run() {
    OUT=${1:-${OUT:-}}
    local which=${2:-all}
    case "$which" in
        tests|check|all) ;;
        *) echo "gpu_session: run DIR [tests|check|all], got '$which'" >&2; exit 2 ;;
    esac
    [ -n "$OUT" ] && [ -d "$OUT" ] || { echo "gpu_session: run DIR: no output folder '$OUT'" >&2; exit 2; }
    set -o pipefail
    export PYTHONUNBUFFERED=1
    local py=python3
    echo "# GPU session $(date -u +%Y-%m-%dT%H:%MZ)" > "$OUT/session.md"
    log ""
    log '```'
    nvidia-smi 2>&1 | head -15 | tee -a "$OUT/session.md"
    log '```'
    log ""
    log "python: $($py -V 2>&1) at $(command -v $py)"
    # CuPy: the image's, if its CUDA runtime is no newer than what the driver supports.
    if ! $py - <<'EOF' 2>&1 | tee -a "$OUT/session.md"
import cupy
rt, drv = cupy.cuda.runtime.runtimeGetVersion(), cupy.cuda.runtime.driverGetVersion()
print(f"CuPy {cupy.__version__}: CUDA runtime {rt // 1000}.{rt % 1000 // 10}, the driver supports CUDA "
      f"{drv // 1000}.{drv % 1000 // 10}, NVRTC {'.'.join(map(str, cupy.cuda.nvrtc.getVersion()))}, "
      f"{cupy.cuda.runtime.getDeviceCount()} device(s)")
assert rt // 1000 <= drv // 1000, "this CuPy needs a newer driver"
EOF
    then
        log "gpu_session: no usable CuPy for this driver's CUDA here (a CuPy wheel is too large to carry); stopping"
        exit 2
    fi
    ls "$WHEELS"/*.whl > /dev/null 2>&1 \
        || { log "gpu_session: $WHEELS is empty: run 'prepare' where PyPI is reachable and carry it"; exit 2; }
    SITE="$(mktemp -d)"  # a scratch site-packages for the carried wheels
    $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
        "$WHEELS"/*.whl || { log "gpu_session: installing the carried wheels failed"; exit 2; }
    export PYTHONPATH="$SITE:$PWD"
    $py -c "import rtrl, accel_sim.trace.schema, simpy, pydantic, pytest, hypothesis" 2>&1 | tee -a "$OUT/session.md" \
        || { log "gpu_session: the project does not import here"; exit 2; }
    log ""
    log "| stage | exit code | wall |"
    log "|---|---|---|"
    if [ "$which" != check ]; then
        stage "pytest tests/gpu tests/rtrl/test_kernels_twins.py" 200 pytest-gpu.log \
            $py -m pytest tests/gpu tests/rtrl/test_kernels_twins.py -p no:cacheprovider -rs --timeout=150
    fi
    if [ "$which" != tests ]; then
        stage "python benchmarks/gpu_check.py" 330 gpu_check.log \
            $py benchmarks/gpu_check.py --out "$OUT/RESULTS_GPU.md"
    fi
    if [ -f "$OUT/pytest-gpu.log" ]; then
        log ""
        log "pytest: $(grep -E '(passed|failed|error)' "$OUT/pytest-gpu.log" | tail -1)"
    fi
    return 0
}

case "${1:-}" in
    prepare) prepare ;;
    run) run "${2:-}" "${3:-all}" ;;
    *) echo "usage: bash benchmarks/gpu_session.sh prepare | run [DIR [tests|check|all]]" >&2; exit 2 ;;
esac
