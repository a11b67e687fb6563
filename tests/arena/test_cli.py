"""`molmo-arena arena ...` end to end on a SQLite file: set-up, tokens, generation, import, export, stats."""

import json
import random

import pytest
from sqlalchemy import text

from arena.annotators import authenticate, load_server_secret, open_session, session_annotator
from arena.db import make_engine, session_factory
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

    factory = session_factory(db)
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


def _rows(db: str, table: str) -> int:
    engine = make_engine(db)
    with engine.connect() as connection:
        count = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
    engine.dispose()
    return count


def test_an_import_stores_everything_or_nothing(tmp_path, prompts, capsys):
    """Issue 15 item 3 as it was found: prompts with a bad answer file, then two answer files, the second bad."""
    db = str(tmp_path / "arena.db")
    good = write_jsonl(tmp_path / "good.jsonl", [{"prompt_id": f"p{p}", "model": m, "answer": f"{m} {p}"}
                                                 for p in range(2) for m in ("one", "two")])
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt_id": "p0", "model": "newmodel", "answer": "fine"},
                                               {"prompt_id": "p1", "model": "newmodel", "answer": ""}])
    assert main(["arena", "--db", db, "import", "--prompts", str(prompts), "--answers", str(bad)]) == 2
    assert capsys.readouterr().err == f"molmo-arena: error: {bad}:2: field 'answer': expected a non-empty string\n"
    assert [_rows(db, table) for table in ("prompts", "images", "answers", "models", "battles")] == [0] * 5
    assert main(["arena", "--db", db, "import", "--prompts", str(prompts), "--answers", str(good),
                 "--answers", str(bad)]) == 2
    assert [_rows(db, table) for table in ("prompts", "answers", "battles")] == [0, 0, 0]
    fixed = write_jsonl(tmp_path / "fixed.jsonl", [{"prompt_id": f"p{p}", "model": "newmodel", "answer": "fine"}
                                                   for p in range(2)])
    capsys.readouterr()
    assert main(["arena", "--db", db, "import", "--prompts", str(prompts), "--answers", str(good),
                 "--answers", str(fixed)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"imported 2 prompts from {prompts}", f"imported 4 answers from {good}", f"imported 2 answers from {fixed}",
        "created 6 battles"]


@pytest.mark.parametrize("value", ["-1", "0", "two"])
def test_pairs_per_prompt_below_one_is_refused(tmp_path, prompts, capsys, value):
    with pytest.raises(SystemExit) as stopped:
        main(["arena", "--db", str(tmp_path / "arena.db"), "import", "--prompts", str(prompts),
              "--pairs-per-prompt", value])
    assert stopped.value.code == 2
    assert f"argument --pairs-per-prompt: expected a whole number of at least 1, got '{value}'" in (
        capsys.readouterr().err)
    assert not (tmp_path / "arena.db").exists()


def test_annotator_accounts_from_the_command_line(tmp_path, capsys):
    """Issue 15 items 4 and 10: a taken name is one line and exit 2; enable, rotate, sessions, revoke."""
    db = str(tmp_path / "arena.db")
    assert main(["arena", "--db", db, "annotators", "add", "alice"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["arena", "--db", db, "annotators", "add", "alice", "--admin"]) == 2
    assert capsys.readouterr().err == "molmo-arena: error: an annotator named 'alice' already exists\n"

    factory = session_factory(db)
    secret = load_server_secret(tmp_path / "secret")
    with factory() as session:
        keys = [open_session(session, authenticate(session, token), secret) for _ in range(2)]
    assert main(["arena", "--db", db, "annotators", "revoke", keys[0].partition(".")[0]]) == 0
    assert main(["arena", "--db", db, "annotators", "sessions", "alice"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[-1] for line in listing[-2:]] == ["revoked", "active"]
    assert main(["arena", "--db", db, "annotators", "disable", "alice"]) == 0
    with factory() as session:
        assert authenticate(session, token) is None and session_annotator(session, keys[1], secret) is None
    assert main(["arena", "--db", db, "annotators", "enable", "alice"]) == 0
    with factory() as session:
        assert session_annotator(session, keys[1], secret).name == "alice"
    assert main(["arena", "--db", db, "annotators", "rotate", "alice"]) == 0
    new_token = capsys.readouterr().out.strip().splitlines()[-1]
    with factory() as session:
        assert authenticate(session, token) is None and authenticate(session, new_token).name == "alice"
        assert session_annotator(session, keys[1], secret) is None
    assert main(["arena", "--db", db, "annotators", "enable", "bob"]) == 2
    assert capsys.readouterr().err == "molmo-arena: error: no annotator named 'bob'\n"
