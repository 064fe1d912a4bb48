# The console's role commands (promote, demote, settle): an operator's decision, rare, so
# this code is loaded only when one is given (console.py). Each is refused with a one-line
# reason and nothing written, or it writes the new metadata record, rebuilds the
# controller in its new role (runtime.switch_role) and remembers the role across resets.
from console import CommandError
from mirror import roles
from mirror.config import Config


def with_role(cfg, role):
    """The same settings for the other role."""
    kw = {}
    for name in dir(cfg):
        if not name.startswith("_") and name != "max_payload" and \
                not callable(getattr(cfg, name)):
            kw[name] = getattr(cfg, name)
    kw["role"] = role
    return Config(**kw)


def switch_role(rt, role):
    """The node's metadata record has been changed for `role`: write it, then rebuild the
    controller in that role over the same card and link of runtime `rt` (RAM state starts
    anew, as after a reset, but the board keeps running). Returns the new node."""
    old = rt.node
    old._write_meta()
    rt._complete()
    if old._meta_retry:
        raise OSError(5, "metadata write failed: the card refused it")
    if role == "primary":
        from mirror.primary import Primary as cls
    else:
        from mirror.secondary import Secondary as cls
    rt.cfg = with_role(rt.cfg, role)
    rt.entropy = roles.next_entropy(old)
    rt.node = cls(rt.cfg, rt.card.ioctl(4, 0), rt._emit, rt.entropy)
    now = rt.now()
    rt.node.start(now)
    rt._complete()
    link = rt.link
    if hasattr(link, "enable"):
        # a stream link may hold half a frame of the old node: reconnect, so the peer's
        # decoder starts clean with the new node's handshake
        if link.connected:
            link.close(now)
        link.enable()
    else:
        rt.node.transport_up(now)
    return rt.node


def _switch(con, problem, change, role):
    if problem is not None:
        raise CommandError(problem)
    change()
    rt = con.rt
    node = switch_role(rt, role)
    if role == "primary":
        from mirror.volume import MirroredVolume
        con.volume = MirroredVolume(node, rt)
    else:
        con.volume = rt.card
    con._fs = None
    if con.on_role is not None:
        con.on_role(role)
    return node


def promote(con):
    node = con.rt.node
    old = node.meta.gen.hex()
    node = _switch(con, roles.promote_problem(node), lambda: roles.promoted_meta(node),
                   "primary")
    node.took_over()
    return {"ok": True, "role": "primary", "generation": node.meta.gen.hex(), "parent": old}


def demote(con):
    node = con.rt.node
    kept = []
    _switch(con, roles.demote_problem(node),
            lambda: kept.append(roles.demoted_meta(node)[1]), "secondary")
    return {"ok": True, "role": "secondary",
            "resync": "regions in the new primary's bitmap" if kept[0] else
            "full scan (no record of this board's unconfirmed writes)"}


def settle(con, args):
    if args != ["--discard-this-side"]:
        raise CommandError("usage: settle --discard-this-side (on the side whose changes "
                           "are to be dropped)")
    node = con.rt.node
    _switch(con, roles.settle_problem(node), lambda: roles.settled_meta(node), "secondary")
    return {"ok": True, "role": "secondary",
            "resync": "full scan: the other side overwrites every block that differs"}
