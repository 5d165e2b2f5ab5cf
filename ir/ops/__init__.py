"""Every op kind kiln knows, grouped by family. Importing this registers them."""

from . import control, creation, elementwise, linalg, reduce, shape  # noqa: F401
