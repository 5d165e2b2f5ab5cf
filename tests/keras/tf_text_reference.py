"""Prints the tf_keras values stored in test_text.py (TF 2.21, tf_keras).

Not a test; TensorFlow is no kiln dependency. `... kiln` runs it under kiln.
"""

import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_USE_LEGACY_KERAS"] = "1"
if sys.argv[1:] == ["kiln"]:
    sys.path.insert(0, "/work/wt/tf")
    from kiln import keras
else:
    import tf_keras as keras
texts = [
    "The cat sat on the mat.",
    "The dog ate my homework!",
    "Dogs and cats: friends? Cats, dogs...",
    "the THE the",
]
t = keras.preprocessing.text.Tokenizer(num_words=8, oov_token="<OOV>")
t.fit_on_texts(texts)
print("INDEX =", t.word_index)
print("SEQS =", t.texts_to_sequences(texts + ["a cat and a mat"]))
t2 = keras.preprocessing.text.Tokenizer()
t2.fit_on_texts(texts)
print("SEQS2 =", t2.texts_to_sequences(["cat dog homework unknown"]))
print(
    "MAT =",
    {
        m: t2.texts_to_matrix(texts[:2], mode=m).round(5).tolist()[1][:6]
        for m in ("binary", "count", "freq", "tfidf")
    },
)
print("WORDS =", keras.preprocessing.text.text_to_word_sequence("Hello, World! It's--ok"))
print("TEXTS =", t2.sequences_to_texts([[1, 2, 3]]))
