"""The cache key follows the files, folders and environment variables the user's code names in
its strings and reads while it runs (prunelimit.cache_reads), and not the folder a checkout lies in."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

from tests.cache.test_cache import _assert_recomputed, _doc, _gate

# head of the model's module, a line of its class body, the expression its forward scales by,
# and what the change does (a file of the checkout rewritten or added, or a variable set)
READS = {
    "relative-to-cwd": ("", "", "float(open('scale.txt').read())", "scale.txt"),
    "joined-to-__file__": ("import os\n", "", "float(open(os.path.join(os.path.dirname(__file__), 'scale.txt')).read())",
                           "scale.txt"),
    "pathlib-subfolder": ("from pathlib import Path\n", "",
                          "float((Path(__file__).parent / 'conf' / 'scale.txt').read_text())", "conf/scale.txt"),
    "folder-path-global": ("from pathlib import Path\nCONF = Path(__file__).parent / 'conf'\n", "",
                           "float((CONF / 'scale.txt').read_text())", "conf/scale.txt"),
    "folder-str-global": ("import os\nCONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'conf')\n", "",
                          "float(open(os.path.join(CONF, 'scale.txt')).read())", "conf/scale.txt"),
    "code-folder-global": ("import os\nHERE = os.path.dirname(os.path.abspath(__file__))\n", "",
                           "float(open(os.path.join(HERE, 'scale.txt')).read())", "scale.txt"),
    "glob": ("import glob\n", "", "sum(float(open(f).read()) for f in sorted(glob.glob('conf/*.txt')))",
             "conf/new.txt"),
    "listdir": ("import os\n", "", "1.0 + len(os.listdir('conf'))", "conf/new.txt"),
    "class-attribute": ("", "    path = 'scale.txt'\n", "float(open(self.path).read())", "scale.txt"),
    "numpy-loadtxt": ("import numpy as np\n", "", "float(np.loadtxt('conf/scale.txt'))", "conf/scale.txt"),
    "environ": ("import os\n", "", "float(os.environ['PLKEY_SCALE'])", "$PLKEY_SCALE"),
    "getenv-default": ("import os\n", "", "float(os.getenv('PLKEY_UNSET', '1.0'))", "$PLKEY_UNSET"),
    "variable-name-global": ("import os\nVAR = 'PLKEY_SCALE'\n", "", "float(os.environ.get(VAR, '1'))",
                             "$PLKEY_SCALE"),
    # a file a variable names (PLKEY_FILE=conf/scale.txt), a path filled into a template
    "variable-names-a-file": ("import os\n", "", "float(open(os.environ['PLKEY_FILE']).read())", "conf/scale.txt"),
    "expandvars": ("import os\n", "", "float(open(os.path.expandvars('$PLKEY_DIR/scale.txt')).read())",
                   "conf/scale.txt"),
    "format-template": ("", "    name = 'scale'\n", "float(open('conf/{}.txt'.format(self.name)).read())",
                        "conf/scale.txt"),
    "percent-template": ("", "    name = 'scale'\n", "float(open('conf/%s.txt' % self.name).read())", "conf/scale.txt"),
    "sibling-by-suffix": ("from pathlib import Path\n", "", "float(Path(__file__).with_suffix('.txt').read_text())",
                          "plreads_sibling_by_suffix.txt"),
    "f-string": ("", "    name = 'scale'\n", "float(open(f'{self.name}.txt').read())", "scale.txt"),
    # functions the key reaches only through a descriptor or an installed wrapper
    "property": ("", "    @property\n    def scale(self):\n        return float(open('scale.txt').read())\n\n",
                 "self.scale", "scale.txt"),
    "staticmethod": ("class Conf:\n    @staticmethod\n    def scale():\n        return float(open('scale.txt').read())\n\n\n",
                     "", "Conf.scale()", "scale.txt"),
    "classmethod": ("class Conf:\n    @classmethod\n    def scale(cls):\n        return float(open('scale.txt').read())\n\n\n",
                    "", "Conf.scale()", "scale.txt"),
    "singledispatch": ("import functools\n\n\n@functools.singledispatch\ndef scale(x):\n    return 1.0\n\n\n"
                       "@scale.register\ndef _(x: int):\n    return float(open('scale.txt').read())\n\n\n", "",
                       "scale(1)", "scale.txt"),
    "installed-decorator": ("import torch\n\n\n@torch.no_grad()\ndef scale():\n    return float(open('scale.txt').read())\n\n\n",
                            "", "scale()", "scale.txt"),
    # paths built from pieces: a separator-led or file-name tail joined by ``+``, an f-string
    # holding a conditional (every branch), a config file naming the file read next
    "separator-tail": ("import os\n", "", "float(open(os.path.dirname(os.path.abspath(__file__)) + '/scale.txt').read())",
                       "scale.txt"),
    "file-name-tail": ("", "    prefix = 'net'\n", "float(open(self.prefix + '_scale.txt').read())", "net_scale.txt"),
    "conditional-f-string": ("", "    name = 'net'\n    big = True\n",
                             "float(open(f\"{self.name}_{'scale' if self.big else 'other'}.txt\").read())",
                             "net_scale.txt"),
    "config-names-the-file": ("import json\n", "",
                              "float(open(json.load(open('conf/paths.json'))['scale']).read())", "conf/scale.txt"),
}


def _checkout(root: Path, module: str, case: str) -> None:
    head, body, expr, _ = READS[case]
    (root / "conf").mkdir(parents=True)
    (root / f"{module}.py").write_text(
        f"{head}from torch import nn\n\n\nclass Scaled(nn.Sequential):\n{body}"
        f"    def forward(self, x):\n        return super().forward(x * {expr})\n")
    for name in ("scale.txt", "conf/scale.txt", f"{module}.txt", "net_scale.txt"):
        (root / name).write_text("1.0")
    (root / "conf" / "paths.json").write_text('{"scale": "conf/scale.txt"}')


def _change(root: Path, case: str, monkeypatch) -> None:
    what = READS[case][3]
    if what.startswith("$"):
        monkeypatch.setenv(what[1:], "3.0")
    else:
        (root / what).write_text("3.0")


@pytest.mark.parametrize("case", READS)
def test_what_the_code_reads_at_run_time_is_keyed_and_a_moved_or_touched_copy_hits(tmp_path, monkeypatch, case):
    """A forward that reads a file by a relative path, a folder's files, or an environment
    variable: changing what it reads changed the model's output but kept the key, so gate and
    bounds served the old spectrum. A moved checkout, files touched but unchanged and an
    unrelated file added beside the code keep the key."""
    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key

    module = f"plreads_{case.replace('-', '_')}"
    data = (torch.randn(20, 64, generator=torch.Generator().manual_seed(0)), torch.arange(20) % 10)
    monkeypatch.setenv("PLKEY_SCALE", "1.0")
    monkeypatch.setenv("PLKEY_FILE", "conf/scale.txt")
    monkeypatch.setenv("PLKEY_DIR", "conf")
    monkeypatch.delenv("PLKEY_UNSET", raising=False)

    def key_and_output(root: Path) -> tuple[str, torch.Tensor]:
        with monkeypatch.context() as m:
            m.chdir(root)
            m.syspath_prepend(str(root))
            m.delitem(sys.modules, module, raising=False)
            importlib.invalidate_caches()
            torch.manual_seed(0)
            model = importlib.import_module(module).Scaled(torch.nn.Linear(64, 4), torch.nn.ReLU(),
                                                            torch.nn.Linear(4, 10))
            keyed = input_key(prunelimit.inputs_from(model, data), "spectrum", CurvatureOptions())
            with torch.no_grad():
                return keyed, model(data[0])

    _checkout(tmp_path / "a", module, case)
    first, output = key_and_output(tmp_path / "a")
    for name in ("scale.txt", "conf/scale.txt", "conf", f"{module}.py"):
        os.utime(tmp_path / "a" / name, ns=(10**18, 10**18))  # touched, unchanged
    (tmp_path / "a" / "junit.xml").write_text("<testsuites/>")  # a command's output beside the code
    assert key_and_output(tmp_path / "a")[0] == first
    shutil.copytree(tmp_path / "a", tmp_path / "moved")
    assert key_and_output(tmp_path / "moved")[0] == first
    _change(tmp_path / "moved", case, monkeypatch)
    changed, changed_output = key_and_output(tmp_path / "moved")
    assert not torch.allclose(changed_output, output)  # the change does change what the model computes
    assert changed != first


FORWARD_READING_CWD_PY = ("from torch import nn\n\n\nclass Scaled(nn.Sequential):\n    def forward(self, x):\n"
                          "        return super().forward(x * float(open('scale.txt').read()))\n\n\n"
                          "def make():\n    return Scaled(nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10))\n")


# the same value from an environment variable whose name no string of the code holds: keyed as the code
# read it while the first batch ran, as the files it opens are however their names are built
# (tests/cache/test_cache_opened.py)
UNFOLLOWED_PY = FORWARD_READING_CWD_PY.replace(
    "open('scale.txt').read()", "__import__('os').environ[''.join(chr(c) for c in (80, 76, 83, 67, 65, 76, 69))]")


def gated_twice(cli, own_ckpt, tmp_path: Path, monkeypatch, source: str) -> tuple[dict, tuple]:
    """``source`` as ``model.py`` beside ``scale.txt`` (1.0) in ``tmp_path``, the working folder:
    the first gate's JSON, after checking that a second gate on it is a hit, and the gate's
    arguments."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(source)
    (tmp_path / "scale.txt").write_text("1.0")
    args = ("--model", "model.py:make", "--max-samples", 300)
    first = _doc(_gate(cli, own_ckpt, "cache", *args))
    assert _doc(_gate(cli, own_ckpt, "cache", *args))["cache_hit"] is True
    return first, args


