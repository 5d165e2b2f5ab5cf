"""Checkpoints under faults: corrupted .npz and .meta files are GraphErrors
naming the file (never BadZipFile, KeyError, TypeError, ...), restore refuses
a dtype mismatch, killed saves' temporary files go with the next save, and
max_to_keep counts the complete checkpoints of earlier processes too."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import kiln as kl
from kiln.ir import KilnError


def _graph(dtype=kl.float32):
    g = kl.Graph()
    with g.as_default():
        v = kl.Variable(np.arange(6, dtype=dtype.ir.numpy).reshape(2, 3), name="v")
        w = kl.Variable(np.ones(4, np.float32), name="w")
        sess = kl.Session(graph=g, backend="cpu")
        sess.run(kl.global_variables_initializer())
        saver = kl.train.Saver()
    return g, sess, saver, v, w


@pytest.fixture
def saved(tmp_path):
    g, sess, saver, v, w = _graph()
    prefix = saver.save(sess, str(tmp_path / "model"), global_step=1)
    return prefix, g, sess, saver


def _mutations(blob: bytes):
    n = len(blob)
    for k in (0, 1, 10, n // 3, n // 2, n - 22, n - 1):
        yield blob[:k]
    for pos in range(0, n, max(1, n // 23)):
        b = bytearray(blob)
        b[pos] ^= 0xFF
        yield bytes(b)
    yield b"PK\x03\x04" + blob[4:]
    yield b"not a zip at all"


def test_corrupted_checkpoints_are_graph_errors_naming_the_file(saved):
    prefix, g, sess, saver = saved
    path = prefix + ".npz"
    good = open(path, "rb").read()
    outcomes = {"error": 0, "restored": 0}
    for blob in _mutations(good):
        with open(path, "wb") as f:
            f.write(blob)
        try:
            saver.restore(sess, prefix)
            outcomes["restored"] += 1  # a flip in padding or a name's slack: still exact
            np.testing.assert_array_equal(sess.run("v:0"), np.arange(6).reshape(2, 3))
        except KilnError as e:
            assert "model-1" in str(e)
            outcomes["error"] += 1
    assert outcomes["error"] > 10


def test_corrupted_meta_graphs_are_graph_errors_naming_the_file(saved):
    prefix, *_ = saved
    path = prefix + ".meta"
    good = json.loads(open(path).read())
    variants = [b"", b"{", b"[]", b'{"format": 1}', b"\xff\xfe"]
    for key in ("ops", "variables", "collections"):
        variants.append(json.dumps({**good, key: None}).encode())
        variants.append(json.dumps({**good, key: [1, {"x": 2}]}).encode())
    op = good["ops"][0]
    for field in op:
        variants.append(json.dumps({**good, "ops": [{**op, field: 7}, *good["ops"][1:]]}).encode())
        broken = {k: v for k, v in op.items() if k != field}
        variants.append(json.dumps({**good, "ops": [broken, *good["ops"][1:]]}).encode())
    text = json.dumps(good)
    for cut in range(1, len(text), max(1, len(text) // 40)):
        variants.append(text[:cut].encode())
    for blob in variants:
        with open(path, "wb") as f:
            f.write(blob)
        with kl.Graph().as_default():
            with pytest.raises(KilnError, match="model-1.meta"):
                kl.train.import_meta_graph(path)


def test_restore_refuses_a_dtype_mismatch(tmp_path):
    _, sess, saver, *_ = _graph(kl.int32)
    prefix = saver.save(sess, str(tmp_path / "ints"))
    _, sess2, saver2, *_ = _graph(kl.float32)
    with pytest.raises(KilnError, match="holds int32"):
        saver2.restore(sess2, prefix)


KILLED = r"""
import os, sys, numpy as np, kiln as kl
g = kl.Graph()
with g.as_default():
    v = kl.Variable(np.zeros(4_000_000, np.float32), name="v")
    sess = kl.Session(graph=g, backend="cpu")
    sess.run(kl.global_variables_initializer())
    saver = kl.train.Saver(max_to_keep=2)
print("ready", flush=True)
for step in range(10**6):
    saver.save(sess, sys.argv[1], global_step=step)
"""


@pytest.mark.slow
def test_killed_saves_leave_no_debris_after_the_next_save(tmp_path):
    prefix = str(tmp_path / "m")
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", KILLED, prefix], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(1.0)  # several saves in, one under way
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    g = kl.Graph()
    with g.as_default():
        v = kl.Variable(np.ones(4_000_000, np.float32), name="v")
        sess = kl.Session(graph=g, backend="cpu")
        sess.run(kl.global_variables_initializer())
        saver = kl.train.Saver(max_to_keep=2)
    latest = kl.train.latest_checkpoint(str(tmp_path))
    if latest is not None:  # what the killed runs left restores whole
        saver.restore(sess, latest)
        np.testing.assert_array_equal(sess.run(v), np.zeros(4_000_000, np.float32))
    saver.save(sess, prefix, global_step=10**7)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not [n for n in names if n.startswith(".")], names
    assert len([n for n in names if n.endswith(".npz")]) <= 2, names


def test_max_to_keep_counts_checkpoints_of_earlier_savers(tmp_path):
    for run in range(3):  # three "processes", each a new Saver
        _, sess, saver, *_ = _graph()
        saver.max_to_keep = 2
        for step in range(3):
            saver.save(sess, str(tmp_path / "m"), global_step=run * 10 + step)
    kept = sorted(p.name for p in tmp_path.glob("*.npz"))
    assert kept == ["m-21.npz", "m-22.npz"]
    assert kl.train.latest_checkpoint(str(tmp_path)).endswith("m-22")
