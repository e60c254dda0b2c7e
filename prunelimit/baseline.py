"""Whether a stored ``bounds`` report can stand as a gate's baseline for the model at hand.

A limit is comparable only to one computed the same way on the same problem: the same
arithmetic (``--method paper``'s grid, or the spectrum's: ``default``, ``slq`` and ``exact``
estimate one spectrum, and differ with a warning), the same Hessian set (D) and prunable set (N), the same analysis data
(the sha256 fingerprint of the batches' contents) and the same loss (another loss is
another Hessian; compared when both reports record it). A baseline that differs in any of
these, or computed along another pruning path (``scope``: another quantity), is refused,
with the reason, unless the user compares anyway; options that move the numbers without
changing the problem (ε, η, the bound mode, the negative-curvature rule, the Hessian's
subsample of the data) only warn, as does a report written by another prunelimit version
(its methods may have changed). A report written before these were recorded is compared
with a warning. A baseline for the measured limit alone (``use: actual``) is compared
without the method and the options that only move a prediction: the search needs ε alone,
so a baseline that a measured rule reads and that was searched with another ε (the loss
criterion ``loss ≤ L + ε``) holds another quantity and is refused like another data set.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Collection, Iterable, Sequence

from prunelimit.errors import InputError, UsageError, option, option_flag, said
from prunelimit.report.notebook import brief_recorded
from prunelimit.report.safe import clipped

if TYPE_CHECKING:
    import torch

    from prunelimit.inputs import Inputs

# Options that change ρ*, ρ_L or ρ_U without changing what is analysed: a difference warns.
NUMBER_OPTIONS = ("epsilon", "eta", "bound_mode", "negative", "hessian_samples")
# ... and the one that moves a measured limit (the loss criterion's ε)
MEASURED_OPTIONS = ("epsilon",)


@brief_recorded  # at a prompt (result.provenance): the fields recorded, digests shortened
@dataclass(frozen=True)
class Provenance:
    """What a limit was computed from: the fields a comparison needs (``None``: not recorded)."""

    method: str | None
    hessian: int | None
    prunable: int | None
    fingerprint: str | None
    options: dict[str, Any]
    weights: str | None = None  # sha256 of the model's state: same weights (never compared for a baseline)
    loss: str | None = None  # the loss function (``loss_name``); older reports do not record it
    version: str | None = None  # the prunelimit that computed it; older reports do not record it
    # sha256 of the prunable and the Hessian tensors' names and shapes: which tensors D and N
    # count (another --include/--exclude of layers of one size leaves D and N as they were)
    layout: str | None = None
    # the analysis data's samples and the classes a curvature subset is drawn by (0: no strata),
    # which resolve a ``hessian_samples`` spelling to the subset it draws (``drawn_subset``);
    # known for a run, not recorded in a report (a baseline on the same data resolves alike)
    samples: tuple[int, int] | None = None
    # sha256 of the TorchScript the model holds, without its weights (``None``: none, or not
    # recorded): two archives of one state dict compute otherwise when their code does
    code: str | None = None
    # sha256 of which variant of a TorchScript class or function each module runs, where the model holds
    # two of one (``None``: it holds none, or not recorded): ``code`` leaves out TorchScript's
    # numbering, so an archive with two modules' variants (a constant compiled into their methods, or
    # into a function each calls) swapped reads alike there
    classes: str | None = None
    # ``code`` as reports saved before computed it, with the example inputs of a trace made in this
    # process (``None``: the model holds none; never recorded): such a report's code compares with either
    code_as_traced: str | None = None
    # sha256 of every tensor the TorchScript holds, where its modules hold one outside the state dict (a
    # plain tensor attribute of a scripted module: ``self.scale = torch.tensor(0.2)``), which neither the
    # weights' fingerprint nor ``code`` sees (``None``: they hold none, or not recorded)
    tensors: str | None = None
    # ``code``, ``classes`` and ``tensors`` as reports saved before computed them, their code by its
    # files, not its definitions (``None`` where those are; never recorded): such a report's compare with either
    code_by_file: str | None = None
    classes_by_file: str | None = None
    tensors_by_file: str | None = None
    # ``code``, ``classes`` and ``tensors`` as reports saved before computed them, a numbered name torch bound to
    # a temporary for its length alone not put back (``cache._unhoisted``; never recorded): such a report's compare too
    code_printed: str | None = None
    classes_printed: str | None = None
    tensors_printed: str | None = None
    # ``classes`` as reports saved before recorded it, without which variant of a function compiled twice each
    # call names (``None`` where the model holds no such function; never recorded): such a report cannot tell
    # this model from one with the variants swapped, and says so
    classes_uncalled: str | None = None
    # the custom operators defined in Python that the TorchScript calls, by name (``None``: none; never recorded:
    # their Python is in ``code``), which a refusal names
    operators: str | None = None
    # sha256 of the Python the model's modules outside TorchScript run (an eager module's classes, the functions
    # and values they read, a custom autograd Function's backward), as the result cache keys it (``None``: every
    # module is TorchScript, or not recorded): two eager models of one state dict compute otherwise when it differs
    python: str | None = None
    # sha256 of what the model and the loss read besides the state dict and their code (``cache.reads_fingerprint``:
    # a buffer left out of the state dict, a file, folder or environment variable the code names or a file it opened;
    # ``None``: it reads none, or not recorded): two builds of one state dict and code compute otherwise when it differs
    reads: str | None = None
    # sha256 of the installed packages other than torch, numpy and scipy whose code the model's and the loss's Python
    # run (``cache.package_identity``: each distribution's version and installed files, as the result cache keys them;
    # ``None``: none, or not recorded): their code is named alone in ``python``, so a reinstall of the user's own
    # package that moves the gradient alone kept it
    packages: str | None = None
    # why this model's code cannot be read (``None``: it can), which ``code`` and ``python`` then leave null:
    # known for a run, recorded in a report as both null
    unread: str | None = None
    # the device type and torch's float settings it was computed at (``precision_now``; ``None``:
    # older reports): a TF32 GPU run rounds otherwise than a CPU one, which a gate's drop line names
    precision: dict[str, Any] | None = None
    # the float types of the model's parameters (``float64``, ``float32/float64``; ``None``: older
    # reports, or none): the data is read in the model's type, so a float64 build of a factory has
    # other weights and batches than its float32 build, and the refusal says why, not "other samples"
    dtype: str | None = None


def provenance_json(p: Provenance | None, hessian: int, prunable: int) -> dict[str, Any]:
    """What a report records of its provenance (the keys :func:`recorded` reads back), D and N
    as given; ``None`` for what ``p`` (or its absence) does not know."""
    return {
        "params": {"hessian": hessian, "prunable": prunable},
        "data": {"fingerprint": None if p is None else p.fingerprint, "loss": None if p is None else p.loss},
        "weights": {"fingerprint": None if p is None else p.weights, "layout": None if p is None else p.layout,
                    "code": None if p is None else p.code, "classes": None if p is None else p.classes,
                    "tensors": None if p is None else p.tensors, "dtype": None if p is None else p.dtype,
                    "python": None if p is None else p.python, "reads": None if p is None else p.reads,
                    "packages": None if p is None else p.packages},
        "prunelimit": None if p is None else p.version,
        "options": None if p is None else p.options,
        "precision": None if p is None else p.precision,
    }


_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def recorded(report: dict[str, Any], what: str) -> Provenance:
    """The provenance a ``bounds``/``verify`` JSON document (``what``: ``baseline FILE``, or
    the file) records; an ``InputError`` (exit 3) naming the entry when one is there but of
    another JSON type than prunelimit writes: compared as it stood, a number for a
    fingerprint was an internal error, and options that are no object compared no option."""
    params, data, options, weights = (_entry(report, key, dict, "an object", what) or {}
                                      for key in ("params", "data", "options", "weights"))
    count = (int, "a whole number")
    text = (str, "a string")
    return Provenance(_entry(report, "method", *text, what=what),
                      _entry(params, "hessian", *count, what=what, parent="params"),
                      _entry(params, "prunable", *count, what=what, parent="params"),
                      _entry(data, "fingerprint", *text, what=what, parent="data"), options,
                      _entry(weights, "fingerprint", *text, what=what, parent="weights"),
                      _entry(data, "loss", *text, what=what, parent="data"),
                      _entry(report, "prunelimit", *text, what=what),
                      _entry(weights, "layout", *text, what=what, parent="weights"),
                      code=_entry(weights, "code", *text, what=what, parent="weights"),
                      classes=_entry(weights, "classes", *text, what=what, parent="weights"),
                      tensors=_entry(weights, "tensors", *text, what=what, parent="weights"),
                      python=_entry(weights, "python", *text, what=what, parent="weights"),
                      reads=_entry(weights, "reads", *text, what=what, parent="weights"),
                      packages=_entry(weights, "packages", *text, what=what, parent="weights"),
                      dtype=_entry(weights, "dtype", *text, what=what, parent="weights"),
                      precision=_entry(report, "precision", dict, "an object", what))


def _entry(doc: dict[str, Any], key: str, kind: type, kind_name: str, what: str, parent: str = "") -> Any:
    """``doc[key]`` when absent, null or a ``kind`` (a count: a whole number, not a boolean); else an ``InputError``."""
    value = doc.get(key)
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    found = _JSON_KINDS.get(type(value), "a number")
    raise InputError(f"{what}: its {parent + '.' if parent else ''}{key} is {found}, not {kind_name}; the report is "
                     f"damaged: store a new one with {stored_with('`prunelimit bounds --json`')}")


def saved_from_python(command: str = "bounds") -> str:
    """How a library caller writes ``command``'s report file: the result's document with its
    schema key, which a bare ``to_json()`` leaves out and a saved report must hold."""
    return f"json.dump(prunelimit.report.jsonout.document({command!r}, prunelimit.{command}(model, data).to_json()), file)"


def stored_with(command_line: str, command: str = "bounds") -> str:
    """How a report file is written, in each reader's words (``said``): ``command_line``, the
    command's ``--json``, or :func:`saved_from_python` (a library caller was told the command line)."""
    return said(command_line, saved_from_python(command))


