"""`sdmirror boards`: the profiles, as a table and as JSON, and its one-line errors."""
import json


def test_boards_lists_every_profile(run_cli):
    status, out, _ = run_cli("boards")
    assert status == 0
    for name in ("rp2040", "rp2350", "pyboard", "nucleo_f767zi", "esp32"):
        assert name in out
    assert "PYBV11" in out and "frozen" in out


def test_boards_json_describes_the_port_and_link(run_cli):
    status, out, _ = run_cli("boards", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["rp2040"]["platform"] == "rp2" and rows["rp2040"]["link"] == "uart"
    assert rows["nucleo_f767zi"]["link"] == "ethernet" and not rows["rp2350"]["frozen"]
    assert rows["pyboard"]["frozen"] and "sck" not in rows["pyboard"]["spi"]  # fixed pins
    status, out, _ = run_cli("boards", "--json", "esp32")
    assert [r["name"] for r in json.loads(out)] == ["esp32"]


def test_boards_unknown_name_is_one_line(run_cli):
    status, out, err = run_cli("boards", "pdp11")
    assert status == 2 and out == ""
    assert err.strip().splitlines() == [
        err.strip()] and "unknown board 'pdp11'; known boards:" in err


def test_boards_help_has_an_example(run_cli):
    status, out, _ = run_cli("boards", "--help")
    assert status == 0 and "example:" in out and "emulation" in out
