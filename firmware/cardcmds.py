# The console's `attach` (issue 12): a primary whose card was detached (mirror/detach.py)
# takes a card again once one answers: re-initialised here (the runtime's side: the core
# does no I/O), then the controller reads its metadata and copies from the secondary what
# it lacks. Rare, so loaded only when used (console.py), as rolecmds.py is.
from console import CommandError


def attach(con, args):
    con._args(args, 0, "attach")
    rt = con.rt
    node = rt.node
    if node.role != "primary":
        raise CommandError("attach is for the primary's card; this board is the %s" %
                           node.role)
    if getattr(node, "detached", None) is None:
        raise CommandError("the card is in use (not detached): nothing to attach")
    card = rt.card
    init = getattr(card, "init_card", None)
    try:
        if init is not None:
            init()  # an SD card: reset and initialise it again (drivers/sdcard.py)
        blocks = card.ioctl(4, 0)
    except OSError as e:
        raise CommandError("the card still does not answer (%s): check or replace it, then "
                           "attach again" % (e.args[-1] if e.args else e))
    problem = node.attach(blocks, rt.now())
    if problem is not None:
        raise CommandError(problem)
    rt._complete()
    return {"ok": True, "card": node.status()["card"]}
