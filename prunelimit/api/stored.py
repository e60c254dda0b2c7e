"""``stored_spectrum``: a spectrum read from the store where one stored answers these inputs and
options, else computed by :func:`prunelimit.api.curvature.spectrum` and kept.

A stored answer answers another call only where it is the answer that call would compute, or
one at least as tight: the key holds what the products read (``_keyed_options``), and the
lookups beside it read what other options would have computed alike (other engines, budgets a
fixed plan never reached, an exact spectrum for any tolerance, an adaptive answer whose ±
meets this tolerance). Every entry read is checked against the inputs before it is used
(``_check_fits``)."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any, Callable, Iterable

import numpy as np
import torch

from prunelimit.api.curvature import (
    ROUNDING_NOTE,
    Ranking,
    SpectrumReport,
    basis_storage,
    drawn_by_class,
    exact_uncertainty,
    extreme_nodes,
    fixed_plan,
    fixed_plan_error,
    limit_ratio_of,
    negative_mass_of,
    path_data,
    product_dtype,
    products_dtype,
    require_data,
    rounding_fix,
    samples_notes,
    slq_uncertainty,
    spectrum_with_engines,
    stored_rounding_note,
    target_or_reason,
    timed_products,
)
from prunelimit.api.options import EXACT_IGNORES, CurvatureOptions, check_exact_subset, choose_solver, memory_budget_mb
from prunelimit.api.spectrum_notes import SUBSAMPLE_NOTE, subsample_note, tolerance_warning
from prunelimit.cache import InputKeys, Store
from prunelimit.curvature.quadrature import SpectralQuadrature
from prunelimit.errors import NumericalError, UsageError
from prunelimit.inputs import Inputs
from prunelimit.models.params import hessian_parameters
from prunelimit.report.rounding import half_width_text


# Options only the bounds' arithmetic reads, after the spectrum (ρ_L and ρ_U; the spectrum's
# own ρ* ± solves with no bounds): keyed at their defaults, so another value reads the same entry.
_BOUNDS_ONLY = {"eta": CurvatureOptions.eta, "bound_mode": CurvatureOptions.bound_mode}


# Options that enter the spectrum only through the adaptive plan's stopping rule (ρ* ± of
# the target, and the tolerance it is held to): with a fixed plan they are keyed at their
# defaults and solved again on a hit (the tolerance only decides the warning that ± missed it).
_TARGET_ONLY = {"epsilon": CurvatureOptions.epsilon, "negative": CurvatureOptions.negative,
                "tolerance": CurvatureOptions.tolerance}


# What a fixed plan reads only for the warning that it ran past it: its runs, data check and
# trace top-ups go to their end whatever the clock reads (the clock prices a float64 re-run and
# stops adaptive runs, neither of which a fixed plan has), so another --time-budget (a --config
# file's beside typed --runs/--iterations) reads the stored spectrum.
_WARNING_ONLY = {"time_budget": CurvatureOptions.time_budget}


_EXACT_DEFAULTS = {name: getattr(CurvatureOptions, name) for name in EXACT_IGNORES}


def _default_ceiling(options: CurvatureOptions) -> CurvatureOptions | None:
    """``options`` with no --max-hvps, where a fixed plan was given one (a --config file's
    beside typed --runs/--iterations): a run under it that decides as the default's reads and
    keeps the default's answer (``_if_same_ceiling``); else ``None``."""
    return replace(options, max_hvps=None) if fixed_plan(options) and options.max_hvps is not None \
        and options.method != "exact" else None


def _if_same_ceiling(rep: SpectrumReport, options: CurvatureOptions,
                     adjust: "Callable[[SpectrumReport], SpectrumReport | None] | None" = None):
    """``rep`` (``adjust``-ed), a fixed plan's stored at no --max-hvps, where ``options``'
    given one decides as that run did (``hvps_budgets``), so that the answer is the same;
    else ``None``."""
    if rep.hvps_budgets is None:
        return None
    low, high = rep.hvps_budgets
    if not low <= options.max_hvps < high:
        return None
    return rep if adjust is None else adjust(rep)


def _auto_basis_memory(options: CurvatureOptions) -> CurvatureOptions | None:
    """``options`` at ``--basis-memory auto``, where a fixed SLQ plan was given one: a budget that
    holds the bases a run at ``auto`` needed reads its answer (``_if_bases_fit``); else ``None``.
    Not the converse: ``auto`` is a share of the host memory available, which may not hold them."""
    return replace(options, basis_memory_mb=None) if fixed_plan(options) and options.basis_memory_mb is not None \
        and options.method != "exact" else None


