"""The Renode files (boards/renode, tests/renode) pass our grammar and name check, and the
check fails on the mistakes it is there to catch."""
import json
import os
import re

import pytest

from sdmirror import renode_check as rc

RENODE_DIR = os.path.join(rc.ROOT, "boards", "renode")


def test_the_repositorys_renode_files_pass():
    files = rc.default_files()
    assert [os.path.basename(f) for f in files] == [
        "sdmirror-nucleo_f767zi.repl", "sdmirror-pair.resc", "sdmirror.robot"]
    assert rc.check(files) == []


def test_every_name_in_the_data_says_where_it_came_from():
    names = rc.load_names()
    for group in ("platforms", "types", "monitor", "robot_keywords"):
        for name, entry in names[group].items():
            assert entry["source"].strip(), (group, name)
    for repo in ("renode/renode", "renode/renode-infrastructure", "micropython/micropython"):
        assert re.match(r"^[0-9a-f]{40} ", names["sources"][repo])


def test_the_profile_and_the_platform_agree_on_the_card_and_the_consoles():
    # the chip select the profile drives (PA4) is the GPIO the .repl wires to the card, and
    # the UARTs are the ones the .resc joins and exposes
    import ast
    src = open(os.path.join(RENODE_DIR, "board.py")).read()
    consts = {t.id: ast.literal_eval(n.value) for n in ast.parse(src).body
              if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
              and isinstance(n.value, ast.Dict)}
    repl = open(os.path.join(RENODE_DIR, "sdmirror-nucleo_f767zi.repl")).read()
    resc = open(os.path.join(RENODE_DIR, "sdmirror-pair.resc")).read()
    assert consts["SPI"]["cs"] == "D24"  # PA4 in pins.csv
    assert re.search(r"^gpioPortA:\n\s+4 -> sdmux@0$", repl, re.M)
    assert re.search(r"^sdmux: SPI.SPIMultiplexer @ spi%d$" % consts["SPI"]["id"], repl, re.M)
    assert "connector Connect sysbus.usart%d linkHub" % consts["UART"]["id"] in resc
    assert "connector Connect sysbus.usart3 primary-console" in resc  # the REPL's UART


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


GOOD_REPL = """using "platforms/boards/nucleo_f767zi.repl"
mux: SPI.SPIMultiplexer @ spi3
    init:
        SetActiveLow 0
gpioPortA:
    4 -> mux@0
"""


@pytest.mark.parametrize("bad, complaint", [
    (GOOD_REPL.replace("nucleo_f767zi.repl", "nucleo_f999.repl"), "not a file here nor a Renode platform"),
    (GOOD_REPL.replace("SPI.SPIMultiplexer", "SPI.Multiplexer"), "unknown peripheral type SPI.Multiplexer"),
    (GOOD_REPL.replace("@ spi3", "@ spi9"), "registers at spi9, which is not defined"),
    (GOOD_REPL.replace("SetActiveLow", "SetActiveLo"), "has no init method SetActiveLo"),
    (GOOD_REPL.replace("4 -> mux@0", "4 -> muxx@0"), "connection to muxx, which is not defined"),
    (GOOD_REPL.replace("gpioPortA:", "gpioPortZ:"), "updates a peripheral the platform does not have"),
    (GOOD_REPL + "    stray line here\n", "not an attribute, init block or connection"),
    ("    size: 4\n" + GOOD_REPL, "indented line outside an entry"),
    (GOOD_REPL + "this is not repl\n", "not a peripheral entry"),
])
def test_repl_mistakes_are_found(tmp_path, bad, complaint):
    assert rc.check([write(tmp_path, "good.repl", GOOD_REPL)]) == []
    found = rc.check([write(tmp_path, "bad.repl", bad)])
    assert any(complaint in f for f in found), found


def good_resc(tmp_path):
    write(tmp_path, "board.repl", GOOD_REPL)
    return """$fw ?= @firmware.elf
emulation CreateUARTHub "hub"
mach create "a"
machine LoadPlatformDescription $ORIGIN/board.repl
machine SdCardFromFile @card.img sysbus.spi3.mux 0 0x100000000 false "card"
emulation CreateServerSocketTerminal 4001 "term" false
connector Connect sysbus.usart3 term
connector Connect sysbus.usart2 hub
cpu VectorTableOffset 0x08000000
sysbus LoadELF $fw
hub Pause
"""


