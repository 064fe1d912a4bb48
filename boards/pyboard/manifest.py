# MicroPython manifest: freeze the sdmirror firmware into the Pyboard's MicroPython build,
# so its bytecode stays in flash (board.py says FROZEN = True). Paths are relative to this
# file. For example:
#   make -C micropython/ports/stm32 BOARD=PYBV11 FROZEN_MANIFEST=$PWD/boards/pyboard/manifest.py
include("$(PORT_DIR)/boards/manifest.py")
include("../firmware_manifest.py")  # the sdmirror firmware
module("thumbk.py", base_path="../../firmware")  # its Thumb kernel: ARM builds only
module("crc_hw.py", base_path="../stm32f4")