def loss_name(loss_fn: Any) -> str:
    """The loss a limit is computed for, as reports record it: ``ce``/``mse`` for the built-in
    ones, else the qualified name of the function or of a library criterion's class, with
    what the criterion was built with (``_settings``): two settings are two losses."""
    from prunelimit.data.batches import cross_entropy_loss, mse_loss

    if loss_fn is cross_entropy_loss or loss_fn is mse_loss:
        return "ce" if loss_fn is cross_entropy_loss else "mse"
    import sys
    from pathlib import Path

    from prunelimit.specs import USER_MODULE_PREFIX

    target = getattr(loss_fn, "criterion", loss_fn)  # prunelimit.data.loss.CriterionLoss
    if (plain_name := plain_criterion(target)) is not None:  # torch's own ce/mse as a criterion: the same loss
        return plain_name
    named = target if hasattr(target, "__qualname__") else type(target)
    module = getattr(named, "__module__", None) or "?"
    # a --loss file.py:fn: named as typed, wherever the checkout is
    where = f"{Path(getattr(sys.modules.get(module), '__file__', None) or '?').name}:" \
        if module.startswith(USER_MODULE_PREFIX) else f"{module}."
    return f"{where}{named.__qualname__}{_settings(target)}"


def _settings(criterion: Any) -> str:
    """``(name=value, …, tensors=…)``: what a criterion object was built with (its public
    attributes, its submodules' too, and a hash of its tensors: a class weight is a buffer),
    so that ``CrossEntropyLoss(label_smoothing=0.1)`` and ``CrossEntropyLoss(weight=w)``
    record apart; ``functools.partial`` shows its function and arguments; ``""`` for a plain
    function its name identifies, ``(code=…)`` for one it does not (:func:`_unnamed`)."""
    import functools
    import inspect

    from torch import nn

    from prunelimit.cache import tensors_fingerprint

    tensors: dict[str, Any] = {}
    if isinstance(criterion, functools.partial):
        fields = [loss_name(criterion.func)] + [_value(v, tensors, str(i)) for i, v in enumerate(criterion.args)]
        named = sorted(criterion.keywords.items())
    elif hasattr(criterion, "__dict__") and not inspect.isroutine(criterion) and not inspect.isclass(criterion):
        owners = criterion.named_modules() if isinstance(criterion, nn.Module) else [("", criterion)]
        if isinstance(criterion, nn.Module):
            tensors.update(criterion.state_dict())
        fields, named = [], [(f"{prefix}.{key}" if prefix else key, value) for prefix, owner in owners
                             for key, value in sorted(vars(owner).items())
                             if not key.startswith("_") and key != "training" and not isinstance(value, nn.Module)]
    elif inspect.isfunction(criterion) and _unnamed(criterion):
        return f"(code={_function_fingerprint(criterion) or UNREAD_CODE})"
    elif inspect.isroutine(criterion) or inspect.isclass(criterion):
        return ""
    else:  # an object without attributes of its own: its class alone
        fields, named = [], []
    fields += [f"{key}={_value(value, tensors, key)}" for key, value in named]
    if tensors:
        fields.append(f"tensors={tensors_fingerprint(sorted(tensors.items()))[:16]}")
    # an object of the user's class (a --loss file's callable, a notebook's criterion): what it computes is
    # that class's code, which an edit that moves the gradient alone changes under the same name and settings
    if not isinstance(criterion, functools.partial) and _unnamed(type(criterion), criterion):
        fields.append(f"code={_function_fingerprint(type(criterion)) or UNREAD_CODE}")
    return f"({', '.join(fields)})" if fields else ""


