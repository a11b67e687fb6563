"""The same trainer under torchrun: 2 CPU processes (gloo), DDP and FSDP2, against one process with the same
global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from molmo.train.config import config_from_dict
from molmo.train.trainer import Trainer
from tests.molmo.test_train_trainer import tiny_config
from tests.torch_threads import one_torch_thread

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: one thread beats several

WORKER = '''
import json, sys
import torch
import molmo.modeling
from molmo.train.config import config_from_dict
from molmo.train.distributed import init_distributed
from molmo.train.trainer import Trainer

built = []  # the device of every Molmo this process constructs


class Recorded(molmo.modeling.MolmoForCausalLM):
    def __init__(self, config):
        super().__init__(config)
        built.append(next(self.parameters()).device.type)


molmo.modeling.MolmoForCausalLM = Recorded
configs, out = json.loads(sys.argv[1]), sys.argv[2]
env = init_distributed()
for parallelism, config in configs.items():  # one launch, one process group, both wrappings in turn
    built.clear()
    trainer = Trainer(config_from_dict(config), f"{out}/{parallelism}", env=env, progress=False)
    at_start = list(built)
    records = trainer.run()
    json.dump(at_start, open(f"{out}/{parallelism}/built-rank{trainer.env.rank}.json", "w"))
    # DDP holds whole tensors, FSDP2 DTensor shards: gather them (a collective, same order on every rank).
    weights = {name: (t.full_tensor() if hasattr(t, "full_tensor") else t).detach().cpu()
               for name, t in trainer.module.state_dict().items()}
    torch.save(weights, f"{out}/{parallelism}/weights-rank{trainer.env.rank}.pt")
    if trainer.env.is_main:
        json.dump([r["loss"] for r in records], open(f"{out}/{parallelism}/losses.json", "w"))
'''


def _config(parallelism: str) -> dict:
    config = tiny_config(max_steps=3, global_batch_size=4, micro_batch_size=1, parallelism=parallelism)
    config["model"]["residual_dropout"] = 0.0  # dropout masks differ with the split of the batch
    return config


@pytest.fixture(scope="module")
def single_process(tmp_path_factory) -> tuple[list[float], dict[str, torch.Tensor]]:
    with one_torch_thread():
        trainer = Trainer(config_from_dict(_config("ddp")), tmp_path_factory.mktemp("single"), progress=False)
        losses = [r["loss"] for r in trainer.run()]
    return losses, {name: t.detach().clone() for name, t in trainer.module.state_dict().items()}


def test_ddp_and_fsdp_on_two_processes_match_one_process_with_the_same_global_batch(tmp_path, single_process):
    (tmp_path / "worker.py").write_text(WORKER)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    configs = {parallelism: _config(parallelism) for parallelism in ("ddp", "fsdp")}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               str(tmp_path / "worker.py"), json.dumps(configs), str(out)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    losses, weights = single_process
    built = {(parallelism, rank): json.loads((out / parallelism / f"built-rank{rank}.json").read_text())
             for parallelism in configs for rank in (0, 1)}
    # DDP needs the whole model everywhere; under FSDP only rank 0 ever holds it, the others start on meta.
    assert built == {("ddp", 0): ["cpu"], ("ddp", 1): ["cpu"], ("fsdp", 0): ["cpu"], ("fsdp", 1): ["meta"]}
    for parallelism in configs:
        rank0, rank1 = (torch.load(out / parallelism / f"weights-rank{r}.pt") for r in (0, 1))
        for name, tensor in rank0.items():
            assert torch.equal(tensor, rank1[name]), (parallelism, name)  # both ranks end with the same weights
        assert json.loads((out / parallelism / "losses.json").read_text()) == pytest.approx(losses, rel=1e-4)
        for name, tensor in weights.items():
            torch.testing.assert_close(rank0[name], tensor, atol=1e-4, rtol=1e-3, msg=f"{parallelism} {name}")


def test_a_torchrun_process_without_its_process_group_is_refused(monkeypatch, tmp_path):
    """The trainer starts no process group itself: under torchrun the launching command must have started it."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="init_distributed"):
        Trainer(config_from_dict(_config("ddp")), tmp_path / "run", progress=False)
