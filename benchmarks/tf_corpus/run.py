"""Run the TF tutorial corpus under kiln or under real TensorFlow and classify each outcome.

Each program in programs.json is copied to a scratch directory with only these changes:
  (a) the import: ``import tensorflow as tf`` -> ``import kiln as tf`` (TF 1.x programs;
      ``tensorflow.X`` -> ``kiln.X`` in every import), TF 2 programs -> ``kiln.compat.v2``
      where kiln has it (else ``kiln``). Under TensorFlow 2.x itself a TF 1.x program gets
      ``import tensorflow.compat.v1 as tf; tf.disable_v2_behavior()`` (not for programs that
      call ``enable_eager_execution``), the substitute import TF documents for 1.x code;
  (b) dataset loading -> shim/tf_corpus_shim (sklearn digits as MNIST, sklearn diabetes as
      boston_housing, a generated text8.zip for word2vec);
  (c) training length: integer constants named like num_steps / training_epochs /
      display_step are capped (STEP_CAP, EPOCH_CAP) so each program runs in seconds.
The program then runs in a subprocess with a timeout; the printed loss trajectory (or accuracy)
is parsed from stdout and the outcome classified:
  pass           ran to the end and its check held (loss fell, accuracy above a floor, or for
                 programs that do not train: ran to the end)
  check-failed   ran to the end, but the loss did not fall / no loss was printed
  error          raised: exception type and the first line of its message
  timeout        ran past the timeout

  python benchmarks/tf_corpus/run.py --framework kiln [--only NAME ...] [--out results.json]
  /work/tfenv/bin/python benchmarks/tf_corpus/run.py --framework tf --out results_tf.json

--collection snapshots runs the programs listed in snapshots.json instead: collections with no
licence file, so they are not copied here; each is read from its repository snapshot under
MIRROR (git show <commit>:<path>) and skipped when the snapshot is absent (CI).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
SHIM = HERE / "shim"
MIRROR = pathlib.Path(os.environ.get("KILN_MIRROR", "/work/.mirror"))
KILN_PARENT = HERE.parent.parent.parent  # the directory holding the kiln package

STEP_CAP = 40
EPOCH_CAP = 2
STEP_NAMES = ("num_steps", "training_steps", "training_iters", "max_steps")
EPOCH_NAMES = ("training_epochs", "n_epochs", "num_epochs")
DISPLAY_NAMES = ("display_step", "display_epoch", "eval_step")

NUM = r"(-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf)"
LOSS_RE = r"(?i)(?:loss|cost)[^0-9a-z\-]*" + NUM
ACC_RE = r"(?i)accuracy[^0-9a-z\-]*" + NUM
SKIP = r"(?i)\btest|valid"  # loss lines about test/validation sets
BARE_RE = r"^\s*(?:\d+\s+)?" + NUM + r"\s*$"

# Per-program checks: "loss" (default for training programs: last loss < first),
# "finite" (GANs: losses printed and finite), "acc" (accuracy printed, final above ACC_FLOOR),
# "none" (programs that do not train: run to the end). loss_re / acc_re override the patterns.
ACC_FLOOR = 0.3
R100, R200 = r"(for i in )range\(100\)", r"(for i in )range\(200\)"
R1000 = r"(for i in )range\(1000\)"
TRAIN_LOSS = r"(?i)train loss:?\s*" + NUM
EPOCHS, TOTAL = r"(for epoch in )range\(\d+\)", r"total_epoch = \d+"
PTP = r"(\w+)\.ptp\(0\)"
# the generated movie reviews have ~1500 words: an embedding row past them has no word
VOCAB_1000 = [r"^vocabulary_size = \d+", "vocabulary_size = 1000"]
ONE_CHOICE = [r"int\((np\.random\.choice\(len\(sentences\), size=1\))\)", r"int(\1[0])"]
NAN_TUPLE, NAN_EACH = r"= np\.nan_to_num\((normalize_cols\(.*\))\)$", r"= map(np.nan_to_num, \1)"
SETTINGS = {
    "aym_v1_linear_regression": {"epochs": 100},  # 17 points: an epoch is one pass of 17 steps
    "aym_v1_gan": {"check": "finite"},
    "aym_v1_autoencoder": {"steps": 200},  # RMSProp needs more than 40 steps to move the loss
    "aym_v2_autoencoder": {"steps": 200},
    "aym_v1_variational_autoencoder": {"check": "finite"},  # prints at step 1 and every 1000
    "aym_v1_dcgan": {"check": "finite"},
    "aym_v2_dcgan": {"check": "finite"},
    "aym_v1_kmeans": {"check": "acc"},
    "aym_v1_random_forest": {"check": "acc"},
    "aym_v1_gradient_boosted_decision_tree": {"check": "acc"},
    "aym_v1_convolutional_network": {"check": "acc"},
    "aym_v1_neural_network": {"check": "acc"},  # an Estimator: prints only the test accuracy
    "aym_v2_gradient_boosted_trees": {"check": "none"},
    "aym_v1_word2vec": {"check": "loss", "loss_re": r"(?i)average loss[^0-9\-]*" + NUM},
    "aym_v2_word2vec": {"check": "loss", "loss_re": r"(?i)loss[^0-9\-]*" + NUM},
    "pkm_02_linear_regression": {"loss_re": BARE_RE},
    "pkm_03_polynomial_regression": {"loss_re": BARE_RE},
    "pkm_04_logistic_regression": {"check": "acc", "acc_re": BARE_RE},
    "pkm_05_basic_convnet": {"check": "acc", "acc_re": BARE_RE},
    "pkm_06_modern_convnet": {"check": "acc", "acc_re": BARE_RE},
    "pkm_07_autoencoder": {"loss_re": BARE_RE},
    "pkm_08_denoising_autoencoder": {"loss_re": BARE_RE},
    "pkm_09_convolutional_autoencoder": {"loss_re": BARE_RE},
    "pkm_10_residual_network": {"check": "acc", "acc_re": r"(?i)valid(?:ation)?:?\s*" + NUM},
    "pkm_11_variational_autoencoder": {"loss_re": r"(?i)train cost:\s*" + NUM},
    # snapshots.json. "subs": (pattern, replacement) pairs that shorten literal training loops
    # (`for i in range(100)` over the epochs); "files" are copied from the snapshot's folder of
    # the program, "dirs" made (TF's Saver and savefig need the folder to exist).
    "nl_01_linear_regression": {"check": "none", "subs": [[R100, r"\1range(20)"]]},
    "nl_02_logistic_regression": {
        "check": "acc",
        "acc_re": BARE_RE,
        "subs": [[R100, r"\1range(3)"]],
    },
    "nl_03_net": {"check": "acc", "acc_re": BARE_RE, "subs": [[R100, r"\1range(10)"]]},
    "nl_04_modern_net": {"check": "acc", "acc_re": BARE_RE, "subs": [[R100, r"\1range(10)"]]},
    "nl_05_convolutional_net": {"check": "acc", "acc_re": BARE_RE, "subs": [[R100, r"\1range(4)"]]},
    "nl_06_autoencoder": {"loss_re": BARE_RE, "subs": [[R100, r"\1range(3)"]]},
    "nl_07_lstm": {"check": "acc", "acc_re": BARE_RE, "subs": [[R100, r"\1range(2)"]]},
    "nl_08_word2vec": {"loss_re": r"(?i)loss at\s+\d+\s+" + NUM},
    "nl_09_tensorboard": {"check": "acc", "acc_re": BARE_RE, "subs": [[R100, r"\1range(10)"]]},
    "nl_10_save_restore_net": {
        "check": "acc",
        "acc_re": BARE_RE,
        "subs": [[r"range\(start, 100\)", "range(start, 10)"]],
    },
    "nl_11_gan": {
        "check": "finite",
        "loss_re": r"^\s*\d+\s+" + NUM,
        "subs": [[R200, r"\1range(40)"]],
    },
    "go_03_03_linear_regression": {"loss_re": r"^\s*\d+\s+" + NUM},
    "go_04_01_classification": {"loss_re": BARE_RE},
    "go_04_02_deep_nn": {"loss_re": BARE_RE},
    "go_04_03_word2vec": {"loss_re": r"(?i)loss at step\s+\d+\s*:\s*" + NUM},
    "go_05_01_saver": {"dirs": ["model"], "files": ["data.csv"]},
    "go_05_02_tensorboard": {"dirs": ["model", "logs"], "files": ["data.csv"]},
    "go_05_03_tensorboard2": {"dirs": ["logs"], "files": ["data.csv"]},
    "go_06_01_mnist": {"subs": [[EPOCHS, r"\1range(2)"]]},
    "go_06_02_dropout": {"subs": [[EPOCHS, r"\1range(2)"]]},
    "go_07_01_cnn": {"subs": [[EPOCHS, r"\1range(2)"]]},
    "go_07_02_tf_layers": {"subs": [[EPOCHS, r"\1range(2)"]]},
    "go_08_01_autoencoder": {"subs": [[r"training_epoch = \d+", "training_epoch = 2"]]},
    "go_09_01_gan": {"check": "finite", "dirs": ["samples"], "subs": [[TOTAL, "total_epoch = 2"]]},
    "go_09_02_gan2": {
        "check": "finite",
        "dirs": ["samples2"],
        "subs": [[TOTAL, "total_epoch = 2"]],
    },
    "go_10_01_mnist": {"subs": [[TOTAL, "total_epoch = 2"]]},
    # MorvanZhou/Tensorflow-Tutorial: most report their loss only through plt.text, which the
    # shim's pyplot prints; "skip": None keeps lines that also print a test loss or accuracy.
    # 401's t-SNE plot is switched off (sklearn >= 1.7 has no n_iter; 5000 iterations take
    # minutes): it only draws.
    "mz_301_simple_regression": {"check": "loss"},
    "mz_302_simple_classification": {"check": "acc"},
    "mz_303_save_reload": {"check": "finite"},
    "mz_304_optimizer": {"check": "none"},
    "mz_305_tensorboard": {"check": "none"},
    "mz_306_dataset": {"loss_re": TRAIN_LOSS, "skip": None},
    "mz_401_cnn": {
        "loss_re": TRAIN_LOSS,
        "skip": None,
        "subs": [
            [r"(for step in )range\(600\)", r"\1range(101)"],
            ["HAS_SK = True", "HAS_SK = False"],
        ],
    },
    "mz_402_rnn_classification": {
        "loss_re": TRAIN_LOSS,
        "skip": None,
        "subs": [[r"(for step in )range\(1200\)", r"\1range(101)"]],
    },
    "mz_403_rnn_regression": {"check": "none"},
    "mz_404_autoencoder": {"subs": [[r"(for step in )range\(8000\)", r"\1range(301)"]]},
    "mz_405_dqn": {
        "check": "finite",
        "loss_re": r"Ep_r:\s*" + NUM,
        "subs": [
            [r"(for i_episode in )range\(400\)", r"\1range(60)"],
            [r"^MEMORY_CAPACITY = 2000", "MEMORY_CAPACITY = 500"],
        ],
    },
    "mz_406_gan": {
        "check": "finite",
        "loss_re": r"D score=\s*" + NUM,
        "subs": [[r"(for step in )range\(5000\)", r"\1range(201)"]],
    },
    "mz_406_conditional_gan": {
        "check": "finite",
        "loss_re": r"D score=\s*" + NUM,
        "subs": [[r"(for step in )range\(7000\)", r"\1range(201)"]],
    },
    # test losses of a 20-point fit, noisy from the first plot on: printed, finite
    "mz_501_dropout": {"check": "finite", "loss_re": r"dropout loss=\s*" + NUM},
    "mz_502_batch_normalization": {"check": "none", "subs": [[r"^EPOCH = 12", "EPOCH = 2"]]},
    "mz_503_visualize_gradient_descent": {"check": "none"},
    # MorvanZhou/tutorials (tensorflowTUT): bare losses or accuracies every 50 steps
    "mt_tensorflow11_build_network": {"loss_re": BARE_RE},
    "mt_tensorflow12_plut_result": {"check": "none"},
    "mt_tf5_example2": {"check": "none"},
    "mt_tf11_build_network": {"loss_re": BARE_RE},
    "mt_tf12_plot_result": {"check": "none"},
    "mt_tf15_tensorboard": {"check": "none"},
    "mt_tf16_classification": {
        "check": "acc",
        "acc_re": BARE_RE,
        "subs": [[R1000, r"\1range(201)"]],
    },
    "mt_tf17_dropout": {"check": "none", "subs": [[r"(for i in )range\(500\)", r"\1range(101)"]]},
    "mt_tf18_cnn3": {"check": "acc", "acc_re": BARE_RE, "subs": [[R1000, r"\1range(101)"]]},
    # training_iters counts examples (128 a step): 41 steps, an accuracy every 20
    "mt_tf20_rnn2": {"check": "acc", "acc_re": BARE_RE, "steps": 41 * 128},
    "mt_tf20_rnn2_2": {"subs": [[R200, r"\1range(41)"]]},
    # an epoch is ~5 batches, the cost printed every display_step (capped to steps // 4) epochs
    "mt_tf21_autoencoder": {"steps": 4, "epochs": 5},
    "mt_tf23_bn": {"check": "none"},
    # instillai/TensorFlow-Course (TF 2): the keras programs train on the digits shim with
    # their losses on Keras's progress lines; graph times 1000- to 3000-wide dense stacks
    # (20 and 2 calls here, not 1000 and 100); linearregression logs every 50 of 400 epochs
    "ic_graph": {"subs": [[r"number=1000\)", "number=20)"], [r"number=100\)", "number=2)"]]},
    "ic_custom_training": {"subs": [[r"^NUM_EPOCHS = 5", "NUM_EPOCHS = 3"]]},
    "ic_dataset_generator": {"subs": [[r"^NUM_EPOCHS = 5", "NUM_EPOCHS = 3"]]},
    "ic_linearregression": {"epochs": 400, "subs": [[r"^n_epochs_log = 200", "n_epochs_log = 50"]]},
    "ic_cnns": {"subs": [[r"epochs=5\)", "epochs=3)"]]},
    "ic_mlp": {"subs": [[r"epochs=10\)", "epochs=3)"]]},
    # nfmcclure/tensorflow_cookbook: its downloads (birth weights, housing, SMS spam, movie
    # reviews, Shakespeare) are answered by the shim's requests with generated files. Some
    # subs fit numpy 2 (no ndarray.ptp; nan_to_num of a tuple of arrays, choice of ragged
    # lists and int() of a 1-element array raise); a helper module's subs are its program's
    "cb_02_combining_everything_together": {"check": "none"},  # prints A and b only
    "cb_03_lin_reg_l1_vs_l2": {"check": "none"},  # shows L2 diverging at rate 0.1
    # batches of 25: the printed loss is noisy
    "cb_03_logistic_regression": {"check": "finite", "subs": [[NAN_TUPLE, NAN_EACH]]},
    "cb_04_multiclass_svm": {"check": "finite"},  # its dual loss falls without bound
    "cb_05_nearest_neighbor": {"check": "none", "subs": [[PTP, r"np.ptp(\1, 0)"]]},
    "cb_05_mixed_distance_functions_knn": {"check": "none", "subs": [[PTP, r"np.ptp(\1, 0)"]]},
    "cb_05_image_recognition": {"check": "none"},  # its argmax runs over the batch axis
    "cb_06_gates": {"check": "none"},
    "cb_06_activation_functions": {"check": "none"},
    "cb_06_improving_linear_regression": {"subs": [[NAN_TUPLE, NAN_EACH]]},
    "cb_06_tic_tac_toe_moves": {  # it ends playing a game: the player's moves are scripted
        "files": ["base_tic_tac_toe_moves.csv"],
        "subs": [
            [r"(for i in )range\(10000\)", r"\1range(1001)"],
            [r"input\('Input index of your move \(0-8\): '\)", "[0, 2, 6, 8, 4][num_moves]"],
        ],
    },
    "cb_07_bag_of_words": {"check": "acc"},
    "cb_07_implementing_tf_idf": {
        "loss_re": r"Train Loss \(Test Loss\):\s*" + NUM,
        "skip": None,
        "subs": [[r"(for i in )range\(10000\)", r"\1range(1000)"]],
    },
    "cb_07_working_with_skipgram": {
        "loss_re": r"Loss at step \d+ : " + NUM,
        "subs": [
            [r"np\.random\.choice\(sentences\)", "sentences[np.random.randint(len(sentences))]"],
            [r"^generations = \d+", "generations = 2000"],
            VOCAB_1000,
            [r"^print_loss_every = \d+", "print_loss_every = 250"],
            [r"^print_valid_every = \d+", "print_valid_every = 1000"],
        ],
    },
    "cb_07_working_with_cbow": {
        "files": ["text_helpers.py"],
        "dirs": ["temp"],
        "loss_re": r"Loss at step \d+ : " + NUM,
        "subs": [[r"^generations = \d+", "generations = 500"], ONE_CHOICE, VOCAB_1000],
    },
    "cb_07_sentiment_with_doc2vec": {
        "files": ["text_helpers.py"],
        "dirs": ["temp"],
        "loss_re": r"Loss at step \d+ : " + NUM,
        "subs": [
            [r"^generations = \d+", "generations = 500"],
            ONE_CHOICE,
            VOCAB_1000,
            [r"np\.array\((text_helpers\.text_to_numbers\(texts_\w+, word_dictionary\))\)", r"\1"],
        ],
    },
    "cb_08_introductory_cnn": {"loss_re": r"Train Loss:\s*" + NUM, "skip": None},
    "cb_09_implementing_rnn": {"check": "acc", "acc_re": r"Test Acc:\s*" + NUM},
    "cb_09_implementing_lstm": {"subs": [[r"^epochs = \d+", "epochs = 4"]]},  # a loss every 10
    "cb_09_stacking_multiple_lstm": {"subs": [[r"^epochs = \d+", "epochs = 2"]]},
    "cb_09_siamese_similarity_driver": {
        "files": ["siamese_similarity_model.py"],
        "check": "acc",
        "subs": [[r"^n_batches = \d+", "n_batches = 100"]],
    },
    "cb_10_implementing_unit_tests": {"loss_re": r"Train Loss:\s*" + NUM, "skip": None},
    "cb_10_using_multiple_devices": {"check": "none"},
}
# hunkim/DeepLearningZeroToAll: each lab prints its loss its own way (bare numbers, lists),
# so its labs count as passing when they run to the end, their data files beside them
HK_FILES = {
    "hk_04_3_file_input_linear_regression": ["data-01-test-score.csv"],
    "hk_04_4_tf_reader_linear_regression": ["data-01-test-score.csv"],
    "hk_05_2_logistic_regression_diabetes": ["data-03-diabetes.csv"],
    "hk_06_2_softmax_zoo_classifier": ["data-04-zoo.csv"],
    "hk_09_7_sigmoid_back_prop": ["data-04-zoo.csv"],
    "hk_12_5_rnn_stock_prediction": ["data-02-stock_daily.csv"],
}


def settings_of(name: str) -> dict:
    if name.startswith("hk_"):
        return {"check": "none", "files": HK_FILES.get(name, [])}
    return SETTINGS.get(name, {})


WORDS = (
    "the of and one in a to zero nine two is as eight for s five three was by that four six "
    "seven with on are it from or his an be this which at he also not have were has but "
    "first who other american they their been its all new more most time after had some "
    "state going hardware britain computer war city people world system between used years"
).split()


def snapshot_of(prog) -> pathlib.Path:
    """The git directory of a snapshots.json program's repository snapshot."""
    return MIRROR / prog["repo"].replace("/", "+") / "repo"