def _unnamed(function: Any, instance: Any = None) -> bool:
    """Whether ``function``'s (or a class's, of ``instance``) qualified name leaves what it computes
    open: a lambda (two in a notebook are both ``__main__.<lambda>``), one made within another function (a factory's,
    its captured values its settings), one of ``__main__`` (a notebook cell run again with
    another body) or one of the user's own code (a ``--loss`` file's): its file names it, but
    what it computes is that file's code and what it reads, TorchScript it loads beside it
    included, which change under the same name. An installed package's function is its
    version's, which names it."""
    from prunelimit.cache import _object_file, is_installed

    return "<lambda>" in function.__qualname__ or "<locals>" in function.__qualname__ \
        or function.__module__ == "__main__" \
        or not is_installed(_object_file(function if instance is None else instance))


def _function_fingerprint(function: Any) -> str | None:
    """A 16-hex sha256 of what ``function`` (or a class) computes with, as the result cache keys the user's
    code (``cache._Values``: its code, defaults, closure cells and the globals it reads, alike
    in every process). Two losses a prediction was computed for were recorded alike
    (``__main__.<lambda>``), and ``prediction_from=`` of the one was read for the other
    without a word. ``None`` where what it reads cannot be read (reading the user's objects runs
    their code: anything can fail), as the cache then stores nothing: recorded as :data:`UNREAD_CODE`."""
    import hashlib

    from prunelimit.cache import _Values

    digest = hashlib.sha256()
    try:
        _Values(digest, ()).update("loss", function)
    except Exception:  # noqa: BLE001 - a report is still written, as before this was recorded
        return None
    return digest.hexdigest()[:16]


def _value(value: Any, tensors: dict[str, Any], key: str) -> str:
    """A setting as recorded: a plain value by its repr, a tensor by name (its bytes enter
    ``tensors``' hash), anything else by its type."""
    import torch

    if isinstance(value, torch.Tensor):
        tensors[key] = value
        return "<tensor>"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_value(v, tensors, f"{key}.{i}") for i, v in enumerate(value)) + ")"
    return type(value).__qualname__


def plain_criterion(criterion: Any) -> str | None:
    """``ce``/``mse`` for torch's cross-entropy or squared error in their default form
    (the function or a default-built module), which compute the built-in losses."""
    import torch.nn.functional as F
    from torch import nn

    if criterion is F.cross_entropy or criterion is F.mse_loss:
        return "ce" if criterion is F.cross_entropy else "mse"
    if type(criterion) is nn.CrossEntropyLoss and criterion.weight is None and criterion.reduction == "mean" \
            and criterion.ignore_index == -100 and criterion.label_smoothing == 0.0:
        return "ce"
    if type(criterion) is nn.MSELoss and criterion.reduction == "mean":
        return "mse"
    return None


def differences(baseline: Provenance, current: Provenance,
                measured: bool = False) -> tuple[list[str], list[str], list[str]]:
    """(incompatible, differing options, unrecorded): reasons in words for each kind.
    ``measured``: compared as measured limits, which no curvature method or option but ε moves."""
    fields = (("method", "method"), ("D (Hessian parameters)", "hessian"), ("N (prunable weights)", "prunable"),
              ("data fingerprint", "fingerprint"), ("tensor layout", "layout"))
    fields = fields[1:] if measured else fields
    incompatible, unrecorded = [], []
    method_note = []
    if not measured and baseline.method is not None and current.method is not None \
            and arithmetic(baseline.method) == arithmetic(current.method) and baseline.method != current.method:
        # default, slq and exact estimate one spectrum (default runs one of the others): the same
        # quantity, compared with a warning; only the paper arithmetic's grid limit is another
        method_note.append(f"method {clipped(baseline.method)} vs {current.method} here")
        baseline = replace(baseline, method=current.method)
    if baseline.loss is None:  # a report older than data.loss: another loss would pass unsaid
        unrecorded.append("loss")
    elif current.loss is not None and baseline.loss != current.loss:
        if current.loss.startswith(f"{baseline.loss}(") or baseline.loss == _LOSS_CODE.sub("", current.loss):
            unrecorded.append("loss settings")  # an older report: the criterion without its settings or its code
        else:
            # a criterion is named with its settings: longer than other values, still bounded
            incompatible.append(f"loss {clipped(baseline.loss, 500)} vs {current.loss} here")
    for label, name in fields:
        old, new = getattr(baseline, name), getattr(current, name)
        if old is None:
            unrecorded.append(label)
        elif new is not None and old != new:
            hashed = name in ("fingerprint", "layout")
            shown = (lambda v: f"{v[:12]}…") if hashed else (lambda v: f"{v:,}" if isinstance(v, int) else clipped(v))
            # the hash covers the batching too: say so, as the samples alone may be the same
            why = {"fingerprint": f" (the data read in the model's float type: {other_types(baseline, current)})"
                   if other_types(baseline, current) else " (other analysis batches: samples, their order or the batch size)",
                   "layout": f" (other prunable or Hessian tensors: another {said('--include/--exclude', 'include/exclude')}, given or "
                             "recorded in a pruned checkpoint, or renamed layers)"}.get(name, "")
            incompatible.append(f"{label} {shown(old)} vs {shown(new)} here{why}")
    options = method_note + option_differences(baseline.options, current.options,
                                               MEASURED_OPTIONS if measured else NUMBER_OPTIONS, current.samples)
    return incompatible, options, unrecorded


# the code a loss name records where the user's function or class cannot be read (``_settings``): a report
# of it is not read for any loss, nor a report for it (``_check_code_read``)
UNREAD_CODE = "?"
# the code a loss name records of a user's class (``_settings``), last among its settings
_LOSS_CODE = re.compile(r", code=[0-9a-f]+(?=\)$)")


def other_types(baseline: Provenance, current: Provenance) -> str:
    """``float32 there, float64 here`` where both record the model's float types and they
    differ; ``""`` otherwise."""
    if baseline.dtype is None or current.dtype is None or baseline.dtype == current.dtype:
        return ""
    return f"{clipped(baseline.dtype)} there, {current.dtype} here"


def option_differences(recorded: dict[str, Any], current: dict[str, Any], names: Iterable[str],
                       samples: tuple[int, int] | None = None) -> list[str]:
    """``epsilon 0.02 vs 0.05 here`` for each of ``names`` that ``recorded`` (a report's
    ``options``) holds at another value than ``current``, compared as :func:`_option` does."""
    return [f"{k} {_shown_option(recorded[k])} vs {_shown_option(current.get(k))} here" for k in names
            if k in recorded and _option(k, recorded[k], samples) != _option(k, current.get(k), samples)]


def arithmetic(method: Any) -> Any:
    """What a ``--method`` computes a limit by: ``paper`` its own grid arithmetic, the others
    (``default``, ``slq``, ``exact``) the spectrum's, exact or estimated within a stated ±."""
    return method if method == "paper" else "spectrum"


def _shown_option(value: Any) -> Any:
    """An option as the user set it: ``None`` is the default a run derives (ε from the
    per-batch losses, the Hessian sample count from the data)."""
    return "auto" if value is None else clipped(value)


