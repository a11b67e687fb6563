"""`molmo-arena arena ...`: set up a study, issue tokens, serve the voting app, export battles.

Only argparse is imported here; SQLAlchemy, Streamlit and the models load inside the command that runs.
The database is `--db` (a SQLite file path or any SQLAlchemy URL), else MOLMO_ARENA_DB, else
results/arena/arena.db.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_DB = "results/arena/arena.db"


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
    disable = which.add_parser("disable", help="disable an annotator: their votes leave every export")
    disable.add_argument("name")
    disable.set_defaults(func=run_annotators_disable)

    load = commands.add_parser("import", help="import prompts, pre-generated answers and gold items; make battles")
    load.add_argument("--prompts", type=Path, help="JSONL: prompt_id, question, category, image (path) or "
                      "image_base64")
    load.add_argument("--answers", type=Path, action="append", default=[], help="JSONL: prompt_id, model, answer "
                      "(repeatable)")
    load.add_argument("--gold", type=Path, help="JSONL: prompt_id, good_model, bad_answer")
    load.add_argument("--pairs-per-prompt", type=int, help="battles per prompt (default: every model pair)")
    load.add_argument("--seed", type=int, default=0)
    load.set_defaults(func=run_import)

    generate = commands.add_parser("generate", help="pre-generate answers to a prompt set with model adapters")
    generate.add_argument("--models", required=True, help="comma-separated adapter specs, e.g. hf:/path,molmo:tiny")
    generate.add_argument("--names", help="comma-separated display names, one per model (default: from the spec)")
    generate.add_argument("--prompts", type=Path, required=True, help="the prompt-set JSONL")
    generate.add_argument("--out", type=Path, required=True, help="answers JSONL to write")
    generate.add_argument("--max-new-tokens", type=int, default=256)
    generate.add_argument("--batch-size", type=int, default=4)
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
    serve.set_defaults(func=run_serve)

    export = commands.add_parser("export", help="write the votes as FastChat battles for the leaderboard")
    export.add_argument("--out", type=Path, required=True, help="battles JSONL to write")
    export.set_defaults(func=run_export)

    commands.add_parser("stats", help="print the study's progress, gold accuracy, position bias and agreement") \
        .set_defaults(func=run_stats)


def _sessions(args: argparse.Namespace):
    from sqlalchemy.orm import sessionmaker

    from arena.db import make_engine, upgrade_database

    if "://" not in args.db:
        Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    upgrade_database(args.db)
    return sessionmaker(make_engine(args.db), expire_on_commit=False)


def run_init(args: argparse.Namespace) -> int:
    _sessions(args)
    print(f"database ready: {args.db}")
    return 0


def run_annotators_add(args: argparse.Namespace) -> int:
    from arena.annotators import add_annotator

    with _sessions(args)() as session:
        token = add_annotator(session, args.name, admin=args.admin)
    print(f"added {'admin ' if args.admin else ''}annotator {args.name!r}; their token (shown only now):")
    print(token)
    return 0


def run_annotators_list(args: argparse.Namespace) -> int:
    from arena.stats import annotator_progress

    with _sessions(args)() as session:
        print(annotator_progress(session).to_string(index=False))
    return 0


def run_annotators_disable(args: argparse.Namespace) -> int:
    from arena.annotators import disable_annotator

    with _sessions(args)() as session:
        disable_annotator(session, args.name)
    print(f"disabled {args.name!r}: their votes are left out of exports from now on")
    return 0


def run_import(args: argparse.Namespace) -> int:
    import random

    from arena.study import create_battles, import_answers, import_gold, import_prompts

    rng = random.Random(args.seed)
    with _sessions(args)() as session:
        if args.prompts:
            print(f"imported {import_prompts(session, args.prompts)} prompts from {args.prompts}")
        for path in args.answers:
            print(f"imported {import_answers(session, path)} answers from {path}")
        if args.answers:
            print(f"created {create_battles(session, rng, pairs_per_prompt=args.pairs_per_prompt)} battles")
        if args.gold:
            print(f"imported {import_gold(session, args.gold, rng)} gold items from {args.gold}")
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
    import subprocess

    from arena.study import MAX_IMAGE_BYTES

    _sessions(args)
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
               MOLMO_ARENA_SAMPLING=args.sampling,
               PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    print(f"arena on http://{args.address}:{args.port} (database {args.db}, {args.sampling} pair sampling); "
          "Ctrl+C stops it", flush=True)
    return subprocess.call(command, env=env)


def run_export(args: argparse.Namespace) -> int:
    from arena.export import export_battles

    with _sessions(args)() as session:
        count = export_battles(session, args.out)
    print(f"wrote {count} battles to {args.out}")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from arena import stats

    with _sessions(args)() as session:
        for title, table in (("model pairs", stats.pair_progress(session)),
                             ("annotators", stats.annotator_progress(session)),
                             ("gold accuracy", stats.gold_accuracy(session)),
                             ("position bias", stats.position_bias(session))):
            print(f"## {title}\n{table.to_string(index=False)}\n")
        print(f"## agreement\n{stats.agreement(session)}")
    return 0
