"""The transport section is duplicated on purpose (each module must stand alone when
vendored); this test keeps the two copies identical."""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN = "# ---- shared transport: begin"
END = "# ---- shared transport: end ----"


def shared_section(module: str) -> str:
    text = (ROOT / module).read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1, module + " must mark its shared section once"
    start = text.index("\n", text.index(BEGIN)) + 1  # the marker line itself names its own file
    return text[start : text.index(END)]


def test_shared_transport_sections_are_identical():
    altan, pipedream = shared_section("altan.py"), shared_section("pipedream.py")
    assert len(altan.splitlines()) > 300, "the shared section should hold the whole transport"
    if altan != pipedream:
        import difflib

        diff = "".join(difflib.unified_diff(altan.splitlines(True), pipedream.splitlines(True), "altan.py", "pipedream.py"))
        raise AssertionError("shared transport sections differ; copy one into the other:\n" + diff[:4000])
