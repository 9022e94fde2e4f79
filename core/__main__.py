"""``python -m instructgen`` runs the command line."""

from instructgen.cli import console_main

console_main()
