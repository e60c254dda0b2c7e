"""Which remedies for a result's rounding apply to the run at hand: the one place the rounding
note, the tolerance warning and the gate's fixes ask before naming ``--method exact`` (only
where D and its dense Hessian fit: a CIFAR ResNet-18's warnings named it at D = 11,164,362,
680× past its limit), float64 products (not where they were float64 already) or TF32 off
(where the run's ``precision`` record shows its float32 products may have rounded so: a
GPU's convolutions do by default, at ~1e-3 rather than float32's ~1e-7)."""

from __future__ import annotations

from typing import Any

from prunelimit.curvature.exact import MAX_DIM, exact_host_bytes
from prunelimit.errors import option, option_flag, said
from prunelimit.limits import byte_size

# Recorded float settings (``baseline.precision_now``'s keys) that let float32 products round
# through TF32 or bfloat16 on a device type: the values that do, which precision, the backend
# they set and how a library caller sets it back (the command line's own words are
# ``REDUCED_OFF_COMMAND_LINE``). torch's legacy switches and its per-operation ``fp32_precision``
# ones do not mix ("a mix of the legacy and new APIs" raises): where a backend's legacy switch
# shows it on (torch's default), its legacy setter is named, which sets the others too; else
# each per-operation one that does.
REDUCED_SWITCHES: tuple[tuple[str, tuple[Any, ...], str, str, str, str], ...] = (
    ("cudnn_tf32", (True,), "cuda", "TF32", "cudnn", "torch.backends.cudnn.allow_tf32 = False"),
    ("fp32_precision_cudnn_conv", ("tf32",), "cuda", "TF32", "cudnn",
     'torch.backends.cudnn.conv.fp32_precision = "ieee"'),
    ("fp32_precision_cudnn_rnn", ("tf32",), "cuda", "TF32", "cudnn", 'torch.backends.cudnn.rnn.fp32_precision = "ieee"'),
    ("cuda_matmul_tf32", (True,), "cuda", "TF32", "matmul", 'torch.set_float32_matmul_precision("highest")'),
    ("matmul", ("high", "medium"), "cuda", "TF32", "matmul", 'torch.set_float32_matmul_precision("highest")'),
    ("fp32_precision_cuda_matmul", ("tf32",), "cuda", "TF32", "matmul",
     'torch.backends.cuda.matmul.fp32_precision = "ieee"'),
    ("matmul", ("medium",), "cpu", "bfloat16", "mkldnn", 'torch.set_float32_matmul_precision("highest")'),
    ("fp32_precision_mkldnn_matmul", ("bf16", "tf32"), "cpu", "bfloat16", "mkldnn",
     'torch.backends.mkldnn.matmul.fp32_precision = "ieee"'),
    ("fp32_precision_mkldnn_conv", ("bf16", "tf32"), "cpu", "bfloat16", "mkldnn",
     'torch.backends.mkldnn.conv.fp32_precision = "ieee"'),
    ("fp32_precision_mkldnn_rnn", ("bf16", "tf32"), "cpu", "bfloat16", "mkldnn",
     'torch.backends.mkldnn.rnn.fp32_precision = "ieee"'),
)
# ``NVIDIA_TF32_OVERRIDE=0`` turns TF32 off beneath torch's switches (a command line cannot set
# them); bfloat16 products on a CPU are only set by the model's module (or a library caller)
REDUCED_OFF_COMMAND_LINE = {"TF32": "NVIDIA_TF32_OVERRIDE=0 in the environment", "bfloat16": "{} in the model's module"}
# how finely each rounds a value (its unit roundoff: 10 and 7 stored mantissa bits), against float32's ~1e-7
REDUCED_ROUNDING = {"TF32": "~1e-3", "bfloat16": "~4e-3"}


def exact_unfit(dim: int, host_bytes: float | None = None) -> str | None:
    """Why ``--method exact`` cannot run at ``dim`` parameters (``None``: it can): past
    ``MAX_DIM``, or its peak (``exact_host_bytes``) over the ``host_bytes`` the solver may hold
    (``None``: not known here, a saved report's). ``choose_solver`` refuses it so."""
    if dim > MAX_DIM:
        return f"{option('method', 'exact')} takes D ≤ {MAX_DIM:,}, not {dim:,}"
    if host_bytes is not None and exact_host_bytes(dim) > host_bytes:
        return (f"{option('method', 'exact')} at D = {dim:,} holds {byte_size(exact_host_bytes(dim))}, more than the "
                f"{byte_size(host_bytes)} of host memory the solver may hold, "
                f"{option('basis_memory_mb', flag='--basis-memory')}")
    return None


def with_exact(dim: int) -> str:
    """``, or --method exact`` where it can run at ``dim`` parameters (a saved report's: the host
    memory of the run that stores it is not known), else nothing: the end of a remedy that
    narrows the ± by more products."""
    return "" if exact_unfit(dim) else f", or {option('method', 'exact')}"


