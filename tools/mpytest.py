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


def parse(argv):
    """(test dir, names, --import dirs) from the command line; exits 2 on a usage error."""
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
    return dirs[0], names, imports


def selected(fname, names):
    """(run this module?, the one test to run in it or None)."""
    if not names:
        return True, None
    modname, hit, only = fname[:-3], False, None
    for n in names:
        mod, _, fn = n.partition("::")
        if mod.endswith(".py"):
            mod = mod[:-3]
        if fn and mod == modname:
            hit, only = True, fn
        elif not fn and mod in modname:
            hit = True
    return hit, only


class Runner:
    """The run in steps: step() does one piece (the import sweep, a module's import, one
    test) and returns False when nothing is left; finish() prints the summary and exits 1
    on a failure. main() just loops. A driver that can only free memory between calls (the
    WebAssembly port collects garbage only when control returns to JavaScript:
    ports/webassembly/main.c, gc_collect_top_level) calls step() once per call."""

    def __init__(self, argv):
        root = dirname(dirname(norm(globals().get("__file__") or argv[0])))
        self.testdir, self.names, self.imports = parse(argv)
        # Replace the path outright: ~/.micropython/lib and the cwd must not supply a module
        # the boards won't have. '.frozen' holds the VM's frozen modules (asyncio among them).
        sys.path[:] = [self.testdir, root + "/firmware", root + "/boards", ".frozen"]
        self.passed = self.failed = self.skipped = 0
        self.files = [f for f in sorted(os.listdir(self.testdir))
                      if f.startswith("test_") and f.endswith(".py")]
        self.swept = not self.imports
        self.fname = None  # the module being run, its tests left and its counts
        self.tests = []

    def step(self):
        if not self.swept:
            self.swept = True
            self.sweep()
        elif self.tests:
            self.run_test(self.tests.pop(0))
        elif self.fname is not None:
            self.end_module()
        elif self.files:
            self.start_module(self.files.pop(0))
        else:
            return False
        return True

    def sweep(self):
        """Import every module below each --import dir: the module name is the path
        relative to the sys.path entry it lives under."""
        imported = 0
        for pkgdir in self.imports:
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
                        self.failed += 1
                        print("%s IMPORT FAILED" % name)
                        show(e)
                        continue
                    print("%s: a native kernel this VM cannot compile (%s): its callers fall "
                          "back" % (name, e))
                except Exception as e:
                    self.failed += 1
                    print("%s IMPORT FAILED" % name)
                    show(e)
        print("micropython: imported %d firmware modules" % imported)

    def start_module(self, fname):
        hit, only = selected(fname, self.names)
        if not hit:
            return
        try:
            mod = load(fname[:-3])
        except Exception as e:
            self.failed += 1
            print("%s IMPORT FAILED" % fname)
            show(e)
            return
        self.fname, self.mod = fname, mod
        self.ok = self.bad = self.skip = 0
        # Sorted, not source order: MicroPython module dicts are unordered. Tests must not
        # depend on each other anyway.
        for name in sorted(dir(mod)):
            fn = getattr(mod, name)
            if not name.startswith("test_") or isinstance(fn, type) or not callable(fn):
                continue
            if only is None or name == only:
                self.tests.append(name)

    def run_test(self, name):
        try:
            result = getattr(self.mod, name)()
            if result is not None and hasattr(result, "send"):
                # An `async def` or generator test would otherwise "pass" unrun.
                raise TypeError("test returned a generator/coroutine; run it with asyncio.run()")
            self.ok += 1
        except Exception as e:
            if type(e).__name__ == "Skip":  # fwtest.skip(): not for this Python
                self.skip += 1
            else:
                self.bad += 1
                print("%s::%s FAILED" % (self.fname, name))
                show(e)
        gc.collect()  # each test starts from a collected heap

    def end_module(self):
        self.passed += self.ok
        self.failed += self.bad
        self.skipped += self.skip
        # "ok", not "passed": only the closing line should read like a runner summary.
        print("%s: %d ok%s%s" % (self.fname, self.ok, ", %d skipped" % self.skip if self.skip else "",
                                 ", %d FAILED" % self.bad if self.bad else ""))
        self.fname = self.mod = None

    def finish(self):
        print("micropython: %d passed, %d failed%s" % (self.passed, self.failed,
                                                      ", %d skipped" % self.skipped if self.skipped else ""))
        if self.failed or not self.passed:
            sys.exit(1)


def main(argv):
    runner = Runner(argv)
    while runner.step():
        pass
    runner.finish()


main(sys.argv[1:])