def _if_bases_fit(rep: SpectrumReport, options: CurvatureOptions,
                  adjust: "Callable[[SpectrumReport], SpectrumReport | None] | None" = None):
    """``rep`` (``adjust``-ed), a fixed plan's, where ``options``' --basis-memory holds the bases
    it needed (``basis_bytes``): the budget only refuses a fixed plan whose bases it cannot hold,
    so the answer is the same; else ``None``."""
    if rep.basis_bytes is None or rep.basis_bytes > options.basis_memory_mb * 2**20:
        return None
    return rep if adjust is None else adjust(rep)


def _keyed_options(inputs: Inputs, options: CurvatureOptions) -> CurvatureOptions:
    """``options`` as the stored spectrum is keyed: two that compute the same spectrum alike.
    ``hessian_samples`` is the subset it draws (``drawn_subset``), not its spelling: ``auto``
    and the count it resolves to, or ``all``, a count of at least the data's and an ``auto``
    that takes every sample, share one entry (the guide has CI gates pass ``all`` beside a
    default ``bounds``).
    ``hvp`` cached is auto: both keep the graphs when they fit and recompute otherwise; a
    CPU's default ``memory_budget_mb``, given, is the default, and so is any under revrev there
    (other budgets: ``default_engines``).
    ``method="exact"`` keys what it never reads (``EXACT_IGNORES``: the seed, SLQ's plan) at
    the defaults, so ``--seed`` does not split its entries."""
    from prunelimit.data.batches import total_samples
    from prunelimit.data.subsample import drawn_subset, subset_size

    total = total_samples(inputs.batches)
    samples = drawn_subset(subset_size(inputs.batches, options.hessian_samples, drawn_by_class(inputs)), total)
    hvp = "auto" if options.hvp == "cached" else options.hvp
    # on a CPU the budget chooses only the engine, which revrev does not leave to it
    default_budget = inputs.device.type == "cpu" and \
        (options.hvp == "revrev" or options.memory_budget_mb == memory_budget_mb(CurvatureOptions(), inputs.device))
    budget = None if default_budget else options.memory_budget_mb
    target = {**_TARGET_ONLY, **_WARNING_ONLY} if fixed_plan(options) else {}
    # not the default's choice of exact: it is made by timing products, after the key
    exact = _EXACT_DEFAULTS if options.method == "exact" else {}
    return replace(options, **{**_BOUNDS_ONLY, **target, "hessian_samples": samples, "hvp": hvp,
                               "memory_budget_mb": budget, "basis_dtype": _keyed_basis(inputs, options), **exact})


def _keyed_basis(inputs: Inputs, options: CurvatureOptions) -> str:
    """``options.basis_dtype`` as the key holds it: ``auto`` where it stores every Lanczos basis
    the plan may build as ``auto`` does (the same numbers), its name elsewhere. Those bases are
    on the products' dtype, and on float64 ones too where adaptive SLQ may go on to them (its
    float64 re-run, whose basis ``auto`` keeps in float64): so a float32 model's ``float32`` on
    a fixed plan, or a float64 model's ``float64``, is ``auto``, a float32 model's ``float32``
    on adaptive SLQ is not. Compared at D × D elements, more than any basis holds (``auto``
    narrows a float64 basis past ``AUTO_FLOAT64_BASIS_BYTES``)."""
    if options.basis_dtype == "auto":
        return "auto"
    named = hessian_parameters(inputs.model, inputs.selection)
    if not named:
        return options.basis_dtype
    elements = sum(p.numel() for _, p in named) ** 2
    narrow = product_dtype(named[0][1].dtype)
    products = {narrow} if fixed_plan(options) else {narrow, torch.float64}
    same = all(basis_storage(options.basis_dtype, dtype, elements) == basis_storage("auto", dtype, elements)
               for dtype in products)
    return "auto" if same else options.basis_dtype


