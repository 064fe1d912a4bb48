# Port-faithful fakes: the hardware layer of one MicroPython port (rp2, stm32, esp32) as a
# board's firmware sees it, for booting the real firmware image on the Unix VM (and for
# CPython tests). A port module (fake_rp2.py, fake_stm32.py, fake_esp32.py) describes what
# its port accepts -- constructor keywords, pin names, bus ids, which modules exist, what
# hashlib holds, sys.platform -- each rule with the source file it comes from, and this
# module turns that description into fake `machine`, `network`, `socket`, `hashlib` and
# `sys` modules, installed with an import hook (builtins.__import__) so that `import
# socket` fails on a port without it although the VM has one.
#
# The SD card is boards/emu/sdcard_model.py behind the fake SPI bus (its chip select is
# the fake Pin the firmware makes for it); a UART is a loopback TCP connection to a relay
# (host/sdmirror/emu/linkproxy.py) or, with no address, an unconnected wire.
#
# Runs on MicroPython 1.29 and CPython alike: no module objects are created (a fake module
# is a plain object with attributes), and keyword checks are done by hand, the way
# mp_arg_parse_all (py/argcheck.c) does them.
import builtins
import io
import sys

try:
    from sdcard_model import EmuPin, EmuSPI  # the VM harness (tools/fakeboot.py)
except ImportError:
    from emu.sdcard_model import EmuPin, EmuSPI  # tests, with boards/ on the path

_real_import = builtins.__import__


class FakeModule:
    """A module: attributes, nothing else (MicroPython cannot instantiate `module`)."""

    def __init__(self, name, **attrs):
        self.__name__ = name
        for k in attrs:
            setattr(self, k, attrs[k])


class SysProxy:
    """sys with the port's platform and path; everything else is the VM's own sys."""

    def __init__(self, platform):
        self.platform = platform

    def __getattr__(self, name):
        return getattr(sys, name)


def check_kw(what, kw, allowed):
    """TypeError for a keyword the port's argument table lacks (py/argcheck.c:
    mp_arg_parse_all raises "unexpected keyword argument" for it)."""
    for k in kw:
        if k not in allowed:
            raise TypeError("unexpected keyword argument '%s'" % k)


def check_positional(what, args, maximum):
    if len(args) > maximum:
        raise TypeError("%s takes at most %d positional arguments" % (what, maximum))


# -- SPI bus with the card model behind it ---------------------------------------------------
class FakeBus:
    """What a machine.SPI / SoftSPI object does, on the emulated SD card. init() takes only
    the keywords the port's init accepts (init_kw)."""

    def __init__(self, card, init_kw, baudrate):
        self._init_kw = init_kw
        self._spi = EmuSPI(card, baudrate=baudrate)

    def init(self, *args, **kw):
        check_positional("SPI.init", args, 0)
        check_kw("SPI.init", kw, self._init_kw)
        self._spi.init(**kw)

    def deinit(self):
        self._spi.deinit()

    def read(self, n, write=0xFF):
        return self._spi.read(n, write)

    def readinto(self, buf, write=0xFF):
        return self._spi.readinto(buf, write)

    def write(self, buf):
        return self._spi.write(buf)

    def write_readinto(self, wbuf, rbuf):
        return self._spi.write_readinto(wbuf, rbuf)


# -- UART over a loopback TCP connection ------------------------------------------------------
_GET_FILENO = 10  # py/stream.h: MP_STREAM_GET_FILENO
_POLL = 3  # py/stream.h: MP_STREAM_POLL


class FakeUart(io.IOBase):
    """A UART whose wire is a TCP connection to ADDR (a relay joining two boards), or
    nothing. Non-blocking as with timeout=0: readinto() gives None when nothing came."""

    def __init__(self, addr):
        self._sock = None
        if addr:
            socket = _real_import("socket")
            host, port = addr.rsplit(":", 1)
            s = socket.socket()
            s.connect(socket.getaddrinfo(host, int(port))[0][-1])
            s.setblocking(False)
            self._sock = s

    def readinto(self, buf, nbytes=-1):
        if self._sock is None:
            return None
        try:
            n = self._sock.readinto(buf) if hasattr(self._sock, "readinto") else \
                self._sock.recv_into(buf)
        except OSError:
            return None
        return n or None

    def write(self, buf):
        if self._sock is None:
            return len(buf)  # an unconnected wire: the bytes go nowhere
        try:
            return self._sock.send(buf) or 0
        except OSError:
            return 0

    def any(self):
        return 0

    def fileno(self):  # CPython's select.poll
        return self._sock.fileno() if self._sock is not None else -1

    def ioctl(self, req, arg):  # MicroPython's select.poll on an io.IOBase object
        if req == _GET_FILENO and self._sock is not None:
            return self._sock.fileno()
        if req == _POLL:
            return 0  # unconnected: never readable
        return -1


