"""The texts a spectrum's report carries about its plan: why ρ*'s ± is not within the
tolerance and what would bring it there (``tolerance_warning``), that the curvature was taken
over a subset (``subsample_note``), and that the spectrum ran past a budget it was given
(``over_budget_note``). Each names the option to change, as the user gave it."""

from __future__ import annotations

import math
from dataclasses import replace

from prunelimit.api.options import CurvatureOptions, SolverChoice, fixed_by, overrun_allowance
from prunelimit.errors import option, said
from prunelimit.remedies import exact_unfit, narrower_basis
from prunelimit.report.rounding import estimate_text
from prunelimit.theory.uncertainty import Uncertainty


def given_host_bytes(options: CurvatureOptions) -> float | None:
    """The host memory a given ``--basis-memory`` lets the solver hold, for a remedy to weigh
    the exact spectrum against; ``None`` for ``auto`` (half the memory available), which
    ``basis_memory_bytes`` agrees over the ranks by a collective that a warning, made where
    the ranks' paths differ, must not call (two ranks' collectives stopped matching)."""
    return None if options.basis_memory_mb is None else options.basis_memory_mb * 2**20


# what every tolerance warning says (``tolerance_warning``): a report's, read back by --from, is told where
# its remedy applies
TOLERANCE_MISSED = "is not within the tolerance"


def tolerance_warning(solver: str, stopped_by: str | None, dim: int, ratio: float, u: "Uncertainty",
                      options: CurvatureOptions, rounding: str | None = None,
                      choice: SolverChoice | None = None) -> str | None:
    """Why ``ratio ± u`` is not within ``options.tolerance`` and what would bring it there,
    or ``None`` when it is (or the spectrum is exact). ``rounding``: what narrows its rounding
    part in this run (``rounding_fix``); ``None``, float32 products of a precision not known.
    ``choice``: the run's solver choice, whose predicted exact seconds the exact route states
    (``_exact_instead``)."""
    from prunelimit.remedies import rounding_remedy

    if solver == "exact" or u.plus_minus <= options.tolerance:
        return None
    # steps and probes met it on this path: the data part, measured afterwards, took it over
    data_over = stopped_by == "tolerance" and u.data and replace(u, data=None).plus_minus <= options.tolerance
    cause = {"max-hvps": f"the product budget ({option('max_hvps', options.product_budget)}) ran out",
             "time-budget": f"the time budget ({option('time_budget', options.time_budget)} s) ran out"
             if options.time_budget else "the time budget ran out",
             "memory": f"the Lanczos bases filled the host memory they may hold ({_basis_memory()})",
             None: "the plan was fixed (" + (f"1 probe × 128 steps of {option('method', 'paper')}"
                                            if options.method == "paper" and options.iterations is None
                                            and options.runs is None else fixed_by(options)) + ")",
             # adaptive SLQ refines the steps and probes parts of the global path's ρ*; the data
             # part (measured afterwards) and another path's ρ* can leave the total above it
             # a smaller --tolerance refines steps and probes, not the data part: it moved that part
             # either way (a 17k MLP's ± from 1.13 pt to 1.26 at --tolerance 0.0075, 0.98 at 0.007)
             "tolerance": "the Lanczos runs were refined until the global pruning path's ρ* met it from steps "
                          "and probes" + ("" if data_over else f" (a smaller {option('tolerance')} refines them further)"),
             "converged": "every Lanczos run reached the end of its Krylov space (no steps left to take)",
             "rounding": _rounding_stop(u, options.tolerance),
             }[stopped_by]
    if data_over:
        largest, which = "data", "the data part took it over"
    elif alone := _fixed_part_alone(u, options.tolerance):  # no steps, probes or samples meet it while it stands
        largest, which = alone, f"its {alone} part alone reaches it"
    else:
        # each part as it enters the ±: the probe and data parts are 1σ, the ± holds them at its
        # level (a 1σ probe part of 0.026 read as smaller than a steps bound of 0.034, where it
        # adds 0.058 to the ±, and adaptive SLQ, which weighs them so, had chosen probes)
        level = u.statistical / u.stderr if u.stderr else 0.0
        largest = max(("steps", u.steps or 0.0), ("probes", level * (u.probes or 0.0)),
                      ("data", level * (u.data or 0.0)), ("grid", u.grid or 0.0), ("rounding", u.rounding or 0.0),
                      key=lambda item: item[1])[0]
        which = f"the largest part is {largest}"
    remedy = {"steps": f"more Lanczos steps ({_more_steps(stopped_by, options.basis_dtype)}{_unfixed(stopped_by, options)})"
                       f"{_exact_instead(stopped_by, dim, options, choice)}",
              "probes": f"more probes ({_more_probes(stopped_by, dim, options)}{_unfixed(stopped_by, options)})"
                        f"{_exact_instead(stopped_by, dim, options, choice)}",
              "data": f"more curvature samples ({_more_samples(options)})"
                      f"{_exact_instead(stopped_by, dim, options, choice, subset=True)}",
              # the paper arithmetic's own rounding (integer R, whole weights): no option refines it
              "grid": f"the continuous root ({option('method', 'default')})",
              "rounding": rounding or rounding_remedy(dim, False, None)}[largest]
    # ρ* in the units of its headline line (it read "ρ* = 0.9187 ± 0.0198" under "ρ* = 91.87 % ± 2.0 pt")
    return (f"ρ* = {estimate_text(ratio, u.plus_minus)} {TOLERANCE_MISSED} {options.tolerance:g} "
            f"({100 * options.tolerance:g} pt): {cause}; "
            f"{which}, which needs {remedy}")


