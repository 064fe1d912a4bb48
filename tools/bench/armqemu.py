"""Run MicroPython code on a Cortex-M under qemu-system-arm and count its instructions.

The firmware image is MicroPython's own qemu port (ports/qemu), built outside this
repository: BOARD=MICROBIT is a Cortex-M0 (ARMv6-M, the RP2040's ISA), BOARD=MPS2_AN385 a
Cortex-M3 (ARMv7-M). See docs/benchmarks.md for how the images were built; nothing of
MicroPython is part of this repository.

How instructions are counted: qemu runs with `-icount shift=0`, so its virtual clock
advances exactly 1 ns per executed guest instruction and every timer the guest reads is a
count of instructions. The guest reads time.ticks_us(); a calibration loop of known length
(an inline-assembler loop of 2 instructions per iteration) gives instructions per tick, and
each section is timed over enough repetitions that the tick's granularity is below one
instruction per repetition. The cost of the timing loop itself (an empty call) is measured
the same way and subtracted.

The firmware's modules reach the guest as bytes over the raw REPL and are imported from a
read-only filesystem object mounted in the guest (the pattern MicroPython's own test runner
uses), compiled on the guest as they would be on a board.
"""
import os
import select
import subprocess
import tempfile
import time

MACHINES = {
    # env var: (qemu machine, extra qemu args, label, mpy-cross -march for its native code)
    "SDMIRROR_ARM_M0_FIRMWARE": ("microbit", ["-global", "nrf51-soc.flash-size=1048576",
                                              "-global", "nrf51-soc.sram-size=262144"],
                                 "Cortex-M0 (ARMv6-M)", "armv6m"),
    "SDMIRROR_ARM_FIRMWARE": ("mps2-an385", [], "Cortex-M3 (ARMv7-M)", "armv7m"),
}

_FS = r'''
import sys, os, io, vfs
class _File(io.IOBase):
  def __init__(self, data):
    self.data = data
    self.off = 0
  def ioctl(self, req, arg):
    return 0 if req == 4 else -1
  def readinto(self, buf):
    n = min(len(buf), len(self.data) - self.off)
    buf[:n] = memoryview(self.data)[self.off:self.off + n]
    self.off += n
    return n
class _FS:
  def mount(self, readonly, mkfs): pass
  def umount(self): pass
  def chdir(self, path): pass
  def getcwd(self): return ""
  def stat(self, path):
    path = path.strip("/")
    if path in __F:
      return (0x8000, 0, 0, 0, 0, 0, len(__F[path]), 0, 0, 0)
    for k in __F:
      if k.startswith(path + "/"):
        return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    raise OSError(2)
  def open(self, path, mode):
    path = path.strip("/")
    if path not in __F:
      raise OSError(2)
    return _File(__F[path])
vfs.mount(_FS(), "/fw")
sys.path.insert(0, "/fw")
'''


class QemuError(RuntimeError):
    pass


class Guest:
    """One qemu-system-arm running MicroPython's qemu port, driven over its raw REPL."""

    def __init__(self, elf, machine, extra=(), timeout=600):
        if not os.path.isfile(elf):
            raise QemuError("no firmware image at %s" % elf)
        self.timeout = timeout
        self.proc = subprocess.Popen(
            ["qemu-system-arm", "-machine", machine, "-semihosting", "-display", "none",
             "-monitor", "null", "-icount", "shift=0", "-serial", "stdio",
             "-kernel", elf] + list(extra),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._buf = b""
        self._until(b">>> ", 30)
        self._write(b"\r\x01")
        self._until(b"raw REPL; CTRL-B to exit\r\n>", 30)

    def _write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def _until(self, token, timeout):
        end = time.monotonic() + timeout
        while token not in self._buf:
            left = end - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise QemuError("qemu: no %r within %ss; last output: %r"
                                % (token, timeout, self._buf[-300:]))
            r, _, _ = select.select([self.proc.stdout], [], [], min(left, 1.0))
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    continue
                self._buf += chunk
        i = self._buf.index(token)
        out, self._buf = self._buf[:i], self._buf[i + len(token):]
        return out

    def exec(self, code, timeout=None):
        """Run code in the guest's raw REPL; return its output (raise on an exception)."""
        self._write(code.encode() + b"\x04")
        self._until(b"OK", 30)
        out = self._until(b"\x04", timeout or self.timeout)
        err = self._until(b"\x04>", 30)
        if err.strip():
            raise QemuError("guest error: %s" % err.decode(errors="replace").strip())
        return out.decode(errors="replace")

    def put_files(self, files):
        """Make {guest path: bytes} importable in the guest (sys.path gets /fw)."""
        self.exec("__F = {}")
        for path, data in sorted(files.items()):
            self.exec("__F[%r] = %r" % (path, data))
        self.exec(_FS)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def firmware_files(root, modules, mpy_cross=None, march=None):
    """{guest path: bytes} for repository files given as (repo path, guest path); with
    mpy_cross (a command list), compiled to .mpy as a board gets them (importing .mpy
    needs no compiler RAM on the guest, so its heap is not fragmented by compiling), with
    march (mpy-cross -march) their native code precompiled for the guest's core."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for src, dst in modules:
            path = os.path.join(root, src)
            if mpy_cross and src.startswith(("firmware/", "boards/")):
                mpy = os.path.join(tmp, "m.mpy")
                arch = ["-march=" + march] if march else []
                subprocess.run(mpy_cross + arch + ["-o", mpy, "-s", dst, path], check=True)
                path, dst = mpy, dst[:-3] + ".mpy"
            with open(path, "rb") as f:
                out[dst] = f.read()
    return out
