"""Fuzz harness: mutate the bundled inventories and push them through load, validate, plan
and render, each input in a forked child with a time limit and an address-space limit.

The contract under test: for any input, the library either succeeds or raises an
``HkError`` (which the CLI turns into a message and exit code 1 or 2). Anything else is a
bug: another exception (a traceback for the user), a hang past ``TIMEOUT_S`` or a memory
blow-up past ``MEMORY_BYTES`` (the child dies with MemoryError or by a signal).

Used by ``scripts/fuzz.py`` (the long run), ``tests/unit/test_fuzz_short.py`` (seconds, in
CI) and the corpus replay in the same test module. A crashing input is kept as a folder
``tests/fuzz/corpus/<name>/`` holding the site's files exactly as they were fed.
"""

from __future__ import annotations

import contextlib
import copy
import os
import random
import resource
import select
import signal
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
LAB = REPO / "inventories" / "lab"
HKSTP = REPO / "inventories" / "hkstp"

# A lab input takes about 0.25 s end to end; the full site about 4 s to validate and plan;
# a mutant at the size limits (100,000 devices) about 4 s to be refused. Anything over
# these is a hang (a quadratic blow-up or a loop), not slowness.
TIMEOUT_S = 12.0
TIMEOUT_BIG_S = 30.0
# Plan and render only mutants of lab size: a mutation that multiplies devices exercises the
# limits (validate); planning 100,000 devices is a performance question, not robustness.
MAX_DEVICES_TO_RENDER = 2_000
# Address space of a child: the interpreter with every module loaded needs ~300 MiB of
# mappings; 1.5 GiB leaves room for the biggest legitimate site and stops a blow-up early.
MEMORY_BYTES = 1536 * 1024 * 1024

Files = dict[str, bytes]
Mutator = Callable[[random.Random, Files], Files]


def seed(site: Path) -> Files:
    """A site's files as bytes, by name."""
    return {p.name: p.read_bytes() for p in sorted(site.glob("*.yaml"))}


# ---------------------------------------------------------------------------------------------
# Mutators. Each takes a random source and a site (name -> bytes) and returns a new site.

INTERESTING_SCALARS: list[Any] = [
    0,
    -1,
    -(2**31),
    2**31,
    2**63,
    2**64 + 1,
    10**30,
    -(10**30),
    10**400 // 10**300,
    1e308,
    -1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    0.5,
    -0.0,
    True,
    False,
    None,
    "",
    "no",
    "on",
    "0755",
    "0o17",
    "0x1F",
    "1e9999",
    "~",
    "é中文🚀",
    "\u202e\u200b",
    "x" * 5000,
    "../../../../tmp/evil",
    "/etc/passwd",
    "a/b",
    "..",
    ".",
    "-",
    "*",
    "{{ 7*7 }}",
    "{{ ''.__class__.__mro__ }}",
    "{% for x in range(10**9) %}x{% endfor %}",
    "gpu[1-99999999]",
    "n[0-99999][0-99999]",
    "r[9-1]",
    "r[01-04,07]",
    "r[",
    "r]",
    "r[[1-2]]",
    "r[1-2]-[3-4]",
    "r[00000000000000000001-3]",
    "10.0.0.0/8",
    "10.0.0.0/33",
    "::/0",
    "256.1.1.1",
    "10.0.0.1/0",
    "fd00::/64",
    "2001:db8::/48",
    "10.0.0.0/30",
    "10.0.0.0/31",
    "192.168.0.0/32",
    "2026-02-30",
    "9999-12-31",
    "2026-06-30",
    4294967295,
    4294967296,
    "lab-r01",
    "lab-su1-n01",
    "lab-hall",
    "lab-pod",
    "lab-switch",
    "hku-lab",
]

RANGE_STRINGS = [
    "gpu[1-99999999]",
    "n[1-100000]",
    "n[1-100001]",
    "n[1-400][1-400]",
    "n[1-9999999999999999999999]",
    "n[01-99999,1-99999]",
    "x[0-0]",
    "y[5]",
    "lab-r[01-99999]",
    "lab-su1-n[01-64]",
    "lab-su1-n[0001-2000]",
]


