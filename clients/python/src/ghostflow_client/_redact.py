"""What may be shown of a URL: never the user name and password some put in it (``user:pw@host``)."""

from __future__ import annotations

import re

# `scheme://` then the userinfo up to its last `@` before the host (no `/`, `?`, `#` or space in
# between, so an `@` in a path or query is left alone).
_USERINFO = re.compile(r"(?<=://)[^/?#\s]*@")


def redact_url(text: object) -> str:
    """`text` (a URL, or a message with URLs in it) with every URL's userinfo replaced by ``***@``."""
    return _USERINFO.sub("***@", str(text))
