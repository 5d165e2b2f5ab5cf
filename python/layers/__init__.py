"""kl.python.layers: `tensorflow.python.layers.utils`, which TF-1.x layer code imports."""
