"""Draw tl.rand / tl.randn under TRITON_INTERPRET=1 and save them (run as a script).

Usage: python triton_rand.py SEED N OUT.npz. torch is not needed: `NpTensor`
gives the interpreter just enough of a tensor around a numpy array.
"""

import os
import sys

os.environ["TRITON_INTERPRET"] = "1"

import numpy as np  # noqa: E402
import triton  # noqa: E402
import triton.language as tl  # noqa: E402


class _DType:
    def __init__(self, name: str):
        self.name = name

    def __str__(self) -> str:
        return f"torch.{self.name}"


class _Storage:
    def __init__(self, array: np.ndarray):
        self.array = array

    def data_ptr(self) -> int:
        return self.array.ctypes.data

    def cpu(self):
        return self

    def copy_(self, other) -> None:  # host and "device" share memory: nothing to copy
        pass


class NpTensor:
    """A float32 numpy array dressed as a CPU torch tensor (shared memory, no copies)."""

    def __init__(self, array: np.ndarray):
        assert array.dtype == np.float32 and array.flags.c_contiguous
        self.array = array
        self.dtype = _DType("float32")
        self.shape = array.shape

    def data_ptr(self) -> int:
        return self.array.ctypes.data

    def untyped_storage(self) -> _Storage:
        return _Storage(self.array)

    def storage_offset(self) -> int:
        return 0

    def size(self):
        return self.shape

    def stride(self):
        return tuple(s // self.array.itemsize for s in self.array.strides)

    def new_empty(self, *args, **kwargs):
        return self

    def set_(self, storage, offset, size, stride):
        return NpTensor(storage.array)


@triton.jit
def _draw(uniform_ptr, normal_ptr, seed, N: tl.constexpr):
    offsets = tl.arange(0, N)
    tl.store(uniform_ptr + offsets, tl.rand(seed, offsets))
    tl.store(normal_ptr + offsets, tl.randn(seed, offsets))


def main() -> None:
    seed, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    uniform, normal = np.zeros(n, np.float32), np.zeros(n, np.float32)
    _draw[(1,)](NpTensor(uniform), NpTensor(normal), seed, n)
    np.savez(out, uniform=uniform, normal=normal)


if __name__ == "__main__":
    main()
