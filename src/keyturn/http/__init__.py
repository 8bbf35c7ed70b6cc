"""The HTTP surface: thin routes that parse, call one service and shape the response."""
