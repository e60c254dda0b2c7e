"""``train`` (LOMP), ``prune`` and ``export``: from a model to a smaller one."""

from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Optional

import typer

from prunelimit import api
from prunelimit.api.pruning import PRUNE_FORMATS
from prunelimit.config import number_list
from prunelimit.errors import UsageError
from prunelimit.io.atomic import staged
from prunelimit.io.outputs import optional, preflight
from prunelimit.pruning.actual import check_acc_drop
from prunelimit.pruning.finetune import FinetuneConfig
from prunelimit.pruning.lomp import PRESETS, SCHEDULES, TRAIN_DEFAULTS, LompConfig, lomp_config
from prunelimit.pruning.magnitude import PRUNE_SCOPES, check_prune_scope
from prunelimit.report import console
from prunelimit.report.html import report_output
from prunelimit.report.progress import progress, progress_enabled
from prunelimit.sparse.bench import PATTERNS
from prunelimit.cli.common import (
    BatchOpt, CkptArg, DownloadOpt, EXAMPLE, EvalDataOpt, FinetuneLrOpt, ForceOpt, LossOpt, MaxSamplesOpt, ReportOpt,
    _absolute, _cache_options, _check_finetune, _curvature, _eval_batches, _general_options, _inputs, _inputs_of,
    _limit_options, _model_data_options, _refuse_stale_config_options, _refuse_unseeded, _refuse_unused,
    _refuse_unused_prediction_flags, _spectral_options, _steps, _store, _typed, _warn, _write_report, app, choices,
    emit, given_count, given_fraction, given_number, given_path, handled, shared,
)

Preset = choices("Preset", PRESETS)
Schedule = choices("Schedule", SCHEDULES)
PruneScope = choices("PruneScope", PRUNE_SCOPES)
Format = choices("Format", PRUNE_FORMATS)
Pattern = choices("Pattern", PATTERNS)


@app.command(epilog="Example: prunelimit train --model mlp:64,32,10 --data digits:train --eval-data digits:test --l1 1e-3 --epochs 60 -o lomp.pt")
@shared(_general_options)
def train(
    o: SimpleNamespace,
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("-o", "--output", help="Checkpoint to write (prunelimit format, updated every epoch).", parser=given_path)],
    model: Annotated[Optional[str], typer.Option("--model", help="Model spec to train from scratch.")] = None,
    data: Annotated[Optional[str], typer.Option("--data", help="Training data spec.")] = None,
    # not EvalDataOpt: a run from scratch has no recorded eval data, and --data is never evaluated in its stead
    eval_data: Annotated[Optional[str], typer.Option("--eval-data", help="Evaluation data: loss and accuracy after every epoch (default: none; the eval columns read —).")] = None,
    preset: Annotated[Optional[Preset], typer.Option("--preset", help="Reference hyperparameters of a paper network.")] = None,
    l1: Annotated[Optional[float], typer.Option("--l1", help=f"λ of the l1 penalty λ‖w‖₁ (default {TRAIN_DEFAULTS.l1:g}, or the preset's).", parser=given_number(), metavar="<float>")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", help=f"Epochs (default {TRAIN_DEFAULTS.epochs}, or the preset's).", parser=given_count(), metavar="<int>")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help=f"SGD learning rate (default {TRAIN_DEFAULTS.lr:g}, or the preset's).", parser=given_number(), metavar="<float>")] = None,
    momentum: Annotated[float, typer.Option("--momentum", help="SGD momentum, in [0, 1).", parser=given_fraction("momenta"), metavar="<float>")] = LompConfig.momentum,
    warmup_epochs: Annotated[Optional[int], typer.Option("--warmup-epochs", help="Linear warm-up epochs (default 0, or the preset's).", parser=given_count(), metavar="<int>")] = None,
    schedule: Annotated[Optional[Schedule], typer.Option("--schedule", help="Learning-rate schedule, stepped per epoch (default: the preset's, else none).")] = None,
    milestones: Annotated[Optional[str], typer.Option("--milestones", help=f"Step schedule (required by it): comma-separated epochs after which lr is multiplied by {LompConfig.gamma:g} (the preset's factor with --preset).")] = None,
    l1_biases: Annotated[bool, typer.Option("--l1-biases", help="Penalise biases and norm parameters too, as the reference code does.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run saved in --output.")] = False,
    force: ForceOpt = False,
    loss: LossOpt = None,
    batch_size: BatchOpt = 128,
    max_samples: MaxSamplesOpt = None,
    download: DownloadOpt = False,
) -> None:
    """LOMP training: SGD with momentum on loss + λ‖w‖₁, warm-up and schedules, resumable."""
    with handled(o.debug):
        if model is None or data is None:
            raise UsageError("train needs --model SPEC and --data SPEC " + (
                _recorded_specs(output, model, data) if resume else "(e.g. --model mlp:64,32,10 --data digits:train)"))
        changes = {k: v for k, v in dict(l1=l1, epochs=epochs, lr=lr, warmup_epochs=warmup_epochs,
                                         schedule=schedule).items() if v is not None}
        if milestones:
            changes["milestones"] = number_list(milestones, "milestones", int, "integers (epochs)", "10,20")
        cfg = lomp_config(preset, momentum=momentum, batch_size=batch_size, seed=o.seed,
                          l1_scope="reference" if l1_biases else "prunable", **changes)
        if cfg.l1 == 0:
            _refuse_unused(_typed(ctx, "l1_biases"), "with λ = 0 nothing is penalised", "give --l1 a positive λ")
        with progress("training", 0, progress_enabled(o.quiet)) as advance:
            result = api.train(model, data, output, cfg, eval_data, batch_size, max_samples, loss, o.device, resume,
                               force, download, progress=_steps(advance))
        emit("train", {"output": str(output), **result.to_json()}, o.json, console.render_train, result)


