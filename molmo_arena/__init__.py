"""The `molmo-arena` console command: one place that wires every package's sub-commands.

Each package owns its sub-command in `<package>/cli.py`, which exposes `add_parser(subparsers)` and imports
nothing heavy at module level, so `molmo-arena --help` and `molmo-arena leaderboard ...` start fast. `train` and
`demo` live here: they wire packages together (the trainer in `molmo/` knows no benchmark; `train` gives it the
evaluation harness as its callback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """The parser of every sub-command. The command modules are imported here, not at the top, so that
    `import molmo_arena` stays light: every package may import `molmo_arena.prompts` and `molmo_arena.reference`
    (the shipped data) without importing the others."""
    from arena import cli as arena_cli
    from evals import cli as eval_cli
    from evals import serve_cli
    from leaderboard import cli as leaderboard_cli
    from molmo_arena import demo, train

    parser = argparse.ArgumentParser(
        prog="molmo-arena",
        description="Open evaluation and human-preference arena for vision-language models.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in (demo, eval_cli, arena_cli, leaderboard_cli, train, serve_cli):
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command. Bad input (ValueError, OSError) or a missing optional extra (ImportError) is one line
    on stderr and exit status 2; set MOLMO_ARENA_DEBUG=1 to see the traceback instead."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError, ImportError) as error:
        if os.environ.get("MOLMO_ARENA_DEBUG"):
            raise
        print(f"molmo-arena: error: {error}", file=sys.stderr)
        return 2
