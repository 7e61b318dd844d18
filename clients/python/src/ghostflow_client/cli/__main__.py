"""`python -m ghostflow_client.cli`: the `gf` command, where its console script is not on PATH."""

from . import main

main()
