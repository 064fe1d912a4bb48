"""One emulated board: MicroPython Unix VM on a pty, console on TCP (REPL, raw REPL, mpremote)."""
import importlib.util
import os
import subprocess
import sys
import time

import pytest


from sdmirror.emu.board_process import BoardProcess, vm_argv_factory
from emupair import MICROPYTHON, NEEDS_VM, RawConsole

HAVE_MPREMOTE = importlib.util.find_spec("mpremote") is not None
HAVE_SERIAL = importlib.util.find_spec("serial") is not None

pytestmark = NEEDS_VM
needs_mpremote = pytest.mark.skipif(not HAVE_MPREMOTE, reason="mpremote not installed")

ENTRY_REPL = "import os\nprint('entry up', os.getenv('SDMIRROR_BOARD'))\n"
ENTRY_LOOP = ("import time\nprint('firmware running')\n"
              "while True:\n    time.sleep_ms(10)\n")
ENTRY_CRASH = "print('crashing')\nraise SystemExit(3)\n"


@pytest.fixture
def make_board(tmp_path):
    boards = []

    def make(entry_src=ENTRY_REPL, factory_kw=None, **kw):
        entry = tmp_path / ("entry%d.py" % len(boards))
        entry.write_text(entry_src)
        env = dict(os.environ, SDMIRROR_BOARD="b%d" % len(boards))
        factory = vm_argv_factory(MICROPYTHON, entry, "96K", **(factory_kw or {}))
        b = BoardProcess("b%d" % len(boards), factory, tmp_path / "run", env=env, **kw)
        boards.append(b)
        return b.start()
    yield make
    for b in boards:
        b.stop()
        assert b.pid is None


class Console(RawConsole):
    def sync(self):
        """Wait for the REPL (the VM may still be starting) and drop what came before."""
        self.write(b"\rprint(1000+234)\r")
        self.read_until(b"1234\r\n>>> ")



@pytest.fixture
def console():
    opened = []

    def connect(board):
        c = Console(board.port)
        opened.append(c)
        return c
    yield connect
    for c in opened:
        c.close()


def mpremote(board, *args, timeout=30):
    return subprocess.run([sys.executable, "-m", "mpremote", "connect", board.url] + list(args),
                          capture_output=True, timeout=timeout)


def test_repl_over_tcp(make_board, console):
    b = make_board()
    assert b.url.startswith("socket://127.0.0.1:")
    c = console(b)
    c.sync()
    c.write(b"print(1+1)\r")
    out = c.read_until(b">>> ")
    assert b"\r\n2\r\n" in out
    c.write(b"print('a\\nb')\r")                 # program output: \n becomes \r\n, like a board
    assert b"a\r\nb\r\n" in c.read_until(b">>> ")
    assert b"entry up b0" in open(b.log_path, "rb").read()


def test_soft_reset_friendly_and_raw(make_board, console):
    b = make_board()
    c = console(b)
    c.sync()
    c.write(b"x = 41\r")
    c.read_until(b">>> ")
    pid = b.pid
    c.write(b"\x04")                                   # Ctrl-D at the friendly REPL
    c.read_until(b"soft reboot\r\n")
    c.read_until(b"entry up b0")                       # main (the entry) runs again
    c.read_until(b">>> ")
    assert b.pid != pid and b.restarts == 1
    c.write(b"print(x)\r")
    assert b"NameError" in c.read_until(b">>> ")       # RAM was reset
    c.write(b"\x01")                                   # raw REPL, then soft reset there
    c.read_until(b"raw REPL; CTRL-B to exit\r\n>")
    c.write(b"\x04")
    c.read_until(b"soft reboot\r\n")
    after = c.read_until(b"raw REPL; CTRL-B to exit\r\n>")
    assert b"MicroPython" not in after and b"entry up" not in after   # stays raw, no main
    c.write(b"print(6*7)\x04")
    assert b"OK42\r\n\x04\x04>" in c.read_until(b"\x04>")
    c.write(b"\x02")                                   # back to the friendly REPL
    c.read_until(b">>> ")
    assert b.restarts == 2 and b.state == "running"


def test_pyserial_socket_url(make_board):
    serial = pytest.importorskip("serial")
    b = make_board()
    port = serial.serial_for_url(b.url, timeout=5)
    try:
        port.write(b"\rprint(1000+234)\r")
        assert port.read_until(b"1234\r\n>>> ").endswith(b">>> ")
        port.write(b"print(3*3)\r")
        assert b"9\r\n" in port.read_until(b">>> ")
    finally:
        port.close()


