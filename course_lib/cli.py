"""The ``course`` command: run the course, list notebooks, check the environment, re-render a
report.

    course run [--profile smoke|cpu|gpu] [--notebooks 00,01] [--out DIR] [--timeout S] [--seed N]
    course list
    course check-env [--json]
    course report RUN_DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from course_lib import profiles


def _number_in(name: str, kind: type, low: float, high: float, low_open: bool = False):
    """Return an argparse ``type`` that parses ``kind`` and checks it lies in the range."""
    words = {int: "an integer", float: "a number of seconds"}[kind]
    bound = f"> {low}" if low_open else f">= {low}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {words}, got {text!r}") from None
        if not ((value > low if low_open else value >= low) and value <= high):
            raise argparse.ArgumentTypeError(f"{name} must be {bound} and <= {high}, got {text}")
        return value

    return parse


_positive_seconds = _number_in("timeout", float, 0, 86400, low_open=True)
_seed = _number_in("seed", int, 0, 2**32 - 1)


def _title(path) -> str:
    """Return the first Markdown heading of a notebook (without the leading #)."""
    cells = json.loads(path.read_text()).get("cells", [])
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    return line.lstrip("# ").strip()
    return ""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks headlessly and write a report")
    run.add_argument("--profile", choices=profiles.PROFILES, default=None,
                     help="sizes to run at (default: $COURSE_PROFILE, else smoke)")
    run.add_argument("--notebooks", default="",
                     help="comma-separated numbers or names, e.g. 00,01 (default: all)")
    run.add_argument("--out", default=None, help="run folder (default: runs/<time>-<profile>)")
    run.add_argument("--timeout", type=_positive_seconds, default=None,
                     help="seconds per notebook (default: smoke 300, cpu 900, gpu 3600)")
    run.add_argument("--seed", type=_seed, default=42, help="seed passed to every notebook")
    run.add_argument("--notebook-dir", default=None, help=argparse.SUPPRESS)
    sub.add_parser("list", help="list the course notebooks")
    env = sub.add_parser("check-env", help="print versions, CPU/GPU, memory, missing packages")
    env.add_argument("--json", action="store_true", help="print the report as JSON")
    report = sub.add_parser("report", help="re-render report.html for a run folder")
    report.add_argument("run_dir")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``course`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "list":
            from course_lib import runner

            for path in runner.discover(args.notebook_dir if hasattr(args, "notebook_dir")
                                        else None):
                print(f"{path.stem[:2]}  {path.stem:<40} {_title(path)}")
            return 0
        if args.command == "check-env":
            from course_lib import environment

            if args.json:
                print(json.dumps(environment.environment_report(), indent=2))
                return 0
            report = environment.check_env(verbose=True)
            return 1 if report["missing"] else 0
        if args.command == "report":
            from course_lib import report

            print(report.write_report(args.run_dir))
            return 0
    except (ValueError, TypeError) as exc:
        parser.exit(2, f"course {args.command}: error: {exc}\n")
    return 2


def _run(args) -> int:
    import os

    from course_lib import runner

    profile = args.profile or os.environ.get(profiles.ENV_VAR) or "smoke"
    names = [n for n in args.notebooks.split(",") if n.strip()]

    def progress(line: str) -> None:
        print(line, flush=True)

    summary = runner.run_course(profile, names, args.out, args.timeout, args.seed,
                                args.notebook_dir, progress)
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
