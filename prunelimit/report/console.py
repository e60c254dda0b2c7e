"""Human-readable rich output on stdout."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

stdout = Console(highlight=False)


def fmt(value, spec: str = ".4g") -> str:
    return "—" if value is None else format(value, spec)


def pct(value) -> str:
    return "—" if value is None else f"{100 * value:.2f} %"


def render_info(rep) -> None:
    stdout.print(f"[bold]{rep.checkpoint}[/]  model [cyan]{rep.model or '(pickled module)'}[/]  format {rep.source}")
    table = Table("prunable layer", "shape", "count", "zeros", "zeros %")
    for layer in rep.layers:
        table.add_row(layer.name, "×".join(map(str, layer.shape)), f"{layer.count:,}", f"{layer.zeros:,}",
                      pct(layer.zeros / layer.count if layer.count else 0))
    stdout.print(table)
    zeros = sum(l.zeros for l in rep.layers)
    stdout.print(
        f"parameters: total {rep.params_total:,} · prunable N = {rep.params_prunable:,} "
        f"(zeros {zeros:,}, {pct(zeros / max(rep.params_prunable, 1))}) · Hessian D = {rep.params_hessian:,}"
    )
    if rep.loss is not None:
        stdout.print(f"on {rep.data}: loss {rep.loss:.4f} · accuracy {pct(rep.accuracy)}")
