"""kl.keras: Keras-style layers and models on kiln (see docs/eager.md).

model = kl.keras.Sequential([kl.keras.layers.Dense(64, activation="relu",
                                                  input_shape=(8,)),
                             kl.keras.layers.Dense(10)])
model.compile("adam", kl.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
model.fit(x, y, batch_size=32, epochs=5, validation_data=(xv, yv))
"""

from types import SimpleNamespace

from . import (
    activations,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
    training,
)
from .engine import Input, KerasTensor, Layer
from .models import Model, Sequential
from .training import Callback, EarlyStopping, History, LambdaCallback, ProgressBar, TensorBoard

callbacks = SimpleNamespace(
    Callback=Callback,
    History=History,
    EarlyStopping=EarlyStopping,
    LambdaCallback=LambdaCallback,
    ProgressBar=ProgressBar,
    TensorBoard=TensorBoard,
)
utils = SimpleNamespace(
    set_random_seed=initializers.set_random_seed, to_categorical=metrics.to_categorical
)

__all__ = [
    "Input",
    "KerasTensor",
    "Layer",
    "Model",
    "Sequential",
    "activations",
    "callbacks",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "regularizers",
    "training",
    "utils",
]
