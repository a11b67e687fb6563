"""`molmo-arena arena ...`: set up a study, issue tokens, serve the voting app, export battles.

Only argparse is imported here; SQLAlchemy, Streamlit and the models load inside the command that runs.
The database is `--db` (a SQLite file path or any SQLAlchemy URL), else MOLMO_ARENA_DB, else
results/arena/arena.db; every command brings its schema up to date first. The server secret that signs
session keys is `--secret-file`, else MOLMO_ARENA_SECRET_FILE, else ~/.config/molmo-arena/session.secret
(created on first use): keep it out of the database and its backups, and give every server of a study the same.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from molmo_arena.common.arguments import non_negative_float, positive_int

DEFAULT_DB = "results/arena/arena.db"
# One key press is one vote and brings the next battle (docs/arena.md), so a vote sooner than this after its battle
# appeared is refused: longer than a keyboard's auto-repeat delay (typically 0.25-0.6 s) plus the time the page
# takes to draw the next battle, shorter than reading a question and two answers.
DEFAULT_MIN_VOTE_SECONDS = 1.0
DEFAULT_SECRET = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "molmo-arena/session.secret"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("arena", help="the human-preference arena: study set-up, voting app, export",
                                   description=__doc__)
    parser.add_argument("--db", default=os.environ.get("MOLMO_ARENA_DB", DEFAULT_DB),
                        help=f"SQLite file or SQLAlchemy URL (default: $MOLMO_ARENA_DB or {DEFAULT_DB})")
    commands = parser.add_subparsers(dest="arena_command", metavar="COMMAND", required=True)

    commands.add_parser("init", help="create or upgrade the database schema (alembic upgrade head)").set_defaults(
        func=run_init)

    annotators = commands.add_parser("annotators", help="issue, list and disable annotator tokens")
    which = annotators.add_subparsers(dest="annotators_command", metavar="ACTION", required=True)
    add = which.add_parser("add", help="add an annotator and print their personal token (shown once)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may open the admin page")
    add.set_defaults(func=run_annotators_add)
    which.add_parser("list", help="list annotators and their votes").set_defaults(func=run_annotators_list)
    disable = which.add_parser("disable", help="disable an annotator: no sign-in, their votes leave every export")
    disable.add_argument("name")
    disable.set_defaults(func=run_annotators_change)
    enable = which.add_parser("enable", help="enable a disabled annotator again (undoes disable)")
    enable.add_argument("name")
    enable.set_defaults(func=run_annotators_change)
    rotate = which.add_parser("rotate", help="give an annotator a new token (printed once) and revoke their session "
                              "keys; the old token stops working")
    rotate.add_argument("name")
    rotate.set_defaults(func=run_annotators_rotate)
    listing = which.add_parser("sessions", help="list an annotator's session keys (sign-ins)")
    listing.add_argument("name")
    listing.set_defaults(func=run_annotators_sessions)
    revoke = which.add_parser("revoke", help="revoke one session key, by the id `sessions` lists")
    revoke.add_argument("session_id", type=positive_int)
    revoke.set_defaults(func=run_annotators_change)

    load = commands.add_parser("import", help="import prompts, pre-generated answers and gold items; make battles "
                               "(one transaction: all of it or, on any bad line, nothing)")
    load.add_argument("--prompts", type=Path, help="JSONL: prompt_id, question, category, image (path) or "
                      "image_base64")
    load.add_argument("--answers", type=Path, action="append", default=[], help="JSONL: prompt_id, model, answer "
                      "(repeatable)")
    load.add_argument("--gold", type=Path, help="JSONL: prompt_id, good_model, bad_answer")
    load.add_argument("--pairs-per-prompt", type=positive_int, help="battles per prompt, at least 1 (default: "
                      "every model pair)")
    load.add_argument("--seed", type=int, default=0)
    load.set_defaults(func=run_import)

    generate = commands.add_parser("generate", help="pre-generate answers to a prompt set with model adapters")
    generate.add_argument("--models", required=True, help="comma-separated adapter specs, e.g. hf:/path,molmo:tiny")
    generate.add_argument("--names", help="comma-separated display names, one per model (default: from the spec)")
    generate.add_argument("--prompts", type=Path, required=True, help="the prompt-set JSONL")
    generate.add_argument("--out", type=Path, required=True, help="answers JSONL to write")
    generate.add_argument("--max-new-tokens", type=positive_int, default=256)
    generate.add_argument("--batch-size", type=positive_int, default=4)
    generate.add_argument("--device", default="cpu")
    generate.set_defaults(func=run_generate)

    serve = commands.add_parser("serve", help="serve the voting app (Streamlit)")
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--sampling", choices=("uniform", "adaptive"), default="uniform",
                       help="uniform: the least-voted model pair next (default); adaptive: the pair whose next vote "
                       "shrinks the leaderboard's uncertainty most, with a floor so no pair starves "
                       "(docs/arena-sampling.md)")
    serve.add_argument("--live", action="append", default=[], metavar="NAME=SPEC",
                       help="a model that answers annotators' own uploaded questions live (give two or more to "
                       "enable the 'Ask your own' page), e.g. tiny=hf:/path")
    serve.add_argument("--secret-file", type=Path,
                       default=Path(os.environ.get("MOLMO_ARENA_SECRET_FILE") or DEFAULT_SECRET),
                       help="the server secret that signs session keys (created if missing; default: "
                       "$MOLMO_ARENA_SECRET_FILE or ~/.config/molmo-arena/session.secret)")
    serve.add_argument("--session-hours", type=float, default=24.0,
                       help="how long a sign-in lasts (default 24 hours)")
    serve.add_argument("--min-vote-seconds", type=non_negative_float, default=DEFAULT_MIN_VOTE_SECONDS,
                       help="refuse a vote that comes sooner than this after its battle appeared, such as a held "
                       f"key's repeats (default {DEFAULT_MIN_VOTE_SECONDS:g}; 0 turns it off)")
    serve.set_defaults(func=run_serve)

    export = commands.add_parser("export", help="write the votes as FastChat battles for the leaderboard")
    export.add_argument("--out", type=Path, required=True, help="battles JSONL to write")
    export.set_defaults(func=run_export)

    commands.add_parser("stats", help="print the study's progress, gold accuracy, position bias and agreement") \
        .set_defaults(func=run_stats)


def _upgraded_sessions(args: argparse.Namespace):
    """Create the SQLite file's folder, bring the schema to the newest version, and return a session factory."""
    from arena.db import session_factory, upgrade_database

    if "://" not in args.db:
        Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    upgrade_database(args.db)
    return session_factory(args.db)


