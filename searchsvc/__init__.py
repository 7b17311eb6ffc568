"""dialogsearch's search service: JSON API, search page and the `dialogsearch` command.

The app factory is `searchsvc.web.app.create_app`; this package's face imports nothing,
so that the command line's indexer commands never load Flask.
"""
