"""The TensorFlow-1.x graph frontend: `import kiln as kl` and write TF 1.x.

    a = kl.constant(2); b = kl.placeholder(kl.int32); c = a + b
    with kl.Session() as s:
        s.run(c, feed_dict={b: 3})        # 5

The modules are layers, each importing only those below it (docs/frontend.md,
checked by the import-linter contracts in .importlinter). kiln.keras,
kiln.data and kiln.viz build on this package; kiln's own __init__ puts them
beside it as kl.keras, kl.data and kl.viz.
"""

import types as _types

from . import (
    errors,  # tf.errors (OutOfRangeError, ...)
    feature_column,  # tf.feature_column (dict of features -> one dense tensor)
    image,
    layers,
    losses,
    metrics,  # tf.metrics (streaming metrics in local variables)
    nn,
    operators,
    rnn,
    summary,
    train,
)
from . import optimizers_v2 as optimizers
from . import testing as test  # tf.test (TestCase, main on unittest)
from .array_ops import *  # noqa: F403  (stack, split, gather, range, shape, ...)
from .contractions import einsum, tensordot
from .control_flow import case, cond, foldl, foldr, map_fn, scan, while_loop
from .custom_gradient import custom_gradient
from .dtypes import (
    DType,
    as_dtype,
    bfloat16,
    bool_,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    string,
    uint8,
    uint16,
    uint32,
    uint64,
)
from .eager import (
    EagerTensor,
    disable_eager_execution,
    eager_mode,
    enable_eager_execution,
    init_scope,
)
from .export import export_ir
from .function import Function, TensorSpec, function
from .gradients import RegisterGradient, gradients
from .graph import (
    Dimension,
    Graph,
    GraphError,
    Operation,
    Tensor,
    TensorShape,
    control_dependencies,
    dimension_value,
    executing_eagerly,
    get_default_graph,
    get_default_session,
    name_scope,
    reset_default_graph,
)
from .indexing import scatter_nd, sequence_mask, strided_slice
from .local import initialize_local_variables, local_variables, local_variables_initializer
from .module import Module
from .moving_averages import moving_average_variables
from .ops import *  # noqa: F403  (the op functions, TensorFlow's names)
from .ops import placeholder  # noqa: F401
from .padding import eye, pad
from .py_ops import (  # noqa: A004
    Print,
    add_check_numerics_ops,
    check_numerics,
    numpy_function,
    print,
    py_func,
    py_function,
)
from .queues import FIFOQueue, PaddingFIFOQueue, QueueBase, RandomShuffleQueue
from .readers import (
    FixedLengthRecordReader,
    ReaderBase,
    TextLineReader,
    TFRecordReader,
    WholeFileReader,
)
from .session import InteractiveSession, Session, device
from .sorting import argsort, norm, sort
from .tape import GradientTape, UnconnectedGradients
from .variables import (
    AUTO_REUSE,
    Variable,
    add_to_collection,
    all_variables,
    constant_initializer,
    get_collection,
    get_variable,
    get_variable_scope,
    global_variables,
    global_variables_initializer,
    glorot_normal_initializer,
    glorot_uniform_initializer,
    initialize_all_variables,
    ones_initializer,
    random_normal_initializer,
    random_uniform_initializer,
    set_random_seed,
    trainable_variables,
    truncated_normal_initializer,
    variable_scope,
    variables_initializer,
    zeros_initializer,
)

bool = bool_  # noqa: A001  (kl.bool, as tf.bool)

