"""Options, input resolution and output helpers shared by the commands."""
from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import click
from click.core import ParameterSource
from rich.console import Console

from accelerators.catalog import load_device
from accelerators.errors import ConfigError, output_error
from archmodel.parallel import Parallelism
from archmodel.precision import DTYPES, Precision
from archmodel.routing import Routing
from archmodel.workloads import load_workload

# A wide table when output goes to a file or CI log (rich would fold it to 80 columns).
console = Console(width=None if sys.stdout.isatty() else 160)


def deprecated(old: str, new: str) -> None:
    """The one-line note an old spelling prints (to stderr) before it behaves like the new one."""
    click.echo(f"warning: {old} is deprecated and will be removed in the next release; use {new}", err=True)


def given(name: str) -> bool:
    """Whether the current command's parameter ``name`` was given on the command line (or by env)."""
    source = click.get_current_context().get_parameter_source(name)
    return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def renamed(old: str, new: str, dest: str, **option: Any) -> Callable[[Callable], Callable]:
    """Accept ``old``, the previous spelling of option ``new`` (parameter ``dest``), as a hidden
    alias for one release: it prints a deprecation note and sets ``dest`` as ``new`` would.

    ``option`` are the click settings of the old flag (its ``type``). Giving both spellings is a
    :class:`ConfigError` naming the old one.
    """
    hidden = "deprecated_" + old.lstrip("-").replace("-", "_") + "_for_" + dest

    def decorate(f: Callable) -> Callable:
        @functools.wraps(f)
        def command(*args: Any, **kwargs: Any) -> Any:
            value = kwargs.pop(hidden)
            if value is not None:
                if given(dest):
                    raise ConfigError(None, old, value, f"{new} alone ({old} is its deprecated spelling)")
                deprecated(old, new)
                kwargs[dest] = value
            return f(*args, **kwargs)

        return click.option(old, hidden, hidden=True, default=None, **option)(command)

    return decorate


@contextmanager
def flag_names(**names: str) -> Iterator[None]:
    """Re-raise the library's :class:`ConfigError` about parameter ``key`` as one about the flag
    ``names[key]`` (e.g. ``batch="--concurrency"``), so the message names what the user typed."""
    try:
        yield
    except ConfigError as exc:
        if exc.field in names:
            raise ConfigError(exc.file, names[exc.field], exc.value, exc.allowed) from exc
        raise


#: the library's parameter -> the flag of the model commands (model, serve, opb, roofline, compare)
MODEL_FLAGS = {"devices": "--devices", "tp": "--tp", "ep": "--ep", "pp": "--pp", "dp": "--devices",
               "routing.skew": "--routing", "isl": "--isl", "osl": "--osl", "context": "--context",
               "device": "--device", "dtype": "--dtype", "kv_dtype": "--kv-dtype"}


def whole_number(flag: str, value: int | None, minimum: int = 1) -> None:
    """ConfigError naming ``flag`` unless ``value`` is None or a whole number >= ``minimum``."""
    if value is not None and value < minimum:
        raise ConfigError(None, flag, value, f"a whole number >= {minimum}")


def parse_concurrency(value: str) -> int | str:
    """``--concurrency``: a whole number >= 1, or ``auto``."""
    if value == "auto":
        return value
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(None, "--concurrency", value, "a whole number >= 1 or 'auto'") from None
    whole_number("--concurrency", number)
    return number


def _named_by_flag(flag: str, value: str, error: ConfigError) -> ConfigError:
    """A reference that names nothing (no such file, no such catalog name) is the flag's fault:
    the error names the flag; an error inside a file that exists keeps naming that file."""
    if error.field in (None, flag.lstrip("-")) and str(error.value) == value:
        return ConfigError(None, flag, value, error.allowed)
    return error


def load_workload_arg(value: str):
    try:
        return load_workload(value)
    except ConfigError as error:
        raise _named_by_flag("--workload", value, error) from None


def load_device_arg(value: str):
    try:
        return load_device(value)
    except ConfigError as error:
        raise _named_by_flag("--device", value, error) from None


def workload_option(f: Callable) -> Callable:
    return click.option("--workload", "-w", required=True,
                        help="Built-in model name (see `moearch workloads`) or a path to a Hugging Face config.json.")(f)


def device_option(f: Callable) -> Callable:
    return click.option("--device", "-d", required=True,
                        help="Catalog device (see `moearch devices`) or a path to a device YAML file.")(f)


def parallel_options(f: Callable) -> Callable:
    for opt in reversed([
        click.option("--devices", "devices", type=int, default=None,
                     help="Devices in use (default: tp*pp, or the device's own chip count)."),
        click.option("--tp", type=int, default=None, help="Tensor-parallel degree (default: all devices)."),
        click.option("--ep", type=int, default=None, help="Expert-parallel degree (default 1)."),
        click.option("--pp", type=int, default=None, help="Pipeline-parallel degree (default 1)."),
    ]):
        f = opt(f)
    return f


def precision_options(f: Callable) -> Callable:
    f = click.option("--kv-dtype", type=click.Choice(DTYPES), default=None,
                     help="KV-cache datatype (default: the activations').")(f)
    f = click.option("--dtype", type=click.Choice(DTYPES), default="bf16", show_default=True,
                     help="Weights datatype (int8 = W8A8; int4 = weight-only with bf16 activations).")(f)
    f = click.option("--routing", default="uniform", show_default=True,
                     help="Expert routing: 'uniform' or 'zipf:S' (Zipf popularity with exponent S).")(f)
    return f


def positions_option(f: Callable) -> Callable:
    return click.option("--beyond-max-positions", "beyond_positions", is_flag=True,
                        help="Model sequences longer than the model's max_position_embeddings "
                             "(refused otherwise: the model was not trained for them).")(f)


def check_positions(model, tokens: int, flag: str, allow: bool) -> None:
    """Refuse sequences of more than the model's positions unless ``allow`` (``--beyond-max-positions``)."""
    limit = model.max_position_embeddings
    if not allow and tokens > limit:
        raise ConfigError(None, flag, tokens, f"at most the {limit} positions of {model.name} "
                          "(max_position_embeddings); --beyond-max-positions to model it anyway")


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(f)


def make_parallel(device, devices: int | None, tp: int | None, ep: int | None, pp: int | None) -> Parallelism:
    for flag, value in (("--devices", devices), ("--tp", tp), ("--ep", ep), ("--pp", pp)):
        whole_number(flag, value)
    if devices is None:
        devices = (tp or 1) * (pp or 1) if (tp or pp) else getattr(device, "chips", 1)
    return Parallelism.for_devices(devices, tp=tp, ep=ep, pp=pp)


def make_precision(dtype: str, kv_dtype: str | None) -> Precision:
    return Precision.of(dtype, kv_dtype)


def parse_routing(text: str) -> Routing:
    if text == "uniform":
        return Routing()
    if text.startswith("zipf"):
        _, _, skew = text.partition(":")
        try:
            return Routing("zipf", float(skew) if skew else 1.0)
        except ValueError:
            raise ConfigError(None, "--routing", text, "'uniform' or 'zipf:S' with S a number >= 0") from None
    raise ConfigError(None, "--routing", text, "'uniform' or 'zipf:S' with S a number >= 0")


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=float))


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise output_error(exc, path)  # noqa: B904 - the cause is kept by output_error
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the mode a plain open() would
        os.replace(tmp, path)
    except OSError as exc:  # name the file the user asked for, not the temporary one
        raise output_error(exc, path)  # noqa: B904 - the cause is kept by output_error
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)
