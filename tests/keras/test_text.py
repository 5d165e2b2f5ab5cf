"""keras.preprocessing.text (issue 18): Tokenizer and text_to_word_sequence.
The expected values were printed by tf_keras (TF 2.21) running
tests/keras/tf_text_reference.py on the same texts."""

from kiln import keras

INDEX = {
    "<OOV>": 1,
    "the": 2,
    "dogs": 3,
    "cats": 4,
    "cat": 5,
    "sat": 6,
    "on": 7,
    "mat": 8,
    "dog": 9,
    "ate": 10,
    "my": 11,
    "homework": 12,
    "and": 13,
    "friends": 14,
}
SEQS = [[2, 5, 6, 7, 2, 1], [2, 1, 1, 1, 1], [3, 1, 4, 1, 4, 3], [2, 2, 2], [1, 5, 1, 1, 1]]
SEQS2 = [[4, 8, 11]]
MAT = {
    "binary": [0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
    "count": [0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
    "freq": [0.0, 0.2, 0.0, 0.0, 0.0, 0.0],
    "tfidf": [0.0, 0.69315, 0.0, 0.0, 0.0, 0.0],
}
WORDS = ["hello", "world", "it's", "ok"]
TEXTS = ["the dogs cats"]


TEXTS_IN = [
    "The cat sat on the mat.",
    "The dog ate my homework!",
    "Dogs and cats: friends? Cats, dogs...",
    "the THE the",
]


def _round(m):
    return m.round(5).tolist()[1][:6]


def test_tokenizer_matches_keras():
    text = keras.preprocessing.text
    t = text.Tokenizer(num_words=8, oov_token="<OOV>")
    t.fit_on_texts(TEXTS_IN)
    assert t.word_index == INDEX
    assert t.texts_to_sequences(TEXTS_IN + ["a cat and a mat"]) == SEQS
    t2 = text.Tokenizer()
    t2.fit_on_texts(TEXTS_IN)
    assert t2.texts_to_sequences(["cat dog homework unknown"]) == SEQS2
    got = {m: _round(t2.texts_to_matrix(TEXTS_IN[:2], mode=m)) for m in MAT}
    assert got == MAT
    assert text.text_to_word_sequence("Hello, World! It's--ok") == WORDS
    assert t2.sequences_to_texts([[1, 2, 3]]) == TEXTS
