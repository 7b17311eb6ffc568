"""dialogsearch's search service: JSON API, search page and the `dialogsearch` command."""

from searchsvc.app import create_app

__all__ = ["create_app"]
