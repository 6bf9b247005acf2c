"""The response TypedDicts can be imported at run time, and ``typing.get_type_hints`` works on
every public method, while importing a module still loads no ``typing`` (README "Types")."""

from __future__ import annotations

import inspect
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TYPES = {
    "altan": ["Connection", "ConnectionList", "InputSchema", "ActionType", "ActionTypeList", "ExecuteResult"],
    "pipedream": [
        "PageInfo",
        "App",
        "AppList",
        "AppResponse",
        "ConnectToken",
        "Account",
        "AccountList",
        "Component",
        "ComponentList",
        "ComponentResponse",
        "RunActionResult",
        "DeployedTrigger",
        "DeployedTriggerList",
        "DeployedTriggerResponse",
        "OAuthToken",
        "NumberedPageInfo",
        "AppDocument",
        "AppDocumentList",
        "AppDocumentResponse",
        "ComponentDocument",
        "ComponentDocumentList",
        "ComponentDocumentResponse",
        "Facets",
    ],
}
CLASSES = {
    "altan": ["AltanActionsClient", "AsyncAltanActionsClient", "AltanActionError"],
    "pipedream": ["SyncPipedreamClient", "PipedreamClient", "PipedreamApiError", "RawResponse"],
}


def fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter, return stdout: ``-I -S`` (no site: a .pth file of the
    environment may import typing itself), the repository root first on sys.path."""
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", "import sys; sys.path.insert(0, %r)\n%s" % (str(ROOT), code)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("module", sorted(TYPES))
def test_importing_the_module_does_not_import_typing(module: str) -> None:
    out = fresh("import %s; print('typing' in sys.modules)" % module)
    assert out.strip() == "False"


@pytest.mark.parametrize("module", sorted(TYPES))
def test_the_typeddicts_are_importable_at_run_time(module: str) -> None:
    names = TYPES[module]
    out = fresh(
        "from %s import %s\n" % (module, ", ".join(names))
        + "import typing, json\n"
        + "print(json.dumps({n: [type(t).__name__, t.__module__, t.__total__, sorted(typing.get_type_hints(t))]"
        + " for n, t in zip(%r, [%s])}))" % (names, ", ".join(names))
    )
    shapes = json.loads(out)
    for name in names:
        meta, owner, total, fields = shapes[name]
        assert meta == "_TypedDictMeta" and owner == module and total is False, (name, shapes[name])
        assert fields, name
    if module == "altan":
        assert shapes["ExecuteResult"][3] == ["data", "error", "result", "status", "success"]
    if sys.version_info >= (3, 10):
        assert fresh("import typing, %s; print(typing.is_typeddict(%s.%s))" % (module, module, names[0])).strip() == (
            "True"
        )


@pytest.mark.parametrize("module", sorted(TYPES))
def test_get_type_hints_works_on_every_public_method_once_the_types_are_loaded(module: str) -> None:
    out = fresh(
        "import inspect, typing, json, %s as m\n" % module
        + "from %s import %s\n" % (module, TYPES[module][0])
        + "done = []\n"
        + "for cls in [%s]:\n" % ", ".join("m." + c for c in CLASSES[module])
        + "    for name, member in inspect.getmembers(cls):\n"
        + "        if callable(member) and (not name.startswith('_') or name == '__init__'):\n"
        + "            if getattr(member, '__module__', None) == m.__name__:\n"
        + "                typing.get_type_hints(member); done.append(cls.__name__ + '.' + name)\n"
        + "print(json.dumps(done))"
    )
    done = json.loads(out)
    assert len(done) >= (16 if module == "altan" else 130), done


def test_the_types_are_what_the_annotations_name() -> None:
    import typing

    import altan

    execute_result = altan.ExecuteResult  # loads the types (if no other test has yet)
    hints = typing.get_type_hints(altan.AltanActionsClient.execute_action)
    assert hints["return"] is execute_result
    assert hints["return"] is altan.ExecuteResult
    assert typing.get_type_hints(altan.AltanActionsClient.list_connections)["return"] is altan.ConnectionList
    assert inspect.signature(altan.AltanActionsClient.get_action_type).return_annotation == "ActionType"


def test_before_the_types_are_loaded_get_type_hints_names_what_is_missing() -> None:
    """What README "Types" says: without loading, the annotations name typing's names, which the
    module does not import; the error is a NameError naming one of them."""
    out = fresh(
        "import typing, altan\n"
        "try:\n"
        "    typing.get_type_hints(altan.AltanActionsClient.list_connections)\n"
        "except NameError as exc:\n"
        "    print('NameError', exc)\n"
        "from altan import ConnectionList\n"
        "print(typing.get_type_hints(altan.AltanActionsClient.list_connections)['return'] is ConnectionList)"
    )
    assert out.splitlines()[0].startswith("NameError") and out.splitlines()[1] == "True", out
