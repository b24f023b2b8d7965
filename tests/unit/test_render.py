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


def test_a_table_wider_than_a_phone_becomes_labelled_rows() -> None:
    headers = ["id", "dir", "with", "subject", "precedence", "status", "due"]
    out = table("Requests", headers, [["LR-1", "out", "<b>X</b>", "Fuel", "routine", "open", "-"]])
    assert "<table>" not in out.html and "<li><b>LR-1</b> — dir: out" in out.html
    assert "&lt;b&gt;X&lt;/b&gt;" in out.html and "<b>X</b>" not in out.html
    assert out.body.splitlines()[1] == (
        "LR-1 — dir: out · with: <b>X</b> · subject: Fuel · precedence: routine · status: open"
    )  # an empty cell ("-") is left out rather than shown as a dangling label


def test_a_narrow_table_stays_a_table() -> None:
    out = table("Posts", ["post", "name", "people"], [["FR-PARIS", "Paris", "2"]])
    assert "<table>" in out.html and out.body.splitlines()[2].startswith("FR-PARIS  Paris")
