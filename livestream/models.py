from django.db import models

from access.tenancy import TenantQuerySet


class StreamTokenUse(models.Model):
    """A stream token that has opened its team's live stream (livestream/tokens.py): which connection
    holds it now, and until when the same `?token=` URL may open the stream again.

    In the database, not the cache: what a token has been used for must survive a cache that is
    flushed, restarted empty or restored from an older snapshot. Holds only identifiers and times:
    the token itself is never stored (its `jti` alone opens nothing; the token's signature does).
    """

    jti = models.UUIDField(primary_key=True)
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="+")
    # The connection that streams with it now (a random id per connection), or None between two.
    held_by = models.UUIDField(null=True, blank=True)
    # A hold not renewed by then has lapsed (its process died): the stream server renews it.
    held_until = models.DateTimeField()
    # Until when the token may open the stream again (a reconnect); rows past it are pruned.
    reopen_until = models.DateTimeField(db_index=True)

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"stream token {self.jti} ({'held' if self.held_by else 'free'})"
