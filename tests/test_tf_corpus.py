"""The TF tutorial corpus (benchmarks/tf_corpus, issue 18): public TF 1.x / TF 2 programs
run with only the import and the dataset loading changed.

The fast tests check the harness itself (the rewrite touches only imports, datasets and
training-length constants; the shim serves MNIST's API; outcomes are classified as stated).
The slow test runs the whole corpus under kiln and holds a floor on how many programs run
to the end with their check (loss falls, accuracy above a floor); TensorFlow's own outcomes on
the same shim data are stored in benchmarks/tf_corpus/results_tf.json (computed once with
tensorflow-cpu; TensorFlow is not a test dependency).
"""

import json
import pathlib
import re

import numpy as np
import pytest

from kiln.benchmarks.tf_corpus import report, run

# The merged tree (native loops, the Keras surface, the TF 1.x surface; 2026-12-02) passed
# 46 of 58 on a quiet 2-core machine (TensorFlow 2.21 itself: 32 under the same harness).
# The floor leaves 5 for programs near the 120 s timeout when the rest of the suite shares
# the cores (pkm_11 100 s, aym_v2_convolutional_network 58 s, _raw 51 s, recurrent 43 s)
# and pkm_04, whose accuracy after 2 epochs is a coin flip (TF's own run got 0.09).
PASS_FLOOR = 41
# of the programs passing under both kiln and TensorFlow, this many end within 10% of TF
# (measured 18 of 27 on the merged tree, 17 of 23 on branch tfv1; aym_v2_convolutional_network,
# aym_v2_bidirectional_rnn and pkm_09 among them take 30-65 s: the margin is 3)
CLOSE_FLOOR = 14


def _programs():
    return run.load_programs()


def test_corpus_has_provenance_and_permissive_licences():
    progs = _programs()
    assert len(progs) >= 40
    for p in progs:
        assert p["licence"] in {"MIT", "Apache-2.0"}
        assert len(p["commit"]) == 40 and p["repo"] and p["path"]
        text = (run.PROGRAMS / p["file"]).read_text()
        assert text.startswith("# Corpus program copied from https://github.com/" + p["repo"])
        assert "import tensorflow" in text
    for lic in {p["repo"].replace("/", "+") for p in progs}:
        assert (run.PROGRAMS / "LICENSES" / lic).read_text().strip()


def test_rewrite_changes_only_imports_datasets_and_lengths():
    src = (
        "from tensorflow.examples.tutorials.mnist import input_data\n"
        "import tensorflow as tf\n"
        "from tensorflow.contrib import rnn\n"
        "from tensorflow.keras.datasets import mnist\n"
        "num_steps = 30000\n"
        "    training_epochs = 25\n"
        "display_step = 1000\n"
        "batch_size = 128\n"
        "x = tf.placeholder('float')  # import tensorflow as tf stays in comments\n"
    )
    k = run.rewrite(src, "kiln", "v1", kiln_v2=False).splitlines()
    assert k[0] == "from tf_corpus_shim import input_data"
    assert k[1] == "import kiln as tf"
    assert k[2] == "from kiln.contrib import rnn"
    assert k[3] == "from tf_corpus_shim import mnist"
    assert k[4] == f"num_steps = {run.STEP_CAP}"
    assert k[5] == f"    training_epochs = {run.EPOCH_CAP}"
    assert k[6] == f"display_step = {run.STEP_CAP // 4}"
    assert k[7:] == src.splitlines()[7:]
    assert run.rewrite(src, "kiln", "v2", kiln_v2=True).splitlines()[1] == (
        "import kiln.compat.v2 as tf"
    )
    t = run.rewrite(src, "tf", "v1", kiln_v2=False).splitlines()
    assert t[1] == "import tensorflow.compat.v1 as tf; tf.disable_v2_behavior()"
    assert t[2] == "from tensorflow.contrib import rnn"
    assert run.rewrite(src, "tf", "v2", kiln_v2=False).splitlines()[1] == "import tensorflow as tf"


@pytest.fixture(autouse=True)
def _shim_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(run.SHIM))


