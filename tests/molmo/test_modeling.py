"""The model: shapes, where image features land, padding crops, masks (padding and packed block masks), sizes."""

import numpy as np
import pytest
import torch
from PIL import Image

from molmo.checkpoint import random_init
from molmo.config import get_preset
from molmo.image_tokens import IM_PATCH
from molmo.modeling import MolmoForCausalLM
from molmo.processing import MolmoProcessor, tiny_tokenizer

KINDS = ("tiny", "tiny-olmo2", "tiny-olmoe")


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: one thread beats several


@pytest.fixture(scope="module")
def processor():
    return MolmoProcessor(tiny_tokenizer(), get_preset("tiny").image_config(12))


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (300, 520, 3), dtype=np.uint8))  # a 1 x 2 tiling


def _randomise(model: MolmoForCausalLM) -> MolmoForCausalLM:
    """Give the zero-initialised padding embeddings and the unit norms some values, so they count."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.02 * torch.randn(parameter.shape, generator=generator))
    return model


@pytest.mark.parametrize("name", KINDS)
def test_image_to_logits(name, processor, image):
    model = random_init(get_preset(name))
    batch = processor(["What is this?", "Describe it."], [image, None])
    with torch.no_grad():
        out = model(**batch.model_inputs())
    assert out.logits.shape == (*batch.input_ids.shape, 512)
    assert out.past_key_values is None
    assert torch.isfinite(out.logits).all()  # left padding rows stay finite too


def test_submodules_and_only_used_vit_blocks():
    model = random_init(get_preset("tiny"))
    parts = ("vision_encoder", "connector", "language_model")
    assert {name.split(".")[0] for name, _ in model.named_parameters()} == set(parts)
    assert len(model.vision_encoder.blocks) == 2  # of the 3 the checkpoint keeps
    with torch.device("meta"):
        released = MolmoForCausalLM(get_preset("Molmo-7B-D"))
    assert len(released.vision_encoder.blocks) == 22  # of CLIP-L's 24; the release builds 23


@pytest.mark.parametrize(  # total parameters in billions (the release's 23rd ViT block, 12.6M, is not built)
    ("name", "low", "high"),
    [("Molmo-7B-D", 7.9, 8.1), ("Molmo-7B-O", 7.55, 7.75), ("MolmoE-1B", 7.1, 7.3), ("Molmo-72B", 73.0, 73.5),
     ("small", 0.85, 1.0)],
)
def test_parameter_counts(name, low, high):
    with torch.device("meta"):
        model = MolmoForCausalLM(get_preset(name))
    assert low < sum(p.numel() for p in model.parameters()) / 1e9 < high


def test_image_features_land_exactly_at_im_patch_tokens(processor, image):
    model = _randomise(random_init(get_preset("tiny")))
    batch = processor(["What is this?"], [image])
    idx = batch.image_input_idx[0]
    patch_positions = (batch.input_ids[0] == processor.image_token_ids[IM_PATCH]).nonzero()[:, 0]
    fed = idx[idx >= 0]
    assert sorted(fed.tolist()) == patch_positions.tolist()  # each <im_patch> gets exactly one pooled feature

    plain = model.language_model.model.embed_tokens(batch.input_ids)
    with torch.no_grad():
        embeds = model.embed_inputs(batch.input_ids, batch.images, batch.image_masks, batch.image_input_idx)
        changed = (embeds != plain).any(dim=-1)[0].nonzero()[:, 0]
        assert changed.tolist() == patch_positions.tolist()
        model.connector.projector.down_proj.weight.zero_()
        zeroed = model.embed_inputs(batch.input_ids, batch.images, batch.image_masks, batch.image_input_idx)
    assert torch.equal(zeroed, plain)


def test_padding_crops_and_masks(processor, image):
    model = _randomise(random_init(get_preset("tiny")))
    batch = processor(["What is this?"], [image])
    ids = batch.input_ids
    with torch.no_grad():
        reference = model(**batch.model_inputs()).logits
        # Padding crops (zeros, masks -1, idx -1) change nothing.
        images = torch.cat([batch.images, torch.zeros(1, 2, 576, 588)], dim=1)
        masks = torch.cat([batch.image_masks, torch.full((1, 2, 576), -1.0)], dim=1)
        idx = torch.cat([batch.image_input_idx, torch.full((1, 2, 144), -1)], dim=1)
        padded = model(ids, images, masks, idx, attention_mask=batch.attention_mask).logits
        assert torch.allclose(padded, reference, atol=1e-5)
        # The padding embeddings enter through the masks: all-real patches get none.
        ones = model(ids, batch.images, torch.ones_like(batch.image_masks), batch.image_input_idx).logits
        without = model(ids, batch.images, None, batch.image_input_idx).logits
        assert torch.allclose(ones, without, atol=1e-6)
        assert not torch.allclose(ones, reference, atol=1e-4)  # the global view is padded top and bottom
        # No crop feeds a token: the text-only logits.
        text_only = model(ids, batch.images, batch.image_masks, torch.full_like(batch.image_input_idx, -1)).logits
        assert torch.equal(text_only, model(ids).logits)


@pytest.mark.parametrize("name", KINDS)
def test_block_mask_packing_matches_separate_sequences(name, processor, image):
    """Two annotations of one image packed with a block mask and restarted positions = two separate runs."""
    model = _randomise(random_init(get_preset(name)))
    tokenizer = processor.tokenizer
    example = processor.encode("unused", image)
    image_end = int(example.image_input_idx.max()) + 3  # past the high-res block's last <im_col> and <im_end>
    prefix = example.input_ids[:image_end].tolist()  # BOS + image tokens
    first = tokenizer.encode(" User: What is this? Assistant: a chart", add_special_tokens=False)
    second = tokenizer.encode(" User: How many bars? Assistant: 3", add_special_tokens=False)
    p, a, b = len(prefix), len(first), len(second)
    images = torch.from_numpy(example.crops)[None]
    masks = torch.from_numpy(example.image_masks)[None]
    idx = torch.from_numpy(example.image_input_idx)[None]

    ids = torch.tensor([prefix + first + second])
    segment = torch.tensor([10_000] * p + [1] * a + [2] * b)  # the image is segment "10000", as in the release
    causal = torch.ones(p + a + b, p + a + b, dtype=torch.bool).tril()
    block = causal & (segment[None, :] >= segment[:, None])  # [query, key]: the image and the own annotation
    positions = torch.tensor([list(range(p + a)) + list(range(p, p + b))])
    with torch.no_grad():
        packed = model(ids, images, masks, idx, attention_mask=block[None, None], position_ids=positions).logits
        alone_first = model(torch.tensor([prefix + first]), images, masks, idx).logits
        alone_second = model(torch.tensor([prefix + second]), images, masks, idx).logits
    assert torch.allclose(packed[0, : p + a], alone_first[0], atol=1e-5)
    assert torch.allclose(packed[0, p + a :], alone_second[0, p:], atol=1e-5)


def test_left_padding_and_bfloat16(processor, image):
    model = random_init(get_preset("tiny"))
    batch = processor(["What is this image about, in detail?", "Hi"], [None, None])
    with torch.no_grad():
        logits = model(**batch.model_inputs()).logits
        alone = model(batch.input_ids[1:, -len(processor.encode("Hi").input_ids):]).logits
        assert torch.allclose(logits[1, -alone.shape[1]:], alone[0], atol=1e-5)
        half = model.to(torch.bfloat16)(**processor(["What is this?"], [image]).model_inputs()).logits
    assert half.dtype == torch.bfloat16 and torch.isfinite(half).all()


def test_bad_inputs_are_refused():
    model = random_init(get_preset("tiny"))
    ids = torch.zeros(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match="token ids must lie in"):
        model(ids + 10_000)
    with pytest.raises(ValueError, match="2-D attention_mask"):
        model(ids, attention_mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="4-D attention_mask"):
        model(ids, attention_mask=torch.ones(2, 1, 5, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="image_input_idx"):
        model(ids, images=torch.zeros(2, 1, 576, 588))


def test_gradients_reach_all_three_parts(processor, image):
    model = _randomise(random_init(get_preset("tiny"))).train()
    batch = processor(["What is this?"], [image], max_crops=[4])
    model(**batch.model_inputs()).logits.logsumexp(-1).mean().backward()
    for part in (model.vision_encoder, model.connector, model.language_model):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