def run_init(args: argparse.Namespace) -> int:
    _upgraded_sessions(args)
    print(f"database ready: {args.db}")
    return 0


def run_annotators_add(args: argparse.Namespace) -> int:
    from arena.annotators import add_annotator

    with _upgraded_sessions(args)() as session:
        token = add_annotator(session, args.name, admin=args.admin)
    print(f"added {'admin ' if args.admin else ''}annotator {args.name!r}; their token (shown only now):")
    print(token)
    return 0


def run_annotators_list(args: argparse.Namespace) -> int:
    from arena.stats import annotator_progress

    with _upgraded_sessions(args)() as session:
        print(annotator_progress(session).to_string(index=False))
    return 0


# `annotators disable|enable|revoke`: (function of arena.annotators, its argument, the line to print)
_CHANGES = {
    "disable": ("disable_annotator", "name", "disabled {!r}: no sign-in, and their votes leave exports from now on"),
    "enable": ("enable_annotator", "name", "enabled {!r} again: they can sign in, and their votes are exported"),
    "revoke": ("revoke_session", "session_id", "revoked session key {}"),
}


def run_annotators_change(args: argparse.Namespace) -> int:
    from arena import annotators

    function, argument, done = _CHANGES[args.annotators_command]
    value = getattr(args, argument)
    with _upgraded_sessions(args)() as session:
        getattr(annotators, function)(session, value)
    print(done.format(value))
    return 0


def run_annotators_rotate(args: argparse.Namespace) -> int:
    from arena.annotators import rotate_token

    with _upgraded_sessions(args)() as session:
        token = rotate_token(session, args.name)
    print(f"new token for {args.name!r} (the old one and every session key of theirs no longer work); shown only now:")
    print(token)
    return 0