def _option(name: str, value: Any, samples: tuple[int, int] | None = None) -> Any:
    """An option's value as compared: ``hessian_samples`` as the subset it draws of the data's
    ``samples`` (total, classes: ``drawn_subset``), so ``auto`` and the count it resolves to,
    or ``all`` and a count of at least the data's, are one; without ``samples``, ``auto`` and
    ``all`` are one (every sample below the subsampling threshold, where a baseline gate runs,
    and the guide tells gates to pass ``all``) and a number of samples differs from both."""
    from prunelimit.data.subsample import drawn_subset

    if name != "hessian_samples":
        return value
    if samples is not None and (value in (None, "auto", "all") or (isinstance(value, int) and value > 0)):
        return drawn_subset(value, *samples)
    return "all" if value in ("auto", None) else value


def check_baselines(baselines: Sequence[tuple[str, dict[str, Any]]], current: Provenance,
                    allow_incompatible: bool = False, measured: Collection[str] = (),
                    actual: Collection[str] = ()) -> list[str]:
    """Refuse (``UsageError``, exit 2) the first baseline that is not comparable with
    ``current``, unless ``allow_incompatible``; return the warnings for the rest. The
    baselines named in ``measured`` are compared as measured limits (``differences``).
    A baseline along another pruning path (``scope``) holds another quantity: refused, as is
    one named in ``actual`` (a measured rule reads its limit) searched with another ε."""
    warns = []
    for path, report in baselines:
        old = recorded(report, f"baseline {path}")
        if _recorded_subset(report) != "unrecorded":  # the samples it took, not its option: ``sample_notes``
            old = replace(old, options={k: v for k, v in old.options.items() if k != "hessian_samples"})
        incompatible, options, unrecorded = differences(old, current, path in measured)
        if path in actual:  # the measured limit is the search under loss ≤ L + ε: another ε, another limit
            criterion = option_differences(old.options, current.options, MEASURED_OPTIONS)
            incompatible += [f"{c} (the measured limit's loss criterion)" for c in criterion]
            options = [o for o in options if o not in criterion]
        scopes = [_scope(p.options.get("scope")) for p in (old, current)]
        if scopes[0] != scopes[1]:
            incompatible.append(f"scope {scopes[0]} vs {scopes[1]} here (another pruning path)")
        if incompatible and not allow_incompatible:
            command = "verify" if path in measured else "bounds"
            stored = stored_with(f"prunelimit {command} MODEL --json > baseline.json", command)
            raise UsageError(f"baseline {path} is not comparable with this model: {'; '.join(incompatible)}; store "
                             f"a new one ({stored}) or pass {_allow_incompatible()}")
        if incompatible:
            warns.append(f"baseline {path} compared anyway ({_allow_incompatible()}): {'; '.join(incompatible)}")
        if options:
            warns.append(f"baseline {path} was computed with other options: {'; '.join(options)}")
        warns += version_notes(f"baseline {path}", old, current)
        if unrecorded:
            warns.append(f"baseline {path} does not record its {', '.join(unrecorded)} (an older report): compared "
                         "as is; store a new one to have it checked")
    return warns


def _scope(value: Any) -> str:
    """A recorded ``scope`` option: ``global`` when a report does not record one."""
    return "global" if value is None else clipped(value)


def sample_notes(baselines: Sequence[tuple[str, dict[str, Any]]], current: Provenance,
                 sample: dict[str, Any] | None) -> list[str]:
    """A warning for each baseline whose Hessian was taken over another number of samples
    than this run's ``sample`` (its ``spectrum.hessian_samples`` entry): what each really
    took, known only once both ran (``auto`` takes all or a subset by the data's size and the
    method, and the exact spectrum takes all whatever the option), so a baseline that records
    it is compared by it, not by its ``hessian_samples`` option (``check_baselines``)."""
    notes, new = [], _subset(sample)
    for path, report in baselines:
        old = _recorded_subset(report)
        option = recorded(report, f"baseline {path}").options.get("hessian_samples")
        if "unrecorded" not in (old, new) and old != new:
            said = [f"{n:,} samples" if n is not None else "every sample" for n in (old, new)]
            both_auto = all(v in (None, "auto") for v in (option, current.options.get("hessian_samples")))
            notes.append(f"baseline {path} took its Hessian over {said[0]}, this run over {said[1]}: ρ* moves with "
                         f"the curvature sample; {_auto_advice() if both_auto else _same_advice()}")
    return notes


def _allow_incompatible() -> str:
    """The option that compares an incompatible baseline anyway, as the reader names it."""
    return said("--allow-incompatible-baseline", "allow_incompatible=True")


def _same_advice() -> str:
    return f"compare runs with the same {said(option_flag('hessian_samples'), 'hessian_samples')} (all: every sample)"


def _auto_advice() -> str:
    """Why two runs of the same ``auto`` took different samples: a baseline stored before its
    rule changed subsampled data it now takes all of."""
    from prunelimit.data.subsample import AUTO_HESSIAN_SAMPLES, DATA_PARTS

    return (f"both ran {option('hessian_samples', 'auto')}, which takes a subset only under SLQ and only of data of "
            f"at least {DATA_PARTS} times its size ({DATA_PARTS * AUTO_HESSIAN_SAMPLES:,} samples; before prunelimit "
            f"changed that rule, at least {2 * AUTO_HESSIAN_SAMPLES:,}, and before that more than "
            f"{AUTO_HESSIAN_SAMPLES:,}): store a new baseline, or run both with {option('hessian_samples', 'all')}")


def _recorded_subset(report: dict[str, Any]) -> int | None | str:
    """The samples a report's Hessian was taken over (``_subset`` of its ``spectrum.hessian_samples``)."""
    spectrum = report.get("spectrum")
    return _subset(spectrum.get("hessian_samples", "unrecorded") if isinstance(spectrum, dict) else "unrecorded")


def _subset(sample: Any) -> int | None | str:
    """The samples a ``hessian_samples`` entry says the Hessian was taken over: a count,
    ``None`` for all of them, or ``"unrecorded"`` (an older report, or another shape)."""
    if sample is None:
        return None
    if not isinstance(sample, dict) or not isinstance(sample.get("used"), int):
        return "unrecorded"
    return None if sample["used"] == sample.get("total") else sample["used"]


def version_notes(what: str, old: Provenance, current: Provenance) -> list[str]:
    """A warning when ``what`` was computed by another prunelimit version than ``current``."""
    if old.version is None or current.version is None or old.version == current.version:
        return []
    return [f"{what} was computed by prunelimit {clipped(old.version)}, this is {current.version}: a change of method "
            "between versions can move the numbers; store a new one to compare like with like"]


