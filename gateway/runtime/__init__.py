"""What lives as long as the process: the services shared by all requests
(database, cache, rate limiter, authenticator, connectors built from
settings), opened and closed by the app's lifespan or a CLI command.

Imported by the app, the CLI, loaders and resolvers.
"""
