"""minimax: the coefficients of vecmath's exp polynomial, by the Remez exchange.

vecmath computes e^r - 1 = r + r^2 P(r) for |r| <= ln(2) / 2 (after its range
reduction; exp adds the 1, expm1 scales it). P is the polynomial of a given
degree that minimises the largest relative error of e^r - 1 over that
interval, which bounds the relative error of e^r too (|e^r - 1| < e^r): the
weighted minimax approximation of g(r) = (e^r - 1 - r) / r^2 with weight
r^2 / (e^r - 1). The Remez exchange finds it: solve for P and the levelled
error E on a reference of degree + 2 points, move the reference to the
error's alternating extrema, repeat until the extrema are level (or, for f64,
the error is down in long double's noise: then the best iterate).

Everything runs in numpy's long double (64 significant bits on x86), so the
error curve is resolved well below f64's rounding; g comes from its Taylor
series (no cancellation near 0). The coefficients are then rounded to the
target format: vecmath holds them as literals, and tests/codegen/
test_vecmath.py checks that this module reproduces them.

    python -m kiln.codegen.llvm.minimax    # prints the coefficients and errors
"""

from __future__ import annotations

import numpy as np

LD = np.longdouble
HALF_LN2 = LD("0.3465735902799726547086160607290882840377")


def g(r: np.ndarray) -> np.ndarray:
    """(e^r - 1 - r) / r^2 = sum_{n>=2} r^(n-2) / n!, by its series."""
    total = np.zeros_like(r)
    term = np.full_like(r, LD(1) / 2)
    for n in range(3, 40):
        total += term
        term = term * r / n
    return total


def weight(r: np.ndarray) -> np.ndarray:
    """Turns an error in P into the relative error of e^r - 1: r^2 / (e^r - 1)."""
    return np.abs(r / (1 + r * g(r)))


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a x = b by Gaussian elimination with partial pivoting, in long double
    (numpy's linalg has no long double)."""
    a, b = a.copy(), b.copy()
    n = len(b)
    for col in range(n):
        pivot = col + int(np.argmax(np.abs(a[col:, col])))
        a[[col, pivot]], b[[col, pivot]] = a[[pivot, col]], b[[pivot, col]]
        for row in range(col + 1, n):
            f = a[row, col] / a[col, col]
            a[row, col:] -= f * a[col, col:]
            b[row] -= f * b[col]
    x = np.zeros(n, dtype=LD)
    for row in reversed(range(n)):
        x[row] = (b[row] - a[row, row + 1 :] @ x[row + 1 :]) / a[row, row]
    return x


def _horner(c: np.ndarray, r: np.ndarray) -> np.ndarray:
    acc = np.full_like(r, c[-1])
    for coefficient in c[-2::-1]:
        acc = acc * r + coefficient
    return acc


def relative_error(c, r: np.ndarray) -> np.ndarray:
    """(r + r^2 P(r)) / (e^r - 1) - 1 for P's coefficients `c` (lowest first)."""
    return weight(r) * (_horner(np.asarray(c, dtype=LD), r) - g(r))


def remez(degree: int, half_width: LD = HALF_LN2, iterations: int = 30) -> np.ndarray:
    """P's coefficients (lowest first, `degree` + 1 of them), in long double."""
    n = degree + 2
    # an even count leaves out r = 0, where the weight (and so the error) is 0
    grid = np.linspace(-half_width, half_width, 20000, dtype=LD)
    ref = -half_width * np.cos(np.pi * (np.arange(n, dtype=LD) + 0.5) / n)  # Chebyshev nodes
    best, best_error = None, None
    for _ in range(iterations):
        a = np.zeros((n, n), dtype=LD)
        a[:, : degree + 1] = ref[:, None] ** np.arange(degree + 1)
        a[:, degree + 1] = (-1.0) ** np.arange(n) / weight(ref)
        c = _solve(a, g(ref))[: degree + 1]
        err = relative_error(c, grid)
        largest = np.max(np.abs(err))
        if best_error is None or largest < best_error:
            best, best_error = c, largest
        # the alternating extrema: the largest |err| between sign changes
        cuts = np.flatnonzero(np.diff(np.sign(err)) != 0) + 1
        extrema = [p[np.argmax(np.abs(err[p]))] for p in np.split(np.arange(grid.size), cuts)]
        while len(extrema) > n:  # drop the smaller end
            extrema = extrema[1:] if abs(err[extrema[0]]) < abs(err[extrema[-1]]) else extrema[:-1]
        if len(extrema) < n or np.array_equal(grid[extrema], ref):
            break  # levelled; or the error is down in long double's noise
        ref = grid[extrema]
    return best


def rounded(c: np.ndarray, dtype) -> list[float]:
    """The coefficients rounded to `dtype` (np.float32 or np.float64), as the
    exact Python floats vecmath writes as literals."""
    return [float(dtype(x)) for x in c]


# vecmath's choices: the degree of P for each format
DEGREES = {"f32": 4, "f64": 9}


def coefficients(fmt: str) -> list[float]:
    dtype = {"f32": np.float32, "f64": np.float64}[fmt]
    return rounded(remez(DEGREES[fmt]), dtype)


def main() -> None:
    grid = np.linspace(-HALF_LN2, HALF_LN2, 200001, dtype=LD)
    for fmt, eps in (("f32", 2.0**-24), ("f64", 2.0**-53)):
        c = coefficients(fmt)
        err = float(np.max(np.abs(relative_error(c, grid))))
        print(
            f"{fmt}: P of degree {DEGREES[fmt]}, max relative error {err:.3g} "
            f"= {err / eps:.3f} half-ulp"
        )
        for x in c:
            print(f"    {x!r},")


if __name__ == "__main__":
    main()
