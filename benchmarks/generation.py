"""Synthetic portfolio generation: firms per second and peak memory at 100k and 1M firms.

Each size runs in its own process so that peak memory is that size's alone.
Run: .venv/bin/python benchmarks/generation.py [--sizes 100000 1000000]
"""
from __future__ import annotations

import argparse

from _measure import run_isolated

CODE = """
from innoscore.features.synthetic import generate_portfolio
from innoscore.features.catalogue import load_catalogue
cat = load_catalogue()
generate_portfolio(1000, seed=0, catalogue=cat)  # warm imports and caches
t0 = time.perf_counter()
p = generate_portfolio({n}, seed=1, catalogue=cat)
gen = time.perf_counter() - t0
t0 = time.perf_counter()
p.data.to_parquet('/tmp/innoscore-bench.parquet')
write = time.perf_counter() - t0
RESULT = {{'n_firms': {n}, 'generate_s': round(gen, 2), 'firms_per_s': round({n} / gen),
           'write_parquet_s': round(write, 2)}}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    print(f"{'firms':>10} {'generate s':>11} {'firms/s':>10} {'write s':>8} {'peak MB':>8}")
    for n in args.sizes:
        r = run_isolated(CODE.format(n=n))
        print(f"{r['n_firms']:>10,} {r['generate_s']:>11} {r['firms_per_s']:>10,} "
              f"{r['write_parquet_s']:>8} {r['peak_rss_mb']:>8}")


if __name__ == "__main__":
    main()
