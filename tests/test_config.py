"""Every scenario composes and validates; bad input fails with a message naming the key."""

import pytest
from cli_runner import run_cli
from omegaconf import OmegaConf

from sim.build import ConfigError, build
from sim.compose import compose
from sim.paths import scenario_names


def test_there_are_scenarios():
    assert {"demo", "copilot_like"} <= set(scenario_names())


@pytest.mark.parametrize("scenario", scenario_names())
def test_every_scenario_composes_and_builds(scenario):
    cfg = compose(scenario)
    assert cfg.name == scenario
    built = build(cfg)
    assert built.path
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


def test_every_catalog_entry_is_complete():
    cfg = compose("demo")
    for group in ("hardware", "models", "api_models"):
        assert len(cfg[group]) >= 1
        OmegaConf.to_container(cfg[group], resolve=True, throw_on_missing=True)


def test_misspelt_key_names_it():
    with pytest.raises(Exception, match="workload.userz"):
        compose("copilot_like", ["workload.userz=5"])


def test_wrong_type_names_the_key():
    with pytest.raises(Exception, match="horizon_s"):
        compose("demo", ["horizon_s=a_week"])


def test_unknown_scenario_lists_the_available_ones():
    with pytest.raises(Exception, match="copilot_like"):
        compose("copilot_lik")


@pytest.mark.parametrize(
    "override, needle",
    [
        ("workload.arrival=gamma", "workload.arrival='gamma'"),
        ("path=[nothing]", "path[0]='nothing'"),
        ("pools.gpu.hardware=tpu_v9", "pools.gpu.hardware='tpu_v9'"),
        ("pools.gpu.replicas=0", "pools.gpu.replicas=0"),
        ("warmup_s=1e9", "warmup_s"),
        ("workload.tokens.kind=poisson", "workload.tokens.kind"),
    ],
)
def test_bad_values_give_config_errors(override, needle):
    cfg = compose("copilot_like", [override])
    with pytest.raises(ConfigError) as err:
        build(cfg)
    assert needle in str(err.value)


def test_replicas_follow_the_sizing_rule():
    assert compose("copilot_like", ["workload.users=10"]).pools.gpu.replicas == 1
    assert compose("copilot_like", ["workload.users=1000"]).pools.gpu.replicas == 4
    assert (
        compose("copilot_like", ["workload.users=1000", "pools.gpu.replicas=9"]).pools.gpu.replicas
        == 9
    )


def _cli(*args):
    return run_cli(list(args))


def test_cli_help_lists_scenarios_and_knobs():
    out = _cli("--help")
    assert out.returncode == 0
    assert "copilot_like" in out.stdout and "demo" in out.stdout
    assert "workload.users" in out.stdout


def test_cli_bad_scenario_and_bad_key_fail_clearly():
    out = _cli("scenario=nope")
    assert out.returncode != 0
    assert "nope" in out.stderr and "copilot_like" in out.stderr
    out = _cli("scenario=demo", "horizn_s=5")
    assert out.returncode != 0
    assert "horizn_s" in out.stderr


def test_cli_config_error_is_one_clear_line(tmp_path):
    out = _cli("scenario=demo", "workload.arrival=gamma", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2
    assert "configuration error: workload.arrival='gamma'" in out.stderr
    assert "Traceback" not in out.stderr
