#!/usr/bin/env bash
# Train the restorer (width 32) and the scratch detector side by side on one GPU machine
# with 16 cores: the cores make the degraded batches, the GPU takes the steps. Measure
# and export afterwards on any machine with --export-only (CPU is fine):
#
#   training/train_on_gpu.sh [MINUTES] [DEVICE]   ->  runs/gpu-restore, runs/gpu-scratch
#   python -m training.train_restore --run gpu-restore --export-only
#   python -m training.train_scratch --run gpu-scratch --export-only
#
# The restorer's batches cost ~30 ms of one core per 128 px crop (degradation plus the
# classical pre-pass), the detector's ~2 ms: hence 11 workers against 3, and each
# restorer batch used twice (--reuse 2, the second time flipped or transposed).
set -euo pipefail
minutes=${1:-7.5}
device=${2:-cuda}
mkdir -p runs
python3 -m training.train_scratch --run gpu-scratch --device "$device" --workers 3 \
    --batch 32 --steps 1000000 --minutes "$minutes" --train-only >runs/gpu-scratch.log 2>&1 &
scratch=$!
python3 -m training.train_restore --run gpu-restore --device "$device" --workers 11 \
    --batch 16 --reuse 2 --base 32 --steps 1000000 --minutes "$minutes" --train-only \
    >runs/gpu-restore.log 2>&1 &
restore=$!
wait "$scratch" "$restore"
