"""`molmo-arena demo` end to end on a shrunken workload: every step's output, then a second run that reuses it."""

import json
import re

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from molmo_arena import main

ARGS = ["--train-steps", "2", "--items", "2", "--synthetic-items", "3"]


@pytest.mark.slow
def test_the_demo_runs_the_whole_loop_and_reuses_its_work(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *ARGS]) == 0
    printed = capsys.readouterr().out
    assert f"report:     {out / 'report' / 'report.html'}" in printed
    assert f"molmo-arena arena --db {out / 'arena' / 'arena.db'} serve" in printed

    table = pd.read_csv(out / "benchmarks.csv")
    assert list(table["model"]) == ["molmo-tiny-trained", "molmo-tiny-untrained", "tiny-llava-random",
                                    "most-frequent-answer"]
    assert table["avg11"].between(0, 100).all() and "synthetic_count" in table.columns
    for model in table["model"]:
        record = json.loads((out / "runs" / model / "benchmarks" / "run.json").read_text())
        assert record["status"] == "complete" and len(record["scores"]) == 11

    with create_engine(f"sqlite:///{out / 'arena' / 'arena.db'}").connect() as connection:
        judges = connection.execute(text("SELECT DISTINCT name FROM annotators")).scalars().all()
        votes = connection.execute(text("SELECT COUNT(*) FROM votes")).scalar()
    assert votes > 0 and all(re.fullmatch(r"simulated-annotator-\d{3}", name) for name in judges)

    page = (out / "report" / "report.html").read_text()
    assert "SIMULATED" in page and page.count("<figure") == 5  # the benchmark scatter included
    ratings = pd.read_csv(out / "report" / "ratings.csv")
    assert set(ratings["model"]) == set(table["model"])

    assert main(["demo", "--out", str(out), *ARGS]) == 0
    again = capsys.readouterr().out
    assert "reusing the trained model" in again and "reusing the arena study" in again