def _solved_for(rep: SpectrumReport, inputs: Inputs, options: CurvatureOptions,
                ranked: Ranking | None = None) -> SpectrumReport | None:
    """A stored fixed-plan spectrum with ρ*, its ± and the data part solved for ``options``'
    ε and ``negative`` as ``curvature.spectrum`` solves them, at the products' error it would state
    (``fixed_plan_error``); ``None`` when the stored run had a ρ* and this one has none or the
    reverse (its parts were computed only with a ρ*), or when this run would have measured the
    products' error over all the data and the stored one did not. ``ranked``: the weights' profile
    (``curvature.ranking``)."""
    target, _ = target_or_reason(inputs, options, rep.batch_losses, ranked)
    if (target is None) != (rep.limit_ratio is None):
        return None
    if target is None:
        return rep
    dtype = products_dtype(rep, inputs)
    ratio = limit_ratio_of(target, rep.quadrature, options)  # once: the error chosen below leaves the rule as it is
    quad = fixed_plan_error(rep.quadrature, target, options, dtype, ratio)
    if quad is None:
        return None
    data = path_data(target, rep.curvature_data, options)
    u = exact_uncertainty(target, quad, ratio) if rep.solver == "exact" else \
        slq_uncertainty(target, quad, options, ratio, data, dtype)
    note = tolerance_warning(rep.solver, rep.stopped_by, rep.params_hessian, ratio, u, options,
                             rounding_fix(inputs, options, rep.params_hessian, dtype), rep.choice)
    return replace(rep, quadrature=quad, limit_ratio=ratio, uncertainty=u, curvature_data=data, tolerance_note=note,
                   epsilon=target.epsilon, epsilon_source=target.epsilon_source)


