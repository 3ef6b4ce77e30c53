"""The exo-oauth Pulumi component and its pure helpers."""
