"""The offline plan: run the Pulumi program on the SDK's mock monitor, judge it, render it."""
