"""kl.estimator: TensorFlow 1.x's Estimator (tf.estimator) over kiln's graphs.

    def model_fn(features, labels, mode, params):
        logits = kl.layers.dense(features["x"], 10)
        if mode == kl.estimator.ModeKeys.PREDICT:
            return kl.estimator.EstimatorSpec(mode, predictions={"class": kl.argmax(logits, 1)})
        loss = kl.losses.sparse_softmax_cross_entropy(labels, logits)
        train_op = kl.train.AdamOptimizer(1e-3).minimize(
            loss, global_step=kl.train.get_global_step())
        acc = kl.metrics.accuracy(labels, kl.argmax(logits, 1))
        return kl.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op,
                                          eval_metric_ops={"accuracy": acc})

    est = kl.estimator.Estimator(model_fn, model_dir="run", params={...})
    est.train(kl.estimator.inputs.numpy_input_fn({"x": x}, y, shuffle=True), steps=500)
    est.evaluate(input_fn)                      # {"accuracy": ..., "loss": ..., "global_step": ...}
    for p in est.predict(input_fn): ...

Each call builds a fresh graph, calls model_fn in that mode, restores the
newest checkpoint of model_dir (so train, evaluate and predict share the
trained variables, and a second train continues the step count) and, after
training, saves `model.ckpt-<global_step>`, as TF does. The input function
returns (features, labels) tensors, or a kl.data.Dataset of such pairs.
The loop ends at `steps` (or `max_steps` of the global step) or when the
input raises OutOfRangeError. Estimator hooks are not run (kiln has its own
run hooks, registered on the Session).
"""

from __future__ import annotations

import inspect
import tempfile
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from .. import frontend as kf
from ..data import Dataset
from ..frontend.errors import OutOfRangeError
from ..frontend.graph import GraphError


class ModeKeys:
    """The three modes (tf.estimator.ModeKeys)."""

    TRAIN = "train"
    EVAL = "eval"
    PREDICT = "infer"


class EstimatorSpec(NamedTuple):
    """What a model_fn returns for a mode (tf.estimator.EstimatorSpec)."""

    mode: str
    predictions: Any = None
    loss: Any = None
    train_op: Any = None
    eval_metric_ops: Any = None
    export_outputs: Any = None
    training_chief_hooks: Any = None
    training_hooks: Any = None
    scaffold: Any = None
    evaluation_hooks: Any = None
    prediction_hooks: Any = None


class RunConfig:
    """The run settings Estimator reads (tf.estimator.RunConfig): model_dir,
    tf_random_seed, save_checkpoints_steps, keep_checkpoint_max."""

    def __init__(
        self,
        model_dir: str | None = None,
        tf_random_seed: int | None = None,
        save_summary_steps: int = 100,
        save_checkpoints_steps: int | None = None,
        keep_checkpoint_max: int = 5,
        log_step_count_steps: int = 100,
        **_: Any,
    ):
        self.model_dir = model_dir
        self.tf_random_seed = tf_random_seed
        self.save_summary_steps = save_summary_steps
        self.save_checkpoints_steps = save_checkpoints_steps
        self.keep_checkpoint_max = keep_checkpoint_max
        self.log_step_count_steps = log_step_count_steps

    def replace(self, **kwargs: Any) -> RunConfig:
        values = dict(self.__dict__)
        values.update(kwargs)
        return RunConfig(**values)


