"""No-op mpl_toolkits.axes_grid1: ImageGrid iterates over its nrows x ncols axes."""

from matplotlib import _Anything


def ImageGrid(fig, rect, nrows_ncols=(1, 1), **k):
    return [_Anything() for _ in range(nrows_ncols[0] * nrows_ncols[1])]


def __getattr__(name):
    return _Anything
