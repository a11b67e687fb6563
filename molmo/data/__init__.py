"""Molmo's training data: PixMo readers, a synthetic PixMo-like generator, prompt formatting and packing."""
