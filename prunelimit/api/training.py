"""Starting points for the training commands, and ``train`` (LOMP from a fresh model)."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from prunelimit.errors import UsageError
from prunelimit.models.params import ParamSelection
from prunelimit.pruning.lomp import LompConfig


@dataclass(frozen=True)
class StartingPoint:
    """A model to train or prune further, with its training and evaluation batches."""

    model: "nn.Module"
    spec: str | None
    train: list
    evaluation: list
    loss_fn: object
    data: str | None
    eval_data: str | None
    loss: str  # the loss spec in use, recorded in the files written from this start
    # the checkpoint's keep-masks, a pruned safetensors file's zeros (none for a fresh model):
    # what it has pruned stays pruned
    masks: dict
    # the prunable set the checkpoint records (meta.pruned), pruned further and recorded again
    selection: ParamSelection = ParamSelection()
    # what reading the checkpoint warned (``Inputs.load_warnings``; none for a fresh model)
    load_warnings: tuple[str, ...] = ()
    # the checkpoint's narrower float types (``LoadedModel.dtypes``): the files written from
    # this start store its tensors back in them, and the model is rounded to them after training
    dtypes: dict = field(default_factory=dict)
    # the checkpoint read, when it records no architecture (a TorchScript archive, a pickled
    # module: ``spec`` None), as a warning names it; the files written from it hold weights only
    origin: str | None = None

    def weights_only(self, written: str) -> tuple[str, ...]:
        """The warning that ``written`` (files of prunelimit's own format) cannot be read back
        without ``--model``, for a start that records no architecture; none otherwise."""
        return () if self.spec is not None or self.origin is None else (weights_only_warning(written, self.origin),)

    def stored_state(self) -> dict:
        """The model's state dict in the checkpoint's float types, as a file written from it holds it."""
        from prunelimit.models.load import in_dtypes

        return in_dtypes(self.model.state_dict(), self.dtypes)

    def qualified(self, warnings: "tuple[str, ...] | list[str]") -> tuple[str, ...]:
        """``warnings`` and, once each, ``load_warnings``: a result's JSON says what qualifies
        the weights it started from, as every command reading a file does."""
        from prunelimit.inputs import qualified

        return qualified(warnings, self.load_warnings)


def weights_only_warning(written: str, origin: str) -> str:
    """``written`` holds weights and masks of a model from ``origin`` that records no
    architecture: reading it back needs ``--model``."""
    return (f"{written} holds the pruned weights and masks, not the architecture (it came from {origin}); read it back "
            "with --model SPEC naming a factory that builds the model")


def starting_point(
    checkpoint, model: str | None, data: str | None, eval_data: str | None, loss: str | None = None,
    batch_size: int = 128, max_samples: int | None = None, trust_pickle: bool = False, download: bool = False,
    device: str = "auto", seed: int = 0, include: tuple[str, ...] = (), exclude: tuple[str, ...] = (),
) -> StartingPoint:
    """Weights from ``checkpoint`` (data defaults from its file), else a fresh ``model`` seeded by ``seed``.

    Evaluation data defaults to the training data; both are checked against the model.
    ``loss`` ``None``: the checkpoint's recorded loss, else ``ce``. The prunable set is
    ``include``/``exclude`` when given, else the one the checkpoint records, else the
    default (``resolve_selection``, as every command reading a file).
    """
    import torch

    from prunelimit.data.loss import resolve_loss
    from prunelimit.device import resolve_device
    from prunelimit.inputs import data_dtype, load_batches, load_inputs, resolve_selection
    from prunelimit.models.load import LoadedModel
    from prunelimit.models.spec import build_model
    from prunelimit.pruning.masks import held_masks

    if checkpoint is not None:
        inputs = load_inputs(checkpoint, model, data, loss, batch_size, max_samples, device, trust_pickle, download,
                             include, exclude, data_from_checkpoint=True)
        net, train, loss_fn, dev, spec = inputs.model, inputs.batches, inputs.loss_fn, inputs.device, inputs.loaded.spec
        loss, masks, selection = inputs.loss, held_masks(inputs.loaded, inputs.selection), inputs.selection
        recorded_eval = eval_data is None
        data, eval_data = inputs.data_spec, eval_data or inputs.loaded.recorded_spec("eval_data")
        read, dtypes = inputs.load_warnings, inputs.loaded.dtypes
        origin = f"{inputs.loaded.source} checkpoint {inputs.loaded.path}"
    else:
        recorded_eval, read, dtypes, origin = False, (), {}, None
        if model is None:
            raise UsageError("give a checkpoint, or --model SPEC to start from a fresh model")
        if data is None:
            raise UsageError(f"{model!r} is a fresh model: pass --data SPEC to train it")
        dev = resolve_device(device)
        torch.manual_seed(seed)
        net, spec, loss, masks = build_model(model).to(dev), model, loss or "ce", {}
        selection = resolve_selection(LoadedModel(net, spec), include, exclude).selection  # checked: a typo is refused
        train = load_batches(data, batch_size, max_samples, dev, download, dtype=data_dtype(net))
        loss_fn = resolve_loss(loss)
    if not train:
        raise UsageError(f"no training data for {checkpoint or model}: pass --data SPEC")
    evaluation = load_batches(eval_data, batch_size, None, dev, download, recorded_eval, data_dtype(net)) \
        if eval_data else train
    _check_fits(net, spec, checkpoint, loss_fn, (data or "the training data", train, "data"),
                (eval_data, evaluation, "eval_data"))
    return StartingPoint(net, spec, train, evaluation, loss_fn, data, eval_data, loss, masks, selection, read, dtypes,
                         origin)


def train(
    model_spec: str, data: str, output, config: "LompConfig", eval_data: str | None = None,
    batch_size: int = 128, max_samples: int | None = None, loss: str | None = None, device: str = "auto",
    resume: bool = False, force: bool = False, download: bool = False, progress=None,
):
    """LOMP training (SGD on loss + λ‖w‖₁) of a fresh ``model_spec``, checkpointed every epoch.

    With ``resume`` an existing ``output`` written by this command continues from its last
    completed epoch (the same settings, data and loss are required; ``loss`` ``None`` is the
    recorded one). ``loss`` ``None`` on a fresh run is ``ce``.
    """
    from pathlib import Path

    import torch

    from prunelimit.cache import data_fingerprint
    from prunelimit.data.loss import resolve_loss
    from prunelimit.device import resolve_device
    from prunelimit.inputs import checkpoint_loss, data_dtype, load_batches
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.io.outputs import Output, preflight
    from prunelimit.models.load import load_model
    from prunelimit.pruning.lomp import check_resume_state, train as lomp_train

    output = Path(output)
    preflight([Output("-o", output, "checkpoint", overwrite=resume)],
              [model_spec, data, eval_data, loss], force)
    dev = resolve_device(device)
    resume_state = None
    if resume and output.is_file():
        loaded = load_model(output, model_spec, device=dev)  # the typed --model: a factory spec may run
        state = loaded.meta.get("train_state")
        if state is None:
            raise UsageError(f"{output} holds no training state to resume; drop --resume or use another -o")
        check_resume_state(state, config, f"the training state in {output}")
        _check_same_samples(state, output, max_samples)
        loss = checkpoint_loss(loaded, loss)
        _check_same_inputs(loaded, output, data=data, loss=loss)
        model_spec, net = loaded.spec, loaded.model
        resume_state = {**state, "model": net.state_dict()}
    else:
        torch.manual_seed(config.seed)
        from prunelimit.models.spec import build_model

        net, loss = build_model(model_spec).to(dev), loss or "ce"
    train_batches = load_batches(data, batch_size, max_samples, dev, download, dtype=data_dtype(net))
    batches = data_fingerprint(train_batches)
    if resume_state is not None:
        _check_same_batches(resume_state, output, batches)
    eval_batches = load_batches(eval_data, batch_size, None, dev, download, dtype=data_dtype(net)) \
        if eval_data else None
    loss_fn = resolve_loss(loss)
    _check_fits(net, model_spec, output, loss_fn, (data, train_batches, "data"), (eval_data, eval_batches, "eval_data"))
    meta = {"data": data, "eval_data": eval_data, "loss": loss, "trained_by": "prunelimit train (LOMP)"}

    def save(state: dict) -> None:
        # --max-samples cuts the data the finished epochs trained on: a resume must cut it alike
        kept = {**{k: v for k, v in state.items() if k != "model"}, "max_samples": max_samples, "batches": batches}
        save_checkpoint(output, model_spec, net.state_dict(), meta={**meta, "train_state": kept}, force=True)

    return lomp_train(net, train_batches, loss_fn, config, eval_batches=eval_batches, progress=progress,
                      checkpoint=save, resume_state=resume_state)


def _check_same_inputs(loaded, output, **typed: str) -> None:
    """A resumed run trains on what its finished epochs did: the epochs already in ``output``
    would otherwise be recorded under data or a loss they never saw."""
    for key, value in typed.items():
        saved = loaded.recorded_places(key)  # as written, or read beside the file: either is the same run's
        if saved and value not in saved:
            raise UsageError(f"{output} was trained with --{key} {saved[0]}, not {value}; resume with --{key} "
                             f"{saved[0]}, or drop --resume")


def _check_same_batches(state: dict, output, batches: str | None) -> None:
    """A resumed run trains on the batches its finished epochs did: a data file rewritten under
    the same spec and sample count went on with other samples under the one record. A state
    from before they were recorded (no ``batches``) is taken as it comes."""
    if state.get("batches", batches) != batches:
        raise UsageError(f"{output} was trained on other batches than --data gives now (its file changed since); "
                         "resume with the data it was trained on, or drop --resume")


def _check_same_samples(state: dict, output, max_samples: int | None) -> None:
    """A resumed run trains on the samples its finished epochs did: another ``--max-samples``
    would go on with other data under the one record. A state from before it was recorded
    (no ``max_samples``) is taken as it comes."""
    from prunelimit.errors import InputError, quoted

    if "max_samples" not in state:
        return
    saved = state["max_samples"]
    if saved is not None and (not isinstance(saved, int) or isinstance(saved, bool) or saved < 1):
        raise InputError(f"the training state in {output} is damaged (max_samples {quoted(saved)} is no sample count); "
                         "train again without --resume, or with another -o")
    if saved != max_samples:
        def samples(n: int | None) -> str:
            return "all samples (no --max-samples)" if n is None else f"--max-samples {n}"

        fix = "without --max-samples" if saved is None else f"with --max-samples {saved}"
        raise UsageError(f"{output} was trained with {samples(saved)}, not {samples(max_samples)}; resume {fix}, "
                         "or drop --resume")


def _check_fits(net, spec: str | None, path, loss_fn, *named_batches) -> None:
    """Labels in range, shapes that fit, a finite loss: an input error before any training starts."""
    from prunelimit.inputs import check_compatible
    from prunelimit.models.load import LoadedModel

    net.eval()  # no BatchNorm statistics move during the check
    for text, batches, option in named_batches:
        if batches:
            check_compatible(LoadedModel(net, spec, path=path), batches, loss_fn, text, option)
