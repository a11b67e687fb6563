"""`molmo-arena arena ...` end to end on a SQLite file: set-up, tokens, generation, import, export, stats."""

import json
import random

import pytest
from sqlalchemy.orm import sessionmaker

from arena.annotators import authenticate
from arena.db import make_engine
from arena.sampling import next_battle
from arena.votes import record_vote
from evals.tiny_models import save_tiny_llava
from molmo_arena import main

from .arena_files import png_bytes, write_jsonl


@pytest.fixture
def prompts(tmp_path):
    for p in range(2):
        (tmp_path / f"img{p}.png").write_bytes(png_bytes(p, (40, 30)))
    return write_jsonl(tmp_path / "prompts.jsonl", [
        {"prompt_id": f"p{p}", "question": f"What is in image {p}?", "category": "general", "image": f"img{p}.png"}
        for p in range(2)])


def test_generate_import_vote_export(tmp_path, prompts, capsys):
    db = str(tmp_path / "study" / "arena.db")
    model = save_tiny_llava(tmp_path / "tiny")
    answers = tmp_path / "answers.jsonl"
    assert main(["arena", "--db", db, "generate", "--models", f"hf:{model},hf:{model}", "--names", "one,two",
                 "--prompts", str(prompts), "--out", str(answers), "--max-new-tokens", "4"]) == 0
    lines = [json.loads(line) for line in answers.read_text().splitlines()]
    assert [(r["prompt_id"], r["model"]) for r in lines] == [("p0", "one"), ("p1", "one"), ("p0", "two"),
                                                             ("p1", "two")]
    assert lines[0]["generation"]["max_new_tokens"] == 4 and lines[0]["generation"]["spec"] == f"hf:{model}"
    assert lines[0]["answer"] == lines[2]["answer"]  # the same weights answer the same, greedily

    assert main(["arena", "--db", db, "import", "--prompts", str(prompts), "--answers", str(answers)]) == 0
    assert "created 2 battles" in capsys.readouterr().out
    assert main(["arena", "--db", db, "annotators", "add", "alice"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]

    factory = sessionmaker(make_engine(db), expire_on_commit=False)
    with factory() as session:
        annotator = authenticate(session, token)
        assignment = next_battle(session, annotator, random.Random(0))
        record_vote(factory, annotator.id, assignment.battle_id, "left_better")
    out = tmp_path / "battles.jsonl"
    assert main(["arena", "--db", db, "export", "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 1
    assert main(["arena", "--db", db, "annotators", "disable", "alice"]) == 0
    assert main(["arena", "--db", db, "export", "--out", str(out)]) == 0
    assert out.read_text() == ""
    assert main(["arena", "--db", db, "stats"]) == 0
    printed = capsys.readouterr().out
    assert "## model pairs" in printed and "## agreement" in printed
    pair_row = next(line for line in printed.splitlines() if "one" in line and "two" in line)
    assert pair_row.split()[-2:] == ["2", "1"]  # two battles, one vote


def test_bad_files_are_refused_with_file_line_and_field(tmp_path, prompts, capsys):
    db = str(tmp_path / "arena.db")
    bad = write_jsonl(tmp_path / "answers.jsonl", [{"prompt_id": "p9", "model": "m", "answer": "x"}])
    assert main(["arena", "--db", db, "import", "--prompts", str(prompts), "--answers", str(bad)]) == 2
    assert f"{bad}:1: field 'prompt_id': unknown prompt 'p9'" in capsys.readouterr().err
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    shaky = write_jsonl(tmp_path / "shaky.jsonl", [{"prompt_id": "q", "question": "?", "image": "broken.png"}])
    assert main(["arena", "--db", db, "import", "--prompts", str(shaky)]) == 2
    assert f"{shaky}:1: field 'image'" in capsys.readouterr().err
    assert main(["arena", "--db", db, "generate", "--models", "hf:x,hf:y", "--names", "only-one",
                 "--prompts", str(prompts), "--out", str(tmp_path / "a.jsonl")]) == 2
    assert "--names gives 1 names for 2 models" in capsys.readouterr().err
