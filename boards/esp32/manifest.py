# MicroPython manifest: freeze the sdmirror firmware into the MicroPython build for this
# board, so its bytecode stays in flash and the heap holds only the controller's data
# (board.py says FROZEN = True). Paths are relative to this file. For example:
#   make -C micropython/ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=$PWD/boards/esp32/manifest.py
include("$(PORT_DIR)/boards/manifest.py")
include("../firmware_manifest.py")  # the sdmirror firmware
