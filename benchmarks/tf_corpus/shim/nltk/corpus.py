"""nltk.corpus.stopwords from scikit-learn's English stop words."""

from __future__ import annotations

import types


def _words(language="english"):
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(ENGLISH_STOP_WORDS)


stopwords = types.SimpleNamespace(words=_words)
