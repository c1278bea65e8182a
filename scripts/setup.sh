#!/bin/sh
# Set up everything Fluid OS needs on a fresh Debian 12 machine, then run
# the main job or the test suite:
#   scripts/setup.sh run    # install, build the image, boot it in QEMU (doit run)
#   scripts/setup.sh test   # install, run every test (pytest)
# Extra arguments are passed to doit or pytest.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="nasm clang-19 lld-19 qemu-system-x86 python3-venv"
# The tests run a real build-cache server: nginx with its WebDAV module (tests/cacheserver.py),
# and build the exported build.ninja with ninja (tests/test_exports.py).
if [ "${1:-run}" = test ]; then PACKAGES="$PACKAGES nginx ninja-build"; fi

missing=""
for pkg in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing Debian packages:$missing"
    $SUDO apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 || {
        $SUDO apt-get update -q >/dev/null
        $SUDO apt-get install -y --no-install-recommends $missing >/dev/null
    }
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating the virtual environment .venv"
    python3 -m venv .venv
fi
echo "setup: installing fluidbuild and its Python dependencies"
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'

mode="${1:-run}"
[ $# -gt 0 ] && shift
case "$mode" in
    run)  exec .venv/bin/doit run "$@" ;;
    test) exec .venv/bin/pytest "$@" ;;
    *)    echo "usage: scripts/setup.sh run|test [args...]" >&2; exit 2 ;;
esac
