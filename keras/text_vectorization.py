"""keras.layers.TextVectorization: strings -> token indices (or multi-hot / count rows),
TensorFlow's semantics: standardize ("lower_and_strip_punctuation"), split on whitespace,
look tokens up in a vocabulary that `adapt(texts)` builds (tokens by count, ties in reverse
lexical order, as TensorFlow's StringLookup) or that `vocabulary=` gives. In "int" mode
index 0 is the padding token "" and 1 is "[UNK]" (out-of-vocabulary); in "multi_hot" /
"count" mode index 0 is "[UNK]". max_tokens counts those reserved tokens.

kiln runs the layer on the host, on concrete strings (eager tensors, numpy arrays, lists,
a Dataset in adapt): the usual place is a tf.data map or a preprocessing step before fit.
A graph tensor (a symbolic model input) is refused with a clear error.
"""

from __future__ import annotations

import collections
import re
from typing import Any

import numpy as np

from ..frontend.dtypes import float32, int64
from ..frontend.eager import EagerTensor
from ..frontend.graph import GraphError, Tensor
from .engine import Layer

__all__ = ["TextVectorization"]

# tf.keras's DEFAULT_STRIP_REGEX
_PUNCTUATION = re.compile(r"[!\"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~']")
_MODES = ("int", "multi_hot", "count")


def _strings(data: Any, what: str) -> list[str]:
    if isinstance(data, Tensor) and not isinstance(data, EagerTensor):
        raise GraphError(
            f"{what}: {data.name} is a graph tensor; kiln's TextVectorization runs on concrete "
            "strings (call it in a tf.data map or on arrays before fit)"
        )
    if hasattr(data, "as_numpy_iterator"):  # a Dataset: its elements, batched or not
        return [s for e in data.as_numpy_iterator() for s in _strings(e, what)]
    if hasattr(data, "numpy"):
        data = data.numpy()
    flat = np.asarray(data, dtype=object).ravel().tolist()
    return [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in flat]


class TextVectorization(Layer):
    """tf.keras.layers.TextVectorization (output_mode "int", "multi_hot" or "count")."""

    def __init__(
        self,
        max_tokens: int | None = None,
        standardize: Any = "lower_and_strip_punctuation",
        split: Any = "whitespace",
        ngrams: Any = None,
        output_mode: str = "int",
        output_sequence_length: int | None = None,
        pad_to_max_tokens: bool = False,
        vocabulary: Any = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if output_mode not in _MODES:
            raise GraphError(f"TextVectorization: output_mode must be one of {_MODES}, got "
                             f"{output_mode!r}")  # fmt: skip
        if ngrams is not None:
            raise GraphError("TextVectorization: kiln does not implement ngrams yet")
        if standardize not in (None, "lower_and_strip_punctuation", "lower", "strip_punctuation"):
            if not callable(standardize):
                raise GraphError(f"TextVectorization: unknown standardize {standardize!r}")
        if split not in (None, "whitespace", "character") and not callable(split):
            raise GraphError(f"TextVectorization: unknown split {split!r}")
        self.max_tokens = max_tokens
        self.standardize = standardize
        self.split = split
        self.output_mode = output_mode
        self.output_sequence_length = output_sequence_length
        self.pad_to_max_tokens = pad_to_max_tokens
        self._vocab: list[str] = []
        self._index: dict[str, int] = {}
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # ------------------------------------------------------------ text -> tokens
    def _tokens(self, text: str) -> list[str]:
        if callable(self.standardize):
            text = _strings(self.standardize(text), "TextVectorization")[0]
        else:
            if self.standardize in ("lower_and_strip_punctuation", "lower"):
                text = text.lower()
            if self.standardize in ("lower_and_strip_punctuation", "strip_punctuation"):
                text = _PUNCTUATION.sub("", text)
        if self.split is None:
            return [text]
        if self.split == "character":
            return list(text)
        if callable(self.split):
            return _strings(self.split(text), "TextVectorization")
        return text.split()

    def _reserved(self) -> list[str]:
        return ["", "[UNK]"] if self.output_mode == "int" else ["[UNK]"]

    # ------------------------------------------------------------ vocabulary
    def adapt(self, data: Any, batch_size: Any = None, steps: Any = None) -> None:
        """Build the vocabulary from `data`'s strings: the most frequent tokens first."""
        counts = collections.Counter(
            t for s in _strings(data, "TextVectorization.adapt") for t in self._tokens(s)
        )
        ranked = [t for t, _ in sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]
        reserved = self._reserved()
        if self.max_tokens is not None:
            ranked = ranked[: max(0, self.max_tokens - len(reserved))]
        self._set(reserved + [t for t in ranked if t not in reserved])

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        tokens = _strings(vocabulary, "TextVectorization.set_vocabulary")
        reserved = self._reserved()
        self._set(reserved + [t for t in tokens if t not in reserved])

    def _set(self, vocab: list[str]) -> None:
        self._vocab = vocab
        self._index = {t: i for i, t in enumerate(vocab)}
        self.built = True

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        if include_special_tokens:
            return list(self._vocab)
        return self._vocab[len(self._reserved()) :]

    def vocabulary_size(self) -> int:
        return len(self._vocab)

    # ------------------------------------------------------------ call
    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> EagerTensor:
        if not self._vocab:
            raise GraphError(
                f"{self.name}: TextVectorization has no vocabulary: call adapt(texts) or pass "
                "vocabulary="
            )
        texts = _strings(inputs, self.name)
        unk = self._index["[UNK]"]
        ids = [[self._index.get(t, unk) for t in self._tokens(s)] for s in texts]
        if self.output_mode == "int":
            width = self.output_sequence_length
            if width is None:
                width = max((len(r) for r in ids), default=0)
            out = np.zeros((len(ids), width), np.int64)
            for i, r in enumerate(ids):
                r = r[:width]
                out[i, : len(r)] = r
            return EagerTensor(out, int64)
        size = self.max_tokens if self.pad_to_max_tokens and self.max_tokens else len(self._vocab)
        rows = np.zeros((len(ids), size), np.float32)
        for i, r in enumerate(ids):
            np.add.at(rows[i], r, 1.0)
        if self.output_mode == "multi_hot":
            rows = np.minimum(rows, 1.0)
        return EagerTensor(rows, float32)

    call = __call__
