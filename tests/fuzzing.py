"""Shared pieces of the fuzzing suite: the property every reader must keep, and the run budgets.

The property: a reader given any bytes returns a valid result or raises a one-line InputError, and its
Python/numpy allocations (tracemalloc) stay under a bound that follows from the input's size.
"""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings

from poselift.errors import InputError

FAST_EXAMPLES = int(os.environ.get("POSELIFT_FUZZ_EXAMPLES", "25"))
"""Inputs per reader in the default suite (seeded: the same inputs every run)."""
SLOW_EXAMPLES = int(os.environ.get("POSELIFT_FUZZ_SLOW_EXAMPLES", "400"))
"""Inputs per reader in the slow suite."""
MEMORY_FLOOR = 64 * 2**20
"""Bytes any read may allocate whatever its input; beyond that, MEMORY_FACTOR times the input's size."""
MEMORY_FACTOR = 200

fast = settings(max_examples=FAST_EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
slow = settings(max_examples=SLOW_EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

TRIED: dict[str, int] = {}
"""Inputs tried per reader in this process (for the figures in docs/reliability.md)."""


def holds(reader: str, call: Callable[[], Any], input_size: int) -> Any:
    """Run `call`: a result, or None when it raised a one-line InputError; fail on anything else or on a
    peak allocation above MEMORY_FLOOR + MEMORY_FACTOR * input_size."""
    TRIED[reader] = TRIED.get(reader, 0) + 1
    tracing = tracemalloc.is_tracing()
    tracemalloc.start()
    tracemalloc.reset_peak()  # a trace another test left running must not lend this input its peak
    try:
        result = call()
    except InputError as error:
        message = str(error)
        assert message and "\n" not in message, f"{reader}: InputError message is not one line: {message!r}"
        result = None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        if not tracing:
            tracemalloc.stop()
    bound = MEMORY_FLOOR + MEMORY_FACTOR * input_size
    assert peak <= bound, f"{reader}: peak {peak:,} bytes for an input of {input_size:,} bytes (bound {bound:,})"
    return result
