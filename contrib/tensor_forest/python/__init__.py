"""tf.contrib.tensor_forest.python: the module path TF programs import from."""
