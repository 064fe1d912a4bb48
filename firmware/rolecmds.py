# The console's role commands (promote, demote, settle): an operator's decision, rare, so
# this code is loaded only when one is given (console.py). Each is refused with a one-line
# reason and nothing written, or it writes the new metadata record, remembers the role and
# resets the board, which boots in its new role (switch_role).
from console import CommandError
from mirror import roles


def switch_role(con, role, reply):
    """The node's metadata record has been changed for `role`: write it, remember the role,
    answer, and reset the board: it boots in its new role. (Not rebuilt in place: beside
    the old controller a new one does not fit a board's fragmented heap.)"""
    rt = con.rt
    node = rt.node
    node._write_meta()
    rt._complete()
    if node._meta_retry:
        raise OSError(5, "metadata write failed: the card refused it")
    if con.on_role is not None:
        con.on_role(role)
    reply["resetting"] = True
    con.emit(reply)
    import boardkit
    boardkit.reset(con.board)


def _check(problem):
    if problem is not None:
        raise CommandError(problem)


def promote(con):
    node = con.rt.node
    _check(roles.promote_problem(node))
    old = node.meta.gen.hex()
    roles.promoted_meta(node)
    switch_role(con, "primary", {"cmd": "promote", "ok": True, "role": "primary",
                                 "generation": node.meta.gen.hex(), "parent": old})


def demote(con):
    node = con.rt.node
    _check(roles.demote_problem(node))
    how = roles.demoted_meta(node)[1]
    switch_role(con, "secondary", {
        "cmd": "demote", "ok": True, "role": "secondary", "resync": _DEMOTE_RESYNC[how]})


_DEMOTE_RESYNC = {
    "bitmap": "regions in the new primary's bitmap",
    "log": "regions in the new primary's bitmap and the extents of this board's activity "
           "log (its unconfirmed writes)",
    "full": "full scan (no record of this board's unconfirmed writes, or of the split)"}


def settle(con, args):
    if args != ["--discard-this-side"]:
        raise CommandError("usage: settle --discard-this-side (on the side whose changes "
                           "are to be dropped)")
    node = con.rt.node
    _check(roles.settle_problem(node))
    roles.settled_meta(node)
    switch_role(con, "secondary", {
        "cmd": "settle", "ok": True, "role": "secondary",
        "resync": "full scan: the other side overwrites every block that differs"})
