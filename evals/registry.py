"""The model registry (`results/reference/models.yaml`): who each model is, how open it is, how to run it.

`load_registry()` reads and validates the file (ValueError naming the file, the entry and the field); `spec(name)`
fills an entry's adapter template into a `--model` spec; `label(name)` is the display label reports use.
"""

from __future__ import annotations

import functools
import importlib.resources
import string
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

# The top-level results/reference/ folder, installed as the data package `molmo_arena.reference` (pyproject.toml).
REFERENCE_DIR = Path(str(importlib.resources.files("molmo_arena.reference")))
REGISTRY_PATH = REFERENCE_DIR / "models.yaml"
SCHEMA = "molmo-arena/models/v1"
GROUPS = ("API only", "Open weights only", "Open weights + data (distilled)", "Molmo (open weights, data, code)")
TEMPLATE_FIELDS = ("checkpoint", "base_url")


@dataclass(frozen=True)
class ModelEntry:
    """One model of the registry; the fields are described at the top of models.yaml."""

    name: str
    group: str
    family: str
    org: str
    checkpoint: str
    adapter: str | None
    params_b: float | None
    open_weights: bool
    open_data: bool
    open_code: bool
    distilled: bool | None
    active_params_b: float | None = None
    note: str | None = None

    @property
    def openness(self) -> str:
        """How open the model is, in words: API only, open weights, open weights + data, distilled, ..."""
        if not self.open_weights:
            return "API only"
        if not self.open_data:
            return "open weights"
        if self.distilled:
            return "open weights + data, distilled"
        return "open weights, data, code" if self.open_code else "open weights + data"


_NONE = type(None)
_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "group": (str,), "family": (str,), "org": (str,), "checkpoint": (str,),
    "adapter": (str, _NONE), "params_b": (int, float, _NONE), "active_params_b": (int, float, _NONE),
    "open_weights": (bool,), "open_data": (bool,), "open_code": (bool,), "distilled": (bool, _NONE),
    "note": (str, _NONE),
}
_OPTIONAL = ("active_params_b", "note")
_REQUIRED = tuple(f.name for f in fields(ModelEntry) if f.name not in _OPTIONAL)
# Each of the paper's groups as a condition on the openness fields.
_GROUP_RULES = {
    "API only": lambda e: not e.open_weights,
    "Open weights only": lambda e: e.open_weights and not e.open_data,
    "Open weights + data (distilled)": lambda e: e.open_weights and e.open_data and e.distilled is True,
    "Molmo (open weights, data, code)": lambda e: e.open_weights and e.open_data and e.open_code
    and e.distilled is False,
}


def _check_fields(raw: dict[str, Any], fail) -> None:
    for field in _REQUIRED:
        if field not in raw:
            raise fail(field, "missing")
    for field, value in raw.items():
        if field not in _TYPES:
            raise fail(field, f"unknown field; fields: {', '.join(_TYPES)}")
        types = _TYPES[field]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            names = " or ".join("null" if t is _NONE else t.__name__ for t in types)
            raise fail(field, f"expected {names}, got {value!r}")
        if isinstance(value, str) and not value.strip():
            raise fail(field, "empty")


def _check_adapter(template: str, known_kinds: set[str], fail) -> None:
    kind = template.partition(":")[0]
    if kind not in known_kinds:
        raise fail("adapter", f"unknown adapter kind {kind!r}; kinds: {', '.join(sorted(known_kinds))}")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise fail("adapter", f"not a valid template ({error})") from None
    unknown = sorted(names - set(TEMPLATE_FIELDS))
    if unknown:
        raise fail("adapter", f"unknown placeholder {{{unknown[0]}}}; placeholders: "
                   + ", ".join("{" + name + "}" for name in TEMPLATE_FIELDS))


def _entry(raw: Any, where: str, known_kinds: set[str]) -> ModelEntry:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping of fields, got {type(raw).__name__}")

    def fail(field: str, message: str) -> ValueError:
        return ValueError(f"{where}: field {field!r}: {message}")

    _check_fields(raw, fail)
    entry = ModelEntry(**raw)
    if entry.group not in GROUPS:
        raise fail("group", f"{entry.group!r} is not one of: {'; '.join(GROUPS)}")
    if not _GROUP_RULES[entry.group](entry):
        raise fail("group", f"{entry.group!r} contradicts the openness fields ({entry.openness})")
    for field in ("params_b", "active_params_b"):
        value = getattr(entry, field)
        if value is not None and value <= 0:
            raise fail(field, f"expected a positive number, got {value!r}")
    if entry.active_params_b is not None and (entry.params_b is None or entry.active_params_b > entry.params_b):
        raise fail("active_params_b", "must not exceed params_b")
    if entry.adapter is not None:
        _check_adapter(entry.adapter, known_kinds, fail)
    return entry


def load_registry(path: str | Path = REGISTRY_PATH) -> dict[str, ModelEntry]:
    """name -> entry, in file order; ValueError naming the file, the entry and the field on the first problem."""
    from evals.adapters import KINDS

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise ValueError(f"{path}: expected a mapping with schema: {SCHEMA}")
    models = document.get("models")
    if not isinstance(models, list) or not models:
        raise ValueError(f"{path}: field 'models': expected a non-empty list")
    registry: dict[str, ModelEntry] = {}
    for index, raw in enumerate(models):
        name = raw.get("name") if isinstance(raw, dict) else None
        where = f"{path}: models[{index}]" + (f" ({name})" if isinstance(name, str) else "")
        entry = _entry(raw, where, set(KINDS))
        if entry.name in registry:
            raise ValueError(f"{where}: field 'name': duplicate of an earlier entry")
        registry[entry.name] = entry
    return registry


@functools.cache
def default_registry() -> dict[str, ModelEntry]:
    """The shipped registry, read once."""
    return load_registry()


def get_model(name: str, registry: dict[str, ModelEntry] | None = None) -> ModelEntry:
    """The entry for `name`; ValueError listing the known names if there is none."""
    registry = default_registry() if registry is None else registry
    if name not in registry:
        raise ValueError(f"no model {name!r} in the registry; known: {', '.join(registry)}")
    return registry[name]


def spec(name: str, base_url: str | None = None, registry: dict[str, ModelEntry] | None = None) -> str:
    """The `--model` spec of a registered model; `base_url` is the OpenAI-compatible server where one is needed."""
    entry = get_model(name, registry)
    if entry.adapter is None:
        raise ValueError(f"{name}: no adapter runs this model ({entry.note or 'no template'})")
    if "{base_url}" in entry.adapter and not base_url:
        raise ValueError(f"{name}: served through an OpenAI-compatible server (e.g. vLLM serving "
                         f"{entry.checkpoint}); give its base_url, e.g. http://127.0.0.1:8000/v1")
    return entry.adapter.format(checkpoint=entry.checkpoint, base_url=(base_url or "").rstrip("/"))


def label(name: str, registry: dict[str, ModelEntry] | None = None) -> str:
    """`Molmo-7B-D (open weights, data, code)`; a name not in the registry is returned as it is."""
    registry = default_registry() if registry is None else registry
    entry = registry.get(name)
    return name if entry is None else f"{name} ({entry.openness})"
