"""Image token layout: counts from the release's formula, the grid structure, and `image_input_idx`."""

import numpy as np
import pytest
from PIL import Image

from molmo.image_preprocessing import MOLMO_TRAIN_CONFIG, normalize, patchify, preprocess_image, resize_and_pad
from molmo.image_tokens import (
    DISCARDED,
    IM_COL,
    IM_END,
    IM_PATCH,
    IM_START,
    image_input_idx,
    image_token_ids,
    num_image_tokens,
)

CFG = MOLMO_TRAIN_CONFIG
IDS = {IM_START: 101, IM_END: 102, IM_PATCH: 103, IM_COL: 104}  # any tokenizer's ids will do
MOLMO_7B_D_IDS = {"<im_start>": 152064, "<im_end>": 152065, "<im_patch>": 152066, "<im_col>": 152067}


# tiling -> (H, W) pooled grid = (8 * rows + 4, 8 * cols + 4) and the image's token count
# 158 (global: 12 rows of 12 patches + <im_col>, <im_start>, <im_end>) + H * (W + 1) + 2.
TOKEN_COUNTS = [
    ((1, 1), (12, 12), 158 + 12 * 13 + 2),  # 316
    ((2, 1), (20, 12), 158 + 20 * 13 + 2),  # 420
    ((1, 4), (12, 36), 158 + 12 * 37 + 2),  # 604
    ((3, 4), (28, 36), 158 + 28 * 37 + 2),  # 1196: the 3 x 4 example of the spec
    ((9, 1), (76, 12), 158 + 76 * 13 + 2),  # 1148
    ((5, 7), (44, 60), 158 + 44 * 61 + 2),  # 2844
    ((6, 6), (52, 52), 158 + 52 * 53 + 2),  # 2916: the most 36 crops can cost
]


@pytest.mark.parametrize(("tiling", "grid", "count"), TOKEN_COUNTS)
def test_token_counts(tiling, grid, count):
    assert CFG.pooled_grid(tiling) == grid
    assert num_image_tokens(tiling, CFG) == count
    tokens = image_token_ids(tiling, CFG, IDS)
    assert tokens.shape == (count,)
    height, width = grid
    assert (tokens == IDS[IM_PATCH]).sum() == 144 + height * width
    assert (tokens == IDS[IM_COL]).sum() == 12 + height
    assert (tokens == IDS[IM_START]).sum() == (tokens == IDS[IM_END]).sum() == 2


def test_layout_of_a_3x4_tiling():
    tokens = image_token_ids((3, 4), CFG, MOLMO_7B_D_IDS)
    start, end, patch, col = 152064, 152065, 152066, 152067
    global_row = [patch] * 12 + [col]
    assert tokens[:158].tolist() == [start, *global_row * 12, end]
    high_res_row = [patch] * 36 + [col]
    assert tokens[158:].tolist() == [start, *high_res_row * 28, end]


def test_missing_token_names_are_reported():
    with pytest.raises(KeyError, match="<im_col>"):
        image_token_ids((1, 1), CFG, {IM_START: 1, IM_END: 2, IM_PATCH: 3})


@pytest.mark.parametrize(("tiling", "grid", "count"), TOKEN_COUNTS)
def test_every_patch_token_gets_exactly_one_feature(tiling, grid, count):
    tokens = image_token_ids(tiling, CFG, IDS)
    idx = image_input_idx(tiling, CFG)
    assert idx.shape == (1 + tiling[0] * tiling[1], 144)
    valid = idx[idx != DISCARDED]
    assert (idx[idx < 0] == DISCARDED).all()
    np.testing.assert_array_equal(np.sort(valid), np.flatnonzero(tokens == IDS[IM_PATCH]))
    # Features land in reading order: the global view first, then the stitched grid row by row.
    np.testing.assert_array_equal(idx[0], np.flatnonzero(tokens == IDS[IM_PATCH])[:144])


def test_global_view_positions_by_hand():
    idx = image_input_idx((1, 1), CFG)
    # Cell (y, x) sits after <im_start> and y row-end tokens: 1 + 13 * y + x.
    assert idx[0, 0] == 1
    assert idx[0, 11] == 12
    assert idx[0, 12] == 14  # (1, 0): skips the <im_col> at 13
    assert idx[0, 143] == 1 + 13 * 11 + 11
    # A single crop keeps all 144 cells, at 159 + 13 * y + x (after the 158 global tokens and <im_start>).
    assert idx[1, 0] == 159
    assert idx[1, 143] == 159 + 13 * 11 + 11


def test_margins_discarded_for_a_3x4_tiling():
    kept = (image_input_idx((3, 4), CFG)[1:] != DISCARDED).reshape(3, 4, 12, 12)
    rows_kept = {0: slice(0, 10), 1: slice(2, 10), 2: slice(2, 12)}  # first, middle, last crop row
    cols_kept = {0: slice(0, 10), 1: slice(2, 10), 2: slice(2, 10), 3: slice(2, 12)}
    for i in range(3):
        for j in range(4):
            expected = np.zeros((12, 12), dtype=bool)
            expected[rows_kept[i], cols_kept[j]] = True
            np.testing.assert_array_equal(kept[i, j], expected)
    # 4 corners x 100 + 4 edge crops x 80 + 2 side crops x 80 + 2 centre crops x 64 = 28 * 36
    assert kept.sum() == 4 * 100 + 4 * 80 + 2 * 80 + 2 * 64 == 28 * 36


def test_positions_in_a_3x4_tiling_by_hand():
    idx = image_input_idx((3, 4), CFG)
    row_length = 36 + 1  # patches + <im_col>
    # Crop (1, 0) is crop 1 + 4; its first kept cell (2, 0) is grid cell (8 + 2, 0).
    assert idx[1 + 4, 2 * 12 + 0] == 159 + 10 * row_length
    # Crop (2, 3), cell (11, 11) is the grid's last cell (27, 35), just before the final <im_col>, <im_end>.
    assert idx[1 + 11, 143] == 159 + 27 * row_length + 35 == num_image_tokens((3, 4), CFG) - 3


def test_features_come_from_the_matching_image_region():
    # Each kept pooled feature covers a 2 x 2 patch window of its crop; that window must be the part of
    # the resized canvas that its token's grid cell stands for, so crops' margins drop out consistently.
    pixels = np.random.default_rng(1).integers(0, 256, (500, 760, 3), dtype=np.uint8)
    inputs = preprocess_image(pixels)
    assert inputs.tiling == (2, 3)
    rows, cols = inputs.tiling
    _, width = inputs.high_res_grid
    planes = [plane.convert("F") for plane in Image.fromarray(pixels).split()]
    canvas, _ = resize_and_pad(planes, (rows * 224 + 112, cols * 224 + 112))
    grid = patchify(normalize(canvas, CFG), 14)  # (40, 56, 588) patches
    idx = image_input_idx(inputs.tiling, CFG)
    crops = inputs.crops.reshape(-1, 24, 24, 588)
    covered = np.zeros(inputs.high_res_grid, dtype=int)
    for k in range(1, 1 + rows * cols):
        for cell in np.flatnonzero(idx[k] != DISCARDED):
            y, x = divmod(int(cell), 12)
            r, c = divmod(int(idx[k, cell]) - 159, width + 1)
            covered[r, c] += 1
            window = crops[k, 2 * y : 2 * y + 2, 2 * x : 2 * x + 2]
            np.testing.assert_array_equal(window, grid[2 * r : 2 * r + 2, 2 * c : 2 * c + 2])
    assert (covered == 1).all()
