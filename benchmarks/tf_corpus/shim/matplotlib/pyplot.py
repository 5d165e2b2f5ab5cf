"""No-op pyplot: every call returns an object that accepts anything (subplots unpack to 2);
text() also prints its string, since some tutorials report their loss only on the plot."""

from matplotlib import _Anything


def subplots(*a, **k):
    import numpy as np

    nrows = k.get("nrows", a[0] if a else 1)
    ncols = k.get("ncols", a[1] if len(a) > 1 else 1)
    if nrows == 1 and ncols == 1:
        return _Anything(), _Anything()
    shape = (ncols,) if nrows == 1 else (nrows,) if ncols == 1 else (nrows, ncols)
    axs = np.empty(shape, dtype=object)
    for i in np.ndindex(shape):
        axs[i] = _Anything()
    return _Anything(), axs


def text(x, y, s, *a, **k):
    print(s)
    return _Anything()


def __getattr__(name):
    return _Anything()