def load_programs(collection="corpus"):
    """programs.json (committed copies), snapshots.json (snapshots present here) or both."""
    progs = []
    if collection in ("corpus", "all"):
        progs += json.loads((HERE / "programs.json").read_text())
    if collection in ("snapshots", "all"):
        listed = json.loads((HERE / "snapshots.json").read_text())
        progs += [p for p in listed if snapshot_of(p).is_dir()]
    return progs


def _show(prog, path: str) -> bytes:
    return subprocess.run(
        ["git", "-C", str(snapshot_of(prog)), "show", f"{prog['commit']}:{path}"],
        capture_output=True,
        check=True,
    ).stdout


def source_of(prog) -> str:
    if "file" in prog:
        return (PROGRAMS / prog["file"]).read_text()
    return _show(prog, prog["path"]).decode()


def materialize(prog, work: pathlib.Path, settings) -> None:
    """The data files and folders a snapshot program expects beside it."""
    folder = pathlib.PurePosixPath(prog["path"]).parent
    for f in settings.get("files", ()):
        (work / f).write_bytes(_show(prog, str(folder / f)))
    for d in settings.get("dirs", ()):
        (work / d).mkdir(parents=True, exist_ok=True)


def _cap(src: str, names, cap) -> str:
    pat = re.compile(r"^(\s*)(" + "|".join(names) + r")(\s*=\s*)(\d+)", re.M)
    return pat.sub(
        lambda m: m.group(1) + m.group(2) + m.group(3) + str(min(int(m.group(4)), cap)), src
    )


