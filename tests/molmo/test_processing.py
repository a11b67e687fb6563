"""Text + image -> model inputs: the prompt format, BOS, image tokens in any tokenizer, counts, left padding."""

import time

import numpy as np
import pytest
from PIL import Image

from molmo.image_preprocessing import MOLMO_TRAIN_CONFIG
from molmo.image_tokens import IM_COL, IM_END, IM_PATCH, IM_START, num_image_tokens
from molmo.processing import EOS_TOKEN, MolmoProcessor, add_image_tokens, format_prompt, tiny_tokenizer


@pytest.fixture(scope="module")
def processor():
    return MolmoProcessor(tiny_tokenizer(), MOLMO_TRAIN_CONFIG)


def _image(height: int, width: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def test_format_prompt():
    assert format_prompt("What is this?") == " User: What is this? Assistant:"
    assert format_prompt("What is this?", "vqa2") == " User: vqa2: What is this? Assistant:"


def test_tiny_tokenizer_is_fast_and_laid_out_like_the_release():
    start = time.perf_counter()
    tokenizer = tiny_tokenizer()
    assert time.perf_counter() - start < 1.0
    # base vocabulary of 512, then the image tokens in the image-token rows, as 152064.. for Molmo-7B-D
    assert [tokenizer.convert_tokens_to_ids(t) for t in (IM_START, IM_END, IM_PATCH, IM_COL)] == [512, 513, 514, 515]
    assert tokenizer.eos_token == EOS_TOKEN and tokenizer.bos_token_id is None
    text = " User: What colour is the car? Assistant: red"
    assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False)) == text


def test_image_tokens_added_to_any_tokenizer_once():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(["hi there, a Llama-like tokenizer with a BOS"], trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    before = len(tokenizer)
    ids = add_image_tokens(tokenizer)
    assert len(tokenizer) == before + 4 and sorted(ids.values()) == list(range(before, before + 4))
    assert add_image_tokens(tokenizer) == ids and len(tokenizer) == before + 4
    # A tokenizer with its own BOS starts with it; Qwen2-like ones (no BOS) start with EOS.
    with_bos = MolmoProcessor(tokenizer)
    assert with_bos.encode("hi").input_ids[0] == tokenizer.bos_token_id
    no_bos = MolmoProcessor(tiny_tokenizer())
    assert no_bos.encode("hi").input_ids[0] == no_bos.tokenizer.eos_token_id


@pytest.mark.parametrize(
    ("size", "tiling", "grid"),
    [  # (height, width) -> (rows, cols) and the stitched (H, W) = (8 rows + 4, 8 cols + 4) pooled grid
        ((300, 300), (1, 1), (12, 12)),
        ((300, 520), (1, 2), (12, 20)),
        ((784, 1008), (3, 4), (28, 36)),  # the spec's example: 28 x 36 after the 12 x 12 global view
        ((1000, 250), (4, 1), (36, 12)),
    ],
)
def test_token_counts_match_the_release_formula(processor, size, tiling, grid):
    example = processor.encode("What is this?", _image(*size))
    ids, ids_of = example.input_ids.tolist(), processor.image_token_ids
    text = processor.tokenizer.encode(" User: What is this? Assistant:", add_special_tokens=False)
    assert len(example.crops) == 1 + tiling[0] * tiling[1]
    assert len(ids) == 1 + num_image_tokens(tiling, MOLMO_TRAIN_CONFIG) + len(text)
    assert num_image_tokens(tiling, MOLMO_TRAIN_CONFIG) == 158 + grid[0] * (grid[1] + 1) + 2
    assert ids.count(ids_of[IM_PATCH]) == 144 + grid[0] * grid[1]
    assert ids.count(ids_of[IM_COL]) == 12 + grid[0]
    assert ids.count(ids_of[IM_START]) == ids.count(ids_of[IM_END]) == 2
    assert ids[1] == ids_of[IM_START] and ids[-len(text):] == text
    fed = example.image_input_idx[example.image_input_idx >= 0]
    assert sorted(fed.tolist()) == [i for i, t in enumerate(ids) if t == ids_of[IM_PATCH]]


def test_max_crops_per_example(processor):
    big = _image(1200, 1600)
    few = processor.encode("q", big, max_crops=4)
    many = processor.encode("q", big, max_crops=36)
    assert len(few.crops) <= 1 + 4 < len(many.crops) <= 1 + 36


def test_left_padded_batch(processor):
    small, wide = _image(300, 300), _image(300, 520)
    batch = processor(["What is the value of the tallest bar?", "Hi", "How many?"], [small, None, wide],
                      styles=["chart_qa", None, None])
    encoded = [processor.encode("What is the value of the tallest bar?", small, "chart_qa"),
               processor.encode("Hi"), processor.encode("How many?", wide)]
    length = max(len(e.input_ids) for e in encoded)
    assert batch.input_ids.shape == (3, length)
    assert batch.images.shape == (3, 3, 576, 588)  # up to 1 + 1 x 2 crops
    for row, example in enumerate(encoded):
        pad = length - len(example.input_ids)
        assert batch.attention_mask[row].tolist() == [False] * pad + [True] * len(example.input_ids)
        assert batch.input_ids[row, pad:].tolist() == example.input_ids.tolist()
        assert (batch.input_ids[row, :pad] == processor.pad_token_id).all()
        if example.crops is None:  # the text-only row: padding crops only
            assert (batch.image_input_idx[row] == -1).all() and (batch.image_masks[row] == -1).all()
            assert not batch.images[row].any()
            continue
        n = len(example.crops)
        assert np.array_equal(batch.images[row, :n].numpy(), example.crops)
        assert not batch.images[row, n:].any() and (batch.image_input_idx[row, n:] == -1).all()
        idx, shifted = example.image_input_idx, batch.image_input_idx[row, :n].numpy()
        assert np.array_equal(shifted[idx >= 0], idx[idx >= 0] + pad)  # positions follow the left padding
        assert np.array_equal(shifted[idx < 0], idx[idx < 0])
    assert batch.prompts[0] == " User: chart_qa: What is the value of the tallest bar? Assistant:"
    assert processor(["a", "b"]).images is None


def test_mask_layouts():
    image = _image(300, 520)
    release = MolmoProcessor(tiny_tokenizer()).encode("q", image).image_masks
    aligned = MolmoProcessor(tiny_tokenizer(), release_image_masks=False).encode("q", image).image_masks
    assert np.array_equal(release[:-1], aligned[1:]) and (release[-1] == -1).all()
    assert aligned[0].min() == 0  # the global view of a wide image is padded
