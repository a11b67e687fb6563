"""Decoding: KV cache = no cache, batched = one by one, EOS stops rows, seeded sampling, top-p."""

import copy

import numpy as np
import pytest
import torch
from PIL import Image

from molmo.checkpoint import random_init
from molmo.config import get_preset
from molmo.generation import generate, sample_top_p
from molmo.processing import MolmoProcessor, tiny_tokenizer

PROMPTS = ["What is the value of the tallest bar?", "Hi", "How many shapes are there?"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: one thread beats several


@pytest.fixture(scope="module")
def processor():
    return MolmoProcessor(tiny_tokenizer(), get_preset("tiny").image_config(12))


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, size, dtype=np.uint8)) for size in ((300, 300, 3), (300, 520, 3))]


@pytest.fixture(scope="module")
def model():
    return random_init(get_preset("tiny"), seed=3)


def _batch(processor, images):
    return processor(PROMPTS, [images[0], None, images[1]])


@pytest.mark.parametrize("name", ["tiny", "tiny-olmo2", "tiny-olmoe"])
def test_kv_cache_equals_no_cache(name, processor, images):
    model = random_init(get_preset(name), seed=3)
    batch = _batch(processor, images)
    cached = generate(model, processor, batch, max_new_tokens=6)
    assert cached == generate(model, processor, batch, max_new_tokens=6, use_cache=False)
    assert max(len(ids) for ids in cached.token_ids) == 6


def test_batched_equals_one_by_one(model, processor, images):
    together = generate(model, processor, _batch(processor, images), max_new_tokens=6)
    for row, (prompt, image) in enumerate(zip(PROMPTS, [images[0], None, images[1]], strict=True)):
        alone = generate(model, processor, processor([prompt], [image]), max_new_tokens=6)
        assert alone.token_ids[0] == together.token_ids[row]
        assert alone.texts[0] == together.texts[row] == processor.decode(together.token_ids[row])


def test_eos_stops_each_row(model, processor, images):
    batch = _batch(processor, images)
    free = generate(model, processor, batch, max_new_tokens=6).token_ids
    stop = free[0][2]  # pretend the third token of row 0 is EOS
    with_eos = copy.copy(processor)
    with_eos.eos_token_id = stop
    stopped = generate(model, with_eos, batch, max_new_tokens=6).token_ids
    for row, tokens in enumerate(free):
        expected = tokens[: tokens.index(stop)] if stop in tokens else tokens
        assert stopped[row] == expected
    assert len(stopped[0]) == free[0].index(stop) <= 2


def test_a_row_that_says_eos_first_is_empty(model, processor):
    batch = processor(["Hi"])
    first = generate(model, processor, batch, max_new_tokens=1).token_ids[0]
    with_eos = copy.copy(processor)
    with_eos.eos_token_id = first[0]
    assert generate(model, with_eos, batch, max_new_tokens=50).token_ids == [[]]


def test_sampling_is_seeded(model, processor, images):
    batch = _batch(processor, images)
    kwargs = dict(max_new_tokens=8, do_sample=True, temperature=1.5, top_p=0.95)
    first = generate(model, processor, batch, seed=7, **kwargs)
    assert generate(model, processor, batch, seed=7, **kwargs) == first
    assert generate(model, processor, batch, seed=8, **kwargs) != first
    # A nucleus this small holds the most likely token only: greedy.
    nucleus = generate(model, processor, batch, max_new_tokens=8, do_sample=True, top_p=1e-9)
    assert nucleus == generate(model, processor, batch, max_new_tokens=8)


def test_top_p_never_draws_outside_the_nucleus():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).expand(2000, -1)
    generator = torch.Generator().manual_seed(0)
    drawn = sample_top_p(logits, temperature=1.0, top_p=0.75, generator=generator)
    assert set(drawn.tolist()) == {0, 1}  # 0.5 + 0.3 reaches 0.75
    assert abs((drawn == 0).float().mean().item() - 0.5 / 0.8) < 0.05


def test_bad_settings(model, processor):
    batch = processor(["Hi"])
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, processor, batch, max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, processor, batch, do_sample=True, temperature=0.0)