def rewrite(src: str, framework: str, api: str, kiln_v2: bool, steps=STEP_CAP, epochs=EPOCH_CAP):
    """The corpus program with only the import, the dataset loading and its length changed."""
    # (b) datasets
    src = re.sub(
        r"^(\s*)from tensorflow\.examples\.tutorials\.mnist import input_data\b",
        r"\1from tf_corpus_shim import input_data",
        src,
        flags=re.M,
    )
    src = re.sub(
        r"^(\s*)import tensorflow\.examples\.tutorials\.mnist\.input_data as input_data\b",
        r"\1from tf_corpus_shim import input_data",
        src,
        flags=re.M,
    )
    src = re.sub(
        r"^(\s*)from tensorflow\.keras\.datasets import",
        r"\1from tf_corpus_shim import",
        src,
        flags=re.M,
    )
    src = re.sub(  # tf.keras.datasets.mnist.load_data() reached through attributes
        r"\b(?:tf\.)?keras\.datasets\.(\w+)\.load_data\(",
        r"__import__('tf_corpus_shim').\1.load_data(",
        src,
    )
    src = re.sub(  # downloads (UCI housing.data, the flower photos) -> generated stand-ins
        r"\b(?:tf\.)?keras\.utils\.get_file\(",
        "__import__('tf_corpus_shim').get_file(",
        src,
    )
    src = re.sub(r"\btf\.keras\.datasets\.mnist\b", "__import__('tf_corpus_shim').mnist", src)
    src = re.sub(  # an image folder (build_an_image_dataset): JPEGs of digits
        r"^DATASET_PATH = '/path/to/dataset/'",
        "DATASET_PATH = __import__('tf_corpus_shim').image_folder()",
        src,
        flags=re.M,
    )
    src = re.sub(
        r"f\.read\(f\.namelist\(\)\[0\]\)\.lower\(\)\.split\(\)",
        "__import__('tf_corpus_shim').text8_words(f)",
        src,
    )
    # (c) length
    src = _cap(src, STEP_NAMES, steps)
    src = _cap(src, EPOCH_NAMES, epochs)
    src = _cap(src, DISPLAY_NAMES, max(1, max(steps, epochs) // 4))
    # (a) import
    if framework == "kiln":
        if api == "v2" and kiln_v2:
            src = re.sub(
                r"^(\s*)import tensorflow as tf\b",
                r"\1import kiln.compat.v2 as tf",
                src,
                flags=re.M,
            )
        src = re.sub(r"^(\s*)import tensorflow\b", r"\1import kiln", src, flags=re.M)
        src = re.sub(r"^(\s*)from tensorflow\b", r"\1from kiln", src, flags=re.M)
    elif api == "v1":
        sub = "import tensorflow.compat.v1 as tf"
        if "enable_eager_execution" not in src:
            sub += "; tf.disable_v2_behavior()"
        src = re.sub(r"^(\s*)import tensorflow as tf\b", r"\1" + sub, src, flags=re.M)
    return src


def write_text8(path: pathlib.Path, n_words=60000, seed=0):
    """A generated stand-in for text8.zip: Zipf-distributed words over a small vocabulary."""
    import numpy as np

    rng = np.random.RandomState(seed)
    vocab = WORDS + [f"w{i}" for i in range(400)]
    p = 1.0 / np.arange(1, len(vocab) + 1)
    words = rng.choice(len(vocab), size=n_words, p=p / p.sum())
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("text8", " ".join(vocab[i] for i in words))


def _floats(pattern, text, skip=SKIP):
    """The first number matched on each line (lines about test/validation sets skipped)."""
    out = []
    for line in text.splitlines():
        if skip and re.search(skip, line):
            continue
        m = re.search(pattern, line, re.M)
        if m:
            try:
                out.append(float(m.group(1)))
            except ValueError:
                pass
    return out


def exception_of(stderr: str) -> str:
    """'Type: first line of message' of the last exception in a traceback."""
    lines = stderr.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        m = re.match(
            r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning))(?::\s*(.*))?$", lines[i]
        )
        if m:
            return f"{m.group(1).split('.')[-1]}: {(m.group(2) or '').strip()}"[:300]
    tail = [ln for ln in lines if ln.strip()]
    return (tail[-1] if tail else "no output")[:300]


