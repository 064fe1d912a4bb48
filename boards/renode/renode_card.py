# The SD driver as Renode's card model needs it. Renode's SD.SDCard answers CMD58 (R3) with
# the OCR least significant byte first: GenerateR3Response appends
# OperatingConditions.AsByteArray() without the Reverse() its R7 and register responses get,
# and BitStream keeps bit i in byte i // 8 (renode-infrastructure SD/SDCard.cs,
# Utilities/BitStream.cs). A spec-following host then reads OCR[31:24] = 0x80: powered up but
# CCS = 0, and our driver refuses the card as SDSC although Renode addresses it by block
# (SDHC). tests/renode/renode_sdcard.py transcribes that model; tests/renode/test_renode_sd_model.py
# shows the plain driver refused and this one working.
#
# The bytes are put back in the spec's order only when they cannot be in it: OCR bit 6 is
# reserved (0) in the spec, and in Renode's order that position holds CCS. A Renode that
# sends the spec's order is left alone.
from drivers.sdcard import SDCard


class RenodeSDCard(SDCard):
    def _cmd(self, cmd, arg, nextra=0, keep=False):
        r1 = SDCard._cmd(self, cmd, arg, nextra, keep)
        r = self._r
        if cmd == 58 and r1 >= 0 and r[3] & 0x40:
            r[0], r[1], r[2], r[3] = r[3], r[2], r[1], r[0]
        return r1
