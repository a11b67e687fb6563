"""Molmo image pre-processing on small synthetic images with hand-computed expectations."""

import io

import numpy as np
import pytest
from PIL import Image

from molmo.image_preprocessing import (
    MOLMO_EVAL_CONFIG,
    MOLMO_TRAIN_CONFIG,
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    MolmoImageConfig,
    normalize,
    patchify,
    preprocess_image,
    resize_and_pad,
    select_tiling,
    to_rgb,
)

MEAN = np.array(OPENAI_CLIP_MEAN, dtype=np.float32)
STD = np.array(OPENAI_CLIP_STD, dtype=np.float32)
CFG = MOLMO_TRAIN_CONFIG


def solid(width: int, height: int, colour: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (width, height), colour)


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def planes_of(image: Image.Image) -> list[Image.Image]:
    return [plane.convert("F") for plane in image.split()]


def expected_value(colour: tuple[int, int, int]) -> np.ndarray:
    """CLIP-normalised value of one RGB colour, (3,) float32."""
    return (np.array(colour, dtype=np.float32) / np.float32(255) - MEAN) / STD


def test_config_geometry():
    assert (CFG.crop_patches, CFG.window_patches, CFG.window_size, CFG.margin_size) == (24, 16, 224, 112)
    assert CFG.patch_dim == 588
    assert CFG.global_grid == (12, 12)
    assert CFG.pooled_grid((1, 1)) == (12, 12)
    assert CFG.pooled_grid((3, 4)) == (28, 36)
    assert CFG.pooled_grid((5, 7)) == (44, 60)
    assert (MOLMO_TRAIN_CONFIG.max_crops, MOLMO_EVAL_CONFIG.max_crops) == (12, 36)
    with pytest.raises(ValueError, match="multiples of pool_size"):
        MolmoImageConfig(overlap_margins=(3, 3))
    with pytest.raises(ValueError, match="not a multiple"):
        MolmoImageConfig(crop_size=330)


# (height, width) -> tiling with 12 and with 36 crops, worked by hand from the rule on the image minus
# 112 px: the smallest scale >= 1 of min(224 * rows / h', 224 * cols / w') wins, or the largest scale
# when every tiling must downscale; ties go to fewer crops, then fewer rows.
TILINGS = [
    ((336, 336), (1, 1), (1, 1)),  # 224 / 224 = 1 exactly
    ((600, 800), (3, 4), (3, 4)),  # h' 488 -> 3 rows (1.377), w' 688 -> 4 cols (1.302); (4, 4) ties, bigger
    ((448, 448), (2, 2), (2, 2)),  # 336 -> 2 each (1.333)
    ((336, 1008), (1, 4), (1, 4)),  # 224 x 896: exactly 1 x 4; (1, 5) ties at 1.0, bigger
    ((2000, 300), (9, 1), (9, 1)),  # 1888 -> 9 rows (1.068), 188 -> 1 col
    ((900, 1200), (3, 4), (4, 5)),  # 788 x 1088 needs (4, 5) = 20 crops: 12 must downscale, best (3, 4)
    ((3000, 4000), (3, 4), (5, 7)),  # all downscale: (3, 4) 0.2305; (5, 7) min(0.3878, 0.4033)
    ((1, 1), (1, 1), (1, 1)),  # h', w' < 0: every scale negative, the largest is 1 x 1's
    ((3, 500), (1, 1), (1, 1)),  # h' < 0 makes every scale negative: one row, and 1 col is first
    ((1000, 100), (1, 1), (1, 1)),  # w' < 0 likewise: one column, and 1 row is first
]


@pytest.mark.parametrize(("size", "tiling_12", "tiling_36"), TILINGS)
def test_select_tiling_table(size, tiling_12, tiling_36):
    height, width = size
    assert select_tiling(height - 112, width - 112, 224, 12) == tiling_12
    assert select_tiling(height - 112, width - 112, 224, 36) == tiling_36
    inputs = preprocess_image(solid(width, height, (9, 9, 9)))  # the tiling depends on the size only
    assert inputs.tiling == tiling_12
    assert inputs.crops.shape == (1 + tiling_12[0] * tiling_12[1], 576, 588)


