import pandas as pd
import pytest

from leaderboard.simulate import simulate_battles

TRUE_RATINGS = {"alpha": 1150.0, "bravo": 1080.0, "charlie": 1000.0, "delta": 960.0, "echo": 810.0}


@pytest.fixture
def battles() -> pd.DataFrame:
    """6,000 simulated battles among five models of known rating, with ties and categories."""
    return simulate_battles(TRUE_RATINGS, 6000, seed=1, categories=("chart", "ocr"))
