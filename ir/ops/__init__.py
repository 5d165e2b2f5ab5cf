"""Every op kind kiln knows, grouped by family. Importing this registers them."""

from . import (  # noqa: F401
    array,
    control,
    conv,
    creation,
    depthwise,
    detection,
    elementwise,
    indexing,
    linalg,
    nn,
    reduce,
    resize,
    shape,
)
