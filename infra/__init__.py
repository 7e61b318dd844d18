"""Shared runtime infrastructure every app uses and none owns: the error shape (`errors`), request
parsing and query parameters (`parsers`, `params`), pagination, rate limits, the client address,
request middleware, health probes and the OpenAPI conventions. It imports no app."""
