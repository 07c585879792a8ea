"""Run SUMO simulations and read what SUMO itself measured.

A run is one call into SUMO: load the network, routes and additional files, advance to the end
time in a single ``simulationStep(end)``, close. Nothing is polled per step from Python; the
numbers come from SUMO's own outputs:

* ``--tripinfo-output`` (with ``--tripinfo-output.write-unfinished``): one record per vehicle
  with travel time, time loss, halts and departure delay, read into :attr:`SimulationResult.trips`;
* ``--statistic-output``: vehicles loaded/inserted/running/waiting, teleports and collisions;
* SUMO's console messages (warnings, errors, ``--duration-log.statistics``) go to
  ``<label>.sumo.log`` in the output folder instead of the terminal.

libsumo runs SUMO inside the Python process and allows one simulation per process. This
module serialises in-process runs with a lock and refuses to start while another libsumo
simulation is loaded; :func:`run_simulations` runs several jobs in parallel, each in a fresh
spawned process. SUMO 1.28 crashes with a segmentation fault (no message) on some malformed
networks — e.g. ``<net></net>`` — so inputs are checked before SUMO sees them, and a crash inside
a :func:`run_simulations` worker is reported as a :class:`SimulationError` instead of killing
the caller.

The traci backend (the ``sumo`` binary driven over a socket) is used only when libsumo cannot
be imported; both give the same trips for the same inputs and seed.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import math
import os
import pickle
import re
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from greenwave.errors import GreenwaveError, InputError, SimulationError
from greenwave.sumo.binaries import binary

PathLike = str | os.PathLike[str]

TRIP_COLUMNS: tuple[str, ...] = (
    "id", "vType", "depart", "arrival", "duration", "routeLength", "timeLoss", "waitingTime",
    "waitingCount", "departDelay", "speedFactor", "departLane", "arrivalLane", "first_edge",
    "last_edge", "finished",
)  # fmt: skip
"""Columns of :attr:`SimulationResult.trips` (SUMO's tripinfo names, plus derived ones)."""

_FLOAT_ATTRS = (
    "depart", "arrival", "duration", "routeLength", "timeLoss", "waitingTime", "departDelay",
    "speedFactor",
)  # fmt: skip
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_LANE_INDEX = re.compile(r"_\d+$")

# libsumo holds one simulation per process; this lock keeps threads from sharing it.
_LIBSUMO_LOCK = threading.Lock()
_TRACI_LABELS = itertools.count()


@dataclass(frozen=True)
class SimulationJob:
    """The inputs of one run: the keyword arguments of :func:`run_simulation`."""

    net_file: PathLike
    route_files: PathLike | tuple[PathLike, ...]
    out_dir: PathLike
    label: str = "run"
    additional_files: tuple[PathLike, ...] = ()
    seed: int = 42
    begin_s: float = 0.0
    end_s: float = 3600.0
    step_length_s: float = 1.0
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """What one SUMO run produced.

    ``trips`` has one row per inserted vehicle (columns :data:`TRIP_COLUMNS`); vehicles still
    driving at the end have ``finished`` False, ``arrival`` NaN, ``arrivalLane``/``last_edge``
    empty, and ``duration``/``timeLoss`` counted up to the end time. ``total_delay_s`` is the sum
    of ``timeLoss + departDelay`` over finished trips [s].
    """

    label: str
    trips: pd.DataFrame
    teleports: int
    collisions: int
    total_delay_s: float
    vehicles_loaded: int
    vehicles_inserted: int
    vehicles_arrived: int
    vehicles_running: int  # still in the network at the end
    vehicles_waiting: int  # loaded but not yet inserted at the end (insertion backlog)
    seed: int
    begin_s: float
    end_s: float
    tripinfo_file: Path
    statistics_file: Path
    log_file: Path
    wall_time_s: float
    backend: str  # "libsumo" or "traci"
    warnings: tuple[str, ...] = ()  # SUMO's "Warning:" lines, e.g. dropped or teleported vehicles


# --------------------------------------------------------------------------------------------
# one run


def run_simulation(
    net_file: PathLike,
    route_files: PathLike | Sequence[PathLike],
    *,
    additional_files: Sequence[PathLike] = (),
    seed: int = 42,
    begin_s: float = 0.0,
    end_s: float = 3600.0,
    out_dir: PathLike,
    label: str = "run",
    step_length_s: float = 1.0,
    extra_args: Sequence[str] = (),
) -> SimulationResult:
    """Run SUMO from *begin_s* to *end_s* [s] and return its trips and totals.

    Outputs are written to *out_dir* as ``<label>.tripinfo.xml``, ``<label>.stats.xml`` and
    ``<label>.sumo.log``; the two XML files appear only when the run succeeded. Teleporting is
    left at SUMO's default (300 s) so that gridlock shows up as teleports instead of being
    hidden. Raises :class:`SimulationError` when an input is missing or malformed or SUMO
    fails (with SUMO's message), :class:`InputError` on bad arguments.
    """
    start_clock = time.perf_counter()
    routes = _as_paths(route_files)
    additionals = _as_paths(additional_files)
    _check_arguments(label, seed, begin_s, end_s, step_length_s, routes)
    net = Path(net_file)
    _check_net_file(net)
    for f, what in [
        *((r, "route file") for r in routes),
        *((a, "additional file") for a in additionals),
    ]:
        if _check_xml_file(f, what).tag == "net":
            # SUMO 1.28 also segfaults on some networks passed as route/additional files
            raise SimulationError(f"{what} {f}: is a network (<net>); pass it as net_file")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "tripinfo": out / f"{label}.tripinfo.xml",
        "statistics": out / f"{label}.stats.xml",
        "log": out / f"{label}.sumo.log",
    }
    partial = {k: v.with_name(f".{v.name}.part") for k, v in files.items() if k != "log"}
    options: list[tuple[str, str | None]] = [
        ("--net-file", str(net)),
        ("--route-files", ",".join(map(str, routes))),
        *([("--additional-files", ",".join(map(str, additionals)))] if additionals else []),
        ("--begin", repr(float(begin_s))),
        ("--end", repr(float(end_s))),
        ("--step-length", repr(float(step_length_s))),
        ("--seed", str(seed)),
        ("--tripinfo-output", str(partial["tripinfo"])),
        ("--tripinfo-output.write-unfinished", None),  # vehicles still driving at the end
        ("--statistic-output", str(partial["statistics"])),  # teleports, inserted, running
        ("--duration-log.statistics", None),  # trip averages in the log, for a human reader
        ("--no-step-log", None),
    ]
    args = [a for pair in options for a in pair if a is not None] + list(extra_args)
    write_run_config(out / f"{label}.sumocfg", net, routes, additionals, begin_s=begin_s,
                     end_s=end_s, step_length_s=step_length_s, seed=seed)
    # a stale output of an earlier run must not pass for this run's
    for f in (*partial.values(), files["tripinfo"], files["statistics"]):
        with contextlib.suppress(FileNotFoundError):
            f.unlink()
    try:
        backend = _run_sumo(args, end_s, files["log"], label=label)
    except BaseException:
        for p in partial.values():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        raise
    for key, p in partial.items():
        if not p.is_file():
            raise SimulationError(
                f"simulation {label!r}: SUMO wrote no {key} output {p}; see {files['log']}"
            )
        os.replace(p, files[key])
    trips = read_tripinfo(files["tripinfo"])
    stats = read_statistics(files["statistics"])
    finished = trips[trips["finished"]]
    return SimulationResult(
        label=label,
        trips=trips,
        teleports=int(stats["teleports"]),
        collisions=int(stats["collisions"]),
        total_delay_s=float((finished["timeLoss"] + finished["departDelay"]).sum()),
        vehicles_loaded=int(stats["loaded"]),
        vehicles_inserted=int(stats["inserted"]),
        vehicles_arrived=len(finished),
        vehicles_running=int(stats["running"]),
        vehicles_waiting=int(stats["waiting"]),
        seed=seed,
        begin_s=float(begin_s),
        end_s=float(end_s),
        tripinfo_file=files["tripinfo"],
        statistics_file=files["statistics"],
        log_file=files["log"],
        wall_time_s=time.perf_counter() - start_clock,
        backend=backend,
        warnings=_log_lines(files["log"], "Warning"),
    )


