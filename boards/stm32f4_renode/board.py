# The STM32F4 profile as Renode runs it (renode/sdmirror-pair.resc): an STM32F4 Discovery
# with the SD card on SPI2 (Renode attaches a card model there) and the link on USART3,
# because Renode has no USB and MicroPython's REPL takes USART2. Otherwise as stm32f4.
NAME = "stm32f4_renode"
BASE = "stm32f4"  # its other modules (crc_hw.py) come from that profile
# The firmware is frozen into the MicroPython build (../stm32f4/manifest.py): its bytecode (about
# 80 KiB) stays in flash and `sdmirror flash` copies only main.py and the profile.
FROZEN = True
HEAP = 100 * 1024
MPY_ARCH = "armv7emsp"
SETTINGS = {"window": 4, "frame_blocks": 4, "chunk_blocks": 8, "alg": "crc32-mpeg2"}
SPI = {"id": 2, "sck": "B13", "mosi": "B15", "miso": "B14", "cs": "B12", "baudrate": 21000000}
UART = {"id": 3, "tx": "B10", "rx": "B11", "baudrate": 115200}
CRC_UNIT = "crc_hw"
