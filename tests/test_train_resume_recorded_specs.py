"""`train --resume -o FILE` without --model/--data was told "(e.g. --model mlp:64,32,10 --data
digits:train)": another model than the one FILE holds, whose resume state that model would not
fit. It now names the spec and data FILE records, and following it resumes."""

from __future__ import annotations

from tests.conftest import SPEC

RUN = ("--epochs", "1", "--l1", "0", "--max-samples", "200", "--threads", "1", "--quiet")


def test_resume_without_model_or_data_names_what_the_file_records(cli, tmp_path) -> None:
    out = tmp_path / "run.pt"
    assert cli("train", "--model", SPEC, "--data", "digits:train", "-o", out, *RUN).exit_code == 0
    refused = cli("train", "--resume", "-o", out, *RUN)
    assert refused.exit_code == 2
    assert f"(to resume {out}: --model {SPEC} --data digits:train, as it records)" in refused.stderr, refused.stderr
    assert "mlp:64,32,10" not in refused.stderr
    only_data = cli("train", "--resume", "-o", out, "--model", SPEC, *RUN)
    assert f"(to resume {out}: --data digits:train, as it records)" in only_data.stderr, only_data.stderr
    assert cli("train", "--resume", "-o", out, "--model", SPEC, "--data", "digits:train", *RUN).exit_code == 0
    # no file to resume: the example stands
    assert "(e.g. --model mlp:64,32,10 --data digits:train)" in cli("train", "--resume", "-o", tmp_path / "none.pt",
                                                                    *RUN).stderr
