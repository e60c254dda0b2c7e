"""Loss specs: ``ce`` (default), ``mse``, or a user function ``file.py:fn`` / ``module:fn``;
and the library's criteria ``loss(output, target)`` as the same ``fn(model, batch)`` contract."""

from __future__ import annotations

import copy
import functools
import inspect
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from prunelimit.data.batches import Batch, LossFn, cross_entropy_loss, mse_loss
from prunelimit.errors import InputError, UsageError
from prunelimit.specs import parse_spec, resolve_callable

BUILTIN_LOSSES: dict[str, LossFn] = {"ce": cross_entropy_loss, "mse": mse_loss}
LOSS_CONTRACT = "fn(model, batch) -> mean loss"  # what a user's loss function is, as messages say it


def resolve_loss(text: str) -> LossFn:
    """Return ``fn(model, batch) -> mean loss`` for a loss spec."""
    if text in BUILTIN_LOSSES:
        return BUILTIN_LOSSES[text]
    spec = parse_spec(text, "loss")
    if len(spec.args) == 1 and (spec.head.endswith(".py") or "." in spec.head):
        if spec.kwargs:  # a loss is called as fn(model, batch): they would be ignored in silence
            raise UsageError(f"bad loss spec {text!r}: a loss takes no k=v ({', '.join(spec.kwargs)}); it is "
                             f"called as {LOSS_CONTRACT}")
        fn = resolve_callable(spec.head, spec.args[0], "loss", LOSS_CONTRACT)
        check_not_a_criterion(fn, text, spec.args[0])
        check_loss_signature(fn, text)
        return fn
    raise UsageError(f"unknown loss {text!r}; use ce, mse, path/to/file.py:fn or package.module:fn")


def check_not_a_criterion(fn: Callable[..., Any], text: str, name: str) -> None:
    """One of torch's criteria (``nn.CrossEntropyLoss()``, ``F.l1_loss``) takes (output, target):
    its signature binds two arguments too, so it was called as ``fn(model, batch)`` and failed
    on the first batch with a TypeError about a Sequential for a Tensor."""
    kind = _kind(fn)
    if any(kind is known for known in (*_CLASS_CRITERIA, *_POINTWISE_CRITERIA)):
        raise InputError(f"loss {text} is torch's {getattr(kind, '__name__', name)} criterion(output, target), not "
                         f"{LOSS_CONTRACT}; wrap it: def loss(model, batch): return {name}(model(batch[0]), batch[1])")