def test_shim_mnist_shapes_batches_and_keras_load_data():
    import tf_corpus_shim as shim

    m = shim.input_data.read_data_sets("/tmp/unused", one_hot=True)
    assert m.train.images.shape[1:] == (784,) and m.train.images.dtype == np.float32
    assert m.train.labels.shape[1:] == (10,) and np.all(m.train.labels.sum(1) == 1)
    assert 0.0 <= m.train.images.min() and m.train.images.max() <= 1.0
    n = m.train.num_examples
    seen = np.concatenate([m.train.next_batch(100)[1].argmax(1) for _ in range(n // 100 + 1)])
    assert m.train.epochs_completed == 1 and len(seen) == 100 * (n // 100 + 1)
    assert set(seen) == set(range(10))
    plain = shim.input_data.read_data_sets("/tmp/unused", one_hot=False)
    assert plain.test.labels.ndim == 1 and plain.test.images.shape == (len(plain.test.labels), 784)
    (xtr, ytr), (xte, yte) = shim.mnist.load_data()
    assert xtr.shape[1:] == (28, 28) and xtr.dtype == np.uint8 and ytr.dtype == np.uint8
    assert len(xtr) + len(xte) == 1797
    (bx, by), _ = shim.boston_housing.load_data()
    assert bx.ndim == 2 and by.ndim == 1 and len(bx) == len(by)
    # Boston's shape and price scale, which programs hard-code
    assert bx.shape[1] == 13 and 5.0 <= by.min() and by.max() <= 50.0
    assert 0.2 < (by >= 23.0).mean() < 0.8


def test_classify_outcomes():
    prog = {"name": "x", "trains": True}
    ok = run.classify(
        prog, 0, "Step 1, Minibatch Loss= 2.30\nStep 40, Minibatch Loss= 0.91\n", "", False
    )
    assert ok["outcome"] == "pass" and ok["losses"] == [2.30, 0.91] and ok["final_loss"] == 0.91
    flat = run.classify(prog, 0, "loss: 1.0\nloss: 1.5\n", "", False)
    assert flat["outcome"] == "check-failed" and "did not fall" in flat["detail"]
    err = run.classify(prog, 1, "", "Traceback...\nAttributeError: no tf.foo\n  more\n", False)
    assert err["outcome"] == "error" and err["detail"] == "AttributeError: no tf.foo"
    assert run.classify(prog, None, "", "", True)["outcome"] == "timeout"
    assert run.classify({"name": "y", "trains": False}, 0, "hi\n", "", False)["outcome"] == "pass"


def test_report_groups_failures_by_cause():
    results = {
        "pass": 1,
        "total": 3,
        "results": [
            {"name": "a", "outcome": "pass", "detail": "", "check": "loss"},
            {
                "name": "b",
                "outcome": "error",
                "check": "loss",
                "detail": "AttributeError: module 'kiln' has no attribute 'contrib'",
            },
            {
                "name": "c",
                "outcome": "error",
                "check": "loss",
                "detail": "AttributeError: module 'kiln.frontend.nn' has no attribute 'nce_loss'",
            },
        ],
    }
    text = report.render(results, None, "t")
    assert "## tf.contrib — tf-pipelines (1)" in text and "`tf.contrib`" in text
    assert "`tf.nn.nce_loss`" in text and "1 of 3" in text


def test_tensorflow_reference_outcomes_cover_the_corpus():
    ref = json.loads((run.HERE / "results_tf.json").read_text())
    assert ref["framework"] == "tf"
    assert {r["name"] for r in ref["results"]} == {p["name"] for p in _programs()}
    assert ref["pass"] == sum(r["outcome"] == "pass" for r in ref["results"])


@pytest.mark.slow
def test_corpus_under_kiln_reaches_the_floor(tmp_path):
    out = tmp_path / "kiln.json"
    run.main(["--framework", "kiln", "--fork", "--jobs", "2", "--out", str(out)])
    summary = json.loads(out.read_text())
    passed = sorted(r["name"] for r in summary["results"] if r["outcome"] == "pass")
    assert summary["total"] == len(_programs())
    assert summary["pass"] >= PASS_FLOOR, (summary["pass"], passed)
    assert summary.get("within_10pct", 0) >= CLOSE_FLOOR
    text = report.render(summary, None, "kiln")
    assert f"{summary['pass']} of {summary['total']}" in text
    pathlib.Path(tmp_path / "failures.md").write_text(text)


# snapshots.json: collections with no licence file (nlintz, golbin, hunkim, MorvanZhou's two),
# and nfmcclure/tensorflow_cookbook's 52 (cb_), run from their repository snapshots, never
# copied. Measured 117 of 120 under kiln on 2026-12-04, MorvanZhou's 40 among them, and the
# cookbook's 51 of 52 (TensorFlow 2.21: 96 of 120, 46 of 52; see results_tf_snapshots.json);
# a run may miss 10 of the programs present (the load of a full suite run; nlintz's three
# that TensorFlow misses too), whichever collections this machine has.
SNAPSHOT_MISSES = 10


def test_snapshot_programs_have_provenance():
    listed = json.loads((run.HERE / "snapshots.json").read_text())
    assert len(listed) >= 30
    assert not any("file" in p for p in listed)  # never copied into the repository
    for p in listed:
        assert len(p["commit"]) == 40 and p["repo"] and p["path"].endswith(".py")
    ref = json.loads((run.HERE / "results_tf_snapshots.json").read_text())
    assert {r["name"] for r in ref["results"]} == {p["name"] for p in listed}
    for name, st in run.SETTINGS.items():
        for pat, _ in st.get("subs", ()):
            assert name.startswith(("nl_", "go_", "mz_", "mt_", "ic_", "cb_")) and pat


@pytest.mark.slow
def test_snapshot_collections_under_kiln_reach_the_floor(tmp_path):
    progs = run.load_programs("snapshots")
    if not progs:
        pytest.skip("the nlintz / golbin snapshots are not on this machine")
    for p in progs:  # each substitution still matches the program (or a helper it imports)
        settings = run.SETTINGS.get(p["name"], {})
        folder = pathlib.PurePosixPath(p["path"]).parent
        helpers = [f for f in settings.get("files", ()) if f.endswith(".py")]
        texts = [run.source_of(p), *(run._show(p, str(folder / f)).decode() for f in helpers)]
        for pat, _ in settings.get("subs", ()):
            assert any(re.search(pat, text, re.M) for text in texts), (p["name"], pat)
    out = tmp_path / "snap.json"
    run.main(["--framework", "kiln", "--collection", "snapshots", "--fork", "--out", str(out)])
    summary = json.loads(out.read_text())
    assert summary["total"] == len(progs)
    assert summary["pass"] >= len(progs) - SNAPSHOT_MISSES, summary["pass"]


def test_shim_answers_the_cookbook_downloads_with_generated_files():
    import io
    import tarfile
    import zipfile

    import nltk
    import requests
    from nltk.corpus import stopwords

    base = "https://example.org/data/"
    birth = requests.get(base + "birthweight.dat").text.split("\r\n")
    assert birth[0].split("\t")[0] == "LOW" and birth[0].split("\t")[-1] == "BWT"
    assert len([r for r in birth[1:] if r]) == 189
    rows = [r.split(" ") for r in requests.get(base + "housing.data").text.split("\n") if r]
    assert {len(r) for r in rows} == {14}
    sms = zipfile.ZipFile(io.BytesIO(requests.get(base + "smsspamcollection.zip").content))
    labels = {line.split("\t")[0] for line in sms.read("SMSSpamCollection").decode().splitlines()}
    assert labels == {"ham", "spam"}
    chunks = requests.get(base + "rt-polaritydata.tar.gz", stream=True).iter_content(1024)
    tar = tarfile.open(fileobj=io.BytesIO(b"".join(chunks)), mode="r:gz")
    assert sorted(tar.getnames()) == [f"rt-polaritydata/rt-polarity.{k}" for k in ("neg", "pos")]
    assert len(requests.get(base + "pg100.txt").content) > 7675
    with pytest.raises(ConnectionError):
        requests.get(base + "anything_else.csv")
    assert "the" in stopwords.words("english")
    assert nltk.word_tokenize("Hi, there!") == ["Hi", ",", "there", "!"]
