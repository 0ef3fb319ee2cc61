"""The ``moearch`` command: one entry point for the four tools."""
from __future__ import annotations

import errno
import sys

import click

from accelerators.errors import WRITE_ERRNOS, ConfigError
from moearch.cli.catalog_cmds import devices, workloads
from moearch.cli.codegen_cmd import codegen
from moearch.cli.coe_cmd import coe
from moearch.cli.compare_cmd import compare
from moearch.cli.demo_cmd import demo
from moearch.cli.dse_cmd import dse
from moearch.cli.fpga_cmd import fpga
from moearch.cli.model_cmds import model, opb, roofline
from moearch.cli.serve_cmd import serve_cmd
from moearch.cli.serve_pd_cmd import serve_pd
from moearch.cli.validate_cmd import validate_cmd
from moearch.cli.verify_cmd import verify


class MoearchGroup(click.Group):
    """Turns bad user input into one clear message and exit code 2, and a file the machine cannot
    write (disk full, read-only folder) into one message and exit code 1. Every output is written
    through a temporary name and renamed into place, so the previous output stays as it was."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except OSError as exc:
            if exc.errno not in WRITE_ERRNOS:
                raise
            where = exc.filename or "an output file"
            code = errno.errorcode.get(exc.errno, exc.errno)
            click.echo(f"error: cannot write {where}: {exc.strerror or exc} ({code}); the previous output, "
                       "if any, is unchanged", err=True)
            sys.exit(1)


@click.group(cls=MoearchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="moearch")
def cli() -> None:
    """moearch: model, generate, verify and explore hardware for Mixture-of-Experts models."""


COMMANDS = (devices, workloads, model, serve_cmd, serve_pd, opb, roofline, compare, coe, validate_cmd, fpga, codegen, verify,
            dse, demo)
for command in COMMANDS:
    cli.add_command(command)


def main() -> None:
    cli(prog_name="moearch")


if __name__ == "__main__":
    main()
