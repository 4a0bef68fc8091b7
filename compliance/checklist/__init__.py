"""The checklist: one thin pytest test per control, one module per area.

A package of the installed suite (not a folder of this repository only), so
`passq-compliance` runs it from any folder and pytest imports its modules
under their own names (`compliance.checklist.test_hardening`), never clashing
with a user's own `test_hardening.py`.
"""
