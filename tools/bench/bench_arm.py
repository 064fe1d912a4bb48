"""Issue 10: exact instruction counts on 32-bit ARM (MicroPython's qemu port under
qemu-system-arm -icount shift=0; see armqemu.py) per 512-byte block for every checksum
engine, the SD CRC16, the scan pass, and per frame of 8 blocks for the framing.

    SDMIRROR_ARM_M0_FIRMWARE=.../qemu-m0.elf   Cortex-M0 (BOARD=MICROBIT): the goals
    SDMIRROR_ARM_FIRMWARE=.../qemu-m3.elf      Cortex-M3 (BOARD=MPS2_AN385): reported

Without either variable (or without qemu-system-arm) it skips, saying so. Goals, on
ARMv6-M: scan (checksum + SD CRC16) <= 20,000 instructions a block; with the RP2040's DMA
sniffer <= 12,000; a frame of 8 blocks encoded + authenticated <= 1,500,000 (COBS, UART)
and <= 600,000 (TCP); no heap allocation per block. A miss is counted in goal_misses
(make bench then exits 1).
"""
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import armqemu  # noqa: E402

NAME = "arm"
ROOT = os.path.dirname(os.path.dirname(HERE))
GOALS = {  # metric -> upper bound, on the Cortex-M0
    "scan:per_block": 20000,
    "scan:per_block_sniffer": 12000,
    "frame:cobs_encode_auth": 1500000,
    "frame:length_encode_auth": 600000,
}
ZERO_ALLOC = ("scan:per_block", "scan:per_block_sniffer")
_MODULES = [("firmware/mirror/%s.py" % m, "mirror/%s.py" % m)
            for m in ("__init__", "checksum", "fastcrc", "thumbcrc", "cobs", "cobsk", "crck",
                      "frames", "auth", "tree")]
_MODULES += [("firmware/thumbk.py", "thumbk.py")]
_MODULES += [("firmware/drivers/__init__.py", "drivers/__init__.py"),
             ("firmware/drivers/sdcrc.py", "drivers/sdcrc.py"),
             ("boards/rp2/sniffcrc.py", "sniffcrc.py"),
             ("boards/rp2/sniffk.py", "sniffk.py"),
             ("tools/bench/arm_probe.py", "arm_probe.py")]


def _mpy_cross():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from mpycheck import mpy_cross_cmd
    return mpy_cross_cmd()


def measure(elf, machine, extra, march):
    """{section: {"insn": n, "alloc": bytes, ...}} measured on one guest."""
    g = armqemu.Guest(elf, machine, extra)
    try:
        g.put_files(armqemu.firmware_files(ROOT, _MODULES, _mpy_cross(), march))
        with open(os.path.join(HERE, "arm_sections.py")) as f:
            out = g.exec(f.read())
    finally:
        g.close()
    res = {}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{"):
            rec = json.loads(line)
            res[rec.pop("k")] = rec
    if "done" not in res:
        raise armqemu.QemuError("the guest stopped early: %s" % out[-500:])
    return res


def run():
    if shutil.which("qemu-system-arm") is None:
        return {"skipped": "qemu-system-arm is not installed (Debian: qemu-system-arm)"}
    found = [(var, os.environ[var]) for var in armqemu.MACHINES if os.environ.get(var)]
    if not found:
        return {"skipped": "set SDMIRROR_ARM_M0_FIRMWARE / SDMIRROR_ARM_FIRMWARE to "
                           "MicroPython qemu-port images (docs/benchmarks.md)"}
    flat, misses = {}, []
    for var, elf in found:
        machine, extra, label, march = armqemu.MACHINES[var]
        arch = "m0" if "M0" in var else "m3"
        res = measure(elf, machine, extra, march)
        flat["%s:core" % arch] = label
        for k, rec in res.items():
            if "insn" in rec:
                flat["%s:%s" % (arch, k)] = rec["insn"]
                if rec.get("alloc"):
                    flat["%s:%s:alloc_bytes" % (arch, k)] = rec["alloc"]
        native = res.get("native", {})
        flat["%s:native_modules" % arch] = sum(native.values())
        missing = sorted(k for k, ok in native.items() if not ok)
        if missing or not native:
            misses.append("%s: precompiled native modules did not load: %s" % (arch, missing))
        if arch != "m0":
            continue
        for k, limit in GOALS.items():
            got = res.get(k, {}).get("insn")
            if got is None or got > limit:
                misses.append("%s = %s > %d" % (k, got, limit))
        for k in ZERO_ALLOC:
            if res.get(k, {}).get("alloc", 1):
                misses.append("%s allocates %s bytes" % (k, res.get(k, {}).get("alloc")))
    flat["goal_misses"] = len(misses)
    if misses:
        flat["missed"] = "; ".join(misses)
    return flat
