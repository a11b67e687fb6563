"""Image pre-processing throughput: Molmo's multi-crop pre-processor beside transformers' CLIP processor.

Runs both over the same seeded images of mixed sizes (each side 300-2000 px) and prints images/s and
crops/s for Molmo at 12 crops (training) and 36 crops (evaluation), for the PIL/numpy CLIPImageProcessor
(resize the shorter side to 336, centre-crop 336: one crop per image), and their ratios. Single process.

    .venv/bin/python bench/molmo_preprocessing.py [--images 50] [--seed 0] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from molmo.image_preprocessing import MOLMO_EVAL_CONFIG, MOLMO_TRAIN_CONFIG, preprocess_image

try:  # transformers >= 5 names the PIL/numpy backend apart (the default one needs torchvision)
    from transformers import CLIPImageProcessorPil as SlowCLIPImageProcessor
except ImportError:  # transformers 4: the plain class is the PIL/numpy one
    from transformers import CLIPImageProcessor as SlowCLIPImageProcessor


def make_images(n: int, seed: int) -> list[Image.Image]:
    """n RGB images, each side uniform in [300, 2000] px: smooth colour fields plus pixel noise."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        width, height = (int(v) for v in rng.integers(300, 2001, size=2))
        coarse = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize(
            (width, height), Image.Resampling.BICUBIC
        )
        grain = rng.integers(-20, 21, (height, width, 3))
        images.append(Image.fromarray(np.clip(np.asarray(coarse) + grain, 0, 255).astype(np.uint8)))
    return images


def best_time(run: Callable[[], int], repeats: int) -> tuple[float, int]:
    """Fastest wall time of `repeats` runs, and the crops the run produced."""
    times, crops = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        crops = run()
        times.append(time.perf_counter() - start)
    return min(times), crops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    images = make_images(args.images, args.seed)
    clip = SlowCLIPImageProcessor(do_resize=True, size={"shortest_edge": 336}, crop_size=336)
    runs = {
        "molmo, max_crops=12": lambda: sum(len(preprocess_image(im, MOLMO_TRAIN_CONFIG).crops) for im in images),
        "molmo, max_crops=36": lambda: sum(len(preprocess_image(im, MOLMO_EVAL_CONFIG).crops) for im in images),
        "CLIP (transformers, PIL)": lambda: sum(len(clip(im, return_tensors="np")["pixel_values"]) for im in images),
    }
    pixels = sum(im.width * im.height for im in images) / len(images)
    print(
        f"{len(images)} images, sides 300-2000 px (mean {pixels / 1e6:.2f} MP), seed {args.seed}, "
        f"best of {args.repeats}; crops include Molmo's global view"
    )
    print(f"{'pre-processor':<26}{'images/s':>10}{'crops/s':>10}{'ms/image':>10}{'crops/image':>13}")
    rates = {}
    for name, run in runs.items():
        seconds, crops = best_time(run, args.repeats)
        rates[name] = (len(images) / seconds, crops / seconds)
        print(
            f"{name:<26}{rates[name][0]:>10.1f}{rates[name][1]:>10.1f}"
            f"{1000 * seconds / len(images):>10.1f}{crops / len(images):>13.1f}"
        )
    clip_images, clip_crops = rates["CLIP (transformers, PIL)"]
    for name in ("molmo, max_crops=12", "molmo, max_crops=36"):
        images_per_s, crops_per_s = rates[name]
        print(f"{name} / CLIP: images/s x{images_per_s / clip_images:.2f}, crops/s x{crops_per_s / clip_crops:.2f}")


if __name__ == "__main__":
    main()
