"""A small pandas stand-in (neither interpreter the corpus runs under has pandas): the
DataFrame / Series calls corpus programs make (read_csv of a whitespace table, column access,
apply, unique, sample, drop, iloc), numpy arrays underneath, one integer index per frame.
isinstance(x, pandas.Series / DataFrame) is False, so that libraries which test for pandas
(scikit-learn through narwhals) take these objects for the numpy array-likes they are."""

from __future__ import annotations

import numpy as np

__version__ = "0.0-tf-corpus-shim"


class SparseDtype:
    """No dtype of the shim is sparse (scikit-learn tests for it)."""


class StringDtype:
    """Nor a pandas string dtype."""


def _array(values):
    values = list(values) if not isinstance(values, np.ndarray) else values
    try:
        arr = np.asarray(values)
    except ValueError:
        arr = None
    if arr is None or arr.ndim != 1:
        arr = np.empty(len(values), dtype=object)
        arr[:] = list(values)
    return arr


class _ILoc:
    def __init__(self, owner):
        self.owner = owner

    def __getitem__(self, key):
        return self.owner._rows(key)


class _Series:
    def __init__(self, data=None, index=None, name=None):
        if type(data) is _Series:
            data, index = data.values, data.index if index is None else index
        self.values = _array([] if data is None else data)
        self.index = np.arange(len(self.values)) if index is None else np.asarray(index)
        self.name = name

    dtype = property(lambda self: self.values.dtype)
    shape = property(lambda self: self.values.shape)
    iloc = property(lambda self: _ILoc(self))

    def __len__(self):
        return len(self.values)

    def __iter__(self):
        return iter(self.values)

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)

    def __getitem__(self, label):
        return self.values[list(self.index).index(label)]

    def _rows(self, key):
        if np.isscalar(key):
            return self.values[key]
        return _Series(self.values[key], self.index[key], self.name)

    def take(self, indices, axis=0):
        return self._rows(np.asarray(indices))

    def to_numpy(self, dtype=None):
        return self.__array__(dtype)

    def apply(self, fn):
        return _Series([fn(v) for v in self.values], self.index, self.name)

    def unique(self):
        seen = {}
        for v in self.values:
            seen.setdefault(v, None)
        return _array(list(seen))

    def __repr__(self):
        return "\n".join(f"{i}    {v}" for i, v in zip(self.index, self.values))


class _DataFrame:
    def __init__(self, data=None, index=None, columns=None):
        if isinstance(data, dict):
            cols = {k: _array(v) for k, v in data.items()}
        else:
            arr = np.asarray(data, dtype=object if columns and len(columns) == 1 else None)
            arr = arr.reshape(len(arr), -1)
            columns = list(columns) if columns is not None else list(range(arr.shape[1]))
            cols = {
                c: _array(arr[:, j]) if arr.dtype == object else arr[:, j]
                for j, c in enumerate(columns)
            }
        n = len(next(iter(cols.values()))) if cols else 0
        self._cols = cols
        self.index = np.arange(n) if index is None else np.asarray(index)

    columns = property(lambda self: list(self._cols))
    shape = property(lambda self: (len(self.index), len(self._cols)))
    values = property(lambda self: np.stack(list(self._cols.values()), axis=1))
    iloc = property(lambda self: _ILoc(self))

    def __len__(self):
        return len(self.index)

    def __getitem__(self, col):
        return _Series(self._cols[col], self.index, col)

    def __setitem__(self, col, values):
        self._cols[col] = _array(values.values if type(values) is _Series else values)

    def __getattr__(self, name):
        cols = self.__dict__.get("_cols", {})
        if name in cols:
            return self[name]
        raise AttributeError(name)

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)

    def _rows(self, key):
        key = np.atleast_1d(np.asarray(key)) if not isinstance(key, slice) else key
        out = _DataFrame({c: v[key] for c, v in self._cols.items()})
        out.index = self.index[key]
        return out

    def take(self, indices, axis=0):
        return self._rows(np.asarray(indices))

    def copy(self):
        return self._rows(slice(None))

    def head(self, n=5):
        return self._rows(slice(0, n))

    def tail(self, n=5):
        return self._rows(slice(max(len(self) - n, 0), None))

    def sample(self, n=None, frac=None, random_state=None):
        n = int(round(frac * len(self))) if n is None else n
        return self._rows(np.random.RandomState(random_state).permutation(len(self))[:n])

    def drop(self, labels=None, index=None):
        gone = set(np.asarray(labels if index is None else index).tolist())
        return self._rows(np.array([i for i, lab in enumerate(self.index) if lab not in gone]))

    def __repr__(self):
        return f"<DataFrame {self.shape[0]} rows x {self.shape[1]} columns: {self.columns}>"


class _Public(type):
    """pandas.Series / pandas.DataFrame: calling one makes the shim's object, and isinstance
    of either is False."""

    def __instancecheck__(cls, obj):
        return False

    def __call__(cls, *a, **k):
        return cls.make(*a, **k)


class Series(metaclass=_Public):
    make = _Series


class DataFrame(metaclass=_Public):
    make = _DataFrame


def RangeIndex(start=0, stop=None, step=1):
    return np.arange(start, stop, step)


def read_csv(path, names=None, na_values=None, comment=None, sep=",", skipinitialspace=False, **_):
    """A table of numbers; sep=" " with skipinitialspace (or a regex of spaces) splits on runs of
    whitespace, as pandas does for such files."""
    rows = []
    with open(path) as f:
        for line in f:
            if comment:
                line = line.split(comment)[0]
            if not line.strip():
                continue
            fields = line.split() if sep in (" ", r"\s+") else line.rstrip("\n").split(sep)
            rows.append([np.nan if v.strip() == na_values else float(v) for v in fields])
    arr = np.asarray(rows, dtype=np.float64)
    names = list(names) if names is not None else list(range(arr.shape[1]))
    return _DataFrame({c: arr[:, j] for j, c in enumerate(names)})
