"""tf.contrib.learn.preprocessing.VocabularyProcessor (TF 1.15, pure Python there
too): documents to fixed-length arrays of word ids, id 0 for '<UNK>' and padding.

As in TensorFlow: words are split by TOKENIZER_RE, ids are given in order of first
appearance while fitting; with min_frequency, the words seen at most that often are
dropped and the rest renumbered by falling count."""

from __future__ import annotations

import collections
import pickle
import re
from collections.abc import Callable, Iterable, Iterator

import numpy as np

__all__ = ["CategoricalVocabulary", "VocabularyProcessor", "tokenizer"]

TOKENIZER_RE = re.compile(r"[A-Z]{2,}(?![a-z])|[A-Z][a-z]+(?=[A-Z])|[\'\w\-]+", re.UNICODE)


def tokenizer(iterator: Iterable[str]) -> Iterator[list[str]]:
    """Each document's words (TensorFlow's default tokenizer)."""
    for value in iterator:
        yield TOKENIZER_RE.findall(value)


class CategoricalVocabulary:
    """Words to ids; '<UNK>' (id 0) for words not in it once frozen."""

    def __init__(self, unknown_token: str = "<UNK>", support_reverse: bool = True):
        self._unknown_token = unknown_token
        self._mapping = {unknown_token: 0}
        self._support_reverse = support_reverse
        self._reverse_mapping = [unknown_token] if support_reverse else None
        self._freq: collections.Counter = collections.Counter()
        self._freeze = False

    def __len__(self) -> int:
        return len(self._mapping)

    def freeze(self, freeze: bool = True) -> None:
        self._freeze = freeze

    def get(self, category: str) -> int:
        """The id of `category`, added when new and not frozen; else 0."""
        if category not in self._mapping:
            if self._freeze:
                return 0
            self._mapping[category] = len(self._mapping)
            if self._support_reverse:
                self._reverse_mapping.append(category)
        return self._mapping[category]

    def add(self, category: str, count: int = 1) -> None:
        category_id = self.get(category)
        if category_id > 0:
            self._freq[category] += count

    def trim(self, min_frequency: int, max_frequency: int = -1) -> None:
        """Keep the words seen more than min_frequency times (and, when max_frequency > 0,
        fewer than max_frequency times), renumbered from 1 by falling count, ties in
        alphabetical order (TensorFlow's order)."""
        ordered = sorted(sorted(self._freq.items()), key=lambda kv: kv[1], reverse=True)
        self._mapping = {self._unknown_token: 0}
        if self._support_reverse:
            self._reverse_mapping = [self._unknown_token]
        for category, count in ordered:
            if max_frequency > 0 and count >= max_frequency:
                continue
            if count <= min_frequency:
                break
            self._mapping[category] = len(self._mapping)
            if self._support_reverse:
                self._reverse_mapping.append(category)
        self._freq = collections.Counter(
            {k: v for k, v in self._freq.items() if k in self._mapping}
        )

    def reverse(self, class_id: int) -> str:
        return self._reverse_mapping[class_id]


class VocabularyProcessor:
    """Maps documents to [max_document_length] arrays of word ids (0 pads)."""

    def __init__(
        self,
        max_document_length: int,
        min_frequency: int = 0,
        vocabulary: CategoricalVocabulary | None = None,
        tokenizer_fn: Callable | None = None,
    ):
        self.max_document_length = max_document_length
        self.min_frequency = min_frequency
        self.vocabulary_ = vocabulary if vocabulary is not None else CategoricalVocabulary()
        self._tokenizer = tokenizer_fn or tokenizer

    def fit(self, raw_documents: Iterable[str], unused_y=None) -> VocabularyProcessor:
        for tokens in self._tokenizer(raw_documents):
            for token in tokens:
                self.vocabulary_.add(token)
        if self.min_frequency > 0:
            self.vocabulary_.trim(self.min_frequency)
        self.vocabulary_.freeze()
        return self

    def fit_transform(self, raw_documents: Iterable[str], unused_y=None) -> Iterator[np.ndarray]:
        documents = list(raw_documents)
        self.fit(documents)
        return self.transform(documents)

    def transform(self, raw_documents: Iterable[str]) -> Iterator[np.ndarray]:
        """Each document's first max_document_length word ids, zero-padded (a generator,
        as in TensorFlow)."""
        for tokens in self._tokenizer(raw_documents):
            word_ids = np.zeros(self.max_document_length, np.int64)
            for idx, token in enumerate(tokens[: self.max_document_length]):
                word_ids[idx] = self.vocabulary_.get(token)
            yield word_ids

    def reverse(self, documents: Iterable[np.ndarray]) -> Iterator[str]:
        for item in documents:
            yield " ".join(self.vocabulary_.reverse(class_id) for class_id in item)

    def save(self, filename: str) -> None:
        with open(filename, "wb") as f:
            f.write(pickle.dumps(self))

    @classmethod
    def restore(cls, filename: str) -> VocabularyProcessor:
        with open(filename, "rb") as f:
            return pickle.loads(f.read())
