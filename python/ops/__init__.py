"""kl.python.ops: `tensorflow.python.ops` modules TF programs import directly."""
