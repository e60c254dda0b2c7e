"""A prediction read from a saved report (``verify``/``gate``/``prune --from b.json``) repeats
that report's warnings; one whose remedy names a flag refused beside ``--from`` (exit 2) said
so as if this run could take it. The tolerance warning and the subset note already said
"… when storing b.json, or drop --from"; these are the others of that class, and the gate's
fix for a report that states no ±."""

from __future__ import annotations

from prunelimit.errors import options_named
from prunelimit.gate_rules import GateRule, evaluate_gate, recorded_warnings


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _read(note: str) -> str:
    with options_named(_flag):
        told = recorded_warnings({"warnings": [note]}, "b.json")
        again = recorded_warnings({"warnings": list(told)}, "v.json")  # a verify --from report read again
    assert again == told, "told once: the first report's run is the one to change"
    assert recorded_warnings({"warnings": [note]}) == (note,)  # no source: the run's own words
    return told[0]


def test_the_exact_spectrums_unused_subset_note_names_slq_for_the_storing_run() -> None:
    note = ("--hessian-samples 300 not used: the exact spectrum takes its curvature over all 1,437 samples "
            "(SLQ, e.g. --method slq, takes a subset)")
    assert _read(note) == ("--hessian-samples 300 not used: the exact spectrum takes its curvature over all 1,437 "
                           "samples (SLQ takes a subset: --method slq when storing b.json, or drop --from)")


def test_per_layer_blocks_outside_the_budget_are_said_as_the_storing_runs() -> None:
    note = ("--per-layer's blocks took 170 products and 0.12 s after the spectrum, outside --max-hvps, which bounds "
            "the spectrum alone (layer_curvature; timing counts the spectrum)")
    assert _read(note) == f"when storing b.json, {note}"


def test_a_budget_overrun_and_a_rounded_epsilon_name_their_flags_for_the_storing_run() -> None:
    over = ("the spectrum went 12 products over --max-hvps 40 (52): its smallest plan, one Lanczos step and the "
            "data check that must follow it, does not fit it; raise --max-hvps")
    assert _read(over) == f"{over} when storing b.json, or drop --from"
    rounded = ("--epsilon 1e-09 is 0 up to rounding: a change of the loss 0.1027 below about 1.2e-07 (10 float32 "
               "steps) is rounding, so L + ε is L and any change pruning makes reads as past it; give a larger "
               "--epsilon, a loss change that matters")
    assert _read(rounded) == f"{rounded} when storing b.json, or drop --from"


def test_a_gate_on_a_read_report_stating_no_plus_minus_says_to_store_it_again() -> None:
    report = {"bounds": {"lower": 0.74}, "prediction": {"ratio": 0.84, "uncertainty": None},
              "spectrum": {}, "prediction_from": "b.json"}
    outcome = evaluate_gate(report, [GateRule("r", use="predicted", min_ratio=0.5)]).outcomes[0]
    assert not outcome.passed and "(the report states none)" in outcome.reason
    assert outcome.fix == "store the report again with `prunelimit bounds --json`"
    here = evaluate_gate({k: v for k, v in report.items() if k != "prediction_from"},
                         [GateRule("r", use="predicted", min_ratio=0.5)]).outcomes[0]
    assert here.fix == "compute it with `prunelimit bounds`"  # no file read: nothing to store again


def test_the_fixed_plans_remedies_name_the_storing_run() -> None:
    """A --method paper or fixed-plan report's warnings that end in more --iterations, --method
    default or --method exact: flags refused beside --from, like the budget's."""
    for note in (
            "ρ* moved by 1.2 pt between 64 and 128 Lanczos steps; use --iterations 256",
            "ρ* sits where R²·|λ|max/2ε = 3e+05, beyond the 1e5 up to which SLQ was validated against exact spectra "
            "(docs/accuracy.md); F may be underestimated there: compare with --iterations 256",
            "INCONSISTENT: the headline ρ* = 91.7 % and the continuous ρ* = 89.4 % from the same spectrum differ by "
            "2.3 pt, more than its ± 1.1 pt; the reference arithmetic moved ρ*: prefer --method default",
            "ρ* depends on curvature below the float32 products' rounding: eigenvalues under 2.2e-08 (float32 machine "
            "epsilon × λmax, and the float64 solve's rounding) could move it by up to 0.057, stated in its ± as its "
            "rounding part, which more steps or probes cannot shrink (ε = 0.01535); run --method exact (float64 "
            "columns, D ≤ 16,384), or give the model and its data in float64"):
        assert _read(note) == f"{note} when storing b.json, or drop --from"


def test_a_ratio_outside_its_bounds_names_the_method_for_the_storing_run() -> None:
    note = ("INCONSISTENT: ρ* = 91.70 % lies above its upper bound ρ_U ([ρ_L, ρ_U] = [85.90 %, 91.60 %]); do not prune "
            "or gate on ρ* from this run: use --method default (docs/methods.md), or the bound ρ_L")
    assert _read(note) == note.replace("--method default", "--method default when storing b.json, or drop --from")
