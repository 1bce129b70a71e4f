"""The "Platform" menu pages: HTML shells and static JavaScript calling the platform API."""