def test_336_image_is_one_crop_without_resampling():
    image = noise(336, 336)
    inputs = preprocess_image(image)
    assert inputs.tiling == (1, 1)
    assert inputs.global_grid == inputs.high_res_grid == (12, 12)
    expected = patchify(normalize(np.asarray(image, dtype=np.float32) / np.float32(255), CFG), 14)
    np.testing.assert_array_equal(inputs.crops[0], expected.reshape(576, 588))
    np.testing.assert_array_equal(inputs.crops[1], inputs.crops[0])
    np.testing.assert_array_equal(inputs.image_masks, np.ones((2, 576), dtype=np.float32))


def test_solid_colour_normalises_to_clip_value():
    colour = (255, 0, 128)
    inputs = preprocess_image(solid(336, 336, colour))
    assert inputs.crops.dtype == np.float32
    patches = inputs.crops.reshape(2, 576, 196, 3)
    np.testing.assert_allclose(patches, np.broadcast_to(expected_value(colour), patches.shape), rtol=0, atol=1e-6)
    # (255 / 255 - 0.48145466) / 0.26862954, (0 - 0.4578275) / 0.26130258, (128 / 255 - 0.40821073) / 0.27577711
    np.testing.assert_allclose(expected_value(colour), [1.9303363, -1.7520971, 0.3399486], atol=1e-6)


def test_padding_is_black_before_normalisation():
    colour = (10, 200, 90)
    inputs = preprocess_image(solid(700, 500, colour))
    patches = inputs.crops.reshape(*inputs.image_masks.shape, 196, 3)
    pad, real = inputs.image_masks == 0, inputs.image_masks == 1
    assert pad.any() and real.any()
    np.testing.assert_array_equal(patches[pad], np.broadcast_to(-MEAN / STD, patches[pad].shape))
    np.testing.assert_allclose(patches[real], np.broadcast_to(expected_value(colour), patches[real].shape), atol=1e-5)


def test_wide_image_padding_fraction():
    # 1000 wide x 100 high -> 1 x 1 tiling; 336 x 336 canvas: scale float32(336 / 1000), height int(33.6) = 33,
    # top padding (336 - 33) // 2 = 151, so real rows 151..183: patch row 10 (140..153) holds 3 of 14,
    # rows 11 and 12 are full, row 13 (182..195) holds 2 of 14.
    inputs = preprocess_image(solid(1000, 100, (50, 50, 50)))
    assert inputs.tiling == (1, 1)
    per_row = np.zeros(24, dtype=np.float32)
    per_row[10:14] = [3 / 14, 1, 1, 2 / 14]
    expected = np.repeat(per_row, 24)  # (576,): every column of a patch row is alike
    for mask in inputs.image_masks:  # the global view and the single crop
        np.testing.assert_allclose(mask, expected, rtol=1e-6)


def test_release_mask_layout_is_shifted_by_one_crop():
    inputs = preprocess_image(noise(800, 600))
    released = inputs.release_image_masks
    assert released.shape == inputs.image_masks.shape == (13, 576)
    np.testing.assert_array_equal(released[:-1], inputs.image_masks[1:])
    np.testing.assert_array_equal(released[-1], np.full(576, -1.0, dtype=np.float32))


def test_neighbouring_crops_overlap_by_eight_patches():
    inputs = preprocess_image(noise(800, 600))  # 3 x 4 tiling
    crops = inputs.crops[1:].reshape(3, 4, 24, 24, 588)
    np.testing.assert_array_equal(crops[:, :-1, :, 16:], crops[:, 1:, :, :8])
    np.testing.assert_array_equal(crops[:-1, :, 16:], crops[1:, :, :8])


def test_crop_windows_reassemble_the_resized_image():
    # Keeping each crop's window (its outer margins too on the border) and dropping interior margins
    # rebuilds the resized, padded, normalised canvas exactly, with no gap and no overlap.
    image = noise(800, 600)
    inputs = preprocess_image(image)
    rows, cols = inputs.tiling
    canvas, _ = resize_and_pad(planes_of(image), (rows * 224 + 112, cols * 224 + 112))
    expected = patchify(normalize(canvas, CFG), 14)  # (56, 72, 588)
    crops = inputs.crops[1:].reshape(rows, cols, 24, 24, 588)
    stitched = np.full_like(expected, np.nan)
    for i in range(rows):
        for j in range(cols):
            y0, y1 = (0 if i == 0 else 4), (24 if i == rows - 1 else 20)
            x0, x1 = (0 if j == 0 else 4), (24 if j == cols - 1 else 20)
            target = stitched[16 * i + y0 : 16 * i + y1, 16 * j + x0 : 16 * j + x1]
            assert np.isnan(target).all()  # no window overlaps another
            target[...] = crops[i, j, y0:y1, x0:x1]
    np.testing.assert_array_equal(stitched, expected)


