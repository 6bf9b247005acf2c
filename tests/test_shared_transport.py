"""The transport section is duplicated on purpose (each module must stand alone when
vendored); this test keeps the two copies identical.

After changing the section in altan.py, copy it into pipedream.py with
``python tests/test_shared_transport.py --sync``."""

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

        diff = "".join(
            difflib.unified_diff(altan.splitlines(True), pipedream.splitlines(True), "altan.py", "pipedream.py")
        )
        raise AssertionError("shared transport sections differ; copy one into the other:\n" + diff[:4000])


def test_the_modules_hold_no_code_for_a_test_tool():
    # vcrpy's replay objects are adapted on the test side (tests/vcr_safety.py: adapt_replays).
    for module in ("altan.py", "pipedream.py"):
        text = (ROOT / module).read_text(encoding="utf-8").lower()
        assert "vcr" not in text and "test double" not in text, module


def sync_from_altan() -> None:
    """Copy altan.py's shared section into pipedream.py."""
    target_path = ROOT / "pipedream.py"
    target = target_path.read_text(encoding="utf-8")
    section = shared_section("altan.py")
    start = target.index("\n", target.index(BEGIN)) + 1
    target_path.write_text(target[:start] + section + target[target.index(END) :], encoding="utf-8")
    print("pipedream.py: shared transport copied from altan.py (%d lines)" % len(section.splitlines()))


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--sync"]:
        sync_from_altan()
    else:
        print("usage: python tests/test_shared_transport.py --sync")
