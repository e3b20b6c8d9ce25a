from gridgov.core.scheduler import periodic

from .rollups import rollups_update


@periodic(name="analytics.rollups", seconds=60)
def update_rollups() -> str:
    result = rollups_update()
    return f"{result['cases']} cases changed, {result['days']} days recomputed"


@periodic(name="analytics.index_snapshot", seconds=600)
def refresh_index_snapshot() -> str:
    """The residents' figures of the governance effectiveness index (data quality, visit coverage) per node."""
    from .index import snapshot_refresh

    return f"{snapshot_refresh()} nodes"
