"""`kiln tune` and the GEMM tuning database: a stored schedule is picked up by a
later compile, a bad database is ignored with a warning, a wrong candidate is
never stored, and the CLI runs. Budgets are tiny: each candidate is one LLVM
compile of the GEMM (~0.2 s)."""

import json
import warnings

import numpy as np
import pytest

from kiln.cli import main
from kiln.codegen.llvm import gemm_tuning
from kiln.codegen.llvm.gemm_schedule import default_schedule, gemm_threads
from kiln.codegen.llvm.gemm_tuning import choose, signature, store
from kiln.ir import parse
from kiln.ir.dtypes import DType
from kiln.passes import DEFAULT_PIPELINE, run_pipeline
from kiln.runtime import tune
from kiln.runtime.cpu import CpuExecutable, CpuProgram

A, B, C = "tensor<33x47xf32>", "tensor<20x47xf32>", "tensor<33x20xf32>"
SOURCE = f"""
func @main(%a: {A}, %b: {B}) -> {C} {{
  %c = kiln.matmul %a, %b {{transpose_b = true}} : ({A}, {B}) -> {C}
  kiln.return %c : {C}
}}
"""


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch):
    path = tmp_path / "tuning.json"
    monkeypatch.setenv("KILN_TUNE_DB", str(path))
    gemm_tuning._warned.clear()
    return path


def planned():
    module = parse(SOURCE)
    run_pipeline(module, DEFAULT_PIPELINE)
    return module


def the_signature():
    return signature(DType.f32, 33, 20, 47, False, True, gemm_threads())


def other_schedule():
    """A valid schedule that is not the default (fewer rows, another unroll)."""
    d = default_schedule(DType.f32)
    return tune.fix(d, mr=d.mr - 2, unroll=2 if d.unroll != 2 else 1)


def test_signature_of_the_matmul():
    found = tune.gemm_signatures(CpuProgram(planned(), "main"))
    assert found == {the_signature(): (33, 20, 47)} and the_signature().flops == 2 * 33 * 20 * 47


def test_a_symbolic_dim_is_tuned_at_the_size_given_and_serves_every_size(tmp_path, capsys):
    path = tmp_path / "mm.kiln"
    path.write_text(SOURCE.replace("33x", "?x"))
    assert main(["tune", str(path), "--budget", "0.3"]) == 0  # no size: nothing to tune
    assert "--dim" in capsys.readouterr().err
    assert main(["tune", str(path), "--budget", "0.3", "--dim", "?=9"]) == 0
    sig = signature(DType.f32, "?", 20, 47, False, True, gemm_threads())
    assert sig.key in capsys.readouterr().out
    [row] = tune.stored_results()
    assert row["key"] == sig.key and row["flops"] == 2 * 9 * 20 * 47
    assert f"{sig.key}@9x20x47" in tune.report([row])
    tuned = other_schedule()
    store(sig, tuned, tuned_s=1.0)
    module = parse(SOURCE.replace("33x", "?x"))
    run_pipeline(module, DEFAULT_PIPELINE)
    exe = CpuExecutable(module, "main")
    assert tuned.tag in exe.steps[0].kernel.text
    a, b = np.ones((5, 47), np.float32), np.ones((20, 47), np.float32)
    np.testing.assert_allclose(exe(a, b)[0], np.full((5, 20), 47.0))


def test_tuned_schedule_is_stored_and_picked_up_by_a_later_compile(database):
    [result] = tune.tune_program(CpuProgram(planned(), "main"), budget=0.5)
    assert result.tried >= 2 and result.rejected == 0 and result.tuned_s <= result.default_s
    assert choose(the_signature(), default_schedule(DType.f32)) == result.best
    # a stored schedule that differs from the default is what the kernel renders
    tuned = other_schedule()
    store(the_signature(), tuned, default_s=1.0, tuned_s=0.5, flops=1)
    exe = CpuExecutable(planned(), "main")
    [step] = exe.steps
    assert tuned.tag in step.kernel.text
    assert default_schedule(DType.f32).tag not in step.kernel.text
    rng = np.random.default_rng(1)
    a = rng.standard_normal((33, 47)).astype(np.float32)
    b = rng.standard_normal((20, 47)).astype(np.float32)
    [c] = exe(a, b)
    np.testing.assert_allclose(c, a @ b.T, rtol=1e-4, atol=1e-4)


