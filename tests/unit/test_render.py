"""Every reply has a plain body and escaped HTML: user text never becomes markup."""

from __future__ import annotations

from commands.render import bullets, plain, table

EVIL = '<script>alert("x")</script> & <b onmouseover=x>'


def test_plain_escapes_and_keeps_lines() -> None:
    out = plain(f"line one\n{EVIL}")
    assert out.body == f"line one\n{EVIL}"
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert "<br>" in out.html and "&amp;" in out.html


def test_table_escapes_every_cell_and_aligns_plain_columns() -> None:
    out = table("T <i>", ["who", "what"], [["@a:x", EVIL], ["@bb:x", "ok"]], footer="f <u>")
    assert "<script>" not in out.html and "<b onmouseover" not in out.html
    assert out.html.count("<tr>") == 3 and "&lt;i&gt;" in out.html and "&lt;u&gt;" in out.html
    lines = out.body.splitlines()
    assert lines[0] == "T <i>" and lines[-1] == "f <u>"
    assert lines[2].index(EVIL) == lines[1].index("what")


def test_bullets_escape() -> None:
    out = bullets("Items", [EVIL])
    assert "<li>&lt;script&gt;" in out.html and out.body.endswith(EVIL)
