"""The package list: every code package in the tree, plus the two data packages that pyproject.toml maps from the
top-level `prompts/` and `results/reference/` folders (pyproject alone cannot add mapped packages to a search)."""

from setuptools import find_packages, setup

TOP_LEVEL = ("molmo", "evals", "arena", "leaderboard", "molmo_arena")
CODE = find_packages(include=[name for package in TOP_LEVEL for name in (package, f"{package}.*")])

setup(packages=[*CODE, "molmo_arena.prompts", "molmo_arena.reference"])
