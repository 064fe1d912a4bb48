# ST NUCLEO-F767ZI (STM32F767ZI; MicroPython board NUCLEO_F767ZI): SD card on SPI3 (D23
# SCK, D25 MISO, D22 MOSI, fixed by the stm32 port; chip select D24), link over Ethernet
# (the on-board LAN8742A PHY, which the build configures: network.LAN() takes no pins) and
# TCP. 512 KiB RAM; the heap stated here is an estimate, not measured on the chip.
NAME = "nucleo_f767zi"
TITLE = "NUCLEO-F767ZI (STM32F767, Ethernet)"
PLATFORM = "pyboard"
MPY_BOARD = "NUCLEO_F767ZI"
CHIP = "stm32f767"
# The firmware is frozen into the MicroPython build (manifest.py): its flash filesystem
# (96 KiB) is too small for the .mpy files; `sdmirror flash` copies main.py and board.py.
FROZEN = True
HEAP = 256 * 1024
MPY_ARCH = "armv7emdp"
SETTINGS = {"window": 8, "frame_blocks": 8, "chunk_blocks": 16}
SPI = {"id": 3, "cs": "D24", "baudrate": 25000000}
ETH = {"phy_addr": 0, "phy": "LAN8742"}
# The F7's CRC unit computes the standard crc32 (REV_IN/REV_OUT; the F4's cannot):
# crc_f7.py, its register sequence precompiled in crc_f7k.py (frozen: boards/nucleo_f767zi/
# manifest.py freezes both). Not run on a chip; tested against a model of the unit.
CRC_UNIT = "crc_f7"
PORT = 7340
