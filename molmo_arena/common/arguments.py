"""Number types for command-line flags (argparse `type=`) and for options given as text (the `openai:` spec's
query options): each parses the text or raises an error whose message says what was expected and what was given.
"""

from __future__ import annotations

import argparse
import math


class NumberError(argparse.ArgumentTypeError, ValueError):
    """A number out of range or not a number. argparse prints the message as it is (an ArgumentTypeError); code
    that parses options catches it as a ValueError."""


def _number(text: str, kind: type[int] | type[float], low: float, low_allowed: bool, expected: str) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < low or (value == low and not low_allowed):
        raise NumberError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1 (a count of items, rounds, battles)."""
    return int(_number(text, int, 1, True, "a whole number of at least 1"))


def non_negative_int(text: str) -> int:
    """A whole number of at least 0."""
    return int(_number(text, int, 0, True, "a whole number of at least 0"))


def positive_float(text: str) -> float:
    """A finite number above 0 (a timeout, a rate)."""
    return float(_number(text, float, 0.0, False, "a number above 0"))


def non_negative_float(text: str) -> float:
    """A finite number of at least 0."""
    return float(_number(text, float, 0.0, True, "a number of at least 0"))