def _reduced(precision: Any) -> list[tuple[str, str, str, str, str]]:
    """The ``REDUCED_SWITCHES`` rows a ``precision`` record shows on, as (key and value shown,
    precision, backend, setter, key): none where it records none (an older report), on
    another device type, or for TF32 under ``NVIDIA_TF32_OVERRIDE=0``."""
    if not isinstance(precision, dict):
        return []
    found = []
    for key, values, device, narrow, backend, off in REDUCED_SWITCHES:
        value = precision.get(key)
        if precision.get("device") != device or (narrow == "TF32" and precision.get("tf32_override") == "0"):
            continue
        if any(value is v if isinstance(v, bool) else value == v for v in values):
            found.append((f"{key} {str(value).lower() if isinstance(value, bool) else value}", narrow, backend, off,
                          key))
    return found


def reduced_float32(precision: Any) -> dict[str, list[str]]:
    """The switches a ``precision`` record shows letting its device's float32 products round
    through a narrower precision, by that precision (``{"TF32": ["cudnn_tf32 true", …]}``)."""
    found: dict[str, list[str]] = {}
    for shown, narrow, *_ in _reduced(precision):
        found.setdefault(narrow, []).append(shown)
    return found


def _reduced_off(precision: Any) -> str | None:
    """Turning off the narrower float32 precision ``precision`` records (``reduced_float32``),
    said as a possibility: the record shows the switch, not that it moved this result."""
    rows = _reduced(precision)
    # a backend whose legacy switch is on is set back by its legacy setter alone
    legacy = {backend for _, _, backend, _, key in rows if not key.startswith("fp32_precision_")}
    parts = []
    for narrow, keys in reduced_float32(precision).items():
        library = dict.fromkeys(off for _, name, backend, off, key in rows if name == narrow and (
            backend not in legacy or not key.startswith("fp32_precision_")))
        how = said(REDUCED_OFF_COMMAND_LINE[narrow].format(" and ".join(library)), " and ".join(library))
        parts.append(f"{narrow} off ({how}): this run's precision records {', '.join(keys)}, so its float32 "
                     f"products may have rounded in {narrow}, {REDUCED_ROUNDING[narrow]} of a value rather than ~1e-7")
    return ", or ".join(parts) or None


def float64_products(dim: int, precision: Any, host_bytes: float | None = None) -> str:
    """What shrinks a float32 result's rounding part, as far as this run can take it: TF32 or
    bfloat16 off where its ``precision`` record shows them on, then float64 products:
    ``--method exact``'s float64 columns where they fit ``dim`` (``exact_unfit``), and a
    float64 model and data, which any run can take."""
    why_not = exact_unfit(dim, host_bytes)
    products = ("float64 products (the model and its data in float64; " + why_not + ")" if why_not else
                f"float64 products ({option('method', 'exact')}'s float64 columns, D ≤ {MAX_DIM:,}, or the model "
                "and its data in float64)")
    off = _reduced_off(precision)
    return products if off is None else f"{off}, or {products}"


def rounding_remedy(dim: int, float64: bool, precision: Any, host_bytes: float | None = None) -> str:
    """What narrows a ± mostly its products' rounding part: a larger ε, and where the products
    were not float64 already, ``float64_products``."""
    wider = said(f"a larger {option_flag('epsilon')}", "a larger epsilon")
    return wider if float64 else f"{wider}, or {float64_products(dim, precision, host_bytes)}"


def report_facts(report: Any) -> tuple[int, bool, Any]:
    """What a saved ``bounds``/``verify`` document says its remedies depend on: D (``params.hessian``;
    0, taken as fitting any method, where it records none), whether its products were float64
    (``spectrum.float64_products``, or the exact spectrum's) and its ``precision`` record."""
    params, spectrum = (report.get(key) if isinstance(report, dict) else None for key in ("params", "spectrum"))
    dim = params.get("hessian") if isinstance(params, dict) else None
    spectrum = spectrum if isinstance(spectrum, dict) else {}
    float64 = spectrum.get("solver") == "exact" or spectrum.get("float64_products") is True
    precision = report.get("precision") if isinstance(report, dict) else None
    return (dim if isinstance(dim, int) and not isinstance(dim, bool) else 0), float64, precision


# Lanczos basis storages no other is narrower than (``curvature.lanczos.BASIS_DTYPES``' 16-bit ones)
NARROWEST_BASES = ("bfloat16", "float16")


def narrower_basis(basis_dtype: Any) -> bool:
    """Whether a narrower ``--basis-dtype`` than ``basis_dtype`` (an option's value, ``auto``:
    float32 or float64, or the torch dtype the bases are stored in) exists: not past the 16-bit
    ones (a run stopped by memory at bfloat16 was told "a narrower --basis-dtype")."""
    return str(basis_dtype).removeprefix("torch.") not in NARROWEST_BASES
