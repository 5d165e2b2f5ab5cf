"""tf.contrib.boosted_trees (TF 1.15): the gradient-boosted decision tree
estimators and the LearnerConfig that sets them up.

    from kiln.contrib.boosted_trees.estimator_batch.estimator import (
        GradientBoostedDecisionTreeClassifier)
    from kiln.contrib.boosted_trees.proto import learner_pb2

Both are kiln.estimator's boosted trees (estimator/boosted_trees.py) with
tf.contrib's arguments.
"""
