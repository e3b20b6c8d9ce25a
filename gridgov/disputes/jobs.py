from gridgov.core.scheduler import periodic

from .services import disputes_apply_time_rules


@periodic(name="disputes.time_rules", seconds=300)
def apply_time_rules() -> str:
    result = disputes_apply_time_rules()
    return f"escalated {result['escalated']}, referred {result['referred']}, overdue {result['overdue']}"