def provenance(inputs: "Inputs", options: Any, scope: str = "global", store: Any = None) -> Provenance:
    """The provenance of a limit computed now from ``inputs`` with ``options`` (a
    ``CurvatureOptions``): cheap, no curvature work (the data is hashed once). ``store``: where a
    large file the model reads has its digest remembered (``cache.remembered_digest``), as the
    cache key reads it, rather than hashed again by every command."""
    import dataclasses
    import hashlib

    from prunelimit import __version__
    from prunelimit.cache import data_fingerprint, reads_fingerprint, remembered_digest, weights_fingerprint
    from prunelimit.inputs import float_types
    from prunelimit.models.params import hessian_parameters, prunable_parameters
    from prunelimit.report.jsonout import plain

    model, selection = inputs.model, inputs.selection
    hessian, prunable = hessian_parameters(model, selection), prunable_parameters(model, selection)
    layout = "\n".join(f"{kind} {name} {tuple(p.shape)}" for kind, params in (("prunable", prunable),
                                                                            ("hessian", hessian))
                        for name, p in params)
    # None and "auto" are the same curvature sample (the library's and the CLI's default): recorded alike
    recorded_options = {**plain(dataclasses.asdict(options)), "hessian_samples": options.hessian_samples or "auto",
                        "scope": scope}
    try:
        code, (python, packages), unread = _code(model), _python(model, inputs.loss_fn, inputs.ran), None
    except TypeError as exc:  # recorded as none: a report of it is never compared (check_same_problem)
        code, python, packages, unread = dict.fromkeys(_CODE_FIELDS), None, None, str(exc)
    big = None if store is None else remembered_digest(store)
    try:
        reads = None if unread is not None else reads_fingerprint(inputs, big)
    except TypeError:  # a folder it names is too large to key (nor does the cache store it): null, as reading none
        reads = None
    return Provenance(
        options.method, sum(p.numel() for _, p in hessian), sum(p.numel() for _, p in prunable),
        data_fingerprint(inputs.batches), recorded_options, weights_fingerprint(model), loss_name(inputs.loss_fn),
        __version__, hashlib.sha256(layout.encode()).hexdigest(), _samples(inputs), **code,
        python=python, reads=reads, packages=packages, unread=unread, precision=precision_now(inputs.device),
        dtype="/".join(float_types(model)) or None,
    )


def precision_now(device: "torch.device") -> dict[str, Any]:
    """The float precision a result computed now on ``device`` has: its device type and torch's
    process-wide float settings (``cache.float_precision``, which the result cache keys too),
    each named as a JSON key the docs' dotted paths can name (``fp32_precision:cudnn.conv``
    as ``fp32_precision_cudnn_conv``)."""
    from prunelimit.cache import float_precision

    settings = {key.replace(":", "_").replace(".", "_"): value for key, value in float_precision().items()}
    return {"device": device.type, **settings}


# the differing float settings a drop line names, at most (one TF32 switch changes several)
PRECISION_DIFFERENCES_SHOWN = 3


def precision_difference(now: Any, then: Any) -> str:
    """How the float precision recorded by two reports (``now``, this run's, and ``then``, the
    baseline's: ``precision`` entries) differ, this run's value first: ``device cuda vs cpu``;
    ``""`` where they agree or either records none (an older report)."""
    if not isinstance(now, dict) or not isinstance(then, dict):
        return ""
    differing = [f"{key} {clipped(str(now.get(key)))} vs {clipped(str(then.get(key)))}"
                 for key in dict.fromkeys([*now, *then]) if now.get(key) != then.get(key)]
    shown = differing[:PRECISION_DIFFERENCES_SHOWN]
    more = len(differing) - len(shown)
    return "; ".join(shown) + (f"; {more} more" if more else "")


def _code(model: Any) -> dict[str, str | None]:
    """The digests of the TorchScript ``model`` holds, as ``Provenance``'s fields by name: of its
    code, its weights left out (``code``), of which variant of a class each of its modules runs
    where it holds two of one (``classes``), of its code with a trace's example inputs where it
    holds them (``code_as_traced``), of the whole of it, tensors included, where its modules hold
    tensors outside the state dict (``tensors``), and the first, second and fourth by the files of
    its code, as reports saved before recorded them (``…_by_file``), and by its definitions as torch printed
    them, as reports saved before read them (``…_printed``), and of which variant of a class each module runs
    without the calls of a function compiled twice (``classes_uncalled``); ``None``: it holds none. One that cannot
    be saved (a ``@torch.jit.ignore`` method calls Python) has its ``code`` alone, by its compiled and its Python
    code (``unsaved_fingerprint``), a trace around one alike; ``TypeError`` where that cannot be read either."""
    import hashlib

    from prunelimit.cache import saved_archive, script_operators, scripted_modules, unsaved_fingerprint

    found: list[tuple[str, dict[str, str | None]]] = []
    for name, module in scripted_modules(model):
        try:  # each module saved once for all
            archive = saved_archive(name, module)
        except TypeError:  # a @torch.jit.ignore method calls Python: by its compiled and its Python code
            code = unsaved_fingerprint(module)
            found.append((name, {**dict.fromkeys(_CODE_FIELDS), "code": code, "code_as_traced": code,
                                 "code_by_file": code, "code_printed": code}))
        else:
            found.append((name, _module_digests(archive, module)))

    def joined(field: str) -> str | None:  # the field, where a module has it
        return hashlib.sha256(",".join(f"{name}:{one[field] or '-'}" for name, one in found).encode()).hexdigest() \
            if any(one[field] for _, one in found) else None

    digests = {field: joined(field) for field in _CODE_FIELDS}
    if all(one["code_as_traced"] == one["code_by_file"] for _, one in found):  # no trace's inputs held
        digests["code_as_traced"] = None
    if digests["classes_uncalled"] == digests["classes_printed"]:  # no function compiled twice
        digests["classes_uncalled"] = None
    # the archive names a custom operator, its Python implements it: a backward scaled otherwise moves the
    # gradient alone, code, weights and loss on the data the same; every form of the code holds it, so a report
    # that does not (an older one) is refused
    names, operators = script_operators(model)
    if operators is not None:
        for field in ("code", "code_as_traced", "code_by_file", "code_printed"):
            if digests[field] is not None:
                digests[field] = hashlib.sha256(f"{digests[field]}:{operators}".encode()).hexdigest()
    return {**digests, "operators": names}


def _python(model: Any, loss_fn: Any = None,
            ran: Iterable[tuple[Any, dict[str, Any]]] = ()) -> tuple[str | None, str | None]:
    """sha256 of the Python ``model``'s modules outside TorchScript run, as the result cache keys it
    (``cache._Values``: each module's class, mode, plain attributes and hooks, the functions they call and
    the values those read, torch's global hooks, what the user's code put on installed code and the code of
    ``ran``, what the first batch ran, that none of these nor ``loss_fn`` reaches: a helper the forward
    imports by a name built at run time), its
    tensors left out (``weights.fingerprint`` holds them); ``None`` where every module is TorchScript
    (``_code`` holds it). Then the sha256 of the installed packages that Python and ``loss_fn`` run besides
    torch, numpy and scipy, by what installed them (:data:`NUMERICS`); ``None`` where they run none.
    ``TypeError`` where any of it cannot be read (reading it runs the user's code)."""
    import contextlib
    import hashlib
    import json

    from prunelimit.cache import _Values, eager_modules, package_identity

    eager = eager_modules(model)
    found = _Values(hashlib.sha256(), model.modules())  # the loss apart: weights.python never held it
    with contextlib.suppress(Exception):  # a loss that cannot be read is recorded so by its name (loss_name)
        found.update("loss", loss_fn)
    digest = hashlib.sha256()
    values = _Values(digest, model.modules())
    try:
        if eager:
            values.code_run(eager, [(code, namespace) for code, namespace in ran if id(code) not in found.codes])
    except Exception as exc:  # noqa: BLE001 - the user's objects run their code: anything can fail
        raise TypeError(f"an attribute of the model cannot be read: {type(exc).__name__}") from None
    identities = {name: identity for name in sorted((values.packages | found.packages) - set(NUMERICS))
                  if (identity := package_identity(name)) is not None}
    packages = hashlib.sha256(json.dumps(identities).encode()).hexdigest() if identities else None
    return (digest.hexdigest() if eager else None), packages


