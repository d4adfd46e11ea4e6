"""Agents: teams of agents declared in YAML, run as durable workflows.

``spec`` declares agents, teams and budgets; ``tools`` the governed tools they may call;
``budget`` the platform's limits on a run; ``protocol`` how an agent's reply is read (a
tool call, a final answer, a reviewer's approval); ``runs`` stores runs and the
idempotency ledger of tools with side effects; ``engine`` runs a team on DBOS, each
model call, tool call and wait a durable step. What the engine needs from the rest of
Charter (a governed model call, screening of tool text, knowledge search) it receives
through the ``Ports`` Protocol, which ``services/agents.py`` implements.
"""
