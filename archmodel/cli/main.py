"""The ``moearch`` command: one entry point for the four tools."""
from __future__ import annotations

import sys

import click

from accelerators.errors import ConfigError
from codegen.cli import codegen
from dse.cli import dse
from verification.cli import verify

from .catalog_cmds import devices, workloads
from .coe_cmd import coe
from .compare_cmd import compare
from .demo_cmd import demo
from .fpga_cmd import fpga
from .model_cmds import model, opb, roofline, serve_cmd
from .serve_pd_cmd import serve_pd


class MoearchGroup(click.Group):
    """Turns bad user input into one clear message and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=MoearchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="moearch")
def cli() -> None:
    """moearch: model, generate, verify and explore hardware for Mixture-of-Experts models."""


for command in (devices, workloads, model, serve_cmd, serve_pd, opb, roofline, demo, coe, compare, fpga, dse, codegen, verify):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="moearch")


if __name__ == "__main__":
    main()
