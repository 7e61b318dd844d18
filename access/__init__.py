"""Who is calling, in which team, with which scopes: one immutable `request.access` per request.

- `scopes`: the scope catalog, the legacy expansion and the role map (the one place for them);
- `context`: the `Access` value, built once after authentication and bound to the team of
  X-Team-Id by the team step;
- `permissions`: the DRF permission classes every view uses (scope checks, interactive login);
- `views`: the base every API view derives from (`AccessMixin`, `TeamScopedMixin`).

A credential kind is declared by its authentication class (`credential_kind`); `context.KINDS`
says what each kind may do. Adding a kind is one authentication class and one line there.
"""
