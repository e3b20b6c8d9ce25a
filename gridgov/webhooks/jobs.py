from gridgov.core.scheduler import periodic

from .services import deliveries_send


@periodic(name="webhooks.deliver", seconds=30)
def deliver() -> str:
    """Send the due webhook deliveries (first attempts, retries after backoff, replays)."""
    r = deliveries_send()
    return f"{r['sent']} sent, {r['succeeded']} succeeded, {r['failed']} to retry, {r['gave_up']} given up"
