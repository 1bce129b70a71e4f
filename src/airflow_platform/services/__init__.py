"""Use cases of the platform. No Flask here; errors are ``PlatformError`` subclasses."""
