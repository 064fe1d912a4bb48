"""What `sdmirror promote`, `demote` and `settle` share: send the board its console command
(the firmware checks that it may run and changes nothing when it refuses), print what it
did or its one-line refusal, and wait until the board runs again in its new role."""
import json
import time

from sdmirror.clitools import ToolError, connect

_RESTART_S = 10.0  # the board rebuilds its controller: the console answers again within


def change(args, line, what):
    """Run console command `line` on args.port; print the result. Exit status 0, or
    ToolError with the board's reason."""
    with connect(args.port, args.timeout) as board:
        reply = board.command(line, timeout=max(args.timeout, _RESTART_S))
        if "error" in reply:
            raise ToolError("%s refused: %s" % (args.port, reply["error"]))
        reply.pop("cmd", None)
        st = _status_after(board)
    if args.json:
        print(json.dumps(dict(reply, status={"role": st.get("role"), "link": st.get("link"),
                                             "generation": st.get("generation")}),
                         sort_keys=True))
        return 0
    print("%s: %s; now %s (generation %s, link %s)" % (
        args.port, what, st.get("role"), st.get("generation"), st.get("link")))
    if reply.get("resync"):
        print("  resync: %s" % reply["resync"])
    return 0


def _status_after(board):
    end = time.monotonic() + _RESTART_S
    while True:
        st = board.command("status")
        if "error" not in st and st.get("ready"):
            return st
        if time.monotonic() > end:
            raise ToolError("%s did not report ready after the role change" % board.url)
        time.sleep(0.2)


def add_common(parser):
    parser.add_argument("--json", action="store_true",
                        help="print the board's reply and its new status as one JSON object")