@needs_mpremote
def test_mpremote_exec_and_fs(make_board, tmp_path):
    b = make_board()
    r = mpremote(b, "exec", "print(6*7)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == b"42"
    payload = bytes(range(256)) * 4 + b"line\nline\r\n"
    src = tmp_path / "blob.bin"
    src.write_bytes(payload)
    back = tmp_path / "back.bin"
    r = mpremote(b, "fs", "cp", str(src), ":blob.bin", "+", "fs", "ls", "+",
                 "fs", "cp", ":blob.bin", str(back))
    assert r.returncode == 0, r.stderr
    assert b"blob.bin" in r.stdout
    assert (tmp_path / "run" / "b0" / "blob.bin").read_bytes() == payload   # the board's flash
    assert back.read_bytes() == payload
    r = mpremote(b, "resume", "exec", "import os; print(os.getcwd())")
    assert r.returncode == 0 and r.stdout.strip().decode().endswith("/run/b0")


@needs_mpremote
def test_ctrl_c_stops_running_firmware_and_mpremote_works(make_board, console):
    b = make_board(ENTRY_LOOP)
    c = console(b)
    c.read_until(b"firmware running")
    c.write(b"\x03")                                    # SIGINT through the pty
    c.read_until(b"KeyboardInterrupt")
    c.read_until(b">>> ")
    c.close()
    b.power_cycle()                                     # firmware loops again
    c2 = console(b)
    c2.read_until(b"firmware running")
    c2.close()
    r = mpremote(b, "exec", "print('hello from raw')")  # Ctrl-C, raw REPL, soft reset, exec
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == b"hello from raw"


def test_power_cycle_keeps_files_loses_ram(make_board, console):
    b = make_board()
    c = console(b)
    c.sync()
    c.write(b"y = 5; f = open('keep.txt', 'w'); f.write('kept'); f.close()\r")
    c.read_until(b">>> ")
    pid = b.pid
    info = b.power_cycle()
    assert info["pid"] != pid and info["power_cycles"] == 1
    assert not os.path.exists("/proc/%d/status" % pid) or "Z" in open("/proc/%d/stat" % pid).read().split(")")[-1][:3]
    c.read_until(b"entry up b0")
    c.read_until(b">>> ")
    c.write(b"print(open('keep.txt').read())\r")
    assert b"kept" in c.read_until(b">>> ")
    c.write(b"print(y)\r")
    assert b"NameError" in c.read_until(b">>> ")


def test_new_client_replaces_old(make_board, console):
    b = make_board()
    c1 = console(b)
    c1.sync()
    c2 = console(b)
    c2.write(b"print(8*8)\r")
    assert b"64" in c2.read_until(b">>> ")
    c1.sock.settimeout(2)
    assert c1.sock.recv(100) == b""                    # the first one was closed
    assert b.info()["client_connects"] == 2


@pytest.mark.parametrize("exit_is_reset", [True, False])
def test_crash_loop_stops(make_board, exit_is_reset):
    # SystemExit out of the entry: a soft reset each time (exit_is_reset), or with the plain
    # `micropython ENTRY` argv a VM exit with code 3; either way it loops until the limit.
    b = make_board(ENTRY_CRASH, factory_kw={"exit_is_reset": exit_is_reset, "inspect": False},
                   restart_limit=3, restart_window=10.0)
    deadline = time.monotonic() + 15
    while b.state != "failed" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b.state == "failed"
    assert b.pid is None
    assert b.last_exit == (-15 if exit_is_reset else 3)
    assert b.restarts == 3
    assert "not restarting" in b.failure
    log = open(b.log_path, "rb").read()
    assert log.count(b"crashing") == 4 and b"not restarting" in log
    b.power_cycle()                                    # a power cycle tries again
    assert b.state in ("running", "failed")


def test_entry_sys_exit_soft_reboots_exception_gives_repl(make_board, console):
    # first boot: sys.exit() (a soft reset on a board); second boot: an exception (-> REPL)
    b = make_board("import os\n"
                   "if 'booted' not in os.listdir():\n"
                   "    open('booted', 'w').close()\n"
                   "    print('first boot')\n"
                   "    import sys; sys.exit()\n"
                   "print('second boot')\n"
                   "answer = 42\n"
                   "raise ValueError('boom')\n")
    deadline = time.monotonic() + 10
    while b"ValueError: boom" not in open(b.log_path, "rb").read() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = open(b.log_path, "rb").read()
    assert log.index(b"first boot") < log.index(b"MPY: soft reboot") < log.index(b"second boot")
    c = console(b)
    c.sync()
    c.write(b"print(answer)\r")                        # main's globals stay, as on a board
    assert b"42" in c.read_until(b">>> ")
    assert b.restarts == 1 and b.state == "running"
