import pytest
from sqlalchemy import select

from arena.db import Annotator, Vote
from arena.export import export_battles
from arena.simulate import Panel, simulate_votes
from leaderboard.battles import load_battles
from leaderboard.ratings import FitSettings, fit_leaderboard

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_a_simulated_panel_votes_through_the_store_and_its_preferences_come_back(
        session_factory, session, make_study, tmp_path):
    make_study(n_models=3, n_prompts=12)
    panel = Panel(strengths={"model-0": 1300.0, "model-1": 1000.0, "model-2": 700.0}, random_share=0.0,
                  cant_tell=0.0)
    votes = simulate_votes(session_factory, panel, annotators=6, votes_each=10, seed=1)
    assert votes == 60  # 36 battles (12 prompts x 3 pairs): enough for 10 distinct ones each
    names = set(session.scalars(select(Annotator.name)))
    assert names == {f"simulated-annotator-{i:03d}" for i in range(6)}
    stored = session.scalars(select(Vote)).all()
    assert len(stored) == 60 and len({(v.annotator_id, v.battle_id) for v in stored}) == 60
    assert export_battles(session, tmp_path / "battles.jsonl") == 60
    board = fit_leaderboard(load_battles(tmp_path / "battles.jsonl"), FitSettings(ci="sandwich"))
    assert list(board.table()["model"]) == ["model-0", "model-1", "model-2"]

