"""tf.contrib.tensor_forest (TF 1.15): random forests of extremely random trees,
grown online from the batches a Session feeds.

    from kiln.contrib.tensor_forest.python import tensor_forest
    hparams = tensor_forest.ForestHParams(num_classes=10, num_features=784,
                                          num_trees=10, max_nodes=1000).fill()
    forest = tensor_forest.RandomForestGraphs(hparams)

tree.py grows one tree in numpy; python/tensor_forest.py is TensorFlow's graph
API over a forest of them (host ops: the trees live in Python, not in the IR).
"""
