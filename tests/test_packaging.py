"""A regular (non-editable) install ships configs, scenarios and trace samples."""

import subprocess
import sys
import zipfile

import pytest


@pytest.mark.slow
def test_wheel_contains_configs_scenarios_and_data(tmp_path):
    from sim.paths import _PKG

    root = _PKG.parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("aicostsim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "sim/_data/configs/config.yaml",
        "sim/_data/configs/hardware/default.yaml",
        "sim/_data/configs/models/default.yaml",
        "sim/_data/configs/api_models/default.yaml",
        "sim/_data/scenarios/copilot_like.yaml",
        "sim/_data/scenarios/demo.yaml",
        "sim/data/azure_llm_2023_code.csv",
        "sim/__main__.py",
    ):
        assert needed in names, needed