@pytest.mark.parametrize("source", [FORWARD_READING_CWD_PY, UNFOLLOWED_PY], ids=["keyed", "a-variable-by-a-built-name"])
def test_gate_after_a_file_read_by_a_relative_path_changed_recomputes(cli, own_ckpt, tmp_path, monkeypatch, source):
    """The outside review's case: ``open("scale.txt")`` in forward, run from the checkout; the
    file changed and gate passed on the old spectrum (0.8039 cached against 0.7217 fresh). Read
    from a variable named by character codes, the key stayed and the entry's first-batch loss
    differed, so the read was a miss with a warning; the variable read is keyed now: a miss by the key."""
    monkeypatch.setenv("PLSCALE", "1.0")
    first, args = gated_twice(cli, own_ckpt, tmp_path, monkeypatch, source)
    (tmp_path / "scale.txt").write_text("3.0")
    monkeypatch.setenv("PLSCALE", "3.0")
    result = _assert_recomputed(cli, own_ckpt, "cache", first, *args)
    assert "loss on the first analysis batch is" not in result.stderr and "Traceback" not in result.stderr


def test_a_named_folder_too_large_to_key_runs_uncached(cli, own_ckpt, tmp_path, monkeypatch):
    """A folder of more entries than the key lists: computed, never stored, with one warning."""
    from prunelimit import cache_reads

    monkeypatch.setattr(cache_reads, "FOLDER_ENTRIES", 3)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf").mkdir()
    for i in range(4):
        (tmp_path / "conf" / f"{i}.txt").write_text("1.0")
    (tmp_path / "model.py").write_text(FORWARD_READING_CWD_PY.replace("float(open('scale.txt').read())",
                                                                      "len(os.listdir('conf'))").replace(
        "from torch", "import os\nfrom torch"))
    for _ in range(2):
        result = _gate(cli, own_ckpt, "cache", "--model", "model.py:make", "--max-samples", 300)
        assert _doc(result)["cache_hit"] is False and "Traceback" not in result.stderr
        assert "spectrum not cached (folder" in result.stderr and "holds over 3 entries" in result.stderr
    assert not list((tmp_path / "cache").iterdir())


