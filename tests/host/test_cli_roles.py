"""`sdmirror promote|demote|settle|attach` without a board: --help with an example, and the error
paths a user can hit before any board answers (the board's own refusals are tested on the
emulated pair: tests/system/test_failover_emulated.py)."""
import io

import pytest

from sdmirror.commands import settle

DEAD = "socket://127.0.0.1:1"  # nothing listens on port 1


@pytest.mark.parametrize("cmd", ["promote", "demote", "settle", "attach"])
def test_help_has_an_example(cmd, run_cli):
    status, out, err = run_cli(cmd, "--help")
    assert status == 0 and "examples:" in out and "sdmirror %s /dev/tty" % cmd in out


@pytest.mark.parametrize("argv", [["promote", DEAD], ["demote", DEAD],
                                  ["settle", DEAD, "--discard-this-side", "--yes"],
                                  ["attach", DEAD]])
def test_an_unreachable_board_is_one_line(argv, run_cli):
    status, out, err = run_cli(*argv)
    assert status == 1 and "cannot open" in err and len(err.strip().splitlines()) == 1


def test_settle_requires_the_flag(run_cli):
    status, out, err = run_cli("settle", DEAD)
    assert status == 2 and "--discard-this-side" in err


def test_settle_without_a_terminal_needs_yes(run_cli, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("discard\n"))
    status, out, err = run_cli("settle", DEAD, "--discard-this-side")
    assert status == 1 and "add --yes" in err


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_settle_asks_and_anything_but_discard_stops_it(capsys):
    with pytest.raises(settle.ToolError, match="not confirmed"):
        settle.confirm(DEAD, _Tty("yes\n"))
    settle.confirm(DEAD, _Tty("discard\n"))  # confirmed: no error
    assert "overwritten from the other board" in capsys.readouterr().out


def test_attach_wait_must_not_be_negative(run_cli):
    status, out, err = run_cli("attach", DEAD, "--wait", "-1")
    assert status == 1 and "--wait" in err and len(err.strip().splitlines()) == 1


def test_missing_port_is_a_usage_error(run_cli):
    status, out, err = run_cli("promote")
    assert status == 2 and "PORT" in err
