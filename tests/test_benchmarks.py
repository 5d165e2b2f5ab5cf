"""The benchmark scripts run (small sizes) so they cannot rot; no time is asserted."""

from kiln.benchmarks import cpu, session_overhead


def test_cpu_benchmark_quick_mode_runs_and_checks_results(capsys):
    rows = cpu.main(["--quick", "--repeat", "1"])
    assert {r["workload"].split(",")[0] for r in rows} >= {"elementwise chain", "sum of squares"}
    assert all(r["kiln_ms"] > 0 and r["vs_numpy"] > 0 for r in rows)


def test_session_overhead_quick():
    out = session_overhead.main(["--steps", "300", "--points", "1000"])
    assert out["steps_per_second"] > 0 and abs(out["m"] - 2.5) < 0.5
