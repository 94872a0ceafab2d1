#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then lint and run the whole suite
# (unit, AppTest and real-browser tests). Exits non-zero on any failure, "no tests" included.
set -euo pipefail
cd "$(dirname "$0")/.."

# The browser tests drive Debian's chromium; the scale-out test puts two replicas behind nginx.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Two workers (pytest-xdist), one per core of the 2-core CI machine: the browser tests spend much
# of their time waiting on the app and the browser, so two run side by side. Each worker starts
# its own streamlit server and chromium; loadgroup keeps a module's xdist_group (the two nginx
# replicas of the scale-out test) in one worker. --durations lists the slowest tests, to keep the suite
# within its ten minutes. Extra arguments override these (`-n 0` runs in one process).
.venv/bin/python -m pytest -n 2 --dist loadgroup --durations=15 "$@"
