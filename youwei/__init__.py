"""The ``youwei`` command and the agencies' client."""

import warnings

# nameko imports eventlet, which announces its deprecation on every command's stderr.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