def test_named_paths_never_read_a_fifo(tmp_path, monkeypatch):
    """A FIFO named by the code, or inside a folder it names, is keyed by its kind: reading it would wait."""
    from prunelimit.cache_reads import named_paths

    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    (tmp_path / "conf").mkdir()
    os.mkfifo(tmp_path / "conf" / "pipe")
    monkeypatch.chdir(tmp_path)
    lines = named_paths(["conf", "conf/pipe"], [])
    assert len(lines) == 1 and lines[0].startswith("conf=:folder ")


def test_named_paths_never_walk_the_kernels_folders(monkeypatch):
    """Run from ``/`` (a container's working folder), a string such as ``"proc"`` or ``"dev"``
    names the kernel's views, whose files change on their own or block when read: not keyed."""
    from prunelimit.cache_reads import named_paths

    monkeypatch.chdir("/")
    assert named_paths(["proc", "dev", "sys", "/proc/self/status", "dev/null"], []) == []


def test_hit_message_names_no_cache(cli, own_ckpt, tmp_path):
    """What the key cannot see (a path the code builds from pieces, a file installed code reads)
    is undone by --no-cache: a result from the cache says so where it says it is cached."""
    for _ in range(2):
        result = cli("gate", own_ckpt, "--cache-dir", tmp_path / "cache", "--min-ratio", "0", "--max-samples", 300)
    assert "(spectrum from the cache; --no-cache recomputes it)" in result.stdout, result.stdout



