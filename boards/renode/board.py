# NUCLEO-F767ZI as Renode models it (renode/renode platforms/boards/nucleo_f767zi.repl on
# platforms/cpus/stm32f777.repl), running MicroPython's stock NUCLEO_F767ZI build
# (micropython/micropython ports/stm32/boards/NUCLEO_F767ZI). Facts this profile rests on,
# each from those files (boards/renode/renode_names.json lists the sources):
# - the REPL is UART3 at 115200 (mpconfigboard.h: MICROPY_HW_UART_REPL PYB_UART_3,
#   MICROPY_HW_UART_REPL_BAUD 115200; on the real board the ST-LINK's virtual COM port);
#   the .resc puts Renode's sysbus.usart3 on a server socket terminal;
# - the SD card is on SPI3, the only SPI bus the board file defines (MICROPY_HW_SPI3_SCK B3,
#   MISO B4, MOSI B5). The stm32 port's hardware SPI and UART take no pin arguments: the
#   pins are fixed per bus (ports/stm32/machine_spi.c, machine_uart.c). Chip select is PA4
#   as a plain output (machine.SPI leaves NSS alone: spi_init(self->spi, false) in
#   machine_spi.c), by its board name "D24" (pins.csv: D24,PA4 and SPI3_NSS,PA4): the name
#   "A4" would be PF5, because a board name (pins.csv: A4,PF5) wins over a cpu name
#   (ports/stm32/pin.c pin_find).
#   sdmirror-nucleo_f767zi.repl wires PA4 to the card through Renode's SPIMultiplexer;
# - the link is UART2 (MICROPY_HW_UART2_TX D5, RX D6), Renode's sysbus.usart2, joined to
#   the other board's through a UART hub.
# Only what Renode models is used: no Ethernet, no CRC unit (Renode's STM32_CRC model is
# not checked against the real unit here): checksums by the engines boardkit registers for
# the architecture.
from renode_card import RenodeSDCard  # our driver, adapted to the OCR byte order of Renode's card

NAME = "renode"
# The firmware is frozen into the MicroPython build (manifest.py): the flash filesystem holds
# only main.py, this profile and sdmirror.json (sdmirror renode-files).
FROZEN = True
# Nothing may write to that filesystem: in Renode an erase of its sector wipes the firmware
# (host/sdmirror/renode_fs.py), so the boot does not save the card's size there (boardkit).
FS_READ_ONLY = True
# RAM: 384 KiB SRAM at 0x20020000 less a 32 KiB stack (ports/stm32/boards/stm32f767.ld);
# .data/.bss of a build with lwIP and mbedTLS come off that too. 256 KiB is an estimate
# with ~96 KiB for them, not a measurement: no build of this board was run here. Frozen
# code takes no heap.
HEAP = 256 * 1024
MPY_ARCH = "armv7emdp"  # Cortex-M7 with double-precision FPU (mpconfigboard.mk: f7, double)
SETTINGS = {"window": 6, "frame_blocks": 8}
SPI = {"id": 3, "cs": "D24", "baudrate": 12000000}
UART = {"id": 2, "baudrate": 115200}
# The mirror uses the card's first 16384 blocks (8 MiB, the last two of them its metadata):
# Renode gives SDHC only to a card over 2 GiB (SDHelpers.TypeFromCapacity) and our driver
# takes SDHC only, but a first pairing scans every block on both sides, which for gigabytes
# would take hours of emulated time.
CARD_BLOCKS = 16384


def card():
    import machine
    spi = machine.SPI(SPI["id"], baudrate=400000, polarity=0, phase=0)
    cs = machine.Pin(SPI["cs"], machine.Pin.OUT, value=1)
    dev = RenodeSDCard(spi, cs, baudrate=SPI["baudrate"])
    if dev.sectors > CARD_BLOCKS:
        dev.sectors = CARD_BLOCKS
    return dev


def link(conf):
    import machine
    from drivers.uartlink import UartLink
    return UartLink(machine.UART(UART["id"], baudrate=UART["baudrate"], rxbuf=4096, timeout=0))
