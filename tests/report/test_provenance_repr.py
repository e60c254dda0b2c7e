"""A ``bounds`` result's ``provenance`` at a prompt: the dataclass repr wrote every field, 17
unrecorded ones as ``=None``, four 64-digit sha256 digests and every option and precision
setting, 1,507 characters for a two-layer MLP. It is now the fields recorded, a digest by its
first 12 hex digits (as the refusals comparing them write it) and a long dict by its size;
``==`` and pickling are the dataclass's still."""

from __future__ import annotations

import pickle
import re

import prunelimit


def test_a_provenance_is_written_briefly(model, train):
    provenance = prunelimit.bounds(model, train, method="exact").provenance
    text = repr(provenance)
    assert len(text) < 400 and "\n" not in text, text  # one line at a prompt, whatever is recorded
    assert text.startswith(f"Provenance(method='exact', hessian={provenance.hessian}, "
                           f"prunable={provenance.prunable}, fingerprint='{provenance.fingerprint[:12]}…', "
                           f"options=<{len(provenance.options)} entries>, weights='{provenance.weights[:12]}…'"), text
    assert "=None" not in text and re.search(r"[0-9a-f]{13}", text) is None, text
    assert provenance.code is None and len(provenance.fingerprint) == 64  # the fields as they were
    assert pickle.loads(pickle.dumps(provenance)) == provenance