def _rounding_stop(u: "Uncertainty", tolerance: float) -> str:
    """Why adaptive SLQ stopped by "rounding" (``adaptive.AdaptivePlan.remedy``): where no
    float64 re-run could follow, once the steps and probe parts met ``tolerance``; else at
    once, for the re-run, which then did not follow (its float64 operator did not fit in
    memory, or the time left no longer held it), whatever the other parts were."""
    if replace(u, rounding=None, data=None).plus_minus <= tolerance:
        return "the Lanczos runs narrowed their steps and probe parts to it (no step or probe narrows the rest)"
    return ("the Lanczos runs stopped at their products' rounding part for a run on float64 products, which then "
            "did not fit")


def larger_budget(stopped_by: str, basis_dtype: str = "auto") -> str:
    """The limit that stopped adaptive SLQ, raised: what gives it more products (for bases
    stored in ``basis_dtype``, a narrower storage where there is one)."""
    narrower = f"a narrower {option('basis_dtype')}, " if narrower_basis(basis_dtype) else ""
    return {"memory": f"{narrower}a larger {_basis_memory()} or more host memory",
            "time-budget": f"a larger {option('time_budget')}", "max-hvps": f"a larger {option('max_hvps')}",
            # no budget stopped the runs: they stopped where their parts met the tolerance
            "tolerance": f"a smaller {option('tolerance')}"}.get(
        stopped_by, f"a larger {option('max_hvps')} or {option('time_budget')}")


def _basis_memory() -> str:
    return option("basis_memory_mb", flag="--basis-memory")


def _more_steps(stopped_by: str | None, basis_dtype: str = "auto") -> str:
    """What gives the runs more steps, by what stopped them (``None``: a fixed plan)."""
    return f"a larger {option('iterations')}" if stopped_by is None else larger_budget(stopped_by, basis_dtype)


def _unfixed(stopped_by: str | None, options: CurvatureOptions) -> str:
    """``, or no fixed plan: …`` after the remedy of a plan ``--iterations``/``--runs`` fixed:
    adaptive SLQ extends its runs and probes until the ± meets ``--tolerance``, where "a larger
    --iterations" left the user to guess how much larger (on a model the exact spectrum does
    not fit, the only other route offered). ``--method paper``'s plan is its method's."""
    if stopped_by is not None or options.method == "paper" or (options.iterations is None and options.runs is None):
        return ""
    return f", or no fixed plan: without {fixed_by(options)} the runs extend until the ± meets {option('tolerance')}"


def _more_samples(options: CurvatureOptions) -> str:
    """What gives the curvature more samples: past this run's own count where it was given one."""
    given = options.hessian_samples
    larger = f"a larger {option('hessian_samples')}" + (f" than {given:,}" if isinstance(given, int) else "")
    return f"{larger}, or {option('hessian_samples', 'all')}"