def stored_spectrum(inputs: Inputs, options: CurvatureOptions = CurvatureOptions(), progress=None,
                    store: "Store | None" = None, ranked: Ranking | None = None,
                    read: "InputKeys | None" = None) -> SpectrumReport:
    """:func:`~prunelimit.api.curvature.spectrum`, read from ``store`` when it holds one for these
    inputs and options (``prunelimit.cache.input_key``), else computed and stored; ``store``
    ``None`` computes.
    A stored answer the machine's clock or memory cut short of its tolerance is computed
    again and replaced (``_cut_by_the_machine``). ``ranked``: the weights' magnitude profile, which
    an answer read back is solved on (``curvature.ranking``: sorted once for the caller too). ``read``:
    the inputs as the caller keys them (``input_keys``), read once for its own results too."""
    import dataclasses

    from prunelimit.data.batches import total_samples

    require_data(inputs)
    check_exact_subset(options, total_samples(inputs.batches))
    start = time.perf_counter()
    adjust = (lambda rep: _solved_for(rep, inputs, options, ranked)) if fixed_plan(options) else None
    keys = result_keys(inputs, store, read=read)
    key = keys(options, "spectrum")

    def check(rep: SpectrumReport) -> None:
        _check_fits(rep, inputs)

    found = stored_result(store, key, "spectrum", SpectrumReport, adjust, check)
    # On a CPU the memory budget and --hvp only choose the engines (kept or rebuilt graphs): under
    # any that choose the ones a run at the defaults chose, the products are the same, and so is
    # its answer (`bounds` then `gate --memory-budget 2048` formed the same products again).
    shared = default_engines(inputs, options)
    if found is None and shared is not None:
        found = stored_result(store, keys(shared, "spectrum"), "spectrum", SpectrumReport,
                              lambda rep: if_same_engines(rep, inputs, options, adjust), check)
    # --method slq runs, step for step, the plan the default runs where it chooses adaptive SLQ:
    # each reads the other's answer stored for these options, where it is that plan (`bounds` on
    # a model whose dense Hessian does not fit, then `gate --method slq`, or the reverse, ran the
    # same products again). The default, only where it takes SLQ before timing any product.
    other = {"slq": "default", "default": "slq"}.get(options.method)
    if found is None and other is not None and not fixed_plan(options) and \
            (other == "default" or _slq_untimed(inputs, options)):
        found = stored_result(store, keys(replace(options, method=other), "spectrum"),
                              "spectrum", SpectrumReport, lambda rep: _as_method(rep, options.method), check)
    # A fixed plan's runs go to their end under any --max-hvps (the library refuses one beside it,
    # a --config file's is kept): one that decides as no ceiling does reads the answer stored at
    # none (`spectrum examples/digits-mlp.pt --runs 2 --iterations 30`, then the same with a
    # --config file's max_hvps: 5000, formed the same 68 products again)
    ceiled = _default_ceiling(options)
    if found is None and ceiled is not None:
        found = stored_result(store, keys(ceiled, "spectrum"), "spectrum", SpectrumReport,
                              lambda rep: _if_same_ceiling(rep, options, adjust), check)
    # ... and under any --basis-memory that holds its bases, which it only refuses otherwise (the same
    # plan with --basis-memory 512 formed them again too)
    if found is None and (auto := _auto_basis_memory(options)) is not None:
        found = stored_result(store, keys(auto, "spectrum"), "spectrum", SpectrumReport,
                              lambda rep: _if_bases_fit(rep, options, adjust), check)
    found = None if found is None else _worded_here(found, inputs, options)
    if found is not None and _cut_by_the_machine(found, options):
        found = None  # computed again and replaced: this run may get further
    # The default method reads an exact spectrum stored for these inputs under any of its
    # budgets: ± 0 meets every tolerance, at no product (a gate with a looser --tolerance
    # than the bounds before it paid for the same dense Hessian again). It looks where
    # --method exact stores one and where a default run stores its own (``_default_budgets``),
    # also when its own entry missed the tolerance (a budget cut it short): that cut answer,
    # stored first, hid the exact one stored later. Decided on the options and on what
    # every rank read alike, never on this rank's store: under torchrun each lookup is a
    # collective, which a rank whose cache folder is unusable (no store) must still meet.
    default = options.method == "default" and not fixed_plan(options)
    if (found is None or found.tolerance_note is not None) and default:
        exact = None
        for where in (replace(options, method="exact", **_EXACT_DEFAULTS), _default_budgets(options)):
            if exact is None and _keyed_options(inputs, where) != _keyed_options(inputs, options):
                exact = stored_result(store, keys(where, "spectrum"), "spectrum",
                                      SpectrumReport, lambda rep: _exact_for_default(rep, inputs, options, ranked),
                                      check)
        found = found if exact is None else exact
    # And the converse: --method exact reads the exact spectrum a default run chose for these
    # inputs, where the default stores one (``_default_budgets``): `bounds` then `gate --method
    # exact` formed the same D columns again. Not an SLQ answer stored there (``_exact_for_default``).
    if found is None and options.method == "exact":
        where = replace(_default_budgets(options), method="default")
        found = stored_result(store, keys(where, "spectrum"), "spectrum", SpectrumReport,
                              lambda rep: _exact_for_default(rep, inputs, options, ranked), check)
    # Then the adaptive answer stored for these inputs, seed, subset, ε and negative-curvature
    # rule under any tolerance and budgets (``_ADAPTIVE_STOPS``): one whose ± meets this
    # tolerance answers it (a gate at the default 0.01 after `bounds --tolerance 0.005`
    # computed the whole spectrum again). ε stays in its key: ρ*'s ± is ε's, and the runs
    # stopped on it.
    # --method slq alike, under its own such key, and under the default's (its plan step for step,
    # ``_as_method``): `bounds --method slq`, then `gate --method slq --time-budget 600`, or a default
    # `bounds` that took SLQ, then `gate --method slq --tolerance 0.02`, ran the same products again.
    # Not the converse: the default reads an SLQ answer only where it takes SLQ untimed (above).
    slq = options.method == "slq" and not fixed_plan(options)
    adaptive = None
    if (found is None or found.tolerance_note is not None) and (default or slq):
        adaptive = keys(replace(options, **_ADAPTIVE_STOPS), _ADAPTIVE_KIND)
        held = stored_result(store, adaptive, _ADAPTIVE_KIND, SpectrumReport, check=check)
        if held is None and slq:
            theirs = keys(replace(options, method="default", **_ADAPTIVE_STOPS), _ADAPTIVE_KIND)
            held = stored_result(store, theirs, _ADAPTIVE_KIND, SpectrumReport,
                                 lambda rep: _as_method(rep, options.method), check)
        within = _within_tolerance(held, inputs, options)
        if within is not None:  # kept as this call's own too: it repeats to the last digit once a
            store_result(store, key, "spectrum", within)  # tighter answer replaces the shared one
            found = within
    total = total_samples(inputs.batches)
    if found is not None:
        seconds = time.perf_counter() - start
        return dataclasses.replace(found, hvps=0, seconds=seconds, stages=(("cache_read", seconds, 0),), cached=True,
                                   notes=tuple(found.notes) + samples_notes(options, total, found.solver)
                                   + stored_rounding_note(found, inputs, options, ranked))
    rep = spectrum_with_engines(inputs, options, progress, ranked)
    left_out = (*samples_notes(options, total, rep.solver), rep.over_budget)
    kept = replace(rep, dense=None, over_budget=None, notes=tuple(
        n for n in rep.notes if n not in left_out and not n.startswith(ROUNDING_NOTE)))
    store_result(store, key, "spectrum", kept)
    # kept where a run at the defaults looks too, where it would have chosen the same engines
    if shared is not None and if_same_engines(kept, inputs, shared) is not None:
        store_result(store, keys(shared, "spectrum"), "spectrum", kept)
    if ceiled is not None and _if_same_ceiling(kept, options) is not None:  # and where no --max-hvps looks
        store_result(store, keys(ceiled, "spectrum"), "spectrum", kept)
    # An exact spectrum the default chose under budgets of its own is stored where the default
    # at its default budgets looks for one too: a gate after `bounds --tolerance 0.05` reads it
    # rather than forming the same D columns again (solved there for the default's ε).
    # Solved for those budgets only where they are not this run's own (then its key: stored above).
    if key is not None and default and rep.solver == "exact":
        budgets = _default_budgets(options)
        if (where := keys(budgets, "spectrum")) != key \
                and (shared := _exact_for_default(kept, inputs, budgets, ranked)) is not None:
            store_result(store, where, "spectrum", shared)
    # An adaptive answer is kept where the default under any tolerance looks (above), one a budget
    # cut short of its tolerance too: its ± answers a looser one (`bounds`, stopped by --max-hvps at
    # ± 2.1 pt, then `gate --tolerance 0.05` ran 423 products for a looser answer). Computed only
    # where the one kept there missed this tolerance, it replaces it unless that one is tighter
    # (a cut answer, or one a run beside this one kept there meanwhile).
    if (default or slq) and rep.solver != "exact" and rep.limit_ratio is not None and rep.uncertainty is not None \
            and not _tighter_kept(store, adaptive, kept, check):
        store_result(store, adaptive, _ADAPTIVE_KIND, kept)
    return rep


