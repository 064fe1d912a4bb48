"""Deterministic simulator of the sdmirror pair.

The controller core (firmware/mirror/) is sans-IO, so the simulator drives the very same
Primary/Secondary objects the boards run, in virtual time, with modelled SD cards, link and
power. Every scenario is determined by one seed: a single ``random.Random(seed)`` is passed
to every model, nothing reads the wall clock, and no model iterates an unordered set.

Modules: ``world`` (event heap, trace), ``card``, ``link``, ``board`` (node runtime),
``app`` (workload), ``oracle`` (what each block may hold), ``faults``, ``scenario``
(one seeded run and its checks), ``sweep`` (linear power-loss sweep), ``campaign``
(many seeds, several processes), ``cli``.
"""
