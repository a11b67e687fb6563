"""Molmo2's image pre-processing without torchvision, so `hf:` can run Molmo2 checkpoints here.

transformers ships Molmo2's image processor only as a torchvision class, and torchvision cannot be used in this
project. This is the same algorithm on NumPy and torch: a global view resized to the crop size, then the image
resized onto a canvas of overlapping crops (each crop shares `overlap_margins` patches with its neighbours), both
cut into flattened patches; `image_token_pooling` lists, for every image token, the patches its 2x2 pooling window
reads (-1 for padding), with each patch of an overlap margin counted in one crop only. Resizing is bilinear without
antialiasing on float pixels, then rounded back to 0-255, which is what the torchvision class computes.

Outputs (for N images with C_i crops each, P patches per crop, D = patch_size^2 * 3 values per patch):
`pixel_values` [sum C_i, P, D], `image_token_pooling` [tokens, pool_h * pool_w] (indices into the flattened
patches of all images), `image_grids` [N, 4] = (low-res rows, cols, high-res rows, cols) of pooled tokens,
`image_num_crops` [N].
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar

import numpy as np
from transformers.image_processing_backends import PilBackend
from transformers.image_processing_utils import BatchFeature
from transformers.image_utils import IMAGENET_STANDARD_MEAN, IMAGENET_STANDARD_STD


def select_tiling(height: int, width: int, window: int, max_crops: int) -> tuple[int, int]:
    """The (rows, cols) of crop windows for an image of `height` x `width`: the smallest tiling that covers it
    without downscaling, else the tiling that downscales it least; ties go to fewer crops, then fewer rows."""
    tilings = sorted(((rows, cols) for rows, cols in itertools.product(range(1, max_crops + 1), repeat=2)
                      if rows * cols <= max_crops), key=lambda t: (t[0] * t[1], t[0]))
    scales = [min(rows * window / height, cols * window / width) for rows, cols in tilings]
    if all(scale < 1 for scale in scales):
        return tilings[int(np.argmax(scales))]
    return tilings[int(np.argmin([scale if scale >= 1 else math.inf for scale in scales]))]


def pooling_windows(grid: np.ndarray, pool_h: int, pool_w: int) -> np.ndarray:
    """[rows, cols] patch indices -> [pooled rows * pooled cols, pool_h * pool_w] windows, padded (centred) with -1."""
    pad_h = -grid.shape[0] % pool_h
    pad_w = -grid.shape[1] % pool_w
    grid = np.pad(grid, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)), constant_values=-1)
    rows, cols = grid.shape[0] // pool_h, grid.shape[1] // pool_w
    return grid.reshape(rows, pool_h, cols, pool_w).transpose(0, 2, 1, 3).reshape(rows * cols, pool_h * pool_w)


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """[C, H, W] uint8 -> [C, height, width] uint8: bilinear on float values, no antialiasing, rounded back."""
    import torch
    from torch.nn import functional

    pixels = torch.from_numpy(np.array(image, dtype=np.float32))[None]
    resized = functional.interpolate(pixels, size=(height, width), mode="bilinear", align_corners=False,
                                     antialias=False)
    return resized[0].round().clamp(0, 255).to(torch.uint8).numpy()


def to_patches(crops: np.ndarray, patch: int) -> np.ndarray:
    """[crops, S, S, C] -> [crops, (S / patch)^2, patch * patch * C], patches in row-major order."""
    count, size, _, channels = crops.shape
    side = size // patch
    patches = crops.reshape(count, side, patch, side, patch, channels).transpose(0, 1, 3, 2, 4, 5)
    return patches.reshape(count, side * side, patch * patch * channels)


class Molmo2ImageProcessorPil(PilBackend):
    """Molmo2's image processor on NumPy/torch; its saved config keeps the real class name, so a checkpoint
    written with it loads anywhere Molmo2 loads."""

    model_input_names: ClassVar[list[str]] = ["pixel_values", "image_token_pooling", "image_grids", "image_num_crops"]
    image_mean = IMAGENET_STANDARD_MEAN
    image_std = IMAGENET_STANDARD_STD
    size: ClassVar[dict[str, int]] = {"height": 378, "width": 378}
    do_convert_rgb = True
    max_crops = 8
    overlap_margins = (4, 4)
    patch_size = 14
    pooling_size = (2, 2)

    def __init__(self, **kwargs: Any) -> None:
        for name in ("max_crops", "overlap_margins", "patch_size", "pooling_size"):
            if name in kwargs:
                setattr(self, name, kwargs.pop(name))
        super().__init__(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        config = super().to_dict()
        config.update(max_crops=self.max_crops, overlap_margins=list(self.overlap_margins),
                      patch_size=self.patch_size, pooling_size=list(self.pooling_size),
                      image_processor_type="Molmo2ImageProcessor")
        return config

    def geometry(self, height: int, width: int, max_crops: int | None = None) -> tuple[int, int, int, int]:
        """(tiling rows, tiling cols, canvas height, canvas width) for an image of `height` x `width` pixels."""
        crop, patch = self.size["height"], self.patch_size
        margin = sum(self.overlap_margins) * patch
        window = crop - margin
        rows, cols = select_tiling(height - margin, width - margin, window, max_crops or self.max_crops)
        return rows, cols, rows * window + margin, cols * window + margin

    def _normalize(self, image: np.ndarray) -> np.ndarray:
        """[C, H, W] uint8 -> [H, W, C] float32 in the model's normalisation."""
        pixels = image.transpose(1, 2, 0).astype(np.float32) * np.float32(1 / 255)
        return (pixels - np.asarray(self.image_mean, np.float32)) / np.asarray(self.image_std, np.float32)

    def _one_image(self, image: np.ndarray, max_crops: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """One [C, H, W] image -> (patches [1 + crops, P, D], pooling [tokens, pool], grid [4])."""
        crop, patch = self.size["height"], self.patch_size
        pool_h, pool_w = self.pooling_size
        left, right = self.overlap_margins
        per_side = crop // patch
        window = per_side - left - right  # patches each crop adds beyond its margins
        rows, cols, canvas_h, canvas_w = self.geometry(image.shape[1], image.shape[2], max_crops)

        canvas = self._normalize(resize_bilinear(image, canvas_h, canvas_w))
        crops = np.stack([canvas[r * window * patch:r * window * patch + crop, c * window * patch:c * window * patch
                                 + crop] for r in range(rows) for c in range(cols)])
        # Each crop's patch indices, with the margins it shares with a neighbour dropped (kept by the first crop
        # that reaches them), assembled into the canvas's patch grid.
        index = np.arange(rows * cols * per_side * per_side).reshape(rows, cols, per_side, per_side)
        keep_rows = [slice(0 if r == 0 else left, per_side if r == rows - 1 else per_side - right) for r in range(rows)]
        keep_cols = [slice(0 if c == 0 else left, per_side if c == cols - 1 else per_side - right) for c in range(cols)]
        canvas_grid = np.concatenate([np.concatenate([index[r, c][keep_rows[r], keep_cols[c]] for c in range(cols)],
                                                     axis=1) for r in range(rows)], axis=0)
        high = pooling_windows(canvas_grid, pool_h, pool_w)

        low_view = self._normalize(resize_bilinear(image, crop, crop))[None]
        low = pooling_windows(np.arange(per_side * per_side).reshape(per_side, per_side), pool_h, pool_w)
        pooling = np.concatenate([low, np.where(high >= 0, high + per_side * per_side, -1)])
        grid = [math.ceil(per_side / pool_h), math.ceil(per_side / pool_w),
                math.ceil(canvas_grid.shape[0] / pool_h), math.ceil(canvas_grid.shape[1] / pool_w)]
        return to_patches(np.concatenate([low_view, crops]), patch), pooling, grid

    def get_image_grid_and_crops(self, height: int, width: int,
                                 images_kwargs: dict[str, Any] | None = None) -> tuple[list[int], int]:
        """The pooled-token grid (low rows, low cols, high rows, high cols) and crop count of one image."""
        rows, cols, canvas_h, canvas_w = self.geometry(height, width, (images_kwargs or {}).get("max_crops"))
        per_side = self.size["height"] // self.patch_size
        pool_h, pool_w = self.pooling_size
        grid = [math.ceil(per_side / pool_h), math.ceil(per_side / pool_w),
                math.ceil(canvas_h // self.patch_size / pool_h), math.ceil(canvas_w // self.patch_size / pool_w)]
        return grid, rows * cols + 1

    def preprocess(self, images: Any, return_tensors: str | None = None, max_crops: int | None = None,
                   **kwargs: Any) -> BatchFeature:
        """Images (PIL, arrays, or nested lists of them, one list per prompt) -> Molmo2's model inputs."""
        flat = list(images) if isinstance(images, list | tuple) else [images]
        while any(isinstance(image, list | tuple) for image in flat):
            flat = [part for image in flat for part in (image if isinstance(image, list | tuple) else [image])]
        patches, poolings, grids = [], [], []
        offset = 0
        for image in flat:
            pixels, pooling, grid = self._one_image(self.process_image(image, do_convert_rgb=True),
                                                    max_crops or self.max_crops)
            patches.append(pixels)
            poolings.append(np.where(pooling >= 0, pooling + offset, -1))
            grids.append(grid)
            offset += pixels.shape[0] * pixels.shape[1]
        data = {"pixel_values": np.concatenate(patches), "image_token_pooling": np.concatenate(poolings),
                "image_grids": np.asarray(grids, np.int64),
                "image_num_crops": np.asarray([p.shape[0] for p in patches], np.int64)}
        return BatchFeature(data=data, tensor_type=return_tensors)
