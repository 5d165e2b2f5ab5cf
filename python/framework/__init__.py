"""kl.python.framework: `tensorflow.python.framework` modules TF programs import by that path
(`ops`, `tensor_shape`, `tensor_util`, `dtypes`), as thin aliases of kiln's frontend."""
