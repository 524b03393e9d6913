"""Package caches (issue 10, class 11): a poisoned cache entry runs later, outside the sandbox.

The user's pip, uv, npm and cargo caches are read-only to sandboxed commands by default;
package managers inside get a private cache for the session instead (PIP_CACHE_DIR,
UV_CACHE_DIR, npm_config_cache, ...), so installs still work and still cache. Only the
user's own settings can make the real caches writable (`sandbox.writableCaches`).
"""

from __future__ import annotations

import json
import sys

from attack_kit import bash, turn

BYPASS = "bypassPermissions"
CACHES = (".cache/pip/wheels", ".cache/uv/wheels-v1", ".npm/_cacache", ".cargo/registry/cache")


def _with_caches(lab) -> None:
    for rel in CACHES:
        (lab.home / rel).mkdir(parents=True)
    (lab.home / ".cache/pip/wheels/entry.txt").write_text("a cached entry\n")
    lab.rebaseline()


def test_poisoned_entries_cannot_be_planted(lab):
    _with_caches(lab)
    command = "; ".join(f"mkdir -p ~/{rel}/x && printf evil > ~/{rel}/x/evil.whl; echo rc=$?" for rel in CACHES)
    command += "; printf evil >> ~/.cache/pip/wheels/entry.txt; ln -s ~/.npm/_cacache/index link && echo x > link"
    out = lab.run([turn(bash("x", command))], mode=BYPASS)
    assert "Read-only file system" in out.result_text("x")
    lab.assert_safe(out)  # every byte of the home, caches included, as it was


def test_a_command_pointing_pip_back_at_the_users_cache_gets_nowhere(lab):
    _with_caches(lab)
    command = ("export PIP_CACHE_DIR=$HOME/.cache/pip XDG_CACHE_HOME=$HOME/.cache npm_config_cache=$HOME/.npm; "
               "python3 -m venv .venv && .venv/bin/pip install --no-index --no-deps -q ./tinysrc-0.1.tar.gz; echo rc=$?")
    _sdist(lab)
    lab.rebaseline()
    out = lab.run([turn(bash("x", command))], mode=BYPASS, timeout=180)
    assert "rc=" in out.result_text("x")
    lab.assert_safe(out)


def test_installs_still_work_and_cache_privately(lab):
    _with_caches(lab)
    _sdist(lab)
    lab.rebaseline()
    command = (f"{sys.executable} -m venv .venv && .venv/bin/pip install --no-index --no-deps ./tinysrc-0.1.tar.gz "
               "&& .venv/bin/python -c 'import tinysrc; print(tinysrc.VALUE)'; "
               "echo cache=$PIP_CACHE_DIR; find $PIP_CACHE_DIR -name '*.whl'")
    out = lab.run([turn(bash("x", command))], mode=BYPASS, timeout=180)
    text = out.result_text("x")
    assert "Successfully installed tinysrc" in text and "\n7\n" in text and "tinysrc-0.1-py3-none-any.whl" in text, text
    assert str(lab.home) not in text.split("cache=")[1].splitlines()[0]  # not the user's cache
    lab.assert_safe(out)


def test_the_users_opt_in_makes_them_writable(lab):
    """Proof the planting test can fail: with the user's opt-in the same write lands."""
    _with_caches(lab)
    settings = lab.ketch_home / "settings.json"
    data = json.loads(settings.read_text())
    data["sandbox"] = {"writableCaches": True}
    settings.write_text(json.dumps(data))
    out = lab.run([turn(bash("x", "printf planted > ~/.cache/pip/wheels/planted.whl; echo rc=$?"))], mode=BYPASS)
    assert "rc=0" in out.result_text("x")
    assert (lab.home / ".cache/pip/wheels/planted.whl").read_text() == "planted"


def test_a_project_cannot_opt_in(lab):
    _with_caches(lab)
    (lab.ws / ".ketch").mkdir()
    (lab.ws / ".ketch/settings.json").write_text(json.dumps({"sandbox": {"writableCaches": True}}))
    out = lab.run([turn(bash("x", "printf planted > ~/.cache/pip/wheels/planted.whl; echo rc=$?"))], "--trust",
                  mode=BYPASS)
    assert "rc=1" in out.result_text("x")
    assert not (lab.home / ".cache/pip/wheels/planted.whl").exists()


_BACKEND = """
import base64, hashlib, os, zipfile
DIST = "tinysrc-0.1.dist-info"
META = "Metadata-Version: 2.1\\nName: tinysrc\\nVersion: 0.1\\n"
WHEEL = "Wheel-Version: 1.0\\nGenerator: tiny\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
def get_requires_for_build_wheel(config_settings=None):
    return []
def prepare_metadata_for_build_wheel(directory, config_settings=None):
    os.makedirs(os.path.join(directory, DIST))
    with open(os.path.join(directory, DIST, "METADATA"), "w") as f:
        f.write(META)
    return DIST
def build_wheel(directory, config_settings=None, metadata_directory=None):
    files = {"tinysrc/__init__.py": open("tinysrc/__init__.py", "rb").read(),
             DIST + "/METADATA": META.encode(), DIST + "/WHEEL": WHEEL.encode()}
    record = [n + ",sha256=" + base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode()
              + "," + str(len(d)) for n, d in files.items()] + [DIST + "/RECORD,,"]
    files[DIST + "/RECORD"] = ("\\n".join(record) + "\\n").encode()
    name = "tinysrc-0.1-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    return name
"""


def _sdist(lab) -> None:
    """A tiny sdist in the workspace with an in-tree build backend: pip builds and caches a wheel
    from it with no network and no setuptools."""
    import tarfile

    src = lab.root / "sdist-src" / "tinysrc-0.1"
    (src / "tinysrc").mkdir(parents=True)
    (src / "tinysrc/__init__.py").write_text("VALUE = 7\n")
    (src / "backend.py").write_text(_BACKEND)
    (src / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: tinysrc\nVersion: 0.1\n")
    (src / "pyproject.toml").write_text('[build-system]\nrequires = []\nbuild-backend = "backend"\n'
                                        'backend-path = ["."]\n')
    with tarfile.open(lab.ws / "tinysrc-0.1.tar.gz", "w:gz") as tar:
        tar.add(src, arcname="tinysrc-0.1")
