"""kl.contrib: the tf.contrib names TF 1.x programs import, as a thin
namespace onto kiln's own implementations.

    from kiln.contrib import layers            # tf.contrib.layers
    tfe = kl.contrib.eager                     # tf.contrib.eager
    from kiln.contrib.factorization import KMeans

`contrib.rnn` is kiln.frontend.nn's rnn_cell names where that module has
them; `contrib.learn` is left out (the programs that use it load datasets
through it, which a shim replaces).
"""

from . import eager, factorization, layers, rnn

__all__ = ["eager", "factorization", "layers", "rnn"]
