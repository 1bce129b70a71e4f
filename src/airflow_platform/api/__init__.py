"""The HTTP layer: Flask blueprints that parse, call one service, and serialize."""
