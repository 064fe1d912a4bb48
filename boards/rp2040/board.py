# Raspberry Pi Pico (RP2040): SD card on SPI1, link on UART0. 264 KiB SRAM; MicroPython
# leaves about 190 KiB of heap, so the window is kept at 6 frames.
import os

NAME = "rp2040"
HEAP = 190 * 1024
SETTINGS = {"window": 6, "frame_blocks": 8}
SPI = {"id": 1, "sck": 10, "mosi": 11, "miso": 12, "cs": 13, "baudrate": 25000000}
UART = {"id": 0, "tx": 0, "rx": 1, "baudrate": 115200}


def role(conf):
    import boardkit
    return boardkit.role(conf)


def card(machine=None):
    import boardkit
    if machine is None:
        import machine
    return boardkit.spi_card(machine, SPI)


def link(conf, machine=None):
    import boardkit
    if machine is None:
        import machine
    return boardkit.uart_link(machine, UART)


def entropy():
    return os.urandom(16)


def register_engines():
    # no CRC unit (the DMA sniffer could, later): the viper crc32 beats binascii's
    from mirror import checksum, fastcrc
    eng = fastcrc.engine()
    if eng is not None:
        checksum.register(eng)


def reset():
    import machine
    machine.reset()
