"""`kiln opt|run|compile|bench|viz model.onnx`: the command line takes ONNX models."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
import kiln  # noqa: E402
from kiln.cli import main  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


@pytest.fixture
def model_file(tmp_path):
    """A small CNN head: Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm, batch N."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    fc = rng.standard_normal((4, 2)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "fc"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(fc, "fc")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "head.onnx"
    onnx.save(model, str(path))
    return path


def test_opt_prints_the_imported_ir(model_file, capsys):
    assert main(["opt", str(model_file)]) == 0
    text = capsys.readouterr().out
    assert "func @main(%x: tensor<Nx3x8x8xf32>)" in text and "kiln.conv2d" in text
    assert main(["opt", str(model_file), "--passes", "decompose,fold,cse,dce"]) == 0
    assert "kiln.conv2d" in capsys.readouterr().out


def test_run_on_an_npy_input(model_file, tmp_path, capsys):
    x = np.random.default_rng(2).standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out"
    args = ["run", str(model_file), "--input", str(tmp_path / "x.npy")]
    assert main(args + ["--output-dir", str(out)]) == 0
    got = np.load(out / "result0.npy")
    expected = kiln.compile(kiln.onnx.import_model(str(model_file)), "main", "interpreter")(x)[0]
    assert got.shape == (2, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.slow
def test_compile_bench_and_viz(model_file, tmp_path, capsys):
    assert main(["compile", str(model_file), "-o", str(tmp_path / "lib")]) == 0
    assert (tmp_path / "lib").is_dir()
    assert main(["bench", str(model_file), "--dim", "N=2", "--repeat", "3"]) == 0
    assert "median" in capsys.readouterr().out
    assert main(["viz", str(model_file), "-o", str(tmp_path / "g.svg")]) == 0
    assert (tmp_path / "g.svg").read_bytes().lstrip().startswith(b"<")


def test_a_truncated_model_is_a_one_line_error(model_file, tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(model_file.read_bytes()[:100])
    assert main(["opt", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "not a valid ONNX model" in err and "Traceback" not in err
