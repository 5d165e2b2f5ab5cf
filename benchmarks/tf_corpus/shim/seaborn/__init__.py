"""No-op seaborn: corpus programs style and draw plots with it; nothing is drawn."""

from matplotlib import _Anything


def __getattr__(name):
    return _Anything()
