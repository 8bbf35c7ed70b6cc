"""keyturn: a self-hostable server for Vercel Marketplace resource secrets.

Partners push a resource's secrets; every connected project derives its env vars from the
resource's current secrets version; deployments freeze the env they were built with.
"""

__version__ = "0.1.0"
