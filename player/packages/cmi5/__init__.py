"""cmi5 (the xAPI profile for LMS-launched content), LMS side: course structures (``structure``),
import (``importer``), launch and the LMS's statements (``launch``), export (``export``)."""
