"""Every op kind kiln knows, grouped by family. Importing this registers them."""

from . import array, control, conv, creation, elementwise, linalg, nn, reduce, shape  # noqa: F401
