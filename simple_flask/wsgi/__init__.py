"""What a request meets outside Flask, outermost first: the request log, then the status memo."""
