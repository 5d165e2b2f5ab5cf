"""kl.keras: Keras-style layers and models on kiln (see docs/eager.md).

model = kl.keras.Sequential([kl.keras.layers.Dense(64, activation="relu",
                                                  input_shape=(8,)),
                             kl.keras.layers.Dense(10)])
model.compile("adam", kl.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
model.fit(x, y, batch_size=32, epochs=5, validation_data=(xv, yv))
"""

from . import (
    activations,
    backend,
    callbacks,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
    training,
    utils,
)
from .engine import Input, KerasTensor, Layer
from .models import Model, Sequential
from .training import Callback, EarlyStopping, History, LambdaCallback, ProgressBar, TensorBoard

preprocessing = utils.preprocessing

__all__ = [
    "Input",
    "KerasTensor",
    "Layer",
    "Model",
    "Sequential",
    "activations",
    "backend",
    "preprocessing",
    "callbacks",
    "datasets",
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