# the installed packages a report's weights.packages leaves out: every model runs torch, and prunelimit's numerics
# numpy and scipy; a report is read across their versions, as across prunelimit's own
NUMERICS = ("torch", "numpy", "scipy")


# the digests ``_code`` records of a model's TorchScript: ``Provenance``'s fields
_CODE_FIELDS = ("code", "classes", "code_as_traced", "tensors", "code_by_file", "classes_by_file", "tensors_by_file",
                "code_printed", "classes_printed", "tensors_printed", "classes_uncalled")


def _module_digests(archive: Any, module: Any) -> dict[str, str | None]:
    """``_code``'s digests of one scripted module saved to memory (``archive``), by field."""
    from prunelimit.cache import archive_fingerprint, archive_fingerprints, archive_variants

    more = _holds_more_tensors(archive, module)
    # each digest and its printed one from one pass: the tensors' storages are read once for both
    code, code_printed = archive_fingerprints(archive, code_only=True)
    tensors, tensors_printed = archive_fingerprints(archive) if more else (None, None)
    return {"code": code, "classes": archive_variants(archive),
            "code_as_traced": archive_fingerprint(archive, code_only=True, traced_inputs=True, by_file=True),
            "tensors": tensors,
            "code_by_file": archive_fingerprint(archive, code_only=True, by_file=True),
            "classes_by_file": archive_variants(archive, by_file=True),
            "tensors_by_file": archive_fingerprint(archive, by_file=True) if more else None,
            "code_printed": code_printed,
            "classes_printed": archive_variants(archive, printed=True),
            "tensors_printed": tensors_printed,
            "classes_uncalled": archive_variants(archive, printed=True, called=False)}


def _holds_more_tensors(archive: Any, module: Any) -> bool:
    """Whether the TorchScript ``archive`` of ``module`` (saved to memory) stores tensor data that
    ``module``'s state dict does not view: a plain tensor attribute, which TorchScript keeps with
    the module's tensors (``data/``) but ``state_dict`` leaves out, in a storage of its own (more
    storages than the state dict's) or in the rest of one a state-dict tensor views (sliced from a
    flat storage a parameter is a view of: the storages counted alike)."""
    import zipfile

    with zipfile.ZipFile(archive) as opened:
        stored = sum(1 for info in opened.infolist() if info.filename.split("/", 1)[-1].startswith("data/"))
    views: dict[int, list[Any]] = {}
    for tensor in module.state_dict().values():
        views.setdefault(_storage(tensor), []).append(tensor)
    return stored > len(views) or not all(_viewed_whole(held) for held in views.values())


def _viewed_whole(tensors: list[Any]) -> bool:
    """Whether ``tensors``, views of one storage, view each of its bytes. A view with gaps between
    its elements (``w[::2]``) or with elements overlapping is left out: the bytes it views are taken
    as unviewed unless another view holds them."""
    try:
        size = tensors[0].untyped_storage().nbytes()
    except (NotImplementedError, RuntimeError):  # no storage of its own (sparse): its parts are stored whole
        return True
    spans = sorted((t.storage_offset() * t.element_size(), (t.storage_offset() + t.numel()) * t.element_size())
                   for t in tensors if t.numel() and _dense(t))
    reached = 0
    for start, end in spans:
        if start > reached:
            return False
        reached = max(reached, end)
    return reached >= size


def _dense(tensor: Any) -> bool:
    """Whether ``tensor`` views one run of its storage, each element once (contiguous in some order of its
    dimensions: a transpose is, a slice with a step or an expanded dimension is not)."""
    order = sorted(range(tensor.dim()), key=lambda d: -tensor.stride(d))
    return tensor.permute(order).is_contiguous()


def _storage(tensor: Any) -> int:
    """Which storage ``tensor`` views (its address is 0 for every empty one); a tensor without one
    of its own (sparse: its parts are stored) by itself."""
    try:
        return tensor.untyped_storage()._cdata
    except (NotImplementedError, RuntimeError):
        return id(tensor)


def _samples(inputs: "Inputs") -> tuple[int, int] | None:
    """The analysis data's samples and the classes its curvature subset is drawn by, as
    ``curvature_data`` draws it (``None`` without data)."""
    from prunelimit.api.curvature import drawn_by_class
    from prunelimit.data.batches import total_samples
    from prunelimit.data.subsample import class_count

    if not inputs.batches:
        return None
    return total_samples(inputs.batches), class_count(inputs.batches, drawn_by_class(inputs))


