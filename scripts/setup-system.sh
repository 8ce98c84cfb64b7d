#!/usr/bin/env bash
# System packages mgie needs beyond Node.js, from Debian: fonts for the contact sheets and reports,
# and the training side's Python (PyTorch, ONNX, numpy, and the threaded OpenBLAS without which
# PyTorch's matrix products run several times slower), jsonschema (export checks each manifest against
# schemas/manifest.schema.json), flake8 and black for the Python lint, and pytest to run the Python tests; redis-server for the
# scale-out tests (started on a loopback port by the tests themselves; the system service is not
# needed) and python3-venv for schemathesis (scripts/schemathesis.sh installs it from PyPI). Safe to run again; needs root or sudo.
set -euo pipefail
packages=(fonts-dejavu-core python3 python3-numpy python3-torch python3-onnx libopenblas0-pthread chromium python3-jsonschema flake8 black python3-pytest redis-server python3-venv)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present (${packages[*]})"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "system packages: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
