"""The ``course`` command: run the course, list notebooks, check the environment, re-render a
report.

    course run [--profile smoke|cpu|gpu] [--notebooks 00,01] [--out DIR] [--timeout S] [--seed N]
               [--lang en|zh]
    course run --resume RUN_DIR
    course list
    course check-env [--json]
    course report RUN_DIR
    course sweep --seeds 1-10 [--profile cpu] [--notebooks 06,10] [--scheduler tcp://H:P]
                 [--workers N] [--out DIR] [--resume]
    course compare RUN_A RUN_B [--tolerance 0.1] [--html FILE]
    course badges [--repo OWNER/NAME] [--check]
    course i18n sync|check [--notebook NN] [--lang zh];  course i18n mark --notebook NN ID...
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from course_lib import profiles


def _number_in(name: str, kind: type, low: float, high: float, low_open: bool = False):
    """Return an argparse ``type`` that parses ``kind`` and checks it lies in the range."""
    words = {int: "an integer", float: "a number"}[kind]
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
    from course_lib import runner

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
    run.add_argument("--seed", type=_seed, default=None,
                     help="seed passed to every notebook (default: 42)")
    run.add_argument("--lang", default=None, choices=runner.editions(),
                     help="edition to run: en (notebooks/, the default) or a translation "
                          "(zh: notebooks/zh/)")
    run.add_argument("--resume", default=None, metavar="RUN_DIR",
                     help="finish an interrupted run: run only the notebooks it lacks, with "
                          "its profile, seed and timeout")
    run.add_argument("--notebook-dir", default=None, help=argparse.SUPPRESS)
    listing = sub.add_parser("list", help="list the course notebooks")
    listing.add_argument("--lang", default="en", choices=runner.editions(),
                         help="edition to list (default: en)")
    env = sub.add_parser("check-env", help="print versions, CPU/GPU, memory, missing packages")
    env.add_argument("--json", action="store_true", help="print the report as JSON")
    report = sub.add_parser("report", help="re-render report.html for a run folder")
    report.add_argument("run_dir")
    _add_sweep_commands(sub)
    _add_publish_commands(sub)
    _add_i18n_commands(sub)
    return parser


def _add_sweep_commands(sub) -> None:
    """``course sweep`` (notebooks x seeds on Dask) and ``course compare`` (two runs)."""
    from course_lib import regression

    sweep = sub.add_parser("sweep", help="run notebooks x seeds on Dask; which claims are sturdy")
    sweep.add_argument("--seeds", required=True, help="e.g. 1-10, 1,3,5 or 1-3,7")
    sweep.add_argument("--profile", choices=profiles.PROFILES, default=None,
                       help="sizes to run at (default: $COURSE_PROFILE, else smoke)")
    sweep.add_argument("--notebooks", default="", help="comma-separated, e.g. 06,10 (default: all)")
    sweep.add_argument("--scheduler", default="local",
                       help="'local' (a new LocalCluster) or a Dask scheduler, tcp://HOST:PORT")
    sweep.add_argument("--workers", type=_number_in("workers", int, 1, 256), default=None,
                       help="local worker processes (default: one per two cores)")
    sweep.add_argument("--out", default=None, help="sweep folder (default: runs/sweep-...)")
    sweep.add_argument("--resume", action="store_true",
                       help="complete the sweep in --out, running only unfinished tasks")
    sweep.add_argument("--timeout", type=_positive_seconds, default=None,
                       help="seconds per notebook (default as for course run)")
    sweep.add_argument("--notebook-dir", default=None, help=argparse.SUPPRESS)
    compare = sub.add_parser("compare", help="what changed between two runs or sweeps")
    compare.add_argument("run_a", help="reference run or sweep folder")
    compare.add_argument("run_b", help="new run or sweep folder")
    compare.add_argument("--tolerance", type=_number_in("tolerance", float, 0, 1e6),
                         default=regression.DEFAULT_TOLERANCE,
                         help="relative change of a metric worth listing (default 0.1)")
    compare.add_argument("--html", default=None, help="also write the comparison to this file")


def _sweep(args) -> int:
    import os

    from course_lib import sweep

    profile = args.profile or os.environ.get(profiles.ENV_VAR) or "smoke"
    names = [n for n in args.notebooks.split(",") if n.strip()]
    try:
        summary = sweep.run_sweep(args.seeds, profile, names, args.out,
                                  scheduler=args.scheduler, workers=args.workers,
                                  resume=args.resume, timeout=args.timeout,
                                  notebook_dir=args.notebook_dir)
    except KeyboardInterrupt:  # run_sweep said what was kept and how to resume
        return 130
    return summary.exit_code


def _compare(args) -> int:
    from pathlib import Path

    from course_lib import regression

    result = regression.compare(args.run_a, args.run_b, tolerance=args.tolerance)
    print(regression.format_text(result))
    if args.html:
        Path(args.html).write_text(regression.format_html(result), encoding="utf-8")
        print(f"html: {args.html}")
    return result.exit_code


def _add_publish_commands(sub) -> None:
    """``course badges``: the repository address in badges and Colab install cells."""
    badges = sub.add_parser("badges", help="check or rewrite the repository address in the "
                                           "badges and Colab cells")
    badges.add_argument("--repo", default=None,
                        help="OWNER/NAME to publish under: rewrites README, notebooks, "
                             "pyproject (default: check the configured address)")
    badges.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if anything does not use the address")
    badges.add_argument("--root", default=None, help=argparse.SUPPRESS)


def _badges(args) -> int:
    from course_lib import publish

    root = publish.package_root() if args.root is None else args.root
    if args.repo is not None:
        changed = publish.rewrite(args.repo, root, dry_run=args.check)
        verb = "would change" if args.check else "rewrote"
        for path in changed:
            print(f"{verb}: {path}")
        if args.check and changed:
            return 1
    problems = publish.audit(root, args.repo)
    for problem in problems:
        print(problem)
    slug = publish.parse_repo(args.repo) if args.repo else publish.repo_slug(root)
    print(f"repository https://github.com/{slug}: "
          + (f"{len(problems)} problem(s)" if problems else "every badge and Colab cell uses it"))
    return 1 if problems else 0


def _add_i18n_commands(sub) -> None:
    """``course i18n sync|check|mark``: translated notebooks kept in step (docs/i18n.md)."""
    i18n = sub.add_parser("i18n", help="keep the translated notebooks in step with English")
    actions = i18n.add_subparsers(dest="action", required=True)
    helps = {"sync": "copy code cells, add untranslated stubs for new Markdown cells",
             "check": "exit 1 if a translation is missing, stale, untranslated or its code "
                      "differs",
             "mark": "record that cells' translations match the current English text"}
    for action, text in helps.items():
        cmd = actions.add_parser(action, help=text)
        cmd.add_argument("--lang", default="zh", help="edition folder under notebooks/ "
                                                      "(default: zh)")
        cmd.add_argument("--notebook", default=None, required=action == "mark",
                         help="one notebook, by number or name (default: all)")
        cmd.add_argument("--notebook-dir", default=None, help=argparse.SUPPRESS)
        if action == "mark":
            cmd.add_argument("cell_ids", nargs="+", metavar="CELL_ID",
                             help="ids of the Markdown cells now translated")


def _i18n(args) -> int:
    from course_lib import i18n

    names = [args.notebook] if args.notebook else None
    target = i18n.translation_dir(args.notebook_dir, args.lang)
    if args.action == "sync":
        for result in i18n.sync(args.notebook_dir, args.lang, names):
            print(result)
        return 0
    if args.action == "mark":
        ((english, translated),) = i18n.pairs(args.notebook_dir, args.lang, names)
        for cell_id in i18n.mark_translated(english, translated, args.cell_ids):
            print(f"note: cell {cell_id} reads the same as the English text")
        print(f"{translated}: marked {len(args.cell_ids)} cell(s) translated")
        return 0
    if not target.is_dir():
        print(f"no {target} folder: no translation to check yet")
        return 0
    problems = i18n.check(args.notebook_dir, args.lang, names)
    for problem in problems:
        print(problem)
    notebooks = len({p.notebook for p in problems})
    print(f"i18n check ({args.lang}): "
          + (f"{len(problems)} problem(s) in {notebooks} notebook(s)" if problems
             else "every translation is in step with English"))
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``course`` console script; returns the exit status."""
    try:
        return _main(argv)
    except BrokenPipeError:  # `course i18n check | head`: the reader left; no traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "list":
            from course_lib import runner

            for path in runner.discover(runner.edition_dir(args.lang)):
                print(f"{path.stem[:2]}  {path.stem:<40} {_title(path)}")
            return 0
        if args.command == "check-env":
            from course_lib import environment

            if args.json:
                print(json.dumps(environment.environment_report(), indent=2))
                return 0
            report = environment.check_env(verbose=True)
            return 1 if report["missing"] else 0
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "badges":
            return _badges(args)
        if args.command == "i18n":
            return _i18n(args)
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

    def progress(line: str) -> None:
        print(line, flush=True)

    if args.resume is not None:
        given = [flag for flag, value in (("--profile", args.profile), ("--out", args.out),
                                          ("--notebooks", args.notebooks),
                                          ("--timeout", args.timeout), ("--seed", args.seed),
                                          ("--lang", args.lang))
                 if value not in (None, "")]
        if given:
            raise ValueError(f"--resume takes profile, seed, timeout, language and notebooks "
                             f"from the run's manifest; drop {', '.join(given)}")
        return runner.resume_run(args.resume, args.notebook_dir, progress).exit_code
    profile = args.profile or os.environ.get(profiles.ENV_VAR) or "smoke"
    names = [n for n in args.notebooks.split(",") if n.strip()]
    seed = 42 if args.seed is None else args.seed
    summary = runner.run_course(profile, names, args.out, args.timeout, seed,
                                args.notebook_dir, progress, lang=args.lang or "en")
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
