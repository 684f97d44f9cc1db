"""Our own CRM data: customers' profiles, notes, tags, consents, loyalty points
and tasks (follow-ups).

``service.Crm`` is the way in for writes: each of its methods validates,
commits in one transaction and then announces the change on the change bus,
so no caller can write without announcing. ``customers`` and ``tasks`` hold
the checks and the transactions it runs. Reads go through the loaders
(``gateway.loaders.crm``), not through this package.

Imported by ``gateway.runtime.services`` (which builds the one ``Crm``), by the
resolvers, and by the schema layer for the plain inputs (``NewCustomer``,
``NewAddress``) it converts its GraphQL inputs into. It imports only the
database layer, ``history``, ``validation``, ``errors`` and the change bus.
"""
