"""Hypothesis profiles for the property tests.

`default` is what every run (and CI) uses: enough examples to mean something, and no
per-example deadline because the CI machine is slow and shared, so a deadline would only
measure the neighbours. `thorough` is for a maintainer changing the rules:
`HYPOTHESIS_PROFILE=thorough pytest -o timeout=900 tests/machines
tests/hub/test_replay_properties.py` (ten times the examples: several minutes, so the
60 s per-test timeout is raised).

Property tests take their example counts from the loaded profile (never a fixed
`max_examples`; the heaviest take half of it), so `thorough` really runs more.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    # Histories are built from several lists; generating them is the slow part, not a bug.
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    stateful_step_count=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