def _exact_instead(stopped_by: str | None, dim: int, options: CurvatureOptions,
                   choice: SolverChoice | None, subset: bool = False) -> str:
    """``, or the exact spectrum, ± 0 (…)`` after the remedy of runs that a budget or a fixed
    plan stopped short of the tolerance, where the exact spectrum can run (``exact_unfit``;
    bases that filled the memory say nothing of its peak where no --basis-memory was given):
    it meets any tolerance at D products, the options it refuses dropped, and its predicted
    seconds where the solver choice timed them. Under --max-hvps 20 on the bundled example
    only "a larger --max-hvps" was offered, where the exact spectrum takes ~3 s (the gate's
    fix named it: ``remedies.with_exact``). ``subset``: for a data part, which the exact
    spectrum, over every sample, has none of, whatever stopped the runs."""
    from prunelimit.report.console import exact_predicted_text

    if (stopped_by not in ("max-hvps", "time-budget", "memory", None) and not subset) or \
            exact_unfit(dim, given_host_bytes(options)) is not None or \
            (stopped_by == "memory" and options.basis_memory_mb is None):
        return ""
    # what --method exact refuses beside it (options.check_plan; a count of samples: check_exact_subset)
    refused = [name for name in ("max_hvps", "time_budget", "iterations", "runs") if getattr(options, name) is not None]
    refused += ["hessian_samples"] if isinstance(options.hessian_samples, int) else []
    instead = f" in place of {', '.join(option(name) for name in refused)}" \
        if refused else ""
    seconds = None if choice is None else choice.predicted_exact_seconds
    predicted = "" if seconds is None else \
        f", predicted {exact_predicted_text(seconds, not choice.eigenvalues_timed)}"
    return f", or the exact spectrum, ± 0 ({option('method', 'exact')}{instead}: D = {dim:,} products{predicted})"


def _fixed_part_alone(u: "Uncertainty", tolerance: float) -> str | None:
    """The larger of the grid and rounding parts where it alone reaches ``tolerance``: only
    its own remedy (the continuous root, a larger ε or float64 products) can then meet it,
    whatever part adds most (--method paper on the example: grid 1.05 pt against a 1 pt
    tolerance, its 1 probe's part 1.8 pt at the ±'s level)."""
    part, value = max(("grid", u.grid or 0.0), ("rounding", u.rounding or 0.0), key=lambda item: item[1])
    return part if value >= tolerance else None


def _more_probes(stopped_by: str | None, dim: int, options: CurvatureOptions = CurvatureOptions()) -> str:
    """What gives more probes: after runs that took every step, the exact spectrum where it
    fits (``remedies.exact_unfit``: D and a given ``--basis-memory``, ``given_host_bytes``),
    else more runs of D steps."""
    if stopped_by is None:
        return f"a larger {option('runs')}"
    if stopped_by == "converged":
        fits = exact_unfit(dim, given_host_bytes(options)) is None
        return f"{option('method', 'exact')}, which computes every eigenvalue" if fits else \
            said(f"{option('runs', 'K')} {option('iterations', dim)}", f"runs=K, iterations={dim}")
    return larger_budget(stopped_by, options.basis_dtype)


SUBSAMPLE_NOTE = "curvature over "  # how the note starts: worded again when read from the cache


def subsample_note(used: int, total: int) -> str:
    """What a subsampled curvature's ``±`` leaves out: a Hessian over fewer samples has a
    spectrum of its own, and ρ* moves with it, alike for different subsets of one size;
    the subset's parts move together, so their spread cannot show it (measured against exact
    full-data spectra in docs/accuracy.md)."""
    return (f"{SUBSAMPLE_NOTE}{used:,} of {total:,} samples: the ± holds the scatter between such subsets, not "
            "the shift a Hessian over fewer samples gives ρ* (measured in docs/accuracy.md); "
            f"{option('hessian_samples', 'all')} takes every sample")


OVER_BUDGET_NOTE = "the spectrum went "  # how ``over_budget_note`` starts; its remedy (raise …) ends it


def smallest_plan(measured: int, parts: int) -> str:
    """SLQ's smallest plan, as this run made it: the ``measured`` products that measure float32
    products against float64 (``_product_error``), one Lanczos step, and a data check's step
    on each of ``parts`` parts. The products a given --max-hvps holds that plan to: naming a
    data check that never ran (no --hessian-samples) left the 2 measuring products unsaid."""
    products = "product" if measured == 1 else "products"  # 1: the float64 copy did not fit in memory
    made = ([f"the {measured} {products} measuring float32 products against float64"] if measured else []) \
        + ["one Lanczos step"] \
        + ([f"the data check that must follow it (a product on each of the {parts} parts)"] if parts else [])
    return " and ".join([", ".join(made[:-1]), made[-1]]) if len(made) > 1 else made[0]


# The stages before SLQ's runs, as an overrun note that they spent the budget names them.
_BEFORE_RUNS = {"solver_choice": "timing the solver choice", "data_passes": "the passes over the data",
                "exact_columns": "the exact columns left for SLQ", "data_check": "timing the data check"}