class Estimator:
    """Trains, evaluates and predicts with a model_fn (tf.estimator.Estimator)."""

    def __init__(
        self,
        model_fn: Callable,
        model_dir: str | None = None,
        config: RunConfig | None = None,
        params: dict | None = None,
        warm_start_from: Any = None,
    ):
        self._model_fn = model_fn
        self.config = config or RunConfig()
        self.model_dir = model_dir or self.config.model_dir or tempfile.mkdtemp(prefix="kiln_est")
        self.config = self.config.replace(model_dir=self.model_dir)
        self.params = dict(params or {})

    # ------------------------------------------------------------ building
    def _call_model_fn(self, features: Any, labels: Any, mode: str) -> EstimatorSpec:
        accepted = inspect.signature(self._model_fn).parameters
        kwargs: dict[str, Any] = {}
        if "labels" in accepted:
            kwargs["labels"] = labels
        elif labels is not None:
            raise GraphError("model_fn takes no labels, but the input_fn gives labels")
        if "mode" in accepted:
            kwargs["mode"] = mode
        if "params" in accepted:
            kwargs["params"] = self.params
        if "config" in accepted:
            kwargs["config"] = self.config
        spec = self._model_fn(features=features, **kwargs)
        if not isinstance(spec, EstimatorSpec):
            raise GraphError(f"model_fn must return an EstimatorSpec, got {type(spec).__name__}")
        return spec

    def _build(self, input_fn: Callable, mode: str):
        graph = kf.Graph()
        with graph.as_default():
            if self.config.tf_random_seed is not None:
                kf.set_random_seed(self.config.tf_random_seed)
            global_step = kf.train.get_or_create_global_step()
            result = _call_input_fn(input_fn)
            if isinstance(result, Dataset):
                result = result.make_one_shot_iterator().get_next()
            if isinstance(result, (tuple, list)) and len(result) == 2:
                features, labels = result
            else:
                features, labels = result, None
            spec = self._call_model_fn(features, labels, mode)
        return graph, global_step, spec

    def _session(self, graph: kf.Graph) -> tuple[Any, Any]:
        """A session with the variables initialised, then the newest checkpoint restored."""
        sess = kf.Session(graph=graph)
        with graph.as_default():
            sess.run([kf.global_variables_initializer(), kf.local_variables_initializer()])
            saver = kf.train.Saver(max_to_keep=self.config.keep_checkpoint_max)
            latest = kf.train.latest_checkpoint(self.model_dir)
            if latest is not None:
                saver.restore(sess, latest)
        return sess, saver

    def latest_checkpoint(self) -> str | None:
        return kf.train.latest_checkpoint(self.model_dir)

    def get_variable_names(self) -> list[str]:
        path = self.latest_checkpoint()
        if path is None:
            raise GraphError(f"{self.model_dir} has no checkpoint yet: train first")
        with np.load(path + ".npz") as data:
            return sorted(data.files)

    def get_variable_value(self, name: str) -> np.ndarray:
        with np.load(self.latest_checkpoint() + ".npz") as data:
            return data[name]

    # ------------------------------------------------------------ modes
    def train(
        self,
        input_fn: Callable,
        hooks: Any = None,
        steps: int | None = None,
        max_steps: int | None = None,
        saving_listeners: Any = None,
    ) -> Estimator:
        """Run train_op until `steps` more steps, the global step reaches
        `max_steps`, or the input ends; then save a checkpoint."""
        if steps is not None and max_steps is not None:
            raise GraphError("train: give steps or max_steps, not both")
        graph, global_step, spec = self._build(input_fn, ModeKeys.TRAIN)
        if spec.train_op is None or spec.loss is None:
            raise GraphError("train: the model_fn's EstimatorSpec needs loss and train_op")
        sess, saver = self._session(graph)
        with graph.as_default():
            step = int(sess.run(global_step))
            if max_steps is not None and step >= max_steps:
                sess.close()
                return self
            done = 0  # steps counts runs (the global step too, when train_op increments it)
            every = self.config.save_checkpoints_steps
            try:
                while True:
                    if steps is not None and done >= steps:
                        break
                    if max_steps is not None and step >= max_steps:
                        break
                    _, loss = sess.run([spec.train_op, spec.loss])
                    step = int(sess.variable_value(global_step))  # after the update
                    done += 1
                    if not np.isfinite(loss):
                        raise GraphError(f"Estimator.train: the loss is {loss} at step {step}")
                    if every and step % every == 0:
                        saver.save(sess, f"{self.model_dir}/model.ckpt", global_step=step)
            except OutOfRangeError:
                pass
            saver.save(sess, f"{self.model_dir}/model.ckpt", global_step=step)
        sess.close()
        return self

    def evaluate(
        self,
        input_fn: Callable,
        steps: int | None = None,
        hooks: Any = None,
        checkpoint_path: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """The eval_metric_ops' values over the input (or `steps` batches),
        with the mean loss and the global step."""
        graph, global_step, spec = self._build(input_fn, ModeKeys.EVAL)
        if self.latest_checkpoint() is None and checkpoint_path is None:
            raise GraphError(f"evaluate: {self.model_dir} has no checkpoint: train first")
        with graph.as_default():
            metrics = dict(spec.eval_metric_ops or {})
            if spec.loss is not None:
                metrics.setdefault("loss", kf.metrics.mean(spec.loss))
        sess, saver = self._session(graph)
        if checkpoint_path is not None:
            saver.restore(sess, checkpoint_path)
        updates = [update for _, update in metrics.values()]
        done = 0
        try:
            while steps is None or done < steps:
                sess.run(updates)
                done += 1
        except OutOfRangeError:
            pass
        if done == 0:
            raise GraphError("evaluate: the input_fn gave no batches")
        results = {key: sess.run(value) for key, (value, _) in metrics.items()}
        results["global_step"] = int(sess.run(global_step))
        sess.close()
        return {k: (np.asarray(v).item() if np.ndim(v) == 0 else v) for k, v in results.items()}

    def predict(
        self,
        input_fn: Callable,
        predict_keys: Any = None,
        hooks: Any = None,
        checkpoint_path: str | None = None,
        yield_single_examples: bool = True,
    ) -> Iterator[Any]:
        """The predictions, one example at a time (or one batch), until the input ends."""
        graph, _, spec = self._build(input_fn, ModeKeys.PREDICT)
        if spec.predictions is None:
            raise GraphError("predict: the model_fn's EstimatorSpec has no predictions")
        predictions = spec.predictions
        if isinstance(predictions, dict) and predict_keys is not None:
            keys = [predict_keys] if isinstance(predict_keys, str) else list(predict_keys)
            predictions = {k: predictions[k] for k in keys}
        sess, saver = self._session(graph)
        if checkpoint_path is not None:
            saver.restore(sess, checkpoint_path)
        try:
            while True:
                try:
                    batch = sess.run(predictions)
                except OutOfRangeError:
                    return
                if not yield_single_examples:
                    yield batch
                elif isinstance(batch, dict):
                    n = len(next(iter(batch.values())))
                    for i in range(n):
                        yield {k: v[i] for k, v in batch.items()}
                else:
                    yield from batch
        finally:
            sess.close()


def _call_input_fn(input_fn: Callable) -> Any:
    accepted = inspect.signature(input_fn).parameters
    return input_fn(params={}) if "params" in accepted else input_fn()


# ------------------------------------------------------------------ inputs


def numpy_input_fn(
    x: Any,
    y: Any = None,
    batch_size: int = 128,
    num_epochs: int | None = 1,
    shuffle: bool | None = None,
    queue_capacity: int = 1000,
    num_threads: int = 1,
) -> Callable:
    """An input_fn giving batches of `x` (an array or a dict of arrays) and
    `y` (tf.estimator.inputs.numpy_input_fn): num_epochs passes (None:
    forever), reshuffled each epoch when shuffle is True."""
    if shuffle is None:
        raise GraphError("numpy_input_fn: shuffle must be given (True or False), as in TF")
    features = dict(x) if isinstance(x, dict) else x
    first = next(iter(features.values())) if isinstance(features, dict) else features
    n = len(first)

    def input_fn():
        data = (features, y) if y is not None else features
        ds = Dataset.from_tensor_slices(data)
        if shuffle:
            ds = ds.shuffle(n, seed=0)
        ds = ds.repeat(num_epochs).batch(batch_size)
        return ds.make_one_shot_iterator().get_next()

    return input_fn


class _Inputs:
    numpy_input_fn = staticmethod(numpy_input_fn)


inputs = _Inputs()

# the canned boosted-trees estimators build on the classes above
from .boosted_trees import BoostedTreesClassifier, BoostedTreesRegressor  # noqa: E402

__all__ = [
    "BoostedTreesClassifier",
    "BoostedTreesRegressor",
    "Estimator",
    "EstimatorSpec",
    "ModeKeys",
    "RunConfig",
    "inputs",
]
