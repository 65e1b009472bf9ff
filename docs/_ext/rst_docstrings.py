"""A griffe extension: the package's docstrings, written for Sphinx, read as Markdown.

The docstrings are Google-style (``Args:``, ``Attributes:``) with two pieces of reST that
Markdown does not know:

* Python-domain roles (``:class:`~realtime_agent.x.Y```, ``:func:`connect```,
  ``:mod:`~.common```) become cross-references that mkdocs-autorefs resolves: a link to
  the object's entry in the API reference, or plain code when the object exists but the
  reference does not show it (a private module's class). A role that names nothing in
  the package, nor another package (``asyncio.TaskGroup``), is a warning, and
  ``mkdocs build --strict`` fails on it: a broken reference breaks the build.
* Literal blocks (a paragraph ending in ``::`` and the indented block after it) become
  fenced code blocks, ``python`` when the block parses as Python, plain text otherwise.

Also, an ``Args:`` entry naming two parameters (``host, port: where to listen``), which
griffe's Google parser takes for one unknown parameter, becomes an entry for each; and an
attribute documented Sphinx's way, by ``#:`` comment lines above it, gets them as its
docstring.

Loaded by mkdocstrings-python (``extensions:`` in mkdocs.yml); it changes nothing in the
package, only the text griffe parses.
"""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Any

import griffe

__all__ = ["RestDocstrings", "convert"]


_ROLE = re.compile(
    r":(?:py:)?(?P<role>class|func|meth|mod|attr|data|exc|obj|const):`(?P<target>[^`]+)`"
)
_SECTION = re.compile(r"^(?P<indent>\s*)(?:Args|Arguments|Parameters|Params):\s*$")
_SHARED_ENTRY = re.compile(r"^(?P<indent>\s+)(?P<names>\w+(?:\s*,\s*\w+)+)\s*:(?P<rest>.*)$")


class RestDocstrings(griffe.Extension):
    """Rewrites every docstring of the loaded package once it is fully loaded."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **_: Any) -> None:
        """Convert the docstrings of ``pkg`` and of everything in it."""
        for obj in _walk(pkg):
            if obj.docstring is None and obj.is_attribute:
                _comment_docstring(obj)
            if obj.docstring is not None:
                where = f"{obj.relative_filepath}:{obj.docstring.lineno}"
                obj.docstring.value = convert(
                    obj.docstring.value, lambda name, o=obj: _resolve(o, name), where
                )


def _comment_docstring(attribute: griffe.Object) -> None:
    """``#:`` lines right above an attribute, as its docstring (Sphinx's convention)."""
    lines = attribute.module.lines
    if attribute.lineno is None or not lines:
        return
    comments: list[str] = []
    index = attribute.lineno - 2
    while index >= 0 and lines[index].strip().startswith("#:"):
        comments.insert(0, lines[index].strip()[2:].strip())
        index -= 1
    if comments:
        attribute.docstring = griffe.Docstring(
            "\n".join(comments), lineno=index + 2, parent=attribute
        )


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias and isinstance(member, griffe.Object):
            found.extend(_walk(member))
    return found


def _resolve(obj: griffe.Object, name: str) -> str | None:
    """The full path of what ``name`` names from where ``obj`` is, None when nothing; a
    name of another package comes back as it is (it is not ours to check)."""
    name = name.strip()
    relative = name.startswith(".")
    name = name.lstrip(".")
    first, _, rest = name.partition(".")
    collection = obj.modules_collection
    candidates: list[str] = []
    scope: griffe.Object | None = obj
    while scope is not None:  # the object, its parents, its module, the packages above
        try:
            base = scope.resolve(first)
        except (griffe.NameResolutionError, griffe.AliasResolutionError):
            base = f"{scope.path}.{first}"
        candidates.append(f"{base}.{rest}" if rest else base)
        scope = scope.parent
    candidates.append(name)
    for path in candidates:
        found = _lookup(collection, path)
        if found:
            return found
    if relative:  # Sphinx's ``.name``: any object whose path ends so
        root = collection[obj.path.split(".")[0]]
        matches = [o.path for o in _walk(root) if o.path.endswith("." + name)]
        if matches:
            return min(matches, key=len)
    top = name.split(".")[0]
    if top not in collection.members and "." in name:
        return name  # another package's (asyncio.TaskGroup): rendered as code
    return None


