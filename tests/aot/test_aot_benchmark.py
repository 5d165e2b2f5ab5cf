"""benchmarks/aot.py runs (the MLP forward, one round) so it cannot rot; no time is asserted."""

from kiln.benchmarks import aot


def test_aot_benchmark_compares_the_library_with_kiln_on_the_mlp():
    out = aot.main(["--models", "mlp", "--batches", "1,5", "--rounds", "1", "--threads", "1"])
    assert [(r["workload"], r["batch"], r["threads"]) for r in out["rows"]] == [
        ("mlp", 1, 1),
        ("mlp", 5, 1),
    ]
    assert all(r["kiln_ms"] > 0 and r["so_ms"] > 0 for r in out["rows"])
    assert all(r["max_abs_diff"] < 1e-6 for r in out["rows"])  # the same kernels, both sides
    assert set(out["geomean"]) == {1, 5}


def test_interleaved_alternates_the_order():
    calls = []
    times = aot.interleaved(lambda: calls.append("a"), lambda: calls.append("b"), 3)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-up, then a b, b a, a b
    assert [len(t) for t in times] == [3, 3]