def default_engines(inputs: Inputs, options: CurvatureOptions) -> CurvatureOptions | None:
    """``options`` at the default memory budget and ``--hvp``, where another budget or engine
    on a CPU reads and keeps an answer computed with the same engines (``if_same_engines``);
    ``None`` where ``options`` are those already, or off a CPU: there the budget also sizes the
    chunks the products sum over (``HessianOperator``), and ``auto`` is a share of the free memory."""
    shared = replace(options, memory_budget_mb=None, hvp="auto")
    same = _keyed_options(inputs, shared) == _keyed_options(inputs, options)
    return None if inputs.device.type != "cpu" or same else shared


def if_same_engines(rep, inputs: Inputs, options: CurvatureOptions,
                    adjust: "Callable[[SpectrumReport], SpectrumReport | None] | None" = None):
    """``rep`` (a spectrum or per-layer blocks, ``adjust``-ed) where ``options``' memory budget and
    ``--hvp`` choose every HVP engine its run chose by its budget (``engine_budgets``), so that the
    products are the same; else ``None``. ``--hvp revrev`` chooses the rebuilt graphs under any budget."""
    if rep.engine_budgets is None:
        return None
    low, high = rep.engine_budgets
    budget = -math.inf if options.hvp == "revrev" else memory_budget_mb(options, inputs.device)
    if not low <= budget < high:
        return None
    return rep if adjust is None else adjust(rep)


def _tighter_kept(store: "Store | None", key: str | None, rep: SpectrumReport, check) -> bool:
    """Whether the shared adaptive answer under ``key`` is already at least as tight as ``rep``'s:
    a run beside this one (two CI jobs, `gate ... &`) may have kept a tighter one there while this
    one computed, which this looser one replaced. Read quietly: this run read it (and warned
    about it) before it computed."""
    import dataclasses

    quiet = None if store is None else dataclasses.replace(store, warn=lambda message: None)
    held = stored_result(quiet, key, _ADAPTIVE_KIND, SpectrumReport, check=check)
    return held is not None and held.uncertainty is not None and rep.uncertainty is not None \
        and held.uncertainty.plus_minus <= rep.uncertainty.plus_minus


