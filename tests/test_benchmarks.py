"""The benchmark scripts run (small sizes) so they cannot rot; no time is asserted."""

import math

import pytest

from kiln.benchmarks import compile_scaling, compile_time, cpu, gemm, session_overhead


@pytest.mark.slow
def test_cpu_benchmark_quick_mode_runs_and_checks_results(tmp_path):
    out = tmp_path / "table.md"
    result = cpu.main(["--quick", "--repeat", "1", "--peers", "numpy", "--out", str(out)])
    names = {r["workload"].rsplit(" ", 1)[0] for r in result["rows"]}
    assert {"elementwise chain", "sum of squares", "softmax", "matmul"} <= names
    assert any(n.startswith("MLP") for n in names) and any(n.startswith("conv2d") for n in names)
    assert all(r["kiln_ms"] > 0 and r["numpy_ms"] > 0 for r in result["rows"])
    assert result["copy_GBps"] > 0 and result["numpy_matmul_GFLOPs"] > 0
    assert set(result["compile_s"]) == {"cold", "disk cache"}
    text = out.read_text()
    assert "numpy/kiln" in text and "compile time" in text and text.count("\n| ") >= 7


def test_gemm_benchmark_quick():
    out = gemm.main(["--quick", "--peers", "numpy,blas", "--threads", "1"])
    assert {r["workload"] for r in out["rows"]} >= {"square 33", "square 64"}
    assert all(r["kiln"] > 0 and r["numpy"] > 0 and r["blas"] > 0 for r in out["rows"])
    assert out["peak_GFLOPs_1_thread"] > 0 and out["threads"] == 1


def test_session_overhead_quick():
    out = session_overhead.main(["--steps", "300", "--points", "1000"])
    assert out["steps_per_second"] > 0 and abs(out["m"] - 2.5) < 0.5


def test_compile_time_quick():
    out = compile_time.main(
        ["--models", "mlp", "--sizes", "4,9", "--peers", "none", "--repeat", "1"]
    )
    cold, cached = out["mlp_step"]["cold"], out["mlp_step"]["cached"]
    assert cold["kernels"] > 0 and cold["compiled"] > 0 and cold["from_disk"] == 0
    assert cached["compiled"] == 0 and cached["from_disk"] > 0  # its program's kernels
    assert abs(cold["loss"] - cached["loss"]) < 1e-6 and out["import"]["seconds"] > 0


def test_compile_scaling_quick():
    out = compile_scaling.main(["--sizes", "4,9", "--peers", "none"])
    assert [r["n"] for r in out["rows"]] == [4, 9]
    assert all(r["kiln_s"] > 0 and r["kiln_cpu_s"] > 0 for r in out["rows"])
    assert math.isfinite(out["kiln_exponent"])


def test_while_loop_benchmark_quick():
    from kiln.benchmarks import while_loop

    out = while_loop.main(["--iterations", "50", "--repeat", "1"])
    assert out["iterations"] == 50 and out["per_iteration_us"] >= 0
    assert out["backend"] in ("cpu", "interpreter")