def test_global_view_comes_first():
    image = noise(800, 600)
    inputs = preprocess_image(image)
    canvas, mask = resize_and_pad(planes_of(image), (336, 336))
    np.testing.assert_array_equal(inputs.crops[0], patchify(normalize(canvas, CFG), 14).reshape(576, 588))
    # 800 x 600 into 336 x 336: scale float32(0.42); 600 * 0.42 = 251.99998 in float32, truncated to 251
    # rows as in the release (not 252). Top padding (336 - 251) // 2 = 42, real rows 42..292: patch rows
    # 3..19 are full, row 20 (280..293) holds 13 of 14.
    real_rows = inputs.image_masks[0].reshape(24, 24)[:, 0]
    expected = np.zeros(24, dtype=np.float32)
    expected[3:20], expected[20] = 1, 13 / 14
    np.testing.assert_allclose(real_rows, expected, rtol=1e-6)
    assert mask.sum() == 336 * 251


def test_resize_matches_torch_antialiased_bilinear():
    # The release resizes with torchvision's Resize(BILINEAR, antialias=True), i.e. torch's
    # interpolate(..., antialias=True); PIL's BILINEAR resampling is the same triangle filter.
    torch = pytest.importorskip("torch")
    image = noise(517, 389, seed=3)
    for size in [(300, 400), (600, 900), (50, 2000)]:
        canvas, mask = resize_and_pad(planes_of(image), size)
        ys, xs = np.nonzero(mask)
        new_h, new_w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        source = torch.from_numpy(np.asarray(image, dtype=np.float64) / 255).permute(2, 0, 1)[None]
        reference = torch.nn.functional.interpolate(
            source, size=(int(new_h), int(new_w)), mode="bilinear", align_corners=False, antialias=True
        )[0].permute(1, 2, 0)
        got = canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        np.testing.assert_allclose(got, reference.clamp(0, 1).numpy(), atol=1e-6)


def test_resize_size_uses_float32_scale_and_centres():
    # 517 x 389 into 300 x 400: scale min(300 / 389, 400 / 517) = 0.7712 (float32), 389 -> 300, 517 -> 398
    canvas, mask = resize_and_pad(planes_of(noise(517, 389)), (300, 400))
    assert canvas.shape == (300, 400, 3) and canvas.dtype == np.float32
    ys, xs = np.nonzero(mask)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (0, 299, 1, 398)
    assert canvas.min() >= 0.0 and canvas.max() <= 1.0


# --- input handling -------------------------------------------------------------------------------------


def test_rgba_is_composited_on_white():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red
    rgba[0, 1] = (255, 0, 0, 128)  # half-transparent red
    rgba[1, 0] = (0, 0, 255, 0)  # fully transparent
    rgba[1, 1] = (0, 0, 0, 255)  # opaque black
    rgb = np.asarray(to_rgb(Image.fromarray(rgba, "RGBA")))
    np.testing.assert_array_equal(rgb[0, 0], [255, 0, 0])
    np.testing.assert_allclose(rgb[0, 1], [255, 127, 127], atol=1)
    np.testing.assert_array_equal(rgb[1, 0], [255, 255, 255])
    np.testing.assert_array_equal(rgb[1, 1], [0, 0, 0])


def test_greyscale_and_greyscale_alpha():
    grey = Image.fromarray(np.array([[0, 100, 255]], dtype=np.uint8), "L")
    np.testing.assert_array_equal(np.asarray(to_rgb(grey))[0], [[0, 0, 0], [100, 100, 100], [255, 255, 255]])
    la = Image.fromarray(np.array([[[0, 0], [0, 255]]], dtype=np.uint8), "LA")
    np.testing.assert_array_equal(np.asarray(to_rgb(la))[0], [[255, 255, 255], [0, 0, 0]])


def test_palette_with_and_without_transparency():
    palette = Image.new("P", (2, 1))
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # index 0 red, index 1 blue
    palette.putpixel((1, 0), 1)
    np.testing.assert_array_equal(np.asarray(to_rgb(palette))[0], [[255, 0, 0], [0, 0, 255]])
    palette.info["transparency"] = 1  # index 1 is transparent
    np.testing.assert_array_equal(np.asarray(to_rgb(palette))[0], [[255, 0, 0], [255, 255, 255]])


