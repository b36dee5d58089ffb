"""The ways in and out of Runledger: the Starlette app, its routes, auth, errors and the CLI."""