def test_named_paths_in_a_removed_working_folder(tmp_path, monkeypatch):
    """A command run from a folder removed meanwhile (a CI step after a clean-up): no relative
    string names anything there, and the key is computed, not an internal error."""
    from prunelimit.cache_reads import named_paths

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "scale.txt").write_text("1.0")
    (tmp_path / "gone").mkdir()
    monkeypatch.chdir(tmp_path / "gone")
    (tmp_path / "gone").rmdir()
    assert named_paths(["scale.txt"], [tmp_path / "code"]) == [f"scale.txt=:{_sha256(b'1.0')}"]


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_the_result_caches_own_entries_never_enter_the_key(tmp_path, monkeypatch):
    """``print("*" * 40)`` in a forward, run from a checkout with its cache folder inside: the
    pattern matched the cache folder, whose listing changes with every entry written, so no
    command ever hit. The cache's entries (and their temporary files) are not listed."""
    from prunelimit.cache import Entry, Store
    from prunelimit.cache_reads import named_paths

    monkeypatch.chdir(tmp_path)
    (tmp_path / "cache").mkdir(mode=0o700)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "scale.txt").write_text("1.0")
    store = Store(tmp_path / "cache")
    store.save("a" * 64, "spectrum", Entry({"int": 1}))
    first = named_paths(["*", "cache"], [])
    store.save("b" * 64, "spectrum", Entry({"int": 2}))
    (tmp_path / "cache" / f".{'c' * 64}.entry.x1y2.tmp").write_bytes(b"half")
    assert named_paths(["*", "cache"], []) == first
    (tmp_path / "conf" / "scale.txt").write_text("3.0")
    assert named_paths(["*", "cache"], []) != first


def test_a_changed_file_is_keyed_beside_a_copy_in_another_code_folder(tmp_path, monkeypatch):
    """``scale.txt`` beside this model and others in older checkouts whose modules are imported
    too: editing this one to another's content kept the set of contents, and the key (seen in a
    test process holding earlier tests' modules: gate served the old spectrum)."""
    from prunelimit.cache_reads import named_paths

    older = [tmp_path / "old1", tmp_path / "old2"]
    for name, value in (("old1", "3.0"), ("old2", "1.0"), ("new", "1.0")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "scale.txt").write_text(value)
    monkeypatch.chdir(tmp_path / "new")
    first = named_paths(["scale.txt"], older)
    (tmp_path / "new" / "scale.txt").write_text("3.0")
    assert named_paths(["scale.txt"], older) != first


