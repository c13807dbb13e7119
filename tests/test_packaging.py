"""The package installs as described: entry point, version, matching dependency lists."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import yaml

import ruralnet

ROOT = Path(__file__).resolve().parents[1]
#: conda-forge names that differ from PyPI names.
CONDA_NAMES = {"osmium": "pyosmium"}


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower()


def _setup_requirements() -> tuple[set[str], set[str]]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    runtime = {_name(r) for r in cfg["options"]["install_requires"].split("\n") if r.strip()}
    extras = cfg["options.extras_require"]
    dev = {_name(r) for key in extras for r in extras[key].split("\n") if r.strip()}
    return runtime, dev


def _conda_requirements() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    for d in env["dependencies"]:  # packages only on PyPI, in the pip subsection
        if isinstance(d, dict):
            names |= {_name(x) for x in d.get("pip", [])}
    return names - {"python", "pip"}


def test_environment_yml_matches_setup_cfg():
    runtime, dev = _setup_requirements()
    conda = _conda_requirements()
    expected = {CONDA_NAMES.get(n, n) for n in runtime | dev}
    assert expected - conda == set(), "in setup.cfg but not in environment.yml"
    assert conda - expected == set(), "in environment.yml but not in setup.cfg"


def test_pyvrp_is_pinned():
    text = (ROOT / "setup.cfg").read_text()
    assert re.search(r"^\s*pyvrp==\d+\.\d+\.\d+\s*$", text, re.M)


def test_cli_version_and_help():
    out = subprocess.run(
        [sys.executable, "-m", "ruralnet.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"ruralnet {ruralnet.__version__}"
    helptext = subprocess.run(
        [sys.executable, "-m", "ruralnet.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("demo", "network", "od"):
        assert command in helptext


def test_console_script_installed():
    exe = Path(sys.executable).parent / "ruralnet"
    assert exe.exists(), "the ruralnet console script is not installed in this environment"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert ruralnet.__version__ in out.stdout


def test_library_never_prints(capsys, andorra_county):
    """Library calls log; they never write to stdout."""
    from ruralnet.network.travel import od_matrix

    od_matrix(
        andorra_county.network("bus"), andorra_county.villages, andorra_county.sites, progress=False
    )
    assert capsys.readouterr().out == ""


def test_the_readme_short_module_names_import():
    """#29: ``import ruralnet.maps`` (named in the README and the notebooks) failed; the short
    names are the modules themselves, in a fresh interpreter."""
    code = (
        "import ruralnet.maps, ruralnet.datasets, ruralnet.outputs.maps as m, "
        "ruralnet.sources.datasets as d\n"
        "from ruralnet.maps import county_map\n"
        "assert ruralnet.maps is m and ruralnet.datasets is d and county_map is m.county_map\n"
        "import ruralnet as rn\n"
        "assert rn.maps is m\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
