"""The dialog file format: parse a Markdown dialog file into entries, and write entries back.

Pure functions over text: nothing here touches the disk but `file_io` (reading and
atomically writing dialog files), opens a database or knows of search or the web.
"""
