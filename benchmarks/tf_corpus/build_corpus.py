"""Copy the corpus programs out of repository snapshots and write programs.json.

Run once by hand (it needs the snapshots under /work/.mirror, which CI does not have);
CI uses the committed programs/ and programs.json. Only permissively licensed sources
(MIT, Apache-2.0) are copied; each copy starts with a header naming its origin and licence.
Notebooks are turned into scripts by joining their code cells (IPython `%`/`!` lines dropped).
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
MIRROR = pathlib.Path("/work/.mirror")

SOURCES = {
    "aymericdamien/TensorFlow-Examples": ("MIT", "LICENSE"),
    "pkmital/tensorflow_tutorials": ("Apache-2.0", "LICENSE.md"),
}

# (repo, path, api, trains) ; api "v1" = TF 1.x graph program, "v2" = TF 2 eager program
V1 = "tensorflow_v1/examples/"
AYM = [
    ("1_Introduction/helloworld.py", False),
    ("1_Introduction/basic_operations.py", False),
    ("1_Introduction/basic_eager_api.py", False),
    ("2_BasicModels/linear_regression.py", True),
    ("2_BasicModels/linear_regression_eager_api.py", True),
    ("2_BasicModels/logistic_regression.py", True),
    ("2_BasicModels/logistic_regression_eager_api.py", True),
    ("2_BasicModels/nearest_neighbor.py", False),
    ("2_BasicModels/kmeans.py", True),
    ("2_BasicModels/word2vec.py", True),
    ("2_BasicModels/random_forest.py", True),
    ("2_BasicModels/gradient_boosted_decision_tree.py", True),
    ("3_NeuralNetworks/autoencoder.py", True),
    ("3_NeuralNetworks/variational_autoencoder.py", True),
    ("3_NeuralNetworks/gan.py", True),
    ("3_NeuralNetworks/dcgan.py", True),
    ("3_NeuralNetworks/multilayer_perceptron.py", True),
    ("3_NeuralNetworks/neural_network.py", True),
    ("3_NeuralNetworks/neural_network_raw.py", True),
    ("3_NeuralNetworks/neural_network_eager_api.py", True),
    ("3_NeuralNetworks/convolutional_network.py", True),
    ("3_NeuralNetworks/convolutional_network_raw.py", True),
    ("3_NeuralNetworks/recurrent_network.py", True),
    ("3_NeuralNetworks/bidirectional_rnn.py", True),
    ("3_NeuralNetworks/dynamic_rnn.py", True),
    ("4_Utils/save_restore_model.py", True),
    ("4_Utils/tensorboard_basic.py", True),
    ("4_Utils/tensorboard_advanced.py", True),
    ("5_DataManagement/tensorflow_dataset_api.py", True),
    ("5_DataManagement/build_an_image_dataset.py", True),
]
V2 = "tensorflow_v2/notebooks/"
AYM2 = [
    ("1_Introduction/helloworld.ipynb", False),
    ("1_Introduction/basic_operations.ipynb", False),
    ("2_BasicModels/linear_regression.ipynb", True),
    ("2_BasicModels/logistic_regression.ipynb", True),
    ("2_BasicModels/word2vec.ipynb", True),
    ("2_BasicModels/gradient_boosted_trees.ipynb", True),
    ("3_NeuralNetworks/autoencoder.ipynb", True),
    ("3_NeuralNetworks/neural_network.ipynb", True),
    ("3_NeuralNetworks/neural_network_raw.ipynb", True),
    ("3_NeuralNetworks/convolutional_network.ipynb", True),
    ("3_NeuralNetworks/convolutional_network_raw.ipynb", True),
    ("3_NeuralNetworks/dcgan.ipynb", True),
    ("3_NeuralNetworks/recurrent_network.ipynb", True),
    ("3_NeuralNetworks/bidirectional_rnn.ipynb", True),
    ("3_NeuralNetworks/dynamic_rnn.ipynb", True),
    ("4_Utils/build_custom_layers.ipynb", True),
    ("4_Utils/save_restore_model.ipynb", True),
    ("4_Utils/tensorboard.ipynb", True),
]
PKM = [
    ("python/01_basics.py", False),
    ("python/02_linear_regression.py", True),
    ("python/03_polynomial_regression.py", True),
    ("python/04_logistic_regression.py", True),
    ("python/05_basic_convnet.py", True),
    ("python/06_modern_convnet.py", True),
    ("python/07_autoencoder.py", True),
    ("python/08_denoising_autoencoder.py", True),
    ("python/09_convolutional_autoencoder.py", True),
    ("python/10_residual_network.py", True),
    ("python/11_variational_autoencoder.py", True),
]
PKM_LIBS = [
    "__init__.py",
    "activations.py",
    "batch_norm.py",
    "connections.py",
    "utils.py",
    "datasets.py",
    "dataset_utils.py",
]


def git(repo: str, *args: str) -> str:
    gd = MIRROR / repo.replace("/", "+") / "repo"
    return subprocess.run(
        ["git", f"--git-dir={gd}", *args], check=True, capture_output=True, text=True
    ).stdout


def notebook_code(text: str) -> str:
    nb = json.loads(text)
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).splitlines()
        lines = [ln for ln in lines if not ln.lstrip().startswith(("%", "!"))]
        cells.append("\n".join(lines))
    return "\n\n".join(cells) + "\n"


def header(repo: str, commit: str, path: str, licence: str) -> str:
    return (
        f"# Corpus program copied from https://github.com/{repo}\n"
        f"#   commit {commit}, path {path}\n"
        f"#   licence {licence} (see LICENSES/{repo.replace('/', '+')}); unmodified apart"
        " from notebook cells joined.\n"
    )


def main() -> int:
    out = HERE / "programs"
    lic = HERE / "programs" / "LICENSES"
    lic.mkdir(parents=True, exist_ok=True)
    entries = []
    commits = {}
    for repo, (_licence, licfile) in SOURCES.items():
        commits[repo] = git(repo, "rev-parse", "HEAD").strip()
        (lic / repo.replace("/", "+")).write_text(git(repo, "show", f"HEAD:{licfile}"))

    def add(repo, path, api, trains, name):
        commit = commits[repo]
        text = git(repo, "show", f"HEAD:{path}")
        if path.endswith(".ipynb"):
            text = notebook_code(text)
        licence = SOURCES[repo][0]
        (out / name).write_text(header(repo, commit, path, licence) + text)
        entries.append(
            {
                "name": name[:-3],
                "file": name,
                "repo": repo,
                "commit": commit,
                "path": path,
                "licence": licence,
                "api": api,
                "trains": trains,
            }
        )

    for p, trains in AYM:
        add("aymericdamien/TensorFlow-Examples", V1 + p, "v1", trains, "aym_v1_" + p.split("/")[1])
    for p, trains in AYM2:
        add(
            "aymericdamien/TensorFlow-Examples",
            V2 + p,
            "v2",
            trains,
            "aym_v2_" + p.split("/")[1].replace(".ipynb", ".py"),
        )
    for p, trains in PKM:
        add("pkmital/tensorflow_tutorials", p, "v1", trains, "pkm_" + p.split("/")[1])
    libs = out / "libs"
    libs.mkdir(exist_ok=True)
    for f in PKM_LIBS:
        path = "python/libs/" + f
        text = git("pkmital/tensorflow_tutorials", "show", f"HEAD:{path}")
        h = header(
            "pkmital/tensorflow_tutorials",
            commits["pkmital/tensorflow_tutorials"],
            path,
            "Apache-2.0",
        )
        (libs / f).write_text(h + text)
    (HERE / "programs.json").write_text(json.dumps(entries, indent=1) + "\n")
    print(len(entries), "programs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
