"""The only table infra keeps: what single-use tokens have been used (infra/single_use.py)."""

from django.db import models


class UsedToken(models.Model):
    """One used single-use token, until it would have expired anyway. `digest` is a SHA-256 of
    what the token is (its kind, its issuer and its `jti`), never the token itself."""

    digest = models.CharField(max_length=64, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "infra_usedtoken"

    def __str__(self) -> str:
        return f"used token {self.digest[:12]} (until {self.expires_at:%Y-%m-%d %H:%M:%S})"
