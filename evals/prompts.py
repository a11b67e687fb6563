"""Recorded prompt templates (`prompts/<task>.yaml`): loading, hashing and rendering.

A prompt file holds named prompt sets (at least `molmo` and `generic`). Each set records its templates, the
option format for multiple choice, `max_new_tokens`, `max_crops` and a `source` note. The sha256 of the file's
bytes identifies the prompt version in every result.

Template names: `multiple_choice` for items with choices (`multiple_choice_unlabelled`, when present, for options
that are themselves letters), else `short_answer`, which a set may specialise by MathVista-style answer type as
`short_answer_<answer_type>` or `short_answer_<answer_type>_<precision>` (read from the item's meta).
Placeholders: {question}, {question_first_line}, {question_core} (after the last "Question:", before "Hint:"),
{options}.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import math
import re
import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from evals.items import EvalItem

# The top-level prompts/ folder, installed as the data package `molmo_arena.prompts` (pyproject.toml).
PROMPTS_DIR = Path(str(importlib.resources.files("molmo_arena.prompts")))
PLACEHOLDERS = ("question", "question_first_line", "question_core", "options")
_TEMPLATE_NAME = re.compile(r"multiple_choice(_unlabelled)?|short_answer(_[a-z]+(_\d+)?)?")
_LETTERS = string.ascii_uppercase


@dataclass(frozen=True)
class PromptSet:
    """One named set of templates and the generation settings that go with them."""

    name: str
    templates: dict[str, str]
    max_new_tokens: int
    max_crops: int
    source: str
    option_format: str | None = None


@dataclass(frozen=True)
class PromptFile:
    """A loaded prompt file: its task, path, content hash (sha256 hex of the bytes) and prompt sets."""

    task: str
    path: Path
    sha256: str
    sets: dict[str, PromptSet]

    def get(self, name: str) -> PromptSet:
        """The set called `name`; ValueError naming the file and the available sets otherwise."""
        try:
            return self.sets[name]
        except KeyError:
            raise ValueError(f"{self.path}: no prompt set {name!r}; available sets: {', '.join(self.sets)}") from None


@dataclass(frozen=True)
class RenderedPrompt:
    """The exact text sent to the model, its generation settings and the prompt file's hash.

    `unlabelled_options` is True when the options were listed without letters (the model answers with an
    option's text); pass it to scoring as meta["unlabelled_options"].
    """

    text: str
    max_new_tokens: int
    max_crops: int
    prompt_hash: str
    unlabelled_options: bool = False


def _require(condition: bool, path: Path, message: str) -> None:
    if not condition:
        raise ValueError(f"{path}: {message}")


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _fields(path: Path, where: str, template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise ValueError(f"{path}: {where}: {error}") from None


def _parse_set(path: Path, name: str, raw: Any) -> PromptSet:
    where = f"set {name!r}"
    _require(isinstance(raw, dict), path, f"{where} must be a mapping")
    templates = raw.get("templates")
    _require(isinstance(templates, dict) and bool(templates), path, f"{where}: 'templates' must be a non-empty mapping")
    for template_name, template in templates.items():
        _require(
            isinstance(template_name, str) and _TEMPLATE_NAME.fullmatch(template_name) is not None,
            path,
            f"{where}: unknown template name {template_name!r}",
        )
        _require(isinstance(template, str), path, f"{where}: template {template_name!r} must be a string")
        allowed = set(PLACEHOLDERS) if template_name.startswith("multiple_choice") else set(PLACEHOLDERS) - {"options"}
        unknown = _fields(path, where, template) - allowed
        _require(
            not unknown,
            path,
            f"{where}: template {template_name!r} uses {sorted(unknown)}; it may use {', '.join(sorted(allowed))}",
        )
    for key in ("max_new_tokens", "max_crops"):
        _require(_is_positive_int(raw.get(key)), path, f"{where}: {key!r} must be a positive integer")
    _require(isinstance(raw.get("source"), str) and bool(raw["source"].strip()), path, f"{where}: 'source' is missing")
    option_format = raw.get("option_format")
    if "{options}" in templates.get("multiple_choice", ""):
        _require(
            isinstance(option_format, str) and _fields(path, where, option_format) == {"label", "text"},
            path,
            f"{where}: 'option_format' must be a string with the placeholders {{label}} and {{text}}",
        )
    return PromptSet(
        name=name,
        templates=dict(templates),
        max_new_tokens=raw["max_new_tokens"],
        max_crops=raw["max_crops"],
        source=raw["source"].strip(),
        option_format=option_format,
    )


def load_prompt_file(path: Path) -> PromptFile:
    """Read and validate one prompt file; ValueError naming the file on any schema error."""
    path = Path(path)
    data = path.read_bytes()
    raw = yaml.safe_load(data)
    _require(isinstance(raw, dict), path, "a prompt file must be a mapping with 'task' and 'sets'")
    _require(raw.get("task") == path.stem, path, f"'task' must be {path.stem!r}, the file's name")
    sets = raw.get("sets")
    _require(isinstance(sets, dict) and bool(sets), path, "'sets' must be a non-empty mapping")
    return PromptFile(
        task=path.stem,
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        sets={name: _parse_set(path, name, body) for name, body in sets.items()},
    )


@cache
def task_prompts(task: str) -> PromptFile:
    """The prompt file of `task` in prompts/ (read once per process)."""
    path = PROMPTS_DIR / f"{task}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in PROMPTS_DIR.glob("*.yaml"))
        raise ValueError(f"no prompt file for task {task!r} in {PROMPTS_DIR}; tasks with prompts: {', '.join(known)}")
    return load_prompt_file(path)


def prompt_hash(task: str) -> str:
    """sha256 (hex) of the bytes of the task's prompt file."""
    return task_prompts(task).sha256


def list_prompt_sets(task: str) -> list[str]:
    """Names of the prompt sets recorded for `task`."""
    return list(task_prompts(task).sets)


def _options_are_letters(choices: list[str]) -> bool:
    """Molmo's test for AI2D questions about lettered diagram labels: all options but at most one are letters."""
    letters = sum(len(choice.strip()) == 1 and choice.strip().isalpha() for choice in choices)
    return letters >= len(choices) - 1


def _template_name(prompt_set: PromptSet, item: EvalItem) -> str:
    if item.choices:
        if "multiple_choice_unlabelled" in prompt_set.templates and _options_are_letters(item.choices):
            return "multiple_choice_unlabelled"
        return "multiple_choice"
    answer_type = item.meta.get("answer_type")
    precision = item.meta.get("precision")
    candidates = []
    if isinstance(answer_type, str):
        if isinstance(precision, int | float) and not math.isnan(precision):
            candidates.append(f"short_answer_{answer_type}_{int(precision)}")
        candidates.append(f"short_answer_{answer_type}")
    return next((name for name in candidates if name in prompt_set.templates), "short_answer")


def _render_options(prompt_set: PromptSet, choices: list[str], unlabelled: bool) -> str:
    if unlabelled:
        return "\n".join(choice.strip().upper() if len(choice.strip()) == 1 else choice for choice in choices)
    return "\n".join(
        prompt_set.option_format.format(label=label, text=text) for label, text in zip(_LETTERS, choices, strict=False)
    )


def render_prompt(task: str, prompt_set: str, item: EvalItem) -> RenderedPrompt:
    """Render `item` with the named prompt set of `task`'s recorded prompt file."""
    prompts = task_prompts(task)
    chosen = prompts.get(prompt_set)
    name = _template_name(chosen, item)
    if name not in chosen.templates:
        raise ValueError(f"{prompts.path}: set {prompt_set!r} has no {name!r} template for item {item.id!r}")
    if item.choices and len(item.choices) > len(_LETTERS):
        raise ValueError(f"item {item.id!r}: at most {len(_LETTERS)} options can be labelled")
    template = chosen.templates[name]
    unlabelled = name == "multiple_choice_unlabelled"
    question = item.question.strip()
    fields = {
        "question": question,
        "question_first_line": question.splitlines()[0] if question else "",
        "question_core": question.split("Question:")[-1].split("Hint:")[0].strip(),
        "options": _render_options(chosen, item.choices, unlabelled) if "{options}" in template else "",
    }
    return RenderedPrompt(
        text=template.format(**fields),
        max_new_tokens=chosen.max_new_tokens,
        max_crops=chosen.max_crops,
        prompt_hash=prompts.sha256,
        unlabelled_options=unlabelled,
    )
