"""benchmarks/tf_api.py: counting tf.X uses and writing the ranked document."""

from __future__ import annotations

import json

from kiln.benchmarks import tf_api


def test_counts_longest_tensorflow_names_in_files_and_notebooks(tmp_path):
    (tmp_path / "a.py").write_text(
        "import tensorflow as tf\nx = tf.placeholder(tf.float32)\ny = tf.nn.relu(x)\n"
        "z = tf.compat.v1.nn.relu(y)\nw = tf.contrib.layers.flatten(z)\n"
    )
    cell = {"cell_type": "code", "source": ["s = tf.Session()\n", "tf.nn.relu(1)"]}
    (tmp_path / "b.ipynb").write_text(json.dumps({"cells": [cell]}))
    names = {"placeholder", "float32", "nn", "nn.relu", "Session", "ones"}
    uses, files, unknown, n_files = tf_api.count([tmp_path], names)
    assert uses["nn.relu"] == 3 and files["nn.relu"] == 2 and "nn" not in uses
    assert uses["placeholder"] == 1 and files["Session"] == 1 and n_files == 2
    assert unknown["contrib.layers"] == 1


def test_document_ranks_names_and_marks_kilns_status(tmp_path):
    names = ["placeholder", "nn.relu", "sparse_concat", "ones"]
    (tmp_path / "p.py").write_text(
        "tf.placeholder(1)\ntf.placeholder(2)\ntf.nn.relu(3)\ntf.sparse_concat(4)\n"
    )
    (tmp_path / "q.py").write_text("tf.placeholder(1)\n")
    uses, files, unknown, n_files = tf_api.count([tmp_path], set(names))
    text = tf_api.write_doc(names, uses, files, unknown, n_files, [tmp_path], cut=2)
    assert "| 1 | `tf.placeholder` | 2 | 3 | yes |" in text
    assert "`tf.sparse_concat` | 1 | 1 | **no** |" in text
    assert "at least **2 files**" in text and "1 names" in text
