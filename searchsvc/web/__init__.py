"""The web layer: the Flask app, the JSON API, the pages, and the one error mapping."""
