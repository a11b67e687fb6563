"""Training configuration: YAML files in `molmo/train/configs/` -> checked, frozen dataclasses.

A config has five sections (see `configs/stage1_caption.yaml` for every key with its meaning):

    model   which preset to build, the checkpoint to start from, dropout
    data    the mixture (datasets with sampling rates), prompt formatting, packing and sequence length
    optim   per-component (ViT, connector, LLM) learning rates, warmups and clipping; AdamW settings
    train   steps, batch sizes, precision, parallelism (DDP / FSDP), checkpointing and logging cadence
    eval    benchmark tasks to run at checkpoints (optional)

Loading checks every key: an unknown or misspelt key, a wrong type or an impossible value is a
ValueError naming the file and the key path (`stage2.yaml: optim.components.vit.lr: expected a number`).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRECISIONS = ("auto", "bf16", "fp32")
PARALLELISMS = ("ddp", "fsdp")


@dataclass(frozen=True)
class ModelSection:
    """What to train."""

    preset: str  # a name of molmo.config.PRESETS
    tokenizer: str = "tiny"  # "tiny" (molmo.processing.tiny_tokenizer) or a Hugging Face tokenizer id / folder
    init_checkpoint: str | None = None  # start from these weights (stage 2 starts from stage 1)
    init_vision: str | None = None  # stage 1: the ViT from this CLIP checkpoint (hub id or folder)
    init_language: str | None = None  # stage 1: the decoder from this LLM checkpoint (hub id or folder)
    residual_dropout: float = 0.0  # dropout on every token's residual update in the LLM
    response_residual_dropout: float = 0.0  # dropout on the residual update of answer tokens only


@dataclass(frozen=True)
class DatasetSection:
    """One source of the mixture."""

    name: str  # label in logs; unique within the mixture
    reader: str  # row schema: a key of molmo.data.pixmo.DATASETS
    rate: float  # sampling rate, relative to the other datasets (normalised to sum to 1)
    source: str | None = None  # a local file/folder, "synthetic:<task>", or None for the Hugging Face id
    split: str = "train"
    style: str | None = None  # overrides the reader's style (academic sets: text_vqa, chart_qa, ...)
    images_dir: str | None = None  # downloaded PixMo images, named by their sha256
    limit: int | None = None  # read at most this many rows (synthetic: images)
    seed: int = 0  # synthetic split seed (0 trains, other seeds are held out)
    image_size: int = 128  # synthetic image side, pixels


@dataclass(frozen=True)
class DataSection:
    """The mixture and how its examples become sequences."""

    datasets: tuple[DatasetSection, ...]
    system_prompt: str = "demo_or_style"  # demo_or_style (SFT) | style_and_length (captioning)
    message_format: str = "role"  # role: " User: ... Assistant:" | none: no role tags (captioning)
    shuffle_annotations: bool = True  # shuffle the packed annotations' order
    transcripts_per_example: int = 1  # PixMo-Cap: the caption plus this many random transcripts
    loss_weighting: str = "root_subsegments"  # per-annotation weight sqrt(1 / n) | none
    max_seq_len: int = 2304
    max_crops: int = 12
    release_image_masks: bool = True  # image masks in the release's shifted layout, as molmo.processing feeds them
    num_workers: int = 0  # threads that pack examples (image pre-processing); 0 = in the training loop


@dataclass(frozen=True)
class ComponentSection:
    """One parameter group: its submodules, peak learning rate, warmup and gradient clipping."""

    modules: tuple[str, ...]  # submodule names (prefixes of parameter names), e.g. [vision_encoder]
    lr: float
    warmup_steps: int
    max_grad_norm: float | None = 1.0  # clip this component's gradient norm; null = no clipping


@dataclass(frozen=True)
class OptimSection:
    """AdamW and the schedule: linear warmup per component, then cosine decay to final_lr_fraction."""

    components: dict[str, ComponentSection]
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-6
    weight_decay: float = 0.0
    final_lr_fraction: float = 0.1  # cosine ends at 10% of each peak
    z_loss: float = 1e-4  # weight of the log(Z)^2 auxiliary loss


@dataclass(frozen=True)
class TrainSection:
    """The loop."""

    max_steps: int  # optimizer steps; the schedule's length
    global_batch_size: int  # examples (images) per optimizer step, over all processes
    micro_batch_size: int  # examples per forward pass on one process
    seed: int = 0
    precision: str = "auto"  # auto: bf16 autocast on GPU, fp32 on CPU
    parallelism: str = "ddp"  # with several processes: ddp | fsdp (FSDP2 fully_shard)
    activation_checkpointing: bool = False
    log_every: int = 1
    save_every: int = 0  # 0: save only at the end
    keep_checkpoints: int = 2  # older checkpoints are deleted
    eval_every: int = 0  # with an evaluation callback: evaluate every this many steps; 0: at every checkpoint


@dataclass(frozen=True)
class EvalSection:
    """Benchmarks to run at checkpoints: read by the evaluation callback that `molmo-arena train` gives the trainer."""

    tasks: tuple[str, ...]
    prompt_set: str = "molmo"
    limit: int | None = None
    batch_size: int = 8
    data: dict[str, str] = field(default_factory=dict)  # task -> local copy in the hub schema


@dataclass(frozen=True)
class TrainingConfig:
    """A whole run; `path` is the file it came from (for messages and the run record)."""

    model: ModelSection
    data: DataSection
    optim: OptimSection
    train: TrainSection
    eval: EvalSection | None = None
    path: str = "<dict>"

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data (YAML/JSON-ready), without `path`."""
        return _plain({f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "path"})


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class ConfigError(ValueError):
    """A bad key or value, with the file and key path in the message."""


