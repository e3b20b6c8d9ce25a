"""Copy the front-end libraries installed by `npm ci` into the git-ignored static folder.

Third-party code is never committed: package.json + package-lock.json pin it, and this script copies the
files the templates use from node_modules/ into gridgov/static/vendor/.
"""

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "node_modules"
DEST = ROOT / "gridgov" / "static" / "vendor"

# (source inside node_modules, destination inside static/vendor)
FILES = [
    ("htmx.org/dist/htmx.min.js", "htmx/htmx.min.js"),
    ("leaflet/dist/leaflet.js", "leaflet/leaflet.js"),
    ("leaflet/dist/leaflet.css", "leaflet/leaflet.css"),
    ("leaflet/dist/images", "leaflet/images"),
    ("echarts/dist/echarts.min.js", "echarts/echarts.min.js"),
    ("@picocss/pico/css/pico.min.css", "pico/pico.min.css"),
]


def main() -> int:
    missing = [src for src, _ in FILES if not (SRC / src).exists()]
    if missing:
        print("missing front-end files (run `npm ci` first):", ", ".join(missing), file=sys.stderr)
        return 1
    for src, dest in FILES:
        target = DEST / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        if (SRC / src).is_dir():
            shutil.copytree(SRC / src, target, dirs_exist_ok=True)
        else:
            shutil.copy2(SRC / src, target)
    print(f"front-end libraries copied to {DEST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
