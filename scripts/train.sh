#!/usr/bin/env bash
# Trains every model from scratch and exports them to models/ (hours on a CPU: see docs/TRAINING.md).
# Each stage checkpoints to train/runs/default and resumes: run this again after an interruption.
#   MINUTES=60 scripts/train.sh   stops (resumably) once a stage has run that long
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${MGIE_PYTHON:-/usr/bin/python3}
RUN=runs/default  # relative to train/, where the stages run
DATA=${MGIE_DATA:-data}
if ! "$PY" -c 'import torch, numpy, onnx, jsonschema' 2>/dev/null; then
  echo "error: $PY cannot import torch, numpy, onnx and jsonschema, which training and export need." >&2
  echo "Run scripts/setup-system.sh to install them, or set MGIE_PYTHON to a Python that has them." >&2
  exit 1
fi
[ -f dist/cli/main.js ] || npm run build
[ -f "$DATA/train64/dataset.json" ] || node dist/cli/main.js data generate --split train --count 50000 --res 64 --out "$DATA/train64"
[ -f "$DATA/test64/dataset.json" ] || node dist/cli/main.js data generate --split test --res 64 --out "$DATA/test64"
extra=()
[ -n "${MINUTES:-}" ] && extra=(--minutes "$MINUTES")
(cd train && "$PY" -m mgie_train all --data "../$DATA/train64" --test-data "../$DATA/test64" --run "$RUN" --seed 0 "${extra[@]}")
for v in mgie-e2e inspix2pix lgie mgie-fz mgie-ft; do
  (cd train && "$PY" -m mgie_train export --variant "$v" --data "../$DATA/train64" --run "$RUN" --out "../models/$v")
done
echo "models exported to models/"