def _recorded_specs(output: Path, model: str | None, data: str | None) -> str:
    """The ``--model``/``--data`` missing from ``train --resume``, as the file to resume records
    them: the example it named (``--model mlp:64,32,10``) is another model than the one saved
    there, whose state a resume of it refuses. The example where the file records none."""
    from prunelimit.errors import PrunelimitError
    from prunelimit.io.checkpoint import read_checkpoint
    from prunelimit.models.load import recorded_spec

    try:
        raw = read_checkpoint(output)
        recorded = {"--model": recorded_spec(raw.model_spec, "model", output, missing_ok=True),
                    "--data": recorded_spec(raw.meta.get("data"), "data", output, missing_ok=True)}
    except (PrunelimitError, OSError):  # no file, or none it reads: the example stands
        recorded = {}
    missing = [flag for flag, typed in (("--model", model), ("--data", data)) if typed is None]
    if not all(recorded.get(flag) for flag in missing):
        return "(e.g. --model mlp:64,32,10 --data digits:train)"
    return f"(to resume {output}: {' '.join(f'{flag} {recorded[flag]}' for flag in missing)}, as it records)"


@app.command(epilog=f"Example: prunelimit prune {EXAMPLE} --ratio auto -o pruned.pt")
@shared(_model_data_options, _spectral_options, _limit_options, _cache_options, _general_options)
def prune(
    o: SimpleNamespace,
    ctx: typer.Context,
    checkpoint: CkptArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Pruned checkpoint (prunelimit format, masks included).", parser=given_path)],
    ratio: Annotated[str, typer.Option("--ratio", help="auto (ρ*), lower (ρ_L) or a removed fraction in [0, 1).")] = "auto",
    from_report: Annotated[Optional[Path], typer.Option("--from", help="Reuse a saved `bounds --json` report (or a `gate --json` report of lower/predicted rules) for auto/lower.", parser=given_path)] = None,
    scope: Annotated[PruneScope, typer.Option("--scope", help="global (one ranking over all layers) | layer (same ratio per layer) | 2:4 (2 largest of every 4 along the input, --ratio 0.5).")] = "global",
    finetune_epochs: Annotated[int, typer.Option("--finetune-epochs", help="Masked fine-tuning epochs after pruning (pruned weights stay 0).", parser=given_count(), metavar="<int>")] = 0,
    finetune_lr: FinetuneLrOpt = FinetuneConfig.lr,
    format: Annotated[Optional[list[Format]], typer.Option("--format", help="Also write torch-prune (weight_orig/weight_mask) and/or safetensors (repeatable).")] = None,
    eval_data: EvalDataOpt = None,
    acc_drop: Annotated[float, typer.Option("--acc-drop", help="With --ratio auto|lower: warn when one-shot pruning loses more accuracy than this (percentage points).", parser=given_number("percentage points"), metavar="<float>")] = 0.5,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 (like a failed gate) when --acc-drop is exceeded; the file is still written.")] = False,
    report: ReportOpt = None,
    force: ForceOpt = False,
) -> None:
    """One-shot magnitude pruning (global, per layer or 2:4) to the predicted limit (or a given ratio), masks saved."""
    with handled(o.debug):
        options = _curvature(o)
        if ratio not in ("auto", "lower"):
            if from_report is not None:
                raise UsageError(f"--from has no effect with --ratio {ratio}: nothing is predicted; drop it, "
                                 "or use --ratio auto|lower")
            _refuse_unused_prediction_flags(o, f"--ratio {ratio} is given, nothing is predicted",
                                            "use --ratio auto|lower")
            _refuse_unused(_typed(ctx, "acc_drop", "strict"), f"only a predicted ratio is checked against "
                           f"--acc-drop, and --ratio {ratio} is given", "use --ratio auto|lower")
        elif from_report is not None:
            _refuse_unused_prediction_flags(o, f"the prediction is read from {from_report}", "drop --from to compute it")
            _refuse_stale_config_options(o, options, from_report)
        check_acc_drop(acc_drop)
        check_prune_scope(scope, ratio)
        _check_finetune(finetune_epochs, finetune_lr)
        if finetune_epochs == 0:
            _refuse_unused(_typed(ctx, "finetune_lr"), "nothing is fine-tuned without --finetune-epochs",
                           "add --finetune-epochs N")
            if ratio not in ("auto", "lower") or from_report is not None:
                given = f"--ratio {ratio} is given" if from_report is None else \
                    f"the prediction is read from {from_report}"
                _refuse_unseeded(ctx, f"{given}, and nothing is fine-tuned without --finetune-epochs",
                                 "add --finetune-epochs N (its fine-tuning is seeded)")
        formats = ("prunelimit", *[f for f in (format or []) if f != "prunelimit"])
        preflight([*api.prune_outputs(output, formats).values(), report_output(report)],
                  _inputs_of(o, checkpoint, eval_data, from_report), force)
        store = _store(o) if ratio in ("auto", "lower") and from_report is None else None
        inputs = _inputs(o, checkpoint)
        predicted = ratio in ("auto", "lower") and from_report is None  # the only case with curvature work
        with progress("curvature", api.curvature_steps(inputs, options) if predicted else 0,
                      progress_enabled(o.quiet) and predicted, lazy=True) as advance:
            if predicted:
                api.require_data(inputs)
            resolved = api.resolve_ratio(ratio, inputs, options, from_report, _absolute(advance), scope, store)
        evaluation = _eval_batches(eval_data, inputs, o.batch_size, o.download)
        with staged(), progress("fine-tuning", 0, progress_enabled(o.quiet) and finetune_epochs > 0) as advance:
            # the checkpoint (and its --format copies) and the report, or none of them
            rep = api.prune(inputs, resolved.value, output, resolved.source, scope, finetune_epochs, finetune_lr,
                            evaluation, formats, force, o.seed, progress=_steps(advance),
                            acc_drop=acc_drop if ratio in ("auto", "lower") else None,
                            ratio_warnings=resolved.warnings, spectrum=resolved.spectrum,
                            uncertainty=resolved.uncertainty, epsilon=resolved.epsilon,
                            epsilon_source=resolved.epsilon_source, read=resolved.read,
                            measured=resolved.measured, lower=resolved.lower, overshoot=resolved.overshoot,
                            path=resolved.path, dense=resolved.dense)
            _write_report(report, "prune", rep.to_json(),
                          lambda figures: {"sparsity per layer": figures.sparsity_figure(rep.layers, rep.collapsed)}, force)
        emit("prune", rep.to_json(), o.json, console.render_prune, rep)
        for warning in console.unshown(rep.warnings):  # a prunable-set warning was shown as the file was read
            _warn(warning)
        if rep.acc_drop_exceeded and strict:
            raise typer.Exit(1)


