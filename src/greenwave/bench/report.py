"""The bench's outputs: the tidy table (CSV and Parquet), a markdown summary, plots (PNG)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd

from greenwave._io import atomic_open, atomic_write_text
from greenwave.bench.spec import BenchSpec, safe_name
from greenwave.metrics import pool_seeds, write_metrics_csv


def write_reports(spec: BenchSpec, table: pd.DataFrame, out_dir: str | Path) -> dict[str, Path]:
    """``results.csv``, ``results.parquet``, ``summary.md`` and ``plots/<scenario>_<period>.png``
    (each measure per direction and method, seeds pooled) in *out_dir*; returns them by name."""
    out = Path(out_dir)
    files = {"csv": write_metrics_csv(table, out / "results.csv")}
    parquet = write_parquet(table, out / "results.parquet")
    if parquet is not None:
        files["parquet"] = parquet
    plots = write_plots(table, out / "plots")
    text = summary(spec, table, plots, out)
    if parquet is None:
        text += f"\n{NO_PARQUET}\n"
    files["summary"] = atomic_write_text(out / "summary.md", text)
    files.update({f"plot:{p.stem}": p for p in plots})
    return files


NO_PARQUET = ("results.parquet was not written: it needs pyarrow (pip install "
              "'greenwave[parquet]'); results.csv holds the same table.")


def write_parquet(table: pd.DataFrame, path: Path) -> Path | None:
    """*table* as Parquet, written atomically; None (nothing written) without pyarrow, an
    optional extra: libsumo warns when it was built against another libarrow version."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return None
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False, engine="pyarrow")
    with atomic_open(path, "wb") as fh:
        fh.write(buffer.getvalue())  # type: ignore[arg-type]
    return path


def ok_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[(table["status"] == "ok") & (table["direction"] != "")]


def write_plots(table: pd.DataFrame, folder: Path) -> list[Path]:
    """One comparison chart per scenario and period that has finished cells."""
    from greenwave.diagrams import method_comparison_chart

    done = ok_rows(table)
    written = []
    for (scenario, period), group in done.groupby(["scenario", "period"], sort=False):
        pooled = pool_seeds(group)
        seeds = ", ".join(str(s) for s in sorted(set(group["seed"])))
        written.append(method_comparison_chart(
            pooled, folder / f"{safe_name(str(scenario))}_{safe_name(str(period))}.png",
            title=f"{scenario} {period}: through trips, seeds {seeds}"))
    return written


def summary(spec: BenchSpec, table: pd.DataFrame, plots: list[Path], out: Path) -> str:
    """The markdown summary: matrix, cells done and failed, pooled metrics per scenario."""
    total = len(spec.cells())
    cells = table.drop_duplicates(["scenario", "period", "method", "seed"])
    ok = cells[cells["status"] == "ok"]
    failed = cells[cells["status"] != "ok"]
    n_periods = sum(len(s.periods) for s in spec.scenarios)
    lines = [
        f"# Benchmark {spec.name}",
        "",
        f"Spec `{spec.source}`: {len(spec.scenarios)} scenarios ({n_periods} scenario-periods)"
        f" × {len(spec.methods)} methods ({', '.join(spec.methods)}) × {len(spec.seeds)} seeds"
        f" ({', '.join(map(str, spec.seeds))}) = {total} cells.",
        "",
        f"Cells finished: {len(ok)} of {total}; failed: {len(failed)}; not run yet: "
        f"{total - len(ok) - len(failed)}. Cell wall time: {ok['run_time_s'].sum():.0f} s in "
        f"all, SUMO {ok['sim_time_s'].sum():.0f} s.",
        "",
        "Through trips per direction, seeds pooled (means weighted by trips); change of travel "
        "time against `baseline`.",
    ]
    done = ok_rows(table)
    plot_names = {p.stem: p for p in plots}
    for (scenario, period), group in done.groupby(["scenario", "period"], sort=False):
        lines += ["", f"## {scenario} — {period}", ""]
        pooled = pool_seeds(group)
        base = pooled[pooled["method"] == "baseline"].set_index("direction")["travel_time_s"]
        runs = group.drop_duplicates(["method", "seed"])
        teleports = runs.groupby("method", sort=False)["teleports"].sum()
        lines += ["| method | direction | trips | travel time [s] | vs baseline | delay [s] | "
                  "stops per trip | pass without stop | teleports |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for row in pooled.itertuples(index=False):
            ref = base.get(row.direction, math.nan)
            change = (f"{100 * (row.travel_time_s - ref) / ref:+.1f} %"
                      if ref and math.isfinite(ref) and row.method != "baseline" else "")
            lines.append(f"| {row.method} | {row.direction} | {row.trips} | "
                         f"{_num(row.travel_time_s)} | {change} | {_num(row.delay_s)} | "
                         f"{_num(row.stops_per_trip, 2)} | "
                         f"{_num(100 * row.pass_without_stop_rate)} % | "
                         f"{int(teleports.get(row.method, 0))} |")
        plot = plot_names.get(f"{safe_name(str(scenario))}_{safe_name(str(period))}")
        if plot is not None:
            lines += ["", f"![{scenario} {period}]({plot.relative_to(out).as_posix()})"]
    if len(failed):
        lines += ["", "## Failed cells (run again on the next run)", "",
                  "| scenario | period | method | seed | error |", "|---|---|---|---|---|"]
        for row in failed.itertuples(index=False):
            error = str(row.error).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {row.scenario} | {row.period} | {row.method} | {row.seed} | "
                         f"{error} |")
    return "\n".join(lines) + "\n"


def _num(value: float, digits: int = 1) -> str:
    return "-" if not math.isfinite(value) else f"{value:.{digits}f}"