def check_same_problem(path: str, report: dict[str, Any], current: Provenance) -> list[str]:
    """Refuse (``UsageError``, exit 2) a saved prediction computed for other weights, another
    Hessian or prunable set, or other data than ``current``; return warnings for what the
    report does not record. The method and options are the report's own: not compared."""
    old = recorded(report, path)
    _check_code_read(path, report, old, current)
    incompatible, _, unrecorded = differences(replace(old, method=current.method), current)
    if old.weights is not None and current.weights is not None and old.weights != current.weights:
        types = other_types(old, current)
        incompatible.insert(0, f"the weights differ (in float type at least: {types})" if types else "the weights differ")
    # two archives of one state dict (an older report, or an eager model, records no code: not compared)
    if old.code is not None and current.code is not None \
            and old.code not in (current.code, current.code_by_file, current.code_as_traced, current.code_printed):
        incompatible.append("the model's TorchScript differs (its code, a constant compiled into it or a value its "
                            "modules hold besides tensors" + (", or, as an older report recorded it, the example "
                                                              "inputs it was traced on" if current.code_as_traced
                                                              else "")
                            + (f", or the Python of a custom operator it calls ({current.operators})"
                               if current.operators else "") + ")")
    elif old.python is not None and current.python is not None and old.python != current.python:
        incompatible.append("the model's Python code differs (its modules' classes, the functions they call, a custom "
                            "autograd Function's backward and a custom operator's Python included, or a value they "
                            "read besides tensors)")
    elif old.classes is not None and current.classes is not None \
            and old.classes not in (current.classes, current.classes_by_file, current.classes_printed):
        if old.classes == current.classes_uncalled and not incompatible:  # this archive's, or its functions swapped
            raise UsageError(f"{path} cannot be compared with this model: it records which variant of a TorchScript "
                             "class each module runs, not which variant of a function compiled twice each calls (a "
                             "report of an older prunelimit), and this model holds two variants of one function, so a "
                             "report of the model with them swapped between its modules, which moves the gradient "
                             f"alone, would be read for it; store a new one with {stored_with('`prunelimit bounds --json`')}, "
                             f"or drop {option('prediction_from', flag='--from')}")
        # one code with two variants of a class in it: which module runs which
        incompatible.append("which variant of a TorchScript class or function each module runs differs")
    # (weights that differ are said so above: this digest holds them too)
    elif old.tensors is not None and current.tensors is not None \
            and old.tensors not in (current.tensors, current.tensors_by_file, current.tensors_printed) \
            and old.weights == current.weights:
        incompatible.append("a tensor the model's TorchScript holds outside its state dict differs (a plain tensor "
                            "attribute of a module)")
    # null where the model read none (an environment variable it names unset), compared too; absent (an older
    # report): not compared
    weights = report.get("weights") or {}  # an object or none: recorded() refused another
    if "reads" in weights and current.unread is None and old.reads != current.reads:
        incompatible.append("what the model reads besides its state dict and code differs (a buffer the state dict "
                            "leaves out, persistent=False, or a file, folder or environment variable its code names, "
                            "opens or reads)")
    if "packages" in weights and current.unread is None and old.packages != current.packages:
        incompatible.append("the installed code the model or the loss runs differs (a package other than torch, numpy "
                            "and scipy, by its version and installed files: a reinstall of your own)")
    if incompatible:
        raise UsageError(f"{path} was computed for another problem than this model: {'; '.join(incompatible)}; "
                         f"run {said('`prunelimit bounds` on this checkpoint', 'prunelimit.bounds on this model')} "
                         f"and data, or drop {option('prediction_from', flag='--from')}")
    if old.weights is None:
        unrecorded.insert(0, "weights")
    elif current.python is not None and "python" not in (report.get("weights") or {}):
        unrecorded.append("model's Python code")
    if old.weights is not None and current.reads is not None and "reads" not in weights:
        unrecorded.append("model's reads besides its state dict and code")
    if old.weights is not None and current.packages is not None and "packages" not in weights:
        unrecorded.append("model's installed packages")
    notes = version_notes(path, old, current)
    if old.code is not None and old.classes is None and current.classes is not None:
        # one code, which an archive with two modules' variants swapped shares: a swap that moves the
        # forward moves the loss, which check_same_loss compares; one of the gradient alone is not seen
        notes.append(f"{path} does not record which variant of a TorchScript class or function each module runs (an "
                     "older report), and this model holds two variants of one class or function: taken as computed for "
                     "this model, not for one with the variants swapped between its modules; store a new one with "
                     f"{stored_with('`prunelimit bounds --json`')} to have that compared too")
    if old.code is not None and old.tensors is None and current.tensors is not None:
        # one code and state dict, which an archive with another value of such a tensor shares: one that moves
        # the forward moves the loss, which check_same_loss compares; one that moves the gradient alone is not seen.
        # A report that records none for the same code is older too: one sliced from the storage a parameter views
        # was not told apart before (_holds_more_tensors)
        notes.append(f"{path} does not record the tensors this model's TorchScript holds outside its state dict (an "
                     "older report), and it holds some (a plain tensor attribute of a module): taken as computed for "
                     "this model, not for one with other values of them; store a new one with "
                     f"{stored_with('`prunelimit bounds --json`')} to have them compared too")
    if unrecorded:
        notes.append(f"{path} does not record its {', '.join(unrecorded)} (an older report): taken as computed for "
                     "this model")
    # a report of an eager module (its code recorded as null, not left out as by an older report) read for a
    # scripted or traced copy of it, or the reverse: the export a user gates computes as the module did, but
    # Python's code and TorchScript's cannot be compared, so what only the gradient sees is not checked
    eager_report = "code" in weights and old.code is None
    if (eager_report and current.code is not None) or (old.code is not None and current.code is None):
        held, holds = ("no TorchScript (an eager module)", "TorchScript") if current.code is not None else \
            ("TorchScript", "none (an eager module)")
        notes.append(f"{path} was computed for a model holding {held}, and this one holds {holds}: taken as computed "
                     "for this model, its export or source, by the same weights and loss on these data; their code is "
                     "not compared, so a forward that differs only in its gradient is not seen; store a new one with "
                     f"{stored_with('`prunelimit bounds --json`')} on this model to have its code compared too")
    return notes


def _check_code_read(path: str, report: dict[str, Any], old: Provenance, current: Provenance) -> None:
    """Refuse (``UsageError``, exit 2) a saved prediction where this model's code cannot be read
    (``current.unread``: an attribute whose reading fails), or the report's model's could not (it records ``weights.code``
    and ``weights.python`` both null), or the loss's code either side (:data:`UNREAD_CODE`): the weights
    and the loss on the data would be compared, and a report of other code, one that moves the gradient
    alone, read for this model in silence."""
    weights = report.get("weights")
    unread_there = isinstance(weights, dict) and {"code", "python"} <= weights.keys() and old.weights is not None \
        and old.code is None and old.python is None
    unread_loss = f"code={UNREAD_CODE})"  # last in the name
    why = [f"this model's code cannot be read ({current.unread})" if current.unread is not None else
           "the code of the model it was computed for could not be read" if unread_there else "",
           "this loss's code cannot be read" if (current.loss or "").endswith(unread_loss) else
           "the code of the loss it was computed for could not be read" if (old.loss or "").endswith(unread_loss) else ""]
    if any(why):
        raise UsageError(f"{path} cannot be compared with this model: {' and '.join(filter(None, why))}, so a report of "
                         "other code, one that moves the gradient alone, would be read for it; compute the prediction "
                         f"here: drop {option('prediction_from', flag='--from')}")


# How far the model's mean loss on the analysis data may lie from the one a saved prediction
# records, relative, and still be that model's: float rounding of another solver path, device or
# reduction order moves it by ~1e-6 (TF32 convolutions on a GPU more); another model holding the
# same weights (ReLU for Tanh: 1.1 % on the digits MLP) moves it further
LOSS_AGREEMENT = 1e-3
# ... or, as a fraction of the report's ε, absolute: a fit near zero loss (3e-5) moves by percents
# between devices (TF32 logits), yet a tenth of ε leaves its sublevel set, and so ρ*, nearly as it was
LOSS_AGREEMENT_EPSILON = 0.1


