"""Every option error names the option and what it must be; a misspelt option gets the nearest one and its command's
usage."""

import re

import pytest

from videostar_env.cli import main
from videostar_env.registry import check_types


def error_line(capsys, *argv):
    assert main(["bench", "--episodes", "1", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("argv, expected", [
    (["--dataset-options", '{"per_class": "four"}'], "option 'per_class' of dataset 'synthetic' must be int, got 'four'"),
    (["--dataset-options", '{"per_class": 2.5}'], "option 'per_class' of dataset 'synthetic' must be int, got 2.5"),
    (["--env-options", '{"reward": {"w_acc": "x"}}'], "option 'w_acc' of the reward must be float, got 'x'"),
    (["--vision", "yolo", "--vision-options", '{"imgsz": "big"}'],
     "option 'imgsz' of vision backend 'yolo' must be int | None, got 'big'"),
])
def test_an_option_of_the_wrong_type_names_the_option_and_its_type(argv, expected, tmp_path, capsys):
    assert expected in error_line(capsys, "--out", str(tmp_path), *argv)


def test_numbers_paths_and_configs_fit_what_they_stand_for():
    def factory(rate: float = 1.0, count: int | None = None, root: "str | None" = None, flag: bool = False):
        return None

    check_types(factory, {"rate": 2, "count": None, "root": "videos", "flag": True}, "f")
    with pytest.raises(TypeError, match="option 'flag' of f must be bool, got 1"):
        check_types(factory, {"flag": 1}, "f")
    with pytest.raises(TypeError, match=re.escape("option 'count' of f must be int | None, got True")):
        check_types(factory, {"count": True}, "f")


def test_a_misspelt_option_gets_the_nearest_one_and_the_subcommands_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--episods", "3"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: videostar bench ")
    assert err.splitlines()[-1] == "videostar bench: error: unrecognized arguments: --episods 3; did you mean --episodes?"


def test_the_discrete_env_id_is_refused_by_bench_saying_why(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--env-id", "VideoSTAR-Discrete-v0"])
    err = capsys.readouterr().err.splitlines()[-1]
    assert "VideoSTAR-Discrete-v0 takes Discrete actions" in err and "classic RL agents" in err
    assert "VideoSTAR-v0" in err


def test_a_misspelt_env_id_gets_the_nearest_one(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--env-id", "VideoSTAR-v1"])
    assert "did you mean VideoSTAR-v0?" in capsys.readouterr().err


def test_a_misspelt_option_inside_json_gets_the_nearest_one(tmp_path, capsys):
    err = error_line(capsys, "--out", str(tmp_path), "--dataset-options", '{"per_clas": 4}')
    assert "unknown option 'per_clas' for dataset 'synthetic' (did you mean 'per_class'?); valid options:" in err


def test_an_option_like_no_other_gets_no_guess(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--bogus"])
    assert capsys.readouterr().err.splitlines()[-1] == "videostar bench: error: unrecognized arguments: --bogus"
