"""Our torchvision-free Molmo2 image processor: the patches its image tokens read tile the image exactly once, in
reading order, and the prompt gets one patch token per pooled token."""

import sys

import numpy as np
import pytest
from PIL import Image

from evals.adapters.molmo2_image_processing import Molmo2ImageProcessorPil, resize_bilinear, select_tiling

SIZES = [(1, 1), (20, 150), (90, 30), (64, 64), (300, 500), (33, 47)]  # (height, width)


@pytest.fixture(scope="module")
def processor():
    return Molmo2ImageProcessorPil(size={"height": 32, "width": 32}, patch_size=4, overlap_margins=[2, 2],
                                   max_crops=4)


def _image(height: int, width: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def test_release_defaults_give_its_token_counts():
    release = Molmo2ImageProcessorPil()  # 378 px crops, 14 px patches, 4-patch margins, up to 8 crops
    assert release.get_image_grid_and_crops(378, 378) == ([14, 14, 14, 14], 2)
    grid, crops = release.get_image_grid_and_crops(1000, 2000)
    assert crops == 9 and grid[:2] == [14, 14]  # a 2x4 tiling plus the global view
    assert select_tiling(100, 100, 266, 8) == (1, 1)  # small images are not split
    assert select_tiling(1000, 3000, 266, 8) == (2, 4)  # the least downscaling within 8 crops


@pytest.mark.parametrize(("height", "width"), SIZES)
def test_pooled_patches_tile_the_global_view_and_the_canvas_exactly_once(processor, height, width):
    image = _image(height, width)
    out = processor(images=[image])
    patches, pooling = out["pixel_values"], out["image_token_pooling"]
    low_h, low_w, high_h, high_w = (int(v) for v in out["image_grids"][0])
    rows, cols, canvas_h, canvas_w = processor.geometry(height, width)
    assert int(out["image_num_crops"][0]) == rows * cols + 1 == patches.shape[0]
    assert pooling.shape == (low_h * low_w + high_h * high_w, 4)

    flat = patches.reshape(-1, 4, 4, 3)  # every patch of every crop, 4x4 pixels
    pixels = np.asarray(image).transpose(2, 0, 1)
    for start, (grid_h, grid_w), (size_h, size_w) in [
        (0, (low_h, low_w), (32, 32)),
        (low_h * low_w, (high_h, high_w), (canvas_h, canvas_w)),
    ]:
        windows = pooling[start:start + grid_h * grid_w].reshape(grid_h, grid_w, 2, 2)
        # Token windows in reading order, each reading a 2x2 block of patches, laid back down as pixels.
        index = windows.transpose(0, 2, 1, 3).reshape(grid_h * 2, grid_w * 2)
        assert (index >= 0).all()  # these sizes need no padding
        rebuilt = flat[index].transpose(0, 2, 1, 3, 4).reshape(grid_h * 8, grid_w * 8, 3)
        expected = processor._normalize(resize_bilinear(pixels, size_h, size_w))
        np.testing.assert_array_equal(rebuilt, expected)
        used = index.ravel()
        assert len(set(used.tolist())) == used.size  # no patch read twice (overlap margins count once)


def test_padding_windows_read_minus_one_only(processor):
    # 7x7 patch grids are not divisible by the 2x2 pooling: the padded window slots hold -1.
    odd = Molmo2ImageProcessorPil(size={"height": 28, "width": 28}, patch_size=4, overlap_margins=[1, 1],
                                  max_crops=2)
    out = odd(images=[_image(28, 60)])
    pooling = out["image_token_pooling"]
    assert (pooling == -1).any() and (pooling >= -1).all()
    assert pooling.max() < out["pixel_values"].shape[0] * out["pixel_values"].shape[1]


def test_several_images_index_their_own_patches(processor):
    one = processor(images=[_image(40, 70, 1)])
    both = processor(images=[[_image(20, 20, 2)], [_image(40, 70, 1)]])
    first = processor(images=[_image(20, 20, 2)])
    offset = first["pixel_values"].shape[0] * first["pixel_values"].shape[1]
    tokens = len(first["image_token_pooling"])
    np.testing.assert_array_equal(both["image_token_pooling"][tokens:],
                                  np.where(one["image_token_pooling"] >= 0, one["image_token_pooling"] + offset, -1))
    np.testing.assert_array_equal(both["pixel_values"][first["pixel_values"].shape[0]:], one["pixel_values"])
    assert both["image_num_crops"].tolist() == [first["image_num_crops"][0], one["image_num_crops"][0]]


def test_the_prompt_gets_one_patch_token_per_pooled_token(tmp_path):
    from evals.adapters.hf import HFAdapter
    from evals.tiny_models import save_tiny_molmo2

    adapter = HFAdapter(str(save_tiny_molmo2(tmp_path / "molmo2")))
    processor = adapter.processor
    for height, width in SIZES:
        inputs = processor(images=[[_image(height, width)]], text=[adapter._prompt("How many?", True)],
                           return_tensors="np")
        patch_id = processor.tokenizer.convert_tokens_to_ids("<im_patch>")
        assert (inputs["input_ids"] == patch_id).sum() == len(inputs["image_token_pooling"])
        grid, crops = processor.image_processor.get_image_grid_and_crops(height, width)
        assert inputs["image_grids"][0].tolist() == grid and inputs["image_num_crops"][0] == crops
    assert "torchvision" not in sys.modules


def test_saved_settings_load_back_under_the_real_class_name(processor, tmp_path):
    processor.save_pretrained(tmp_path)
    loaded = Molmo2ImageProcessorPil.from_pretrained(tmp_path)
    assert loaded.to_dict()["image_processor_type"] == "Molmo2ImageProcessor"
    image = _image(45, 80)
    first, second = processor(images=[image]), loaded(images=[image])
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
