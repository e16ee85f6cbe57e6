"""The operations. Importing this package registers them (see :mod:`portrait_studio.schema`)."""
from . import adjust  # noqa: F401
from . import relight  # noqa: F401
from . import retouch  # noqa: F401
from . import background  # noqa: F401
from . import burst  # noqa: F401
