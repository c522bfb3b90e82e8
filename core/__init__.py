"""Core: settings, tenant configuration, the error tree, ids. Imports nothing internal."""
