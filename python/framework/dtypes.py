"""tensorflow.python.framework.dtypes: kiln's dtypes."""

from ...frontend.dtypes import *  # noqa: F401,F403
from ...frontend.dtypes import DType, as_dtype  # noqa: F401