def check_same_loss(path: str, report: dict[str, Any], inputs: "Inputs", options: Any) -> None:
    """Refuse (``UsageError``, exit 2) a saved prediction whose recorded loss (``loss``: the mean
    over the analysis data) is not the model's own on those data, within :data:`LOSS_AGREEMENT`
    of it or :data:`LOSS_AGREEMENT_EPSILON` of the report's ε, whichever is larger:
    a model of another architecture holding the same weights (another activation, say) records
    the same weights, data, tensor layout and loss name, and its ρ* was read for the model at
    hand without a word. One pass over the data; a report without a loss is not compared."""
    import numpy as np

    from prunelimit import validate
    from prunelimit.api.curvature import epsilon_losses
    from prunelimit.data.batches import batch_size

    recorded_loss = report.get("loss")
    if not validate.real(recorded_loss) or inputs.batches is None:
        return
    sizes = [batch_size(b) for b in inputs.batches]
    loss = float(np.dot(sizes, epsilon_losses(inputs, options)) / sum(sizes))
    epsilon = report.get("epsilon")
    allowed = max(LOSS_AGREEMENT * max(abs(loss), abs(recorded_loss), 1e-12),
                  LOSS_AGREEMENT_EPSILON * epsilon if validate.real(epsilon) and epsilon > 0 else 0.0)
    if abs(loss - recorded_loss) > allowed:
        raise UsageError(f"{path} was computed for another model than this one: its loss on these data is "
                         f"{recorded_loss:.6g}, and this model's {loss:.6g}, with the same weights (a model of "
                         f"another architecture, or another forward); run "
                         f"{said('`prunelimit bounds` on this checkpoint', 'prunelimit.bounds on this model')} and "
                         f"data, or drop {option('prediction_from', flag='--from')}")


def prediction_document(path: str, saved: Any) -> dict[str, Any]:
    """The document ``--from`` reads a prediction from in ``saved`` (a file's JSON): a
    ``bounds``/``verify`` report or the one a ``gate --json`` report stood on (``stood_on``);
    one that names no schema is left to ``PredictedLimit.from_report``. Anything else is an
    ``InputError`` (exit 3) saying what the file holds: another command's report (a
    ``spectrum``'s ρ* comes without ε, bounds or the model it was computed for), another
    schema version, a gate report of the measured limit alone, JSON that is no object."""
    from prunelimit.gate_rules import REPORT_SCHEMAS, is_gate_report, stood_on

    fix = f"write one with {stored_with('`prunelimit bounds --json`')}"
    if not isinstance(saved, dict):
        kind = _JSON_KINDS.get(type(saved), "a number")
        raise InputError(f"{path} holds {kind}, not a prunelimit bounds report (a JSON object); {fix}")
    report = stood_on(saved)
    if is_gate_report(saved) and (report is saved or not isinstance(report.get("prediction"), dict)):
        raise InputError(f"{path} is a gate report that holds no prediction (its rules measured the limit alone, "
                         "use: actual); " + said("pass a `prunelimit bounds --json` or `verify --json` report, or a "
                                                 "`gate --json` report of a rule on lower or predicted",
                                                 f"pass a bounds or verify report saved as {saved_from_python()} "
                                                 "does, or a gate report of a rule on lower or predicted"))
    schema = report.get("schema")
    if schema is not None and schema not in REPORT_SCHEMAS:
        raise InputError(f"{path} is not a prunelimit bounds report (nor a verify or gate report of one): it is a "
                         f"{str(schema)[:80]!r} document; {fix}")
    return report


def check_bounds_hold_prediction(path: str, report: dict[str, Any]) -> None:
    """Refuse (``InputError``, exit 3) a report whose ``bounds.lower ≤ prediction.ratio ≤
    bounds.upper`` fails, or whose ratio and density (``prediction.density``,
    ``bounds.lower_density``, ``bounds.upper_density``) do not add up to 1: every report
    prunelimit writes solves all three from one spectrum and one root finder and writes
    each beside 1 − itself, so such a file was edited or damaged, and a rule would gate on a
    number nothing computed. Fields that are missing are left to the reader of each."""
    def number(section: str, key: str) -> float | None:
        value = report.get(section, {}).get(key) if isinstance(report.get(section), dict) else None
        if not isinstance(value, (int, float)) or isinstance(value, bool) or abs(value) > sys.float_info.max:
            return None  # an int past float's range is no ratio: the field's own reader refuses it
        return float(value)

    lower, ratio, upper = number("bounds", "lower"), number("prediction", "ratio"), number("bounds", "upper")
    for field, low, high in (("bounds.lower", lower, ratio), ("bounds.upper", ratio, upper)):
        if low is not None and high is not None and low > high + 1e-12:
            raise InputError(f"{path}: ρ_L ≤ ρ* ≤ ρ_U does not hold (bounds.lower {lower}, prediction.ratio {ratio}, "
                             f"bounds.upper {upper}; {field} is out of order): the file was edited or damaged; store it "
                             f"again with {stored_with('`prunelimit bounds --json`')}")
    # each ratio is written beside its density, 1 − ratio: a ratio edited alone, inside its bounds, shows there
    for section, key, density in (("prediction", "ratio", "density"), ("bounds", "lower", "lower_density"),
                                  ("bounds", "upper", "upper_density")):
        value, kept = number(section, key), number(section, density)
        if value is not None and kept is not None and abs(value + kept - 1.0) > 1e-9:
            raise InputError(f"{path}: {section}.{key} {value} and {section}.{density} {kept} do not add up to 1, as "
                             "every report writes them: the file was edited or damaged; store it again with "
                             f"{stored_with('`prunelimit bounds --json`')}")


def saved_report(path: str, inputs: "Inputs", options: Any, scope: str = "global",
                 saved: dict[str, Any] | None = None, scoped: bool = True,
                 known: Provenance | None = None) -> tuple[dict[str, Any], list[str]]:
    """A saved ``bounds``/``verify`` JSON document that predicts for ``inputs`` along ``scope``
    (``--from``), or a ``gate --json`` report of one (``stood_on``), and warnings: refused
    (``UsageError``, exit 2) when computed for another problem (``check_same_problem``) or
    pruning path; an unreadable file, or one that holds no such report
    (:func:`prediction_document`), is an ``InputError``. ``saved``: the document in hand
    (a library caller's ``BoundsReport``), read instead of the file, ``path`` its name.
    ``scoped``: whether the command takes a ``scope`` (gate does not: it gates the global path).
    ``known``: the provenance of ``inputs`` along ``scope`` its caller took already (:func:`provenance`)."""
    from prunelimit.gate_rules import read_report

    report = prediction_document(path, read_report(path, "bounds report") if saved is None else saved)
    check_bounds_hold_prediction(str(path), report)
    notes = check_same_problem(str(path), report, provenance(inputs, options, scope) if known is None else known)
    check_same_loss(str(path), report, inputs, options)
    prediction = report.get("prediction")
    recorded_scope = prediction.get("scope", "global") if isinstance(prediction, dict) else "global"
    recorded_scope = recorded_scope if recorded_scope in ("global", "layer") else "global"
    if recorded_scope != scope and not scoped:
        raise UsageError(f"{path} predicts the limit of {recorded_scope} pruning, and the gate gates the limit of "
                         f"{scope} pruning: store the report with {said('`prunelimit bounds`', 'prunelimit.bounds')} "
                         f"without {option('scope', recorded_scope)}, or drop {option('prediction_from', flag='--from')}")
    if recorded_scope != scope:
        raise UsageError(f"{path} predicts the limit of {recorded_scope} pruning, not {scope}: "
                         f"use {option('scope', recorded_scope)}, or drop {option('prediction_from', flag='--from')} "
                         f"to predict for {scope} pruning")
    return report, notes
