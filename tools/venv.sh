#!/bin/sh
# Create or update the project's virtual environment: tools/venv.sh PYTHON VENV
# (the Makefile runs it; see `make help`). It explains itself when it cannot go on.
set -eu
PYTHON=$1
VENV=$2
# What a Python is: "version base-prefix". A venv made by another Python is made again.
IDENTITY='import sys; print("%d.%d.%d" % sys.version_info[:3], sys.base_prefix)'

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "make: no '$PYTHON' found. Install Python 3.11 or newer, or name yours:" \
         "make PYTHON=/path/to/python3.12 ..." >&2
    exit 1
fi
want=$("$PYTHON" -c "$IDENTITY")
version=${want%% *}
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
if [ "$major" -lt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -lt 11 ]; }; then
    echo "make: this book needs Python 3.11 or newer, but $PYTHON is Python $version." >&2
    echo "      Install a newer Python and name it, e.g.: make PYTHON=python3.12 test" >&2
    exit 1
fi

if [ -e "$VENV" ]; then
    have=$("$VENV/bin/python" -c "$IDENTITY" 2>/dev/null || echo "a broken or missing Python")
    if [ "$have" != "$want" ]; then
        echo "make: $VENV was made by another Python ($have);" \
             "making it again with $PYTHON ($want)"
        rm -rf "$VENV"
    fi
fi

if [ ! -e "$VENV" ]; then
    echo "make: creating $VENV with $PYTHON (Python $version)"
    if ! "$PYTHON" -m venv "$VENV"; then
        rm -rf "$VENV"
        echo "make: '$PYTHON -m venv' failed. On Debian or Ubuntu the venv module is a package" \
             "of its own: sudo apt-get install python3-venv (or python3.$minor-venv)" >&2
        exit 1
    fi
fi

echo "make: installing the pinned requirements into $VENV (a few minutes the first time)"
"$VENV/bin/python" -m pip install --progress-bar on --disable-pip-version-check \
    -r requirements.txt
mkdir -p "$VENV/etc/ipython"
cp tools/ipython_kernel_config.py "$VENV/etc/ipython/ipython_kernel_config.py"
