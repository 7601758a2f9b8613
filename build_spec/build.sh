#!/usr/bin/env bash
# Build the one-folder MammoLens app and a compressed archive of it.
#   build_spec/build.sh [DIST_DIR]      (default: dist/ at the repository root)
# Needs the project installed with the `build` extra:  .venv/bin/pip install -e '.[build]'
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
py=${PYTHON:-$root/.venv/bin/python}
dist=${1:-$root/dist}
work=$root/build
export MAMMOLENS_LICENSES_DIR=$work/licenses
"$py" "$here/collect_licenses.py" "$MAMMOLENS_LICENSES_DIR"
"$py" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$dist" --workpath "$work/pyinstaller" "$here/mammolens.spec"
version=$("$py" -c "import importlib.metadata as m; print(m.version('mammolens'))")
archive="$dist/mammolens-$version-linux-$(uname -m).tar.gz"
tar -C "$dist" -czf "$archive" mammolens
echo "app:     $dist/mammolens/mammolens"
echo "archive: $archive"
