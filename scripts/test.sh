#!/usr/bin/env bash
# Install everything the tests need and run the whole suite.
#
#   ./scripts/test.sh            # everything
#   ./scripts/test.sh -k rollup  # extra arguments go to pytest
#
# It creates .venv (if missing) with the package and its `test` extra. Tests that
# need a real server or another instrumentation install it themselves, on first
# use, into .test-tools/ (rotel comes from PyPI, promtool from Debian's
# prometheus package, instrumentations and Phoenix into their own venvs), start
# it on loopback, and stop it.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "scripts/test.sh: pytest collected no tests: the suite is misconfigured" >&2
    exit 1
fi
exit "$status"
