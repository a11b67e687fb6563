"""A real install: the built wheel, installed (not editable) into a fresh virtual environment, evaluates, compares,
fits and sets up an arena from a folder outside the source tree, with everything it needs shipped inside it.

The fresh environment takes its dependencies from the test environment's site-packages through a `.pth` line (as
`.venv-lmms-eval` does), so nothing is downloaded; molmo-arena itself comes only from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from evals.tasks import TASKS

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_BATTLES = ROOT / "results/samples/battles_simulated_molmo27.jsonl.gz"


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(command, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
def test_the_wheel_installed_in_a_fresh_environment_runs_every_part(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)
    source = tmp_path / "source"  # what a clone holds: the tracked files (and no build folders in the checkout)
    for name in _run(["git", "ls-files"], ROOT, env).splitlines():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--wheel-dir",
          str(tmp_path / "dist"), str(source)], tmp_path, env)
    (wheel,) = (tmp_path / "dist").glob("molmo_arena-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert {"molmo_arena/prompts/ai2d.yaml", "molmo_arena/reference/molmo_paper_table1.csv",
            "molmo_arena/reference/models.yaml", "molmo/train/configs/tiny_counting.yaml"} <= shipped

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    fresh_site = _run([str(python), "-c", "import site; print(site.getsitepackages()[0])"], tmp_path, env).strip()
    Path(fresh_site, "test_dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
          str(wheel)], tmp_path, env)

    work = tmp_path / "elsewhere"
    work.mkdir()
    located = _run([str(python), "-c", "import evals.prompts, evals.registry; "
                    "print(evals.prompts.PROMPTS_DIR); print(evals.registry.REGISTRY_PATH)"], work, env)
    assert all(line.startswith(fresh_site) for line in located.split()), located

    cli = str(venv / "bin" / "molmo-arena")
    _run([str(python), "-m", "evals.fixtures", "fixtures", "--n", "2"], work, env)
    _run([cli, "eval", "run", "--model", "molmo:tiny", "--tasks", "all", "--data-dir", "fixtures",
          "--out", "run"], work, env)
    record = json.loads((work / "run" / "run.json").read_text())
    assert record["status"] == "complete" and list(record["tasks"]) == list(TASKS)  # every benchmark folder
    table = _run([cli, "eval", "compare", "run"], work, env)
    lines = table.splitlines()
    assert lines[0].startswith("| model | ai2d |") and any(line.startswith("| Molmo-7B-D (paper) |") for line in lines)
    assert lines[-1].startswith("| tiny (molmo prompts, molmo scoring) |")

    _run([cli, "leaderboard", "fit", str(SAMPLE_BATTLES), "--out", "ratings", "--rounds", "20"], work, env)
    assert len(json.loads((work / "ratings" / "ratings.json").read_text())["ratings"]) == 27
    _run([cli, "arena", "--db", "arena.db", "init"], work, env)
    assert (work / "arena.db").stat().st_size > 0
