"""Every op kind kiln knows, grouped by family. Importing this registers them."""

from . import control, creation, elementwise, linalg, nn, reduce, shape  # noqa: F401
