# The UART link: a byte stream to the other board on a UART (always "up": the session's
# handshake notices a silent peer). Same interface as the TCP links (drivers/link.py):
# poll_obj, read() -> bytes received into .rx, write(mv) -> bytes taken, maintain(now).
# It imports nothing, so a board without `socket` (a plain Pico) can use it.


class UartLink:
    def __init__(self, uart, rxbuf=512):
        self.uart = uart
        self.poll_obj = uart
        self.connected = False
        self.enabled = True
        self.rx = bytearray(rxbuf)

    def maintain(self, now):
        if self.enabled != self.connected:
            self.connected = self.enabled
            return "up" if self.connected else "down"
        return None

    def read(self):
        n = self.uart.readinto(self.rx) or 0
        return n if self.connected else 0  # a cut cable (inject link-down): bytes lost

    def write(self, mv):
        if not self.connected:
            return len(mv)
        return self.uart.write(mv) or 0

    def close(self, now=0):
        """Behave as a cut cable until enable() (the console's `inject link-down`)."""
        self.enabled = False

    def enable(self):
        self.enabled = True
