"""Exact replay from a JSON checkpoint, the property every agent's resume rests on."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def restored_asks_the_same(original: Any, make_restored: Callable[[], Any], *, rounds: int, n: int,
                           observe: Callable[[Any], Any]) -> Any:
    """Restore a new agent (``make_restored()``) from ``original``'s checkpoint after a JSON round
    trip (what the job file stores); for ``rounds`` rounds both must ask the same ``n`` designs,
    and both are told the same outcomes. Returns the restored agent."""
    state = json.loads(json.dumps(original.state_dict()))
    restored = make_restored()
    restored.load_state_dict(state)
    for _ in range(rounds):
        asked = original.ask(n)
        assert restored.ask(n) == asked
        for agent in (original, restored):
            agent.tell([observe(d) for d in asked])
    return restored
