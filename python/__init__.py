"""kl.python: the few `tensorflow.python` modules that public TF programs import
by that path (`from tensorflow.python.ops import resources`), over kiln's own
implementations. TensorFlow's internals are otherwise not mirrored."""
