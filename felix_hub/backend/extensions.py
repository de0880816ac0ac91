"""Flask extensions, created unbound and attached in `create_app()`."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from felix_hub.backend.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
