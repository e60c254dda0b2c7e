"""A report's ``weights.tensors`` of a TorchScript module holding a tensor outside its state dict
is recorded three ways (``baseline._module_digests``: as now, by file and as torch printed it),
and each streamed every tensor storage of the archive again: 2.6 s of a 200 MB archive. The
printed way differs from the first in no member it reads, so one pass gives both now: each
storage is read twice, not three times, and the digests are those a pass of their own gives."""

from __future__ import annotations

import io
import zipfile

import torch
from torch import nn


class Table(nn.Module):
    def __init__(self):
        super().__init__()
        self.table = torch.arange(1000.0)  # a plain attribute: outside the state dict

    def forward(self, x):
        return x + self.table[:1]


def test_the_tensors_of_an_archive_are_streamed_once_for_both_ways(monkeypatch):
    from prunelimit.baseline import _module_digests
    from prunelimit.cache import archive_fingerprint, saved_archive

    torch.manual_seed(0)
    module = torch.jit.script(nn.Sequential(nn.Linear(4, 8), Table()))
    archive = saved_archive("", module)
    storages = [info.filename for info in zipfile.ZipFile(archive).infolist() if "/data/" in info.filename]
    opened, real = [], zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **k: opened.append(
        getattr(name, "filename", name)) or real(self, name, *a, **k))
    digests = _module_digests(archive, module)
    assert digests["tensors"] is not None and storages
    assert {name: opened.count(name) for name in storages} == dict.fromkeys(storages, 2)  # by file, and both others
    monkeypatch.setattr(zipfile.ZipFile, "open", real)
    again = io.BytesIO(archive.getvalue())
    assert digests["tensors"] == archive_fingerprint(again)
    assert digests["tensors_printed"] == archive_fingerprint(again, printed=True) != digests["tensors_by_file"]
    assert digests["code_printed"] == archive_fingerprint(again, code_only=True, printed=True)
    assert digests["code"] == archive_fingerprint(again, code_only=True)
