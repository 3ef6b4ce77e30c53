"""The pure domain of exo-oauth, which the Pulumi program and the CLI both read.

The stack config, Microsoft's facts, permissions, outputs, exit codes and the Exchange script renderer. Plain values in,
plain values out: nothing here imports Pulumi or the CLI (import-linter's layers contract in pyproject.toml).
"""
