"""Persistence: the only package that imports SQLAlchemy.

Repositories add and flush, never commit; `UnitOfWork` owns the transaction and the services
decide when it commits.
"""
