# A primary's card that failed to initialise at boot (boardkit.card): every request fails,
# so the controller starts detached (mirror/detach.py) and serves the application from the
# secondary. The console's `attach` calls init_card(): once a card answers, this object
# hands every request to it. Loaded only when a card fails at boot (RAM).
from micropython import const

_ETIMEDOUT = const(110)


class FailedCard:
    def __init__(self, error, blocks, make):
        self.error = error  # why it failed (the driver's OSError)
        self.blocks = blocks  # the size the last boot saw: the volume's geometry
        self._make = make  # builds the real card (raises OSError while none answers)
        self.card = None

    def init_card(self):
        if self.card is None:
            self.card = self._make()
        elif hasattr(self.card, "init_card"):
            self.card.init_card()

    def readblocks(self, block, buf, offset=0):
        if self.card is None:
            raise OSError(_ETIMEDOUT)
        self.card.readblocks(block, buf, offset)

    def writeblocks(self, block, buf, offset=0):
        if self.card is None:
            raise OSError(_ETIMEDOUT)
        self.card.writeblocks(block, buf, offset)

    def ioctl(self, op, arg):
        if self.card is not None:
            return self.card.ioctl(op, arg)
        if op == 4:
            return self.blocks
        if op == 5:
            return 512
        return 0
