"""Reads of accounts: by e-mail address and by what a person types to log in."""

from __future__ import annotations

from django.db.models import Case, IntegerField, Value, When

from .models import User


def user_by_email(email: str) -> User | None:
    """The account of this address. Case-insensitive, but an exact match wins: PostgreSQL's
    UPPER() also folds look-alikes (a dotless `ı` matches `i`), so two accounts can match."""
    email = email.strip()
    return (
        User.objects.filter(email__iexact=email)
        .annotate(inexact=Case(When(email=email, then=Value(0)), default=Value(1), output_field=IntegerField()))
        .order_by("inexact", "date_joined")
        .first()
    )


def find_login_user(identifier: str) -> User | None:
    """An identifier with `@` is an e-mail address, anything else a username (usernames cannot
    contain `@`, so nobody can register a username that shadows somebody's e-mail login)."""
    if "@" in identifier:
        return user_by_email(identifier)
    return User.objects.filter(username=identifier).first()
