"""cmi5 in the LRS: the AU sessions an LMS opens (``storage``), the credential each AU gets for one
session (``sessions``), and the statement rules the LRS enforces for it (``rules``, cmi5 §9)."""