def write_run_config(path: Path, net: Path, routes: Sequence[Path], additionals: Sequence[Path],
                     *, begin_s: float, end_s: float, step_length_s: float, seed: int) -> Path:
    """A ``.sumocfg`` of exactly what a run simulates (network, demand, programs, time, seed),
    paths relative to its folder; ``greenwave replay`` opens it in sumo-gui."""
    def rel(p: Path) -> str:
        return Path(os.path.relpath(Path(p).resolve(), path.parent.resolve())).as_posix()

    root = ET.Element("configuration")
    root.append(ET.Comment(" what greenwave simulated in this run (outputs not included) "))
    inp = ET.SubElement(root, "input")
    ET.SubElement(inp, "net-file", value=rel(net))
    ET.SubElement(inp, "route-files", value=",".join(rel(r) for r in routes))
    if additionals:
        ET.SubElement(inp, "additional-files", value=",".join(rel(a) for a in additionals))
    times = ET.SubElement(root, "time")
    ET.SubElement(times, "begin", value=repr(float(begin_s)))
    ET.SubElement(times, "end", value=repr(float(end_s)))
    ET.SubElement(times, "step-length", value=repr(float(step_length_s)))
    ET.SubElement(ET.SubElement(root, "random_number"), "seed", value=str(seed))
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def _as_paths(value: PathLike | Sequence[PathLike]) -> tuple[Path, ...]:
    if isinstance(value, str | os.PathLike):
        return (Path(value),)
    return tuple(Path(v) for v in value)


