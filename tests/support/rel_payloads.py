"""Hostile inputs for the security checks: stored XSS payloads and file-naming parameters."""

from __future__ import annotations

#: Each one sets window.__xss if a browser ever runs it.
XSS_PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    "<svg onload=window.__xss=1>",
    "<svg><script>window.__xss=1</script></svg>",
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    "<body onload=window.__xss=1>",
    '<a href="javascript:window.__xss=1">click</a>',
    '"><script>window.__xss=1</script>',
    "'><img src=x onerror=window.__xss=1>",
    "</mark><script>window.__xss=1</script><mark>",
    "&lt;script&gt;window.__xss=1&lt;/script&gt;",
    "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
    '<details open ontoggle="window.__xss=1">',
    '<input autofocus onfocus="window.__xss=1">',
    '<video><source onerror="window.__xss=1"></video>',
    '<math><mtext><img src=x onerror="window.__xss=1"></mtext></math>',
    "<style>@import 'javascript:window.__xss=1';</style>",
    '<object data="javascript:window.__xss=1"></object>',
    '<embed src="javascript:window.__xss=1">',
    '<form><button formaction="javascript:window.__xss=1">go</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=1">',
    "<IMG SRC=`javascript:window.__xss=1`>",
    "<<SCRIPT>window.__xss=1//<</SCRIPT>",
    '<div style="background:url(javascript:window.__xss=1)">x</div>',
    "{{constructor.constructor('window.__xss=1')()}}",
    "${window.__xss=1}",
]

#: Payloads aimed at the entry page's Markdown rendering: links, images and autolinks
#: to javascript:/data:, raw HTML inside Markdown blocks. Each would set window.__xss.
MARKDOWN_XSS_PAYLOADS = [
    "[click](javascript:window.__xss=1)",
    "[click](JavaScript:window.__xss=1)",
    "[click](java&#x09;script:window.__xss=1)",
    "[click](&#106;avascript:window.__xss=1)",
    "[click](<javascript:window.__xss=1>)",
    "[click](  javascript:window.__xss=1  )",
    "[click](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX194c3M9MTwvc2NyaXB0Pg==)",
    "[click](vbscript:window.__xss=1)",
    "[click][ref]\n\n[ref]: javascript:window.__xss=1",
    "<javascript:window.__xss=1>",
    "<JAVASCRIPT:window.__xss=1>",
    "![x](javascript:window.__xss=1)",
    '![x](x.png" onerror="window.__xss=1)',
    "![x](https://example.invalid/x.png)",
    '[click](https://example.org "t\\" onmouseover=\\"window.__xss=1")',
    "[<img src=x onerror=window.__xss=1>](https://example.org)",
    "**<svg onload=window.__xss=1>**",
    "`<script>window.__xss=1</script>`",
    "```html\n<script>window.__xss=1</script>\n```",
    "| a |\n| :-: |\n| <img src=x onerror=window.__xss=1> |",
    '> <iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    "- <details open ontoggle=window.__xss=1>",
    "<div>\n<script>window.__xss=1</script>\n</div>",
]

#: dialog_file values that must be refused (400) with nothing written anywhere.
BAD_DIALOG_FILES = [
    "../escape.md",
    "../../escape.md",
    "sub/../../escape.md",
    "reliability/../../escape.md",
    "/tmp/escape.md",
    "/etc/escape.md",
    "//escape.md",
    "./escape.md",
    "reliability/./escape.md",
    "reliability//escape.md",
    "..",
    "..\\escape.md",
    "reliability\\..\\..\\escape.md",
    "C:\\escape.md",
    "escape.md\x00.md",
    "escape\n.md",
    "escape.txt",
    "escape.md/",
    ".md",
    "out_link/escape.md",
    "file_link.md",
    "missing_folder/escape.md",
    "a" * 5000 + ".md",
    "",
]

#: dialog_file values that are odd but inside the root: accepted or refused, never outside.
ODD_BUT_INSIDE = [
    "%2e%2e/escape.md",
    "%2e%2e%2fescape.md",
    "..%2fescape.md",
    "\uff0e\uff0e/escape.md",
    "reliability/...md",
]

#: `file` filter values (GET /api/dialog/search): a 400 or an empty answer, never a 5xx.
BAD_FILE_FILTERS = [
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    "%2e%2e/%2e%2e/etc/passwd",
    "\\..\\..\\windows",
    "a\x00b",
    "*",
    "%",
    "_",
    "reliability/%",
    "x" * 5000,
]

#: Paths under /api/dialog/entry/ that name no entry: 404/405, never a 5xx.
BAD_ENTRY_PATHS = [
    "..%2f..%2fetc%2fpasswd",
    "../../etc/passwd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "-1",
    "0",
    "1e9",
    "0x10",
    "99999999999999999999999999999",
    "9223372036854775808",
    "18446744073709551616",
    "1.5",
    "%00",
    "abc",
    "1;DROP TABLE lupo_dialog_entries",
    "1%20OR%201=1",
    "",
]
