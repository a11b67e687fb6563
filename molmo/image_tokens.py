"""Where an image sits in Molmo's token stream, and which tokens receive which pooled features.

An image is written as two blocks of placeholder tokens, each a pooled-token grid with a row-end token
`<im_col>` after every row:

    <im_start> ( <im_patch> x 12 <im_col> ) x 12 <im_end>     global view: 12 x 12 grid, 158 tokens
    <im_start> ( <im_patch> x W  <im_col> ) x H  <im_end>     high-res crops stitched: H x W grid

with H = 8 * rows + 4 and W = 8 * cols + 4 for a (rows, cols) tiling (`MolmoImageConfig.pooled_grid`),
so the image costs 158 + H * (W + 1) + 2 tokens. The model adds the pooled ViT feature of each crop's
2 x 2 patch window to the embedding of one `<im_patch>` token; `image_input_idx` says which.

Crop (i, j) starts 8 pooled tokens after crop (i, j - 1) and covers 12 of them, so its pooled cell
(y, x) is cell (8 * i + y, 8 * j + x) of the stitched grid. Cells in a 2-token (4-patch) margin that
faces a neighbouring crop are discarded (-100): the neighbour's window covers them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from molmo.image_preprocessing import MolmoImageConfig

IM_START = "<im_start>"
IM_END = "<im_end>"
IM_PATCH = "<im_patch>"
IM_COL = "<im_col>"
DISCARDED = -100  # `image_input_idx` entry of a pooled feature that no token receives


def num_image_tokens(tiling: tuple[int, int], config: MolmoImageConfig) -> int:
    """Tokens one image takes in the text stream: 158 for the global view + H * (W + 1) + 2."""
    (gh, gw), (h, w) = config.global_grid, config.pooled_grid(tiling)
    return gh * (gw + 1) + 2 + h * (w + 1) + 2


def _grid_tokens(height: int, width: int, ids: Mapping[str, int]) -> np.ndarray:
    """<im_start> (<im_patch> * width <im_col>) * height <im_end> -> (height * (width + 1) + 2,)"""
    row = [ids[IM_PATCH]] * width + [ids[IM_COL]]
    return np.array([ids[IM_START], *row * height, ids[IM_END]], dtype=np.int64)


def image_token_ids(tiling: tuple[int, int], config: MolmoImageConfig, token_ids: Mapping[str, int]) -> np.ndarray:
    """The image's placeholder tokens, global view first: (num_image_tokens,) int64.

    token_ids maps "<im_start>", "<im_end>", "<im_patch>", "<im_col>" to the tokenizer's ids (for
    Molmo-7B-D: 152064, 152065, 152066, 152067).
    """
    missing = {IM_START, IM_END, IM_PATCH, IM_COL} - set(token_ids)
    if missing:
        raise KeyError(f"token_ids lacks {sorted(missing)}")
    global_view = _grid_tokens(*config.global_grid, token_ids)
    return np.concatenate([global_view, _grid_tokens(*config.pooled_grid(tiling), token_ids)])


def image_input_idx(tiling: tuple[int, int], config: MolmoImageConfig) -> np.ndarray:
    """Token position (from the image's first token) that receives each crop's pooled features.

    Returns (1 + rows * cols, 144) int64, the global view first, then crops row-major; entry [k, y * 12 + x]
    is the position of the `<im_patch>` token that gets pooled cell (y, x) of crop k, or DISCARDED. Add the
    offset of the image's `<im_start>` in the sequence (1 after BOS) to index the full input.
    """
    side, _ = config.global_grid
    margin_start, margin_end = (m // config.pool_size for m in config.overlap_margins)
    step = config.window_patches // config.pool_size  # pooled tokens between neighbouring crops: 8
    rows, cols = tiling
    _, width = config.pooled_grid(tiling)

    # Global view: skip <im_start>, and one <im_col> per finished row.
    y, x = np.divmod(np.arange(side * side), side)
    global_idx = 1 + y * (side + 1) + x  # (144,)

    # High-res grid: starts after the global block (158 tokens) and its own <im_start>.
    first = side * (side + 1) + 2 + 1
    i, j, y, x = np.meshgrid(np.arange(rows), np.arange(cols), np.arange(side), np.arange(side), indexing="ij")
    keep_y = ((y >= margin_start) | (i == 0)) & ((y < side - margin_end) | (i == rows - 1))
    keep_x = ((x >= margin_start) | (j == 0)) & ((x < side - margin_end) | (j == cols - 1))
    position = first + (step * i + y) * (width + 1) + (step * j + x)
    crops_idx = np.where(keep_y & keep_x, position, DISCARDED).reshape(rows * cols, side * side)
    return np.concatenate([global_idx[None], crops_idx]).astype(np.int64)
