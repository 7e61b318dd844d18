"""The `gf` command line, built on the SDK (click for commands, rich for tables).

Shell completion (click's own), e.g. for bash in ~/.bashrc:
    eval "$(_GF_COMPLETE=bash_source gf)"
(zsh: `zsh_source`, fish: `_GF_COMPLETE=fish_source gf | source`.)
"""

from . import commands as _commands  # noqa: F401 - registers the team commands on `cli`
from .main import Exit, cli, main

__all__ = ["Exit", "cli", "main"]
