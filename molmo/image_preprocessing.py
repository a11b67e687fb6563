"""Molmo 0924 image pre-processing (crop mode "overlap-and-resize-c2"), in numpy + PIL.

One image becomes a low-resolution global view plus a grid of overlapping high-resolution crops:

    image (any PIL mode, EXIF-rotated) -> 8-bit RGB, transparency composited on white
    select_tiling: (rows, cols) with rows * cols <= max_crops
    resize (bilinear, antialiased, aspect kept) to (rows * 224 + 112, cols * 224 + 112), centred on black
    CLIP-normalise, cut 336 px crops at a 224 px stride (neighbours share 8 patches = 112 px)
    prepend the global view: the whole image resized and padded the same way to 336 x 336
    flatten each crop into 24 x 24 patches of 14 x 14 x 3 = 588 values, "(dh dw c)" order

Each crop keeps a 4-patch margin on its interior sides that the LLM never sees (see `image_tokens.py`):
the margins give every kept patch some context from its neighbour crop.

The arithmetic follows the release: the resize scale is computed in float32 and truncated, the resampling
is the triangle filter widened by the downscale factor (PIL's BILINEAR, the same filter as torch's
`interpolate(..., antialias=True)` that the release calls), values are clipped to [0, 1] and normalised
after padding, so padding pixels hold -mean / std.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_WHITE = (255, 255, 255, 255)


@dataclass(frozen=True)
class MolmoImageConfig:
    """Geometry and normalisation of the pre-processor, shared by the model and the token layout."""

    crop_size: int = 336  # ViT input side, pixels
    patch_size: int = 14  # ViT patch side, pixels
    overlap_margins: tuple[int, int] = (4, 4)  # patches dropped on the (top/left, bottom/right) inner sides
    max_crops: int = 12  # high-res crops at most (12 to train, 36 to evaluate with --high_res)
    pool_size: int = 2  # the connector pools pool_size x pool_size patches into one token
    image_mean: tuple[float, float, float] = OPENAI_CLIP_MEAN
    image_std: tuple[float, float, float] = OPENAI_CLIP_STD

    def __post_init__(self) -> None:
        if self.crop_size % self.patch_size:
            raise ValueError(f"crop_size {self.crop_size} is not a multiple of patch_size {self.patch_size}")
        if self.crop_patches % self.pool_size or any(m % self.pool_size for m in self.overlap_margins):
            raise ValueError("the crop side and both margins must be multiples of pool_size (in patches)")
        if self.window_patches <= 0 or self.max_crops < 1:
            raise ValueError("margins leave no window, or max_crops < 1")

    @property
    def crop_patches(self) -> int:
        """Patches per crop side: 24."""
        return self.crop_size // self.patch_size

    @property
    def window_patches(self) -> int:
        """Patches per crop side that are kept for the LLM in an interior crop: 24 - 4 - 4 = 16."""
        return self.crop_patches - sum(self.overlap_margins)

    @property
    def window_size(self) -> int:
        """The crop stride in pixels: 16 * 14 = 224."""
        return self.window_patches * self.patch_size

    @property
    def margin_size(self) -> int:
        """Both margins together in pixels: 8 * 14 = 112."""
        return sum(self.overlap_margins) * self.patch_size

    @property
    def patch_dim(self) -> int:
        """Values per flattened patch: 14 * 14 * 3 = 588."""
        return self.patch_size * self.patch_size * 3

    @property
    def global_grid(self) -> tuple[int, int]:
        """Pooled tokens of the global view (and of any single crop): (12, 12)."""
        side = self.crop_patches // self.pool_size
        return side, side

    def pooled_grid(self, tiling: tuple[int, int]) -> tuple[int, int]:
        """Pooled tokens (height, width) of the stitched high-res grid for a (rows, cols) tiling.

        Every crop contributes its window and the outer crops their outer margin too, so a side of n crops
        has n * 16 + 4 + 4 patches, i.e. 8 * n + 4 tokens: (28, 36) for a 3 x 4 tiling, (12, 12) for 1 x 1.
        """
        left, right = self.overlap_margins
        height, width = ((n * self.window_patches + left + right) // self.pool_size for n in tiling)
        return height, width


MOLMO_TRAIN_CONFIG = MolmoImageConfig(max_crops=12)
MOLMO_EVAL_CONFIG = MolmoImageConfig(max_crops=36)


@dataclass(frozen=True, eq=False)
class MolmoImageInputs:
    """One pre-processed image: the global view first, then the high-res crops in row-major order."""

    crops: np.ndarray  # (1 + rows * cols, 576, 588) float32, CLIP-normalised patches in "(dh dw c)" order
    image_masks: np.ndarray  # (1 + rows * cols, 576) float32, fraction of real (non-padding) pixels per patch
    tiling: tuple[int, int]  # (rows, cols) of the high-res crops
    global_grid: tuple[int, int]  # pooled tokens of the global view: (12, 12)
    high_res_grid: tuple[int, int]  # pooled tokens of the stitched crops: (8 * rows + 4, 8 * cols + 4)

    @property
    def release_image_masks(self) -> np.ndarray:
        """`image_masks` in the layout the released code feeds the model, (1 + rows * cols, 576).

        The release (training code and HF processor alike) computes masks for the high-res crops only and
        appends one row of -1, so row k of its masks belongs to crop k + 1 while row 0 of `crops` is the
        global view; the -1 row lands on the last crop, where it counts as "partly padded". The released
        weights were trained with this shifted layout: use it to reproduce them, `image_masks` otherwise.
        """
        return np.concatenate([self.image_masks[1:], np.full_like(self.image_masks[:1], -1.0)])


def to_rgb(image: Image.Image | np.ndarray) -> Image.Image:
    """Return `image` upright and as 8-bit RGB, transparency composited on white.

    PIL images get their EXIF orientation applied. Alpha and palette transparency ("RGBA", "LA", "PA",
    "P" with a transparent index) are composited on white; 16-bit greyscale ("I;16*", "I") is scaled from
    0..65535 rather than clipped at 255; CMYK, "L", "1" convert as PIL does. Arrays must be uint8 or
    uint16, shaped (H, W), (H, W, 3) or (H, W, 4).
    """
    if isinstance(image, np.ndarray):
        if image.dtype == np.uint16:
            image = _sixteen_to_eight_bit(image)
        elif image.dtype != np.uint8:
            raise TypeError(f"expected a uint8 or uint16 array, got {image.dtype}")
        image = Image.fromarray(image)
    else:
        image = ImageOps.exif_transpose(image)
    if image.mode in _SIXTEEN_BIT_MODES:
        image = Image.fromarray(_sixteen_to_eight_bit(np.asarray(image)))
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE), rgba)
    return image.convert("RGB")


def _sixteen_to_eight_bit(array: np.ndarray) -> np.ndarray:
    """Scale 16-bit samples (any integer array) to uint8, 65535 -> 255."""
    return np.round(np.clip(array, 0, 65535) / 257.0).astype(np.uint8)


def select_tiling(height: int, width: int, window: int, max_crops: int) -> tuple[int, int]:
    """Choose the (rows, cols) grid of `window`-pixel tiles, rows * cols <= max_crops, for an image.

    `height` and `width` are the image size minus the total margin (112 px), as in the release, so they
    can be zero or negative for tiny images; the release's float32 arithmetic is kept so those get the
    same tiling too. The rule: among tilings that cover the image without downscaling, take the one that
    upscales least; if every tiling must downscale, take the one that downscales least. Ties go to fewer
    crops, then fewer rows.
    """
    tilings = sorted(
        ((rows, cols) for rows in range(1, max_crops + 1) for cols in range(1, max_crops // rows + 1)),
        key=lambda t: (t[0] * t[1], t[0]),
    )
    resolutions = np.array(tilings, dtype=np.float32) * np.float32(window)  # (n_tilings, 2)
    with np.errstate(divide="ignore"):
        scales = (resolutions / np.array([height, width], dtype=np.float32)).min(axis=1)  # (n_tilings,)
    if np.all(scales < 1):  # every tiling must downscale: downscale least
        return tilings[int(np.argmax(scales))]
    return tilings[int(np.argmin(np.where(scales < 1, np.inf, scales)))]  # else upscale least


def resize_and_pad(planes: Sequence[Image.Image], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Resize keeping the aspect ratio to fit `size` = (height, width), centred on a black canvas.

    planes: the R, G, B channels as PIL mode-"F" images holding 0..255 (resampling in float, as the
        release does, avoids PIL's 8-bit rounding between its two passes).
    Returns the canvas (height, width, 3) float32 in [0, 1] and the real-pixel mask (height, width) bool.
    Degenerate sides (a 1 x 2000 strip) are kept at least one pixel high or wide; there torch, which the
    release calls, gives wrong values (every row alike), which we do not copy.
    """
    out_h, out_w = size
    in_w, in_h = planes[0].size
    scale = min(np.float32(out_h) / np.float32(in_h), np.float32(out_w) / np.float32(in_w))
    new_h = max(1, int(np.float32(in_h) * scale))
    new_w = max(1, int(np.float32(in_w) * scale))
    resized = np.stack(
        [np.asarray(plane.resize((new_w, new_h), Image.Resampling.BILINEAR)) for plane in planes], axis=-1
    )  # (new_h, new_w, 3)
    top, left = (out_h - new_h) // 2, (out_w - new_w) // 2
    canvas = np.zeros((out_h, out_w, 3), dtype=np.float32)
    canvas[top : top + new_h, left : left + new_w] = np.clip(resized / np.float32(255), 0.0, 1.0)
    mask = np.zeros((out_h, out_w), dtype=bool)
    mask[top : top + new_h, left : left + new_w] = True
    return canvas, mask


