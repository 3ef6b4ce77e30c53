"""Small helpers every command uses: safe file reads, printable text, day counts, errors, progress, process lifetime."""
