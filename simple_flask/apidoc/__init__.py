"""The API's description, off the request path: the OpenAPI document and the /docs page."""