def _check_arguments(
    label: str, seed: int, begin_s: float, end_s: float, step_s: float, routes: Sequence[Path]
) -> None:
    if not _LABEL.match(label):
        raise InputError(
            "must be letters, digits, '.', '_' or '-' (it names the output files), "
            f"found {label!r}",
            field="label",
            value=label,
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(
            f"must be a non-negative integer, found {seed!r}", field="seed", value=seed
        )
    for name, v in (("begin_s", begin_s), ("end_s", end_s), ("step_length_s", step_s)):
        if not (isinstance(v, int | float) and math.isfinite(v)):
            raise InputError(f"must be a finite number, found {v!r}", field=name, value=v)
    if end_s <= begin_s:
        raise InputError(
            f"end {end_s:g} s must be after begin {begin_s:g} s", field="end_s", value=end_s
        )
    if step_s <= 0:
        raise InputError(f"must be positive, found {step_s:g}", field="step_length_s", value=step_s)
    if not routes:
        raise InputError(
            "at least one route file is needed (no demand, no simulation)", field="route_files"
        )


def _check_xml_file(path: Path, what: str) -> ET.Element:
    """The root of *path* after checking it is a readable, well-formed XML file."""
    if not path.is_file():
        raise SimulationError(f"{what} {path}: no such file")
    root: ET.Element | None = None
    try:
        for event, elem in ET.iterparse(path, events=("start", "end")):
            if root is None:
                root = elem
            elif event == "end" and elem is not root:
                elem.clear()
    except ET.ParseError as exc:
        raise SimulationError(f"{what} {path}: not well-formed XML ({exc})") from exc
    except OSError as exc:
        raise SimulationError(f"{what} {path}: cannot be read ({exc})") from exc
    if root is None:  # pragma: no cover - iterparse raises on an empty document
        raise SimulationError(f"{what} {path}: empty XML document")
    return root


def _check_net_file(path: Path) -> None:
    # SUMO 1.28 segfaults (no message) on a <net> without <location>; refuse it here.
    if not path.is_file():
        raise SimulationError(f"network file {path}: no such file")
    found = {"location": False, "edge": False}
    try:
        root: ET.Element | None = None
        for event, elem in ET.iterparse(path, events=("start", "end")):
            if root is None:
                root = elem
                if elem.tag != "net":
                    raise SimulationError(
                        f"network file {path}: root element is <{elem.tag}>, expected <net> "
                        "(a SUMO network written by netconvert)"
                    )
            elif event == "start" and elem.tag in found:
                found[elem.tag] = True
            elif event == "end" and elem is not root:
                elem.clear()
    except ET.ParseError as exc:
        raise SimulationError(f"network file {path}: not well-formed XML ({exc})") from exc
    except OSError as exc:
        raise SimulationError(f"network file {path}: cannot be read ({exc})") from exc
    missing = [f"<{k}>" for k, ok in found.items() if not ok]
    if missing:
        raise SimulationError(
            f"network file {path}: no {' and no '.join(missing)} element; expected a SUMO "
            "network written by netconvert"
        )


# --------------------------------------------------------------------------------------------
# backends


def import_libsumo() -> Any:
    """The libsumo module (ImportError when it is not installed), imported without the notice
    libsumo prints on stdout when the installed pyarrow differs from the Arrow it was built
    against: greenwave passes no Arrow data through libsumo, and stdout carries the
    commands' results."""
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return importlib.import_module("libsumo")


def _run_sumo(args: list[str], end_s: float, log_file: Path, *, label: str) -> str:
    """Run SUMO with *args* until *end_s*; return the backend's name."""
    try:
        libsumo = import_libsumo()
    except ImportError:
        _run_traci(args, end_s, log_file, label=label)
        return "traci"
    _run_libsumo(libsumo, args, end_s, log_file, label=label)
    return "libsumo"


def _run_libsumo(
    libsumo: Any, args: list[str], end_s: float, log_file: Path, *, label: str
) -> None:
    if not _LIBSUMO_LOCK.acquire(blocking=False):
        raise SimulationError(
            f"simulation {label!r}: another libsumo simulation is running in this process "
            "(libsumo runs one at a time); use run_simulations() for parallel runs"
        )
    try:
        if libsumo.simulation.isLoaded():
            raise SimulationError(
                f"simulation {label!r}: a libsumo simulation is already loaded in this process "
                "(started elsewhere and not closed); close it first or use run_simulations()"
            )
        failure: BaseException | None = None
        with _redirect_output(log_file):
            try:
                libsumo.start([str(binary("sumo")), *args])
                libsumo.simulationStep(end_s)
            except libsumo.TraCIException as exc:
                failure = exc
            finally:
                # close() writes the unfinished tripinfos and the statistics
                try:
                    libsumo.close()
                except libsumo.TraCIException as exc:
                    failure = failure or exc
        if failure is not None:
            raise SimulationError(_failure_message(label, str(failure), log_file)) from failure
    finally:
        _LIBSUMO_LOCK.release()


def _run_traci(args: list[str], end_s: float, log_file: Path, *, label: str) -> None:
    import traci

    name = f"greenwave-{os.getpid()}-{next(_TRACI_LABELS)}"
    with _redirect_output(log_file):
        try:
            # A fixed port: with port=None traci restarts a failing SUMO up to 60 times.
            port = traci.getFreeSocketPort()
            traci.start([str(binary("sumo")), *args], port=port, label=name)
            conn = traci.getConnection(name)
            try:
                conn.simulationStep(end_s)
            finally:
                conn.close()  # waits for SUMO to write its outputs and exit
        except (traci.TraCIException, traci.FatalTraCIError) as exc:
            with contextlib.suppress(Exception):
                traci.getConnection(name).close()
            raise SimulationError(_failure_message(label, str(exc), log_file)) from exc


@contextlib.contextmanager
def connect(args: list[str], log: Path, *, gui: bool = False,
            label: str = "run") -> Iterator[tuple[Any, str]]:
    """A started simulation for a controller: ``(connection, "libsumo" | "traci")``.

    *args* is a full command line (``sumo`` first). libsumo when it is free in this process
    (batch runs, fastest), else traci (also always with *gui*, which runs sumo-gui with
    ``--start --quit-on-end``). SUMO's own messages go to *log*.
    """
    lib: Any = None
    if not gui:
        with contextlib.suppress(ImportError):
            lib = import_libsumo()
    if lib is not None and _LIBSUMO_LOCK.acquire(blocking=False):
        try:
            if not lib.simulation.isLoaded():
                # SUMO writes its messages straight to the file descriptors
                with _redirect_output(log):
                    lib.start(args)
                    try:
                        yield lib, "libsumo"
                    finally:
                        lib.close()
                return
        finally:
            _LIBSUMO_LOCK.release()
    import traci

    if gui:
        args = [str(binary("sumo-gui")), *args[1:], "--start", "--quit-on-end"]
    name = f"greenwave-{label}-{os.getpid()}-{next(_TRACI_LABELS)}"
    with open(log, "ab") as out:
        traci.start(args, port=traci.getFreeSocketPort(), label=name, stdout=out)
    conn = traci.getConnection(name)
    try:
        yield conn, "traci"
    finally:
        with contextlib.suppress(Exception):
            conn.close()


@contextlib.contextmanager
def _redirect_output(log_file: Path) -> Iterator[None]:
    """Send the process's stdout and stderr (file descriptors 1 and 2) to *log_file*.

    SUMO writes its messages from C++ straight to the descriptors, so Python-level redirection
    would not catch them; libsumo's exception text alone is sometimes just "Process Error".
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(log_file, "wb") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):
                        stream.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        for fd in saved:
            os.close(fd)


def _log_lines(log_file: Path, kind: str) -> tuple[str, ...]:
    """SUMO's messages of one *kind* ("Warning", "Error") from the run's log."""
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    return tuple(ln.strip() for ln in text.splitlines() if ln.startswith(kind + ":"))


def _failure_message(label: str, message: str, log_file: Path) -> str:
    errors = _log_lines(log_file, "Error")
    detail = "; ".join(dict.fromkeys([*errors, message.strip()]))
    return f"simulation {label!r}: SUMO failed: {detail} (log: {log_file})"


# --------------------------------------------------------------------------------------------
# several runs


def run_simulations(
    jobs: Iterable[SimulationJob],
    *,
    processes: int | None = None,
    on_done: Callable[[SimulationJob, int, int], None] | None = None,
) -> list[SimulationResult]:
    """Run *jobs* in parallel, each in its own fresh Python process; results in job order.

    A process per job keeps libsumo's one-simulation-per-process rule and contains crashes: a
    job whose SUMO dies is reported, the others still finish. When one job fails its error is
    raised; when several fail, one :class:`SimulationError` lists them all. ``on_done(job,
    finished, total)`` is called as each job ends (for progress reports).
    """
    todo = tuple(jobs)
    if not todo:
        return []
    outputs: dict[tuple[Path, str], int] = {}
    for k, job in enumerate(todo):
        key = (Path(job.out_dir).resolve(), job.label)
        if key in outputs:
            raise InputError(
                f"jobs {outputs[key]} and {k} both write label {job.label!r} to {key[0]}",
                field="label",
                value=job.label,
            )
        outputs[key] = k
    workers = processes if processes is not None else min(len(todo), os.cpu_count() or 1)
    if workers < 1:
        raise InputError(f"must be at least 1, found {workers}", field="processes", value=workers)
    finished = itertools.count(1)
    lock = threading.Lock()

    def run(job: SimulationJob) -> SimulationResult:
        try:
            return _run_isolated(job)
        finally:
            if on_done is not None:
                with lock:
                    on_done(job, next(finished), len(todo))

    threads = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [threads.submit(run, job) for job in todo]
        for fut in futures:
            fut.exception()  # wait; interruptible, unlike the executor's own shutdown
    except BaseException:
        threads.shutdown(wait=False, cancel_futures=True)
        _kill_children()
        raise
    threads.shutdown()
    results: list[SimulationResult] = []
    failures: list[tuple[SimulationJob, GreenwaveError]] = []
    for job, fut in zip(todo, futures, strict=True):
        exc = fut.exception()
        if exc is None:
            results.append(fut.result())
        elif isinstance(exc, GreenwaveError):
            failures.append((job, exc))
        else:
            raise exc
    if len(failures) == 1:
        raise failures[0][1]
    if failures:
        listing = "\n".join(f"  {job.label}: {exc}" for job, exc in failures)
        raise SimulationError(f"{len(failures)} of {len(todo)} simulations failed:\n{listing}")
    return results


_CHILDREN: set[subprocess.Popen[bytes]] = set()
_CHILDREN_LOCK = threading.Lock()


def _kill_children() -> None:
    """End every worker process still running (on interrupt or error of the caller)."""
    with _CHILDREN_LOCK:
        children = list(_CHILDREN)
    for proc in children:
        with contextlib.suppress(OSError):
            proc.kill()


def _run_isolated(job: SimulationJob) -> SimulationResult:
    """Run *job* in a fresh Python process.

    A plain subprocess (``python -m greenwave.sumo._worker``), not multiprocessing: callers
    need no ``__main__`` guard, and a SUMO crash kills only the worker.
    """
    with tempfile.TemporaryDirectory(prefix="greenwave-job-") as tmp:
        job_file, result_file = Path(tmp) / "job.pickle", Path(tmp) / "result.pickle"
        job_file.write_bytes(pickle.dumps(job))
        proc = subprocess.Popen(
            [sys.executable, "-m", "greenwave.sumo._worker", str(job_file), str(result_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        with _CHILDREN_LOCK:
            _CHILDREN.add(proc)
        try:
            _, stderr = proc.communicate()
        finally:
            with _CHILDREN_LOCK:
                _CHILDREN.discard(proc)
        if result_file.is_file():
            status, payload = pickle.loads(result_file.read_bytes())
            if status == "ok":
                result: SimulationResult = payload
                return result
            raise payload
    detail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
    raise SimulationError(
        f"simulation {job.label!r} ({job.net_file}): the SUMO process died without an "
        f"error message (exit {proc.returncode}; a crash inside SUMO, e.g. on a malformed "
        f"input) {detail[0]}; see {Path(job.out_dir) / (job.label + '.sumo.log')}"
    )


def _run_job(job: SimulationJob) -> SimulationResult:
    kwargs = asdict(job)
    return run_simulation(kwargs.pop("net_file"), kwargs.pop("route_files"), **kwargs)


def worker_main(job_file: str, result_file: str) -> int:
    """Entry of the worker process (see :mod:`greenwave.sumo._worker`)."""
    job = pickle.loads(Path(job_file).read_bytes())
    try:
        outcome: tuple[str, object] = ("ok", _run_job(job))
    except GreenwaveError as exc:
        outcome = ("error", exc)
    Path(result_file).write_bytes(pickle.dumps(outcome))
    return 0


# --------------------------------------------------------------------------------------------
# reading SUMO's outputs


def read_tripinfo(path: PathLike) -> pd.DataFrame:
    """Read a SUMO tripinfo file into a DataFrame with columns :data:`TRIP_COLUMNS`.

    Times in s, lengths in m. Unfinished vehicles (``arrival="-1"``) get ``arrival`` NaN and
    ``finished`` False. ``first_edge``/``last_edge`` are the departure/arrival lanes without
    their ``_<index>`` suffix ("" when unknown).
    """
    p = Path(path)
    rows: list[dict[str, Any]] = []
    try:
        for _, elem in ET.iterparse(p, events=("end",)):
            if elem.tag == "tripinfo":
                rows.append(_trip_row(elem, p))
                elem.clear()
    except FileNotFoundError:
        raise SimulationError(f"tripinfo file {p}: no such file") from None
    except ET.ParseError as exc:
        raise SimulationError(f"tripinfo file {p}: not well-formed XML ({exc})") from exc
    trips = pd.DataFrame(rows, columns=list(TRIP_COLUMNS))
    for col in _FLOAT_ATTRS:
        trips[col] = trips[col].astype("float64")
    trips["waitingCount"] = trips["waitingCount"].astype("int64")
    trips["finished"] = trips["finished"].astype("bool")
    return trips


def _trip_row(elem: ET.Element, path: Path) -> dict[str, Any]:
    a = elem.attrib
    try:
        row: dict[str, Any] = {k: float(a[k]) for k in _FLOAT_ATTRS if k != "speedFactor"}
        row["speedFactor"] = float(a.get("speedFactor", "nan"))
        row["waitingCount"] = int(a["waitingCount"])
    except (KeyError, ValueError) as exc:
        raise SimulationError(
            f"tripinfo file {path}: vehicle {a.get('id', '?')!r} has a missing or bad "
            f"attribute ({exc})"
        ) from exc
    finished = row["arrival"] >= 0
    if not finished:
        row["arrival"] = math.nan
    depart_lane = a.get("departLane", "")
    arrival_lane = a.get("arrivalLane", "") if finished else ""
    row.update(
        id=a.get("id", ""),
        vType=a.get("vType", ""),
        departLane=depart_lane,
        arrivalLane=arrival_lane,
        first_edge=lane_edge(depart_lane),
        last_edge=lane_edge(arrival_lane),
        finished=finished,
    )
    return row


def lane_edge(lane_id: str) -> str:
    """The edge of a SUMO lane id: ``"J1J2_0"`` → ``"J1J2"`` (ids may contain ``_``)."""
    return _LANE_INDEX.sub("", lane_id)


def read_statistics(path: PathLike) -> dict[str, float]:
    """Totals from a SUMO ``--statistic-output`` file.

    Keys: loaded, inserted, running, waiting (vehicles), teleports, collisions, emergency_stops.
    """
    p = Path(path)
    try:
        root = ET.parse(p).getroot()
    except FileNotFoundError:
        raise SimulationError(f"statistics file {p}: no such file") from None
    except ET.ParseError as exc:
        raise SimulationError(f"statistics file {p}: not well-formed XML ({exc})") from exc
    wanted = {
        ("vehicles", "loaded"): "loaded",
        ("vehicles", "inserted"): "inserted",
        ("vehicles", "running"): "running",
        ("vehicles", "waiting"): "waiting",
        ("teleports", "total"): "teleports",
        ("safety", "collisions"): "collisions",
        ("safety", "emergencyStops"): "emergency_stops",
    }
    out: dict[str, float] = {}
    for (tag, attr), key in wanted.items():
        node = root.find(tag)
        if node is None or attr not in node.attrib:
            raise SimulationError(f"statistics file {p}: no {tag}/@{attr}")
        out[key] = float(node.attrib[attr])
    return out


@dataclass(frozen=True)
class DrivenRoute:
    """A vehicle's route as SUMO's ``--vehroute-output`` reports it (the last one driven)."""

    edges: tuple[str, ...]
    exit_times_s: tuple[float, ...]  # per edge, with ``--vehroute-output.exit-times``; or ()
    depart_s: float


def read_vehroutes(path: PathLike) -> dict[str, DrivenRoute]:
    """Vehicle id → :class:`DrivenRoute` from a SUMO vehroute file.

    A rerouted vehicle lists its replaced routes first (in a ``routeDistribution``); the last
    ``<route>`` is the one it drove.
    """
    p = Path(path)
    out: dict[str, DrivenRoute] = {}
    try:
        for _, elem in ET.iterparse(p, events=("end",)):
            if elem.tag != "vehicle":
                continue
            found = elem.findall(".//route")
            if found:
                r = found[-1]
                times = r.get("exitTimes", "").split()
                try:
                    exits = tuple(float(t) for t in times)
                    depart = float(elem.get("depart", "nan"))
                except ValueError as exc:
                    raise SimulationError(f"vehroute file {p}: vehicle {elem.get('id')!r} has "
                                          f"a bad time ({exc})") from exc
                out[elem.get("id", "")] = DrivenRoute(tuple(r.get("edges", "").split()),
                                                      exits, depart)
            elem.clear()
    except FileNotFoundError:
        raise SimulationError(f"vehroute file {p}: no such file") from None
    except ET.ParseError as exc:
        raise SimulationError(f"vehroute file {p}: not well-formed XML ({exc})") from exc
    return out

