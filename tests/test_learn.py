"""The learnability benchmark: SB3 agents train through gym.make + the wrappers and are evaluated on held-out episodes."""

import json

import gymnasium as gym
import pytest

pytest.importorskip("stable_baselines3", reason="the learn extra (stable-baselines3) is not installed")

from videostar_benchmarks.learn import (EVAL_SEED, HELD_OUT, EpisodeLog, PolicyAgent, UniformDiscreteAgent, curves, evaluate,
                              main, train)


def test_training_logs_every_finished_episode_with_its_reward_components():
    model, log = train("PPO", "tool_cost", timesteps=256)
    assert len(log.rows) >= 256 // 4  # episodes end within max_turns=4 steps
    row = log.rows[-1]
    assert {"timestep", "tool_calls", "accuracy", "format", "tool", "submotion", "tool_cost", "total"} <= set(row)
    assert row["tool_cost"] == pytest.approx(-0.1 * row["tool_calls"]) or row["tool_calls"] == 0


def test_a2c_trains_and_unknown_algorithms_are_refused():
    model, log = train("A2C", "full", timesteps=64)
    assert log.rows
    with pytest.raises(ValueError, match="PPO or A2C"):
        train("SAC", "full", timesteps=10)


def test_policies_are_evaluated_greedily_on_held_out_seeds():
    model, _ = train("PPO", "full", timesteps=128)
    env = gym.make("VideoSTAR-Discrete-v0", **HELD_OUT)
    a, b = evaluate(env, PolicyAgent(model), 5), evaluate(env, PolicyAgent(model), 5)
    assert a == b and a["episodes"] == 5 and 0 <= a["tool_use_rate"] <= 1  # greedy and seeded: reproducible
    random = evaluate(env, UniformDiscreteAgent(env.action_space.n), 5)
    assert random["episodes"] == 5 and EVAL_SEED >= 100_000


def test_curves_are_rolling_means():
    rows = [{"timestep": float(i), "accuracy": float(i % 2)} for i in range(1, 11)]
    c = curves(rows, window=4)
    assert c["accuracy"][0] == 0.5 and c["timestep"][0] == 4.0 and len(c["accuracy"]) == len(c["timestep"])
    assert curves([], 4) == {} and EpisodeLog().rows == []


def test_quick_command_writes_learn_json_and_curves(tmp_path):
    assert main(["--out", str(tmp_path), "--quick"]) == 0
    result = json.loads((tmp_path / "learn.json").read_text())
    assert set(result["runs"]) == {"PPO full", "PPO acc_format", "PPO no_tool", "PPO no_sub", "PPO tool_cost", "A2C full"}
    assert set(result["baselines"]) == {"random", "no-tool", "uniform-discrete"}
    assert {"full_beats_random_by", "full_beats_no_tool_by", "full_tool_use_rate"} <= set(result["checks"])
    assert (tmp_path / "learn_curves.png").stat().st_size > 10_000