def classify(prog, rc, stdout, stderr, timed_out):
    st = settings_of(prog["name"])
    check = st.get("check", "loss" if prog["trains"] else "none")
    losses = _floats(st.get("loss_re", LOSS_RE), stdout, st.get("skip", SKIP))
    accs = _floats(st.get("acc_re", ACC_RE), stdout, skip=None)
    res = {"losses": losses, "accuracy": accs[-1] if accs else None, "check": check}
    res["final_loss"] = losses[-1] if losses else None
    if timed_out:
        return {**res, "outcome": "timeout", "detail": ""}
    if rc != 0:
        return {**res, "outcome": "error", "detail": exception_of(stderr)}
    ok, why = True, ""
    if check == "loss":
        if len(losses) < 2:
            ok, why = False, f"{len(losses)} loss value(s) printed"
        elif not all(math.isfinite(v) for v in losses) or not losses[-1] < losses[0]:
            ok, why = False, f"loss did not fall: {losses[0]:.4g} -> {losses[-1]:.4g}"
    elif check == "finite":
        if not losses or not all(math.isfinite(v) for v in losses):
            ok, why = False, "no finite losses printed"
    elif check == "acc":
        if not accs or not accs[-1] > ACC_FLOOR:
            ok, why = False, f"accuracy {accs[-1] if accs else None} not above {ACC_FLOOR}"
    return {**res, "outcome": "pass" if ok else "check-failed", "detail": why}


