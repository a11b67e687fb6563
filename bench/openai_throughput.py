"""Throughput of the OpenAI-compatible path: items/s through `molmo-arena serve` at several client concurrencies,
beside in-process generation of the same model and items.

Serves a tiny random Hugging Face VLM (LLaVA layout) with `molmo-arena serve` in a subprocess, sends the benchmark
fixtures' requests (generic prompts, images inline) through the `openai:` adapter at each concurrency, and runs the
same requests through the in-process `hf:` adapter at each batch size. Each figure is the best of `--repeats` runs,
since other jobs on a shared machine slow single runs down; torch runs `--threads` intra-op threads (default 1) in
both processes, as several threads busy-waiting beside other jobs make CPU timings erratic. Also checks that every
answer through the server equals the in-process one (greedy decoding).

    .venv/bin/python bench/openai_throughput.py [--items 64] [--concurrency 1,8,32] [--batch-sizes 1,8,32]
        [--max-batch 32] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import torch

from evals.adapters.base import GenerationRequest
from evals.adapters.hf import HFAdapter
from evals.adapters.openai_api import OpenAIAdapter
from evals.data import load_items
from evals.fixtures import write_fixture
from evals.prompts import render_prompt
from evals.tasks import get_task
from evals.tiny_models import save_tiny_llava

TASKS = ("ai2d", "chartqa", "vqav2", "realworldqa")  # short answers: 16, 16, 12 and 16 new tokens at most


def _requests(data: Path, items: int) -> list[GenerationRequest]:
    per_task = -(-items // len(TASKS))
    requests = []
    for task in TASKS:
        for item in load_items(get_task(task), str(write_fixture(task, data, n=per_task)), None):
            prompt = render_prompt(task, "generic", item)
            requests.append(GenerationRequest(prompt.text, item.images, prompt.max_new_tokens, prompt.max_crops))
    return requests[:items]


def _start_server(model: Path, max_batch: int, threads: int) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS=str(threads))
    process = subprocess.Popen(
        [sys.executable, "-m", "molmo_arena", "serve", "--model", f"hf:{model}", "--port", "0", "--name", "tiny",
         "--max-batch", str(max_batch)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    found = re.search(r"at (http://127\.0\.0\.1:\d+/v1)", process.stdout.readline())
    if not found:
        process.kill()
        raise RuntimeError("molmo-arena serve did not start")
    return process, found.group(1)


def _health(base_url: str) -> dict:
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/health", timeout=10) as reply:
        return json.load(reply)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--concurrency", default="1,8,32", help="client concurrencies to measure")
    parser.add_argument("--batch-sizes", default="1,8,32", help="in-process batch sizes to measure")
    parser.add_argument("--max-batch", type=int, default=32, help="the server's --max-batch")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure; the best is shown")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads in each process")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        requests = _requests(root / "data", args.items)
        model = save_tiny_llava(root / "model")
        rows: list[tuple[str, float, str]] = []
        local = HFAdapter(str(model))
        local.generate(requests[:1])  # warm-up
        expected = None
        for size in (int(s) for s in args.batch_sizes.split(",")):
            best = float("inf")
            for _ in range(args.repeats):
                start = time.perf_counter()
                answers = [a for i in range(0, len(requests), size) for a in local.generate(requests[i : i + size])]
                best = min(best, time.perf_counter() - start)
                expected = expected or [a.text for a in answers]
            rows.append((f"in-process hf: adapter, batch size {size}", len(requests) / best, "-"))
        del local
        process, base_url = _start_server(model, args.max_batch, args.threads)
        try:
            mismatches = 0
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                adapter = OpenAIAdapter(f"{base_url}?concurrency={concurrency}#tiny")
                adapter.generate(requests[:1])  # warm-up
                best, before = float("inf"), _health(base_url)
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    answers = adapter.generate(requests)
                    best = min(best, time.perf_counter() - start)
                    mismatches += sum(a.text != e for a, e in zip(answers, expected, strict=True))
                after = _health(base_url)
                mean_batch = (after["requests"] - before["requests"]) / (after["batches"] - before["batches"])
                rows.append((f"openai: -> molmo-arena serve, concurrency {concurrency}", len(requests) / best,
                             f"{mean_batch:.1f}"))
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"{len(requests)} items ({', '.join(TASKS)}; generic prompts), tiny random LLaVA-layout model on CPU, "
          f"server --max-batch {args.max_batch}, {args.threads} torch thread(s) per process, {os.cpu_count()} CPUs")
    print("| path | items/s | mean server batch |\n|---|---:|---:|")
    for name, rate, batch in rows:
        print(f"| {name} | {rate:.1f} | {batch} |")
    print(f"answers through the server that differ from in-process: {mismatches} of "
          f"{len(requests) * len(args.concurrency.split(',')) * args.repeats}")


if __name__ == "__main__":
    main()
