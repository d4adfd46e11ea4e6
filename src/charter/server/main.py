"""The app object for multi-worker uvicorn (``charter serve --workers N``): settings from
the environment, one runtime per worker process."""

from charter.core.config import load_settings
from charter.server.app import create_app

app = create_app(load_settings())