def _plain_enough(data: bytes) -> bool:
    """Whether the fuzzer itself may parse and walk ``data``: an earlier mutation may have
    planted an alias bomb, which PyYAML builds cheaply (shared objects) but walking it path
    by path does not end (a 23 GB fuzzer was killed by the OOM killer before this check)."""
    return b"*" not in data and len(data) < 1_000_000


def _walk(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = [here] if here else []
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_walk(v, (*here, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_walk(v, (*here, i)))
    return out


def _get_parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


def _deep(r: random.Random) -> Any:
    """Nested containers, sometimes past MAX_DEPTH (64)."""
    depth = r.choice([5, 40, 63, 64, 65, 100, 500])
    v: Any = r.choice(INTERESTING_SCALARS[:20])
    for _ in range(depth):
        v = [v] if r.random() < 0.5 else {"k": v}
    return v


def _random_value(r: random.Random, old: Any) -> Any:
    choice = r.random()
    if choice < 0.45:
        return r.choice(INTERESTING_SCALARS)
    if choice < 0.55:
        return r.choice(RANGE_STRINGS)
    if choice < 0.62:
        return _deep(r)
    if choice < 0.72 and isinstance(old, int) and not isinstance(old, bool):
        return r.choice([-old, old * 10 ** r.randint(1, 12), old + r.choice([-1, 1]), 0])
    if choice < 0.80:
        return [copy.deepcopy(old)] * r.randint(0, 3)
    if choice < 0.88:
        return {"x": copy.deepcopy(old)}
    if choice < 0.94 and isinstance(old, str):
        return old + r.choice(["[1-3]", "[1-99999999]", "\x7f", "/../x", " ", "é", "[0-0]"])
    return str(old)


def mutate_values(r: random.Random, files: Files) -> Files:
    """Structural mutation of the parsed data: wrong types, extremes, deletions, copies."""
    out = dict(files)
    name = r.choice(sorted(files))
    if not _plain_enough(files[name]):
        return mutate_bytes(r, files)
    try:
        doc = yaml.safe_load(files[name])
    except Exception:  # PyYAML itself raises ValueError on some damaged input ("0x")
        return mutate_bytes(r, files)
    if not isinstance(doc, dict) or not doc:
        return mutate_bytes(r, files)
    for _ in range(r.randint(1, 4)):
        paths = _walk(doc)
        if not paths:
            break
        path = r.choice(paths)
        parent = _get_parent(doc, path)
        key = path[-1]
        op = r.random()
        try:
            if op < 0.55:
                parent[key] = _random_value(r, parent[key])
            elif op < 0.70:
                del parent[key]
            elif op < 0.82 and isinstance(parent, list):
                for _ in range(r.choice([1, 1, 2, 50])):
                    parent.insert(key, copy.deepcopy(parent[key]))
            elif op < 0.90 and isinstance(parent, dict):
                parent[r.choice(["extra", "name", "phase", "nodes", str(key) + "x"])] = (
                    copy.deepcopy(parent[key])
                )
            else:
                # Move a value somewhere else in the same file (wrong place, wrong type).
                other = r.choice(paths)
                opar = _get_parent(doc, other)
                opar[other[-1]] = copy.deepcopy(parent[key])
        except (KeyError, IndexError, TypeError):
            continue
    try:
        text = yaml.safe_dump(
            doc, allow_unicode=r.random() < 0.5, sort_keys=False, width=r.choice([80, 10**6])
        )
    except Exception:  # a mutant PyYAML cannot write: keep the input as it was
        return files
    out[name] = text.encode("utf-8", "surrogatepass")
    return out


def _nearby(r: random.Random, old: Any) -> Any:
    """A plausible value of the same kind, so the mutant often stays valid and reaches the
    plan and the templates (the hostile mutators mostly stop at validation)."""
    if isinstance(old, bool):
        return not old
    if isinstance(old, int):
        return max(0, old + r.choice([-2, -1, 1, 2, old, -old // 2]))
    if isinstance(old, float):
        return round(old * r.choice([0.5, 0.9, 1.1, 2.0]), 3)
    if isinstance(old, str) and "/" in old and old[:1].isdigit():
        base, _, plen = old.partition("/")
        if plen.isdigit():
            return f"{base}/{max(8, min(32, int(plen) + r.choice([-2, -1, 1, 2])))}"
        return old
    if isinstance(old, str):
        return r.choice(
            [
                old,
                old + "x",
                old.upper(),
                old.replace("-", "_"),
                old[:-1] or "x",
                old + "[1-2]",
                "fd00::/64",
            ]
        )
    return old


def mutate_gentle(r: random.Random, files: Files) -> Files:
    """Small, mostly valid changes to the values of one file."""
    out = dict(files)
    name = r.choice(sorted(files))
    if not _plain_enough(files[name]):
        return files
    try:
        doc = yaml.safe_load(files[name])
    except Exception:
        return files
    if not isinstance(doc, dict):
        return files
    paths = [p for p in _walk(doc) if not isinstance(_get_parent(doc, p)[p[-1]], dict | list)]
    for path in r.sample(paths, min(len(paths), r.randint(1, 3))):
        parent = _get_parent(doc, path)
        parent[path[-1]] = _nearby(r, parent[path[-1]])
    try:
        out[name] = yaml.safe_dump(doc, sort_keys=False).encode()
    except Exception:
        return files
    return out


def mutate_bytes(r: random.Random, files: Files) -> Files:
    """Byte-level damage: flips, deletions, insertions, splices between files."""
    out = dict(files)
    name = r.choice(sorted(files))
    data = bytearray(files[name])
    for _ in range(r.randint(1, 8)):
        if not data:
            data.extend(b"x")
        i = r.randrange(len(data))
        op = r.random()
        if op < 0.25:
            data[i] = r.randrange(256)
        elif op < 0.45:
            del data[i : i + r.randint(1, 40)]
        elif op < 0.65:
            data[i:i] = r.choice(
                [
                    b"[",
                    b"]",
                    b"{",
                    b"}",
                    b":",
                    b"- ",
                    b"&a ",
                    b"*a",
                    b"<<: *a",
                    b"!!python/object:os.system",
                    b"!x",
                    b"\t",
                    b"\n  ",
                    b"'",
                    b'"',
                    b"\\",
                    b"\xff",
                    b"\xc3",
                    b"\x00",
                    b"%YAML 1.1\n---\n",
                    b"\n---\n",
                    b"? ",
                    b"|",
                    b">",
                    b"#",
                    b"!!int ",
                    b"!!str ",
                    b"!!float ",
                    b"!!binary ",
                    b"!!set ",
                    b"!!omap ",
                ]
            )
        elif op < 0.80:
            other = files[r.choice(sorted(files))]
            j = r.randrange(max(1, len(other)))
            data[i:i] = other[j : j + r.randint(1, 200)]
        else:
            j = r.randrange(len(data))
            a, b = sorted((i, j))
            data[a:b] = data[a:b] * r.randint(1, 4)
    out[name] = bytes(data)
    return out


def _billion_laughs(levels: int, width: int) -> bytes:
    lines = ["a0: &a0 [lol]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * width)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return ("\n".join(lines) + "\n").encode()


def mutate_yaml(r: random.Random, files: Files) -> Files:
    """YAML-level hostility: anchors and aliases, merge keys, tags, deep text nesting."""
    out = dict(files)
    name = r.choice(sorted(files))
    data = files[name]
    op = r.random()
    if op < 0.2:
        out[name] = data + b"\n" + _billion_laughs(r.randint(2, 12), r.randint(2, 10))
    elif op < 0.35:
        depth = r.choice([60, 63, 64, 65, 200, 5000, 100000])
        opener, closer = r.choice([(b"[", b"]"), (b"{a: ", b"}")])
        out[name] = data + b"\nzz: " + opener * depth + b"1" + closer * depth + b"\n"
    elif op < 0.5:
        depth = r.choice([63, 64, 65, 300])
        lines = [b"zz:"] + [b"  " * (i + 1) + b"k:" for i in range(depth)]
        out[name] = data + b"\n" + b"\n".join(lines) + b" 1\n"
    elif op < 0.65:
        # Anchor a real mapping, alias it elsewhere, merge it into another.
        lines = data.split(b"\n")
        idx = [i for i, ln in enumerate(lines) if ln.rstrip().endswith(b":")]
        if idx:
            i = r.choice(idx)
            lines[i] = lines[i] + b" &anc"
            j = r.choice([k for k, ln in enumerate(lines) if b": " in ln] or [i])
            key, _, _ = lines[j].partition(b": ")
            lines[j] = key + r.choice(
                [b": *anc", b": {<<: *anc}", b": [*anc, *anc]", b": *missing"]
            )
        out[name] = b"\n".join(lines)
    elif op < 0.75:
        out[name] = data + r.choice(
            [
                b"\nx: !!python/object/apply:os.system ['true']\n",
                b"\nx: !!binary aGk=\n",
                b"\nx: !!set {a, b}\n",
                b"\nx: !!timestamp 2001-12-14\n",
                b"\nx: !custom 1\n",
                b"\n? [a, b]\n: c\n",
                b"\n? {a: 1}\n: c\n",
                b"\n<<: [1, 2]\n",
                b"\n<<: 3\n",
                b"\nx: !!int abc\n",
                b"\nx: !!float zz\n",
                b"\nx: !!int 0x\n",
                b"\n--- \nb: 1\n",
            ]
        )
    elif op < 0.85:
        # The same top-level key in two files, or duplicated inside one.
        other = r.choice(sorted(files))
        out[name] = data + b"\n" + files[other]
    else:
        big = r.choice([1, 10, 1000])
        out[name] = (
            data + b"\nzz: [" + b", ".join([b"*a"] * big) + b"]\n"
            if r.random() < 0.3
            else data + b"\nzz: '" + b"A" * (big * 1000) + b"'\n"
        )
    return out


def mutate(r: random.Random, files: Files) -> Files:
    pick = r.random()
    if pick < 0.25:
        return mutate_gentle(r, files)
    if pick < 0.6:
        return mutate_values(r, files)
    if pick < 0.85:
        return mutate_bytes(r, files)
    return mutate_yaml(r, files)


# ---------------------------------------------------------------------------------------------
# Running one input.


@dataclass
class Outcome:
    kind: str  # "ok", "expected" (an HkError), "crash", "timeout", "memory", "signal"
    detail: str = ""
    seconds: float = 0.0

    @property
    def bug(self) -> bool:
        return self.kind in ("crash", "timeout", "memory", "signal")


def pipeline(site_dir: Path, *, render: bool, work: Path) -> str:
    """load -> validate -> plan every phase -> render the last phase. Returns how far it got.

    Raises only HkError for bad input; any other exception is the bug the fuzzer hunts.
    """
    from hkcompute.plan import plan_for
    from hkcompute.render.pipeline import render_site
    from hkcompute.validate import validate

    v = validate(site_dir)
    errors = "; ".join(f"{f.code} {f.message}" for f in v.findings if f.severity == "error")
    if v.site is None:
        return f"load {errors}"[:2000]
    # Plan and render only sites that validate: the commands refuse others (load_valid_site).
    if not v.ok:
        return f"validate {errors}"[:2000]
    if len(v.site.devices) > MAX_DEVICES_TO_RENDER:
        return "validate"
    for ph in v.site.phase_ids:
        plan_for(v.site, ph)
    if not render or not v.site.phase_ids:
        return "plan"
    render_site(v.site, v.site.phase_ids[-1], work / "out")
    return "render"


def _child(files: Files, render: bool, wfd: int) -> None:
    from hkcompute.errors import HkError

    code = 0
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
        with tempfile.TemporaryDirectory(prefix="hkfuzz-") as tmp:
            work = Path(tmp)
            site = work / "site"
            site.mkdir()
            for n, b in files.items():
                (site / n).write_bytes(b)
            try:
                stage = pipeline(site, render=render, work=work)
                msg = f"ok:{stage}"
            except HkError as exc:
                msg = f"expected:{type(exc).__name__}: {exc}"[:2000]
                code = 1
            except MemoryError:
                msg = "memory:MemoryError"
                code = 3
            except BaseException:  # the point of fuzzing: any other error is a finding
                msg = "crash:" + traceback.format_exc()[-6000:]
                code = 2
        os.write(wfd, msg.encode("utf-8", "replace"))
    except BaseException:
        with contextlib.suppress(OSError):
            os.write(wfd, ("crash:" + traceback.format_exc()[-6000:]).encode())
        code = 2
    finally:
        os._exit(code)


def warm() -> None:
    """Import the pipeline once in the parent so every forked child starts with it loaded
    (halves the cost of an input)."""
    import hkcompute.plan
    import hkcompute.render.pipeline
    import hkcompute.validate  # noqa: F401


def run_one(files: Files, *, render: bool = True, timeout: float = TIMEOUT_S) -> Outcome:
    """Run one input in a forked child (after ``warm``, imports are already loaded)."""
    rfd, wfd = os.pipe()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(rfd)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)  # a hang past the limit kills the child
        signal.alarm(int(timeout) + 1)
        _child(files, render, wfd)
    os.close(wfd)
    chunks: list[bytes] = []
    deadline = t0 + timeout
    timed_out = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([rfd], [], [], left)
            if not ready:
                continue
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(rfd)
    if timed_out:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    took = time.monotonic() - t0
    msg = b"".join(chunks).decode("utf-8", "replace")
    if timed_out:
        return Outcome("timeout", f"over {timeout:.0f} s", took)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        kind = "timeout" if sig == signal.SIGALRM else "signal"
        return Outcome(kind, f"killed by signal {sig}", took)
    kind, _, detail = msg.partition(":")
    if kind not in ("ok", "expected", "crash", "memory"):
        return Outcome("crash", f"child said nothing useful: {msg[:500]!r}", took)
    return Outcome(kind, detail, took)


def signature(out: Outcome) -> str:
    """A short key that groups the same bug: exception type and innermost project frame."""
    if out.kind != "crash":
        return out.kind
    lines = out.detail.strip().splitlines()
    last = lines[-1] if lines else ""
    etype = last.split(":", 1)[0]
    where = ""
    for ln in lines:
        s = ln.strip()
        if s.startswith("File ") and "/hkcompute/" in s:
            where = s.split("/hkcompute/", 1)[1]
    return f"{etype} at {where}"


def save_case(files: Files, name: str, note: str) -> Path:
    """Keep a crashing input as a regression case (a folder holding the site's files)."""
    d = CORPUS / name
    d.mkdir(parents=True, exist_ok=True)
    for n, b in files.items():
        (d / n).write_bytes(b)
    (d / "README").write_text(note.rstrip() + "\n", encoding="utf-8")
    return d


def corpus_cases() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []


def load_case(case: Path) -> Files:
    return {p.name: p.read_bytes() for p in sorted(case.iterdir()) if p.suffix in (".yaml", ".yml")}


def fuzz(
    iterations: int | None,
    seconds: float | None,
    seed_value: int,
    on_bug: Callable[[Files, Outcome, str], None] | None = None,
    big_every: int = 0,
    progress: Callable[[dict[str, int]], None] | None = None,
) -> dict[str, int]:
    """Run the mutation loop; returns counts by outcome kind (and 'tried'). ``progress`` is
    called with the counts about once a minute (a run killed from outside still reports)."""
    warm()
    r = random.Random(seed_value)
    lab = seed(LAB)
    big = seed(HKSTP)
    counts: dict[str, int] = {"tried": 0}
    seen: set[str] = set()
    t_end = time.monotonic() + seconds if seconds is not None else None
    next_report = time.monotonic() + 60
    while True:
        if progress is not None and time.monotonic() >= next_report:
            progress(dict(counts))
            next_report += 60
        if iterations is not None and counts["tried"] >= iterations:
            break
        if t_end is not None and time.monotonic() >= t_end:
            break
        use_big = big_every > 0 and counts["tried"] % big_every == big_every - 1
        files = big if use_big else lab
        for _ in range(r.choice([1, 1, 1, 2, 3])):
            files = mutate(r, files)
        out = run_one(files, render=not use_big, timeout=TIMEOUT_BIG_S if use_big else TIMEOUT_S)
        counts["tried"] += 1
        counts[out.kind] = counts.get(out.kind, 0) + 1
        if out.bug and on_bug is not None:
            sig = signature(out)
            if sig not in seen:
                seen.add(sig)
                on_bug(files, out, sig)
    return counts
