"""The lmms-eval side environment that `make lmms-eval-env` builds (lmms-eval on top of .venv's packages,
torchvision uninstalled again because its only build here fails at import), for the tests that run lmms-eval for
real. Nothing is skipped: without the environment these tests fail and say how to build it."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIDE_ENV = Path(os.environ.get("MOLMO_ARENA_LMMS_EVAL_VENV", ROOT / ".venv-lmms-eval"))
ENV = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
           OMP_NUM_THREADS="1")
ENV.pop("OPENAI_API_KEY", None)  # lmms-eval's tasks must import without one


def side(name: str) -> str:
    """The path of a program in the side environment's bin/; a test failure saying how to build it otherwise."""
    path = SIDE_ENV / "bin" / name
    if not path.exists():
        pytest.fail(f"{path} is missing: build the lmms-eval side environment with `make lmms-eval-env` "
                    "(make test builds it)")
    return str(path)


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run `command` offline; its stderr tail in the assertion when it fails."""
    done = subprocess.run(command, check=False, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done
