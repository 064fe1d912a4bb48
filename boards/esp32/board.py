# ESP32 with a LAN8720 Ethernet PHY (e.g. WT32-ETH01, Olimex ESP32-POE): SD card on SPI,
# link over TCP to a secondary that may be far away. About 110 KiB of heap once the
# network stack runs. Set a "key": frames crossing networks you do not own must be
# authenticated.
NAME = "esp32"
TITLE = "ESP32 with a LAN8720 Ethernet PHY"
PLATFORM = "esp32"
MPY_BOARD = "ESP32_GENERIC"
CHIP = "esp32"
# The firmware is frozen into the MicroPython build (manifest.py): its bytecode (about
# 80 KiB) stays in flash and `sdmirror flash` copies only main.py and the profile.
FROZEN = True
HEAP = 110 * 1024
MPY_ARCH = "xtensawin"  # the -march ports/esp32 builds .mpy with (esp32_common.cmake)
# 8-block frames: a frame's fixed bytes (length prefix, header, 16-byte tag, entry) over
# 4 KiB, so a sequential resync costs 1.0195x its data (4-block frames: 1.029x, over the
# 1.02 goal of issue 9). Window 3: 12 KiB in flight, so the heap holds what 8 frames of 4
# blocks took (docs/benchmarks.md, session 5).
SETTINGS = {"window": 3, "frame_blocks": 8, "chunk_blocks": 8}
SPI = {"id": 2, "sck": 14, "mosi": 15, "miso": 2, "cs": 4, "baudrate": 20000000}
ETH = {"mdc": 23, "mdio": 18, "power": 16, "phy_addr": 1, "phy": "LAN8720"}
PORT = 7340
