"""The five states of a health machine."""

from __future__ import annotations

from enum import Enum


class HealthState(Enum):
    HEALTHY = "healthy"
    SUSPECT = "suspect"
    ALERTING = "alerting"
    REMINDING = "reminding"
    RECOVERED = "recovered"

    @property
    def is_incident_open(self) -> bool:
        """True while the owner has been alerted and no recovery was reported yet."""
        return self in (HealthState.ALERTING, HealthState.REMINDING)
