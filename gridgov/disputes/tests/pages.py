"""Reading pages as a user does, for the view tests."""

import re


def text(response) -> str:
    """The visible text of a page, whitespace squashed."""
    html = re.sub(r"<(script|style|template)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