def _worded_here(rep: SpectrumReport, inputs: Inputs, options: CurvatureOptions) -> SpectrumReport:
    """``rep``, read from the cache, with the texts that name options worded as this run names
    them: the storing run's words were kept (``max_hvps: 200 in ci.yaml`` from a gate's
    --config file, read back by ``spectrum --max-hvps 200``). The tolerance warning, the subset note and the solver's reason where no timing
    decided it (a choice the products' timing made keeps its reason: it is not timed again)."""
    named = hessian_parameters(inputs.model, inputs.selection)
    fresh = choose_solver(options, rep.params_hessian, timed=timed_products(named))
    choice = rep.choice
    # not an answer made to another tolerance, kept as this call's (``_within_tolerance``): its reason says so
    if (fresh.solver, fresh.predicted_exact_seconds, choice.predicted_exact_seconds) == (choice.solver, None, None) \
            and choice.tolerance in (None, fresh.tolerance):
        choice = replace(choice, reason=fresh.reason)
    note = rep.tolerance_note if rep.uncertainty is None or rep.limit_ratio is None else \
        tolerance_warning(rep.solver, rep.stopped_by, rep.params_hessian, rep.limit_ratio, rep.uncertainty, options,
                          rounding_fix(inputs, options, rep.params_hessian, products_dtype(rep, inputs)), choice)
    data = rep.curvature_data  # a subset note is there only where the curvature was subsampled
    notes = tuple(subsample_note(data.used, data.total) if n.startswith(SUBSAMPLE_NOTE) else n for n in rep.notes)
    return replace(rep, choice=choice, tolerance_note=note, notes=notes)


def _cut_by_the_machine(rep: SpectrumReport, options: CurvatureOptions) -> bool:
    """Whether a limit the key cannot hold stopped ``rep`` short of its tolerance: the wall
    clock (``--time-budget``: a quieter or faster machine gets further in the same seconds)
    or the host memory available at the start (``--basis-memory auto``). Such an answer does
    not answer the same call again, as a cut by ``--max-hvps`` (the same products on any
    machine) or a given ``--basis-memory`` does."""
    machine = rep.stopped_by == "time-budget" or (rep.stopped_by == "memory" and options.basis_memory_mb is None)
    return machine and rep.tolerance_note is not None


def _default_budgets(options: CurvatureOptions) -> CurvatureOptions:
    """``options`` with what the exact spectrum never reads, and what only ρ* and its ± read
    after it, at their defaults: where a default run at the default budgets stores its exact
    spectrum, and where the default under other budgets looks for one."""
    return replace(options, **{**_EXACT_DEFAULTS, **_TARGET_ONLY})


# What only decides where adaptive SLQ stops, or how its products are made (kept or rebuilt
# graphs, runs in lockstep): a stored answer whose ± meets a call's tolerance answers it
# whatever these were (``stored_spectrum``)
_ADAPTIVE_STOPS = {name: getattr(CurvatureOptions, name)
                   for name in ("tolerance", "max_hvps", "time_budget", "basis_memory_mb", "memory_budget_mb", "hvp")}
# the cache kind of those answers: a key of their own, apart from each call's own entry
_ADAPTIVE_KIND = "adaptive spectrum"


def _slq_untimed(inputs: Inputs, options: CurvatureOptions) -> bool:
    """Whether the default takes adaptive SLQ even were the products free and the host memory
    unbounded, before timing any: a dense Hessian over its fixed limit, a ``--max-hvps`` below D
    (``choose_solver``). Its plan is then ``--method slq``'s. Decided alike on every rank (not on
    this host's free memory): under torchrun the lookup it allows is a collective."""
    named = hessian_parameters(inputs.model, inputs.selection)
    dim = sum(p.numel() for _, p in named)
    return choose_solver(options, dim, 0.0, 0.0, timed=timed_products(named), host_bytes=math.inf).solver != "exact"


def _as_method(rep: SpectrumReport, method: str) -> SpectrumReport | None:
    """The other method's stored answer (default or ``--method slq``) as ``method``'s: the
    adaptive SLQ both run (its reason worded again by ``_worded_here``, no exact timing
    claimed); ``None`` for an exact spectrum, which ``--method slq`` does not compute."""
    if rep.solver == "exact" or not rep.choice.adaptive:
        return None
    return replace(rep, method=method, choice=replace(rep.choice, predicted_exact_seconds=None))


def _within_tolerance(rep: SpectrumReport | None, inputs: Inputs,
                      options: CurvatureOptions) -> SpectrumReport | None:
    """``rep``, an adaptive answer stored under other budgets (``_ADAPTIVE_STOPS``), worded for
    ``options`` (``_worded_here``) with its reason saying where it came from; ``None`` where
    there is none or its ± misses ``options.tolerance``."""
    if rep is None or rep.limit_ratio is None or rep.uncertainty is None:
        return None
    worded = _worded_here(rep, inputs, options)
    if worded.tolerance_note is not None:
        return None
    # the tolerance it was made to, not this call's: its runs went on past stages whose ± met this one
    made = rep.choice.tolerance
    reason = (f"adaptive SLQ to ±{made:g} in ρ*, stored by an earlier run, whose "
              f"± {half_width_text(100 * rep.uncertainty.plus_minus)} pt meets this ±{options.tolerance:g} too "
              "(no product)")
    return replace(worded, choice=replace(worded.choice, reason=reason, predicted_exact_seconds=None))


