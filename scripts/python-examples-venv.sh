#!/usr/bin/env bash
# Builds the Python package with jsii-pacmak and installs it, with cdk8s from PyPI, into
# .venv-examples/, where test/examples/examples.test.ts runs examples/python/ from.
# Needs python3 with venv and pip, and PyPI (jsii-pacmak installs its own build tools from it).
set -euo pipefail
cd "$(dirname "$0")/.."

rm -rf dist-packages/python
npx jsii-pacmak --target python
python3 -m venv --clear .venv-examples
.venv-examples/bin/python -m pip install --quiet --disable-pip-version-check \
  -r examples/python/requirements.txt dist-packages/python/*.whl