def test_an_entry_for_another_signature_or_cpu_is_not_used():
    tuned = other_schedule()
    store(signature(DType.f32, 33, 20, 48, False, True, gemm_threads()), tuned, tuned_s=1.0)
    assert choose(the_signature(), default_schedule(DType.f32)) == default_schedule(DType.f32)


@pytest.mark.parametrize(
    "corrupt",
    ["not json", "wrong schema", "bad digest", "bad schedule", "wrong width"],
)
def test_a_corrupt_database_is_ignored_with_a_warning(database, corrupt):
    store(the_signature(), other_schedule(), tuned_s=1.0)
    data = json.loads(database.read_text())
    [(key, body)] = data["entries"].items()
    if corrupt == "not json":
        database.write_text("{ not json")
    else:
        if corrupt == "wrong schema":
            data["schema"] = "kiln-gemm-tuning-0"
        elif corrupt == "bad digest":
            body["schedule"]["mr"] = 3  # edited by hand: the digest no longer matches
        else:
            body["schedule"]["mr" if corrupt == "bad schedule" else "width"] = (
                0 if corrupt == "bad schedule" else 3
            )
            body["digest"] = gemm_tuning.digest(key, body)  # digest right, schedule not
        database.write_text(json.dumps(data))
    default = default_schedule(DType.f32)
    with pytest.warns(UserWarning, match="GEMM"):
        assert choose(the_signature(), default) == default
    exe = CpuExecutable(planned(), "main")  # compiles with the default
    assert default.tag in exe.steps[0].kernel.text


def test_a_valid_database_warns_nothing():
    store(the_signature(), other_schedule(), tuned_s=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert choose(the_signature(), default_schedule(DType.f32)) == other_schedule()


def test_a_candidate_whose_result_differs_is_never_stored(monkeypatch):
    default = default_schedule(DType.f32)
    real = tune.Problem.function

    def function(self, schedule):
        call = real(self, schedule)
        if schedule == default:
            return call

        def wrong():  # fast and wrong: one element off
            status = call()
            self.c[0, 0] += 1.0
            return status

        return wrong

    monkeypatch.setattr(tune.Problem, "function", function)
    [result] = tune.tune_program(CpuProgram(planned(), "main"), budget=0.3)
    assert result.rejected == result.tried - 1 >= 1
    assert result.best == default
    assert choose(the_signature(), other_schedule()) == default  # what was stored


def test_tuning_needs_static_extents():
    sig = signature(DType.f32, "N", 20, 47, False, False, 1)
    with pytest.raises(Exception, match="symbolic"):
        tune.Problem(sig)


def test_neighbours_are_valid_and_distinct():
    d = default_schedule(DType.f64)
    near = tune.neighbours(d)
    assert near and d not in near and len(set(near)) == len(near)
    for s in near:
        assert s.mc % s.mr == 0 and s.nc % s.nr == 0 and s.width == d.width


def test_cli_tunes_a_small_kiln_file_and_reports(tmp_path, capsys):
    path = tmp_path / "mm.kiln"
    path.write_text(SOURCE)
    assert main(["tune", str(path), "--budget", "0.3"]) == 0
    out = capsys.readouterr().out
    assert the_signature().key in out and " ms " in out
    assert main(["tune", str(path), "--report"]) == 0
    out = capsys.readouterr().out
    assert the_signature().key in out and "peak" in out and "total" in out
    assert main(["tune", "--budget", "0", str(path)]) == 1
    assert "--budget" in capsys.readouterr().err


def test_the_database_lives_in_the_cache_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("KILN_TUNE_DB")
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path))
    assert gemm_tuning.database_path() == tmp_path / "gemm_tuning.json"
    store(the_signature(), other_schedule(), tuned_s=1.0)
    assert choose(the_signature(), default_schedule(DType.f32)) == other_schedule()
