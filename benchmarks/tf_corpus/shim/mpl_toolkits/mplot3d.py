"""No-op mpl_toolkits.mplot3d: Axes3D(fig) accepts any call."""

from matplotlib import _Anything

Axes3D = _Anything


def __getattr__(name):
    return _Anything
