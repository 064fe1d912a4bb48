"""The sync-promise benchmark (issue 12, tools/bench/bench_sync_promise.py) measures what it
says: with degraded=continue some acknowledgements are not on the secondary when given,
with degraded=refuse none is, and writes the secondary could not take fail instead."""
from sdmirror.benchmarks import sync_promise


def test_continue_acks_writes_the_secondary_lacks_and_refuse_never_does():
    res = sync_promise.run()
    cont, ref = res["continue"], res["refuse"]
    assert cont["link_cuts"] > 10 and cont["acked"] > 500
    assert cont["acked_not_on_secondary"] > 0 and cont["failed_to_application"] == 0
    assert ref["acked_not_on_secondary"] == 0 and ref["acked"] > 500
    assert ref["failed_to_application"] > 0  # what refusing costs: counted
    assert ref["acked"] + ref["failed_to_application"] == ref["writes"]
    assert cont["violations"] == [] and ref["violations"] == []
    assert all(res["meets_goals"].values())
