"""The shared vocabulary every layer speaks: messages, passages, requests, usage, route
names, principals, the result schema, errors, settings and text helpers.

Nothing here imports from the rest of Charter; stages, backends, services and the edges
import from here.
"""