def _lookup(collection: griffe.ModulesCollection, path: str) -> str | None:
    if path.split(".")[0] not in collection.members:
        return None
    try:
        found = collection[path]
    except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
    if found.is_alias:
        try:
            return str(found.final_target.path)
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return str(found.target_path)
    return str(found.path)


def convert(text: str, resolve: Any, where: str = "<docstring>") -> str:
    """``text`` with its reST roles and literal blocks made Markdown; ``resolve(name)``
    gives the full path of a role's target, or None when it names nothing."""
    text = _split_shared_entries(text)
    text = _literal_blocks(text)
    parts = re.split(r"(```.*?```)", text, flags=re.S)  # never touch code blocks
    for index in range(0, len(parts), 2):
        parts[index] = _ROLE.sub(lambda m: _role(m, resolve, where), parts[index])
    return "".join(parts)


def _role(match: re.Match[str], resolve: Any, where: str) -> str:
    target = match["target"]
    shown = target
    if target.startswith("~"):
        target = target[1:]
        shown = target.rsplit(".", 1)[-1]
    elif target.startswith("."):
        shown = target.lstrip(".")
    if match["role"] in {"func", "meth"}:
        shown += "()"
    path = resolve(target)
    if path is None:
        griffe.logger.warning("%s: %s names nothing in the package", where, match[0])
        return f"`{shown}`"
    if not path.startswith("realtime_agent"):
        return f"`{shown}`"
    # Optional: an object the reference does not show (a private module's) stays code.
    return f'<autoref identifier="{path}" optional><code>{shown}</code></autoref>'


def _split_shared_entries(text: str) -> str:
    """``a, b: what`` in an Args section becomes ``a: what`` and ``b: what``."""
    lines = text.splitlines()
    out: list[str] = []
    in_args = False
    index = 0
    while index < len(lines):
        line = lines[index]
        if _SECTION.match(line):
            in_args = True
        elif line and not line[0].isspace():
            in_args = False
        entry = _SHARED_ENTRY.match(line) if in_args else None
        if entry is None:
            out.append(line)
            index += 1
            continue
        indent = entry["indent"]
        more = []
        index += 1
        while index < len(lines) and (
            not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > len(indent)
        ):
            if not lines[index].strip():
                break
            more.append(lines[index])
            index += 1
        for name in (n.strip() for n in entry["names"].split(",")):
            out.append(f"{indent}{name}:{entry['rest']}")
            out.extend(more)
    return "\n".join(out)


def _literal_blocks(text: str) -> str:
    """reST literal blocks (``::`` then an indented block) as fenced code blocks."""
    lines = text.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.rstrip()
        if not stripped.endswith("::") or stripped.endswith(":::"):
            out.append(line)
            index += 1
            continue
        indent = len(line) - len(line.lstrip())
        block_start = index + 1
        while block_start < len(lines) and not lines[block_start].strip():
            block_start += 1
        end = block_start
        while end < len(lines) and (
            not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
        ):
            end += 1
        if end == block_start:  # no indented block follows: not a literal block
            out.append(line)
            index += 1
            continue
        lead = stripped[:-2].rstrip()
        if lead:
            out.append(lead + ":")  # reST's "text::" reads "text:"
        block = textwrap.dedent("\n".join(lines[block_start:end])).strip("\n")
        fence = " " * indent + "```"
        out.append("")
        out.append(fence + ("python" if _is_python(block) else "text"))
        out.extend(" " * indent + b if b else "" for b in block.splitlines())
        out.append(fence)
        out.append("")
        index = end
    return "\n".join(out)


def _is_python(block: str) -> bool:
    try:
        compile(
            block, "<docstring>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
    except SyntaxError:
        return False
    return True
