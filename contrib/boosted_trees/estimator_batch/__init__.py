"""tf.contrib.boosted_trees.estimator_batch: the module path TF programs import from."""