def _exact_for_default(rep: SpectrumReport, inputs: Inputs, options: CurvatureOptions,
                       ranked: Ranking | None = None) -> SpectrumReport | None:
    """A stored exact spectrum solved for ``options`` (``_solved_for``: the default method's,
    or ``method="exact"``'s reading one a default run stored), its reason saying where it came
    from; ``None`` for anything but an exact spectrum. ``ranked``: the weights' profile
    (``curvature.ranking``)."""
    if rep.solver != "exact" or (solved := _solved_for(rep, inputs, options, ranked)) is None:
        return None
    reason = "the exact spectrum of this Hessian, stored by an earlier run" + \
        ("" if options.method == "exact" else " (± 0 meets any tolerance or budget)")  # an exact run has no budgets
    return replace(solved, method=options.method,
                   choice=replace(solved.choice, reason=reason, predicted_exact_seconds=None))


def _check_fits(rep: SpectrumReport, inputs: Inputs) -> None:
    """``ValueError`` naming what does not fit when ``rep``, read from the cache, is not a
    spectrum of these inputs' Hessian. The digest only detects damage: an entry
    rewritten with its digest recomputed (another model's result under this key, an edited
    spectrum) must not give a verdict, so what can be checked cheaply is: the Hessian's
    dimension and tensors, rules whose weights form a measure, and extremes that are the
    rules' own."""
    named = hessian_parameters(inputs.model, inputs.selection)
    dim = sum(p.numel() for _, p in named)
    if (rep.params_hessian, rep.quadrature.dim) != (dim, dim):
        raise ValueError(f"a spectrum of dimension {rep.quadrature.dim:,}, not this Hessian's {dim:,}")
    if [(n, tuple(g.shape)) for n, g in rep.gradient.items()] != [(n, (p.numel(),)) for n, p in named]:
        raise ValueError("its gradient is not over this Hessian's tensors")
    _check_gradient(rep)
    check_stored_rules([quad for quad in (rep.quadrature, rep.half) if quad is not None])
    if (rep.lambda_max, rep.lambda_min) != extreme_nodes(rep.quadrature):
        raise ValueError("its λmax and λmin are not its rules' extreme nodes")
    losses = np.asarray(rep.batch_losses)
    if losses.ndim != 1 or losses.size == 0 or not np.all(np.isfinite(losses)):
        raise ValueError("its per-batch losses are not a finite list")
    if losses.size != len(inputs.batches):  # ε is their std: 9 of 12 read back moved ρ* by 1.3 points
        raise ValueError(f"it holds {losses.size} per-batch losses, not one for each of these data's "
                         f"{len(inputs.batches)} batches")
    # what a computed spectrum always holds as a finite number (a rewritten NaN or inf was a hit,
    # printed and gated on); the negative mass is its rule's own
    finite = {"loss": rep.loss, "trace": rep.trace, "gradient norm": rep.gradient_norm,
              "trace's standard error": rep.trace_stderr}
    if (name := next((n for n, v in finite.items() if v is not None and not math.isfinite(v)), None)) is not None:
        raise ValueError(f"its {name} is not a finite number")
    if rep.trace_plus_minus is not None and not rep.trace_plus_minus >= 0:  # inf for one probe, never NaN
        raise ValueError("its trace's ± is not a number ≥ 0")
    # what a run measures as a finite number ≥ 0, at which the rounding part of ρ*'s ± is taken
    errors = {"products' error": rep.quadrature.product_error, "slice's products' error": rep.quadrature.slice_error}
    if (name := next((n for n, v in errors.items() if v is not None and not 0 <= v < math.inf), None)) is not None:
        raise ValueError(f"its {name} is not a finite number ≥ 0")
    if rep.negative_mass != negative_mass_of(rep.quadrature):
        raise ValueError("its negative mass is not its rule's")
    if rep.limit_ratio is not None and not 0 <= rep.limit_ratio <= 1:
        raise ValueError("its limit ratio is not in [0, 1]")


# how far a stored gradient's norm, summed again in float64, may differ from the norm stored beside
# it (the products' dtype's, float32 at least: about 1e-7 of itself on a small model, more on millions)
GRADIENT_NORM_RTOL = 1e-3


