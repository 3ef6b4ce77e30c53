"""The policy rules every stack must pass (offline in `plan`, and as the Pulumi policy pack)."""
