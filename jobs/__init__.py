"""The job domain in pure Python: states, G-code analysis, machine profiles, matching."""