# export's model and data options that only --bench reads (--model also names the file's tensors)
_BENCH_ONLY = ("data", "loss", "batch_size", "max_samples", "include", "exclude", "download", "device")


@app.command(epilog=f"Example: prunelimit prune {EXAMPLE} --ratio 0.9 -o pruned.pt && "
                    "prunelimit export pruned.pt -o model.sparse.safetensors --bench")
@shared(_model_data_options, _general_options)
def export(
    o: SimpleNamespace,
    checkpoint: Annotated[Path, typer.Argument(help="A pruned checkpoint (with masks: from prune, hyperflux, imp or torch-prune).", show_default=False, parser=given_path)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Sparse safetensors file to write (load it with prunelimit.load_sparse; every command reads it).", parser=given_path)],
    bench: Annotated[bool, typer.Option("--bench", help="Also time dense vs sparse inference on --device at batch 1 and --batch-size.")] = False,
    pattern: Annotated[Pattern, typer.Option("--pattern", help="--bench kernel: csr (torch.sparse CSR, any device) | 2:4 (semi-structured, CUDA only; prune with --scope 2:4).")] = "csr",
    report: ReportOpt = None,
    force: ForceOpt = False,
) -> None:
    """Write a pruned checkpoint as a small sparse safetensors file: sizes per tensor, and latency with --bench."""
    with handled(o.debug):
        from prunelimit.sparse.exporter import check_options

        check_options(output, bench, pattern, o.device)
        if not bench:
            _refuse_unused([name for name in _BENCH_ONLY if o.given.get(name) == "on the command line"],
                           "only --bench builds the model and runs it on data (export writes the checkpoint's "
                           "tensors and masks as they are)", "add --bench")
        preflight([optional("-o", output, "safetensors"), report_output(report)], _inputs_of(o, checkpoint), force)
        inputs = _inputs(o, checkpoint) if bench else None
        with staged():  # the sparse file and the report, or neither
            rep = api.export(checkpoint, output, o.model, o.trust_pickle, force, inputs, o.batch_size, pattern)
            _write_report(report, "export", rep.to_json(),
                          lambda figures: {"density and size per tensor": figures.export_figure(rep.tensors)}, force)
        emit("export", rep.to_json(), o.json, console.render_export, rep)