# TensorFlow's sub-namespaces and the TF 1.x top-level names built on them
# (namespaces.py); kiln's root package binds kl.strings, kl.math, ...
from . import (  # noqa: E402
    conv3d,  # tf.nn.conv3d/max_pool3d/avg_pool3d (bound into kl.nn below)
    monitored,  # kl.train's monitored loop (bound into kl.train below)
    namespaces,
    summary_trace,  # tf.summary.trace_on/trace_export (bound into kl.summary below)
)
from .namespaces import (  # noqa: E402
    FLAGS,
    ConfigProto,
    GPUOptions,
    GraphOptions,
    OptimizerOptions,
    RunMetadata,
    RunOptions,
    app,
    arg_max,
    arg_min,
    assign,
    assign_add,
    assign_sub,
    ceil,
    config,
    count_nonzero,
    debugging,
    disable_v2_behavior,
    div,
    enable_v2_behavior,
    erf,
    expm1,
    flags,
    floor,
    floormod,
    initializers,
    io,
    is_finite,
    is_inf,
    is_nan,
    log1p,
    log_sigmoid,
    logging,
    logical_xor,
    math,
    mod,
    multinomial,
    newaxis,
    placeholder_with_default,
    python_io,
    random,
    random_crop,
    random_normal,
    random_shuffle,
    random_uniform,
    realdiv,
    reciprocal,
    reduce_all,
    reduce_any,
    reduce_logsumexp,
    rint,
    round,
    scalar_mul,
    slice,
    sparse,
    squared_difference,
    to_float,
    to_int32,
    to_int64,
    truncated_normal,
    truncatediv,
)
from .namespaces import gfile_v1 as gfile  # noqa: E402
from .records import (  # noqa: E402
    FixedLenFeature,
    FixedLenSequenceFeature,
    VarLenFeature,
    parse_example,
    parse_single_example,
)
from .sparse import (  # noqa: E402
    SparseTensor,
    SparseTensorValue,
    edit_distance,
    sparse_placeholder,
    sparse_tensor_to_dense,
)
from .strings import (  # noqa: E402
    as_string,
    decode_csv,
    decode_raw,
    matching_files,
    read_file,
    reduce_join,  # noqa: E402
    write_file,
)
from .strings import join as string_join  # noqa: E402
from .strings import split as string_split  # noqa: E402
from .strings import to_number as string_to_number  # noqa: E402

# monitored.py builds on train.py, summary_trace.py on summary.py, conv3d.py on
# nn.py: bound here
for _module, _into in ((monitored, train), (summary_trace, summary), (conv3d, nn)):
    for _name in _module.__all__:
        setattr(_into, _name, getattr(_module, _name))
del _module, _into, _name

# GraphDef round trip (graph_def.py builds on graph.py, train.py and summary.py):
# tf.import_graph_def, tf.GraphDef, Graph.as_graph_def, tf.train.write_graph, and
# tf.graph_util's freezing
from . import graph_def as _graph_def  # noqa: E402

# tf.linalg and its TF 1.x top-level names (tf.matrix_inverse, tf.diag, ...)
from .graph_def import GraphDef, NodeDef, import_graph_def  # noqa: E402
from .linalg import (  # noqa: E402
    cholesky,
    cross,
    diag,
    matrix_determinant,
    matrix_diag,
    matrix_diag_part,
    matrix_inverse,
    matrix_solve,
    matrix_transpose,
    self_adjoint_eig,
    unsorted_segment_sum,
)
from .linalg import tensor_diag_part as diag_part  # noqa: E402
from .namespaces import linalg_namespace as linalg  # noqa: E402

train.write_graph = namespaces.io.write_graph = _graph_def.write_graph  # TF 1.x, TF 2
train.SummaryWriter = summary.FileWriter  # TF 0.x's name (tf.summary.FileWriter since 0.12)
graph_util = _types.ModuleType("kiln.graph_util", "tf.graph_util: freezing GraphDefs.")
graph_util.convert_variables_to_constants = _graph_def.convert_variables_to_constants
graph_util.extract_sub_graph = _graph_def.extract_sub_graph

# kl.nn.rnn_cell (this module is TF's rnn_cell namespace) and the RNN drivers
nn.rnn_cell = rnn
nn.dynamic_rnn = rnn.dynamic_rnn
nn.static_rnn = rnn.static_rnn
nn.bidirectional_dynamic_rnn = rnn.bidirectional_dynamic_rnn
nn.static_bidirectional_rnn = rnn.static_bidirectional_rnn
