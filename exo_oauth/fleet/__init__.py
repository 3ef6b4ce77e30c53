"""Many stacks: the project's stack files and outputs, CI matrices, drift and rotation due."""
