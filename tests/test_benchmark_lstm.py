"""benchmarks/lstm.py runs (quick sizes) so it cannot rot; no time is asserted."""

import pytest

from kiln.benchmarks import lstm


@pytest.mark.slow
def test_lstm_benchmark_quick_runs_and_the_programs_agree():
    out = lstm.main(["--quick", "--repeat", "1", "--peers", "torch"])
    assert out["rows"]["kiln"]["train_ms"] > 0 and out["rows"]["kiln"]["infer_ms"] > 0
    if "train_ms" in out["rows"]["torch"]:  # torch is optional; main checked the losses agree
        assert out["kiln/torch train"] > 0
