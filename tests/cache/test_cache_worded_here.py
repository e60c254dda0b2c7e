"""A spectrum read from the cache words what names options as the reading run does: the texts
stored with it (the solver's reason, the tolerance warning, the subset note) were the storing
run's, so ``spectrum --max-hvps 20`` after a CI gate's ``--config`` file set ``max_hvps: 20``
told the user to edit a file its command line never named."""

from __future__ import annotations

import json

from tests.cache.test_cache import SMALL

FLAGS = ("--method", "slq", "--max-hvps", "20", "--hessian-samples", "40")
CONFIG = "method: slq\nmax_hvps: 20\nhessian_samples: 40\n"


def _doc(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_a_spectrum_stored_under_a_config_file_is_worded_as_its_reader_names_the_options(cli, own_ckpt, tmp_path):
    """Measured before: the cached run's reason read ``(method: slq in ci.yaml)`` and its
    warnings ``hessian_samples: all in ci.yaml`` and ``max_hvps: 20 in ci.yaml``; now they are
    those of the same flags computed afresh (``--method slq``, ``--max-hvps 20``)."""
    config = tmp_path / "ci.yaml"
    config.write_text(CONFIG)
    run = ("spectrum", own_ckpt, "--data", "digits:train", *SMALL, "--json")
    cache = ("--cache-dir", tmp_path / "cache")
    stored = _doc(cli(*run, *cache, "--config", config))
    assert any("ci.yaml" in w for w in stored["warnings"])
    hit = _doc(cli(*run, *cache, *FLAGS))
    fresh = _doc(cli(*run, "--no-cache", *FLAGS))
    assert hit["timing"]["cached"] is True
    assert hit["spectrum"]["choice"] == fresh["spectrum"]["choice"]
    assert hit["warnings"] == fresh["warnings"] and not any("ci.yaml" in w for w in hit["warnings"])
