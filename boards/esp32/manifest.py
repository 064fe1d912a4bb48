# MicroPython manifest: freeze the sdmirror firmware into the MicroPython build for this
# board, so its bytecode stays in flash and the heap holds only the controller's data
# (board.py says FROZEN = True). Paths are relative to this file. For example:
#   make -C micropython/ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=$PWD/boards/esp32/manifest.py
include("$(PORT_DIR)/boards/manifest.py")
package("mirror", base_path="../../firmware")
package("drivers", base_path="../../firmware")
module("runtime.py", base_path="../../firmware")
module("console.py", base_path="../../firmware")
module("rolecmds.py", base_path="../../firmware")
module("diagcmds.py", base_path="../../firmware")
module("boardkit.py", base_path="../../firmware")