@pytest.mark.parametrize("named", ["big.bin", "conf"])
def test_a_file_too_large_to_hash_rewritten_with_its_size_and_time_kept_is_a_miss(tmp_path, monkeypatch, named):
    """A file over ``FILE_BYTES_KEYED`` counts by its stat, not its bytes: it was keyed by size and
    modification time alone, so one rewritten in place with both kept (``cp -p``, ``rsync -t``,
    ``touch -d``, a build tool fixing every time) kept the key and the old spectrum. Its change
    time, which no one can set back, is keyed too; left alone, the key stays."""
    import time

    from prunelimit import cache_reads
    from prunelimit.cache_reads import named_paths

    monkeypatch.setattr(cache_reads, "FILE_BYTES_KEYED", 8)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf").mkdir()
    big = tmp_path / ("big.bin" if named == "big.bin" else "conf/big.bin")
    big.write_bytes(b"1" * 32)
    first = named_paths([named], [])
    assert named_paths([named], []) == first
    before = big.stat()
    time.sleep(0.05)  # the change time ticks coarsely (a jiffy): a real rewrite comes a run later
    big.write_bytes(b"3" * 32)
    os.utime(big, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (big.stat().st_size, big.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert named_paths([named], []) != first


def test_another_large_file_with_the_same_size_and_times_is_a_miss(tmp_path):
    """A file over ``FILE_BYTES_KEYED`` counts by its stat: another file put in its place (a link
    re-pointed, ``mv`` over it) with the same size and modification time (``cp -p``) and the same
    change time (it ticks by a jiffy: two files copied at once share it; measured on ext4) kept
    the key. Its inode tells them apart."""
    from prunelimit.cache_reads import file_content

    def stat(inode: int) -> os.stat_result:  # mode, inode, device, links, uid, gid, size, times (s, then ns)
        return os.stat_result((0o100644, inode, 1, 1, 0, 0, 2**27, 0, 0, 0, 0.0, 0.0, 0.0, 5, 7, 9))

    path = tmp_path / "big.bin"
    assert file_content(path, stat(11), 2**26) == file_content(path, stat(11), 2**26)
    assert file_content(path, stat(11), 2**26) != file_content(path, stat(12), 2**26)


def test_a_file_joined_to_the_home_folder_is_keyed(tmp_path, monkeypatch):
    """``Path.home() / ".plconf" / "scale.txt"``: the home folder was no folder relative strings
    resolve against, so editing the file kept the key. It is one now, unless it is ``/``."""
    from prunelimit.cache_reads import named_paths

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home" / ".plconf").mkdir(parents=True)
    (tmp_path / "home" / ".plconf" / "scale.txt").write_text("1.0")
    (tmp_path / "code").mkdir()
    monkeypatch.chdir(tmp_path / "code")
    first = named_paths([".plconf", "scale.txt"], [tmp_path / "code"])
    (tmp_path / "home" / ".plconf" / "scale.txt").write_text("3.0")
    assert named_paths([".plconf", "scale.txt"], [tmp_path / "code"]) != first
    monkeypatch.setenv("HOME", "/")
    assert named_paths(["tmp", "usr"], [tmp_path / "code"]) == []


def test_a_file_a_step_up_from_the_code_is_keyed(tmp_path, monkeypatch):
    """``os.path.join(HERE, "..", "shared", "scale.txt")`` run from the code's folder: ``shared``
    resolved against nothing that holds it, so editing the file kept the key."""
    from prunelimit.cache_reads import named_paths

    (tmp_path / "src").mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "scale.txt").write_text("1.0")
    monkeypatch.chdir(tmp_path / "src")
    strings = ["..", "shared", "scale.txt"]
    first = named_paths(strings, [tmp_path / "src"])
    (tmp_path / "shared" / "other.txt").write_text("written beside")
    (tmp_path / "out.json").write_text("{}")  # an output beside the checkout: its folder holds the code
    assert named_paths(strings, [tmp_path / "src"]) != first  # the folder shared is listed
    second = named_paths(strings, [tmp_path / "src"])
    (tmp_path / "out.json").write_text("{1}")
    assert named_paths(strings, [tmp_path / "src"]) == second
    (tmp_path / "shared" / "scale.txt").write_text("3.0")
    assert named_paths(strings, [tmp_path / "src"]) != second


@pytest.mark.parametrize("config, text", [
    ("conf/paths.yaml", "scale: data/scale.txt\n"),
    ("conf/paths.toml", '[model]\nscale = "data/scale.txt"\n'),
    ("conf/which.txt", "data/scale.txt\n"),
    ("conf/paths.json", '{"model": {"scale": "../data/scale.txt"}}'),  # relative to the config's folder
    ("conf/outer.json", '{"inner": "conf/inner.json"}'),  # a config naming a config naming the file
])
def test_a_file_a_named_config_lists_is_keyed(tmp_path, monkeypatch, config, text):
    """The code opens a config it names and then the file the config names: the second file was
    no string of the code's, so editing it kept the key. A small config's path-like words count."""
    from prunelimit.cache_reads import named_paths

    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "scale.txt").write_text("1.0")
    (tmp_path / "conf" / "inner.json").write_text('{"scale": "data/scale.txt"}')
    (tmp_path / config).write_text(text)
    first = named_paths([config], [])
    (tmp_path / "data" / "scale.txt").write_text("3.0")
    assert named_paths([config], []) != first
