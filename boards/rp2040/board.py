# Raspberry Pi Pico (RP2040; MicroPython board RPI_PICO): SD card on SPI1, link on UART0.
# 264 KiB SRAM; MicroPython leaves about 190 KiB of heap, so the window is kept at 3 frames
# (at 115200 baud one 4 KiB frame is 355 ms on the wire: 3 in flight cover any round trip
# of a cable), and background reads at 8 blocks (the checks of hostile input took that
# room). No `socket` on this build (the Pico W's has): the UART link imports none.
NAME = "rp2040"
TITLE = "Raspberry Pi Pico (RP2040)"
PLATFORM = "rp2"  # sys.platform of MicroPython's rp2 port
MPY_BOARD = "RPI_PICO"  # the MicroPython build to flash (micropython.org/download/RPI_PICO)
CHIP = "rp2040"
# The firmware is frozen into the MicroPython build (manifest.py): its bytecode stays in
# flash and `sdmirror flash` copies only main.py and the profile's own modules.
FROZEN = True
HEAP = 190 * 1024
SETTINGS = {"window": 3, "frame_blocks": 8, "chunk_blocks": 8}
SPI = {"id": 1, "sck": 10, "mosi": 11, "miso": 12, "cs": 13, "baudrate": 25000000}
UART = {"id": 0, "tx": 0, "rx": 1, "baudrate": 115200}
