# The plain-Python build of a viper kernel module, for where no native code can load
# (CPython, the WebAssembly VM; a board always loads its precompiled .mpy): the module's
# text without its viper decorators, run with ptr8 the identity, so one source serves both.
# It reads a file, so it is not part of the sans-IO core (firmware/mirror): mirror/cobs.py
# asks for it only when mirror/cobsk.py does not import.


def python_build(path, names):
    """The functions `names` of the kernel module at `path`, as plain Python."""
    with open(path) as f:
        src = f.read().replace("@micropython.viper  # noqa: F821\n", "")
    g = {"ptr8": lambda b: b}
    exec(src, g)
    return tuple(g[n] for n in names)
