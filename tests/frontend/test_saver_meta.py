"""The .meta references variables instead of embedding them: a variable whose
initial value is a large constant is read from the checkpoint saved with the
.meta (TF keeps values in the checkpoint), and a Const's array is written once.
So the .meta's size does not grow with the variables', and import_meta_graph +
restore still give the saved values."""

import numpy as np
import pytest

import kiln as kl
from kiln.frontend import saver as saver_module
from kiln.ir import KilnError


def _save(tmp_path, n):
    g = kl.Graph()
    with g.as_default():
        v = kl.Variable(np.arange(n, dtype=np.float32), name="v")
        b = kl.Variable(np.full(3, 0.5, np.float32), name="b")
        y = kl.reduce_sum(v) + kl.reduce_sum(b)
        sess = kl.Session(graph=g, backend="cpu")
        sess.run(kl.global_variables_initializer())
        sess.run(v.assign(v * 2.0))
        prefix = kl.train.Saver().save(sess, str(tmp_path / f"m{n}"), global_step=1)
    return prefix, y.name


def test_meta_size_does_not_grow_with_the_variables(tmp_path):
    small, _ = _save(tmp_path, saver_module.INLINE_BYTES // 4 + 1)
    large, _ = _save(tmp_path, 1 << 21)  # 8 MiB of float32
    sizes = [len(open(p + ".meta", "rb").read()) for p in (small, large)]
    assert sizes[0] < 4096 and abs(sizes[0] - sizes[1]) < 64, sizes


def test_a_small_constant_is_written_once(tmp_path):
    prefix, _ = _save(tmp_path, 4096)  # 16 KiB: embedded, as one base64 string (21.8 KB)
    assert 22_000 < len(open(prefix + ".meta", "rb").read()) < 32_000  # twice: 44 KB


@pytest.mark.parametrize("n", [4096, 1 << 20])
def test_import_meta_graph_then_restore(tmp_path, n):
    prefix, y = _save(tmp_path, n)
    want = np.arange(n, dtype=np.float32) * 2
    with kl.Graph().as_default() as g:
        saver = kl.train.import_meta_graph(prefix + ".meta")
        sess = kl.Session(backend="cpu")
        saver.restore(sess, prefix)
        np.testing.assert_array_equal(sess.run("v:0"), want)
        np.testing.assert_allclose(sess.run(g.get_tensor_by_name(y)), want.sum() + 1.5)
        # saved again from the imported graph: still a reference, to the new checkpoint
        again = saver.save(sess, str(tmp_path / "again"))
    with kl.Graph().as_default():
        saver = kl.train.import_meta_graph(again + ".meta")
        sess = kl.Session(backend="cpu")
        saver.restore(sess, again)
        np.testing.assert_array_equal(sess.run("v:0"), want)


def test_initializer_of_a_referenced_value_reads_the_checkpoint(tmp_path):
    prefix, _ = _save(tmp_path, 1 << 16)
    with kl.Graph().as_default():
        kl.train.import_meta_graph(prefix + ".meta")
        sess = kl.Session(backend="cpu")
        sess.run(kl.global_variables_initializer())
        np.testing.assert_array_equal(sess.run("v:0"), np.arange(1 << 16, dtype=np.float32) * 2)
        np.testing.assert_array_equal(sess.run("b:0"), np.full(3, 0.5, np.float32))


def test_a_missing_checkpoint_is_an_error_naming_it(tmp_path):
    prefix, _ = _save(tmp_path, 1 << 16)
    (tmp_path / "m65536-1.npz").unlink()
    with kl.Graph().as_default():
        kl.train.import_meta_graph(prefix + ".meta")
        sess = kl.Session(backend="cpu")
        with pytest.raises(KilnError, match="m65536-1"):
            sess.run(kl.global_variables_initializer())


def test_a_host_op_is_saved_by_name_and_fails_clearly_when_run(tmp_path):
    """A host op's Python function cannot be written: the .meta keeps the op (so
    graphs with py_func or string ops save), and running it after import says why."""
    g = kl.Graph()
    with g.as_default():
        v = kl.Variable(1.0, name="v")
        doubled = kl.py_func(lambda a: a * 2, [kl.constant(np.float32(3.0))], kl.float32)
        sess = kl.Session(graph=g, backend="cpu")
        sess.run(kl.global_variables_initializer())
        assert sess.run(doubled) == 6.0
        prefix = kl.train.Saver([v]).save(sess, str(tmp_path / "m"), global_step=1)
    with kl.Graph().as_default() as g2:
        kl.train.import_meta_graph(prefix + ".meta")
        out = g2.get_tensor_by_name(doubled.name)
        with pytest.raises(KilnError, match=r"m-1\.meta: op .*cannot carry Python functions"):
            kl.Session(graph=g2, backend="cpu").run(out)


def test_string_constants_and_string_gathers_survive_the_meta_graph(tmp_path):
    """A string constant is data: the .meta holds its bytes, and the imported graph
    computes with it (a gather of file names, as slice_input_producer makes)."""
    names = [b"a.jpg", b"b\xff.jpg", b""]
    with kl.Graph().as_default():
        v = kl.Variable(1.0, name="v")
        picked = kl.gather(kl.constant(names), kl.constant([2, 0, 1]))
        sess = kl.Session(backend="cpu")
        sess.run(kl.global_variables_initializer())
        prefix = kl.train.Saver([v]).save(sess, str(tmp_path / "m"), global_step=1)
    with kl.Graph().as_default() as g2:
        kl.train.import_meta_graph(prefix + ".meta")
        out = kl.Session(graph=g2, backend="cpu").run(g2.get_tensor_by_name(picked.name))
    assert list(out) == [b"", b"a.jpg", b"b\xff.jpg"]
