"""Time test_separability on n = 10^5, m = 50 random separable data (target: under 5 s).

Run: ``.venv/bin/python benchmarks/bench_separability.py [--non-separable]``. Prints the
wall time of each repetition, the hard-margin KKT residual and the number of support vectors.
The data: A with i.i.d. standard normal entries, y = sign(A·w*) for a random w*.
``--non-separable`` also times random labels, same n and m (the Stiemke LP path).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from service.core.analysis.separability import test_separability


def separable(n: int, m: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, m))
    y = np.where(A @ rng.standard_normal(m) >= 0.0, 1.0, -1.0)
    return y[:, None] * A


def main() -> None:
    n, m = 10**5, 50
    for seed in range(3):
        B = separable(n, m, seed)
        start = time.perf_counter()
        r = test_separability(B)
        elapsed = time.perf_counter() - start
        assert r.strictly_separable and r.max_margin is not None
        print(
            f"separable n={n} m={m} seed={seed}: {elapsed:.2f} s, "
            f"kkt_residual={r.max_margin.kkt_residual:.1e}, "
            f"support={r.max_margin.support_vectors.size}, margin={r.max_margin.margin:.3e}"
        )
    if "--non-separable" in sys.argv:
        rng = np.random.default_rng(0)
        B = rng.standard_normal((n, m)) * rng.choice([-1.0, 1.0], size=(n, 1))
        start = time.perf_counter()
        r = test_separability(B)
        elapsed = time.perf_counter() - start
        residual = r.certificate.residual if r.certificate else float("nan")
        print(
            f"random labels n={n} m={m}: {elapsed:.2f} s, weakly={r.weakly_separable}, "
            f"certificate={r.certificate.kind if r.certificate else None} "
            f"residual={residual:.1e}"
        )


if __name__ == "__main__":
    main()
