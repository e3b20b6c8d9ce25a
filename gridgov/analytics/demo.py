"""The demo step: the demo cases are written in bulk (no signals), so the rollups are rebuilt from them, and
the index's snapshot of the registry is taken once (the periodic job keeps it fresh afterwards)."""

from .index import snapshot_refresh
from .rollups import rollups_rebuild


def build_rollups(*, size: str, seed: int) -> dict:
    result = rollups_rebuild()
    result["index_snapshot_nodes"] = snapshot_refresh()
    return result
