"""The exo-oauth policy pack (a package only so that type checkers tell its __main__ from the program's)."""