def normalize(canvas: np.ndarray, config: MolmoImageConfig) -> np.ndarray:
    """CLIP-normalise a (H, W, 3) float32 canvas in [0, 1]: (x - mean) / std per channel."""
    height, width, _ = canvas.shape
    # Broadcasting over a (W * 3,) row is ~3x faster than over a length-3 last axis; same values.
    mean = np.tile(np.array(config.image_mean, dtype=np.float32), width)
    std = np.tile(np.array(config.image_std, dtype=np.float32), width)
    return ((canvas.reshape(height, width * 3) - mean) / std).reshape(height, width, 3)


def patchify(array: np.ndarray, patch_size: int) -> np.ndarray:
    """(H, W, C) -> (H / p, W / p, p * p * C): each patch flattened in "(dh dw c)" order."""
    height, width, channels = array.shape
    grid = array.reshape(height // patch_size, patch_size, width // patch_size, patch_size, channels)
    return grid.transpose(0, 2, 1, 3, 4).reshape(height // patch_size, width // patch_size, -1)


def cut_crops(grid: np.ndarray, tiling: tuple[int, int], config: MolmoImageConfig) -> np.ndarray:
    """Cut overlapping crops from a patch grid, row-major.

    grid: (rows * 16 + 8, cols * 16 + 8, ...) per-patch values of the resized canvas.
    Returns (rows * cols, 24 * 24, ...): crop (i, j) starts at patch (16 * i, 16 * j).
    """
    rows, cols = tiling
    size, step = config.crop_patches, config.window_patches
    crops = [grid[i * step : i * step + size, j * step : j * step + size] for i in range(rows) for j in range(cols)]
    return np.stack(crops).reshape(rows * cols, size * size, *grid.shape[2:])


def preprocess_image(
    image: Image.Image | np.ndarray, config: MolmoImageConfig = MOLMO_TRAIN_CONFIG
) -> MolmoImageInputs:
    """Turn one image into Molmo's ViT input: the global view, then `rows * cols` overlapping crops."""
    rgb = to_rgb(image)
    planes = [plane.convert("F") for plane in rgb.split()]
    width, height = rgb.size
    tiling = select_tiling(
        height - config.margin_size, width - config.margin_size, config.window_size, config.max_crops
    )
    rows, cols = tiling
    p = config.patch_size

    def crops_and_masks(size: tuple[int, int], crop_tiling: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        canvas, mask = resize_and_pad(planes, size)
        pixels = patchify(normalize(canvas, config), p)  # (H / 14, W / 14, 588)
        real = patchify(mask[..., None].astype(np.float32), p).mean(axis=-1)  # (H / 14, W / 14)
        return cut_crops(pixels, crop_tiling, config), cut_crops(real, crop_tiling, config)

    high_res_size = (
        rows * config.window_size + config.margin_size,
        cols * config.window_size + config.margin_size,
    )
    tiles, tile_masks = crops_and_masks(high_res_size, tiling)
    global_view, global_mask = crops_and_masks((config.crop_size, config.crop_size), (1, 1))
    return MolmoImageInputs(
        crops=np.concatenate([global_view, tiles]),
        image_masks=np.concatenate([global_mask, tile_masks]),
        tiling=tiling,
        global_grid=config.global_grid,
        high_res_grid=config.pooled_grid(tiling),
    )
