"""The failure of an object source whose optional package is missing (SAM 2, Semantic-SAM): its own module, so
the registry and the sources it builds both import it without importing each other."""


class MissingDependencyError(ImportError):
    """An optional package a source needs is not installed; the message says how to install it."""
