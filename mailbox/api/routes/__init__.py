"""API route handlers, one module per audience or resource."""
