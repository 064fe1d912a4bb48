*** Comments ***
The sdmirror pair in Renode (boards/renode/sdmirror-pair.resc): boot, mirrored write, link
cut and resync, scan repair, driven through each board's console (one command per line in,
one JSON object per line out).

Written from Renode's documentation and its own tests (tests/peripherals/SPIMultiplexer.robot,
tests/platforms/nucleo_f767zi.robot in renode/renode); NOT run in the sdmirror repository.
Run with `make renode-test MICROPYTHON_ELF=/path/to/firmware.elf`, which writes the files
(sdmirror renode-files) and passes MICROPYTHON and FILES.

Timeouts are seconds; the whole first pairing scans 16384 blocks on each card.
MicroPython's json puts dict keys in no fixed order, so a line is matched with one
lookahead per key.

*** Variables ***
${MICROPYTHON}                      ${CURDIR}/../../build/renode/firmware.elf
${FILES}                            ${CURDIR}/../../build/renode
${RESC}                             ${CURDIR}/../../boards/renode/sdmirror-pair.resc
${CONSOLE}                          sysbus.usart3
${TIMEOUT}                          120
${BLOCK_A}                          00112233445566778899aabbccddeeff
${BLOCK_B}                          fedcba98765432100123456789abcdef
${BLOCK_C}                          5ec7e75ec7e75ec7e75ec7e75ec7e75e
# a primary's status when the pair is coherent and idle (host/sdmirror/console_client.py synced)
${SYNCED}                           ^(?=.*"cmd": "status")(?=.*"link": "paired")(?=.*"dirty_regions": 0)(?=.*"epochs": 0)(?=.*"inflight": 0)(?!.*"syncing": true)(?!.*"active": true)

*** Keywords ***
Start Pair
    Execute Command                 $micropython=@${MICROPYTHON}
    Execute Command                 $primary_fs=@${FILES}/primary-fs.img
    Execute Command                 $secondary_fs=@${FILES}/secondary-fs.img
    Execute Command                 $primary_card=@${FILES}/primary-card.img
    Execute Command                 $secondary_card=@${FILES}/secondary-card.img
    # each test starts from blank cards: Renode works on copies of the image files
    Execute Command                 $card_persistent=false
    Execute Command                 $primary_port=14001
    Execute Command                 $secondary_port=14002
    Execute Command                 include @${RESC}
    ${p}=                           Create Terminal Tester  ${CONSOLE}  machine=primary  defaultWaitForEcho=false  timeout=${TIMEOUT}
    ${s}=                           Create Terminal Tester  ${CONSOLE}  machine=secondary  defaultWaitForEcho=false  timeout=${TIMEOUT}
    Set Test Variable               ${P}  ${p}
    Set Test Variable               ${S}  ${s}
    # a board that cannot start says why in one line: fail on it at once
    Register Failing Uart String    "event": "fatal"  testerId=${P}
    Register Failing Uart String    "event": "fatal"  testerId=${S}
    Start Emulation
    Wait For Line On Uart           ^(?=.*"event": "boot")(?=.*"role": "primary")(?=.*"board": "renode")  testerId=${P}  treatAsRegex=true
    Wait For Line On Uart           ^(?=.*"event": "boot")(?=.*"role": "secondary")(?=.*"board": "renode")  testerId=${S}  treatAsRegex=true
    Wait For Line On Uart           "event": "paired"  testerId=${P}
    Wait For Line On Uart           "event": "paired"  testerId=${S}
    Wait Until Synced

Primary Says Synced
    Write Line To Uart              status  testerId=${P}
    Wait For Line On Uart           ${SYNCED}  testerId=${P}  treatAsRegex=true  timeout=10

Wait Until Synced
    Wait Until Keyword Succeeds     90x  1s  Primary Says Synced

Write Block
    [Arguments]                     ${block}  ${hex}
    Write Line To Uart              write ${block} ${hex}  testerId=${P}
    Wait For Line On Uart           ^(?=.*"cmd": "write")(?=.*"block": ${block}(,|}))(?=.*"ok": true)  testerId=${P}  treatAsRegex=true

Block Should Hold
    [Arguments]                     ${tester}  ${block}  ${hex}
    # `write N HEX` pads the block with zeros to 512 bytes (1024 hex digits)
    Write Line To Uart              read ${block}  testerId=${tester}
    Wait For Line On Uart           ^(?=.*"cmd": "read")(?=.*"block": ${block}(,|}))(?=.*"hex": "${hex}0{992}")  testerId=${tester}  treatAsRegex=true  timeout=10

*** Test Cases ***
Should Boot And Pair
    Start Pair
    Write Line To Uart              status  testerId=${S}
    Wait For Line On Uart           ^(?=.*"cmd": "status")(?=.*"role": "secondary")(?=.*"link": "paired")  testerId=${S}  treatAsRegex=true

Should Mirror A Write To The Secondary
    Start Pair
    Write Block                     100  ${BLOCK_A}
    Wait Until Synced
    Block Should Hold               ${S}  100  ${BLOCK_A}

Should Resync After The Link Is Cut
    Start Pair
    Execute Command                 linkHub Pause
    Wait For Line On Uart           ^(?=.*"event": "link")(?=.*"detail": "down)  testerId=${P}  treatAsRegex=true
    Write Block                     200  ${BLOCK_B}
    Write Line To Uart              status  testerId=${P}
    Wait For Line On Uart           ^(?=.*"cmd": "status")(?=.*"dirty_regions": [1-9])  testerId=${P}  treatAsRegex=true
    Execute Command                 linkHub Resume
    Wait For Line On Uart           "event": "paired"  testerId=${P}
    Wait Until Synced
    Block Should Hold               ${S}  200  ${BLOCK_B}

Should Repair A Corrupted Block With A Scan
    Start Pair
    Write Block                     300  ${BLOCK_C}
    Wait Until Synced
    Write Line To Uart              inject corrupt-block 300  testerId=${S}
    Wait For Line On Uart           ^(?=.*"cmd": "inject")(?=.*"fault": "corrupt-block")(?=.*"ok": true)  testerId=${S}  treatAsRegex=true
    Write Line To Uart              scan  testerId=${P}
    Wait For Line On Uart           ^(?=.*"cmd": "scan")(?=.*"ok": true)  testerId=${P}  treatAsRegex=true
    # the secondary compares (the default comparer) and asks for the block it found different
    Wait For Line On Uart           "event": "mismatch"  testerId=${S}
    Wait Until Synced
    Block Should Hold               ${S}  300  ${BLOCK_C}
