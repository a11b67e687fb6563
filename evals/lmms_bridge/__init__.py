"""The lmms-eval bridge: our adapters as an lmms-eval model, and lmms-eval tasks run from our CLI.

lmms-eval is an optional extra (`pip install 'molmo-arena[lmms-eval]'`). It finds the model through the
`lmms_eval.models` entry point this distribution declares, so `lmms-eval eval --model molmo_arena --model_args
spec=KIND:TARGET --tasks ...` runs any of our adapters; `molmo-arena eval lmms-eval` runs lmms-eval tasks and
writes a run folder in our record format. lmms-eval's own dependencies pull torchvision: where only a build that
fails at import exists (CPU-only machines here), install the extra and then `pip uninstall torchvision`; every
image path used here is torchvision-free. `make lmms-eval-env` builds such an environment beside `.venv`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

MODEL_NAME = "molmo_arena"
INSTALL_HINT = ("pip install 'molmo-arena[lmms-eval]' (then pip uninstall torchvision where its build cannot be "
                "imported), or build the side environment with make lmms-eval-env")


def require_lmms_eval() -> str:
    """The installed lmms-eval version; an ImportError that says how to install it otherwise."""
    from importlib import metadata

    try:
        import lmms_eval  # noqa: F401
    except ImportError as error:
        raise ImportError(f"the lmms-eval bridge needs lmms-eval ({error}): {INSTALL_HINT}") from None
    return metadata.version("lmms-eval")


def judge_without_key() -> None:
    """Let lmms-eval's task modules import when no OpenAI key is set, without writing a key anywhere.

    lmms-eval's MathVista task builds its LLM judge when its module is imported (lmms_eval/tasks/mathvista/
    mathvista_evals.py, the class body of `MathVistaEvaluator`), and the OpenAI client it makes refuses to exist
    without OPENAI_API_KEY, so the task cannot even be listed. When the variable is unset, this registers, through
    lmms-eval's own hook (`ProviderFactory.register_provider`), an "openai" judge that needs no key and fails
    each request saying which variable to set; lmms-eval logs the failure and extracts nothing, as it does when
    its judge cannot be reached. With a key set nothing changes.
    """
    import os

    from lmms_eval.llm_judge import ProviderFactory, ServerInterface

    if os.environ.get("OPENAI_API_KEY"):
        return

    class KeylessJudge(ServerInterface):
        def is_available(self) -> bool:
            return False

        def evaluate(self, request: Any) -> Any:
            raise ValueError("lmms-eval's LLM judge needs OPENAI_API_KEY, which is not set")

    ProviderFactory.register_provider("openai", KeylessJudge)


def model_manifest() -> Any:
    """The `lmms_eval.models` entry point: where lmms-eval finds the model named `molmo_arena`."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return ModelManifest(model_id=MODEL_NAME, simple_class_path="evals.lmms_bridge.model.MolmoArenaModel")


def image_bytes(visual: Any, where: str) -> bytes:
    """A PIL image or an image path as encoded bytes (PNG for decoded images, so nothing is lost)."""
    if isinstance(visual, (str, Path)):
        return Path(visual).read_bytes()
    if hasattr(visual, "save"):
        buffer = io.BytesIO()
        visual.convert("RGB").save(buffer, format="PNG", compress_level=1)  # lossless; fast beats small here
        return buffer.getvalue()
    raise ValueError(f"{where}: expected an image (PIL image or path), got {type(visual).__name__}")


def cut_at_stops(text: str, until: list[str]) -> str:
    """`text` up to the first of the task's stop strings, as lmms-eval's own models cut it."""
    for stop in until:
        if stop:
            text = text.split(stop, 1)[0]
    return text