def run_annotators_sessions(args: argparse.Namespace) -> int:
    import time

    from arena.annotators import list_sessions

    def when(seconds: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))

    now = time.time()
    with _upgraded_sessions(args)() as session:
        rows = list_sessions(session, args.name)
    print("id  signed in             expires               state")
    for row in rows:
        state = "revoked" if row.revoked is not None else "expired" if row.expires <= now else "active"
        print(f"{row.id:<3} {when(row.created)}  {when(row.expires)}  {state}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    import random

    from arena.study import import_study

    with _upgraded_sessions(args)() as session:
        counts = import_study(session, random.Random(args.seed), prompts=args.prompts, answers=args.answers,
                              gold=args.gold, pairs_per_prompt=args.pairs_per_prompt)
    if args.prompts:
        print(f"imported {counts.prompts} prompts from {args.prompts}")
    for path, count in zip(args.answers, counts.answers, strict=True):
        print(f"imported {count} answers from {path}")
    if args.answers:
        print(f"created {counts.battles} battles")
    if args.gold:
        print(f"imported {counts.gold} gold items from {args.gold}")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from arena.generate import generate_answers
    from evals.adapters import load_adapter

    specs = [s.strip() for s in args.models.split(",") if s.strip()]
    names = [n.strip() for n in args.names.split(",")] if args.names else [_display_name(s) for s in specs]
    if len(names) != len(specs):
        raise ValueError(f"--names gives {len(names)} names for {len(specs)} models")
    adapters = [(name, load_adapter(spec, device=args.device)) for name, spec in zip(names, specs, strict=True)]
    count = generate_answers(adapters, args.prompts, args.out, args.max_new_tokens, args.batch_size,
                             progress=lambda b, name, total: tqdm(b, desc=name, total=total, unit="batch"))
    print(f"wrote {count} answers to {args.out}")
    return 0


def _display_name(spec: str) -> str:
    return spec.partition(":")[2].rstrip("/").split("/")[-1] or spec


def run_serve(args: argparse.Namespace) -> int:
    """Run Streamlit as a child process; SIGTERM and SIGINT sent to this process go to the child, whose exit
    this process waits for, so stopping the command stops the server."""
    import subprocess

    from arena.annotators import load_server_secret
    from arena.study import MAX_IMAGE_BYTES

    _upgraded_sessions(args)
    load_server_secret(args.secret_file)  # created now, so that a bad file is reported here, not in the app
    if args.session_hours <= 0:
        raise ValueError(f"--session-hours must be positive, not {args.session_hours}")
    for entry in args.live:
        name, sep, spec = entry.partition("=")
        if not sep or not name or ":" not in spec or "," in entry:
            raise ValueError(f"--live {entry!r}: expected NAME=KIND:TARGET")
    if len(args.live) == 1:
        raise ValueError("--live: give at least two models, so each question gets two anonymous answers")
    app = Path(__file__).with_name("app.py")
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port),
               "--server.address", args.address, "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
               "--client.toolbarMode", "minimal", "--server.maxUploadSize", str(MAX_IMAGE_BYTES // 2**20),
               # Streamlit's runner.postScriptGC (streamlit/config.py) runs a full gc.collect(2) after every script
               # run: 85% of the server's CPU per vote (382 -> 56 ms measured with bench/arena_capacity.py).
               # Python's own generational collector still runs.
               "--runner.postScriptGC", "false"]
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, MOLMO_ARENA_DB=args.db, MOLMO_ARENA_LIVE=",".join(args.live),
               MOLMO_ARENA_SECRET_FILE=str(args.secret_file.absolute()),
               MOLMO_ARENA_SESSION_HOURS=str(args.session_hours), MOLMO_ARENA_SAMPLING=args.sampling,
               MOLMO_ARENA_MIN_VOTE_SECONDS=str(args.min_vote_seconds),
               PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    print(f"arena on http://{args.address}:{args.port} (database {args.db}, {args.sampling} pair sampling); "
          "Ctrl+C stops it", flush=True)
    child = subprocess.Popen(command, env=env)
    forwarded = (signal.SIGTERM, signal.SIGINT)
    previous = {number: signal.signal(number, lambda number, _frame: child.send_signal(number))
                for number in forwarded}
    try:
        code = child.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return code if code >= 0 else 128 - code  # killed by signal N: 128 + N, as a shell reports it


def run_export(args: argparse.Namespace) -> int:
    from arena.export import export_battles

    with _upgraded_sessions(args)() as session:
        count = export_battles(session, args.out)
    print(f"wrote {count} battles to {args.out}")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from arena import stats

    with _upgraded_sessions(args)() as session:
        for title, table in (("model pairs", stats.pair_progress(session)),
                             ("annotators", stats.annotator_progress(session)),
                             ("gold accuracy", stats.gold_accuracy(session)),
                             ("position bias", stats.position_bias(session))):
            print(f"## {title}\n{table.to_string(index=False)}\n")
        print(f"## agreement\n{stats.agreement(session)}")
    return 0