def over_budget_note(options: CurvatureOptions, hvps: int, seconds: float, solver: str = "slq-h",
                      setup: float = 0.0, smallest: str = "one Lanczos step",
                      check: tuple[float, float] | None = None,
                      runs_began: tuple[float, tuple[str, ...]] | None = None) -> str | None:
    """Where the spectrum (``hvps`` products; ``seconds`` since the time budget's origin, of
    which ``setup`` before the spectrum: start-up and loading) went past a given
    ``--max-hvps`` or ``--time-budget``: the runs leave what follows them its share of both,
    so only a budget that cannot hold the smallest plan (a first Lanczos step and what must
    follow it: the data check on the subset's parts and the trace; ``smallest`` says what it
    was, ``smallest_plan``), or a prediction of that
    work's seconds that fell short, goes past one (the time budget by more than
    ``overrun_allowance``, the clock's noise); a set-up that took the whole time budget
    leaves the smallest plan, and the note says the least this command takes here. It
    describes the run that computed the
    spectrum, so a copy read back from the cache, which spent neither, leaves it out (it keeps
    the tolerance warning, which says the spectrum stopped early). The exact
    spectrum (``solver``) has no Lanczos runs: its eigenvalues, or columns formed before
    their watch judges them, took longer than predicted. ``check``: the data check's seconds
    and the plan's price of them, named where it took longer (its products, timed before
    the runs, ran slower: on a loaded machine by half again). ``runs_began``: the budget's
    clock as SLQ's runs began, and the ``timing.stages`` before them; where the set-up and the spectrum's work before the runs (the
    solver choice's timing, the data passes) had spent the budget by then, the smallest plan
    ran after it, and the note says so (it blamed the work after the runs, which ran as
    priced: ``--time-budget 2.4`` with 2.0 s of loading and 0.7 s of that work)."""
    over = []  # (how far over, why, the option to raise)
    if options.max_hvps is not None and hvps > options.max_hvps:
        extra = hvps - options.max_hvps
        over.append((f"{extra:,} product{'' if extra == 1 else 's'} over "
                     f"{said(f'--max-hvps {options.max_hvps:,}', f'max_hvps={options.max_hvps}')} ({hvps:,})",
                     f"its smallest plan, {smallest}, does not fit it",
                     option("max_hvps")))
    if options.time_budget is not None and seconds > options.time_budget + overrun_allowance(options.time_budget):
        # to the overshoot's second significant digit: an overshoot of a few ms read "0.00 s over" at 2 decimals
        late = seconds - options.time_budget
        decimals = max(2, 1 - math.floor(math.log10(late)))
        why = ("the exact spectrum's eigenvalues, or its columns before their watch could judge them, took longer "
               "than predicted" if solver == "exact" else
               "the work that must follow the Lanczos runs took longer than predicted, or even their first step and "
               "that work do not fit it")
        if solver != "exact" and check is not None and check[0] > check[1]:
            why = (f"the data check on the subset's parts took {check[0]:.1f} s where {check[1]:.1f} s was priced "
                   "(its products, timed before the Lanczos runs, ran slower after them)")
        needs = f"this command needs about {math.ceil(seconds):,} s here"
        if setup >= options.time_budget:  # nothing was left for the spectrum: its smallest plan was made
            why = (f"starting up and loading the model and data took {setup:.1f} s of it before the spectrum began, "
                   f"and the smallest plan the rest: {needs}")
        elif runs_began is not None and runs_began[0] >= options.time_budget:  # ... nor for the runs
            work = ", ".join(_BEFORE_RUNS[name] for name in runs_began[1] if name in _BEFORE_RUNS)
            why = (f"starting up and loading the model and data took {setup:.1f} s of it and the spectrum's work "
                   f"before the Lanczos runs ({work}) {runs_began[0] - setup:.1f} s more, and the smallest plan "
                   f"the rest: {needs}")
        before = f", {setup:.{decimals}f} s of it before the spectrum" if setup > 0 else ""
        over.append((f"{late:.{decimals}f} s over {option('time_budget', options.time_budget)} s "
                     f"({seconds:.{decimals}f} s{before})", why, option("time_budget")))
    if not over:
        return None
    return (f"{OVER_BUDGET_NOTE}{' and '.join(o[0] for o in over)}: {'; '.join(o[1] for o in over)}; "
            f"raise {' and '.join(o[2] for o in over)}")