class ForkServer:
    """A forkserver.py process for one worker thread (see forkserver.py)."""

    def __init__(self, python, modules, env):
        self.proc = subprocess.Popen(
            [python, str(HERE / "forkserver.py"), *modules],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert json.loads(self.proc.stdout.readline())["ready"]

    def run(self, cwd, timeout):
        self.proc.stdin.write(json.dumps({"cwd": str(cwd), "timeout": timeout}) + "\n")
        self.proc.stdin.flush()
        ans = json.loads(self.proc.stdout.readline())
        out = (cwd / "stdout.txt").read_text(errors="replace")
        err = (cwd / "stderr.txt").read_text(errors="replace")
        return ans["rc"], out, err, ans["timed_out"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def environment(framework):
    env = dict(os.environ)
    paths = [str(SHIM)]
    if framework == "kiln":
        paths.append(str(KILN_PARENT))
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["MPLBACKEND"] = "Agg"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONHASHSEED"] = "0"
    if framework == "tf":
        env["TF_USE_LEGACY_KERAS"] = "1"  # TF 1.x rnn cells / tf.layers need Keras 2 (tf-keras)
    return env


def _subprocess(python, work, env, timeout):
    try:
        p = subprocess.run(
            [python, "main.py"], cwd=work, env=env, capture_output=True, text=True, timeout=timeout
        )
        return p.returncode, p.stdout, p.stderr, False
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        return None, out, err, True


def run_one(prog, framework, python, timeout, kiln_v2, keep=None, server=None):
    work = pathlib.Path(tempfile.mkdtemp(prefix=f"tfc_{prog['name']}_"))
    try:
        src = source_of(prog)
        st = settings_of(prog["name"])
        for pat, repl in st.get("subs", ()):
            src = re.sub(pat, repl, src, flags=re.M)
        materialize(prog, work, st)
        for f in st.get("files", ()):  # helper modules import TensorFlow too
            if f.endswith(".py"):
                text = (work / f).read_text()
                for pat, repl in st.get("subs", ()):
                    text = re.sub(pat, repl, text, flags=re.M)
                (work / f).write_text(rewrite(text, framework, prog["api"], kiln_v2))
        caps = {"steps": st.get("steps", STEP_CAP), "epochs": st.get("epochs", EPOCH_CAP)}
        (work / "main.py").write_text(rewrite(src, framework, prog["api"], kiln_v2, **caps))
        libs = PROGRAMS / "libs"
        if prog["name"].startswith("pkm_"):
            (work / "libs").mkdir()
            for f in libs.glob("*.py"):
                (work / "libs" / f.name).write_text(
                    rewrite(f.read_text(), framework, "v1", kiln_v2)
                )
        if "word2vec" in prog["name"]:
            write_text8(work / "text8.zip")
        env = environment(framework)
        t0 = time.time()
        if server is not None:
            rc, out, err, to = server.run(work, timeout)
        else:
            rc, out, err, to = _subprocess(python, work, env, timeout)
        res = classify(prog, rc, out, err, to)
        res["seconds"] = round(time.time() - t0, 1)
        res["name"] = prog["name"]
        if keep:
            (pathlib.Path(keep) / f"{prog['name']}.log").write_text(
                f"--- stdout\n{out}\n--- stderr\n{err}\n"
            )
        return res
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compare(results, reference, tol=0.10):
    """Programs passing under both whose final loss (or accuracy) is within tol of the reference."""
    close = []
    for r in results:
        ref = reference.get(r["name"])
        if not ref or r["outcome"] != "pass" or ref["outcome"] != "pass":
            continue
        for key in ("final_loss", "accuracy"):
            a, b = r.get(key), ref.get(key)
            if a is not None and b is not None:
                close.append((r["name"], key, a, b, abs(a - b) <= tol * max(abs(b), 1e-6)))
                break
    return close


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--framework", choices=("kiln", "tf"), default="kiln")
    ap.add_argument("--python", default=None, help="interpreter for the programs")
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--collection", choices=("corpus", "snapshots", "all"), default="corpus")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--fork",
        action="store_true",
        help="fork each program from one interpreter that imported the framework",
    )
    ap.add_argument(
        "--update",
        action="store_true",
        help="replace only the programs run in an existing --out file",
    )
    ap.add_argument("--out", default=None, help="write the results here (json)")
    ap.add_argument("--logs", default=None, help="keep each program's output in this folder")
    ap.add_argument(
        "--compare",
        default=None,
        help="TensorFlow's results (default: results_tf.json, or results_tf_snapshots.json"
        " for --collection snapshots)",
    )
    args = ap.parse_args(argv)
    python = args.python or (
        sys.executable if args.framework == "kiln" else "/work/tfenv/bin/python"
    )
    progs = load_programs(args.collection)
    if args.only:
        progs = [p for p in progs if p["name"] in args.only or p.get("file") in args.only]
    kiln_v2 = False
    if args.framework == "kiln":
        probe = subprocess.run(
            [python, "-c", "import kiln.compat.v2"],
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(KILN_PARENT)},
        )
        kiln_v2 = probe.returncode == 0
    if args.logs:
        pathlib.Path(args.logs).mkdir(parents=True, exist_ok=True)
    local = threading.local()
    servers = []
    modules = ["tensorflow", "tf_keras"] if args.framework == "tf" else ["kiln"]

    def job(p):
        if args.fork and getattr(local, "server", None) is None:
            local.server = ForkServer(python, modules, environment(args.framework))
            servers.append(local.server)
        return run_one(
            p,
            args.framework,
            python,
            args.timeout,
            kiln_v2,
            args.logs,
            getattr(local, "server", None),
        )

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        futs = [ex.submit(job, p) for p in progs]
        results = []
        for f in concurrent.futures.as_completed(futs):
            r = f.result()
            results.append(r)
            fl = r["final_loss"]
            print(
                f"{r['outcome']:13s} {r['name']:42s} {r['seconds']:6.1f}s "
                f"loss={fl if fl is None else f'{fl:.4g}'} {r['detail']}",
                flush=True,
            )
    for srv in servers:
        srv.close()
    if args.update and args.out and pathlib.Path(args.out).exists():
        ran = {r["name"] for r in results}
        old = json.loads(pathlib.Path(args.out).read_text())["results"]
        results += [r for r in old if r["name"] not in ran]
    results.sort(key=lambda r: r["name"])
    n_pass = sum(r["outcome"] == "pass" for r in results)
    print(f"{args.framework}: {n_pass} of {len(results)} programs pass")
    summary = {
        "framework": args.framework,
        "kiln_v2_import": kiln_v2,
        "pass": n_pass,
        "total": len(results),
        "results": results,
    }
    ref_name = "results_tf_snapshots.json" if args.collection == "snapshots" else "results_tf.json"
    ref_path = pathlib.Path(args.compare or HERE / ref_name)
    if ref_path.exists() and args.framework == "kiln":
        ref = {r["name"]: r for r in json.loads(ref_path.read_text())["results"]}
        close = compare(results, ref)
        summary["within_10pct"] = sum(c[-1] for c in close)
        print(
            f"within 10% of TensorFlow's final value: {summary['within_10pct']} of {len(close)}"
            " programs passing under both"
        )
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
