from gridgov.core.scheduler import periodic

from .services import cases_escalate_overdue


@periodic(name="cases.escalate_overdue", seconds=60)
def escalate_overdue() -> str:
    result = cases_escalate_overdue()
    return f"marked {result['marked_overdue']}, escalated {result['escalated']}"
