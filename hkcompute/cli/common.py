"""What every command shares: the error boundary, the consoles, and site resolution."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from hkcompute.errors import HkError, InputError, UsageError
from hkcompute.outpaths import prepare_out_dir, prepare_out_file

__all__ = ["prepare_out_dir", "prepare_out_file"]

# Data goes to stdout; progress, logs and messages to stderr (so pipes get clean data).
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_FAIL, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


def _quiet(value: bool) -> bool:
    # Progress, summaries and logs go quiet; errors still print (see boundary) and data on
    # stdout is untouched, so `-q` never hides a result or a failure.
    if value:
        err.quiet = True
    return value


def _verbose(value: int) -> int:
    if value:
        from rich.logging import RichHandler

        level = logging.INFO if value == 1 else logging.DEBUG
        handler = RichHandler(
            console=err, show_path=False, show_time=value > 1, rich_tracebacks=False
        )
        logging.basicConfig(
            level=level, handlers=[handler], format="%(name)s: %(message)s", force=True
        )
    return value


# Options every command that reaches hosts shares, declared once so their names and help
# never drift apart between deploy, preflight, hostkeys, verify, lab and cabling verify.
StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="run state (journal, lock, known_hosts, the lab's connections); "
        "default ./state/<site>",
    ),
]
PrivateKeyOpt = Annotated[Path | None, typer.Option(help="SSH key for the hosts")]
AcceptNewHostKeysOpt = Annotated[
    bool,
    typer.Option("--accept-new-host-keys", help="DANGEROUS: trust unknown host keys on first use"),
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        callback=_quiet,
        expose_value=False,
        help="no progress or summaries on stderr (errors still print)",
    ),
]
VerboseOpt = Annotated[
    int,
    typer.Option(
        "--verbose",
        "-v",
        count=True,
        callback=_verbose,
        expose_value=False,
        help="log what happens (-v), with debug detail (-vv)",
    ),
]

P = ParamSpec("P")
R = TypeVar("R")


class Format(StrEnum):
    text = "text"
    json = "json"


def log_dir() -> Path:
    base = os.environ.get("HKCOMPUTE_LOG_DIR")
    if base:
        return Path(base)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "hkcompute" / "logs"


def write_crash_log(exc: BaseException) -> Path:
    """Write the traceback (never local variables: inventories hold secrets) to a log file."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        d = log_dir()
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"crash-{stamp}-{os.getpid()}.log"
    except OSError:
        path = Path(tempfile.gettempdir()) / f"hkcompute-crash-{stamp}-{os.getpid()}.log"
    path.write_text(f"hkcompute {' '.join(sys.argv[1:])}\n{text}", encoding="utf-8")
    return path


def boundary(fn: Callable[P, R]) -> Callable[P, R]:
    """Map expected errors to a message and exit code; an unexpected one to a crash log."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except HkError as exc:
            err.quiet = False  # -q silences progress, never the reason a command failed
            err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            if _wants_json(kwargs):
                emit(error_json(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as Unix tools do on SIGPIPE.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(141) from None
        except Exception as exc:  # the boundary: anything else is a bug, reported as one
            path = write_crash_log(exc)
            err.quiet = False
            err.print(
                f"[bold red]internal error:[/] {type(exc).__name__}: {exc} "
                f"(traceback written to {path}; please report it)"
            )
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper


def _wants_json(kwargs: dict[str, Any]) -> bool:
    # Every data command names its format option ``fmt``: a script that asked for JSON gets
    # JSON on stdout even when the command fails, never an empty stdout to parse.
    return str(kwargs.get("fmt", "")) == "json"


def error_json(exc: HkError) -> str:
    """The JSON a failed data command prints: why it failed, and any findings it has."""
    from hkcompute.errors import InventoryErrors

    findings = exc.findings if isinstance(exc, InventoryErrors) else []
    doc = {
        "ok": False,
        "error": {"message": exc.message, "location": exc.location, "exit_code": exc.exit_code},
        "findings": findings,
    }
    return json.dumps(doc, indent=2, sort_keys=True)


def resolve_site(site: str) -> Path:
    """A site is a folder or file path; a bare name also finds ``inventories/<name>``."""
    p = Path(site)
    if p.exists():
        return p
    alt = Path("inventories") / site
    if os.sep not in site and alt.exists():
        return alt
    raise InputError(f"no such site: {site} (give the folder of its YAML files)")


def check_phase(site_phases: tuple[int, ...], phase: int | None) -> None:
    if phase is not None and phase not in site_phases:
        raise UsageError(
            f"phase {phase} is not defined; phases: {', '.join(map(str, site_phases)) or 'none'}"
        )


def emit(text: str) -> None:
    """Write data to stdout exactly (no Rich wrapping or markup)."""
    sys.stdout.write(text)
    if not text.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()


def jsonable(obj: Any) -> Any:
    if isinstance(obj, dt.date):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A transient ``label ━━━ done/total elapsed`` bar on stderr (none when stderr is not a
    terminal, or under -q); yields the ``progress(done, total)`` callback the layers take."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield progress