def test_palette_transparency_survives_png():
    palette = Image.new("P", (2, 1))
    palette.putpalette([0, 255, 0, 9, 9, 9] + [0] * 762)
    palette.putpixel((1, 0), 1)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", transparency=1)
    reopened = Image.open(io.BytesIO(buffer.getvalue()))
    np.testing.assert_array_equal(np.asarray(to_rgb(reopened))[0], [[0, 255, 0], [255, 255, 255]])


def test_cmyk():
    cmyk = Image.new("CMYK", (3, 1))
    cmyk.putpixel((0, 0), (0, 0, 0, 0))  # no ink: white
    cmyk.putpixel((1, 0), (255, 0, 0, 0))  # full cyan
    cmyk.putpixel((2, 0), (0, 0, 0, 255))  # full black
    np.testing.assert_array_equal(np.asarray(to_rgb(cmyk))[0], [[255, 255, 255], [0, 255, 255], [0, 0, 0]])


def test_sixteen_bit_is_scaled_not_clipped():
    samples = np.array([[0, 128 * 257, 65535]], dtype=np.uint16)
    expected = [[0, 0, 0], [128, 128, 128], [255, 255, 255]]
    image = Image.fromarray(samples)
    assert image.mode == "I;16"
    np.testing.assert_array_equal(np.asarray(to_rgb(image))[0], expected)
    np.testing.assert_array_equal(np.asarray(to_rgb(image.convert("I")))[0], expected)
    np.testing.assert_array_equal(np.asarray(to_rgb(samples))[0], expected)
    rgb16 = np.stack([samples, samples // 2, samples], axis=-1)  # (1, 3, 3) uint16
    assert np.asarray(to_rgb(rgb16))[0, 2].tolist() == [255, 127, 255]  # 32767 / 257 = 127.5-


def test_arrays():
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(np.asarray(to_rgb(pixels)), pixels)
    np.testing.assert_array_equal(np.asarray(to_rgb(pixels[..., 0]))[..., 1], pixels[..., 0])
    with pytest.raises(TypeError, match="uint8 or uint16"):
        to_rgb(pixels.astype(np.float32))


def test_exif_orientation_six_is_applied():
    # Stored 40 wide x 20 high, left half red, right half blue; orientation 6 says "rotate 90 degrees
    # clockwise to display", so the upright image is 20 x 40 with red on top and blue below.
    stored = Image.new("RGB", (40, 20), (255, 0, 0))
    stored.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, format="PNG", exif=exif)
    image = Image.open(io.BytesIO(buffer.getvalue()))
    upright = to_rgb(image)
    assert upright.size == (20, 40)
    assert upright.getpixel((10, 5)) == (255, 0, 0)
    assert upright.getpixel((10, 35)) == (0, 0, 255)
    # The global view is 168 wide x 336 high (centred): red in its top half, blue in its bottom half.
    global_view = preprocess_image(image).crops[0].reshape(24, 24, 196, 3)
    np.testing.assert_allclose(global_view[2, 12], np.tile(expected_value((255, 0, 0)), (196, 1)), atol=1e-5)
    np.testing.assert_allclose(global_view[21, 12], np.tile(expected_value((0, 0, 255)), (196, 1)), atol=1e-5)


@pytest.mark.parametrize(
    ("width", "height", "config"),
    [(1, 1, CFG), (3, 500, CFG), (500, 3, CFG), (1, 2000, CFG), (2000, 1, CFG), (4000, 3000, MOLMO_EVAL_CONFIG)],
)
def test_tiny_and_huge_images(width, height, config):
    inputs = preprocess_image(solid(width, height, (200, 100, 50)), config)
    rows, cols = inputs.tiling
    n_crops = 1 + rows * cols
    assert 1 <= rows * cols <= config.max_crops
    assert inputs.crops.shape == (n_crops, 576, 588)
    assert inputs.image_masks.shape == (n_crops, 576)
    assert np.isfinite(inputs.crops).all()
    assert inputs.image_masks.min() >= 0 and inputs.image_masks.max() <= 1
    assert inputs.image_masks[0].sum() > 0  # some of the image is always visible
    assert inputs.high_res_grid == (8 * rows + 4, 8 * cols + 4)
