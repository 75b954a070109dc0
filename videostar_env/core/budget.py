"""TokenBudget: the policy's response tokens for one episode, spent by its turns and the env's replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..clients.tokens import Encoder, ReplyRoom, TokenMeter, make_encoder


def answer_reserve(reserve: int, budget: int | None) -> int:
    """The tokens an episode's tool replies leave for the answer: the config's reserve, at most half the budget."""
    return reserve if budget is None else min(reserve, budget // 2)


@dataclass
class TokenBudget:
    """An episode's token budget (as verl's response_length): None left means unbounded.

    The policy's turns and every env message spend it; each tool reply gets the room left minus
    the tokens kept for the answer. A driver that counts the real tokens (verl's agent loop) sets
    the exact count before a step, and the budget counts on from there.
    """

    counter: str | Encoder  # what counts text (clients.tokens.make_encoder)
    reserve: int = 512  # tokens tool replies leave for the final answer (at most half the budget)
    left: int | None = None
    _exact: int | None = field(default=None, repr=False)  # the driver's count for the next policy turn
    _reserve: int = field(init=False, repr=False)  # this episode's reserve (start sets it; the config's until then)
    _meter: TokenMeter | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._reserve = self.reserve

    def meter(self) -> TokenMeter:
        """The token meter, loaded on first use (a counter that cannot be loaded fails here)."""
        if self._meter is None:
            self._meter = TokenMeter(make_encoder(self.counter))
        return self._meter

    def start(self, budget: int | None) -> None:
        """A new episode with `budget` tokens (None: unbounded)."""
        if budget is not None:
            self.meter()
        self.left, self._exact, self._reserve = budget, None, answer_reserve(self.reserve, budget)

    def set_exact(self, tokens: Any) -> None:
        """The driver's exact tokens left once the next policy turn is in the context."""
        if isinstance(tokens, bool) or not isinstance(tokens, (int, np.integer)):
            raise TypeError(f"set_tokens_left(tokens) takes an integer, got {tokens!r} ({type(tokens).__name__})")
        self._exact = int(tokens)  # 0 or less: spent, the step ends the episode after the policy's turn

    def policy_turn(self, text: str) -> None:
        """Spend the policy's turn: the driver's exact count if it gave one, else the turn's tokens."""
        if self._exact is not None:
            self.left, self._exact = self._exact, None
        elif self.left is not None:
            self.left -= self.meter().turn("assistant", text)

    def env_turn(self, text: str) -> None:
        """Spend a plain env message."""
        if self.left is not None:
            self.left -= self.meter().turn("user", text)

    def room(self) -> ReplyRoom | None:
        """The room for the next tool reply (None: unbounded)."""
        return None if self.left is None else ReplyRoom(self.left - self._reserve, self.left, self.meter())

    def spend_reply(self, room: ReplyRoom | None, text: str, images: Any, videos: Any = ()) -> None:
        """Spend a tool reply the toolbox fitted into `room`."""
        if room is not None:
            self.left -= room.cost(text, images, videos)

    @property
    def spent(self) -> bool:
        """Whether no token is left for another policy turn."""
        return self.left is not None and self.left <= 0

    @property
    def shown(self) -> int | None:
        """The tokens left as info shows them (never below 0; None: unbounded)."""
        return None if self.left is None else max(self.left, 0)
