"""pandas.api.types' dtype predicates on numpy dtypes (the shim has no extension dtypes)."""

import numpy as np


def is_bool_dtype(dtype):
    return np.dtype(dtype) == np.bool_


def is_float_dtype(dtype):
    return np.issubdtype(np.dtype(dtype), np.floating)


def is_integer_dtype(dtype):
    return np.issubdtype(np.dtype(dtype), np.integer)


def is_extension_array_dtype(dtype):
    return False
