# MicroPython manifest: freeze the sdmirror firmware into the MicroPython build for this
# board, so its bytecode stays in flash and the heap holds only the controller's data
# (board.py says FROZEN = True). Paths are relative to this file. For example:
#   make -C micropython/ports/stm32 BOARD=STM32F4DISC FROZEN_MANIFEST=$PWD/boards/stm32f4/manifest.py
include("$(PORT_DIR)/boards/manifest.py")
include("../firmware_manifest.py")  # the sdmirror firmware
module("thumbk.py", base_path="../../firmware")  # its Thumb kernel: ARM builds only
module("crc_hw.py")
