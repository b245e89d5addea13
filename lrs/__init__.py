"""The xAPI Learning Record Store: resources, statement storage and queries, documents,
attachments, signatures, credentials, scopes and tenants. Imports only ``schemas`` of ours."""