_SCALARS: dict[type, tuple[tuple[type, ...], str]] = {
    bool: ((bool,), "true or false"),
    int: ((int,), "an integer"),
    float: ((int, float), "a number"),
    str: ((str,), "a string"),
}


_EXPONENT_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _convert(value: Any, hint: Any, where: str, key: str) -> Any:
    """Check `value` against the type hint and convert lists to tuples and mappings to dataclasses."""

    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{where}: {key}: expected {expected}, got {value!r}")

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, where, key)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise fail("a mapping")
        return _build(hint, value, where, key)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise fail("a list")
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        elif len(value) != len(args):
            raise fail(f"a list of {len(args)}")
        return tuple(_convert(v, a, where, f"{key}[{k}]") for k, (v, a) in enumerate(zip(value, args, strict=True)))
    if origin is dict:
        if not isinstance(value, dict):
            raise fail("a mapping")
        return {str(k): _convert(v, args[1], where, f"{key}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value):
        value = float(value)  # YAML 1.1 reads 1e-3 (no dot before the exponent) as a string
    allowed, expected = _SCALARS[hint]
    if not isinstance(value, allowed) or (isinstance(value, bool) and hint is not bool):
        raise fail(expected)
    return float(value) if hint is float else value


def _build(cls: type, mapping: dict[str, Any], where: str, prefix: str) -> Any:
    """One dataclass from a mapping: unknown keys and missing required keys are errors."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "path"}
    dotted = f"{prefix}." if prefix else ""
    unknown = sorted(set(map(str, mapping)) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: {dotted}{unknown[0]}: unknown key (known: {', '.join(fields)})")
    values = {}
    for name, spec in fields.items():
        if name in mapping:
            values[name] = _convert(mapping[name], hints[name], where, f"{dotted}{name}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: {dotted}{name}: missing required key")
    return cls(**values)


def _check(config: TrainingConfig) -> None:
    """Values that are well typed but impossible."""
    from molmo.config import PRESETS
    from molmo.data.formatting import MESSAGE_FORMATS, SYSTEM_PROMPTS
    from molmo.data.packing import LOSS_WEIGHTINGS
    from molmo.data.pixmo import DATASETS

    where = config.path

    def require(ok: bool, key: str, problem: str) -> None:
        if not ok:
            raise ConfigError(f"{where}: {key}: {problem}")

    model, data, optim, train = config.model, config.data, config.optim, config.train
    require(model.preset in PRESETS, "model.preset", f"unknown preset {model.preset!r} (known: {', '.join(PRESETS)})")
    for name in ("residual_dropout", "response_residual_dropout"):
        require(0.0 <= getattr(model, name) < 1.0, f"model.{name}", "must lie in [0, 1)")
    require(not (model.init_checkpoint and (model.init_vision or model.init_language)), "model.init_checkpoint",
            "start from a whole checkpoint or from init_vision / init_language, not both")
    require(bool(data.datasets), "data.datasets", "the mixture is empty")
    names = [d.name for d in data.datasets]
    for k, dataset in enumerate(data.datasets):
        key = f"data.datasets[{k}]"
        require(names.count(dataset.name) == 1, f"{key}.name", f"{dataset.name!r} appears twice")
        require(dataset.reader in DATASETS, f"{key}.reader",
                f"unknown reader {dataset.reader!r} (known: {', '.join(DATASETS)})")
        require(dataset.rate > 0, f"{key}.rate", "must be > 0")
        if dataset.source is not None and dataset.source.startswith("synthetic:"):
            from molmo.data.synthetic import TASKS

            task = dataset.source.removeprefix("synthetic:")
            require(task in TASKS, f"{key}.source", f"unknown synthetic task {task!r} (known: {', '.join(TASKS)})")
            require(TASKS[task][1] == dataset.reader, f"{key}.reader",
                    f"synthetic:{task} writes {TASKS[task][1]} rows, not {dataset.reader}")
            require(dataset.limit is not None and dataset.limit > 0, f"{key}.limit", "synthetic data needs limit > 0")
    require(data.system_prompt in SYSTEM_PROMPTS, "data.system_prompt", f"expected one of {SYSTEM_PROMPTS}")
    require(data.message_format in MESSAGE_FORMATS, "data.message_format", f"expected one of {MESSAGE_FORMATS}")
    require(data.loss_weighting in LOSS_WEIGHTINGS, "data.loss_weighting", f"expected one of {LOSS_WEIGHTINGS}")
    require(data.max_seq_len > 0, "data.max_seq_len", "must be > 0")
    require(data.max_crops >= 1, "data.max_crops", "must be >= 1")
    require(data.num_workers >= 0, "data.num_workers", "must be >= 0")
    require(bool(optim.components), "optim.components", "no components")
    for name, component in optim.components.items():
        key = f"optim.components.{name}"
        require(bool(component.modules), f"{key}.modules", "empty")
        require(component.lr >= 0, f"{key}.lr", "must be >= 0")
        require(component.warmup_steps >= 0, f"{key}.warmup_steps", "must be >= 0")
        require(component.max_grad_norm is None or component.max_grad_norm > 0, f"{key}.max_grad_norm",
                "must be > 0 or null")
    require(all(0.0 <= b < 1.0 for b in optim.betas), "optim.betas", "each must lie in [0, 1)")
    require(optim.eps > 0, "optim.eps", "must be > 0")
    require(optim.weight_decay >= 0, "optim.weight_decay", "must be >= 0")
    require(0.0 <= optim.final_lr_fraction <= 1.0, "optim.final_lr_fraction", "must lie in [0, 1]")
    require(optim.z_loss >= 0, "optim.z_loss", "must be >= 0")
    require(train.max_steps > 0, "train.max_steps", "must be > 0")
    require(train.micro_batch_size > 0, "train.micro_batch_size", "must be > 0")
    require(train.global_batch_size % train.micro_batch_size == 0, "train.global_batch_size",
            f"{train.global_batch_size} is not a multiple of micro_batch_size {train.micro_batch_size}")
    require(train.precision in PRECISIONS, "train.precision", f"expected one of {PRECISIONS}")
    require(train.parallelism in PARALLELISMS, "train.parallelism", f"expected one of {PARALLELISMS}")
    for name in ("log_every", "save_every", "eval_every", "keep_checkpoints"):
        require(getattr(train, name) >= (1 if name in ("log_every", "keep_checkpoints") else 0), f"train.{name}",
                "out of range")
    if config.eval is not None:
        require(bool(config.eval.tasks), "eval.tasks", "empty")


def config_from_dict(mapping: dict[str, Any], where: str = "<dict>") -> TrainingConfig:
    """Build and check a config from plain data; `where` names it in error messages."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level")
    config = dataclasses.replace(_build(TrainingConfig, mapping, where, ""), path=where)
    _check(config)
    return config


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainingConfig:
    """Read a YAML config; `overrides` maps dotted keys to values ("train.max_steps": 10) applied first."""
    import yaml

    path = Path(path)
    try:
        mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(mapping, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    for dotted, value in (overrides or {}).items():
        *parents, last = dotted.split(".")
        node = mapping
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{path}: {dotted}: cannot override inside a non-mapping")
        node[last] = value
    return config_from_dict(mapping, str(path))
