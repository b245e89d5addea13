"""The xAPI resources over HTTP: the frame (version, authentication, errors) and one module per resource."""
