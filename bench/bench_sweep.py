"""Sweep overhead per shard: the local process pool vs Ray, on the loopback server.

A plan of S shards (models × one task × direct, 2 items each) against the in-process
loopback server with no latency, so the wall time is the executor's and the runner's
own cost: process start, imports, task load, store creation, state files. Ray's start
(``ray.init``) is timed apart from the sweep.

    .venv/bin/python bench/bench_sweep.py --shards 16 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def plan_file(folder: Path, base_url: str, shards: int) -> Path:
    models = json.dumps([f"openai/m{i}" for i in range(shards)])
    path = folder / "grid.toml"
    path.write_text(f'models = {models}\ntasks = ["medqa"]\nstrategies = ["direct"]\n'
                    f'sample = true\nlimit = 2\nbase_url = "{base_url}"\n')
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from medq.sweep import LocalExecutor, RayExecutor, load_plan, run_sweep
    from medq.sweep.executors import RAY_LOOPBACK_ENV
    from medq.testing.openai_server import FakeOpenAIServer

    rows = []
    with FakeOpenAIServer() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ["MEDQ_HOME"] = str(Path(tmp) / "home")
        for name in ("local", "ray"):
            folder = Path(tmp) / name
            folder.mkdir()
            plan = load_plan(plan_file(folder, server.base_url, args.shards))
            start_s = 0.0
            if name == "ray":
                for key, value in RAY_LOOPBACK_ENV.items():
                    os.environ.setdefault(key, value)
                import ray

                t0 = time.perf_counter()
                ray.init(num_cpus=args.workers, include_dashboard=False,
                         _node_ip_address="127.0.0.1", log_to_driver=False)
                start_s = time.perf_counter() - t0
                executor = RayExecutor(cpus_per_item=1)
            else:
                executor = LocalExecutor(args.workers)
            t0 = time.perf_counter()
            results = run_sweep(plan, executor)
            wall = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = run_sweep(plan, executor)
            rerun = time.perf_counter() - t0
            if name == "ray":
                ray.shutdown()
            assert all(r.state == "done" for r in results) and all(r.skipped for r in again)
            rows.append({"executor": name, "shards": args.shards, "workers": args.workers,
                         "start_s": round(start_s, 2), "sweep_s": round(wall, 2),
                         "per_shard_s": round(wall * args.workers / args.shards, 3),
                         "rerun_all_done_s": round(rerun, 2)})
            print(json.dumps(rows[-1]), flush=True)
    print("\n| executor | shards | workers | start s | sweep s | s per shard per worker | "
          "re-run (all done) s |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['executor']} | {r['shards']} | {r['workers']} | {r['start_s']} | "
              f"{r['sweep_s']} | {r['per_shard_s']} | {r['rerun_all_done_s']} |")


if __name__ == "__main__":
    main()
