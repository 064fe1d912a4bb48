# MicroPython manifest: freeze the sdmirror firmware into the Pico's MicroPython build, so
# its bytecode stays in flash (board.py says FROZEN = True): loaded as .mpy files it takes
# about 96 KiB of the 190 KiB heap, and the boot then peaks within 2 KiB of the heap
# (docs/benchmarks.md). Paths are relative to this file. For example:
#   make -C micropython/ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=$PWD/boards/rp2040/manifest.py
include("$(PORT_DIR)/boards/manifest.py")
include("../firmware_manifest.py")  # the sdmirror firmware
module("thumbk.py", base_path="../../firmware")  # its Thumb kernel: ARM builds only
module("sniffcrc.py", base_path="../rp2")  # the DMA sniffer's engines (board.CRC_UNIT)
module("sniffk.py", base_path="../rp2")  # and their Thumb kernel