# -- the import hook -----------------------------------------------------------------------
class Port:
    """One port's fake modules. modules: name -> object; absent: names the port lacks."""

    def __init__(self, name, platform, modules, absent):
        self.name = name
        self.platform = platform
        self.modules = modules
        self.absent = absent
        self.substitutes = {}  # module name -> factory of a stand-in (see substitute())
        self.log = []  # what the firmware configured: ("spi", id, ...), ("uart", ...) ...

    def install(self):
        """From now on `import X` gives this port's X (until uninstall())."""
        mods = self.modules
        absent = self.absent

        def hook(name, globals=None, locals=None, fromlist=(), level=0):
            top = name.split(".")[0]
            if top in absent:
                raise ImportError("no module named '%s'" % name)
            if name in mods:
                return mods[name]
            return _real_import(name, globals, locals, fromlist, level)

        builtins.__import__ = hook
        return self

    def substitute(self, name):
        """A stand-in for a board module the VM cannot run (a CRC unit's viper code writes
        the chip's registers): the port's model of that hardware, as a module."""
        if name not in self.substitutes:
            raise ValueError("the %s fake has no stand-in for %s" % (self.name, name))
        return self.substitutes[name]()

    def uninstall(self):
        builtins.__import__ = _real_import


def hashlib_with(names):
    """The VM's hashlib restricted to `names` (a port's build has only some algorithms)."""
    real = _real_import("hashlib")
    return FakeModule("hashlib", **dict((n, getattr(real, n)) for n in names))


def pin_class(port, find, kw_allowed, consts, can_output, card, cs):
    """The port's machine.Pin. find(id) -> the canonical pin id or raises as the port does;
    can_output(id) -> False for an input-only pin. The pin whose id is `cs` drives the
    card's chip select (that is how the emulated card is wired)."""
    out_mode = consts["OUT"]

    class Pin:
        def __init__(self, pin_id, *args, **kw):
            self.id = find(pin_id)
            self._emu = None
            self._v = 0
            self.init(*args, **kw)

        def init(self, *args, **kw):
            check_positional("Pin.init", args, 2)  # mode, pull
            check_kw("Pin", kw, kw_allowed)
            mode = args[0] if args else kw.get("mode", -1)
            value = kw.get("value")
            if mode == out_mode and not can_output(self.id):
                raise ValueError("pin %s can only be an input" % (self.id,))
            if mode == out_mode and self.id == cs and self._emu is None:
                self._emu = EmuPin(card, 1 if value is None else value)
            port.log.append(("pin", self.id, mode, value))
            if value is not None:
                self.value(value)

        def value(self, v=None):
            if self._emu is not None:
                return self._emu.value(v)
            if v is None:
                return self._v
            self._v = 1 if v else 0

        def __call__(self, v=None):
            return self.value(v)

        def on(self):
            self.value(1)

        def off(self):
            self.value(0)

    for k in consts:
        setattr(Pin, k, consts[k])
    return Pin


def pin_of(obj, Pin):
    """A Pin argument: the canonical id of a Pin object, or of what Pin() accepts."""
    return obj.id if isinstance(obj, Pin) else Pin(obj).id


class FakeLan:
    """network.LAN's object: active(), isconnected(), ifconfig(), status()."""

    def __init__(self, port):
        self._port = port
        self._on = False

    def active(self, on=None):
        if on is None:
            return self._on
        self._on = bool(on)
        self._port.log.append(("active", self._on))

    def isconnected(self):
        return self._on

    def ifconfig(self, cfg=None):
        if cfg is None:
            return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")
        self._port.log.append(("ifconfig", tuple(cfg)))

    def status(self):
        return 1 if self._on else 0


def soft_spi(port, Pin, card):
    """machine.SoftSPI, the same on every port: extmod/machine_spi.c
    (mp_machine_soft_spi_make_new: baudrate, polarity, phase, bits, firstbit, sck, mosi,
    miso; the pins are needed to clock anything, so a missing one is an error here)."""
    kw_ok = ("baudrate", "polarity", "phase", "bits", "firstbit", "sck", "mosi", "miso")

    def SoftSPI(*args, **kw):
        check_positional("SoftSPI", args, 1)
        check_kw("SoftSPI", kw, kw_ok)
        for p in ("sck", "mosi", "miso"):
            if p not in kw:
                raise ValueError("SoftSPI needs %s=Pin(...)" % p)
        port.log.append(("softspi", pin_of(kw["sck"], Pin), pin_of(kw["mosi"], Pin),
                         pin_of(kw["miso"], Pin)))
        return FakeBus(card, kw_ok, args[0] if args else kw.get("baudrate", 500000))
    return SoftSPI


def no_socket_nic():
    """`socket` on a build with MICROPY_PY_NETWORK but no network interface (a Pyboard):
    the module imports, socket() fails (extmod/modsocket.c: "no available NIC")."""
    def no_nic(*args):
        raise OSError("no available NIC")
    return FakeModule("socket", socket=no_nic, getaddrinfo=no_nic)
