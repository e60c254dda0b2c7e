"""The commands as Python functions on loaded inputs: each returns a dataclass report.

``prunelimit.cli`` only parses options, calls these and prints the result. One module a
command family: ``summary`` (info), ``options`` (curvature options and the solver choice),
``curvature`` (spectrum), ``stored`` (the spectrum read from the cache), ``limit`` (bounds),
``layers`` (``--per-layer``), ``pruning`` (prune), ``verification`` (verify), ``gating``
(gate), ``training`` (train and starting points), ``laws`` (nplh, imp, hyperflux); ``export``
lives beside its package (``prunelimit.sparse``).
"""

from prunelimit.api.curvature import (
    CurvatureData,
    LimitTarget,
    SpectrumReport,
    limit_target,
    require_data,
    spectrum,
)
from prunelimit.api.gating import GateReport, gate
from prunelimit.api.laws import DEFAULT_PRESSURES, HyperfluxReport, hyperflux, imp, nplh, parse_region, run_hyperflux
from prunelimit.api.layers import layer_breakdown, spectrum_layers, spectrum_report
from prunelimit.api.limit import BoundsReport, bounds, first_order_change
from prunelimit.api.options import (
    CPU_MEMORY_BUDGET_MB,
    METHODS,
    CurvatureOptions,
    MemoryUse,
    SolverChoice,
    check_plan,
    check_same_on_every_rank,
    choose_solver,
    curvature_steps,
    memory_budget_mb,
)
from prunelimit.api.pruning import (
    PRUNE_FORMATS,
    PruneReport,
    ResolvedRatio,
    prune,
    prune_outputs,
    resolve_ratio,
)
from prunelimit.api.stored import stored_spectrum
from prunelimit.api.summary import InfoReport, LayerInfo, info
from prunelimit.api.training import StartingPoint, starting_point, train
from prunelimit.api.verification import MeasuredLimit, VerifyReport, check_verify_options, measured_limit, verify
from prunelimit.sparse.exporter import ExportReport, export

__all__ = [
    "CPU_MEMORY_BUDGET_MB", "DEFAULT_PRESSURES", "METHODS", "PRUNE_FORMATS", "BoundsReport", "CurvatureData",
    "CurvatureOptions", "ExportReport", "GateReport", "HyperfluxReport", "InfoReport", "LayerInfo", "LimitTarget", "MeasuredLimit", "MemoryUse", "PruneReport",
    "ResolvedRatio", "SolverChoice", "SpectrumReport", "StartingPoint", "VerifyReport", "bounds", "check_plan", "check_same_on_every_rank", "check_verify_options", "choose_solver", "curvature_steps", "export",
    "first_order_change", "gate", "hyperflux", "imp", "info", "layer_breakdown", "limit_target", "measured_limit", "memory_budget_mb", "nplh",
    "parse_region", "prune", "prune_outputs", "require_data", "resolve_ratio", "run_hyperflux", "spectrum", "spectrum_layers", "spectrum_report",
    "starting_point",
    "stored_spectrum", "train", "verify",
]
