"""`python -m bench [NAME ...] [-- ARGS]`: run every bench/bench_*.py, or the named ones.

Each benchmark runs in its own child process, so one that crashes does not stop the others,
and the peak memory printed is that benchmark's own (its largest process: itself or a child
it waited for). Arguments after `--` go to each one.
Exits 0 when every benchmark ran to the end, 1 when any failed.
"""

from __future__ import annotations

import argparse
import ast
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PREFIX = "bench_"

# For a module that defines main() without an `if __name__ == "__main__":` block; argv is
# set as if the module had been run with `python -m`.
CALL_MAIN = (
    "import importlib, sys; module = sys.argv[1]; sys.argv = [module, *sys.argv[2:]]; "
    "sys.exit(importlib.import_module(module).main())"
)


def discover() -> dict[str, Path]:
    """Benchmark name ("imaging" for bench_imaging.py) -> its file, in name order."""
    return {
        path.stem.removeprefix(PREFIX): path for path in sorted(BENCH_DIR.glob(f"{PREFIX}*.py"))
    }


def entry_points(path: Path) -> tuple[bool, bool]:
    """(runs as a script, defines main()) for the module, read without importing it."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return True, False  # run it as a script and let the child report the error
    script = any(
        isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) for node in tree.body
    )
    main = any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "main"
        for node in tree.body
    )
    return script, main


def command(path: Path, extra: list[str]) -> list[str]:
    """`python -m bench.<module>`; a module with main() but no __main__ block gets main() called."""
    module = f"bench.{path.stem}"
    script, main = entry_points(path)
    if main and not script:
        return [sys.executable, "-c", CALL_MAIN, module, *extra]
    return [sys.executable, "-m", module, *extra]


def run_one(name: str, path: Path, extra: list[str]) -> tuple[int, float, float]:
    """Run one benchmark in a child; returns (exit code, seconds, peak RSS in MB)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # its output interleaves with ours in order
    started = time.perf_counter()
    child = subprocess.Popen(command(path, extra), cwd=ROOT, env=env)  # noqa: S603
    try:
        # wait4 gives this child's own resource usage (ru_maxrss in KB on Linux), which
        # RUSAGE_CHILDREN would blur into a maximum over every benchmark run so far.
        _, status, usage = os.wait4(child.pid, 0)
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        raise
    child.returncode = os.waitstatus_to_exitcode(status)
    peak_mb = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 1048576
    return child.returncode, time.perf_counter() - started, peak_mb


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    available = discover()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(available)}"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(available))
        return 0
    names = [name.removeprefix(PREFIX).removesuffix(".py") for name in args.names] or list(
        available
    )
    unknown = [name for name in names if name not in available]
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (have: {', '.join(available)})")

    outcomes = []
    for index, name in enumerate(names, 1):
        path = available[name]
        print(
            f"\n{'=' * 100}\n[{index}/{len(names)}] {name}  ({path.relative_to(ROOT)})\n{'=' * 100}"
        )
        sys.stdout.flush()
        code, seconds, peak_mb = run_one(name, path, extra)
        outcomes.append((name, code, seconds, peak_mb))

    print(f"\n{'=' * 100}\nSummary")
    for name, code, seconds, peak_mb in outcomes:
        verdict = "ok" if code == 0 else f"failed (exit {code})"
        print(f"  {name:<24} {verdict:<18} {seconds:8.1f} s   peak RSS {peak_mb:7.0f} MB")
    return 0 if all(code == 0 for _, code, _, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
