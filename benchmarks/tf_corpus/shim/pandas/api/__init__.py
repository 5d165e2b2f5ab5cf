"""pandas.api.types, for scikit-learn's dtype checks on the shim's Series."""

from . import types  # noqa: F401
