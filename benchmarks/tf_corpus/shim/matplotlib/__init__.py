"""No-op matplotlib stand-in: corpus programs plot; the harness only needs them to run."""


class _Anything:
    def __init__(self, *a, **k):
        pass

    def __call__(self, *a, **k):
        return _Anything()

    def __getattr__(self, name):
        return _Anything()

    def __iter__(self):
        return iter([_Anything(), _Anything()])

    def __getitem__(self, key):
        return _Anything()


def __getattr__(name):
    return _Anything()


def use(*a, **k):
    pass
