"""The guarantee app's Python code: pure loan, risk and funding rules, and the hooks the YAML names.

Modules ending in `_hooks` register hooks; the others hold pure functions without I/O.
"""
