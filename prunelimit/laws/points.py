"""(density, γ) points of the Neural Pruning Law and their CSV form (docs/guide.md, ``law``).

The CSV has a header naming at least the columns ``density`` and ``gamma``; densities are
fractions in (0, 1] and γ must be positive. ``law nplh`` writes after them what measured
the points (``SETTINGS``: ``metric``, ``mode``, ``seed``, a prunable set other than the
default as ``include``/``exclude``, JSON lists of module-name patterns, and the mode's own
settings), the same in every row; they are read back into ``LawPoints.measured`` and rows that differ in
one are refused (two measurements in one fit). Other columns are ignored.
Files are written atomically: a temporary file in the same folder, then a rename.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from prunelimit import validate
from prunelimit.errors import InputError, UsageError, fields_named
from prunelimit.io.atomic import write_text_atomic
from prunelimit.limits import MAX_CSV_BYTES, MAX_CSV_ROWS, check_csv_rows, check_file_size
from prunelimit.report.notebook import brief
from prunelimit.report.safe import clipped

COLUMNS = ("density", "gamma")


def _patterns(text: str) -> tuple[str, ...]:
    """A prunable set's patterns as a CSV cell holds them: a JSON list of strings."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not (isinstance(value, list) and all(isinstance(p, str) for p in value)):
        raise ValueError(text)
    return tuple(value)


# the settings of ``law nplh`` that change the points, as its CSV records them: how a cell is read, what it holds
SETTINGS = {"metric": (str, "text"), "mode": (str, "text"), "seed": (int, "an integer"),
            "include": (_patterns, "a JSON list of module-name patterns"),
            "exclude": (_patterns, "a JSON list of module-name patterns"), "rate": (float, "a number"),
            "finetune_steps": (int, "an integer"), "epochs_per_level": (int, "an integer")}
Measured = tuple[tuple[str, object], ...]


@brief
@dataclass(frozen=True)
class LawPoints:
    """Measured points: ``density[i]`` (kept fraction) at minimum saliency ``gamma[i]``;
    ``measured``: (setting, value) pairs of what measured them (``law nplh``'s metric, mode,
    …; empty for points from elsewhere)."""

    density: tuple[float, ...]
    gamma: tuple[float, ...]
    measured: Measured = ()

    @fields_named
    def __post_init__(self) -> None:
        """Refuse what the CSV reader refuses, so the library fits only what the command would:
        a density outside (0, 1] or NaN, a γ that is not a positive finite number (the fit is in ln γ)."""
        validate.plain_fields(self)  # NumPy scalars and 0-d tensors as the numbers they hold
        if len(self.density) != len(self.gamma):
            raise UsageError(
                f"{len(self.density)} densities but {len(self.gamma)} gamma values; "
                "give one gamma per density"
            )
        for i, (d, g) in enumerate(zip(self.density, self.gamma)):
            if not (math.isfinite(d) and 0.0 < d <= 1.0):
                raise UsageError(f"point {i}: {density_problem(d, 'point')}")
            if not (math.isfinite(g) and g > 0.0):
                raise UsageError(f"point {i}: gamma {g} is not a positive number; the log-log law needs gamma > 0, "
                                 "drop the point")

    @classmethod
    def from_arrays(cls, density: Sequence[float], gamma: Sequence[float], measured: Measured = ()) -> "LawPoints":
        return cls(tuple(float(d) for d in density), tuple(float(g) for g in gamma), tuple(measured))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.density, dtype=float), np.asarray(self.gamma, dtype=float)

    def __len__(self) -> int:
        return len(self.density)


def density_problem(density: float, what: str) -> str:
    """Why ``density``, outside (0, 1] or not finite, cannot be a point's; ``what``: "point" or "row"."""
    if not math.isfinite(density):  # a failed measurement: no percentage or 0 to fix
        return f"density {density} is not a finite number; drop the {what}"
    return (f"density {density} is not a fraction in (0, 1]; divide percentages by 100 and drop {what}s with "
            "density 0")


def check_header(path: Path, header: Sequence[str]) -> None:
    """A column named twice is refused: ``csv.DictReader`` would keep the last one's values
    (unnamed columns, as a spreadsheet's trailing commas make, are ignored anyway)."""
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise InputError(f"{path}: header names column(s) {repeated} more than once; keep one of each")


# The columns that tell each law's CSV apart, and the command that fits it: the README writes
# points.csv (law nplh) and imp-out/imp.csv (imp) side by side, and one is easily given to the other fit.
LAW_CSVS = (("gamma", "prunelimit law nplh-fit"), ("error", "prunelimit law error-fit"))


def other_law(header: Sequence[str], missing: Sequence[str]) -> str:
    """``"; … fit this file with `CMD`"`` when ``header`` lacks ``missing`` but holds the other law's
    column, else ``""``."""
    for column, command in LAW_CSVS:
        if column not in missing and column in header and "density" in header:
            return f"; a {column!r} column is the other law's: fit this file with `{command}`"
    return ""


SEPARATORS = ((";", "semicolons"), ("\t", "tabs"))  # what spreadsheets save "CSV" with in place of commas


def header_fix(header: Sequence[str], missing: Sequence[str]) -> str:
    """``"; …"``: why ``header`` lacks the columns ``missing`` where it seems to hold them (a JSON file,
    another separator than the comma, a capitalised name) or the other law's command, else ``""``."""
    if header and header[0].startswith(("{", "[")):  # a command's --json output, whose first line is "{"
        written = "`law nplh -o points.csv`" if "gamma" in missing else "`imp` (its imp.csv)"
        return f"; the file is JSON (as --json prints), not CSV: give the CSV of the points that {written} writes"
    if len(header) == 1:
        for separator, name in SEPARATORS:
            if separator in header[0]:
                return f"; its columns are separated by {name}; save the file with commas"
    renames = [f"{h!r} to {h.lower()!r}" for h in header if h != h.lower() and h.lower() in missing]
    if renames:
        return f"; column names are lower case: rename {' and '.join(renames)}"
    return other_law(header, missing)


