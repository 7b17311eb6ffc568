"""dialogsearch's search service: JSON API, search page and the `dialogsearch` command."""
