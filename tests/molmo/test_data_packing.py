"""Multi-annotation packing: the block mask, restarted positions, targets and weights, and the collator."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from molmo.config import get_preset
from molmo.data.formatting import Turn
from molmo.data.packing import IGNORE_INDEX, IMAGE_SUBSEGMENT, Packer, collate, packed_attention_mask
from molmo.image_tokens import IM_PATCH
from molmo.processing import tiny_tokenizer
from tests.torch_threads import one_torch_thread

TURNS = [Turn(" User: How many? Assistant:", " 3", 1.0), Turn(" User: Colour of the square? Assistant:", " red", 2.0),
         Turn(" User: Point to the cat. Assistant:", " There are none.", 1.0)]


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer(512)


@pytest.fixture(scope="module")
def packer(tokenizer):
    return Packer(tokenizer, get_preset("tiny").image_config(max_crops=4), max_seq_len=1024)


def _image(width: int = 96, height: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def _spans(packer: Packer, packed) -> list[np.ndarray]:
    """Token positions of each annotation."""
    return [np.flatnonzero(packed.subsegment_ids == k) for k in range(1, len(TURNS) + 1)]


def test_annotations_see_the_image_and_themselves_never_each_other(packer):
    packed = packer(_image(), TURNS)
    mask = packed.attention_mask
    image = np.flatnonzero(packed.subsegment_ids == IMAGE_SUBSEGMENT)
    spans = _spans(packer, packed)
    assert image[0] == 0 and len(image) == spans[0][0]  # BOS + image tokens come first
    for k, span in enumerate(spans):
        assert mask[np.ix_(span, image)].all()  # every annotation token sees BOS and the whole image
        assert (mask[np.ix_(span, span)] == np.tril(np.ones((len(span), len(span)), bool))).all()  # causal
        for other in spans[:k]:
            assert not mask[np.ix_(span, other)].any()  # never an earlier annotation
    assert not mask[np.ix_(image, np.concatenate(spans))].any()  # the image sees no annotation
    assert (mask[np.ix_(image, image)] == np.tril(np.ones((len(image), len(image)), bool))).all()


def test_positions_restart_after_the_image_for_each_annotation(packer):
    packed = packer(_image(), TURNS)
    start = int((packed.subsegment_ids == IMAGE_SUBSEGMENT).sum())
    for span in _spans(packer, packed):
        assert (packed.position_ids[span] == start + np.arange(len(span))).all()
    assert (packed.position_ids[:start] == np.arange(start)).all()


def test_targets_are_each_answer_and_its_eos_weighted_by_root_one_over_n(packer, tokenizer):
    packed = packer(_image(), TURNS)
    for turn, span in zip(TURNS, _spans(packer, packed), strict=True):
        prompt = tokenizer.encode(turn.prompt, add_special_tokens=False)
        answer = [*tokenizer.encode(turn.answer, add_special_tokens=False), tokenizer.eos_token_id]
        assert packed.input_ids[span].tolist() == prompt + answer
        predicting = span[len(prompt) - 1 : -1]  # the last prompt token predicts the first answer token
        assert packed.labels[predicting].tolist() == answer
        assert np.allclose(packed.loss_weights[predicting], turn.weight * math.sqrt(1 / len(TURNS)))
        others = np.setdiff1d(span, predicting)
        assert (packed.labels[others] == IGNORE_INDEX).all() and (packed.loss_weights[others] == 0).all()
    image = packed.subsegment_ids == IMAGE_SUBSEGMENT
    assert (packed.labels[image] == IGNORE_INDEX).all()
    assert packed.num_loss_tokens == sum(len(tokenizer.encode(t.answer, add_special_tokens=False)) + 1 for t in TURNS)


def test_no_weighting_keeps_the_annotation_weights(tokenizer):
    packed = Packer(tokenizer, get_preset("tiny").image_config(1), 1024, loss_weighting="none")(_image(), TURNS)
    assert sorted(set(packed.loss_weights[packed.loss_weights > 0].tolist())) == [1.0, 2.0]


def test_image_features_land_on_im_patch_tokens(packer, tokenizer):
    packed = packer(_image(500, 300), TURNS[:1])
    assert len(packed.crops) > 2  # a multi-crop tiling
    valid = packed.image_input_idx[packed.image_input_idx >= 0]
    patch_id = tokenizer.convert_tokens_to_ids(IM_PATCH)
    assert (packed.input_ids[valid] == patch_id).all()
    assert sorted(valid.tolist()) == np.flatnonzero(packed.input_ids == patch_id).tolist()  # each exactly once
    assert set(packed.image_input_idx[packed.image_input_idx < 0].tolist()) <= {-1}


def test_sequences_are_cut_at_max_seq_len_and_images_must_fit(tokenizer):
    config = get_preset("tiny").image_config(1)
    packed = Packer(tokenizer, config, max_seq_len=330)(_image(), TURNS)
    assert len(packed.input_ids) == 330 and packed.labels[-1] == IGNORE_INDEX
    with pytest.raises(ValueError, match="more than max_seq_len 300"):
        Packer(tokenizer, config, max_seq_len=300)(_image(), TURNS)


def test_the_collator_pads_tokens_masks_and_crops(packer):
    short, long = packer(_image(), TURNS[:1]), packer(_image(500, 300), TURNS)
    batch = collate([short, long], pad_id=packer.pad_id)
    length, crops = len(long.input_ids), len(long.crops)
    assert batch["input_ids"].shape == (2, length) and batch["attention_mask"].shape == (2, 1, length, length)
    assert batch["images"].shape == (2, crops, 576, 588) and batch["image_input_idx"].shape == (2, crops, 144)
    t = len(short.input_ids)
    assert (batch["input_ids"][0, t:] == packer.pad_id).all() and (batch["labels"][0, t:] == IGNORE_INDEX).all()
    assert (batch["loss_weights"][0, t:] == 0).all()
    assert (batch["image_input_idx"][0, len(short.crops):] == -1).all()
    assert (batch["images"][0, len(short.crops):] == 0).all()
    assert torch.equal(batch["attention_mask"][1, 0], torch.from_numpy(long.attention_mask))
    assert not batch["attention_mask"][0, 0, :t, t:].any()  # real tokens never see padding
    assert batch["attention_mask"][0, 0].any(dim=-1).all()  # every row attends somewhere (no NaN softmax)


def test_mask_rule_on_ids():
    mask = packed_attention_mask(torch.tensor([IMAGE_SUBSEGMENT, IMAGE_SUBSEGMENT, 1, 1, 2, -1]))
    expected = torch.tensor([
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 0, 0, 1, 0],
        [1, 1, 1, 1, 1, 1],
    ], dtype=torch.bool)
    assert torch.equal(mask, expected)


def test_packed_annotations_get_the_logits_they_would_get_alone(packer):
    """The real tiny model: an annotation packed after others sees exactly what it would see on its own."""
    from molmo.checkpoint import random_init

    model = random_init(get_preset("tiny"), seed=0)
    image = _image()
    packed, alone = packer(image, TURNS), packer(image, TURNS[2:])
    names = ("input_ids", "images", "image_masks", "image_input_idx", "attention_mask", "position_ids")
    with torch.no_grad(), one_torch_thread():
        logits = [model(**{n: collate([p], packer.pad_id)[n] for n in names}).logits[0] for p in (packed, alone)]
    last_packed = torch.from_numpy(packed.subsegment_ids == 3)
    last_alone = torch.from_numpy(alone.subsegment_ids == 1)
    torch.testing.assert_close(logits[0][last_packed], logits[1][last_alone], atol=1e-4, rtol=1e-4)
    prefix = int((packed.subsegment_ids == IMAGE_SUBSEGMENT).sum())
    torch.testing.assert_close(logits[0][:prefix], logits[1][:prefix], atol=1e-4, rtol=1e-4)
