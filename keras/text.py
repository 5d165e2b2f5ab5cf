"""keras.preprocessing.text: Tokenizer and text_to_word_sequence, Keras 2's
semantics exactly (the text-classification tutorials' first step before
pad_sequences): lower-case, strip Keras's default punctuation filters, split;
word_index ranks words by count (ties in first-seen order) from 1, the OOV
token first when given; num_words keeps indices below it."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from ..frontend.graph import GraphError

__all__ = ["Tokenizer", "text_to_word_sequence"]

FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(
    input_text: str, filters: str = FILTERS, lower: bool = True, split: str = " "
) -> list[str]:
    if lower:
        input_text = input_text.lower()
    input_text = input_text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in input_text.split(split) if w]


class Tokenizer:
    """Words to integer ids (keras.preprocessing.text.Tokenizer)."""

    def __init__(
        self,
        num_words: int | None = None,
        filters: str = FILTERS,
        lower: bool = True,
        split: str = " ",
        char_level: bool = False,
        oov_token: str | None = None,
        **_: Any,
    ):
        self.num_words, self.filters, self.lower = num_words, filters, lower
        self.split, self.char_level, self.oov_token = split, char_level, oov_token
        self.word_counts: OrderedDict[str, int] = OrderedDict()
        self.word_docs: dict[str, int] = {}
        self.document_count = 0
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}

    def _words(self, text: Any) -> list[str]:
        if isinstance(text, list):
            return [w.lower() if self.lower else w for w in text]
        if self.char_level:
            return list(text.lower() if self.lower else text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts: Any) -> None:
        for text in texts:
            self.document_count += 1
            seq = self._words(text)
            for w in seq:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(seq):
                self.word_docs[w] = self.word_docs.get(w, 0) + 1
        ranked = sorted(self.word_counts.items(), key=lambda kv: kv[1], reverse=True)
        vocab = ([self.oov_token] if self.oov_token is not None else []) + [w for w, _ in ranked]
        self.word_index = {w: i for i, w in enumerate(vocab, 1)}
        self.index_word = {i: w for w, i in self.word_index.items()}

    def texts_to_sequences(self, texts: Any) -> list[list[int]]:
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        out = []
        for text in texts:
            seq = []
            for w in self._words(text):
                i = self.word_index.get(w)
                if i is not None and self.num_words and i >= self.num_words:
                    i = None
                if i is not None:
                    seq.append(i)
                elif oov is not None:
                    seq.append(oov)
            out.append(seq)
        return out

    def sequences_to_texts(self, sequences: Any) -> list[str]:
        return [
            " ".join(self.index_word[i] for i in seq if i in self.index_word) for seq in sequences
        ]

    def texts_to_matrix(self, texts: Any, mode: str = "binary") -> np.ndarray:
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode)

    def sequences_to_matrix(self, sequences: Any, mode: str = "binary") -> np.ndarray:
        if not self.num_words and not self.word_index:
            raise GraphError("Tokenizer: fit_on_texts first, or give num_words")
        n = self.num_words or len(self.word_index) + 1
        if mode not in ("binary", "count", "freq", "tfidf"):
            raise GraphError(f"Tokenizer: unknown mode {mode!r}")
        x = np.zeros((len(sequences), n))
        for r, seq in enumerate(sequences):
            counts: dict[int, int] = {}
            for j in seq:
                if j < n:
                    counts[j] = counts.get(j, 0) + 1
            for j, c in counts.items():
                if mode == "count":
                    x[r, j] = c
                elif mode == "freq":
                    x[r, j] = c / len(seq)
                elif mode == "binary":
                    x[r, j] = 1
                else:
                    tf = 1 + np.log(c)
                    word = self.index_word.get(j)
                    docs = self.word_docs.get(word, 0)
                    x[r, j] = tf * np.log(1 + self.document_count / (1 + docs))
        return x