def _check_gradient(rep: SpectrumReport) -> None:
    """``ValueError`` unless the stored gradient is finite and has the stored norm: it gives the
    first-order warning (a NaN read back dropped it in silence: ``first_order_change`` null)."""
    norm = math.sqrt(sum(float(g.double().square().sum()) for g in rep.gradient.values()))
    if not math.isfinite(norm):
        raise ValueError("its gradient is not finite")
    if not math.isclose(norm, rep.gradient_norm, rel_tol=GRADIENT_NORM_RTOL, abs_tol=1e-12):
        raise ValueError(f"its gradient's norm is {norm:.6g}, not the {rep.gradient_norm:.6g} stored with it")


def check_stored_rules(quadratures: "Iterable[SpectralQuadrature]") -> None:
    """``ValueError`` when a quadrature rule read from the cache is not a measure
    (``check_quadrature``): a miss, as a damaged entry is, not an error of the inputs."""
    from prunelimit.theory.statdim import check_quadrature

    try:
        for quad in quadratures:
            check_quadrature(quad.nodes, quad.weights)
    except (UsageError, NumericalError) as exc:
        raise ValueError(str(exc)) from None


def stored_result(store: "Store | None", key: str | None, kind: str, expected: type,
                  adjust: "Callable[[Any], Any | None] | None" = None,
                  check: "Callable[[Any], None] | None" = None):
    """The ``kind`` result ``store`` holds under ``key`` (:func:`result_keys`; ``adjust``: fitted to the caller's options, ``None`` when it cannot be), else ``None``.
    ``check`` raises ``ValueError`` for a stored result that does not fit the inputs: a
    miss, with a warning, like a damaged entry.
    Under torchrun, a result only when every rank read the same one (each node has its own
    cache folder, which may be unusable on one): a rank that computes waits for the others
    in every product."""
    import hashlib

    from prunelimit.cache import encode_entry, from_entry
    from prunelimit.distributed import active, all_agree

    entry = found = None
    if key is not None and (entry := store.load(key, kind)) is not None:
        try:
            found = from_entry(entry, expected)
            if check is not None:
                check(found)
        except ValueError as exc:
            found = None
            store.warn(f"ignoring cache entry {store.entry_path(key)} ({exc}); {store.recomputing}")
        if found is not None and adjust is not None:
            found = adjust(found)
    if not active():  # no rank to agree with: not encoded again to be hashed (1.5 s of a 25M-weight entry)
        return found
    return found if all_agree(None if found is None else hashlib.sha256(encode_entry(entry, key, kind)).hexdigest()) \
        else None


def store_result(store: "Store | None", key: str | None, kind: str, result) -> None:
    """Keep ``result`` for :func:`stored_result`; one the store cannot hold runs uncached."""
    from prunelimit.cache import to_entry

    try:
        if key is not None:
            store.save(key, kind, to_entry(result))
    except TypeError as exc:  # a result field the store cannot hold: run uncached
        store.warn(f"{kind} not cached ({exc})")


def input_keys(inputs: Inputs, store: "Store | None") -> "InputKeys | None":
    """What keys ``inputs``' results in ``store`` (``cache.InputKeys``), for one command to share
    between its results: each reads every tensor and runs the loss witness; ``None`` without a store."""
    from prunelimit.cache import InputKeys, remembered_digest

    return None if store is None else InputKeys(inputs, remembered_digest(store))


def result_keys(inputs: Inputs, store: "Store | None",
                keyed: "Callable[[Inputs, Any], Any]" = _keyed_options,
                read: "InputKeys | None" = None) -> Callable[[Any, str], str | None]:
    """The key of a ``kind`` result computed from ``inputs`` with ``options``, as the spectrum keys
    them (``keyed``: ``_keyed_options``; another result passes the dataclass of what it reads
    besides the inputs), for each ``(options, kind)`` a lookup tries: ``inputs`` are read once
    for all (``cache.InputKeys``; ``read``: the caller's, from :func:`input_keys`). ``None`` without a
    store or when the key cannot be read."""
    keys = read if read is not None else input_keys(inputs, store)

    def key(options: CurvatureOptions, kind: str) -> str | None:
        if keys is None:
            return None
        said = keys.unread is not None  # at the lookup's first key: one warning, not one a key
        try:
            return keys(kind, keyed(inputs, options))
        except TypeError as exc:  # an object the key cannot read: computed, never stored
            if not said:
                store.warn(f"{kind} not cached ({exc})")
            return None
    return key


