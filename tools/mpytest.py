# Test runner that runs ON the MicroPython VM (no pytest there):
#
#   micropython -X heapsize=4M tools/mpytest.py DIR [NAME ...] [--import PKGDIR ...]
#
# Imports every test_*.py in DIR and calls each module-level test_* function with no
# arguments. NAME narrows the run: a module name or part of one (`bitmap`, `test_bitmap.py`)
# or one test (`test_bitmap::test_mark`). `--import PKGDIR` (e.g. firmware/mirror) also
# imports every module below PKGDIR, so a firmware module no test touches still has to
# import on MicroPython. Ends with `micropython: N passed, M failed`; exits 1 if anything
# failed, a module did not import, or nothing ran.
#
# Written for MicroPython 1.29's unix port: no os.path (string ops instead), os.listdir and
# os.getcwd exist, os.stat()[0] carries the mode bits.
import gc
import os
import sys


def norm(path):
    """Absolute, normalised path ('.' and '..' resolved) using only string operations."""
    if not path.startswith("/"):
        path = os.getcwd() + "/" + path
    parts = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/" + "/".join(parts)


def dirname(path):
    return path.rsplit("/", 1)[0] or "/"


def is_dir(path):
    try:
        return os.stat(path)[0] & 0o170000 == 0o040000
    except OSError:
        return False


def show(exc):
    if hasattr(sys, "print_exception"):  # MicroPython: traceback, ending in "Type: message"
        sys.print_exception(exc)
    else:
        print("    %s: %s" % (type(exc).__name__, exc))


def walk_modules(base, rel=""):
    """Dotted names of every .py below base/rel (package __init__ -> the package name)."""
    out = []
    here = base + ("/" + rel if rel else "")
    for entry in sorted(os.listdir(here)):
        sub = rel + "/" + entry if rel else entry
        if is_dir(here + "/" + entry):
            if entry != "__pycache__":
                out.extend(walk_modules(base, sub))
        elif entry.endswith(".py"):
            name = sub[:-3].replace("/", ".")
            if name == "__init__" or name.endswith(".__init__"):
                name = name[:-9]  # the package itself ("" = the top package)
            out.append(name)
    return out


def native_kernel(path):
    """Is this a module of viper or Thumb code (precompiled for the boards)?"""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("@micropython.viper") or line.startswith("@micropython.asm_thumb"):
                    return True
    except OSError:
        pass
    return False


def load(name):
    __import__(name)
    return sys.modules[name]


def main(argv):
    root = dirname(dirname(norm(globals().get("__file__") or argv[0])))
    dirs, names, imports = [], [], []
    i = 0
    while i < len(argv):
        if argv[i] == "--import" and i + 1 < len(argv):
            imports.append(norm(argv[i + 1]))
            i += 1
        elif not dirs:
            dirs.append(norm(argv[i]))
        else:
            names.append(argv[i])
        i += 1
    if not dirs:
        print("usage: micropython tools/mpytest.py DIR [NAME ...] [--import PKGDIR ...]")
        sys.exit(2)
    testdir = dirs[0]
    # Replace the path outright: ~/.micropython/lib and the cwd must not supply a module
    # the boards won't have. '.frozen' holds the VM's frozen modules (asyncio among them).
    sys.path[:] = [testdir, root + "/firmware", root + "/boards", ".frozen"]

    passed = failed = skipped = 0

    # Import sweep: the module name is the path relative to the sys.path entry it lives under.
    imported = 0
    for pkgdir in imports:
        if not is_dir(pkgdir):
            continue  # not written yet
        base = dirname(pkgdir)
        prefix = pkgdir[len(base) + 1:]
        if base not in sys.path:
            sys.path.append(base)
        for name in walk_modules(pkgdir):
            sub = name
            name = prefix + ("." + name if name else "")
            try:
                load(name)
                imported += 1
            except SyntaxError as e:
                if not native_kernel(pkgdir + "/" + sub.replace(".", "/") + ".py"):
                    failed += 1
                    print("%s IMPORT FAILED" % name)
                    show(e)
                    continue
                print("%s: a native kernel this VM cannot compile (%s): its callers fall "
                      "back" % (name, e))
            except Exception as e:
                failed += 1
                print("%s IMPORT FAILED" % name)
                show(e)
    if imports:
        print("micropython: imported %d firmware modules" % imported)

    for fname in sorted(os.listdir(testdir)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        modname = fname[:-3]
        only = None
        if names:
            hit = False
            for n in names:
                mod, _, fn = n.partition("::")
                if mod.endswith(".py"):
                    mod = mod[:-3]
                if fn and mod == modname:
                    hit, only = True, fn
                elif not fn and mod in modname:
                    hit = True
            if not hit:
                continue
        try:
            mod = load(modname)
        except Exception as e:
            failed += 1
            print("%s IMPORT FAILED" % fname)
            show(e)
            continue
        ok = bad = skip = 0
        # Sorted, not source order: MicroPython module dicts are unordered. Tests must not
        # depend on each other anyway.
        for name in sorted(dir(mod)):
            fn = getattr(mod, name)
            if not name.startswith("test_") or isinstance(fn, type) or not callable(fn):
                continue
            if only is not None and name != only:
                continue
            try:
                result = fn()
                if result is not None and hasattr(result, "send"):
                    # An `async def` or generator test would otherwise "pass" unrun.
                    raise TypeError("test returned a generator/coroutine; run it with asyncio.run()")
                ok += 1
            except Exception as e:
                if type(e).__name__ == "Skip":  # fwtest.skip(): not for this Python
                    skip += 1
                    continue
                bad += 1
                print("%s::%s FAILED" % (fname, name))
                show(e)
            gc.collect()  # each test starts from a collected heap
        passed += ok
        failed += bad
        skipped += skip
        # "ok", not "passed": only the closing line should read like a runner summary.
        print("%s: %d ok%s%s" % (fname, ok, ", %d skipped" % skip if skip else "",
                                 ", %d FAILED" % bad if bad else ""))

    print("micropython: %d passed, %d failed%s" % (passed, failed,
                                                  ", %d skipped" % skipped if skipped else ""))
    if failed or not passed:
        sys.exit(1)


main(sys.argv[1:])
