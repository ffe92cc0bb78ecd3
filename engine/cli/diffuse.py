"""``heirloom diffuse``: still registered through engine.diffusion_cli until that module
moves here (issue 18; another change to it was in progress)."""

from __future__ import annotations

import argparse

HELP = "DDPM: generate, inpaint (RePaint), edit (SDEdit)"


class _Given:
    """Hands the old ``add_diffuse_commands(sub)`` the parser made for it."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser

    def add_parser(self, name: str, **keywords: object) -> argparse.ArgumentParser:
        return self.parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from engine import diffusion_cli

    diffusion_cli.add_diffuse_commands(_Given(parser))  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    return args.func(args)
