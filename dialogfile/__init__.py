"""The dialog file format: parse a Markdown dialog file into entries, and write entries back.

Pure functions over text: nothing here reads the disk (but `writer.write_dialog_file`),
opens a database or knows of search or the web.
"""