def check_loss_signature(fn: Callable[..., Any], text: str) -> None:
    """A function that cannot be called as ``fn(model, batch)`` (three parameters, none, a
    class) is named with its parameters before any data is read; it failed on the first
    batch with a TypeError that named neither the file nor the contract."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without one: its first call says what is wrong
        return
    try:
        signature.bind(None, None)
    except TypeError:
        raise InputError(f"loss {text}: {getattr(fn, '__name__', type(fn).__name__)}{signature} cannot be called "
                         f"as fn(model, batch); the loss must be {LOSS_CONTRACT}") from None


def user_loss_name(loss_fn: LossFn) -> str:
    """How messages name a user's loss function: ``file.py:fn``, the file as its code records it
    (as typed for a ``file.py:fn`` spec, the module's file for ``package.module:fn``)."""
    code = getattr(loss_fn, "__code__", None)
    name = getattr(loss_fn, "__qualname__", type(loss_fn).__name__)
    return f"{code.co_filename}:{name}" if code is not None else name


class CriterionLoss:
    """A ``criterion(output, target)`` as prunelimit's ``fn(model, batch)`` loss contract."""

    def __init__(self, criterion: Callable[[Tensor, Tensor], Tensor]) -> None:
        self.criterion = criterion

    def __call__(self, model: nn.Module, batch: Batch) -> Tensor:
        return self.criterion(model(batch[0]), batch[1])

    @property
    def name(self) -> str:
        """How messages name it: ``the L1Loss criterion``, ``the l1_loss criterion``."""
        target = _unwrapped(self.criterion)
        return f"the {getattr(target, '__name__', type(target).__name__)} criterion"

    def to(self, dtype: torch.dtype) -> CriterionLoss:
        """This loss with the criterion's own float tensors (a class ``weight``, ``pos_weight``:
        a module's buffers, a ``functools.partial``'s arguments) in ``dtype``, for a model copy
        in that type (the exact spectrum's float64): left in the model's, they stopped the run
        with torch's ``expected scalar type Double but found Float``."""
        converted = copy.copy(self)
        converted.criterion = _in_dtype(self.criterion, dtype)
        return converted


def _in_dtype(criterion: Any, dtype: torch.dtype) -> Any:
    """``criterion`` with its float tensors in ``dtype``: a module's copy (the caller's is left
    alone), a partial rebuilt around its converted arguments, any other callable as it is."""
    def cast(value: Any) -> Any:
        return value.to(dtype) if isinstance(value, Tensor) and value.is_floating_point() else value

    if isinstance(criterion, nn.Module):
        return copy.deepcopy(criterion).to(dtype)
    if isinstance(criterion, functools.partial):
        return functools.partial(_in_dtype(criterion.func, dtype), *map(cast, criterion.args),
                                 **{key: cast(value) for key, value in criterion.keywords.items()})
    return criterion


class PointwiseLoss(CriterionLoss):
    """A criterion that compares each output with its own target (L1, Huber, BCE, KL, …):
    ``y`` is read in the output's shape, as the built-in ``mse`` reads it (by itself the
    criterion broadcast a (N, 1) output against a (N,) ``y`` to N × N, in silence), and in
    its float type (BCE's 0/1 labels are often integers) unless the criterion takes
    integer targets. ``inputs.check_compatible`` refuses a ``y`` of another size."""

    def __init__(self, criterion: Callable[[Tensor, Tensor], Tensor], float_targets: bool = True) -> None:
        super().__init__(criterion)
        self.float_targets = float_targets

    def __call__(self, model: nn.Module, batch: Batch) -> Tensor:
        out = model(batch[0])
        target = batch[1].reshape(out.shape)
        return self.criterion(out, target.to(out.dtype) if self.float_targets else target)


class ClassLoss(CriterionLoss):
    """A criterion of class indices (cross-entropy, NLL, multi-margin): ``inputs.check_compatible``
    checks its labels as the built-in ``ce``'s; ``soft``: real-valued targets of the output's
    shape are probabilities (torch's cross-entropy), not a mistake."""

    def __init__(self, criterion: Callable[[Tensor, Tensor], Tensor], soft: bool) -> None:
        super().__init__(criterion)
        self.soft = soft


def criterion_loss(criterion: Callable[[Tensor, Tensor], Tensor]) -> CriterionLoss:
    """``criterion`` in the wrapper that reads its targets as it means them: torch's
    class-index criteria (``ClassLoss``), its element-wise ones (``PointwiseLoss``; the
    functions, modules and ``functools.partial`` of either), anything else as given. One of
    torch's set to sum over the batch is refused (``check_mean_reduction``)."""
    check_mean_reduction(criterion)
    kind = _kind(criterion)
    for table, wrapper in ((_CLASS_CRITERIA, ClassLoss), (_POINTWISE_CRITERIA, PointwiseLoss)):
        # by identity: a user's callable need not be hashable
        setting = next((value for known, value in table.items() if known is kind), None)
        if setting is not None:
            return wrapper(criterion, setting)
    return CriterionLoss(criterion)


def check_mean_reduction(criterion: Any) -> None:
    """Refuse torch's criterion with ``reduction='sum'`` (a module's setting, a
    ``functools.partial``'s keyword): the loss is the batch's mean. A sum grows with the
    batch size, so the loss, ε and the curvature came out in sums, and a short last batch
    weighed less than a sample's share (ρ* on the bundled digits 0.727 for 0.712, the
    measured limit 0.435 for 0.331), with a warning only. (``'none'`` gives one loss a
    sample, which the data check refuses as no single number.)"""
    kind = _kind(criterion)
    if not any(kind is known for known in (*_CLASS_CRITERIA, *_POINTWISE_CRITERIA)):
        return  # a user's callable: what it returns is its own
    reduction, target = None, criterion
    while isinstance(target, functools.partial):  # the outermost keyword wins, as the call takes it
        reduction = reduction or target.keywords.get("reduction")
        target = target.func
    reduction = reduction or getattr(target, "reduction", None)
    if reduction == "sum":
        mean = "'batchmean' (or the default 'mean')" if kind in (nn.KLDivLoss, F.kl_div) else "'mean' (the default)"
        raise InputError(f"loss: the {getattr(target, '__name__', type(target).__name__)} criterion has "
                         f"reduction='sum', the batch's total, which grows with the batch size; the loss must be the "
                         f"batch's mean (the loss, epsilon and curvature are of the mean loss): use reduction={mean}")


def class_weighted(loss_fn: LossFn) -> str | None:
    """How messages name ``loss_fn`` when it is torch's cross-entropy or NLL criterion with a
    class ``weight`` (a module's, a ``functools.partial``'s keyword), else ``None``. Its mean
    over class indices divides by the batch's summed weights, not its samples, so it is no
    per-sample mean: merging batches changes it."""
    if not isinstance(loss_fn, ClassLoss) or _kind(loss_fn.criterion) not in _WEIGHTED_MEANS:
        return None
    weight, target = None, loss_fn.criterion
    while isinstance(target, functools.partial):  # the outermost keyword wins, as the call takes it
        weight = target.keywords.get("weight") if weight is None else weight
        target = target.func
    weight = getattr(target, "weight", None) if weight is None else weight
    return loss_fn.name if isinstance(weight, Tensor) else None


def targets_are_values(loss_fn: LossFn) -> bool:
    """Whether ``loss_fn``'s targets are values to fit, not classes, even as integers: the
    ``mse`` loss and torch's regression criteria (counts for Poisson NLL, ratings for L1).
    A curvature subset draws them without strata: each distinct value was a class of its
    own, and 3,000 values of 20,000 samples took all of them or refused a typed size."""
    if loss_fn is mse_loss:
        return True
    return isinstance(loss_fn, PointwiseLoss) and any(_kind(loss_fn.criterion) is c for c in _VALUE_CRITERIA)


def _kind(criterion: Any) -> Any:
    """What identifies a criterion in the tables below: a module's class (a subclass may
    compute anything), else the function, through any ``functools.partial``."""
    target = _unwrapped(criterion)
    return type(target) if isinstance(target, nn.Module) else target


def _unwrapped(criterion: Any) -> Any:
    while isinstance(criterion, functools.partial):
        criterion = criterion.func
    return criterion


# torch's criteria of class indices: whether real-valued targets of the output's shape
# (probabilities) are valid too
_CLASS_CRITERIA: dict[Any, bool] = {
    nn.CrossEntropyLoss: True, F.cross_entropy: True,
    nn.NLLLoss: False, nn.NLLLoss2d: False, F.nll_loss: False,
    nn.MultiMarginLoss: False, F.multi_margin_loss: False,
}
# torch's class-index criteria whose mean with a class weight is over the batch's weights
_WEIGHTED_MEANS = (nn.CrossEntropyLoss, F.cross_entropy, nn.NLLLoss, nn.NLLLoss2d, F.nll_loss)
# torch's element-wise criteria (one target per output): whether the targets are real numbers
# (MultiLabelMarginLoss takes class indices in the output's shape)
_POINTWISE_CRITERIA: dict[Any, bool] = {
    **dict.fromkeys((nn.MSELoss, F.mse_loss, nn.L1Loss, F.l1_loss, nn.SmoothL1Loss, F.smooth_l1_loss,
                     nn.HuberLoss, F.huber_loss, nn.BCELoss, F.binary_cross_entropy, nn.BCEWithLogitsLoss,
                     F.binary_cross_entropy_with_logits, nn.KLDivLoss, F.kl_div, nn.PoissonNLLLoss,
                     F.poisson_nll_loss, nn.SoftMarginLoss, F.soft_margin_loss, nn.HingeEmbeddingLoss,
                     F.hinge_embedding_loss, nn.MultiLabelSoftMarginLoss, F.multilabel_soft_margin_loss), True),
    nn.MultiLabelMarginLoss: False, F.multilabel_margin_loss: False,
}
# torch's element-wise criteria of real-valued targets that are values to fit (not 0/1 or ±1
# labels as BCE's, soft margin's and hinge embedding's): ``targets_are_values``. Not KL
# divergence: its targets are class probabilities (a teacher's soft targets), classes by their
# largest entry as cross-entropy's soft targets are, whose loss and Hessian it shares
_VALUE_CRITERIA = (nn.MSELoss, F.mse_loss, nn.L1Loss, F.l1_loss, nn.SmoothL1Loss, F.smooth_l1_loss, nn.HuberLoss,
                   F.huber_loss, nn.PoissonNLLLoss, F.poisson_nll_loss)
