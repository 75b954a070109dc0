"""A policy that thinks slowly (stands in for a model's generation time), so a test can kill a run mid-way."""

import time

from videostar_agents import HeuristicAgent


class SlowHeuristic(HeuristicAgent):
    """The heuristic agent, sleeping before each turn."""

    name = "slow-heuristic"

    def __init__(self, seed: int = 0, delay: float = 0.05):
        super().__init__(seed)
        self.delay = delay

    def act(self, observation, info):
        time.sleep(self.delay)
        return super().act(observation, info)
