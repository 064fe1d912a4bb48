# The most recent writes, so a comparison can tell a real mismatch from a block that was
# written while its checksums were on their way (DRBD and md report those as mismatches;
# we re-check them instead of copying).
import array


class WriteLog:
    def __init__(self, capacity=32):
        self.capacity = capacity
        self._block = array.array("I", bytes(4 * capacity))
        self._count = array.array("I", bytes(4 * capacity))
        self.seq = 0  # number of writes ever logged

    def add(self, block, count):
        i = self.seq % self.capacity
        self._block[i] = block
        self._count[i] = count
        self.seq += 1

    def touched_since(self, since, block):
        """True if a write logged after `since` may have touched `block` (or the log has
        forgotten that far back, in which case we cannot rule it out)."""
        n = self.seq - since
        if n <= 0:
            return False
        if n > self.capacity:
            return True
        for k in range(since, self.seq):
            i = k % self.capacity
            b = self._block[i]
            if b <= block < b + self._count[i]:
                return True
        return False