def repeated_rows(repeated: str) -> str:
    """The warning of rows that repeat an earlier point exactly (``repeated``: how many, of what):
    the fits count each as a measurement, so a file pasted twice narrows every interval."""
    return (f"{repeated} exactly; each counts as a measurement and narrows the intervals: drop repeated rows "
            "unless they are separate runs")


def check_row_fields(path: Path, line: int, row: dict) -> None:
    """A data row must have as many fields as the header: ``csv.DictReader`` files extra
    fields under ``None`` and fills missing ones with ``None``, and either way the values
    may not be in the columns the header names."""
    columns = [k for k in row if k is not None]
    missing = sum(row[k] is None for k in columns)
    extra = len(row.get(None) or ())
    if missing or extra:
        raise InputError(
            f"{path}: line {line} has {len(columns) - missing + extra} field(s) but the header has {len(columns)}; "
            "give every row one value per header column"
        )


def percent_fix(column: str, text: str | None) -> str | None:
    """What to write for a density or error given as a percentage (``50%``, as a spreadsheet exports
    a percentage cell), else ``None``."""
    value = (text or "").strip()
    if column not in ("density", "error") or not value.endswith("%"):
        return None
    try:
        return f"{column} {value!r} is a percentage: write it as the fraction {float(value[:-1]) / 100:g}"
    except ValueError:
        return None


def _parse_row(path: Path, line: int, row: dict[str, str]) -> tuple[float, float]:
    check_row_fields(path, line, row)
    try:
        density, gamma = float(row["density"]), float(row["gamma"])
    except (TypeError, ValueError):
        fix = percent_fix("density", row.get("density"))
        raise InputError(
            f"{path}: row {line}: " + (fix or f"density={row.get('density')!r}, gamma={row.get('gamma')!r} "
                                       "are not both numbers; fix or delete the row")
        ) from None
    if not (math.isfinite(density) and 0.0 < density <= 1.0):
        raise InputError(f"{path}: row {line}: {density_problem(density, 'row')}")
    if not (math.isfinite(gamma) and gamma > 0.0):
        raise InputError(
            f"{path}: row {line}: gamma {gamma} is not a positive number; "
            "the log-log law needs gamma > 0, drop the row"
        )
    return density, gamma


def read_points(path: str | os.PathLike[str]) -> LawPoints:
    """Read a ``density,gamma`` CSV, naming the file and row of any bad value."""
    path = Path(path)
    check_file_size(path, MAX_CSV_BYTES, "points file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: a BOM (as Excel saves CSVs) is no header text
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            check_header(path, header)
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise InputError(
                    f"{path}: header {clipped(header, 120)} lacks column(s) {missing}; "  # a one-line file: all of it
                    f"the first line must be 'density,gamma'{header_fix(header, missing)}"
                )
            reader.fieldnames = header
            # Line numbers as an editor shows them (the header is line 1; blank lines count).
            rows = [(reader.line_num, row) for row in itertools.islice(reader, MAX_CSV_ROWS + 1)]
            check_csv_rows(rows, path)
            points = [_parse_row(path, line, row) for line, row in rows]
            measured = _measured(path, rows, [name for name in SETTINGS if name in header])
    except OSError as exc:
        raise InputError(f"{path}: cannot read points file ({exc.strerror}); check the path") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text CSV file; give a 'density,gamma' CSV") from None
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KB limit
        raise InputError(f"{path}: not a readable CSV file ({exc}); give a 'density,gamma' CSV") from None
    if not points:
        raise InputError(f"{path}: no data rows after the header; add 'density,gamma' rows")
    return LawPoints.from_arrays([p[0] for p in points], [p[1] for p in points], measured)


def _measured(path: Path, rows: list[tuple[int, dict]], names: list[str]) -> Measured:
    """The settings columns ``names`` of ``rows``, one value each: rows that differ hold two
    measurements (two metrics' CSVs joined), and one law fitted through them is neither's."""
    measured = []
    for name in names if rows else ():
        (first_line, first), *others = [(line, row[name].strip()) for line, row in rows]
        other = next(((line, value) for line, value in others if value != first), None)
        if other is not None:
            raise InputError(f"{path}: {name} is {first!r} on line {first_line} but {other[1]!r} on line "
                             f"{other[0]}: the rows hold points of two measurements; fit each one's points alone")
        read, what = SETTINGS[name]
        try:
            measured.append((name, read(first)))
        except ValueError:
            raise InputError(f"{path}: line {first_line}: {name} {first!r} is not {what}; fix or drop the "
                             "column") from None
    return tuple(measured)


def write_points(points: LawPoints, path: str | os.PathLike[str], force: bool = False) -> Path:
    """Write ``density,gamma`` rows atomically (full float precision via ``repr``), each with
    the values of ``points.measured`` in the columns after them."""
    text = io.StringIO()
    writer = csv.writer(text)
    names, values = zip(*points.measured) if points.measured else ((), ())
    writer.writerow((*COLUMNS, *names))
    writer.writerows((repr(d), repr(g), *map(_text, values)) for d, g in zip(points.density, points.gamma))
    return write_text_atomic(path, text.getvalue(), force)


def _text(value: object) -> str:
    """A setting as its column holds it: a float in full (``repr``), patterns as a JSON list, else as written."""
    if isinstance(value, tuple):
        return json.dumps(list(value))
    return repr(value) if isinstance(value, float) else str(value)
