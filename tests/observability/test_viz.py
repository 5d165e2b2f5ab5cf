"""kl.viz and `kiln viz`: graphs and IR as pictures (SPEC program 10's second half)."""

import html
import re

import numpy as np
import pytest

import kiln as kl
from kiln.cli import main
from kiln.ir import Builder, KilnError, Module, TensorType
from kiln.viz import graphviz_available, render

# the pure-Python layout always; Graphviz too where it is installed (CI installs it)
ENGINES = ["python"] + (["graphviz"] if graphviz_available() else [])


@pytest.fixture(autouse=True)
def fresh_graph():
    with kl.Graph().as_default() as g:
        yield g


def program_4():
    w1 = kl.Variable(kl.random_normal([2, 3], stddev=1, seed=1))
    w2 = kl.Variable(kl.random_normal([3, 1], stddev=1, seed=1))
    x = kl.placeholder(kl.float32, shape=(None, 2), name="x-input")
    y_ = kl.placeholder(kl.float32, shape=(None, 1), name="y-input")
    a = kl.nn.relu(kl.matmul(x, w1))
    y = kl.nn.relu(kl.matmul(a, w2))
    cross_entropy = -kl.reduce_mean(y_ * kl.log(kl.clip_by_value(y, 1e-10, 1.0)))
    kl.train.AdamOptimizer(0.001).minimize(cross_entropy)


def mlp_forward() -> Module:
    m = Module()
    types = [TensorType("f32", [32, 784]), TensorType("f32", [32, 10])]
    for n_in, n_out in [(784, 512), (512, 512), (512, 10)]:
        types += [TensorType("f32", [n_in, n_out]), TensorType("f32", [n_out])]
    f = m.add_function("forward", types)
    b = Builder.at_end(f.body)
    x, labels, *params = f.args
    h = x
    for i in range(3):
        h = b.add(b.matmul(h, params[2 * i]), params[2 * i + 1])
        if i < 2:
            h = b.relu(h)
    b.ret(b.reduce_mean(b.softmax_cross_entropy(h, labels)))
    return m


@pytest.mark.parametrize("engine", ENGINES)
def test_kiln_viz_draws_every_op_of_program_4(tmp_path, engine, capsys):
    program_4()
    graph = kl.get_default_graph()
    names = [op.name for op in graph.get_operations()]
    with kl.Session() as sess:
        sess.run(kl.global_variables_initializer())
        kl.train.Saver().save(sess, str(tmp_path / "model"))
    out = tmp_path / "program4.svg"
    assert main(["viz", str(tmp_path / "model.meta"), "--engine", engine, "-o", str(out)]) == 0
    svg = html.unescape(out.read_text())
    assert svg.lstrip().startswith(("<?xml", "<svg", "<!--"))
    assert "<svg" in svg
    for name in names:
        assert f">{name}<" in svg, name  # each op's name is a label
    assert ">Adam<" in svg  # a name scope drawn as a cluster


@pytest.mark.parametrize("engine", ENGINES)
def test_ir_after_fuse_shows_fused_groups_as_clusters(tmp_path, engine):
    path = tmp_path / "mlp.kiln"
    path.write_text(str(mlp_forward()))
    out = tmp_path / "fused.svg"
    assert (
        main(
            [
                "viz",
                str(path),
                "--passes",
                "decompose,canonicalize,fold,cse,dce,fuse",
                "--engine",
                engine,
                "-o",
                str(out),
            ]
        )
        == 0
    )
    svg = html.unescape(out.read_text())
    assert svg.count("kiln.fused (matmul)") >= 3  # one cluster per matmul group
    assert len(re.findall(r"kiln\.fused \((reduction|pointwise)\)", svg)) >= 2
    before = html.unescape(render(mlp_forward(), engine=engine).decode())
    assert "kiln.fused" not in before and before.count(">kiln.matmul<") >= 3
    # the body ops are drawn inside the clusters: the same matmuls as before fusing
    assert svg.count(">kiln.matmul<") == before.count(">kiln.matmul<")


def test_kl_viz_object_for_jupyter():
    program_4()
    picture = kl.viz(kl.get_default_graph(), engine="python")
    assert picture._repr_svg_() == str(picture) and picture.engine == "python"
    assert "<svg" in picture._repr_svg_()
    m = mlp_forward()
    assert "kiln.fused" in str(kl.viz(m, passes="decompose,fuse", engine="python"))


def test_png_needs_graphviz(tmp_path):
    program_4()
    with pytest.raises(
        KilnError, match="PNG output needs the graphviz engine; the python engine draws SVG only"
    ):
        render(kl.get_default_graph(), "png", engine="python")
    if not graphviz_available():
        with pytest.raises(KilnError, match="PNG output needs Graphviz, which needs"):
            render(kl.get_default_graph(), "png")
    if graphviz_available():
        png = render(kl.get_default_graph(), "png")
        assert png.startswith(b"\x89PNG")


def test_viz_errors(tmp_path, capsys):
    path = tmp_path / "m.kiln"
    path.write_text(str(mlp_forward()))
    assert main(["viz", str(path), "-o", str(tmp_path / "out.gif")]) == 1
    assert "must end in .svg or .png" in capsys.readouterr().err
    with pytest.raises(KilnError, match="expected a kl.Graph"):
        kl.viz(np.zeros(3))
