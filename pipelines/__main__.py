"""`python -m strata <command> ...`: the module form of the `strata` command."""

from strata.cli import main

main()