@pytest.mark.parametrize("old, new, complaint", [
    ("sysbus LoadELF $fw", "sysbus LoadELF $firmware", "variable $firmware is used before it is set"),
    ("sysbus.spi3.mux 0", "sysbus.spi2.mux 0", "no peripheral sysbus.spi2.mux"),
    ("connector Connect sysbus.usart2 hub", "connector Connect sysbus.usart9 hub", "connector Connect sysbus.usart9 hub: wants"),
    ("connector Connect sysbus.usart3 term", "connector Connect sysbus.usart3 tty", "connector Connect sysbus.usart3 tty: wants"),
    ("$ORIGIN/board.repl", "$ORIGIN/missing.repl", "no file"),
    ("hub Pause", "hub Unplug", "hub has no method Unplug"),
    ("cpu VectorTableOffset", "cpu VectorTable", "has no method VectorTable"),
    ("sysbus LoadELF", "sysbus LoadElf", "sysbus takes"),
    ('mach create "a"', "mach make a", "mach takes"),
    ("hub Pause", "frobnicate now", "unknown command or peripheral: frobnicate"),
    ("sysbus LoadELF $fw", "sysbus LoadELF /abs/firmware.elf", "cannot tokenize '/abs/firmware.elf'"),
    ('emulation CreateUARTHub "hub"', "emulation CreateUARTHub {hub}", "cannot tokenize '{hub}'"),
])
def test_resc_mistakes_are_found(tmp_path, old, new, complaint):
    good = good_resc(tmp_path)
    assert rc.check([write(tmp_path, "good.resc", good)]) == []
    assert old in good
    found = rc.check([write(tmp_path, "bad.resc", good.replace(old, new))])
    assert any(complaint in f for f in found), found


def good_robot(tmp_path):
    resc = write(tmp_path, "pair.resc", good_resc(tmp_path))
    return """*** Variables ***
${RESC}                 %s
${UART}                 sysbus.usart3

*** Keywords ***
Start
    Execute Command         include @${RESC}
    ${t}=                   Create Terminal Tester  ${UART}  machine=a  defaultWaitForEcho=false
    Set Test Variable       ${T}  ${t}

Say
    [Arguments]             ${what}
    Write Line To Uart      ${what}  testerId=${T}

*** Test Cases ***
Should Answer
    Start
    Start Emulation
    Say                     status
    Wait For Line On Uart   "cmd": "status"  testerId=${T}  treatAsRegex=true
    Execute Command         hub Resume
""" % resc


@pytest.mark.parametrize("old, new, complaint", [
    ("Wait For Line On Uart", "Wait For Line On UART", "unknown keyword Wait For Line On UART"),
    ("testerId=${T}  treatAsRegex", "tester=${T}  treatAsRegex", "has no argument tester"),
    ("Say                     status", "Shout  status", "unknown keyword Shout"),
    ("Write Line To Uart      ${what}", "Write Line To Uart      ${whom}", "${whom} is not defined"),
    ("machine=a", "machine=b", "no UART sysbus.usart3 on machine b"),
    ("${UART}                 sysbus.usart3", "${UART}                 sysbus.usart7x", "no UART sysbus.usart7x"),
    ("hub Resume", "hub Reboot", "hub has no method Reboot"),
    ("*** Test Cases ***", "*** Tests Cases ***", "unknown section Tests Cases"),
    ("    [Arguments]", "    [Argument]", "unknown setting [Argument]"),
])
def test_robot_mistakes_are_found(tmp_path, old, new, complaint):
    good = good_robot(tmp_path)
    assert rc.check([write(tmp_path, "good.robot", good)]) == []
    assert old in good
    found = rc.check([write(tmp_path, "bad.robot", good.replace(old, new))])
    assert any(complaint in f for f in found), found


def test_a_name_missing_from_the_data_is_an_error(tmp_path):
    names = rc.load_names()
    del names["types"]["SPI.SPIMultiplexer"]
    found = rc.check([os.path.join(RENODE_DIR, "sdmirror-nucleo_f767zi.repl")], names)
    assert any("unknown peripheral type SPI.SPIMultiplexer" in f for f in found)


def test_the_command_line(tmp_path, capsys):
    assert rc.main([]) == 0
    assert "0 problem(s)" in capsys.readouterr().out
    assert rc.main([write(tmp_path, "x.resc", "frobnicate\n")]) == 1
    assert rc.main([str(tmp_path / "none.repl")]) == 2
