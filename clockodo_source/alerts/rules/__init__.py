"""The alert rules, one module each, in the contract's order."""

from __future__ import annotations

from clockodo_source.alerts.rules import (
    budget,
    missing_time,
    overtime,
    running_clock,
    sync,
    unbilled_age,
)
from clockodo_source.alerts.rules.context import Rule, RuleContext

RULES: tuple[Rule, ...] = (
    budget.RULE,
    unbilled_age.RULE,
    running_clock.RULE,
    missing_time.RULE,
    overtime.RULE,
    sync.RULE,
)

__all__ = ["RULES", "Rule", "RuleContext"]
