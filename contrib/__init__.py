"""kl.contrib: the tf.contrib names TF 1.x programs import, as a thin
namespace onto kiln's own implementations.

    from kiln.contrib import layers            # tf.contrib.layers
    tfe = kl.contrib.eager                     # tf.contrib.eager
    from kiln.contrib.factorization import KMeans

`contrib.rnn` is kiln.frontend.nn's rnn_cell names where that module has
them; `contrib.learn` has only RunConfig (the programs that use more of it
load datasets through it, which a shim replaces). `contrib.framework` has arg_scope;
`contrib.seq2seq` has sequence_loss, `contrib.legacy_seq2seq` its list-of-steps
forms (sequence_loss, sequence_loss_by_example). `contrib.tensor_forest`
and `contrib.boosted_trees` are imported by their module paths, as TF
programs do.
"""

from . import eager, factorization, framework, layers, learn, legacy_seq2seq, rnn, seq2seq

__all__ = [
    "eager",
    "factorization",
    "framework",
    "layers",
    "learn",
    "legacy_seq2seq",
    "rnn",
    "seq2seq",
]
