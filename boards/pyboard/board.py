# Pyboard v1.1 (STM32F405RG; MicroPython board PYBV11): SD card on the Y-side SPI bus
# (SPI2: Y6 SCK, Y7 MISO, Y8 MOSI, fixed by the stm32 port; chip select Y5), link on
# UART 6 (Y1 TX, Y2 RX, fixed). 192 KiB RAM; about 100 KiB of heap. Its CRC unit is the
# `crc32-mpeg2` engine (crc_hw.py from the stm32f4 profile). The firmware is frozen into
# the MicroPython build (manifest.py): `sdmirror flash` copies only main.py and board.py.
NAME = "pyboard"
TITLE = "Pyboard v1.1 (STM32F405)"
PLATFORM = "pyboard"  # sys.platform of MicroPython's stm32 port
MPY_BOARD = "PYBV11"
CHIP = "stm32f405"
BASE = "stm32f4"  # crc_hw.py
FROZEN = True
HEAP = 100 * 1024
MPY_ARCH = "armv7emsp"
SETTINGS = {"window": 4, "frame_blocks": 4, "chunk_blocks": 8, "alg": "crc32-mpeg2"}
SPI = {"id": 2, "cs": "Y5", "baudrate": 21000000}
UART = {"id": 6, "baudrate": 115200}
CRC_UNIT = "crc_hw"
