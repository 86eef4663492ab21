"""`hkcompute cabling verify`: the plan's cables against what the devices report, and the
``cabling`` group whose default command (``list``, in ``cli.plan``) keeps `hkcompute cabling
SITE` working as it always has."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from hkcompute import atomic
from hkcompute.asbuilt import guids as G
from hkcompute.asbuilt import output
from hkcompute.asbuilt.compare import compare
from hkcompute.asbuilt.names import Resolver
from hkcompute.asbuilt.observed import Discovery, DiscoveryError, Sighting
from hkcompute.asbuilt.sources import from_ibnetdiscover, from_lldp, medium_of, resolver_for
from hkcompute.cli.common import (
    AcceptNewHostKeysOpt,
    PrivateKeyOpt,
    QuietOpt,
    StateOpt,
    VerboseOpt,
    boundary,
    emit,
    err,
    prepare_out_file,
    resolve_site,
)
from hkcompute.deploy.state import state_dir
from hkcompute.errors import InputError, UsageError
from hkcompute.model import Site
from hkcompute.plan import Plan, plan_for
from hkcompute.validate import load_valid_site


class DefaultGroup(TyperGroup):
    """A group that runs ``default_command`` when the first argument names no subcommand,
    so `hkcompute cabling SITE` stays `hkcompute cabling list SITE`."""

    default_command = "list"

    # ``ctx`` is typer's own (vendored) click Context, which is not the ``click`` package's.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


class VerifyFormat(StrEnum):
    text = "text"
    json = "json"
    csv = "csv"


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DiscoveryError(f"not UTF-8 text (byte {exc.start})", location=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", location=str(path)) from None


def _lldp_dir(
    folder: Path, site: Site, in_scope: Callable[[str], bool], resolver: Resolver
) -> Discovery:
    if not folder.is_dir():
        raise InputError(f"--lldp {folder}: no such folder (one <device>.json per device)")
    answers, ignored = [], []
    for f in sorted(folder.glob("*.json")):
        if f.stem not in site.devices:
            ignored.append(f.name)
        elif in_scope(f.stem):
            answers.append((f.stem, _read(f), str(f)))
    disc = from_lldp(answers, resolver)
    if ignored:
        disc.notes.append(
            f"ignored {len(ignored)} file(s) of {folder} that name no device of "
            f"the inventory: {', '.join(ignored[:5])}"
        )
    if not answers:
        disc.notes.append(f"no <device>.json of the scope in {folder}")
    return disc


def _collect(
    site: Site,
    plan: Plan,
    phase: int,
    state: Path,
    in_scope: Callable[[str], bool],
    resolver: Resolver,
    private_key: Path | None,
    accept_new: bool,
) -> Discovery:
    from hkcompute.asbuilt import collect

    hosts = [t for t in collect.targets(site, plan, phase, state) if in_scope(t.host)]
    if not hosts:
        raise UsageError(
            "no host of the scope has an SSH address in the inventory "
            "(or the lab's connections file) to collect from"
        )
    err.print(f"[dim]collecting LLDP neighbours from {len(hosts)} hosts[/]")
    answers = collect.collect(hosts, state / "known_hosts", private_key, accept_new=accept_new)
    disc = Discovery()
    for a in answers:
        if a.text is None:
            disc.failed[a.host] = a.error
            continue
        try:
            disc.merge(from_lldp([(a.host, a.text, f"ssh:{a.host}")], resolver))
        except DiscoveryError as exc:  # one host's odd answer is that host's problem
            disc.failed[a.host] = str(exc)
    lab = _lab_names(site, plan, phase, state)
    if lab is not None:
        disc.sightings = lab(disc.sightings)
    return disc


def _lab_names(
    site: Site, plan: Plan, phase: int, state: Path
) -> Callable[[list[Sighting]], list[Sighting]] | None:
    """When the container lab is up, its interface names and leaf segments (see labview)."""
    from hkcompute.lab.twin import lab_dir

    d = lab_dir(state)
    if not (d / "connections.json").is_file():
        return None
    from hkcompute.asbuilt.labview import lab_sightings, segments_of
    from hkcompute.lab.layout import build_layout

    names_file = d / "ifnames.json"
    try:
        names = json.loads(names_file.read_text()) if names_file.is_file() else {}
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot read the lab's interface names: {exc}", location=str(names_file)
        ) from None
    segments = segments_of(build_layout(site, plan, phase))
    links = plan.links_upto(phase)
    return lambda seen: lab_sightings(seen, links, segments, names)


@boundary
def verify_cmd(
    site: Annotated[str, typer.Argument(help="site folder (or name under inventories/)")],
    phase: Annotated[int, typer.Option(help="the links of the site as built up to phase N")],
    lldp: Annotated[
        Path | None,
        typer.Option(
            "--lldp",
            metavar="DIR",
            help="a folder of <device>.json, each the output of `lldpcli -f json show neighbors`",
        ),
    ] = None,
    collect: Annotated[
        bool,
        typer.Option(
            "--collect", help="run lldpcli on the hosts and switches over SSH (as preflight)"
        ),
    ] = False,
    ibnetdiscover: Annotated[
        Path | None,
        typer.Option(
            "--ibnetdiscover", metavar="FILE", help="the output of ibnetdiscover (InfiniBand)"
        ),
    ] = None,
    devices: Annotated[
        str | None,
        typer.Option("--devices", metavar="GLOB", help="only links with a device matching GLOB"),
    ] = None,
    guids_out: Annotated[
        Path | None,
        typer.Option(
            "--guids",
            metavar="FILE",
            help="where to write the HCA port GUIDs (default SITE/.asbuilt/guids.yaml)",
        ),
    ] = None,
    private_key: PrivateKeyOpt = None,
    accept_new_host_keys: AcceptNewHostKeysOpt = False,
    state: StateOpt = None,
    fmt: Annotated[VerifyFormat, typer.Option("--format", "-f")] = VerifyFormat.text,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Compare the plan's cables with what the devices see (LLDP, ibnetdiscover): each link
    ok, missing, miswired (with what is there instead), a swapped pair, or unexpected;
    devices without data are listed as not collected. Exit 1 unless every link is ok.

    Example: hkcompute cabling verify inventories/lab --phase 1 --lldp lldp/ --format csv
    """
    if lldp is None and ibnetdiscover is None and not collect:
        raise UsageError(
            "give the discovery data: --lldp DIR, --collect and/or --ibnetdiscover FILE"
        )
    path = resolve_site(site)
    s, _findings = load_valid_site(path, phase)
    plan = plan_for(s, phase)
    pattern = devices

    def in_scope(dev: str) -> bool:
        return pattern is None or fnmatch.fnmatchcase(dev, pattern)

    resolver = resolver_for(s, plan)
    disc = Discovery()
    guid_path: Path | None = None
    if ibnetdiscover is not None:
        guid_path = guids_out or G.default_path(path)
        prepare_out_file(guid_path)  # before the work: a bad path fails at once
        ib, found = from_ibnetdiscover(_read(ibnetdiscover), str(ibnetdiscover), resolver)
        disc.merge(ib)
        atomic.write_text(guid_path, G.render(found, s.info.name, ibnetdiscover.name))
        ports = sum(len(p) for p in found.values())
        err.print(f"wrote {ports:,} HCA port GUIDs of {len(found):,} devices to {guid_path}")
    if lldp is not None:
        disc.merge(_lldp_dir(lldp, s, in_scope, resolver))
    if collect:
        st = state_dir(s.info.name, state)
        disc.merge(
            _collect(s, plan, phase, st, in_scope, resolver, private_key, accept_new_host_keys)
        )
    for note in disc.notes:
        err.print(f"note: {note}")
    verdict = compare(plan.links_upto(phase), disc, medium_of(s), in_scope)
    if verdict.planned == 0:
        raise UsageError(
            f"no planned link of phase {phase} has a device matching {devices!r}"
            if devices
            else f"phase {phase} plans no link"
        )
    title = f"cabling of {s.info.name} phase {phase}" + (f" ({devices})" if devices else "")
    if fmt is VerifyFormat.json:
        emit(
            output.to_json(
                verdict,
                {
                    "site": s.info.name,
                    "phase": phase,
                    "devices": devices,
                    "guids_file": str(guid_path) if guid_path else None,
                },
            )
        )
    elif fmt is VerifyFormat.csv:
        emit(output.to_csv(verdict))
    else:
        emit(output.text(verdict, title))
    if fmt is not VerifyFormat.text:
        err.print(output.headline(verdict, title))
    raise typer.Exit(0 if verdict.ok else 1)
