"""Every governance and admin action, once.

Each function checks the caller's role, validates, acts and writes the action's audit
event; the CLI and the HTTP API both call it and hold no business logic of their own.
Reads are here too, filtered by what the caller may see. An action's first argument is
the runtime, its second the acting principal (the CLI acts as ``local-admin``, or under a
name it is given with ``--reviewer``, ``--approver`` or ``--author``); a few helpers that
act for nobody (authentication, schema status, validating a charter file) take less.
"""
