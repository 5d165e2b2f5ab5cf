"""tf.contrib.boosted_trees.proto: the config messages, as plain Python (learner_pb2)."""
